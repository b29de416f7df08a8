//! The web console, served on the gateway's admin listener (`admin_addr`) under `/console`:
//! the cluster map by location with the conscience's live scores, accounts and buckets with
//! their usage, storage policies, the GC backlog and rebuild progress, refreshed in the page
//! every few seconds. Read-only.
//!
//! # Login
//! The gateway holds only the cluster secret (the service role); meta's admin routes need the
//! admin role. So an operator logs in with the **admin secret** itself (the 64 hex digits of
//! `keys/admin.key`): [`Console::login`] derives the admin signer from it, proves it with a
//! signed admin call to meta (a wrong key is refused there, and the page says so), and keeps
//! the signing client in memory behind a random session token ([`session`]). Only the admin
//! role's signing key, derived from the secret, is kept: not the secret itself, from which
//! meta's Raft peer key also derives. Nothing of it is written to disk or sent back; the
//! session ends on logout, after `console_session_secs`, or when the gateway restarts.
//!
//! # Routes
//! - `GET /console`: the console when logged in, else the login form;
//! - `POST /console/login` (form field `key`), `POST /console/logout` (form field `csrf`);
//! - `GET /console/static/{console.css,console.js}`: the page's style and script (embedded);
//! - `GET /console/api/overview`: every section at once (JSON, see [`view`]); each section
//!   is `{"Ok": ...}` or `{"Err": "why"}`, so one failing meta call spoils only its part;
//! - `GET /console/api/session`: when the session expires.
//!
//! Every `/console/api/` route answers 401 without a live session. The session cookie is
//! HttpOnly and SameSite=Strict; the POST routes also refuse a request whose `Origin` (or
//! `Sec-Fetch-Site`) names another site, and logout needs the session's CSRF token. Pages
//! carry a Content-Security-Policy that allows only this listener's own script and style (no
//! inline script), no framing.

pub mod session;
pub mod view;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use internal_auth::{Role, Secret, Signer};
use meta_api::api::AccountList;
use meta_api::client::MetaClient;
use policy::PolicySet;
use serde::Serialize;

use crate::Config;
use session::{Session, Sessions};

/// The session cookie's name.
pub const COOKIE: &str = "spread_console";
/// The console's path prefix on the admin listener.
pub const PREFIX: &str = "/console";
/// Largest login or logout form read.
const FORM_MAX_BYTES: usize = 4096;
/// Most accounts listed with their buckets (the rest are counted).
pub const MAX_ACCOUNTS: usize = 200;
/// Bucket listings asked of meta at once.
const LISTINGS_AT_ONCE: usize = 8;
/// The longest the console waits for one answer of meta.
const META_TIMEOUT_MAX: Duration = Duration::from_secs(10);
/// Logins checked with meta at once; more are answered 429 (anyone who reaches the admin
/// listener can try keys, so they are not let loose on meta).
const LOGINS_AT_ONCE: usize = 4;

const LOGIN_HTML: &str = include_str!("assets/login.html");
const APP_HTML: &str = include_str!("assets/app.html");
const CONSOLE_CSS: &str = include_str!("assets/console.css");
const CONSOLE_JS: &str = include_str!("assets/console.js");

/// The Content-Security-Policy of every console answer.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The console of one gateway.
pub struct Console {
    /// The meta group's addresses (`Config::meta`).
    meta: String,
    meta_timeout: Duration,
    down_after_ms: i64,
    sessions: Sessions,
    /// The policies in force when none was applied.
    builtin: PolicySet,
    /// Bounds the logins being checked at once ([`LOGINS_AT_ONCE`]).
    logins: tokio::sync::Semaphore,
    /// Why the console is off although configured on (`insecure_no_auth`: meta would accept
    /// any key, so a login would prove nothing).
    disabled: Option<&'static str>,
}

