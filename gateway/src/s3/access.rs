//! Authorization's decision: whether the caller of a request may do an [`Action`] on a bucket
//! (and key) — [`decide`] — and, once an operation has read the object version it acts on,
//! whether that version may be had — [`Access::read_version`], the one function every
//! operation reading a version goes through. Which action each S3 operation needs is the
//! table in `operations`, whose s3s access hook decides before the operation runs and leaves
//! the [`Access`] in the request's extensions, where the operation takes it ([`granted`]).
//!
//! Order, as in AWS: an explicit Deny of the bucket policy refuses; an Allow of the policy
//! grants; otherwise the ACLs decide — the bucket ACL for bucket-level permissions (READ
//! to list, WRITE to create and delete objects), the object ACL for reading an object or
//! its ACL (checked by [`Access::read_version`] once the record is read), and operations
//! on the bucket's configuration belong to its owner alone. The owner of a bucket or
//! object may always read and write its ACL, and manage the bucket policy.

use std::collections::BTreeMap;

use http::{HeaderMap, HeaderValue, Uri};
use meta_api::wire::{ContainerInfo, ObjectRecord};
use s3s::auth::Credentials;
use s3s::dto::TimestampFormat;
use s3s::{S3Request, S3Result, s3_error};

use super::acl::{Acl, AclExt, Perm};
use super::caller::Caller;
use super::convert::timestamp;
use super::error::s3err;
use super::policy::{self, Decision};
use super::service::SpreadS3;
use super::tags;

/// What a request does, as a bucket policy names it, and the ACL permission it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ListBucket,
    ListBucketVersions,
    ListMultipartUploads,
    ListParts,
    PutObject,
    DeleteObject,
    AbortMultipartUpload,
    GetObject,
    GetObjectAcl,
    PutObjectAcl,
    GetBucketAcl,
    PutBucketAcl,
    /// An operation on the bucket's configuration, for its owner (policy action name).
    Owner(&'static str),
}

/// The ACL permission an action needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Bucket(Perm),
    Object(Perm),
    Owner,
}

impl Action {
    /// The bucket policy action name (`s3:...`).
    pub fn name(self) -> &'static str {
        match self {
            Action::ListBucket => "s3:ListBucket",
            Action::ListBucketVersions => "s3:ListBucketVersions",
            Action::ListMultipartUploads => "s3:ListBucketMultipartUploads",
            Action::ListParts => "s3:ListMultipartUploadParts",
            Action::PutObject => "s3:PutObject",
            Action::DeleteObject => "s3:DeleteObject",
            Action::AbortMultipartUpload => "s3:AbortMultipartUpload",
            Action::GetObject => "s3:GetObject",
            Action::GetObjectAcl => "s3:GetObjectAcl",
            Action::PutObjectAcl => "s3:PutObjectAcl",
            Action::GetBucketAcl => "s3:GetBucketAcl",
            Action::PutBucketAcl => "s3:PutBucketAcl",
            Action::Owner(name) => name,
        }
    }

    fn need(self) -> Need {
        match self {
            Action::ListBucket
            | Action::ListBucketVersions
            | Action::ListMultipartUploads
            | Action::ListParts => Need::Bucket(Perm::Read),
            Action::PutObject | Action::DeleteObject | Action::AbortMultipartUpload => {
                Need::Bucket(Perm::Write)
            }
            Action::GetObject => Need::Object(Perm::Read),
            Action::GetObjectAcl => Need::Object(Perm::ReadAcp),
            Action::PutObjectAcl => Need::Object(Perm::WriteAcp),
            Action::GetBucketAcl => Need::Bucket(Perm::ReadAcp),
            Action::PutBucketAcl => Need::Bucket(Perm::WriteAcp),
            Action::Owner(_) => Need::Owner,
        }
    }
}

/// What the decision reads of a request: who signed it, and the headers and URI bucket
/// policy conditions test.
pub struct Asked<'a> {
    pub credentials: Option<&'a Credentials>,
    pub headers: &'a HeaderMap,
    pub uri: &'a Uri,
    /// The request came over TLS (`aws:SecureTransport`).
    pub secure: bool,
}

/// The answer of [`decide`]: the bucket, who asks, and the object ACL permission still to
/// check on the version the operation reads (none when the bucket-level decision granted
/// the request whole).
#[derive(Debug, Clone)]
pub struct Access {
    pub container: ContainerInfo,
    pub caller: Caller,
    object_perm: Option<Perm>,
    ignore_public_acls: bool,
}

impl Access {
    /// The bucket's ACL (stored, or the owner's default; the owner's alone when the bucket
    /// has ACLs off).
    pub fn bucket_acl(&self) -> Acl {
        match &self.container.settings.props.acl {
            Some(acl) if !super::acl::acls_disabled(&self.container) => acl.clone(),
            _ => Acl::private(&self.container.account),
        }
    }

