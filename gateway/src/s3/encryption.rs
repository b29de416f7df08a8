//! S3 server-side encryption: the request headers (SSE-C keys, `x-amz-server-side-encryption`),
//! the response headers answered back, and bucket default encryption (Get/Put/Delete
//! BucketEncryption, the typed `encryption` setting through `settings`). The encryption itself
//! is the object service's (`objects::sse`).
//!
//! - SSE-C: `x-amz-server-side-encryption-customer-{algorithm,key,key-MD5}` (and the
//!   `x-amz-copy-source-` ones naming the source of a copy). The three go together, the
//!   algorithm is `AES256`, the key 32 bytes in base64, the MD5 the key's; each breach is a 400
//!   with AWS's message. An object written with a key is read with the same key only.
//! - SSE-S3: `x-amz-server-side-encryption: AES256`, or the bucket's default encryption for a
//!   write without encryption headers.
//! - SSE-KMS: `x-amz-server-side-encryption: aws:kms` with
//!   `x-amz-server-side-encryption-aws-kms-key-id` naming a key of the built-in key store
//!   (`spread admin kms key create`; the id as given, or an ARN ending in `key/ID`), or the
//!   bucket's default (`aws:kms` with a `KMSMasterKeyID`). Spread has no AWS-managed default key,
//!   so `aws:kms` without a key id (and no bucket default naming one) is refused. Responses
//!   answer the key id as the key store names it. `x-amz-server-side-encryption-context`
//!   (base64 JSON object of strings) is stored with the object and bound to its data keys
//!   (`objects::sse`), answered back on the write and on HEAD and GET (re-encoded from what is
//!   stored: the keys sorted, no spaces); a copy takes the copy request's context, not the
//!   source's, as AWS does. Unlike AWS, Spread adds no `aws:s3:arn` to it: AWS adds it for its
//!   KMS key policies and audit log, which the built-in key store has neither of, and the
//!   record already names its object. `x-amz-server-side-encryption-bucket-key-enabled` is
//!   checked and answered back on the write; it changes nothing (every object has its own data
//!   key, which is what a bucket key saves AWS from) and is not stored.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::HeaderMap;
use md5::Digest as _;
use meta_api::encryption::{DataKey, Encryption, KmsContext, SseMode};
use meta_api::settings::{ContainerProps, DefaultEncryption, SettingChange};
use s3s::dto::*;
use s3s::{S3Error, S3Result, s3_error};

use super::access::Access;
use super::settings::{BucketSetting, FromInput, ToOutput};
use crate::objects::sse::{CustomerKey, SseRequest};

const CUSTOMER: &str = "x-amz-server-side-encryption-customer-";
const COPY_SOURCE_CUSTOMER: &str = "x-amz-copy-source-server-side-encryption-customer-";

/// The SSE-C key a request sends for the object it writes or reads (`source`: for the source
/// of a copy), checked as AWS checks it; `None` when it sends none of the three headers.
pub fn customer_key(headers: &HeaderMap, source: bool) -> S3Result<Option<CustomerKey>> {
    let prefix = if source {
        COPY_SOURCE_CUSTOMER
    } else {
        CUSTOMER
    };
    let get = |name: &str| {
        headers
            .get(format!("{prefix}{name}"))
            .map(|v| v.to_str().unwrap_or("").trim().to_string())
    };
    let (algorithm, key, md5) = (get("algorithm"), get("key"), get("key-md5"));
    if algorithm.is_none() && key.is_none() && md5.is_none() {
        return Ok(None);
    }
    let Some(algorithm) = algorithm else {
        return Err(s3_error!(
            InvalidArgument,
            "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm."
        ));
    };
    if algorithm != "AES256" {
        return Err(s3_error!(
            InvalidEncryptionAlgorithmError,
            "The encryption request you specified is not valid. Supported value: AES256."
        ));
    }
    let Some(key) = key else {
        return Err(s3_error!(
            InvalidArgument,
            "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key."
        ));
    };
    let bytes: [u8; 32] = B64
        .decode(key.as_bytes())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "The secret key was invalid for the specified algorithm."
            )
        })?;
    let Some(md5) = md5 else {
        return Err(s3_error!(
            InvalidArgument,
            "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key."
        ));
    };
    let actual = B64.encode(md5::Md5::digest(bytes));
    if actual != md5 {
        return Err(s3_error!(
            InvalidArgument,
            "The calculated MD5 hash of the key did not match the hash that was provided."
        ));
    }
    Ok(Some(CustomerKey::new(bytes, actual)))
}

