//! TempURL, as Swift's `tempurl` middleware: a request carrying `temp_url_sig` and
//! `temp_url_expires` needs no token. The signature is an HMAC (SHA-1, SHA-256 or SHA-512) of
//! `METHOD\nEXPIRES\nPATH` (`ip=RANGE\n` first when `temp_url_ip_range` is given) with one of
//! the account keys (`X-Account-Meta-Temp-URL-Key`, `-Key-2`) or container keys
//! (`X-Container-Meta-Temp-URL-Key`, `-Key-2`); PATH is `/v1/AUTH_account/container/object`, or
//! `prefix:/v1/AUTH_account/container/PREFIX` with `temp_url_prefix`. It is written as hex
//! (40 or 64 characters; 128 for SHA-512) or `<digest>:<base64>`; EXPIRES is unix seconds or
//! `2026-01-01T00:00:00Z` in the URL, always the seconds in the signed text.
//!
//! A valid signature makes the caller [`Scope`]: object requests within the account (account
//! key) or the container (container key) that signed it. A HEAD is also allowed by a GET, PUT
//! or POST signature. Anything wrong answers 401 with Swift's body. The router calls
//! [`TempUrl::authorize`], then [`TempUrl::clean_request`] (X-Object-Manifest refused, only the
//! TempURL query parameters kept) and, on the answer, [`TempUrl::finish`] (object metadata
//! hidden except `X-Object-Meta-Public-*`, `Content-Disposition` and `Expires` on GET / HEAD).

use std::collections::BTreeMap;
use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use http::{HeaderMap, Method, StatusCode};
use meta_api::wire::ContainerInfo;
use percent_encoding::{AsciiSet, utf8_percent_encode};
use serde_json::json;

use super::error::{SwiftError, SwiftResult};
use super::router::{Swift, account_container};
use super::{QUOTE, Response, header_text, http_date, put_header};
use crate::objects::now_ms;

/// Methods a TempURL may be signed for (Swift's default `methods`).
pub const METHODS: [&str; 5] = ["GET", "HEAD", "PUT", "POST", "DELETE"];
/// Account / container metadata names (lower-case, without prefix) holding the keys.
pub const KEY_META: [&str; 2] = ["temp-url-key", "temp-url-key-2"];
/// Request headers a TempURL PUT / POST / DELETE may not carry (they would point the
/// object at data the URL does not grant), with the spelling the refusal uses.
const DISALLOWED_HEADERS: [(&str, &str); 2] = [
    ("x-object-manifest", "X-Object-Manifest"),
    ("x-symlink-target", "X-Symlink-Target"),
];
/// Request headers dropped, and response header prefixes hidden unless allowed.
const INCOMING_REMOVE: [&str; 1] = ["x-timestamp"];
const OUTGOING_REMOVE_PREFIX: &str = "x-object-meta-";
const OUTGOING_ALLOW_PREFIX: &str = "x-object-meta-public-";
/// Query parameters kept for the handlers (Swift rewrites the query to these).
const KEPT_QUERY: [&str; 4] = [
    "temp_url_sig",
    "temp_url_expires",
    "temp_url_prefix",
    "filename",
];

/// The `tempurl` section of `/info`.
pub fn info() -> serde_json::Value {
    json!({
        "methods": METHODS,
        "incoming_remove_headers": INCOMING_REMOVE,
        "incoming_allow_headers": [],
        "outgoing_remove_headers": [format!("{OUTGOING_REMOVE_PREFIX}*")],
        "outgoing_allow_headers": [format!("{OUTGOING_ALLOW_PREFIX}*")],
        "allowed_digests": Digest::ALL.map(Digest::name),
    })
}

/// The HMAC digests TempURL signatures may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    Sha1,
    Sha256,
    Sha512,
}

impl Digest {
    pub const ALL: [Digest; 3] = [Digest::Sha1, Digest::Sha256, Digest::Sha512];

