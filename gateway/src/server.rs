//! Gateway process: binds the S3 listener and serves every connection with the s3s service
//! (browser form uploads excepted: `s3::post_object` streams them in front of s3s), each
//! request in a tracing span carrying its request id (also returned as x-amz-request-id);
//! with `swift_listen` set, it also binds the Swift listener (`crate::swift`) over the same
//! object service. With `tls_cert_file` and `tls_key_file` set, both listeners speak TLS
//! (`crate::tls`), the certificate reloaded on SIGHUP.

use std::sync::Arc;

use s3s::config::{S3Config, StaticConfigProvider};
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;

use crate::listener::Exchange;
use crate::objects::ObjectService;
use crate::observe::Observer;
use crate::s3::post_object::{self, Target};
use crate::s3::{
    BodyLimits, CredentialCache, MetaAuth, OperationAccess, SpreadS3, UnknownBodyLength, cors,
    fixups, vhost,
};
use crate::{Config, Error, Result};

/// Runs the gateway until the process is stopped.
pub async fn run(config: Config) -> Result<()> {
    // The edge keys and deadlines may come from the environment (`SPREAD_GATEWAY_*`); validates too.
    let config = config.with_env()?;
    let listener = TcpListener::bind(config.s3_listen)
        .await
        .map_err(|e| Error::Config(format!("cannot listen on {}: {e}", config.s3_listen)))?;
    let swift = match config.swift_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?,
        ),
        None => None,
    };
    let admin = TcpListener::bind(config.admin_addr).await.map_err(|e| {
        Error::Config(format!(
            "cannot listen on {} (admin_addr): {e}",
            config.admin_addr
        ))
    })?;
    // TLS on the S3 and Swift listeners (both or neither), its certificate reloaded on SIGHUP.
    let tls = crate::tls::Tls::from_config(&config)?;
    crate::tls::reload_on_sighup(tls.clone());
    let observer = Arc::new(Observer::new(&config)?);
    let svc = ObjectService::new(config.clone())?;
    // Runs for the life of the process.
    let _rebuild = crate::objects::rebuild::spawn(svc.clone());
    {
        let (observer, meta) = (observer.clone(), svc.meta().clone());
        let timeout = crate::admin::ready_timeout(&config);
        let console = crate::console::Console::new(&config);
        tokio::spawn(async move {
            if let Err(e) = crate::admin::serve(admin, observer, meta, timeout, console).await {
                tracing::error!(error = %e, "admin listener stopped");
            }
        });
    }
    if let Some(listener) = swift {
        let (config, svc, observer, tls) =
            (config.clone(), svc.clone(), observer.clone(), tls.clone());
        tokio::spawn(async move {
            if let Err(e) = crate::swift::serve(listener, config, svc, observer, tls).await {
                tracing::error!(error = %e, "Swift listener stopped");
            }
        });
    }
    serve_with(listener, config, svc, observer, tls).await
}

/// Serves S3 on an already bound listener (used by `run` and by tests).
pub async fn serve(listener: TcpListener, config: Config) -> Result<()> {
    let observer = Arc::new(Observer::new(&config)?);
    let svc = ObjectService::new(config.clone())?;
    serve_with(listener, config, svc, observer, None).await
}

