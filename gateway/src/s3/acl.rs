//! S3 access control lists: the model (grants, who they let do what), canned ACLs,
//! `x-amz-grant-*` headers and AccessControlPolicy bodies. The Get/Put Bucket/Object ACL
//! operations are in `acl_ops`; `access` checks ACLs for every request.
//!
//! A bucket's ACL is its typed `acl` setting, an object version's its typed `acl` property
//! (written with the object at PUT time).
//! A bucket or object without a stored ACL has the default one: its owner with FULL_CONTROL.
//! Grantees are accounts (the canonical id, display name and e-mail address of an account
//! are all its name) or the AllUsers / AuthenticatedUsers / LogDelivery groups.

use s3s::dto::{self, *};
use s3s::{S3Result, s3_error};

use super::caller::Caller;
use super::convert::owner;
use super::error::s3err;
use super::policy::public_access_block;
use super::service::SpreadS3;

pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
pub const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
pub const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

use meta_api::settings::VersionProps;
pub use meta_api::settings::{Acl, AclGrant, Grantee, Perm};

/// What the S3 front end does with an [`Acl`] (the type is the bucket setting's, in
/// `meta_api::settings`).
pub trait AclExt {
    /// Whether the ACL gives `caller` the permission `wanted`. The owner always may read
    /// and write the ACL itself. With `ignore_public`, grants to the groups are skipped.
    fn allows(&self, caller: &Caller, wanted: Perm, ignore_public: bool) -> bool;
    /// Whether any grant is for AllUsers or AuthenticatedUsers.
    fn is_public(&self) -> bool;
    /// The S3 form: owner and grants.
    fn to_dto(&self) -> (Owner, Vec<Grant>);
}

impl AclExt for Acl {
    fn allows(&self, caller: &Caller, wanted: Perm, ignore_public: bool) -> bool {
        if let Caller::Account(a) = caller
            && *a == self.owner
            && matches!(wanted, Perm::ReadAcp | Perm::WriteAcp)
        {
            return true;
        }
        self.grants.iter().any(|g| {
            g.perm.covers(wanted)
                && match &g.grantee {
                    Grantee::User(id) => matches!(caller, Caller::Account(a) if a == id),
                    Grantee::Group(_) if ignore_public => false,
                    Grantee::Group(uri) if uri == ALL_USERS => true,
                    Grantee::Group(uri) if uri == AUTHENTICATED_USERS => {
                        matches!(caller, Caller::Account(_))
                    }
                    Grantee::Group(_) => false,
                }
        })
    }

    fn is_public(&self) -> bool {
        self.grants.iter().any(|g| {
            matches!(&g.grantee, Grantee::Group(u) if u == ALL_USERS || u == AUTHENTICATED_USERS)
        })
    }

    fn to_dto(&self) -> (Owner, Vec<Grant>) {
        let grants = self
            .grants
            .iter()
            .map(|g| Grant {
                grantee: Some(match &g.grantee {
                    Grantee::User(id) => dto::Grantee {
                        display_name: Some(id.clone()),
                        email_address: None,
                        id: Some(id.clone()),
                        type_: Type::from_static(Type::CANONICAL_USER),
                        uri: None,
                    },
                    Grantee::Group(uri) => dto::Grantee {
                        display_name: None,
                        email_address: None,
                        id: None,
                        type_: Type::from_static(Type::GROUP),
                        uri: Some(uri.clone()),
                    },
                }),
                permission: Some(Permission::from(g.perm.as_str().to_string())),
            })
            .collect();
        (owner(&self.owner), grants)
    }
}

