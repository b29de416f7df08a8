//! Tag sets: the checks AWS makes on them (count, key and value lengths, no key twice), the
//! `x-amz-tagging` header of PutObject, CreateMultipartUpload, CopyObject and form uploads,
//! and a version's tags as kept in its `props` under [`PROP_TAGS`] (where meta's lifecycle
//! worker filters on them). The tagging operations are in `tagging`.

use std::collections::BTreeMap;

use meta_api::settings::VersionProps;
use meta_api::wire::ObjectRecord;
use s3s::dto::*;
use s3s::{S3Result, s3_error};

/// At most this many tags on an object (AWS's limit).
pub const MAX_OBJECT_TAGS: usize = 10;
/// At most this many tags on a bucket (AWS's limit).
pub const MAX_BUCKET_TAGS: usize = 50;
/// Longest tag key and value, in Unicode characters.
const MAX_TAG_KEY: usize = 128;
const MAX_TAG_VALUE: usize = 256;

/// Checks one tag set (count, key and value lengths, no key twice): 400 `InvalidTag`.
fn checked<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    max: usize,
) -> S3Result<BTreeMap<String, String>> {
    let mut tags = BTreeMap::new();
    for (k, v) in pairs {
        if k.is_empty() || k.chars().count() > MAX_TAG_KEY {
            return Err(s3_error!(
                InvalidTag,
                "The TagKey you have provided is invalid"
            ));
        }
        if v.chars().count() > MAX_TAG_VALUE {
            return Err(s3_error!(
                InvalidTag,
                "The TagValue you have provided is invalid"
            ));
        }
        if tags.insert(k.to_string(), v.to_string()).is_some() {
            return Err(s3_error!(
                InvalidTag,
                "Cannot provide multiple Tags with the same key"
            ));
        }
    }
    if tags.len() > max {
        return Err(s3_error!(
            InvalidTag,
            "Object tags cannot be greater than {max}"
        ));
    }
    Ok(tags)
}

pub fn tag_set_map(set: &TagSet, max: usize) -> S3Result<BTreeMap<String, String>> {
    checked(
        set.iter().map(|t| {
            (
                t.key.as_deref().unwrap_or_default(),
                t.value.as_deref().unwrap_or_default(),
            )
        }),
        max,
    )
}

pub fn tag_set_of(tags: BTreeMap<String, String>) -> TagSet {
    tags.into_iter()
        .map(|(k, v)| Tag {
            key: Some(k),
            value: Some(v),
        })
        .collect()
}

/// The tags of an `x-amz-tagging` header (a URL query string: `k1=v1&k2`), checked.
pub fn parse_header(header: &str) -> S3Result<BTreeMap<String, String>> {
    let decode = |s: &str| -> S3Result<String> {
        let s = s.replace('+', " ");
        percent_encoding::percent_decode_str(&s)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| s3_error!(InvalidArgument, "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates."))
    };
    let mut pairs = Vec::new();
    for part in header.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        pairs.push((decode(k)?, decode(v)?));
    }
    checked(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        MAX_OBJECT_TAGS,
    )
}

/// The props a new object starts with from an optional `x-amz-tagging` header.
pub fn props_from_header(header: Option<&TaggingHeader>) -> S3Result<VersionProps> {
    let tags = match header {
        Some(h) => parse_header(h)?,
        None => BTreeMap::new(),
    };
    Ok(VersionProps {
        tags,
        ..Default::default()
    })
}

/// `x-amz-tagging-count` of a version (none when it has no tags).
pub fn tag_count(rec: &ObjectRecord) -> Option<i32> {
    let n = rec.props.tags.len();
    (n > 0).then_some(n as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_parses_and_checks() {
        let t = parse_header("foo=bar&bar&a%20b=c+d").unwrap();
        assert_eq!(t.get("foo").map(String::as_str), Some("bar"));
        assert_eq!(t.get("bar").map(String::as_str), Some(""));
        assert_eq!(t.get("a b").map(String::as_str), Some("c d"));
        assert!(parse_header("a=1&a=2").is_err());
        let many: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
        assert!(parse_header(&many.join("&")).is_err());
        assert!(parse_header(&format!("{}=v", "k".repeat(129))).is_err());
        assert!(parse_header(&format!("k={}", "v".repeat(257))).is_err());
        assert!(parse_header(&format!("{}={}", "k".repeat(128), "v".repeat(256))).is_ok());
    }
}
