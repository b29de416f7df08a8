//! Who may call each S3 operation, in one table: [`OPERATIONS`] gives every operation s3s
//! knows (by the name s3s gives it) the [`Rule`] it needs — a bucket-level [`Action`], a signed
//! account and no bucket, or "not implemented". [`OperationAccess`], the s3s access hook,
//! checks it for every request before the operation runs (s3s calls it once the signature is
//! checked, before reading the body), with the decision of `access`; browser form uploads,
//! which the gateway serves in front of s3s, go through the same [`grant`]. An operation with
//! no entry is refused (AccessDenied).
//!
//! The decision is handed to the operation in the request's extensions: its handler takes it
//! with `access::granted` (an [`Access`] to the bucket, an [`AccountAccess`], or for a copy
//! also a [`SourceAccess`]), and reads any object version it acts on through
//! `Access::read_version`, where the object-level check (object ACL, delete markers) runs.
//! Handlers never decide bucket-level access themselves.
//!
//! Adding an S3 operation: implement it in `mod.rs`, change its entry here from
//! `NotImplemented` to what it needs, take the decision in its handler. The unit tests read
//! s3s's own source and fail when an operation has no entry, when an entry names no s3s
//! operation, or when an entry says `NotImplemented` for an implemented operation (or the
//! reverse).

use http::Extensions;
use s3s::access::{S3Access, S3AccessContext};
use s3s::dto::CopySource;
use s3s::path::S3Path;
use s3s::{S3Result, s3_error};

use super::access::{Access, AccountAccess, Action, Asked, SourceAccess, decide, denied};
use super::service::SpreadS3;
use crate::listener::Exchange;

/// What an operation needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// This action on the bucket the request names (and its key, when it names one).
    Bucket(Action),
    /// CopyObject, UploadPartCopy: this action on the target, and `GetObject` on the object
    /// `x-amz-copy-source` names.
    Copy(Action),
    /// A signed request of an account, on no bucket: the operation acts for that account.
    Account,
    /// Spread does not implement the operation: 501 NotImplemented for every caller, as s3s's
    /// default method answers.
    NotImplemented,
}

/// An operation on the bucket's configuration, for its owner (and whom the bucket policy
/// allows `name`).
const fn owner(name: &'static str) -> Rule {
    Rule::Bucket(Action::Owner(name))
}

const fn bucket(action: Action) -> Rule {
    Rule::Bucket(action)
}

use Rule::{Account, NotImplemented};

