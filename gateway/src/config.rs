//! Gateway configuration: one TOML file, every field defaulted.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Configuration of `spread gateway`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address of the S3 listener.
    pub s3_listen: SocketAddr,
    /// Address of the Swift listener (`None`: no Swift API).
    pub swift_listen: Option<SocketAddr>,
    /// Lifetime of the Swift auth tokens issued by `/auth/v1.0`, in seconds.
    pub swift_token_ttl_secs: u64,
    /// Address of the meta service (host:port).
    pub meta: String,
    /// Size of the chunks objects are cut into, in bytes.
    pub chunk_size: u64,
    /// Copies of each chunk (replication policy of the default storage policy).
    pub replicas: usize,
    /// Location of this gateway (`dc.rack.host.vol`), used to read the closest copy first.
    pub location: String,
    /// S3 region name answered by GetBucketLocation and expected in signatures.
    pub region: String,
    /// How often the list of chunk servers and their scores is refreshed from meta.
    pub services_refresh_ms: u64,
    /// How long a credential looked up in meta is cached.
    pub credential_cache_secs: u64,
    /// How long a container's owner and settings looked up in meta are kept for the requests
    /// on its objects (0: not kept). Changes made through this gateway apply at once, changes
    /// made through another gateway or `spread admin` within this time.
    pub container_cache_ms: u64,
    /// How long one request to meta may take before the gateway gives up on it, following
    /// the leader and waiting out an election included; the client's request is then answered
    /// 503 with `Retry-After`. A write whose commit is given up on is then settled with meta
    /// by its content id (recorded after all, or refused from then on and its chunks
    /// deleted). `SPREAD_GATEWAY_META_TIMEOUT_MS`.
    pub meta_timeout_ms: u64,
    /// An erasure-coded fragment read slower than this is treated as missing and rebuilt from
    /// the other fragments. `SPREAD_GATEWAY_FRAGMENT_TIMEOUT_MS`.
    pub fragment_timeout_ms: u64,
    /// A read of a chunk copy (or erasure-coded fragment) that has not answered after this
    /// long, or after the gateway's recent first-byte latency times four if that is longer,
    /// is hedged: the next copy is asked too and whichever answers first is used, the other
    /// cancelled. Hedges are also capped at about one read in ten. 0: no hedged reads
    /// (copies are still tried in turn past `read_timeout_ms`).
    /// `SPREAD_GATEWAY_HEDGE_AFTER_MS`.
    pub hedge_after_ms: u64,
    /// Per-copy deadline of a read: a chunk server that has not answered (connection and
    /// first byte) within this long, or that then pauses this long between two frames, is
    /// given up on and the next copy asked from where it stopped. The last copy left is
    /// waited for longer (the chunk client's own bounds). `SPREAD_GATEWAY_READ_TIMEOUT_MS`.
    pub read_timeout_ms: u64,
    /// Per-copy deadline of a write: a copy that takes no data for this long, or that has not
    /// confirmed a sealed chunk this long (or as long again as the write quorum took, if
    /// longer) after the write quorum did, is given up on: the write goes on with its quorum,
    /// the missing copy is logged (WARN, "under-replicated chunk") and the server is avoided
    /// for new chunks for a few seconds. `SPREAD_GATEWAY_WRITE_TIMEOUT_MS`.
    pub write_timeout_ms: u64,
    /// The `Retry-After` (seconds) of a 503 answer (meta or chunk servers out of reach).
    /// `SPREAD_GATEWAY_RETRY_AFTER_SECS`.
    pub retry_after_secs: u64,
    /// Domain of virtual-hosted-style S3 addressing: `bucket.DOMAIN` names `bucket`
    /// (`None`: path-style only; path-style requests are always served).
    pub s3_domain: Option<String>,
    /// Largest file a browser-form POST upload may carry (5 GiB, the largest single PUT of
    /// AWS, by default); a policy's `content-length-range` may only lower it. The file is
    /// streamed (`s3::post_object`), so this does not bound memory.
    pub post_object_max_bytes: u64,
    /// Objects (and multipart parts) up to this size written under a one-copy replication
    /// policy are kept in their meta2 record instead of on a chunk server: one durable copy
    /// either way, without a chunk server round trip and its fsyncs. 0 turns it off. Other
    /// policies always go to chunk servers (meta keeps one copy only).
    pub inline_max_bytes: u64,
    /// How long a client has to send a complete request head (request line and headers),
    /// counted from when the gateway starts waiting for it: when the connection is accepted
    /// and, on a keep-alive connection, when the previous answer is sent. Past it the
    /// connection is closed without an answer. `SPREAD_GATEWAY_HEADER_READ_TIMEOUT_MS`.
    pub header_read_timeout_ms: u64,
    /// A connection with no request in progress for this long is closed (HTTP/1 keep-alive
    /// and HTTP/2 alike). On HTTP/1 the header read timeout also bounds the wait for the next
    /// request, so the shorter of the two applies there. `SPREAD_GATEWAY_IDLE_TIMEOUT_MS`.
    pub idle_timeout_ms: u64,
    /// Most connections open at once from one client IP address; a connection past it is
    /// closed as soon as it is accepted. 0: no cap. Behind a proxy every client has the
    /// proxy's address: raise it or set 0 there. `SPREAD_GATEWAY_MAX_CONNECTIONS_PER_IP`.
    pub max_connections_per_ip: u64,
    /// Largest request body the S3 front end reads into memory (XML documents:
    /// DeleteObjects, CompleteMultipartUpload, tagging, ACL, CORS, lifecycle…, and bucket
    /// policies) of a signed request; past it the answer is 400 MaxMessageLengthExceeded
    /// before anything is read. Object data (PUT, UploadPart, form uploads) is streamed and
    /// not bounded by this. `SPREAD_GATEWAY_XML_MAX_BODY_BYTES`.
    pub xml_max_body_bytes: u64,
    /// The same bound for unsigned (anonymous) requests, whose signature cannot be checked
    /// first: kept small so that unauthenticated clients cannot make the gateway hold big
    /// bodies. `SPREAD_GATEWAY_ANONYMOUS_MAX_BODY_BYTES`.
    pub anonymous_max_body_bytes: u64,
    /// Largest body of a PUT sent with no length (`Transfer-Encoding: chunked`, neither
    /// `Content-Length` nor aws-chunked framing): s3s needs the length to check a signature,
    /// so the gateway reads such a body into memory first, up to this (past it 411
    /// MissingContentLength); 0 refuses them all. `SPREAD_GATEWAY_CHUNKED_PUT_MAX_BYTES`.
    pub chunked_put_max_bytes: u64,
    /// Repairs this gateway runs at once (copies of lost servers, rotten copies); 0 = this
    /// gateway takes no repairs. `SPREAD_GATEWAY_REBUILD_WORKERS`.
    pub rebuild_workers: usize,
    /// Bytes per second (MiB) this gateway's repairs may write; 0 = unpaced.
    /// `SPREAD_GATEWAY_REBUILD_MIB_PER_SEC`.
    pub rebuild_mib_per_sec: u64,
    /// How long a claimed repair stays this gateway's before another may take it.
    /// `SPREAD_GATEWAY_REBUILD_LEASE_SECS`.
    pub rebuild_lease_secs: u64,
    /// Wait between two looks at an empty repair queue. `SPREAD_GATEWAY_REBUILD_POLL_MS`.
    pub rebuild_poll_ms: u64,
    /// Address of the admin listener: `GET /metrics` (Prometheus text format), `/health`
    /// (the process is up) and `/ready` (it reaches meta). Kept off the S3 listener, where
    /// `/metrics` is a bucket name. `SPREAD_GATEWAY_ADMIN_ADDR`.
    pub admin_addr: SocketAddr,
    /// Where the access log goes: `off`, `stderr`, or a file path (appended to). One JSON
    /// line per request. `SPREAD_GATEWAY_ACCESS_LOG`.
    pub access_log: String,
    /// File holding the cluster secret (`spread keygen`): the gateway signs every request to
    /// meta and the chunk servers with it. `SPREAD_CLUSTER_KEY_FILE`, or the secret itself
    /// in `SPREAD_CLUSTER_KEY`.
    pub cluster_key_file: Option<PathBuf>,
    /// Send unsigned internal requests (for a cluster running with `insecure_no_auth`).
    pub insecure_no_auth: bool,
    /// PEM file of the certificate chain (end-entity certificate first) the S3 and Swift
    /// listeners present. With `tls_key_file` set too, both listeners speak TLS only (HTTPS;
    /// HTTP/2 and HTTP/1.1 by ALPN); the admin listener stays plain HTTP. Both files are read
    /// again on SIGHUP (new handshakes get the new certificate; a failed reload keeps the old
    /// one). `SPREAD_GATEWAY_TLS_CERT_FILE`.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM file of the private key of `tls_cert_file` (PKCS#8, PKCS#1 or SEC1).
    /// `SPREAD_GATEWAY_TLS_KEY_FILE`.
    pub tls_key_file: Option<PathBuf>,
    /// Key file of the SSE-S3 master keys (`<key-id> <64 hex digits>` a line, the first one
    /// wraps new data keys, the others still unwrap: rotate by adding a line at the top).
    /// Without it, `x-amz-server-side-encryption: AES256` is refused. Read at startup.
    /// `SPREAD_GATEWAY_SSE_KEY_FILE`.
    pub sse_key_file: Option<PathBuf>,
    /// How long an SSE-KMS key of the built-in key store, read from meta and opened, is kept
    /// for the requests that use it (0: asked every request). A key disabled with `spread
    /// admin kms key disable` still serves this gateway for up to this long; a key enabled
    /// again works at once (refusals are not kept). `SPREAD_GATEWAY_KMS_CACHE_SECS`.
    pub kms_cache_secs: u64,
    /// How long a client has to complete the TLS handshake, from when its connection is
    /// accepted; past it the connection is closed (it counts against
    /// `max_connections_per_ip` meanwhile). `SPREAD_GATEWAY_TLS_HANDSHAKE_TIMEOUT_MS`.
    pub tls_handshake_timeout_ms: u64,
    /// Serve the web console on the admin listener (`/console`, see `crate::console`):
    /// operators log in with the admin secret, which stays in this process's memory only for
    /// the session. `SPREAD_GATEWAY_CONSOLE` (`true` / `false`).
    pub console: bool,
    /// How long a console login lasts, in seconds. `SPREAD_GATEWAY_CONSOLE_SESSION_SECS`.
    pub console_session_secs: u64,
    /// The console shows a chunk server down once it has been silent (no heartbeat) this
    /// long; keep it equal to meta's `dead_after_secs`.
    /// `SPREAD_GATEWAY_CONSOLE_DOWN_AFTER_SECS`.
    pub console_down_after_secs: u64,
}

