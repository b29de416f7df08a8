//! `apply` is deterministic: the same command log applied to two fresh stores — at different
//! times, the second one from the log's encoded form — leaves identical databases (every key
//! and value of every environment) and gives identical answers.

use super::Store;
use super::command::{COMMAND_VERSION, Command, Outcome};
use super::lmdb;
use super::multipart::MIN_PART_SIZE;
use super::sealing::{Reseal, SealTarget, SecretForm};
use super::test_fixtures::{self, chunk, config, copy, object};
use crate::secrets::Sealed;
use meta_api::lock::BucketLock;
use meta_api::settings::{ContainerProps, SettingChange, VersionChange};
use meta_api::wire::{
    CompletePart, CompleteRequest, ContainerSettings, Heartbeat, PartRecord, PutCondition,
    ServiceStats, Versioning,
};
use std::collections::BTreeMap;
use std::path::Path;

const ADDR: &str = "127.0.0.1:6000";

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A sealed secret with a fixed nonce and ciphertext (applying never opens it).
pub(crate) fn sealed(kid: &str, nonce: &str) -> Sealed {
    Sealed {
        v: 1,
        kid: kid.into(),
        nonce: nonce.into(),
        ct: "Y2lwaGVydGV4dGNpcGhlcnRleHQ=".into(),
    }
}

fn access_key(k: &str) -> SealTarget {
    SealTarget::AccessKey {
        access_key: k.into(),
    }
}

fn swift_user(account: &str, user: &str) -> SealTarget {
    SealTarget::SwiftUser {
        account: account.into(),
        user: user.into(),
    }
}

fn reseal(target: SealTarget, from: SecretForm, nonce: &str) -> Reseal {
    Reseal {
        target,
        from,
        to: sealed("k1", nonce),
    }
}

