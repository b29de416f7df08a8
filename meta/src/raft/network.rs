//! Raft messages between meta nodes: `POST /v1/raft/{append,vote,snapshot}` on the peer's
//! meta listener, JSON both ways; the answer is the receiving node's `Result` as openraft
//! returned it. Snapshots go as openraft's chunked `InstallSnapshot` requests (bounded by
//! `snapshot_max_chunk_size`), so neither side holds a whole snapshot in memory.

use super::MetaNode;
use super::TypeConfig;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use internal_auth::Signer;
use openraft::AnyError;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub const APPEND_PATH: &str = "/v1/raft/append";
pub const VOTE_PATH: &str = "/v1/raft/vote";
pub const SNAPSHOT_PATH: &str = "/v1/raft/snapshot";
/// A node's identity (`Identity`), asked by the leader before it adds the node.
pub const IDENTITY_PATH: &str = "/v1/raft/identity";

/// Version of [`Identity`]'s encoding: 2 added `member`.
pub const IDENTITY_VERSION: u32 = 2;

/// Who a meta node is: its id and its data directory's incarnation ([`MetaNode`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Identity {
    pub v: u32,
    pub node_id: u64,
    pub incarnation: u64,
    /// Whether the node knows of a group (its membership names any node): a group's member,
    /// or a node being added to one. Absent from v1 answers, which therefore cannot tell.
    #[serde(default)]
    pub member: bool,
}

/// What asking an address who it is gave.
#[derive(Debug)]
pub enum Asked {
    /// A meta node answered.
    Identity(Identity),
    /// Nothing answered (refused, or no answer in time): no node runs there now.
    Unreachable(String),
    /// Something answered, but not an identity (an error, another version's answer).
    Failed(String),
}

/// The query a Raft message carries to name the node it is meant for: `to=ID`, and
/// `incarnation=HEX` when the sender knows it. Part of the signed URI.
pub fn target_query(id: u64, incarnation: u64) -> String {
    if incarnation == 0 {
        format!("to={id}")
    } else {
        format!("to={id}&incarnation={incarnation:016x}")
    }
}

/// The target a Raft message's query names (`None` for a query without `to`, as older
/// senders send): its id and incarnation (0: not given).
pub fn parse_target_query(query: Option<&str>) -> Result<Option<(u64, u64)>, String> {
    let Some(query) = query else {
        return Ok(None);
    };
    let (mut to, mut incarnation) = (None, 0);
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("to", v)) => {
                to = Some(v.parse::<u64>().map_err(|_| format!("bad node id `{v}`"))?);
            }
            Some(("incarnation", v)) => {
                incarnation =
                    u64::from_str_radix(v, 16).map_err(|_| format!("bad incarnation `{v}`"))?;
            }
            _ => {}
        }
    }
    Ok(to.map(|id| (id, incarnation)))
}

/// Largest answer accepted from a peer.
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// Makes the connections to peers (one shared HTTP pool).
#[derive(Clone)]
pub struct Network {
    http: Client<HttpConnector, Full<Bytes>>,
    /// Signs every message (`None`: a group running without internal authentication).
    signer: Option<Arc<Signer>>,
    /// Where to reach a peer when not at its membership address (meta's `raft_peers`).
    peers: Arc<BTreeMap<u64, String>>,
}

impl Network {
    pub fn new(signer: Option<Signer>, peers: BTreeMap<u64, String>) -> Network {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(2)));
        connector.set_nodelay(true);
        Network {
            http: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(60))
                .build(connector),
            signer: signer.map(Arc::new),
            peers: Arc::new(peers),
        }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: u64, node: &MetaNode) -> Peer {
        self.peer(target, node)
    }
}

impl Network {
    fn peer(&self, target: u64, node: &MetaNode) -> Peer {
        Peer {
            target,
            incarnation: node.incarnation,
            addr: self
                .peers
                .get(&target)
                .cloned()
                .unwrap_or_else(|| node.addr.clone()),
            http: self.http.clone(),
            signer: self.signer.clone(),
        }
    }