/// The ACL a canned ACL name stands for; `bucket_owner` is used by the bucket-owner-* ones.
/// An unknown name is 400 InvalidArgument.
pub fn canned(name: &str, owner: &str, bucket_owner: &str) -> S3Result<Acl> {
    // The owner's grant goes last, after the ones the canned ACL adds (AWS's order).
    let mut acl = Acl {
        owner: owner.to_string(),
        grants: Vec::new(),
    };
    let mut add = |grantee: Grantee, perm: Perm| acl.grants.push(AclGrant { grantee, perm });
    match name {
        "private" | "aws-exec-read" => {}
        "public-read" => add(Grantee::Group(ALL_USERS.into()), Perm::Read),
        "public-read-write" => {
            add(Grantee::Group(ALL_USERS.into()), Perm::Read);
            add(Grantee::Group(ALL_USERS.into()), Perm::Write);
        }
        "authenticated-read" => add(Grantee::Group(AUTHENTICATED_USERS.into()), Perm::Read),
        "log-delivery-write" => {
            add(Grantee::Group(LOG_DELIVERY.into()), Perm::Write);
            add(Grantee::Group(LOG_DELIVERY.into()), Perm::ReadAcp);
        }
        "bucket-owner-read" => {
            if bucket_owner != owner {
                add(Grantee::User(bucket_owner.into()), Perm::Read);
            }
        }
        "bucket-owner-full-control" => {
            if bucket_owner != owner {
                add(Grantee::User(bucket_owner.into()), Perm::FullControl);
            }
        }
        _ => {
            return Err(s3_error!(
                InvalidArgument,
                "The canned ACL you provided is not valid"
            ));
        }
    }
    acl.grants.push(AclGrant {
        grantee: Grantee::User(owner.to_string()),
        perm: Perm::FullControl,
    });
    Ok(acl)
}

/// The `x-amz-grant-*` header values of a request, by permission.
#[derive(Default)]
pub struct GrantHeaders<'a> {
    pub full_control: Option<&'a str>,
    pub read: Option<&'a str>,
    pub read_acp: Option<&'a str>,
    pub write: Option<&'a str>,
    pub write_acp: Option<&'a str>,
}

/// [`GrantHeaders`] of an s3s input with the `grant_*` fields. Object inputs have no
/// `grant_write` field (s3s leaves that header in the request): they pass `write:` apart.
macro_rules! grant_headers {
    ($input:expr, write: $write:expr) => {
        $crate::s3::acl::GrantHeaders {
            full_control: $input.grant_full_control.as_deref(),
            read: $input.grant_read.as_deref(),
            read_acp: $input.grant_read_acp.as_deref(),
            write: $write,
            write_acp: $input.grant_write_acp.as_deref(),
        }
    };
    ($input:expr) => {
        $crate::s3::acl::grant_headers!($input, write: $input.grant_write.as_deref())
    };
}
pub(crate) use grant_headers;

impl GrantHeaders<'_> {
    fn is_empty(&self) -> bool {
        self.full_control.is_none()
            && self.read.is_none()
            && self.read_acp.is_none()
            && self.write.is_none()
            && self.write_acp.is_none()
    }
}

/// One grantee of a grant header (`id="..."`, `emailAddress="..."`, `uri="..."`).
fn parse_grantee_list(value: &str) -> S3Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for item in value.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some((kind, v)) = item.split_once('=') else {
            return Err(s3_error!(InvalidArgument, "Invalid grant header: {item}"));
        };
        let v = v.trim().trim_matches('"').to_string();
        out.push((kind.trim().to_ascii_lowercase(), v));
    }
    Ok(out)
}

impl SpreadS3 {
    /// A grantee named by id or e-mail address, checked against the accounts.
    async fn resolve_grantee(&self, kind: &str, value: &str) -> S3Result<Grantee> {
        match kind {
            "id" | "emailaddress" => match self.svc.meta().get_account(value).await {
                Ok(_) => Ok(Grantee::User(value.to_string())),
                Err(meta_api::Error::NoSuchAccount(_)) if kind == "id" => {
                    Err(s3_error!(InvalidArgument, "Invalid id"))
                }
                Err(meta_api::Error::NoSuchAccount(_)) => Err(s3_error!(
                    UnresolvableGrantByEmailAddress,
                    "The e-mail address you provided does not match any account on record."
                )),
                Err(e) => Err(s3err(e)),
            },
            "uri" => match value {
                ALL_USERS | AUTHENTICATED_USERS | LOG_DELIVERY => {
                    Ok(Grantee::Group(value.to_string()))
                }
                _ => Err(s3_error!(InvalidArgument, "Invalid group uri")),
            },
            _ => Err(s3_error!(InvalidArgument, "Invalid grantee type: {kind}")),
        }
    }

