//! The HTTP/1.1 server of the meta service: `POST /v1/<operation>` with JSON bodies (see
//! [`meta_api::api`]), each request in its own `tracing` span with a request id, LMDB work on the
//! blocking pool, errors answered as [`meta_api::wire::ErrorBody`] with a matching status.

use crate::config::Config;
use crate::metrics::{Metrics, OTHER_ENDPOINT};
use crate::raft::node::Node;
use crate::store::{Store, StoreSource};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use internal_auth::{AuthError, Role, Verified, Verifier};
use meta_api::api::{self, Endpoint};
use meta_api::error::{Error, Result};
use meta_api::wire::Heartbeat;
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tracing::Instrument;

/// Longest a digest request waits for its node to apply the marker.
const MAX_DIGEST_WAIT_MS: u64 = 120_000;

/// The body of every answer: whole (JSON, text) or streamed (a backup).
type Body = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

fn whole(resp: Response<Full<Bytes>>) -> Response<Body> {
    resp.map(|b| b.map_err(|never| match never {}).boxed())
}

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
    let advertise = config.advertise.clone().unwrap_or_else(|| addr.clone());
    let auth = crate::auth::load(&config)?;
    let metrics = Arc::new(Metrics::new());
    let node = Node::start(
        &config,
        &advertise,
        auth.as_ref().map(|a| a.peer.clone()),
        metrics.raft(),
    )
    .await?;
    metrics.attach(&node);
    let verifier = Arc::new(auth.map(|a| a.verifier));
    tracing::info!(%addr, id = node.id, data_dir = %config.data_dir.display(), "meta serving");
    // Background passes run on the leader only (their commands would be refused elsewhere).
    let source: StoreSource = {
        let node = Arc::downgrade(&node);
        Arc::new(move || {
            let node = node.upgrade()?;
            node.check_leader().ok()?;
            Some(node.store())
        })
    };
    let expirer = crate::expirer::spawn(source.clone(), config.expirer_interval_secs);
    let rebuild = crate::rebuild::spawn(
        source.clone(),
        config.rebuild_check_secs,
        config.lost_after_secs,
    );
    let sealer = crate::sealer::spawn(source.clone(), config.master_key_file.is_some());
    let lifecycle = crate::lifecycle::spawn(
        source,
        config.lifecycle_interval_secs,
        config.lifecycle_day_secs,
    );
    let routes = Arc::new(routes());
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
                let node = node.clone();
                let routes = routes.clone();
                let ids = ids.clone();
                let verifier = verifier.clone();
                let metrics = metrics.clone();
                conns.spawn(async move {
                    let svc = service_fn(move |req| {
                        let node = node.clone();
                        let routes = routes.clone();
                        let verifier = verifier.clone();
                        let metrics = metrics.clone();
                        let id = ids.fetch_add(1, Ordering::Relaxed);
                        handle(node, routes, verifier, metrics, req, id)
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
    for task in [expirer, lifecycle, rebuild, sealer].into_iter().flatten() {
        task.abort();
        let _ = task.await;
    }
    conns.shutdown().await;
    drop(listener);
    node.close().await;
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
        Error::QuotaExceeded(_) => StatusCode::FORBIDDEN,
        Error::StoreFull(_) => StatusCode::INSUFFICIENT_STORAGE,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::NotLeader(_) => StatusCode::MISDIRECTED_REQUEST,
        Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
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
    node: Arc<Node>,
    routes: Arc<Routes>,
    verifier: Arc<Option<Verifier>>,
    metrics: Arc<Metrics>,
    req: Request<Incoming>,
    id: u64,
) -> std::result::Result<Response<Body>, Infallible> {
    let span = tracing::info_span!("request", id, method = %req.method(), path = %req.uri().path());
    async move {
        let started = Instant::now();
        let endpoint = routes.endpoint_of(req.uri().path());
        if MONITOR_PATHS.contains(&endpoint) {
            let resp = monitor(&node, &metrics, endpoint, req.method()).await;
            metrics.request(
                endpoint,
                resp.status().as_u16(),
                started.elapsed().as_secs_f64(),
            );
            return Ok(whole(resp));
        }
        if req.uri().path() == api::BACKUP_PATH {
            let resp = match backup(&node, verifier.as_ref().as_ref(), req).await {
                Ok(resp) => resp,
                Err((status, e)) => {
                    tracing::warn!(error = %e, "backup refused");
                    whole(error_response(status, &e))
                }
            };
            metrics.request(
                api::BACKUP_PATH,
                resp.status().as_u16(),
                started.elapsed().as_secs_f64(),
            );
            return Ok(resp);
        }
        let resp = match dispatch(node, routes, verifier.as_ref().as_ref(), req).await {
            Ok(body) => json_response(StatusCode::OK, body),
            Err((status, e)) => {
                if matches!(e, Error::NotLeader(_)) {
                    tracing::debug!(error = %e, "not the leader");
                } else if matches!(e, Error::Unauthorized(_)) {
                    tracing::warn!(error = %e, "request refused");
                } else if status.is_server_error() {
                    tracing::error!(error = %e, "request failed");
                } else {
                    tracing::debug!(error = %e, "request refused");
                }
                error_response(status, &e)
            }
        };
        let elapsed = started.elapsed();
        metrics.request(endpoint, resp.status().as_u16(), elapsed.as_secs_f64());
        tracing::debug!(
            status = resp.status().as_u16(),
            elapsed_us = elapsed.as_micros() as u64,
            "done"
        );
        Ok(whole(resp))
    }
    .instrument(span)
    .await
}

/// `POST` [`api::BACKUP_PATH`] (admin): the leader streams a backup ([`crate::backup`]).
async fn backup(
    node: &Arc<Node>,
    verifier: Option<&Verifier>,
    req: Request<Incoming>,
) -> std::result::Result<Response<Body>, Failure> {
    if req.method() != Method::POST {
        return Err((
            StatusCode::METHOD_NOT_ALLOWED,
            Error::InvalidArgument(format!(
                "{} is not allowed on {}",
                req.method(),
                api::BACKUP_PATH
            )),
        ));
    }
    let verified = authenticate(verifier, &req, api::BACKUP_PATH, false)?;
    node.check_leader().map_err(fail)?;
    read_signed_body(req, verified.as_ref(), api::BACKUP_PATH).await?;
    let (body, length) = crate::backup::stream(node).await.map_err(fail)?;
    let mut resp = Response::new(body.boxed());
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/octet-stream"),
    );
    resp.headers_mut().insert(
        http::header::CONTENT_LENGTH,
        http::HeaderValue::from(length),
    );
    Ok(resp)
}

type Failure = (StatusCode, Error);

fn fail(e: Error) -> Failure {
    (status_of(&e), e)
}

/// A registered handler given `S` (the store or the node) and the request body: decodes its
/// endpoint's request, answers, encodes the answer.
type HandlerOf<S> = Box<
    dyn Fn(S, Bytes) -> Pin<Box<dyn Future<Output = std::result::Result<Vec<u8>, Failure>> + Send>>
        + Send
        + Sync,
>;
/// A store endpoint's handler (runs on the blocking pool), given the request's id when the
/// client sent one (`rid` in the query: see [`crate::store::dedupe`]).
type Handler = Box<
    dyn Fn(
            Arc<Store>,
            Bytes,
            Option<String>,
        ) -> Pin<Box<dyn Future<Output = std::result::Result<Vec<u8>, Failure>> + Send>>
        + Send
        + Sync,
>;
/// A group endpoint's handler.
type GroupHandler = HandlerOf<Arc<Node>>;

/// How a route is served on a node of a meta group.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Any node answers (health).
    Anywhere,
    /// The leader answers, after a linearizable read barrier.
    Read,
    /// The leader answers; its commands go through the log.
    Write,
}

/// The handler of every endpoint, by route. Built once; [`routes`] registers each endpoint
/// with a function typed by its request and answer, so a handler cannot answer another
/// endpoint's type.
pub struct Routes {
    handlers: HashMap<&'static str, (Kind, Handler)>,
    /// The group's own endpoints (membership), answered by the node rather than the store.
    group: HashMap<&'static str, GroupHandler>,
}

impl Routes {
    /// Registers `f` as the handler of endpoint `E`, which changes state.
    fn add<E, F>(&mut self, f: F)
    where
        E: Endpoint,
        F: Fn(&Store, E) -> Result<E::Response> + Copy + Send + Sync + 'static,
    {
        self.register(Kind::Write, f);
    }

    /// Registers `f` as the handler of endpoint `E`, which only reads.
    fn read<E, F>(&mut self, f: F)
    where
        E: Endpoint,
        F: Fn(&Store, E) -> Result<E::Response> + Copy + Send + Sync + 'static,
    {
        self.register(Kind::Read, f);
    }

    fn register<E, F>(&mut self, kind: Kind, f: F)
    where
        E: Endpoint,
        F: Fn(&Store, E) -> Result<E::Response> + Copy + Send + Sync + 'static,
    {
        let handler: Handler = Box::new(move |store, body, rid| Box::pin(op(store, body, rid, f)));
        if self.handlers.insert(E::PATH, (kind, handler)).is_some() {
            tracing::error!(path = E::PATH, "endpoint registered twice");
        }
    }

    /// Registers the group endpoint `E`, answered by `f` with the node.
    fn group<E, F, Fut>(&mut self, f: F)
    where
        E: Endpoint,
        F: Fn(Arc<Node>, E) -> Fut + Copy + Send + Sync + 'static,
        Fut: Future<Output = Result<E::Response>> + Send + 'static,
    {
        let handler: GroupHandler = Box::new(move |node, body| {
            Box::pin(async move {
                let q: E = decode(&body)?;
                encode(&f(node, q).await.map_err(fail)?)
            })
        });
        if self.group.insert(E::PATH, handler).is_some() {
            tracing::error!(path = E::PATH, "endpoint registered twice");
        }
    }

    /// The route `path` names, as the `endpoint` label of the request metrics: a served
    /// route, a Raft or monitoring route, else [`OTHER_ENDPOINT`].
    pub fn endpoint_of(&self, path: &str) -> &'static str {
        use crate::raft::network::{APPEND_PATH, SNAPSHOT_PATH, VOTE_PATH};
        if let Some((p, _)) = self.handlers.get_key_value(path) {
            return p;
        }
        if let Some((p, _)) = self.group.get_key_value(path) {
            return p;
        }
        MONITOR_PATHS
            .iter()
            .chain(&[APPEND_PATH, VOTE_PATH, SNAPSHOT_PATH])
            .find(|p| **p == path)
            .copied()
            .unwrap_or(OTHER_ENDPOINT)
    }

    /// The routes served.
    pub fn paths(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.handlers.keys().chain(self.group.keys()).copied()
    }
}

