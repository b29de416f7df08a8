//! Per-byte cost of every hash on the data path, over one 8 MiB chunk: the MD5 that becomes the
//! ETag (always), BLAKE3 (the chunk hash, computed by the gateway and again by the chunk
//! server), SHA-256 (a signed SigV4 payload, verified by s3s) and the writer's `Digests` with each
//! S3 checksum a client may ask for. Their sum bounds what one core can ingest per second.
//!
//! Run: `cargo bench -p gateway --bench hashing -- --warm-up-time 1 --measurement-time 3`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gateway::objects::{ChecksumAlgo, Digests};
use md5::Digest as _;
use std::hint::black_box;

const CHUNK: usize = 8 << 20;

/// Pseudo-random bytes (xorshift), so no hash sees a trivially regular input.
fn chunk() -> Vec<u8> {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    (0..CHUNK)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn primitives(c: &mut Criterion) {
    let data = chunk();
    let mut group = c.benchmark_group("hash");
    group.throughput(Throughput::Bytes(CHUNK as u64));
    group.sample_size(10);
    group.bench_function("md5", |b| {
        b.iter(|| md5::Md5::digest(black_box(&data)));
    });
    group.bench_function("blake3", |b| {
        b.iter(|| blake3::hash(black_box(&data)));
    });
    group.bench_function("sha256", |b| {
        b.iter(|| sha2::Sha256::digest(black_box(&data)));
    });
    group.finish();
}

fn digests(c: &mut Criterion) {
    let data = chunk();
    let mut group = c.benchmark_group("digests");
    group.throughput(Throughput::Bytes(CHUNK as u64));
    group.sample_size(10);
    let algos = [
        None,
        Some(ChecksumAlgo::Crc32),
        Some(ChecksumAlgo::Crc32c),
        Some(ChecksumAlgo::Crc64Nvme),
        Some(ChecksumAlgo::Sha1),
        Some(ChecksumAlgo::Sha256),
    ];
    for algo in algos {
        let label = algo.map_or("md5 only", ChecksumAlgo::name);
        group.bench_with_input(BenchmarkId::from_parameter(label), &algo, |b, algo| {
            b.iter(|| {
                let mut d = Digests::new(*algo);
                // The writer feeds the body in the pieces hyper hands it (tens of KiB).
                for piece in data.chunks(64 * 1024) {
                    d.update(black_box(piece));
                }
                d.finish()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, primitives, digests);
criterion_main!(benches);
