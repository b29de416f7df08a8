//! Multipart uploads: create, upload part, upload part copy (a range of an object streamed into
//! a part), complete (parts are referenced, not copied), abort, list parts, list uploads.

use std::collections::BTreeMap;

use meta::wire::{CompletePart, CompleteRequest, ListUploadsRequest, UploadRecord};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::SpreadS3;
use super::access::Action;
use super::bucket::owner;
use super::convert::{
    body_or_empty, check_key, checksum_fields, digests_for, etag, standard_headers, timestamp,
    url_encode, user_meta, verify_digests,
};
use super::error::s3err;
use super::object::part_checksum;
use crate::error::Error;
use crate::objects::{ChecksumAlgo, Digests, now_ms, random_hex};

const MAX_PART_NUMBER: i32 = 10_000;

pub async fn create(
    s3: &SpreadS3,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let container = s3
        .authorize(&req, &req.input.bucket, None, Action::PutObject)
        .await?
        .container;
    let input = req.input;
    check_key(&input.key)?;
    let checksum_algorithm = input
        .checksum_algorithm
        .as_ref()
        .map(|a| a.as_str().to_string());
    let storage_class = input.storage_class.as_ref().map(|c| c.as_str().to_string());
    let record = UploadRecord {
        v: meta::wire::RECORD_VERSION,
        upload_id: random_hex(16),
        key: input.key.clone(),
        initiated_ms: now_ms(),
        content_type: input.content_type,
        headers: standard_headers(
            input.cache_control.as_ref(),
            input.content_disposition.as_ref(),
            input.content_encoding.as_ref(),
            input.content_language.as_ref(),
            input.expires.as_ref(),
        ),
        user_meta: user_meta(input.metadata),
        policy: s3
            .svc
            .resolve_policy(&container, storage_class.as_deref())
            .await
            .map_err(s3err)?
            .name,
        checksum_algorithm,
        props: {
            let mut props = super::tagging::props_from_header(input.tagging.as_ref())?;
            props.extend(super::object_lock::new_version_props(
                &container,
                input.object_lock_mode.as_ref(),
                input.object_lock_retain_until_date.as_ref(),
                input.object_lock_legal_hold_status.as_ref(),
            )?);
            props
        },
    };
    s3.svc
        .meta()
        .create_upload(&container.name, &record)
        .await
        .map_err(s3err)?;
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(container.name),
        key: Some(input.key),
        upload_id: Some(record.upload_id),
        checksum_algorithm: input.checksum_algorithm,
        ..Default::default()
    }))
}

pub async fn upload_part(
    s3: &SpreadS3,
    req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
    let container = s3
        .authorize(&req, &req.input.bucket, None, Action::PutObject)
        .await?
        .container;
    let trailing = req.trailing_headers.clone();
    let checksum = part_checksum(&req.headers, &req.input)?;
    let input = req.input;
    let number = part_number(input.part_number)?;
    let upload = upload_of(s3, &container.name, &input.upload_id, &input.key).await?;
    let content_md5 = input.content_md5;
    let body = body_or_empty(input.body);
    let part = s3
        .svc
        .put_part(
            &container,
            &upload,
            number,
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
    let sums = checksum_fields(&part.checksums);
    Ok(S3Response::new(UploadPartOutput {
        e_tag: Some(etag(&part.etag)),
        checksum_crc32: sums.crc32,
        checksum_crc32c: sums.crc32c,
        checksum_crc64nvme: sums.crc64nvme,
        checksum_sha1: sums.sha1,
        checksum_sha256: sums.sha256,
        ..Default::default()
    }))
}

/// The part number of an UploadPart / UploadPartCopy, checked.
fn part_number(n: i32) -> S3Result<u32> {
    if !(1..=MAX_PART_NUMBER).contains(&n) {
        return Err(s3_error!(
            InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive"
        ));
    }
    Ok(n as u32)
}

/// The upload `upload_id` of `key`.
async fn upload_of(
    s3: &SpreadS3,
    bucket: &str,
    upload_id: &str,
    key: &str,
) -> S3Result<UploadRecord> {
    let upload = s3
        .svc
        .meta()
        .get_upload(bucket, upload_id)
        .await
        .map_err(s3err)?;
    if upload.key != key {
        return Err(s3_error!(
            NoSuchUpload,
            "The specified upload does not exist for this key"
        ));
    }
    Ok(upload)
}

/// The bytes `x-amz-copy-source-range: bytes=first-last` names in a source of `size` bytes.
fn copy_range(value: &str, size: u64) -> S3Result<std::ops::Range<u64>> {
    let parsed = value
        .trim()
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .and_then(|(first, last)| {
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            if !digits(first) || !digits(last) {
                return None;
            }
            Some((first.parse::<u64>().ok()?, last.parse::<u64>().ok()?))
        });
    let Some((first, last)) = parsed.filter(|(first, last)| first <= last) else {
        return Err(s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
        ));
    };
    if last >= size {
        return Err(s3err(Error::InvalidRange));
    }
    Ok(first..last + 1)
}

