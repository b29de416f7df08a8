//! `spread dev`: a whole cluster on one machine — meta, N chunk servers and the gateway (S3 and
//! Swift endpoints) as child processes of this binary — with its addresses kept in `DIR/cluster.toml` so a restart on
//! the same directory finds every object again.

pub mod children;
pub mod configs;
pub mod probe;
pub mod tls;

use crate::cli::DevArgs;
use crate::cluster::{
    self, ChunkdEntry, ClusterFile, GatewayEntry, MetaEntry, MetaNodeEntry, PortPlan,
};
use crate::error::{Error, Result};
use crate::signals::Shutdown;
use children::Children;
use meta_api::client::MetaClient;
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Name of the account `spread dev` creates.
pub const DEV_ACCOUNT: &str = "dev";
/// Swift user (admin of [`DEV_ACCOUNT`]) `spread dev` creates; its key is the dev secret key.
pub const DEV_SWIFT_USER: &str = "admin";
/// How long each startup step may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long children get to stop after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How often the children are checked while the cluster runs.
const WATCH_EVERY: Duration = Duration::from_millis(500);

/// Runs the dev cluster until SIGINT / SIGTERM.
pub async fn run(mut args: DevArgs) -> Result<()> {
    let mut shutdown = Shutdown::install();
    let dir = std::path::absolute(&args.data_dir).map_err(|e| Error::file(&args.data_dir, e))?;
    for sub in [dir.clone(), dir.join("logs")] {
        std::fs::create_dir_all(&sub).map_err(|e| Error::file(&sub, e))?;
    }
    if args.s3_listen.port() == 0 {
        args.s3_listen =
            SocketAddr::new(args.s3_listen.ip(), cluster::free_loopback_addr()?.port());
    }
    if args.swift_listen.port() == 0 {
        args.swift_listen = SocketAddr::new(
            args.swift_listen.ip(),
            cluster::free_loopback_addr()?.port(),
        );
    }
    if args.replicas > args.chunkd {
        tracing::warn!(
            "{} replicas but only {} chunk servers: writes need a quorum of distinct servers",
            args.replicas,
            args.chunkd
        );
    }
    // A bad policy file stops everything before any process starts.
    let policy_text = match &args.policy {
        Some(path) => Some(crate::admin::policy::load(path)?.0),
        None => None,
    };
    let hosts = configs::host_count(&args);
    let cluster_path = dir.join("cluster.toml");
    let previous = if cluster_path.exists() {
        let p = ClusterFile::load(&cluster_path).map_err(|e| {
            Error::Startup(format!("{e} (remove the file to start with new ports)"))
        })?;
        Some(p)
    } else {
        None
    };
    // Fewer nodes than the group has would leave node 1 without a quorum, waiting forever.
    if let Some(p) = &previous {
        let had = p.meta_nodes.len();
        if had > usize::from(args.meta) {
            return Err(Error::Usage(format!(
                "{} holds a group of {had} meta nodes; start it with --meta {had} \
                 (SPREAD_META_NODES), or use a new --data-dir",
                dir.display()
            )));
        }
    }
    let mut plan = cluster::plan_ports(
        previous.as_ref(),
        usize::from(args.chunkd),
        cluster::free_loopback_addr,
    )?;
    plan.plan_meta_peers(
        previous.as_ref(),
        usize::from(args.meta),
        cluster::free_loopback_addr,
    )?;
    check_free(&plan, args.s3_listen, args.swift_listen)?;
    let admin = admin_addr(previous.as_ref(), &plan, &args)?;
    let access_log = dir.join("logs").join("access.log");
    let mut gateway_cfg = configs::gateway_config(&args, &plan.meta_list(), admin, &access_log)?;
    gateway_cfg.sse_key_file = Some(configs::ensure_sse_key(&dir)?);
    // `--tls`: HTTPS on the S3 and Swift listeners, a test CA in DIR/tls/.
    let dev_tls = if args.tls {
        Some(tls::prepare(&dir, &tls::server_names(&args))?)
    } else {
        None
    };
    if let Some(t) = &dev_tls {
        gateway_cfg.tls_cert_file = Some(t.cert.clone());
        gateway_cfg.tls_key_file = Some(t.key.clone());
    }
    let paths = configs::write_all(&dir, &plan, &gateway_cfg, hosts, &args)?;

    let exe = std::env::current_exe()
        .map_err(|e| Error::Startup(format!("cannot find the spread executable: {e}")))?;
    let mut children = Children::new(exe, dir.join("logs"));
    let started = tokio::select! {
        r = start(&args, &dir, &plan, &paths, &mut children, policy_text.as_deref(), hosts) => Some(r),
        sig = shutdown.wait() => {
            tracing::info!("{sig} received during startup, stopping");
            None
        }
    };
    let mut file = match started {
        Some(Ok(file)) => file,
        Some(Err(e)) => {
            children.stop_all(STOP_GRACE).await;
            return Err(e);
        }
        None => {
            children.stop_all(STOP_GRACE).await;
            return Ok(());
        }
    };
    file.gateway.admin_addr = Some(admin.to_string());
    file.gateway.access_log = Some(access_log.clone());
    if let Err(e) = file.save(&cluster_path) {
        children.stop_all(STOP_GRACE).await;
        return Err(e);
    }
    tracing::info!(cluster = %cluster_path.display(), "cluster ready");
    announce(
        &args,
        admin,
        &access_log,
        dev_tls.as_ref().map(|t| t.ca.as_path()),
    );

    let mut tick = tokio::time::interval(WATCH_EVERY);
    let sig = loop {
        tokio::select! {
            sig = shutdown.wait() => break sig,
            _ = tick.tick() => {
                for (name, status) in children.reap() {
                    tracing::warn!(
                        "{name} exited on its own ({status}); the cluster keeps running (see {})",
                        children.log_path(&name).display()
                    );
                }
            }
        }
    };
    tracing::info!("{sig} received, stopping the cluster");
    children.stop_all(STOP_GRACE).await;
    tracing::info!("cluster stopped");
    Ok(())
}

