//! Erasure coding: the [`Codec`] the gateway uses to turn a metachunk's `k` data fragments into
//! `m` parity fragments and to rebuild missing fragments from any `k` others. Implemented with
//! `reed-solomon-erasure` (GF(2^8), SIMD feature), which measured faster than
//! `reed-solomon-simd` on our machine (see `docs/policies.md` and `benches/ec.rs`).

use reed_solomon_erasure::galois_8::ReedSolomon;

use crate::error::EcError;
use crate::file::MAX_FRAGMENTS;

/// A Reed-Solomon `k + m` codec.
pub trait Codec: Send + Sync {
    /// Data fragments per metachunk.
    fn k(&self) -> usize;
    /// Parity fragments per metachunk.
    fn m(&self) -> usize;
    /// `data`: the `k` data fragments, all of the same non-zero length (the caller pads the
    /// last one with zeros) → the `m` parity fragments, of that length.
    fn encode(&self, data: &[&[u8]]) -> Result<Vec<Vec<u8>>, EcError>;
    /// `shards`: `k + m` entries in fragment order, `None` = missing. Fills every `None` when at
    /// least `k` are present (all of the same length); otherwise fails and changes nothing.
    fn reconstruct(&self, shards: &mut [Option<Vec<u8>>]) -> Result<(), EcError>;
}

/// A codec for `k` data + `m` parity fragments (1..=32 each, `k + m <= 32`). Building one
/// computes its matrices: callers keep it (it is `Send + Sync`) rather than build one per chunk.
pub fn codec(k: usize, m: usize) -> Result<Box<dyn Codec>, EcError> {
    if k == 0 || m == 0 || k + m > MAX_FRAGMENTS {
        return Err(EcError::Ec(format!(
            "{k}+{m} is not supported: k and m must be at least 1 and k + m at most {MAX_FRAGMENTS}"
        )));
    }
    let rs = ReedSolomon::new(k, m).map_err(|e| EcError::Ec(format!("{k}+{m}: {e}")))?;
    Ok(Box::new(RsCodec { rs, k, m }))
}

/// Size of each fragment of a metachunk of `chunk_len` bytes: `ceil(chunk_len / k)`. The last
/// data fragment is padded with zeros to this size; 0 for an empty chunk (nothing is written).
pub fn fragment_size(chunk_len: u64, k: usize) -> u64 {
    chunk_len.div_ceil(k.max(1) as u64)
}

struct RsCodec {
    rs: ReedSolomon,
    k: usize,
    m: usize,
}

impl Codec for RsCodec {
    fn k(&self) -> usize {
        self.k
    }

    fn m(&self) -> usize {
        self.m
    }

    fn encode(&self, data: &[&[u8]]) -> Result<Vec<Vec<u8>>, EcError> {
        if data.len() != self.k {
            return Err(EcError::Ec(format!(
                "encode needs {} data fragments, got {}",
                self.k,
                data.len()
            )));
        }
        let len = data.first().map_or(0, |d| d.len());
        if len == 0 || data.iter().any(|d| d.len() != len) {
            return Err(EcError::Ec(format!(
                "data fragments must have the same non-zero length (lengths: {:?})",
                data.iter().map(|d| d.len()).collect::<Vec<_>>()
            )));
        }
        let mut parity = vec![vec![0u8; len]; self.m];
        self.rs
            .encode_sep(data, &mut parity)
            .map_err(|e| EcError::Ec(format!("encode {}+{}: {e}", self.k, self.m)))?;
        Ok(parity)
    }

