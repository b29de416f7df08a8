//! Answers remembered by request id, so that a write retried after its answer was lost is
//! answered, not applied twice.
//!
//! A client ([`meta_api::client::MetaClient`]) gives each call a random request id and keeps
//! it across its retries. When a write's answer is lost (the leader died after committing it,
//! the connection broke), the client asks again — perhaps another node, after an election —
//! with the same id. The first command that carries an id is applied and its answer (success
//! or refusal) recorded under the id, in the same directory transaction; a later command with
//! the same id is not applied: it gets the recorded answer. So a retried PUT makes no second
//! version, and a retried conditional PUT does not answer 412 against its own first attempt.
//!
//! The id travels in the command itself ([`super::Command::Once`], with the time it was
//! prepared), so every node of a group, and a replay after a crash, decides the same way.
//! Records are kept for [`WINDOW_MS`] (far longer than a client retries) and purged a few at
//! a time by later commands, by their prepared time.
//!
//! Layout: `requests` (id → [`RequestRecord`]) and `requests_at` (time u64 BE ‖ id → empty).

use super::directory::Directory;
use super::records::Record;
use super::records::{decode_record, encode_record};
use heed::{RoTxn, RwTxn};
use meta_api::error::{Error, Result};
use meta_api::wire::ErrorBody;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;

use super::command::Outcome;

/// How long an answer is remembered (ms).
pub const WINDOW_MS: i64 = 10 * 60 * 1000;
/// Records purged at most per command (bounds a command's work).
const PURGE_MAX: usize = 16;
/// Longest request id accepted.
pub const MAX_ID: usize = 64;

/// A command's request: its id and when the command was prepared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestTag {
    pub id: String,
    pub now_ms: i64,
}

/// A remembered answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestRecord {
    #[serde(default = "one")]
    pub v: u32,
    pub at_ms: i64,
    pub answer: std::result::Result<Outcome, ErrorBody>,
}

fn one() -> u32 {
    1
}

impl Record for RequestRecord {
    const KIND: &'static str = "request";
    const VERSION: u32 = 1;
    fn version(&self) -> u32 {
        self.v
    }
}

/// Checks a request id from a client: 1 to [`MAX_ID`] letters, digits, `-` or `_`.
pub fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "request id {id:?} is not 1 to {MAX_ID} letters, digits, '-' or '_'"
        )))
    }
}

fn at_key(at_ms: i64, id: &str) -> Vec<u8> {
    let mut k = (at_ms.max(0) as u64).to_be_bytes().to_vec();
    k.extend_from_slice(id.as_bytes());
    k
}

/// The answer recorded for `tag`'s id, if it is still within the window at `tag.now_ms`.
pub(super) fn lookup(
    dir: &Directory,
    txn: &RoTxn,
    tag: &RequestTag,
) -> Result<Option<Result<Outcome>>> {
    let Some(bytes) = dir.requests.get(txn, tag.id.as_bytes())? else {
        return Ok(None);
    };
    let rec: RequestRecord = decode_record(bytes)?;
    if rec.at_ms + WINDOW_MS < tag.now_ms {
        return Ok(None);
    }
    Ok(Some(rec.answer.map_err(|b| Error::from_body(b, ""))))
}

/// Records `answer` under `tag`'s id and purges a few records older than the window.
pub(super) fn remember(
    dir: &Directory,
    txn: &mut RwTxn,
    tag: &RequestTag,
    answer: &Result<Outcome>,
) -> Result<()> {
    if let Some(old) = dir.requests.get(txn, tag.id.as_bytes())? {
        // Expired and reused: drop its time entry.
        let rec: RequestRecord = decode_record(old)?;
        dir.requests_at.delete(txn, &at_key(rec.at_ms, &tag.id))?;
    }
    let rec = RequestRecord {
        v: RequestRecord::VERSION,
        at_ms: tag.now_ms,
        answer: match answer {
            Ok(outcome) => Ok(outcome.clone()),
            Err(e) => Err(e.to_body()),
        },
    };
    dir.requests
        .put(txn, tag.id.as_bytes(), &encode_record(&rec)?)?;
    dir.requests_at
        .put(txn, &at_key(tag.now_ms, &tag.id), &[])?;
    purge(dir, txn, tag.now_ms - WINDOW_MS)
}

/// Removes up to [`PURGE_MAX`] records made before `before_ms`.
fn purge(dir: &Directory, txn: &mut RwTxn, before_ms: i64) -> Result<()> {
    let mut old = Vec::new();
    for item in dir.requests_at.iter(txn)?.take(PURGE_MAX) {
        let (k, _) = item?;
        let Some((at, id)) = k.split_first_chunk::<8>() else {
            old.push((k.to_vec(), Vec::new()));
            continue;
        };
        if u64::from_be_bytes(*at) >= before_ms.max(0) as u64 {
            break;
        }
        old.push((k.to_vec(), id.to_vec()));
    }
    for (k, id) in old {
        dir.requests_at.delete(txn, &k)?;
        if !id.is_empty() {
            dir.requests.delete(txn, &id)?;
        }
    }
    Ok(())
}

thread_local! {
    /// The request id of the call this thread is serving (see [`with_request`]).
    static CURRENT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `f` (a store call serving one client request) with `id` as its request id: the first
/// command `f` applies carries it ([`take_current`]); later ones in the same call do not, so
/// two different commands never share an id.
pub fn with_request<T>(id: Option<String>, f: impl FnOnce() -> T) -> T {
    CURRENT.with(|c| *c.borrow_mut() = id);
    let out = f();
    CURRENT.with(|c| *c.borrow_mut() = None);
    out
}

/// Takes this thread's request id, if any.
pub(super) fn take_current() -> Option<String> {
    CURRENT.with(|c| c.borrow_mut().take())
}