/// Why a login was refused, as the login page says it.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("That is not an admin key: expected the 64 hex digits of keys/admin.key.")]
    Malformed,
    #[error("Meta refused this key: it is not the cluster's admin key.")]
    Refused,
    #[error("Meta could not be asked to check the key ({0}). Try again.")]
    Meta(String),
    #[error("Too many logins at once: try again in a moment.")]
    Busy,
}

impl Console {
    /// The console `config` asks for (`None` when `console = false`).
    pub fn new(config: &Config) -> Option<Arc<Console>> {
        if !config.console {
            return None;
        }
        let ms = |secs: u64| i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        Some(Arc::new(Console {
            meta: config.meta.clone(),
            meta_timeout: Duration::from_millis(config.meta_timeout_ms).min(META_TIMEOUT_MAX),
            down_after_ms: ms(config.console_down_after_secs),
            sessions: Sessions::new(Duration::from_secs(config.console_session_secs)),
            builtin: PolicySet::builtin(config.replicas, config.chunk_size),
            logins: tokio::sync::Semaphore::new(LOGINS_AT_ONCE),
            disabled: config
                .insecure_no_auth
                .then_some("the console is off: this gateway runs with insecure_no_auth"),
        }))
    }

    /// True when `path` is one of the console's.
    pub fn serves(path: &str) -> bool {
        path == PREFIX || path.starts_with("/console/")
    }

