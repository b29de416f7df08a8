//! The Swift listener: parses `/auth/v1.0`, `/info` and `/v1/AUTH_<account>[/<container>[/<object>]]`,
//! authenticates the token (or the TempURL signature), checks the caller may act on the
//! target by the one table of routes, [`ROUTES`] (deny by default: a method with no entry
//! at its level is 405, before any handler runs), and dispatches to the handler of the
//! resource. Every request runs in a tracing span carrying its transaction id, which is also
//! answered as `X-Trans-Id` / `X-Openstack-Request-Id`.
//!
//! Adding a Swift route: give (level, method) an entry in [`ROUTES`] saying who may call it;
//! a unit test reads the handlers' `match` on the method and fails for a method handled
//! without an entry, or an entry no handler serves.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::listener::ReqBody;
use http::{HeaderMap, Method, StatusCode};
use meta_api::wire::ContainerInfo;
use tokio::net::TcpListener;

use super::auth::{Caller, TokenCache};
use super::error::{SwiftError, SwiftResult};
use super::tempurl::TempUrl;
use super::{Response, account, container, header, info, object, respond};
use crate::listener::{Exchange, Peer};
use crate::objects::ObjectService;
use crate::observe::Observer;
use crate::{Config, Error, Result};

/// Shared state of the Swift front end.
pub struct Swift {
    pub svc: ObjectService,
    pub tokens: TokenCache,
    pub token_ttl_secs: u64,
    /// `https` when the listener speaks TLS, else `http`: the scheme of the storage URLs
    /// `/auth/v1.0` answers.
    pub scheme: &'static str,
}

/// One request, parsed.
#[derive(Clone)]
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

    /// May the caller read objects of `c` (`listing`: list it), with this request's
    /// `Referer` for the container's `.r:` entries.
    pub fn may_read(&self, c: &ContainerInfo, listing: bool) -> bool {
        self.caller
            .may_read(c, listing, super::header(&self.headers, "referer"))
    }
}

/// Serves Swift on an already bound listener (over `tls` if set) until the process stops.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    svc: ObjectService,
    observer: Arc<Observer>,
    tls: Option<crate::tls::Tls>,
) -> Result<()> {
    let swift = Arc::new(Swift {
        tokens: TokenCache::new(svc.meta().clone(), config.credential_cache_secs),
        svc,
        token_ttl_secs: config.swift_token_ttl_secs,
        scheme: if tls.is_some() { "https" } else { "http" },
    });
    let local = listener.local_addr()?;
    let mut edge = crate::listener::Edge::of(&config).with_tls(tls);
    // Swift allows 90 metadata headers per request (`/info` `max_meta_count`), more than
    // hyper's default of 100 headers in all leaves room for: over the count is Swift's 400.
    edge.max_headers = Some(super::MAX_REQUEST_HEADERS);
    crate::listener::serve(listener, "swift", "tx", edge, observer, move |req, id| {
        let swift = swift.clone();
        async move {
            let mut resp = handle(&swift, req, local).await;
            // One line per request at debug (a server error was logged at warn with its
            // cause where it happened).
            if resp.status().is_client_error() {
                tracing::debug!(status = %resp.status(), "refused");
            } else if !resp.status().is_server_error() {
                tracing::debug!(status = %resp.status(), "done");
            }
            super::put_header(resp.headers_mut(), "x-trans-id", &id);
            super::put_header(resp.headers_mut(), "x-openstack-request-id", &id);
            Ok::<_, std::convert::Infallible>(resp)
        }
    })
    .await?;
    Ok(())
}