/// The keys that environment variables override (`SPREAD_GATEWAY_` + the key in upper
/// case), after the file is read.
const ENV_KEYS: &[&str] = &[
    "meta_timeout_ms",
    "fragment_timeout_ms",
    "hedge_after_ms",
    "read_timeout_ms",
    "write_timeout_ms",
    "retry_after_secs",
    "header_read_timeout_ms",
    "idle_timeout_ms",
    "max_connections_per_ip",
    "xml_max_body_bytes",
    "anonymous_max_body_bytes",
    "chunked_put_max_bytes",
    "rebuild_workers",
    "rebuild_mib_per_sec",
    "rebuild_lease_secs",
    "rebuild_poll_ms",
    "tls_handshake_timeout_ms",
    "kms_cache_secs",
    "console_session_secs",
    "console_down_after_secs",
];

/// Default of `meta_timeout_ms`: long enough for a meta group to elect a new leader (the meta
/// client waits up to 15 s for one), short enough that a frozen meta costs a request seconds,
/// not minutes.
pub const DEFAULT_META_TIMEOUT_MS: u64 = 20_000;

impl Default for Config {
    fn default() -> Self {
        Config {
            s3_listen: SocketAddr::from(([127, 0, 0, 1], 9000)),
            swift_listen: None,
            swift_token_ttl_secs: 86400,
            meta: "127.0.0.1:6000".to_string(),
            chunk_size: 8 * 1024 * 1024,
            replicas: 3,
            location: "local.rack0.host0.gw".to_string(),
            region: "us-east-1".to_string(),
            services_refresh_ms: 1000,
            credential_cache_secs: 10,
            container_cache_ms: 1000,
            meta_timeout_ms: DEFAULT_META_TIMEOUT_MS,
            fragment_timeout_ms: 5000,
            hedge_after_ms: 100,
            read_timeout_ms: 2000,
            write_timeout_ms: 4000,
            retry_after_secs: 2,
            s3_domain: None,
            post_object_max_bytes: 5 << 30,
            inline_max_bytes: 16 * 1024,
            header_read_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            max_connections_per_ip: 256,
            xml_max_body_bytes: 4 << 20,
            anonymous_max_body_bytes: 64 << 10,
            chunked_put_max_bytes: 16 << 20,
            rebuild_workers: 2,
            rebuild_mib_per_sec: 64,
            rebuild_lease_secs: 120,
            rebuild_poll_ms: 2000,
            admin_addr: SocketAddr::from(([127, 0, 0, 1], 9001)),
            access_log: "off".to_string(),
            cluster_key_file: None,
            insecure_no_auth: false,
            tls_cert_file: None,
            tls_key_file: None,
            sse_key_file: None,
            kms_cache_secs: 10,
            tls_handshake_timeout_ms: 10_000,
            console: true,
            console_session_secs: 3600,
            console_down_after_secs: 10,
        }
    }
}

