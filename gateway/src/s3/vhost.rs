//! Virtual-hosted-style addressing: with a configured domain (`s3_domain`), a request for
//! `bucket.DOMAIN[:port]` addresses `bucket`, while `DOMAIN` itself and every other host
//! (IP addresses, `localhost`, other names) stay path-style. s3s's own `SingleDomain` reads
//! any unknown host as a bucket name (CNAME style) and compares hosts with their port, which
//! would break path-style clients that connect by another name.

use s3s::S3Result;
use s3s::host::{S3Host, VirtualHost};

/// The [`S3Host`] of a gateway with an `s3_domain`.
#[derive(Debug, Clone)]
pub struct DomainHost {
    /// Lower-case, without a port.
    domain: String,
}

impl DomainHost {
    /// `domain` must pass [`check_domain`].
    pub fn new(domain: &str) -> DomainHost {
        DomainHost {
            domain: domain.to_ascii_lowercase(),
        }
    }

    /// The bucket `host` names, if it is a subdomain of the configured domain.
    pub fn bucket_of<'a>(&self, host: &'a str) -> Option<&'a str> {
        let name = strip_port(host);
        let bucket = name.get(..name.len().checked_sub(self.domain.len() + 1)?)?;
        let rest = &name[bucket.len()..];
        let matches = rest.starts_with('.') && rest[1..].eq_ignore_ascii_case(&self.domain);
        (matches && !bucket.is_empty()).then_some(bucket)
    }
}

impl S3Host for DomainHost {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        Ok(match self.bucket_of(host) {
            Some(bucket) => VirtualHost::new(self.domain.as_str()).with_bucket(bucket),
            None => VirtualHost::new(strip_port(host)),
        })
    }
}

/// What a request's host and path address, before s3s reads them (CORS and form uploads are
/// answered in front of it): the bucket, and the rest of the path (the key, still
/// percent-encoded; empty for the bucket itself).
#[derive(Debug, PartialEq)]
pub struct Addressed<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    /// The bucket came from the host (`bucket.DOMAIN`), not the path.
    pub by_host: bool,
}

/// The bucket and key of `req`: virtual-hosted-style when its host (the Host header, else
/// the URI's authority) is a subdomain of `domain`, else path-style.
pub fn addressed<'a, B>(req: &'a http::Request<B>, domain: Option<&DomainHost>) -> Addressed<'a> {
    let path = req.uri().path().trim_start_matches('/');
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    if let (Some(domain), Some(host)) = (domain, host)
        && let Some(bucket) = domain.bucket_of(host)
    {
        return Addressed {
            bucket,
            key: path,
            by_host: true,
        };
    }
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    Addressed {
        bucket,
        key,
        by_host: false,
    }
}

/// `host` without its `:port` (IPv6 literals keep their brackets).
fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    }
}

/// Whether `domain` can be an `s3_domain`: dot-separated labels of letters, digits and `-`,
/// no port.
pub fn check_domain(domain: &str) -> Result<(), String> {
    let ok = !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "s3_domain must be a DNS name without a port (like s3.example.com), got {domain:?}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomains_name_buckets() {
        let h = DomainHost::new("s3.example.local");
        assert_eq!(h.bucket_of("bucket.s3.example.local"), Some("bucket"));
        assert_eq!(h.bucket_of("bucket.s3.example.local:9000"), Some("bucket"));
        assert_eq!(h.bucket_of("a.b.S3.Example.Local:1"), Some("a.b"));
        assert_eq!(h.bucket_of("s3.example.local:9000"), None);
        assert_eq!(h.bucket_of(".s3.example.local"), None);
        assert_eq!(h.bucket_of("buckets3.example.local"), None);
        assert_eq!(h.bucket_of("localhost:9000"), None);
        assert_eq!(h.bucket_of("local"), None);
    }

    #[test]
    fn other_hosts_stay_path_style() {
        let h = DomainHost::new("s3.example.local");
        for host in [
            "localhost:9000",
            "s3.example.local",
            "other.example",
            "[::1]:80",
        ] {
            let vh = h.parse_host_header(host).unwrap();
            assert_eq!(vh.bucket(), None, "{host}");
        }
        let vh = h.parse_host_header("b1.s3.example.local:80").unwrap();
        assert_eq!(vh.bucket(), Some("b1"));
    }

    #[test]
    fn domains_are_checked() {
        assert!(check_domain("s3.example.local").is_ok());
        assert!(check_domain("localhost").is_ok());
        for bad in ["", "s3.example.local:9000", "a..b", "-a.b", "a_b.c", "a.b."] {
            assert!(check_domain(bad).is_err(), "{bad}");
        }
    }
}
