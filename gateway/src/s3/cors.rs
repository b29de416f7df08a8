//! Bucket CORS: Put/Get/DeleteBucketCors keep the rules as the bucket's typed `cors` setting
//! (through the generic path of `settings`); [`preflight`] answers OPTIONS requests from its
//! rules and [`decorate`] adds the `Access-Control-*` headers to actual requests that carry an
//! `Origin`. s3s routes no OPTIONS and cannot add headers to error answers, so `crate::server`
//! calls both around s3s.

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use meta_api::client::MetaClient;
use meta_api::settings::{ContainerProps, Cors, CorsRule, SettingChange};
use s3s::dto::*;
use s3s::{S3Error, S3Result, s3_error};

use super::access::Access;
use super::settings::{BucketSetting, FromInput, ToOutput};
use super::vhost::DomainHost;

/// At most this many rules (AWS's limit).
const MAX_RULES: usize = 100;
const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];

/// Checks a configuration as AWS does: 400 `InvalidRequest` for an unsupported method or an
/// origin with more than one `*`, `MalformedXML` for no rule or too many.
fn validate(config: &CORSConfiguration) -> S3Result<()> {
    if config.cors_rules.is_empty() || config.cors_rules.len() > MAX_RULES {
        return Err(s3_error!(
            MalformedXML,
            "A CORS configuration must have between 1 and 100 rules"
        ));
    }
    for rule in &config.cors_rules {
        if rule.allowed_methods.is_empty() || rule.allowed_origins.is_empty() {
            return Err(s3_error!(
                MalformedXML,
                "Each CORS rule needs an AllowedMethod and an AllowedOrigin"
            ));
        }
        for m in &rule.allowed_methods {
            if !METHODS.contains(&m.as_str()) {
                return Err(s3_error!(
                    InvalidRequest,
                    "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
                ));
            }
        }
        for o in &rule.allowed_origins {
            if o.matches('*').count() > 1 {
                return Err(s3_error!(
                    InvalidRequest,
                    "AllowedOrigin \"{o}\" can not have more than one wildcard."
                ));
            }
        }
        for h in rule.allowed_headers.iter().flatten() {
            if h.matches('*').count() > 1 {
                return Err(s3_error!(
                    InvalidRequest,
                    "AllowedHeader \"{h}\" can not have more than one wildcard."
                ));
            }
        }
    }
    Ok(())
}

/// The bucket sub-resource `?cors`.
pub struct BucketCors;

impl BucketSetting for BucketCors {
    type Value = Cors;

    fn read(props: &ContainerProps) -> Option<&Cors> {
        props.cors.as_ref()
    }

    fn change(value: Option<Cors>) -> SettingChange {
        SettingChange::Cors(value)
    }

    fn missing() -> S3Error {
        s3_error!(
            NoSuchCORSConfiguration,
            "The CORS configuration does not exist"
        )
    }
}

impl FromInput<PutBucketCorsInput> for BucketCors {
    fn from_input(_: &Access, input: PutBucketCorsInput) -> S3Result<Cors> {
        let config = input.cors_configuration;
        validate(&config)?;
        Ok(typed(config))
    }
}

impl ToOutput<GetBucketCorsOutput> for BucketCors {
    fn to_output(_: &Access, cors: &Cors) -> S3Result<GetBucketCorsOutput> {
        Ok(GetBucketCorsOutput {
            cors_rules: Some(cors.rules.iter().map(dto).collect()),
        })
    }
}

fn typed(config: CORSConfiguration) -> Cors {
    Cors {
        rules: config
            .cors_rules
            .into_iter()
            .map(|r| CorsRule {
                id: r.id,
                allowed_methods: r
                    .allowed_methods
                    .into_iter()
                    .map(|m| m.to_string())
                    .collect(),
                allowed_origins: r.allowed_origins,
                allowed_headers: r.allowed_headers.unwrap_or_default(),
                expose_headers: r.expose_headers.unwrap_or_default(),
                max_age_seconds: r.max_age_seconds,
            })
            .collect(),
    }
}

fn dto(r: &CorsRule) -> CORSRule {
    let some = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    CORSRule {
        id: r.id.clone(),
        allowed_methods: r.allowed_methods.clone(),
        allowed_origins: r.allowed_origins.clone(),
        allowed_headers: some(&r.allowed_headers),
        expose_headers: some(&r.expose_headers),
        max_age_seconds: r.max_age_seconds,
    }
}

/// `pattern` with at most one `*` standing for any run of characters, against `value`.
fn wildcard(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let (p, v) = if ignore_case {
        (pattern.to_ascii_lowercase(), value.to_ascii_lowercase())
    } else {
        (pattern.to_string(), value.to_string())
    };
    match p.split_once('*') {
        None => p == v,
        Some((head, tail)) => {
            v.len() >= head.len() + tail.len() && v.starts_with(head) && v.ends_with(tail)
        }
    }
}

/// What a CORS request asks: its origin, method and (preflight) headers, for one bucket.
#[derive(Debug)]
pub struct CorsAsk {
    bucket: String,
    origin: String,
    method: String,
    headers: Vec<String>,
}

impl CorsAsk {
    /// The CORS question of a request with an `Origin` header (none otherwise), for the
    /// bucket its host names (virtual-hosted-style, with `vhost`) or its path's first segment.
    /// The method is `Access-Control-Request-Method` when given, else the request's own.
    pub fn of<B>(req: &http::Request<B>, vhost: Option<&DomainHost>) -> Option<CorsAsk> {
        let origin = req.headers().get(http::header::ORIGIN)?.to_str().ok()?;
        let bucket = super::vhost::addressed(req, vhost).bucket;
        let method = match req
            .headers()
            .get(http::header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            Some(m) => m.to_str().ok()?.to_string(),
            None => req.method().as_str().to_string(),
        };
        let headers = req
            .headers()
            .get_all(http::header::ACCESS_CONTROL_REQUEST_HEADERS)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        (!bucket.is_empty()).then(|| CorsAsk {
            bucket: bucket.to_string(),
            origin: origin.to_string(),
            method,
            headers,
        })
    }

