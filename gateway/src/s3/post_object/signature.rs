//! The signature of a POST form: the HMAC of its base64 `policy` field, SigV4
//! (`x-amz-signature`, hex HMAC-SHA256 with the key derived from the secret, the date, the
//! region and the service of `x-amz-credential`) or SigV2 (`signature`, base64 HMAC-SHA1
//! with the secret). Signatures are checked by the HMAC's own constant-time comparison.

use base64::Engine as _;
use hmac::digest::KeyInit;
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
    let mut mac = keyed::<Hmac<sha2::Sha256>>(key);
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// An HMAC keyed with `key` (an HMAC accepts keys of any length: this cannot fail).
fn keyed<M: Mac + KeyInit>(key: &[u8]) -> M {
    <M as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
}

/// Whether `given` (hex, any case) is the SigV4 signature of `policy` by `secret` for `scope`.
pub fn v4_matches(secret: &str, scope: &Scope<'_>, policy: &str, given: &str) -> bool {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), scope.date.as_bytes());
    let k_region = hmac_sha256(&k_date, scope.region.as_bytes());
    let k_service = hmac_sha256(&k_region, scope.service.as_bytes());
    let k_signing = hmac_sha256(&k_service, b"aws4_request");
    let Ok(tag) = hex::decode(given) else {
        return false;
    };
    let mut mac = keyed::<Hmac<sha2::Sha256>>(&k_signing);
    mac.update(policy.as_bytes());
    mac.verify_slice(&tag).is_ok()
}

/// Whether `given` (base64) is the SigV2 signature of `policy` by `secret`.
pub fn v2_matches(secret: &str, policy: &str, given: &str) -> bool {
    let Ok(tag) = base64::engine::general_purpose::STANDARD.decode(given) else {
        return false;
    };
    let mut mac = keyed::<Hmac<sha1::Sha1>>(secret.as_bytes());
    mac.update(policy.as_bytes());
    mac.verify_slice(&tag).is_ok()
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
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let signature = "21496b44de44ccb73d545f1a995c68214c9cb0d41c45a17a5daeec0b1a6db047";
        assert!(v4_matches(secret, &scope, policy, signature));
        assert!(v4_matches(
            secret,
            &scope,
            policy,
            &signature.to_ascii_uppercase()
        ));
        let altered = signature.replace("21496b44", "21496b45");
        assert!(!v4_matches(secret, &scope, policy, &altered));
        assert!(!v4_matches(secret, &scope, policy, &signature[2..]));
        assert!(!v4_matches(secret, &scope, policy, "not hex"));
        assert!(!v4_matches("other", &scope, policy, signature));
        // The document is a policy this module reads.
        let p = super::super::policy::Policy::parse(policy).unwrap();
        assert_eq!(p.conditions.len(), 10);
    }

    #[test]
    fn v2_signature() {
        // python3: base64.b64encode(hmac.new(b"secret", b"cG9saWN5", hashlib.sha1).digest())
        assert!(v2_matches(
            "secret",
            "cG9saWN5",
            "xjcOd3+I0tu58AF8jUmwdfvwgBU="
        ));
        assert!(!v2_matches(
            "secret",
            "cG9saWN5",
            "xjcOd3+I0tu58AF8jUmwdfvwgBV="
        ));
        assert!(!v2_matches(
            "secret",
            "cG9saWN5",
            "xjcOd3+I0tu58AF8jUmwdfvwgB"
        ));
        assert!(!v2_matches(
            "secret",
            "cG9saWN6",
            "xjcOd3+I0tu58AF8jUmwdfvwgBU="
        ));
    }

    #[test]
    fn bad_scopes() {
        for bad in [
            "AK/20130806/us-east-1/s3",
            "AK/2013086/us-east-1/s3/aws4_request",
            "/20130806/us-east-1/s3/aws4_request",
            "AK/20130806/us-east-1/s3/aws5_request",
        ] {
            assert!(Scope::parse(bad).is_err(), "{bad}");
        }
    }
}
