//! Secrets at rest: SigV4 secret keys and Swift keys are stored sealed with the cluster's master
//! key (AES-256-GCM), in LMDB records, in the Raft log's commands and so in snapshots and any
//! copy of the data directory.
//!
//! - The master key file (`master_key_file` in meta's config) holds one key a line,
//!   `<key-id> <64 hex digits>` (blank lines and `#` comments are skipped). The first line is the
//!   *current* key, which seals; the others are older keys, kept to open what they sealed.
//! - A sealed secret ([`Sealed`]) names the id of the key that sealed it, its random 96-bit nonce
//!   and the ciphertext (with its 128-bit tag). The node that prepares a command seals the secret
//!   (the nonce is drawn then), so the command carries ciphertext and applying it stays
//!   deterministic: no node decrypts or encrypts while applying.
//! - The associated data binds a ciphertext to what it protects ([`Subject`]): a sealed secret
//!   moved to another access key, another account or another Swift user does not open.
//! - Secrets are opened only to answer a read that needs them (the gateway's SigV4 check, Swift
//!   authentication).

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use meta_api::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// The sealing scheme this binary writes: AES-256-GCM, 96-bit nonce, 128-bit tag.
pub const SCHEME: u32 = 1;
/// Nonce length of scheme 1, in bytes.
const NONCE_LEN: usize = 12;
/// Tag length of scheme 1, in bytes.
const TAG_LEN: usize = 16;
/// Longest secret sealed (the longest secret key or Swift key accepted is 256 bytes).
pub const MAX_SECRET: usize = 256;
/// Longest key id.
pub const MAX_KEY_ID: usize = internal_auth::key_file::MAX_KEY_ID;

/// A secret sealed under a master key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// Sealing scheme ([`SCHEME`]).
    pub v: u32,
    /// Id of the master key that sealed it.
    pub kid: String,
    /// The nonce, base64.
    pub nonce: String,
    /// Ciphertext followed by the tag, base64.
    pub ct: String,
}

/// What a sealed secret protects: its associated data.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// The SigV4 secret of an access key, which belongs to `account`.
    AccessKey {
        access_key: &'a str,
        account: &'a str,
    },
    /// The key of the Swift user `account:user`.
    SwiftUser { account: &'a str, user: &'a str },
}

impl Subject<'_> {
    /// The associated data: a label for the kind, then the names, NUL-separated (names carry
    /// no control characters, so the encoding is unambiguous).
    fn aad(&self) -> Vec<u8> {
        let (label, a, b) = match *self {
            Subject::AccessKey {
                access_key,
                account,
            } => (&b"spread sigv4 secret"[..], access_key, account),
            Subject::SwiftUser { account, user } => (&b"spread swift key"[..], account, user),
        };
        let mut v = Vec::with_capacity(label.len() + a.len() + b.len() + 2);
        v.extend_from_slice(label);
        v.push(0);
        v.extend_from_slice(a.as_bytes());
        v.push(0);
        v.extend_from_slice(b.as_bytes());
        v
    }
}

impl fmt::Display for Subject<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::AccessKey { access_key, .. } => write!(f, "access key {access_key}"),
            Subject::SwiftUser { account, user } => write!(f, "swift user {account}:{user}"),
        }
    }
}

/// Checks a key id: 1 to [`MAX_KEY_ID`] characters of `[A-Za-z0-9._-]`.
pub fn check_key_id(kid: &str) -> Result<()> {
    internal_auth::key_file::check_key_id(kid).map_err(Error::InvalidArgument)
}

impl Sealed {
    /// Checks the form of a sealed secret without opening it (deterministic: commands are
    /// checked with it when applied): a known scheme, a good key id, a nonce of 12 bytes and a
    /// ciphertext no longer than the longest secret.
    pub fn check(&self) -> Result<()> {
        self.parts().map(|_| ())
    }

    /// The decoded nonce and ciphertext.
    fn parts(&self) -> Result<([u8; NONCE_LEN], Vec<u8>)> {
        if self.v != SCHEME {
            return Err(Error::InvalidArgument(format!(
                "a secret sealed with scheme {}; this binary knows scheme {SCHEME}",
                self.v
            )));
        }
        check_key_id(&self.kid)?;
        let bad = |what: &str| Error::InvalidArgument(format!("a sealed secret has a bad {what}"));
        let nonce: [u8; NONCE_LEN] = B64
            .decode(&self.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(|| bad("nonce"))?;
        let ct = B64.decode(&self.ct).map_err(|_| bad("ciphertext"))?;
        if ct.len() < TAG_LEN || ct.len() > TAG_LEN + MAX_SECRET {
            return Err(bad("ciphertext length"));
        }
        Ok((nonce, ct))
    }
}

/// The master keys of a meta node: the current one seals, every one opens.
pub struct MasterKeys {
    /// `(id, cipher)`, the current key first.
    keys: Vec<(String, Aes256Gcm)>,
}

impl fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKeys")
            .field("ids", &self.ids().collect::<Vec<_>>())
            .finish()
    }
}

