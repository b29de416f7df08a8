//! Hashes computed over a body while it streams through the writer: the MD5 that becomes the
//! ETag and, when the client asked for one, an S3 checksum (CRC32, CRC32C, CRC64NVME, SHA-1,
//! SHA-256). Each byte is hashed once per algorithm, in the same pass that cuts chunks.

use base64::Engine as _;
use md5::Digest as _;
use s3s::crypto::Checksum as _;

/// Checksum algorithms S3 clients send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgo {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgo {
    /// Lower-case name used in records ("crc32", ...).
    pub fn name(self) -> &'static str {
        match self {
            ChecksumAlgo::Crc32 => "crc32",
            ChecksumAlgo::Crc32c => "crc32c",
            ChecksumAlgo::Crc64Nvme => "crc64nvme",
            ChecksumAlgo::Sha1 => "sha1",
            ChecksumAlgo::Sha256 => "sha256",
        }
    }

    /// Parses an algorithm name as S3 spells it (case-insensitive).
    pub fn parse(s: &str) -> Option<ChecksumAlgo> {
        match s.to_ascii_lowercase().as_str() {
            "crc32" => Some(ChecksumAlgo::Crc32),
            "crc32c" => Some(ChecksumAlgo::Crc32c),
            "crc64nvme" => Some(ChecksumAlgo::Crc64Nvme),
            "sha1" => Some(ChecksumAlgo::Sha1),
            "sha256" => Some(ChecksumAlgo::Sha256),
            _ => None,
        }
    }
}

/// The base64 checksum of `data` (one buffer, e.g. the concatenated part checksums of a
/// composite multipart checksum).
pub fn checksum_base64(algo: ChecksumAlgo, data: &[u8]) -> String {
    let mut h = Hasher::new(algo);
    h.update(data);
    h.finalize_base64()
}

enum Hasher {
    Crc32(s3s::crypto::Crc32),
    Crc32c(s3s::crypto::Crc32c),
    Crc64Nvme(s3s::crypto::Crc64Nvme),
    Sha1(s3s::crypto::Sha1),
    Sha256(s3s::crypto::Sha256),
}

impl Hasher {
    fn new(algo: ChecksumAlgo) -> Hasher {
        match algo {
            ChecksumAlgo::Crc32 => Hasher::Crc32(s3s::crypto::Crc32::new()),
            ChecksumAlgo::Crc32c => Hasher::Crc32c(s3s::crypto::Crc32c::new()),
            ChecksumAlgo::Crc64Nvme => Hasher::Crc64Nvme(s3s::crypto::Crc64Nvme::new()),
            ChecksumAlgo::Sha1 => Hasher::Sha1(s3s::crypto::Sha1::new()),
            ChecksumAlgo::Sha256 => Hasher::Sha256(s3s::crypto::Sha256::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Crc32(h) => h.update(data),
            Hasher::Crc32c(h) => h.update(data),
            Hasher::Crc64Nvme(h) => h.update(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
        }
    }

    fn finalize_base64(self) -> String {
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        match self {
            Hasher::Crc32(h) => b64(h.finalize().as_ref()),
            Hasher::Crc32c(h) => b64(h.finalize().as_ref()),
            Hasher::Crc64Nvme(h) => b64(h.finalize().as_ref()),
            Hasher::Sha1(h) => b64(h.finalize().as_ref()),
            Hasher::Sha256(h) => b64(h.finalize().as_ref()),
        }
    }
}

/// MD5 plus at most one S3 checksum, fed with every byte of a body.
pub struct Digests {
    md5: md5::Md5,
    checksum: Option<(ChecksumAlgo, Hasher)>,
}

/// Final values of [`Digests`].
#[derive(Debug, Clone)]
pub struct DigestValues {
    pub md5: [u8; 16],
    /// (algorithm, base64 value)
    pub checksum: Option<(ChecksumAlgo, String)>,
}

impl Digests {
    pub fn new(checksum: Option<ChecksumAlgo>) -> Digests {
        Digests {
            md5: md5::Md5::new(),
            checksum: checksum.map(|a| (a, Hasher::new(a))),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        if let Some((_, h)) = &mut self.checksum {
            h.update(data);
        }
    }

    pub fn finish(self) -> DigestValues {
        let md5: [u8; 16] = self.md5.finalize().into();
        DigestValues {
            md5,
            checksum: self.checksum.map(|(a, h)| (a, h.finalize_base64())),
        }
    }
}