/// Every s3s operation and what it needs, by s3s operation name (sorted).
pub const OPERATIONS: &[(&str, Rule)] = &[
    ("AbortMultipartUpload", bucket(Action::AbortMultipartUpload)),
    ("CompleteMultipartUpload", bucket(Action::PutObject)),
    ("CopyObject", Rule::Copy(Action::PutObject)),
    ("CreateBucket", Account),
    ("CreateBucketMetadataTableConfiguration", NotImplemented),
    ("CreateMultipartUpload", bucket(Action::PutObject)),
    ("CreateSession", NotImplemented),
    ("DeleteBucket", owner("s3:DeleteBucket")),
    ("DeleteBucketAnalyticsConfiguration", NotImplemented),
    ("DeleteBucketCors", owner("s3:PutBucketCORS")),
    (
        "DeleteBucketEncryption",
        owner("s3:PutEncryptionConfiguration"),
    ),
    (
        "DeleteBucketIntelligentTieringConfiguration",
        NotImplemented,
    ),
    ("DeleteBucketInventoryConfiguration", NotImplemented),
    (
        "DeleteBucketLifecycle",
        owner("s3:PutLifecycleConfiguration"),
    ),
    ("DeleteBucketMetadataTableConfiguration", NotImplemented),
    ("DeleteBucketMetricsConfiguration", NotImplemented),
    (
        "DeleteBucketOwnershipControls",
        owner("s3:PutBucketOwnershipControls"),
    ),
    ("DeleteBucketPolicy", owner("s3:DeleteBucketPolicy")),
    ("DeleteBucketReplication", NotImplemented),
    ("DeleteBucketTagging", owner("s3:PutBucketTagging")),
    ("DeleteBucketWebsite", NotImplemented),
    ("DeleteObject", bucket(Action::DeleteObject)),
    ("DeleteObjectTagging", owner("s3:DeleteObjectTagging")),
    ("DeleteObjects", bucket(Action::DeleteObject)),
    (
        "DeletePublicAccessBlock",
        owner("s3:PutBucketPublicAccessBlock"),
    ),
    ("GetBucketAccelerateConfiguration", NotImplemented),
    ("GetBucketAcl", bucket(Action::GetBucketAcl)),
    ("GetBucketAnalyticsConfiguration", NotImplemented),
    ("GetBucketCors", owner("s3:GetBucketCORS")),
    (
        "GetBucketEncryption",
        owner("s3:GetEncryptionConfiguration"),
    ),
    ("GetBucketIntelligentTieringConfiguration", NotImplemented),
    ("GetBucketInventoryConfiguration", NotImplemented),
    (
        "GetBucketLifecycleConfiguration",
        owner("s3:GetLifecycleConfiguration"),
    ),
    ("GetBucketLocation", owner("s3:GetBucketLocation")),
    ("GetBucketLogging", NotImplemented),
    ("GetBucketMetadataTableConfiguration", NotImplemented),
    ("GetBucketMetricsConfiguration", NotImplemented),
    ("GetBucketNotificationConfiguration", NotImplemented),
    (
        "GetBucketOwnershipControls",
        owner("s3:GetBucketOwnershipControls"),
    ),
    ("GetBucketPolicy", owner("s3:GetBucketPolicy")),
    ("GetBucketPolicyStatus", owner("s3:GetBucketPolicyStatus")),
    ("GetBucketReplication", NotImplemented),
    ("GetBucketRequestPayment", NotImplemented),
    ("GetBucketTagging", owner("s3:GetBucketTagging")),
    ("GetBucketVersioning", owner("s3:GetBucketVersioning")),
    ("GetBucketWebsite", NotImplemented),
    ("GetObject", bucket(Action::GetObject)),
    ("GetObjectAcl", bucket(Action::GetObjectAcl)),
    ("GetObjectAttributes", bucket(Action::GetObject)),
    ("GetObjectLegalHold", owner("s3:GetObjectLegalHold")),
    (
        "GetObjectLockConfiguration",
        owner("s3:GetBucketObjectLockConfiguration"),
    ),
    ("GetObjectRetention", owner("s3:GetObjectRetention")),
    ("GetObjectTagging", owner("s3:GetObjectTagging")),
    ("GetObjectTorrent", NotImplemented),
    (
        "GetPublicAccessBlock",
        owner("s3:GetBucketPublicAccessBlock"),
    ),
    ("HeadBucket", bucket(Action::ListBucket)),
    ("HeadObject", bucket(Action::GetObject)),
    ("ListBucketAnalyticsConfigurations", NotImplemented),
    ("ListBucketIntelligentTieringConfigurations", NotImplemented),
    ("ListBucketInventoryConfigurations", NotImplemented),
    ("ListBucketMetricsConfigurations", NotImplemented),
    ("ListBuckets", Account),
    ("ListDirectoryBuckets", NotImplemented),
    ("ListMultipartUploads", bucket(Action::ListMultipartUploads)),
    ("ListObjectVersions", bucket(Action::ListBucketVersions)),
    ("ListObjects", bucket(Action::ListBucket)),
    ("ListObjectsV2", bucket(Action::ListBucket)),
    ("ListParts", bucket(Action::ListParts)),
    // Form uploads: served in front of s3s (`post_object`), through `grant` with this entry.
    ("PostObject", bucket(Action::PutObject)),
    ("PutBucketAccelerateConfiguration", NotImplemented),
    ("PutBucketAcl", bucket(Action::PutBucketAcl)),
    ("PutBucketAnalyticsConfiguration", NotImplemented),
    ("PutBucketCors", owner("s3:PutBucketCORS")),
    (
        "PutBucketEncryption",
        owner("s3:PutEncryptionConfiguration"),
    ),
    ("PutBucketIntelligentTieringConfiguration", NotImplemented),
    ("PutBucketInventoryConfiguration", NotImplemented),
    (
        "PutBucketLifecycleConfiguration",
        owner("s3:PutLifecycleConfiguration"),
    ),
    ("PutBucketLogging", NotImplemented),
    ("PutBucketMetricsConfiguration", NotImplemented),
    ("PutBucketNotificationConfiguration", NotImplemented),
    (
        "PutBucketOwnershipControls",
        owner("s3:PutBucketOwnershipControls"),
    ),
    ("PutBucketPolicy", owner("s3:PutBucketPolicy")),
    ("PutBucketReplication", NotImplemented),
    ("PutBucketRequestPayment", NotImplemented),
    ("PutBucketTagging", owner("s3:PutBucketTagging")),
    ("PutBucketVersioning", owner("s3:PutBucketVersioning")),
    ("PutBucketWebsite", NotImplemented),
    ("PutObject", bucket(Action::PutObject)),
    ("PutObjectAcl", bucket(Action::PutObjectAcl)),
    ("PutObjectLegalHold", owner("s3:PutObjectLegalHold")),
    (
        "PutObjectLockConfiguration",
        owner("s3:PutBucketObjectLockConfiguration"),
    ),
    ("PutObjectRetention", owner("s3:PutObjectRetention")),
    ("PutObjectTagging", owner("s3:PutObjectTagging")),
    (
        "PutPublicAccessBlock",
        owner("s3:PutBucketPublicAccessBlock"),
    ),
    ("RestoreObject", NotImplemented),
    ("SelectObjectContent", NotImplemented),
    ("UploadPart", bucket(Action::PutObject)),
    ("UploadPartCopy", Rule::Copy(Action::PutObject)),
    ("WriteGetObjectResponse", NotImplemented),
];

