//! Replicated meta under network partitions and membership changes: a dev cluster with three
//! meta nodes, real processes on loopback, S3 load and register clients through the gateway.
//!
//! - Partition: every Raft message between meta nodes goes through a TCP proxy of the test
//!   (meta's `SPREAD_META_RAFT_PEERS`), so the test can cut the leader off from both
//!   followers while clients still reach every node. The isolated leader must acknowledge no
//!   write, the majority must elect a leader and take writes, and after healing the logs
//!   converge and every acknowledged write is there.
//! - Rejoin: a follower's data directory is wiped; it is removed, started under a new id and
//!   added back while writes go on; it catches up by a snapshot (a small
//!   `SPREAD_META_RAFT_SNAPSHOT_LOGS`), then another node is killed and the group still
//!   serves.
//! - Both record the register clients' histories and check them for linearizability
//!   (`conformance::history`).
//!
//! Sized by `SPREAD_TEST_SCALE` (`ci`, the default, or `full`). Time bounds are loose and the
//! measured figures are printed. The tests of this binary run one at a time.

use conformance::cluster::{Cluster, DevOptions, pid_alive, post_to_one_node, spread_bin};
use conformance::history::Recorder;
use conformance::proxy::Links;
use conformance::s3::S3;
use conformance::workload::{PutLoad, RegisterClients, RegisterSettings};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `full` runs longer phases and more register operations.
fn full() -> bool {
    std::env::var("SPREAD_TEST_SCALE").as_deref() == Ok("full")
}

fn register_settings(seed: u64) -> RegisterSettings {
    RegisterSettings {
        clients: 3,
        keys: 3,
        ops_per_key: if full() { 150 } else { 100 },
        pause: Duration::from_millis(if full() { 150 } else { 100 }),
        seed,
    }
}

