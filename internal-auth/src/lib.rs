//! Signed internal requests: how meta, chunk servers, gateways and the admin tool prove who
//! they are to each other.
//!
//! # Secrets and roles
//! Two secrets of 32 random bytes, each kept as 64 hex digits in a file ([`Secret`]):
//! - the **cluster secret**, held by every process of the cluster (meta, chunkd, gateways);
//! - the **admin secret**, held by meta and by operators (the `spread admin` tool).
//!
//! Each [`Role`] signs with its own key, derived from one of them with BLAKE3's key derivation
//! (so the secrets themselves never key a MAC): `service` (from the cluster secret: gateways,
//! chunk servers, meta's background work), `admin` and `peer` (both from the admin secret:
//! operators, and meta nodes speaking Raft to each other). A gateway or chunk server that is
//! broken into therefore cannot forge an operator's request or a Raft message.
//!
//! # A signed request
//! The client adds `x-spread-auth: v1 ROLE TIMESTAMP_MS NONCE SIGNATURE`, where SIGNATURE is the
//! keyed BLAKE3 (a MAC) of the role, method, path and query, timestamp, a random nonce and the
//! request's **content**: the value of `x-spread-content-hash`, which names the body without
//! the body being read first (meta: the BLAKE3 of the JSON body; a chunk upload: the chunk's
//! BLAKE3, which the chunk server checks against the bytes anyway; a streamed chunk upload:
//! `trailer`, and the trailer carries the hash with a MAC chained to the request's signature,
//! checked before the chunk is linked). So the server checks the signature before it reads a
//! byte of the body, and then checks the body against the content it signed.
//!
//! A signature is accepted within [`WINDOW`] of the server's clock (clocks must be kept in
//! step: NTP), and a state-changing request is accepted once: its nonce is remembered for the
//! window ([`Verifier::verify`] with `once`).
//!
//! Why signatures and not mutual TLS: one secret file per process instead of a certificate
//! authority and a certificate per node with their expiry and revocation; the role travels in
//! each request, so one listener serves services, peers and operators with different rights;
//! and the chunk data path keeps its speed (no encryption of every byte, which the chunk
//! servers' BLAKE3 checks make unnecessary for integrity). What it does not give is
//! confidentiality: internal traffic must stay on a private network (see the operations
//! guide's Security section).

pub mod key_file;

use std::collections::{HashSet, VecDeque};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, Method, Uri};
use rand::RngCore;

/// The request header carrying the signature.
pub const AUTH_HEADER: &str = "x-spread-auth";
/// The request header naming the body (see the crate docs); signed.
pub const CONTENT_HEADER: &str = "x-spread-content-hash";
/// The trailer carrying the MAC of a streamed upload's hash.
pub const TRAILER_MAC: &str = "x-spread-trailer-mac";
/// The content of a request whose body hash comes in its trailer.
pub const TRAILER_CONTENT: &str = "trailer";
/// How far a request's timestamp may be from the server's clock, either way.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Most nonces remembered at once; past it the oldest are forgotten early.
const REPLAY_CAP: usize = 2_000_000;
/// Version tag of the signature scheme.
const SCHEME: &str = "v1";

/// Why a request was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("no {AUTH_HEADER} header: this service answers signed requests only")]
    Missing,
    #[error("malformed {AUTH_HEADER} header: {0}")]
    Malformed(&'static str),
    #[error("requests signed as {0} are not accepted here")]
    RoleNotAccepted(Role),
    #[error("signature timestamp is {skew_ms} ms from this server's clock (window {} s): check NTP", WINDOW.as_secs())]
    Stale { skew_ms: i64 },
    #[error("bad signature (wrong key for role {0}?)")]
    BadSignature(Role),
    #[error("request replayed (nonce already seen)")]
    Replayed,
    #[error("body does not match the signed content hash")]
    ContentMismatch,
    #[error("role {0} may not call {1}")]
    Forbidden(Role, String),
    #[error("secret: {0}")]
    Secret(String),
}

impl AuthError {
    /// The HTTP status answering this refusal: 403 for a known signer without the right,
    /// 401 otherwise.
    pub fn status(&self) -> http::StatusCode {
        match self {
            AuthError::Forbidden(..) => http::StatusCode::FORBIDDEN,
            _ => http::StatusCode::UNAUTHORIZED,
        }
    }
}

