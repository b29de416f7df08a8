//! The HTTP/1.1 server of the meta service: `POST /v1/<operation>` with JSON bodies (see
//! [`crate::api`]), each request in its own `tracing` span with a request id, LMDB work on the
//! blocking pool, errors answered as [`crate::wire::ErrorBody`] with a matching status.

use crate::api::{self, route};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::wire::Heartbeat;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tracing::Instrument;

/// Largest request body accepted.
const MAX_BODY_BYTES: usize = 256 * 1024 * 1024;

/// Binds `config.listen` and serves forever.
pub async fn run(config: Config) -> Result<()> {
    run_until(config, std::future::pending()).await
}

/// Binds `config.listen` and serves until `shutdown` completes, then stops cleanly
/// ([`serve_with_shutdown`]).
pub async fn run_until(config: Config, shutdown: impl Future<Output = ()>) -> Result<()> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| Error::Io(format!("binding {}: {e}", config.listen)))?;
    serve_with_shutdown(listener, config, shutdown).await
}

/// Serves on an already bound listener, forever.
pub async fn serve(listener: TcpListener, config: Config) -> Result<()> {
    serve_with_shutdown(listener, config, std::future::pending()).await
}

/// Serves until `shutdown` completes, then closes every connection and the store before
/// returning (so the same data directory can be opened again at once).
pub async fn serve_with_shutdown(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let addr = listener.local_addr()?.to_string();
    let store = {
        let config = config.clone();
        let addr = addr.clone();
        tokio::task::spawn_blocking(move || Store::open(&config, &addr))
            .await
            .map_err(|e| Error::Internal(format!("opening the store: {e}")))??
    };
    let store = Arc::new(store);
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "meta serving");
    let expirer = crate::expirer::spawn(store.clone(), config.expirer_interval_secs);
    let lifecycle = crate::lifecycle::spawn(
        store.clone(),
        config.lifecycle_interval_secs,
        config.lifecycle_day_secs,
    );
    let ids = Arc::new(AtomicU64::new(1));
    let mut conns = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let store = store.clone();
                let ids = ids.clone();
                conns.spawn(async move {
                    let svc = service_fn(move |req| {
                        let store = store.clone();
                        let id = ids.fetch_add(1, Ordering::Relaxed);
                        handle(store, req, id)
                    });
                    if let Err(e) = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), svc)
                        .await
                    {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                });
            }
        }
    }
    for task in [expirer, lifecycle].into_iter().flatten() {
        task.abort();
        let _ = task.await;
    }
    conns.shutdown().await;
    drop(listener);
    // Wait for in-flight blocking work to release the store, then close it.
    for _ in 0..500 {
        if Arc::strong_count(&store) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(store);
    tracing::info!(%addr, "meta stopped");
    Ok(())
}

/// HTTP status of an error.
pub fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::NoSuchAccount(_)
        | Error::NoSuchCredential(_)
        | Error::NoSuchContainer(_)
        | Error::NoSuchObject(_)
        | Error::NoSuchUpload(_)
        | Error::NoSuchVersion(_)
        | Error::NoSuchService(_) => StatusCode::NOT_FOUND,
        Error::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
        Error::ObjectLocked(_) => StatusCode::FORBIDDEN,
        Error::AccountExists(_)
        | Error::CredentialExists(_)
        | Error::ContainerExists { .. }
        | Error::ContainerNotEmpty(_) => StatusCode::CONFLICT,
        Error::InvalidPart(_)
        | Error::InvalidPartOrder
        | Error::EntityTooSmall(_)
        | Error::InvalidArgument(_) => StatusCode::BAD_REQUEST,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Db(_) | Error::Io(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

fn error_response(status: StatusCode, e: &Error) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(&e.to_body()).unwrap_or_else(|_| b"{}".to_vec());
    json_response(status, body)
}

