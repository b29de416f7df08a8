//! Secrets at rest, on real LMDB environments: new secrets are sealed before they become
//! commands and never reach the files in plaintext; plaintext stores from before keep working
//! and a sealing pass seals them in place; a rotated key still opens what the old one sealed;
//! an altered record or a missing key is a clear error, never a panic.

use super::command::{Command, Outcome};
use super::command_tests::dump;
use super::records::{CredentialV2, SecretV1, SwiftUserV2, decode_record, encode_record};
use super::sealing::{Reseal, SealTarget, SecretForm};
use super::test_fixtures::config;
use super::{Store, Submit};
use crate::config::Config;
use meta_api::error::Error;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

const ADDR: &str = "127.0.0.1:6000";
const K1: &str = "k1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
const K2: &str = "k2 ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n";
const SECRET: &str = "s3cret-ZQXJ-never-in-a-file-0123456789";
const SWIFT_KEY: &str = "swift-key-WVUT-never-in-a-file";

/// Writes `lines` as the master key file `name` in `dir`.
fn key_file(dir: &Path, name: &str, lines: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, lines).unwrap();
    p
}

/// The store in `dir/data` with the master key file `keys` (or none).
fn open(dir: &Path, keys: Option<&Path>) -> Store {
    let c = Config {
        master_key_file: keys.map(Path::to_path_buf),
        ..config(&dir.join("data"))
    };
    Store::open(&c, ADDR).unwrap()
}

/// Opens the store, creating account `acct`, the access key `AK` with [`SECRET`] and the Swift
/// user `acct:bob` with [`SWIFT_KEY`].
fn populated(dir: &Path, keys: Option<&Path>) -> Store {
    let s = open(dir, keys);
    s.create_account("acct").unwrap();
    let c = s.create_key("acct", Some("AK"), Some(SECRET)).unwrap();
    assert_eq!(c.secret_key, SECRET, "the creator gets the secret back");
    let u = s.create_swift_user("acct", "bob", SWIFT_KEY, true).unwrap();
    assert_eq!(u.key, SWIFT_KEY);
    s
}

fn close(s: Store, dir: &Path) {
    drop(s);
    super::lmdb::wait_closed(&dir.join("data").join("directory"));
}

