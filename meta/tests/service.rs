//! End-to-end test of the meta service: a real server on 127.0.0.1:0 driven through
//! `MetaClient`, including a restart on the same data directory.

mod common;

use common::{Running, copy, heartbeat, object_with, start_with};
use internal_auth::{Role, Signer};
use meta::{Config, Error};
use meta_api::client::MetaClient;
use meta_api::wire::{
    ChunkRecord, CompletePart, CompleteRequest, ContainerSettings, ListRequest, ListUploadsRequest,
    ObjectRecord, PartRecord, UploadRecord,
};
use std::path::Path;
use std::time::Duration;

async fn start(dir: &Path, dead_after_secs: u64, cache: usize) -> Running {
    let config = Config {
        dead_after_secs,
        open_env_cache: cache,
        gc_grace_secs: 0,
        lock_new_services: false,
        ..Config::default()
    };
    start_with(dir, config).await
}

fn object(key: &str, size: u64, chunk_id: &str) -> ObjectRecord {
    object_with(
        key,
        size,
        vec![copy("svc-1", chunk_id), copy("svc-2", chunk_id)],
        Default::default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn meta_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(dir.path(), 1, 3).await;
    let c = run.client.clone();

    // Accounts and keys.
    let acct = c.create_account("alice").await.unwrap();
    assert_eq!(acct.name, "alice");
    assert!(matches!(
        c.create_account("alice").await,
        Err(Error::AccountExists(n)) if n == "alice"
    ));
    c.create_account("bob").await.unwrap();
    let k = c.create_key("alice", None, None).await.unwrap();
    assert_eq!(k.access_key.len(), 20);
    assert_eq!(k.secret_key.len(), 40);
    let fixed = c
        .create_key("bob", Some("BOBKEY"), Some("bobsecret"))
        .await
        .unwrap();
    assert_eq!(c.get_key("BOBKEY").await.unwrap(), fixed);
    assert!(matches!(
        c.create_key("bob", Some("BOBKEY"), None).await,
        Err(Error::CredentialExists(_))
    ));
    assert!(matches!(
        c.create_key("nobody", None, None).await,
        Err(Error::NoSuchAccount(_))
    ));
    assert!(matches!(
        c.get_key("MISSING").await,
        Err(Error::NoSuchCredential(_))
    ));
    assert_eq!(c.list_keys().await.unwrap().len(), 2);

    // Containers: names are global.
    let settings = ContainerSettings::default();
    let info = c
        .create_container("alice", "photos", &settings)
        .await
        .unwrap();
    assert_eq!(info.cid.len(), 64);
    match c.create_container("alice", "photos", &settings).await {
        Err(Error::ContainerExists { name, owner }) => {
            assert_eq!((name.as_str(), owner.as_str()), ("photos", "alice"))
        }
        other => panic!("unexpected {other:?}"),
    }
    match c.create_container("bob", "photos", &settings).await {
        Err(Error::ContainerExists { owner, .. }) => assert_eq!(owner, "alice"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        c.get_container("nope").await,
        Err(Error::NoSuchContainer(_))
    ));

    // Objects, with a 1,000-byte key and awkward characters.
    let long_a = format!("deep/{}", "a".repeat(995));
    let long_b = format!("deep/{}b", "a".repeat(994));
    let odd = "we?ird %2F key/with spaces/é".to_string();
    for (i, k) in [
        &long_a,
        &long_b,
        &odd,
        &"x/1".to_string(),
        &"x/2".to_string(),
    ]
    .into_iter()
    .enumerate()
    {
        c.put_object("photos", &object(k, 10 + i as u64, &format!("chunk{i}")))
            .await
            .unwrap();
    }
    assert_eq!(c.get_object("photos", &long_a).await.unwrap().key, long_a);
    assert_eq!(c.get_object("photos", &odd).await.unwrap().size, 12);
    assert!(matches!(
        c.get_object("photos", "missing").await,
        Err(Error::NoSuchObject(_))
    ));
    let info = c.get_container("photos").await.unwrap();
    assert_eq!((info.objects, info.bytes), (5, 10 + 11 + 12 + 13 + 14));

    let all = c
        .list_objects("photos", &ListRequest::default())
        .await
        .unwrap();
    let mut want = vec![
        long_a.clone(),
        long_b.clone(),
        odd.clone(),
        "x/1".into(),
        "x/2".into(),
    ];
    want.sort();
    assert_eq!(
        all.objects
            .iter()
            .map(|o| o.key.clone())
            .collect::<Vec<_>>(),
        want
    );
    let r = c
        .list_objects(
            "photos",
            &ListRequest {
                delimiter: Some("/".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(r.objects.is_empty());
    assert_eq!(r.common_prefixes, vec!["deep/", "we?ird %2F key/", "x/"]);
    let r = c
        .list_objects(
            "photos",
            &ListRequest {
                prefix: "deep/".into(),
                after: Some(long_a.clone()),
                max_keys: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // Both share their first 400 bytes: their order comes from the full keys.
    assert!(long_a < long_b);
    assert_eq!(r.objects.len(), 1);
    assert_eq!(r.objects[0].key, long_b);
    assert!(!r.truncated);
    let r = c
        .list_objects(
            "photos",
            &ListRequest {
                max_keys: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(r.truncated);
    assert_eq!(r.next_after.as_deref(), Some(want[1].as_str()));

    // Overwrite and delete queue the old chunks for their services.
    c.put_object("photos", &object("x/1", 1, "chunk-new"))
        .await
        .unwrap();
    let deleted = c.delete_object("photos", "x/2").await.unwrap().unwrap();
    assert_eq!(deleted.key, "x/2");
    assert!(c.delete_object("photos", "x/2").await.unwrap().is_none());
    c.queue_gc(&[copy("svc-1", "orphan")]).await.unwrap();
    let reply = c.heartbeat(&heartbeat("svc-1", vec![])).await.unwrap();
    let mut got = reply.delete.clone();
    got.sort();
    assert_eq!(got, vec!["chunk3", "chunk4", "orphan"]);
    let reply = c.heartbeat(&heartbeat("svc-1", got)).await.unwrap();
    assert!(reply.delete.is_empty());
    let svc = c.list_services(Some("chunkd")).await.unwrap();
    assert_eq!(svc.len(), 1);
    // Two heartbeats, computed score 100, at most 20 more each time.
    assert_eq!(svc[0].score, 40);

    // Not empty → refused; other owner → no such container.
    assert!(matches!(
        c.delete_container("alice", "photos").await,
        Err(Error::ContainerNotEmpty(_))
    ));

    // Multipart.
    let mp = c.create_container("alice", "mp", &settings).await.unwrap();
    assert_eq!(mp.objects, 0);
    let upload_id = meta::ids::new_upload_id();
    let upload = UploadRecord {
        upload_id: upload_id.clone(),
        key: "big/file".into(),
        initiated_ms: meta::ids::now_ms(),
        content_type: Some("video/mp4".into()),
        headers: Default::default(),
        user_meta: Default::default(),
        policy: "THREECOPIES".into(),
        checksum_algorithm: None,
        props: Default::default(),
        encryption: None,
    };
    c.create_upload("mp", &upload).await.unwrap();
    assert_eq!(c.get_upload("mp", &upload_id).await.unwrap(), upload);
    let mib5 = 5 * 1024 * 1024;
    let part = |n: u32, size: u64| PartRecord {
        part_number: n,
        size,
        etag: format!("{:032x}", n * 7),
        mtime_ms: 0,
        checksums: Default::default(),
        chunks: vec![ChunkRecord {
            pos: 0,
            offset: 0,
            size,
            hash: "cd".repeat(32),
            copies: vec![copy("svc-2", &format!("part{n}"))],
            ec: None,
            inline: None,
        }],
        key: None,
    };
    c.put_part("mp", &upload_id, &part(1, mib5)).await.unwrap();
    c.put_part("mp", &upload_id, &part(2, 3)).await.unwrap();
    c.put_part("mp", &upload_id, &part(3, 4)).await.unwrap();
    assert!(matches!(
        c.put_part("mp", "nope", &part(1, 1)).await,
        Err(Error::NoSuchUpload(_))
    ));
    let parts = c.list_parts("mp", &upload_id, None, 0).await.unwrap();
    assert_eq!(parts.parts.len(), 3);
    let uploads = c
        .list_uploads("mp", &ListUploadsRequest::default())
        .await
        .unwrap();
    assert_eq!(uploads.uploads.len(), 1);
    let cp = |n: u32| CompletePart {
        part_number: n,
        etag: format!("\"{:032x}\"", n * 7),
    };
    let complete = |parts| CompleteRequest {
        parts,
        checksums: Default::default(),
        condition: Default::default(),
    };
    assert!(matches!(
        c.complete_upload("mp", &upload_id, &complete(vec![cp(3), cp(1)]))
            .await,
        Err(Error::InvalidPartOrder)
    ));
    assert!(matches!(
        c.complete_upload("mp", &upload_id, &complete(vec![cp(2), cp(3)]))
            .await,
        Err(Error::EntityTooSmall(2))
    ));
    let mut wrong = cp(1);
    wrong.etag = "ffff".into();
    assert!(matches!(
        c.complete_upload("mp", &upload_id, &complete(vec![wrong]))
            .await,
        Err(Error::InvalidPart(_))
    ));
    let rec = c
        .complete_upload("mp", &upload_id, &complete(vec![cp(1), cp(2)]))
        .await
        .unwrap();
    assert!(rec.etag.ends_with("-2"));
    assert_eq!(rec.etag.len(), 32 + 2);
    assert_eq!(rec.size, mib5 + 3);
    assert_eq!(rec.chunks.len(), 2);
    assert_eq!((rec.chunks[1].pos, rec.chunks[1].offset), (1, mib5));
    assert_eq!(c.get_object("mp", "big/file").await.unwrap(), rec);
    assert!(matches!(
        c.abort_upload("mp", &upload_id).await,
        Err(Error::NoSuchUpload(_))
    ));
    // Part 3 was not used.
    let reply = c.heartbeat(&heartbeat("svc-2", vec![])).await.unwrap();
    assert!(reply.delete.contains(&"part3".to_string()));

    // An aborted upload in an emptied container, then the container is deleted.
    let other = UploadRecord {
        upload_id: meta::ids::new_upload_id(),
        ..upload.clone()
    };
    c.create_upload("mp", &other).await.unwrap();
    c.put_part("mp", &other.upload_id, &part(9, 1))
        .await
        .unwrap();
    c.delete_object("mp", "big/file").await.unwrap();
    assert!(matches!(
        c.delete_container("bob", "mp").await,
        Err(Error::NoSuchContainer(_))
    ));
    c.delete_container("alice", "mp").await.unwrap();
    assert!(matches!(
        c.get_container("mp").await,
        Err(Error::NoSuchContainer(_))
    ));
    let reply = c.heartbeat(&heartbeat("svc-2", vec![])).await.unwrap();
    assert!(reply.delete.contains(&"part9".to_string()));

    // More containers than the env cache holds (3).
    for i in 0..8 {
        let name = format!("many-{i}");
        c.create_container("bob", &name, &settings).await.unwrap();
        c.put_object(&name, &object("k", i, "m")).await.unwrap();
    }
    for i in 0..8 {
        assert_eq!(
            c.get_object(&format!("many-{i}"), "k").await.unwrap().size,
            i
        );
    }
    let bobs = c.list_containers("bob").await.unwrap();
    assert_eq!(bobs.len(), 8);
    assert!(bobs.windows(2).all(|w| w[0].name < w[1].name));
    let accounts = c.list_accounts().await.unwrap();
    let bob = accounts.iter().find(|a| a.name == "bob").unwrap();
    assert_eq!((bob.containers, bob.objects, bob.bytes), (8, 8, 28));

    // Silence → score 0 (dead_after_secs = 1).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut dead = false;
    for _ in 0..50 {
        let svc = c.list_services(None).await.unwrap();
        if svc.iter().all(|s| s.score == 0) {
            dead = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(dead);
    drop(c);

    // Restart on the same directory: everything is still there.
    run.stop().await;
    let run = start(dir.path(), 1, 3).await;
    let c = run.client.clone();
    assert_eq!(c.get_object("photos", &long_a).await.unwrap().key, long_a);
    assert_eq!(c.get_key("BOBKEY").await.unwrap().secret_key, "bobsecret");
    assert_eq!(c.get_container("photos").await.unwrap().objects, 4);
    let svc = c.list_services(None).await.unwrap();
    assert_eq!(svc.len(), 2);
    assert!(svc.iter().all(|s| s.first_seen_ms > 0));
    drop(c);
    run.stop().await;
}

#[tokio::test]
async fn bad_requests_and_unreachable_meta() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(dir.path(), 10, 4).await;
    let addr = run.client.addr().to_string();
    // Raw HTTP: bad JSON is a 400 with an error body, unknown routes are 404.
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let mut req = http::Request::post(format!("http://{addr}/v1/objects/put"))
        .body(http_body_util::Full::new(bytes::Bytes::from_static(
            b"{not json",
        )))
        .unwrap();
    let (method, uri) = (req.method().clone(), req.uri().clone());
    Signer::new(Role::Service, &run.cluster)
        .sign_headers(
            req.headers_mut(),
            &method,
            &uri,
            &internal_auth::content_hash(b"{not json"),
        )
        .unwrap();
    let resp = http.request(req).await.unwrap();
    assert_eq!(resp.status(), 400);
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    let err: meta_api::wire::ErrorBody = serde_json::from_slice(&body).unwrap();
    assert_eq!(err.code, "InvalidArgument");
    let req = http::Request::post(format!("http://{addr}/v1/nope"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    assert_eq!(http.request(req).await.unwrap().status(), 404);
    // Health answers GET too (probes), with the same answer as its POST.
    let req = http::Request::get(format!("http://{addr}/v1/health"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let resp = http.request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(&body[..], br#"{"status":"ok"}"#);
    let req = http::Request::get(format!("http://{addr}/v1/keys/list"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    assert_eq!(http.request(req).await.unwrap().status(), 405);
    run.stop().await;

    let gone = MetaClient::new(&addr);
    assert!(matches!(gone.health().await, Err(Error::Unavailable(_))));
}

const POLICIES: &str = r#"
default = "THREECOPIES"

[storage_classes]
STANDARD = "THREECOPIES"
STANDARD_IA = "EC42"

[policies.THREECOPIES]
kind = "replicate"
copies = 3

[policies.EC42]
kind = "ec"
k = 4
m = 2
"#;

#[tokio::test]
async fn policies_and_container_policy() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(dir.path(), 10, 4).await;
    let c = run.client.clone();
    c.create_account("alice").await.unwrap();
    // Without a policy file, any name is accepted.
    assert_eq!(c.get_policy().await.unwrap(), None);
    let with = |p: &str| ContainerSettings {
        policy: Some(p.into()),
        ..Default::default()
    };
    c.create_container("alice", "early", &with("WHATEVER"))
        .await
        .unwrap();

    // An invalid file is refused with the parser's message and changes nothing.
    let bad = POLICIES.replace("copies = 3", "copise = 3");
    match c.apply_policy(&bad).await {
        Err(Error::InvalidArgument(m)) => assert!(m.contains("copise"), "{m}"),
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
    assert_eq!(c.get_policy().await.unwrap(), None);
    c.apply_policy(POLICIES).await.unwrap();
    assert_eq!(c.get_policy().await.unwrap().as_deref(), Some(POLICIES));

    // Now names are checked, at creation and later.
    match c.create_container("alice", "b1", &with("EC24")).await {
        Err(Error::InvalidArgument(m)) => {
            assert!(m.contains("EC24") && m.contains("EC42"), "{m}")
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
    assert!(matches!(
        c.get_container("b1").await,
        Err(Error::NoSuchContainer(_))
    ));
    let info = c
        .create_container("alice", "b1", &with("EC42"))
        .await
        .unwrap();
    assert_eq!(info.settings.policy.as_deref(), Some("EC42"));
    let info = c
        .set_container_policy("b1", Some("THREECOPIES"))
        .await
        .unwrap();
    assert_eq!(info.settings.policy.as_deref(), Some("THREECOPIES"));
    assert!(matches!(
        c.set_container_policy("b1", Some("NOPE")).await,
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        c.set_container_policy("missing", Some("EC42")).await,
        Err(Error::NoSuchContainer(_))
    ));
    assert_eq!(
        c.get_container("b1")
            .await
            .unwrap()
            .settings
            .policy
            .as_deref(),
        Some("THREECOPIES")
    );
    let info = c.set_container_policy("b1", None).await.unwrap();
    assert_eq!(info.settings.policy, None);
    // A container whose policy vanished from the file keeps its setting.
    assert_eq!(
        c.get_container("early")
            .await
            .unwrap()
            .settings
            .policy
            .as_deref(),
        Some("WHATEVER")
    );
    c.set_container_policy("b1", Some("EC42")).await.unwrap();

    // Everything survives a restart.
    drop(c);
    run.stop().await;
    let run = start(dir.path(), 10, 4).await;
    let c = run.client.clone();
    assert_eq!(c.get_policy().await.unwrap().as_deref(), Some(POLICIES));
    assert_eq!(
        c.get_container("b1")
            .await
            .unwrap()
            .settings
            .policy
            .as_deref(),
        Some("EC42")
    );
    drop(c);
    run.stop().await;
}

#[tokio::test]
async fn locks_and_score_rise_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        lock_new_services: true,
        score_max_rise: 30,
        ..Config::default()
    };
    let run = start_with(dir.path(), config).await;
    let c = run.client.clone();
    let score_of = async |id: &str| {
        let all = c.list_services(None).await.unwrap();
        all.into_iter().find(|s| s.id == id).unwrap()
    };
    c.heartbeat(&heartbeat("svc-a", vec![])).await.unwrap();
    c.heartbeat(&heartbeat("svc-b", vec![])).await.unwrap();
    let a = score_of("svc-a").await;
    assert_eq!((a.locked, a.score), (Some(0), 0));
    let a = c.unlock_service("svc-a").await.unwrap();
    assert_eq!(a.locked, None);
    // Computed score 100: rises by at most 30 per heartbeat.
    let mut seen = vec![];
    for _ in 0..4 {
        c.heartbeat(&heartbeat("svc-a", vec![])).await.unwrap();
        seen.push(score_of("svc-a").await.score);
    }
    assert_eq!(seen, vec![30, 60, 90, 100]);
    let a = c.lock_service("svc-a", 5).await.unwrap();
    assert_eq!((a.locked, a.score), (Some(5), 5));
    c.heartbeat(&heartbeat("svc-a", vec![])).await.unwrap();
    assert_eq!(score_of("svc-a").await.score, 5);
    assert!(matches!(
        c.lock_service("svc-x", 1).await,
        Err(Error::NoSuchService(id)) if id == "svc-x"
    ));
    assert!(matches!(
        c.unlock_service("svc-x").await,
        Err(Error::NoSuchService(_))
    ));
    assert!(matches!(
        c.lock_service("svc-a", 200).await,
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(c.unlock_all().await.unwrap(), 2);
    assert_eq!(c.unlock_all().await.unwrap(), 0);
    c.heartbeat(&heartbeat("svc-a", vec![])).await.unwrap();
    assert_eq!(score_of("svc-a").await.score, 35);
    drop(c);
    run.stop().await;
}

/// A client's container cache: its own changes show at once, another client's once the time
/// to live has passed, and a container deleted elsewhere is not kept.
#[tokio::test]
async fn container_cache_sees_own_changes_at_once_and_others_within_its_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(dir.path(), 30, 8).await;
    let ttl = Duration::from_millis(400);
    let cached = MetaClient::new(run.client.addr())
        .with_signer(Signer::new(Role::Service, &run.cluster))
        .with_container_cache(ttl);
    let other = run.client.clone();
    other.create_account("acct").await.unwrap();
    other
        .create_container("acct", "b", &ContainerSettings::default())
        .await
        .unwrap();
    let prop = |c: &meta_api::wire::ContainerInfo| c.settings.props.location.clone();
    let set = |v: &str| vec![meta_api::settings::SettingChange::Location(Some(v.into()))];

    assert_eq!(prop(&cached.get_container_cached("b").await.unwrap()), None);
    // Another process's change is not seen while the record is fresh...
    other
        .set_container_settings("b", set("other"))
        .await
        .unwrap();
    assert_eq!(prop(&cached.get_container_cached("b").await.unwrap()), None);
    // ...but the uncached lookup and, after the time to live, the cached one see it.
    assert_eq!(
        prop(&cached.get_container("b").await.unwrap()).as_deref(),
        Some("other")
    );
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    assert_eq!(
        prop(&cached.get_container_cached("b").await.unwrap()).as_deref(),
        Some("other")
    );
    // A change through the caching client (or a clone of it) shows at once.
    cached
        .clone()
        .set_container_settings("b", set("mine"))
        .await
        .unwrap();
    assert_eq!(
        prop(&cached.get_container_cached("b").await.unwrap()).as_deref(),
        Some("mine")
    );
    // Deleted elsewhere: the first request that meets NoSuchContainer drops the record.
    other.delete_container("acct", "b").await.unwrap();
    let gone = cached.get_object("b", "x").await.unwrap_err();
    assert!(matches!(gone, Error::NoSuchContainer(_)), "{gone:?}");
    let gone = cached.get_container_cached("b").await.unwrap_err();
    assert!(matches!(gone, Error::NoSuchContainer(_)), "{gone:?}");
    drop((cached, other));
    run.stop().await;
}

/// Every route of the endpoint table (and Raft's) refuses a request that is unsigned, signed
/// with another secret, or signed for another body; the admin routes refuse services (403),
/// the Raft routes everyone but peers; health alone answers without credentials.
#[tokio::test]
async fn every_route_refuses_unsigned_and_wrongly_signed_requests() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(dir.path(), 10, 4).await;
    let addr = run.client.addr().to_string();
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let send = |path: &str, signer: Option<&Signer>, body: &'static [u8], signed: &[u8]| {
        let mut req = http::Request::post(format!("http://{addr}{path}"))
            .body(http_body_util::Full::new(bytes::Bytes::from_static(body)))
            .unwrap();
        if let Some(signer) = signer {
            let (method, uri) = (req.method().clone(), req.uri().clone());
            signer
                .sign_headers(
                    req.headers_mut(),
                    &method,
                    &uri,
                    &internal_auth::content_hash(signed),
                )
                .unwrap();
        }
        let http = http.clone();
        async move {
            let resp = http.request(req).await.unwrap();
            let status = resp.status().as_u16();
            let body = http_body_util::BodyExt::collect(resp.into_body())
                .await
                .unwrap()
                .to_bytes();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };
    let stranger = Signer::new(Role::Service, &internal_auth::Secret::generate());
    let fake_admin = Signer::new(Role::Admin, &internal_auth::Secret::generate());
    let service = Signer::new(Role::Service, &run.cluster);
    let admin = Signer::new(Role::Admin, &run.admin);
    let peer = Signer::new(Role::Peer, &run.admin);
    let raft = ["/v1/raft/append", "/v1/raft/vote", "/v1/raft/snapshot"];
    let mut checked = 0;
    for path in meta_api::api::PATHS.iter().copied().chain(raft) {
        if meta_api::api::OPEN_PATHS.contains(&path) {
            continue;
        }
        let (status, body) = send(path, None, b"{}", b"{}").await;
        assert_eq!(status, 401, "{path} unsigned: {body}");
        assert!(body.contains("Unauthorized"), "{path}: {body}");
        let (status, _) = send(path, Some(&stranger), b"{}", b"{}").await;
        assert_eq!(status, 401, "{path} signed with another cluster secret");
        let (status, _) = send(path, Some(&fake_admin), b"{}", b"{}").await;
        assert_eq!(status, 401, "{path} signed with another admin secret");
        // The right key, a body other than the one signed.
        let right = if path.starts_with("/v1/raft/") {
            &peer
        } else if meta_api::api::admin_only(path) {
            &admin
        } else {
            &service
        };
        let (status, body) = send(path, Some(right), b"{}", b"{\"other\":1}").await;
        assert_eq!(status, 401, "{path} with another body: {body}");
        assert!(body.contains("content hash"), "{path}: {body}");
        if path.starts_with("/v1/raft/") {
            for who in [&service, &admin] {
                let (status, _) = send(path, Some(who), b"{}", b"{}").await;
                assert_eq!(status, 403, "{path} from {:?}", who.role());
            }
        } else if meta_api::api::admin_only(path) {
            let (status, body) = send(path, Some(&service), b"{}", b"{}").await;
            assert_eq!(status, 403, "{path} from a service: {body}");
        }
        checked += 1;
    }
    assert_eq!(checked, meta_api::api::PATHS.len() - 1 + raft.len());
    // Health answers anyone; a signed request reaches its handler (a bad-argument answer,
    // not a refusal).
    assert_eq!(send("/v1/health", None, b"{}", b"{}").await.0, 200);
    // The monitoring routes (GET, unsigned) are none of the API's routes, and take no POST.
    for path in meta::server::MONITOR_PATHS {
        assert!(!meta_api::api::PATHS.contains(path), "{path}");
        assert_eq!(send(path, None, b"{}", b"{}").await.0, 405, "POST {path}");
    }
    let (status, body) = send("/v1/containers/get", Some(&service), b"{}", b"{}").await;
    assert_eq!(status, 400, "{body}");
    // A client with the wrong secret gets the refusal as an error.
    let wrong = MetaClient::new(&addr).with_signer(stranger.clone());
    assert!(matches!(
        wrong.list_services(None).await,
        Err(Error::Unauthorized(_))
    ));
    let as_service = MetaClient::new(&addr).with_signer(service.clone());
    as_service.list_services(None).await.unwrap();
    assert!(matches!(
        as_service.list_keys().await,
        Err(Error::Unauthorized(_))
    ));
    run.stop().await;
}
