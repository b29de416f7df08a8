//! Object keys as LMDB keys. LMDB keys are at most 511 bytes, so an object key longer than
//! [`INLINE_KEY_MAX`] bytes is stored under its first 400 bytes followed by its SHA-256; the full
//! key is kept in the value. Keys of at most 400 bytes are stored verbatim, so a stored key longer
//! than 400 bytes is always a hashed one, and all hashed keys sharing a 400-byte prefix sit next
//! to each other (a "group" that listings sort by full key).

use sha2::{Digest, Sha256};

/// Longest object key stored verbatim.
pub const INLINE_KEY_MAX: usize = 400;

/// The LMDB key of an object key.
pub fn encode(key: &str) -> Vec<u8> {
    let b = key.as_bytes();
    if b.len() <= INLINE_KEY_MAX {
        b.to_vec()
    } else {
        let mut v = Vec::with_capacity(INLINE_KEY_MAX + 32);
        v.extend_from_slice(&b[..INLINE_KEY_MAX]);
        v.extend_from_slice(&Sha256::digest(b));
        v
    }
}

/// True when `lkey` is a hashed (long) key.
pub fn is_hashed(lkey: &[u8]) -> bool {
    lkey.len() > INLINE_KEY_MAX
}

/// An LMDB position at or before the encoding of every key `>= s`.
pub fn lower_bound(s: &str) -> &[u8] {
    let b = s.as_bytes();
    &b[..b.len().min(INLINE_KEY_MAX)]
}

/// The LMDB position right after every hashed key of the group with this 400-byte prefix.
pub fn after_group(prefix400: &[u8]) -> Vec<u8> {
    let mut v = prefix400.to_vec();
    v.extend_from_slice(&[0xFF; 33]);
    v
}

/// The smallest byte string greater than every string starting with `p` (`None`: no such string).
pub fn prefix_successor(p: &[u8]) -> Option<Vec<u8>> {
    let mut v = p.to_vec();
    while let Some(last) = v.pop() {
        if last < 0xFF {
            v.push(last + 1);
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_are_verbatim_long_keys_hashed() {
        assert_eq!(encode("a/b"), b"a/b".to_vec());
        let long = "x".repeat(1000);
        let e = encode(&long);
        assert_eq!(e.len(), 432);
        assert!(is_hashed(&e));
        assert_eq!(&e[..400], &long.as_bytes()[..400]);
        assert!(!is_hashed(&encode(&"y".repeat(400))));
    }

    #[test]
    fn successor() {
        assert_eq!(prefix_successor(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(prefix_successor(&[0x61, 0xFF]), Some(vec![0x62]));
        assert_eq!(prefix_successor(&[0xFF]), None);
    }
}