/// The rule of the operation s3s names `op` (none: not in the table).
pub fn rule(op: &str) -> Option<Rule> {
    OPERATIONS
        .iter()
        .find(|(name, _)| *name == op)
        .map(|(_, rule)| *rule)
}

/// The operation s3s names `op`, as a static name (a metric label) from the table
/// ("unknown" for one not in it).
pub fn static_name(op: &str) -> &'static str {
    OPERATIONS
        .iter()
        .find(|(name, _)| *name == op)
        .map_or(crate::observe::UNKNOWN_OPERATION, |(name, _)| *name)
}

/// Decides whether the caller of `asked` may do the operation `op` on `bucket` (and `key`),
/// by its table entry, and leaves the decision in `extensions` for the operation. Refuses an
/// operation without an entry.
pub(crate) async fn grant(
    s3: &SpreadS3,
    op: &str,
    asked: &Asked<'_>,
    bucket: Option<&str>,
    key: Option<&str>,
    extensions: &mut Extensions,
) -> S3Result<()> {
    let Some(rule) = rule(op) else {
        tracing::error!(op, "operation without an authorization rule refused");
        return Err(denied());
    };
    match rule {
        Rule::NotImplemented => Err(s3_error!(NotImplemented, "{op} is not implemented yet")),
        Rule::Account => match s3.creds.caller(asked.credentials).await? {
            super::caller::Caller::Account(account) => {
                extensions.insert(AccountAccess(account));
                Ok(())
            }
            super::caller::Caller::Anonymous => {
                Err(s3_error!(AccessDenied, "Anonymous access is not allowed"))
            }
        },
        Rule::Bucket(action) => {
            let bucket = bucket.ok_or_else(denied)?;
            extensions.insert::<Access>(decide(s3, asked, bucket, key, action).await?);
            Ok(())
        }
        Rule::Copy(action) => {
            let bucket = bucket.ok_or_else(denied)?;
            let target = decide(s3, asked, bucket, key, action).await?;
            // A header s3s cannot parse is refused by s3s itself when it reads the input; a
            // source that is no bucket object is refused by the operation (NotImplemented).
            let source = asked
                .headers
                .get("x-amz-copy-source")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| CopySource::parse(v).ok());
            if let Some(CopySource::Bucket { bucket, key, .. }) = source {
                let access = decide(s3, asked, &bucket, Some(&key), Action::GetObject).await?;
                extensions.insert(SourceAccess {
                    access,
                    bucket: bucket.into(),
                    key: key.into(),
                });
            }
            extensions.insert::<Access>(target);
            Ok(())
        }
    }
}

