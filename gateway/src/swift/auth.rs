//! Auth v1 (tempauth style) and authorization. `GET /auth/v1.0` checks `account:user` and its
//! key against meta and answers a token stored in meta (so it works on every gateway); requests
//! carry it in `X-Auth-Token`. Admin users own their account; other users, and anonymous
//! callers, only get what the container ACLs (`X-Container-Read` / `-Write`) grant; a valid
//! TempURL (`tempurl`) gets the objects within its key's scope.

use std::time::Duration;

use http::{HeaderMap, Method, StatusCode};
use meta_api::client::MetaClient;
use meta_api::wire::{ContainerInfo, SwiftToken};

use super::error::{SwiftError, SwiftResult};
use super::router::Swift;
use super::tempurl::Scope;
use super::{Response, header, put_header, respond};
use crate::objects::now_ms;
use crate::ttl_cache::TtlCache;

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Caller {
    Anonymous,
    User(SwiftToken),
    /// A request with a valid TempURL signature: no token, no ACLs, the key's scope only.
    TempUrl(Scope),
}

impl Caller {
    /// Whether the caller is an admin of `account` (full rights on everything in it).
    pub fn owns(&self, account: &str) -> bool {
        matches!(self, Caller::User(t) if t.admin && t.account == account)
    }

    /// The refusal for this caller: 401 without a valid token, 403 with one.
    pub fn denied(&self) -> SwiftError {
        match self {
            Caller::Anonymous | Caller::TempUrl(_) => SwiftError::unauthorized(),
            Caller::User(_) => SwiftError::forbidden(),
        }
    }

    /// Whether the caller may learn that container `name` of `account` does not exist: the
    /// account's admin, or a TempURL whose key covers it.
    pub fn may_see_missing(&self, account: &str, name: &str) -> bool {
        match self {
            Caller::TempUrl(s) => s.covers_name(account, name),
            _ => self.owns(account),
        }
    }

    /// Whether a container ACL entry names this caller (`account:user`, `account:*`,
    /// `account`, or `*:user`).
    fn named_in(&self, acl: &str) -> bool {
        let Caller::User(t) = self else {
            return false;
        };
        acl.split(',').map(str::trim).any(|entry| {
            if entry.starts_with('.') {
                return false;
            }
            match entry.split_once(':') {
                Some((a, u)) => (a == t.account || a == "*") && (u == t.user || u == "*"),
                None => entry == t.account,
            }
        })
    }

    /// May read objects of `c` (`listing`: may list it), the request coming with `referer`
    /// (its `Referer` header, for `.r:` entries).
    pub fn may_read(&self, c: &ContainerInfo, listing: bool, referer: Option<&str>) -> bool {
        if let Caller::TempUrl(s) = self {
            return s.covers(c);
        }
        if self.owns(&c.account) {
            return true;
        }
        let acl = c.settings.props.swift.read_acl.as_deref().unwrap_or("");
        let listings = acl.split(',').map(str::trim).any(|e| e == ".rlistings");
        self.named_in(acl) || (referrer_allowed(acl, referer) && (!listing || listings))
    }

    /// May create, replace and delete objects of `c`.
    pub fn may_write(&self, c: &ContainerInfo) -> bool {
        if let Caller::TempUrl(s) = self {
            return s.covers(c);
        }
        self.owns(&c.account)
            || self.named_in(c.settings.props.swift.write_acl.as_deref().unwrap_or(""))
    }
}

/// Whether the `.r:` entries of `acl` let a request with `referer` in, as Swift decides:
/// `.r:*` anyone, `.r:host` that host, `.r:.domain` or `.r:*.domain` hosts ending so, and
/// `.r:-host` (or `-.domain`) takes a host out again; the last matching entry wins.
fn referrer_allowed(acl: &str, referer: Option<&str>) -> bool {
    let host = referer
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""))
        .map(|auth| auth.rsplit('@').next().unwrap_or(""))
        .map(|hp| match hp.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => hp,
        })
        .filter(|h| !h.is_empty())
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| "unknown".to_string());
    let matches = |m: &str| m == host || (m.starts_with('.') && host.ends_with(m));
    let mut allow = false;
    for entry in acl.split(',').map(str::trim) {
        let Some(m) = entry
            .strip_prefix(".r:")
            .or_else(|| entry.strip_prefix(".referrer:"))
        else {
            continue;
        };
        let m = m.to_ascii_lowercase();
        if let Some(neg) = m.strip_prefix('-') {
            let neg = neg.strip_prefix('*').unwrap_or(neg);
            if matches(neg) {
                allow = false;
            }
        } else if m == "*" || matches(m.strip_prefix('*').unwrap_or(&m)) {
            allow = true;
        }
    }
    allow
}