    pub fn name(self) -> &'static str {
        match self {
            Digest::Sha1 => "sha1",
            Digest::Sha256 => "sha256",
            Digest::Sha512 => "sha512",
        }
    }

    fn named(name: &str) -> Option<Digest> {
        Digest::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Whether `tag` is the HMAC of `message` under `key` (constant-time comparison).
    fn verify(self, key: &[u8], message: &[u8], tag: &[u8]) -> bool {
        fn check<M: Mac + KeyInit>(key: &[u8], message: &[u8], tag: &[u8]) -> bool {
            let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else {
                return false;
            };
            mac.update(message);
            mac.verify_slice(tag).is_ok()
        }
        match self {
            Digest::Sha1 => check::<Hmac<sha1::Sha1>>(key, message, tag),
            Digest::Sha256 => check::<Hmac<sha2::Sha256>>(key, message, tag),
            Digest::Sha512 => check::<Hmac<sha2::Sha512>>(key, message, tag),
        }
    }
}

/// A `temp_url_sig` value: which digest, and the MAC bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub digest: Digest,
    pub tag: Vec<u8>,
}

/// Standard or URL-safe base64, padded or not (as Swift accepts both).
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let alphabet = if s.contains(['-', '_']) && !s.contains(['+', '/']) {
        &base64::alphabet::URL_SAFE
    } else {
        &base64::alphabet::STANDARD
    };
    GeneralPurpose::new(alphabet, config).decode(s).ok()
}

/// Parses `temp_url_sig`: hex (40 characters: SHA-1, 64: SHA-256, 128: SHA-512) or
/// `sha1:` / `sha256:` / `sha512:` followed by base64.
pub fn parse_signature(s: &str) -> Option<Signature> {
    if let Some((name, b64)) = s.split_once(':') {
        return Some(Signature {
            digest: Digest::named(name)?,
            tag: base64_decode(b64)?,
        });
    }
    let digest = match s.len() {
        40 => Digest::Sha1,
        64 => Digest::Sha256,
        128 => Digest::Sha512,
        _ => return None,
    };
    Some(Signature {
        digest,
        tag: hex::decode(s).ok()?,
    })
}

/// Parses `temp_url_expires`: unix seconds, or ISO 8601 UTC `2026-01-01T00:00:00Z`.
pub fn parse_expires(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<i64>() {
        return Some(secs);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::PrimitiveDateTime::parse(s, &fmt)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

/// The signed text: `[ip=RANGE\n]METHOD\nEXPIRES\nPATH`.
pub fn message(method: &str, expires: i64, path: &str, ip_range: Option<&str>) -> String {
    match ip_range {
        Some(ip) => format!("ip={ip}\n{method}\n{expires}\n{path}"),
        None => format!("{method}\n{expires}\n{path}"),
    }
}

/// Whether `ip` lies in `range` (`1.2.3.4`, `1.2.3.0/24`, `fd00::/8`; host bits must be zero).
pub fn ip_in_range(ip: IpAddr, range: &str) -> bool {
    let (addr, len) = match range.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (range, None),
    };
    let Ok(net) = addr.trim().parse::<IpAddr>() else {
        return false;
    };
    let (net, ip, bits) = match (net, ip.to_canonical()) {
        (IpAddr::V4(n), IpAddr::V4(i)) => (u128::from(u32::from(n)), u128::from(u32::from(i)), 32),
        (IpAddr::V6(n), IpAddr::V6(i)) => (u128::from(n), u128::from(i), 128),
        _ => return false,
    };
    let len = match len.map(|l| l.trim().parse::<u32>()) {
        None => bits,
        Some(Ok(l)) if l <= bits => l,
        Some(_) => return false,
    };
    let host_bits = bits - len;
    let network = |v: u128| v.checked_shr(host_bits).unwrap_or(0);
    let host_bits_set = network(net).checked_shl(host_bits).unwrap_or(0) != net;
    !host_bits_set && network(net) == network(ip)
}

/// What a valid TempURL grants: object requests in `account` (account key) or only in
/// `container` (container key), as Swift's `authorize_same_account` / `_container`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub account: String,
    pub container: Option<String>,
}