/// The operations whose body s3s streams to the operation (object data); s3s reads the body
/// of every other one into memory before the operation runs.
const STREAMED: &[&str] = &["PutObject", "UploadPart", "PostObject"];

/// How much of a request body s3s may read into memory.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// For a signed request (the signature is checked before the body is read).
    pub signed: u64,
    /// For an unsigned one.
    pub anonymous: u64,
}

/// Put in a request's extensions (before s3s) when its body has no length announced
/// (chunked transfer encoding, or HTTP/2 without `content-length`).
#[derive(Debug, Clone, Copy)]
pub struct UnknownBodyLength;

/// Refuses, before anything of it is read, a body s3s would read into memory and that is
/// larger than the limit for its caller (400 MaxMessageLengthExceeded), or of unknown length
/// (411 MissingContentLength, which s3s would answer after reading it anyway).
pub(crate) fn check_body(
    op: &str,
    signed: bool,
    headers: &http::HeaderMap,
    unknown_length: bool,
    limits: BodyLimits,
) -> S3Result<()> {
    if STREAMED.contains(&op) {
        return Ok(());
    }
    let cap = if signed {
        limits.signed
    } else {
        limits.anonymous
    };
    let announced = headers
        .get(http::header::CONTENT_LENGTH)
        .map(|v| v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()));
    match announced {
        Some(Some(n)) if n > cap => Err(s3_error!(
            MaxMessageLengthExceeded,
            "Your request was too big: {n} bytes, at most {cap} are accepted for {op}{}.",
            if signed { "" } else { " without a signature" }
        )),
        Some(Some(_)) => Ok(()),
        Some(None) => Err(s3_error!(InvalidArgument, "Invalid Content-Length")),
        None if unknown_length => Err(s3_error!(
            MissingContentLength,
            "You must provide the Content-Length HTTP header."
        )),
        None => Ok(()),
    }
}

/// The s3s access hook: [`grant`] for every request s3s serves, unsigned ones included (an
/// anonymous request may be allowed by ACLs or the bucket policy, and one for a missing
/// bucket gets 404 NoSuchBucket like a signed one). s3s calls it after the signature check
/// and before it reads a body into memory; [`check_body`] runs first, so an oversized body is
/// refused before anything is read or asked of meta.
pub struct OperationAccess(pub SpreadS3, pub BodyLimits);

#[async_trait::async_trait]
impl S3Access for OperationAccess {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let unknown_length = cx.extensions_mut().get::<UnknownBodyLength>().is_some();
        // The operation (and for the access log, who asks for what) as the listener records it.
        if let Some(x) = cx.extensions_mut().get::<Exchange>().cloned() {
            x.set_operation(static_name(cx.s3_op().name()));
            if x.wants_names() {
                let (bucket, key) = match cx.s3_path() {
                    S3Path::Root => (None, None),
                    S3Path::Bucket { bucket } => (Some(&**bucket), None),
                    S3Path::Object { bucket, key } => (Some(&**bucket), Some(&**key)),
                };
                x.set_target(bucket, key);
                match self.0.creds.caller(cx.credentials()).await {
                    Ok(super::caller::Caller::Account(account)) => x.set_account(&account),
                    Ok(super::caller::Caller::Anonymous) => {}
                    Err(_) => {
                        if let Some(c) = cx.credentials() {
                            x.set_account(&c.access_key);
                        }
                    }
                }
            }
        }
        check_body(
            cx.s3_op().name(),
            cx.credentials().is_some(),
            cx.headers(),
            unknown_length,
            self.1,
        )?;
        let mut extensions = Extensions::new();
        let secure = cx
            .extensions_mut()
            .get::<crate::listener::Secure>()
            .is_some();
        {
            let (bucket, key) = match cx.s3_path() {
                S3Path::Root => (None, None),
                S3Path::Bucket { bucket } => (Some(&**bucket), None),
                S3Path::Object { bucket, key } => (Some(&**bucket), Some(&**key)),
            };
            let asked = Asked {
                credentials: cx.credentials(),
                headers: cx.headers(),
                uri: cx.uri(),
                secure,
            };
            let op = cx.s3_op().name();
            grant(&self.0, op, &asked, bucket, key, &mut extensions).await?;
        }
        cx.extensions_mut().extend(extensions);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! The table against s3s itself: its operations are read from the s3s crate the gateway
    //! is built with (located through `cargo metadata`), never listed by hand.

