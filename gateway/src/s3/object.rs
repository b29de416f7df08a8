//! Object operations: put, get, head, delete (single and batch), copy.

use meta::wire::{ContainerInfo, ObjectRecord, PutCondition};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::SpreadS3;
use super::access::{Access, Action};
use super::acl::grant_headers;
use super::convert::{
    ChecksumRequest, body_or_empty, check_key, checksum_fields, checksum_request, digests_for,
    etag, expires, metadata_out, standard_headers, timestamp, user_meta, verify_digests,
};
use super::error::s3err;
use super::lifecycle::expiration_header;
use super::object_lock;
use super::tagging;
use super::versioning::version_out;
use crate::error::Error;
use crate::objects::{ChecksumAlgo, NewObject, ObjectAttrs, ObjectStream};

pub async fn put_object(
    s3: &SpreadS3,
    req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let access = s3
        .authorize(
            &req,
            &req.input.bucket,
            Some(&req.input.key),
            Action::PutObject,
        )
        .await?;
    let container = access.container.clone();
    let trailing = req.trailing_headers.clone();
    let input = req.input;
    let props = s3
        .new_object_acl(
            &access,
            input.acl.as_ref().map(|a| a.as_str()),
            &grant_headers!(input, write: grant_header(&req.headers, "x-amz-grant-write")),
        )
        .await?;
    check_key(&input.key)?;
    let checksum = checksum_request(
        &req.headers,
        [
            (ChecksumAlgo::Crc32, input.checksum_crc32.as_ref()),
            (ChecksumAlgo::Crc32c, input.checksum_crc32c.as_ref()),
            (ChecksumAlgo::Crc64Nvme, input.checksum_crc64nvme.as_ref()),
            (ChecksumAlgo::Sha1, input.checksum_sha1.as_ref()),
            (ChecksumAlgo::Sha256, input.checksum_sha256.as_ref()),
        ],
        input.checksum_algorithm.as_ref().map(|a| a.as_str()),
    )?;
    let attrs = ObjectAttrs {
        content_type: input.content_type.clone(),
        headers: standard_headers(
            input.cache_control.as_ref(),
            input.content_disposition.as_ref(),
            input.content_encoding.as_ref(),
            input.content_language.as_ref(),
            input.expires.as_ref(),
        ),
        user_meta: user_meta(input.metadata),
        props: {
            let mut props = props;
            props.extend(tagging::props_from_header(input.tagging.as_ref())?);
            props.extend(object_lock::new_version_props(
                &container,
                input.object_lock_mode.as_ref(),
                input.object_lock_retain_until_date.as_ref(),
                input.object_lock_legal_hold_status.as_ref(),
            )?);
            props
        },
    };
    let policy = s3
        .svc
        .resolve_policy(&container, input.storage_class.as_ref().map(|c| c.as_str()))
        .await
        .map_err(s3err)?;
    let condition = put_condition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
    let content_md5 = input.content_md5;
    let body = body_or_empty(input.body);
    let record = s3
        .svc
        .put_object(
            &container,
            NewObject {
                key: &input.key,
                policy,
                attrs,
                condition,
            },
            body,
            digests_for(checksum.as_ref()),
            |_, values| {
                verify_digests(
                    content_md5.as_ref(),
                    checksum.as_ref(),
                    trailing.as_ref(),
                    values,
                )
            },
        )
        .await
        .map_err(s3err)?;
    let sums = checksum_fields(&record.checksums);
    Ok(S3Response::new(PutObjectOutput {
        expiration: expiration_header(&container, &record),
        e_tag: Some(etag(&record.etag)),
        version_id: version_out(&record.version_id),
        checksum_crc32: sums.crc32,
        checksum_crc32c: sums.crc32c,
        checksum_crc64nvme: sums.crc64nvme,
        checksum_sha1: sums.sha1,
        checksum_sha256: sums.sha256,
        ..Default::default()
    }))
}

/// The bytes a GET or HEAD answers, and its Content-Range when a Range was asked for.
fn resolve_range(
    range: Option<Range>,
    size: u64,
) -> S3Result<(std::ops::Range<u64>, Option<String>)> {
    match range {
        Some(r) => {
            let range = r.check(size).map_err(|_| s3err(Error::InvalidRange))?;
            let cr = format!("bytes {}-{}/{}", range.start, range.end - 1, size);
            Ok((range, Some(cr)))
        }
        None => Ok((0..size, None)),
    }
}

