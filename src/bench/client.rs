//! The bench's own small S3 client: path-style requests over `hyper-util`'s pooled HTTP/1
//! client, each signed with SigV4 (`aws-sigv4`) using `UNSIGNED-PAYLOAD`, bodies streamed from
//! [`ReqBody`] and responses read and discarded as they arrive.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::{Method, StatusCode, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::body::ReqBody;

/// Characters kept as they are in a URI path (RFC 3986 unreserved plus `/`).
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');
/// Characters kept as they are in a query value (RFC 3986 unreserved).
const QUERY: &AsciiSet = &PATH.add(b'/');

/// The payload hash sent (and signed) with every request.
const UNSIGNED: &str = "UNSIGNED-PAYLOAD";
/// At most this much of an error answer is read to find its S3 error code.
const ERROR_BODY_LIMIT: usize = 64 << 10;

/// Why one request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpError(pub String);

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a failed request answered: HTTP status and S3 error code, if it got that far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: Option<StatusCode>,
    pub code: Option<String>,
    pub message: String,
}

impl From<Failure> for OpError {
    fn from(f: Failure) -> Self {
        OpError(f.message)
    }
}

/// One page of a ListObjectsV2 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage {
    /// Number of `<Contents>` entries.
    pub keys: u64,
    /// Continuation token of the next page, when the listing is truncated.
    pub next: Option<String>,
}

/// An S3 endpoint, the credentials to sign with, and a connection pool.
#[derive(Clone)]
pub struct S3Client {
    base: String,
    authority: String,
    region: String,
    identity: Identity,
    timeout: Duration,
    http: Client<HttpConnector, ReqBody>,
}