    /// The ACL a request asks for through `x-amz-acl` or `x-amz-grant-*` (both is an
    /// error), or `None` when it names none.
    pub(crate) async fn requested_acl(
        &self,
        canned_acl: Option<&str>,
        grants: &GrantHeaders<'_>,
        owner: &str,
        bucket_owner: &str,
    ) -> S3Result<Option<Acl>> {
        if let Some(name) = canned_acl {
            if !grants.is_empty() {
                return Err(s3_error!(
                    InvalidRequest,
                    "Specifying both Canned ACLs and Header Grants is not allowed"
                ));
            }
            return canned(name, owner, bucket_owner).map(Some);
        }
        if grants.is_empty() {
            return Ok(None);
        }
        let mut acl = Acl {
            owner: owner.to_string(),
            grants: Vec::new(),
        };
        for (perm, value) in [
            (Perm::Read, grants.read),
            (Perm::Write, grants.write),
            (Perm::ReadAcp, grants.read_acp),
            (Perm::WriteAcp, grants.write_acp),
            (Perm::FullControl, grants.full_control),
        ] {
            let Some(value) = value else { continue };
            for (kind, v) in parse_grantee_list(value)? {
                let grantee = self.resolve_grantee(&kind, &v).await?;
                acl.grants.push(AclGrant { grantee, perm });
            }
        }
        Ok(Some(acl))
    }

    /// The ACL of an AccessControlPolicy body.
    async fn acl_of_body(&self, policy: &AccessControlPolicy, owner: &str) -> S3Result<Acl> {
        let mut acl = Acl {
            owner: owner.to_string(),
            grants: Vec::new(),
        };
        for g in policy.grants.iter().flatten() {
            let (Some(grantee), Some(perm)) = (&g.grantee, &g.permission) else {
                return Err(s3_error!(MalformedACLError));
            };
            let perm = Perm::parse(perm.as_str()).ok_or_else(|| s3_error!(MalformedACLError))?;
            let grantee = match grantee.type_.as_str() {
                Type::CANONICAL_USER => {
                    let id = grantee
                        .id
                        .as_deref()
                        .ok_or_else(|| s3_error!(MalformedACLError))?;
                    self.resolve_grantee("id", id).await?
                }
                Type::AMAZON_CUSTOMER_BY_EMAIL => {
                    let email = grantee
                        .email_address
                        .as_deref()
                        .ok_or_else(|| s3_error!(MalformedACLError))?;
                    self.resolve_grantee("emailaddress", email).await?
                }
                Type::GROUP => {
                    let uri = grantee
                        .uri
                        .as_deref()
                        .ok_or_else(|| s3_error!(MalformedACLError))?;
                    self.resolve_grantee("uri", uri).await?
                }
                _ => return Err(s3_error!(MalformedACLError)),
            };
            acl.grants.push(AclGrant { grantee, perm });
        }
        Ok(acl)
    }

    /// The ACL a PutBucketAcl / PutObjectAcl asks for: canned, headers or body.
    pub(crate) async fn acl_to_put(
        &self,
        canned_acl: Option<&str>,
        grants: &GrantHeaders<'_>,
        body: Option<&AccessControlPolicy>,
        owner: &str,
        bucket_owner: &str,
    ) -> S3Result<Acl> {
        if let Some(acl) = self
            .requested_acl(canned_acl, grants, owner, bucket_owner)
            .await?
        {
            if body.is_some() {
                return Err(s3_error!(
                    UnexpectedContent,
                    "This request does not support content"
                ));
            }
            return Ok(acl);
        }
        match body {
            Some(b) => self.acl_of_body(b, owner).await,
            None => Err(s3_error!(
                MissingSecurityHeader,
                "Your request was missing a required header"
            )),
        }
    }
}

impl SpreadS3 {
    /// The record properties giving a new object of `container`, written by `writer`, the
    /// ACL its write asks for (the writer's private ACL by default). With the bucket's object
    /// ownership: the bucket owner's private ACL when ACLs are off (any other ACL asked for
    /// is refused), or when it prefers to own what is written `bucket-owner-full-control`.
    pub(crate) async fn new_object_acl(
        &self,
        container: &meta_api::wire::ContainerInfo,
        writer: &str,
        canned_acl: Option<&str>,
        grants: &GrantHeaders<'_>,
    ) -> S3Result<VersionProps> {
        use meta_api::settings::ObjectOwnership as O;
        let acl = self
            .requested_acl(canned_acl, grants, writer, &container.account)
            .await?;
        let to_bucket_owner = match container.settings.props.ownership {
            Some(O::BucketOwnerEnforced) => {
                if acl
                    .as_ref()
                    .is_some_and(|a| !owner_only(a, &container.account))
                {
                    return Err(acls_not_supported());
                }
                true
            }
            Some(O::BucketOwnerPreferred) => canned_acl == Some("bucket-owner-full-control"),
            Some(O::ObjectWriter) | None => false,
        };
        if to_bucket_owner {
            return Ok(VersionProps {
                acl: Some(Acl::private(&container.account)),
                ..Default::default()
            });
        }
        check_block_public(container, acl.as_ref())?;
        Ok(VersionProps {
            acl: Some(acl.unwrap_or_else(|| Acl::private(writer))),
            ..Default::default()
        })
    }
}