async fn handle(
    store: Arc<Store>,
    req: Request<Incoming>,
    id: u64,
) -> std::result::Result<Response<Full<Bytes>>, Infallible> {
    let span = tracing::info_span!("request", id, method = %req.method(), path = %req.uri().path());
    async move {
        let started = Instant::now();
        let resp = match dispatch(store, req).await {
            Ok(body) => json_response(StatusCode::OK, body),
            Err((status, e)) => {
                if status.is_server_error() {
                    tracing::error!(error = %e, "request failed");
                } else {
                    tracing::debug!(error = %e, "request refused");
                }
                error_response(status, &e)
            }
        };
        tracing::debug!(
            status = resp.status().as_u16(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "done"
        );
        Ok(resp)
    }
    .instrument(span)
    .await
}

type Failure = (StatusCode, Error);

fn fail(e: Error) -> Failure {
    (status_of(&e), e)
}

/// Decodes the JSON body, runs `f` on the blocking pool and encodes its answer.
async fn op<Q, A, F>(store: Arc<Store>, body: Bytes, f: F) -> std::result::Result<Vec<u8>, Failure>
where
    Q: DeserializeOwned + Send + 'static,
    A: Serialize + Send + 'static,
    F: FnOnce(&Store, Q) -> Result<A> + Send + 'static,
{
    let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &body
    };
    let q: Q = serde_json::from_slice(text)
        .map_err(|e| fail(Error::InvalidArgument(format!("bad JSON body: {e}"))))?;
    let answer = tokio::task::spawn_blocking(move || f(&store, q))
        .await
        .map_err(|e| fail(Error::Internal(format!("request task failed: {e}"))))?
        .map_err(fail)?;
    serde_json::to_vec(&answer).map_err(|e| fail(Error::Internal(format!("encoding answer: {e}"))))
}

