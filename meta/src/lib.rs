//! Spread's directory service (meta): meta0/meta1/meta2, accounts, credentials, the conscience
//! and the GC queue, stored in LMDB ([`store`]), served over HTTP/JSON ([`server`]) and reached
//! through [`client::MetaClient`].
pub mod api;
pub mod client;
pub mod config;
pub mod error;
pub mod expirer;
pub mod ids;
pub mod lifecycle;
pub mod lock;
pub mod score_expr;
pub mod server;
pub mod store;
pub mod wire;

pub use config::Config;
pub use error::{Error, Result};
