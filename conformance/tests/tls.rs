//! TLS on the gateway's S3 and Swift listeners (issue 17, part 4), through a real
//! `spread dev --tls` cluster on loopback:
//!
//! - aws-cli (`--ca-bundle`) and rclone (`--ca-cert`) create a bucket, put, list and get
//!   objects over https (one large enough for a multipart upload), byte for byte;
//! - Swift over https: `/auth/v1.0` answers an `https://` storage URL, and a PUT/GET on it
//!   round-trips;
//! - plain HTTP sent to the TLS port is answered `400` (saying the port speaks HTTPS) and
//!   closed, not left hanging;
//! - new certificate files and a SIGHUP: new handshakes get the new certificate (a client
//!   trusting only the new CA gets in, one trusting only the old CA is refused), a connection
//!   opened before keeps being served; a broken certificate file and a SIGHUP keep the
//!   certificate in use (and the gateway logs the failure).
//!
//! aws-cli is taken from the workspace's `.venv` (which `scripts/test.sh` creates before the
//! Rust tests) or `PATH`, rclone from `PATH`. Without them their part is skipped with a
//! message, except under CI (`CI=true`), where it fails.
//!
//! Needs the `spread` binary: `cargo build --release` first, or set `SPREAD_BIN`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use conformance::cluster::{Cluster, DevOptions, run_bounded, signal};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// How long one aws-cli or rclone command may take.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
const MIB: usize = 1024 * 1024;

/// rustls's *ring* provider (deprecated by rustls for lacking post-quantum key exchange; the
/// gateway uses the same one).
#[allow(deprecated)]
fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The first certificate of a PEM file.
fn ca_of(path: &Path) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A TLS connection to `addr` for `localhost`, trusting `ca` only, speaking HTTP/1.1.
async fn tls_connect(
    addr: SocketAddr,
    ca: &CertificateDer<'static>,
) -> Result<TlsStream<TcpStream>, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).map_err(|e| e.to_string())?;
    let mut config = rustls::ClientConfig::builder_with_provider(ring())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    tokio::time::timeout(Duration::from_secs(10), connector.connect(name, tcp))
        .await
        .map_err(|_| "TLS handshake timed out".to_string())?
        .map_err(|e| format!("TLS handshake: {e}"))
}

/// An HTTP/1.1 connection over TLS (kept alive between requests).
struct Https {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

impl Https {
    async fn open(addr: SocketAddr, ca: &CertificateDer<'static>) -> Result<Https, String> {
        let stream = tls_connect(addr, ca).await?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake: {e}"))?;
        tokio::spawn(conn);
        Ok(Https { sender })
    }

    /// One request; its status, headers and body.
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (u16, http::HeaderMap, Bytes) {
        let mut req = http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost")
            .header("content-length", body.len().to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(Bytes::from(body))).expect("request");
        let exchange = async {
            self.sender.ready().await.map_err(|e| e.to_string())?;
            let resp = self
                .sender
                .send_request(req)
                .await
                .map_err(|e| e.to_string())?;
            let (parts, body) = resp.into_parts();
            let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
            Ok::<_, String>((parts.status.as_u16(), parts.headers, body))
        };
        tokio::time::timeout(Duration::from_secs(30), exchange)
            .await
            .unwrap_or_else(|_| panic!("{method} {path}: no answer within 30 s"))
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }
}

fn addr_of(text: &str) -> SocketAddr {
    text.parse()
        .unwrap_or_else(|e| panic!("address {text:?}: {e}"))
}

/// A client program: `name` from the workspace's `.venv/bin` or from `PATH`. `None` (with a
/// message) when absent; under CI a missing client fails the test.
fn client(name: &str) -> Option<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("conformance lives inside the workspace");
    let venv = workspace.join(".venv").join("bin").join(name);
    if venv.is_file() {
        return Some(venv);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if on_path.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{name} not found (.venv/bin or PATH): scripts/test.sh installs it"
        );
        eprintln!("SKIPPED: {name} not found (.venv/bin or PATH): its part of the TLS test");
    }
    on_path
}