/// The encryption a write asks for: its SSE-C key, `x-amz-server-side-encryption`, or else
/// the bucket's default; conflicting headers are refused.
pub fn write_request(headers: &HeaderMap, bucket: &ContainerProps) -> S3Result<Option<SseRequest>> {
    let customer = customer_key(headers, false)?;
    let sse = headers
        .get("x-amz-server-side-encryption")
        .map(|v| v.to_str().unwrap_or("").trim().to_string());
    match (customer, sse.as_deref()) {
        (Some(_), Some(_)) => Err(s3_error!(
            InvalidArgument,
            "Server Side Encryption with Customer provided key is incompatible with the encryption method specified"
        )),
        (Some(key), None) => Ok(Some(SseRequest::Customer(key))),
        (None, Some("AES256")) => Ok(Some(SseRequest::Cluster)),
        (None, Some("aws:kms")) => {
            let named = headers
                .get("x-amz-server-side-encryption-aws-kms-key-id")
                .map(|v| v.to_str().unwrap_or("").trim().to_string());
            let key = match named {
                Some(id) => kms_key_name(&id)?,
                None => match &bucket.encryption {
                    Some(DefaultEncryption {
                        algorithm,
                        kms_key_id: Some(k),
                        ..
                    }) if algorithm == "aws:kms" => k.clone(),
                    _ => {
                        return Err(s3_error!(
                            InvalidArgument,
                            "x-amz-server-side-encryption: aws:kms needs x-amz-server-side-encryption-aws-kms-key-id (Spread has no AWS-managed default KMS key; create one with `spread admin kms key create` or set the bucket's default encryption to a KMSMasterKeyID)"
                        ));
                    }
                },
            };
            let extras = kms_extras(headers)?;
            Ok(Some(SseRequest::Kms(key, extras.context_map)))
        }
        (None, Some(_)) => Err(s3_error!(
            InvalidArgument,
            "The encryption method specified is not supported"
        )),
        (None, None) => Ok(match &bucket.encryption {
            Some(d) if d.algorithm == "AES256" => Some(SseRequest::Cluster),
            Some(d) if d.algorithm == "aws:kms" => {
                d.kms_key_id.clone().map(|k| SseRequest::Kms(k, None))
            }
            _ => None,
        }),
    }
}

/// The key-store name a KMS key id stands for: the id itself, or the tail of an ARN
/// (`arn:aws:kms:REGION:ACCOUNT:key/ID` → `ID`, `...:alias/NAME` → `alias/NAME`).
pub fn kms_key_name(id: &str) -> S3Result<String> {
    let name = match id.strip_prefix("arn:") {
        Some(rest) => {
            let resource = rest.splitn(5, ':').nth(4).unwrap_or("");
            resource
                .strip_prefix("key/")
                .unwrap_or(resource)
                .to_string()
        }
        None => id.to_string(),
    };
    if !meta_api::encryption::valid_kms_key_name(&name) {
        return Err(S3Error::from(crate::error::Error::Kms {
            code: "KMS.NotFoundException",
            message: format!("Invalid keyId '{id}'"),
        }));
    }
    Ok(name)
}

/// The SSE-KMS headers answered back on a write, checked as AWS checks them: the
/// encryption context (base64 of a JSON object of strings) and the bucket-key flag.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KmsExtras {
    /// The context as sent (answered back on the write).
    pub context: Option<String>,
    /// The context as a map (`None` when empty or not sent), stored with the object.
    pub context_map: Option<KmsContext>,
    pub bucket_key: Option<bool>,
}

pub fn kms_extras(headers: &HeaderMap) -> S3Result<KmsExtras> {
    let get = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().unwrap_or("").trim().to_string())
    };
    let (context, context_map) = match get("x-amz-server-side-encryption-context") {
        Some(c) => {
            // A JSON object whose values are all strings (a duplicated key keeps its last
            // value, as JSON parsers commonly do).
            let Some(map) = B64
                .decode(c.as_bytes())
                .ok()
                .and_then(|b| serde_json::from_slice::<KmsContext>(&b).ok())
            else {
                return Err(s3_error!(
                    InvalidArgument,
                    "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map"
                ));
            };
            (Some(c), (!map.is_empty()).then_some(map))
        }
        None => (None, None),
    };
    let bucket_key = match get("x-amz-server-side-encryption-bucket-key-enabled") {
        Some(v) if v.eq_ignore_ascii_case("true") => Some(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Some(false),
        Some(_) => {
            return Err(s3_error!(
                InvalidArgument,
                "x-amz-server-side-encryption-bucket-key-enabled must be true or false"
            ));
        }
        None => None,
    };
    Ok(KmsExtras {
        context,
        context_map,
        bucket_key,
    })
}

