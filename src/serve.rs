//! `spread meta|chunkd|gateway`: load the process's config (or defaults) and serve until
//! SIGTERM / SIGINT.

use crate::cli::{ChunkdArgs, GatewayArgs, MetaArgs};
use crate::error::Result;
use crate::signals::Shutdown;
use std::future::Future;

/// Runs `server` until it fails or a shutdown signal arrives.
async fn until_shutdown<E>(name: &str, server: impl Future<Output = Result<(), E>>) -> Result<()>
where
    crate::error::Error: From<E>,
{
    let mut shutdown = Shutdown::install();
    tokio::select! {
        r = server => r.map_err(Into::into),
        sig = shutdown.wait() => {
            tracing::info!("{name}: {sig} received, stopping");
            Ok(())
        }
    }
}

/// `spread meta`.
pub async fn meta(args: MetaArgs) -> Result<()> {
    let config = match &args.config {
        Some(path) => meta::Config::load(path)?,
        None => meta::Config::default(),
    }
    .with_env()?;
    let config = match &args.restore {
        Some(file) => {
            let config = meta::Config {
                bootstrap: true,
                ..config
            };
            let (c, file) = (config.clone(), file.clone());
            tokio::task::spawn_blocking(move || meta::backup::restore(&c, &file))
                .await
                .map_err(|e| crate::error::Error::Usage(format!("restore task failed: {e}")))??;
            config
        }
        None => config,
    };
    // Meta stops cleanly: no new requests, in-flight commits finish, the LMDB environments
    // are closed before the process exits.
    let mut shutdown = Shutdown::install();
    let signalled = async move {
        let sig = shutdown.wait().await;
        tracing::info!("meta: {sig} received, stopping");
    };
    meta::server::run_until(config, signalled).await?;
    Ok(())
}

/// `spread chunkd`.
pub async fn chunkd(args: ChunkdArgs) -> Result<()> {
    let config = match &args.config {
        Some(path) => chunkd::Config::load(path)?,
        None => chunkd::Config::default(),
    }
    .with_env()?;
    until_shutdown("chunkd", chunkd::server::run(config)).await
}

/// `spread gateway`.
pub async fn gateway(args: GatewayArgs) -> Result<()> {
    let config = match &args.config {
        Some(path) => gateway::Config::load(path)?,
        None => gateway::Config::default(),
    };
    until_shutdown("gateway", gateway::server::run(config)).await
}
