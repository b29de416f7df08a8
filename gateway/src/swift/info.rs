//! `GET /info`: the capabilities this gateway really implements, with the limits it enforces.
//! Features that are not implemented are not listed, so clients do not try them.

use http::{HeaderMap, Method, StatusCode};
use serde_json::json;

use super::error::{SwiftError, SwiftResult};
use super::large::{SLO_MAX_SEGMENTS, SLO_MIN_SEGMENT};
use super::router::Swift;
use super::{
    LISTING_LIMIT, MAX_CONTAINER_NAME, MAX_FILE_SIZE, MAX_META_COUNT, MAX_META_NAME,
    MAX_META_OVERALL, MAX_META_VALUE, MAX_OBJECT_NAME, Response, put_header, respond,
};

pub async fn info(swift: &Swift, method: &Method) -> SwiftResult<Response> {
    if method != Method::GET && method != Method::HEAD {
        return Err(SwiftError::status(StatusCode::METHOD_NOT_ALLOWED));
    }
    let policies: Vec<serde_json::Value> = match swift.svc.policies().await {
        Ok(set) => {
            let default = set.default_policy().name.clone();
            set.policies
                .keys()
                .map(|name| {
                    if *name == default {
                        json!({"name": name, "default": true})
                    } else {
                        json!({"name": name})
                    }
                })
                .collect()
        }
        Err(e) => return Err(e.into()),
    };
    let body = json!({
        "swift": {
            "version": concat!("spread-", env!("CARGO_PKG_VERSION")),
            "max_file_size": MAX_FILE_SIZE,
            "max_meta_name_length": MAX_META_NAME,
            "max_meta_value_length": MAX_META_VALUE,
            "max_meta_count": MAX_META_COUNT,
            "max_meta_overall_size": MAX_META_OVERALL,
            "max_header_size": 8192,
            "max_object_name_length": MAX_OBJECT_NAME,
            "container_listing_limit": LISTING_LIMIT,
            "account_listing_limit": LISTING_LIMIT,
            "max_account_name_length": 255,
            "max_container_name_length": MAX_CONTAINER_NAME,
            "extra_header_count": 0,
            "strict_cors_mode": true,
            "policies": policies,
        },
        "tempauth": {"account_acls": false},
        "tempurl": super::tempurl::info(),
        "dlo": {"max_segments": 10000},
        "versioned_writes": {"allowed_flags": ["x-versions-location", "x-history-location"]},
        "object_versioning": {},
        "symlink": {
            "symlink_loop_limit": super::symlink::SYMLOOP_MAX,
            "static_links": true,
        },
        "bulk_delete": {
            "max_deletes_per_request": super::bulk::MAX_DELETES,
            "max_failed_deletes": super::bulk::MAX_FAILED,
        },
        "slo": {
            "max_manifest_segments": SLO_MAX_SEGMENTS,
            "max_manifest_size": 8 * 1024 * 1024,
            "min_segment_size": SLO_MIN_SEGMENT,
            "yield_frequency": super::heartbeat::YIELD_FREQUENCY,
        },
    });
    let mut h = HeaderMap::new();
    put_header(&mut h, "content-type", "application/json; charset=utf-8");
    Ok(respond(StatusCode::OK, h, body.to_string()))
}