    fn reconstruct(&self, shards: &mut [Option<Vec<u8>>]) -> Result<(), EcError> {
        let total = self.k + self.m;
        if shards.len() != total {
            return Err(EcError::Ec(format!(
                "reconstruct needs {total} fragment slots, got {}",
                shards.len()
            )));
        }
        let present: Vec<usize> = shards.iter().flatten().map(Vec::len).collect();
        if present.len() < self.k {
            return Err(EcError::Ec(format!(
                "{} of {total} fragments are available, {} are needed to rebuild the others",
                present.len(),
                self.k
            )));
        }
        if present.iter().any(|&l| l == 0 || l != present[0]) {
            return Err(EcError::Ec(format!(
                "fragments must have the same non-zero length (lengths: {present:?})"
            )));
        }
        if present.len() == total {
            return Ok(());
        }
        self.rs
            .reconstruct(shards)
            .map_err(|e| EcError::Ec(format!("reconstruct {}+{}: {e}", self.k, self.m)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Cuts `data` into `k` fragments of `fragment_size`, the last padded with zeros.
    fn split(data: &[u8], k: usize) -> Vec<Vec<u8>> {
        let fs = fragment_size(data.len() as u64, k) as usize;
        (0..k)
            .map(|i| {
                let start = (i * fs).min(data.len());
                let end = ((i + 1) * fs).min(data.len());
                let mut f = data[start..end].to_vec();
                f.resize(fs, 0);
                f
            })
            .collect()
    }

    fn all_shards(codec: &dyn Codec, data: &[u8]) -> Vec<Vec<u8>> {
        let frags = split(data, codec.k());
        let refs: Vec<&[u8]> = frags.iter().map(Vec::as_slice).collect();
        let parity = codec.encode(&refs).unwrap();
        assert_eq!(parity.len(), codec.m());
        frags.into_iter().chain(parity).collect()
    }

    /// Every subset of `n` positions of size `r`.
    fn subsets(n: usize, r: usize) -> Vec<Vec<usize>> {
        (0u32..1 << n)
            .filter(|mask| mask.count_ones() as usize == r)
            .map(|mask| (0..n).filter(|i| mask & (1 << i) != 0).collect())
            .collect()
    }

    #[test]
    fn fragment_sizes() {
        assert_eq!(fragment_size(0, 4), 0);
        assert_eq!(fragment_size(1, 4), 1);
        assert_eq!(fragment_size(8, 4), 2);
        assert_eq!(fragment_size(9, 4), 3);
        assert_eq!(fragment_size(8 << 20, 6), 1_398_102);
        assert_eq!(fragment_size(10, 0), 10);
    }

    #[test]
    fn any_m_missing_are_rebuilt_identically() {
        let mut rng = StdRng::seed_from_u64(5);
        for (k, m) in [(1, 1), (2, 1), (4, 2), (6, 3), (3, 5)] {
            let codec = codec(k, m).unwrap();
            assert_eq!((codec.k(), codec.m()), (k, m));
            let len = rng.gen_range(1..5000);
            let data: Vec<u8> = (0..len).map(|_| rng.r#gen()).collect();
            let shards = all_shards(codec.as_ref(), &data);
            for missing in subsets(k + m, m) {
                let mut partial: Vec<Option<Vec<u8>>> = shards.iter().cloned().map(Some).collect();
                for &i in &missing {
                    partial[i] = None;
                }
                codec.reconstruct(&mut partial).unwrap();
                let rebuilt: Vec<Vec<u8>> = partial.into_iter().map(Option::unwrap).collect();
                assert_eq!(rebuilt, shards, "{k}+{m} missing {missing:?}");
                let joined: Vec<u8> = rebuilt[..k].concat();
                assert_eq!(&joined[..data.len()], &data[..]);
            }
        }
    }

    #[test]
    fn parity_depends_on_every_byte() {
        let codec = codec(4, 2).unwrap();
        let data = vec![7u8; 4096];
        let a = all_shards(codec.as_ref(), &data);
        let mut changed = data.clone();
        changed[4095] ^= 1;
        let b = all_shards(codec.as_ref(), &changed);
        assert_ne!(a[4], b[4]);
        assert_ne!(a[5], b[5]);
    }

    #[test]
    fn too_many_missing_fails_without_changes() {
        let codec = codec(4, 2).unwrap();
        let shards = all_shards(codec.as_ref(), b"hello, erasure-coded world");
        let mut partial: Vec<Option<Vec<u8>>> = shards.into_iter().map(Some).collect();
        partial[0] = None;
        partial[3] = None;
        partial[5] = None;
        let before = partial.clone();
        let err = codec.reconstruct(&mut partial).unwrap_err();
        assert!(
            err.to_string()
                .contains("3 of 6 fragments are available, 4 are needed"),
            "{err}"
        );
        assert_eq!(partial, before);
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(codec(0, 2).is_err());
        assert!(codec(4, 0).is_err());
        assert!(
            codec(30, 3)
                .err()
                .unwrap()
                .to_string()
                .contains("at most 32")
        );
        let codec = codec(2, 1).unwrap();
        assert!(codec.encode(&[b"ab"]).is_err());
        assert!(codec.encode(&[b"ab", b"abc"]).is_err());
        assert!(codec.encode(&[b"", b""]).is_err());
        let mut wrong_count = vec![Some(vec![1u8]), None];
        assert!(codec.reconstruct(&mut wrong_count).is_err());
        let mut uneven = vec![Some(vec![1u8, 2]), Some(vec![1u8]), None];
        assert!(codec.reconstruct(&mut uneven).is_err());
        let mut complete = vec![Some(vec![1u8]), Some(vec![2u8]), Some(vec![3u8])];
        assert!(codec.reconstruct(&mut complete).is_ok());
    }

    #[test]
    fn codec_is_shareable() {
        fn assert_send_sync<T: Send + Sync + ?Sized>() {}
        assert_send_sync::<dyn Codec>();
        let codec: std::sync::Arc<dyn Codec> = std::sync::Arc::from(codec(4, 2).unwrap());
        let data = vec![1u8; 400];
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let c = codec.clone();
                let d = data.clone();
                std::thread::spawn(move || all_shards(c.as_ref(), &d))
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(results.windows(2).all(|w| w[0] == w[1]));
    }
}