pub async fn upload_part_copy(
    s3: &SpreadS3,
    req: S3Request<UploadPartCopyInput>,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    let container = s3
        .authorize(
            &req,
            &req.input.bucket,
            Some(&req.input.key),
            Action::PutObject,
        )
        .await?
        .container;
    let input = &req.input;
    let number = part_number(input.part_number)?;
    let source = super::object::copy_source(
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
    .await?
    .record;
    let range = match &input.copy_source_range {
        Some(r) => copy_range(r, source.size)?,
        None => 0..source.size,
    };
    let upload = upload_of(s3, &container.name, &input.upload_id, &input.key).await?;
    let algo = upload
        .checksum_algorithm
        .as_deref()
        .and_then(ChecksumAlgo::parse);
    let body = s3.svc.read_content(source.chunks.clone(), range);
    let part = s3
        .svc
        .put_part(
            &container,
            &upload,
            number,
            body,
            Digests::new(algo),
            |_, _| Ok(()),
        )
        .await
        .map_err(s3err)?;
    let sums = checksum_fields(&part.checksums);
    Ok(S3Response::new(UploadPartCopyOutput {
        copy_source_version_id: super::versioning::version_out(&source.version_id),
        copy_part_result: Some(CopyPartResult {
            e_tag: Some(etag(&part.etag)),
            last_modified: Some(timestamp(part.mtime_ms)),
            checksum_crc32: sums.crc32,
            checksum_crc32c: sums.crc32c,
            checksum_crc64nvme: sums.crc64nvme,
            checksum_sha1: sums.sha1,
            checksum_sha256: sums.sha256,
        }),
        ..Default::default()
    }))
}

pub async fn complete(
    s3: &SpreadS3,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let container = s3
        .authorize(&req, &req.input.bucket, None, Action::PutObject)
        .await?
        .container;
    let input = req.input;
    let parts = input
        .multipart_upload
        .and_then(|m| m.parts)
        .unwrap_or_default();
    if parts.is_empty() {
        return Err(s3_error!(
            MalformedXML,
            "You must specify at least one part"
        ));
    }
    let mut wanted = Vec::with_capacity(parts.len());
    for p in parts {
        let (Some(number), Some(tag)) = (p.part_number, p.e_tag) else {
            return Err(s3_error!(
                MalformedXML,
                "Each part needs a PartNumber and an ETag"
            ));
        };
        if number < 1 {
            return Err(s3_error!(InvalidPart, "Invalid part number {number}"));
        }
        // The same part listed again (consecutively) replaces the earlier entry: last wins.
        if wanted
            .last()
            .is_some_and(|p: &CompletePart| p.part_number == number as u32)
        {
            wanted.pop();
        }
        wanted.push(CompletePart {
            part_number: number as u32,
            etag: tag.value().to_string(),
        });
    }
    let condition =
        super::object::put_condition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
    upload_of(s3, &container.name, &input.upload_id, &input.key).await?;
    let record = s3
        .svc
        .meta()
        .complete_upload(
            &container.name,
            &input.upload_id,
            &CompleteRequest {
                parts: wanted,
                checksums: BTreeMap::new(),
                condition,
            },
        )
        .await
        .map_err(s3err)?;
    Ok(S3Response::new(CompleteMultipartUploadOutput {
        bucket: Some(container.name.clone()),
        key: Some(record.key.clone()),
        e_tag: Some(etag(&record.etag)),
        location: Some(format!("/{}/{}", container.name, record.key)),
        version_id: super::versioning::version_out(&record.version_id),
        ..Default::default()
    }))
}

pub async fn abort(
    s3: &SpreadS3,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let container = s3
        .authorize(&req, &req.input.bucket, None, Action::AbortMultipartUpload)
        .await?
        .container;
    s3.svc
        .meta()
        .abort_upload(&container.name, &req.input.upload_id)
        .await
        .map_err(s3err)?;
    Ok(S3Response::new(AbortMultipartUploadOutput::default()))
}

pub async fn list_parts(
    s3: &SpreadS3,
    req: S3Request<ListPartsInput>,
) -> S3Result<S3Response<ListPartsOutput>> {
    let container = s3
        .authorize(&req, &req.input.bucket, None, Action::ListParts)
        .await?
        .container;
    let input = req.input;
    let upload = s3
        .svc
        .meta()
        .get_upload(&container.name, &input.upload_id)
        .await
        .map_err(s3err)?;
    let max = input.max_parts.unwrap_or(1000).clamp(0, 1000);
    let marker = input
        .part_number_marker
        .filter(|m| *m > 0)
        .map(|m| m as u32);
    let reply = s3
        .svc
        .meta()
        .list_parts(&container.name, &input.upload_id, marker, max as u32)
        .await
        .map_err(s3err)?;
    let parts = reply
        .parts
        .iter()
        .map(|p| {
            let sums = checksum_fields(&p.checksums);
            Part {
                e_tag: Some(etag(&p.etag)),
                last_modified: Some(timestamp(p.mtime_ms)),
                part_number: Some(p.part_number as i32),
                size: Some(p.size as i64),
                checksum_crc32: sums.crc32,
                checksum_crc32c: sums.crc32c,
                checksum_crc64nvme: sums.crc64nvme,
                checksum_sha1: sums.sha1,
                checksum_sha256: sums.sha256,
            }
        })
        .collect();
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(container.name.clone()),
        key: Some(upload.key),
        upload_id: Some(upload.upload_id),
        max_parts: Some(max),
        part_number_marker: input.part_number_marker,
        next_part_number_marker: reply.next_part_number_marker.map(|n| n as i32),
        is_truncated: Some(reply.truncated),
        parts: Some(parts),
        owner: Some(owner(&container.account)),
        initiator: Some(Initiator {
            display_name: Some(container.account.clone()),
            id: Some(container.account.clone()),
        }),
        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
        ..Default::default()
    }))
}