/// Every endpoint's handler: one line per endpoint of [`meta_api::api`].
pub fn routes() -> Routes {
    let mut r = Routes {
        handlers: HashMap::new(),
        group: HashMap::new(),
    };
    r.group(|n, _: api::GroupStatusGet| async move { Ok(n.status()) });
    r.group(|n, q: api::GroupAdd| async move { n.add_member(q.id, &q.addr).await });
    r.group(|n, q: api::GroupRemove| async move { n.remove_member(q.id).await });
    r.group(|n, _: api::GroupMark| async move { n.mark().await });
    r.group(|n, q: api::GroupDigest| async move {
        let wait = Duration::from_millis(q.wait_ms.min(MAX_DIGEST_WAIT_MS));
        n.digest_at(q.index, wait).await
    });
    r.register(Kind::Anywhere, |_, _: api::Health| {
        Ok(api::HealthAnswer {
            status: "ok".to_string(),
        })
    });
    r.add(|s, q: api::AccountCreate| s.create_account(&q.name));
    r.read(|s, _: api::AccountList| s.list_accounts());
    r.read(|s, q: api::AccountGet| s.get_account(&q.name));
    r.add(|s, q: api::AccountMeta| s.update_account_meta(&q.name, &q.set, &q.remove));
    r.add(|s, q: api::KeyCreate| {
        s.create_key(&q.account, q.access_key.as_deref(), q.secret_key.as_deref())
    });
    r.read(|s, _: api::KeyList| s.list_keys());
    r.read(|s, q: api::KeyGet| s.get_key(&q.access_key));
    r.add(|s, q: api::ContainerCreate| s.create_container(&q.account, &q.name, &q.settings));
    r.read(|s, q: api::ContainerGet| s.get_container(&q.name));
    r.read(|s, q: api::ContainerList| s.list_containers(&q.account));
    r.add(|s, q: api::ContainerDelete| s.delete_container(&q.account, &q.name));
    r.add(|s, q: api::ContainerSetPolicy| s.set_container_policy(&q.name, q.policy.as_deref()));
    r.add(|s, q: api::ContainerProperties| {
        s.update_container_properties(&q.name, &q.set, &q.remove)
    });
    r.add(|s, q: api::ContainerSettingsSet| s.set_container_settings(&q.name, q.changes));
    r.add(|s, q: api::VersioningSet| s.set_versioning(&q.name, q.state));
    r.read(|s, q: api::VersioningGet| s.get_versioning(&q.name));
    r.add(|s, q: api::ObjectPut| {
        s.put_object_wanting(&q.container, &q.record, &q.condition, q.pieces_wanted)
    });
    r.read(|s, q: api::ObjectGet| {
        s.get_object_version(&q.container, &q.key, q.version_id.as_deref())
    });
    r.add(|s, q: api::ObjectDelete| {
        s.delete_version(
            &q.container,
            &q.key,
            q.version_id.as_deref(),
            q.bypass_governance,
        )
    });
    r.read(|s, q: api::ObjectList| s.list_objects(&q.container, &q.request));
    r.read(|s, q: api::VersionList| s.list_versions(&q.container, &q.request));
    r.add(|s, q: api::ObjectProps| {
        s.update_object_props(
            &q.container,
            &q.key,
            q.version_id.as_deref(),
            &q.set,
            &q.remove,
            q.bypass_governance,
        )
    });
    r.add(|s, q: api::ObjectPropsChange| {
        s.change_object_props(
            &q.container,
            &q.key,
            q.version_id.as_deref(),
            q.changes,
            q.bypass_governance,
        )
    });
    r.add(|s, q: api::ObjectAbandon| {
        s.abandon_write(&q.container, &q.key, &q.content_id, &q.chunks)
            .map(|recorded_version| api::Abandoned { recorded_version })
    });
    r.add(|s, q: api::UploadCreate| s.create_upload(&q.container, &q.record));
    r.read(|s, q: api::UploadGet| s.get_upload(&q.container, &q.upload_id));
    r.add(|s, q: api::PartPut| {
        s.put_part_wanting(&q.container, &q.upload_id, &q.part, q.pieces_wanted)
    });
    r.read(|s, q: api::PartList| s.list_parts(&q.container, &q.upload_id, q.marker, q.max_parts));
    r.add(|s, q: api::UploadComplete| s.complete_upload(&q.container, &q.upload_id, &q.request));
    r.add(|s, q: api::UploadAbort| s.abort_upload(&q.container, &q.upload_id));
    r.read(|s, q: api::UploadList| s.list_uploads(&q.container, &q.request));
    r.add(|s, q: api::GcQueue| s.queue_gc(&q.chunks));
    r.read(|s, _: api::GcBacklogGet| s.gc_backlog());
    r.add(|s, q: Heartbeat| s.heartbeat(&q));
    r.read(|s, q: api::ServiceList| s.list_services(q.kind.as_deref()));
    r.add(|s, q: api::ServiceLock| s.lock_service(&q.id, q.score));
    r.add(|s, q: api::ServiceUnlock| s.unlock_service(&q.id));
    r.add(|s, _: api::ServiceUnlockAll| {
        Ok(api::Unlocked {
            count: s.unlock_all()?,
        })
    });
    r.add(|s, q: api::PolicyApply| s.apply_policy(&q.text).map(|()| api::Empty {}));
    r.read(|s, _: api::PolicyGet| {
        Ok(api::PolicyAnswer {
            text: s.get_policy()?,
        })
    });
    r.add(|s, q: api::SwiftUserCreate| s.create_swift_user(&q.account, &q.user, &q.key, q.admin));
    r.read(|s, q: api::SwiftUserGet| s.get_swift_user(&q.account, &q.user));
    r.add(|s, q: api::SwiftUserDelete| {
        s.delete_swift_user(&q.account, &q.user)
            .map(|()| api::Empty {})
    });
    r.add(|s, q: api::AccountDelete| s.delete_account(&q.name).map(|()| api::Empty {}));
    r.add(|s, q: api::KeyDelete| s.delete_key(&q.access_key).map(|()| api::Empty {}));
    r.add(|s, q: api::QuotaSet| s.set_quota(&q.account, q.container.as_deref(), q.quota));
    r.read(|s, q: api::QuotaGet| s.get_quota(&q.account, q.container.as_deref()));
    r.add(|s, q: api::KmsKeyCreate| s.create_kms_key(&q.name));
    r.read(|s, _: api::KmsKeyList| s.list_kms_keys());
    r.add(|s, q: api::KmsKeySetEnabled| s.set_kms_key_enabled(&q.name, q.enabled));
    r.read(|s, q: api::KmsKeyGet| s.get_kms_key(&q.name));
    r.add(|s, q: api::KmsKeySetMaterial| s.set_kms_key_material(&q.name, q.material));
    r.add(|s, q: api::TokenCreate| s.create_token(&q.account, &q.user, q.ttl_secs));
    r.read(|s, q: api::TokenGet| s.get_token(&q.token));
    r.read(|s, q: api::RdirList| s.rdir_list(&q.service, q.after.as_deref(), q.limit));
    r.read(|s, q: api::RdirCheck| s.rdir_unknown(&q.service, &q.chunk_ids));
    r.read(|s, q: api::ChunkLocate| {
        s.locate_chunk(
            &q.container,
            &q.key,
            q.upload.as_deref(),
            &q.service,
            &q.chunk_id,
        )
    });
    r.add(|s, q: api::RebuildStart| {
        let reason = crate::store::LostReason::requested(q.reason.as_deref())?;
        s.mark_lost(&q.service, reason)
    });
    r.add(|s, q: api::ServiceForget| s.forget_service(&q.service).map(|()| api::Empty {}));
    r.read(|s, _: api::RebuildStatusGet| s.rebuild_status());
    r.add(|s, q: api::RepairClaim| s.claim_repairs(&q.worker, q.max, q.lease_ms));
    r.add(|s, q: api::RepairDone| {
        let changes = crate::store::RepairChanges {
            replaced: &q.replaced,
            dropped: &q.dropped,
            added: &q.added,
        };
        s.repair_done(&q.container, &q.key, q.upload.as_deref(), changes)
    });
    r.add(|s, q: api::RepairFail| {
        s.repair_failed(&q.service, &q.chunk_id, &q.error, q.retry_after_ms)
            .map(|()| api::Empty {})
    });
    r
}

