//! The checksum of a multipart upload. CreateMultipartUpload names an algorithm and a type:
//! COMPOSITE (CRC32, CRC32C, SHA-1, SHA-256; the default but for CRC64NVME) is the checksum of
//! the concatenated part checksums, written `…-N` for N parts; FULL_OBJECT (CRC32, CRC32C,
//! CRC64NVME) is the CRC of the whole object, combined from the part CRCs and sizes without
//! reading the data again. Each part's checksum is computed as it is uploaded.

use base64::Engine as _;
use meta_api::wire::UploadRecord;
use s3s::dto::{ChecksumAlgorithm, ChecksumType};
use s3s::{S3Result, s3_error};

use crate::objects::{ChecksumAlgo, checksum_base64};

/// Separates the algorithm from the type in [`UploadRecord::checksum_algorithm`]
/// (`CRC32`, `CRC32 FULL_OBJECT`): records written before types existed stay readable.
const TYPE_SEPARATOR: char = ' ';

/// The checksum an upload asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadChecksum {
    pub algo: ChecksumAlgo,
    pub full_object: bool,
}

impl UploadChecksum {
    /// The checksum CreateMultipartUpload asks for, checked: an unknown algorithm, a type
    /// without an algorithm or a combination S3 does not have is 400 `InvalidRequest`.
    pub fn requested(
        algo: Option<&ChecksumAlgorithm>,
        kind: Option<&ChecksumType>,
    ) -> S3Result<Option<UploadChecksum>> {
        let Some(algo) = algo else {
            if kind.is_some() {
                return Err(s3_error!(
                    InvalidRequest,
                    "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."
                ));
            }
            return Ok(None);
        };
        let algo = ChecksumAlgo::parse(algo.as_str()).ok_or_else(|| {
            s3_error!(
                InvalidRequest,
                "Checksum algorithm provided is unsupported."
            )
        })?;
        let full_object = match kind.map(|k| k.as_str()) {
            None => algo == ChecksumAlgo::Crc64Nvme,
            Some(ChecksumType::FULL_OBJECT) => true,
            Some(ChecksumType::COMPOSITE) => false,
            Some(other) => {
                return Err(s3_error!(InvalidRequest, "Invalid checksum type: {other}"));
            }
        };
        let crc = matches!(
            algo,
            ChecksumAlgo::Crc32 | ChecksumAlgo::Crc32c | ChecksumAlgo::Crc64Nvme
        );
        if full_object != crc && (full_object || algo == ChecksumAlgo::Crc64Nvme) {
            return Err(s3_error!(
                InvalidRequest,
                "The {} checksum type cannot be used with the {} checksum algorithm.",
                if full_object {
                    "FULL_OBJECT"
                } else {
                    "COMPOSITE"
                },
                algo.name().to_ascii_uppercase()
            ));
        }
        Ok(Some(UploadChecksum { algo, full_object }))
    }

    /// The value kept in the upload record.
    pub fn to_record(self) -> String {
        let name = self.algo.name().to_ascii_uppercase();
        if self.full_object {
            format!("{name}{TYPE_SEPARATOR}{}", ChecksumType::FULL_OBJECT)
        } else {
            name
        }
    }

    /// The checksum of an upload record.
    pub fn of(upload: &UploadRecord) -> Option<UploadChecksum> {
        let value = upload.checksum_algorithm.as_deref()?;
        let (name, kind) = value.split_once(TYPE_SEPARATOR).unwrap_or((value, ""));
        let algo = ChecksumAlgo::parse(name)?;
        let full_object = kind == ChecksumType::FULL_OBJECT
            || (kind.is_empty() && algo == ChecksumAlgo::Crc64Nvme);
        Some(UploadChecksum { algo, full_object })
    }

    pub fn algorithm(self) -> ChecksumAlgorithm {
        ChecksumAlgorithm::from(self.algo.name().to_ascii_uppercase())
    }

    pub fn checksum_type(self) -> ChecksumType {
        ChecksumType::from_static(if self.full_object {
            ChecksumType::FULL_OBJECT
        } else {
            ChecksumType::COMPOSITE
        })
    }

    /// The object's checksum from its parts' (base64 checksum, size), in order.
    pub fn combine(self, parts: &[(&str, u64)]) -> S3Result<String> {
        let mut raw = Vec::with_capacity(parts.len());
        for (value, _) in parts {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(value)
                .map_err(|_| s3_error!(InvalidPart, "A part has an invalid checksum"))?;
            raw.push(bytes);
        }
        if !self.full_object {
            let value = checksum_base64(self.algo, &raw.concat());
            return Ok(format!("{value}-{}", parts.len()));
        }
        let alg = match self.algo {
            ChecksumAlgo::Crc32 => crc_fast::CrcAlgorithm::Crc32IsoHdlc,
            ChecksumAlgo::Crc32c => crc_fast::CrcAlgorithm::Crc32Iscsi,
            ChecksumAlgo::Crc64Nvme => crc_fast::CrcAlgorithm::Crc64Nvme,
            ChecksumAlgo::Sha1 | ChecksumAlgo::Sha256 => {
                return Err(s3_error!(InternalError, "no full-object SHA checksum"));
            }
        };
        let width = if self.algo == ChecksumAlgo::Crc64Nvme {
            8
        } else {
            4
        };
        let mut acc: Option<u64> = None;
        for (bytes, (_, size)) in raw.iter().zip(parts) {
            if bytes.len() != width {
                return Err(s3_error!(InvalidPart, "A part has an invalid checksum"));
            }
            let crc = bytes.iter().fold(0u64, |v, b| (v << 8) | u64::from(*b));
            acc = Some(match acc {
                None => crc,
                Some(prev) => crc_fast::checksum_combine(alg, prev, crc, *size),
            });
        }
        let crc = acc.unwrap_or(0);
        let be = crc.to_be_bytes();
        Ok(base64::engine::general_purpose::STANDARD.encode(&be[8 - width..]))
    }
}