/// The stdout lines tests and users wait for: the S3 endpoint, then the Swift one, then the
/// gateway's admin listener and access log; with TLS (`ca`: the CA to trust), https
/// endpoints and a last line naming the CA.
fn announce_lines(
    args: &DevArgs,
    admin: SocketAddr,
    access_log: &Path,
    ca: Option<&Path>,
) -> String {
    let scheme = if ca.is_some() { "https" } else { "http" };
    let mut text = format!(
        "S3 endpoint: {scheme}://{}  access key: {}  secret key: {}\n\
         Swift endpoint: {scheme}://{}/auth/v1.0  user: {DEV_ACCOUNT}:{DEV_SWIFT_USER}  key: {}\n\
         Gateway admin: http://{admin}/console (also /metrics, /health, /ready)  access log: {}\n",
        args.s3_listen,
        args.access_key,
        args.secret_key,
        args.swift_listen,
        args.secret_key,
        access_log.display()
    );
    if let Some(ca) = ca {
        text.push_str(&format!(
            "TLS CA: {}  (e.g. aws --ca-bundle, rclone --ca-cert, curl --cacert)\n",
            ca.display()
        ));
    }
    text
}

/// The address of the gateway's admin listener: the one of a former `cluster.toml`, else a
/// free loopback port (on the S3 endpoint's address when that is a loopback one).
fn admin_addr(
    previous: Option<&ClusterFile>,
    plan: &PortPlan,
    args: &DevArgs,
) -> Result<SocketAddr> {
    if let Some(text) = previous.and_then(|p| p.gateway.admin_addr.as_deref()) {
        let addr: SocketAddr = text.parse().map_err(|_| {
            Error::Usage(format!("cluster.toml: bad gateway admin address {text:?}"))
        })?;
        check_one_free(addr, "gateway admin listener")?;
        return Ok(addr);
    }
    let mut taken = vec![args.s3_listen, args.swift_listen, plan.meta];
    taken.extend(&plan.meta_peers);
    taken.extend(&plan.chunkd);
    for _ in 0..20 {
        let addr = cluster::free_loopback_addr()?;
        if !taken.iter().any(|t| t.port() == addr.port()) {
            return Ok(addr);
        }
    }
    Err(Error::Startup(
        "no free port found for the gateway admin listener".to_string(),
    ))
}

/// Fails with a clear message if `addr` (for `what`) is taken.
fn check_one_free(addr: SocketAddr, what: &str) -> Result<()> {
    TcpListener::bind(addr).map(drop).map_err(|e| {
        Error::Startup(format!(
            "address {addr} for {what} is not available: {e} (is another spread dev running?)"
        ))
    })
}

/// Prints [`announce_lines`].
fn announce(args: &DevArgs, admin: SocketAddr, access_log: &Path, ca: Option<&Path>) {
    let mut out = std::io::stdout().lock();
    let text = announce_lines(args, admin, access_log, ca);
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        tracing::warn!("cannot write to stdout: {e}");
    }
}

/// Fails with a clear message if an address we are about to use is taken.
fn check_free(plan: &PortPlan, s3: SocketAddr, swift: SocketAddr) -> Result<()> {
    let mut all = vec![
        (s3, "S3 endpoint (--s3-listen)".to_string()),
        (swift, "Swift endpoint (--swift-listen)".to_string()),
        (plan.meta, "meta".into()),
    ];
    for (i, a) in plan.meta_peers.iter().enumerate() {
        all.push((*a, configs::meta_name(i + 2)));
    }
    for (i, a) in plan.chunkd.iter().enumerate() {
        all.push((*a, configs::chunkd_name(i)));
    }
    for (addr, what) in all {
        if let Err(e) = TcpListener::bind(addr) {
            return Err(Error::Startup(format!(
                "address {addr} for {what} is not available: {e} (is another spread dev running?)"
            )));
        }
    }
    Ok(())
}

