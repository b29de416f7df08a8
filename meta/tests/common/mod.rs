//! Shared by meta's integration tests: a real meta server on 127.0.0.1:0 and record builders.
#![allow(dead_code)]

use internal_auth::{Role, Secret, Signer};
use meta::Config;
use meta_api::client::MetaClient;
use meta_api::wire::{ChunkCopy, ChunkRecord, Heartbeat, ObjectRecord, ServiceStats};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct Running {
    /// Signed as an operator (every route but Raft's).
    pub client: MetaClient,
    /// The cluster secret (services sign with it).
    pub cluster: Secret,
    /// The admin secret.
    pub admin: Secret,
    stop: oneshot::Sender<()>,
    task: JoinHandle<meta::Result<()>>,
}

impl Running {
    pub async fn stop(self) {
        drop(self.client);
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

/// Starts meta on a free loopback port with `config` (listen, data_dir and a small map size
/// are filled in) and waits until it answers.
pub async fn start_with(dir: &Path, config: Config) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let config = Config {
        listen: listener.local_addr().unwrap(),
        data_dir: dir.to_path_buf(),
        map_size_mib: 64,
        ..config
    };
    // The secrets live beside the data (the tests' directories are temporary).
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let (cluster, admin) = (
        Secret::load_or_create(&keys.join("cluster.key")).unwrap(),
        Secret::load_or_create(&keys.join("admin.key")).unwrap(),
    );
    let config = Config {
        cluster_key_file: Some(keys.join("cluster.key")),
        admin_key_file: Some(keys.join("admin.key")),
        ..config
    };
    let (stop, rx) = oneshot::channel();
    let task = tokio::spawn(meta::server::serve_with_shutdown(listener, config, async {
        let _ = rx.await;
    }));
    let client = MetaClient::new(&addr).with_signer(Signer::new(Role::Admin, &admin));
    for _ in 0..200 {
        if client.health().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    client.health().await.unwrap();
    Running {
        client,
        cluster,
        admin,
        stop,
        task,
    }
}

pub fn copy(service: &str, id: &str) -> ChunkCopy {
    ChunkCopy {
        service: service.into(),
        chunk_id: id.into(),
        fragment: None,
        hash: None,
    }
}

/// A one-chunk object of `size` bytes whose chunk has `copies`.
pub fn object_with(
    key: &str,
    size: u64,
    copies: Vec<ChunkCopy>,
    headers: BTreeMap<String, String>,
) -> ObjectRecord {
    ObjectRecord {
        key: key.into(),
        version_id: "null".into(),
        content_id: meta::ids::new_content_id(),
        size,
        etag: "0123456789abcdef0123456789abcdef".into(),
        mtime_ms: meta::ids::now_ms(),
        content_type: Some("application/octet-stream".into()),
        headers,
        user_meta: Default::default(),
        checksums: Default::default(),
        policy: "THREECOPIES".into(),
        parts: vec![],
        delete_marker: false,
        props: Default::default(),
        chunks: vec![ChunkRecord {
            pos: 0,
            offset: 0,
            size,
            hash: "ab".repeat(32),
            copies,
            ec: None,
            inline: None,
        }],
        encryption: None,
    }
}

/// A heartbeat of a half-full, idle chunk server.
pub fn heartbeat(id: &str, deleted: Vec<String>) -> Heartbeat {
    Heartbeat {
        id: id.into(),
        kind: "chunkd".into(),
        addr: "127.0.0.1:9".into(),
        location: "local.rack0.host0.vol0".into(),
        slots: vec![],
        stats: ServiceStats {
            free_bytes: 50,
            total_bytes: 100,
            chunk_count: 0,
            io_idle: 1.0,
            cpu_idle: 1.0,
        },
        deleted,
        bad_chunks: Vec::new(),
    }
}