/// Who signed a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A process of the cluster (gateway, chunk server, meta's background work).
    Service,
    /// An operator (the admin tool).
    Admin,
    /// A meta node speaking Raft to another.
    Peer,
}

impl Role {
    const ALL: [Role; 3] = [Role::Service, Role::Admin, Role::Peer];

    /// The role's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Role::Service => "service",
            Role::Admin => "admin",
            Role::Peer => "peer",
        }
    }

    fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == s)
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The BLAKE3 key-derivation context of the role's key.
    fn context(self) -> &'static str {
        match self {
            Role::Service => "spread 2026-12-07 internal request key: service",
            Role::Admin => "spread 2026-12-07 internal request key: admin",
            Role::Peer => "spread 2026-12-07 internal request key: meta peer",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A cluster or admin secret: 32 bytes, written as 64 hex digits.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret([u8; 32]);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// A new random secret.
    pub fn generate() -> Secret {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Secret(bytes)
    }

    /// Parses 64 hex digits (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<Secret, AuthError> {
        let text = text.trim();
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| {
            AuthError::Secret(format!(
                "expected 64 hex digits, found {} characters that are not",
                text.len()
            ))
        })?;
        Ok(Secret(bytes))
    }

    /// Reads a secret file.
    pub fn load(path: &Path) -> Result<Secret, AuthError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| AuthError::Secret(format!("reading {}: {e}", path.display())))?;
        Secret::parse(&text).map_err(|e| AuthError::Secret(format!("{}: {e}", path.display())))
    }

    /// The secret in `path`, made (random, readable by its owner only) if the file does not
    /// exist yet.
    pub fn load_or_create(path: &Path) -> Result<Secret, AuthError> {
        if path.exists() {
            return Secret::load(path);
        }
        let secret = Secret::generate();
        secret.write_new(path)?;
        Ok(secret)
    }

    /// Writes the secret to a new file readable by its owner only.
    pub fn write_new(&self, path: &Path) -> Result<(), AuthError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let fail =
            |e: std::io::Error| AuthError::Secret(format!("writing {}: {e}", path.display()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(fail)?;
        file.write_all(format!("{}\n", self.to_hex()).as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(fail)
    }

    /// The 64 hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    fn key(&self, role: Role) -> [u8; 32] {
        blake3::derive_key(role.context(), &self.0)
    }
}

/// Environment variable naming the cluster secret's file.
pub const CLUSTER_KEY_FILE_ENV: &str = "SPREAD_CLUSTER_KEY_FILE";
/// Environment variable holding the cluster secret itself (for containers).
pub const CLUSTER_KEY_ENV: &str = "SPREAD_CLUSTER_KEY";
/// Environment variable naming the admin secret's file.
pub const ADMIN_KEY_FILE_ENV: &str = "SPREAD_ADMIN_KEY_FILE";
/// Environment variable holding the admin secret itself.
pub const ADMIN_KEY_ENV: &str = "SPREAD_ADMIN_KEY";

/// The cluster secret: from the file `path` (a config key), else the file named by
/// `SPREAD_CLUSTER_KEY_FILE`, else the hex in `SPREAD_CLUSTER_KEY`; `None` when none is set.
pub fn cluster_secret(path: Option<&Path>) -> Result<Option<Secret>, AuthError> {
    secret_from(path, CLUSTER_KEY_FILE_ENV, CLUSTER_KEY_ENV)
}

/// The admin secret, found as [`cluster_secret`] is (`SPREAD_ADMIN_KEY_FILE`,
/// `SPREAD_ADMIN_KEY`).
pub fn admin_secret(path: Option<&Path>) -> Result<Option<Secret>, AuthError> {
    secret_from(path, ADMIN_KEY_FILE_ENV, ADMIN_KEY_ENV)
}