/// Decodes the JSON body, runs `f` on the blocking pool and encodes its answer.
async fn op<E, F>(
    store: Arc<Store>,
    body: Bytes,
    rid: Option<String>,
    f: F,
) -> std::result::Result<Vec<u8>, Failure>
where
    E: Endpoint,
    F: Fn(&Store, E) -> Result<E::Response> + Send + 'static,
{
    let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &body
    };
    let q: E = serde_json::from_slice(text)
        .map_err(|e| fail(Error::InvalidArgument(format!("bad JSON body: {e}"))))?;
    let answer = tokio::task::spawn_blocking(move || {
        crate::store::dedupe::with_request(rid, || f(&store, q))
    })
    .await
    .map_err(|e| fail(Error::Internal(format!("request task failed: {e}"))))?
    .map_err(fail)?;
    serde_json::to_vec(&answer).map_err(|e| fail(Error::Internal(format!("encoding answer: {e}"))))
}

/// Checks a request's signature before anything of its body is read: the Raft routes take
/// meta peers, the admin routes operators, the others services and operators; a request that
/// changes state is taken once. `None`: the node runs without authentication.
fn authenticate(
    verifier: Option<&Verifier>,
    req: &Request<Incoming>,
    path: &str,
    changes: bool,
) -> std::result::Result<Option<Verified>, Failure> {
    let Some(verifier) = verifier else {
        return Ok(None);
    };
    let refuse = |e: AuthError| (e.status(), Error::Unauthorized(format!("{path}: {e}")));
    let verified = verifier
        .verify(req.method(), req.uri(), req.headers(), changes)
        .map_err(refuse)?;
    let roles: &[Role] = if path.starts_with(RAFT_PREFIX) {
        &[Role::Peer]
    } else if api::admin_only(path) {
        &[Role::Admin]
    } else {
        &[Role::Service, Role::Admin]
    };
    verified.require(roles, path).map_err(refuse)?;
    Ok(Some(verified))
}

