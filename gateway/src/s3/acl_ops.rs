//! The Get/Put Bucket/Object ACL operations. The ACL model is in `acl`; who may call these is
//! decided before they run (`operations`: READ_ACP / WRITE_ACP of the bucket, of the object
//! once its version is read).

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

use super::access::{Access, granted};
use super::acl::{
    AclExt, acls_disabled, acls_not_supported, check_block_public, grant_headers, owner_only,
};
use super::error::s3err;
use super::service::SpreadS3;
use meta_api::settings::{SettingChange, VersionChange};

pub async fn get_bucket_acl(
    _s3: &SpreadS3,
    mut req: S3Request<GetBucketAclInput>,
) -> S3Result<S3Response<GetBucketAclOutput>> {
    let access: Access = granted(&mut req)?;
    let acl = access.bucket_acl();
    let (owner, grants) = acl.to_dto();
    Ok(S3Response::new(GetBucketAclOutput {
        grants: Some(grants),
        owner: Some(owner),
    }))
}

pub async fn put_bucket_acl(
    s3: &SpreadS3,
    mut req: S3Request<PutBucketAclInput>,
) -> S3Result<S3Response<PutBucketAclOutput>> {
    let access: Access = granted(&mut req)?;
    let input = &req.input;
    let owner = access.container.account.clone();
    let grants = grant_headers!(input);
    let acl = s3
        .acl_to_put(
            input.acl.as_ref().map(|a| a.as_str()),
            &grants,
            input.access_control_policy.as_ref(),
            &owner,
            &owner,
        )
        .await?;
    if acls_disabled(&access.container) {
        // ACLs off: only the owner's full control may be "set", and nothing changes.
        if !owner_only(&acl, &owner) {
            return Err(acls_not_supported());
        }
        return Ok(S3Response::new(PutBucketAclOutput {}));
    }
    check_block_public(&access.container, Some(&acl))?;
    s3.svc
        .meta()
        .set_container_settings(&access.container.name, vec![SettingChange::Acl(Some(acl))])
        .await
        .map_err(s3err)?;
    Ok(S3Response::new(PutBucketAclOutput {}))
}

pub async fn get_object_acl(
    s3: &SpreadS3,
    mut req: S3Request<GetObjectAclInput>,
) -> S3Result<S3Response<GetObjectAclOutput>> {
    let access: Access = granted(&mut req)?;
    let input = &req.input;
    let rec = access
        .read_version(s3, &input.key, input.version_id.as_deref())
        .await?;
    let (owner, grants) = access.object_acl(&rec).to_dto();
    Ok(S3Response::new(GetObjectAclOutput {
        grants: Some(grants),
        owner: Some(owner),
        ..Default::default()
    }))
}

pub async fn put_object_acl(
    s3: &SpreadS3,
    mut req: S3Request<PutObjectAclInput>,
) -> S3Result<S3Response<PutObjectAclOutput>> {
    let access: Access = granted(&mut req)?;
    let input = &req.input;
    let rec = access
        .read_version(s3, &input.key, input.version_id.as_deref())
        .await?;
    let owner = access.object_acl(&rec).owner;
    let grants = grant_headers!(input);
    let acl = s3
        .acl_to_put(
            input.acl.as_ref().map(|a| a.as_str()),
            &grants,
            input.access_control_policy.as_ref(),
            &owner,
            &access.container.account,
        )
        .await?;
    if acls_disabled(&access.container) {
        if !owner_only(&acl, &access.container.account) {
            return Err(acls_not_supported());
        }
        return Ok(S3Response::new(PutObjectAclOutput::default()));
    }
    check_block_public(&access.container, Some(&acl))?;
    s3.svc
        .meta()
        .change_object_props(
            &access.container.name,
            &input.key,
            Some(&rec.version_id),
            vec![VersionChange::Acl(Some(acl))],
            false,
        )
        .await
        .map_err(s3err)?;
    Ok(S3Response::new(PutObjectAclOutput::default()))
}
