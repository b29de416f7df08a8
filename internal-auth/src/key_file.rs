//! Files of named 256-bit keys, one a line: `<key-id> <64 hex digits>` (blank lines and `#`
//! comments skipped). The first key is the *current* one (it seals new data); the others are
//! older keys, kept to open what they sealed, so a key is rotated by adding a new first line.
//! Meta's master key file (secrets at rest) and the gateway's SSE-S3 key file use this format.

/// Longest key id.
pub const MAX_KEY_ID: usize = 64;

/// Checks a key id: 1 to [`MAX_KEY_ID`] characters of `[A-Za-z0-9._-]`.
pub fn check_key_id(kid: &str) -> Result<(), String> {
    if kid.is_empty()
        || kid.len() > MAX_KEY_ID
        || !kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(format!(
            "bad master key id {kid:?}: 1 to {MAX_KEY_ID} characters of A-Z a-z 0-9 . _ -"
        ));
    }
    Ok(())
}

/// The keys of a key file's text, the current one first. Errors name the line, never its key.
pub fn parse(text: &str) -> Result<Vec<(String, [u8; 32])>, String> {
    let mut keys: Vec<(String, [u8; 32])> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |m: &str| format!("line {}: {m}", n + 1);
        let mut fields = line.split_whitespace();
        let (Some(kid), Some(hex_key), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err(at("expected `<key-id> <64 hex digits>`"));
        };
        check_key_id(kid).map_err(|e| at(&e))?;
        if keys.iter().any(|(k, _)| k == kid) {
            return Err(at(&format!("key id {kid:?} appears twice")));
        }
        let bytes: [u8; 32] = hex::decode(hex_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| at("the key is not 64 hex digits (32 bytes)"))?;
        keys.push((kid.to_string(), bytes));
    }
    if keys.is_empty() {
        return Err("no key in the file".into());
    }
    Ok(keys)
}

/// The text of a new key file holding one fresh random key named `kid`.
pub fn generate(kid: &str) -> String {
    use rand::RngCore;
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    format!("{kid} {}\n", hex::encode(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_in_order_and_names_bad_lines() {
        let a = "11".repeat(32);
        let b = "22".repeat(32);
        let keys = parse(&format!("# keys\n\nk2 {b}\n  k1 {a}  \n")).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!((keys[0].0.as_str(), keys[0].1[0]), ("k2", 0x22));
        assert_eq!((keys[1].0.as_str(), keys[1].1[31]), ("k1", 0x11));
        assert_eq!(
            parse("k1 abcd").unwrap_err(),
            "line 1: the key is not 64 hex digits (32 bytes)"
        );
        assert!(
            parse(&format!("k1 {a}\nk1 {b}"))
                .unwrap_err()
                .starts_with("line 2: key id")
        );
        assert!(
            parse(&format!("k/1 {a}"))
                .unwrap_err()
                .contains("bad master key id")
        );
        assert_eq!(parse("# none\n").unwrap_err(), "no key in the file");
        let fresh = generate("dev");
        let keys = parse(&fresh).unwrap();
        assert_eq!(keys[0].0, "dev");
        assert_ne!(keys[0].1, [0u8; 32]);
    }
}