/// One node's view of the group, from `spread admin meta status --json`.
#[derive(Debug, Clone, Deserialize)]
struct View {
    id: u64,
    state: String,
    term: u64,
    leader: Option<u64>,
    last_log_index: Option<u64>,
    last_applied: Option<u64>,
    snapshot: Option<u64>,
    purged: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Answer {
    addr: String,
    status: Option<View>,
}

/// Every node's own view (`None`: unreachable), asking the nodes at `addrs` (`a,b,c`).
fn views(cluster: &Cluster, addrs: &str) -> Vec<(String, Option<View>)> {
    let out = tokio::task::block_in_place(|| {
        cluster.admin(&["--meta", addrs, "meta", "status", "--json"])
    });
    let parsed: Vec<Answer> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    parsed.into_iter().map(|a| (a.addr, a.status)).collect()
}

fn all_meta_addrs(cluster: &Cluster) -> String {
    cluster
        .info
        .meta_nodes
        .iter()
        .map(|m| m.addr.clone())
        .collect::<Vec<_>>()
        .join(",")
}

/// Waits (bounded) until `pick` finds something in the views; what it found and how long.
async fn wait_views<T>(
    cluster: &Cluster,
    addrs: &str,
    limit: Duration,
    what: &str,
    mut pick: impl FnMut(&[(String, Option<View>)]) -> Option<T>,
) -> (T, Duration) {
    let started = Instant::now();
    loop {
        let v = views(cluster, addrs);
        if let Some(t) = pick(&v) {
            return (t, started.elapsed());
        }
        assert!(
            started.elapsed() < limit,
            "{what}: not within {limit:?}; last views: {v:#?}\n{}",
            cluster.log_tail(40)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The id of the leader a majority of the answering nodes agrees on.
fn agreed_leader(views: &[(String, Option<View>)]) -> Option<u64> {
    let leader = views
        .iter()
        .filter_map(|(_, v)| v.as_ref())
        .find(|v| v.state == "Leader")?;
    let agree = views
        .iter()
        .filter_map(|(_, v)| v.as_ref())
        .filter(|v| v.leader == Some(leader.id) && v.term == leader.term)
        .count();
    (agree * 2 > views.len()).then_some(leader.id)
}

/// The `listen` address in a meta config file `spread dev` wrote (`None` until it exists).
fn meta_listen(conf: &Path, id: u64) -> Option<SocketAddr> {
    let file = if id == 1 {
        conf.join("meta.toml")
    } else {
        conf.join(format!("meta-{id}.toml"))
    };
    let text = std::fs::read_to_string(file).ok()?;
    let value: toml::Value = toml::from_str(&text).ok()?;
    value.get("listen")?.as_str()?.parse().ok()
}

/// Checks every key's history; prints what was checked; panics on a violation.
fn check_histories(recorder: &Recorder) {
    let verdicts = recorder.check();
    assert!(
        !verdicts.is_empty(),
        "the register clients recorded nothing"
    );
    let mut bad = Vec::new();
    for (key, verdict) in &verdicts {
        match verdict {
            Ok(c) => println!(
                "history of {key}: linearizable ({} operations checked, {} of unknown outcome, {} search steps)",
                c.ops, c.unknown, c.steps
            ),
            Err(e) => bad.push(format!("{key}: {e}")),
        }
    }
    assert!(bad.is_empty(), "histories not linearizable: {bad:#?}");
    let total: usize = recorder.by_key().values().map(Vec::len).sum();
    assert!(
        total >= 30,
        "only {total} register operations were recorded"
    );
}

/// Every acknowledged PUT-load object reads back identical.
async fn check_acknowledged(s3: &S3, bucket: &str, acked: &conformance::workload::PutOutcome) {
    let wrong = acked.unreadable(s3, bucket).await;
    assert!(
        wrong.is_empty(),
        "{} of {} acknowledged objects lost or wrong: {:?}",
        wrong.len(),
        acked.acked.len(),
        &wrong[..wrong.len().min(10)]
    );
    let listed = s3.list_all(bucket, "w").await;
    let names: std::collections::BTreeSet<&str> = listed.iter().map(|e| e.key.as_str()).collect();
    let missing = acked
        .acked
        .keys()
        .filter(|k| !names.contains(k.as_str()))
        .count();
    assert_eq!(missing, 0, "acknowledged objects missing from the listing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_isolated_meta_leader_takes_no_write_and_the_majority_goes_on() {
    let _serial = SERIAL.lock().await;
    // Proxies first (their targets are read from the configs `spread dev` writes), then the
    // cluster, whose meta nodes reach each other only through them.
    let dir = Cluster::temp_dir();
    let conf = dir.path().join("data").join("conf");
    let links = Links::start(&[1, 2, 3], move |id| meta_listen(&conf, id))
        .await
        .expect("proxies");
    let mut opts = DevOptions::three_metas();
    opts.env
        .push(("SPREAD_META_RAFT_PEERS".into(), links.raft_peers_var()));
    let cluster = tokio::task::spawn_blocking(move || Cluster::start_in(opts, dir))
        .await
        .expect("cluster start");
    let addrs = all_meta_addrs(&cluster);
    let (leader, _) = wait_views(&cluster, &addrs, Duration::from_secs(20), "a leader", |v| {
        agreed_leader(v)
    })
    .await;
    let term0 = views(&cluster, &addrs)
        .iter()
        .filter_map(|(_, v)| v.as_ref())
        .map(|v| v.term)
        .max()
        .unwrap_or(0);
    let used = links.connections();
    println!("leader {leader} (term {term0}); connections over the proxies: {used:?}");
    for id in [1, 2, 3] {
        if id != leader {
            assert!(
                used[&(leader, id)] > 0,
                "the leader reached node {id} without its proxy: {used:?}"
            );
        }
    }
    let leader_addr = cluster
        .info
        .meta_nodes
        .iter()
        .find(|m| m.id == leader)
        .expect("leader listed")
        .addr
        .clone();

    let s3 = cluster.s3();
    s3.create_bucket("partition")
        .await
        .expect_status(200, "CreateBucket");
    let load = PutLoad::start(&s3, "partition", 4);
    let registers = RegisterClients::start(&s3, "partition", register_settings(1501));
    let before = if full() { 6 } else { 3 };
    tokio::time::sleep(Duration::from_secs(before)).await;
    assert!(load.acked() > 0, "no write before the partition");

    // Cut the leader off from both followers.
    let cut_at = Instant::now();
    links.isolate(leader);
    println!("isolated meta leader {leader} from both followers");
    // A write sent to the old leader alone: it cannot reach a quorum, so it must never be
    // acknowledged (it may hang until the partition heals, then fail).
    let mut minority_write = tokio::spawn(post_to_one_node(
        cluster.admin_signer(),
        leader_addr.clone(),
        "/v1/accounts/create",
        br#"{"name":"minority-write"}"#,
        Duration::from_secs(60),
    ));

    // The majority elects a leader of a later term.
    let majority: String = cluster
        .info
        .meta_nodes
        .iter()
        .filter(|m| m.id != leader)
        .map(|m| m.addr.clone())
        .collect::<Vec<_>>()
        .join(",");
    let (new_leader, election) = wait_views(
        &cluster,
        &majority,
        Duration::from_secs(20),
        "a leader on the majority side",
        |v| {
            let l = agreed_leader(v)?;
            let term = v
                .iter()
                .filter_map(|(_, v)| v.as_ref())
                .map(|v| v.term)
                .max()?;
            (l != leader && term > term0).then_some(l)
        },
    )
    .await;
    println!(
        "majority elected meta node {new_leader} {:?} after the cut",
        cut_at.elapsed()
    );
    let _ = election;
    // Writes go on through the gateway.
    let resumed = load
        .wait_for_more(50, Duration::from_secs(30))
        .await
        .unwrap_or_else(|| {
            panic!(
                "no 50 writes within 30 s of the election\n{}",
                cluster.log_tail(40)
            )
        });
    println!("50 more writes acknowledged {resumed:?} after the new leader was seen");
    let hold = if full() { 10 } else { 4 };
    tokio::time::sleep(Duration::from_secs(hold)).await;
    let old_view = views(&cluster, &leader_addr);
    println!("the isolated node's own view before healing: {old_view:?}");
    // Answered already (an error) or still waiting: either way not acknowledged.
    let early = if minority_write.is_finished() {
        Some((&mut minority_write).await.expect("minority write task"))
    } else {
        None
    };
    println!("the write sent to the isolated leader, before healing: {early:?}");
    assert_ne!(
        early,
        Some(Some(200)),
        "the isolated leader acknowledged a write"
    );

    let healed_at = Instant::now();
    links.heal();
    println!("healed the partition after {:?}", cut_at.elapsed());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let registers = registers.stop().await;
    let acked = load.stop().await;
    let gap = acked.longest_gap(cut_at + election, healed_at);
    println!(
        "{} PUTs acknowledged ({} after the cut), {} failed or timed out; longest time without \
         an acknowledgement between the election and the healing: {gap:?}",
        acked.acked.len(),
        acked.acked_at.iter().filter(|t| **t > cut_at).count(),
        acked.failures
    );
    assert!(
        gap < Duration::from_secs(15),
        "writes stopped for {gap:?} on the majority side"
    );

    // The logs converge: every node at the same last log index and applied index.
    let ((index, applied), converged) = wait_views(
        &cluster,
        &addrs,
        Duration::from_secs(30),
        "the three nodes at the same log and applied index",
        |v| {
            let views: Vec<&View> = v.iter().filter_map(|(_, v)| v.as_ref()).collect();
            let first = views.first()?;
            (views.len() == 3
                && agreed_leader(v).is_some()
                && views.iter().all(|x| {
                    x.last_log_index == first.last_log_index
                        && x.last_applied == first.last_applied
                        && x.last_applied == x.last_log_index
                }))
            .then_some((first.last_log_index, first.last_applied))
        },
    )
    .await;
    println!(
        "after healing, all three nodes at log index {index:?}, applied {applied:?} within {converged:?}"
    );
    let answer = match early {
        Some(a) => a,
        None => match tokio::time::timeout(Duration::from_secs(70), minority_write).await {
            Ok(Ok(status)) => status,
            _ => None,
        },
    };
    println!("the write sent to the isolated leader answered {answer:?} (None: no answer)");
    assert_ne!(
        answer,
        Some(200),
        "the isolated leader acknowledged a write"
    );

    check_acknowledged(&s3, "partition", &acked).await;
    check_histories(&registers);
}

/// A meta node this test started itself (`spread meta --config FILE`), killed when dropped.
struct MetaProcess {
    child: Child,
    log: PathBuf,
}

impl MetaProcess {
    fn start(config: &Path, log: &Path, env: &[(String, String)]) -> MetaProcess {
        let file = std::fs::File::create(log).expect("meta log file");
        let mut cmd = Command::new(spread_bin());
        cmd.arg("meta")
            .arg("--config")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(file));
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawning spread meta");
        MetaProcess {
            child,
            log: log.to_path_buf(),
        }
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None)) && pid_alive(self.child.id())
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for MetaProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The config file `spread dev` wrote for meta node `id`.
fn meta_conf_path(cluster: &Cluster, id: u64) -> PathBuf {
    let conf = cluster.data_dir().join("conf");
    if id == 1 {
        conf.join("meta.toml")
    } else {
        conf.join(format!("meta-{id}.toml"))
    }
}

/// A copy of meta node `from`'s config for a node with id `id`, data directory `data_dir`,
/// joining (not bootstrapping); its path.
fn config_for_new_node(cluster: &Cluster, from: u64, id: u64, data_dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(meta_conf_path(cluster, from)).expect("meta config");
    let mut value: toml::Table = toml::from_str(&text).expect("meta config parses");
    value.insert("node_id".into(), toml::Value::Integer(id as i64));
    value.insert("bootstrap".into(), toml::Value::Boolean(false));
    value.insert(
        "data_dir".into(),
        toml::Value::String(data_dir.display().to_string()),
    );
    let path = cluster
        .data_dir()
        .join("conf")
        .join(format!("test-meta-{id}.toml"));
    std::fs::write(&path, toml::to_string(&value).expect("toml")).expect("writing config");
    path
}

/// Waits (bounded) until the meta node at `addr` answers its status.
async fn wait_answering(cluster: &Cluster, addr: &str, node: &mut MetaProcess) {
    let started = Instant::now();
    loop {
        if views(cluster, addr).iter().any(|(_, v)| v.is_some()) {
            return;
        }
        assert!(
            node.running(),
            "the meta node at {addr} exited:\n{}",
            node.log_text()
        );
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the meta node at {addr} did not answer within 30 s:\n{}",
            node.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const SNAPSHOT_LOGS: &str = "100";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wiped_follower_rejoins_by_snapshot_under_a_new_id_and_the_group_survives_another_loss() {
    let _serial = SERIAL.lock().await;
    let env = vec![(
        "SPREAD_META_RAFT_SNAPSHOT_LOGS".to_string(),
        SNAPSHOT_LOGS.to_string(),
    )];
    let mut opts = DevOptions::three_metas();
    opts.env.extend(env.iter().cloned());
    let mut cluster = tokio::task::spawn_blocking(move || Cluster::start_with(opts))
        .await
        .expect("cluster start");
    let addrs = all_meta_addrs(&cluster);
    let (leader, _) = wait_views(&cluster, &addrs, Duration::from_secs(20), "a leader", |v| {
        agreed_leader(v)
    })
    .await;
    let s3 = cluster.s3();
    s3.create_bucket("rejoin")
        .await
        .expect_status(200, "CreateBucket");
    let load = PutLoad::start(&s3, "rejoin", 3);
    let registers = RegisterClients::start(&s3, "rejoin", register_settings(1502));
    load.wait_for_more(100, Duration::from_secs(60))
        .await
        .expect("100 writes within 60 s");

    // A follower (not node 1, whose config bootstraps) loses its disk.
    let wiped = cluster
        .info
        .meta_nodes
        .iter()
        .filter(|m| m.id != leader && m.id != 1)
        .max_by_key(|m| m.id)
        .cloned()
        .expect("a follower other than node 1");
    tokio::task::block_in_place(|| cluster.kill_meta(wiped.id));
    std::fs::remove_dir_all(&wiped.data_dir).expect("wiping the follower's data");
    println!(
        "killed meta node {} (leader {leader}) and wiped {}",
        wiped.id,
        wiped.data_dir.display()
    );
    let out = tokio::task::block_in_place(|| {
        cluster.admin_ok(&["meta", "remove", &wiped.id.to_string()])
    });
    print!("meta remove {}: {out}", wiped.id);

    // The leader must have purged the start of its log, so a new node cannot replay it
    // from index 1 and needs a snapshot.
    let (purged, waited) = wait_views(
        &cluster,
        &addrs,
        Duration::from_secs(90),
        "the leader purging its log after a snapshot",
        |v| {
            let l = agreed_leader(v)?;
            let lv = v
                .iter()
                .filter_map(|(_, v)| v.as_ref())
                .find(|v| v.id == l)?;
            lv.purged.filter(|p| *p > 0).map(|p| (l, p, lv.snapshot))
        },
    )
    .await;
    println!(
        "leader {} purged its log up to {} (snapshot at {:?}), {waited:?} after the removal",
        purged.0, purged.1, purged.2
    );

    // The same disk comes back empty under a new id, at the same address, and is added.
    let new_id = 4;
    let new_dir = cluster.data_dir().join(format!("meta-{new_id}-new"));
    let config = config_for_new_node(&cluster, wiped.id, new_id, &new_dir);
    let log = cluster
        .data_dir()
        .join("logs")
        .join(format!("test-meta-{new_id}.log"));
    let mut node = MetaProcess::start(&config, &log, &env);
    wait_answering(&cluster, &wiped.addr, &mut node).await;
    let added_at = Instant::now();
    let out = tokio::task::block_in_place(|| {
        cluster.admin_ok(&["meta", "add", &new_id.to_string(), &wiped.addr])
    });
    print!("meta add {new_id} {}: {out}", wiped.addr);
    // It catches up with the leader while writes go on: it applies what the leader had
    // applied when it was added.
    let at_add = views(&cluster, &addrs)
        .iter()
        .filter_map(|(_, v)| v.as_ref())
        .filter(|v| v.state == "Leader")
        .filter_map(|v| v.last_applied)
        .max()
        .expect("the leader's applied index");
    let (caught, catch_up) = wait_views(
        &cluster,
        &addrs,
        Duration::from_secs(60),
        "the new node reaching the leader's applied index",
        |v| {
            let nv = v
                .iter()
                .filter_map(|(_, v)| v.as_ref())
                .find(|v| v.id == new_id)?;
            (nv.last_applied >= Some(at_add) && nv.state == "Follower").then_some(nv.last_applied)
        },
    )
    .await;
    println!(
        "new node {new_id} applied {caught:?}, past the leader's {at_add} at the time it was \
         added, {:?} after `meta add` was sent ({catch_up:?} after it returned)",
        added_at.elapsed()
    );
    let text = node.log_text();
    assert!(
        text.contains("snapshot installed"),
        "node {new_id} did not install a snapshot (it should not replay a purged log):\n{}",
        &text[text.len().saturating_sub(3000)..]
    );
    println!("node {new_id} installed a snapshot (its log says so)");

    // Now another node dies: the new one must be a full voter for the group to go on.
    let views_now = views(&cluster, &addrs);
    let leader_now = agreed_leader(&views_now).expect("a leader");
    let victim = if leader_now != new_id {
        leader_now
    } else {
        cluster
            .info
            .meta_nodes
            .iter()
            .map(|m| m.id)
            .find(|id| *id != wiped.id && *id != new_id)
            .expect("another node")
    };
    let killed_at = Instant::now();
    tokio::task::block_in_place(|| cluster.kill_meta(victim));
    println!("killed meta node {victim} (leader was {leader_now})");
    let resumed = load
        .wait_for_more(50, Duration::from_secs(30))
        .await
        .unwrap_or_else(|| {
            panic!(
                "no 50 writes within 30 s of losing node {victim}\n{}\n{}",
                cluster.log_tail(40),
                node.log_text()
            )
        });
    println!("50 more writes acknowledged {resumed:?} after node {victim} was killed");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let registers = registers.stop().await;
    let acked = load.stop().await;
    let gap = acked.longest_gap(killed_at, Instant::now());
    println!(
        "{} PUTs acknowledged, {} failed or timed out; longest time without an \
         acknowledgement after the kill: {gap:?}",
        acked.acked.len(),
        acked.failures
    );
    assert!(gap < Duration::from_secs(15), "writes stopped for {gap:?}");
    check_acknowledged(&s3, "rejoin", &acked).await;
    check_histories(&registers);
    assert!(node.running(), "node {new_id} exited:\n{}", node.log_text());
}

/// Starts a meta node from `conf` that must refuse to run: waits (at most 30 s) until it exits,
/// checks that it exits with code 78, and returns its log and its `spread meta:` line.
async fn start_until_refused(conf: &Path, log: &Path, what: &str) -> (String, String) {
    let mut node = MetaProcess::start(conf, log, &[]);
    let started = Instant::now();
    let status = loop {
        if let Ok(Some(status)) = node.child.try_wait() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what} still runs after 30 s:\n{}",
            node.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let text = node.log_text();
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with("spread meta: "))
        .unwrap_or_default()
        .to_string();
    println!(
        "{what}: exited ({status}) after {:.1} s: {line}",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(status.code(), Some(78), "{text}");
    (text, line)
}

/// Issue 15: a node whose data directory was wiped and that comes back under its old id is
/// refused with a one-line error saying what to do: while the id is still a member, by the node
/// itself (the group's messages name another incarnation of the id: it exits), and the group
/// serves on; once the id is removed, by `meta add` (ids are never reused).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wiped_node_returning_under_its_old_id_is_refused() {
    let _serial = SERIAL.lock().await;
    let mut cluster =
        tokio::task::spawn_blocking(|| Cluster::start_with(DevOptions::three_metas()))
            .await
            .expect("cluster start");
    let addrs = all_meta_addrs(&cluster);
    let (leader, _) = wait_views(&cluster, &addrs, Duration::from_secs(20), "a leader", |v| {
        agreed_leader(v)
    })
    .await;
    let wiped = cluster
        .info
        .meta_nodes
        .iter()
        .filter(|m| m.id != leader && m.id != 1)
        .max_by_key(|m| m.id)
        .cloned()
        .expect("a follower other than node 1");
    let s3 = cluster.s3();
    s3.create_bucket("oldid")
        .await
        .expect_status(200, "creating the bucket");
    tokio::task::block_in_place(|| cluster.kill_meta(wiped.id));
    std::fs::remove_dir_all(&wiped.data_dir).expect("wiping the follower's data");

    // Still a member: the same config (its old id), an empty data directory. The leader's
    // next message names the old incarnation; the node must stop, saying what to do.
    let log = cluster
        .data_dir()
        .join("logs")
        .join("test-meta-wiped-member.log");
    let what = format!("wiped member {} under its old id", wiped.id);
    let (text, line) = start_until_refused(&meta_conf_path(&cluster, wiped.id), &log, &what).await;
    assert!(
        line.contains("incarnation")
            && line.contains(&format!("spread admin meta remove {}", wiped.id))
            && line.contains("new node_id"),
        "the refusal says what to do: {text}"
    );
    // The other two serve on.
    s3.put_object("oldid", "after", "still serving")
        .await
        .expect_status(200, "a write with the wiped member refused");
    let got = s3.get_object("oldid", "after").await;
    got.expect_status(200, "reading it back");
    assert_eq!(&got.body[..], b"still serving");

    // Removed: `meta add` refuses the old id.
    tokio::task::block_in_place(|| cluster.admin_ok(&["meta", "remove", &wiped.id.to_string()]));
    std::fs::remove_dir_all(&wiped.data_dir).expect("wiping the follower's data again");
    let log = cluster.data_dir().join("logs").join("test-meta-old-id.log");
    let mut node = MetaProcess::start(&meta_conf_path(&cluster, wiped.id), &log, &[]);
    wait_answering(&cluster, &wiped.addr, &mut node).await;
    let out = tokio::task::block_in_place(|| {
        cluster.admin(&["meta", "add", &wiped.id.to_string(), &wiped.addr])
    });
    let err = String::from_utf8_lossy(&out.stderr);
    println!(
        "meta add {} {} after its removal: {}, {err}",
        wiped.id, wiped.addr, out.status
    );
    assert!(
        !out.status.success(),
        "meta add accepted the old id {} again: {}",
        wiped.id,
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("never reused") && err.contains("new node_id"),
        "{err}"
    );
}

/// Issue 15: the first node (`bootstrap = true`) whose data directory was wiped does not start
/// a group of one beside the real group (which would take writes the group never sees): before
/// bootstrapping it asks the nodes of `group_peers` (written by `spread dev`), finds they
/// belong to a group, and stops with a line saying what to do. The group serves on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wiped_first_node_does_not_start_a_group_of_its_own() {
    let _serial = SERIAL.lock().await;
    let mut cluster =
        tokio::task::spawn_blocking(|| Cluster::start_with(DevOptions::three_metas()))
            .await
            .expect("cluster start");
    let addrs = all_meta_addrs(&cluster);
    wait_views(&cluster, &addrs, Duration::from_secs(20), "a leader", |v| {
        agreed_leader(v)
    })
    .await;
    let first = cluster
        .info
        .meta_nodes
        .iter()
        .find(|m| m.id == 1)
        .cloned()
        .expect("node 1");
    let s3 = cluster.s3();
    s3.create_bucket("firstwiped")
        .await
        .expect_status(200, "creating the bucket");
    s3.put_object("firstwiped", "before", "written before the wipe")
        .await
        .expect_status(200, "a write before the wipe");
    tokio::task::block_in_place(|| cluster.kill_meta(1));
    std::fs::remove_dir_all(&first.data_dir).expect("wiping node 1's data");

    let log = cluster
        .data_dir()
        .join("logs")
        .join("test-meta-wiped-first.log");
    let (text, line) =
        start_until_refused(&meta_conf_path(&cluster, 1), &log, "wiped node 1").await;
    assert!(
        line.contains("already belongs to a group")
            && line.contains("spread admin meta remove 1")
            && line.contains("bootstrap = false")
            && line.contains("new node_id"),
        "the refusal says what to do: {text}"
    );
    assert!(
        !text.contains("started a meta group of one"),
        "node 1 started a group of its own before stopping: {text}"
    );
    // The other two still form the group, with the write made before the wipe.
    s3.put_object("firstwiped", "after", "still serving")
        .await
        .expect_status(200, "a write with node 1 refused");
    for (key, body) in [
        ("before", &b"written before the wipe"[..]),
        ("after", b"still serving"),
    ] {
        let got = s3.get_object("firstwiped", key).await;
        got.expect_status(200, "reading it back");
        assert_eq!(&got.body[..], body);
    }
}
