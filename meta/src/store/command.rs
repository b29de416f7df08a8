//! Commands: every change to meta's durable state is a [`Command`] value, applied by one
//! deterministic [`Store::apply`].
//!
//! A command carries everything that is not a function of the store's state: timestamps,
//! generated ids and secrets, tokens, GC due times, the conscience's computed score, the
//! meta2 addresses of a new container. The store's public write methods (`put_object_if`,
//! `create_account`, ...) only *prepare* a command — read the clock, draw random ids, compute
//! due times from this node's configuration — and hand it to `apply`, which reads nothing but
//! the command and the store. So the same commands applied in the same order to two stores
//! leave them identical, which is what a replicated log (Raft) needs: every node applies the
//! leader's commands to its own LMDB files.
//!
//! A command's work may span environments (a PUT writes the container's meta2 and the
//! directory's expiry and GC indexes); `apply` does them in the order that keeps a crash
//! between them harmless (index entries before the record, GC entries after it).
//!
//! Reads are not commands and never write.
//!
//! Adding a write operation: a variant here (with every non-deterministic input as a field),
//! its arm in [`Store::apply`] calling a deterministic `apply_*` body, its [`Outcome`], and a
//! public method that prepares the command.

use super::{ExpiryPass, Store};
use meta_api::error::Result;
use meta_api::wire::{
    AccountInfo, ChunkCopy, CompleteRequest, ContainerInfo, ContainerSettings, Credential,
    DeleteOutcome, Heartbeat, HeartbeatReply, ObjectRecord, PartRecord, PutCondition,
    ServiceRecord, Stored, SwiftToken, SwiftUser, UploadRecord, Versioning,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The version of the command encoding this binary writes (see [`Logged`]).
pub const COMMAND_VERSION: u32 = 1;

/// A command as it is written down (in a log): its encoding's version and the command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logged {
    pub v: u32,
    pub command: Command,
}

impl super::records::Record for Logged {
    const KIND: &'static str = "command";
    const VERSION: u32 = COMMAND_VERSION;
    fn version(&self) -> u32 {
        self.v
    }
}

/// One change to meta's durable state, with every non-deterministic input chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    CreateAccount {
        name: String,
        created_ms: i64,
    },
    UpdateAccountMeta {
        name: String,
        set: BTreeMap<String, String>,
        remove: Vec<String>,
    },
    CreateKey {
        account: String,
        access_key: String,
        secret_key: String,
    },
    CreateContainer {
        account: String,
        name: String,
        settings: ContainerSettings,
        meta2: Vec<String>,
        created_ms: i64,
    },
    DeleteContainer {
        account: String,
        name: String,
        gc_due_ms: u64,
    },
    SetContainerPolicy {
        name: String,
        policy: Option<String>,
    },
    UpdateContainerProperties {
        name: String,
        set: BTreeMap<String, String>,
        remove: Vec<String>,
    },
    SetVersioning {
        name: String,
        state: Versioning,
        /// Starts the container's version sequence if it has none.
        now_ms: i64,
    },
    PutObject {
        container: String,
        record: Box<ObjectRecord>,
        condition: PutCondition,
        now_ms: i64,
        gc_due_ms: u64,
    },
    AbandonWrite {
        container: String,
        key: String,
        content_id: String,
        chunks: Vec<ChunkCopy>,
        now_ms: i64,
        gc_due_ms: u64,
    },
    DeleteVersion {
        container: String,
        key: String,
        version_id: Option<String>,
        bypass_governance: bool,
        now_ms: i64,
        gc_due_ms: u64,
    },
    /// Deletes the current version of `key` if its `x-delete-at` is still `at` (the
    /// expirer), and drops the index entry either way.
    Expire {
        container: String,
        cid: String,
        key: String,
        at: u64,
        gc_due_ms: u64,
    },
    UpdateObjectProps {
        container: String,
        key: String,
        version_id: Option<String>,
        set: BTreeMap<String, String>,
        remove: Vec<String>,
        bypass_governance: bool,
        now_ms: i64,
    },
    CreateUpload {
        container: String,
        record: UploadRecord,
    },
    PutPart {
        container: String,
        upload_id: String,
        part: PartRecord,
        gc_due_ms: u64,
    },
    CompleteUpload {
        container: String,
        upload_id: String,
        request: CompleteRequest,
        content_id: String,
        now_ms: i64,
        gc_due_ms: u64,
    },
    AbortUpload {
        container: String,
        upload_id: String,
        gc_due_ms: u64,
    },
    QueueGc {
        chunks: Vec<ChunkCopy>,
        due_ms: u64,
    },
    /// Registers or refreshes a service, drops the GC entries it confirms and hands out those
    /// due at `now_ms`.
    Heartbeat {
        heartbeat: Heartbeat,
        now_ms: i64,
        /// The score the conscience's expression gives the reported statistics.
        computed_score: u8,
        /// A new service starts locked at score 0.
        lock_if_new: bool,
        dead_after_ms: i64,
        max_rise: u8,
    },
    LockService {
        id: String,
        score: u8,
    },
    UnlockService {
        id: String,
    },
    UnlockAll,
    ApplyPolicy {
        text: String,
    },
    CreateSwiftUser {
        account: String,
        user: String,
        key: String,
        admin: bool,
    },
    CreateToken {
        account: String,
        user: String,
        token: String,
        expires_ms: i64,
    },
    PurgeTokens {
        now_ms: i64,
    },
}