impl MasterKeys {
    /// Reads the master key file at `path` (see the module documentation). A file others
    /// than its owner may read is accepted with a warning.
    pub fn load(path: &Path) -> Result<MasterKeys> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::InvalidArgument(format!(
                "reading the master key file {}: {e}",
                path.display()
            ))
        })?;
        warn_if_readable_by_others(path);
        MasterKeys::parse(&text).map_err(|e| match e {
            Error::InvalidArgument(m) => {
                Error::InvalidArgument(format!("master key file {}: {m}", path.display()))
            }
            other => other,
        })
    }

    /// Parses the text of a master key file (`internal_auth::key_file`). Errors name the
    /// line, never its key.
    pub fn parse(text: &str) -> Result<MasterKeys> {
        let keys = internal_auth::key_file::parse(text)
            .map_err(Error::InvalidArgument)?
            .into_iter()
            .map(|(kid, bytes)| {
                (
                    kid,
                    Aes256Gcm::new(aes_gcm::Key::<Aes256Gcm>::from_slice(&bytes)),
                )
            })
            .collect();
        Ok(MasterKeys { keys })
    }

    /// Id of the current key (the one that seals).
    pub fn current_id(&self) -> &str {
        &self.keys[0].0
    }

    /// Every key id, the current one first.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(k, _)| k.as_str())
    }

    /// True when a key with this id is held.
    pub fn holds(&self, kid: &str) -> bool {
        self.keys.iter().any(|(k, _)| k == kid)
    }

    /// Seals `secret` for `subject` under the current key, with a fresh random nonce.
    pub fn seal(&self, subject: Subject<'_>, secret: &str) -> Result<Sealed> {
        if secret.len() > MAX_SECRET {
            return Err(Error::InvalidArgument(format!(
                "the secret of {subject} is longer than {MAX_SECRET} bytes"
            )));
        }
        let (kid, cipher) = &self.keys[0];
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = subject.aad();
        let ct = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: secret.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| Error::Internal(format!("sealing the secret of {subject} failed")))?;
        Ok(Sealed {
            v: SCHEME,
            kid: kid.clone(),
            nonce: B64.encode(nonce),
            ct: B64.encode(ct),
        })
    }

    /// Opens a secret sealed for `subject`. Every failure is an `Internal` error naming the
    /// subject (and the key id when the key is missing or does not open it).
    pub fn open(&self, subject: Subject<'_>, sealed: &Sealed) -> Result<String> {
        let (nonce, ct) = sealed.parts().map_err(|e| {
            Error::Internal(format!(
                "the sealed secret of {subject} cannot be read: {e}"
            ))
        })?;
        let Some((_, cipher)) = self.keys.iter().find(|(k, _)| *k == sealed.kid) else {
            return Err(Error::Internal(format!(
                "the secret of {subject} is sealed under master key id {:?}, which the master \
                 key file does not hold (it holds {})",
                sealed.kid,
                self.ids()
                    .map(|k| format!("{k:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        let aad = subject.aad();
        let plain = cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &ct,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                Error::Internal(format!(
                    "the secret of {subject} does not open under master key id {:?}: the \
                     record was altered or moved, or this key is not the one that sealed it",
                    sealed.kid
                ))
            })?;
        String::from_utf8(plain)
            .map_err(|_| Error::Internal(format!("the secret of {subject} opens to invalid UTF-8")))
    }
}

/// One line of a new master key file: `<kid> <64 random hex digits>`.
pub fn new_key_line(kid: &str) -> Result<String> {
    check_key_id(kid)?;
    let key = Aes256Gcm::generate_key(&mut OsRng);
    Ok(format!("{kid} {}\n", hex::encode(key)))
}

/// Creates a master key file at `path` holding one new key `kid`, readable by its owner only,
/// unless a file is there already (it is left as it is). Returns true when it was created.
pub fn create_key_file(path: &Path, kid: &str) -> Result<bool> {
    use std::io::Write;
    let line = new_key_line(kid)?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = match opts.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(Error::Io(format!("creating {}: {e}", path.display()))),
    };
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::Io(format!("writing {}: {e}", path.display())))?;
    Ok(true)
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::metadata(path)
        && m.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{:o}", m.permissions().mode() & 0o777),
            "the master key file is readable by others than its owner (chmod 600 it)"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "k1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const K2: &str = "k2 ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

    fn ak(access_key: &str) -> Subject<'_> {
        Subject::AccessKey {
            access_key,
            account: "acct",
        }
    }

    #[test]
    fn seal_then_open_with_a_fresh_nonce_each_time() {
        let keys = MasterKeys::parse(K1).unwrap();
        let a = keys.seal(ak("AK"), "the secret").unwrap();
        let b = keys.seal(ak("AK"), "the secret").unwrap();
        assert_eq!((a.v, a.kid.as_str()), (SCHEME, "k1"));
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ct, b.ct);
        assert!(!a.ct.contains("the secret"));
        assert_eq!(keys.open(ak("AK"), &a).unwrap(), "the secret");
        assert_eq!(keys.open(ak("AK"), &b).unwrap(), "the secret");
        a.check().unwrap();
    }

    #[test]
    fn a_ciphertext_does_not_open_for_another_subject_or_altered() {
        let keys = MasterKeys::parse(K1).unwrap();
        let s = keys.seal(ak("AK"), "secret").unwrap();
        let e = keys.open(ak("OTHER"), &s).unwrap_err();
        assert!(
            matches!(&e, Error::Internal(m) if m.contains("access key OTHER") && m.contains("\"k1\"")),
            "{e}"
        );
        let other_account = Subject::AccessKey {
            access_key: "AK",
            account: "acct2",
        };
        assert!(keys.open(other_account, &s).is_err());
        let swift = Subject::SwiftUser {
            account: "AK",
            user: "acct",
        };
        assert!(keys.open(swift, &s).is_err());
        let mut ct = B64.decode(&s.ct).unwrap();
        ct[0] ^= 1;
        let altered = Sealed {
            ct: B64.encode(&ct),
            ..s.clone()
        };
        assert!(matches!(
            keys.open(ak("AK"), &altered),
            Err(Error::Internal(_))
        ));
        let bad_nonce = Sealed {
            nonce: "AAAA".into(),
            ..s.clone()
        };
        assert!(matches!(
            keys.open(ak("AK"), &bad_nonce),
            Err(Error::Internal(_))
        ));
        assert!(bad_nonce.check().is_err());
        let short = Sealed {
            ct: B64.encode([0u8; 3]),
            ..s.clone()
        };
        assert!(keys.open(ak("AK"), &short).is_err());
        let newer = Sealed { v: 9, ..s };
        let e = keys.open(ak("AK"), &newer).unwrap_err().to_string();
        assert!(e.contains("scheme 9"), "{e}");
    }

    #[test]
    fn old_keys_open_what_they_sealed_and_a_missing_key_is_named() {
        let old = MasterKeys::parse(K1).unwrap();
        let s = old.seal(ak("AK"), "secret").unwrap();
        let rotated = MasterKeys::parse(&format!("{K2}\n{K1}\n")).unwrap();
        assert_eq!(rotated.current_id(), "k2");
        assert!(rotated.holds("k1"));
        assert_eq!(rotated.open(ak("AK"), &s).unwrap(), "secret");
        assert_eq!(rotated.seal(ak("AK"), "x").unwrap().kid, "k2");
        let only_new = MasterKeys::parse(K2).unwrap();
        let e = only_new.open(ak("AK"), &s).unwrap_err();
        assert!(
            matches!(&e, Error::Internal(m) if m.contains("\"k1\"") && m.contains("does not hold")),
            "{e}"
        );
        // The same id with another key: the tag check fails, clearly.
        let impostor = MasterKeys::parse(
            "k1 ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100",
        )
        .unwrap();
        let e = impostor.open(ak("AK"), &s).unwrap_err().to_string();
        assert!(e.contains("does not open"), "{e}");
    }

    #[test]
    fn key_files_are_checked_line_by_line_without_echoing_keys() {
        let keys = MasterKeys::parse(&format!("# rotated 2025\n\n{K2}\n  {K1}  \n")).unwrap();
        assert_eq!(keys.ids().collect::<Vec<_>>(), ["k2", "k1"]);
        assert!(!format!("{keys:?}").contains("ffee"));
        for (text, want) in [
            ("", "no key"),
            ("k1", "line 1"),
            ("k1 abcd", "64 hex"),
            (
                "k/1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                "key id",
            ),
            (&format!("{K1}\n{K1}"), "twice"),
            (&format!("{K1} extra"), "line 1"),
            (
                "k1 zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                "64 hex",
            ),
        ] {
            let e = MasterKeys::parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
            assert!(!e.contains("0102030405"), "{e}");
        }
    }

    #[test]
    fn a_new_key_file_is_created_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("master.key");
        assert!(create_key_file(&p, "dev-1").unwrap());
        let first = std::fs::read_to_string(&p).unwrap();
        assert!(!create_key_file(&p, "dev-2").unwrap());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), first);
        let keys = MasterKeys::load(&p).unwrap();
        assert_eq!(keys.current_id(), "dev-1");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
        assert!(matches!(
            MasterKeys::load(&dir.path().join("missing")),
            Err(Error::InvalidArgument(m)) if m.contains("missing")
        ));
        assert!(new_key_line("bad id").is_err());
    }
}
