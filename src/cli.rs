//! Command-line interface of `spread`: clap definitions of every subcommand and flag. Every flag
//! can also be given as a `SPREAD_*` environment variable.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Default access key of the `dev` account created by `spread dev`.
pub const DEV_ACCESS_KEY: &str = "SPREADDEVACCESSKEY01";
/// Default secret key of the `dev` account created by `spread dev`.
pub const DEV_SECRET_KEY: &str = "spread-dev-secret-key-change-me";

/// Spread: a distributed object store (S3 gateway, meta directory, chunk servers).
#[derive(Debug, Parser)]
#[command(name = "spread", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the directory service (meta).
    Meta(MetaArgs),
    /// Run a chunk server.
    Chunkd(ChunkdArgs),
    /// Run the gateway (S3, and Swift when `swift_listen` is set).
    Gateway(GatewayArgs),
    /// Run a whole local cluster (meta, N chunk servers, gateway) as child processes.
    Dev(DevArgs),
    /// Administer a running cluster through meta.
    Admin(AdminArgs),
    /// Generate S3 load against an endpoint and report throughput and latency.
    Bench(crate::bench::BenchArgs),
    /// Write a new random secret (the cluster secret or the admin secret) to a new file,
    /// readable by its owner only.
    Keygen {
        /// The file to create (an existing file is never overwritten).
        file: PathBuf,
    },
}

/// Flags of `spread meta`.
#[derive(Debug, Clone, Args)]
pub struct MetaArgs {
    /// TOML configuration file (every field has a default).
    #[arg(long, env = "SPREAD_META_CONFIG")]
    pub config: Option<PathBuf>,
    /// Start a new group of one from this backup file (`spread admin meta backup`): the
    /// config's `data_dir` must be empty and its `node_id` new. Only for the first start.
    #[arg(long, env = "SPREAD_META_RESTORE")]
    pub restore: Option<PathBuf>,
}