/// Runs a client command (bounded) and panics unless it succeeds; returns its stdout.
#[track_caller]
fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out = run_bounded(cmd, CLIENT_TIMEOUT);
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// aws-cli against the https endpoint, trusting `ca`.
fn aws(aws: &Path, cluster: &Cluster, ca: &Path, scratch: &Path) -> Command {
    let mut cmd = Command::new(aws);
    cmd.arg("--endpoint-url")
        .arg(&cluster.endpoint)
        .arg("--ca-bundle")
        .arg(ca)
        .env("AWS_ACCESS_KEY_ID", cluster.access_key())
        .env("AWS_SECRET_ACCESS_KEY", cluster.secret_key())
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", scratch.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            scratch.join("no-aws-credentials"),
        )
        .env_remove("AWS_CA_BUNDLE")
        .env_remove("AWS_PROFILE");
    cmd
}

/// rclone against the https endpoint (remote `spread:`), trusting `ca`.
fn rclone(rclone: &Path, cluster: &Cluster, ca: &Path) -> Command {
    let mut cmd = Command::new(rclone);
    cmd.args([
        "--config",
        "/dev/null",
        "--retries",
        "1",
        "--low-level-retries",
        "2",
    ])
    .arg("--ca-cert")
    .arg(ca)
    .env("RCLONE_CONFIG_SPREAD_TYPE", "s3")
    .env("RCLONE_CONFIG_SPREAD_PROVIDER", "Other")
    .env("RCLONE_CONFIG_SPREAD_ENDPOINT", &cluster.endpoint)
    .env("RCLONE_CONFIG_SPREAD_ACCESS_KEY_ID", cluster.access_key())
    .env(
        "RCLONE_CONFIG_SPREAD_SECRET_ACCESS_KEY",
        cluster.secret_key(),
    )
    .env("RCLONE_CONFIG_SPREAD_REGION", "us-east-1")
    .env("RCLONE_CONFIG_SPREAD_FORCE_PATH_STYLE", "true")
    .env_remove("AWS_CA_BUNDLE");
    cmd
}

/// Writes a new CA's certificate to `ca_file` and a certificate it signs for localhost (and
/// its key) over the gateway's certificate files — as an operator renewing them would.
fn new_certificates(ca_file: &Path, cert_file: &Path, key_file: &Path) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Spread conformance renewed CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("key")).expect("CA");
    let key = KeyPair::generate().expect("key");
    let mut params =
        CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).expect("params");
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &ca).expect("certificate");
    std::fs::write(ca_file, ca.pem()).expect("write CA");
    // Each file replaced whole (written aside, renamed over).
    for (path, text) in [(key_file, key.serialize_pem()), (cert_file, cert.pem())] {
        let tmp = path.with_extension("new");
        std::fs::write(&tmp, text).expect("write");
        std::fs::rename(&tmp, path).expect("rename");
    }
}

