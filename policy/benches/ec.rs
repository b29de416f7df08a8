//! Erasure-coding throughput: `reed-solomon-erasure` (SIMD feature) against `reed-solomon-simd`,
//! encoding an 8 MiB metachunk and reconstructing it with two data fragments missing, for 4+2,
//! 6+3 and 8+4. Throughput is counted in metachunk bytes (8 MiB per iteration).
//!
//! Run: `cargo bench -p policy --bench ec -- --warm-up-time 1 --measurement-time 3`

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use reed_solomon_erasure::galois_8::ReedSolomon;
use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};

const METACHUNK: usize = 8 << 20;
const LAYOUTS: [(usize, usize); 3] = [(4, 2), (6, 3), (8, 4)];

/// `k` data shards cut from one pseudo-random metachunk, padded to an even shard size (the
/// `reed-solomon-simd` requirement) so both libraries work on identical input.
fn data_shards(k: usize) -> Vec<Vec<u8>> {
    let shard = METACHUNK.div_ceil(k).next_multiple_of(2);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..k)
        .map(|_| {
            (0..shard)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect()
        })
        .collect()
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Bytes(METACHUNK as u64));
    group.sample_size(10);
    for (k, m) in LAYOUTS {
        let data = data_shards(k);
        let shard = data[0].len();
        let label = format!("{k}+{m}");

        let rse = ReedSolomon::new(k, m).unwrap();
        let mut parity = vec![vec![0u8; shard]; m];
        group.bench_function(BenchmarkId::new("reed-solomon-erasure", &label), |b| {
            b.iter(|| rse.encode_sep(&data, &mut parity).unwrap())
        });

        let mut encoder = ReedSolomonEncoder::new(k, m, shard).unwrap();
        group.bench_function(BenchmarkId::new("reed-solomon-simd", &label), |b| {
            b.iter(|| {
                encoder.reset(k, m, shard).unwrap();
                for d in &data {
                    encoder.add_original_shard(d).unwrap();
                }
                let result = encoder.encode().unwrap();
                result.recovery_iter().map(|r| r.len()).sum::<usize>()
            })
        });
        group.bench_function(BenchmarkId::new("reed-solomon-simd-fresh", &label), |b| {
            b.iter(|| {
                let mut encoder = ReedSolomonEncoder::new(k, m, shard).unwrap();
                for d in &data {
                    encoder.add_original_shard(d).unwrap();
                }
                let result = encoder.encode().unwrap();
                result
                    .recovery_iter()
                    .map(|r| r.to_vec())
                    .collect::<Vec<_>>()
            })
        });
    }
    group.finish();
}

fn reconstruct(c: &mut Criterion) {
    let mut group = c.benchmark_group("reconstruct-2-missing");
    group.throughput(Throughput::Bytes(METACHUNK as u64));
    group.sample_size(10);
    for (k, m) in LAYOUTS {
        let data = data_shards(k);
        let shard = data[0].len();
        let label = format!("{k}+{m}");
        let rse = ReedSolomon::new(k, m).unwrap();
        let mut parity = vec![vec![0u8; shard]; m];
        rse.encode_sep(&data, &mut parity).unwrap();
        // Data shards 0 and 1 are lost: the costly case (data must be decoded).
        let full: Vec<Option<Vec<u8>>> = data
            .iter()
            .chain(parity.iter())
            .enumerate()
            .map(|(i, s)| (i >= 2).then(|| s.clone()))
            .collect();

        group.bench_function(BenchmarkId::new("reed-solomon-erasure", &label), |b| {
            b.iter_batched(
                || full.clone(),
                |mut shards| {
                    rse.reconstruct_data(&mut shards).unwrap();
                    shards
                },
                BatchSize::LargeInput,
            )
        });

        let mut decoder = ReedSolomonDecoder::new(k, m, shard).unwrap();
        group.bench_function(BenchmarkId::new("reed-solomon-simd", &label), |b| {
            b.iter(|| {
                decoder.reset(k, m, shard).unwrap();
                for (i, s) in full.iter().enumerate() {
                    if let Some(s) = s {
                        if i < k {
                            decoder.add_original_shard(i, s).unwrap();
                        } else {
                            decoder.add_recovery_shard(i - k, s).unwrap();
                        }
                    }
                }
                let result = decoder.decode().unwrap();
                result
                    .restored_original_iter()
                    .map(|(_, s)| s.to_vec())
                    .collect::<Vec<_>>()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, encode, reconstruct);
criterion_main!(benches);
