//! Authorization: every S3 operation on a bucket asks [`SpreadS3::authorize`] whether its
//! caller (an account, or anonymous for an unsigned request) may do it.
//!
//! Order, as in AWS: an explicit Deny of the bucket policy refuses; an Allow of the policy
//! grants; otherwise the ACLs decide — the bucket ACL for bucket-level permissions (READ
//! to list, WRITE to create and delete objects), the object ACL for reading an object or
//! its ACL (checked by [`Access::check_object`] once the record is read), and operations
//! on the bucket's configuration belong to its owner alone. The owner of a bucket or
//! object may always read and write its ACL, and manage the bucket policy.

use std::collections::BTreeMap;

use meta::wire::{ContainerInfo, ObjectRecord, tags_of};
use s3s::{S3Request, S3Result, s3_error};

use super::SpreadS3;
use super::acl::{Acl, BUCKET_ACL_PROP, OBJECT_ACL_PROP, Perm};
use super::bucket_policy::{self, Decision};
use super::error::s3err;

/// Who sends a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An unsigned request.
    Anonymous,
    /// A signed request of this account.
    Account(String),
}

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

/// The answer of [`SpreadS3::authorize`]: the bucket, who asks, and whether the request is
/// already granted (object-level permissions still wait for [`Access::check_object`]).
#[derive(Debug, Clone)]
pub struct Access {
    pub container: ContainerInfo,
    pub caller: Caller,
    granted: bool,
    need: Need,
    ignore_public_acls: bool,
}

impl Access {
    /// The bucket's ACL (stored, or the owner's default).
    pub fn bucket_acl(&self) -> Acl {
        Acl::stored(
            &self.container.settings.properties,
            BUCKET_ACL_PROP,
            &self.container.account,
        )
    }

    /// An object's ACL (stored, or the bucket owner's default).
    pub fn object_acl(&self, rec: &ObjectRecord) -> Acl {
        Acl::stored(&rec.props, OBJECT_ACL_PROP, &self.container.account)
    }

    /// Whether the object-level permission of the request is granted on `rec`.
    pub fn check_object(&self, rec: &ObjectRecord) -> S3Result<()> {
        if self.granted {
            return Ok(());
        }
        match self.need {
            Need::Object(perm)
                if self
                    .object_acl(rec)
                    .allows(&self.caller, perm, self.ignore_public_acls) =>
            {
                Ok(())
            }
            _ => Err(denied()),
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
}

fn denied() -> s3s::S3Error {
    s3_error!(AccessDenied, "Access Denied")
}

/// Condition key prefixes for the tags of the object a request reads or changes, and for the
/// tags a PUT asks for.
const EXISTING_TAG: &str = "s3:existingobjecttag/";
const REQUEST_TAG: &str = "s3:requestobjecttag/";

/// The request values bucket policy conditions can test (lower-case keys).
fn condition_context<T>(req: &S3Request<T>) -> BTreeMap<String, String> {
    let mut ctx = BTreeMap::new();
    let header = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok());
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
    if let Some(Ok(tags)) = header("x-amz-tagging").map(super::tagging::parse_header) {
        for (k, v) in tags {
            ctx.insert(format!("{REQUEST_TAG}{}", k.to_ascii_lowercase()), v);
        }
    }
    let secure = req.uri.scheme_str() == Some("https");
    ctx.insert("aws:securetransport".to_string(), secure.to_string());
    if let Some(q) = req.uri.query() {
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

impl SpreadS3 {
    /// The bucket, for a configuration operation only its owner may do (tagging, CORS,
    /// lifecycle): the bucket policy's explicit Deny still applies.
    pub(crate) async fn owned_bucket<T>(
        &self,
        req: &S3Request<T>,
        bucket: &str,
    ) -> S3Result<ContainerInfo> {
        Ok(self
            .authorize(
                req,
                bucket,
                None,
                Action::Owner("s3:PutBucketConfiguration"),
            )
            .await?
            .container)
    }

    /// Who sends the request: anonymous when unsigned (s3s has already checked signatures).
    pub(crate) async fn caller<T>(&self, req: &S3Request<T>) -> S3Result<Caller> {
        match req.credentials.as_ref() {
            None => Ok(Caller::Anonymous),
            Some(c) => Ok(Caller::Account(
                self.creds.lookup(&c.access_key).await?.account,
            )),
        }
    }

    /// Whether the caller of `req` may do `action` on `bucket` (and `key`). A missing
    /// bucket is 404 NoSuchBucket for every caller, a refusal 403 AccessDenied.
    pub(crate) async fn authorize<T>(
        &self,
        req: &S3Request<T>,
        bucket: &str,
        key: Option<&str>,
        action: Action,
    ) -> S3Result<Access> {
        let caller = self.caller(req).await?;
        let container = self
            .svc
            .meta()
            .get_container_cached(bucket)
            .await
            .map_err(s3err)?;
        let is_owner = matches!(&caller, Caller::Account(a) if *a == container.account);
        let pab = bucket_policy::public_access_block(&container);
        let need = action.need();
        let manages_policy = is_owner && action.name().ends_with("BucketPolicy");
        let mut granted = false;
        if !manages_policy && let Some(policy) = bucket_policy::stored(&container) {
            let resource = match key {
                Some(k) => format!("arn:aws:s3:::{bucket}/{k}"),
                None => format!("arn:aws:s3:::{bucket}"),
            };
            let mut ctx = condition_context(req);
            if let Some(key) = key
                && policy.tests_key(EXISTING_TAG)
            {
                // Tags of the current version; none when there is no object yet.
                if let Ok(rec) = self.svc.meta().get_object(bucket, key).await {
                    for (k, v) in tags_of(&rec.props) {
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
        let access = Access {
            ignore_public_acls: pab.ignore_public_acls,
            container,
            caller,
            granted,
            need,
        };
        if access.granted {
            return Ok(access);
        }
        let ok = match need {
            Need::Owner => is_owner,
            Need::Bucket(perm) => {
                access
                    .bucket_acl()
                    .allows(&access.caller, perm, access.ignore_public_acls)
            }
            Need::Object(_) => true,
        };
        if ok { Ok(access) } else { Err(denied()) }
    }
}
