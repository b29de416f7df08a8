//! The log store and state machine against openraft's own storage test suite, and against
//! what Spread needs of them: entries and votes survive a restart, real commands applied
//! through log entries, a snapshot carrying every environment to another node, a command
//! newer than the binary refused.

use super::log_store::LogStore;
use super::state_machine::StateMachine;
use super::{Applied, Entry, LogId, MetaNode, Proposal, StorageError, TypeConfig};
use crate::store::command_tests::{dump, log};
use crate::store::test_fixtures::config;
use crate::store::{COMMAND_VERSION, Command};
use openraft::storage::{RaftLogStorage, RaftStateMachine};
use openraft::testing::{StoreBuilder, Suite};
use openraft::{CommittedLeaderId, EntryPayload, RaftLogReader, RaftSnapshotBuilder};
use std::path::Path;
use tempfile::TempDir;

const ADDR: &str = "127.0.0.1:6000";

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for Builder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachine), StorageError> {
        let dir = tempfile::tempdir().unwrap();
        let (log, sm) = open(dir.path());
        Ok((dir, log, sm))
    }
}

fn open(dir: &Path) -> (LogStore, StateMachine) {
    let log = LogStore::open(&dir.join("raft")).unwrap();
    let sm = StateMachine::open(&config(dir), ADDR, None).unwrap();
    (log, sm)
}

#[test]
fn openraft_storage_suite() {
    Suite::test_all(Builder).unwrap();
}