/// The encryption a part is written with: its upload's, with the SSE-C key the request sends
/// (`customer`), which must be the one the upload was created with.
pub fn part_request(
    upload: Option<&Encryption>,
    customer: Option<CustomerKey>,
) -> S3Result<Option<SseRequest>> {
    match (upload, customer) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(s3_error!(
            InvalidRequest,
            "The multipart upload was not created with a customer-provided encryption key (SSE-C)."
        )),
        (Some(e), None) if e.mode == SseMode::CustomerKey => Err(s3_error!(
            InvalidRequest,
            "The multipart upload was created with a customer-provided encryption key: the parts must be sent with the same key."
        )),
        (Some(e), Some(_)) if e.mode != SseMode::CustomerKey => Err(s3_error!(
            InvalidRequest,
            "The multipart upload was not created with a customer-provided encryption key (SSE-C)."
        )),
        (Some(e), None) if e.mode == SseMode::KmsKey => match crate::objects::sse::kms_key_of(e) {
            Some(name) => Ok(Some(SseRequest::Kms(
                name.to_string(),
                e.kms_context.clone(),
            ))),
            None => Err(s3_error!(
                InternalError,
                "The multipart upload's SSE-KMS key is not recorded."
            )),
        },
        (Some(_), None) => Ok(Some(SseRequest::Cluster)),
        (Some(e), Some(key)) => {
            let matches = e.keys.iter().all(|k| match k {
                DataKey::Derived { salt, check } => key.matches(salt, check),
                DataKey::Wrapped { .. } | DataKey::Kms { .. } => false,
            });
            if !matches {
                return Err(s3_error!(
                    InvalidRequest,
                    "The provided encryption key does not match the key the multipart upload was created with."
                ));
            }
            Ok(Some(SseRequest::Customer(key)))
        }
    }
}

/// Response headers saying how an object is encrypted: `x-amz-server-side-encryption` for
/// SSE-S3 and SSE-KMS (with the key id), the SSE-C algorithm and the key's MD5 (`customer`,
/// the request's key) for SSE-C.
#[derive(Debug, Default, Clone)]
pub struct Answered {
    pub server_side_encryption: Option<ServerSideEncryption>,
    pub sse_customer_algorithm: Option<SSECustomerAlgorithm>,
    pub sse_customer_key_md5: Option<SSECustomerKeyMD5>,
    pub ssekms_key_id: Option<SSEKMSKeyId>,
    pub bucket_key_enabled: Option<BucketKeyEnabled>,
    pub ssekms_encryption_context: Option<SSEKMSEncryptionContext>,
}

pub fn answered(enc: Option<&Encryption>, customer: Option<&CustomerKey>) -> Answered {
    match enc {
        Some(e) if e.mode == SseMode::KmsKey => Answered {
            server_side_encryption: Some(ServerSideEncryption::from_static(
                ServerSideEncryption::AWS_KMS,
            )),
            ssekms_key_id: crate::objects::sse::kms_key_of(e).map(str::to_string),
            ssekms_encryption_context: e.kms_context.as_ref().and_then(encode_context),
            ..Default::default()
        },
        _ => answered_mode(enc.map(|e| e.mode), customer),
    }
}

/// [`answered`] for the write a request made, with its SSE-KMS context and bucket-key flag
/// answered back (as AWS does on PutObject, CopyObject and CreateMultipartUpload).
pub fn answered_write(
    enc: Option<&Encryption>,
    customer: Option<&CustomerKey>,
    headers: &HeaderMap,
) -> Answered {
    let mut a = answered(enc, customer);
    if enc.is_some_and(|e| e.mode == SseMode::KmsKey) {
        // Checked by `write_request` before anything was written.
        let extras = kms_extras(headers).unwrap_or_default();
        a.ssekms_encryption_context = extras.context.or(a.ssekms_encryption_context);
        a.bucket_key_enabled = extras.bucket_key.filter(|b| *b);
    }
    a
}

