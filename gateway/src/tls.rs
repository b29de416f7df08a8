//! TLS on the S3 and Swift listeners: rustls on the `ring` provider, TLS 1.2 and 1.3, HTTP/2
//! and HTTP/1.1 offered by ALPN.
//!
//! The certificate chain and key come from two PEM files (`tls_cert_file`, `tls_key_file`);
//! both listeners share one [`Tls`]. Every handshake asks the [`CertStore`] for the current
//! certificate, so a reload ([`Tls::reload`], on SIGHUP: [`reload_on_sighup`]) applies to the
//! next handshakes while the connections already open keep theirs. A reload that fails (a file
//! missing or unreadable, no certificate, a key that does not match the certificate…) keeps
//! the certificate in use and logs the error.
//!
//! The handshake itself (its timeout, plain HTTP sent to a TLS port) is run by the listener
//! (`crate::listener`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::Digest as _;
use tokio_rustls::TlsAcceptor;

use crate::{Config, Error, Result};

/// ALPN protocols offered, in order of preference.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The TLS side of the S3 and Swift listeners: the acceptor their connections go through and
/// the certificate store it reads. Cheap to clone (shared).
#[derive(Clone)]
pub struct Tls {
    acceptor: TlsAcceptor,
    store: Arc<CertStore>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("store", &self.store).finish()
    }
}

/// The certificate (chain and key) new handshakes get, and the files it is read from.
pub struct CertStore {
    cert_file: PathBuf,
    key_file: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl std::fmt::Debug for CertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertStore")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let current = match self.current.read() {
            Ok(current) => current,
            Err(poisoned) => poisoned.into_inner(),
        };
        Some(current.clone())
    }
}

impl Tls {
    /// The TLS of the listeners from `tls_cert_file` and `tls_key_file`: `None` when neither
    /// is set (plain HTTP); an error when only one is, or when the files cannot be used.
    pub fn from_config(config: &Config) -> Result<Option<Tls>> {
        match (&config.tls_cert_file, &config.tls_key_file) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => Tls::load(cert, key).map(Some),
            _ => Err(Error::Config(
                "tls_cert_file and tls_key_file must be set together".to_string(),
            )),
        }
    }

    /// Loads the certificate chain of `cert_file` and the private key of `key_file` (PEM).
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<Tls> {
        let provider = Arc::new(ring_provider());
        let key = load_certified_key(cert_file, key_file, &provider).map_err(Error::Config)?;
        let store = Arc::new(CertStore {
            cert_file: cert_file.to_path_buf(),
            key_file: key_file.to_path_buf(),
            provider: provider.clone(),
            current: RwLock::new(Arc::new(key)),
        });
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Config(format!("TLS: {e}")))?
            .with_no_client_auth()
            .with_cert_resolver(store.clone());
        server.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        tracing::info!(
            cert_file = %cert_file.display(),
            key_file = %key_file.display(),
            fingerprint = %store.fingerprint(),
            "TLS certificate loaded"
        );
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            store,
        })
    }

    /// The acceptor connections are handed to.
    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    /// Reads the certificate and key files again; on success the next handshakes use them
    /// (open connections are not touched). On failure the certificate in use is kept and the
    /// reason returned.
    pub fn reload(&self) -> Result<()> {
        let store = &self.store;
        let key = load_certified_key(&store.cert_file, &store.key_file, &store.provider)
            .map_err(Error::Config)?;
        let key = Arc::new(key);
        match store.current.write() {
            Ok(mut current) => *current = key,
            Err(poisoned) => *poisoned.into_inner() = key,
        }
        Ok(())
    }

    /// SHA-256 of the end-entity certificate in use (hex), as `openssl x509 -fingerprint
    /// -sha256` shows it without the colons: what the log names a certificate by.
    pub fn fingerprint(&self) -> String {
        self.store.fingerprint()
    }

    /// [`Tls::reload`], logged: the new fingerprint on success, an error otherwise.
    pub fn reload_logged(&self) {
        match self.reload() {
            Ok(()) => tracing::info!(
                cert_file = %self.store.cert_file.display(),
                fingerprint = %self.fingerprint(),
                "TLS certificate reloaded: new handshakes use it"
            ),
            Err(e) => tracing::error!(
                error = %e,
                fingerprint = %self.fingerprint(),
                "TLS certificate reload failed: keeping the certificate in use"
            ),
        }
    }
}

impl CertStore {
    fn fingerprint(&self) -> String {
        let current = match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        current
            .cert
            .first()
            .map(|c| hex::encode(sha2::Sha256::digest(c.as_ref())))
            .unwrap_or_default()
    }
}

