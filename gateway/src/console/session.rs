//! Console sessions: a random token in an HttpOnly cookie names a session held in this
//! process's memory only, with the admin client made from the key the operator typed. The
//! admin secret is never written anywhere and is gone when the session ends (logout, expiry,
//! eviction or restart).
//!
//! Sessions are found by the BLAKE3 hash of their token, so how long a lookup takes says
//! nothing about the tokens themselves.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use meta_api::client::MetaClient;
use rand::RngCore;

/// Most sessions held at once; a login past it pushes out the one closest to its expiry.
pub const MAX_SESSIONS: usize = 64;

/// One logged-in operator.
#[derive(Clone)]
pub struct Session {
    /// Meta client signing as the admin role with the operator's key.
    pub admin: MetaClient,
    /// The token a state-changing form (logout) must carry besides the cookie.
    pub csrf: String,
    pub expires: Instant,
    /// Order of opening (ties of `expires` go to the older).
    seq: u64,
}

/// The sessions of one console.
pub struct Sessions {
    ttl: Duration,
    by_hash: Mutex<HashMap<[u8; 32], Session>>,
    opened: std::sync::atomic::AtomicU64,
}

/// 32 random bytes as hex.
fn token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn hash(token: &str) -> [u8; 32] {
    *blake3::hash(token.as_bytes()).as_bytes()
}

impl Sessions {
    pub fn new(ttl: Duration) -> Sessions {
        Sessions {
            ttl,
            by_hash: Mutex::new(HashMap::new()),
            opened: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// How long a session lasts.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        // A panic while holding the lock cannot leave the map half-changed (every change is
        // one insert or remove), so a poisoned lock is taken over.
        self.by_hash
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Opens a session for `admin`; answers its token (the cookie's value).
    pub fn open(&self, admin: MetaClient) -> String {
        let now = Instant::now();
        let token = token();
        let session = Session {
            admin,
            csrf: self::token(),
            expires: now + self.ttl,
            seq: self
                .opened
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        };
        let mut map = self.map();
        map.retain(|_, s| s.expires > now);
        while map.len() >= MAX_SESSIONS {
            let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| (s.expires, s.seq))
                .map(|(k, _)| *k)
            else {
                break;
            };
            map.remove(&oldest);
        }
        map.insert(hash(&token), session);
        token
    }

    /// The live session named by `token`.
    pub fn get(&self, token: &str) -> Option<Session> {
        let now = Instant::now();
        let mut map = self.map();
        let key = hash(token);
        match map.get(&key) {
            Some(s) if s.expires > now => Some(s.clone()),
            Some(_) => {
                map.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Ends the session named by `token`, if any.
    pub fn close(&self, token: &str) {
        self.map().remove(&hash(token));
    }

    /// Sessions held (expired ones not yet swept included).
    #[cfg(test)]
    fn held(&self) -> usize {
        self.map().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> MetaClient {
        MetaClient::new("127.0.0.1:1")
    }

    #[test]
    fn a_session_is_found_by_its_token_until_it_is_closed() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let token = sessions.open(client());
        assert_eq!(token.len(), 64);
        let s = sessions.get(&token).expect("the new session");
        assert_eq!(s.csrf.len(), 64);
        assert_ne!(s.csrf, token);
        assert!(sessions.get("not-a-token").is_none());
        sessions.close(&token);
        assert!(sessions.get(&token).is_none());
    }

    #[test]
    fn an_expired_session_is_not_found() {
        let sessions = Sessions::new(Duration::ZERO);
        let token = sessions.open(client());
        assert!(sessions.get(&token).is_none());
        assert_eq!(sessions.held(), 0);
    }

    #[test]
    fn sessions_are_capped_and_the_oldest_goes_first() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let first = sessions.open(client());
        let tokens: Vec<String> = (0..MAX_SESSIONS).map(|_| sessions.open(client())).collect();
        assert_eq!(sessions.held(), MAX_SESSIONS);
        assert!(sessions.get(&first).is_none(), "the oldest was pushed out");
        assert!(tokens.iter().all(|t| sessions.get(t).is_some()));
    }
}