impl Scope {
    /// Whether container `name` of `account` is within the scope.
    pub fn covers_name(&self, account: &str, name: &str) -> bool {
        self.account == account && self.container.as_deref().is_none_or(|c| c == name)
    }

    pub fn covers(&self, c: &ContainerInfo) -> bool {
        self.covers_name(&c.account, &c.name)
    }
}

/// The TempURL parameters of a request.
#[derive(Debug, Clone)]
pub struct TempUrl {
    sig: Option<String>,
    /// None when absent or unreadable.
    expires: Option<i64>,
    prefix: Option<String>,
    ip_range: Option<String>,
    filename: Option<String>,
    inline: bool,
}

/// Swift's answer to any invalid TempURL.
fn invalid() -> SwiftError {
    SwiftError::with(
        StatusCode::UNAUTHORIZED,
        "401 Unauthorized: Temp URL invalid\n",
    )
}

/// [`super::QUOTE`] keeping spaces, for the quoted `filename="..."` of Content-Disposition.
const QUOTE_KEEP_SPACE: &AsciiSet = &QUOTE.remove(b' ');

/// `TYPE; filename="NAME"; filename*=UTF-8''NAME` (RFC 6266 / 5987), as Swift writes it.
fn disposition(kind: &str, filename: &str) -> String {
    format!(
        "{kind}; filename=\"{}\"; filename*=UTF-8''{}",
        utf8_percent_encode(filename, QUOTE_KEEP_SPACE),
        utf8_percent_encode(filename, QUOTE)
    )
}

impl TempUrl {
    /// The TempURL parameters of `query`; None when it has neither `temp_url_sig` nor
    /// `temp_url_expires` (an ordinary request).
    pub fn of(query: &BTreeMap<String, String>) -> Option<TempUrl> {
        let sig = query.get("temp_url_sig");
        let expires = query.get("temp_url_expires");
        if sig.is_none() && expires.is_none() {
            return None;
        }
        Some(TempUrl {
            sig: sig.cloned(),
            expires: expires.and_then(|e| parse_expires(e)),
            prefix: query.get("temp_url_prefix").cloned(),
            ip_range: query.get("temp_url_ip_range").cloned(),
            filename: query.get("filename").cloned(),
            inline: query.contains_key("inline"),
        })
    }

    /// Checks the signature of a `method` request on `/v1/AUTH_<account>/<container>/<object>`
    /// from `peer` against the account's and the container's keys; the scope of the key
    /// that signed it, or 401.
    pub async fn authorize(
        &self,
        swift: &Swift,
        method: &Method,
        account: &str,
        container: Option<&str>,
        object: Option<&str>,
        peer: Option<IpAddr>,
    ) -> SwiftResult<Scope> {
        let sig = self
            .sig
            .as_deref()
            .filter(|s| !s.is_empty())
            .and_then(parse_signature)
            .ok_or_else(invalid)?;
        let expires = self
            .expires
            .filter(|e| e.saturating_mul(1000) >= now_ms())
            .ok_or_else(invalid)?;
        if !METHODS.contains(&method.as_str()) {
            return Err(invalid());
        }
        let (Some(container), Some(object)) = (container, object) else {
            return Err(invalid());
        };
        if object.trim_matches('/').is_empty() {
            return Err(invalid());
        }
        if let Some(range) = &self.ip_range
            && !peer.is_some_and(|ip| ip_in_range(ip, range))
        {
            return Err(invalid());
        }
        let path = match &self.prefix {
            None => format!("/v1/AUTH_{account}/{container}/{object}"),
            Some(p) if object.starts_with(p.as_str()) => {
                format!("prefix:/v1/AUTH_{account}/{container}/{p}")
            }
            Some(_) => return Err(invalid()),
        };
        let keys = keys(swift, account, container).await?;
        let methods: &[&str] = if *method == Method::HEAD {
            &["HEAD", "GET", "POST", "PUT"]
        } else {
            &[method.as_str()]
        };
        for m in methods {
            let text = message(m, expires, &path, self.ip_range.as_deref());
            for (key, scope) in &keys {
                if sig.digest.verify(key.as_bytes(), text.as_bytes(), &sig.tag) {
                    return Ok(scope.clone());
                }
            }
        }
        tracing::info!(account, container, "TempURL signature refused");
        Err(invalid())
    }

