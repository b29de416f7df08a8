//! Byte sizes in policy files: an integer (bytes) or a string with a binary unit
//! (`"512B"`, `"64KiB"`, `"8MiB"`, `"1GiB"`).

const UNITS: [(&str, u64); 4] = [
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("B", 1),
];

/// Parses `"8MiB"`, `"64 KiB"`, `"1048576"` (units are case-insensitive). Errors name the value.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let unit = unit.trim();
    let invalid = || {
        format!(
            "\"{text}\" is not a size: write bytes (1048576) or a number with B, KiB, MiB or GiB (\"8MiB\")"
        )
    };
    if number.is_empty() {
        return Err(invalid());
    }
    let multiplier = if unit.is_empty() {
        1
    } else if let Some((_, m)) = UNITS.iter().find(|(u, _)| u.eq_ignore_ascii_case(unit)) {
        *m
    } else if ["kb", "mb", "gb", "k", "m", "g"].contains(&unit.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "\"{text}\": use KiB, MiB or GiB (sizes are powers of 1024)"
        ));
    } else {
        return Err(invalid());
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| format!("\"{text}\" is too large"))
}

/// Formats a size with the largest binary unit that divides it exactly (`8388608` → `"8MiB"`).
pub fn format_size(bytes: u64) -> String {
    for (unit, m) in UNITS {
        if bytes >= m && bytes.is_multiple_of(m) {
            return format!("{}{unit}", bytes / m);
        }
    }
    format!("{bytes}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_size("8MiB"), Ok(8 << 20));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("512B"), Ok(512));
        assert_eq!(parse_size(" 8 mib "), Ok(8 << 20));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_size("").is_err());
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("8XB").is_err());
        assert!(parse_size("-8MiB").is_err());
        assert!(parse_size("8.5MiB").is_err());
        assert!(parse_size("8MB").unwrap_err().contains("powers of 1024"));
        assert!(
            parse_size("99999999999999GiB")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn formats_and_round_trips() {
        assert_eq!(format_size(8 << 20), "8MiB");
        assert_eq!(format_size(1536), "1536B");
        assert_eq!(format_size(3 << 10), "3KiB");
        assert_eq!(format_size(1 << 30), "1GiB");
        assert_eq!(format_size(1000), "1000B");
        assert_eq!(format_size(0), "0B");
        for n in [1u64, 1000, 1024, 65536, 3 << 20, 1 << 30, 123_456_789] {
            assert_eq!(parse_size(&format_size(n)), Ok(n));
        }
    }
}