    /// Answers one request under [`PREFIX`].
    pub async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        if let Some(reason) = self.disabled {
            return text(StatusCode::SERVICE_UNAVAILABLE, reason);
        }
        let path = req.uri().path().to_string();
        let method = req.method().clone();
        let get = method == Method::GET || method == Method::HEAD;
        match (path.as_str(), get, method == Method::POST) {
            ("/console" | "/console/", true, _) => match self.session(req.headers()) {
                Some(s) => page(StatusCode::OK, &APP_HTML.replace("{{csrf}}", &s.csrf)),
                None => login_page(StatusCode::OK, None),
            },
            ("/console/static/console.css", true, _) => asset("text/css", CONSOLE_CSS),
            ("/console/static/console.js", true, _) => asset("text/javascript", CONSOLE_JS),
            ("/console/login", _, true) => self.login_route(req).await,
            ("/console/logout", _, true) => self.logout_route(req).await,
            (p, true, _) if p.starts_with("/console/api/") => {
                let Some((token, s)) = self.session_with_token(req.headers()) else {
                    return json_error(StatusCode::UNAUTHORIZED, "not logged in");
                };
                match p {
                    "/console/api/overview" => self.overview_route(&token, &s).await,
                    "/console/api/session" => json(
                        StatusCode::OK,
                        &SessionView {
                            expires_in_secs: s
                                .expires
                                .saturating_duration_since(std::time::Instant::now())
                                .as_secs(),
                        },
                    ),
                    _ => json_error(StatusCode::NOT_FOUND, "no such console route"),
                }
            }
            // Typed into the address bar: the page that has the form.
            ("/console/login" | "/console/logout", true, _) => see_other(None),
            _ if !get => text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n"),
            _ => text(StatusCode::NOT_FOUND, "not found\n"),
        }
    }

    /// Checks `key` (the admin secret's hex) with meta; a session token when meta accepts it.
    pub async fn login(&self, key: &str) -> Result<String, LoginError> {
        let secret = Secret::parse(key).map_err(|_| LoginError::Malformed)?;
        let _permit = self.logins.try_acquire().map_err(|_| LoginError::Busy)?;
        let admin = MetaClient::new(&self.meta)
            .with_timeout(self.meta_timeout)
            .with_signer(Signer::new(Role::Admin, &secret));
        // An admin route: only the admin key's signature is accepted.
        match admin.call(&AccountList {}).await {
            Ok(_) => Ok(self.sessions.open(admin)),
            Err(meta_api::Error::Unauthorized(e)) => {
                tracing::warn!(error = %e, "console login refused by meta");
                Err(LoginError::Refused)
            }
            Err(e) => {
                tracing::warn!(error = %e, "console login: meta did not check the key");
                Err(LoginError::Meta(e.to_string()))
            }
        }
    }

    fn session_with_token(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let token = cookie(headers, COOKIE)?;
        let s = self.sessions.get(&token)?;
        Some((token, s))
    }

    fn session(&self, headers: &HeaderMap) -> Option<Session> {
        self.session_with_token(headers).map(|(_, s)| s)
    }

    async fn login_route(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        if let Err(why) = same_origin(req.headers()) {
            return text(StatusCode::FORBIDDEN, why);
        }
        let form = match read_form(req).await {
            Ok(form) => form,
            Err(resp) => return resp,
        };
        let key = form
            .iter()
            .find(|(k, _)| k == "key")
            .map_or("", |(_, v)| v.as_str());
        match self.login(key).await {
            Ok(token) => {
                tracing::info!("console login");
                let cookie = format!(
                    "{COOKIE}={token}; Path={PREFIX}; HttpOnly; SameSite=Strict; Max-Age={}",
                    self.sessions.ttl().as_secs()
                );
                see_other(Some(&cookie))
            }
            Err(e) => {
                let status = match e {
                    LoginError::Malformed | LoginError::Refused => StatusCode::UNAUTHORIZED,
                    LoginError::Meta(_) => StatusCode::SERVICE_UNAVAILABLE,
                    LoginError::Busy => StatusCode::TOO_MANY_REQUESTS,
                };
                login_page(status, Some(&e.to_string()))
            }
        }
    }

    async fn logout_route(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        if let Err(why) = same_origin(req.headers()) {
            return text(StatusCode::FORBIDDEN, why);
        }
        let found = self.session_with_token(req.headers());
        let form = match read_form(req).await {
            Ok(form) => form,
            Err(resp) => return resp,
        };
        let clear = format!("{COOKIE}=; Path={PREFIX}; HttpOnly; SameSite=Strict; Max-Age=0");
        let Some((token, s)) = found else {
            return see_other(Some(&clear));
        };
        let csrf = form
            .iter()
            .find(|(k, _)| k == "csrf")
            .map_or("", |(_, v)| v.as_str());
        // BLAKE3 hashes compare in constant time.
        if blake3::hash(csrf.as_bytes()) != blake3::hash(s.csrf.as_bytes()) {
            return text(StatusCode::FORBIDDEN, "bad or missing CSRF token\n");
        }
        self.sessions.close(&token);
        tracing::info!("console logout");
        see_other(Some(&clear))
    }

    async fn overview_route(&self, token: &str, s: &Session) -> Response<Full<Bytes>> {
        let overview = self.overview(&s.admin).await;
        if overview.unauthorized {
            // The admin key changed under the session: it proves nothing any more.
            self.sessions.close(token);
            return json_error(StatusCode::UNAUTHORIZED, "meta refused the session's key");
        }
        json(StatusCode::OK, &overview)
    }

    /// Every section of the page, each from its own calls to meta (made at once).
    async fn overview(&self, meta: &MetaClient) -> Overview {
        let (services, gc, rebuild, policy, accounts) = tokio::join!(
            meta.list_services(Some("chunkd")),
            meta.gc_backlog(),
            meta.rebuild_status(),
            meta.get_policy(),
            self.accounts(meta),
        );
        let unauthorized = [
            services.as_ref().err(),
            gc.as_ref().err(),
            rebuild.as_ref().err(),
            policy.as_ref().err(),
            accounts.as_ref().err(),
        ]
        .into_iter()
        .flatten()
        .any(|e| matches!(e, meta_api::Error::Unauthorized(_)));
        let now_ms = now_ms();
        let empty = Vec::new();
        let known = services.as_ref().unwrap_or(&empty);
        let lost = rebuild.as_ref().map_or(&[][..], |r| &r.lost[..]);
        let backlog = gc.as_ref().map_or(&[][..], |g| g.as_slice());
        let cluster = services
            .as_ref()
            .map(|s| view::cluster(s, backlog, lost, now_ms, self.down_after_ms))
            .map_err(ToString::to_string);
        let policies = match policy {
            Ok(None) => Ok(view::policies(&self.builtin, "builtin", known)),
            Ok(Some(text)) => PolicySet::parse(&text)
                .map(|set| view::policies(&set, "file", known))
                .map_err(|e| format!("the applied policy file is invalid: {e}")),
            Err(e) => Err(e.to_string()),
        };
        Overview {
            unauthorized,
            now_ms,
            cluster,
            gc: gc.map(|g| view::gc(g, known)).map_err(|e| e.to_string()),
            rebuild: rebuild
                .map(|r| view::rebuild(r, known))
                .map_err(|e| e.to_string()),
            policies,
            accounts: accounts.map_err(|e| e.to_string()),
        }
    }

    /// The accounts (at most [`MAX_ACCOUNTS`]) with their buckets.
    async fn accounts(&self, meta: &MetaClient) -> meta_api::Result<view::AccountsView> {
        let mut list = meta.list_accounts().await?;
        list.sort_by(|a, b| a.name.cmp(&b.name));
        let left_out = list.len().saturating_sub(MAX_ACCOUNTS);
        list.truncate(MAX_ACCOUNTS);
        let accounts = futures::stream::iter(list)
            .map(|info| async move {
                let buckets = meta
                    .list_containers(&info.name)
                    .await
                    .map_err(|e| e.to_string());
                view::account(info, buckets)
            })
            .buffered(LISTINGS_AT_ONCE)
            .collect()
            .await;
        Ok(view::AccountsView { accounts, left_out })
    }
}

