//! `MetaClient`: the typed async client of the meta service, used by the gateway, chunk servers
//! and the admin CLI. It keeps a pool of HTTP/1.1 keep-alive connections; every error answer is
//! turned back into the same [`Error`] variant the server raised, and transport failures become
//! [`Error::Unavailable`].

use crate::api::{self, Endpoint};
use crate::error::{Error, Result};
use crate::settings::{SettingChange, VersionChange};
use crate::wire::{
    AccountInfo, ChunkCopy, CompleteRequest, ContainerInfo, ContainerSettings, Credential,
    DeleteOutcome, ErrorBody, GcBacklog, Heartbeat, HeartbeatReply, ListPartsReply, ListReply,
    ListRequest, ListUploadsReply, ListUploadsRequest, ObjectRecord, PartRecord, PutCondition,
    ServiceRecord, Stored, SwiftToken, SwiftUser, UploadRecord, VersionListReply,
    VersionListRequest, Versioning,
};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

mod containers;
mod repair;
use containers::ContainerCache;

/// How long to wait for a TCP connection to meta.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default upper bound for one whole request/answer exchange ([`MetaClient::with_timeout`]).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Largest answer body accepted (listings of big objects' chunk lists stay far below).
const MAX_ANSWER_BYTES: usize = 512 * 1024 * 1024;

/// Client of a meta group: one address, or the addresses of every node of a replicated group
/// (`a:6000,b:6000,c:6000`). Requests go to the node believed to lead; a node that is not the
/// leader answers `NotLeader` (naming the leader when it knows it) and the client follows,
/// and a node that cannot be reached is passed over, within the request's time bound. Cheap
/// to clone: clones share the connection pool, the believed leader and the container cache.
#[derive(Clone)]
pub struct MetaClient {
    addrs: Arc<Vec<String>>,
    /// Index in `addrs` of the node requests go to first.
    current: Arc<AtomicUsize>,
    http: Client<HttpConnector, Full<Bytes>>,
    containers: Option<Arc<ContainerCache>>,
    timeout: Duration,
    /// Signs every request (`None`: unsigned, refused by a meta that checks signatures).
    signer: Option<Arc<internal_auth::Signer>>,
}

impl std::fmt::Debug for MetaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetaClient")
            .field("addrs", &self.addrs)
            .finish()
    }
}

/// How one attempt at one node ended, when it did not end with an answer to return.
enum Attempt {
    /// The node is not the leader (the leader's address when it knows it): nothing was done.
    NotLeader(Option<String>),
    /// No connection could be made: nothing was sent.
    Unreachable(String),
    /// The request was sent and the answer lost (the connection broke): asked again under
    /// the same request id, which meta answers once ([`crate::api`] writes are applied at most
    /// once per id).
    Lost(String),
}

/// A new request id: 128 random bits in hex.
fn new_request_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Pause before asking again when no node knows a leader (an election is under way).
const ELECTION_BACKOFF: Duration = Duration::from_millis(100);
/// How long a request waits for an election to end (nodes answer, none knows a leader).
const ELECTION_WINDOW: Duration = Duration::from_secs(15);
/// How long a request keeps trying when no node can be reached at all.
const UNREACHABLE_WINDOW: Duration = Duration::from_secs(2);

impl MetaClient {
    /// A client of the meta group at `addrs`: `host:port`, or several separated by commas.
    pub fn new(addrs: &str) -> MetaClient {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        let mut list: Vec<String> = addrs
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect();
        if list.is_empty() {
            list.push(addrs.to_string());
        }
        MetaClient {
            addrs: Arc::new(list),
            current: Arc::new(AtomicUsize::new(0)),
            http,
            containers: None,
            timeout: REQUEST_TIMEOUT,
            signer: None,
        }
    }

    /// This client signing its requests with `signer` (a service of the cluster, or an
    /// operator for the admin routes: [`crate::api::ADMIN_PATHS`]).
    pub fn with_signer(mut self, signer: internal_auth::Signer) -> MetaClient {
        self.signer = Some(Arc::new(signer));
        self
    }