/// Flags of `spread chunkd`.
#[derive(Debug, Clone, Args)]
pub struct ChunkdArgs {
    /// TOML configuration file (every field has a default).
    #[arg(long, env = "SPREAD_CHUNKD_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Flags of `spread gateway`.
#[derive(Debug, Clone, Args)]
pub struct GatewayArgs {
    /// TOML configuration file (every field has a default).
    #[arg(long, env = "SPREAD_GATEWAY_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Flags of `spread dev`.
#[derive(Debug, Clone, Args)]
pub struct DevArgs {
    /// Directory holding every process's data, configs, logs and cluster.toml.
    #[arg(long, env = "SPREAD_DATA_DIR", default_value = "./spread-data")]
    pub data_dir: PathBuf,
    /// Address of the S3 endpoint.
    #[arg(long, env = "SPREAD_S3_LISTEN", default_value = "127.0.0.1:9000")]
    pub s3_listen: SocketAddr,
    /// Address of the Swift endpoint (auth at `http://ADDR/auth/v1.0`).
    #[arg(long, env = "SPREAD_SWIFT_LISTEN", default_value = "127.0.0.1:8080")]
    pub swift_listen: SocketAddr,
    /// Number of meta nodes (a Raft group: 3 survives the loss of any one, 5 of two; 1 has no
    /// replica).
    #[arg(long = "meta", env = "SPREAD_META_NODES", default_value_t = 3,
          value_parser = clap::value_parser!(u16).range(1..=9))]
    pub meta: u16,
    /// Number of chunk servers.
    #[arg(long = "chunkd", env = "SPREAD_CHUNKD", default_value_t = 3,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub chunkd: u16,
    /// Copies of each chunk.
    #[arg(long, env = "SPREAD_REPLICAS", default_value_t = 3,
          value_parser = clap::value_parser!(u16).range(1..=16))]
    pub replicas: u16,
    /// Access key of the `dev` account.
    #[arg(long, env = "SPREAD_ACCESS_KEY", default_value = DEV_ACCESS_KEY)]
    pub access_key: String,
    /// Secret key of the `dev` account.
    #[arg(long, env = "SPREAD_SECRET_KEY", default_value = DEV_SECRET_KEY)]
    pub secret_key: String,
    /// Size objects are cut into, in bytes (default: the gateway's default, 8 MiB).
    #[arg(long, env = "SPREAD_CHUNK_SIZE")]
    pub chunk_size: Option<u64>,
    /// Storage-policy file (TOML) applied once meta is up; startup fails if it is invalid.
    #[arg(long, env = "SPREAD_POLICY")]
    pub policy: Option<PathBuf>,
    /// Number of hosts the chunk servers are spread over: chunk server I gets location
    /// `local.rack0.host{I % N}.vol{I / N}` (default: one host per chunk server).
    #[arg(long, env = "SPREAD_HOSTS", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub hosts: Option<u16>,
    /// Seconds between two passes of meta's lifecycle worker (0: never).
    #[arg(long, env = "SPREAD_LIFECYCLE_INTERVAL_SECS", default_value_t = 300)]
    pub lifecycle_interval_secs: u64,
    /// Length of a lifecycle day in seconds (tests shorten it, e.g. 10).
    #[arg(long, env = "SPREAD_LIFECYCLE_DAY_SECS", default_value_t = 86_400,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub lifecycle_day_secs: u64,
    /// Seconds a chunk of a deleted or overwritten object waits before chunk servers delete it
    /// (default: meta's `gc_grace_secs`, 600).
    #[arg(long, env = "SPREAD_GC_GRACE_SECS")]
    pub gc_grace_secs: Option<u64>,
    /// How long the gateway waits for one answer of meta, in milliseconds (default: the
    /// gateway's `meta_timeout_ms`, 20000).
    #[arg(long, env = "SPREAD_META_TIMEOUT_MS")]
    pub meta_timeout_ms: Option<u64>,
    /// Domain for virtual-hosted-style S3 requests: `bucket.DOMAIN` addresses `bucket`
    /// (path-style requests are served either way).
    #[arg(long, env = "SPREAD_S3_DOMAIN")]
    pub s3_domain: Option<String>,
    /// MiB per second each chunk server's scrubber re-reads, 0 for none (default: chunkd's
    /// `scrub_mib_per_sec`, 50).
    #[arg(long, env = "SPREAD_SCRUB_MIB_PER_SEC")]
    pub scrub_mib_per_sec: Option<u64>,
    /// Days between the starts of two scrub passes, 0 for passes only when asked (default:
    /// chunkd's `scrub_interval_days`, 14).
    #[arg(long, env = "SPREAD_SCRUB_INTERVAL_DAYS")]
    pub scrub_interval_days: Option<u64>,
    /// Seconds a new chunk waits before the scrubber checks it (default: chunkd's
    /// `scrub_grace_secs`, 60).
    #[arg(long, env = "SPREAD_SCRUB_GRACE_SECS")]
    pub scrub_grace_secs: Option<u64>,
    /// Seconds a chunk server may stay silent before meta declares it lost and re-creates its
    /// copies elsewhere (meta's `lost_after_secs`; production default 900).
    #[arg(long, env = "SPREAD_LOST_AFTER_SECS", default_value_t = 120)]
    pub lost_after_secs: u64,
    /// Serve S3 and Swift over HTTPS only, with a test CA and a server certificate for
    /// localhost generated into `DATA_DIR/tls/` (the CA path is printed; the CA is kept across
    /// restarts on the same directory).
    #[arg(long, env = "SPREAD_DEV_TLS")]
    pub tls: bool,
}

