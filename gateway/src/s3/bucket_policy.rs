//! Bucket policy operations (Put/Get/DeleteBucketPolicy, GetBucketPolicyStatus) and the public
//! access block ones (Put/Get/DeletePublicAccessBlock). The policy model is in `policy`; who
//! may call these is decided before they run (`operations`: the bucket owner).

use meta_api::settings::{ContainerProps, PublicAccessBlock, SettingChange};
use s3s::dto::*;
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

use super::access::{Access, granted};
use super::acl::AclExt;
use super::policy::{Policy, public_access_block, stored};
use super::service::SpreadS3;
use super::settings::{BucketSetting, FromInput, ToOutput};

/// The bucket sub-resource `?policy`: the document as the owner sent it.
pub struct BucketPolicy;

impl BucketSetting for BucketPolicy {
    type Value = String;

    fn read(props: &ContainerProps) -> Option<&String> {
        props.policy.as_ref()
    }

    fn change(value: Option<String>) -> SettingChange {
        SettingChange::Policy(value)
    }

    fn missing() -> S3Error {
        s3_error!(NoSuchBucketPolicy, "The bucket policy does not exist")
    }
}

impl FromInput<PutBucketPolicyInput> for BucketPolicy {
    fn from_input(access: &Access, input: PutBucketPolicyInput) -> S3Result<String> {
        let policy = Policy::parse(&input.policy, &access.container.name)?;
        if policy.is_public() && public_access_block(&access.container).block_public_policy {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        }
        Ok(input.policy)
    }
}

impl ToOutput<GetBucketPolicyOutput> for BucketPolicy {
    fn to_output(_: &Access, doc: &String) -> S3Result<GetBucketPolicyOutput> {
        Ok(GetBucketPolicyOutput {
            policy: Some(doc.clone()),
        })
    }
}

pub async fn get_bucket_policy_status(
    _s3: &SpreadS3,
    mut req: S3Request<GetBucketPolicyStatusInput>,
) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
    let access: Access = granted(&mut req)?;
    let public =
        stored(&access.container).is_some_and(|p| p.is_public()) || access.bucket_acl().is_public();
    Ok(S3Response::new(GetBucketPolicyStatusOutput {
        policy_status: Some(PolicyStatus {
            is_public: Some(public),
        }),
    }))
}

/// The bucket sub-resource `?publicAccessBlock` (all off when unset, as Ceph answers and
/// s3tests expects, rather than AWS's NoSuchPublicAccessBlockConfiguration).
pub struct BucketPublicAccessBlock;

/// The switches of a bucket that has none set.
static NO_BLOCK: PublicAccessBlock = PublicAccessBlock {
    block_public_acls: false,
    ignore_public_acls: false,
    block_public_policy: false,
    restrict_public_buckets: false,
};

impl BucketSetting for BucketPublicAccessBlock {
    type Value = PublicAccessBlock;

    fn read(props: &ContainerProps) -> Option<&PublicAccessBlock> {
        Some(props.public_access_block.as_ref().unwrap_or(&NO_BLOCK))
    }

    fn change(value: Option<PublicAccessBlock>) -> SettingChange {
        SettingChange::PublicAccessBlock(value)
    }

    /// Not answered (`read` gives the default), but AWS's words.
    fn missing() -> S3Error {
        let mut err = S3Error::with_message(
            s3s::S3ErrorCode::Custom("NoSuchPublicAccessBlockConfiguration".into()),
            "The public access block configuration was not found",
        );
        err.set_status_code(http::StatusCode::NOT_FOUND);
        err
    }
}

impl FromInput<PutPublicAccessBlockInput> for BucketPublicAccessBlock {
    fn from_input(_: &Access, input: PutPublicAccessBlockInput) -> S3Result<PublicAccessBlock> {
        let c = &input.public_access_block_configuration;
        Ok(PublicAccessBlock {
            block_public_acls: c.block_public_acls.unwrap_or(false),
            ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
            block_public_policy: c.block_public_policy.unwrap_or(false),
            restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
        })
    }
}

impl ToOutput<GetPublicAccessBlockOutput> for BucketPublicAccessBlock {
    fn to_output(_: &Access, pab: &PublicAccessBlock) -> S3Result<GetPublicAccessBlockOutput> {
        Ok(GetPublicAccessBlockOutput {
            public_access_block_configuration: Some(PublicAccessBlockConfiguration {
                block_public_acls: Some(pab.block_public_acls),
                ignore_public_acls: Some(pab.ignore_public_acls),
                block_public_policy: Some(pab.block_public_policy),
                restrict_public_buckets: Some(pab.restrict_public_buckets),
            }),
        })
    }
}
