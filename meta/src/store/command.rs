//! Commands: every change to meta's durable state is a [`Command`] value, applied by one
//! deterministic [`Store::apply`].
//!
//! A command carries everything that is not a function of the store's state: timestamps,
//! generated ids and secrets (sealed under the master key when there is one: see
//! [`crate::secrets`]), tokens, GC due times, the conscience's computed score, the
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

use super::batch::Tx;
use super::dedupe::RequestTag;
use super::sealing::Reseal;
use super::{ExpiryPass, Store};
use crate::secrets::Sealed;
use meta_api::error::Result;
use meta_api::settings::{SettingChange, VersionChange};
use meta_api::wire::{
    AccountInfo, ChunkCopy, CompleteRequest, ContainerInfo, ContainerSettings, Credential,
    DeleteOutcome, Heartbeat, HeartbeatReply, ObjectRecord, PartRecord, PutCondition,
    ServiceRecord, Stored, SwiftToken, SwiftUser, UploadRecord, Versioning,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// The version of the command encoding this binary writes: commands are written down in the
/// Raft log as a [`crate::raft::Proposal`] carrying it, and a node refuses a newer one.
///
/// - 2: the self-healing commands, `pieces_wanted`;
/// - 3: sealed secrets (`CreateKey` and `CreateSwiftUser` carrying `sealed`, `SealSecrets`);
/// - 4: quotas and deletes (`SetQuota`, `DeleteAccount`, `DeleteKey`, `DeleteSwiftUser`).
///   Quotas are enforced while applying the commands that grow a container, so an older node
///   (which does not) must refuse `SetQuota` rather than apply the log differently;
/// - 5: `Once` (a command with its client's request id, answered once: [`super::dedupe`]);
/// - 6: typed settings and version properties (`SetContainerSettings`, `ChangeObjectProps`;
///   `CreateContainer` with `settings.props`, `PutObject` and `CreateUpload` whose record has
///   `props`). An older node would drop the settings as unknown fields, or fail to read the
///   properties;
/// - 7: the S3 object ownership setting (`SettingChange::Ownership`, `CreateContainer` with
///   `ownership`): an older node cannot read the change;
/// - 8: `PutObject` whose condition has `in_place` (a Swift POST rewriting the current
///   version's metadata): an older node would drop the flag and store a new version;
/// - 9: server-side encryption (`PutObject`, `CreateUpload` whose record has `encryption`,
///   `PutPart` whose part has a `key`; `SettingChange::Encryption`, `CreateContainer` with
///   `encryption`). An older node would drop the encryption parameters and serve ciphertext
///   as the object, or assemble an encrypted upload at the wrong offsets;
/// - 10: `MarkLost` with `counted_by_page` (the lost server's totals are counted as its pages
///   are queued): an older node would drop the flag and walk the server's whole reverse index
///   in one apply, leaving different totals (and a version-1 lost record);
/// - 11: the SSE-KMS key store (`CreateKmsKey`, `SetKmsKeyEnabled`, `SetKmsKeyMaterial`).
///   An older node does not know the commands; records and keys of mode `kms_key` come with
///   them (an older gateway cannot open them either);
/// - 12: `QueueRebuild` and `Heartbeat` with `merge_short` (a lost or rotten copy that
///   anchors a short chunk's repair takes over that entry, keeping the short need): an
///   older node would keep the short entry alone and drop the loss.
/// - 13: `PutObject` and `CreateUpload` whose record's encryption
///   has an SSE-KMS context (`kms_context`). An older node would drop the context, and with
///   it the object's data keys, which are wrapped with the context bound to them.
pub const COMMAND_VERSION: u32 = 13;

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
    /// Creates an access key. With a master key the secret is sealed by the node that
    /// prepares the command: `sealed` holds it and `secret_key` is empty (version 3), so the
    /// Raft log never holds the plaintext.
    CreateKey {
        account: String,
        access_key: String,
        secret_key: String,
        #[serde(default)]
        sealed: Option<Sealed>,
    },
    CreateContainer {
        account: String,
        name: String,
        settings: Box<ContainerSettings>,
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
    /// Changes settings named as in the string map they were before they were typed
    /// (applied through `ContainerProps::apply_legacy`): written by versions before 6, and
    /// for gateways of that time.
    UpdateContainerProperties {
        name: String,
        set: BTreeMap<String, String>,
        remove: Vec<String>,
    },
    /// Changes a container's settings, in order (version 6).
    SetContainerSettings {
        name: String,
        changes: Vec<SettingChange>,
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
        /// Pieces per chunk the policy asks for (0: not said; version 2 when set): chunks
        /// stored with fewer are queued for repair.
        #[serde(default)]
        pieces_wanted: u32,
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
    /// Changes version properties named as in the string map they were before they were typed
    /// (`VersionProps::apply_legacy`): written by versions before 6, and for gateways of then.
    UpdateObjectProps {
        container: String,
        key: String,
        version_id: Option<String>,
        set: BTreeMap<String, String>,
        remove: Vec<String>,
        bypass_governance: bool,
        now_ms: i64,
    },
    /// Changes a version's properties in place (version 6).
    ChangeObjectProps {
        container: String,
        key: String,
        version_id: Option<String>,
        changes: Vec<VersionChange>,
        bypass_governance: bool,
        now_ms: i64,
    },
    CreateUpload {
        container: String,
        record: Box<UploadRecord>,
    },
    PutPart {
        container: String,
        upload_id: String,
        part: PartRecord,
        gc_due_ms: u64,
        /// As in `PutObject` (version 2 when set).
        #[serde(default)]
        pieces_wanted: u32,
        #[serde(default)]
        now_ms: i64,
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
        /// As `QueueRebuild`'s, for the rotten copies the heartbeat reports (version 12 when
        /// set; set only when it reports some).
        #[serde(default)]
        merge_short: bool,
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
    /// Creates a Swift user; `sealed` as in `CreateKey` (version 3 when set).
    CreateSwiftUser {
        account: String,
        user: String,
        key: String,
        admin: bool,
        #[serde(default)]
        sealed: Option<Sealed>,
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
    /// Declares a chunk server lost (version 2). `reason` is one of
    /// [`super::LostReason`]'s names (a string, as in the entries written before that type).
    MarkLost {
        service: String,
        reason: String,
        now_ms: i64,
        /// Its copies are counted as their pages are queued, not by a walk over all of them
        /// here (version 10 when set; entries written before lack it and count the old way:
        /// see `Store::apply_mark_lost`).
        #[serde(default)]
        counted_by_page: bool,
    },
    /// Queues the next page of a lost server's copies for repair (version 2).
    QueueRebuild {
        service: String,
        max: u32,
        now_ms: i64,
        /// A copy queued as the anchor of a short chunk takes the loss into its entry rather
        /// than dropping it (version 12 when set; entries written before lack it and keep the
        /// short entry alone: see `Store::enqueue`).
        #[serde(default)]
        merge_short: bool,
    },
    /// Hands out repair queue entries to a worker (version 2).
    ClaimRepairs {
        worker: String,
        max: u32,
        now_ms: i64,
        lease_ms: u64,
    },
    /// Records re-created copies by compare-and-set on the records (version 2).
    RepairDone {
        container: String,
        key: String,
        upload: Option<String>,
        replaced: Vec<meta_api::wire::ReplacedCopy>,
        dropped: Vec<ChunkCopy>,
        #[serde(default)]
        added: Vec<meta_api::wire::AddedCopy>,
        now_ms: i64,
        gc_due_ms: u64,
    },
    /// Removes a retired chunk server holding nothing from the conscience (version 2).
    ForgetService {
        service: String,
        now_ms: i64,
        dead_after_ms: i64,
    },
    /// A repair failed: retried at `retry_at_ms`, or unrepairable (version 2).
    RepairFailed {
        service: String,
        chunk_id: String,
        error: String,
        now_ms: i64,
        retry_at_ms: Option<i64>,
    },
    /// Replaces stored secrets by the ones the leader sealed, each only if the record still
    /// holds the form it was sealed from (version 3; see [`super::sealing`]).
    SealSecrets {
        items: Vec<Reseal>,
    },
    /// Sets or (both `None`) removes the quota of an account or one of its containers
    /// (version 4).
    SetQuota {
        account: String,
        container: Option<String>,
        max_bytes: Option<u64>,
        max_objects: Option<u64>,
    },
    /// Deletes an account that owns no container, with its keys, Swift users, tokens and
    /// quotas (version 4).
    DeleteAccount {
        name: String,
    },
    /// Deletes an access key (version 4).
    DeleteKey {
        access_key: String,
    },
    /// Deletes a Swift user and its tokens (version 4).
    DeleteSwiftUser {
        account: String,
        user: String,
    },
    /// Creates a key of the SSE-KMS key store, enabled, without material (version 11).
    CreateKmsKey {
        name: String,
        created_ms: i64,
    },
    /// Enables or disables a key-store key (version 11).
    SetKmsKeyEnabled {
        name: String,
        enabled: bool,
    },
    /// Gives a key-store key its material, wrapped by a gateway's master key, unless it has
    /// some already (version 11).
    SetKmsKeyMaterial {
        name: String,
        material: meta_api::encryption::KmsMaterial,
    },
    /// `command`, sent by a client under a request id: applied the first time, answered from
    /// the recorded answer when the same id comes again (version 5; see [`super::dedupe`]).
    Once {
        request: RequestTag,
        command: Box<Command>,
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
    Lost(meta_api::wire::LostService),
    Repairs(Vec<meta_api::wire::RepairItem>),
    Repaired(meta_api::api::RepairOutcome),
    Quota(meta_api::api::QuotaInfo),
    KmsKey(meta_api::encryption::KmsKey),
}

/// A command's times: when it happened, and when the chunks it frees may be deleted.
#[derive(Clone, Copy)]
pub(crate) struct Clock {
    pub now_ms: i64,
    pub gc_due_ms: u64,
}

/// How a heartbeat's score is kept (all chosen when the command was prepared).
pub(crate) struct Scoring {
    pub computed: u8,
    pub lock_if_new: bool,
    pub dead_after_ms: i64,
    pub max_rise: u8,
}

/// Where a Raft node sends a command (blocking until it is applied, or failed).
pub type Submit = Arc<dyn Fn(Command) -> Result<Outcome> + Send + Sync>;

/// Where one local caller's answer lands.
type Slot = Arc<Mutex<Option<Result<Outcome>>>>;

/// Commands waiting for this process's next local batch.
#[derive(Default)]
pub struct LocalQueue {
    queue: VecDeque<(Command, Slot)>,
    leading: bool,
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

impl Command {
    /// The container whose meta2 environment the command writes, if any.
    pub fn meta2_container(&self) -> Option<&str> {
        use Command as C;
        match self {
            C::PutObject { container, .. }
            | C::AbandonWrite { container, .. }
            | C::DeleteVersion { container, .. }
            | C::Expire { container, .. }
            | C::UpdateObjectProps { container, .. }
            | C::ChangeObjectProps { container, .. }
            | C::CreateUpload { container, .. }
            | C::PutPart { container, .. }
            | C::CompleteUpload { container, .. }
            | C::AbortUpload { container, .. }
            | C::RepairDone { container, .. } => Some(container),
            C::Once { command, .. } => command.meta2_container(),
            C::SetQuota {
                container: Some(name),
                ..
            } => Some(name),
            C::DeleteContainer { name, .. }
            | C::SetVersioning { name, .. }
            | C::SetContainerPolicy { name, .. }
            | C::UpdateContainerProperties { name, .. }
            | C::SetContainerSettings { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The command encoding version that introduced this command: a proposal carries the
    /// highest of its commands', so a node too old for a command refuses it by name while
    /// older commands still replicate to it.
    pub fn version(&self) -> u32 {
        use Command as C;
        // `black_box`: see `carries_typed_values`.
        if std::hint::black_box(self.carries_kms_context()) {
            return 13;
        }
        if matches!(
            self,
            C::CreateKmsKey { .. } | C::SetKmsKeyEnabled { .. } | C::SetKmsKeyMaterial { .. }
        ) || std::hint::black_box(self.carries_kms())
        {
            return 11;
        }
        // `black_box`: see `carries_typed_values`.
        if std::hint::black_box(self.carries_encryption()) {
            return 9;
        }
        if std::hint::black_box(self.rewrites_in_place()) {
            return 8;
        }
        if std::hint::black_box(self.sets_ownership()) {
            return 7;
        }
        if std::hint::black_box(self.carries_typed_values()) {
            return 6;
        }
        match self {
            C::QueueRebuild {
                merge_short: true, ..
            }
            | C::Heartbeat {
                merge_short: true, ..
            } => 12,
            C::MarkLost {
                counted_by_page: true,
                ..
            } => 10,
            C::MarkLost { .. }
            | C::QueueRebuild { .. }
            | C::ClaimRepairs { .. }
            | C::RepairDone { .. }
            | C::RepairFailed { .. }
            | C::ForgetService { .. } => 2,
            C::SealSecrets { .. }
            | C::CreateKey {
                sealed: Some(_), ..
            }
            | C::CreateSwiftUser {
                sealed: Some(_), ..
            } => 3,
            C::SetQuota { .. }
            | C::DeleteAccount { .. }
            | C::DeleteKey { .. }
            | C::DeleteSwiftUser { .. } => 4,
            C::Once { command, .. } => command.version().max(5),
            C::PutObject { pieces_wanted, .. } | C::PutPart { pieces_wanted, .. }
                if *pieces_wanted > 0 =>
            {
                2
            }
            _ => 1,
        }
    }

    /// Whether the command rewrites a version in place (`PutObject` whose condition has
    /// `in_place`, version 8): an older node would drop the flag and store a new version.
    fn rewrites_in_place(&self) -> bool {
        match self {
            Command::PutObject { condition, .. } => condition.in_place,
            Command::Once { command, .. } => command.rewrites_in_place(),
            _ => false,
        }
    }

    /// Whether the command carries typed settings or version properties (version 6): an older
    /// node would drop them as unknown fields or fail to read them.
    ///
    /// Its answer goes through `std::hint::black_box` in `version`: without it, rustc 1.95's
    /// release build (LLVM) folded `version()` of a `CreateKey` built just before the call into
    /// a value that printed 1 and compared unequal to every version — a miscompile, caught by
    /// `sealing_tests::sealed_creation_commands_are_version_3` (not inlining this function did
    /// not help; hiding its answer from the optimizer does). Not reduced to a report yet.
    fn carries_typed_values(&self) -> bool {
        use Command as C;
        match self {
            C::SetContainerSettings { .. } | C::ChangeObjectProps { .. } => true,
            C::CreateContainer { settings, .. } => !settings.props.is_empty(),
            C::PutObject { record, .. } => !record.props.is_empty(),
            C::CreateUpload { record, .. } => !record.props.is_empty(),
            _ => false,
        }
    }

    /// Whether the command carries server-side encryption parameters (version 9).
    fn carries_encryption(&self) -> bool {
        use meta_api::settings::SettingChange;
        match self {
            Command::PutObject { record, .. } => record.encryption.is_some(),
            Command::CreateUpload { record, .. } => record.encryption.is_some(),
            Command::PutPart { part, .. } => part.key.is_some(),
            Command::SetContainerSettings { changes, .. } => changes
                .iter()
                .any(|c| matches!(c, SettingChange::Encryption(_))),
            Command::CreateContainer { settings, .. } => settings.props.encryption.is_some(),
            _ => false,
        }
    }

    /// Whether the command carries SSE-KMS parameters (version 11): an older node cannot
    /// read the mode `kms_key` or a `kms` data key, and an older gateway would write plain
    /// objects to a bucket whose default is `aws:kms`.
    fn carries_kms(&self) -> bool {
        use meta_api::encryption::{DataKey, SseMode};
        use meta_api::settings::SettingChange;
        let kms_default = |d: &Option<meta_api::settings::DefaultEncryption>| {
            d.as_ref().is_some_and(|d| d.algorithm == "aws:kms")
        };
        match self {
            Command::PutObject { record, .. } => record
                .encryption
                .as_ref()
                .is_some_and(|e| e.mode == SseMode::KmsKey),
            Command::CreateUpload { record, .. } => record
                .encryption
                .as_ref()
                .is_some_and(|e| e.mode == SseMode::KmsKey),
            Command::PutPart { part, .. } => matches!(part.key, Some(DataKey::Kms { .. })),
            Command::SetContainerSettings { changes, .. } => changes
                .iter()
                .any(|c| matches!(c, SettingChange::Encryption(d) if kms_default(d))),
            Command::CreateContainer { settings, .. } => kms_default(&settings.props.encryption),
            Command::Once { command, .. } => command.carries_kms(),
            _ => false,
        }
    }

    /// Whether the command records an SSE-KMS encryption context (version 13).
    fn carries_kms_context(&self) -> bool {
        let has = |e: &Option<meta_api::encryption::Encryption>| {
            e.as_ref().is_some_and(|e| e.kms_context.is_some())
        };
        match self {
            Command::PutObject { record, .. } => has(&record.encryption),
            Command::CreateUpload { record, .. } => has(&record.encryption),
            Command::Once { command, .. } => command.carries_kms_context(),
            _ => false,
        }
    }

    /// Whether the command sets the S3 object ownership setting (version 7).
    fn sets_ownership(&self) -> bool {
        use meta_api::settings::SettingChange;
        match self {
            Command::SetContainerSettings { changes, .. } => changes
                .iter()
                .any(|c| matches!(c, SettingChange::Ownership(_))),
            Command::CreateContainer { settings, .. } => settings.props.ownership.is_some(),
            _ => false,
        }
    }

    /// Whether the command goes under its request's id ([`Command::Once`]). Not those whose
    /// answer carries a secret chosen while preparing it (a key, a token): the recorded answer
    /// would keep the secret in the directory, and a retry, prepared anew, would hand out its
    /// own new secret with the first one's record. Retried, they are refused
    /// (`CredentialExists`) or make a second key or token.
    pub fn answered_once(&self) -> bool {
        !matches!(
            self,
            Command::CreateKey { .. }
                | Command::CreateSwiftUser { .. }
                | Command::CreateToken { .. }
                | Command::SealSecrets { .. }
                | Command::Once { .. }
        )
    }

    /// Commands that create or remove a meta2 environment run in a batch of their own.
    pub fn runs_alone(&self) -> bool {
        match self {
            Command::CreateContainer { .. } | Command::DeleteContainer { .. } => true,
            Command::Once { command, .. } => command.runs_alone(),
            _ => false,
        }
    }
}

impl Store {
    /// Applies one command: deterministic in the command and the store's state. Through the
    /// replicated log when this store belongs to a Raft node (see [`Store::route_commands`]),
    /// else in this process's next batch.
    ///
    /// When this thread serves a client request with a request id
    /// ([`super::dedupe::with_request`]), the first command it applies goes as
    /// [`Command::Once`] under that id.
    pub fn apply(&self, command: Command) -> Result<Outcome> {
        // Before proposing: whether a map is too full to take it is this node's own
        // measure, never part of applying (see [`super::room`]).
        self.check_room(&command)?;
        let command = match super::dedupe::take_current() {
            Some(id) if command.answered_once() => Command::Once {
                request: RequestTag {
                    id,
                    now_ms: crate::ids::now_ms(),
                },
                command: Box::new(command),
            },
            _ => command,
        };
        if let Some(submit) = self.submit.get().and_then(|cell| cell.get()) {
            return submit(command);
        }
        self.apply_local(command)
    }

    /// Applies one command in a batch (one transaction per environment) shared with
    /// concurrent callers: the first caller with no batch in progress applies every queued
    /// command, the others wait for their answers. Blocking.
    fn apply_local(&self, command: Command) -> Result<Outcome> {
        let slot: Slot = Arc::new(Mutex::new(None));
        let mut state = self.lock_local();
        state.queue.push_back((command, slot.clone()));
        loop {
            if let Some(r) = slot.lock().unwrap_or_else(|e| e.into_inner()).take() {
                return r;
            }
            if state.leading {
                state = self
                    .local_done
                    .wait(state)
                    .unwrap_or_else(|e| e.into_inner());
                continue;
            }
            state.leading = true;
            let take = state.queue.len().min(super::batch::MAX_BATCH);
            let queued: Vec<(Command, Slot)> = state.queue.drain(..take).collect();
            drop(state);
            let (commands, slots): (Vec<Command>, Vec<Slot>) = queued.into_iter().unzip();
            let items = commands
                .into_iter()
                .map(|c| super::batch::Item {
                    index: None,
                    command: Some(c),
                })
                .collect();
            let answers = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.apply_items(items, &mut |_| Ok(Vec::new()))
            }));
            let mut answers = match answers {
                Ok(Ok(a)) => a.into_iter().map(Some).collect::<Vec<_>>(),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "a batch of commands failed");
                    std::iter::repeat_with(|| None).take(slots.len()).collect()
                }
                Err(_) => {
                    tracing::error!("a batch of commands panicked");
                    std::iter::repeat_with(|| None).take(slots.len()).collect()
                }
            };
            answers.resize_with(slots.len(), || None);
            for (s, a) in slots.iter().zip(answers) {
                let a = a.unwrap_or_else(|| {
                    Err(meta_api::error::Error::Internal(
                        "the batch holding this write failed; it may have been applied".into(),
                    ))
                });
                *s.lock().unwrap_or_else(|e| e.into_inner()) = Some(a);
            }
            state = self.lock_local();
            state.leading = false;
            self.local_done.notify_all();
        }
    }

    fn lock_local(&self) -> MutexGuard<'_, LocalQueue> {
        self.local.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends every command of this store through `submit` from now on (a Raft node's write
    /// path); the state machine applies them with [`Store::apply_items`].
    pub fn route_commands(&self, submit: Arc<OnceLock<Submit>>) -> Result<()> {
        self.submit
            .set(submit)
            .map_err(|_| meta_api::error::Error::Internal("commands are routed already".into()))
    }

    /// Applies one command inside a batch: deterministic in the command and the state the
    /// batch's transactions show.
    pub(crate) fn apply_in(&self, tx: &mut Tx<'_, '_, '_>, command: Command) -> Result<Outcome> {
        use Command as C;
        use Outcome as O;
        Ok(match command {
            C::CreateAccount { name, created_ms } => {
                O::Account(self.apply_create_account(tx, &name, created_ms)?)
            }
            C::UpdateAccountMeta { name, set, remove } => {
                O::Account(self.apply_update_account_meta(tx, &name, set, &remove)?)
            }
            C::CreateKey {
                account,
                access_key,
                secret_key,
                sealed,
            } => {
                O::Credential(self.apply_create_key(tx, &account, access_key, secret_key, sealed)?)
            }
            C::CreateContainer {
                account,
                name,
                settings,
                meta2,
                created_ms,
            } => O::Container(
                self.apply_create_container(tx, &account, &name, &settings, meta2, created_ms)?,
            ),
            C::DeleteContainer {
                account,
                name,
                gc_due_ms,
            } => {
                self.apply_delete_container(tx, &account, &name, gc_due_ms)?;
                O::Done(())
            }
            C::SetContainerPolicy { name, policy } => {
                O::Container(self.apply_set_container_policy(tx, &name, policy)?)
            }
            C::UpdateContainerProperties { name, set, remove } => {
                O::Container(self.apply_update_container_properties(tx, &name, set, &remove)?)
            }
            C::SetContainerSettings { name, changes } => {
                O::Container(self.apply_set_container_settings(tx, &name, changes)?)
            }
            C::SetVersioning {
                name,
                state,
                now_ms,
            } => {
                self.apply_set_versioning(tx, &name, state, now_ms)?;
                O::Done(())
            }
            C::PutObject {
                container,
                record,
                condition,
                now_ms,
                gc_due_ms,
                pieces_wanted,
            } => O::Stored(self.apply_put_object(
                tx,
                &container,
                *record,
                condition,
                Clock { now_ms, gc_due_ms },
                pieces_wanted,
            )?),
            C::AbandonWrite {
                container,
                key,
                content_id,
                chunks,
                now_ms,
                gc_due_ms,
            } => O::Abandoned(self.apply_abandon_write(
                tx,
                &container,
                &key,
                &content_id,
                &chunks,
                Clock { now_ms, gc_due_ms },
            )?),
            C::DeleteVersion {
                container,
                key,
                version_id,
                bypass_governance,
                now_ms,
                gc_due_ms,
            } => O::Deleted(self.apply_delete_version(
                tx,
                &container,
                &key,
                version_id,
                bypass_governance,
                Clock { now_ms, gc_due_ms },
            )?),
            C::Expire {
                container,
                cid,
                key,
                at,
                gc_due_ms,
            } => O::Expired(self.apply_expire(tx, &container, &cid, &key, at, gc_due_ms)?),
            C::UpdateObjectProps {
                container,
                key,
                version_id,
                set,
                remove,
                bypass_governance,
                now_ms,
            } => O::Object(self.apply_update_object_props(
                tx,
                &container,
                &key,
                version_id.as_deref(),
                &super::versions::PropChange {
                    edit: super::versions::PropEdit::Legacy {
                        set: &set,
                        remove: &remove,
                    },
                    bypass_governance,
                    now_ms,
                },
            )?),
            C::ChangeObjectProps {
                container,
                key,
                version_id,
                changes,
                bypass_governance,
                now_ms,
            } => O::Object(self.apply_update_object_props(
                tx,
                &container,
                &key,
                version_id.as_deref(),
                &super::versions::PropChange {
                    edit: super::versions::PropEdit::Typed(&changes),
                    bypass_governance,
                    now_ms,
                },
            )?),
            C::CreateUpload { container, record } => {
                self.apply_create_upload(tx, &container, &record)?;
                O::Done(())
            }
            C::PutPart {
                container,
                upload_id,
                part,
                gc_due_ms,
                pieces_wanted,
                now_ms,
            } => {
                self.apply_put_part(
                    tx,
                    &container,
                    &upload_id,
                    &part,
                    Clock { now_ms, gc_due_ms },
                    pieces_wanted,
                )?;
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
                tx,
                &container,
                &upload_id,
                request,
                content_id,
                Clock { now_ms, gc_due_ms },
            )?),
            C::AbortUpload {
                container,
                upload_id,
                gc_due_ms,
            } => {
                self.apply_abort_upload(tx, &container, &upload_id, gc_due_ms)?;
                O::Done(())
            }
            C::QueueGc { chunks, due_ms } => {
                self.apply_queue_gc(tx, chunks, due_ms)?;
                O::Done(())
            }
            C::Heartbeat {
                heartbeat,
                now_ms,
                computed_score,
                lock_if_new,
                dead_after_ms,
                max_rise,
                merge_short,
            } => O::Heartbeat(self.apply_heartbeat(
                tx,
                &heartbeat,
                now_ms,
                &Scoring {
                    computed: computed_score,
                    lock_if_new,
                    dead_after_ms,
                    max_rise,
                },
                merge_short,
            )?),
            C::LockService { id, score } => O::Service(self.apply_lock_service(tx, &id, score)?),
            C::UnlockService { id } => O::Service(self.apply_unlock_service(tx, &id)?),
            C::UnlockAll => O::Count(self.apply_unlock_all(tx)?),
            C::ApplyPolicy { text } => {
                self.apply_policy_text(tx, &text)?;
                O::Done(())
            }
            C::CreateSwiftUser {
                account,
                user,
                key,
                admin,
                sealed,
            } => {
                O::SwiftUser(self.apply_create_swift_user(tx, &account, &user, key, admin, sealed)?)
            }
            C::CreateToken {
                account,
                user,
                token,
                expires_ms,
            } => O::Token(self.apply_create_token(tx, &account, &user, token, expires_ms)?),
            C::PurgeTokens { now_ms } => O::Count(self.apply_purge_tokens(tx, now_ms)?),
            C::MarkLost {
                service,
                reason,
                now_ms,
                counted_by_page,
            } => O::Lost(self.apply_mark_lost(tx, &service, &reason, now_ms, counted_by_page)?),
            C::QueueRebuild {
                service,
                max,
                now_ms,
                merge_short,
            } => O::Count(self.apply_queue_rebuild(tx, &service, max, now_ms, merge_short)?),
            C::ClaimRepairs {
                worker,
                max,
                now_ms,
                lease_ms,
            } => O::Repairs(self.apply_claim_repairs(tx, &worker, max, now_ms, lease_ms)?),
            C::RepairDone {
                container,
                key,
                upload,
                replaced,
                dropped,
                added,
                now_ms,
                gc_due_ms,
            } => O::Repaired(self.apply_repair_done(
                tx,
                &container,
                &key,
                upload.as_deref(),
                super::repair::Changes {
                    replaced: &replaced,
                    dropped: &dropped,
                    added: &added,
                },
                Clock { now_ms, gc_due_ms },
            )?),
            C::ForgetService {
                service,
                now_ms,
                dead_after_ms,
            } => {
                self.apply_forget_service(tx, &service, now_ms, dead_after_ms)?;
                O::Done(())
            }
            C::RepairFailed {
                service,
                chunk_id,
                error,
                now_ms: _,
                retry_at_ms,
            } => {
                self.fail_repair(tx.dir, &service, &chunk_id, &error, retry_at_ms)?;
                O::Done(())
            }
            C::SealSecrets { items } => O::Count(self.apply_seal_secrets(tx, &items)?),
            C::SetQuota {
                account,
                container,
                max_bytes,
                max_objects,
            } => O::Quota(self.apply_set_quota(
                tx,
                &account,
                container.as_deref(),
                meta_api::api::Quota {
                    max_bytes,
                    max_objects,
                },
            )?),
            C::DeleteAccount { name } => O::Done(self.apply_delete_account(tx, &name)?),
            C::DeleteKey { access_key } => O::Done(self.apply_delete_key(tx, &access_key)?),
            C::DeleteSwiftUser { account, user } => {
                O::Done(self.apply_delete_swift_user(tx, &account, &user)?)
            }
            C::CreateKmsKey { name, created_ms } => {
                O::KmsKey(self.apply_create_kms_key(tx, &name, created_ms)?)
            }
            C::SetKmsKeyEnabled { name, enabled } => {
                O::KmsKey(self.apply_set_kms_key_enabled(tx, &name, enabled)?)
            }
            C::SetKmsKeyMaterial { name, material } => {
                O::KmsKey(self.apply_set_kms_key_material(tx, &name, material)?)
            }
            // The batch unwraps it (its answer is recorded outside the command's own
            // transaction); a `Once` inside a `Once` is refused.
            C::Once { .. } => {
                return Err(meta_api::error::Error::InvalidArgument(
                    "a request-id command inside another".to_string(),
                ));
            }
        })
    }

    /// When a GC entry queued now is due, by this node's grace period.
    pub(crate) fn gc_due_ms(&self) -> u64 {
        u64::try_from(crate::ids::now_ms())
            .unwrap_or(0)
            .saturating_add(self.gc_grace_ms)
    }
}
