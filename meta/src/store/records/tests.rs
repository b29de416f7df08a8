use super::*;
use meta_api::settings::VersionProps;
use meta_api::wire::{ChunkCopy, ChunkRecord, EcLayout, ObjectRecord};

fn object() -> ObjectRecord {
    ObjectRecord {
        key: "dir/ключ 😀".into(),
        version_id: "null".into(),
        content_id: "c0".into(),
        size: 5,
        etag: "e".into(),
        mtime_ms: 7,
        content_type: Some("text/plain".into()),
        headers: [("cache-control".to_string(), "no".to_string())].into(),
        user_meta: [("a".to_string(), "b".to_string())].into(),
        checksums: Default::default(),
        policy: "EC".into(),
        parts: vec![2, 3],
        chunks: vec![
            ChunkRecord {
                pos: 0,
                offset: 0,
                size: 5,
                hash: "h".into(),
                copies: vec![ChunkCopy {
                    service: "s1".into(),
                    chunk_id: "c1".into(),
                    fragment: Some(1),
                    hash: Some("fh".into()),
                }],
                ec: Some(EcLayout {
                    k: 2,
                    m: 1,
                    fragment_size: 3,
                }),
                inline: None,
            },
            ChunkRecord {
                pos: 1,
                offset: 5,
                size: 3,
                hash: "h2".into(),
                copies: vec![],
                ec: None,
                inline: Some(vec![0, 1, 255]),
            },
        ],
        delete_marker: false,
        props: VersionProps {
            tags: [("t".to_string(), "1".to_string())].into(),
            legal_hold: true,
            ..Default::default()
        },
        encryption: None,
    }
}

