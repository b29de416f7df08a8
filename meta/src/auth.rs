//! Meta's side of internal authentication ([`internal_auth`]): which signatures it accepts,
//! and the signer of its Raft messages to peers.
//!
//! Every route but health takes signed requests only: a service of the cluster (cluster
//! secret) may call the routes a gateway or chunk server needs, an operator (admin secret)
//! may call every route, and the Raft routes take only meta peers (a key derived from the
//! admin secret, so no gateway or chunk server can forge a Raft message).

use crate::config::Config;
use internal_auth::{Role, Secret, Signer, Verifier};
use meta_api::error::{Error, Result};

/// What a meta node checks and signs with.
pub struct MetaAuth {
    pub verifier: Verifier,
    /// Signs Raft messages to peers.
    pub peer: Signer,
}

/// The secrets of `config` (or its environment); `None` when `insecure_no_auth` is set.
pub fn load(config: &Config) -> Result<Option<MetaAuth>> {
    if config.insecure_no_auth {
        tracing::warn!(
            "insecure_no_auth = true: meta answers anyone who reaches it, with no credentials"
        );
        return Ok(None);
    }
    let bad = |e: internal_auth::AuthError| Error::InvalidArgument(e.to_string());
    let cluster = internal_auth::cluster_secret(config.cluster_key_file.as_deref()).map_err(bad)?;
    let admin = internal_auth::admin_secret(config.admin_key_file.as_deref()).map_err(bad)?;
    let (Some(cluster), Some(admin)) = (cluster, admin) else {
        return Err(Error::InvalidArgument(
            "meta needs the cluster secret (cluster_key_file, SPREAD_CLUSTER_KEY_FILE or \
             SPREAD_CLUSTER_KEY) and the admin secret (admin_key_file, SPREAD_ADMIN_KEY_FILE or \
             SPREAD_ADMIN_KEY): make each with `spread keygen FILE` (or set \
             insecure_no_auth = true on a closed test network)"
                .to_string(),
        ));
    };
    Ok(Some(with_secrets(&cluster, &admin)))
}

/// The verifier and peer signer of a node holding these secrets.
pub fn with_secrets(cluster: &Secret, admin: &Secret) -> MetaAuth {
    MetaAuth {
        verifier: Verifier::new()
            .accept(Role::Service, cluster)
            .accept(Role::Admin, admin)
            .accept(Role::Peer, admin),
        peer: Signer::new(Role::Peer, admin),
    }
}