fn secret_from(
    path: Option<&Path>,
    env_file: &str,
    env_inline: &str,
) -> Result<Option<Secret>, AuthError> {
    if let Some(path) = path {
        return Secret::load(path).map(Some);
    }
    if let Some(file) = std::env::var_os(env_file).filter(|f| !f.is_empty()) {
        return Secret::load(Path::new(&file)).map(Some);
    }
    match std::env::var(env_inline) {
        Ok(text) if !text.trim().is_empty() => Secret::parse(&text)
            .map(Some)
            .map_err(|e| AuthError::Secret(format!("{env_inline}: {e}"))),
        _ => Ok(None),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn mac(key: &[u8; 32], parts: &[&str]) -> blake3::Hash {
    let mut h = blake3::Hasher::new_keyed(key);
    for p in parts {
        // Length-prefixed, so no two lists of parts hash alike.
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    h.finalize()
}

fn request_mac(
    key: &[u8; 32],
    role: Role,
    method: &str,
    target: &str,
    ts: &str,
    nonce: &str,
    content: &str,
) -> blake3::Hash {
    mac(
        key,
        &[SCHEME, role.name(), method, target, ts, nonce, content],
    )
}

/// Signs requests as one role. Cheap to clone.
#[derive(Clone)]
pub struct Signer {
    role: Role,
    key: [u8; 32],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("role", &self.role).finish()
    }
}

impl Signer {
    /// A signer for `role`, whose key derives from `secret` (the cluster secret for
    /// [`Role::Service`], the admin secret for the others).
    pub fn new(role: Role, secret: &Secret) -> Signer {
        Signer {
            role,
            key: secret.key(role),
        }
    }

    /// The role signed as.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The `x-spread-auth` value for a request (`target`: path and query as sent).
    pub fn sign(&self, method: &str, target: &str, content: &str) -> String {
        self.sign_at(now_ms(), method, target, content)
    }

    /// [`Signer::sign`] with a given timestamp (tests of the window).
    pub fn sign_at(&self, ts_ms: i64, method: &str, target: &str, content: &str) -> String {
        let mut nonce = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut nonce);
        let (ts, nonce) = (ts_ms.to_string(), hex::encode(nonce));
        let sig = request_mac(&self.key, self.role, method, target, &ts, &nonce, content);
        format!(
            "{SCHEME} {} {ts} {nonce} {}",
            self.role.name(),
            sig.to_hex()
        )
    }

    /// Sets the signature and content headers of a request.
    pub fn sign_headers(
        &self,
        headers: &mut HeaderMap,
        method: &Method,
        uri: &Uri,
        content: &str,
    ) -> Result<(), AuthError> {
        let target = uri.path_and_query().map_or("/", |p| p.as_str());
        let value = self.sign(method.as_str(), target, content);
        let value = http::HeaderValue::from_str(&value)
            .map_err(|_| AuthError::Malformed("signature is not a header value"))?;
        let content = http::HeaderValue::from_str(content)
            .map_err(|_| AuthError::Malformed("content hash is not a header value"))?;
        headers.insert(AUTH_HEADER, value);
        headers.insert(CONTENT_HEADER, content);
        Ok(())
    }

    /// The trailer MAC of a streamed upload whose request carried `auth` (its
    /// `x-spread-auth` value) and whose body hashed to `hash`.
    pub fn trailer_mac(&self, auth: &str, hash: &str) -> String {
        mac(&self.key, &[SCHEME, "trailer", auth, hash])
            .to_hex()
            .to_string()
    }
}

/// BLAKE3 hex of a body: the content of a request with a body.
pub fn content_hash(body: &[u8]) -> String {
    blake3::hash(body).to_hex().to_string()
}

/// A request whose signature was checked.
#[derive(Debug)]
pub struct Verified {
    /// Who signed it.
    pub role: Role,
    /// The content it signed (`x-spread-content-hash`; empty when absent).
    pub content: String,
    auth: String,
    key: [u8; 32],
}

impl Verified {
    /// Refuses (403) unless the signer's role is one of `roles`.
    pub fn require(&self, roles: &[Role], what: &str) -> Result<(), AuthError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(AuthError::Forbidden(self.role, what.to_string()))
        }
    }

    /// Checks that the body read hashes to the signed content.
    pub fn check_body(&self, body: &[u8]) -> Result<(), AuthError> {
        if self.content == content_hash(body) {
            Ok(())
        } else {
            Err(AuthError::ContentMismatch)
        }
    }

    /// Checks a streamed upload's trailer: `mac` must be the signer's MAC of `hash` chained
    /// to this request's signature.
    pub fn check_trailer(&self, hash: &str, mac_hex: &str) -> Result<(), AuthError> {
        let want = mac(&self.key, &[SCHEME, "trailer", &self.auth, hash]);
        let got = blake3::Hash::from_hex(mac_hex)
            .map_err(|_| AuthError::Malformed("trailer MAC is not 64 hex digits"))?;
        // `blake3::Hash` compares in constant time.
        if got == want {
            Ok(())
        } else {
            Err(AuthError::ContentMismatch)
        }
    }
}