/// Answer of `/console/api/overview`.
#[derive(Serialize)]
struct Overview {
    #[serde(skip)]
    unauthorized: bool,
    now_ms: i64,
    cluster: Result<view::ClusterView, String>,
    gc: Result<view::GcView, String>,
    rebuild: Result<view::RebuildView, String>,
    policies: Result<view::PoliciesView, String>,
    accounts: Result<view::AccountsView, String>,
}

/// Answer of `/console/api/session`.
#[derive(Serialize)]
struct SessionView {
    expires_in_secs: u64,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Refuses a form posted from another site: its `Origin` must be this listener's (the
/// `Host` the browser asked), and `Sec-Fetch-Site`, when sent, `same-origin` or `none`.
fn same_origin(headers: &HeaderMap) -> Result<(), &'static str> {
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return Err("cross-site request refused\n");
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let origin = origin.to_str().unwrap_or("");
    let host_of_origin = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    if host.is_empty() || host_of_origin != Some(host) {
        return Err("cross-origin request refused\n");
    }
    Ok(())
}

/// The `application/x-www-form-urlencoded` fields of a request body (at most
/// [`FORM_MAX_BYTES`]).
async fn read_form(req: Request<Incoming>) -> Result<Vec<(String, String)>, Response<Full<Bytes>>> {
    let body = Limited::new(req.into_body(), FORM_MAX_BYTES)
        .collect()
        .await
        .map_err(|_| {
            text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "form too large or cut short\n",
            )
        })?
        .to_bytes();
    Ok(form_urlencoded::parse(&body).into_owned().collect())
}

/// Escapes text for HTML element content and attribute values (the five XML characters:
/// `&apos;` is HTML5 too).
fn escape(s: &str) -> String {
    crate::xml::escape(s)
}

fn secure_headers(resp: &mut Response<Full<Bytes>>, content_type: &'static str) {
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Not `no-referrer`: under it a browser posts forms with `Origin: null`, which
    // `same_origin` refuses.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    secure_headers(&mut resp, content_type);
    resp
}