/// Reads the body and checks it against the content the request signed.
async fn read_signed_body(
    req: Request<Incoming>,
    verified: Option<&Verified>,
    path: &str,
) -> std::result::Result<Bytes, Failure> {
    let body = read_body(req).await?;
    if let Some(v) = verified {
        v.check_body(&body)
            .map_err(|e| (e.status(), Error::Unauthorized(format!("{path}: {e}"))))?;
    }
    Ok(body)
}

/// The monitoring routes: `GET` only, answered unsigned (like the chunk servers'), plain text.
/// They tell nothing a scraper could abuse: counts, the Raft state, the conscience's scores.
pub const MONITOR_PATHS: &[&str] = &[METRICS_PATH, HEALTH_PATH, READY_PATH];
/// Prometheus metrics ([`crate::metrics`]).
pub const METRICS_PATH: &str = "/metrics";
/// 200 `ok` while the process serves HTTP.
pub const HEALTH_PATH: &str = "/health";
/// 200 `ready` when the node can serve ([`crate::metrics::readiness`]), else 503 and why.
pub const READY_PATH: &str = "/ready";

/// Answers a monitoring route (`path` is one of [`MONITOR_PATHS`]).
async fn monitor(
    node: &Arc<Node>,
    metrics: &Arc<Metrics>,
    path: &str,
    method: &Method,
) -> Response<Full<Bytes>> {
    if method != Method::GET {
        let mut resp = text_response(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not allowed on {path}\n"),
        );
        resp.headers_mut()
            .insert(http::header::ALLOW, http::HeaderValue::from_static("GET"));
        return resp;
    }
    match path {
        METRICS_PATH => {
            let metrics = metrics.clone();
            match tokio::task::spawn_blocking(move || metrics.encode()).await {
                Ok(Ok(text)) => {
                    let mut resp = text_response(StatusCode::OK, text);
                    resp.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
                    );
                    resp
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "encoding the metrics");
                    text_response(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n"))
                }
                Err(e) => text_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("metrics task failed: {e}\n"),
                ),
            }
        }
        READY_PATH => match crate::metrics::readiness(node, node.observer()).await {
            Ok(()) => text_response(StatusCode::OK, "ready\n".to_string()),
            Err(why) => {
                tracing::debug!(reason = %why, "not ready");
                text_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("not ready: {}\n", why.replace('\n', " ")),
                )
            }
        },
        _ => text_response(StatusCode::OK, "ok\n".to_string()),
    }
}