/// Nonces seen within the window, oldest first.
#[derive(Default)]
struct Seen {
    set: HashSet<u128>,
    order: VecDeque<(i64, u128)>,
}

impl Seen {
    /// Records `nonce`; false when it was already there.
    fn insert(&mut self, now: i64, ts: i64, nonce: u128) -> bool {
        let oldest = now.saturating_sub(WINDOW.as_millis() as i64);
        while let Some(&(t, n)) = self.order.front() {
            if t >= oldest && self.order.len() < REPLAY_CAP {
                break;
            }
            self.order.pop_front();
            self.set.remove(&n);
        }
        if !self.set.insert(nonce) {
            return false;
        }
        self.order.push_back((ts, nonce));
        true
    }
}

/// Checks signed requests against the keys of the roles a server accepts.
pub struct Verifier {
    keys: [Option<[u8; 32]>; 3],
    seen: Mutex<Seen>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let roles: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| self.keys[r.index()].is_some())
            .collect();
        f.debug_struct("Verifier").field("accepts", &roles).finish()
    }
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier::new()
    }
}

impl Verifier {
    /// A verifier accepting no role (every request refused) until [`Verifier::accept`].
    pub fn new() -> Verifier {
        Verifier {
            keys: [None; 3],
            seen: Mutex::new(Seen::default()),
        }
    }

    /// Also accepts requests signed as `role` with the key derived from `secret`.
    pub fn accept(mut self, role: Role, secret: &Secret) -> Verifier {
        self.keys[role.index()] = Some(secret.key(role));
        self
    }

    /// Checks the signature of a request from its head alone (nothing of the body is
    /// needed). With `once`, the request is also refused if its nonce was seen within the
    /// window (state-changing requests).
    pub fn verify(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        once: bool,
    ) -> Result<Verified, AuthError> {
        self.verify_at(now_ms(), method, uri, headers, once)
    }

    fn verify_at(
        &self,
        now: i64,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        once: bool,
    ) -> Result<Verified, AuthError> {
        let auth = headers
            .get(AUTH_HEADER)
            .ok_or(AuthError::Missing)?
            .to_str()
            .map_err(|_| AuthError::Malformed("not ASCII"))?;
        let mut fields = auth.split(' ');
        let (Some(scheme), Some(role), Some(ts), Some(nonce), Some(sig), None) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return Err(AuthError::Malformed("expected 5 fields"));
        };
        if scheme != SCHEME {
            return Err(AuthError::Malformed("unknown scheme version"));
        }
        let role = Role::parse(role).ok_or(AuthError::Malformed("unknown role"))?;
        let key = self.keys[role.index()].ok_or(AuthError::RoleNotAccepted(role))?;
        let ts_ms: i64 = ts
            .parse()
            .map_err(|_| AuthError::Malformed("timestamp is not a number"))?;
        let nonce_value = (nonce.len() == 32)
            .then(|| u128::from_str_radix(nonce, 16).ok())
            .flatten()
            .ok_or(AuthError::Malformed("nonce is not 32 hex digits"))?;
        let sig = blake3::Hash::from_hex(sig)
            .map_err(|_| AuthError::Malformed("signature is not 64 hex digits"))?;
        let content = match headers.get(CONTENT_HEADER) {
            Some(v) => v
                .to_str()
                .map_err(|_| AuthError::Malformed("content hash is not ASCII"))?,
            None => "",
        };
        let target = uri.path_and_query().map_or("/", |p| p.as_str());
        let want = request_mac(&key, role, method.as_str(), target, ts, nonce, content);
        // `blake3::Hash` compares in constant time.
        if sig != want {
            return Err(AuthError::BadSignature(role));
        }
        let skew = ts_ms.saturating_sub(now);
        if skew.unsigned_abs() > WINDOW.as_millis() as u64 {
            return Err(AuthError::Stale { skew_ms: skew });
        }
        if once {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            if !seen.insert(now, ts_ms, nonce_value) {
                return Err(AuthError::Replayed);
            }
        }
        Ok(Verified {
            role,
            content: content.to_string(),
            auth: auth.to_string(),
            key,
        })
    }
}

#[cfg(test)]
mod tests;