/// A log touching every kind of command, with fixed times and ids.
pub(crate) fn log() -> Vec<Command> {
    let t = 1_700_000_000_000i64;
    let due = 1_700_000_600_000u64;
    let obj = |key: &str, chunk_id: &str, content: &str| {
        let mut o = object(key, 10, chunk_id);
        o.content_id = content.to_string();
        o
    };
    let mut expiring = obj("k", "c1", "content-1");
    expiring.headers = map(&[("x-delete-at", "100")]);
    let part = |n: u32, size: u64, id: &str| PartRecord {
        part_number: n,
        size,
        etag: "0123456789abcdef0123456789abcdef".into(),
        mtime_ms: t,
        checksums: Default::default(),
        chunks: vec![chunk(0, 0, size, id)],
        key: None,
    };
    let upload = |id: &str| test_fixtures::upload(id, "big", t);
    let heartbeat = |deleted: Vec<String>| Heartbeat {
        id: "svc-a".into(),
        kind: "chunkd".into(),
        addr: "127.0.0.1:7001".into(),
        location: "dc.r.h.v".into(),
        slots: vec![],
        stats: ServiceStats {
            free_bytes: 100,
            total_bytes: 200,
            chunk_count: 3,
            io_idle: 1.0,
            cpu_idle: 1.0,
        },
        deleted,
        bad_chunks: vec![],
    };
    let put = |container: &str, record, now_ms| Command::PutObject {
        container: container.into(),
        record: Box::new(record),
        condition: PutCondition::default(),
        now_ms,
        gc_due_ms: due,
        pieces_wanted: 0,
    };
    vec![
        Command::CreateAccount {
            name: "acct".into(),
            created_ms: t,
        },
        Command::CreateKey {
            account: "acct".into(),
            access_key: "AK".into(),
            secret_key: "SK".into(),
            sealed: None,
        },
        Command::UpdateAccountMeta {
            name: "acct".into(),
            set: map(&[("Temp-URL-Key", "x")]),
            remove: vec![],
        },
        Command::ApplyPolicy {
            text: "default = \"THREECOPIES\"\n[policies.THREECOPIES]\nkind = \"replicate\"\ncopies = 3\n".into(),
        },
        Command::CreateContainer {
            account: "acct".into(),
            name: "photos".into(),
            settings: Box::default(),
            meta2: vec![ADDR.into()],
            created_ms: t,
        },
        Command::CreateContainer {
            account: "acct".into(),
            name: "docs".into(),
            settings: Box::new(ContainerSettings {
                policy: Some("THREECOPIES".into()),
                props: ContainerProps {
                    object_lock: Some(BucketLock {
                        mode: Some("GOVERNANCE".into()),
                        days: Some(1),
                        years: None,
                    }),
                    ..Default::default()
                },
            }),
            meta2: vec![ADDR.into()],
            created_ms: t + 1,
        },
        Command::SetVersioning {
            name: "docs".into(),
            state: Versioning::Enabled,
            now_ms: t + 2,
        },
        put("photos", expiring, t + 3),
        put("photos", obj("k2", "c2", "content-2"), t + 4),
        // Replaces k2: its chunk goes to GC.
        put("photos", obj("k2", "c3", "content-3"), t + 5),
        put("docs", obj("doc", "d1", "content-4"), t + 6),
        put("docs", obj("doc", "d2", "content-5"), t + 7),
        Command::DeleteVersion {
            container: "docs".into(),
            key: "doc".into(),
            version_id: None,
            bypass_governance: false,
            now_ms: t + 8,
            gc_due_ms: due,
        },
        Command::UpdateObjectProps {
            container: "photos".into(),
            key: "k2".into(),
            version_id: None,
            set: map(&[("tags", r#"{"a":"b"}"#)]),
            remove: vec![],
            bypass_governance: false,
            now_ms: t + 9,
        },
        Command::ChangeObjectProps {
            container: "photos".into(),
            key: "k2".into(),
            version_id: None,
            changes: vec![
                VersionChange::LegalHold(true),
                VersionChange::Tags(map(&[("c", "d")])),
                VersionChange::LegalHold(false),
            ],
            bypass_governance: false,
            now_ms: t + 9,
        },
        Command::AbandonWrite {
            container: "photos".into(),
            key: "lost".into(),
            content_id: "content-6".into(),
            chunks: vec![copy("svc-a", "c4")],
            now_ms: t + 10,
            gc_due_ms: due,
        },
        Command::CreateUpload {
            container: "photos".into(),
            record: Box::new(upload("up1")),
        },
        Command::PutPart {
            container: "photos".into(),
            upload_id: "up1".into(),
            part: part(1, MIN_PART_SIZE, "p1"),
            gc_due_ms: due,
            pieces_wanted: 0,
            now_ms: t,
        },
        // Replaces part 1: its chunk goes to GC.
        Command::PutPart {
            container: "photos".into(),
            upload_id: "up1".into(),
            part: part(1, MIN_PART_SIZE, "p1b"),
            gc_due_ms: due,
            pieces_wanted: 3,
            now_ms: t,
        },
        Command::PutPart {
            container: "photos".into(),
            upload_id: "up1".into(),
            part: part(2, 7, "p2"),
            gc_due_ms: due,
            pieces_wanted: 0,
            now_ms: t,
        },
        Command::CompleteUpload {
            container: "photos".into(),
            upload_id: "up1".into(),
            request: CompleteRequest {
                parts: [1, 2]
                    .map(|n| CompletePart {
                        part_number: n,
                        etag: "0123456789abcdef0123456789abcdef".into(),
                    })
                    .to_vec(),
                checksums: Default::default(),
                condition: PutCondition::default(),
            },
            content_id: "content-7".into(),
            now_ms: t + 11,
            gc_due_ms: due,
        },
        Command::CreateUpload {
            container: "photos".into(),
            record: Box::new(upload("up2")),
        },
        Command::AbortUpload {
            container: "photos".into(),
            upload_id: "up2".into(),
            gc_due_ms: due,
        },
        Command::QueueGc {
            chunks: vec![copy("svc-a", "orphan")],
            due_ms: 0,
        },
        Command::Heartbeat {
            heartbeat: heartbeat(vec![]),
            now_ms: t + 12,
            computed_score: 80,
            lock_if_new: false,
            dead_after_ms: 10_000,
            max_rise: 20,
            merge_short: false,
        },
        Command::Heartbeat {
            heartbeat: heartbeat(vec!["orphan".into()]),
            now_ms: t + 13,
            computed_score: 90,
            lock_if_new: false,
            dead_after_ms: 10_000,
            max_rise: 20,
            merge_short: true,
        },
        Command::LockService {
            id: "svc-a".into(),
            score: 5,
        },
        Command::UnlockService { id: "svc-a".into() },
        Command::LockService {
            id: "svc-a".into(),
            score: 0,
        },
        Command::UnlockAll,
        Command::CreateSwiftUser {
            account: "acct".into(),
            user: "admin".into(),
            key: "swk".into(),
            admin: true,
            sealed: None,
        },
        // Sealed secrets (version 3): a key and a user created sealed, then the plaintext
        // ones sealed in place; a reseal of a form the record no longer holds changes nothing.
        Command::CreateKey {
            account: "acct".into(),
            access_key: "AK2".into(),
            secret_key: String::new(),
            sealed: Some(sealed("k1", "AAAAAAAAAAAAAAAA")),
        },
        Command::CreateSwiftUser {
            account: "acct".into(),
            user: "sealed".into(),
            key: String::new(),
            admin: false,
            sealed: Some(sealed("k1", "AAAAAAAAAAAAAAAB")),
        },
        Command::SealSecrets {
            items: vec![
                reseal(access_key("AK"), SecretForm::Plain, "AAAAAAAAAAAAAAAC"),
                reseal(swift_user("acct", "admin"), SecretForm::Plain, "AAAAAAAAAAAAAAAD"),
                reseal(
                    access_key("AK2"),
                    SecretForm::Sealed {
                        kid: "k0".into(),
                        nonce: "AAAAAAAAAAAAAAAA".into(),
                    },
                    "AAAAAAAAAAAAAAAE",
                ),
                reseal(access_key("NOSUCHKEY"), SecretForm::Plain, "AAAAAAAAAAAAAAAF"),
            ],
        },
        Command::CreateToken {
            account: "acct".into(),
            user: "admin".into(),
            token: "AUTH_tk00".into(),
            expires_ms: t + 14,
        },
        Command::CreateToken {
            account: "acct".into(),
            user: "admin".into(),
            token: "AUTH_tk01".into(),
            expires_ms: t + 1_000_000,
        },
        Command::PurgeTokens { now_ms: t + 15 },
        Command::Expire {
            container: "photos".into(),
            cid: super::containers::container_id("acct", "photos"),
            key: "k".into(),
            at: 100,
            gc_due_ms: due,
        },
        Command::SetContainerPolicy {
            name: "photos".into(),
            policy: Some("THREECOPIES".into()),
        },
        Command::UpdateContainerProperties {
            name: "photos".into(),
            set: map(&[("s3:cors", "<CORSConfiguration/>"), ("meta:a", "1")]),
            remove: vec![],
        },
        Command::SetContainerSettings {
            name: "photos".into(),
            changes: vec![
                SettingChange::Tags(Some(map(&[("team", "blue")]))),
                SettingChange::SwiftMeta {
                    set: map(&[("b", "2")]),
                    remove: vec!["a".into()],
                },
                SettingChange::Cors(None),
            ],
        },
        Command::CreateContainer {
            account: "acct".into(),
            name: "gone".into(),
            settings: Box::default(),
            meta2: vec![ADDR.into()],
            created_ms: t + 16,
        },
        Command::DeleteContainer {
            account: "acct".into(),
            name: "gone".into(),
            gc_due_ms: due,
        },
        // Self-healing: a short write, a lost server, claims, a repair and a failure.
        Command::PutObject {
            container: "photos".into(),
            record: Box::new(obj("short", "c10", "content-10")),
            condition: PutCondition::default(),
            now_ms: t + 18,
            gc_due_ms: due,
            pieces_wanted: 2,
        },
        Command::MarkLost {
            service: "svc-a".into(),
            reason: "operator".into(),
            now_ms: t + 19,
            counted_by_page: true,
        },
        Command::QueueRebuild {
            service: "svc-a".into(),
            max: 2,
            now_ms: t + 20,
            merge_short: true,
        },
        Command::QueueRebuild {
            service: "svc-a".into(),
            max: 1000,
            now_ms: t + 21,
            merge_short: true,
        },
        Command::ClaimRepairs {
            worker: "w".into(),
            max: 3,
            now_ms: t + 22,
            lease_ms: 60_000,
        },
        Command::RepairDone {
            container: "photos".into(),
            key: "k2".into(),
            upload: None,
            replaced: vec![meta_api::wire::ReplacedCopy {
                old: copy("svc-a", "c3"),
                new: copy("svc-b", "n3"),
            }],
            dropped: vec![],
            added: vec![],
            now_ms: t + 23,
            gc_due_ms: due,
        },
        Command::RepairFailed {
            service: "svc-a".into(),
            chunk_id: "c10".into(),
            error: "no room".into(),
            now_ms: t + 24,
            retry_at_ms: Some(t + 30_000),
        },
        // Quotas: the account's counter and a container's quota; deletes.
        Command::SetQuota {
            account: "acct".into(),
            container: None,
            max_bytes: Some(100_000_000),
            max_objects: None,
        },
        Command::SetQuota {
            account: "acct".into(),
            container: Some("photos".into()),
            max_bytes: None,
            max_objects: Some(100),
        },
        put("photos", obj("q1", "c20", "content-20"), t + 25),
        Command::CreateAccount {
            name: "tmp".into(),
            created_ms: t + 26,
        },
        Command::CreateKey {
            account: "tmp".into(),
            access_key: "AKTMP".into(),
            secret_key: "secret-tmp".into(),
            sealed: None,
        },
        Command::CreateKey {
            account: "tmp".into(),
            access_key: "AKTMP2".into(),
            secret_key: "secret-tmp2".into(),
            sealed: None,
        },
        Command::CreateSwiftUser {
            account: "tmp".into(),
            user: "u".into(),
            key: "k".into(),
            admin: true,
            sealed: None,
        },
        Command::CreateSwiftUser {
            account: "tmp".into(),
            user: "v".into(),
            key: "k".into(),
            admin: false,
            sealed: None,
        },
        Command::DeleteKey {
            access_key: "AKTMP2".into(),
        },
        Command::DeleteSwiftUser {
            account: "tmp".into(),
            user: "v".into(),
        },
        Command::DeleteAccount { name: "tmp".into() },
        // A write under a request id, and the same request again (its answer was lost): the
        // second is answered from the first, not applied.
        Command::Once {
            request: super::dedupe::RequestTag {
                id: "rid-a".into(),
                now_ms: t + 28,
            },
            command: Box::new(put("photos", obj("once", "c30", "content-30"), t + 28)),
        },
        Command::Once {
            request: super::dedupe::RequestTag {
                id: "rid-a".into(),
                now_ms: t + 29,
            },
            command: Box::new(put("photos", obj("once", "c30", "content-31"), t + 29)),
        },
        Command::SetQuota {
            account: "acct".into(),
            container: Some("photos".into()),
            max_bytes: Some(1),
            max_objects: None,
        },
        // The SSE-KMS key store: created, given material twice (the first stays), disabled.
        Command::CreateKmsKey {
            name: "testkey-1".into(),
            created_ms: t + 30,
        },
        Command::SetKmsKeyMaterial {
            name: "testkey-1".into(),
            material: meta_api::encryption::KmsMaterial {
                master_key_id: "m1".into(),
                wrapped: vec![1; 60],
            },
        },
        Command::SetKmsKeyMaterial {
            name: "testkey-1".into(),
            material: meta_api::encryption::KmsMaterial {
                master_key_id: "m1".into(),
                wrapped: vec![2; 60],
            },
        },
        Command::SetKmsKeyEnabled {
            name: "testkey-1".into(),
            enabled: false,
        },
        // Refused, deterministically: the container does not exist any more; a quota.
        put("gone", obj("x", "c9", "content-9"), t + 17),
        put("photos", obj("q2", "c21", "content-21"), t + 27),
    ]
}

/// Entries of each database, by environment and database name.
pub(crate) type Dump = BTreeMap<String, Vec<(Vec<u8>, Vec<u8>)>>;

/// Every key and value of every database of every environment under `dir`, by environment
/// (relative path) and database name.
pub(crate) fn dump(dir: &Path) -> Dump {
    let mut out = BTreeMap::new();
    let mut envs = vec![dir.join("directory")];
    for group in std::fs::read_dir(dir.join("meta2")).unwrap() {
        for env in std::fs::read_dir(group.unwrap().path()).unwrap() {
            envs.push(env.unwrap().path());
        }
    }
    for path in envs {
        let env = lmdb::open_env(&path, 64 << 20, 24).unwrap();
        let rel = path.strip_prefix(dir).unwrap().display().to_string();
        lmdb::for_each_entry(&env, |name, k, v| {
            out.entry(format!("{rel}/{name}"))
                .or_insert_with(Vec::new)
                .push((k.to_vec(), v.to_vec()));
            Ok(())
        })
        .unwrap();
        drop(env);
        lmdb::wait_closed(&path);
    }
    out
}

fn run(dir: &Path, log: Vec<Command>) -> Vec<Result<Outcome, String>> {
    let s = Store::open(&config(dir), ADDR).unwrap();
    let outcomes = log
        .into_iter()
        .map(|c| s.apply(c).map_err(|e| e.to_string()))
        .collect();
    drop(s);
    outcomes
}

#[test]
fn the_same_log_leaves_two_stores_identical() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = run(a.path(), log());
    // The second store gets the log as the Raft log writes it down, a little later.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let written: Vec<Vec<u8>> = log()
        .into_iter()
        .map(|command| {
            serde_json::to_vec(&crate::raft::Proposal {
                v: COMMAND_VERSION,
                commands: vec![command],
            })
            .unwrap()
        })
        .collect();
    let read: Vec<Command> = written
        .iter()
        .flat_map(|b| {
            serde_json::from_slice::<crate::raft::Proposal>(b)
                .unwrap()
                .commands
        })
        .collect();
    assert_eq!(read, log(), "the log survives its encoding");
    let second = run(b.path(), read);
    assert_eq!(first, second);
    // The log did real work: two refusals at the end, successes before them.
    let (done, refused) = first.split_at(first.len() - 2);
    assert!(refused.iter().all(Result::is_err), "{refused:?}");
    assert!(
        refused[1]
            .as_ref()
            .is_err_and(|e| e.contains("quota exceeded")),
        "{refused:?}"
    );
    assert!(done.iter().all(Result::is_ok), "{first:?}");
    let once: Vec<_> = log()
        .iter()
        .zip(&first)
        .filter(|(c, _)| matches!(c, Command::Once { .. }))
        .map(|(_, r)| r.clone())
        .collect();
    assert_eq!(once.len(), 2);
    assert_eq!(
        once[0], once[1],
        "a repeated request id gets the first answer"
    );
    let (da, db) = (dump(a.path()), dump(b.path()));
    assert!(da["directory/gc"].len() >= 4, "{:?}", da["directory/gc"]);
    assert_eq!(da.len(), db.len());
    for (name, entries) in &da {
        assert_eq!(Some(entries), db.get(name), "{name} differs");
    }
}

/// A `CreateContainer` written to the Raft log before settings were typed (command version 5
/// and older: the settings a map of strings) still applies, with its settings typed.
#[test]
fn a_container_created_by_an_old_command_keeps_its_settings() {
    let old = r#"{"op":"create_container","account":"acct","name":"old","settings":{"policy":null,"properties":{"object-lock":"{\"mode\":\"COMPLIANCE\",\"years\":1}","read-acl":".r:*","s3:tagging":"{\"k\":\"v\"}"}},"meta2":["127.0.0.1:1"],"created_ms":5}"#;
    let command: Command = serde_json::from_str(old).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&config(dir.path()), ADDR).unwrap();
    s.apply(Command::CreateAccount {
        name: "acct".into(),
        created_ms: 1,
    })
    .unwrap();
    s.apply(command).unwrap();
    let props = s.get_container("old").unwrap().settings.props;
    let lock = props.object_lock.unwrap();
    assert_eq!(
        (lock.mode.as_deref(), lock.years),
        (Some("COMPLIANCE"), Some(1))
    );
    assert_eq!(props.swift.read_acl.as_deref(), Some(".r:*"));
    assert_eq!(props.tags, Some(map(&[("k", "v")])));
}
