//! Fixtures shared by the store's unit tests: a store on real LMDB environments in a temporary
//! directory with an account `acct` and one container, and object records whose chunks have
//! one copy on service `svc-a`.

use super::Store;
use crate::config::Config;
use meta_api::wire::{ChunkCopy, ChunkRecord, ContainerSettings, ObjectRecord, UploadRecord};

/// A small configuration (64 MiB maps, 4 open environments, GC entries due at once) with its
/// data in `dir`.
pub fn config(dir: &std::path::Path) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        map_size_mib: 64,
        open_env_cache: 4,
        dead_after_secs: 10,
        gc_grace_secs: 0,
        // The tests' services are admitted as they come.
        lock_new_services: false,
        ..Config::default()
    }
}

/// Opens the store in `dir`; on first open, creates the account `acct` and its `container`.
pub fn store(dir: &std::path::Path, container: &str) -> Store {
    let s = Store::open(&config(dir), "127.0.0.1:6000").unwrap();
    if s.create_account("acct").is_ok() {
        s.create_container("acct", container, &ContainerSettings::default())
            .unwrap();
    }
    s
}

/// A copy of chunk `chunk_id` on service `service`.
pub fn copy(service: &str, chunk_id: &str) -> ChunkCopy {
    ChunkCopy {
        service: service.into(),
        chunk_id: chunk_id.into(),
        fragment: None,
        hash: None,
    }
}

/// Chunk `pos` at `offset`, one copy with chunk id `id`.
pub fn chunk(pos: u32, offset: u64, size: u64, id: &str) -> ChunkRecord {
    ChunkRecord {
        pos,
        offset,
        size,
        hash: "00".repeat(32),
        copies: vec![copy("svc-a", id)],
        ec: None,
        inline: None,
    }
}

/// The `null` version of `key`: `size` bytes in one chunk with id `chunk_id`, mtime 1.
pub fn object(key: &str, size: u64, chunk_id: &str) -> ObjectRecord {
    ObjectRecord {
        key: key.to_string(),
        version_id: "null".into(),
        content_id: crate::ids::new_content_id(),
        size,
        etag: "d41d8cd98f00b204e9800998ecf8427e".into(),
        mtime_ms: 1,
        content_type: None,
        headers: Default::default(),
        user_meta: Default::default(),
        checksums: Default::default(),
        policy: "THREECOPIES".into(),
        parts: vec![],
        chunks: vec![chunk(0, 0, size, chunk_id)],
        delete_marker: false,
        props: Default::default(),
        encryption: None,
    }
}

/// A plain multipart upload `id` of `key` (policy THREECOPIES, no metadata) started at
/// `initiated_ms`.
pub fn upload(id: &str, key: &str, initiated_ms: i64) -> UploadRecord {
    UploadRecord {
        upload_id: id.to_string(),
        key: key.to_string(),
        initiated_ms,
        content_type: None,
        headers: Default::default(),
        user_meta: Default::default(),
        policy: "THREECOPIES".into(),
        checksum_algorithm: None,
        props: Default::default(),
        encryption: None,
    }
}