/// A stored encryption context as the header answers it: base64 of its JSON object.
fn encode_context(context: &KmsContext) -> Option<String> {
    serde_json::to_vec(context).ok().map(|j| B64.encode(j))
}

/// Adds `x-amz-server-side-encryption-context` to a HEAD or GET answer (their model has no
/// such field; AWS sends the header).
pub fn context_header(headers: &mut HeaderMap, context: Option<&str>) {
    if let Some(v) = context.and_then(|c| http::HeaderValue::from_str(c).ok()) {
        headers.insert("x-amz-server-side-encryption-context", v);
    }
}

pub fn answered_mode(mode: Option<SseMode>, customer: Option<&CustomerKey>) -> Answered {
    match mode {
        Some(SseMode::ClusterKey) => Answered {
            server_side_encryption: Some(ServerSideEncryption::from_static(
                ServerSideEncryption::AES256,
            )),
            ..Default::default()
        },
        Some(SseMode::CustomerKey) => Answered {
            sse_customer_algorithm: Some("AES256".to_string()),
            sse_customer_key_md5: customer.map(|c| c.md5_base64.clone()),
            ..Default::default()
        },
        Some(SseMode::KmsKey) => Answered {
            server_side_encryption: Some(ServerSideEncryption::from_static(
                ServerSideEncryption::AWS_KMS,
            )),
            ..Default::default()
        },
        None => Answered::default(),
    }
}

/// Bucket default encryption, as a bucket setting.
pub struct BucketEncryption;

impl BucketSetting for BucketEncryption {
    type Value = DefaultEncryption;

    fn read(props: &ContainerProps) -> Option<&DefaultEncryption> {
        props.encryption.as_ref()
    }

    fn change(value: Option<DefaultEncryption>) -> SettingChange {
        SettingChange::Encryption(value)
    }

    fn missing() -> S3Error {
        let mut err = s3_error!(
            ServerSideEncryptionConfigurationNotFoundError,
            "The server side encryption configuration was not found"
        );
        err.set_status_code(http::StatusCode::NOT_FOUND);
        err
    }
}

impl FromInput<PutBucketEncryptionInput> for BucketEncryption {
    fn from_input(_: &Access, input: PutBucketEncryptionInput) -> S3Result<DefaultEncryption> {
        let [rule] = input.server_side_encryption_configuration.rules.as_slice() else {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema"
            ));
        };
        let Some(by_default) = &rule.apply_server_side_encryption_by_default else {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema"
            ));
        };
        let algorithm = by_default.sse_algorithm.as_str();
        let kms_key_id = match (algorithm, &by_default.kms_master_key_id) {
            ("AES256", None) => None,
            ("AES256", Some(_)) => {
                return Err(s3_error!(
                    InvalidArgument,
                    "a KMSMasterKeyID may only be given with the aws:kms algorithm"
                ));
            }
            ("aws:kms", Some(id)) => Some(kms_key_name(id)?),
            ("aws:kms", None) => {
                return Err(s3_error!(
                    InvalidArgument,
                    "aws:kms default encryption needs a KMSMasterKeyID: Spread has no AWS-managed default KMS key"
                ));
            }
            _ => {
                return Err(s3_error!(
                    InvalidArgument,
                    "The encryption method specified is not supported (AES256 or aws:kms)"
                ));
            }
        };
        Ok(DefaultEncryption {
            algorithm: algorithm.to_string(),
            kms_key_id,
            bucket_key: rule.bucket_key_enabled.unwrap_or(false),
        })
    }
}

