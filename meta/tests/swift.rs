//! The Swift state of meta over HTTP: users, tokens, account metadata, container properties
//! through `MetaClient`, and the expirer task of a real server deleting a due object and
//! handing its chunks to the chunk server's heartbeat.

mod common;

use common::{Running, copy, heartbeat, object_with, start_with};
use meta::{Config, Error};
use meta_api::settings::SettingChange;
use meta_api::wire::{ContainerSettings, ObjectRecord};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

async fn start(dir: &Path, expirer_interval_secs: u64) -> Running {
    let config = Config {
        expirer_interval_secs,
        // Garbage is handed out at once, so that tests can see it.
        gc_grace_secs: 0,
        lock_new_services: false,
        ..Config::default()
    };
    start_with(dir, config).await
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn object(key: &str, chunk_id: &str, headers: BTreeMap<String, String>) -> ObjectRecord {
    object_with(key, 5, vec![copy("svc-x", chunk_id)], headers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn swift_users_tokens_and_metadata_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let m = start(dir.path(), 0).await;
    let c = &m.client;
    assert!(matches!(
        c.create_swift_user("acct", "bob", "k", false).await,
        Err(Error::NoSuchAccount(_))
    ));
    c.create_account("acct").await.unwrap();
    let u = c.create_swift_user("acct", "bob", "k", true).await.unwrap();
    assert!(u.admin);
    assert!(matches!(
        c.create_swift_user("acct", "bob", "k2", false).await,
        Err(Error::CredentialExists(_))
    ));
    assert_eq!(c.get_swift_user("acct", "bob").await.unwrap(), u);
    assert!(matches!(
        c.get_swift_user("acct", "eve").await,
        Err(Error::NoSuchCredential(_))
    ));

    let t = c.create_token("acct", "bob", 3600).await.unwrap();
    assert!(t.token.starts_with("AUTH_tk") && t.token.len() == 7 + 32);
    assert_eq!(c.get_token(&t.token).await.unwrap(), t);
    assert!(matches!(
        c.get_token("AUTH_tk0000").await,
        Err(Error::NoSuchCredential(_))
    ));
    assert!(matches!(
        c.create_token("acct", "eve", 60).await,
        Err(Error::NoSuchCredential(_))
    ));
    let short = c.create_token("acct", "bob", 1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(matches!(
        c.get_token(&short.token).await,
        Err(Error::NoSuchCredential(_))
    ));

    let a = c
        .update_account_meta("acct", &map(&[("Temp-URL-Key", "abc")]), &[])
        .await
        .unwrap();
    assert_eq!(a.meta, map(&[("temp-url-key", "abc")]));
    c.create_container("acct", "cont", &ContainerSettings::default())
        .await
        .unwrap();
    c.put_object("cont", &object("k", "chunk-1", BTreeMap::new()))
        .await
        .unwrap();
    let a = c.get_account("acct").await.unwrap();
    assert_eq!((a.containers, a.objects, a.bytes), (1, 1, 5));
    assert_eq!(a.meta, map(&[("temp-url-key", "abc")]));
    let a = c
        .update_account_meta("acct", &BTreeMap::new(), &["temp-url-key".into()])
        .await
        .unwrap();
    assert!(a.meta.is_empty());
    assert!(matches!(
        c.get_account("nope").await,
        Err(Error::NoSuchAccount(_))
    ));

    let ci = c
        .set_container_settings(
            "cont",
            vec![SettingChange::SwiftWriteAcl(Some("acct:bob".into()))],
        )
        .await
        .unwrap();
    assert_eq!(
        ci.settings.props.swift.write_acl.as_deref(),
        Some("acct:bob")
    );
    assert_eq!(
        c.get_container("cont").await.unwrap().settings.props,
        ci.settings.props
    );
    assert!(matches!(
        c.set_container_settings("nope", vec![]).await,
        Err(Error::NoSuchContainer(_))
    ));
    m.stop().await;

    // Everything survives a restart.
    let m = start(dir.path(), 0).await;
    assert_eq!(m.client.get_token(&t.token).await.unwrap(), t);
    assert_eq!(
        m.client
            .get_container("cont")
            .await
            .unwrap()
            .settings
            .props
            .swift
            .write_acl
            .as_deref(),
        Some("acct:bob")
    );
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expirer_task_deletes_due_objects() {
    let dir = tempfile::tempdir().unwrap();
    let m = start(dir.path(), 1).await;
    let c = &m.client;
    c.create_account("acct").await.unwrap();
    c.create_container("acct", "cont", &ContainerSettings::default())
        .await
        .unwrap();
    c.heartbeat(&heartbeat("svc-x", vec![])).await.unwrap();
    let now = meta::ids::now_ms() / 1000;
    let past = map(&[("x-delete-at", &(now - 10).to_string())]);
    let future = map(&[("x-delete-at", &(now + 3600).to_string())]);
    c.put_object("cont", &object("due", "chunk-due", past))
        .await
        .unwrap();
    c.put_object("cont", &object("later", "chunk-later", future))
        .await
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match c.get_object("cont", "due").await {
            Err(Error::NoSuchObject(_)) => break,
            Ok(_) => {}
            Err(e) => panic!("unexpected {e}"),
        }
        assert!(Instant::now() < deadline, "the due object was not expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.get_object("cont", "later").await.unwrap();
    let info = c.get_container("cont").await.unwrap();
    assert_eq!((info.objects, info.bytes), (1, 5));
    let reply = c.heartbeat(&heartbeat("svc-x", vec![])).await.unwrap();
    assert_eq!(reply.delete, vec!["chunk-due".to_string()]);
    m.stop().await;
}