/// The type of a stored object checksum: composite values end in `-N`.
pub fn type_of(value: &str) -> ChecksumType {
    let composite = value
        .rsplit_once('-')
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    ChecksumType::from_static(if composite {
        ChecksumType::COMPOSITE
    } else {
        ChecksumType::FULL_OBJECT
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(b: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    fn crc(algo: ChecksumAlgo, data: &[u8]) -> String {
        checksum_base64(algo, data)
    }

    #[test]
    fn full_object_crcs_combine_to_the_crc_of_the_whole() {
        let a = vec![7u8; 5000];
        let b = b"the second part".to_vec();
        let c = vec![1u8; 3];
        let whole = [a.clone(), b.clone(), c.clone()].concat();
        for algo in [
            ChecksumAlgo::Crc32,
            ChecksumAlgo::Crc32c,
            ChecksumAlgo::Crc64Nvme,
        ] {
            let sums = [crc(algo, &a), crc(algo, &b), crc(algo, &c)];
            let parts = [
                (sums[0].as_str(), a.len() as u64),
                (sums[1].as_str(), b.len() as u64),
                (sums[2].as_str(), c.len() as u64),
            ];
            let u = UploadChecksum {
                algo,
                full_object: true,
            };
            assert_eq!(u.combine(&parts).unwrap(), crc(algo, &whole), "{algo:?}");
        }
    }

    #[test]
    fn composite_is_the_checksum_of_the_part_checksums() {
        let p1 = crc(ChecksumAlgo::Sha256, b"one");
        let p2 = crc(ChecksumAlgo::Sha256, b"two");
        let u = UploadChecksum {
            algo: ChecksumAlgo::Sha256,
            full_object: false,
        };
        let raw = [
            base64::engine::general_purpose::STANDARD
                .decode(&p1)
                .unwrap(),
            base64::engine::general_purpose::STANDARD
                .decode(&p2)
                .unwrap(),
        ]
        .concat();
        let want = format!("{}-2", b64(&sha2_of(&raw)));
        assert_eq!(u.combine(&[(&p1, 3), (&p2, 3)]).unwrap(), want);
        assert_eq!(type_of(&want).as_str(), ChecksumType::COMPOSITE);
        assert_eq!(type_of("AAAAAA==").as_str(), ChecksumType::FULL_OBJECT);
    }

    fn sha2_of(data: &[u8]) -> Vec<u8> {
        use sha2::Digest as _;
        sha2::Sha256::digest(data).to_vec()
    }

    #[test]
    fn requests_are_checked_and_recorded() {
        let algo = |s: &str| ChecksumAlgorithm::from(s.to_string());
        let kind = |s: &str| ChecksumType::from(s.to_string());
        let crc64 = UploadChecksum::requested(Some(&algo("CRC64NVME")), None)
            .unwrap()
            .unwrap();
        assert!(crc64.full_object);
        let sha = UploadChecksum::requested(Some(&algo("SHA256")), None)
            .unwrap()
            .unwrap();
        assert!(!sha.full_object);
        assert!(
            UploadChecksum::requested(Some(&algo("SHA1")), Some(&kind("FULL_OBJECT"))).is_err()
        );
        assert!(
            UploadChecksum::requested(Some(&algo("CRC64NVME")), Some(&kind("COMPOSITE"))).is_err()
        );
        assert!(UploadChecksum::requested(None, Some(&kind("COMPOSITE"))).is_err());
        assert!(UploadChecksum::requested(Some(&algo("MD5")), None).is_err());
        let full32 = UploadChecksum::requested(Some(&algo("CRC32")), Some(&kind("FULL_OBJECT")))
            .unwrap()
            .unwrap();
        let mut rec = UploadRecord {
            upload_id: "u".into(),
            key: "k".into(),
            initiated_ms: 0,
            content_type: None,
            headers: Default::default(),
            user_meta: Default::default(),
            policy: "default".into(),
            checksum_algorithm: Some(full32.to_record()),
            props: Default::default(),
            encryption: None,
        };
        assert_eq!(UploadChecksum::of(&rec), Some(full32));
        rec.checksum_algorithm = Some("CRC32".into());
        assert_eq!(
            UploadChecksum::of(&rec),
            Some(UploadChecksum {
                algo: ChecksumAlgo::Crc32,
                full_object: false
            })
        );
    }
}