impl ToOutput<GetBucketEncryptionOutput> for BucketEncryption {
    fn to_output(_: &Access, value: &DefaultEncryption) -> S3Result<GetBucketEncryptionOutput> {
        Ok(GetBucketEncryptionOutput {
            server_side_encryption_configuration: Some(ServerSideEncryptionConfiguration {
                rules: vec![ServerSideEncryptionRule {
                    apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                        sse_algorithm: ServerSideEncryption::from(value.algorithm.clone()),
                        kms_master_key_id: value.kms_key_id.clone(),
                    }),
                    bucket_key_enabled: value.bucket_key.then_some(true),
                }],
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "pO3upElrwuEXSoFwCfnZPdSsmt/xWeFa0N9KgDijwVs=";
    const MD5: &str = "DWygnHRtgiJ77HCm+1rvHw==";

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn sse_c(algorithm: Option<&str>, key: Option<&str>, md5: Option<&str>) -> HeaderMap {
        let mut pairs = Vec::new();
        if let Some(a) = algorithm {
            pairs.push(("x-amz-server-side-encryption-customer-algorithm", a));
        }
        if let Some(k) = key {
            pairs.push(("x-amz-server-side-encryption-customer-key", k));
        }
        if let Some(m) = md5 {
            pairs.push(("x-amz-server-side-encryption-customer-key-md5", m));
        }
        headers(&pairs)
    }

    fn message(r: S3Result<Option<CustomerKey>>) -> String {
        r.unwrap_err().message().unwrap_or_default().to_string()
    }

    #[test]
    fn customer_key_headers_are_checked_as_aws_does() {
        let k = customer_key(&sse_c(Some("AES256"), Some(KEY), Some(MD5)), false)
            .unwrap()
            .unwrap();
        assert_eq!(k.md5_base64, MD5);
        assert!(customer_key(&HeaderMap::new(), false).unwrap().is_none());
        // The copy-source headers are another set.
        assert!(
            customer_key(&sse_c(Some("AES256"), Some(KEY), Some(MD5)), true)
                .unwrap()
                .is_none()
        );
        assert!(
            message(customer_key(&sse_c(Some("AES256"), None, None), false)).contains("secret key")
        );
        assert!(
            message(customer_key(&sse_c(None, Some(KEY), Some(MD5)), false)).contains("algorithm")
        );
        assert!(
            message(customer_key(&sse_c(Some("AES256"), Some(KEY), None), false)).contains("MD5")
        );
        assert!(
            message(customer_key(
                &sse_c(Some("AES256"), Some(KEY), Some("AAAAAAAAAAAAAAAAAAAAAA==")),
                false
            ))
            .contains("did not match")
        );
        assert!(
            message(customer_key(
                &sse_c(Some("AES256"), Some("c2hvcnQ="), Some(MD5)),
                false
            ))
            .contains("invalid")
        );
        let e = customer_key(&sse_c(Some("AES128"), Some(KEY), Some(MD5)), false).unwrap_err();
        assert_eq!(e.code().as_str(), "InvalidEncryptionAlgorithmError");
    }

    #[test]
    fn write_requests_and_conflicts() {
        let none = ContainerProps::default();
        let mut both = sse_c(Some("AES256"), Some(KEY), Some(MD5));
        assert!(matches!(
            write_request(&both, &none),
            Ok(Some(SseRequest::Customer(_)))
        ));
        both.insert("x-amz-server-side-encryption", "AES256".parse().unwrap());
        assert!(
            write_request(&both, &none).is_err(),
            "SSE-C with SSE-S3 is refused"
        );
        let s3 = headers(&[("x-amz-server-side-encryption", "AES256")]);
        assert!(matches!(
            write_request(&s3, &none),
            Ok(Some(SseRequest::Cluster))
        ));
        let kms = headers(&[("x-amz-server-side-encryption", "aws:kms")]);
        assert!(
            write_request(&kms, &none).is_err(),
            "no AWS-managed default key"
        );
        let named = headers(&[
            ("x-amz-server-side-encryption", "aws:kms"),
            ("x-amz-server-side-encryption-aws-kms-key-id", "testkey-1"),
        ]);
        assert!(matches!(
            write_request(&named, &none),
            Ok(Some(SseRequest::Kms(k, None))) if k == "testkey-1"
        ));
        let arn = headers(&[
            ("x-amz-server-side-encryption", "aws:kms"),
            (
                "x-amz-server-side-encryption-aws-kms-key-id",
                "arn:aws:kms:us-east-1:123456789012:key/testkey-1",
            ),
        ]);
        assert!(matches!(
            write_request(&arn, &none),
            Ok(Some(SseRequest::Kms(k, None))) if k == "testkey-1"
        ));
        let bad_context = headers(&[
            ("x-amz-server-side-encryption", "aws:kms"),
            ("x-amz-server-side-encryption-aws-kms-key-id", "testkey-1"),
            ("x-amz-server-side-encryption-context", "bm90IGpzb24="),
        ]);
        assert!(write_request(&bad_context, &none).is_err());
        let kms_default = ContainerProps {
            encryption: Some(DefaultEncryption {
                algorithm: "aws:kms".into(),
                kms_key_id: Some("testkey-2".into()),
                bucket_key: false,
            }),
            ..Default::default()
        };
        assert!(matches!(
            write_request(&HeaderMap::new(), &kms_default),
            Ok(Some(SseRequest::Kms(k, None))) if k == "testkey-2"
        ));
        assert!(matches!(
            write_request(&kms, &kms_default),
            Ok(Some(SseRequest::Kms(k, None))) if k == "testkey-2"
        ));
        assert!(matches!(write_request(&HeaderMap::new(), &none), Ok(None)));
        let defaulted = ContainerProps {
            encryption: Some(DefaultEncryption {
                algorithm: "AES256".into(),
                kms_key_id: None,
                bucket_key: false,
            }),
            ..Default::default()
        };
        assert!(matches!(
            write_request(&HeaderMap::new(), &defaulted),
            Ok(Some(SseRequest::Cluster))
        ));
        // An SSE-C write to a bucket with a default is SSE-C.
        let c = sse_c(Some("AES256"), Some(KEY), Some(MD5));
        assert!(matches!(
            write_request(&c, &defaulted),
            Ok(Some(SseRequest::Customer(_)))
        ));
    }

    #[test]
    fn kms_key_ids_and_extras() {
        assert_eq!(kms_key_name("k1").unwrap(), "k1");
        assert_eq!(
            kms_key_name("arn:aws:kms:r:1:alias/app").unwrap(),
            "alias/app"
        );
        let e = kms_key_name("no such key").unwrap_err();
        assert_eq!(e.code().as_str(), "KMS.NotFoundException");
        assert_eq!(e.status_code(), Some(http::StatusCode::BAD_REQUEST));
        // {"a":"b"}
        let ok = headers(&[
            ("x-amz-server-side-encryption-context", "eyJhIjoiYiJ9"),
            ("x-amz-server-side-encryption-bucket-key-enabled", "true"),
        ]);
        assert_eq!(
            kms_extras(&ok).unwrap(),
            KmsExtras {
                context: Some("eyJhIjoiYiJ9".into()),
                context_map: Some(KmsContext::from([("a".to_string(), "b".to_string())])),
                bucket_key: Some(true)
            }
        );
        // An empty context is none; one with a value that is not a string is refused.
        let empty = headers(&[("x-amz-server-side-encryption-context", "e30=")]);
        assert_eq!(kms_extras(&empty).unwrap().context_map, None);
        // {"a":1}
        let number = headers(&[("x-amz-server-side-encryption-context", "eyJhIjoxfQ==")]);
        assert!(kms_extras(&number).is_err());
        // A write with a context asks for it; HEAD answers the stored one (keys sorted).
        // {"b":"2", "a":"1"}
        let with = headers(&[
            ("x-amz-server-side-encryption", "aws:kms"),
            ("x-amz-server-side-encryption-aws-kms-key-id", "testkey-1"),
            (
                "x-amz-server-side-encryption-context",
                "eyJiIjoiMiIsICJhIjoiMSJ9",
            ),
        ]);
        let req = write_request(&with, &ContainerProps::default())
            .unwrap()
            .unwrap();
        let enc = req.encryption();
        let stored = KmsContext::from([
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string()),
        ]);
        assert_eq!(enc.kms_context.as_ref(), Some(&stored));
        let a = answered(Some(&enc), None);
        assert_eq!(
            a.ssekms_encryption_context
                .and_then(|c| B64.decode(c).ok())
                .as_deref(),
            Some(br#"{"a":"1","b":"2"}"#.as_slice())
        );
        // The write answers the context as sent.
        let a = answered_write(Some(&enc), None, &with);
        assert_eq!(
            a.ssekms_encryption_context.as_deref(),
            Some("eyJiIjoiMiIsICJhIjoiMSJ9")
        );
        // A part of an upload with a context is written with it.
        assert!(matches!(
            part_request(Some(&enc), None),
            Ok(Some(SseRequest::Kms(k, Some(c)))) if k == "testkey-1" && c == stored
        ));
        let enc = SseRequest::Kms("k1".into(), None).encryption();
        let a = answered_write(Some(&enc), None, &ok);
        assert_eq!(a.ssekms_key_id.as_deref(), Some("k1"));
        assert_eq!(a.bucket_key_enabled, Some(true));
        assert_eq!(
            a.server_side_encryption.map(|s| s.as_str().to_string()),
            Some("aws:kms".to_string())
        );
    }
}