    use std::collections::{BTreeMap, BTreeSet};
    use std::path::PathBuf;
    use std::process::Command;

    use super::*;

    /// The source directory of the s3s crate in the dependency graph.
    fn s3s_src() -> PathBuf {
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
        let vv = Command::new(&rustc).arg("-vV").output().expect("rustc -vV");
        let vv = String::from_utf8(vv.stdout).expect("rustc -vV output");
        let host = vv
            .lines()
            .find_map(|l| l.strip_prefix("host: "))
            .expect("host triple in rustc -vV");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let out = Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--offline"])
            .args(["--filter-platform", host.trim()])
            .args([
                "--manifest-path",
                concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
            ])
            .output()
            .expect("cargo metadata");
        assert!(
            out.status.success(),
            "cargo metadata: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
        let s3s: Vec<&serde_json::Value> = meta["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .filter(|p| p["name"] == "s3s")
            .collect();
        assert_eq!(s3s.len(), 1, "one s3s in the dependency graph");
        let manifest = PathBuf::from(s3s[0]["manifest_path"].as_str().expect("manifest_path"));
        manifest.parent().expect("crate directory").join("src")
    }

    fn read(path: PathBuf) -> String {
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The operation names s3s routes requests to (`S3Operation::name`, what the access hook
    /// sees), from its generated operations.
    fn s3s_operations(src: &str) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        let mut lines = src.lines();
        while let Some(line) = lines.next() {
            if line.contains("fn name(&self) -> &'static str") {
                let name = lines.next().expect("the name follows").trim();
                names.insert(name.trim_matches('"').to_string());
            }
        }
        names
    }

    /// The `async fn` names of a source text (a trait or an impl), in the order written.
    fn async_fns(src: &str) -> Vec<String> {
        src.lines()
            .filter_map(|l| l.trim_start().strip_prefix("async fn "))
            .map(|rest| rest.split(['(', '<']).next().unwrap_or(rest).to_string())
            .collect()
    }

    /// `ListObjectsV2` → `list_objects_v2`: the S3 trait's method of an operation.
    fn snake(name: &str) -> String {
        let mut out = String::new();
        let mut prev_lower = false;
        for c in name.chars() {
            if c.is_ascii_uppercase() {
                if prev_lower {
                    out.push('_');
                }
                out.push(c.to_ascii_lowercase());
                prev_lower = false;
            } else {
                out.push(c);
                prev_lower = true;
            }
        }
        out
    }

    #[test]
    fn snake_names() {
        assert_eq!(snake("ListObjectsV2"), "list_objects_v2");
        assert_eq!(snake("GetBucketCors"), "get_bucket_cors");
        assert_eq!(snake("PostObject"), "post_object");
    }

    #[test]
    fn every_s3s_operation_has_exactly_one_entry() {
        let src = s3s_src();
        let ops = s3s_operations(&read(src.join("ops/generated.rs")));
        assert!(ops.len() > 90, "too few s3s operations found: {ops:?}");
        let mut seen = BTreeSet::new();
        for (name, _) in OPERATIONS {
            assert!(seen.insert(*name), "{name} has two entries");
        }
        let missing: Vec<&String> = ops.iter().filter(|o| rule(o).is_none()).collect();
        assert!(
            missing.is_empty(),
            "s3s operations without an entry: {missing:?}"
        );
        let unknown: Vec<&&str> = seen.iter().filter(|n| !ops.contains(**n)).collect();
        assert!(
            unknown.is_empty(),
            "entries for no s3s operation: {unknown:?}"
        );
        // Each operation is a method of s3s's S3 trait under its snake_case name.
        let methods: BTreeSet<String> = async_fns(&read(src.join("s3_trait.rs")))
            .into_iter()
            .collect();
        for op in &ops {
            assert!(methods.contains(&snake(op)), "{op}: no S3 method");
        }
    }

    #[test]
    fn not_implemented_entries_are_the_operations_spread_lacks() {
        let src = s3s_src();
        let ops = s3s_operations(&read(src.join("ops/generated.rs")));
        let trait_src = read(src.join("s3_trait.rs"));
        // s3s's default method answers "<Op> is not implemented yet" (PostObject's calls
        // put_object instead).
        let default_refuses =
            |op: &str| trait_src.contains(&format!("\"{op} is not implemented yet\""));
        let ours: BTreeSet<String> = async_fns(include_str!("mod.rs")).into_iter().collect();
        let mut wrong = BTreeMap::new();
        for op in &ops {
            let implemented = ours.contains(&snake(op)) || !default_refuses(op);
            let entry = rule(op);
            if implemented == (entry == Some(NotImplemented)) {
                wrong.insert(op.clone(), entry);
            }
        }
        assert!(
            wrong.is_empty(),
            "entries that disagree with what Spread implements: {wrong:?}"
        );
        assert!(ours.contains("get_object") && ops.contains("GetObject"));
    }

    #[test]
    fn bodies_read_into_memory_are_bounded_before_reading() {
        let limits = BodyLimits {
            signed: 1000,
            anonymous: 10,
        };
        let with_length = |n: &str| {
            let mut h = http::HeaderMap::new();
            h.insert(
                http::header::CONTENT_LENGTH,
                http::HeaderValue::from_str(n).expect("header"),
            );
            h
        };
        let code = |r: S3Result<()>| r.err().map(|e| e.code().as_str().to_string());
        // Signed: up to its cap; past it 400 MaxMessageLengthExceeded (s3s's 400 code).
        assert_eq!(
            code(check_body(
                "DeleteObjects",
                true,
                &with_length("1000"),
                false,
                limits
            )),
            None
        );
        let past = check_body("DeleteObjects", true, &with_length("1001"), false, limits);
        let err = past.expect_err("over the cap");
        assert_eq!(err.code().as_str(), "MaxMessageLengthExceeded");
        assert_eq!(err.status_code(), Some(http::StatusCode::BAD_REQUEST));
        // Unsigned: the small cap.
        assert_eq!(
            code(check_body(
                "PutBucketTagging",
                false,
                &with_length("11"),
                false,
                limits
            ))
            .as_deref(),
            Some("MaxMessageLengthExceeded")
        );
        assert_eq!(
            code(check_body(
                "PutBucketTagging",
                false,
                &with_length("10"),
                false,
                limits
            )),
            None
        );
        // Object data is streamed, never bounded here.
        assert_eq!(
            code(check_body(
                "PutObject",
                false,
                &with_length("99999999"),
                true,
                limits
            )),
            None
        );
        assert_eq!(
            code(check_body(
                "UploadPart",
                true,
                &with_length("99999999"),
                false,
                limits
            )),
            None
        );
        // A body of unknown length to be read into memory: 411 before reading.
        assert_eq!(
            code(check_body(
                "DeleteObjects",
                true,
                &http::HeaderMap::new(),
                true,
                limits
            ))
            .as_deref(),
            Some("MissingContentLength")
        );
        assert_eq!(
            code(check_body(
                "GetObject",
                false,
                &http::HeaderMap::new(),
                false,
                limits
            )),
            None
        );
    }

    #[test]
    fn operations_outside_buckets_are_the_account_ones() {
        let account: Vec<&str> = OPERATIONS
            .iter()
            .filter(|(_, r)| *r == Account)
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(account, ["CreateBucket", "ListBuckets"]);
        assert_eq!(rule("NoSuchOperation"), None);
    }
}