    /// Prepares an authorized request for the handlers: X-Object-Manifest (and symlink
    /// targets) refused on writes, `X-Timestamp` dropped, only the TempURL query kept.
    pub fn clean_request(
        &self,
        method: &Method,
        headers: &mut HeaderMap,
        query: &mut BTreeMap<String, String>,
    ) -> SwiftResult<()> {
        if *method != Method::GET && *method != Method::HEAD {
            for (name, spelled) in DISALLOWED_HEADERS {
                if headers.contains_key(name) {
                    return Err(SwiftError::bad_request(format!(
                        "The header '{spelled}' is not allowed in this tempurl"
                    )));
                }
            }
        }
        for name in INCOMING_REMOVE {
            headers.remove(name);
        }
        query.retain(|k, _| KEPT_QUERY.contains(&k.as_str()));
        Ok(())
    }

    /// Adjusts the answer to a TempURL request for `object`: object metadata hidden (but
    /// `X-Object-Meta-Public-*`); on a successful GET / HEAD, `Content-Disposition` (the
    /// `filename` / `inline` parameters, else the stored one, else an attachment named after
    /// the object) and `Expires`.
    pub fn finish(&self, method: &Method, object: &str, resp: &mut Response) {
        let h = resp.headers_mut();
        let hidden: Vec<http::HeaderName> = h
            .keys()
            .filter(|n| {
                n.as_str().starts_with(OUTGOING_REMOVE_PREFIX)
                    && !n.as_str().starts_with(OUTGOING_ALLOW_PREFIX)
            })
            .cloned()
            .collect();
        for n in hidden {
            h.remove(n);
        }
        let read = *method == Method::GET || *method == Method::HEAD;
        if !read || !resp.status().is_success() {
            return;
        }
        let h = resp.headers_mut();
        let stored = h
            .remove("content-disposition")
            .and_then(|v| header_text(&v).map(str::to_string));
        let value = match (&self.filename, self.inline, stored) {
            (Some(f), true, _) => disposition("inline", f),
            (None, true, _) => "inline".to_string(),
            (Some(f), false, _) => disposition("attachment", f),
            (None, false, Some(s)) => s,
            (None, false, None) => {
                let name = object
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or("");
                disposition("attachment", name)
            }
        };
        put_header(h, "content-disposition", &value.replace('\n', "%0A"));
        if let Some(e) = self.expires {
            put_header(h, "expires", &http_date(e.saturating_mul(1000)));
        }
    }
}