async fn handle(
    swift: &Arc<Swift>,
    req: http::Request<ReqBody>,
    local: std::net::SocketAddr,
) -> Response {
    let head_only = req.method() == Method::HEAD;
    // `Connection: keep-alive` is answered back, as Swift's server does (HTTP/1.1 keeps the
    // connection either way).
    let keep_alive = req
        .headers()
        .get(http::header::CONNECTION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("keep-alive"))
        });
    // The realm a 401 names: the account path segment as sent (still percent-encoded, so
    // it cannot break the header), as Swift's tempauth answers.
    let realm = req
        .uri()
        .path()
        .strip_prefix("/v1/")
        .map(|r| r.split('/').next().unwrap_or_default().to_string())
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    let mut resp = match route(swift, req, local).await {
        Ok(r) => r,
        Err(e) => error_response(e),
    };
    if resp.status() == StatusCode::UNAUTHORIZED && !resp.headers().contains_key("www-authenticate")
    {
        let value = format!("Swift realm=\"{}\"", realm.replace('"', "%22"));
        super::put_header(resp.headers_mut(), "www-authenticate", &value);
    }
    if keep_alive && !resp.headers().contains_key(http::header::CONNECTION) {
        super::put_header(resp.headers_mut(), "connection", "keep-alive");
    }
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
    if let Some(l) = &e.location {
        super::put_header(&mut h, "content-location", l);
    }
    if e.status == StatusCode::SERVICE_UNAVAILABLE {
        // Meta or chunk servers out of reach: the client is told when to try again.
        let secs = crate::error::retry_after_secs().to_string();
        super::put_header(&mut h, "retry-after", &secs);
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

/// The level of a Swift path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `/auth/v1.0` (also `/auth/v1`).
    Auth,
    /// `/info`.
    Info,
    /// `/v1/AUTH_<account>`.
    Account,
    /// `/v1/AUTH_<account>/<container>`.
    Container,
    /// `/v1/AUTH_<account>/<container>/<object>`.
    Object,
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Anyone (the handler checks what it is given: the user's key, nothing for `/info`).
    Anyone,
    /// An admin user of the account (by its token).
    Admin,
    /// Whoever may read the container: the account's admins, the users its read ACL
    /// (`X-Container-Read`) names, anyone when it has `.r:*` (for a listing also
    /// `.rlistings`), a TempURL whose key covers it.
    Readers { listing: bool },
    /// Whoever may write the container: the account's admins, the users its write ACL
    /// (`X-Container-Write`) names, a TempURL whose key covers it.
    Writers,
}

/// Every Swift route (level × method) and who may call it. Who may learn that a container
/// is missing: at the container level its account's admins, at the object level also a
/// TempURL whose key covers the name; everyone else is refused as for an existing one.
pub const ROUTES: &[(Level, &str, Who)] = &[
    (Level::Auth, "GET", Who::Anyone),
    (Level::Auth, "HEAD", Who::Anyone),
    (Level::Info, "GET", Who::Anyone),
    (Level::Info, "HEAD", Who::Anyone),
    (Level::Account, "GET", Who::Admin),
    (Level::Account, "HEAD", Who::Admin),
    // Metadata; with `?bulk-delete`, a bulk delete (each object then as a write of its
    // container).
    (Level::Account, "POST", Who::Admin),
    // Refused (403) by the handler, as Swift does.
    (Level::Account, "PUT", Who::Admin),
    // Refused (403), or with `?bulk-delete` a bulk delete.
    (Level::Account, "DELETE", Who::Admin),
    (Level::Container, "PUT", Who::Admin),
    (Level::Container, "POST", Who::Admin),
    (Level::Container, "DELETE", Who::Admin),
    (Level::Container, "GET", Who::Readers { listing: true }),
    (Level::Container, "HEAD", Who::Readers { listing: true }),
    (Level::Object, "GET", Who::Readers { listing: false }),
    (Level::Object, "HEAD", Who::Readers { listing: false }),
    (Level::Object, "PUT", Who::Writers),
    (Level::Object, "POST", Who::Writers),
    (Level::Object, "DELETE", Who::Writers),
    (Level::Object, "COPY", Who::Writers),
];

/// Who may call `method` at `level` (none: no such route).
pub fn who_may(level: Level, method: &Method) -> Option<Who> {
    ROUTES
        .iter()
        .find(|(l, m, _)| *l == level && *m == method.as_str())
        .map(|(_, _, who)| *who)
}

/// Refuses a request its route's entry does not let through (405 without an entry).
async fn check_route(swift: &Swift, level: Level, ctx: &Ctx) -> SwiftResult<()> {
    let Some(who) = who_may(level, &ctx.method) else {
        return Err(SwiftError::status(StatusCode::METHOD_NOT_ALLOWED));
    };
    let caller = &ctx.caller;
    let may = match who {
        Who::Anyone => true,
        Who::Admin => caller.owns(&ctx.account),
        Who::Readers { .. } | Who::Writers => {
            let name = ctx.container.as_deref().unwrap_or_default();
            let found = if level == Level::Container {
                // As fresh as the container's HEAD and listing answer it.
                account_container_now(swift, &ctx.account, name).await
            } else {
                account_container(swift, &ctx.account, name).await
            };
            let c = match found {
                Ok(c) => c,
                Err(e) if level == Level::Container && caller.owns(&ctx.account) => {
                    return Err(e);
                }
                Err(e) if level == Level::Object && caller.may_see_missing(&ctx.account, name) => {
                    return Err(e);
                }
                // Callers without rights learn nothing about the container's existence.
                Err(_) => return Err(caller.denied()),
            };
            match who {
                Who::Readers { listing } => ctx.may_read(&c, listing),
                _ => caller.may_write(&c),
            }
        }
    };
    if may { Ok(()) } else { Err(caller.denied()) }
}

async fn route(
    swift: &Arc<Swift>,
    req: http::Request<ReqBody>,
    local: std::net::SocketAddr,
) -> SwiftResult<Response> {
    let (mut parts, body) = req.into_parts();
    let host = header(&parts.headers, "host")
        .map(str::to_string)
        .unwrap_or_else(|| local.to_string());
    let path = parts.uri.path().to_string();
    let exchange = parts.extensions.get::<Exchange>().cloned();
    let mut query = parse_query(parts.uri.query())?;
    if path == "/auth/v1.0" || path == "/auth/v1.0/" || path == "/auth/v1" {
        if let Some(x) = &exchange {
            x.set_operation("Auth");
        }
        if who_may(Level::Auth, &parts.method).is_none() {
            return Err(SwiftError::status(StatusCode::METHOD_NOT_ALLOWED));
        }
        return super::auth::authenticate(swift, &parts.method, &parts.headers, &host).await;
    }
    if path == "/info" || path == "/info/" {
        if let Some(x) = &exchange {
            x.set_operation("Info");
        }
        if who_may(Level::Info, &parts.method).is_none() {
            return Err(SwiftError::status(StatusCode::METHOD_NOT_ALLOWED));
        }
        return info::info(swift, &parts.method).await;
    }
    if path == "/v1" || path == "/v1/" {
        return Err(SwiftError::with(StatusCode::PRECONDITION_FAILED, "Bad URL"));
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
    if let Some(x) = &exchange {
        let level = match (&container, &object) {
            (None, _) => Level::Account,
            (Some(_), None) => Level::Container,
            (Some(_), Some(_)) => Level::Object,
        };
        let bulk = query.contains_key("bulk-delete");
        x.set_operation(operation_name(level, &parts.method, bulk));
        x.set_target(container.as_deref(), object.as_deref());
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
    if let Some(x) = &exchange {
        match &caller {
            Caller::User(t) => x.set_account(&t.account),
            Caller::TempUrl(_) => x.set_account(&account),
            Caller::Anonymous => {}
        }
    }
    let ctx = Ctx {
        method: parts.method,
        headers: parts.headers,
        query,
        account,
        container,
        object,
        caller,
    };
    let level = match (&ctx.container, &ctx.object) {
        (None, _) => Level::Account,
        (Some(_), None) => Level::Container,
        (Some(_), Some(_)) => Level::Object,
    };
    check_route(swift, level, &ctx).await?;
    match (&ctx.container, &ctx.object) {
        (None, _) => {
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

/// The operation a Swift request is counted (and logged) as: its level and method, e.g.
/// `GetObject`, `PutContainer`, `BulkDelete`; `Other` for a method Swift does not serve.
pub fn operation_name(level: Level, method: &Method, bulk: bool) -> &'static str {
    let m = method.as_str();
    match level {
        Level::Auth => "Auth",
        Level::Info => "Info",
        Level::Account if bulk && (m == "POST" || m == "DELETE") => "BulkDelete",
        Level::Account => match m {
            "GET" => "GetAccount",
            "HEAD" => "HeadAccount",
            "POST" => "PostAccount",
            "PUT" => "PutAccount",
            "DELETE" => "DeleteAccount",
            "OPTIONS" => "OptionsAccount",
            _ => "Other",
        },
        Level::Container => match m {
            "GET" => "GetContainer",
            "HEAD" => "HeadContainer",
            "POST" => "PostContainer",
            "PUT" => "PutContainer",
            "DELETE" => "DeleteContainer",
            "OPTIONS" => "OptionsContainer",
            _ => "Other",
        },
        Level::Object => match m {
            "GET" => "GetObject",
            "HEAD" => "HeadObject",
            "POST" => "PostObject",
            "PUT" => "PutObject",
            "DELETE" => "DeleteObject",
            "COPY" => "CopyObject",
            "OPTIONS" => "OptionsObject",
            _ => "Other",
        },
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
    found: meta_api::error::Result<ContainerInfo>,
) -> SwiftResult<ContainerInfo> {
    match found {
        Ok(c) if c.account == account => Ok(c),
        Ok(_) | Err(meta_api::Error::NoSuchContainer(_)) => Err(SwiftError::not_found()),
        Err(e) => Err(Error::Meta(e).into()),
    }
}

#[cfg(test)]
mod tests {
    //! [`ROUTES`] against the handlers: the methods each level's handler serves are read from
    //! its source (its `match` on the method), not listed by hand.

    use std::collections::BTreeSet;

    use super::*;

    /// The body of `fn name` in `src` (to its closing brace at the start of a line).
    fn body<'a>(src: &'a str, name: &str) -> &'a str {
        let start = src
            .find(&format!("fn {name}("))
            .unwrap_or_else(|| panic!("no fn {name}"));
        let rest = &src[start..];
        let end = rest.find("\n}\n").unwrap_or(rest.len());
        &rest[..end]
    }

    /// The HTTP methods a handler's body names: `Method::X` and `m.as_str() == "X"`.
    fn methods(body: &str) -> BTreeSet<String> {
        let word = |s: &str| -> String {
            s.chars()
                .take_while(|c| c.is_ascii_uppercase())
                .collect::<String>()
        };
        let mut out = BTreeSet::new();
        for (i, _) in body.match_indices("Method::") {
            out.insert(word(&body[i + "Method::".len()..]));
        }
        for (i, _) in body.match_indices("as_str() == \"") {
            out.insert(word(&body[i + "as_str() == \"".len()..]));
        }
        out.remove("");
        out
    }

    fn table(level: Level) -> BTreeSet<String> {
        ROUTES
            .iter()
            .filter(|(l, _, _)| *l == level)
            .map(|(_, m, _)| m.to_string())
            .collect()
    }

    #[test]
    fn every_route_a_handler_serves_has_one_entry() {
        let handlers = [
            (Level::Auth, body(include_str!("auth.rs"), "authenticate")),
            (Level::Info, body(include_str!("info.rs"), "info")),
            (Level::Account, body(include_str!("account.rs"), "handle")),
            (
                Level::Container,
                body(include_str!("container.rs"), "handle"),
            ),
            (Level::Object, body(include_str!("object.rs"), "handle")),
        ];
        for (level, body) in handlers {
            let served = methods(body);
            assert!(served.contains("GET"), "{level:?}: no GET found in {body}");
            assert_eq!(table(level), served, "{level:?}: table and handler differ");
        }
        let mut seen = BTreeSet::new();
        for (level, method, _) in ROUTES {
            assert!(
                seen.insert((*level as u8, *method)),
                "{level:?} {method} twice"
            );
        }
    }

    #[test]
    fn operation_names_for_the_metrics() {
        let copy = Method::from_bytes(b"COPY").expect("method");
        let odd = Method::from_bytes(b"PATCH").expect("method");
        for (level, method, bulk, name) in [
            (Level::Auth, &Method::GET, false, "Auth"),
            (Level::Info, &Method::GET, false, "Info"),
            (Level::Account, &Method::HEAD, false, "HeadAccount"),
            (Level::Account, &Method::POST, true, "BulkDelete"),
            (Level::Account, &Method::GET, true, "GetAccount"),
            (Level::Container, &Method::PUT, false, "PutContainer"),
            (Level::Object, &Method::GET, false, "GetObject"),
            (Level::Object, &copy, false, "CopyObject"),
            (Level::Object, &odd, false, "Other"),
        ] {
            assert_eq!(operation_name(level, method, bulk), name);
        }
    }

    #[test]
    fn routes_without_entry_are_refused() {
        assert_eq!(who_may(Level::Object, &Method::OPTIONS), None);
        assert_eq!(who_may(Level::Account, &Method::PATCH), None);
        assert_eq!(
            who_may(Level::Object, &Method::from_bytes(b"COPY").unwrap()),
            Some(Who::Writers)
        );
        assert_eq!(who_may(Level::Container, &Method::PUT), Some(Who::Admin));
    }
}