fn text_response(status: StatusCode, text: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(text)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// The prefix of the Raft routes.
const RAFT_PREFIX: &str = "/v1/raft/";

async fn dispatch(
    node: Arc<Node>,
    routes: Arc<Routes>,
    verifier: Option<&Verifier>,
    req: Request<Incoming>,
) -> std::result::Result<Vec<u8>, Failure> {
    let path = req.uri().path().to_string();
    let uri_query = req.uri().query().map(str::to_string);
    let method = req.method().clone();
    if path.starts_with(RAFT_PREFIX) {
        let verified = authenticate(verifier, &req, &path, false)?;
        return raft_dispatch(node, &path, &method, req, verified.as_ref()).await;
    }
    // Health also answers GET (load balancers, curl), through its one handler.
    let health_get = path == api::Health::PATH && method == Method::GET;
    if method != Method::POST && !health_get {
        return Err((
            StatusCode::METHOD_NOT_ALLOWED,
            Error::InvalidArgument(format!("{method} is not allowed on {path}")),
        ));
    }
    if let Some(group) = routes.group.get(path.as_str()) {
        let changes = path != api::GroupStatusGet::PATH;
        let verified = authenticate(verifier, &req, &path, changes)?;
        let body = read_signed_body(req, verified.as_ref(), &path).await?;
        return group(node, body).await;
    }
    let Some((kind, handler)) = routes.handlers.get(path.as_str()) else {
        return Err((
            StatusCode::NOT_FOUND,
            Error::InvalidArgument(format!("no such operation: {path}")),
        ));
    };
    let verified = if api::OPEN_PATHS.contains(&path.as_str()) {
        None
    } else {
        authenticate(verifier, &req, &path, *kind == Kind::Write)?
    };
    if *kind != Kind::Anywhere {
        node.check_leader().map_err(fail)?;
    }
    let body = read_signed_body(req, verified.as_ref(), &path).await?;
    if *kind == Kind::Read {
        node.read_barrier().await.map_err(fail)?;
    }
    let rid = match (*kind, request_id(&uri_query)) {
        (Kind::Write, Some(id)) => {
            crate::store::dedupe::check_id(&id).map_err(fail)?;
            Some(id)
        }
        _ => None,
    };
    handler(node.store(), body, rid).await
}

/// The `rid` query parameter (a client's request id), if any.
fn request_id(query: &Option<String>) -> Option<String> {
    query
        .as_deref()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("rid=").map(|v| v.to_string()))
}

