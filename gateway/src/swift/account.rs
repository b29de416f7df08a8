//! Account requests: GET (container listing), HEAD (counts and metadata), POST (metadata,
//! including the Temp-URL keys). Only the account's admin users get here.

use http::{HeaderMap, Method, StatusCode};
use meta_api::wire::AccountInfo;

use super::error::{SwiftError, SwiftResult};
use super::listing::{self, ContainerEntry, Params};
use super::router::{Ctx, Swift};
use super::{Response, meta_updates, put_header, respond, x_timestamp};

pub async fn handle(swift: &Swift, ctx: &Ctx) -> SwiftResult<Response> {
    match ctx.method {
        Method::GET => list(swift, ctx).await,
        Method::HEAD => {
            let info = swift.svc.meta().get_account(&ctx.account).await?;
            Ok(respond(StatusCode::NO_CONTENT, headers(&info), ""))
        }
        Method::POST => {
            let (set, remove) = meta_updates(&ctx.headers, "account")?;
            let info = swift
                .svc
                .meta()
                .update_account_meta(&ctx.account, &set, &remove)
                .await?;
            Ok(respond(StatusCode::NO_CONTENT, headers(&info), ""))
        }
        Method::PUT | Method::DELETE => Err(SwiftError::forbidden()),
        _ => Err(SwiftError::status(StatusCode::METHOD_NOT_ALLOWED)),
    }
}

/// X-Account-* headers of an account.
fn headers(info: &AccountInfo) -> HeaderMap {
    let mut h = HeaderMap::new();
    put_header(
        &mut h,
        "x-account-container-count",
        &info.containers.to_string(),
    );
    put_header(&mut h, "x-account-object-count", &info.objects.to_string());
    put_header(&mut h, "x-account-bytes-used", &info.bytes.to_string());
    put_header(&mut h, "x-timestamp", &x_timestamp(info.created_ms));
    put_header(
        &mut h,
        "last-modified",
        &super::http_date_ceil(info.created_ms),
    );
    for (k, v) in &info.meta {
        put_header(&mut h, &format!("x-account-meta-{k}"), v);
    }
    h
}

async fn list(swift: &Swift, ctx: &Ctx) -> SwiftResult<Response> {
    let params = Params::of(ctx)?;
    let meta = swift.svc.meta();
    let info = meta.get_account(&ctx.account).await?;
    let mut all = meta.list_containers(&ctx.account).await?;
    all.sort_by(|a, b| a.name.cmp(&b.name));
    let default_policy = swift
        .svc
        .policies()
        .await
        .map(|s| s.default_policy().name.clone())
        .unwrap_or_default();
    let entries: Vec<ContainerEntry> = all
        .into_iter()
        .map(|c| ContainerEntry {
            name: c.name,
            count: c.objects,
            bytes: c.bytes,
            last_modified_ms: c.created_ms,
            storage_policy: c
                .settings
                .policy
                .clone()
                .unwrap_or_else(|| default_policy.clone()),
            subdir: false,
        })
        .collect();
    let selected = listing::select(
        entries,
        |c| c.name.as_str(),
        |name| ContainerEntry {
            name,
            count: 0,
            bytes: 0,
            last_modified_ms: 0,
            storage_policy: String::new(),
            subdir: true,
        },
        &params,
    );
    let h = headers(&info);
    Ok(listing::containers(
        listing::format(ctx),
        &ctx.account,
        &selected,
        h,
    ))
}