async fn dispatch(
    store: Arc<Store>,
    req: Request<Incoming>,
) -> std::result::Result<Vec<u8>, Failure> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    if path == route::HEALTH && (method == Method::GET || method == Method::POST) {
        return Ok(br#"{"status":"ok"}"#.to_vec());
    }
    if method != Method::POST {
        return Err((
            StatusCode::METHOD_NOT_ALLOWED,
            Error::InvalidArgument(format!("{method} is not allowed on {path}")),
        ));
    }
    let body = Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|e| {
            (
                StatusCode::BAD_REQUEST,
                Error::InvalidArgument(format!("reading the request body: {e}")),
            )
        })?
        .to_bytes();
    let s = store;
    match path.as_str() {
        route::ACCOUNT_CREATE => {
            op(s, body, |s, q: api::AccountCreate| {
                s.create_account(&q.name)
            })
            .await
        }
        route::ACCOUNT_LIST => op(s, body, |s, _: api::Empty| s.list_accounts()).await,
        route::KEY_CREATE => {
            op(s, body, |s, q: api::KeyCreate| {
                s.create_key(&q.account, q.access_key.as_deref(), q.secret_key.as_deref())
            })
            .await
        }
        route::KEY_LIST => op(s, body, |s, _: api::Empty| s.list_keys()).await,
        route::KEY_GET => op(s, body, |s, q: api::KeyGet| s.get_key(&q.access_key)).await,
        route::CONTAINER_CREATE => {
            op(s, body, |s, q: api::ContainerCreate| {
                s.create_container(&q.account, &q.name, &q.settings)
            })
            .await
        }
        route::CONTAINER_GET => {
            op(s, body, |s, q: api::ContainerName| s.get_container(&q.name)).await
        }
        route::CONTAINER_LIST => {
            op(s, body, |s, q: api::ContainerList| {
                s.list_containers(&q.account)
            })
            .await
        }
        route::CONTAINER_DELETE => {
            op(s, body, |s, q: api::ContainerDelete| {
                s.delete_container(&q.account, &q.name)
            })
            .await
        }
        route::OBJECT_PUT => {
            op(s, body, |s, q: api::ObjectPut| {
                s.put_object_if(&q.container, &q.record, &q.condition)
            })
            .await
        }
        route::OBJECT_GET => {
            op(s, body, |s, q: api::ObjectKey| {
                s.get_object_version(&q.container, &q.key, q.version_id.as_deref())
            })
            .await
        }
        route::OBJECT_ABANDON => {
            op(s, body, |s, q: api::ObjectAbandon| {
                s.abandon_write(&q.container, &q.key, &q.content_id, &q.chunks)
                    .map(|recorded_version| api::Abandoned { recorded_version })
            })
            .await
        }
        route::OBJECT_DELETE => {
            op(s, body, |s, q: api::ObjectDelete| {
                s.delete_version(
                    &q.container,
                    &q.key,
                    q.version_id.as_deref(),
                    q.bypass_governance,
                )
            })
            .await
        }
        route::OBJECT_PROPS => {
            op(s, body, |s, q: api::ObjectProps| {
                s.update_object_props(
                    &q.container,
                    &q.key,
                    q.version_id.as_deref(),
                    &q.set,
                    &q.remove,
                    q.bypass_governance,
                )
            })
            .await
        }
        route::VERSION_LIST => {
            op(s, body, |s, q: api::VersionList| {
                s.list_versions(&q.container, &q.request)
            })
            .await
        }
        route::VERSIONING_SET => {
            op(s, body, |s, q: api::VersioningSet| {
                s.set_versioning(&q.name, q.state)
            })
            .await
        }
        route::VERSIONING_GET => {
            op(s, body, |s, q: api::ContainerName| {
                s.get_versioning(&q.name)
            })
            .await
        }
        route::OBJECT_LIST => {
            op(s, body, |s, q: api::ObjectList| {
                s.list_objects(&q.container, &q.request)
            })
            .await
        }
        route::UPLOAD_CREATE => {
            op(s, body, |s, q: api::UploadCreate| {
                s.create_upload(&q.container, &q.record)
            })
            .await
        }
        route::UPLOAD_GET => {
            op(s, body, |s, q: api::UploadRef| {
                s.get_upload(&q.container, &q.upload_id)
            })
            .await
        }
        route::PART_PUT => {
            op(s, body, |s, q: api::PartPut| {
                s.put_part(&q.container, &q.upload_id, &q.part)
            })
            .await
        }
        route::PART_LIST => {
            op(s, body, |s, q: api::PartList| {
                s.list_parts(&q.container, &q.upload_id, q.marker, q.max_parts)
            })
            .await
        }
        route::UPLOAD_COMPLETE => {
            op(s, body, |s, q: api::UploadComplete| {
                s.complete_upload(&q.container, &q.upload_id, &q.request)
            })
            .await
        }
        route::UPLOAD_ABORT => {
            op(s, body, |s, q: api::UploadRef| {
                s.abort_upload(&q.container, &q.upload_id)
            })
            .await
        }
        route::UPLOAD_LIST => {
            op(s, body, |s, q: api::UploadList| {
                s.list_uploads(&q.container, &q.request)
            })
            .await
        }
        route::GC_QUEUE => op(s, body, |s, q: api::GcQueue| s.queue_gc(&q.chunks)).await,
        route::GC_BACKLOG => op(s, body, |s, _: api::Empty| s.gc_backlog()).await,
        route::HEARTBEAT => op(s, body, |s, q: Heartbeat| s.heartbeat(&q)).await,
        route::SERVICE_LIST => {
            op(s, body, |s, q: api::ServiceList| {
                s.list_services(q.kind.as_deref())
            })
            .await
        }
        route::SERVICE_LOCK => {
            op(s, body, |s, q: api::ServiceLock| {
                s.lock_service(&q.id, q.score)
            })
            .await
        }
        route::SERVICE_UNLOCK => op(s, body, |s, q: api::ServiceId| s.unlock_service(&q.id)).await,
        route::SERVICE_UNLOCK_ALL => {
            op(s, body, |s, _: api::Empty| {
                Ok(api::Unlocked {
                    count: s.unlock_all()?,
                })
            })
            .await
        }
        route::POLICY_APPLY => {
            op(s, body, |s, q: api::PolicyText| {
                s.apply_policy(&q.text).map(|()| api::Empty {})
            })
            .await
        }
        route::POLICY_GET => {
            op(s, body, |s, _: api::Empty| {
                Ok(api::PolicyAnswer {
                    text: s.get_policy()?,
                })
            })
            .await
        }
        route::CONTAINER_SET_POLICY => {
            op(s, body, |s, q: api::ContainerSetPolicy| {
                s.set_container_policy(&q.name, q.policy.as_deref())
            })
            .await
        }
        route::ACCOUNT_GET => op(s, body, |s, q: api::AccountName| s.get_account(&q.name)).await,
        route::ACCOUNT_META => {
            op(s, body, |s, q: api::AccountMeta| {
                s.update_account_meta(&q.name, &q.set, &q.remove)
            })
            .await
        }
        route::CONTAINER_PROPERTIES => {
            op(s, body, |s, q: api::ContainerProperties| {
                s.update_container_properties(&q.name, &q.set, &q.remove)
            })
            .await
        }
        route::SWIFT_USER_CREATE => {
            op(s, body, |s, q: api::SwiftUserCreate| {
                s.create_swift_user(&q.account, &q.user, &q.key, q.admin)
            })
            .await
        }
        route::SWIFT_USER_GET => {
            op(s, body, |s, q: api::SwiftUserRef| {
                s.get_swift_user(&q.account, &q.user)
            })
            .await
        }
        route::TOKEN_CREATE => {
            op(s, body, |s, q: api::TokenCreate| {
                s.create_token(&q.account, &q.user, q.ttl_secs)
            })
            .await
        }
        route::TOKEN_GET => op(s, body, |s, q: api::TokenRef| s.get_token(&q.token)).await,
        _ => Err((
            StatusCode::NOT_FOUND,
            Error::InvalidArgument(format!("no such operation: {path}")),
        )),
    }
}
