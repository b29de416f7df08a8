//! Conversions between Spread records and s3s types: timestamps, ETags, metadata, checksums,
//! owners, version ids, storage classes, the `x-amz-expiration` header, listing parameters,
//! and the checks on incoming digests (Content-MD5, x-amz-checksum-*). Helpers shared by the
//! operation modules live here (or in `conditions`, `tags`, `lock`, `acl`), never in another
//! operation's module.

use std::collections::BTreeMap;

use base64::Engine as _;
use meta_api::wire::{ContainerInfo, ObjectRecord};
use s3s::dto::{ETag, EncodingType, Owner, StorageClass, Timestamp, TimestampFormat};
use s3s::{S3Result, s3_error};

use super::service::SpreadS3;
use crate::error::{Error, Result};
use crate::objects::{ChecksumAlgo, Digests};

/// Keys longer than this are rejected (S3's limit).
pub const MAX_KEY_LEN: usize = 1024;

pub fn timestamp(ms: i64) -> Timestamp {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    Timestamp::from(t)
}

/// Milliseconds of an s3s timestamp.
pub fn millis(t: &Timestamp) -> i64 {
    let t: time::OffsetDateTime = t.clone().into();
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn etag(value: &str) -> ETag {
    ETag::Strong(value.to_string())
}

pub fn check_key(key: &str) -> S3Result<()> {
    if key.is_empty() {
        return Err(s3_error!(InvalidArgument, "Object key must not be empty"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(s3_error!(KeyTooLongError, "Your key is too long"));
    }
    Ok(())
}

/// The standard headers Spread keeps verbatim.
pub fn standard_headers(
    cache_control: Option<&String>,
    content_disposition: Option<&String>,
    content_encoding: Option<&String>,
    content_language: Option<&String>,
    expires: Option<&Timestamp>,
) -> BTreeMap<String, String> {
    let mut h = BTreeMap::new();
    let mut put = |k: &str, v: Option<&String>| {
        if let Some(v) = v {
            h.insert(k.to_string(), v.clone());
        }
    };
    put("cache-control", cache_control);
    put("content-disposition", content_disposition);
    put(
        "content-encoding",
        content_encoding
            .and_then(|e| stored_content_encoding(e))
            .as_ref(),
    );
    put("content-language", content_language);
    if let Some(e) = expires {
        h.insert("expires".to_string(), millis(e).to_string());
    }
    h
}

/// The Content-Encoding an object keeps of the one its upload was sent with: without
/// `aws-chunked`, which only says how that request framed its body (as AWS does); the
/// client's own codings (`gzip`, ...) stay. `None` when nothing is left.
pub fn stored_content_encoding(sent: &str) -> Option<String> {
    let kept: Vec<&str> = sent
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!kept.is_empty()).then(|| kept.join(","))
}

pub fn expires(rec_headers: &BTreeMap<String, String>) -> Option<Timestamp> {
    rec_headers
        .get("expires")
        .and_then(|v| v.parse::<i64>().ok())
        .map(timestamp)
}

/// User metadata (`x-amz-meta-*`) as stored: lower-case names. At most 2 KB, names and
/// values counted in UTF-8 bytes, as AWS limits it (400 MetadataTooLarge).
pub fn user_meta(meta: Option<s3s::dto::Metadata>) -> S3Result<BTreeMap<String, String>> {
    let meta: BTreeMap<String, String> = meta
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    let size: usize = meta.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_USER_META {
        return Err(s3_error!(
            MetadataTooLarge,
            "Your metadata headers exceed the maximum allowed metadata size ({size} bytes, at most {MAX_USER_META})"
        ));
    }
    Ok(meta)
}

/// The most bytes of user metadata an object may have.
pub const MAX_USER_META: usize = 2048;

pub fn metadata_out(rec: &ObjectRecord) -> Option<s3s::dto::Metadata> {
    if rec.user_meta.is_empty() {
        return None;
    }
    Some(rec.user_meta.clone().into_iter().collect())
}

/// The checksum a client sends with a body: algorithm, and the value if already known (header);
/// `None` value with `trailer = true` means it arrives in the aws-chunked trailer.
#[derive(Debug, Clone)]
pub struct ChecksumRequest {
    pub algo: ChecksumAlgo,
    pub value: Option<String>,
    pub trailer: bool,
}

/// Finds which checksum the request carries: a header value, a declared trailer, or only a
/// requested algorithm (x-amz-sdk-checksum-algorithm / x-amz-checksum-algorithm).
pub fn checksum_request(
    headers: &http::HeaderMap,
    values: [(ChecksumAlgo, Option<&String>); 5],
    algorithm: Option<&str>,
) -> S3Result<Option<ChecksumRequest>> {
    if let Some((algo, v)) = values.iter().find(|(_, v)| v.is_some()) {
        return Ok(Some(ChecksumRequest {
            algo: *algo,
            value: v.cloned(),
            trailer: false,
        }));
    }
    if let Some(t) = headers.get("x-amz-trailer").and_then(|v| v.to_str().ok()) {
        let name = t.trim().to_ascii_lowercase();
        if let Some(algo) = name
            .strip_prefix("x-amz-checksum-")
            .and_then(ChecksumAlgo::parse)
        {
            return Ok(Some(ChecksumRequest {
                algo,
                value: None,
                trailer: true,
            }));
        }
    }
    match algorithm {
        Some(a) => match ChecksumAlgo::parse(a) {
            Some(algo) => Ok(Some(ChecksumRequest {
                algo,
                value: None,
                trailer: false,
            })),
            None => Err(s3_error!(
                InvalidRequest,
                "Unsupported checksum algorithm: {a}"
            )),
        },
        None => Ok(None),
    }
}

pub fn digests_for(req: Option<&ChecksumRequest>) -> Digests {
    Digests::new(req.map(|r| r.algo))
}

/// Verifies Content-MD5 and the checksum after the body has been read.
pub fn verify_digests(
    content_md5: Option<&String>,
    checksum: Option<&ChecksumRequest>,
    trailing: Option<&s3s::TrailingHeaders>,
    values: &crate::objects::DigestValues,
) -> Result<()> {
    if let Some(expected) = content_md5 {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(expected.trim())
            .map_err(|_| Error::InvalidDigest("Content-MD5 is not valid base64".into()))?;
        if decoded.len() != 16 {
            return Err(Error::InvalidDigest("Content-MD5 must be 16 bytes".into()));
        }
        if decoded != values.md5 {
            return Err(Error::BadDigest(
                "The Content-MD5 you specified did not match what we received".into(),
            ));
        }
    }
    let Some(req) = checksum else {
        return Ok(());
    };
    let expected = match (&req.value, req.trailer, trailing) {
        (Some(v), _, _) => Some(v.clone()),
        (None, true, Some(t)) => {
            let name = format!("x-amz-checksum-{}", req.algo.name());
            t.read(|h| {
                h.get(name.as_str())
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            })
            .flatten()
        }
        _ => None,
    };
    if let (Some(expected), Some((_, actual))) = (expected, &values.checksum)
        && expected.trim() != actual.as_str()
    {
        return Err(Error::BadDigest(format!(
            "The {} you specified did not match the calculated checksum",
            req.algo.name().to_ascii_uppercase()
        )));
    }
    Ok(())
}

/// Checksum fields for outputs: (crc32, crc32c, crc64nvme, sha1, sha256).
#[derive(Default)]
pub struct ChecksumFields {
    pub crc32: Option<String>,
    pub crc32c: Option<String>,
    pub crc64nvme: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    /// COMPOSITE for a multipart checksum (`…-N`), FULL_OBJECT otherwise; none without one.
    pub checksum_type: Option<s3s::dto::ChecksumType>,
}

pub fn checksum_fields(checksums: &BTreeMap<String, String>) -> ChecksumFields {
    ChecksumFields {
        checksum_type: checksums
            .values()
            .next()
            .map(|v| super::multipart_checksum::type_of(v)),
        crc32: checksums.get("crc32").cloned(),
        crc32c: checksums.get("crc32c").cloned(),
        crc64nvme: checksums.get("crc64nvme").cloned(),
        sha1: checksums.get("sha1").cloned(),
        sha256: checksums.get("sha256").cloned(),
    }
}

/// Percent-encodes a key or prefix for `encoding-type=url` listings.
pub fn url_encode(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// A request body, or an empty one when the request has none.
pub fn body_or_empty(body: Option<s3s::dto::StreamingBlob>) -> s3s::dto::StreamingBlob {
    body.unwrap_or_else(|| {
        s3s::dto::StreamingBlob::wrap(
            futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>(),
        )
    })
}

/// The owner element of an account (its canonical id and display name are its name).
pub fn owner(account: &str) -> Owner {
    Owner {
        display_name: Some(account.to_string()),
        id: Some(account.to_string()),
    }
}

/// The `x-amz-version-id` to answer for a stored version: none for the `null` version.
pub fn version_out(id: &str) -> Option<String> {
    (id != "null" && !id.is_empty()).then(|| id.to_string())
}

/// The S3 storage class an object's policy is mapped to (none for STANDARD).
pub async fn storage_class_of(s3: &SpreadS3, rec: &ObjectRecord) -> Option<StorageClass> {
    let set = s3.svc.policies().await.ok()?;
    let class = set.storage_class_of(&rec.policy)?;
    (class != "STANDARD").then(|| StorageClass::from(class.to_string()))
}

/// The storage class name listings show for objects stored under `policy` (STANDARD for a
/// policy no class maps to, or when the policies cannot be read).
pub fn class_name(set: Option<&policy::PolicySet>, policy: &str) -> String {
    set.and_then(|s| s.storage_class_of(policy))
        .unwrap_or("STANDARD")
        .to_string()
}

/// A day, in milliseconds (lifecycle rules count in days).
pub const DAY_MS: i64 = 86_400_000;

/// The `x-amz-expiration` value of a current version under the bucket's rules: the earliest
/// expiry of the rules selecting it (in real days; midnight UTC after `mtime + days`).
pub fn expiration_header(container: &ContainerInfo, rec: &ObjectRecord) -> Option<String> {
    let rules = &container.settings.props.lifecycle.as_ref()?.rules;
    let (at, id) = rules
        .iter()
        .filter(|r| r.selects(&rec.key, rec.size, &rec.props))
        .filter_map(|r| {
            let at = match (r.expiration_days, r.expiration_date_ms) {
                (Some(days), _) => {
                    let due = rec.mtime_ms + (days as i64) * DAY_MS;
                    (due.div_euclid(DAY_MS) + 1) * DAY_MS
                }
                (None, Some(date)) => date,
                (None, None) => return None,
            };
            Some((at, r.id.clone()))
        })
        .min()?;
    let t = timestamp(at);
    let mut date = Vec::new();
    t.format(TimestampFormat::HttpDate, &mut date).ok()?;
    let date = String::from_utf8(date).ok()?;
    Some(format!("expiry-date=\"{date}\", rule-id=\"{id}\""))
}

/// The most keys a listing page answers.
const MAX_KEYS: i32 = 1000;

/// The `max-keys` of a listing: at most 1000, 1000 when not given.
pub fn max_keys(v: Option<i32>) -> S3Result<u32> {
    match v {
        None => Ok(MAX_KEYS as u32),
        Some(n) if n < 0 => Err(s3_error!(InvalidArgument, "max-keys must not be negative")),
        Some(n) => Ok(n.min(MAX_KEYS) as u32),
    }
}

/// Whether a listing asks for `encoding-type=url` (the only type there is).
pub fn wants_url(encoding: Option<&EncodingType>) -> S3Result<bool> {
    match encoding {
        None => Ok(false),
        Some(e) if e.as_str().eq_ignore_ascii_case("url") => Ok(true),
        Some(_) => Err(s3_error!(
            InvalidArgument,
            "Invalid Encoding Method specified in Request"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_chunked_is_not_kept_but_the_clients_own_coding_is() {
        assert_eq!(stored_content_encoding("aws-chunked"), None);
        assert_eq!(
            stored_content_encoding("aws-chunked,gzip").as_deref(),
            Some("gzip")
        );
        assert_eq!(
            stored_content_encoding("gzip, AWS-CHUNKED").as_deref(),
            Some("gzip")
        );
        assert_eq!(stored_content_encoding("br").as_deref(), Some("br"));
    }

    #[test]
    fn user_metadata_is_limited_to_2_kb() {
        let meta = |n: usize| {
            let mut m = s3s::dto::Metadata::new();
            m.insert("k".to_string(), "v".repeat(n));
            Some(m)
        };
        assert!(user_meta(meta(MAX_USER_META - 1)).is_ok());
        assert!(user_meta(meta(MAX_USER_META)).is_err());
    }
}
