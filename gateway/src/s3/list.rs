//! ListObjects (v1) and ListObjectsV2: prefix, delimiter, marker / continuation token /
//! start-after, max-keys and encoding-type=url, over meta's ordered listing.

use base64::Engine as _;
use meta_api::wire::{ListReply, ListRequest};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::access::{Access, granted};
use super::convert::{class_name, etag, max_keys, owner, timestamp, url_encode, wants_url};
use super::error::s3err;
use super::service::SpreadS3;

async fn list(
    s3: &SpreadS3,
    bucket: &str,
    prefix: Option<&String>,
    delimiter: Option<&String>,
    after: Option<String>,
    max_keys: u32,
) -> S3Result<ListReply> {
    if max_keys == 0 {
        return Ok(ListReply::default());
    }
    let req = ListRequest {
        prefix: prefix.cloned().unwrap_or_default(),
        delimiter: delimiter.filter(|d| !d.is_empty()).cloned(),
        after,
        end_before: None,
        max_keys,
    };
    s3.svc
        .meta()
        .list_objects(bucket, &req)
        .await
        .map_err(s3err)
}

fn contents(
    reply: &ListReply,
    url: bool,
    fetch_owner: Option<&str>,
    policies: Option<&policy::PolicySet>,
) -> (Vec<Object>, Vec<CommonPrefix>) {
    let enc = |s: &str| if url { url_encode(s) } else { s.to_string() };
    let objects = reply
        .objects
        .iter()
        .map(|o| Object {
            key: Some(enc(&o.key)),
            e_tag: Some(etag(&o.etag)),
            last_modified: Some(timestamp(o.mtime_ms)),
            size: Some(o.size as i64),
            storage_class: Some(ObjectStorageClass::from(class_name(policies, &o.policy))),
            owner: fetch_owner.map(owner),
            ..Default::default()
        })
        .collect();
    let prefixes = reply
        .common_prefixes
        .iter()
        .map(|p| CommonPrefix {
            prefix: Some(enc(p)),
        })
        .collect();
    (objects, prefixes)
}

pub async fn list_objects(
    s3: &SpreadS3,
    mut req: S3Request<ListObjectsInput>,
) -> S3Result<S3Response<ListObjectsOutput>> {
    let container = granted::<Access, _>(&mut req)?.container;
    let input = req.input;
    let url = wants_url(input.encoding_type.as_ref())?;
    let max = max_keys(input.max_keys)?;
    let marker = input.marker.clone().filter(|m| !m.is_empty());
    let reply = list(
        s3,
        &container.name,
        input.prefix.as_ref(),
        input.delimiter.as_ref(),
        marker,
        max,
    )
    .await?;
    let policies = s3.svc.policies().await.ok();
    let (objects, prefixes) = contents(
        &reply,
        url,
        Some(container.account.as_str()),
        policies.as_deref(),
    );
    let enc = |s: String| if url { url_encode(&s) } else { s };
    Ok(S3Response::new(ListObjectsOutput {
        name: Some(container.name),
        // Prefix goes out as sent: botocore url-decodes Marker, Delimiter, NextMarker, Key and
        // CommonPrefixes of a v1 listing, but not Prefix.
        prefix: Some(input.prefix.unwrap_or_default()),
        // Marker is always present in a v1 listing, empty when none was given.
        marker: Some(enc(input.marker.unwrap_or_default())),
        max_keys: Some(max as i32),
        is_truncated: Some(reply.truncated),
        contents: Some(objects),
        common_prefixes: Some(prefixes),
        delimiter: input.delimiter.filter(|d| !d.is_empty()).map(enc),
        next_marker: if reply.truncated {
            reply.next_after.map(enc)
        } else {
            None
        },
        encoding_type: input.encoding_type,
        ..Default::default()
    }))
}

fn encode_token(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.as_bytes())
}

fn decode_token(token: &str) -> S3Result<String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "The continuation token provided is incorrect"
            )
        })
}

pub async fn list_objects_v2(
    s3: &SpreadS3,
    mut req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let container = granted::<Access, _>(&mut req)?.container;
    let input = req.input;
    let url = wants_url(input.encoding_type.as_ref())?;
    let max = max_keys(input.max_keys)?;
    let after = match &input.continuation_token {
        Some(t) => Some(decode_token(t)?),
        None => input.start_after.clone().filter(|s| !s.is_empty()),
    };
    let reply = list(
        s3,
        &container.name,
        input.prefix.as_ref(),
        input.delimiter.as_ref(),
        after,
        max,
    )
    .await?;
    let fetch_owner = input.fetch_owner.unwrap_or(false);
    let policies = s3.svc.policies().await.ok();
    let (objects, prefixes) = contents(
        &reply,
        url,
        fetch_owner.then_some(container.account.as_str()),
        policies.as_deref(),
    );
    let enc = |s: String| if url { url_encode(&s) } else { s };
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(container.name),
        prefix: Some(enc(input.prefix.unwrap_or_default())),
        max_keys: Some(max as i32),
        key_count: Some((objects.len() + prefixes.len()) as i32),
        continuation_token: input.continuation_token,
        is_truncated: Some(reply.truncated),
        next_continuation_token: if reply.truncated {
            reply.next_after.as_deref().map(encode_token)
        } else {
            None
        },
        contents: Some(objects),
        common_prefixes: Some(prefixes),
        delimiter: input.delimiter.filter(|d| !d.is_empty()).map(enc),
        encoding_type: input.encoding_type,
        start_after: input.start_after.map(enc),
        ..Default::default()
    }))
}