fn log_id(term: u64, index: u64) -> LogId {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

fn entry(term: u64, index: u64, command: Command) -> Entry {
    proposal(term, index, vec![command])
}

/// Log entry `index` of `term` proposing `commands`.
fn proposal(term: u64, index: u64, commands: Vec<Command>) -> Entry {
    Entry {
        log_id: log_id(term, index),
        payload: EntryPayload::Normal(Proposal {
            v: COMMAND_VERSION,
            commands,
        }),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Appends through the log store's real `append`, waiting for its durability callback.
async fn append(log: &mut LogStore, entries: Vec<Entry>) {
    use openraft::storage::RaftLogStorageExt;
    log.blocking_append(entries).await.unwrap();
}

#[test]
fn log_entries_vote_and_commit_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let entries: Vec<Entry> = log()
        .into_iter()
        .enumerate()
        .map(|(i, c)| entry(2, i as u64 + 1, c))
        .collect();
    let n = entries.len() as u64;
    rt.block_on(async {
        let mut log = LogStore::open(&dir.path().join("raft")).unwrap();
        append(&mut log, entries.clone()).await;
        log.save_vote(&openraft::Vote::new_committed(2, 1))
            .await
            .unwrap();
        log.save_committed(Some(log_id(2, n))).await.unwrap();
        log.purge(log_id(2, 2)).await.unwrap();
    });
    crate::store::lmdb::wait_closed(&dir.path().join("raft"));
    rt.block_on(async {
        let mut log = LogStore::open(&dir.path().join("raft")).unwrap();
        let state = log.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id, Some(log_id(2, 2)));
        assert_eq!(state.last_log_id, Some(log_id(2, n)));
        assert_eq!(
            log.read_vote().await.unwrap(),
            Some(openraft::Vote::new_committed(2, 1))
        );
        // Not written down: the state machine keeps its applied index with its data.
        assert_eq!(log.read_committed().await.unwrap(), None);
        let read = log.try_get_log_entries(3..=n).await.unwrap();
        assert_eq!(read, entries[2..].to_vec(), "entries read back as written");
        assert!(log.try_get_log_entries(1..3).await.unwrap().is_empty());
    });
}

/// Applies `log()` as log entries 1..=n to the state machine in `dir`, in batches of 5.
async fn apply_log(sm: &mut StateMachine) -> Vec<Applied> {
    let entries: Vec<Entry> = log()
        .into_iter()
        .enumerate()
        .map(|(i, c)| entry(1, i as u64 + 1, c))
        .collect();
    let mut out = Vec::new();
    for batch in entries.chunks(5) {
        out.extend(sm.apply(batch.to_vec()).await.unwrap());
    }
    out
}

#[test]
fn commands_apply_through_entries_and_a_snapshot_carries_every_environment() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let rt = runtime();
    let n = log().len() as u64;
    rt.block_on(async {
        let (_, mut sm) = open(a.path());
        let answers = apply_log(&mut sm).await;
        // The same answers as the store gives the commands directly: successes, then the
        // log's two final refusals as the commands' own answers (not storage failures).
        assert_eq!(answers.len() as u64, n);
        let (done, refused) = answers.split_at(answers.len() - 2);
        assert!(
            done.iter().all(|a| a.0.len() == 1 && a.0[0].is_ok()),
            "{answers:?}"
        );
        for a in refused {
            let refusal = a.0[0].clone().unwrap_err();
            assert!(!refusal.code.is_empty(), "{refusal:?}");
        }
        assert_eq!(sm.applied_state().await.unwrap().0, Some(log_id(1, n)));
        // Entries delivered again (after a restart) are not applied twice.
        let again = sm.apply(vec![entry(1, 1, log()[0].clone())]).await.unwrap();
        assert_eq!(again, vec![Applied(Vec::new())]);

        let snap = sm
            .get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();
        assert_eq!(snap.meta.last_log_id, Some(log_id(1, n)));

        let (_, mut other) = open(b.path());
        let mut recv = other.begin_receiving_snapshot().await.unwrap();
        let mut src = *snap.snapshot;
        tokio::io::copy(&mut src, &mut *recv).await.unwrap();
        other.install_snapshot(&snap.meta, recv).await.unwrap();
        assert_eq!(other.applied_state().await.unwrap().0, Some(log_id(1, n)));
        // Requests see the installed state at once.
        assert!(other.store().get().get_account("acct").is_ok());
    });
    // Every database of every environment is the same on both nodes, except the state
    // machine's own record (same content, written by each node).
    let generation = std::fs::read_to_string(b.path().join("state/CURRENT")).unwrap();
    let (da, db) = (
        dump(a.path()),
        dump(&b.path().join("state").join(generation.trim())),
    );
    assert_eq!(da.keys().collect::<Vec<_>>(), db.keys().collect::<Vec<_>>());
    for (name, entries) in &da {
        assert_eq!(Some(entries), db.get(name), "{name} differs");
    }
    assert!(
        !b.path().join("directory").exists(),
        "the replaced generation is removed"
    );

    // Reopened, the follower finds the installed generation and its progress.
    rt.block_on(async {
        let (_, mut sm) = open(b.path());
        assert_eq!(sm.applied_state().await.unwrap().0, Some(log_id(1, n)));
        assert!(sm.get_current_snapshot().await.unwrap().is_some());
    });
}

#[test]
fn the_applied_position_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let n = log().len() as u64;
    rt.block_on(async {
        let (_, mut sm) = open(dir.path());
        apply_log(&mut sm).await;
    });
    rt.block_on(async {
        let (_, mut sm) = open(dir.path());
        assert_eq!(sm.applied_state().await.unwrap().0, Some(log_id(1, n)));
    });
}

#[test]
fn a_command_newer_than_the_binary_stops_the_state_machine() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    rt.block_on(async {
        let (_, mut sm) = open(dir.path());
        let mut e = entry(1, 1, log()[0].clone());
        if let EntryPayload::Normal(p) = &mut e.payload {
            p.v = COMMAND_VERSION + 1;
        }
        let err = sm.apply(vec![e]).await.unwrap_err();
        assert!(err.to_string().contains("upgrade this node"), "{err}");
        assert_eq!(sm.applied_state().await.unwrap().0, None, "nothing applied");
    });
}

