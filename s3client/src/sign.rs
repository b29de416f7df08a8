//! SigV4 header signing (`aws-sigv4`) for path-style S3 requests, and the chunk signatures of
//! an `aws-chunked` (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`) body.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http::Method;

/// The payload hash of a request whose body is not signed.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// The payload hash of a request with a signed `aws-chunked` body.
pub const STREAMING_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";

/// Why a request could not be signed; each variant carries `aws-sigv4`'s (or `http`'s) error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignError {
    /// The signing parameters were refused.
    Params(String),
    /// The method, URI or headers cannot be signed.
    Signable(String),
    /// Computing the signature failed.
    Sign(String),
    /// The signed request could not be built.
    Build(String),
}

impl std::fmt::Display for SignError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignError::Params(e) => write!(f, "signing parameters: {e}"),
            SignError::Signable(e) => write!(f, "request cannot be signed: {e}"),
            SignError::Sign(e) => write!(f, "signing: {e}"),
            SignError::Build(e) => write!(f, "building the request: {e}"),
        }
    }
}

impl std::error::Error for SignError {}

/// Credentials and region to sign S3 requests with (service `s3`).
#[derive(Clone, Debug)]
pub struct Signer {
    identity: Identity,
    region: String,
}

impl Signer {
    /// A signer for the key pair; `provider` names where the credentials came from (it is
    /// not part of any signature).
    pub fn new(access_key: &str, secret_key: &str, region: &str, provider: &'static str) -> Self {
        Signer {
            identity: Credentials::new(access_key, secret_key, None, None, provider).into(),
            region: region.to_owned(),
        }
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Builds `method uri` with `headers` (in this order) and `body`, and signs it with SigV4
    /// in the `Authorization` header (adding `x-amz-date`). `payload_hash` is signed as the
    /// payload hash as it is, so `headers` must carry `x-amz-content-sha256` with that value
    /// (and `host`). The URI must already be percent-encoded; it is signed as sent (no second
    /// encoding, no path normalization). Returns the request and the signature (the seed of
    /// an `aws-chunked` body's chain).
    pub fn sign<K, V, B>(
        &self,
        method: &Method,
        uri: &str,
        headers: &[(K, V)],
        payload_hash: &str,
        time: SystemTime,
        body: B,
    ) -> Result<(http::Request<B>, String), SignError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
        settings.signature_location = SignatureLocation::Headers;
        let params = self
            .params(time, settings)
            .map_err(|e| SignError::Params(e.to_string()))?
            .into();
        let signable = SignableRequest::new(
            method.as_str(),
            uri,
            headers.iter().map(|(k, v)| (k.as_ref(), v.as_ref())),
            SignableBody::Precomputed(payload_hash.to_owned()),
        )
        .map_err(|e| SignError::Signable(e.to_string()))?;
        let (instructions, signature) = sign(signable, &params)
            .map_err(|e| SignError::Sign(e.to_string()))?
            .into_parts();
        let mut builder = http::Request::builder().method(method.clone()).uri(uri);
        for (k, v) in headers {
            builder = builder.header(k.as_ref(), v.as_ref());
        }
        let mut request = builder
            .body(body)
            .map_err(|e| SignError::Build(e.to_string()))?;
        instructions.apply_to_request_http1x(&mut request);
        Ok((request, signature))
    }

    /// The signature of one `aws-chunked` chunk (the empty final chunk included), chained
    /// from `previous` (the request's seed signature for the first chunk). `time` must be the
    /// request's signing time.
    pub fn sign_chunk(
        &self,
        time: SystemTime,
        previous: &str,
        chunk: &[u8],
    ) -> Result<String, SignError> {
        let params = self
            .params(time, ())
            .map_err(|e| SignError::Params(e.to_string()))?;
        let (_, signature) = v4::sign_chunk(&Bytes::copy_from_slice(chunk), previous, &params)
            .map_err(|e| SignError::Sign(e.to_string()))?
            .into_parts();
        Ok(signature)
    }

