//! Object and bucket tagging operations: Put/Get/DeleteObjectTagging (per version, kept in the
//! version's `props`, see `tags`) and Put/Get/DeleteBucketTagging (the bucket's typed `tags`
//! setting, through the generic path of `settings`).

use std::collections::BTreeMap;

use meta_api::settings::{ContainerProps, SettingChange, VersionChange};
use s3s::dto::*;
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

use super::access::{Access, granted};
use super::convert::version_out;
use super::error::s3err;
use super::service::SpreadS3;
use super::settings::{BucketSetting, FromInput, ToOutput};
use super::tags::{MAX_BUCKET_TAGS, MAX_OBJECT_TAGS, tag_set_map, tag_set_of};

pub async fn put_object_tagging(
    s3: &SpreadS3,
    mut req: S3Request<PutObjectTaggingInput>,
) -> S3Result<S3Response<PutObjectTaggingOutput>> {
    // The bucket owner, or whom the bucket policy allows (ACLs grant no tagging).
    let access: Access = granted(&mut req)?;
    let input = req.input;
    let tags = tag_set_map(&input.tagging.tag_set, MAX_OBJECT_TAGS)?;
    access
        .read_version(s3, &input.key, input.version_id.as_deref())
        .await?;
    let rec = s3
        .svc
        .meta()
        .change_object_props(
            &access.container.name,
            &input.key,
            input.version_id.as_deref(),
            vec![VersionChange::Tags(tags)],
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
        tag_set: tag_set_of(rec.props.tags),
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
        .change_object_props(
            &access.container.name,
            &input.key,
            input.version_id.as_deref(),
            vec![VersionChange::Tags(BTreeMap::new())],
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

/// The bucket sub-resource `?tagging`.
pub struct BucketTags;

impl BucketSetting for BucketTags {
    type Value = BTreeMap<String, String>;

    fn read(props: &ContainerProps) -> Option<&BTreeMap<String, String>> {
        props.tags.as_ref()
    }

    fn change(value: Option<BTreeMap<String, String>>) -> SettingChange {
        SettingChange::Tags(value)
    }

    fn missing() -> S3Error {
        s3_error!(NoSuchTagSet, "The TagSet does not exist")
    }
}

impl FromInput<PutBucketTaggingInput> for BucketTags {
    fn from_input(_: &Access, input: PutBucketTaggingInput) -> S3Result<BTreeMap<String, String>> {
        tag_set_map(&input.tagging.tag_set, MAX_BUCKET_TAGS)
    }
}

impl ToOutput<GetBucketTaggingOutput> for BucketTags {
    fn to_output(_: &Access, tags: &BTreeMap<String, String>) -> S3Result<GetBucketTaggingOutput> {
        Ok(GetBucketTaggingOutput {
            tag_set: tag_set_of(tags.clone()),
        })
    }
}