/// Rejects a public ACL when the bucket's public access block says BlockPublicAcls.
pub fn check_block_public(
    container: &meta_api::wire::ContainerInfo,
    acl: Option<&Acl>,
) -> S3Result<()> {
    if let Some(acl) = acl
        && acl.is_public()
        && public_access_block(container).block_public_acls
    {
        return Err(s3_error!(AccessDenied, "Access Denied"));
    }
    Ok(())
}

// Object Ownership (`ownership`): what it changes for ACLs.

/// The setting S3 names `s` (`x-amz-object-ownership`, an ownership controls rule).
pub fn parse_ownership(s: &str) -> S3Result<meta_api::settings::ObjectOwnership> {
    match s {
        "ObjectWriter" => Ok(meta_api::settings::ObjectOwnership::ObjectWriter),
        "BucketOwnerPreferred" => Ok(meta_api::settings::ObjectOwnership::BucketOwnerPreferred),
        "BucketOwnerEnforced" => Ok(meta_api::settings::ObjectOwnership::BucketOwnerEnforced),
        _ => Err(s3_error!(
            InvalidArgument,
            "Invalid x-amz-object-ownership value: {s}"
        )),
    }
}

/// Whether the bucket has ACLs turned off (BucketOwnerEnforced).
pub fn acls_disabled(container: &meta_api::wire::ContainerInfo) -> bool {
    container.settings.props.ownership
        == Some(meta_api::settings::ObjectOwnership::BucketOwnerEnforced)
}

/// Whether `acl` grants nothing but `owner`'s full control (what a bucket with ACLs off may
/// still be sent: `private`, `bucket-owner-full-control` or the equivalent grants).
pub fn owner_only(acl: &Acl, owner: &str) -> bool {
    acl.grants
        .iter()
        .all(|g| g.perm == Perm::FullControl && g.grantee == Grantee::User(owner.to_string()))
}

/// A new bucket's ownership asked with an ACL it cannot have.
pub fn acl_with_enforced() -> s3s::S3Error {
    s3_error!(
        InvalidBucketAclWithObjectOwnership,
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
    )
}

/// A request setting an ACL on a bucket with ACLs off.
pub fn acls_not_supported() -> s3s::S3Error {
    s3_error!(
        AccessControlListNotSupported,
        "The bucket does not allow ACLs"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_owners_full_control_passes_with_acls_off() {
        let private = Acl::private("a");
        assert!(owner_only(&private, "a"));
        assert!(!owner_only(&private, "b"));
        let mut public = Acl::private("a");
        public.grants.push(AclGrant {
            grantee: Grantee::Group("http://acs.amazonaws.com/groups/global/AllUsers".into()),
            perm: Perm::Read,
        });
        assert!(!owner_only(&public, "a"));
    }

    #[test]
    fn canned_acls() {
        let acl = canned("public-read", "a", "a").unwrap();
        assert!(acl.allows(&Caller::Anonymous, Perm::Read, false));
        assert!(!acl.allows(&Caller::Anonymous, Perm::Read, true));
        assert!(!acl.allows(&Caller::Anonymous, Perm::Write, false));
        assert!(acl.is_public());
        let acl = canned("authenticated-read", "a", "a").unwrap();
        assert!(!acl.allows(&Caller::Anonymous, Perm::Read, false));
        assert!(acl.allows(&Caller::Account("b".into()), Perm::Read, false));
        let acl = canned("bucket-owner-full-control", "w", "o").unwrap();
        assert!(acl.allows(&Caller::Account("o".into()), Perm::Write, false));
        assert!(canned("public-ready", "a", "a").is_err());
    }

    #[test]
    fn owner_keeps_acp() {
        let acl = Acl {
            owner: "a".into(),
            grants: Vec::new(),
        };
        let a = Caller::Account("a".into());
        assert!(acl.allows(&a, Perm::ReadAcp, false));
        assert!(acl.allows(&a, Perm::WriteAcp, false));
        assert!(!acl.allows(&a, Perm::Read, false));
    }

    #[test]
    fn grant_header_list() {
        let l = parse_grantee_list(r#"id="alt", emailAddress="x@y", uri="http://g""#).unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l[1], ("emailaddress".into(), "x@y".into()));
    }
}
