//! Logging: `tracing` events formatted to stderr, filtered by `RUST_LOG` (default `info`)
//! and the gateway's fixed directives (`gateway::server::LOG_DIRECTIVES`).

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber (colours only on a terminal, so log files stay plain).
/// Later calls are ignored.
pub fn init() {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // The gateway's own: never log request bodies, whatever RUST_LOG says.
    for directive in gateway::server::LOG_DIRECTIVES {
        if let Ok(d) = directive.parse() {
            filter = filter.add_directive(d);
        }
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