/// Flags of `spread admin`.
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// cluster.toml written by `spread dev`; its `[meta] addr` is used.
    #[arg(
        long,
        env = "SPREAD_CLUSTER",
        default_value = "./spread-data/cluster.toml"
    )]
    pub cluster: PathBuf,
    /// Address of meta (host:port); overrides --cluster.
    #[arg(long, env = "SPREAD_META")]
    pub meta: Option<String>,
    /// File holding the admin secret that signs the requests (default: the one named in
    /// --cluster, for a dev cluster).
    #[arg(long, env = "SPREAD_ADMIN_KEY_FILE")]
    pub admin_key_file: Option<PathBuf>,
    /// File holding the cluster secret, for the commands sent to chunk servers (default: the
    /// one named in --cluster).
    #[arg(long, env = "SPREAD_CLUSTER_KEY_FILE")]
    pub cluster_key_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// `spread admin` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum AdminCommand {
    /// Accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Access keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Services known to the conscience.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Objects.
    #[command(subcommand)]
    Object(ObjectCommand),
    /// Storage-policy files.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Buckets (containers).
    #[command(subcommand)]
    Bucket(BucketCommand),
    /// Swift users (tempauth style `ACCOUNT:USER` with a key).
    #[command(subcommand)]
    SwiftUser(SwiftUserCommand),
    /// Quotas of accounts and buckets (bytes, objects), enforced by meta on every write.
    #[command(subcommand)]
    Quota(QuotaCommand),
    /// The meta group (Raft): members, leader, progress; adding and removing nodes.
    #[command(subcommand)]
    Meta(MetaCommand),
    /// The built-in key store of SSE-KMS (`aws:kms`).
    #[command(subcommand)]
    Kms(KmsCommand),
    /// One chunk server, asked directly (its scrubber).
    #[command(subcommand)]
    Chunkd(ChunkdCommand),
    /// Rebuild accounts, containers and object records from the chunk files' footers (when
    /// every meta copy is lost); see docs/operations.md.
    Recover {
        /// Chunk volume directories to scan (each holds `service-id`).
        #[arg(long, required = true, num_args = 1..)]
        volumes: Vec<PathBuf>,
        /// Scan and report only; write nothing (meta is not needed).
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `spread admin meta ...`
#[derive(Debug, Clone, Subcommand)]
pub enum MetaCommand {
    /// Every node's view: state, term, leader, log and applied index, lag behind the leader.
    Status {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add a node (started with `bootstrap = false` and an unused `node_id`) as a voter.
    Add { id: u64, addr: String },
    /// Remove a node from the group (its id is never used again).
    Remove { id: u64 },
    /// Write a consistent snapshot of the whole state, from the leader, to FILE (written to
    /// a temporary name, synced, checked, then renamed). Restore with `spread meta --restore`.
    Backup { file: PathBuf },
    /// Compare every member's state: each digests it at the same log index (a marker the
    /// leader writes); exits non-zero if they differ.
    Verify,
}

/// `spread admin kms ...`
#[derive(Debug, Clone, Subcommand)]
pub enum KmsCommand {
    /// Keys of the key store.
    #[command(subcommand)]
    Key(KmsKeyCommand),
}

/// `spread admin kms key ...`
#[derive(Debug, Clone, Subcommand)]
pub enum KmsKeyCommand {
    /// Create a key, enabled; clients name it in `x-amz-server-side-encryption-aws-kms-key-id`
    /// (1 to 128 ASCII letters, digits and -_./). Its material is made, wrapped by the
    /// gateways' SSE master key, on its first use.
    Create { name: String },
    /// List the keys with their state.
    List,
    /// Disable a key: writes with it and reads of objects under it are refused
    /// (KMS.DisabledException) until it is enabled again.
    Disable { name: String },
    /// Enable a disabled key.
    Enable { name: String },
}

/// `spread admin chunkd ...`
#[derive(Debug, Clone, Subcommand)]
pub enum ChunkdCommand {
    /// The scrubber of a chunk server: settings, the pass under way, the last pass, counters.
    ScrubStatus {
        /// Chunk server address (host:port) or service id.
        server: String,
        /// Print JSON instead of text.
        #[arg(long, env = "SPREAD_SCRUB_JSON")]
        json: bool,
    },
    /// The chunk copies meta's reverse index says a chunk server holds, with their objects.
    Chunks {
        /// Service id (or its address).
        server: String,
        /// Print only how many (and their bytes).
        #[arg(long)]
        count: bool,
        /// Most entries printed.
        #[arg(long, env = "SPREAD_CHUNKS_LIMIT", default_value_t = 1000)]
        limit: u32,
    },
    /// Ask a chunk server for a scrub pass now (after the one under way, if any).
    Scrub {
        /// Chunk server address (host:port) or service id.
        server: String,
        /// Print the status as JSON (its `requested` is the pass asked for).
        #[arg(long, env = "SPREAD_SCRUB_JSON")]
        json: bool,
    },
}

/// `spread admin swift-user ...`
#[derive(Debug, Clone, Subcommand)]
pub enum SwiftUserCommand {
    /// Create a Swift user of an existing account; admin users own the account, others need
    /// container ACLs.
    Create {
        account: String,
        user: String,
        /// The user's key (X-Auth-Key).
        #[arg(long, env = "SPREAD_SWIFT_KEY")]
        key: String,
        /// Make the user an admin of the account.
        #[arg(long, env = "SPREAD_SWIFT_ADMIN")]
        admin: bool,
    },
    /// Delete a Swift user and its tokens.
    Delete { account: String, user: String },
}

/// `spread admin policy ...`
#[derive(Debug, Clone, Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy file and tell whether the live cluster can satisfy each policy.
    Check { file: PathBuf },
    /// Validate a policy file and apply it (takes effect without restarts).
    Apply { file: PathBuf },
    /// Show the applied policies.
    List,
}

/// `spread admin bucket ...`
#[derive(Debug, Clone, Subcommand)]
pub enum BucketCommand {
    /// Set the default storage policy of a bucket (for objects written from now on).
    SetPolicy { bucket: String, policy: String },
    /// List an account's buckets with their usage and quotas.
    List { account: String },
}

/// `spread admin quota ...`
#[derive(Debug, Clone, Subcommand)]
pub enum QuotaCommand {
    /// Set the quota of an account, or of one of its buckets with `--bucket`; a limit not
    /// given is removed (no limits at all removes the quota).
    Set {
        account: String,
        #[arg(long, env = "SPREAD_QUOTA_BUCKET")]
        bucket: Option<String>,
        /// Most bytes (suffixes K, M, G, T for KiB..TiB).
        #[arg(long, env = "SPREAD_QUOTA_MAX_BYTES", value_parser = parse_size)]
        max_bytes: Option<u64>,
        /// Most objects.
        #[arg(long, env = "SPREAD_QUOTA_MAX_OBJECTS")]
        max_objects: Option<u64>,
    },
    /// Show the quota and usage of an account, or of one of its buckets.
    Get {
        account: String,
        #[arg(long, env = "SPREAD_QUOTA_BUCKET")]
        bucket: Option<String>,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// A byte count with an optional binary suffix (`10G`, `512M`, `4096`).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, shift) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => {
                    return Err(format!(
                        "{text:?}: unknown size suffix {c:?} (K, M, G or T)"
                    ));
                }
            };
            (&t[..i], shift)
        }
        _ => (t, 0),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a byte count"))?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// `spread admin account ...`