/// Several commands in one entry, applied in two calls as a crash between them would leave
/// them (the first command's batch committed, the entry not yet recorded): the second
/// delivery applies only what is missing.
#[test]
fn an_entry_cut_by_a_crash_is_finished_not_applied_twice() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    rt.block_on(async {
        let (_, mut sm) = open(dir.path());
        let log = log();
        // A heartbeat is not idempotent (its score rises by at most `max_rise` each time), so
        // applying it twice shows.
        let mut heartbeat = log
            .iter()
            .find(|c| matches!(c, Command::Heartbeat { .. }))
            .cloned()
            .unwrap();
        if let Command::Heartbeat {
            computed_score,
            max_rise,
            lock_if_new,
            ..
        } = &mut heartbeat
        {
            (*computed_score, *max_rise, *lock_if_new) = (100, 10, false);
        }
        let mut rest = log[2..8].to_vec();
        rest.push(heartbeat);
        // Entry 1: account, key; entry 2: the rest up to the first containers (which run
        // alone, so the entry is cut into batches at them), and the heartbeat.
        let first = proposal(1, 1, log[..2].to_vec());
        let second = proposal(1, 2, rest);
        let a = sm.apply(vec![first, second.clone()]).await.unwrap();
        assert_eq!(a[1].0.len(), 7);
        assert!(a[1].0.iter().all(Result::is_ok), "{a:?}");
        // The same entry again, on a state machine that believes it was not applied: every
        // command is already in the store, so nothing changes and nothing fails.
        drop(sm);
        crate::store::lmdb::wait_closed(&dir.path().join("directory"));
        let before = dump(dir.path());
        let (_, mut sm) = open(dir.path());
        sm.force_last_applied(Some(log_id(1, 1)));
        let b = sm.apply(vec![second]).await.unwrap();
        assert_eq!(b[0].0.len(), 7);
        drop(sm);
        crate::store::lmdb::wait_closed(&dir.path().join("directory"));
        let after = dump(dir.path());
        assert!(
            before == after,
            "applying the entry again changed the store"
        );
    });
}

/// A data directory written by a single meta before replication (commands applied without
/// log indexes, no Raft record) opens as a state machine that has applied nothing, keeps every
/// record, and applies the group's first entries on top.
#[test]
fn a_store_from_before_replication_starts_a_group_of_one() {
    let dir = tempfile::tempdir().unwrap();
    let log = log();
    {
        let store = crate::store::Store::open(&config(dir.path()), ADDR).unwrap();
        for c in &log[..5] {
            store.apply(c.clone()).unwrap();
        }
    }
    crate::store::lmdb::wait_closed(&dir.path().join("directory"));
    let rt = runtime();
    rt.block_on(async {
        let (_, mut sm) = open(dir.path());
        assert_eq!(sm.applied_state().await.unwrap().0, None);
        let account = sm.store().get().get_account("acct").unwrap();
        assert_eq!(account.name, "acct");
        let answers = sm
            .apply(vec![proposal(1, 1, log[5..8].to_vec())])
            .await
            .unwrap();
        assert!(answers[0].0.iter().all(Result::is_ok), "{answers:?}");
        assert_eq!(sm.applied_state().await.unwrap().0, Some(log_id(1, 1)));
    });
}

/// A verify marker: a normal entry without commands.
fn marker(term: u64, index: u64) -> Entry {
    proposal(term, index, Vec::new())
}

fn digest_at(sm: &StateMachine, index: u64) -> crate::store::StateDigest {
    let kept = sm.digests();
    let kept = kept.lock().unwrap();
    let (_, d) = kept
        .iter()
        .find(|(id, _)| id.index == index)
        .unwrap_or_else(|| panic!("no digest at {index}"));
    d.clone().unwrap()
}

