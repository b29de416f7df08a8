//! A TCP proxy a test controls, to cut network links between processes on loopback.
//!
//! [`Proxy::start`] listens on a fresh loopback port and forwards each connection to its
//! target, which is looked up when the connection arrives (so a proxy can be made before the
//! process it leads to has chosen its port). [`Proxy::cut`] closes every connection in
//! progress and leaves new ones hanging unanswered (as a partitioned network does: the
//! caller's own timeouts decide when it gives up) until [`Proxy::restore`], which closes
//! them too. [`Links`] keeps one proxy per directed link of a group of nodes, so a test can
//! isolate one node from the others.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Where a connection goes: asked for each new connection; `None` refuses it (closed at once).
pub type Target = Arc<dyn Fn() -> Option<SocketAddr> + Send + Sync>;

/// How long a connection to the target may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// One proxy (a listener and its connections); dropping it stops everything.
pub struct Proxy {
    addr: SocketAddr,
    /// `true`: the link is cut.
    cut: watch::Sender<bool>,
    stats: Arc<Stats>,
    accept: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Default)]
struct Stats {
    connections: AtomicU64,
    bytes: AtomicU64,
}

impl Proxy {
    /// Listens on a free loopback port; must be called inside a Tokio runtime.
    pub async fn start(target: Target) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (cut, cut_rx) = watch::channel(false);
        let stats = Arc::new(Stats::default());
        let accept = tokio::spawn(accept_loop(listener, target, cut_rx, stats.clone()));
        Ok(Proxy {
            addr,
            cut,
            stats,
            accept,
        })
    }

    /// A proxy to a fixed address.
    pub async fn to(target: SocketAddr) -> std::io::Result<Proxy> {
        Proxy::start(Arc::new(move || Some(target))).await
    }

    /// The address to connect to instead of the target.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cuts the link: open connections are closed, new ones hang until [`Proxy::restore`].
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Restores the link: new connections are forwarded again.
    pub fn restore(&self) {
        self.cut.send_replace(false);
    }

    pub fn is_cut(&self) -> bool {
        *self.cut.borrow()
    }

    /// Connections forwarded so far.
    pub fn connections(&self) -> u64 {
        self.stats.connections.load(Ordering::Relaxed)
    }

    /// Bytes forwarded so far (both ways).
    pub fn bytes(&self) -> u64 {
        self.stats.bytes.load(Ordering::Relaxed)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut.send_replace(true);
        self.accept.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    target: Target,
    cut: watch::Receiver<bool>,
    stats: Arc<Stats>,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            // Out of descriptors or the like: try again shortly rather than spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let (target, cut, stats) = (target.clone(), cut.clone(), stats.clone());
        tokio::spawn(async move {
            if *cut.borrow() {
                hold(client, cut).await;
                return;
            }
            let Some(to) = target() else { return };
            let Ok(Ok(server)) =
                tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(to)).await
            else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            stats.connections.fetch_add(1, Ordering::Relaxed);
            forward(client, server, cut, &stats).await;
        });
    }
}