/// Tokens looked up in meta, cached for a short while.
pub struct TokenCache {
    meta: MetaClient,
    cache: TtlCache<SwiftToken>,
}

impl TokenCache {
    pub fn new(meta: MetaClient, cache_secs: u64) -> TokenCache {
        TokenCache {
            meta,
            cache: TtlCache::new(Duration::from_secs(cache_secs)),
        }
    }

    /// The caller of a request: anonymous without a token, 401 for an unknown or expired one.
    pub async fn caller(&self, h: &HeaderMap) -> SwiftResult<Caller> {
        let Some(token) = header(h, "x-auth-token").or_else(|| header(h, "x-storage-token")) else {
            return Ok(Caller::Anonymous);
        };
        if token.is_empty() {
            return Ok(Caller::Anonymous);
        }
        Ok(Caller::User(self.lookup(token).await?))
    }

    async fn lookup(&self, token: &str) -> SwiftResult<SwiftToken> {
        let now = now_ms();
        if let Some(t) = self.cache.get(token)
            && t.expires_ms > now
        {
            return Ok(t);
        }
        let t = match self.meta.get_token(token).await {
            Ok(t) if t.expires_ms > now => t,
            Ok(_) | Err(meta_api::Error::NoSuchCredential(_)) => {
                return Err(SwiftError::unauthorized());
            }
            Err(e) => return Err(e.into()),
        };
        self.cache.insert(token, t.clone());
        Ok(t)
    }
}

/// Compares two secrets without stopping at the first difference.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// `GET /auth/v1.0`: `X-Auth-User: account:user` + `X-Auth-Key` (or `X-Storage-User` /
/// `X-Storage-Pass`) → `X-Storage-Url`, `X-Auth-Token`, `X-Auth-Token-Expires`.
pub async fn authenticate(
    swift: &Swift,
    method: &Method,
    h: &HeaderMap,
    host: &str,
) -> SwiftResult<Response> {
    if method != Method::GET && method != Method::HEAD {
        return Err(SwiftError::status(StatusCode::METHOD_NOT_ALLOWED));
    }
    let user = header(h, "x-auth-user").or_else(|| header(h, "x-storage-user"));
    let key = header(h, "x-auth-key").or_else(|| header(h, "x-storage-pass"));
    let (Some(user), Some(key)) = (user, key) else {
        return Err(SwiftError::unauthorized());
    };
    let Some((account, user)) = user.split_once(':') else {
        return Err(SwiftError::unauthorized());
    };
    let meta = swift.svc.meta();
    let found = match meta.get_swift_user(account, user).await {
        Ok(u) => u,
        Err(meta_api::Error::NoSuchCredential(_) | meta_api::Error::NoSuchAccount(_)) => {
            tracing::info!(account, user, "unknown Swift user");
            return Err(SwiftError::unauthorized());
        }
        Err(e) => return Err(e.into()),
    };
    if !same_secret(&found.key, key) {
        tracing::info!(account, user, "wrong Swift key");
        return Err(SwiftError::unauthorized());
    }
    let token = meta
        .create_token(account, user, swift.token_ttl_secs)
        .await?;
    let mut out = HeaderMap::new();
    put_header(
        &mut out,
        "x-storage-url",
        &format!(
            "{}://{host}/v1/AUTH_{}",
            swift.scheme,
            super::quote(account)
        ),
    );
    put_header(&mut out, "x-auth-token", &token.token);
    put_header(&mut out, "x-storage-token", &token.token);
    let left = ((token.expires_ms - now_ms()) / 1000).max(0);
    put_header(&mut out, "x-auth-token-expires", &left.to_string());
    put_header(&mut out, "content-type", "text/plain; charset=UTF-8");
    Ok(respond(StatusCode::OK, out, ""))
}

#[cfg(test)]
mod tests {
    use super::referrer_allowed;

    #[test]
    fn referrer_acls_as_swift() {
        let from = |r: &str| Some(r.to_string());
        let ok = |acl: &str, r: Option<String>| referrer_allowed(acl, r.as_deref());
        assert!(ok(".r:*", None));
        assert!(ok(".r:*,.rlistings", from("http://x.org/")));
        assert!(ok(".r:*.example.com", from("http://blah.example.com/page")));
        assert!(ok(".r:.example.com", from("https://a.b.example.com:8443/")));
        assert!(!ok(".r:*.example.com", from("http://example.org/")));
        assert!(!ok(".r:*.example.com", None));
        assert!(ok(".r:host.org", from("http://user@HOST.org/x")));
        assert!(!ok(".r:host.org", from("http://evilhost.org/")));
        assert!(!ok(".r:*,.r:-bad.org", from("http://bad.org/")));
        assert!(ok(".r:*,.r:-bad.org", from("http://good.org/")));
        assert!(!ok("test:tester", from("http://example.com/")));
    }
}