#[test]
fn every_node_digests_the_same_state_at_a_marker_and_a_change_shows() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let rt = runtime();
    let n = log().len() as u64;
    rt.block_on(async {
        let mut entries: Vec<Entry> = log()
            .into_iter()
            .enumerate()
            .map(|(i, c)| entry(1, i as u64 + 1, c))
            .collect();
        entries.push(marker(1, n + 1));
        entries.push(entry(
            1,
            n + 2,
            Command::CreateAccount {
                name: "later".into(),
                created_ms: 5,
            },
        ));
        let (_, mut sa) = open(a.path());
        let (_, mut sb) = open(b.path());
        // Batches end in different places on the two nodes; the marker is inside one.
        for batch in entries.chunks(5) {
            sa.apply(batch.to_vec()).await.unwrap();
        }
        for batch in entries.chunks(7) {
            sb.apply(batch.to_vec()).await.unwrap();
        }
        let (da, db) = (digest_at(&sa, n + 1), digest_at(&sb, n + 1));
        assert!(da.entries > 10, "{da:?}");
        assert_eq!(da, db, "the same state at the marker");
        // The command after the marker is not in its digest.
        assert!(sa.store().get().get_account("later").is_ok());

        // A change outside the log (as a corrupted copy) shows at the next marker.
        sb.store()
            .get()
            .apply(Command::CreateAccount {
                name: "stray".into(),
                created_ms: 6,
            })
            .unwrap();
        sa.apply(vec![marker(1, n + 3)]).await.unwrap();
        sb.apply(vec![marker(1, n + 3)]).await.unwrap();
        let (da, db) = (digest_at(&sa, n + 3), digest_at(&sb, n + 3));
        assert_ne!(da.digest, db.digest);
        let differ: Vec<&String> = da
            .envs
            .iter()
            .zip(&db.envs)
            .filter(|(x, y)| x.1 != y.1)
            .map(|(x, _)| &x.0)
            .collect();
        assert_eq!(differ, vec!["directory"]);
        // A marker delivered again (after a restart) is not digested again.
        let before = sa.digests().lock().unwrap().len();
        sa.apply(vec![marker(1, n + 3)]).await.unwrap();
        assert_eq!(sa.digests().lock().unwrap().len(), before);
    });
}

#[test]
fn a_restored_backup_holds_the_state_and_applies_a_new_log_from_1() {
    let (a, c) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let rt = runtime();
    let file = a.path().join("meta.backup");
    rt.block_on(async {
        let (_, mut sm) = open(a.path());
        apply_log(&mut sm).await;
        let snap = sm
            .get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();
        let mut tar = snap.snapshot.into_std().await;
        let header = crate::backup::describe(&snap.meta, &mut tar).unwrap();
        let mut out = std::fs::File::create(&file).unwrap();
        std::io::Write::write_all(&mut out, &crate::backup::encode_header(&header).unwrap())
            .unwrap();
        std::io::copy(&mut tar, &mut out).unwrap();
    });
    let restored = c.path().join("node");
    let mut cfg = config(&restored);
    cfg.node_id = 10;
    let header = crate::backup::restore(&cfg, &file).unwrap();
    assert_eq!(header.index, log().len() as u64);
    // A second restore into the same directory is refused.
    let e = crate::backup::restore(&cfg, &file).unwrap_err().to_string();
    assert!(e.contains("not empty"), "{e}");
    rt.block_on(async {
        let mut sm = StateMachine::open(&cfg, ADDR, None).unwrap();
        assert_eq!(sm.applied_state().await.unwrap().0, None, "a new log");
        let store = sm.store().get();
        assert!(store.get_account("acct").is_ok());
        drop(store);
        // Index 1 of the new group's log is applied, not taken for one already held.
        let a = sm
            .apply(vec![entry(
                1,
                1,
                Command::CreateAccount {
                    name: "after".into(),
                    created_ms: 9,
                },
            )])
            .await
            .unwrap();
        assert!(a[0].0[0].is_ok(), "{a:?}");
        assert!(sm.store().get().get_account("after").is_ok());
    });
}

