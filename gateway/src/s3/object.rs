//! Object operations: put, get, head, delete (single and batch), copy.

use meta_api::wire::{ObjectRecord, PutCondition};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::access::{Access, granted};
use super::acl::grant_headers;
use super::conditions::{check_conditions, put_condition};
use super::convert::{
    body_or_empty, check_key, checksum_fields, checksum_request, digests_for, etag,
    expiration_header, expires, metadata_out, standard_headers, storage_class_of, timestamp,
    user_meta, verify_digests, version_out,
};
use super::copy_source::{self, CopiedFrom};
use super::encryption;
use super::error::s3err;
use super::lock;
use super::service::SpreadS3;
use super::tags;
use crate::error::Error;
use crate::objects::{ChecksumAlgo, NewObject, ObjectAttrs, ObjectStream};

pub async fn put_object(
    s3: &SpreadS3,
    mut req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let access: Access = granted(&mut req)?;
    let container = access.container.clone();
    let trailing = req.trailing_headers.clone();
    let input = req.input;
    let props = s3
        .new_object_acl(
            &access.container,
            access.writer(),
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
        user_meta: user_meta(input.metadata)?,
        props: {
            let mut props = props;
            props.merge(tags::props_from_header(input.tagging.as_ref())?);
            props.merge(lock::new_version_props(
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
    let sse = encryption::write_request(&req.headers, &container.settings.props)?;
    let customer = match &sse {
        Some(crate::objects::sse::SseRequest::Customer(k)) => Some(k.clone()),
        _ => None,
    };
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
                encryption: sse,
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
    let enc =
        encryption::answered_write(record.encryption.as_ref(), customer.as_ref(), &req.headers);
    Ok(S3Response::new(PutObjectOutput {
        server_side_encryption: enc.server_side_encryption,
        sse_customer_algorithm: enc.sse_customer_algorithm,
        sse_customer_key_md5: enc.sse_customer_key_md5,
        ssekms_key_id: enc.ssekms_key_id,
        bucket_key_enabled: enc.bucket_key_enabled,
        ssekms_encryption_context: enc.ssekms_encryption_context,
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

/// The bytes a GET or HEAD answers, and its Content-Range when a Range or a part
/// (`partNumber`) was asked for. A part of an object that was not uploaded in parts: the
/// whole object is its part 1.
fn resolve_range(
    range: Option<Range>,
    part_number: Option<PartNumber>,
    rec: &ObjectRecord,
) -> S3Result<(std::ops::Range<u64>, Option<String>)> {
    let size = rec.size;
    let content_range = |r: &std::ops::Range<u64>| {
        format!("bytes {}-{}/{}", r.start, r.end.saturating_sub(1), size)
    };
    match (range, part_number) {
        (Some(_), Some(_)) => Err(s3_error!(
            InvalidRequest,
            "Cannot specify both Range header and partNumber query parameter"
        )),
        (Some(r), None) => {
            let range = r.check(size).map_err(|_| s3err(Error::InvalidRange))?;
            let cr = content_range(&range);
            Ok((range, Some(cr)))
        }
        (None, Some(n)) => {
            let range = part_range(&rec.parts, size, n)?;
            // An empty object has no byte to name: it is answered whole.
            let cr = (!range.is_empty()).then(|| content_range(&range));
            Ok((range, cr))
        }
        (None, None) => Ok((0..size, None)),
    }
}

/// The bytes of part `n` (1-based) of an object whose parts have the sizes `parts` (none:
/// the object is its own part 1).
fn part_range(parts: &[u64], size: u64, n: PartNumber) -> S3Result<std::ops::Range<u64>> {
    if !(1..=10_000).contains(&n) {
        return Err(s3_error!(
            InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive"
        ));
    }
    let index = (n - 1) as usize;
    if parts.is_empty() {
        return if index == 0 {
            Ok(0..size)
        } else {
            Err(no_such_part())
        };
    }
    let Some(len) = parts.get(index) else {
        return Err(no_such_part());
    };
    let start: u64 = parts[..index].iter().sum();
    Ok(start..start + len)
}

fn no_such_part() -> s3s::S3Error {
    s3_error!(
        InvalidPart,
        "The requested partnumber is not satisfiable: the object has fewer parts"
    )
}

fn checksums_if(rec: &ObjectRecord, mode: Option<&ChecksumMode>) -> super::convert::ChecksumFields {
    match mode {
        Some(m) if m.as_str().eq_ignore_ascii_case("ENABLED") => checksum_fields(&rec.checksums),
        _ => Default::default(),
    }
}

pub async fn get_object(
    s3: &SpreadS3,
    mut req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let access: Access = granted(&mut req)?;
    let rec = access
        .read_version(s3, &req.input.key, req.input.version_id.as_deref())
        .await?;
    let container = &access.container;
    let customer = encryption::customer_key(&req.headers, false)?;
    let keys = s3
        .svc
        .unlock(&rec, customer.as_ref())
        .await
        .map_err(s3err)?;
    let enc = encryption::answered(rec.encryption.as_ref(), customer.as_ref());
    let input = req.input;
    check_conditions(
        &rec,
        input.if_match.as_ref(),
        input.if_unmodified_since.as_ref(),
        input.if_none_match.as_ref(),
        input.if_modified_since.as_ref(),
    )
    .map_err(s3err)?;
    let (range, content_range) = resolve_range(input.range, input.part_number, &rec)?;
    let length = range.end - range.start;
    let body = s3.svc.read_object(&rec, keys, range).map_err(s3err)?;
    let body = first_piece_ready(body).await?;
    let storage_class = storage_class_of(s3, &rec).await;
    let sums = if content_range.is_none() {
        checksums_if(&rec, input.checksum_mode.as_ref())
    } else {
        Default::default()
    };
    let (object_lock_mode, object_lock_retain_until_date, object_lock_legal_hold_status) =
        lock::version_fields(&rec);
    let output = GetObjectOutput {
        server_side_encryption: enc.server_side_encryption,
        sse_customer_algorithm: enc.sse_customer_algorithm,
        sse_customer_key_md5: enc.sse_customer_key_md5,
        ssekms_key_id: enc.ssekms_key_id,
        bucket_key_enabled: enc.bucket_key_enabled,
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
        tag_count: tags::tag_count(&rec),
        expiration: expiration_header(container, &rec),
        version_id: version_out(&rec.version_id),
        ..Default::default()
    };
    let mut resp = S3Response::new(output);
    encryption::context_header(&mut resp.headers, enc.ssekms_encryption_context.as_deref());
    Ok(resp)
}

pub async fn head_object(
    s3: &SpreadS3,
    mut req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let access: Access = granted(&mut req)?;
    let rec = access
        .read_version(s3, &req.input.key, req.input.version_id.as_deref())
        .await?;
    let container = &access.container;
    let customer = encryption::customer_key(&req.headers, false)?;
    // HEAD opens no key-store key (as AWS's HEAD calls no KMS): it answers under a disabled
    // key too. SSE-C keys are still checked.
    let kms_only = customer.is_none()
        && rec
            .encryption
            .as_ref()
            .and_then(crate::objects::sse::kms_key_of)
            .is_some();
    if !kms_only {
        s3.svc
            .unlock(&rec, customer.as_ref())
            .await
            .map_err(s3err)?;
    }
    let enc = encryption::answered(rec.encryption.as_ref(), customer.as_ref());
    let input = req.input;
    check_conditions(
        &rec,
        input.if_match.as_ref(),
        input.if_unmodified_since.as_ref(),
        input.if_none_match.as_ref(),
        input.if_modified_since.as_ref(),
    )
    .map_err(s3err)?;
    let (range, content_range) = resolve_range(input.range, input.part_number, &rec)?;
    let length = range.end - range.start;
    // The object's checksums are for all of it, not for a part or a range.
    let sums = if content_range.is_none() {
        checksums_if(&rec, input.checksum_mode.as_ref())
    } else {
        Default::default()
    };
    let storage_class = storage_class_of(s3, &rec).await;
    let tag_count = tags::tag_count(&rec);
    let (object_lock_mode, object_lock_retain_until_date, object_lock_legal_hold_status) =
        lock::version_fields(&rec);
    let mut resp = S3Response::new(HeadObjectOutput {
        server_side_encryption: enc.server_side_encryption,
        sse_customer_algorithm: enc.sse_customer_algorithm,
        sse_customer_key_md5: enc.sse_customer_key_md5,
        ssekms_key_id: enc.ssekms_key_id,
        bucket_key_enabled: enc.bucket_key_enabled,
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
    encryption::context_header(&mut resp.headers, enc.ssekms_encryption_context.as_deref());
    // HeadObject's model has no tag count; AWS sends the header as GetObject does.
    if let Some(n) = tag_count {
        resp.headers
            .insert("x-amz-tagging-count", http::HeaderValue::from(n));
    }
    Ok(resp)
}

pub async fn delete_object(
    s3: &SpreadS3,
    mut req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let container = granted::<Access, _>(&mut req)?.container;
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
    mut req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let container = granted::<Access, _>(&mut req)?.container;
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
    mut req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    let access: Access = granted(&mut req)?;
    let source_access = copy_source::granted_source(&mut req);
    let container = access.container.clone();
    let input = &req.input;
    check_key(&input.key)?;
    let CopiedFrom {
        container: source_container,
        record: source,
        key: src_key,
        version_named,
    } = copy_source::read(
        s3,
        source_access,
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
    let source_key = encryption::customer_key(&req.headers, true)?;
    let sse = encryption::write_request(&req.headers, &container.settings.props)?;
    let customer = match &sse {
        Some(crate::objects::sse::SseRequest::Customer(k)) => Some(k.clone()),
        _ => None,
    };
    let replace = input
        .metadata_directive
        .as_ref()
        .is_some_and(|d| d.as_str().eq_ignore_ascii_case("REPLACE"));
    // Copying an object onto itself is allowed when it changes its encryption.
    let asks_encryption =
        customer.is_some() || req.headers.contains_key("x-amz-server-side-encryption");
    if !replace
        && !asks_encryption
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
            user_meta: user_meta(input.metadata.clone())?,
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
        tags::props_from_header(input.tagging.as_ref())?
    } else {
        meta_api::settings::VersionProps {
            tags: source.props.tags.clone(),
            ..Default::default()
        }
    };
    // The copy is a new object of the caller: it gets the ACL asked for, not the source's.
    attrs.props.merge(
        s3.new_object_acl(
            &access.container,
            access.writer(),
            input.acl.as_ref().map(|a| a.as_str()),
            &grant_headers!(input, write: grant_header(&req.headers, "x-amz-grant-write")),
        )
        .await?,
    );
    attrs.props.merge(lock::new_version_props(
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
            source_key.as_ref(),
            &container,
            NewObject {
                key: &input.key,
                policy,
                attrs,
                condition: PutCondition::default(),
                encryption: sse,
            },
        )
        .await
        .map_err(s3err)?;
    let sums = checksum_fields(&record.checksums);
    let enc =
        encryption::answered_write(record.encryption.as_ref(), customer.as_ref(), &req.headers);
    Ok(S3Response::new(CopyObjectOutput {
        server_side_encryption: enc.server_side_encryption,
        sse_customer_algorithm: enc.sse_customer_algorithm,
        sse_customer_key_md5: enc.sse_customer_key_md5,
        ssekms_key_id: enc.ssekms_key_id,
        bucket_key_enabled: enc.bucket_key_enabled,
        ssekms_encryption_context: enc.ssekms_encryption_context,
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