/// rustls's *ring* provider (its default suites and groups). rustls deprecates it for lacking
/// post-quantum key exchange, offered only by its aws-lc-rs provider; Spread stays on *ring*
/// for a build without aws-lc's C and assembly toolchain.
#[allow(deprecated)]
pub fn ring_provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// Reads a PEM certificate chain (end-entity first) and a PEM private key (PKCS#8, PKCS#1 or
/// SEC1) and checks that the key is the certificate's.
fn load_certified_key(
    cert_file: &Path,
    key_file: &Path,
    provider: &CryptoProvider,
) -> std::result::Result<CertifiedKey, String> {
    let cert_pem = std::fs::read(cert_file)
        .map_err(|e| format!("tls_cert_file {}: {e}", cert_file.display()))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| format!("tls_cert_file {}: {e}", cert_file.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "tls_cert_file {}: no PEM certificate in it",
            cert_file.display()
        ));
    }
    let key_pem =
        std::fs::read(key_file).map_err(|e| format!("tls_key_file {}: {e}", key_file.display()))?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| format!("tls_key_file {}: {e}", key_file.display()))?;
    CertifiedKey::from_der(chain, key, provider).map_err(|e| {
        format!(
            "tls_key_file {} with tls_cert_file {}: {e}",
            key_file.display(),
            cert_file.display()
        )
    })
}

/// Reloads `tls` on every SIGHUP, for the life of the process. Without TLS a SIGHUP is only
/// logged (it no longer stops the gateway either way).
pub fn reload_on_sighup(tls: Option<Tls>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP: TLS certificates will not be reloaded");
            return;
        }
    };
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            match &tls {
                Some(tls) => {
                    tracing::info!("SIGHUP received: reloading the TLS certificate");
                    tls.reload_logged();
                }
                None => tracing::info!("SIGHUP received: no TLS configured, nothing to reload"),
            }
        }
    });
}

/// Test certificates: a CA and a server certificate it signs.
#[cfg(test)]
pub(crate) mod testing {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };

    /// A CA (its certificate, DER) and a certificate it signs for `names` with its
    /// key (PEM).
    pub struct Pki {
        pub ca_der: rustls_pki_types::CertificateDer<'static>,
        pub cert_pem: String,
        pub key_pem: String,
    }

    pub fn pki(names: &[&str]) -> Pki {
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "Spread test CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key"))
            .expect("CA certificate");
        let key = KeyPair::generate().expect("key");
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("params");
        params.distinguished_name.push(DnType::CommonName, names[0]);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &ca).expect("certificate");
        Pki {
            ca_der: ca.der().clone(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate for `name` and its key, PEM.
    fn self_signed(name: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec![name.to_string()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn loads_reloads_and_keeps_the_old_certificate_on_failure() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let (cert, key) = self_signed("localhost");
        std::fs::write(&cert_file, &cert).expect("write");
        std::fs::write(&key_file, &key).expect("write");
        let tls = Tls::load(&cert_file, &key_file).expect("loads");
        let first = tls.fingerprint();
        assert_eq!(first.len(), 64);

        // A new pair: the next handshakes get it.
        let (cert2, key2) = self_signed("localhost");
        std::fs::write(&cert_file, &cert2).expect("write");
        std::fs::write(&key_file, &key2).expect("write");
        tls.reload().expect("reloads");
        let second = tls.fingerprint();
        assert_ne!(first, second);

        // The certificate replaced but not yet its key: refused, the pair in use kept.
        std::fs::write(&cert_file, &cert).expect("write");
        let err = tls.reload().expect_err("mismatched key").to_string();
        assert!(err.contains("tls_key_file"), "{err}");
        assert_eq!(tls.fingerprint(), second);
        // Garbage and a missing file: the same.
        std::fs::write(&cert_file, "not a certificate").expect("write");
        assert!(tls.reload().is_err());
        std::fs::remove_file(&key_file).expect("rm");
        assert!(tls.reload().is_err());
        assert_eq!(tls.fingerprint(), second);
    }

    #[test]
    fn both_files_or_neither() {
        let mut config = Config::default();
        assert!(Tls::from_config(&config).expect("plain").is_none());
        config.tls_cert_file = Some(PathBuf::from("/nonexistent/cert.pem"));
        assert!(Tls::from_config(&config).is_err());
        config.tls_key_file = Some(PathBuf::from("/nonexistent/key.pem"));
        let err = Tls::from_config(&config)
            .expect_err("missing files")
            .to_string();
        assert!(err.contains("/nonexistent/cert.pem"), "{err}");
    }
}