/// Serves S3 on a bound listener with an existing object service (over `tls` if set).
async fn serve_with(
    listener: TcpListener,
    config: Config,
    svc: ObjectService,
    observer: Arc<Observer>,
    tls: Option<crate::tls::Tls>,
) -> Result<()> {
    let creds = Arc::new(CredentialCache::new(
        svc.meta().clone(),
        config.credential_cache_secs,
    ));
    let meta = svc.meta().clone();
    let spread = SpreadS3::new(svc, creds.clone());
    let mut builder = S3ServiceBuilder::new(spread.clone());
    builder.set_auth(MetaAuth(creds));
    let limits = BodyLimits {
        signed: config.xml_max_body_bytes,
        anonymous: config.anonymous_max_body_bytes,
    };
    builder.set_access(OperationAccess(spread.clone(), limits));
    let vhost = config.s3_domain.as_deref().map(vhost::DomainHost::new);
    if let Some(host) = &vhost {
        builder.set_host(host.clone());
    }
    builder.set_config(Arc::new(StaticConfigProvider::new(Arc::new(s3s_limits(
        &config,
    )))));
    let s3 = builder.build();
    let post_max = config.post_object_max_bytes;
    let (chunked_put_max, anonymous_max) = (
        config.chunked_put_max_bytes,
        config.anonymous_max_body_bytes,
    );
    let edge = crate::listener::Edge::of(&config).with_tls(tls);
    crate::listener::serve(listener, "s3", "", edge, observer, move |req, id| {
        let (s3, spread, meta, vhost) = (s3.clone(), spread.clone(), meta.clone(), vhost.clone());
        async move {
            let mut req = req;
            let asked = fixups::Asked::of(&req);
            let exchange = req.extensions().get::<Exchange>().cloned();
            // CORS is answered around s3s: preflights here, headers added to any answer.
            let mut resp = if cors::is_preflight(&req) {
                if let Some(x) = &exchange {
                    x.set_operation("CorsPreflight");
                }
                cors::preflight(&meta, &req, vhost.as_ref()).await
            } else {
                let ask = cors::CorsAsk::of(&req, vhost.as_ref());
                // Form uploads (POST object) are served in front of s3s, streamed.
                let mut resp = match fixups::before(&mut req) {
                    Ok(()) => match post_object::target(&req, vhost.as_ref()) {
                        Some(Target::Bucket { bucket, by_host }) => {
                            if let Some(x) = &exchange {
                                x.set_operation("PostObject");
                                x.set_target(Some(&bucket), None);
                            }
                            post_object::handle(&spread, req, &bucket, by_host, post_max).await
                        }
                        Some(Target::Object) => post_object::method_not_allowed(),
                        None if http_body::Body::size_hint(req.body()).exact().is_none()
                            && fixups::put_of_unknown_length(&req) =>
                        {
                            match fixups::with_length(req, chunked_put_max, anonymous_max).await {
                                Ok(req) => s3.call(req).await?,
                                Err(refused) => fixups::refusal(refused),
                            }
                        }
                        None => {
                            if http_body::Body::size_hint(req.body()).exact().is_none() {
                                req.extensions_mut().insert(UnknownBodyLength);
                            }
                            s3.call(req.map(s3s::Body::http_body)).await?
                        }
                    },
                    Err(refused) => fixups::refusal(refused),
                };
                if let Some(ask) = ask {
                    cors::decorate(&meta, &ask, resp.headers_mut()).await;
                }
                resp
            };
            // s3s's own events are silenced (see `log_silenced`): server errors are logged
            // here, by status only — never a body.
            let code = error_code(&resp);
            if resp.status().is_server_error() {
                tracing::warn!(status = %resp.status(), code, "answered with a server error");
            } else if resp.status().is_client_error() {
                tracing::debug!(status = %resp.status(), code, "refused");
            } else {
                tracing::debug!(status = %resp.status(), "done");
            }
            fixups::after(&mut resp, &id, asked);
            Ok::<_, s3s::HttpError>(resp)
        }
    })
    .await?;
    Ok(())
}

/// Whether events of log target `target` must never be written, whatever `RUST_LOG` says
/// (the process's subscriber filters them out). Those of s3s: it logs request bodies it
/// cannot parse (`s3s::http::de`), whole requests with their `Authorization` header and
/// answers with their bodies (`s3s::service`), and every client error at ERROR level
/// (`s3s::ops`). The gateway logs what it needs itself, without bodies.
pub fn log_silenced(target: &str) -> bool {
    target == "s3s" || target.starts_with("s3s::")
}

/// What s3s may read into memory: XML (and policy) bodies up to `xml_max_body_bytes` (the
/// access hook refuses larger ones before s3s reads them, and smaller ones of unsigned
/// requests past `anonymous_max_body_bytes`), and the fields of browser-form uploads within
/// the limits of the gateway's own form reader (s3s only sees forms the gateway does not
/// serve, which it refuses).
fn s3s_limits(config: &Config) -> S3Config {
    let mut limits = S3Config::default();
    limits.xml_max_body_size = usize::try_from(config.xml_max_body_bytes).unwrap_or(usize::MAX);
    limits.form_max_field_size = post_object::form::MAX_FIELD_BYTES;
    limits.form_max_fields_size = post_object::form::MAX_FIELDS_BYTES;
    limits.form_max_parts = 64;
    limits.post_object_max_file_size = config.post_object_max_bytes;
    limits
}

/// The S3 error code (`<Code>`) of an error answer held in memory, for the log ("" if none).
fn error_code(resp: &http::Response<s3s::Body>) -> String {
    let Some(body) = resp.body().bytes() else {
        return String::new();
    };
    let head = &body[..body.len().min(512)];
    let text = String::from_utf8_lossy(head);
    text.split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.chars().filter(char::is_ascii_alphanumeric).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_s3s_target_is_silenced_and_only_those() {
        for t in [
            "s3s",
            "s3s::http::de",
            "s3s::service",
            "s3s::ops::generated",
        ] {
            assert!(super::log_silenced(t), "{t}");
        }
        for t in [
            "gateway::server",
            "gateway::listener",
            "s3s_other",
            "spread",
        ] {
            assert!(!super::log_silenced(t), "{t}");
        }
    }
}