fn page(status: StatusCode, html: &str) -> Response<Full<Bytes>> {
    respond(
        status,
        "text/html; charset=utf-8",
        Bytes::copy_from_slice(html.as_bytes()),
    )
}

fn login_page(status: StatusCode, error: Option<&str>) -> Response<Full<Bytes>> {
    let error = error.map_or_else(String::new, |e| {
        format!(
            "<p id=\"login-error\" class=\"error\" role=\"alert\">{}</p>",
            escape(e)
        )
    });
    page(status, &LOGIN_HTML.replace("<!--error-->", &error))
}

fn asset(content_type: &'static str, body: &'static str) -> Response<Full<Bytes>> {
    let content_type = match content_type {
        "text/css" => "text/css; charset=utf-8",
        _ => "text/javascript; charset=utf-8",
    };
    respond(
        StatusCode::OK,
        content_type,
        Bytes::from_static(body.as_bytes()),
    )
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    respond(
        status,
        "text/plain; charset=utf-8",
        Bytes::from_static(body.as_bytes()),
    )
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Full<Bytes>> {
    match serde_json::to_vec(value) {
        Ok(body) => respond(status, "application/json", Bytes::from(body)),
        Err(e) => {
            tracing::warn!(error = %e, "cannot encode a console answer");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot encode the answer\n",
            )
        }
    }
}

#[derive(Serialize)]
struct ErrorView<'a> {
    error: &'a str,
}

fn json_error(status: StatusCode, error: &str) -> Response<Full<Bytes>> {
    json(status, &ErrorView { error })
}

/// 303 to the console's page, setting `cookie`.
fn see_other(cookie: Option<&str>) -> Response<Full<Bytes>> {
    let mut resp = text(StatusCode::SEE_OTHER, "see /console\n");
    resp.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(PREFIX));
    if let Some(v) = cookie.and_then(|c| HeaderValue::from_str(c).ok()) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("header value"));
        }
        h
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; spread_console=abc ; b=2")]);
        assert_eq!(cookie(&h, COOKIE).as_deref(), Some("abc"));
        let h = headers(&[("cookie", "a=1"), ("cookie", "spread_console=xyz")]);
        assert_eq!(cookie(&h, COOKIE).as_deref(), Some("xyz"));
        assert_eq!(
            cookie(&headers(&[("cookie", "spread_console=")]), COOKIE),
            None
        );
        assert_eq!(cookie(&HeaderMap::new(), COOKIE), None);
    }

    #[test]
    fn forms_from_other_sites_are_refused() {
        let ok = headers(&[
            ("host", "127.0.0.1:9001"),
            ("origin", "http://127.0.0.1:9001"),
        ]);
        assert!(same_origin(&ok).is_ok());
        assert!(same_origin(&headers(&[("host", "127.0.0.1:9001")])).is_ok());
        let other = headers(&[
            ("host", "127.0.0.1:9001"),
            ("origin", "http://evil.example"),
        ]);
        assert!(same_origin(&other).is_err());
        let cross = headers(&[("host", "h"), ("sec-fetch-site", "cross-site")]);
        assert!(same_origin(&cross).is_err());
        let no_host = headers(&[("origin", "http://h")]);
        assert!(same_origin(&no_host).is_err());
    }

    #[test]
    fn login_errors_are_escaped() {
        assert_eq!(
            escape("<b>\"x\" & 'y'"),
            "&lt;b&gt;&quot;x&quot; &amp; &apos;y&apos;"
        );
    }

    #[tokio::test]
    async fn a_malformed_key_is_refused_without_asking_meta() {
        let config = Config::default();
        let console = Console::new(&config).expect("the console is on by default");
        assert!(matches!(
            console.login("not hex").await,
            Err(LoginError::Malformed)
        ));
    }

    #[test]
    fn the_console_is_off_when_configured_off() {
        let config = Config {
            console: false,
            ..Config::default()
        };
        assert!(Console::new(&config).is_none());
    }
}