/// A node removed from the membership is remembered (ids are never reused), across a restart.
#[test]
fn removed_node_ids_are_remembered() {
    use openraft::Membership;
    use std::collections::{BTreeMap, BTreeSet};
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let members = |ids: &[u64]| {
        let nodes: BTreeMap<u64, MetaNode> =
            ids.iter().map(|i| (*i, MetaNode::new(ADDR, *i))).collect();
        let voters: BTreeSet<u64> = ids.iter().copied().collect();
        Membership::new(vec![voters], nodes)
    };
    let membership = |index: u64, ids: &[u64]| Entry {
        log_id: log_id(1, index),
        payload: EntryPayload::Membership(members(ids)),
    };
    rt.block_on(async {
        let (_log, mut sm) = open(dir.path());
        let retired =
            |sm: &StateMachine| super::state_machine::retired_node_ids(&sm.store().get()).unwrap();
        sm.apply(vec![membership(1, &[1, 2, 3])]).await.unwrap();
        assert!(retired(&sm).is_empty());
        sm.apply(vec![
            membership(2, &[1, 2]),
            entry(1, 3, log().remove(0)),
            membership(4, &[1, 2, 4]),
        ])
        .await
        .unwrap();
        assert_eq!(retired(&sm), BTreeSet::from([3]));
    });
    crate::store::lmdb::wait_closed(&dir.path().join("raft"));
    rt.block_on(async {
        let (_log, sm) = open(dir.path());
        let ids = super::state_machine::retired_node_ids(&sm.store().get()).unwrap();
        assert_eq!(ids, BTreeSet::from([3]), "after a restart");
    });
}

/// Memberships written before incarnations existed (openraft's `BasicNode`, `{"addr": …}`)
/// still read, with incarnation 0 (unknown); a known incarnation round-trips.
#[test]
fn memberships_from_before_incarnations_still_read() {
    use openraft::{BasicNode, Membership};
    use std::collections::{BTreeMap, BTreeSet};
    let old: Membership<u64, BasicNode> = Membership::new(
        vec![BTreeSet::from([1, 2])],
        BTreeMap::from([(1, BasicNode::new("a:1")), (2, BasicNode::new("b:2"))]),
    );
    let text = serde_json::to_string(&super::StoredMembership::new(
        Some(log_id(1, 7)),
        serde_json::from_str(&serde_json::to_string(&old).unwrap()).unwrap(),
    ))
    .unwrap();
    let read: super::StoredMembership = serde_json::from_str(&text).unwrap();
    let nodes: Vec<(u64, MetaNode)> = read
        .membership()
        .nodes()
        .map(|(id, n)| (*id, n.clone()))
        .collect();
    assert_eq!(
        nodes,
        vec![(1, MetaNode::new("a:1", 0)), (2, MetaNode::new("b:2", 0))]
    );
    let node = MetaNode::new("c:3", 0xabc);
    let again: MetaNode = serde_json::from_str(&serde_json::to_string(&node).unwrap()).unwrap();
    assert_eq!(again, node);
    let plain: BasicNode = serde_json::from_str(&serde_json::to_string(&node).unwrap()).unwrap();
    assert_eq!(
        plain.addr, "c:3",
        "an older node reads a new membership's addresses"
    );
}

/// A data directory draws its incarnation once; a restart keeps it; another node id is
/// refused.
#[test]
fn a_data_directory_keeps_its_incarnation() {
    let dir = tempfile::tempdir().unwrap();
    let first = {
        let log = super::log_store::LogStore::open(&dir.path().join("raft")).unwrap();
        log.claim_node_id(4).unwrap()
    };
    crate::store::lmdb::wait_closed(&dir.path().join("raft"));
    let log = super::log_store::LogStore::open(&dir.path().join("raft")).unwrap();
    assert_ne!(first, 0);
    assert_eq!(log.claim_node_id(4).unwrap(), first);
    assert!(log.claim_node_id(5).is_err());
    let other = tempfile::tempdir().unwrap();
    let log2 = super::log_store::LogStore::open(&other.path().join("raft")).unwrap();
    assert_ne!(
        log2.claim_node_id(4).unwrap(),
        first,
        "a new directory, a new incarnation"
    );
}