impl S3Client {
    /// A client for `endpoint` (`http://host:port`). `pool` is the number of idle connections
    /// kept open (one per worker).
    pub fn new(
        endpoint: &str,
        access_key: &str,
        secret_key: &str,
        region: &str,
        pool: usize,
        timeout: Duration,
    ) -> Result<S3Client, String> {
        let uri: Uri = endpoint
            .parse()
            .map_err(|e| format!("endpoint {endpoint:?}: {e}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(format!(
                    "endpoint {endpoint:?}: scheme {other} is not supported (use http://)"
                ));
            }
            None => return Err(format!("endpoint {endpoint:?}: expected http://host:port")),
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("endpoint {endpoint:?}: no host"))?
            .to_string();
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(format!(
                "endpoint {endpoint:?}: must not have a path or query (path-style requests are used)"
            ));
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(pool)
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(S3Client {
            base: format!("http://{authority}"),
            authority,
            region: region.to_owned(),
            identity: Credentials::new(access_key, secret_key, None, None, "spread-bench").into(),
            timeout,
            http,
        })
    }

    /// Creates `bucket`; `Ok(true)` if created, `Ok(false)` if this account already owns it.
    pub async fn create_bucket(&self, bucket: &str) -> Result<bool, Failure> {
        let resp = self
            .send(Method::PUT, bucket, None, "", ReqBody::Empty)
            .await?;
        match self.check(resp).await {
            Ok(resp) => {
                drain(resp.into_body()).await.map_err(failure)?;
                Ok(true)
            }
            Err(f) if f.code.as_deref() == Some("BucketAlreadyOwnedByYou") => Ok(false),
            Err(f) => Err(f),
        }
    }

    /// Deletes `bucket` (which must be empty).
    pub async fn delete_bucket(&self, bucket: &str) -> Result<(), Failure> {
        let resp = self
            .send(Method::DELETE, bucket, None, "", ReqBody::Empty)
            .await?;
        let resp = self.check(resp).await?;
        drain(resp.into_body()).await.map_err(failure)?;
        Ok(())
    }

    /// PutObject with a body of `size` generated bytes; returns the bytes sent.
    pub async fn put(&self, bucket: &str, key: &str, body: ReqBody) -> Result<u64, OpError> {
        let size = http_body::Body::size_hint(&body).exact().unwrap_or(0);
        let resp = self.send(Method::PUT, bucket, Some(key), "", body).await?;
        let resp = self.check(resp).await?;
        drain(resp.into_body()).await.map_err(OpError)?;
        Ok(size)
    }

    /// GetObject, reading and discarding the body; returns its length.
    pub async fn get(&self, bucket: &str, key: &str) -> Result<u64, OpError> {
        let resp = self
            .send(Method::GET, bucket, Some(key), "", ReqBody::Empty)
            .await?;
        let resp = self.check(resp).await?;
        let expected = resp
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let got = self
            .timed(drain(resp.into_body()))
            .await?
            .map_err(OpError)?;
        match expected {
            Some(n) if n != got => Err(OpError(format!(
                "GET {bucket}/{key}: Content-Length {n} but {got} bytes received"
            ))),
            _ => Ok(got),
        }
    }

    /// DeleteObject. A missing object is not an error (S3 answers 204 either way).
    pub async fn delete(&self, bucket: &str, key: &str) -> Result<(), OpError> {
        let resp = self
            .send(Method::DELETE, bucket, Some(key), "", ReqBody::Empty)
            .await?;
        let resp = self.check(resp).await?;
        drain(resp.into_body()).await.map_err(OpError)?;
        Ok(())
    }

    /// One ListObjectsV2 page of up to 1000 keys under `prefix`.
    pub async fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        token: Option<&str>,
    ) -> Result<ListPage, OpError> {
        // Parameters in canonical (sorted) order.
        let mut query = String::new();
        if let Some(token) = token {
            query.push_str("continuation-token=");
            query.push_str(&utf8_percent_encode(token, QUERY).to_string());
            query.push('&');
        }
        query.push_str("list-type=2&max-keys=1000&prefix=");
        query.push_str(&utf8_percent_encode(prefix, QUERY).to_string());
        let resp = self
            .send(Method::GET, bucket, None, &query, ReqBody::Empty)
            .await?;
        let resp = self.check(resp).await?;
        let body = self
            .timed(async {
                resp.into_body()
                    .collect()
                    .await
                    .map(|c| c.to_bytes())
                    .map_err(|e| OpError(format!("reading listing: {e}")))
            })
            .await??;
        let text =
            std::str::from_utf8(&body).map_err(|_| OpError("listing is not UTF-8".to_owned()))?;
        parse_list_page(text).map_err(OpError)
    }

    /// Signs and sends one request; the answer's body is left to the caller.
    async fn send(
        &self,
        method: Method,
        bucket: &str,
        key: Option<&str>,
        query: &str,
        body: ReqBody,
    ) -> Result<http::Response<Incoming>, OpError> {
        let mut uri = format!("{}/{}", self.base, utf8_percent_encode(bucket, PATH));
        if let Some(key) = key {
            uri.push('/');
            uri.push_str(&utf8_percent_encode(key, PATH).to_string());
        }
        if !query.is_empty() {
            uri.push('?');
            uri.push_str(query);
        }
        let length = http_body::Body::size_hint(&body).exact().unwrap_or(0);
        let length = length.to_string();
        let mut headers: Vec<(&str, &str)> = vec![
            ("host", &self.authority),
            ("x-amz-content-sha256", UNSIGNED),
        ];
        if method == Method::PUT {
            headers.push(("content-length", &length));
        }
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
        settings.signature_location = SignatureLocation::Headers;
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| OpError(format!("signing parameters: {e}")))?
            .into();
        let signable = SignableRequest::new(
            method.as_str(),
            uri.as_str(),
            headers.iter().copied(),
            SignableBody::Precomputed(UNSIGNED.to_owned()),
        )
        .map_err(|e| OpError(format!("{method} {uri}: cannot sign: {e}")))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| OpError(format!("{method} {uri}: cannot sign: {e}")))?
            .into_parts();
        let mut builder = http::Request::builder().method(method.clone()).uri(&uri);
        for (name, value) in &headers {
            builder = builder.header(*name, *value);
        }
        let mut request = builder
            .body(body)
            .map_err(|e| OpError(format!("{method} {uri}: {e}")))?;
        instructions.apply_to_request_http1x(&mut request);
        self.timed(async {
            self.http
                .request(request)
                .await
                .map_err(|e| OpError(format!("{method} {uri}: {}", error_chain(&e))))
        })
        .await?
    }

    /// Runs `fut` under the per-request timeout.
    async fn timed<T>(&self, fut: impl Future<Output = T>) -> Result<T, OpError> {
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| OpError(format!("no answer within {:?}", self.timeout)))
    }

    /// Passes a 2xx answer through; turns any other into a [`Failure`] with its S3 error code.
    async fn check(
        &self,
        resp: http::Response<Incoming>,
    ) -> Result<http::Response<Incoming>, Failure> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = self
            .timed(read_limited(resp.into_body(), ERROR_BODY_LIMIT))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&body);
        let code = tag_text(&text, "Code").map(str::to_owned);
        let message = match &code {
            Some(code) => format!("HTTP {status} {code}"),
            None => format!("HTTP {status}"),
        };
        Err(Failure {
            status: Some(status),
            code,
            message,
        })
    }
}