#[derive(Debug, Clone, Subcommand)]
pub enum AccountCommand {
    /// Create an account.
    Create { name: String },
    /// List accounts with their usage.
    List,
    /// Delete an account that owns no bucket, with its access keys, Swift users and quotas.
    Delete { name: String },
}

/// `spread admin key ...`
#[derive(Debug, Clone, Subcommand)]
pub enum KeyCommand {
    /// Create an access key for an account (random unless given).
    Create {
        account: String,
        #[arg(long, env = "SPREAD_NEW_ACCESS_KEY")]
        access_key: Option<String>,
        #[arg(long, env = "SPREAD_NEW_SECRET_KEY")]
        secret_key: Option<String>,
    },
    /// List access keys (secrets masked).
    List,
    /// Delete an access key (gateways stop accepting it within their credential cache
    /// time).
    Delete { access_key: String },
}

/// `spread admin cluster ...`
#[derive(Debug, Clone, Subcommand)]
pub enum ClusterCommand {
    /// List services with their scores.
    List,
    /// Force a service's score (0 = receives nothing) until unlocked.
    Lock {
        /// Service id (or its address).
        service: String,
        /// Score to hold, 0..=100.
        #[arg(long, env = "SPREAD_LOCK_SCORE", default_value_t = 0,
              value_parser = clap::value_parser!(u8).range(0..=100))]
        score: u8,
    },
    /// Let the conscience score a locked service again.
    Unlock {
        /// Service id (or its address).
        service: String,
    },
    /// Admit a new chunk server (meta registers a new server locked at 0 with
    /// `lock_new_services`, the default): the conscience scores it, it receives chunks.
    Admit {
        /// Service id (or its address).
        service: String,
    },
    /// Unlock every locked service.
    UnlockAll,
    /// Chunks each server will be told to delete: due now, and still in their grace period
    /// (meta's `gc_grace_secs`).
    Gc,
    /// Declare a chunk server lost now: every copy it holds is re-created on other servers
    /// (meta does it by itself after `lost_after_secs` of silence).
    Rebuild {
        /// Service id (or its address).
        service: String,
    },
    /// Move every copy off a live chunk server (it stays out of placement, locked at 0); then
    /// stop it and `forget` it.
    Drain {
        /// Service id (or its address).
        service: String,
    },
    /// Remove a retired chunk server from the conscience (refused while it holds any copy).
    Forget {
        /// Service id (or its address).
        service: String,
    },
    /// Progress of every rebuild (chunks and bytes done, rate, ETA), the repair queue, and
    /// the repairs that fail or cannot be done.
    RebuildStatus {
        /// Print JSON instead of text.
        #[arg(long, env = "SPREAD_REBUILD_JSON")]
        json: bool,
    },
}