    /// The first rule allowing this origin, method and every requested header.
    fn matching<'a>(&self, cors: &'a Cors) -> Option<&'a CorsRule> {
        cors.rules.iter().find(|rule| {
            rule.allowed_origins
                .iter()
                .any(|o| wildcard(o, &self.origin, false))
                && rule.allowed_methods.contains(&self.method)
                && self
                    .headers
                    .iter()
                    .all(|h| rule.allowed_headers.iter().any(|a| wildcard(a, h, true)))
        })
    }

    /// The `Access-Control-*` headers answering this request under `rule`.
    fn headers_for(&self, rule: &CorsRule, preflight: bool, out: &mut HeaderMap) {
        let any_origin = rule.allowed_origins.iter().any(|o| o == "*");
        let origin = if any_origin {
            "*"
        } else {
            self.origin.as_str()
        };
        let mut put = |name: &'static str, value: &str| {
            if let Ok(v) = HeaderValue::from_str(value) {
                out.insert(name, v);
            }
        };
        put("access-control-allow-origin", origin);
        put(
            "access-control-allow-methods",
            &rule.allowed_methods.join(", "),
        );
        if !any_origin {
            put("vary", "Origin");
            put("access-control-allow-credentials", "true");
        }
        if !rule.expose_headers.is_empty() {
            put(
                "access-control-expose-headers",
                &rule.expose_headers.join(", "),
            );
        }
        if preflight {
            if !self.headers.is_empty() {
                put("access-control-allow-headers", &self.headers.join(", "));
            }
            if let Some(age) = rule.max_age_seconds {
                put("access-control-max-age", &age.to_string());
            }
        }
    }
}

/// The bucket's CORS configuration, if it has one and the bucket exists.
async fn config_of(meta: &MetaClient, bucket: &str) -> Option<Cors> {
    let container = meta.get_container_cached(bucket).await.ok()?;
    container.settings.props.cors
}

fn error_response(status: StatusCode, code: &str, message: &str) -> http::Response<s3s::Body> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    let mut resp = http::Response::new(s3s::Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    resp
}

/// Answers an OPTIONS (preflight) request from the bucket's rules: 400 without `Origin` or
/// `Access-Control-Request-Method`, 403 when no rule allows it, 200 with the headers otherwise.
pub async fn preflight<B>(
    meta: &MetaClient,
    req: &http::Request<B>,
    vhost: Option<&DomainHost>,
) -> http::Response<s3s::Body> {
    let ask = match CorsAsk::of(req, vhost) {
        Some(a)
            if req
                .headers()
                .contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD) =>
        {
            a
        }
        _ => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Insufficient information. Origin request header needed.",
            );
        }
    };
    let config = config_of(meta, &ask.bucket).await;
    match config.as_ref().and_then(|c| ask.matching(c)) {
        Some(rule) => {
            let mut resp = http::Response::new(s3s::Body::empty());
            ask.headers_for(rule, true, resp.headers_mut());
            resp
        }
        None => error_response(
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Requesty-Headers are not whitelisted by the resource's CORS spec.",
        ),
    }
}

/// Adds the `Access-Control-*` headers to the answer of an actual request with an `Origin`
/// when a rule of the bucket allows it.
pub async fn decorate(meta: &MetaClient, ask: &CorsAsk, headers: &mut HeaderMap) {
    if let Some(config) = config_of(meta, &ask.bucket).await
        && let Some(rule) = ask.matching(&config)
    {
        ask.headers_for(rule, false, headers);
    }
}

/// Whether a request is a CORS preflight to answer here rather than through s3s.
pub fn is_preflight<B>(req: &http::Request<B>) -> bool {
    req.method() == Method::OPTIONS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard("*suffix", "foo.suffix", false));
        assert!(!wildcard("*suffix", "foo.suffix.get", false));
        assert!(wildcard("start*end", "startend", false));
        assert!(wildcard("start*end", "start12end", false));
        assert!(!wildcard("start*end", "0start12end", false));
        assert!(wildcard("prefix*", "prefix", false));
        assert!(!wildcard("prefix*", "bla.prefix", false));
        assert!(wildcard("*", "anything", false));
        assert!(wildcard("x-amz-*", "X-Amz-Date", true));
        assert!(!wildcard("a*a", "a", false));
    }

    #[test]
    fn config_round_trips_through_the_typed_setting() {
        let config = CORSConfiguration {
            cors_rules: vec![CORSRule {
                allowed_methods: vec!["GET".to_string(), "PUT".to_string()],
                allowed_origins: vec!["*.get".to_string()],
                expose_headers: Some(vec!["x-amz-meta-a".to_string()]),
                max_age_seconds: Some(30),
                ..Default::default()
            }],
        };
        validate(&config).unwrap();
        let cors = typed(config.clone());
        let back: Vec<CORSRule> = cors.rules.iter().map(dto).collect();
        assert_eq!(back.len(), 1);
        assert_eq!(
            back[0].allowed_methods,
            config.cors_rules[0].allowed_methods
        );
        assert_eq!(back[0].expose_headers, config.cors_rules[0].expose_headers);
        assert_eq!(back[0].allowed_headers, None);
        assert_eq!(back[0].max_age_seconds, Some(30));
        let mut bad = config.clone();
        bad.cors_rules[0].allowed_methods.push("PATCH".to_string());
        assert!(validate(&bad).is_err());
    }
}
