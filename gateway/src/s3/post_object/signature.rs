//! The signature of a POST form: the HMAC of its base64 `policy` field, SigV4
//! (`x-amz-signature`, hex HMAC-SHA256 with the key derived from the secret, the date, the
//! region and the service of `x-amz-credential`) or SigV2 (`signature`, base64 HMAC-SHA1
//! with the secret). Signatures are compared in constant time.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use s3s::{S3Result, s3_error};

/// The credential scope of a SigV4 form: `AK/YYYYMMDD/region/service/aws4_request`.
#[derive(Debug, PartialEq)]
pub struct Scope<'a> {
    pub access_key: &'a str,
    pub date: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

impl<'a> Scope<'a> {
    pub fn parse(credential: &'a str) -> S3Result<Scope<'a>> {
        // The access key may itself hold no '/', so split from the right.
        let mut parts = credential.rsplitn(5, '/');
        let (Some(terminal), Some(service), Some(region), Some(date), Some(access_key)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad_credential());
        };
        let date_ok = date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit());
        if terminal != "aws4_request" || !date_ok || access_key.is_empty() || region.is_empty() {
            return Err(bad_credential());
        }
        Ok(Scope {
            access_key,
            date,
            region,
            service,
        })
    }
}

fn bad_credential() -> s3s::S3Error {
    s3_error!(
        InvalidArgument,
        "Invalid argument: x-amz-credential must be ACCESS_KEY/YYYYMMDD/REGION/SERVICE/aws4_request"
    )
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    // An HMAC accepts keys of any length: new_from_slice cannot fail.
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The SigV4 signature (lower-case hex) of `policy` by `secret` for `scope`.
pub fn v4(secret: &str, scope: &Scope<'_>, policy: &str) -> String {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), scope.date.as_bytes());
    let k_region = hmac_sha256(&k_date, scope.region.as_bytes());
    let k_service = hmac_sha256(&k_region, scope.service.as_bytes());
    let k_signing = hmac_sha256(&k_service, b"aws4_request");
    hex::encode(hmac_sha256(&k_signing, policy.as_bytes()))
}

/// The SigV2 signature (base64) of `policy` by `secret`.
pub fn v2(secret: &str, policy: &str) -> String {
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(policy.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether two signatures are equal, in time independent of where they differ.
pub fn same(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the AWS documentation ("Example: Browser-Based Upload using HTTP POST
    /// (Using AWS Signature Version 4)").
    #[test]
    fn aws_documentation_example() {
        let policy = concat!(
            "eyAiZXhwaXJhdGlvbiI6ICIyMDEzLTA4LTA3VDEyOjAwOjAwLjAwMFoiLA0KI",
            "CAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJleGFtcGxlYnVja2V0In0sD",
            "QogICAgWyJzdGFydHMtd2l0aCIsICIka2V5IiwgInVzZXIvdXNlcjEvIl0sDQogICAge",
            "yJhY2wiOiAicHVibGljLXJlYWQifSwNCiAgICB7InN1Y2Nlc3NfYWN0aW9uX3JlZGlyZ",
            "WN0IjogImh0dHA6Ly9leGFtcGxlYnVja2V0LnMzLmFtYXpvbmF3cy5jb20vc3VjY2Vzc",
            "2Z1bF91cGxvYWQuaHRtbCJ9LA0KICAgIFsic3RhcnRzLXdpdGgiLCAiJENvbnRlbnQtV",
            "HlwZSIsICJpbWFnZS8iXSwNCiAgICB7IngtYW16LW1ldGEtdXVpZCI6ICIxNDM2NTEyM",
            "zY1MTI3NCJ9LA0KICAgIFsic3RhcnRzLXdpdGgiLCAiJHgtYW16LW1ldGEtdGFnIiwgI",
            "iJdLA0KDQogICAgeyJ4LWFtei1jcmVkZW50aWFsIjogIkFLSUFJT1NGT0ROTjdFWEFNU",
            "ExFLzIwMTMwODA2L3VzLWVhc3QtMS9zMy9hd3M0X3JlcXVlc3QifSwNCiAgICB7IngtY",
            "W16LWFsZ29yaXRobSI6ICJBV1M0LUhNQUMtU0hBMjU2In0sDQogICAgeyJ4LWFtei1kY",
            "XRlIjogIjIwMTMwODA2VDAwMDAwMFoiIH0NCiAgXQ0KfQ==",
        );
        let scope =
            Scope::parse("AKIAIOSFODNN7EXAMPLE/20130806/us-east-1/s3/aws4_request").unwrap();
        assert_eq!(scope.access_key, "AKIAIOSFODNN7EXAMPLE");
        assert_eq!(
            v4("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", &scope, policy),
            "21496b44de44ccb73d545f1a995c68214c9cb0d41c45a17a5daeec0b1a6db047"
        );
        // The document is a policy this module reads.
        let p = super::super::policy::Policy::parse(policy).unwrap();
        assert_eq!(p.conditions.len(), 10);
    }

    #[test]
    fn v2_signature() {
        // python3: base64.b64encode(hmac.new(b"secret", b"cG9saWN5", hashlib.sha1).digest())
        assert_eq!(v2("secret", "cG9saWN5"), "xjcOd3+I0tu58AF8jUmwdfvwgBU=");
    }

    #[test]
    fn scopes_and_comparison() {
        for bad in [
            "AK/20130806/us-east-1/s3",
            "AK/2013086/us-east-1/s3/aws4_request",
            "/20130806/us-east-1/s3/aws4_request",
            "AK/20130806/us-east-1/s3/aws5_request",
        ] {
            assert!(Scope::parse(bad).is_err(), "{bad}");
        }
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
