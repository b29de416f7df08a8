//! The Swift listener: parses `/auth/v1.0`, `/info` and `/v1/AUTH_<account>[/<container>[/<object>]]`,
//! authenticates the token (or the TempURL signature), checks the caller may act on the
//! target, and dispatches to the handler of the resource. Every request runs in a tracing
//! span carrying its transaction id, which is also answered as `X-Trans-Id` /
//! `X-Openstack-Request-Id`.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::{HeaderMap, Method, StatusCode};
use hyper::body::Incoming;
use meta::wire::ContainerInfo;
use tokio::net::TcpListener;

use super::auth::{Caller, TokenCache};
use super::error::{SwiftError, SwiftResult};
use super::tempurl::TempUrl;
use super::{Response, account, container, header, info, object, respond};
use crate::listener::Peer;
use crate::objects::ObjectService;
use crate::{Config, Error, Result};

/// Shared state of the Swift front end.
pub struct Swift {
    pub svc: ObjectService,
    pub tokens: TokenCache,
    pub token_ttl_secs: u64,
}

/// One request, parsed.
pub struct Ctx {
    pub method: Method,
    pub headers: HeaderMap,
    /// Decoded query parameters (a parameter without value maps to "").
    pub query: BTreeMap<String, String>,
    pub account: String,
    pub container: Option<String>,
    pub object: Option<String>,
    pub caller: Caller,
}

impl Ctx {
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }
}

/// Serves Swift on an already bound listener until the process stops.
pub async fn serve(listener: TcpListener, config: Config, svc: ObjectService) -> Result<()> {
    let swift = Arc::new(Swift {
        tokens: TokenCache::new(svc.meta().clone(), config.credential_cache_secs),
        svc,
        token_ttl_secs: config.swift_token_ttl_secs,
    });
    let local = listener.local_addr()?;
    crate::listener::serve(listener, "swift", "tx", move |req, id| {
        let swift = swift.clone();
        async move {
            let mut resp = handle(&swift, req, local).await;
            tracing::debug!(status = %resp.status(), "done");
            super::put_header(resp.headers_mut(), "x-trans-id", &id);
            super::put_header(resp.headers_mut(), "x-openstack-request-id", &id);
            Ok::<_, std::convert::Infallible>(resp)
        }
    })
    .await?;
    Ok(())
}

async fn handle(
    swift: &Swift,
    req: http::Request<Incoming>,
    local: std::net::SocketAddr,
) -> Response {
    let head_only = req.method() == Method::HEAD;
    let mut resp = match route(swift, req, local).await {
        Ok(r) => r,
        Err(e) => error_response(e),
    };
    if head_only {
        // HEAD answers keep their headers (Content-Length included) but carry no body.
        let (parts, _) = resp.into_parts();
        resp = http::Response::from_parts(parts, super::full(bytes::Bytes::new()));
    }
    resp
}

fn error_response(e: SwiftError) -> Response {
    let mut h = HeaderMap::new();
    if !e.body.is_empty() {
        super::put_header(&mut h, "content-type", "text/html; charset=UTF-8");
    }
    respond(e.status, h, e.body)
}

fn decode(s: &str) -> SwiftResult<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| {
            SwiftError::with(
                StatusCode::PRECONDITION_FAILED,
                "Invalid UTF8 or contains NULL",
            )
        })
}

fn parse_query(q: Option<&str>) -> SwiftResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.insert(decode(&k.replace('+', " "))?, decode(&v.replace('+', " "))?);
    }
    Ok(out)
}

