//! A small Swift client for the integration tests: auth v1 (`GET /auth/v1.0`), then requests
//! against the storage URL with `X-Auth-Token`. Each call returns the raw status, headers and
//! body, so tests assert exactly what a real client would see.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub use crate::s3::Response;

/// How long one request (including reading the whole response body) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(180);

/// Percent-encodes a container or object name for a URL path (RFC 3986 unreserved
/// characters and '/' are kept).
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A storage URL plus the token used on it (empty token: anonymous requests).
#[derive(Clone)]
pub struct Swift {
    pub storage_url: String,
    pub token: String,
    http: Client<HttpConnector, Full<Bytes>>,
}

fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Sends one request; transport errors and timeouts are `Err`.
pub async fn send_raw(
    http: &Client<HttpConnector, Full<Bytes>>,
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Result<Response, String> {
    let body: Bytes = body.into();
    let mut b = http::Request::builder().method(method.clone()).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    // An explicit length, also for empty bodies (hyper leaves it out; Swift wants one on PUT).
    if !headers.iter().any(|(k, _)| {
        k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding")
    }) {
        b = b.header("content-length", body.len());
    }
    let req = b
        .body(Full::new(body))
        .map_err(|e| format!("{method} {url}: {e}"))?;
    let fut = async {
        let resp = http
            .request(req)
            .await
            .map_err(|e| format!("{method} {url}: {e:?}"))?;
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| format!("{method} {url}: reading body: {e}"))?
            .to_bytes();
        Ok(Response {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    };
    tokio::time::timeout(REQUEST_TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "{method} {url}: no answer within {REQUEST_TIMEOUT:?}"
            ))
        })
}

impl Swift {
    /// Authenticates `account:user` with `key` at `auth_url` (`http://ADDR/auth/v1.0`).
    pub async fn login(auth_url: &str, user: &str, key: &str) -> Result<Swift, String> {
        let resp = send_raw(
            &client(),
            Method::GET,
            auth_url,
            &[("x-auth-user", user), ("x-auth-key", key)],
            Bytes::new(),
        )
        .await?;
        if resp.status != StatusCode::OK {
            return Err(format!("auth answered {}: {}", resp.status, resp.text()));
        }
        let storage_url = resp
            .header("x-storage-url")
            .ok_or("no X-Storage-Url")?
            .to_string();
        let token = resp
            .header("x-auth-token")
            .ok_or("no X-Auth-Token")?
            .to_string();
        Ok(Swift {
            storage_url,
            token,
            http: client(),
        })
    }

    /// The same storage URL with another token ("" = anonymous).
    pub fn with_token(&self, token: &str) -> Swift {
        Swift {
            token: token.to_string(),
            ..self.clone()
        }
    }

    /// The URL of `path` (already encoded, "" = the account, may carry `?query`).
    pub fn url(&self, path: &str) -> String {
        if path.is_empty() {
            self.storage_url.clone()
        } else {
            format!("{}/{path}", self.storage_url)
        }
    }

    /// Sends `method` on `path` (encoded, relative to the storage URL) with the token.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Response {
        let url = self.url(path);
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if !self.token.is_empty() {
            all.push(("x-auth-token", &self.token));
        }
        send_raw(&self.http, method, &url, &all, body)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send(Method::GET, path, &[], Bytes::new()).await
    }

    pub async fn head(&self, path: &str) -> Response {
        self.send(Method::HEAD, path, &[], Bytes::new()).await
    }

    pub async fn put(&self, path: &str, body: impl Into<Bytes>) -> Response {
        self.send(Method::PUT, path, &[], body).await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.send(Method::DELETE, path, &[], Bytes::new()).await
    }

    pub async fn post(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.send(Method::POST, path, headers, Bytes::new()).await
    }
}

/// A TempURL signature, as clients compute it (python-swiftclient's `generate_temp_url`):
/// HMAC-`digest` ("sha1", "sha256" or "sha512") with `key` of `[ip=RANGE\n]METHOD\nEXPIRES\nPATH`,
/// where `path` is `/v1/AUTH_account/container/object` (not percent-encoded) or
/// `prefix:/v1/AUTH_account/container/PREFIX`. Hex for SHA-1 and SHA-256, `sha512:` and
/// URL-safe base64 for SHA-512.
pub fn temp_url_sig(
    digest: &str,
    key: &str,
    method: &str,
    expires: i64,
    path: &str,
    ip_range: Option<&str>,
) -> String {
    use base64::Engine as _;
    use hmac::{Hmac, Mac};
    let text = match ip_range {
        Some(ip) => format!("ip={ip}\n{method}\n{expires}\n{path}"),
        None => format!("{method}\n{expires}\n{path}"),
    };
    fn mac<M: Mac + hmac::digest::KeyInit>(key: &str, text: &str) -> Vec<u8> {
        let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key.as_bytes())
            .unwrap_or_else(|e| panic!("HMAC key: {e}"));
        m.update(text.as_bytes());
        m.finalize().into_bytes().to_vec()
    }
    match digest {
        "sha1" => hex::encode(mac::<Hmac<sha1::Sha1>>(key, &text)),
        "sha256" => hex::encode(mac::<Hmac<sha2::Sha256>>(key, &text)),
        "sha512" => format!(
            "sha512:{}",
            base64::engine::general_purpose::URL_SAFE.encode(mac::<Hmac<sha2::Sha512>>(key, &text))
        ),
        other => panic!("unknown TempURL digest {other}"),
    }
}

/// Convenience for header maps in assertions.
pub fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}
