//! Raft messages between meta nodes: `POST /v1/raft/{append,vote,snapshot}` on the peer's
//! meta listener, JSON both ways; the answer is the receiving node's `Result` as openraft
//! returned it. Snapshots go as openraft's chunked `InstallSnapshot` requests (bounded by
//! `snapshot_max_chunk_size`), so neither side holds a whole snapshot in memory.

use super::TypeConfig;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use internal_auth::Signer;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{AnyError, BasicNode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub const APPEND_PATH: &str = "/v1/raft/append";
pub const VOTE_PATH: &str = "/v1/raft/vote";
pub const SNAPSHOT_PATH: &str = "/v1/raft/snapshot";

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

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> Peer {
        Peer {
            target,
            addr: self
                .peers
                .get(&target)
                .cloned()
                .unwrap_or_else(|| node.addr.clone()),
            http: self.http.clone(),
            signer: self.signer.clone(),
        }
    }
}

/// One peer.
pub struct Peer {
    target: u64,
    addr: String,
    http: Client<HttpConnector, Full<Bytes>>,
    signer: Option<Arc<Signer>>,
}

type Rpc<T, E> = Result<T, RPCError<u64, BasicNode, E>>;

impl Peer {
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
            .uri(format!("http://{}{path}", self.addr))
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
                    BasicNode::new(&self.addr),
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
