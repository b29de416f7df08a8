//! Multipart uploads: create, upload part, upload part copy (a range of an object streamed into
//! a part), complete (parts are referenced, not copied), abort, list parts, list uploads.

use std::collections::BTreeMap;

use meta_api::wire::{
    CompletePart, CompleteRequest, ListUploadsRequest, ObjectRecord, UploadRecord,
};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::access::{Access, granted};
use super::acl::grant_headers;
use super::conditions::put_condition;
use super::convert::{
    ChecksumFields, ChecksumRequest, body_or_empty, check_key, checksum_fields, checksum_request,
    etag, owner, standard_headers, timestamp, url_encode, user_meta, verify_digests, version_out,
};
use super::copy_source;
use super::encryption;
use super::error::s3err;
use super::lock;
use super::multipart_checksum::UploadChecksum;
use super::service::SpreadS3;
use super::tags;
use crate::error::Error;
use crate::objects::{ChecksumAlgo, Digests, now_ms, random_hex};

const MAX_PART_NUMBER: i32 = 10_000;

pub async fn create(
    s3: &SpreadS3,
    mut req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let access: Access = granted(&mut req)?;
    let container = access.container.clone();
    // The completed object gets the ACL asked for here; its owner (the writer) is also the
    // upload's initiator, which ListParts and ListMultipartUploads answer.
    let mut props = s3
        .new_object_acl(
            &access.container,
            access.writer(),
            req.input.acl.as_ref().map(|a| a.as_str()),
            &grant_headers!(
                req.input,
                write: req
                    .headers
                    .get("x-amz-grant-write")
                    .and_then(|v| v.to_str().ok())
            ),
        )
        .await?;
    let sse = encryption::write_request(&req.headers, &container.settings.props)?;
    let customer = match &sse {
        Some(crate::objects::sse::SseRequest::Customer(k)) => Some(k.clone()),
        _ => None,
    };
    let upload_encryption = match &sse {
        Some(sse) => {
            let kms = s3.svc.kms_key_for(Some(sse)).await.map_err(s3err)?;
            Some(
                sse.upload_encryption(s3.svc.key_ring(), kms.as_ref())
                    .map_err(s3err)?,
            )
        }
        None => None,
    };
    let input = req.input;
    check_key(&input.key)?;
    props.merge(tags::props_from_header(input.tagging.as_ref())?);
    props.merge(lock::new_version_props(
        &container,
        input.object_lock_mode.as_ref(),
        input.object_lock_retain_until_date.as_ref(),
        input.object_lock_legal_hold_status.as_ref(),
    )?);
    let checksum = UploadChecksum::requested(
        input.checksum_algorithm.as_ref(),
        input.checksum_type.as_ref(),
    )?;
    let storage_class = input.storage_class.as_ref().map(|c| c.as_str().to_string());
    let upload_id = random_hex(16);
    // The completed version keeps the id it was assembled from: a Complete sent again
    // (its answer lost) finds it there (see `completed_before`).
    props
        .other
        .insert(UPLOAD_ID_PROP.to_string(), upload_id.clone());
    let record = UploadRecord {
        upload_id,
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
        user_meta: user_meta(input.metadata)?,
        policy: s3
            .svc
            .resolve_policy(&container, storage_class.as_deref())
            .await
            .map_err(s3err)?
            .name,
        checksum_algorithm: checksum.map(UploadChecksum::to_record),
        props,
        encryption: upload_encryption,
    };
    s3.svc
        .meta()
        .create_upload(&container.name, &record)
        .await
        .map_err(s3err)?;
    let enc =
        encryption::answered_write(record.encryption.as_ref(), customer.as_ref(), &req.headers);
    Ok(S3Response::new(CreateMultipartUploadOutput {
        server_side_encryption: enc.server_side_encryption,
        sse_customer_algorithm: enc.sse_customer_algorithm,
        sse_customer_key_md5: enc.sse_customer_key_md5,
        ssekms_key_id: enc.ssekms_key_id,
        bucket_key_enabled: enc.bucket_key_enabled,
        ssekms_encryption_context: enc.ssekms_encryption_context,
        bucket: Some(container.name),
        key: Some(input.key),
        upload_id: Some(record.upload_id),
        checksum_algorithm: checksum.map(UploadChecksum::algorithm),
        checksum_type: checksum.map(UploadChecksum::checksum_type),
        ..Default::default()
    }))
}

