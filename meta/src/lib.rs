//! Spread's directory service (meta): meta0/meta1/meta2, accounts, credentials, the conscience
//! and the GC queue, stored in LMDB ([`store`]) and served over HTTP/JSON ([`server`]). Its
//! protocol — wire types, endpoints, the error type and the client — is the `meta-api` crate,
//! which the gateway and chunk servers use without linking LMDB.
pub mod auth;
pub mod backup;
pub mod config;
pub mod expirer;
pub mod ids;
pub mod lifecycle;
pub mod metrics;
pub mod raft;
pub mod rebuild;
pub mod score_expr;
pub mod sealer;
pub mod secrets;
pub mod server;
pub mod store;

pub use config::Config;
pub use meta_api::{Error, Result};