    /// Asks node `target` (at `addr`, or where meta's `raft_peers` says) who it is.
    pub async fn identity(&self, target: u64, addr: &str) -> Result<Identity, String> {
        let peer = self.peer(target, &MetaNode::new(addr, 0));
        match peer.ask_identity().await {
            Asked::Identity(identity) => Ok(identity),
            Asked::Unreachable(e) | Asked::Failed(e) => Err(e),
        }
    }

    /// Asks whatever answers at `addr` (taken as it is) who it is, not knowing its id.
    pub async fn identity_at(&self, addr: &str) -> Asked {
        Peer {
            target: 0,
            incarnation: 0,
            addr: addr.to_string(),
            http: self.http.clone(),
            signer: self.signer.clone(),
        }
        .ask_identity()
        .await
    }
}

/// One peer.
pub struct Peer {
    target: u64,
    /// The target's incarnation as the membership knows it (0: unknown).
    incarnation: u64,
    addr: String,
    http: Client<HttpConnector, Full<Bytes>>,
    signer: Option<Arc<Signer>>,
}

type Rpc<T, E> = Result<T, RPCError<u64, MetaNode, E>>;

impl Peer {
    async fn ask_identity(&self) -> Asked {
        let option = RPCOption::new(Duration::from_secs(5));
        let answer: Rpc<Identity, openraft::error::Infallible> =
            self.send(IDENTITY_PATH, &(), &option).await;
        match answer {
            Ok(identity) if identity.v > IDENTITY_VERSION => Asked::Failed(format!(
                "{} answered an identity of version {}, this binary knows up to {IDENTITY_VERSION}",
                self.addr, identity.v
            )),
            Ok(identity) => Asked::Identity(identity),
            Err(RPCError::Unreachable(e)) => {
                Asked::Unreachable(format!("asking {} who it is: {e}", self.addr))
            }
            Err(e) => Asked::Failed(format!("asking {} who it is: {e}", self.addr)),
        }
    }

    async fn send<Q, A, E>(&self, path: &str, req: &Q, option: &RPCOption) -> Rpc<A, E>
    where
        Q: Serialize,
        A: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let body = serde_json::to_vec(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let content = self
            .signer
            .as_ref()
            .map(|_| internal_auth::content_hash(&body));
        let mut request = http::Request::builder()
            .method(http::Method::POST)
            .uri(format!(
                "http://{}{path}?{}",
                self.addr,
                target_query(self.target, self.incarnation)
            ))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        if let (Some(signer), Some(content)) = (&self.signer, content) {
            let uri = request.uri().clone();
            let method = request.method().clone();
            signer
                .sign_headers(request.headers_mut(), &method, &uri, &content)
                .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        }
        let exchange = async {
            let resp = self.http.request(request).await.map_err(|e| {
                if e.is_connect() {
                    RPCError::Unreachable(Unreachable::new(&e))
                } else {
                    RPCError::Network(NetworkError::new(&e))
                }
            })?;
            let status = resp.status();
            let bytes = Limited::new(resp.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| RPCError::Network(NetworkError::from(AnyError::error(e))))?
                .to_bytes();
            if !status.is_success() {
                let text = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
                return Err(RPCError::Network(NetworkError::from(AnyError::error(
                    format!("{}: HTTP {status}: {text}", self.addr),
                ))));
            }
            let answer: Result<A, E> = serde_json::from_slice(&bytes)
                .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
            answer.map_err(|e| {
                RPCError::RemoteError(RemoteError::new_with_node(
                    self.target,
                    MetaNode::new(&self.addr, self.incarnation),
                    e,
                ))
            })
        };
        match tokio::time::timeout(option.hard_ttl(), exchange).await {
            Ok(r) => r,
            Err(_) => Err(RPCError::Unreachable(Unreachable::from(AnyError::error(
                format!("{}: no answer within {:?}", self.addr, option.hard_ttl()),
            )))),
        }
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Rpc<AppendEntriesResponse<u64>, RaftError<u64>> {
        self.send(APPEND_PATH, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Rpc<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>> {
        self.send(SNAPSHOT_PATH, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Rpc<VoteResponse<u64>, RaftError<u64>> {
        self.send(VOTE_PATH, &rpc, &option).await
    }
}