#[test]
fn a_value_comes_back_as_it_was_stored_with_its_version() {
    let rec = object();
    let bytes = encode(&rec).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.starts_with(r#"{"v":2,"#), "{text}");
    assert_eq!(decode::<ObjectRecord>(&bytes).unwrap(), rec);
}

/// An object version stored at version 1 held its properties as a map of strings (tags and
/// ACL as JSON inside strings, the retention as two entries): it reads back typed, and an
/// entry no typed property takes is kept.
#[test]
fn a_version_1_object_reads_with_typed_properties() {
    let old = br#"{"v":1,"key":"k","version_id":"null","content_id":"c","size":0,"etag":"e","mtime_ms":1,"content_type":null,"policy":"P","chunks":[],"props":{"tags":"{\"t\":\"1\"}","s3.acl":"{\"owner\":\"a\",\"grants\":[]}","lock-mode":"GOVERNANCE","lock-until-ms":"99","legal-hold":"ON","x-odd":"kept"}}"#;
    let rec: ObjectRecord = decode(old).unwrap();
    assert_eq!(rec.props.tags["t"], "1");
    assert_eq!(rec.props.acl.as_ref().unwrap().owner, "a");
    let r = rec.props.retention.as_ref().unwrap();
    assert_eq!((r.mode.as_str(), r.until_ms), ("GOVERNANCE", 99));
    assert!(rec.props.legal_hold);
    assert_eq!(rec.props.other["x-odd"], "kept");
    let text = String::from_utf8(encode(&rec).unwrap()).unwrap();
    assert!(text.starts_with(r#"{"v":2,"#), "{text}");
    assert_eq!(decode::<ObjectRecord>(text.as_bytes()).unwrap(), rec);
}

#[test]
fn records_written_before_versions_read_as_version_1() {
    // A credential exactly as an older binary wrote it: no `v`, the secret in plaintext. It
    // reads as version 1 and is upgraded to version 2 in memory.
    let old = br#"{"access_key":"AK","secret_key":"SK","account":"acct"}"#;
    let cred: CredentialV2 = decode_record(old).unwrap();
    assert_eq!(
        (cred.access_key.as_str(), cred.account.as_str()),
        ("AK", "acct")
    );
    assert_eq!(cred.secret, SecretV1::Plain("SK".into()));
    let text = String::from_utf8(encode_record(&cred).unwrap()).unwrap();
    assert!(text.starts_with(r#"{"v":2,"#), "{text}");
    assert!(text.contains(r#""secret":{"plain":"SK"}"#), "{text}");
    // And a version-1 Swift user.
    let old = br#"{"v":1,"account":"acct","user":"bob","key":"k","admin":true}"#;
    let user: SwiftUserV2 = decode_record(old).unwrap();
    assert_eq!((user.key, user.admin), (SecretV1::Plain("k".into()), true));
}

#[test]
fn a_sealed_secret_is_stored_as_its_ciphertext_and_debug_hides_plaintext() {
    let sealed = crate::secrets::Sealed {
        v: 1,
        kid: "k1".into(),
        nonce: "AAAAAAAAAAAAAAAA".into(),
        ct: "Y2lwaGVydGV4dGNpcGhlcnRleHQ=".into(),
    };
    let rec = CredentialV2 {
        v: 2,
        access_key: "AK".into(),
        account: "acct".into(),
        secret: SecretV1::Sealed(sealed.clone()),
    };
    let bytes = encode_record(&rec).unwrap();
    let back: CredentialV2 = decode_record(&bytes).unwrap();
    assert_eq!(back.secret, SecretV1::Sealed(sealed));
    let plain = CredentialV2 {
        secret: SecretV1::Plain("hunter2".into()),
        ..rec
    };
    assert!(!format!("{plain:?}").contains("hunter2"));
}

#[test]
fn a_newer_record_is_refused_naming_both_versions() {
    let newer = br#"{"v":9,"access_key":"AK","secret_key":"SK","account":"acct","extra":[1]}"#;
    let e = decode_record::<CredentialV2>(newer)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("credential") && e.contains('9') && e.contains('2'),
        "{e}"
    );
    // Even when it would parse as the current version.
    let newer = br#"{"v":3,"access_key":"AK","account":"acct","secret":{"plain":"SK"}}"#;
    assert!(decode_record::<CredentialV2>(newer).is_err());
    // A version-2 record that does not parse is corrupt, not upgraded.
    let bad = br#"{"v":2,"access_key":"AK","secret_key":"SK","account":"acct"}"#;
    let e = decode_record::<CredentialV2>(bad).unwrap_err().to_string();
    assert!(e.contains("corrupt credential"), "{e}");
}

#[test]
fn garbage_is_a_corrupt_record_not_a_panic() {
    for bad in [&b""[..], b"{", b"[1,2]", b"{\"v\":\"x\"}", b"{\"v\":1}"] {
        let e = decode::<ObjectRecord>(bad).unwrap_err().to_string();
        assert!(e.contains("object"), "{e}");
    }
}

/// A lost record as a binary before command version 10 wrote it (totals counted at once):
/// it still opens, as version 1 with final totals, and is written back as version 1.
#[test]
fn a_version_1_lost_record_opens_with_final_totals() {
    use super::repair::LostRecord;
    let old = br#"{"v":1,"reason":"dead","since_ms":5,"total_chunks":3,"total_bytes":30,"done_chunks":1,"done_bytes":10,"last_done_ms":7,"cursor":"c2","queued_all":false}"#;
    let rec: LostRecord = decode_record(old).unwrap();
    assert_eq!(
        (rec.v, rec.total_chunks, rec.total_bytes, rec.done_chunks),
        (1, 3, 30, 1)
    );
    assert!(!rec.counted_by_page() && !rec.counting());
    // Every copy is in its totals, also those after the cursor.
    assert!(rec.counts("c1") && rec.counts("c9"));
    assert_eq!(encode_record(&rec).unwrap(), old.to_vec());
    // Before records carried versions (no `v`, no `last_done_ms`).
    let older = br#"{"reason":"operator","since_ms":5,"total_chunks":0,"total_bytes":0,"done_chunks":0,"done_bytes":0,"queued_all":true}"#;
    let rec: LostRecord = decode_record(older).unwrap();
    assert_eq!(
        (rec.v, rec.reason.as_str(), rec.last_done_ms),
        (1, "operator", 0)
    );
    // A version-2 record counts page by page: only the copies up to its cursor are counted,
    // and its totals are final once every page is queued.
    let mut rec = LostRecord {
        v: 2,
        cursor: Some("c2".into()),
        ..rec
    };
    rec.queued_all = false;
    assert!(rec.counting() && rec.counts("c1") && rec.counts("c2") && !rec.counts("c3"));
    rec.queued_all = true;
    assert!(!rec.counting());
    let back: LostRecord = decode_record(&encode_record(&rec).unwrap()).unwrap();
    assert_eq!(back, rec);
    // Newer than this binary: refused.
    let newer = br#"{"v":3,"reason":"dead","since_ms":5,"total_chunks":3,"total_bytes":30,"done_chunks":1,"done_bytes":10,"queued_all":false}"#;
    let e = decode_record::<LostRecord>(newer).unwrap_err().to_string();
    assert!(e.contains("lost") && e.contains('3'), "{e}");
    let e = decode_record::<LostRecord>(br#"{"v":1}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("corrupt lost record"), "{e}");
}
