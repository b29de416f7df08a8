//! Shutdown signals: a future that completes on SIGINT (Ctrl-C) or SIGTERM.
//!
//! SIGHUP is not handled here: the gateway listens for it itself, to reload its TLS
//! certificate (`gateway::tls::reload_on_sighup`); the other processes keep its default action.

use tokio::signal::unix::{SignalKind, signal};

/// Listens for SIGINT and SIGTERM. Create it early: once created, those signals no longer kill
/// the process but complete [`Shutdown::wait`].
pub struct Shutdown {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
}

impl Shutdown {
    /// Installs the handlers (a handler that cannot be installed is logged and ignored).
    pub fn install() -> Shutdown {
        let term = signal(SignalKind::terminate())
            .map_err(|e| tracing::warn!("cannot listen for SIGTERM: {e}"))
            .ok();
        let int = signal(SignalKind::interrupt())
            .map_err(|e| tracing::warn!("cannot listen for SIGINT: {e}"))
            .ok();
        Shutdown { term, int }
    }

    /// Completes when SIGTERM or SIGINT arrives; returns the signal's name.
    pub async fn wait(&mut self) -> &'static str {
        let term = async {
            match self.term.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        let int = async {
            match self.int.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = term => "SIGTERM",
            _ = int => "SIGINT",
        }
    }
}
