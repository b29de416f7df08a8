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
    assert!(COMMAND_VERSION >= 11);
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
