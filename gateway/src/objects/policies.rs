//! Storage policies as the gateway applies them: the policy file applied in meta (refreshed like
//! the conscience view, so `spread admin policy apply` takes effect without restarts), or a
//! built-in single replication policy from the gateway's configuration when none was applied.
//! Resolution order for a new object: the request's storage class, the container's policy, the
//! default policy.

use std::sync::Arc;
use std::time::Duration;

use meta_api::client::MetaClient;
use meta_api::wire::ContainerInfo;
use policy::{PolicySet, StoragePolicy};

use super::cache::Refreshed;
use crate::error::{Error, Result};

pub struct PolicyDirectory {
    meta: MetaClient,
    builtin: Arc<PolicySet>,
    cache: Refreshed<PolicySet>,
}

impl PolicyDirectory {
    pub fn new(meta: MetaClient, refresh_ms: u64, replicas: usize, chunk_size: u64) -> Self {
        PolicyDirectory {
            meta,
            builtin: Arc::new(PolicySet::builtin(replicas, chunk_size)),
            cache: Refreshed::new(Duration::from_millis(refresh_ms.max(50))),
        }
    }

    /// The policies in force.
    pub async fn current(&self) -> Result<Arc<PolicySet>> {
        let builtin = self.builtin.clone();
        self.cache
            .get(|| async {
                match self.meta.get_policy().await? {
                    None => Ok((*builtin).clone()),
                    Some(text) => PolicySet::parse(&text).map_err(|e| {
                        Error::Internal(format!("the applied policy file is invalid: {e}"))
                    }),
                }
            })
            .await
    }

    /// The policy a new object in `container` gets, given the storage class it asked for.
    pub async fn resolve(
        &self,
        container: &ContainerInfo,
        storage_class: Option<&str>,
    ) -> Result<(Arc<PolicySet>, StoragePolicy)> {
        let set = self.current().await?;
        if let Some(class) = storage_class.filter(|c| !c.is_empty()) {
            return match set.for_storage_class(class) {
                Some(p) => Ok((set.clone(), p.clone())),
                // STANDARD always works, mapped or not.
                None if class == "STANDARD" => {
                    let p = self.container_policy(&set, container);
                    Ok((set, p))
                }
                None => Err(Error::InvalidStorageClass(class.to_string())),
            };
        }
        let p = self.container_policy(&set, container);
        Ok((set, p))
    }

    /// The container's own policy, or the default one when it has none — or names a policy a
    /// later policy file dropped (existing objects keep their recorded layout either way).
    fn container_policy(&self, set: &PolicySet, container: &ContainerInfo) -> StoragePolicy {
        if let Some(name) = &container.settings.policy {
            match set.get(name) {
                Some(p) => return p.clone(),
                None => tracing::warn!(
                    container = container.name.as_str(),
                    policy = name.as_str(),
                    "container policy is no longer defined, using the default policy"
                ),
            }
        }
        set.default_policy().clone()
    }
}