#[test]
fn a_raft_message_names_its_target_in_its_query() {
    use super::network::{parse_target_query, target_query};
    assert_eq!(
        parse_target_query(Some(&target_query(3, 0))),
        Ok(Some((3, 0)))
    );
    assert_eq!(
        parse_target_query(Some(&target_query(3, u64::MAX))),
        Ok(Some((3, u64::MAX)))
    );
    assert_eq!(parse_target_query(None), Ok(None));
    assert!(parse_target_query(Some("to=x")).is_err());
    assert!(parse_target_query(Some("to=1&incarnation=zz")).is_err());
}

/// Two real nodes on loopback. Node 2 (a server, in no group yet) tells a node about to
/// bootstrap that it belongs to none; added to node 1's group under incarnation 0 (as a
/// leader from before incarnations recorded members), the leader learns its incarnation
/// (`learn_incarnations`); from then on a node about to bootstrap is refused (it would be a
/// wiped member), and an address where nothing answers does not stop one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_without_incarnation_is_learned_and_blocks_a_second_group() {
    use super::network::Network;
    use super::node::{Node, no_group_among};
    use std::time::{Duration, Instant};
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr2 = listener.local_addr().unwrap().to_string();
    let c2 = crate::Config {
        listen: listener.local_addr().unwrap(),
        node_id: 2,
        bootstrap: false,
        insecure_no_auth: true,
        ..config(d2.path())
    };
    let (stop2, stopped2) = tokio::sync::oneshot::channel::<()>();
    let server2 = tokio::spawn(crate::server::serve_with_shutdown(listener, c2, async {
        let _ = stopped2.await;
    }));
    let network = Network::new(None, Default::default());
    let started = Instant::now();
    loop {
        match no_group_among(&network, 1, std::slice::from_ref(&addr2)).await {
            Ok(()) => break,
            // Node 2 answers once it has opened its store.
            Err(e) if started.elapsed() < Duration::from_secs(20) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("a node in no group stops a bootstrap: {e}"),
        }
    }
    assert!(
        no_group_among(&network, 1, &["127.0.0.1:1".to_string()])
            .await
            .is_ok(),
        "nothing answering does not stop a bootstrap"
    );

    let c1 = crate::Config {
        node_id: 1,
        insecure_no_auth: true,
        ..config(d1.path())
    };
    let node1 = Node::start(&c1, "127.0.0.1:1", None, Default::default())
        .await
        .unwrap();
    node1
        .raft
        .add_learner(2, MetaNode::new(addr2.clone(), 0), true)
        .await
        .unwrap();
    let incarnation2 = match network.identity_at(&addr2).await {
        super::network::Asked::Identity(id) => id.incarnation,
        other => panic!("node 2 did not say who it is: {other:?}"),
    };
    let learned = |node: &Node| {
        node.raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .get_node(&2)
            .map(|n| n.incarnation)
    };
    let started = Instant::now();
    while learned(&node1) != Some(incarnation2) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "node 2's incarnation {incarnation2:016x} not learned in 30 s: {:?}",
            learned(&node1)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "incarnation learned after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let refused = no_group_among(&network, 3, &["127.0.0.1:1".to_string(), addr2.clone()])
        .await
        .expect_err("node 2 belongs to a group now");
    assert!(
        refused.contains("meta node 2")
            && refused.contains("already belongs to a group")
            && refused.contains("spread admin meta remove 3"),
        "{refused}"
    );

    node1.raft.shutdown().await.unwrap();
    let _ = stop2.send(());
    let _ = server2.await;
}