    fn params<S: Default>(
        &self,
        time: SystemTime,
        settings: S,
    ) -> Result<v4::SigningParams<'_, S>, v4::signing_params::BuildError> {
        v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name("s3")
            .time(time)
            .settings(settings)
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    /// The key pair of AWS's SigV4 examples.
    fn example_signer() -> Signer {
        Signer::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "us-east-1",
            "test",
        )
    }

    /// 2013-05-24T00:00:00Z, the time of AWS's examples.
    fn example_time() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_369_353_600)
    }

    fn header<'a, B>(req: &'a http::Request<B>, name: &str) -> &'a str {
        req.headers()
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }

    /// "Example: GET Object" of the S3 SigV4 header-signing documentation.
    #[test]
    fn signs_get_object_like_the_aws_example() {
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let headers = [
            ("host", "examplebucket.s3.amazonaws.com"),
            ("range", "bytes=0-9"),
            ("x-amz-content-sha256", empty),
        ];
        let (req, signature) = example_signer()
            .sign(
                &Method::GET,
                "http://examplebucket.s3.amazonaws.com/test.txt",
                &headers,
                empty,
                example_time(),
                (),
            )
            .unwrap();
        let expected = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
        assert_eq!(signature, expected);
        assert_eq!(
            header(&req, "authorization"),
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
                 SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature={expected}"
            )
        );
        assert_eq!(header(&req, "x-amz-date"), "20130524T000000Z");
        assert_eq!(header(&req, "range"), "bytes=0-9");
        assert_eq!(req.method(), Method::GET);
        assert_eq!(req.uri().path(), "/test.txt");
    }

    /// The seed and chunk signatures of the S3 `aws-chunked` (streaming) documentation.
    #[test]
    fn signs_aws_chunked_upload_like_the_aws_example() {
        let headers = [
            ("host", "s3.amazonaws.com"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("content-encoding", "aws-chunked"),
            ("content-length", "66824"),
            ("x-amz-decoded-content-length", "66560"),
            ("x-amz-content-sha256", STREAMING_PAYLOAD),
        ];
        let signer = example_signer();
        let time = example_time();
        let (_, seed) = signer
            .sign(
                &Method::PUT,
                "https://s3.amazonaws.com/examplebucket/chunkObject.txt",
                &headers,
                STREAMING_PAYLOAD,
                time,
                (),
            )
            .unwrap();
        assert_eq!(
            seed,
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
        );
        let first = signer.sign_chunk(time, &seed, &[b'a'; 65536]).unwrap();
        assert_eq!(
            first,
            "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
        );
        let second = signer.sign_chunk(time, &first, &[b'a'; 1024]).unwrap();
        assert_eq!(
            second,
            "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
        );
        let last = signer.sign_chunk(time, &second, &[]).unwrap();
        assert_eq!(
            last,
            "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
        );
    }

    #[test]
    fn unsigned_payload_and_encoded_uri_are_signed_as_sent() {
        let headers = [
            ("host", "127.0.0.1:9000"),
            ("x-amz-content-sha256", UNSIGNED_PAYLOAD),
        ];
        let sign = |uri: &str| {
            example_signer()
                .sign(
                    &Method::PUT,
                    uri,
                    &headers,
                    UNSIGNED_PAYLOAD,
                    example_time(),
                    (),
                )
                .unwrap()
        };
        let (req, a) = sign("http://127.0.0.1:9000/b/a%20b/../c");
        // Neither normalized nor encoded a second time.
        assert_eq!(req.uri().path(), "/b/a%20b/../c");
        let (_, b) = sign("http://127.0.0.1:9000/b/c");
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn bad_requests_are_errors() {
        let headers = [("host", "h"), ("x-amz-content-sha256", UNSIGNED_PAYLOAD)];
        let err = example_signer()
            .sign(
                &Method::GET,
                "not a uri",
                &headers,
                UNSIGNED_PAYLOAD,
                example_time(),
                (),
            )
            .unwrap_err();
        assert!(matches!(err, SignError::Signable(_)), "{err:?}");
    }
}