fn failure(message: String) -> Failure {
    Failure {
        status: None,
        code: None,
        message,
    }
}

impl From<OpError> for Failure {
    fn from(e: OpError) -> Self {
        failure(e.0)
    }
}

/// Reads a body to its end, discarding the bytes; returns how many there were.
async fn drain(mut body: Incoming) -> Result<u64, String> {
    let mut total = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("reading body: {e}"))?;
        if let Some(data) = frame.data_ref() {
            total += data.len() as u64;
        }
    }
    Ok(total)
}

/// Reads at most `limit` bytes of a body (the rest is dropped with the connection).
async fn read_limited(mut body: Incoming, limit: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("reading body: {e}"))?;
        if let Some(data) = frame.data_ref() {
            let room = limit.saturating_sub(out.len());
            out.extend_from_slice(&data[..data.len().min(room)]);
            if out.len() >= limit {
                break;
            }
        }
    }
    Ok(out)
}

/// The error and its sources, joined (hyper's top-level errors alone say little).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The text of the first `<tag>…</tag>` in `xml`, still XML-escaped.
fn tag_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&close)?;
    Some(&xml[start..start + len])
}

/// Undoes XML escaping of the five predefined entities and numeric character references.
fn xml_unescape(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after
            .find(';')
            .ok_or_else(|| format!("unterminated entity in {text:?}"))?;
        let entity = &after[..semi];
        let ch = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = entity.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = entity.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32)
                    .ok_or_else(|| format!("unknown entity &{entity}; in {text:?}"))?
            }
        };
        out.push(ch);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Reads the number of keys and the continuation token from a ListObjectsV2 answer.
pub fn parse_list_page(xml: &str) -> Result<ListPage, String> {
    if !xml.contains("<ListBucketResult") {
        return Err("answer is not a ListBucketResult".to_owned());
    }
    let keys = xml.matches("<Contents>").count() as u64;
    let truncated = tag_text(xml, "IsTruncated").map(str::trim) == Some("true");
    let next = match tag_text(xml, "NextContinuationToken") {
        Some(token) if truncated => Some(xml_unescape(token)?),
        _ if truncated => {
            return Err("truncated listing without NextContinuationToken".to_owned());
        }
        _ => None,
    };
    Ok(ListPage { keys, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_list_pages() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>
<Contents><Key>bench/0/1</Key><Size>4</Size></Contents><Contents><Key>bench/0/2</Key></Contents>
<IsTruncated>true</IsTruncated><NextContinuationToken>a&amp;b&#x2F;c&lt;</NextContinuationToken>
</ListBucketResult>"#;
        let page = parse_list_page(xml).unwrap();
        assert_eq!(page.keys, 2);
        assert_eq!(page.next.as_deref(), Some("a&b/c<"));

        let last = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
        assert_eq!(
            parse_list_page(last).unwrap(),
            ListPage {
                keys: 0,
                next: None
            }
        );
        assert!(parse_list_page("<Error><Code>NoSuchBucket</Code></Error>").is_err());
        assert!(
            parse_list_page("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>")
                .is_err()
        );
    }

    #[test]
    fn unescapes_xml() {
        assert_eq!(xml_unescape("plain").unwrap(), "plain");
        assert_eq!(xml_unescape("&quot;x&apos;&#65;&gt;").unwrap(), "\"x'A>");
        assert!(xml_unescape("&bogus;").is_err());
        assert!(xml_unescape("a&amp").is_err());
    }

    #[test]
    fn endpoint_validation() {
        let t = Duration::from_secs(1);
        assert!(S3Client::new("http://127.0.0.1:9000", "a", "b", "r", 1, t).is_ok());
        assert!(S3Client::new("http://127.0.0.1:9000/", "a", "b", "r", 1, t).is_ok());
        assert!(S3Client::new("https://127.0.0.1:9000", "a", "b", "r", 1, t).is_err());
        assert!(S3Client::new("127.0.0.1:9000", "a", "b", "r", 1, t).is_err());
        assert!(S3Client::new("http://127.0.0.1:9000/x", "a", "b", "r", 1, t).is_err());
        assert!(S3Client::new("not a url", "a", "b", "r", 1, t).is_err());
    }
}
