//! Backups of the meta group (issue 15, "Upgrades and backups"), through a real `spread dev`
//! cluster of 3 meta nodes:
//!
//! - `spread admin meta verify` finds the 3 nodes identical; after one follower's copy is
//!   changed offline (a key deleted with LMDB while it is stopped) it names the difference and
//!   exits non-zero;
//! - `spread admin meta backup FILE` writes a backup; a "bad delete" (every object of a
//!   bucket) is then undone by stopping every meta node and starting `spread meta --restore
//!   FILE` as a new group of one on the first node's address: every object (several buckets, a
//!   multipart object) reads back byte for byte through the cluster's own gateway, the second
//!   access key and the quota are back;
//! - a truncated backup and a non-empty data directory are refused with a one-line error.
//!
//! One test (one cluster), so the binary runs one thing at a time.
//! Needs the `spread` binary: `cargo build --release` first, or set `SPREAD_BIN`.

use conformance::cluster::{Cluster, DevOptions, pid_alive, run_bounded, spread_bin};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const KEY2: &str = "BACKUPKEY00000000002";
const SECRET2: &str = "backup-secret-key-abcdefghijklmnopqrstuvwxyz";

fn body(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(29) ^ seed ^ (i >> 11) as u8)
        .collect()
}

fn text(o: &Output) -> String {
    format!(
        "status {}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Starts `spread meta` with `args`, its output appended to `log`.
fn spawn_meta(args: &[&str], log: &Path) -> Child {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("meta log");
    let err = out.try_clone().expect("meta log");
    Command::new(spread_bin())
        .arg("meta")
        .args(args)
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .expect("spawning spread meta")
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs `spread meta ARGS` expecting it to refuse at once.
fn meta_refuses(args: &[&str]) -> String {
    let mut cmd = Command::new(spread_bin());
    cmd.arg("meta").args(args);
    let out = run_bounded(&mut cmd, Duration::from_secs(30));
    assert!(
        !out.status.success(),
        "spread meta {args:?} started:\n{}",
        text(&out)
    );
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

/// The directory holding a node's current environments (a generation after a snapshot).
fn state_dir(data_dir: &Path) -> PathBuf {
    match std::fs::read_to_string(data_dir.join("state/CURRENT")) {
        Ok(g) => data_dir.join("state").join(g.trim()),
        Err(_) => data_dir.to_path_buf(),
    }
}

/// Deletes, with LMDB, the credential `access_key` from a stopped node's directory.
fn delete_credential(data_dir: &Path, access_key: &str) {
    let path = state_dir(data_dir).join("directory");
    let mut opts = heed::EnvOpenOptions::new();
    opts.map_size(1 << 30).max_dbs(64);
    // SAFETY: the node owning the environment is stopped; nothing else opens it.
    let env = unsafe { opts.open(&path) }.expect("opening the directory");
    let mut txn = env.write_txn().expect("write txn");
    let db: heed::Database<heed::types::Bytes, heed::types::Bytes> = env
        .open_database(&txn, Some("credentials"))
        .expect("credentials db")
        .expect("credentials db exists");
    let keys: Vec<Vec<u8>> = db
        .iter(&txn)
        .expect("iter")
        .map(|e| e.expect("entry").0.to_vec())
        .filter(|k| {
            k.windows(access_key.len())
                .any(|w| w == access_key.as_bytes())
        })
        .collect();
    assert_eq!(keys.len(), 1, "one credential record names {access_key}");
    assert!(db.delete(&mut txn, &keys[0]).expect("delete"));
    txn.commit().expect("commit");
    env.prepare_for_closing().wait();
}

/// Waits until `spread admin meta status --json` shows `check` true of the views.
fn wait_status(cluster: &Cluster, what: &str, check: impl Fn(&[serde_json::Value]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = cluster.admin(&["meta", "status", "--json"]);
        if let Ok(views) = serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout)
            && check(&views)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within 60 s:\n{}",
            text(&out)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn applied(views: &[serde_json::Value], id: u64) -> Option<u64> {
    views.iter().find_map(|v| {
        let s = v.get("status")?;
        (s.get("id")?.as_u64()? == id).then(|| s.get("last_applied")?.as_u64())?
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_undoes_a_bad_delete_and_verify_finds_a_changed_node() {
    let mut cluster = Cluster::start_with(DevOptions {
        meta: 3,
        chunkd: 3,
        replicas: 2,
        meta_timeout_ms: Some(3_000),
        ..DevOptions::default()
    });
    let s3 = cluster.s3();
    let work = tempfile::tempdir().expect("tempdir");

    // What the backup must bring back: several buckets, a multipart object, a quota, a
    // second access key.
    let mut objects: Vec<(&str, String, Vec<u8>)> = Vec::new();
    for (bucket, n, size) in [
        ("keep-a", 4, 3000),
        ("keep-b", 3, 70_000),
        ("victim", 6, 9000),
    ] {
        s3.create_bucket(bucket)
            .await
            .expect_status(200, "CreateBucket");
        for i in 0..n {
            let key = format!("obj-{i}");
            let data = body(size + i, i as u8 ^ bucket.len() as u8);
            s3.put_object(bucket, &key, data.clone())
                .await
                .expect_status(200, &format!("PUT {bucket}/{key}"));
            objects.push((bucket, key, data));
        }
    }
    let parts = [body(5 * 1024 * 1024, 1), body(300_000, 2)];
    let (resp, upload) = s3.create_multipart_upload("victim", "big", &[]).await;
    resp.expect_status(200, "CreateMultipartUpload");
    let upload = upload.expect("an upload id");
    let mut etags = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let r = s3
            .upload_part("victim", "big", &upload, i as u32 + 1, p.clone())
            .await;
        r.expect_status(200, "UploadPart");
        etags.push((i as u32 + 1, r.etag().expect("part etag").to_string()));
    }
    s3.complete_multipart_upload("victim", "big", &upload, &etags)
        .await
        .expect_status(200, "CompleteMultipartUpload");
    objects.push(("victim", "big".to_string(), parts.concat()));
    cluster.admin_ok(&[
        "quota",
        "set",
        "dev",
        "--bucket",
        "keep-b",
        "--max-objects",
        "77",
    ]);
    cluster.admin_ok(&[
        "key",
        "create",
        "dev",
        "--access-key",
        KEY2,
        "--secret-key",
        SECRET2,
    ]);
    let second = s3.with_credentials(KEY2, SECRET2);
    second
        .get_object("keep-a", "obj-0")
        .await
        .expect_status(200, "GET with the second key");

    // Three nodes, the same state.
    let out = cluster.admin_ok(&["meta", "verify"]);
    println!("{out}");
    assert!(out.contains("all 3 nodes identical"), "{out}");

    // The backup, then the bad delete.
    let backup = work.path().join("meta.backup");
    let out = cluster.admin_ok(&["meta", "backup", backup.to_str().expect("utf-8 path")]);
    println!("{out}");
    assert!(out.contains("wrote"), "{out}");
    let size = std::fs::metadata(&backup).expect("the backup file").len();
    assert!(size > 1000, "backup of {size} bytes");
    for (bucket, key, _) in objects.iter().filter(|o| o.0 == "victim") {
        s3.delete_object(bucket, key)
            .await
            .expect_status(204, &format!("DELETE {key}"));
    }
    s3.get_object("victim", "big")
        .await
        .expect_status(404, "GET after the bad delete");

    // A follower changed offline: verify must see it.
    let leader = cluster.meta_leader().expect("a meta leader");
    let follower = cluster
        .info
        .meta_nodes
        .iter()
        .find(|m| m.id != leader)
        .cloned()
        .expect("a follower");
    cluster.kill_meta(follower.id);
    delete_credential(&follower.data_dir, KEY2);
    let conf = cluster
        .data_dir()
        .join("conf")
        .join(format!("meta-{}.toml", follower.id));
    let conf = if conf.exists() {
        conf
    } else {
        cluster.data_dir().join("conf/meta.toml")
    };
    let mut restarted = spawn_meta(
        &["--config", conf.to_str().expect("utf-8 path")],
        &work.path().join("follower.log"),
    );
    wait_status(&cluster, "the changed follower catches up", |views| {
        let leader_applied = applied(views, leader);
        leader_applied.is_some() && applied(views, follower.id) >= leader_applied
    });
    let out = cluster.admin(&["meta", "verify"]);
    let shown = text(&out);
    println!("{shown}");
    assert!(
        !out.status.success(),
        "verify passed a changed node:\n{shown}"
    );
    assert!(shown.contains("differ"), "{shown}");
    assert!(shown.contains("differs: directory"), "{shown}");

    // Every meta node stops; the backup starts a new group on node 1's address.
    stop(&mut restarted);
    let alive: Vec<u64> = cluster
        .info
        .meta_nodes
        .iter()
        .filter(|m| m.id != follower.id && m.pid.is_some_and(pid_alive))
        .map(|m| m.id)
        .collect();
    for id in alive {
        cluster.kill_meta(id);
    }
    let first = cluster
        .info
        .meta_nodes
        .iter()
        .find(|m| m.id == 1)
        .cloned()
        .expect("meta node 1");
    let mut config: toml::Table =
        std::fs::read_to_string(cluster.data_dir().join("conf/meta.toml"))
            .expect("meta.toml")
            .parse()
            .expect("meta.toml parses");
    let restored_dir = work.path().join("restored");
    config.insert(
        "data_dir".into(),
        toml::Value::String(restored_dir.display().to_string()),
    );
    config.insert("listen".into(), toml::Value::String(first.addr.clone()));
    config.insert("node_id".into(), toml::Value::Integer(10));
    let restored_conf = work.path().join("restored.toml");
    std::fs::write(&restored_conf, toml::to_string(&config).expect("toml")).expect("write");
    let restored_conf = restored_conf.to_str().expect("utf-8 path").to_string();

    // Refused: a truncated backup, a backup into a non-empty directory, an old node id.
    let bytes = std::fs::read(&backup).expect("backup");
    let cut = work.path().join("cut.backup");
    std::fs::write(&cut, &bytes[..bytes.len() - 4096]).expect("write");
    let e = meta_refuses(&[
        "--config",
        &restored_conf,
        "--restore",
        cut.to_str().expect("path"),
    ]);
    println!("truncated: {e}");
    assert!(e.contains("truncated") && !e.contains('\n'), "{e}");
    let e = meta_refuses(&[
        "--config",
        conf.to_str().expect("path"),
        "--restore",
        backup.to_str().expect("path"),
    ]);
    println!("non-empty: {e}");
    assert!(e.contains("not empty") && !e.contains('\n'), "{e}");

    let mut restored = spawn_meta(
        &[
            "--config",
            &restored_conf,
            "--restore",
            backup.to_str().expect("path"),
        ],
        &work.path().join("restored.log"),
    );
    wait_status(&cluster, "the restored node leads", |views| {
        views.iter().any(|v| {
            v.pointer("/status/state").and_then(|s| s.as_str()) == Some("Leader")
                && v.pointer("/status/id").and_then(|s| s.as_u64()) == Some(10)
        })
    });
    let status = cluster.admin_ok(&["meta", "status"]);
    println!("{status}");

    // Everything is back, through the cluster's own gateway; the bad delete is undone.
    let deadline = Instant::now() + Duration::from_secs(60);
    for (bucket, key, data) in &objects {
        let resp = loop {
            let r = second.get_object(bucket, key).await;
            if r.status == 200 || Instant::now() > deadline {
                break r;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        resp.expect_status(200, &format!("GET {bucket}/{key} after the restore"));
        assert!(
            resp.body == *data,
            "{bucket}/{key}: {} bytes back, {} written",
            resp.body.len(),
            data.len()
        );
    }
    let quota = cluster.admin_ok(&["quota", "get", "dev", "--bucket", "keep-b"]);
    assert!(quota.contains("77"), "{quota}");
    let out = cluster.admin_ok(&["meta", "verify"]);
    assert!(out.contains("all 1 nodes identical"), "{out}");
    // The new group takes writes.
    s3.put_object("keep-a", "after", b"after the restore".to_vec())
        .await
        .expect_status(200, "PUT after the restore");
    let got = s3.get_object("keep-a", "after").await;
    got.expect_status(200, "GET after the restore");
    assert_eq!(got.body.as_ref(), b"after the restore");

    stop(&mut restored);
    cluster.stop();
}
