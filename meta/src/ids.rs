//! Random identifiers and clocks shared by meta and its clients: upload ids and content ids
//! (32 hex chars), access and secret keys, milliseconds since the epoch.

use rand::Rng;

/// `n` random bytes as lower-case hex (`2 * n` chars).
pub fn random_hex(n: usize) -> String {
    let mut rng = rand::thread_rng();
    let bytes: Vec<u8> = (0..n).map(|_| rng.r#gen::<u8>()).collect();
    hex::encode(bytes)
}

/// A new multipart upload id (32 hex chars).
pub fn new_upload_id() -> String {
    random_hex(16)
}

/// A new content id (32 hex chars).
pub fn new_content_id() -> String {
    random_hex(16)
}

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())]))
        .collect()
}

/// A new access key: 20 upper-case letters and digits.
pub fn new_access_key() -> String {
    random_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 20)
}

/// A new secret key: 40 letters and digits.
pub fn new_secret_key() -> String {
    random_from(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        40,
    )
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let id = new_upload_id();
        assert_eq!(id.len(), 32);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        let ak = new_access_key();
        assert_eq!(ak.len(), 20);
        assert!(
            ak.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        );
        assert_eq!(new_secret_key().len(), 40);
        assert_ne!(new_content_id(), new_content_id());
        assert!(now_ms() > 1_600_000_000_000);
    }
}