    /// The signer of this client's requests.
    pub fn signer(&self) -> Option<&internal_auth::Signer> {
        self.signer.as_deref()
    }

    /// This client giving up on a request after `timeout` (default [`REQUEST_TIMEOUT`]), time
    /// spent following the leader included; the request then fails with
    /// [`Error::Unavailable`], whose outcome is unknown ([`Error::refused`]).
    pub fn with_timeout(mut self, timeout: Duration) -> MetaClient {
        self.timeout = timeout;
        self
    }

    /// This client with [`get_container_cached`](Self::get_container_cached) keeping records
    /// for `ttl` (`Duration::ZERO`: not at all). Changes made through this client or its
    /// clones are seen at once; changes made by other processes within `ttl`.
    pub fn with_container_cache(mut self, ttl: Duration) -> MetaClient {
        self.containers = (!ttl.is_zero()).then(|| Arc::new(ContainerCache::new(ttl)));
        self
    }

    /// Drops the cached record of a container this client is changing.
    fn forget_container(&self, name: &str) {
        if let Some(cache) = &self.containers {
            cache.forget(name);
        }
    }

    /// The address requests go to first (the believed leader).
    pub fn addr(&self) -> &str {
        let i = self.current.load(Ordering::Relaxed) % self.addrs.len();
        &self.addrs[i]
    }

    /// Every address of the group, as configured.
    pub fn addrs(&self) -> &[String] {
        &self.addrs
    }

    /// Sends `req` to its endpoint's route and decodes the answer. An error answer comes back
    /// as the variant meta raised; a request that changes a container drops this client's
    /// cached record of it once meta has answered, whatever the answer.
    pub async fn call<E: Endpoint>(&self, req: &E) -> Result<E::Response> {
        let answer = self.exchange(req).await;
        if E::CHANGES_CONTAINER {
            self.forget_container(req.container());
        }
        answer
    }

    /// Moves the first choice to `leader` when it is one of the group's addresses, else to
    /// the next address.
    fn follow(&self, from: usize, leader: Option<&str>) {
        let n = self.addrs.len();
        let next = leader
            .and_then(|l| self.addrs.iter().position(|a| a == l))
            .unwrap_or((from + 1) % n);
        let _ = self
            .current
            .compare_exchange(from, next, Ordering::Relaxed, Ordering::Relaxed);
    }

