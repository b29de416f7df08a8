//! Spread's conformance tests: real processes on loopback ports, driven by real clients.
//!
//! - [`cluster`] starts `spread dev` in a temporary directory and controls its processes
//!   (kill a chunk server, stop, restart, `spread admin`).
//! - [`s3`] is a small SigV4-signing S3 client that returns raw statuses, headers and bodies.
//! - [`swift`] is a small Swift client (auth v1 token) that does the same; [`monitor`] GETs
//!   the processes' `/metrics`, `/health` and `/ready` and parses Prometheus text.
//! - [`proxy`] is a TCP proxy a test can cut and restore (network partitions between meta
//!   nodes); [`history`] checks a history of concurrent register operations for
//!   linearizability; [`workload`] runs the S3 loads fault tests check (a PUT load, register
//!   clients whose histories [`history`] checks).
//!
//! The tests live in `tests/`; the real-client scripts (aws-cli, s3cmd, rclone, boto3) in
//! `scripts/clients/`, and `scripts/test.sh` runs everything.

pub mod cluster;
pub mod history;
pub mod monitor;
pub mod proxy;
pub mod s3;
pub mod swift;
pub mod workload;

use md5::{Digest, Md5};
use rand::{RngCore, SeedableRng};

/// `len` pseudo-random bytes from `seed` (incompressible, reproducible).
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut v = vec![0u8; len];
    rng.fill_bytes(&mut v);
    v
}

/// Lowercase hex MD5 of `data`.
pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Sha256;
    hex::encode(<Sha256 as sha2::Digest>::digest(data))
}
