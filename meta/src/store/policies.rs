//! The applied storage-policy file: validated with [`policy::PolicySet::parse`], stored as its
//! TOML text under `settings["policy"]` in the directory environment, and used to check the
//! policy names that containers refer to. Without an applied file, the built-in default applies
//! and any name is accepted (gateways fall back to the default).

use super::Store;
use super::batch::Tx;
use super::check_name;
use super::command::{Command, outcome};
use super::records::Meta1Record;
use super::records::{decode_record, encode_record};
use heed::RoTxn;
use heed::WithoutTls;
use meta_api::error::{Error, Result};
use meta_api::wire::ContainerInfo;

/// Key of the applied policy file in the `settings` database.
const POLICY_KEY: &[u8] = b"policy";

/// Parses a policy file; a bad file is an `InvalidArgument` carrying the parser's message.
pub fn parse_policy(text: &str) -> Result<policy::PolicySet> {
    policy::PolicySet::parse(text)
        .map_err(|e| Error::InvalidArgument(format!("invalid policy file: {e}")))
}

impl Store {
    /// Validates and durably stores a policy file, replacing the previous one.
    pub fn apply_policy(&self, text: &str) -> Result<()> {
        let command = Command::ApplyPolicy {
            text: text.to_string(),
        };
        outcome!(self.apply(command)?, Done)
    }

    pub(super) fn apply_policy_text(&self, tx: &mut Tx<'_, '_, '_>, text: &str) -> Result<()> {
        let set = parse_policy(text)?;
        let txn = &mut *tx.dir;
        self.dir.settings.put(txn, POLICY_KEY, text.as_bytes())?;
        tracing::info!(policies = set.policies.len(), default = %set.default, "policy file applied");
        Ok(())
    }

    /// The applied policy file's text, if any.
    pub fn get_policy(&self) -> Result<Option<String>> {
        let txn = self.dir.env.read_txn()?;
        Ok(self
            .dir
            .settings
            .get(&txn, POLICY_KEY)?
            .map(|b| String::from_utf8_lossy(b).into_owned()))
    }

    /// Checks that `name` is a policy of the applied file (any name passes without one).
    pub(crate) fn check_policy_name(&self, txn: &RoTxn<'_, WithoutTls>, name: &str) -> Result<()> {
        check_name("policy name", name, 255)?;
        let Some(text) = self.dir.settings.get(txn, POLICY_KEY)? else {
            return Ok(());
        };
        let text = String::from_utf8_lossy(text);
        let set = policy::PolicySet::parse(&text)
            .map_err(|e| Error::Db(format!("stored policy file no longer parses: {e}")))?;
        if set.policies.contains_key(name) {
            return Ok(());
        }
        let known: Vec<&str> = set.policies.keys().map(String::as_str).collect();
        Err(Error::InvalidArgument(format!(
            "no storage policy named {name:?} in the applied policy file (known: {})",
            known.join(", ")
        )))
    }

    /// Sets (or with `None` clears, back to the namespace default) a container's default
    /// storage policy.
    pub fn set_container_policy(&self, name: &str, policy: Option<&str>) -> Result<ContainerInfo> {
        let command = Command::SetContainerPolicy {
            name: name.to_string(),
            policy: policy.map(str::to_string),
        };
        outcome!(self.apply(command)?, Container)
    }

    pub(super) fn apply_set_container_policy(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        name: &str,
        policy: Option<String>,
    ) -> Result<ContainerInfo> {
        let policy = policy.as_deref();
        let r = self.resolve_in(tx.dir, name)?;
        let m1 = {
            let txn = &mut *tx.dir;
            if let Some(p) = policy {
                self.check_policy_name(txn, p)?;
            }
            // Re-read under the write lock: the container may have changed meanwhile.
            let mut m1: Meta1Record = match self.dir.meta1.get(txn, r.cid.as_bytes())? {
                Some(v) => decode_record(v)?,
                None => return Err(Error::NoSuchContainer(name.to_string())),
            };
            m1.settings.policy = policy.map(str::to_string);
            self.dir
                .meta1
                .put(txn, r.cid.as_bytes(), &encode_record(&m1)?)?;
            m1
        };
        tracing::info!(container = name, policy = ?policy, "container policy set");
        let usage = tx.meta2(&r.cid, |m2, txn| m2.read_usage(txn))?;
        Ok(super::containers::info(r.cid, m1, usage))
    }
}