/// What applying a command answers (serializable: a Raft follower hands the leader's answer
/// back to the client that sent it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    Done(()),
    Account(AccountInfo),
    Credential(Credential),
    Container(ContainerInfo),
    Stored(Stored),
    Abandoned(Option<String>),
    Deleted(DeleteOutcome),
    Expired(ExpiryPass),
    Object(ObjectRecord),
    Heartbeat(HeartbeatReply),
    Service(ServiceRecord),
    Count(u64),
    SwiftUser(SwiftUser),
    Token(SwiftToken),
}

/// Takes the expected variant out of an outcome.
macro_rules! outcome {
    ($outcome:expr, $variant:ident) => {
        match $outcome {
            $crate::store::command::Outcome::$variant(v) => Ok(v),
            other => Err(meta_api::error::Error::Internal(format!(
                "a command answered {other:?}, not {}",
                stringify!($variant)
            ))),
        }
    };
}
pub(crate) use outcome;

impl Store {
    /// Applies one command: deterministic in the command and the store's state.
    pub fn apply(&self, command: Command) -> Result<Outcome> {
        use Command as C;
        use Outcome as O;
        Ok(match command {
            C::CreateAccount { name, created_ms } => {
                O::Account(self.apply_create_account(&name, created_ms)?)
            }
            C::UpdateAccountMeta { name, set, remove } => {
                O::Account(self.apply_update_account_meta(&name, set, &remove)?)
            }
            C::CreateKey {
                account,
                access_key,
                secret_key,
            } => O::Credential(self.apply_create_key(&account, access_key, secret_key)?),
            C::CreateContainer {
                account,
                name,
                settings,
                meta2,
                created_ms,
            } => O::Container(
                self.apply_create_container(&account, &name, &settings, meta2, created_ms)?,
            ),
            C::DeleteContainer {
                account,
                name,
                gc_due_ms,
            } => {
                self.apply_delete_container(&account, &name, gc_due_ms)?;
                O::Done(())
            }
            C::SetContainerPolicy { name, policy } => {
                O::Container(self.apply_set_container_policy(&name, policy)?)
            }
            C::UpdateContainerProperties { name, set, remove } => {
                O::Container(self.apply_update_container_properties(&name, set, &remove)?)
            }
            C::SetVersioning {
                name,
                state,
                now_ms,
            } => {
                self.apply_set_versioning(&name, state, now_ms)?;
                O::Done(())
            }
            C::PutObject {
                container,
                record,
                condition,
                now_ms,
                gc_due_ms,
            } => {
                O::Stored(self.apply_put_object(&container, *record, condition, now_ms, gc_due_ms)?)
            }
            C::AbandonWrite {
                container,
                key,
                content_id,
                chunks,
                now_ms,
                gc_due_ms,
            } => O::Abandoned(self.apply_abandon_write(
                &container,
                &key,
                &content_id,
                &chunks,
                now_ms,
                gc_due_ms,
            )?),
            C::DeleteVersion {
                container,
                key,
                version_id,
                bypass_governance,
                now_ms,
                gc_due_ms,
            } => O::Deleted(self.apply_delete_version(
                &container,
                &key,
                version_id,
                bypass_governance,
                now_ms,
                gc_due_ms,
            )?),
            C::Expire {
                container,
                cid,
                key,
                at,
                gc_due_ms,
            } => O::Expired(self.apply_expire(&container, &cid, &key, at, gc_due_ms)?),
            C::UpdateObjectProps {
                container,
                key,
                version_id,
                set,
                remove,
                bypass_governance,
                now_ms,
            } => O::Object(self.apply_update_object_props(
                &container,
                &key,
                version_id.as_deref(),
                &super::versions::PropChange {
                    set: &set,
                    remove: &remove,
                    bypass_governance,
                    now_ms,
                },
            )?),
            C::CreateUpload { container, record } => {
                self.apply_create_upload(&container, &record)?;
                O::Done(())
            }
            C::PutPart {
                container,
                upload_id,
                part,
                gc_due_ms,
            } => {
                self.apply_put_part(&container, &upload_id, &part, gc_due_ms)?;
                O::Done(())
            }
            C::CompleteUpload {
                container,
                upload_id,
                request,
                content_id,
                now_ms,
                gc_due_ms,
            } => O::Object(self.apply_complete_upload(
                &container, &upload_id, request, content_id, now_ms, gc_due_ms,
            )?),
            C::AbortUpload {
                container,
                upload_id,
                gc_due_ms,
            } => {
                self.apply_abort_upload(&container, &upload_id, gc_due_ms)?;
                O::Done(())
            }
            C::QueueGc { chunks, due_ms } => {
                self.apply_queue_gc(chunks, due_ms)?;
                O::Done(())
            }
            C::Heartbeat {
                heartbeat,
                now_ms,
                computed_score,
                lock_if_new,
                dead_after_ms,
                max_rise,
            } => O::Heartbeat(self.apply_heartbeat(
                &heartbeat,
                now_ms,
                computed_score,
                lock_if_new,
                dead_after_ms,
                max_rise,
            )?),
            C::LockService { id, score } => O::Service(self.apply_lock_service(&id, score)?),
            C::UnlockService { id } => O::Service(self.apply_unlock_service(&id)?),
            C::UnlockAll => O::Count(self.apply_unlock_all()?),
            C::ApplyPolicy { text } => {
                self.apply_policy_text(&text)?;
                O::Done(())
            }
            C::CreateSwiftUser {
                account,
                user,
                key,
                admin,
            } => O::SwiftUser(self.apply_create_swift_user(&account, &user, &key, admin)?),
            C::CreateToken {
                account,
                user,
                token,
                expires_ms,
            } => O::Token(self.apply_create_token(&account, &user, token, expires_ms)?),
            C::PurgeTokens { now_ms } => O::Count(self.apply_purge_tokens(now_ms)?),
        })
    }

    /// When a GC entry queued now is due, by this node's grace period.
    pub(crate) fn gc_due_ms(&self) -> u64 {
        u64::try_from(crate::ids::now_ms())
            .unwrap_or(0)
            .saturating_add(self.gc_grace_ms)
    }
}
