//! Configuration of the meta service (`spread meta --config FILE`): every field has a default and
//! unknown fields are an error.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// `meta::Config`, read from a TOML file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server binds to.
    pub listen: SocketAddr,
    /// Root of the LMDB environments (`directory/` and `meta2/`).
    pub data_dir: PathBuf,
    /// A service silent for this long scores 0.
    pub dead_after_secs: u64,
    /// At most this many meta2 environments stay open.
    pub open_env_cache: usize,
    /// LMDB map size of each environment, in MiB.
    pub map_size_mib: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 6000)),
            data_dir: PathBuf::from("./spread-data/meta"),
            dead_after_secs: 10,
            open_env_cache: 256,
            map_size_mib: 1024,
        }
    }
}

impl Config {
    /// Reads and parses a TOML config file.
    pub fn load(path: impl AsRef<Path>) -> Result<Config> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Io(format!("reading {}: {e}", path.display())))?;
        Config::parse(&text).map_err(|e| match e {
            Error::InvalidArgument(m) => Error::InvalidArgument(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<Config> {
        toml::from_str(text).map_err(|e| Error::InvalidArgument(format!("bad config: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let c = Config::parse("").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.listen.to_string(), "127.0.0.1:6000");
        let c = Config::parse("dead_after_secs = 3\nlisten = \"0.0.0.0:7000\"").unwrap();
        assert_eq!(c.dead_after_secs, 3);
        assert_eq!(c.listen.port(), 7000);
        assert_eq!(c.open_env_cache, 256);
    }

    #[test]
    fn unknown_field_is_an_error() {
        assert!(matches!(
            Config::parse("nope = 1"),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn load_from_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("meta.toml");
        std::fs::write(&p, "map_size_mib = 64\n").unwrap();
        assert_eq!(Config::load(&p).unwrap().map_size_mib, 64);
        assert!(matches!(
            Config::load(dir.path().join("missing.toml")),
            Err(Error::Io(_))
        ));
    }
}