async fn read_body(req: Request<Incoming>) -> std::result::Result<Bytes, Failure> {
    Ok(Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|e| {
            (
                StatusCode::BAD_REQUEST,
                Error::InvalidArgument(format!("reading the request body: {e}")),
            )
        })?
        .to_bytes())
}

fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> std::result::Result<T, Failure> {
    serde_json::from_slice(body)
        .map_err(|e| fail(Error::InvalidArgument(format!("bad JSON body: {e}"))))
}

fn encode<T: serde::Serialize>(v: &T) -> std::result::Result<Vec<u8>, Failure> {
    serde_json::to_vec(v).map_err(|e| fail(Error::Internal(format!("encoding answer: {e}"))))
}

/// Raft messages between nodes (answered with openraft's result as JSON).
async fn raft_dispatch(
    node: Arc<Node>,
    path: &str,
    method: &Method,
    req: Request<Incoming>,
    verified: Option<&Verified>,
) -> std::result::Result<Vec<u8>, Failure> {
    use crate::raft::network::{
        APPEND_PATH, IDENTITY_PATH, SNAPSHOT_PATH, VOTE_PATH, parse_target_query,
    };
    if method != Method::POST {
        return Err((
            StatusCode::METHOD_NOT_ALLOWED,
            Error::InvalidArgument(format!("{method} is not allowed on {path}")),
        ));
    }
    let target = parse_target_query(req.uri().query())
        .map_err(|e| fail(Error::InvalidArgument(format!("{path}: {e}"))))?;
    let body = read_signed_body(req, verified, path).await?;
    if path == IDENTITY_PATH {
        return encode(&Ok::<_, openraft::error::Infallible>(node.identity()));
    }
    if let Some((to, incarnation)) = target {
        node.check_target(to, incarnation)
            .map_err(|e| (StatusCode::CONFLICT, Error::InvalidArgument(e)))?;
    }
    match path {
        APPEND_PATH => encode(&node.raft.append_entries(decode(&body)?).await),
        VOTE_PATH => encode(&node.raft.vote(decode(&body)?).await),
        SNAPSHOT_PATH => encode(&node.raft.install_snapshot(decode(&body)?).await),
        _ => Err((
            StatusCode::NOT_FOUND,
            Error::InvalidArgument(format!("no such operation: {path}")),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_endpoint_has_exactly_one_handler() {
        let served: BTreeSet<&str> = routes().paths().collect();
        let declared: BTreeSet<&str> = api::PATHS.iter().copied().collect();
        assert_eq!(
            declared.len(),
            api::PATHS.len(),
            "a route is declared twice"
        );
        assert_eq!(served, declared);
    }
}