/// `spread admin object ...`
#[derive(Debug, Clone, Subcommand)]
pub enum ObjectCommand {
    /// Show where the chunks of an object are.
    Locate {
        bucket: String,
        key: String,
        /// Print JSON instead of a table.
        #[arg(long, env = "SPREAD_LOCATE_JSON")]
        json: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use std::path::Path;

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("300K"), Ok(300 * 1024));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert_eq!(parse_size("1T"), Ok(1 << 40));
        assert!(parse_size("10X").is_err());
        assert!(parse_size("K").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn clap_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn dev_defaults() {
        let cli = Cli::try_parse_from(["spread", "dev"]).unwrap();
        let Command::Dev(d) = cli.command else {
            panic!("not dev")
        };
        assert_eq!(d.data_dir, PathBuf::from("./spread-data"));
        assert_eq!(d.s3_listen.to_string(), "127.0.0.1:9000");
        assert_eq!(d.swift_listen.to_string(), "127.0.0.1:8080");
        assert_eq!(d.chunkd, 3);
        assert_eq!(d.replicas, 3);
        assert_eq!(d.access_key, DEV_ACCESS_KEY);
        assert_eq!(d.secret_key, DEV_SECRET_KEY);
        assert_eq!(d.chunk_size, None);
        assert_eq!(d.policy, None);
        assert_eq!(d.hosts, None);
        // Unset: the services' own defaults apply (`dev::configs`).
        assert_eq!(d.gc_grace_secs, None);
        assert_eq!(d.meta_timeout_ms, None);
        assert_eq!(
            (
                d.scrub_mib_per_sec,
                d.scrub_interval_days,
                d.scrub_grace_secs
            ),
            (None, None, None)
        );
    }

    #[test]
    fn dev_flags() {
        let cli = Cli::try_parse_from([
            "spread",
            "dev",
            "--data-dir",
            "/tmp/x",
            "--s3-listen",
            "127.0.0.1:9100",
            "--swift-listen",
            "127.0.0.1:8181",
            "--chunkd",
            "5",
            "--replicas",
            "2",
            "--access-key",
            "AK",
            "--secret-key",
            "SK",
            "--chunk-size",
            "1048576",
            "--policy",
            "p.toml",
            "--hosts",
            "3",
            "--scrub-mib-per-sec",
            "7",
            "--scrub-interval-days",
            "0",
            "--scrub-grace-secs",
            "1",
        ])
        .unwrap();
        let Command::Dev(d) = cli.command else {
            panic!("not dev")
        };
        assert_eq!(d.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(d.s3_listen.port(), 9100);
        assert_eq!(d.swift_listen.port(), 8181);
        assert_eq!(d.chunkd, 5);
        assert_eq!(d.replicas, 2);
        assert_eq!(d.access_key, "AK");
        assert_eq!(d.secret_key, "SK");
        assert_eq!(d.chunk_size, Some(1 << 20));
        assert_eq!(d.policy, Some(PathBuf::from("p.toml")));
        assert_eq!(d.hosts, Some(3));
        assert_eq!(
            (
                d.scrub_mib_per_sec,
                d.scrub_interval_days,
                d.scrub_grace_secs
            ),
            (Some(7), Some(0), Some(1))
        );
    }

    #[test]
    fn dev_rejects_bad_values() {
        assert!(Cli::try_parse_from(["spread", "dev", "--chunkd", "0"]).is_err());
        assert!(Cli::try_parse_from(["spread", "dev", "--s3-listen", "nope"]).is_err());
        assert!(Cli::try_parse_from(["spread", "dev", "--swift-listen", "nope"]).is_err());
        assert!(Cli::try_parse_from(["spread", "dev", "--replicas", "x"]).is_err());
        assert!(Cli::try_parse_from(["spread", "dev", "--hosts", "0"]).is_err());
    }

    #[test]
    fn server_config_flags() {
        let cli = Cli::try_parse_from(["spread", "meta", "--config", "m.toml"]).unwrap();
        let Command::Meta(m) = cli.command else {
            panic!("not meta")
        };
        assert_eq!(m.config, Some(PathBuf::from("m.toml")));
        let cli = Cli::try_parse_from(["spread", "gateway"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Gateway(GatewayArgs { config: None })
        ));
    }

    #[test]
    fn recover_command() {
        match admin(&["recover", "--volumes", "/v1", "/v2", "--dry-run"]) {
            AdminCommand::Recover {
                volumes,
                dry_run,
                json,
            } => {
                assert_eq!(volumes, [PathBuf::from("/v1"), PathBuf::from("/v2")]);
                assert!(dry_run && !json);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(Cli::try_parse_from(["spread", "admin", "recover"]).is_err());
    }

    #[test]
    fn admin_commands() {
        let cli = Cli::try_parse_from([
            "spread",
            "admin",
            "--meta",
            "127.0.0.1:1",
            "object",
            "locate",
            "b",
            "k/with space",
            "--json",
        ])
        .unwrap();
        let Command::Admin(a) = cli.command else {
            panic!("not admin")
        };
        assert_eq!(a.meta.as_deref(), Some("127.0.0.1:1"));
        // The default, unless the shell running the tests exports SPREAD_CLUSTER (clap reads it).
        let expected = std::env::var_os("SPREAD_CLUSTER").map_or_else(
            || PathBuf::from("./spread-data/cluster.toml"),
            PathBuf::from,
        );
        assert_eq!(a.cluster, expected);
        match a.command {
            AdminCommand::Object(ObjectCommand::Locate { bucket, key, json }) => {
                assert_eq!(bucket, "b");
                assert_eq!(key, "k/with space");
                assert!(json);
            }
            other => panic!("unexpected {other:?}"),
        }
        let cli = Cli::try_parse_from([
            "spread",
            "admin",
            "--cluster",
            "c.toml",
            "key",
            "create",
            "acct",
            "--access-key",
            "AK",
            "--secret-key",
            "SK",
        ])
        .unwrap();
        let Command::Admin(a) = cli.command else {
            panic!("not admin")
        };
        match a.command {
            AdminCommand::Key(KeyCommand::Create {
                account,
                access_key,
                secret_key,
            }) => {
                assert_eq!(account, "acct");
                assert_eq!(access_key.as_deref(), Some("AK"));
                assert_eq!(secret_key.as_deref(), Some("SK"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(Cli::try_parse_from(["spread", "admin", "account", "create"]).is_err());
    }

    fn admin(args: &[&str]) -> AdminCommand {
        let mut all = vec!["spread", "admin"];
        all.extend_from_slice(args);
        match Cli::try_parse_from(all).unwrap().command {
            Command::Admin(a) => a.command,
            other => panic!("not admin: {other:?}"),
        }
    }

    #[test]
    fn policy_lock_and_bucket_commands() {
        assert!(matches!(
            admin(&["policy", "check", "p.toml"]),
            AdminCommand::Policy(PolicyCommand::Check { file }) if file == Path::new("p.toml")
        ));
        assert!(matches!(
            admin(&["policy", "apply", "p.toml"]),
            AdminCommand::Policy(PolicyCommand::Apply { .. })
        ));
        assert!(matches!(
            admin(&["policy", "list"]),
            AdminCommand::Policy(PolicyCommand::List)
        ));
        assert!(matches!(
            admin(&["cluster", "lock", "svc"]),
            AdminCommand::Cluster(ClusterCommand::Lock { service, score: 0 }) if service == "svc"
        ));
        assert!(matches!(
            admin(&["cluster", "lock", "svc", "--score", "40"]),
            AdminCommand::Cluster(ClusterCommand::Lock { score: 40, .. })
        ));
        assert!(matches!(
            admin(&["cluster", "unlock", "svc"]),
            AdminCommand::Cluster(ClusterCommand::Unlock { service }) if service == "svc"
        ));
        assert!(matches!(
            admin(&["cluster", "unlock-all"]),
            AdminCommand::Cluster(ClusterCommand::UnlockAll)
        ));
        assert!(matches!(
            admin(&["chunkd", "scrub-status", "127.0.0.1:6100", "--json"]),
            AdminCommand::Chunkd(ChunkdCommand::ScrubStatus { server, json: true })
                if server == "127.0.0.1:6100"
        ));
        assert!(matches!(
            admin(&["chunkd", "scrub", "svc"]),
            AdminCommand::Chunkd(ChunkdCommand::Scrub { server, json: false }) if server == "svc"
        ));
        assert!(matches!(
            admin(&["cluster", "gc"]),
            AdminCommand::Cluster(ClusterCommand::Gc)
        ));
        assert!(matches!(
            admin(&["kms", "key", "create", "testkey-1"]),
            AdminCommand::Kms(KmsCommand::Key(KmsKeyCommand::Create { name }))
                if name == "testkey-1"
        ));
        assert!(matches!(
            admin(&["kms", "key", "disable", "testkey-1"]),
            AdminCommand::Kms(KmsCommand::Key(KmsKeyCommand::Disable { name }))
                if name == "testkey-1"
        ));
        assert!(matches!(
            admin(&["kms", "key", "list"]),
            AdminCommand::Kms(KmsCommand::Key(KmsKeyCommand::List))
        ));
        assert!(matches!(
            admin(&["bucket", "set-policy", "b", "EC42"]),
            AdminCommand::Bucket(BucketCommand::SetPolicy { bucket, policy })
                if bucket == "b" && policy == "EC42"
        ));
        assert!(matches!(
            admin(&["swift-user", "create", "acct", "bob", "--key", "K"]),
            AdminCommand::SwiftUser(SwiftUserCommand::Create { account, user, key, admin: false })
                if account == "acct" && user == "bob" && key == "K"
        ));
        assert!(matches!(
            admin(&[
                "swift-user",
                "create",
                "acct",
                "root",
                "--key",
                "K",
                "--admin"
            ]),
            AdminCommand::SwiftUser(SwiftUserCommand::Create { admin: true, .. })
        ));
        for bad in [
            &["spread", "admin", "swift-user", "create", "acct", "bob"][..],
            &[
                "spread",
                "admin",
                "swift-user",
                "create",
                "acct",
                "--key",
                "K",
            ],
            &[
                "spread", "admin", "cluster", "lock", "svc", "--score", "101",
            ][..],
            &["spread", "admin", "cluster", "lock"],
            &["spread", "admin", "policy", "check"],
            &["spread", "admin", "bucket", "set-policy", "b"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }
}