pub async fn list_uploads(
    s3: &SpreadS3,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    let container = s3
        .authorize(&req, &req.input.bucket, None, Action::ListMultipartUploads)
        .await?
        .container;
    let input = req.input;
    let url = input
        .encoding_type
        .as_ref()
        .is_some_and(|e| e.as_str().eq_ignore_ascii_case("url"));
    let enc = |s: String| if url { url_encode(&s) } else { s };
    let max = input.max_uploads.unwrap_or(1000).clamp(0, 1000);
    let reply = s3
        .svc
        .meta()
        .list_uploads(
            &container.name,
            &ListUploadsRequest {
                prefix: input.prefix.clone().unwrap_or_default(),
                delimiter: input.delimiter.clone().filter(|d| !d.is_empty()),
                key_marker: input.key_marker.clone().filter(|m| !m.is_empty()),
                upload_id_marker: input.upload_id_marker.clone().filter(|m| !m.is_empty()),
                max_uploads: max as u32,
            },
        )
        .await
        .map_err(s3err)?;
    let uploads = reply
        .uploads
        .into_iter()
        .map(|u| MultipartUpload {
            initiated: Some(timestamp(u.initiated_ms)),
            initiator: Some(Initiator {
                display_name: Some(container.account.clone()),
                id: Some(container.account.clone()),
            }),
            key: Some(enc(u.key)),
            owner: Some(owner(&container.account)),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            upload_id: Some(u.upload_id),
            ..Default::default()
        })
        .collect();
    let prefixes = reply
        .common_prefixes
        .into_iter()
        .map(|p| CommonPrefix {
            prefix: Some(enc(p)),
        })
        .collect();
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(container.name),
        common_prefixes: Some(prefixes),
        delimiter: input.delimiter,
        encoding_type: input.encoding_type,
        is_truncated: Some(reply.truncated),
        key_marker: input.key_marker,
        max_uploads: Some(max),
        next_key_marker: reply.next_key_marker.map(enc),
        next_upload_id_marker: reply.next_upload_id_marker,
        prefix: input.prefix,
        upload_id_marker: input.upload_id_marker,
        uploads: Some(uploads),
        ..Default::default()
    }))
}