    async fn exchange<E: Endpoint>(&self, req: &E) -> Result<E::Response> {
        let body = Bytes::from(
            serde_json::to_vec(req)
                .map_err(|e| Error::InvalidArgument(format!("cannot encode request: {e}")))?,
        );
        let started = tokio::time::Instant::now();
        let deadline = started + self.timeout;
        // One id for every attempt of this call: a write whose answer is lost is asked again
        // and answered from meta's record rather than applied twice.
        let rid = new_request_id();
        let n = self.addrs.len();
        // Consecutive attempts that found no leader and no reachable node.
        let mut misses = 0usize;
        // Whether any node answered (then an election may be under way).
        let mut answered = false;
        let mut last: String;
        loop {
            let idx = self.current.load(Ordering::Relaxed) % n;
            let addr = self.addrs[idx].clone();
            match tokio::time::timeout_at(
                deadline,
                self.attempt::<E>(&addr, req, &rid, body.clone()),
            )
            .await
            {
                Err(_) => {
                    // Lost in the middle: the next request starts at another node (this one
                    // may be frozen or cut off), this one's outcome is unknown.
                    self.follow(idx, None);
                    return Err(Error::Unavailable(format!("{addr}: request timed out")));
                }
                Ok(Ok(answer)) => return answer,
                Ok(Err(Attempt::NotLeader(leader))) => {
                    answered = true;
                    last = format!("{addr}: not the leader");
                    let known = leader.is_some();
                    self.follow(idx, leader.as_deref());
                    if !known {
                        misses += 1;
                    }
                }
                Ok(Err(Attempt::Unreachable(e))) => {
                    last = e;
                    self.follow(idx, None);
                    misses += 1;
                }
                Ok(Err(Attempt::Lost(e))) => {
                    // The node may have died after applying it: ask again (another node first,
                    // after a pause), under the same id.
                    last = e;
                    answered = true;
                    self.follow(idx, None);
                    misses += 1;
                    tokio::time::sleep(ELECTION_BACKOFF).await;
                }
            }
            if misses >= n {
                // A whole round without a leader: wait for an election to end, or for a node
                // to come back, within bounds (nothing was done: the request is refused).
                misses = 0;
                let window = if answered {
                    ELECTION_WINDOW
                } else {
                    UNREACHABLE_WINDOW
                };
                let give_up = deadline.min(started + window);
                if tokio::time::Instant::now() + ELECTION_BACKOFF >= give_up {
                    return Err(Error::Unavailable(format!("no meta leader: {last}")));
                }
                tokio::time::sleep(ELECTION_BACKOFF).await;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Unavailable(format!("no meta leader: {last}")));
            }
        }
    }

    /// One request to one node: `Ok` with what to return, `Err` when another node should be
    /// asked.
    async fn attempt<E: Endpoint>(
        &self,
        addr: &str,
        req: &E,
        rid: &str,
        body: Bytes,
    ) -> std::result::Result<Result<E::Response>, Attempt> {
        let name = req.container();
        let content = self
            .signer
            .as_ref()
            .map(|_| internal_auth::content_hash(&body));
        let mut request = match http::Request::builder()
            .method(http::Method::POST)
            .uri(format!("http://{addr}{}?rid={rid}", E::PATH))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
        {
            Ok(r) => r,
            Err(e) => {
                return Ok(Err(Error::InvalidArgument(format!(
                    "bad meta address {addr}: {e}"
                ))));
            }
        };
        if let (Some(signer), Some(content)) = (&self.signer, content) {
            let (parts, body) = request.into_parts();
            let mut parts = parts;
            if let Err(e) =
                signer.sign_headers(&mut parts.headers, &parts.method, &parts.uri, &content)
            {
                return Ok(Err(Error::Internal(format!("signing the request: {e}"))));
            }
            request = http::Request::from_parts(parts, body);
        }
        let resp = match self.http.request(request).await {
            Ok(r) => r,
            Err(e) if e.is_connect() => return Err(Attempt::Unreachable(format!("{addr}: {e}"))),
            Err(e) => return Err(Attempt::Lost(format!("{addr}: {e}"))),
        };
        let status = resp.status();
        let bytes = match http_body_util::Limited::new(resp.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
        {
            Ok(b) => b.to_bytes(),
            Err(e) => return Err(Attempt::Lost(format!("{addr}: reading answer: {e}"))),
        };
        if status.is_success() {
            return Ok(serde_json::from_slice(&bytes)
                .map_err(|e| Error::Unavailable(format!("{addr}: bad answer: {e}"))));
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => match Error::from_body(body, name) {
                Error::NotLeader(leader) => Err(Attempt::NotLeader(leader)),
                err => {
                    if let Error::NoSuchContainer(gone) = &err {
                        self.forget_container(gone);
                    }
                    Ok(Err(err))
                }
            },
            Err(_) => Ok(Err(Error::Unavailable(format!(
                "{addr}: HTTP {status}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            )))),
        }
    }

    /// The group as the node at `addr` (one of this client's addresses) sees it.
    pub async fn group_status_at(&self, addr: &str) -> Result<crate::api::GroupStatus> {
        let mut one = MetaClient::new(addr).with_timeout(self.timeout);
        one.signer = self.signer.clone();
        one.call(&api::GroupStatusGet {}).await
    }

    /// Adds meta node `id` at `addr` to the group (through the leader).
    pub async fn group_add(&self, id: u64, addr: &str) -> Result<crate::api::GroupStatus> {
        let req = api::GroupAdd {
            id,
            addr: addr.to_string(),
        };
        self.call(&req).await
    }

    /// Removes meta node `id` from the group (through the leader).
    pub async fn group_remove(&self, id: u64) -> Result<crate::api::GroupStatus> {
        self.call(&api::GroupRemove { id }).await
    }

    /// Sends `req` to the node at `addr` only (no following of the leader): for the
    /// endpoints every node answers for itself.
    pub async fn call_at<E: Endpoint>(&self, addr: &str, req: &E) -> Result<E::Response> {
        let mut one = MetaClient::new(addr).with_timeout(self.timeout);
        one.signer = self.signer.clone();
        one.call(req).await
    }

    /// The address of the group's leader, as the first node that knows it says.
    pub async fn leader_addr(&self) -> Result<String> {
        let mut last = String::from("no address configured");
        for addr in self.addrs.iter() {
            match self.group_status_at(addr).await {
                Ok(s) if s.state == "Leader" => return Ok(addr.clone()),
                Ok(s) => match s.leader_addr {
                    Some(l) => return Ok(l),
                    None => last = format!("{addr}: no leader known"),
                },
                Err(e) => last = e.to_string(),
            }
        }
        Err(Error::Unavailable(format!("no meta leader: {last}")))
    }

    /// Asks the group's leader for a backup ([`api::BACKUP_PATH`]) and writes the answer to
    /// `out` as it arrives (bounded memory); returns the bytes written. Each piece of the
    /// answer must arrive within this client's timeout.
    pub async fn backup_to<W>(&self, out: &mut W) -> Result<u64>
    where
        W: tokio::io::AsyncWrite + Unpin,
    {
        use tokio::io::AsyncWriteExt;
        let addr = self.leader_addr().await?;
        let body = Bytes::from_static(b"{}");
        let mut request = http::Request::builder()
            .method(http::Method::POST)
            .uri(format!("http://{addr}{}", api::BACKUP_PATH))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body.clone()))
            .map_err(|e| Error::InvalidArgument(format!("bad meta address {addr}: {e}")))?;
        if let Some(signer) = &self.signer {
            let (mut parts, b) = request.into_parts();
            signer
                .sign_headers(
                    &mut parts.headers,
                    &parts.method,
                    &parts.uri,
                    &internal_auth::content_hash(&body),
                )
                .map_err(|e| Error::Internal(format!("signing the request: {e}")))?;
            request = http::Request::from_parts(parts, b);
        }
        let lost = |e: String| Error::Unavailable(format!("{addr}: backup: {e}"));
        let resp = tokio::time::timeout(self.timeout, self.http.request(request))
            .await
            .map_err(|_| lost("no answer in time".into()))?
            .map_err(|e| lost(e.to_string()))?;
        let status = resp.status();
        let mut body = resp.into_body();
        if !status.is_success() {
            let bytes = http_body_util::Limited::new(body, 64 * 1024)
                .collect()
                .await
                .map_err(|e| lost(e.to_string()))?
                .to_bytes();
            return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(b) => Error::from_body(b, ""),
                Err(_) => lost(format!(
                    "HTTP {status}: {}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                )),
            });
        }
        let mut written = 0u64;
        loop {
            let frame = tokio::time::timeout(self.timeout, body.frame())
                .await
                .map_err(|_| lost("the answer stalled".into()))?;
            let Some(frame) = frame else { break };
            let frame = frame.map_err(|e| lost(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                out.write_all(&data)
                    .await
                    .map_err(|e| Error::Io(format!("writing the backup: {e}")))?;
                written += data.len() as u64;
            }
        }
        Ok(written)
    }

    /// Succeeds when the service answers.
    pub async fn health(&self) -> Result<()> {
        self.call(&api::Health {}).await?;
        Ok(())
    }

    /// Creates an account (`AccountExists` if taken).
    pub async fn create_account(&self, name: &str) -> Result<AccountInfo> {
        let req = api::AccountCreate {
            name: name.to_string(),
        };
        self.call(&req).await
    }

    /// All accounts with usage summed over their containers.
    pub async fn list_accounts(&self) -> Result<Vec<AccountInfo>> {
        self.call(&api::AccountList {}).await
    }

    /// Creates an access key for `account`; random key / secret are generated when `None`.
    pub async fn create_key(
        &self,
        account: &str,
        access_key: Option<&str>,
        secret_key: Option<&str>,
    ) -> Result<Credential> {
        let req = api::KeyCreate {
            account: account.to_string(),
            access_key: access_key.map(str::to_string),
            secret_key: secret_key.map(str::to_string),
        };
        self.call(&req).await
    }

    /// All access keys.
    pub async fn list_keys(&self) -> Result<Vec<Credential>> {
        self.call(&api::KeyList {}).await
    }

    /// One access key (`NoSuchCredential`).
    pub async fn get_key(&self, access_key: &str) -> Result<Credential> {
        let req = api::KeyGet {
            access_key: access_key.to_string(),
        };
        self.call(&req).await
    }

    /// Creates a container; names are global (`ContainerExists { name, owner }`).
    pub async fn create_container(
        &self,
        account: &str,
        name: &str,
        settings: &ContainerSettings,
    ) -> Result<ContainerInfo> {
        let req = api::ContainerCreate {
            account: account.to_string(),
            name: name.to_string(),
            settings: settings.clone(),
        };
        self.call(&req).await
    }

    /// A container with its usage counters (`NoSuchContainer`).
    pub async fn get_container(&self, name: &str) -> Result<ContainerInfo> {
        let req = api::ContainerGet {
            name: name.to_string(),
        };
        self.call(&req).await
    }

    /// A container as [`get_container`](Self::get_container), from the client's cache when
    /// it holds a fresh record ([`with_container_cache`](Self::with_container_cache)): the
    /// owner and settings for a request on the container's objects. Its usage counters may
    /// be as old as the cache's time to live.
    pub async fn get_container_cached(&self, name: &str) -> Result<ContainerInfo> {
        let Some(cache) = &self.containers else {
            return self.get_container(name).await;
        };
        let (hit, generation) = cache.lookup(name);
        if let Some(info) = hit {
            return Ok(info);
        }
        let info = self.get_container(name).await?;
        cache.store(&info, generation);
        Ok(info)
    }

    /// The containers of `account`, sorted by name.
    pub async fn list_containers(&self, account: &str) -> Result<Vec<ContainerInfo>> {
        let req = api::ContainerList {
            account: account.to_string(),
        };
        self.call(&req).await
    }

    /// Deletes an empty container (`ContainerNotEmpty`); in-progress uploads are aborted.
    pub async fn delete_container(&self, account: &str, name: &str) -> Result<()> {
        let req = api::ContainerDelete {
            account: account.to_string(),
            name: name.to_string(),
        };
        self.call(&req).await
    }

    /// Stores `rec` as the current version of `rec.key`; replaced chunks go to GC.
    pub async fn put_object(&self, container: &str, rec: &ObjectRecord) -> Result<Stored> {
        self.put_object_if(container, rec, &PutCondition::default())
            .await
    }

    /// Stores `rec` if `cond` holds against the current version (`PreconditionFailed`).
    pub async fn put_object_if(
        &self,
        container: &str,
        rec: &ObjectRecord,
        cond: &PutCondition,
    ) -> Result<Stored> {
        self.put_object_wanting(container, rec, cond, 0).await
    }

    /// [`MetaClient::put_object_if`], saying how many pieces per chunk the policy asks for
    /// (chunks stored with fewer are queued for repair).
    pub async fn put_object_wanting(
        &self,
        container: &str,
        rec: &ObjectRecord,
        cond: &PutCondition,
        pieces_wanted: u32,
    ) -> Result<Stored> {
        let req = api::ObjectPut {
            container: container.to_string(),
            record: rec.clone(),
            condition: cond.clone(),
            pieces_wanted,
        };
        self.call(&req).await
    }

    /// The current object under `key` (`NoSuchObject`).
    pub async fn get_object(&self, container: &str, key: &str) -> Result<ObjectRecord> {
        self.get_object_version(container, key, None).await
    }

    /// The current version of `key` or the named one (`NoSuchVersion`; delete markers come
    /// back as records with `delete_marker` set).
    pub async fn get_object_version(
        &self,
        container: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<ObjectRecord> {
        let req = api::ObjectGet {
            container: container.to_string(),
            key: key.to_string(),
            version_id: version_id.map(str::to_string),
        };
        self.call(&req).await
    }

    /// Gives up on a write whose commit answer never came (see `Store::abandon_write`): the
    /// id of the version holding `content_id` if meta recorded it after all; otherwise meta
    /// refuses that commit from now on and queues `chunks` for deletion (`None`).
    pub async fn abandon_write(
        &self,
        container: &str,
        key: &str,
        content_id: &str,
        chunks: &[ChunkCopy],
    ) -> Result<Option<String>> {
        let req = api::ObjectAbandon {
            container: container.to_string(),
            key: key.to_string(),
            content_id: content_id.to_string(),
            chunks: chunks.to_vec(),
        };
        let answer: api::Abandoned = self.call(&req).await?;
        Ok(answer.recorded_version)
    }

    /// Deletes the object (a delete marker in a versioned container); returns the removed
    /// current record (`None` if there was none or a marker was added).
    pub async fn delete_object(&self, container: &str, key: &str) -> Result<Option<ObjectRecord>> {
        Ok(self
            .delete_version(container, key, None, false)
            .await?
            .removed)
    }

    /// Deletes `key` or one version of it; a version under object lock is refused
    /// (`ObjectLocked`) unless only a GOVERNANCE retention holds it and `bypass_governance`.
    pub async fn delete_version(
        &self,
        container: &str,
        key: &str,
        version_id: Option<&str>,
        bypass_governance: bool,
    ) -> Result<DeleteOutcome> {
        let req = api::ObjectDelete {
            container: container.to_string(),
            key: key.to_string(),
            version_id: version_id.map(str::to_string),
            bypass_governance,
        };
        self.call(&req).await
    }

    /// Changes a version's properties in place (the current one when `version_id` is
    /// `None`); returns the record. Meta refuses a change that weakens an active retention
    /// unless `bypass_governance` (for GOVERNANCE).
    pub async fn change_object_props(
        &self,
        container: &str,
        key: &str,
        version_id: Option<&str>,
        changes: Vec<VersionChange>,
        bypass_governance: bool,
    ) -> Result<ObjectRecord> {
        let req = api::ObjectPropsChange {
            container: container.to_string(),
            key: key.to_string(),
            version_id: version_id.map(str::to_string),
            changes,
            bypass_governance,
        };
        self.call(&req).await
    }

    /// ListObjectVersions.
    pub async fn list_versions(
        &self,
        container: &str,
        req: &VersionListRequest,
    ) -> Result<VersionListReply> {
        let req = api::VersionList {
            container: container.to_string(),
            request: req.clone(),
        };
        self.call(&req).await
    }

    /// Sets a container's versioning state.
    pub async fn set_versioning(&self, name: &str, state: Versioning) -> Result<()> {
        let req = api::VersioningSet {
            name: name.to_string(),
            state,
        };
        self.call(&req).await
    }

    /// A container's versioning state.
    pub async fn get_versioning(&self, name: &str) -> Result<Versioning> {
        let req = api::VersioningGet {
            name: name.to_string(),
        };
        self.call(&req).await
    }

    /// Lists objects (prefix, delimiter, after, end_before, max_keys).
    pub async fn list_objects(&self, container: &str, req: &ListRequest) -> Result<ListReply> {
        let req = api::ObjectList {
            container: container.to_string(),
            request: req.clone(),
        };
        self.call(&req).await
    }

    /// Records a new multipart upload.
    pub async fn create_upload(&self, container: &str, rec: &UploadRecord) -> Result<()> {
        let req = api::UploadCreate {
            container: container.to_string(),
            record: rec.clone(),
        };
        self.call(&req).await
    }

    /// One multipart upload (`NoSuchUpload`).
    pub async fn get_upload(&self, container: &str, upload_id: &str) -> Result<UploadRecord> {
        let req = api::UploadGet {
            container: container.to_string(),
            upload_id: upload_id.to_string(),
        };
        self.call(&req).await
    }

    /// Stores (or replaces) one part; a replaced part's chunks go to GC.
    pub async fn put_part(
        &self,
        container: &str,
        upload_id: &str,
        part: &PartRecord,
    ) -> Result<()> {
        self.put_part_wanting(container, upload_id, part, 0).await
    }

    /// [`MetaClient::put_part`], saying how many pieces per chunk the policy asks for.
    pub async fn put_part_wanting(
        &self,
        container: &str,
        upload_id: &str,
        part: &PartRecord,
        pieces_wanted: u32,
    ) -> Result<()> {
        let req = api::PartPut {
            container: container.to_string(),
            upload_id: upload_id.to_string(),
            part: part.clone(),
            pieces_wanted,
        };
        self.call(&req).await
    }

    /// Parts with numbers greater than `marker`, at most `max_parts` (0 → 1000).
    pub async fn list_parts(
        &self,
        container: &str,
        upload_id: &str,
        marker: Option<u32>,
        max_parts: u32,
    ) -> Result<ListPartsReply> {
        let req = api::PartList {
            container: container.to_string(),
            upload_id: upload_id.to_string(),
            marker,
            max_parts,
        };
        self.call(&req).await
    }

    /// Completes a multipart upload into an object, which is returned.
    pub async fn complete_upload(
        &self,
        container: &str,
        upload_id: &str,
        req: &CompleteRequest,
    ) -> Result<ObjectRecord> {
        let req = api::UploadComplete {
            container: container.to_string(),
            upload_id: upload_id.to_string(),
            request: req.clone(),
        };
        self.call(&req).await
    }

    /// Aborts a multipart upload; its parts' chunks go to GC.
    pub async fn abort_upload(&self, container: &str, upload_id: &str) -> Result<()> {
        let req = api::UploadAbort {
            container: container.to_string(),
            upload_id: upload_id.to_string(),
        };
        self.call(&req).await
    }

    /// Lists in-progress multipart uploads.
    pub async fn list_uploads(
        &self,
        container: &str,
        req: &ListUploadsRequest,
    ) -> Result<ListUploadsReply> {
        let req = api::UploadList {
            container: container.to_string(),
            request: req.clone(),
        };
        self.call(&req).await
    }

    /// Queues chunks for deletion (orphans of a failed write).
    pub async fn queue_gc(&self, chunks: &[ChunkCopy]) -> Result<()> {
        let req = api::GcQueue {
            chunks: chunks.to_vec(),
        };
        self.call(&req).await
    }

    /// Each chunk server's GC backlog: entries due and entries still in their grace period.
    pub async fn gc_backlog(&self) -> Result<Vec<GcBacklog>> {
        self.call(&api::GcBacklogGet {}).await
    }

    /// Registers / refreshes a service; the answer lists chunks it must delete.
    pub async fn heartbeat(&self, hb: &Heartbeat) -> Result<HeartbeatReply> {
        self.call(hb).await
    }

    /// Services (optionally of one kind) with their live scores.
    pub async fn list_services(&self, kind: Option<&str>) -> Result<Vec<ServiceRecord>> {
        let req = api::ServiceList {
            kind: kind.map(str::to_string),
        };
        self.call(&req).await
    }

    /// Forces a service's score (0..=100) until unlocked (`NoSuchService`).
    pub async fn lock_service(&self, id: &str, score: u8) -> Result<ServiceRecord> {
        let req = api::ServiceLock {
            id: id.to_string(),
            score,
        };
        self.call(&req).await
    }

    /// Lets the conscience score a locked service again (`NoSuchService`).
    pub async fn unlock_service(&self, id: &str) -> Result<ServiceRecord> {
        let req = api::ServiceUnlock { id: id.to_string() };
        self.call(&req).await
    }

    /// Unlocks every locked service; returns how many were locked.
    pub async fn unlock_all(&self) -> Result<u32> {
        let a: api::Unlocked = self.call(&api::ServiceUnlockAll {}).await?;
        Ok(a.count)
    }

    /// Validates (on the server) and stores a storage-policy file; a bad file is
    /// `InvalidArgument` with the parser's message. It takes effect without restarts.
    pub async fn apply_policy(&self, text: &str) -> Result<()> {
        let req = api::PolicyApply {
            text: text.to_string(),
        };
        let _: api::Empty = self.call(&req).await?;
        Ok(())
    }

    /// The applied storage-policy file (TOML text), or `None` for the built-in default.
    pub async fn get_policy(&self) -> Result<Option<String>> {
        let a: api::PolicyAnswer = self.call(&api::PolicyGet {}).await?;
        Ok(a.text)
    }

    /// Sets (or clears with `None`) a container's default storage policy; with an applied
    /// policy file the name must exist in it (`InvalidArgument`).
    pub async fn set_container_policy(
        &self,
        name: &str,
        policy: Option<&str>,
    ) -> Result<ContainerInfo> {
        let req = api::ContainerSetPolicy {
            name: name.to_string(),
            policy: policy.map(str::to_string),
        };
        self.call(&req).await
    }

    /// Creates a Swift user `account:user` with `key` (`NoSuchAccount`; `CredentialExists`
    /// when the user exists).
    pub async fn create_swift_user(
        &self,
        account: &str,
        user: &str,
        key: &str,
        admin: bool,
    ) -> Result<SwiftUser> {
        let req = api::SwiftUserCreate {
            account: account.to_string(),
            user: user.to_string(),
            key: key.to_string(),
            admin,
        };
        self.call(&req).await
    }

    /// One Swift user (`NoSuchCredential`).
    pub async fn get_swift_user(&self, account: &str, user: &str) -> Result<SwiftUser> {
        let req = api::SwiftUserGet {
            account: account.to_string(),
            user: user.to_string(),
        };
        self.call(&req).await
    }

    /// Issues a new token (`AUTH_tk` + 32 hex) for an existing Swift user, valid `ttl_secs`
    /// (`NoSuchCredential` when the user does not exist).
    pub async fn create_token(
        &self,
        account: &str,
        user: &str,
        ttl_secs: u64,
    ) -> Result<SwiftToken> {
        let req = api::TokenCreate {
            account: account.to_string(),
            user: user.to_string(),
            ttl_secs,
        };
        self.call(&req).await
    }

    /// A valid token (`NoSuchCredential` if unknown or expired).
    pub async fn get_token(&self, token: &str) -> Result<SwiftToken> {
        let req = api::TokenGet {
            token: token.to_string(),
        };
        self.call(&req).await
    }

    /// One account with its usage and metadata (`NoSuchAccount`).
    pub async fn get_account(&self, name: &str) -> Result<AccountInfo> {
        let req = api::AccountGet {
            name: name.to_string(),
        };
        self.call(&req).await
    }

    /// Sets the entries of `set`, then removes the names in `remove`, from the account's
    /// metadata; returns the updated account (`NoSuchAccount`).
    pub async fn update_account_meta(
        &self,
        name: &str,
        set: &BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<AccountInfo> {
        let req = api::AccountMeta {
            name: name.to_string(),
            set: set.clone(),
            remove: remove.to_vec(),
        };
        self.call(&req).await
    }

    /// Applies `changes` to the container's settings, in order; returns the updated container
    /// (`NoSuchContainer`).
    pub async fn set_container_settings(
        &self,
        name: &str,
        changes: Vec<SettingChange>,
    ) -> Result<ContainerInfo> {
        let req = api::ContainerSettingsSet {
            name: name.to_string(),
            changes,
        };
        self.call(&req).await
    }
}
