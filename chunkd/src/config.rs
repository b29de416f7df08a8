//! Configuration of a chunk server (`spread chunkd --config FILE`), read from TOML. Every field
//! has a default; unknown fields are an error.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// chunkd configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Address given to meta; defaults to `listen`, and is required when `listen` is a
    /// wildcard address (`0.0.0.0`, `[::]`).
    pub advertise: Option<String>,
    /// Volume directory holding the chunks.
    pub volume: PathBuf,
    /// Location `dc.rack.host.vol`.
    pub location: String,
    /// Address of the meta service.
    pub meta: String,
    /// Seconds between heartbeats to meta.
    pub heartbeat_secs: u64,
    /// Slots (tags, e.g. "ssd") announced to meta; storage-policy pools select servers by slot.
    pub slots: Vec<String>,
    /// Bytes the scrubber re-reads per second, in MiB (0: no scrubbing at all). See
    /// [`crate::scrub`].
    pub scrub_mib_per_sec: u64,
    /// A scrub pass starts when this many days have passed since the previous one started
    /// (0: only when asked, `POST /v1/scrub`).
    pub scrub_interval_days: u64,
    /// Chunks written less than this many seconds ago are left for the next pass.
    pub scrub_grace_secs: u64,
    /// Seconds between two orphan sweeps ([`crate::orphans`]); 0: none.
    pub orphan_check_secs: u64,
    /// Chunk files younger than this are never taken for orphans: longer than any write (a
    /// 5 GiB object or part) can take.
    pub orphan_grace_secs: u64,
    /// Orphans set aside in `orphans/` are deleted this much later.
    pub orphan_hold_secs: u64,
    /// A sweep that finds more than this share of the old chunk files it checked unknown to
    /// the directory, in percent (once it has checked [`crate::orphans::MIN_SAMPLE`]) sets nothing aside
    /// and stops: a wiped, wrong or restored-from-old meta looks like that, orphans of crashed
    /// writes do not. In percent; 100: no such check.
    pub orphan_max_unknown_percent: u8,
    /// File holding the cluster secret (`spread keygen`): every request but the probes
    /// (`/health`, `/ready`, `/metrics`) must be signed with it, and this server signs its
    /// heartbeats with it. `SPREAD_CLUSTER_KEY_FILE`, or the secret itself in
    /// `SPREAD_CLUSTER_KEY`.
    pub cluster_key_file: Option<PathBuf>,
    /// Answer unsigned requests (no internal authentication). Only for a closed test network
    /// or the first step of an upgrade; chunkd warns at every start.
    pub insecure_no_auth: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 6100)),
            advertise: None,
            volume: PathBuf::from("./spread-data/chunkd-0"),
            location: "local.rack0.host0.vol0".to_string(),
            meta: "127.0.0.1:6000".to_string(),
            heartbeat_secs: 2,
            slots: Vec::new(),
            scrub_mib_per_sec: 50,
            scrub_interval_days: 14,
            scrub_grace_secs: 60,
            orphan_check_secs: 6 * 3600,
            orphan_grace_secs: 24 * 3600,
            orphan_hold_secs: 7 * 24 * 3600,
            orphan_max_unknown_percent: 50,
            cluster_key_file: None,
            insecure_no_auth: false,
        }
    }
}

impl Config {
    /// The cluster secret this server checks and signs with; `None` when `insecure_no_auth`
    /// is set. Without either, an error naming what to set.
    pub fn secret(&self) -> Result<Option<internal_auth::Secret>> {
        if self.insecure_no_auth {
            return Ok(None);
        }
        match internal_auth::cluster_secret(self.cluster_key_file.as_deref()) {
            Ok(Some(s)) => Ok(Some(s)),
            Ok(None) => Err(Error::Config(
                "chunkd needs the cluster secret: cluster_key_file, SPREAD_CLUSTER_KEY_FILE or \
                 SPREAD_CLUSTER_KEY (make one with `spread keygen FILE`), or \
                 insecure_no_auth = true on a closed test network"
                    .to_string(),
            )),
            Err(e) => Err(Error::Config(e.to_string())),
        }
    }

    /// Read and parse a TOML configuration file.
    pub fn load(path: impl AsRef<Path>) -> Result<Config> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| match e {
            Error::Config(msg) => Error::Config(format!("{}: {msg}", path.display())),
            other => other,
        })
    }

    /// Parse a TOML configuration.
    pub fn parse(text: &str) -> Result<Config> {
        toml::from_str(text).map_err(|e| Error::Config(e.to_string()))
    }

    /// The configuration with every key that a `SPREAD_CHUNKD_<KEY>` variable sets taken from
    /// it (see [`config_env`]; `SPREAD_CHUNKD_CONFIG` names the file instead).
    pub fn with_env(self) -> Result<Config> {
        config_env::from_env(self, ENV_PREFIX, ENV_NOT_KEYS).map_err(Error::Config)
    }
}

/// Prefix of the variables that set config keys.
pub const ENV_PREFIX: &str = "SPREAD_CHUNKD_";
/// Variables with that prefix that are not config keys.
const ENV_NOT_KEYS: &[&str] = &["SPREAD_CHUNKD_CONFIG"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_the_environment() {
        let c = config_env::overlay(
            Config::default(),
            ENV_PREFIX,
            ENV_NOT_KEYS,
            [
                ("SPREAD_CHUNKD_SCRUB_MIB_PER_SEC", "8"),
                ("SPREAD_CHUNKD_LOCATION", "dc1.rack2.host3.vol0"),
                ("SPREAD_CHUNKD_LISTEN", "127.0.0.1:7100"),
                ("SPREAD_CHUNKD_CONFIG", "/etc/spread/chunkd.toml"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .unwrap();
        assert_eq!(c.scrub_mib_per_sec, 8);
        assert_eq!(c.location, "dc1.rack2.host3.vol0");
        assert_eq!(c.listen.port(), 7100);
        assert_eq!(c.volume, Config::default().volume);
    }

    #[test]
    fn defaults_and_unknown_fields() {
        let c = Config::parse("").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.advertise, None);
        let c = Config::parse("listen = \"0.0.0.0:7000\"\nadvertise = \"h:7000\"").unwrap();
        assert_eq!(c.listen.port(), 7000);
        assert_eq!(c.advertise.as_deref(), Some("h:7000"));
        assert!(Config::parse("bogus = 1").is_err());
        assert!(c.slots.is_empty());
        let c = Config::parse("slots = [\"ssd\", \"fast\"]").unwrap();
        assert_eq!(c.slots, vec!["ssd", "fast"]);
        assert!(Config::parse("slots = \"ssd\"").is_err());
        assert_eq!(
            (
                c.scrub_mib_per_sec,
                c.scrub_interval_days,
                c.scrub_grace_secs
            ),
            (50, 14, 60)
        );
        let c =
            Config::parse("scrub_mib_per_sec = 5\nscrub_interval_days = 1\nscrub_grace_secs = 0")
                .unwrap();
        assert_eq!(
            (
                c.scrub_mib_per_sec,
                c.scrub_interval_days,
                c.scrub_grace_secs
            ),
            (5, 1, 0)
        );
        assert!(Config::parse("scrub_mib_per_sec = -1").is_err());
    }

    #[test]
    fn toml_roundtrip() {
        let c = Config {
            slots: vec!["ssd".to_string()],
            ..Config::default()
        };
        let text = toml::to_string(&c).unwrap();
        assert_eq!(Config::parse(&text).unwrap(), c);
    }
}
