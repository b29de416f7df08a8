//! Secrets at rest on a real meta node (Raft log, state, snapshots): with a master key a
//! created secret is in no file of the node, in plaintext or otherwise findable, while the
//! gateway's reads still get it; a node upgraded from plaintext seals its secrets at startup.

mod common;

use common::{Running, start_with};
use meta::Config;
use meta::store::Store;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SECRET: &str = "s3cret-RAFT-never-in-a-file-0123456789";
const SWIFT_KEY: &str = "swift-key-RAFT-never-in-a-file";
const MASTER: &str = "main-1 5b1e0c7a9d3f2e4b6a8c0d1f3e5a7b9c1d3f5e7a9b1c3d5f7e9a1b3c5d7f9e1a\n";

async fn start(dir: &Path, master_key_file: Option<PathBuf>) -> Running {
    let config = Config {
        master_key_file,
        // A snapshot every few entries, so that the files hold one.
        raft_snapshot_logs: 4,
        expirer_interval_secs: 0,
        rebuild_check_secs: 0,
        lifecycle_interval_secs: 0,
        ..Config::default()
    };
    start_with(dir, config).await
}

/// Every file under `root`, recursively.
fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn contains(bytes: &[u8], needle: &[u8]) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle)
}

/// The files under `root` whose bytes contain `needle` (a file removed since it was listed,
/// such as a snapshot's staging copy, holds nothing).
fn holding(root: &Path, needle: &str) -> Vec<PathBuf> {
    files(root)
        .into_iter()
        .filter(|p| std::fs::read(p).is_ok_and(|b| contains(&b, needle.as_bytes())))
        .collect()
}

/// Creates account `acct`, access key `AK` and Swift user `acct:bob`, checks what reads
/// answer, then writes until the node holds a snapshot. Answers the Raft log's file as it was
/// before the snapshot (which purges the entries).
async fn populate(m: &Running, dir: &Path) -> Vec<u8> {
    let c = &m.client;
    c.create_account("acct").await.unwrap();
    let k = c
        .create_key("acct", Some("AK"), Some(SECRET))
        .await
        .unwrap();
    assert_eq!(k.secret_key, SECRET);
    c.create_swift_user("acct", "bob", SWIFT_KEY, false)
        .await
        .unwrap();
    assert_eq!(c.get_key("AK").await.unwrap().secret_key, SECRET);
    assert_eq!(
        c.get_swift_user("acct", "bob").await.unwrap().key,
        SWIFT_KEY
    );
    let listed = c.list_keys().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].secret_key, "", "a listing carries no secret");
    let log = std::fs::read(dir.join("raft").join("data.mdb")).unwrap();
    // The first snapshot finished after now may have copied the state before the writes
    // above; the second one began after it finished, so it holds them.
    let mut seen = vec![snapshot(dir)];
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut n = 0;
    while seen.len() < 3 {
        assert!(Instant::now() < deadline, "no snapshot was taken");
        c.create_account(&format!("filler-{n}")).await.unwrap();
        n += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = snapshot(dir);
        if now.is_some() && !seen.contains(&now) {
            seen.push(now);
        }
    }
    log
}

/// The name of the node's snapshot file, if it has one.
fn snapshot(dir: &Path) -> Option<String> {
    std::fs::read_dir(dir.join("snapshots"))
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|name| name.ends_with(".tar") && !name.starts_with("recv-"))
}

fn master_key_file(dir: &Path) -> PathBuf {
    let p = dir.join("master.key");
    std::fs::write(&p, MASTER).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_a_master_key_no_file_of_the_node_holds_a_secret() {
    let keys = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let m = start(dir.path(), Some(master_key_file(keys.path()))).await;
    let log = populate(&m, dir.path()).await;
    m.stop().await;
    // The log's commands carry the sealed forms.
    assert!(contains(&log, br#""kid":"main-1""#));
    assert!(!contains(&log, SECRET.as_bytes()) && !contains(&log, SWIFT_KEY.as_bytes()));
    let all = files(dir.path());
    assert!(all.iter().any(|p| p.ends_with("raft/data.mdb")), "{all:?}");
    assert!(snapshot(dir.path()).is_some());
    for secret in [SECRET, SWIFT_KEY] {
        assert_eq!(
            holding(dir.path(), secret),
            Vec::<PathBuf>::new(),
            "{secret}"
        );
    }
    // The snapshot's records hold the sealed forms.
    assert!(!holding(&dir.path().join("snapshots"), "main-1").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_master_key_the_files_hold_the_secrets_in_plaintext() {
    // The control of the test above: the same search finds the secrets in the log and in the
    // snapshot of a node without a master key.
    let dir = tempfile::tempdir().unwrap();
    let m = start(dir.path(), None).await;
    let log = populate(&m, dir.path()).await;
    m.stop().await;
    assert!(contains(&log, SECRET.as_bytes()) && contains(&log, SWIFT_KEY.as_bytes()));
    assert!(!holding(&dir.path().join("snapshots"), SECRET).is_empty());
    assert!(!holding(&dir.path().join("snapshots"), SWIFT_KEY).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_upgraded_to_a_master_key_seals_its_plaintext_secrets_at_startup() {
    let keys = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let m = start(dir.path(), None).await;
    populate(&m, dir.path()).await;
    m.stop().await;
    let key_file = master_key_file(keys.path());
    let m = start(dir.path(), Some(key_file.clone())).await;
    // The leader's sealing pass proposes its command at startup.
    let log = dir.path().join("raft").join("data.mdb");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !contains(&std::fs::read(&log).unwrap(), b"seal_secrets") {
        assert!(Instant::now() < deadline, "no sealing command in the log");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A write proposed now is applied after it.
    m.client.create_account("after").await.unwrap();
    assert_eq!(m.client.get_key("AK").await.unwrap().secret_key, SECRET);
    assert_eq!(
        m.client.get_swift_user("acct", "bob").await.unwrap().key,
        SWIFT_KEY
    );
    m.stop().await;
    // The state holds sealed secrets only: a copy of it (as a snapshot or a backup takes)
    // has no plaintext, and without the key the secrets do not open.
    let base = Config {
        data_dir: dir.path().to_path_buf(),
        map_size_mib: 64,
        ..Config::default()
    };
    let sealed = Store::open(
        &Config {
            master_key_file: Some(key_file),
            ..base.clone()
        },
        "127.0.0.1:1",
    )
    .unwrap();
    assert_eq!(sealed.get_key("AK").unwrap().secret_key, SECRET);
    let copy = keys.path().join("copy");
    sealed.copy_to(&copy).unwrap();
    drop(sealed);
    for secret in [SECRET, SWIFT_KEY] {
        assert_eq!(holding(&copy, secret), Vec::<PathBuf>::new(), "{secret}");
    }
    meta::store::lmdb::wait_closed(&dir.path().join("directory"));
    let keyless = Store::open(&base, "127.0.0.1:1").unwrap();
    let e = keyless.get_key("AK").unwrap_err().to_string();
    assert!(e.contains("main-1"), "{e}");
}