impl Config {
    /// The signer of the gateway's internal requests; `None` with `insecure_no_auth`.
    pub fn signer(&self) -> Result<Option<internal_auth::Signer>> {
        if self.insecure_no_auth {
            tracing::warn!("insecure_no_auth = true: internal requests go unsigned");
            return Ok(None);
        }
        match internal_auth::cluster_secret(self.cluster_key_file.as_deref()) {
            Ok(Some(secret)) => Ok(Some(internal_auth::Signer::new(
                internal_auth::Role::Service,
                &secret,
            ))),
            Ok(None) => Err(Error::Config(
                "the gateway needs the cluster secret: cluster_key_file, SPREAD_CLUSTER_KEY_FILE \
                 or SPREAD_CLUSTER_KEY (make one with `spread keygen FILE`)"
                    .to_string(),
            )),
            Err(e) => Err(Error::Config(e.to_string())),
        }
    }

    /// Reads and validates a TOML configuration file.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        let config: Config =
            toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        config.validate()?;
        Ok(config)
    }

    /// The configuration with the keys listed in `ENV_KEYS` set by environment variables
    /// (`SPREAD_GATEWAY_HEADER_READ_TIMEOUT_MS`, ...) replaced, then validated.
    pub fn with_env(self) -> Result<Config> {
        self.with_vars(|name| std::env::var(name).ok())
    }

    /// [`Config::with_env`] reading variables through `var`.
    fn with_vars(mut self, var: impl Fn(&str) -> Option<String>) -> Result<Config> {
        if let Some(text) = var("SPREAD_GATEWAY_ADMIN_ADDR") {
            self.admin_addr = text.trim().parse().map_err(|_| {
                Error::Config(format!(
                    "SPREAD_GATEWAY_ADMIN_ADDR: not an address (host:port): {text:?}"
                ))
            })?;
        }
        if let Some(text) = var("SPREAD_GATEWAY_ACCESS_LOG") {
            self.access_log = text.trim().to_string();
        }
        // An empty value unsets the file (and so, with the other, TLS).
        let path =
            |text: String| Some(PathBuf::from(text.trim())).filter(|p| !p.as_os_str().is_empty());
        if let Some(text) = var("SPREAD_GATEWAY_TLS_CERT_FILE") {
            self.tls_cert_file = path(text);
        }
        if let Some(text) = var("SPREAD_GATEWAY_TLS_KEY_FILE") {
            self.tls_key_file = path(text);
        }
        if let Some(text) = var("SPREAD_GATEWAY_SSE_KEY_FILE") {
            self.sse_key_file = path(text);
        }
        if let Some(text) = var("SPREAD_GATEWAY_CONSOLE") {
            self.console = text.trim().parse().map_err(|_| {
                Error::Config(format!(
                    "SPREAD_GATEWAY_CONSOLE: not true or false: {text:?}"
                ))
            })?;
        }
        for key in ENV_KEYS {
            let name = format!("SPREAD_GATEWAY_{}", key.to_ascii_uppercase());
            let Some(text) = var(&name) else { continue };
            let value: u64 = text.trim().parse().map_err(|_| {
                Error::Config(format!("{name}: not a non-negative integer: {text:?}"))
            })?;
            match *key {
                "meta_timeout_ms" => self.meta_timeout_ms = value,
                "fragment_timeout_ms" => self.fragment_timeout_ms = value,
                "hedge_after_ms" => self.hedge_after_ms = value,
                "read_timeout_ms" => self.read_timeout_ms = value,
                "write_timeout_ms" => self.write_timeout_ms = value,
                "retry_after_secs" => self.retry_after_secs = value,
                "header_read_timeout_ms" => self.header_read_timeout_ms = value,
                "idle_timeout_ms" => self.idle_timeout_ms = value,
                "max_connections_per_ip" => self.max_connections_per_ip = value,
                "xml_max_body_bytes" => self.xml_max_body_bytes = value,
                "anonymous_max_body_bytes" => self.anonymous_max_body_bytes = value,
                "chunked_put_max_bytes" => self.chunked_put_max_bytes = value,
                "rebuild_workers" => {
                    self.rebuild_workers = usize::try_from(value).unwrap_or(usize::MAX)
                }
                "rebuild_mib_per_sec" => self.rebuild_mib_per_sec = value,
                "rebuild_lease_secs" => self.rebuild_lease_secs = value,
                "rebuild_poll_ms" => self.rebuild_poll_ms = value,
                "kms_cache_secs" => self.kms_cache_secs = value,
                "tls_handshake_timeout_ms" => self.tls_handshake_timeout_ms = value,
                "console_session_secs" => self.console_session_secs = value,
                "console_down_after_secs" => self.console_down_after_secs = value,
                _ => return Err(Error::Config(format!("{name}: unknown key"))),
            }
        }
        self.validate()?;
        Ok(self)
    }

    /// Checks values that serde cannot.
    pub fn validate(&self) -> Result<()> {
        if self.header_read_timeout_ms == 0 || self.idle_timeout_ms == 0 {
            return Err(Error::Config(
                "header_read_timeout_ms and idle_timeout_ms must be at least 1".to_string(),
            ));
        }
        if self.xml_max_body_bytes < 4096 || self.xml_max_body_bytes > 64 << 20 {
            return Err(Error::Config(format!(
                "xml_max_body_bytes must be between 4 KiB and 64 MiB, got {}",
                self.xml_max_body_bytes
            )));
        }
        if self.chunked_put_max_bytes > 1 << 30 {
            return Err(Error::Config(format!(
                "chunked_put_max_bytes must be at most 1 GiB, got {}",
                self.chunked_put_max_bytes
            )));
        }
        if self.anonymous_max_body_bytes > self.xml_max_body_bytes {
            return Err(Error::Config(format!(
                "anonymous_max_body_bytes ({}) must not exceed xml_max_body_bytes ({})",
                self.anonymous_max_body_bytes, self.xml_max_body_bytes
            )));
        }
        if self.chunk_size < 64 * 1024 || self.chunk_size > 1024 * 1024 * 1024 {
            return Err(Error::Config(format!(
                "chunk_size must be between 64 KiB and 1 GiB, got {}",
                self.chunk_size
            )));
        }
        if self.replicas == 0 || self.replicas > 16 {
            return Err(Error::Config(format!(
                "replicas must be between 1 and 16, got {}",
                self.replicas
            )));
        }
        if self.swift_token_ttl_secs == 0 {
            return Err(Error::Config(
                "swift_token_ttl_secs must be at least 1".to_string(),
            ));
        }
        if self.meta_timeout_ms == 0 {
            return Err(Error::Config(
                "meta_timeout_ms must be at least 1".to_string(),
            ));
        }
        if self.read_timeout_ms == 0 || self.write_timeout_ms == 0 || self.fragment_timeout_ms == 0
        {
            return Err(Error::Config(
                "read_timeout_ms, write_timeout_ms and fragment_timeout_ms must be at least 1"
                    .to_string(),
            ));
        }
        if self.post_object_max_bytes == 0 || self.post_object_max_bytes > 5 << 30 {
            return Err(Error::Config(format!(
                "post_object_max_bytes must be between 1 and 5 GiB, got {}",
                self.post_object_max_bytes
            )));
        }
        if let Some(domain) = &self.s3_domain {
            crate::s3::vhost::check_domain(domain).map_err(Error::Config)?;
        }
        if self.tls_cert_file.is_some() != self.tls_key_file.is_some() {
            return Err(Error::Config(
                "tls_cert_file and tls_key_file must be set together (or neither)".to_string(),
            ));
        }
        if self.console_session_secs == 0 || self.console_down_after_secs == 0 {
            return Err(Error::Config(
                "console_session_secs and console_down_after_secs must be at least 1".to_string(),
            ));
        }
        if self.tls_handshake_timeout_ms == 0 {
            return Err(Error::Config(
                "tls_handshake_timeout_ms must be at least 1".to_string(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_keys_come_from_the_environment() {
        let vars = |name: &str| match name {
            "SPREAD_GATEWAY_HEADER_READ_TIMEOUT_MS" => Some("1500".to_string()),
            "SPREAD_GATEWAY_MAX_CONNECTIONS_PER_IP" => Some(" 7 ".to_string()),
            "SPREAD_GATEWAY_ADMIN_ADDR" => Some("127.0.0.1:9555".to_string()),
            "SPREAD_GATEWAY_ACCESS_LOG" => Some("stderr".to_string()),
            _ => None,
        };
        let c = Config::default().with_vars(vars).expect("valid");
        assert_eq!(c.header_read_timeout_ms, 1500);
        assert_eq!(c.max_connections_per_ip, 7);
        assert_eq!(c.idle_timeout_ms, Config::default().idle_timeout_ms);
        assert_eq!(c.admin_addr.port(), 9555);
        assert_eq!(c.access_log, "stderr");
        assert_eq!(Config::default().access_log, "off");
    }

    #[test]
    fn console_keys_come_from_the_file_and_the_environment() {
        let d = Config::default();
        assert!(d.console);
        let parsed: Config =
            toml::from_str("console = false\nconsole_session_secs = 120\n").expect("parses");
        assert!(!parsed.console);
        assert_eq!(parsed.console_session_secs, 120);
        let vars = |name: &str| match name {
            "SPREAD_GATEWAY_CONSOLE" => Some(" false ".to_string()),
            "SPREAD_GATEWAY_CONSOLE_DOWN_AFTER_SECS" => Some("30".to_string()),
            _ => None,
        };
        let c = Config::default().with_vars(vars).expect("valid");
        assert!(!c.console);
        assert_eq!(c.console_down_after_secs, 30);
        assert_eq!(c.console_session_secs, d.console_session_secs);
        let bad = |name: &'static str, value: &'static str| {
            move |n: &str| (n == name).then(|| value.to_string())
        };
        for (name, value) in [
            ("SPREAD_GATEWAY_CONSOLE", "maybe"),
            ("SPREAD_GATEWAY_CONSOLE_SESSION_SECS", "0"),
            ("SPREAD_GATEWAY_CONSOLE_DOWN_AFTER_SECS", "0"),
        ] {
            assert!(
                Config::default().with_vars(bad(name, value)).is_err(),
                "{name}={value}"
            );
        }
    }

    #[test]
    fn tls_keys_come_from_the_file_and_the_environment() {
        let d = Config::default();
        assert_eq!((&d.tls_cert_file, &d.tls_key_file), (&None, &None));
        assert!(d.tls_handshake_timeout_ms >= 1000);
        let parsed: Config =
            toml::from_str("tls_cert_file = \"/c.pem\"\ntls_key_file = \"/k.pem\"\n")
                .expect("parses");
        parsed.validate().expect("valid");
        assert_eq!(parsed.tls_key_file.as_deref(), Some(Path::new("/k.pem")));
        let vars = |name: &str| match name {
            "SPREAD_GATEWAY_TLS_CERT_FILE" => Some("/etc/spread/cert.pem".to_string()),
            "SPREAD_GATEWAY_TLS_KEY_FILE" => Some(" /etc/spread/key.pem ".to_string()),
            "SPREAD_GATEWAY_TLS_HANDSHAKE_TIMEOUT_MS" => Some("2500".to_string()),
            _ => None,
        };
        let c = Config::default().with_vars(vars).expect("valid");
        assert_eq!(
            c.tls_cert_file.as_deref(),
            Some(Path::new("/etc/spread/cert.pem"))
        );
        assert_eq!(
            c.tls_key_file.as_deref(),
            Some(Path::new("/etc/spread/key.pem"))
        );
        assert_eq!(c.tls_handshake_timeout_ms, 2500);
        // Empty values turn TLS off again.
        let off = |name: &str| name.ends_with("_FILE").then(String::new);
        let c = parsed.with_vars(off).expect("valid");
        assert_eq!((c.tls_cert_file, c.tls_key_file), (None, None));
    }

    #[test]
    fn sse_key_file_from_the_file_or_the_environment() {
        assert_eq!(Config::default().sse_key_file, None);
        let parsed: Config =
            toml::from_str("sse_key_file = \"/etc/spread/sse.key\"\n").expect("parses");
        assert_eq!(
            parsed.sse_key_file.as_deref(),
            Some(Path::new("/etc/spread/sse.key"))
        );
        let var = |v: &'static str| {
            move |name: &str| (name == "SPREAD_GATEWAY_SSE_KEY_FILE").then(|| v.to_string())
        };
        let c = Config::default()
            .with_vars(var(" /k/sse.key "))
            .expect("valid");
        assert_eq!(c.sse_key_file.as_deref(), Some(Path::new("/k/sse.key")));
        // An empty value unsets it.
        let c = parsed.with_vars(var("")).expect("valid");
        assert_eq!(c.sse_key_file, None);
        // The KMS key cache's bound, from the file or the environment.
        assert_eq!(Config::default().kms_cache_secs, 10);
        let parsed: Config = toml::from_str("kms_cache_secs = 3\n").expect("parses");
        assert_eq!(parsed.kms_cache_secs, 3);
        let env = |name: &str| (name == "SPREAD_GATEWAY_KMS_CACHE_SECS").then(|| "0".to_string());
        assert_eq!(parsed.with_vars(env).expect("valid").kms_cache_secs, 0);
    }

    #[test]
    fn deadlines_are_bounded_and_come_from_the_environment() {
        let d = Config::default();
        assert!(
            d.meta_timeout_ms <= 30_000,
            "a frozen meta must cost seconds"
        );
        assert!(d.meta_timeout_ms >= 15_000, "an election must fit");
        assert!(d.hedge_after_ms > 0 && d.hedge_after_ms < d.read_timeout_ms);
        let vars = |name: &str| match name {
            "SPREAD_GATEWAY_META_TIMEOUT_MS" => Some("3000".to_string()),
            "SPREAD_GATEWAY_HEDGE_AFTER_MS" => Some("0".to_string()),
            "SPREAD_GATEWAY_WRITE_TIMEOUT_MS" => Some("1500".to_string()),
            "SPREAD_GATEWAY_RETRY_AFTER_SECS" => Some("7".to_string()),
            _ => None,
        };
        let c = Config::default().with_vars(vars).expect("valid");
        assert_eq!(c.meta_timeout_ms, 3000);
        assert_eq!(c.hedge_after_ms, 0);
        assert_eq!(c.write_timeout_ms, 1500);
        assert_eq!(c.retry_after_secs, 7);
        assert_eq!(c.read_timeout_ms, d.read_timeout_ms);
        let zero = |n: &str| (n == "SPREAD_GATEWAY_READ_TIMEOUT_MS").then(|| "0".to_string());
        assert!(Config::default().with_vars(zero).is_err());
    }

    #[test]
    fn bad_edge_values_are_refused() {
        let bad = |name: &'static str, value: &'static str| {
            move |n: &str| (n == name).then(|| value.to_string())
        };
        assert!(
            Config::default()
                .with_vars(bad("SPREAD_GATEWAY_IDLE_TIMEOUT_MS", "soon"))
                .is_err()
        );
        assert!(
            Config::default()
                .with_vars(bad("SPREAD_GATEWAY_HEADER_READ_TIMEOUT_MS", "0"))
                .is_err()
        );
        assert!(
            Config::default()
                .with_vars(bad("SPREAD_GATEWAY_ANONYMOUS_MAX_BODY_BYTES", "999999999"))
                .is_err()
        );
        assert!(
            Config::default()
                .with_vars(bad("SPREAD_GATEWAY_ADMIN_ADDR", "localhost"))
                .is_err()
        );
        assert!(
            Config::default()
                .with_vars(bad("SPREAD_GATEWAY_TLS_CERT_FILE", "/etc/spread/cert.pem"))
                .is_err(),
            "a certificate without its key"
        );
        assert!(
            Config::default()
                .with_vars(bad("SPREAD_GATEWAY_TLS_HANDSHAKE_TIMEOUT_MS", "0"))
                .is_err()
        );
        let toml = "xml_max_body_bytes = 100\n";
        let parsed: Config = toml::from_str(toml).expect("parses");
        assert!(parsed.validate().is_err());
    }

    #[test]
    fn the_chunked_put_limit_comes_from_the_file_and_the_environment() {
        assert_eq!(Config::default().chunked_put_max_bytes, 16 << 20);
        let parsed: Config = toml::from_str("chunked_put_max_bytes = 0\n").expect("parses");
        assert!(parsed.validate().is_ok());
        assert_eq!(parsed.chunked_put_max_bytes, 0);
        let env = |name: &str| {
            (name == "SPREAD_GATEWAY_CHUNKED_PUT_MAX_BYTES").then(|| "1048576".to_string())
        };
        let c = Config::default().with_vars(env).expect("valid");
        assert_eq!(c.chunked_put_max_bytes, 1 << 20);
        let too_big = |name: &str| {
            (name == "SPREAD_GATEWAY_CHUNKED_PUT_MAX_BYTES").then(|| (2u64 << 30).to_string())
        };
        assert!(Config::default().with_vars(too_big).is_err());
    }
}
