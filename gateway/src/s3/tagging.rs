//! Object and bucket tagging operations: Put/Get/DeleteObjectTagging (per version, kept in the
//! version's `props`, see `tags`) and Put/Get/DeleteBucketTagging (a container property).

use std::collections::BTreeMap;

use meta_api::wire::{PROP_TAGS, tags_of};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::access::{Access, granted};
use super::convert::version_out;
use super::error::s3err;
use super::service::SpreadS3;
use super::tags::{MAX_BUCKET_TAGS, MAX_OBJECT_TAGS, props_of, tag_set_map, tag_set_of};

/// The container property holding a bucket's tags (a JSON object).
const BUCKET_TAGS: &str = "s3:tagging";

pub async fn put_object_tagging(
    s3: &SpreadS3,
    mut req: S3Request<PutObjectTaggingInput>,
) -> S3Result<S3Response<PutObjectTaggingOutput>> {
    // The bucket owner, or whom the bucket policy allows (ACLs grant no tagging).
    let access: Access = granted(&mut req)?;
    let input = req.input;
    let tags = tag_set_map(&input.tagging.tag_set, MAX_OBJECT_TAGS)?;
    let props = props_of(&tags)?;
    let remove = if tags.is_empty() {
        vec![PROP_TAGS.to_string()]
    } else {
        Vec::new()
    };
    access
        .read_version(s3, &input.key, input.version_id.as_deref())
        .await?;
    let rec = s3
        .svc
        .meta()
        .update_object_props(
            &access.container.name,
            &input.key,
            input.version_id.as_deref(),
            &props,
            &remove,
            false,
        )
        .await
        .map_err(s3err)?;
    Ok(S3Response::new(PutObjectTaggingOutput {
        version_id: version_out(&rec.version_id),
    }))
}

pub async fn get_object_tagging(
    s3: &SpreadS3,
    mut req: S3Request<GetObjectTaggingInput>,
) -> S3Result<S3Response<GetObjectTaggingOutput>> {
    // The bucket owner, or whom the bucket policy allows (ACLs grant no tagging).
    let access: Access = granted(&mut req)?;
    let input = req.input;
    let rec = access
        .read_version(s3, &input.key, input.version_id.as_deref())
        .await?;
    Ok(S3Response::new(GetObjectTaggingOutput {
        tag_set: tag_set_of(tags_of(&rec.props)),
        version_id: version_out(&rec.version_id),
    }))
}

pub async fn delete_object_tagging(
    s3: &SpreadS3,
    mut req: S3Request<DeleteObjectTaggingInput>,
) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
    // The bucket owner, or whom the bucket policy allows (ACLs grant no tagging).
    let access: Access = granted(&mut req)?;
    let input = req.input;
    access
        .read_version(s3, &input.key, input.version_id.as_deref())
        .await?;
    let rec = s3
        .svc
        .meta()
        .update_object_props(
            &access.container.name,
            &input.key,
            input.version_id.as_deref(),
            &BTreeMap::new(),
            &[PROP_TAGS.to_string()],
            false,
        )
        .await
        .map_err(s3err)?;
    let mut resp = S3Response::new(DeleteObjectTaggingOutput {
        version_id: version_out(&rec.version_id),
    });
    resp.status = Some(http::StatusCode::NO_CONTENT);
    Ok(resp)
}

pub async fn put_bucket_tagging(
    s3: &SpreadS3,
    mut req: S3Request<PutBucketTaggingInput>,
) -> S3Result<S3Response<PutBucketTaggingOutput>> {
    let container = granted::<Access, _>(&mut req)?.container;
    let tags = tag_set_map(&req.input.tagging.tag_set, MAX_BUCKET_TAGS)?;
    let json = serde_json::to_string(&tags)
        .map_err(|e| s3err(crate::error::Error::Internal(e.to_string())))?;
    let set = BTreeMap::from([(BUCKET_TAGS.to_string(), json)]);
    s3.svc
        .meta()
        .update_container_properties(&container.name, &set, &[])
        .await
        .map_err(s3err)?;
    Ok(S3Response::new(PutBucketTaggingOutput {}))
}

pub async fn get_bucket_tagging(
    _s3: &SpreadS3,
    mut req: S3Request<GetBucketTaggingInput>,
) -> S3Result<S3Response<GetBucketTaggingOutput>> {
    let container = granted::<Access, _>(&mut req)?.container;
    let tags: BTreeMap<String, String> = container
        .settings
        .properties
        .get(BUCKET_TAGS)
        .and_then(|t| serde_json::from_str(t).ok())
        .ok_or_else(|| s3_error!(NoSuchTagSet, "The TagSet does not exist"))?;
    Ok(S3Response::new(GetBucketTaggingOutput {
        tag_set: tag_set_of(tags),
    }))
}

pub async fn delete_bucket_tagging(
    s3: &SpreadS3,
    mut req: S3Request<DeleteBucketTaggingInput>,
) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
    let container = granted::<Access, _>(&mut req)?.container;
    s3.svc
        .meta()
        .update_container_properties(&container.name, &BTreeMap::new(), &[BUCKET_TAGS.into()])
        .await
        .map_err(s3err)?;
    let mut resp = S3Response::new(DeleteBucketTaggingOutput {});
    resp.status = Some(http::StatusCode::NO_CONTENT);
    Ok(resp)
}