/// The preconditions of a conditional write: `If-None-Match: *` and `If-Match: ETag`.
pub fn put_condition(
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<PutCondition> {
    let mut cond = PutCondition::default();
    match if_none_match {
        None => {}
        Some(ETagCondition::Any) => cond.if_none_match_any = true,
        Some(ETagCondition::ETag(t)) => cond.if_none_match_etag = Some(t.value().to_string()),
    }
    match if_match {
        None => {}
        Some(ETagCondition::Any) => cond.if_match_any = true,
        Some(ETagCondition::ETag(t)) => cond.if_match_etag = Some(t.value().to_string()),
    }
    Ok(cond)
}

/// The version a GET, HEAD or copy reads: the current one, or the one named by `versionId`.
/// A delete marker answers 404 NoSuchKey when current, 405 MethodNotAllowed when named.
pub(super) async fn read_version(
    s3: &SpreadS3,
    container: &ContainerInfo,
    key: &str,
    version_id: Option<&str>,
) -> S3Result<ObjectRecord> {
    let rec = s3
        .svc
        .meta()
        .get_object_version(&container.name, key, version_id)
        .await
        .map_err(s3err)?;
    if rec.delete_marker {
        let mut err = s3_error!(
            MethodNotAllowed,
            "The specified method is not allowed against this resource."
        );
        let mut h = http::HeaderMap::new();
        h.insert(
            "x-amz-delete-marker",
            http::HeaderValue::from_static("true"),
        );
        if let Ok(v) = http::HeaderValue::from_str(&rec.version_id) {
            h.insert("x-amz-version-id", v);
        }
        err.set_headers(h);
        return Err(err);
    }
    Ok(rec)
}

/// What every read of an object's content goes through: the caller may `GetObject` in
/// `bucket` (policy and bucket), the version exists and is no delete marker
/// ([`read_version`]), and the object's ACL lets the caller read it.
pub(super) async fn readable_version<T>(
    s3: &SpreadS3,
    req: &S3Request<T>,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> S3Result<(Access, ObjectRecord)> {
    let access = s3
        .authorize(req, bucket, Some(key), Action::GetObject)
        .await?;
    let rec = read_version(s3, &access.container, key, version_id).await?;
    access.check_object(&rec)?;
    Ok((access, rec))
}

/// Evaluates If-Match / If-Unmodified-Since / If-None-Match / If-Modified-Since (RFC 9110 order).
pub(super) fn check_conditions(
    rec: &ObjectRecord,
    if_match: Option<&ETagCondition>,
    if_unmodified_since: Option<&Timestamp>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
) -> Result<(), Error> {
    let matches = |c: &ETagCondition| match c {
        ETagCondition::Any => true,
        ETagCondition::ETag(t) => t.value() == rec.etag,
    };
    // Last-Modified has a resolution of one second.
    let mtime_s = rec.mtime_ms.div_euclid(1000);
    let secs = |t: &Timestamp| super::convert::millis(t).div_euclid(1000);
    if let Some(c) = if_match {
        if !matches(c) {
            return Err(Error::PreconditionFailed);
        }
    } else if let Some(t) = if_unmodified_since
        && mtime_s > secs(t)
    {
        return Err(Error::PreconditionFailed);
    }
    if let Some(c) = if_none_match {
        if matches(c) {
            return Err(Error::NotModified);
        }
    } else if let Some(t) = if_modified_since
        && mtime_s <= secs(t)
    {
        return Err(Error::NotModified);
    }
    Ok(())
}

fn checksums_if(rec: &ObjectRecord, mode: Option<&ChecksumMode>) -> super::convert::ChecksumFields {
    match mode {
        Some(m) if m.as_str().eq_ignore_ascii_case("ENABLED") => checksum_fields(&rec.checksums),
        _ => Default::default(),
    }
}

pub async fn get_object(
    s3: &SpreadS3,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let (access, rec) = readable_version(
        s3,
        &req,
        &req.input.bucket,
        &req.input.key,
        req.input.version_id.as_deref(),
    )
    .await?;
    let container = &access.container;
    let input = req.input;
    check_conditions(
        &rec,
        input.if_match.as_ref(),
        input.if_unmodified_since.as_ref(),
        input.if_none_match.as_ref(),
        input.if_modified_since.as_ref(),
    )
    .map_err(s3err)?;
    let (range, content_range) = resolve_range(input.range, rec.size)?;
    let length = range.end - range.start;
    let body = first_piece_ready(s3.svc.read_content(rec.chunks.clone(), range)).await?;
    let storage_class = storage_class_of(s3, &rec).await;
    let sums = if content_range.is_none() {
        checksums_if(&rec, input.checksum_mode.as_ref())
    } else {
        Default::default()
    };
    let (object_lock_mode, object_lock_retain_until_date, object_lock_legal_hold_status) =
        object_lock::version_fields(&rec);
    let output = GetObjectOutput {
        object_lock_mode,
        object_lock_retain_until_date,
        object_lock_legal_hold_status,
        accept_ranges: Some("bytes".to_string()),
        body: Some(StreamingBlob::wrap(body)),
        content_length: Some(length as i64),
        content_range,
        content_type: input
            .response_content_type
            .or_else(|| Some(content_type_of(&rec))),
        cache_control: input
            .response_cache_control
            .or_else(|| rec.headers.get("cache-control").cloned()),
        content_disposition: input
            .response_content_disposition
            .or_else(|| rec.headers.get("content-disposition").cloned()),
        content_encoding: input
            .response_content_encoding
            .or_else(|| rec.headers.get("content-encoding").cloned()),
        content_language: input
            .response_content_language
            .or_else(|| rec.headers.get("content-language").cloned()),
        expires: input.response_expires.or_else(|| expires(&rec.headers)),
        e_tag: Some(etag(&rec.etag)),
        last_modified: Some(timestamp(rec.mtime_ms)),
        metadata: metadata_out(&rec),
        parts_count: (!rec.parts.is_empty()).then_some(rec.parts.len() as i32),
        checksum_crc32: sums.crc32,
        checksum_crc32c: sums.crc32c,
        checksum_crc64nvme: sums.crc64nvme,
        checksum_sha1: sums.sha1,
        checksum_sha256: sums.sha256,
        checksum_type: sums.checksum_type,
        storage_class,
        tag_count: tagging::tag_count(&rec),
        expiration: expiration_header(container, &rec),
        version_id: version_out(&rec.version_id),
        ..Default::default()
    };
    Ok(S3Response::new(output))
}

pub async fn head_object(
    s3: &SpreadS3,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let (access, rec) = readable_version(
        s3,
        &req,
        &req.input.bucket,
        &req.input.key,
        req.input.version_id.as_deref(),
    )
    .await?;
    let container = &access.container;
    let input = req.input;
    check_conditions(
        &rec,
        input.if_match.as_ref(),
        input.if_unmodified_since.as_ref(),
        input.if_none_match.as_ref(),
        input.if_modified_since.as_ref(),
    )
    .map_err(s3err)?;
    let (range, content_range) = resolve_range(input.range, rec.size)?;
    let length = range.end - range.start;
    let sums = checksums_if(&rec, input.checksum_mode.as_ref());
    let storage_class = storage_class_of(s3, &rec).await;
    let tag_count = tagging::tag_count(&rec);
    let (object_lock_mode, object_lock_retain_until_date, object_lock_legal_hold_status) =
        object_lock::version_fields(&rec);
    let mut resp = S3Response::new(HeadObjectOutput {
        object_lock_mode,
        object_lock_retain_until_date,
        object_lock_legal_hold_status,
        expiration: expiration_header(container, &rec),
        storage_class,
        version_id: version_out(&rec.version_id),
        accept_ranges: Some("bytes".to_string()),
        content_length: Some(length as i64),
        content_range,
        content_type: Some(content_type_of(&rec)),
        cache_control: rec.headers.get("cache-control").cloned(),
        content_disposition: rec.headers.get("content-disposition").cloned(),
        content_encoding: rec.headers.get("content-encoding").cloned(),
        content_language: rec.headers.get("content-language").cloned(),
        expires: expires(&rec.headers),
        e_tag: Some(etag(&rec.etag)),
        last_modified: Some(timestamp(rec.mtime_ms)),
        metadata: metadata_out(&rec),
        parts_count: (!rec.parts.is_empty()).then_some(rec.parts.len() as i32),
        checksum_crc32: sums.crc32,
        checksum_crc32c: sums.crc32c,
        checksum_crc64nvme: sums.crc64nvme,
        checksum_sha1: sums.sha1,
        checksum_sha256: sums.sha256,
        checksum_type: sums.checksum_type,
        ..Default::default()
    });
    // HeadObject's model has no tag count; AWS sends the header as GetObject does.
    if let Some(n) = tag_count {
        resp.headers
            .insert("x-amz-tagging-count", http::HeaderValue::from(n));
    }
    Ok(resp)
}

pub async fn delete_object(
    s3: &SpreadS3,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let container = s3
        .authorize(
            &req,
            &req.input.bucket,
            Some(&req.input.key),
            Action::DeleteObject,
        )
        .await?
        .container;
    let done = s3
        .svc
        .meta()
        .delete_version(
            &container.name,
            &req.input.key,
            req.input.version_id.as_deref(),
            req.input.bypass_governance_retention == Some(true),
        )
        .await
        .map_err(s3err)?;
    Ok(S3Response::new(DeleteObjectOutput {
        delete_marker: done.delete_marker.then_some(true),
        version_id: done.version_id,
        ..Default::default()
    }))
}

pub async fn delete_objects(
    s3: &SpreadS3,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let container = s3
        .authorize(&req, &req.input.bucket, None, Action::DeleteObject)
        .await?
        .container;
    let delete = req.input.delete;
    if delete.objects.len() > 1000 {
        return Err(s3_error!(
            MalformedXML,
            "A DeleteObjects request may name at most 1000 keys"
        ));
    }
    let quiet = delete.quiet.unwrap_or(false);
    let bypass = req.input.bypass_governance_retention == Some(true);
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for obj in delete.objects {
        match s3
            .svc
            .meta()
            .delete_version(&container.name, &obj.key, obj.version_id.as_deref(), bypass)
            .await
        {
            Ok(done) => {
                if !quiet {
                    // A marker created answers its id as DeleteMarkerVersionId.
                    let created_marker = done.delete_marker && obj.version_id.is_none();
                    deleted.push(DeletedObject {
                        key: Some(obj.key),
                        delete_marker: done.delete_marker.then_some(true),
                        delete_marker_version_id: if created_marker {
                            done.version_id.clone()
                        } else {
                            None
                        },
                        version_id: obj.version_id,
                    })
                }
            }
            Err(e) => {
                let err = s3err(e);
                errors.push(s3s::dto::Error {
                    code: Some(err.code().as_str().to_string()),
                    key: Some(obj.key),
                    message: err.message().map(str::to_string),
                    version_id: obj.version_id,
                });
            }
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: Some(errors),
        ..Default::default()
    }))
}

pub async fn copy_object(
    s3: &SpreadS3,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    let access = s3
        .authorize(
            &req,
            &req.input.bucket,
            Some(&req.input.key),
            Action::PutObject,
        )
        .await?;
    let container = access.container.clone();
    let input = &req.input;
    check_key(&input.key)?;
    let CopiedFrom {
        container: source_container,
        record: source,
        key: src_key,
        version_named,
    } = copy_source(
        s3,
        &req,
        &input.copy_source,
        [
            input.copy_source_if_match.as_ref(),
            input.copy_source_if_none_match.as_ref(),
        ],
        [
            input.copy_source_if_unmodified_since.as_ref(),
            input.copy_source_if_modified_since.as_ref(),
        ],
    )
    .await?;
    let replace = input
        .metadata_directive
        .as_ref()
        .is_some_and(|d| d.as_str().eq_ignore_ascii_case("REPLACE"));
    if !replace
        && source_container.name == container.name
        && src_key == *input.key
        && !version_named
    {
        return Err(s3_error!(
            InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
        ));
    }
    let attrs = if replace {
        ObjectAttrs {
            content_type: input.content_type.clone(),
            headers: standard_headers(
                input.cache_control.as_ref(),
                input.content_disposition.as_ref(),
                input.content_encoding.as_ref(),
                input.content_language.as_ref(),
                input.expires.as_ref(),
            ),
            user_meta: user_meta(input.metadata.clone()),
            props: source.props.clone(),
        }
    } else {
        ObjectAttrs::of(&source)
    };
    let mut attrs = attrs;
    // Tags follow x-amz-tagging-directive: COPY (the default) keeps the source's.
    let replace_tags = input
        .tagging_directive
        .as_ref()
        .is_some_and(|d| d.as_str().eq_ignore_ascii_case("REPLACE"));
    attrs.props = if replace_tags {
        tagging::props_from_header(input.tagging.as_ref())?
    } else {
        source
            .props
            .iter()
            .filter(|(k, _)| k.as_str() == meta::wire::PROP_TAGS)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    // The copy is a new object of the caller: it gets the ACL asked for, not the source's.
    attrs.props.extend(
        s3.new_object_acl(
            &access,
            input.acl.as_ref().map(|a| a.as_str()),
            &grant_headers!(input, write: grant_header(&req.headers, "x-amz-grant-write")),
        )
        .await?,
    );
    attrs.props.extend(object_lock::new_version_props(
        &container,
        input.object_lock_mode.as_ref(),
        input.object_lock_retain_until_date.as_ref(),
        input.object_lock_legal_hold_status.as_ref(),
    )?);
    let policy = s3
        .svc
        .resolve_policy(&container, input.storage_class.as_ref().map(|c| c.as_str()))
        .await
        .map_err(s3err)?;
    let record = s3
        .svc
        .copy_object(
            &source,
            &container,
            NewObject {
                key: &input.key,
                policy,
                attrs,
                condition: PutCondition::default(),
            },
        )
        .await
        .map_err(s3err)?;
    let sums = checksum_fields(&record.checksums);
    Ok(S3Response::new(CopyObjectOutput {
        version_id: version_out(&record.version_id),
        copy_source_version_id: version_out(&source.version_id),
        copy_object_result: Some(CopyObjectResult {
            e_tag: Some(etag(&record.etag)),
            last_modified: Some(timestamp(record.mtime_ms)),
            checksum_crc32: sums.crc32,
            checksum_crc32c: sums.crc32c,
            checksum_crc64nvme: sums.crc64nvme,
            checksum_sha1: sums.sha1,
            checksum_sha256: sums.sha256,
            ..Default::default()
        }),
        ..Default::default()
    }))
}

/// A grant header s3s does not model for objects (`x-amz-grant-write`).
fn grant_header<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The Content-Type an object is served with: its own, or binary/octet-stream as AWS does.
fn content_type_of(rec: &ObjectRecord) -> String {
    rec.content_type
        .clone()
        .unwrap_or_else(|| "binary/octet-stream".to_string())
}

/// The source of a CopyObject or UploadPartCopy, read and checked.
pub(super) struct CopiedFrom {
    pub container: ContainerInfo,
    pub record: ObjectRecord,
    pub key: String,
    /// The copy source named a version.
    pub version_named: bool,
}

/// Resolves `x-amz-copy-source`: the caller must be allowed to read the object, the version
/// asked for (or the current one) is read, and the `x-amz-copy-source-if-*` conditions are
/// checked (`etags`: If-Match, If-None-Match; `times`: If-Unmodified-Since,
/// If-Modified-Since), a failed one answering 412.
pub(super) async fn copy_source<T>(
    s3: &SpreadS3,
    req: &S3Request<T>,
    source: &CopySource,
    etags: [Option<&ETagCondition>; 2],
    times: [Option<&Timestamp>; 2],
) -> S3Result<CopiedFrom> {
    let CopySource::Bucket {
        bucket,
        key,
        version_id,
    } = source
    else {
        return Err(s3_error!(
            NotImplemented,
            "Only bucket copy sources are supported"
        ));
    };
    let (access, record) = readable_version(s3, req, bucket, key, version_id.as_deref()).await?;
    check_conditions(&record, etags[0], times[0], etags[1], times[1]).map_err(|e| match e {
        Error::NotModified => s3err(Error::PreconditionFailed),
        other => s3err(other),
    })?;
    Ok(CopiedFrom {
        container: access.container,
        record,
        key: key.to_string(),
        version_named: version_id.is_some(),
    })
}

/// The checksum an UploadPart request carries (shared with multipart).
pub fn part_checksum(
    headers: &http::HeaderMap,
    input: &UploadPartInput,
) -> S3Result<Option<ChecksumRequest>> {
    checksum_request(
        headers,
        [
            (ChecksumAlgo::Crc32, input.checksum_crc32.as_ref()),
            (ChecksumAlgo::Crc32c, input.checksum_crc32c.as_ref()),
            (ChecksumAlgo::Crc64Nvme, input.checksum_crc64nvme.as_ref()),
            (ChecksumAlgo::Sha1, input.checksum_sha1.as_ref()),
            (ChecksumAlgo::Sha256, input.checksum_sha256.as_ref()),
        ],
        input.checksum_algorithm.as_ref().map(|a| a.as_str()),
    )
}

/// Waits for the first piece of a body before answering, so that an object none of whose
/// copies can be read gets a clean 503 instead of a response cut short after its headers.
async fn first_piece_ready(mut body: ObjectStream) -> S3Result<ObjectStream> {
    use futures::StreamExt;
    match body.next().await {
        None => Ok(Box::pin(futures::stream::empty())),
        Some(Err(e)) => Err(s3err(e)),
        Some(Ok(first)) => Ok(Box::pin(
            futures::stream::once(async move { Ok(first) }).chain(body),
        )),
    }
}

/// The S3 storage class an object's policy is mapped to (none for STANDARD).
pub(super) async fn storage_class_of(s3: &SpreadS3, rec: &ObjectRecord) -> Option<StorageClass> {
    let set = s3.svc.policies().await.ok()?;
    let class = set.storage_class_of(&rec.policy)?;
    (class != "STANDARD").then(|| StorageClass::from(class.to_string()))
}