    /// An object's ACL (stored, or the bucket owner's default; the bucket owner's alone when
    /// the bucket has ACLs off).
    pub fn object_acl(&self, rec: &ObjectRecord) -> Acl {
        match &rec.props.acl {
            Some(acl) if !super::acl::acls_disabled(&self.container) => acl.clone(),
            _ => Acl::private(&self.container.account),
        }
    }

    /// The owner of an object the caller writes: the caller, or the bucket owner for an
    /// anonymous write.
    pub fn writer(&self) -> &str {
        match &self.caller {
            Caller::Account(a) => a,
            Caller::Anonymous => &self.container.account,
        }
    }

    /// The version of `key` an operation acts on: the current one, or the one named by
    /// `version_id`; then the object-level check of the request on it.
    ///
    /// A delete marker is no object: as the current version the object is absent (meta
    /// answers 404 NoSuchKey), named by its id it answers 405 MethodNotAllowed with
    /// `x-amz-delete-marker: true` and `Allow: DELETE` — for every operation but DeleteObject
    /// (which does not read the version), as AWS does (a copy turns that 405 into its own
    /// answer, see `copy_source`). The object's ACL is then checked when the bucket-level
    /// decision left it to decide.
    pub async fn read_version(
        &self,
        s3: &SpreadS3,
        key: &str,
        version_id: Option<&str>,
    ) -> S3Result<ObjectRecord> {
        let rec = match s3
            .svc
            .meta()
            .get_object_version(&self.container.name, key, version_id)
            .await
        {
            Ok(rec) => rec,
            Err(e @ meta_api::Error::NoSuchObject(_)) => {
                return Err(self.absent(s3, key, s3err(e)).await);
            }
            Err(e) => return Err(s3err(e)),
        };
        if rec.delete_marker {
            return Err(delete_marker(&rec));
        }
        if let Some(perm) = self.object_perm
            && !self
                .object_acl(&rec)
                .allows(&self.caller, perm, self.ignore_public_acls)
        {
            return Err(denied());
        }
        Ok(rec)
    }
}

impl Access {
    /// The 404 for `key` without a current version: when its latest version is a delete
    /// marker (a versioned or suspended bucket), with `x-amz-delete-marker: true` and the
    /// marker's `x-amz-version-id`, as AWS answers.
    async fn absent(&self, s3: &SpreadS3, key: &str, mut err: s3s::S3Error) -> s3s::S3Error {
        let newest = s3
            .svc
            .meta()
            .list_versions(
                &self.container.name,
                &meta_api::wire::VersionListRequest {
                    prefix: key.to_string(),
                    delimiter: None,
                    key_marker: None,
                    version_id_marker: None,
                    max_keys: 1,
                },
            )
            .await;
        // Without the listing the plain 404 is still the right answer.
        if let Ok(reply) = newest
            && let Some(v) = reply.versions.first()
            && v.key == key
            && v.is_latest
            && v.delete_marker
        {
            let mut h = HeaderMap::new();
            h.insert("x-amz-delete-marker", HeaderValue::from_static("true"));
            if let Ok(id) = HeaderValue::from_str(&v.version_id) {
                h.insert("x-amz-version-id", id);
            }
            err.set_headers(h);
        }
        err
    }
}

/// The answer to an operation on a delete marker named by its version id.
fn delete_marker(rec: &ObjectRecord) -> s3s::S3Error {
    let mut err = s3_error!(
        MethodNotAllowed,
        "The specified method is not allowed against this resource."
    );
    let mut h = http::HeaderMap::new();
    h.insert("x-amz-delete-marker", HeaderValue::from_static("true"));
    h.insert(http::header::ALLOW, HeaderValue::from_static("DELETE"));
    if let Ok(v) = HeaderValue::from_str(&rec.version_id) {
        h.insert("x-amz-version-id", v);
    }
    let mut date = Vec::new();
    if timestamp(rec.mtime_ms)
        .format(TimestampFormat::HttpDate, &mut date)
        .is_ok()
        && let Ok(v) = HeaderValue::from_bytes(&date)
    {
        h.insert(http::header::LAST_MODIFIED, v);
    }
    err.set_headers(h);
    err
}

/// The account of a signed request for an operation outside any bucket (ListBuckets,
/// CreateBucket), as the access hook left it for the operation.
#[derive(Debug, Clone)]
pub struct AccountAccess(pub String);

/// The [`Access`] to the object a CopyObject or UploadPartCopy reads (`x-amz-copy-source`),
/// decided by the access hook together with the one to the target.
#[derive(Debug, Clone)]
pub struct SourceAccess {
    pub access: Access,
    pub bucket: String,
    pub key: String,
}

/// Takes what the access hook decided for this request ([`Access`], [`AccountAccess`] or
/// [`SourceAccess`]) out of its extensions. Missing is AccessDenied: an operation whose table
/// entry does not give it what it needs is refused, never run unchecked.
pub fn granted<X, T>(req: &mut S3Request<T>) -> S3Result<X>
where
    X: Clone + Send + Sync + 'static,
{
    req.extensions.remove::<X>().ok_or_else(|| {
        tracing::error!(
            wanted = std::any::type_name::<X>(),
            "no authorization decision for this operation"
        );
        denied()
    })
}

