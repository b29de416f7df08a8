//! Conditional requests: the `If-Match` / `If-None-Match` preconditions of a write, and the
//! `If-*` headers of a read (GET, HEAD, and a copy's `x-amz-copy-source-if-*`) evaluated
//! against the version read.

use meta_api::wire::{ObjectRecord, PutCondition};
use s3s::S3Result;
use s3s::dto::{ETagCondition, Timestamp};

use crate::error::Error;

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

/// Evaluates If-Match / If-Unmodified-Since / If-None-Match / If-Modified-Since (RFC 9110 order).
pub fn check_conditions(
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