/// Every file under `root`, recursively.
fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The files under `root` whose bytes contain `needle`.
fn holding(root: &Path, needle: &str) -> Vec<PathBuf> {
    files(root)
        .into_iter()
        .filter(|p| {
            let bytes = std::fs::read(p).unwrap();
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
        .collect()
}

/// True when some key or value of some database holds `needle`.
fn in_dump(dir: &Path, needle: &str) -> bool {
    std::fs::create_dir_all(dir.join("data").join("meta2")).unwrap();
    dump(&dir.join("data")).values().flatten().any(|(k, v)| {
        [k, v]
            .iter()
            .any(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
    })
}

fn credential(s: &Store) -> CredentialV2 {
    let txn = s.dir.env.read_txn().unwrap();
    decode_record(s.dir.credentials.get(&txn, b"AK").unwrap().unwrap()).unwrap()
}

fn swift_user(s: &Store) -> SwiftUserV2 {
    let txn = s.dir.env.read_txn().unwrap();
    let k = super::swift::user_key("acct", "bob");
    decode_record(s.dir.swift_users.get(&txn, &k).unwrap().unwrap()).unwrap()
}

fn kid(secret: &SecretV1) -> Option<&str> {
    match secret {
        SecretV1::Plain(_) => None,
        SecretV1::Sealed(s) => Some(&s.kid),
    }
}

#[test]
fn new_secrets_are_sealed_before_they_become_commands_and_never_reach_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let keys = key_file(dir.path(), "master.key", K1);
    let s = open(dir.path(), Some(&keys));
    // Every command this store prepares goes through `submit`, as to a Raft log: written
    // down (encoded), then applied to a second store, as a follower would.
    let follower_dir = tempfile::tempdir().unwrap();
    let follower = Arc::new(open(follower_dir.path(), None));
    let written: Arc<Mutex<Vec<u8>>> = Arc::default();
    let submit: Submit = {
        let (written, follower) = (written.clone(), follower.clone());
        Arc::new(move |c: Command| {
            let bytes = serde_json::to_vec(&c).unwrap();
            written.lock().unwrap().extend_from_slice(&bytes);
            follower.apply(serde_json::from_slice(&bytes).unwrap())
        })
    };
    let cell = Arc::new(OnceLock::new());
    assert!(cell.set(submit).is_ok());
    s.route_commands(cell).unwrap();
    s.create_account("acct").unwrap();
    let c = s.create_key("acct", Some("AK"), Some(SECRET)).unwrap();
    assert_eq!(c.secret_key, SECRET);
    let random = s.create_key("acct", None, None).unwrap();
    assert_eq!(random.secret_key.len(), 40);
    s.create_swift_user("acct", "bob", SWIFT_KEY, false)
        .unwrap();
    let log = String::from_utf8(written.lock().unwrap().clone()).unwrap();
    for secret in [SECRET, random.secret_key.as_str(), SWIFT_KEY] {
        assert!(!log.contains(secret), "the commands hold {secret}: {log}");
    }
    assert!(log.contains(r#""kid":"k1""#), "{log}");
    // The follower applied the sealed commands; it answers reads with the master key only.
    assert!(matches!(
        follower.get_key("AK"),
        Err(Error::Internal(m)) if m.contains("\"k1\"") && m.contains("no master_key_file")
    ));
    drop(s);
    let follower = Arc::try_unwrap(follower).ok().unwrap();
    close(follower, follower_dir.path());
    // The follower's files, read with the key: every secret opens.
    let f = open(follower_dir.path(), Some(&keys));
    assert_eq!(f.get_key("AK").unwrap().secret_key, SECRET);
    assert_eq!(
        f.get_key(&random.access_key).unwrap().secret_key,
        random.secret_key
    );
    assert_eq!(f.get_swift_user("acct", "bob").unwrap().key, SWIFT_KEY);
    // Listings carry no secret.
    let listed = f.list_keys().unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|c| c.secret_key.is_empty()), "{listed:?}");
    // A snapshot's copy of the environments holds no plaintext either.
    let snap = follower_dir.path().join("snap");
    f.copy_to(&snap).unwrap();
    close(f, follower_dir.path());
    for secret in [SECRET, random.secret_key.as_str(), SWIFT_KEY] {
        assert_eq!(holding(follower_dir.path(), secret), Vec::<PathBuf>::new());
    }
    assert!(
        !holding(&snap, "k1").is_empty(),
        "the copy holds the sealed records"
    );
}

#[test]
fn without_a_master_key_secrets_are_stored_in_plaintext_as_before() {
    // The control of the test above: the same search finds a plaintext secret.
    let dir = tempfile::tempdir().unwrap();
    let s = populated(dir.path(), None);
    assert_eq!(credential(&s).secret, SecretV1::Plain(SECRET.into()));
    assert_eq!(s.get_key("AK").unwrap().secret_key, SECRET);
    assert_eq!(s.seal_secrets().unwrap(), Default::default());
    close(s, dir.path());
    assert!(!holding(dir.path(), SECRET).is_empty());
    assert!(!holding(dir.path(), SWIFT_KEY).is_empty());
}

#[test]
fn a_plaintext_store_opens_with_a_master_key_and_is_sealed_in_place() {
    let dir = tempfile::tempdir().unwrap();
    close(populated(dir.path(), None), dir.path());
    let keys = key_file(dir.path(), "master.key", K1);
    let s = open(dir.path(), Some(&keys));
    // Before the pass: the plaintext records are served as they are.
    assert_eq!(s.get_key("AK").unwrap().secret_key, SECRET);
    assert_eq!(s.get_swift_user("acct", "bob").unwrap().key, SWIFT_KEY);
    let pass = s.seal_secrets().unwrap();
    assert_eq!((pass.sealed, pass.resealed), (2, 0));
    assert!(pass.missing_keys.is_empty() && pass.broken.is_empty());
    assert_eq!(kid(&credential(&s).secret), Some("k1"));
    assert_eq!(kid(&swift_user(&s).key), Some("k1"));
    assert_eq!(s.get_key("AK").unwrap().secret_key, SECRET);
    assert_eq!(s.get_swift_user("acct", "bob").unwrap().key, SWIFT_KEY);
    // A second pass has nothing left to do.
    assert_eq!(s.seal_secrets().unwrap(), Default::default());
    // No record holds the plaintext any more, nor a snapshot copy (compacted: freed pages of
    // the live file may keep old bytes until reused, see docs/operations.md).
    let snap = dir.path().join("snap");
    s.copy_to(&snap).unwrap();
    close(s, dir.path());
    assert!(!in_dump(dir.path(), SECRET) && !in_dump(dir.path(), SWIFT_KEY));
    assert!(holding(&snap, SECRET).is_empty() && holding(&snap, SWIFT_KEY).is_empty());
    // Tokens still issue for the sealed user (applying reads no secret).
    let s = open(dir.path(), Some(&keys));
    assert!(s.create_token("acct", "bob", 60).unwrap().admin);
}

#[test]
fn a_rotated_key_opens_the_old_secrets_and_the_pass_reseals_them() {
    let dir = tempfile::tempdir().unwrap();
    let k1 = key_file(dir.path(), "k1.key", K1);
    close(populated(dir.path(), Some(&k1)), dir.path());
    // Step 1 of a rotation: the new key added as a second line, on every node.
    let both_old_first = key_file(dir.path(), "both1.key", &format!("{K1}{K2}"));
    let s = open(dir.path(), Some(&both_old_first));
    assert_eq!(
        s.seal_secrets().unwrap(),
        Default::default(),
        "k1 is current"
    );
    close(s, dir.path());
    // Step 2: the new key first. Old secrets still open; the pass reseals them.
    let rotated = key_file(dir.path(), "both2.key", &format!("{K2}{K1}"));
    let s = open(dir.path(), Some(&rotated));
    assert_eq!(s.get_key("AK").unwrap().secret_key, SECRET);
    s.create_key("acct", Some("AKNEW"), Some("new-secret"))
        .unwrap();
    let pass = s.seal_secrets().unwrap();
    assert_eq!((pass.sealed, pass.resealed), (0, 2));
    assert_eq!(kid(&credential(&s).secret), Some("k2"));
    assert_eq!(kid(&swift_user(&s).key), Some("k2"));
    close(s, dir.path());
    // Step 3: the old key removed; everything opens with the new one alone.
    let k2 = key_file(dir.path(), "k2.key", K2);
    let s = open(dir.path(), Some(&k2));
    assert_eq!(s.get_key("AK").unwrap().secret_key, SECRET);
    assert_eq!(s.get_key("AKNEW").unwrap().secret_key, "new-secret");
    assert_eq!(s.get_swift_user("acct", "bob").unwrap().key, SWIFT_KEY);
    close(s, dir.path());
    // A node with only the old key: a clear error naming the key id it lacks.
    let s = open(dir.path(), Some(&k1));
    let e = s.get_key("AK").unwrap_err();
    assert!(
        matches!(&e, Error::Internal(m) if m.contains("\"k2\"") && m.contains("access key AK")),
        "{e}"
    );
    let e = s.get_swift_user("acct", "bob").unwrap_err();
    assert!(
        matches!(&e, Error::Internal(m) if m.contains("\"k2\"") && m.contains("acct:bob")),
        "{e}"
    );
    // Its pass leaves what it cannot open alone, and says under which key.
    let pass = s.seal_secrets().unwrap();
    assert_eq!(pass.missing_keys.get("k2"), Some(&3));
    assert_eq!(pass.sealed + pass.resealed, 0);
}

#[test]
fn a_sealed_secret_without_the_master_key_is_an_internal_error() {
    let dir = tempfile::tempdir().unwrap();
    let k1 = key_file(dir.path(), "k1.key", K1);
    close(populated(dir.path(), Some(&k1)), dir.path());
    let s = open(dir.path(), None);
    for e in [
        s.get_key("AK").unwrap_err(),
        s.get_swift_user("acct", "bob").unwrap_err(),
    ] {
        assert!(
            matches!(&e, Error::Internal(m) if m.contains("\"k1\"") && m.contains("master_key_file")),
            "{e}"
        );
    }
    // What needs no secret still works.
    assert_eq!(s.list_keys().unwrap().len(), 1);
    assert!(matches!(s.get_key("NOPE"), Err(Error::NoSuchCredential(_))));
}

#[test]
fn an_altered_or_moved_ciphertext_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let k1 = key_file(dir.path(), "k1.key", K1);
    let s = populated(dir.path(), Some(&k1));
    s.create_key("acct", Some("AK2"), Some("other-secret"))
        .unwrap();
    let put = |key: &[u8], rec: &CredentialV2| {
        let mut txn = s.dir.env.write_txn().unwrap();
        s.dir
            .credentials
            .put(&mut txn, key, &encode_record(rec).unwrap())
            .unwrap();
        txn.commit().unwrap();
    };
    // AK's ciphertext moved to AK2: the associated data (access key, account) differs.
    let original = credential(&s);
    let mut moved = original.clone();
    moved.access_key = "AK2".into();
    put(b"AK2", &moved);
    let e = s.get_key("AK2").unwrap_err();
    assert!(
        matches!(&e, Error::Internal(m) if m.contains("access key AK2") && m.contains("does not open")),
        "{e}"
    );
    // AK handed to another account: its ciphertext does not open for it.
    let mut stolen = original.clone();
    stolen.account = "thief".into();
    put(b"AK", &stolen);
    assert!(matches!(s.get_key("AK"), Err(Error::Internal(_))));
    // One ciphertext byte flipped.
    let mut altered = original.clone();
    if let SecretV1::Sealed(sealed) = &mut altered.secret {
        let mut c: Vec<char> = sealed.ct.chars().collect();
        c[0] = if c[0] == 'A' { 'B' } else { 'A' };
        sealed.ct = c.into_iter().collect();
    }
    put(b"AK", &altered);
    assert!(matches!(s.get_key("AK"), Err(Error::Internal(m)) if m.contains("does not open")));
    // A pass reports them and carries on.
    let pass = s.seal_secrets().unwrap();
    assert_eq!(pass.sealed + pass.resealed, 0);
    // Restored, it opens again.
    put(b"AK", &original);
    assert_eq!(s.get_key("AK").unwrap().secret_key, SECRET);
}

#[test]
fn a_reseal_applies_only_to_the_form_it_was_read_from() {
    let dir = tempfile::tempdir().unwrap();
    let s = populated(dir.path(), None);
    let keys = crate::secrets::MasterKeys::parse(K1).unwrap();
    let subject = crate::secrets::Subject::AccessKey {
        access_key: "AK",
        account: "acct",
    };
    let to = keys.seal(subject, SECRET).unwrap();
    let item = |from: SecretForm| Reseal {
        target: SealTarget::AccessKey {
            access_key: "AK".into(),
        },
        from,
        to: to.clone(),
    };
    let stale = SecretForm::Sealed {
        kid: "k0".into(),
        nonce: to.nonce.clone(),
    };
    let seal = |items| s.apply(Command::SealSecrets { items }).unwrap();
    assert_eq!(seal(vec![item(stale)]), Outcome::Count(0));
    assert_eq!(credential(&s).secret, SecretV1::Plain(SECRET.into()));
    assert_eq!(seal(vec![item(SecretForm::Plain)]), Outcome::Count(1));
    assert_eq!(
        seal(vec![item(SecretForm::Plain)]),
        Outcome::Count(0),
        "once"
    );
    assert_eq!(credential(&s).secret, SecretV1::Sealed(to.clone()));
    // A malformed sealed secret is refused whole.
    let mut bad = item(SecretForm::Plain);
    bad.to.nonce = "short".into();
    assert!(matches!(
        s.apply(Command::SealSecrets { items: vec![bad] }),
        Err(Error::InvalidArgument(_))
    ));
    // As is a command carrying a secret both sealed and in plaintext.
    let both = Command::CreateKey {
        account: "acct".into(),
        access_key: "AK3".into(),
        secret_key: "plain".into(),
        sealed: Some(to),
    };
    assert!(matches!(s.apply(both), Err(Error::InvalidArgument(_))));
}

#[test]
fn sealed_creation_commands_are_version_3() {
    let sealed = super::command_tests::sealed("k1", "AAAAAAAAAAAAAAAA");
    let key = |sealed| Command::CreateKey {
        account: "a".into(),
        access_key: "AK".into(),
        secret_key: String::new(),
        sealed,
    };
    assert_eq!(key(None).version(), 1);
    assert_eq!(key(Some(sealed.clone())).version(), 3);
    assert_eq!(Command::SealSecrets { items: vec![] }.version(), 3);
    // A version-1 command written before `sealed` existed still reads.
    let old: Command = serde_json::from_str(
        r#"{"op":"create_key","account":"a","access_key":"AK","secret_key":"SK"}"#,
    )
    .unwrap();
    assert_eq!(
        old,
        Command::CreateKey {
            account: "a".into(),
            access_key: "AK".into(),
            secret_key: "SK".into(),
            sealed: None,
        }
    );
    let old: Command = serde_json::from_str(
        r#"{"op":"create_swift_user","account":"a","user":"u","key":"k","admin":false}"#,
    )
    .unwrap();
    assert!(matches!(old, Command::CreateSwiftUser { sealed: None, .. }));
}

#[test]
fn ownership_setting_commands_are_version_7() {
    // An older node cannot read the change: it must refuse the command, not drop it.
    let set = |change| Command::SetContainerSettings {
        name: "b".into(),
        changes: vec![change],
    };
    let ownership = meta_api::settings::ObjectOwnership::BucketOwnerEnforced;
    assert_eq!(
        set(meta_api::settings::SettingChange::Ownership(Some(
            ownership
        )))
        .version(),
        7
    );
    assert_eq!(
        set(meta_api::settings::SettingChange::Ownership(None)).version(),
        7
    );
    assert_eq!(
        set(meta_api::settings::SettingChange::Policy(None)).version(),
        6
    );
}

#[test]
fn encryption_commands_are_version_8() {
    // An older node would drop the encryption parameters: it must refuse these commands.
    use meta_api::settings::{DefaultEncryption, SettingChange};
    let set = |change| Command::SetContainerSettings {
        name: "b".into(),
        changes: vec![change],
    };
    let default = DefaultEncryption {
        algorithm: "AES256".into(),
        kms_key_id: None,
        bucket_key: false,
    };
    assert_eq!(set(SettingChange::Encryption(Some(default))).version(), 9);
    assert_eq!(set(SettingChange::Encryption(None)).version(), 9);
    let mut rec = super::test_fixtures::object("k", 3, "c1");
    let put = |rec: &meta_api::wire::ObjectRecord| Command::PutObject {
        container: "b".into(),
        record: Box::new(rec.clone()),
        condition: Default::default(),
        now_ms: 1,
        gc_due_ms: 2,
        pieces_wanted: 0,
    };
    assert_eq!(put(&rec).version(), 1);
    rec.encryption = Some(meta_api::encryption::Encryption {
        format: meta_api::encryption::FORMAT,
        mode: meta_api::encryption::SseMode::ClusterKey,
        segment_size: 65536,
        keys: vec![],
        kms_key_id: None,
        kms_context: None,
    });
    assert_eq!(put(&rec).version(), 9);
}