/// Keeps a connection made while the link is cut open and silent (reading and dropping what
/// arrives) until the link is restored or the peer gives up.
async fn hold(mut client: TcpStream, mut cut: watch::Receiver<bool>) {
    let mut sink = [0u8; 4096];
    loop {
        tokio::select! {
            changed = cut.wait_for(|c| !*c) => {
                let _ = changed;
                return;
            }
            n = client.read(&mut sink) => match n {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
        }
    }
}

/// Copies both ways until either side closes or the link is cut.
async fn forward(
    mut client: TcpStream,
    mut server: TcpStream,
    mut cut: watch::Receiver<bool>,
    stats: &Stats,
) {
    tokio::select! {
        r = tokio::io::copy_bidirectional(&mut client, &mut server) => {
            if let Ok((a, b)) = r {
                stats.bytes.fetch_add(a + b, Ordering::Relaxed);
            }
        }
        _ = cut.wait_for(|c| *c) => {}
    }
}

/// One proxy per directed link between nodes `1..=n`: node `from` reaches node `to` through
/// `link(from, to)`.
pub struct Links {
    links: BTreeMap<(u64, u64), Proxy>,
}

impl Links {
    /// Proxies for every ordered pair of distinct ids in `ids`; `target(to)` finds node
    /// `to`'s real address (asked per connection).
    pub async fn start(
        ids: &[u64],
        target: impl Fn(u64) -> Option<SocketAddr> + Send + Sync + 'static,
    ) -> std::io::Result<Links> {
        let target = Arc::new(target);
        let mut links = BTreeMap::new();
        for &from in ids {
            for &to in ids {
                if from != to {
                    let t = target.clone();
                    links.insert((from, to), Proxy::start(Arc::new(move || t(to))).await?);
                }
            }
        }
        Ok(Links { links })
    }

    /// The proxy `from` uses to reach `to`.
    pub fn link(&self, from: u64, to: u64) -> Option<&Proxy> {
        self.links.get(&(from, to))
    }

    /// Meta's `SPREAD_META_RAFT_PEERS` value routing every node's Raft messages through these
    /// proxies (`FROM>TO=ADDR,...`).
    pub fn raft_peers_var(&self) -> String {
        self.links
            .iter()
            .map(|((from, to), p)| format!("{from}>{to}={}", p.addr()))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Cuts every link to and from `node`.
    pub fn isolate(&self, node: u64) {
        for ((from, to), p) in &self.links {
            if *from == node || *to == node {
                p.cut();
            }
        }
    }

    /// Restores every link.
    pub fn heal(&self) {
        for p in self.links.values() {
            p.restore();
        }
    }

    /// Connections forwarded so far over each link.
    pub fn connections(&self) -> BTreeMap<(u64, u64), u64> {
        self.links
            .iter()
            .map(|(k, p)| (*k, p.connections()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// An echo server on loopback; its address.
    async fn echo() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = l.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    async fn roundtrip(s: &mut TcpStream, msg: &[u8]) -> std::io::Result<Vec<u8>> {
        s.write_all(msg).await?;
        let mut buf = vec![0u8; msg.len()];
        tokio::time::timeout(Duration::from_millis(500), s.read_exact(&mut buf))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer"))??;
        Ok(buf)
    }

    #[tokio::test]
    async fn forwards_cuts_and_restores() {
        let proxy = Proxy::to(echo().await).await.expect("proxy");
        let mut a = TcpStream::connect(proxy.addr()).await.expect("connect");
        assert_eq!(roundtrip(&mut a, b"hello").await.expect("echo"), b"hello");
        proxy.cut();
        // The open connection is closed...
        let mut buf = [0u8; 1];
        let closed = tokio::time::timeout(Duration::from_secs(2), a.read(&mut buf)).await;
        assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "{closed:?}");
        // ... and a new one is accepted but never answered.
        let mut b = TcpStream::connect(proxy.addr()).await.expect("connect");
        assert!(roundtrip(&mut b, b"lost").await.is_err());
        proxy.restore();
        let mut c = TcpStream::connect(proxy.addr()).await.expect("connect");
        assert_eq!(roundtrip(&mut c, b"again").await.expect("echo"), b"again");
        assert_eq!(proxy.connections(), 2);
    }

    #[tokio::test]
    async fn links_isolate_one_node() {
        let target = echo().await;
        let links = Links::start(&[1, 2, 3], move |_| Some(target))
            .await
            .expect("links");
        assert!(links.raft_peers_var().contains("1>2=127.0.0.1:"));
        assert_eq!(links.raft_peers_var().split(',').count(), 6);
        links.isolate(1);
        for (from, to) in [(1, 2), (2, 1), (1, 3), (3, 1)] {
            assert!(links.link(from, to).expect("link").is_cut());
        }
        for (from, to) in [(2, 3), (3, 2)] {
            let p = links.link(from, to).expect("link");
            let mut s = TcpStream::connect(p.addr()).await.expect("connect");
            assert_eq!(roundtrip(&mut s, b"x").await.expect("echo"), b"x");
        }
        links.heal();
        let p = links.link(1, 2).expect("link");
        let mut s = TcpStream::connect(p.addr()).await.expect("connect");
        assert_eq!(roundtrip(&mut s, b"y").await.expect("echo"), b"y");
    }
}