pub async fn upload_part(
    s3: &SpreadS3,
    mut req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
    let container = granted::<Access, _>(&mut req)?.container;
    let trailing = req.trailing_headers.clone();
    let checksum = part_checksum(&req.headers, &req.input)?;
    let customer = encryption::customer_key(&req.headers, false)?;
    let input = req.input;
    let number = part_number(input.part_number)?;
    let upload = upload_of(s3, &container.name, &input.upload_id, &input.key).await?;
    let sse = encryption::part_request(upload.encryption.as_ref(), customer.clone())?;
    // Each part gets the upload's checksum, sent by the client or not: Complete combines them.
    let upload_algo = UploadChecksum::of(&upload).map(|c| c.algo);
    if let (Some(want), Some(sent)) = (upload_algo, checksum.as_ref().map(|c| c.algo))
        && want != sent
    {
        return Err(s3_error!(
            InvalidRequest,
            "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
            want.name(),
            sent.name()
        ));
    }
    let content_md5 = input.content_md5;
    let body = body_or_empty(input.body);
    let part = s3
        .svc
        .put_part(
            &container,
            &upload,
            number,
            sse.as_ref(),
            body,
            Digests::new(checksum.as_ref().map(|c| c.algo).or(upload_algo)),
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
    let enc = encryption::answered(upload.encryption.as_ref(), customer.as_ref());
    Ok(S3Response::new(UploadPartOutput {
        server_side_encryption: enc.server_side_encryption,
        sse_customer_algorithm: enc.sse_customer_algorithm,
        sse_customer_key_md5: enc.sse_customer_key_md5,
        ssekms_key_id: enc.ssekms_key_id,
        bucket_key_enabled: enc.bucket_key_enabled,
        e_tag: Some(etag(&part.etag)),
        checksum_crc32: sums.crc32,
        checksum_crc32c: sums.crc32c,
        checksum_crc64nvme: sums.crc64nvme,
        checksum_sha1: sums.sha1,
        checksum_sha256: sums.sha256,
        ..Default::default()
    }))
}

/// The checksum an UploadPart request carries.
fn part_checksum(
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

/// The account that started `upload`: the owner of the ACL it gives the object (uploads made
/// before ACLs were recorded on them belong to the bucket owner).
fn initiator_of(upload: &UploadRecord, bucket_owner: &str) -> String {
    match &upload.props.acl {
        Some(acl) => acl.owner.clone(),
        None => bucket_owner.to_string(),
    }
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
    mut req: S3Request<UploadPartCopyInput>,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    let container = granted::<Access, _>(&mut req)?.container;
    let source_access = copy_source::granted_source(&mut req);
    let input = &req.input;
    let number = part_number(input.part_number)?;
    let source = copy_source::read(
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
    .await?
    .record;
    let range = match &input.copy_source_range {
        Some(r) => copy_range(r, source.size)?,
        None => 0..source.size,
    };
    let upload = upload_of(s3, &container.name, &input.upload_id, &input.key).await?;
    let source_key = encryption::customer_key(&req.headers, true)?;
    let customer = encryption::customer_key(&req.headers, false)?;
    let sse = encryption::part_request(upload.encryption.as_ref(), customer.clone())?;
    let keys = s3
        .svc
        .unlock(&source, source_key.as_ref())
        .await
        .map_err(s3err)?;
    let algo = UploadChecksum::of(&upload).map(|c| c.algo);
    let body = s3.svc.read_object(&source, keys, range).map_err(s3err)?;
    let part = s3
        .svc
        .put_part(
            &container,
            &upload,
            number,
            sse.as_ref(),
            body,
            Digests::new(algo),
            |_, _| Ok(()),
        )
        .await
        .map_err(s3err)?;
    let sums = checksum_fields(&part.checksums);
    let enc = encryption::answered(upload.encryption.as_ref(), customer.as_ref());
    Ok(S3Response::new(UploadPartCopyOutput {
        server_side_encryption: enc.server_side_encryption,
        sse_customer_algorithm: enc.sse_customer_algorithm,
        sse_customer_key_md5: enc.sse_customer_key_md5,
        ssekms_key_id: enc.ssekms_key_id,
        bucket_key_enabled: enc.bucket_key_enabled,
        copy_source_version_id: version_out(&source.version_id),
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
    mut req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let container = granted::<Access, _>(&mut req)?.container;
    let input = req.input;
    let input_sums = ChecksumFields {
        crc32: input.checksum_crc32.clone(),
        crc32c: input.checksum_crc32c.clone(),
        crc64nvme: input.checksum_crc64nvme.clone(),
        sha1: input.checksum_sha1.clone(),
        sha256: input.checksum_sha256.clone(),
        checksum_type: None,
    };
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
    let mut sent_sums: Vec<ChecksumFields> = Vec::with_capacity(parts.len());
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
            sent_sums.pop();
        }
        sent_sums.push(ChecksumFields {
            crc32: p.checksum_crc32,
            crc32c: p.checksum_crc32c,
            crc64nvme: p.checksum_crc64nvme,
            sha1: p.checksum_sha1,
            sha256: p.checksum_sha256,
            checksum_type: None,
        });
        wanted.push(CompletePart {
            part_number: number as u32,
            etag: tag.value().to_string(),
        });
    }
    let condition = put_condition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
    let upload = match upload_of(s3, &container.name, &input.upload_id, &input.key).await {
        Ok(upload) => upload,
        Err(e) if *e.code() == S3ErrorCode::NoSuchUpload => {
            return match completed_before(s3, &container.name, &input.key, &input.upload_id).await {
                Some(record) => Ok(complete_output(&container.name, &record)),
                None => Err(e),
            };
        }
        Err(e) => return Err(e),
    };
    let checksums = match UploadChecksum::of(&upload) {
        Some(c) => {
            let sent_whole = whole_object_checksum(&input_sums);
            upload_checksum(
                s3,
                &container.name,
                &upload,
                c,
                &wanted,
                &sent_sums,
                sent_whole,
            )
            .await?
        }
        None => BTreeMap::new(),
    };
    let record = s3
        .svc
        .meta()
        .complete_upload(
            &container.name,
            &input.upload_id,
            &CompleteRequest {
                parts: wanted,
                checksums,
                condition,
            },
        )
        .await;
    let record = match record {
        Ok(record) => record,
        // Completed meanwhile by the same request sent again (a client retrying).
        Err(meta_api::Error::NoSuchUpload(m)) => {
            completed_before(s3, &container.name, &input.key, &input.upload_id)
                .await
                .ok_or_else(|| s3err(meta_api::Error::NoSuchUpload(m)))?
        }
        Err(e) => return Err(s3err(e)),
    };
    Ok(complete_output(&container.name, &record))
}

/// Where a multipart upload's id is kept in the properties of the version it completed.
const UPLOAD_ID_PROP: &str = "s3.upload-id";

/// The current version of `key` when it is what upload `upload_id` completed: a Complete
/// sent again after it succeeded answers that version, as AWS does, not NoSuchUpload.
async fn completed_before(
    s3: &SpreadS3,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Option<ObjectRecord> {
    let current = s3.svc.meta().get_object(bucket, key).await.ok()?;
    (current.props.other.get(UPLOAD_ID_PROP).map(String::as_str) == Some(upload_id))
        .then_some(current)
}

/// The answer of a completed upload.
fn complete_output(
    bucket: &str,
    record: &ObjectRecord,
) -> S3Response<CompleteMultipartUploadOutput> {
    let sums = checksum_fields(&record.checksums);
    let enc = encryption::answered(record.encryption.as_ref(), None);
    S3Response::new(CompleteMultipartUploadOutput {
        bucket: Some(bucket.to_string()),
        key: Some(record.key.clone()),
        e_tag: Some(etag(&record.etag)),
        checksum_crc32: sums.crc32,
        checksum_crc32c: sums.crc32c,
        checksum_crc64nvme: sums.crc64nvme,
        checksum_sha1: sums.sha1,
        checksum_sha256: sums.sha256,
        checksum_type: sums.checksum_type,
        location: Some(format!("/{}/{}", bucket, record.key)),
        version_id: version_out(&record.version_id),
        server_side_encryption: enc.server_side_encryption,
        ssekms_key_id: enc.ssekms_key_id,
        bucket_key_enabled: enc.bucket_key_enabled,
        ..Default::default()
    })
}

/// The (algorithm, value) an object-level `x-amz-checksum-*` header of a Complete names.
fn whole_object_checksum(sums: &ChecksumFields) -> Option<(ChecksumAlgo, String)> {
    [
        (ChecksumAlgo::Crc32, &sums.crc32),
        (ChecksumAlgo::Crc32c, &sums.crc32c),
        (ChecksumAlgo::Crc64Nvme, &sums.crc64nvme),
        (ChecksumAlgo::Sha1, &sums.sha1),
        (ChecksumAlgo::Sha256, &sums.sha256),
    ]
    .into_iter()
    .find_map(|(algo, v)| v.clone().map(|v| (algo, v)))
}

/// The checksum of the completed object, from the stored checksums of the parts chosen
/// (`wanted`; none when one of them has none). A checksum the Complete request gives for a part must be the stored one
/// (400 `InvalidPart`); one it gives for the whole object must be the result (400 `BadDigest`).
async fn upload_checksum(
    s3: &SpreadS3,
    bucket: &str,
    upload: &UploadRecord,
    checksum: UploadChecksum,
    wanted: &[CompletePart],
    sent: &[ChecksumFields],
    sent_whole: Option<(ChecksumAlgo, String)>,
) -> S3Result<BTreeMap<String, String>> {
    let mut stored = BTreeMap::new();
    let mut marker = None;
    loop {
        let page = s3
            .svc
            .meta()
            .list_parts(bucket, &upload.upload_id, marker, 1000)
            .await
            .map_err(s3err)?;
        for p in page.parts {
            stored.insert(
                p.part_number,
                (p.checksums.get(checksum.algo.name()).cloned(), p.size),
            );
        }
        match page.next_part_number_marker {
            Some(next) if page.truncated => marker = Some(next),
            _ => break,
        }
    }
    let name = checksum.algo.name();
    let mut parts = Vec::with_capacity(wanted.len());
    for (part, sent) in wanted.iter().zip(sent) {
        // A part that is missing is meta's InvalidPart when it completes.
        let Some((value, size)) = stored.get(&part.part_number) else {
            return Ok(BTreeMap::new());
        };
        // Parts of uploads started before parts always got the upload's checksum may lack
        // it: the object then has no checksum, as before.
        let Some(value) = value else {
            return Ok(BTreeMap::new());
        };
        let fields = [
            (ChecksumAlgo::Crc32, &sent.crc32),
            (ChecksumAlgo::Crc32c, &sent.crc32c),
            (ChecksumAlgo::Crc64Nvme, &sent.crc64nvme),
            (ChecksumAlgo::Sha1, &sent.sha1),
            (ChecksumAlgo::Sha256, &sent.sha256),
        ];
        for (algo, given) in fields {
            let Some(given) = given else { continue };
            if algo != checksum.algo || given != value {
                return Err(s3_error!(
                    InvalidPart,
                    "The checksum of part {} does not match the one it was uploaded with",
                    part.part_number
                ));
            }
        }
        parts.push((value.as_str(), *size));
    }
    let value = checksum.combine(&parts)?;
    if let Some((algo, given)) = sent_whole
        && (algo != checksum.algo || given.split('-').next() != value.split('-').next())
    {
        return Err(s3_error!(
            BadDigest,
            "The {} you specified did not match the calculated checksum.",
            algo.name()
        ));
    }
    Ok(BTreeMap::from([(name.to_string(), value)]))
}

pub async fn abort(
    s3: &SpreadS3,
    mut req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let container = granted::<Access, _>(&mut req)?.container;
    s3.svc
        .meta()
        .abort_upload(&container.name, &req.input.upload_id)
        .await
        .map_err(s3err)?;
    Ok(S3Response::new(AbortMultipartUploadOutput::default()))
}

pub async fn list_parts(
    s3: &SpreadS3,
    mut req: S3Request<ListPartsInput>,
) -> S3Result<S3Response<ListPartsOutput>> {
    let container = granted::<Access, _>(&mut req)?.container;
    let input = req.input;
    let upload = s3
        .svc
        .meta()
        .get_upload(&container.name, &input.upload_id)
        .await
        .map_err(s3err)?;
    let initiator = initiator_of(&upload, &container.account);
    let checksum = UploadChecksum::of(&upload);
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
        owner: Some(owner(&initiator)),
        initiator: Some(Initiator {
            display_name: Some(initiator.clone()),
            id: Some(initiator),
        }),
        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
        checksum_algorithm: checksum.map(UploadChecksum::algorithm),
        checksum_type: checksum.map(UploadChecksum::checksum_type),
        ..Default::default()
    }))
}

pub async fn list_uploads(
    s3: &SpreadS3,
    mut req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    let container = granted::<Access, _>(&mut req)?.container;
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
        .map(|u| {
            let initiator = initiator_of(&u, &container.account);
            MultipartUpload {
                initiated: Some(timestamp(u.initiated_ms)),
                initiator: Some(Initiator {
                    display_name: Some(initiator.clone()),
                    id: Some(initiator.clone()),
                }),
                key: Some(enc(u.key)),
                owner: Some(owner(&initiator)),
                storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                upload_id: Some(u.upload_id),
                ..Default::default()
            }
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
