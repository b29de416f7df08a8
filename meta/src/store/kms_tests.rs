//! The SSE-KMS key store, on real LMDB environments.

use super::test_fixtures;
use super::*;
use meta_api::encryption::KmsMaterial;

fn material(tag: u8) -> KmsMaterial {
    KmsMaterial {
        master_key_id: "m1".into(),
        wrapped: vec![tag; 60],
    }
}

#[test]
fn keys_are_created_enabled_and_keep_their_first_material() {
    let dir = tempfile::tempdir().unwrap();
    let s = test_fixtures::store(dir.path(), "one");
    let k = s.create_kms_key("testkey-1").unwrap();
    assert!(k.enabled && k.material.is_none());
    assert!(matches!(
        s.create_kms_key("testkey-1"),
        Err(meta_api::Error::InvalidArgument(m)) if m.contains("already exists")
    ));
    assert!(s.create_kms_key("no spaces").is_err());
    assert_eq!(s.get_kms_key("absent").unwrap(), None);
    assert!(s.set_kms_key_enabled("absent", false).is_err());
    assert!(s.set_kms_key_material("absent", material(1)).is_err());
    // The first material stays: a second gateway racing gets the first one's back.
    let first = s.set_kms_key_material("testkey-1", material(1)).unwrap();
    assert_eq!(first.material, Some(material(1)));
    let second = s.set_kms_key_material("testkey-1", material(2)).unwrap();
    assert_eq!(second.material, Some(material(1)));
    let off = s.set_kms_key_enabled("testkey-1", false).unwrap();
    assert!(!off.enabled);
    assert_eq!(off.material, Some(material(1)));
    s.create_kms_key("alias/b").unwrap();
    let names: Vec<String> = s
        .list_kms_keys()
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(names, ["alias/b", "testkey-1"]);
    // Reopened: the state is on disk.
    drop(s);
    let s = test_fixtures::store(dir.path(), "one");
    let k = s.get_kms_key("testkey-1").unwrap().unwrap();
    assert!(!k.enabled);
    assert_eq!(k.material, Some(material(1)));
}

#[test]
fn key_store_commands_are_version_11() {
    let c = Command::CreateKmsKey {
        name: "k".into(),
        created_ms: 1,
    };
    assert_eq!(c.version(), 11);
    let m = Command::SetKmsKeyMaterial {
        name: "k".into(),
        material: material(1),
    };
    assert_eq!(m.version(), 11);
    let e = Command::SetKmsKeyEnabled {
        name: "k".into(),
        enabled: false,
    };
    assert_eq!(e.version(), 11);
    const { assert!(COMMAND_VERSION >= 11) };
    // Objects, uploads and parts under a KMS key, and an aws:kms bucket default, too: an
    // older node cannot read them.
    let mut rec = test_fixtures::object("k", 3, "c1");
    rec.encryption = Some(meta_api::encryption::Encryption {
        format: meta_api::encryption::FORMAT,
        mode: meta_api::encryption::SseMode::KmsKey,
        segment_size: 65536,
        keys: vec![meta_api::encryption::DataKey::Kms {
            key_id: "k".into(),
            wrapped: vec![1],
        }],
        kms_key_id: Some("k".into()),
        kms_context: None,
    });
    let put = Command::PutObject {
        container: "c".into(),
        record: Box::new(rec.clone()),
        condition: Default::default(),
        now_ms: 1,
        gc_due_ms: 1,
        pieces_wanted: 0,
    };
    assert_eq!(put.version(), 11);
    rec.encryption = None;
    let plain = Command::PutObject {
        container: "c".into(),
        record: Box::new(rec),
        condition: Default::default(),
        now_ms: 1,
        gc_due_ms: 1,
        pieces_wanted: 0,
    };
    assert!(plain.version() < 9);
    let default = meta_api::settings::DefaultEncryption {
        algorithm: "aws:kms".into(),
        kms_key_id: Some("k".into()),
        bucket_key: false,
    };
    let set = Command::SetContainerSettings {
        name: "c".into(),
        changes: vec![meta_api::settings::SettingChange::Encryption(Some(default))],
    };
    assert_eq!(set.version(), 11);
}

#[test]
fn an_encryption_context_is_version_13_and_kept_with_the_object() {
    let dir = tempfile::tempdir().unwrap();
    let s = test_fixtures::store(dir.path(), "c");
    let mut rec = test_fixtures::object("k", 3, "c1");
    let context = meta_api::encryption::KmsContext::from([
        ("app".to_string(), "spread".to_string()),
        ("team".to_string(), "blue".to_string()),
    ]);
    rec.encryption = Some(meta_api::encryption::Encryption {
        format: meta_api::encryption::FORMAT,
        mode: meta_api::encryption::SseMode::KmsKey,
        segment_size: 65536,
        keys: vec![meta_api::encryption::DataKey::Kms {
            key_id: "k".into(),
            wrapped: vec![1],
        }],
        kms_key_id: Some("k".into()),
        kms_context: Some(context.clone()),
    });
    let put = |rec: &meta_api::wire::ObjectRecord| Command::PutObject {
        container: "c".into(),
        record: Box::new(rec.clone()),
        condition: Default::default(),
        now_ms: 1,
        gc_due_ms: 1,
        pieces_wanted: 0,
    };
    assert_eq!(put(&rec).version(), 13);
    assert_eq!(COMMAND_VERSION, 13);
    let mut upload = test_fixtures::upload("u1", "k", 1);
    upload.encryption = rec.encryption.clone();
    let create = Command::CreateUpload {
        container: "c".into(),
        record: Box::new(upload),
    };
    assert_eq!(create.version(), 13);
    // Without a context, an SSE-KMS write stays version 11 (older nodes take it).
    let mut plain = rec.clone();
    if let Some(e) = plain.encryption.as_mut() {
        e.kms_context = None;
    }
    assert_eq!(put(&plain).version(), 11);
    s.put_object("c", &rec).unwrap();
    let got = s.get_object("c", "k").unwrap();
    assert_eq!(got.encryption.and_then(|e| e.kms_context), Some(context));
}