/// The account's and the container's keys, each with the scope it grants. A missing
/// container has no keys, but an account key still signs for it (the request then gets 404).
async fn keys(swift: &Swift, account: &str, container: &str) -> SwiftResult<Vec<(String, Scope)>> {
    let mut out = Vec::new();
    match swift.svc.meta().get_account(account).await {
        Ok(info) => {
            for k in KEY_META {
                if let Some(v) = info.meta.get(k) {
                    let scope = Scope {
                        account: account.to_string(),
                        container: None,
                    };
                    out.push((v.clone(), scope));
                }
            }
        }
        Err(meta_api::Error::NoSuchAccount(_)) => {}
        Err(e) => return Err(e.into()),
    }
    match account_container(swift, account, container).await {
        Ok(c) => {
            for k in KEY_META {
                if let Some(v) = c.settings.props.swift.meta.get(k) {
                    let scope = Scope {
                        account: account.to_string(),
                        container: Some(container.to_string()),
                    };
                    out.push((v.clone(), scope));
                }
            }
        }
        Err(e) if e.status == StatusCode::NOT_FOUND => {}
        Err(e) => return Err(e),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "/v1/AUTH_account/container/object";

    fn sig(s: &str) -> Signature {
        parse_signature(s).unwrap_or_else(|| panic!("unparsable signature {s}"))
    }

    /// Vectors computed independently (Python's `hmac` module) from the algorithm:
    /// HMAC(key "mykey", "GET\n<expires>\n/v1/AUTH_account/container/object"). The SHA-512
    /// one is the example of Swift's tempurl documentation.
    #[test]
    fn known_vectors() {
        let text = message("GET", 1323479485, PATH, None);
        assert_eq!(text, "GET\n1323479485\n/v1/AUTH_account/container/object");
        let s = sig("d9fc2067e52b06598421664cf6610bfc8fc431f6");
        assert_eq!(s.digest, Digest::Sha1);
        assert!(s.digest.verify(b"mykey", text.as_bytes(), &s.tag));
        let s = sig("05cb4ea08a08f2fdaef35d0f344975370077835c23bdc9342099ecbf03bc0378");
        assert_eq!(s.digest, Digest::Sha256);
        assert!(s.digest.verify(b"mykey", text.as_bytes(), &s.tag));
        assert!(!s.digest.verify(b"otherkey", text.as_bytes(), &s.tag));
        let put = message("PUT", 1323479485, PATH, None);
        assert!(!s.digest.verify(b"mykey", put.as_bytes(), &s.tag));

        let text = message("GET", 1516741234, PATH, None);
        let s = sig(
            "sha512:ZrSijn0GyDhsv1ltIj9hWUTrbAeE45NcKXyBaz7aPbSMvROQ4jtYH4nRAmm5ErY2X11Yc1Yhy2OMCyN3yueeXg==",
        );
        assert_eq!(s.digest, Digest::Sha512);
        assert!(s.digest.verify(b"mykey", text.as_bytes(), &s.tag));
        // The same tag unpadded, and as hex.
        let unpadded = sig(
            "sha512:ZrSijn0GyDhsv1ltIj9hWUTrbAeE45NcKXyBaz7aPbSMvROQ4jtYH4nRAmm5ErY2X11Yc1Yhy2OMCyN3yueeXg",
        );
        assert_eq!(unpadded, s);
        assert_eq!(sig(&hex::encode(&s.tag)), s);
        // A SHA-256 tag in base64 form, standard alphabet.
        let s256 = sig("sha256:BctOoIoI8v2u810PNEl1NwB3g1wjvck0IJnsvwO8A3g=");
        assert_eq!(
            hex::encode(&s256.tag),
            "05cb4ea08a08f2fdaef35d0f344975370077835c23bdc9342099ecbf03bc0378"
        );

        let prefix = message(
            "GET",
            1323479485,
            "prefix:/v1/AUTH_account/container/pre",
            None,
        );
        let s = sig("f6d0abf5d9aeff3aeeaab9f8f6725282083d9b9d2e9bcaf7eed764a4b45adc0c");
        assert!(s.digest.verify(b"mykey", prefix.as_bytes(), &s.tag));
        let ip = message("GET", 1323479485, PATH, Some("127.0.0.1"));
        assert_eq!(
            ip,
            "ip=127.0.0.1\nGET\n1323479485\n/v1/AUTH_account/container/object"
        );
        let s = sig("3e943a412de0c044c8ac53b98f49fc6e49b3f92bf47dc85a80b8071012a4e332");
        assert!(s.digest.verify(b"mykey", ip.as_bytes(), &s.tag));
    }

    #[test]
    fn bad_signatures() {
        for s in [
            "",
            "abc",
            "d9fc2067e52b06598421664cf6610bfc8fc431f",
            "zzfc2067e52b06598421664cf6610bfc8fc431f6",
            "md5:AAAA",
            "sha256:not*base64",
        ] {
            assert_eq!(parse_signature(s), None, "{s:?}");
        }
        // A SHA-1-sized tag announced as SHA-256 never verifies.
        let s = sig("sha256:2fwgZ+UrBlmEIWZM9mEL/I/EMfY=");
        let text = message("GET", 1323479485, PATH, None);
        assert!(!s.digest.verify(b"mykey", text.as_bytes(), &s.tag));
    }

    #[test]
    fn expires() {
        assert_eq!(parse_expires("1323479485"), Some(1323479485));
        assert_eq!(parse_expires(" 1323479485"), Some(1323479485));
        assert_eq!(parse_expires("2011-12-10T01:11:25Z"), Some(1323479485));
        assert_eq!(parse_expires("2026-01-01T00:00:00Z"), Some(1767225600));
        assert_eq!(parse_expires("-5"), Some(-5));
        assert_eq!(parse_expires("2011-12-10T01:11:25"), None);
        assert_eq!(parse_expires("soon"), None);
        assert_eq!(parse_expires(""), None);
        assert_eq!(parse_expires("99999999999999999999999"), None);
    }

    #[test]
    fn ip_ranges() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap_or_else(|e| panic!("{s}: {e}"));
        assert!(ip_in_range(ip("127.0.0.1"), "127.0.0.1"));
        assert!(ip_in_range(ip("127.0.0.1"), "127.0.0.0/8"));
        assert!(ip_in_range(ip("1.2.3.200"), "1.2.3.0/24"));
        assert!(ip_in_range(ip("9.9.9.9"), "0.0.0.0/0"));
        assert!(ip_in_range(ip("::ffff:1.2.3.4"), "1.2.3.4"));
        assert!(ip_in_range(ip("fd00::1"), "fd00::/8"));
        assert!(ip_in_range(ip("::1"), "::/0"));
        assert!(!ip_in_range(ip("1.2.4.1"), "1.2.3.0/24"));
        assert!(!ip_in_range(ip("127.0.0.1"), "10.0.0.0/8"));
        assert!(!ip_in_range(ip("::1"), "127.0.0.1"));
        // Host bits set, bad lengths, garbage: no match.
        assert!(!ip_in_range(ip("1.2.3.4"), "1.2.3.4/24"));
        assert!(!ip_in_range(ip("1.2.3.4"), "1.2.3.0/33"));
        assert!(!ip_in_range(ip("1.2.3.4"), "nope"));
    }

    #[test]
    fn scopes() {
        let account = Scope {
            account: "a".into(),
            container: None,
        };
        let container = Scope {
            account: "a".into(),
            container: Some("c".into()),
        };
        assert!(account.covers_name("a", "c") && account.covers_name("a", "d"));
        assert!(container.covers_name("a", "c") && !container.covers_name("a", "d"));
        assert!(!account.covers_name("b", "c"));
    }

    fn query(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn requests() {
        assert!(TempUrl::of(&query(&[("format", "json")])).is_none());
        assert!(TempUrl::of(&query(&[("temp_url_prefix", "p")])).is_none());
        let t = TempUrl::of(&query(&[("temp_url_expires", "2011-12-10T01:11:25Z")]));
        assert_eq!(t.and_then(|t| t.expires), Some(1323479485));

        let t = TempUrl::of(&query(&[("temp_url_sig", "x"), ("temp_url_expires", "1")]))
            .unwrap_or_else(|| panic!("a TempURL"));
        let mut h = HeaderMap::new();
        h.insert("x-object-manifest", http::HeaderValue::from_static("c/p"));
        h.insert("x-timestamp", http::HeaderValue::from_static("1"));
        let mut q = query(&[("temp_url_sig", "x"), ("multipart-manifest", "put")]);
        let e = t.clean_request(&Method::PUT, &mut h, &mut q);
        assert_eq!(
            e.err().map(|e| (e.status, e.body)),
            Some((
                StatusCode::BAD_REQUEST,
                "The header 'X-Object-Manifest' is not allowed in this tempurl".to_string()
            ))
        );
        assert!(t.clean_request(&Method::GET, &mut h, &mut q).is_ok());
        assert!(!h.contains_key("x-timestamp"));
        assert_eq!(q, query(&[("temp_url_sig", "x")]));
    }

    #[test]
    fn dispositions() {
        assert_eq!(
            disposition("attachment", "My Test File.pdf"),
            "attachment; filename=\"My Test File.pdf\"; filename*=UTF-8''My%20Test%20File.pdf"
        );
        assert_eq!(
            disposition("inline", "a/b\"é.txt"),
            "inline; filename=\"a/b%22%C3%A9.txt\"; filename*=UTF-8''a/b%22%C3%A9.txt"
        );
    }
}