/// Starts every process in order, waiting for each to be ready, and sets up the dev account.
async fn start(
    args: &DevArgs,
    dir: &Path,
    plan: &PortPlan,
    paths: &configs::ConfigPaths,
    children: &mut Children,
    policy_text: Option<&str>,
    hosts: usize,
) -> Result<ClusterFile> {
    let meta_pid = children.spawn("meta", "meta", &paths.meta)?;
    let mut meta_nodes = vec![MetaNodeEntry {
        id: 1,
        addr: plan.meta.to_string(),
        data_dir: dir.join("meta"),
        pid: meta_pid,
    }];
    for (i, (addr, path)) in plan.meta_peers.iter().zip(&paths.meta_peers).enumerate() {
        let id = i as u64 + 2;
        let name = configs::meta_name(id as usize);
        let pid = children.spawn(&name, "meta", path)?;
        meta_nodes.push(MetaNodeEntry {
            id,
            addr: addr.to_string(),
            data_dir: dir.join(&name),
            pid,
        });
    }
    let admin = internal_auth::Secret::load(&paths.keys.admin_key_file)
        .map_err(|e| Error::Startup(e.to_string()))?;
    let client = MetaClient::new(&plan.meta_list()).with_signer(internal_auth::Signer::new(
        internal_auth::Role::Admin,
        &admin,
    ));
    probe::meta_ready(&client, children, STEP_TIMEOUT).await?;
    join_meta_group(&client, &meta_nodes).await?;
    if let (Some(text), Some(path)) = (policy_text, &args.policy) {
        client
            .apply_policy(text)
            .await
            .map_err(|e| Error::Startup(format!("applying policy file {}: {e}", path.display())))?;
        tracing::info!(file = %path.display(), "policy file applied");
    }

    let since_ms = meta::ids::now_ms();
    let mut chunkd = Vec::with_capacity(plan.chunkd.len());
    for (i, (addr, path)) in plan.chunkd.iter().zip(&paths.chunkd).enumerate() {
        let name = configs::chunkd_name(i);
        let pid = children.spawn(&name, "chunkd", path)?;
        chunkd.push(ChunkdEntry {
            volume: dir.join(&name),
            name,
            addr: addr.to_string(),
            location: configs::chunkd_location(i, hosts),
            pid,
        });
    }
    probe::chunkds_ready(&client, &plan.chunkd, since_ms, children, STEP_TIMEOUT).await?;

    ensure_dev_credentials(&client, &args.access_key, &args.secret_key).await?;
    ensure_dev_swift_user(&client, &args.secret_key).await?;

    let gateway_pid = children.spawn("gateway", "gateway", &paths.gateway)?;
    probe::http_ready("S3 endpoint", args.s3_listen, children, STEP_TIMEOUT).await?;
    probe::http_ready("Swift endpoint", args.swift_listen, children, STEP_TIMEOUT).await?;

    Ok(ClusterFile {
        data_dir: PathBuf::from(dir),
        access_key: args.access_key.clone(),
        secret_key: args.secret_key.clone(),
        account: DEV_ACCOUNT.to_string(),
        meta: MetaEntry {
            addr: plan.meta_list(),
            pid: meta_pid,
        },
        meta_nodes,
        auth: Some(paths.keys.clone()),
        gateway: GatewayEntry {
            s3_addr: args.s3_listen.to_string(),
            swift_addr: Some(args.swift_listen.to_string()),
            // Set by `run`, which chose them.
            admin_addr: None,
            access_log: None,
            pid: gateway_pid,
        },
        chunkd,
    })
}

