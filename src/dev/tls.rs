//! `spread dev --tls`: a test CA and a server certificate it signs, in `DIR/tls/`, for the
//! gateway's S3 and Swift listeners.
//!
//! - `ca.pem`: the CA certificate clients are given (`aws --ca-bundle`, `rclone --ca-cert`,
//!   `curl --cacert`); `ca-key.pem` its key (mode 0600), kept so that a restart on the same
//!   directory signs a new server certificate with the same CA: clients keep trusting it.
//! - `server.pem` / `server-key.pem` (0600): issued anew at every start, for `localhost`,
//!   127.0.0.1, ::1, the addresses the listeners are bound to and, with `--s3-domain`, the
//!   domain and its subdomains (virtual-hosted-style buckets).
//!
//! For tests and local use only: the CA's key sits next to the data, unprotected.

use crate::cli::DevArgs;
use crate::error::{Error, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

/// The common name of the dev CA (also how a restart recognises it: the issuer name of the
/// server certificates).
const CA_NAME: &str = "Spread dev CA (test only)";

/// The files of a dev cluster's TLS.
#[derive(Debug, Clone)]
pub struct DevTls {
    /// The CA certificate (PEM) clients must trust.
    pub ca: PathBuf,
    /// The gateway's certificate chain and key (PEM).
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The names the server certificate covers for `args`.
pub fn server_names(args: &DevArgs) -> Vec<String> {
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    for ip in [args.s3_listen.ip(), args.swift_listen.ip()] {
        if !ip.is_unspecified() {
            names.push(ip.to_string());
        }
    }
    if let Some(domain) = &args.s3_domain {
        names.push(domain.clone());
        names.push(format!("*.{domain}"));
    }
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// The parameters of the dev CA (the same at every start: its certificates chain to the one
/// `ca.pem` holds as long as its key is the same).
fn ca_params() -> Result<CertificateParams> {
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name.push(DnType::CommonName, CA_NAME);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(ca)
}

fn cert_error(e: rcgen::Error) -> Error {
    Error::Startup(format!("generating the dev TLS certificates: {e}"))
}

/// Writes (or keeps) the CA in `dir/tls/` and issues a server certificate for `names`.
pub fn prepare(dir: &Path, names: &[String]) -> Result<DevTls> {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).map_err(|e| Error::file(&tls, e))?;
    let files = DevTls {
        ca: tls.join("ca.pem"),
        cert: tls.join("server.pem"),
        key: tls.join("server-key.pem"),
    };
    let ca_key_path = tls.join("ca-key.pem");
    let ca_key = match std::fs::read_to_string(&ca_key_path) {
        Ok(pem) if files.ca.is_file() => KeyPair::from_pem(&pem).map_err(|e| Error::Parse {
            path: ca_key_path.clone(),
            message: format!("{e} (remove {} to start with a new CA)", tls.display()),
        })?,
        _ => {
            let key = KeyPair::generate().map_err(cert_error)?;
            let ca = ca_params()?.self_signed(&key).map_err(cert_error)?;
            write_file(&ca_key_path, key.serialize_pem().as_bytes(), 0o600)?;
            write_file(&files.ca, ca.pem().as_bytes(), 0o644)?;
            tracing::info!(ca = %files.ca.display(), "new dev TLS CA");
            key
        }
    };
    let issuer = Issuer::new(ca_params()?, ca_key);
    let key = KeyPair::generate().map_err(cert_error)?;
    let mut params = CertificateParams::new(names.to_vec()).map_err(cert_error)?;
    params
        .distinguished_name
        .push(DnType::CommonName, names.first().map_or("localhost", |n| n));
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, &issuer).map_err(cert_error)?;
    write_file(&files.key, key.serialize_pem().as_bytes(), 0o600)?;
    write_file(&files.cert, cert.pem().as_bytes(), 0o644)?;
    Ok(files)
}

/// Writes `bytes` to `path` through a temporary file created with `mode` (a key is never
/// readable by others, even for a moment), then renamed over it.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| Error::file(&tmp, e))?;
    f.write_all(bytes).map_err(|e| Error::file(&tmp, e))?;
    f.sync_all().map_err(|e| Error::file(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| Error::file(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_keeps_the_ca_and_issues_a_new_server_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let first = prepare(dir.path(), &names).unwrap();
        let ca = std::fs::read_to_string(&first.ca).unwrap();
        let cert = std::fs::read_to_string(&first.cert).unwrap();
        assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
        let mode = |p: &Path| {
            std::os::unix::fs::PermissionsExt::mode(&p.metadata().unwrap().permissions()) & 0o777
        };
        assert_eq!(mode(&first.key), 0o600);
        assert_eq!(mode(&dir.path().join("tls/ca-key.pem")), 0o600);
        // The gateway accepts the pair.
        gateway::tls::Tls::load(&first.cert, &first.key).unwrap();

        let again = prepare(dir.path(), &names).unwrap();
        assert_eq!(std::fs::read_to_string(&again.ca).unwrap(), ca);
        assert_ne!(std::fs::read_to_string(&again.cert).unwrap(), cert);
    }

    #[test]
    fn names_cover_the_listeners_and_the_domain() {
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from([
            "spread",
            "dev",
            "--tls",
            "--s3-listen",
            "127.0.0.2:9100",
            "--swift-listen",
            "0.0.0.0:8181",
            "--s3-domain",
            "s3.test",
        ])
        .unwrap();
        let crate::cli::Command::Dev(args) = cli.command else {
            panic!("not dev")
        };
        assert!(args.tls);
        assert_eq!(
            server_names(&args),
            [
                "localhost",
                "127.0.0.1",
                "::1",
                "127.0.0.2",
                "s3.test",
                "*.s3.test"
            ]
        );
    }
}
