//! Logging: `tracing` events formatted to stderr, filtered by `RUST_LOG` (default `info`)
//! but never the targets `gateway::server::log_silenced` names (s3s's: they log request bodies).

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Installs the global subscriber (colours only on a terminal, so log files stay plain).
/// Later calls are ignored.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Whatever RUST_LOG says: never the targets that log request bodies (s3s's).
    let silenced = filter_fn(|meta| !gateway::server::log_silenced(meta.target()));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .finish()
        .with(silenced)
        .try_init();
}