/// Adds meta nodes 2.. to the group node 1 started, unless they are members already (a
/// restart). Each is added as a learner, caught up, then made a voter.
async fn join_meta_group(client: &MetaClient, nodes: &[MetaNodeEntry]) -> Result<()> {
    if nodes.len() < 2 {
        return Ok(());
    }
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    let status = loop {
        match client.group_status_at(&nodes[0].addr).await {
            Ok(s) if s.leader.is_some() => break s,
            Ok(_) | Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(_) => return Err(Error::Startup("the meta group has no leader".into())),
            Err(e) => return Err(Error::Startup(format!("meta group status: {e}"))),
        }
    };
    for node in &nodes[1..] {
        if status.members.iter().any(|m| m.id == node.id) {
            continue;
        }
        // The new node must answer before the leader can replicate to it.
        let peer = client.clone();
        let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
        while peer.group_status_at(&node.addr).await.is_err() {
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Startup(format!(
                    "meta node {} at {} did not start",
                    node.id, node.addr
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        client
            .group_add(node.id, &node.addr)
            .await
            .map_err(|e| Error::Startup(format!("adding meta node {}: {e}", node.id)))?;
        tracing::info!(id = node.id, addr = %node.addr, "meta node joined the group");
    }
    Ok(())
}

/// Creates the `dev` account and its key; both may already exist from an earlier start.
async fn ensure_dev_credentials(
    client: &MetaClient,
    access_key: &str,
    secret_key: &str,
) -> Result<()> {
    match client.create_account(DEV_ACCOUNT).await {
        Ok(_) | Err(meta_api::Error::AccountExists(_)) => {}
        Err(e) => {
            return Err(Error::Startup(format!(
                "cannot create account {DEV_ACCOUNT}: {e}"
            )));
        }
    }
    match client
        .create_key(DEV_ACCOUNT, Some(access_key), Some(secret_key))
        .await
    {
        Ok(_) => Ok(()),
        Err(meta_api::Error::CredentialExists(_)) => {
            let existing = client.get_key(access_key).await?;
            if existing.account != DEV_ACCOUNT {
                Err(Error::Startup(format!(
                    "access key {access_key} belongs to account {}, not {DEV_ACCOUNT}",
                    existing.account
                )))
            } else if existing.secret_key != secret_key {
                Err(Error::Startup(format!(
                    "access key {access_key} already exists with a different secret key \
                     (use the secret given on the first start)"
                )))
            } else {
                Ok(())
            }
        }
        Err(e) => Err(Error::Startup(format!(
            "cannot create access key {access_key}: {e}"
        ))),
    }
}

/// Creates the Swift user `dev:admin` (admin, key = the dev secret key); it may already exist
/// from an earlier start, with the same key.
async fn ensure_dev_swift_user(client: &MetaClient, key: &str) -> Result<()> {
    match client
        .create_swift_user(DEV_ACCOUNT, DEV_SWIFT_USER, key, true)
        .await
    {
        Ok(_) => Ok(()),
        Err(meta_api::Error::CredentialExists(_)) => {
            let existing = client.get_swift_user(DEV_ACCOUNT, DEV_SWIFT_USER).await?;
            if existing.key != key {
                Err(Error::Startup(format!(
                    "swift user {DEV_ACCOUNT}:{DEV_SWIFT_USER} already exists with a different \
                     key (use the secret key given on the first start)"
                )))
            } else {
                Ok(())
            }
        }
        Err(e) => Err(Error::Startup(format!(
            "cannot create swift user {DEV_ACCOUNT}:{DEV_SWIFT_USER}: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_free_reports_a_taken_port() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let plan = PortPlan {
            meta: cluster::free_loopback_addr().unwrap(),
            meta_peers: vec![],
            chunkd: vec![],
        };
        let other = cluster::free_loopback_addr().unwrap();
        let err = check_free(&plan, addr, other).unwrap_err().to_string();
        assert!(err.contains(&addr.to_string()), "{err}");
        assert!(err.contains("S3 endpoint"), "{err}");
        let err = check_free(&plan, other, addr).unwrap_err().to_string();
        assert!(err.contains("Swift endpoint (--swift-listen)"), "{err}");
        drop(taken);
        assert!(check_free(&plan, addr, other).is_ok());
    }

    #[test]
    fn announce_prints_s3_then_swift() {
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from([
            "spread",
            "dev",
            "--s3-listen",
            "127.0.0.1:9100",
            "--swift-listen",
            "127.0.0.1:8181",
            "--secret-key",
            "SK",
        ])
        .unwrap();
        let crate::cli::Command::Dev(args) = cli.command else {
            panic!("not dev")
        };
        let admin: SocketAddr = "127.0.0.1:9555".parse().unwrap();
        let text = announce_lines(&args, admin, Path::new("/d/logs/access.log"), None);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(
            lines[2],
            "Gateway admin: http://127.0.0.1:9555/console (also /metrics, /health, /ready)  \
             access log: /d/logs/access.log"
        );
        assert!(lines[0].starts_with("S3 endpoint: http://127.0.0.1:9100  "));
        assert_eq!(
            lines[1],
            "Swift endpoint: http://127.0.0.1:8181/auth/v1.0  user: dev:admin  key: SK"
        );
        let ca = Path::new("/d/tls/ca.pem");
        let text = announce_lines(&args, admin, Path::new("/d/logs/access.log"), Some(ca));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("S3 endpoint: https://127.0.0.1:9100  "));
        assert!(lines[1].starts_with("Swift endpoint: https://127.0.0.1:8181/auth/v1.0  "));
        assert!(lines[3].starts_with("TLS CA: /d/tls/ca.pem  "), "{text}");
    }
}