pub(crate) fn denied() -> s3s::S3Error {
    s3_error!(AccessDenied, "Access Denied")
}

/// Condition key prefixes for the tags of the object a request reads or changes, and for the
/// tags a PUT asks for.
const EXISTING_TAG: &str = "s3:existingobjecttag/";
const REQUEST_TAG: &str = "s3:requestobjecttag/";

/// The request values bucket policy conditions can test (lower-case keys).
fn condition_context(asked: &Asked<'_>) -> BTreeMap<String, String> {
    let mut ctx = BTreeMap::new();
    let header = |name: &str| asked.headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(v) = header("referer") {
        ctx.insert("aws:referer".to_string(), v.to_string());
    }
    if let Some(v) = header("user-agent") {
        ctx.insert("aws:useragent".to_string(), v.to_string());
    }
    for h in [
        "x-amz-acl",
        "x-amz-copy-source",
        "x-amz-metadata-directive",
        "x-amz-server-side-encryption",
        "x-amz-server-side-encryption-aws-kms-key-id",
        "x-amz-server-side-encryption-customer-algorithm",
        "x-amz-storage-class",
        "x-amz-grant-full-control",
        "x-amz-grant-read",
        "x-amz-grant-write",
        "x-amz-grant-read-acp",
        "x-amz-grant-write-acp",
    ] {
        if let Some(v) = header(h) {
            ctx.insert(format!("s3:{h}"), v.to_string());
        }
    }
    // The tags a PUT asks for (`x-amz-tagging`, URL-encoded `k=v&...`).
    // An unreadable header is refused later by the operation itself.
    if let Some(Ok(tags)) = header("x-amz-tagging").map(tags::parse_header) {
        for (k, v) in tags {
            ctx.insert(format!("{REQUEST_TAG}{}", k.to_ascii_lowercase()), v);
        }
    }
    // From the connection, never from the request (an HTTP/2 `:scheme` is the client's word).
    ctx.insert("aws:securetransport".to_string(), asked.secure.to_string());
    if let Some(q) = asked.uri.query() {
        for pair in q.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if matches!(k, "prefix" | "delimiter" | "max-keys") {
                let v = percent_encoding::percent_decode_str(&v.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned();
                ctx.insert(format!("s3:{k}"), v);
            }
        }
    }
    ctx
}

/// Whether the caller of `asked` may do `action` on `bucket` (and `key`). A missing bucket
/// is 404 NoSuchBucket for every caller, a refusal 403 AccessDenied.
pub(crate) async fn decide(
    s3: &SpreadS3,
    asked: &Asked<'_>,
    bucket: &str,
    key: Option<&str>,
    action: Action,
) -> S3Result<Access> {
    let caller = s3.creds.caller(asked.credentials).await?;
    let container = s3
        .svc
        .meta()
        .get_container_cached(bucket)
        .await
        .map_err(s3err)?;
    // `x-amz-expected-bucket-owner`: the request is for this owner's bucket only (403
    // otherwise, as AWS answers, before anything else is decided).
    if let Some(expected) = asked.headers.get("x-amz-expected-bucket-owner")
        && expected.as_bytes() != container.account.as_bytes()
    {
        return Err(denied());
    }
    let is_owner = matches!(&caller, Caller::Account(a) if *a == container.account);
    let pab = policy::public_access_block(&container);
    let need = action.need();
    let manages_policy = is_owner && action.name().ends_with("BucketPolicy");
    let mut granted = false;
    if !manages_policy && let Some(policy) = policy::stored(&container) {
        let resource = match key {
            Some(k) => format!("arn:aws:s3:::{bucket}/{k}"),
            None => format!("arn:aws:s3:::{bucket}"),
        };
        let mut ctx = condition_context(asked);
        if let Some(key) = key
            && policy.tests_key(EXISTING_TAG)
        {
            // Tags of the current version; none when there is no object yet.
            if let Ok(rec) = s3.svc.meta().get_object(bucket, key).await {
                for (k, v) in rec.props.tags {
                    ctx.insert(format!("{EXISTING_TAG}{}", k.to_ascii_lowercase()), v);
                }
            }
        }
        match policy.evaluate(&caller, action.name(), &resource, &ctx) {
            Decision::Deny => return Err(denied()),
            Decision::Allow => {
                granted = is_owner || !(pab.restrict_public_buckets && policy.is_public());
            }
            Decision::NotApplicable => {}
        }
    }
    let mut access = Access {
        ignore_public_acls: pab.ignore_public_acls,
        container,
        caller,
        object_perm: None,
    };
    if granted {
        return Ok(access);
    }
    let ok = match need {
        Need::Owner => is_owner,
        Need::Bucket(perm) => {
            access
                .bucket_acl()
                .allows(&access.caller, perm, access.ignore_public_acls)
        }
        Need::Object(perm) => {
            access.object_perm = Some(perm);
            true
        }
    };
    if ok { Ok(access) } else { Err(denied()) }
}