async fn route(
    swift: &Swift,
    req: http::Request<Incoming>,
    local: std::net::SocketAddr,
) -> SwiftResult<Response> {
    let (mut parts, body) = req.into_parts();
    let host = header(&parts.headers, "host")
        .map(str::to_string)
        .unwrap_or_else(|| local.to_string());
    let path = parts.uri.path().to_string();
    let mut query = parse_query(parts.uri.query())?;
    if path == "/auth/v1.0" || path == "/auth/v1.0/" || path == "/auth/v1" {
        return super::auth::authenticate(swift, &parts.method, &parts.headers, &host).await;
    }
    if path == "/info" || path == "/info/" {
        return info::info(swift, &parts.method).await;
    }
    let Some(rest) = path.strip_prefix("/v1/") else {
        return Err(SwiftError::not_found());
    };
    let (account_seg, rest) = match rest.split_once('/') {
        Some((a, r)) => (a, Some(r)),
        None => (rest, None),
    };
    let Some(account) = decode(account_seg)?
        .strip_prefix("AUTH_")
        .map(str::to_string)
    else {
        return Err(SwiftError::not_found());
    };
    let (container, object) = match rest.filter(|r| !r.is_empty()) {
        None => (None, None),
        Some(r) => match r.split_once('/') {
            Some((c, o)) if !o.is_empty() => (Some(decode(c)?), Some(decode(o)?)),
            Some((c, _)) => (Some(decode(c)?), None),
            None => (Some(decode(r)?), None),
        },
    };
    if container.as_deref() == Some("") {
        return Err(SwiftError::not_found());
    }
    if let Some(o) = &object
        && o.len() > super::MAX_OBJECT_NAME
    {
        return Err(SwiftError::bad_request(format!(
            "Object name length of {} longer than {}",
            o.len(),
            super::MAX_OBJECT_NAME
        )));
    }
    let temp_url = TempUrl::of(&query);
    let caller = match &temp_url {
        None => swift.tokens.caller(&parts.headers).await?,
        Some(t) => {
            let peer = parts.extensions.get::<Peer>().map(|p| p.0.ip());
            let (c, o) = (container.as_deref(), object.as_deref());
            let scope = t
                .authorize(swift, &parts.method, &account, c, o, peer)
                .await?;
            t.clean_request(&parts.method, &mut parts.headers, &mut query)?;
            Caller::TempUrl(scope)
        }
    };
    let ctx = Ctx {
        method: parts.method,
        headers: parts.headers,
        query,
        account,
        container,
        object,
        caller,
    };
    match (&ctx.container, &ctx.object) {
        (None, _) => {
            if !ctx.caller.owns(&ctx.account) {
                return Err(ctx.caller.denied());
            }
            let bulk = ctx.query.contains_key("bulk-delete")
                && matches!(ctx.method, Method::POST | Method::DELETE);
            if bulk {
                super::bulk::bulk_delete(swift, &ctx, body).await
            } else {
                account::handle(swift, &ctx).await
            }
        }
        (Some(_), None) => container::handle(swift, &ctx).await,
        (Some(_), Some(o)) => {
            let Some(t) = temp_url else {
                return object::handle(swift, ctx, body).await;
            };
            let (method, o) = (ctx.method.clone(), o.clone());
            let mut resp = object::handle(swift, ctx, body).await?;
            t.finish(&method, &o, &mut resp);
            Ok(resp)
        }
    }
}

/// The container `name` of `account` (404 when it does not exist or belongs to another
/// account: container names are global, as S3 bucket names).
/// Its usage counters may be a moment old (`MetaClient::get_container_cached`); see
/// [`account_container_now`].
pub async fn account_container(
    swift: &Swift,
    account: &str,
    name: &str,
) -> SwiftResult<ContainerInfo> {
    owned_by(account, swift.svc.meta().get_container_cached(name).await)
}

/// [`account_container`] with its usage counters as they are now (container HEAD and GET).
pub async fn account_container_now(
    swift: &Swift,
    account: &str,
    name: &str,
) -> SwiftResult<ContainerInfo> {
    owned_by(account, swift.svc.meta().get_container(name).await)
}

fn owned_by(
    account: &str,
    found: meta::error::Result<ContainerInfo>,
) -> SwiftResult<ContainerInfo> {
    match found {
        Ok(c) if c.account == account => Ok(c),
        Ok(_) | Err(meta::Error::NoSuchContainer(_)) => Err(SwiftError::not_found()),
        Err(e) => Err(Error::Meta(e).into()),
    }
}