/// Waits (bounded) until `line` appears in `log` `count` times or more.
fn wait_for_log(log: &Path, line: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.matches(line).count() >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no {count}×{line:?} in {} within 10 s",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_and_swift_over_tls_with_certificate_reload() {
    let cluster = Cluster::start_with(DevOptions {
        tls: true,
        ..DevOptions::default()
    });
    assert!(
        cluster.endpoint.starts_with("https://"),
        "endpoint {}",
        cluster.endpoint
    );
    let ca_file = cluster.tls_ca();
    let ca = ca_of(&ca_file);
    let s3_addr = addr_of(&cluster.info.gateway.s3_addr);
    let swift_addr = addr_of(
        cluster
            .info
            .gateway
            .swift_addr
            .as_deref()
            .expect("a Swift listener"),
    );
    let scratch = tempfile::tempdir().expect("tempdir");
    let small = conformance::random_bytes(1, 100_000);
    let big = conformance::random_bytes(2, 9 * MIB);

    // aws-cli: bucket, a small and a multipart object up, listed, down, byte for byte.
    if let Some(bin) = client("aws") {
        let aws = |args: &[&str]| {
            let mut cmd = aws(&bin, &cluster, &ca_file, scratch.path());
            cmd.args(args);
            run_ok(&mut cmd, &format!("aws {args:?}"))
        };
        let (up_small, up_big) = (scratch.path().join("small"), scratch.path().join("big"));
        std::fs::write(&up_small, &small).expect("write");
        std::fs::write(&up_big, &big).expect("write");
        aws(&["s3", "mb", "s3://tls-aws"]);
        aws(&[
            "s3",
            "cp",
            "--no-progress",
            path(&up_small),
            "s3://tls-aws/small.bin",
        ]);
        aws(&[
            "s3",
            "cp",
            "--no-progress",
            path(&up_big),
            "s3://tls-aws/dir/big.bin",
        ]);
        let listed = aws(&["s3", "ls", "--recursive", "s3://tls-aws/"]);
        assert!(
            listed.contains("small.bin") && listed.contains("dir/big.bin"),
            "{listed}"
        );
        for (key, want) in [("small.bin", &small), ("dir/big.bin", &big)] {
            let down = scratch.path().join("down");
            aws(&[
                "s3",
                "cp",
                "--no-progress",
                &format!("s3://tls-aws/{key}"),
                path(&down),
            ]);
            let got = std::fs::read(&down).expect("read");
            assert!(
                got == *want,
                "aws-cli GET {key}: {} bytes differ",
                got.len()
            );
        }
    }

    // rclone: the same through Go's TLS stack (HTTP/2 where it offers it).
    if let Some(bin) = client("rclone") {
        let rclone = |args: &[&str]| {
            let mut cmd = rclone(&bin, &cluster, &ca_file);
            cmd.args(args);
            run_ok(&mut cmd, &format!("rclone {args:?}"))
        };
        let up = scratch.path().join("rclone-up");
        std::fs::write(&up, &big).expect("write");
        rclone(&["mkdir", "spread:tls-rclone"]);
        rclone(&["copyto", path(&up), "spread:tls-rclone/r/big.bin"]);
        let listed = rclone(&["lsf", "-R", "spread:tls-rclone"]);
        assert!(listed.lines().any(|l| l == "r/big.bin"), "{listed}");
        let down = scratch.path().join("rclone-down");
        rclone(&["copyto", "spread:tls-rclone/r/big.bin", path(&down)]);
        assert!(
            std::fs::read(&down).expect("read") == big,
            "rclone GET differs"
        );
    }

    // Swift over https: an https storage URL, a PUT and GET on it.
    let mut swift = Https::open(swift_addr, &ca).await.expect("Swift over TLS");
    let user = format!("{}:admin", cluster.info.account);
    let (status, headers, _) = swift
        .send(
            "GET",
            "/auth/v1.0",
            &[("x-auth-user", &user), ("x-auth-key", cluster.secret_key())],
            Vec::new(),
        )
        .await;
    assert_eq!(status, 200, "Swift auth");
    let storage_url = headers["x-storage-url"]
        .to_str()
        .expect("ASCII")
        .to_string();
    let token = headers["x-auth-token"].to_str().expect("ASCII").to_string();
    assert!(storage_url.starts_with("https://"), "{storage_url}");
    let account_path = storage_url
        .split_once("/v1/")
        .map(|(_, rest)| format!("/v1/{rest}"))
        .expect("a /v1/ storage URL");
    let auth = [("x-auth-token", token.as_str())];
    let (status, _, _) = swift
        .send(
            "PUT",
            &format!("{account_path}/tls-swift"),
            &auth,
            Vec::new(),
        )
        .await;
    assert!(status == 201 || status == 202, "PUT container: {status}");
    let object = format!("{account_path}/tls-swift/o.bin");
    let (status, _, _) = swift.send("PUT", &object, &auth, small.clone()).await;
    assert_eq!(status, 201, "PUT object");
    let (status, _, body) = swift.send("GET", &object, &auth, Vec::new()).await;
    assert_eq!(status, 200, "GET object");
    assert!(
        body == small,
        "Swift GET over TLS: {} bytes differ",
        body.len()
    );

    // Plain HTTP to the TLS ports: a 400 saying so, and the connection closed.
    for addr in [s3_addr, swift_addr] {
        let mut plain = TcpStream::connect(addr).await.expect("connect");
        plain
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .expect("write");
        let mut answer = String::new();
        tokio::time::timeout(Duration::from_secs(10), plain.read_to_string(&mut answer))
            .await
            .expect("plain HTTP answered and closed in time")
            .expect("read");
        assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
        assert!(answer.contains("HTTPS"), "{answer}");
    }

    // Renewal: a connection opened before, new files, SIGHUP.
    let gateway_pid = cluster.info.gateway.pid.expect("gateway pid");
    let gateway_log = cluster.data_dir().join("logs").join("gateway.log");
    let mut before = Https::open(s3_addr, &ca).await.expect("S3 over TLS");
    let (status, _, _) = before.send("GET", "/", &[], Vec::new()).await;
    assert_eq!(status, 403, "anonymous ListBuckets");
    let tls_dir = cluster.data_dir().join("tls");
    let (cert_file, key_file) = (tls_dir.join("server.pem"), tls_dir.join("server-key.pem"));
    let new_ca_file = scratch.path().join("new-ca.pem");
    new_certificates(&new_ca_file, &cert_file, &key_file);
    let new_ca = ca_of(&new_ca_file);
    // Until the signal the old certificate is served.
    tls_connect(s3_addr, &ca)
        .await
        .expect("old certificate before SIGHUP");
    signal(gateway_pid, libc::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Err(e) = tls_connect(s3_addr, &new_ca).await {
        assert!(
            Instant::now() < deadline,
            "new handshakes do not present the new certificate 10 s after SIGHUP: {e}\n{}",
            cluster.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for addr in [s3_addr, swift_addr] {
        tls_connect(addr, &new_ca).await.expect("new certificate");
        let err = tls_connect(addr, &ca)
            .await
            .expect_err("the old CA no longer verifies the listener");
        assert!(err.contains("certificate"), "{err}");
    }
    assert!(
        conformance::cluster::pid_alive(gateway_pid),
        "SIGHUP stopped the gateway"
    );
    // The connection opened before the reload keeps being served.
    let (status, _, _) = before.send("GET", "/", &[], Vec::new()).await;
    assert_eq!(status, 403, "the connection opened before the reload");
    // And clients trusting the new CA work end to end.
    if let Some(bin) = client("aws") {
        let mut cmd = aws(&bin, &cluster, &new_ca_file, scratch.path());
        cmd.args(["s3", "ls", "s3://tls-aws/"]);
        let listed = run_ok(&mut cmd, "aws s3 ls with the new CA");
        assert!(listed.contains("small.bin"), "{listed}");
    }

    // A broken certificate file: the reload fails, the certificate in use is kept.
    std::fs::write(&cert_file, "-----BEGIN CERTIFICATE-----\nbroken\n").expect("write");
    signal(gateway_pid, libc::SIGHUP);
    wait_for_log(&gateway_log, "TLS certificate reload failed", 1);
    tls_connect(s3_addr, &new_ca)
        .await
        .expect("the certificate in use is kept after a failed reload");
    let mut after = Https::open(swift_addr, &new_ca)
        .await
        .expect("Swift over TLS");
    let (status, _, body) = after.send("GET", &object, &auth, Vec::new()).await;
    assert_eq!(status, 200, "GET object after the failed reload");
    assert!(body == small);
    assert!(
        conformance::cluster::pid_alive(gateway_pid),
        "SIGHUP stopped the gateway"
    );
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}
