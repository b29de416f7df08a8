//! The protocol of Spread's directory service (meta): what travels between meta and its clients
//! (gateway, chunk servers, the admin CLI), and the client itself.
//!
//! - [`api`]: one typed [`api::Endpoint`] per operation: its route, request and answer types;
//! - [`wire`]: the records and values those requests and answers carry (JSON);
//! - [`error`]: the one error type of both sides, with a stable code per variant;
//! - [`client::MetaClient`]: the async client;
//! - [`listing`]: the prefix / delimiter / marker rollup every listing shares;
//! - [`lock`]: the object-lock rules both sides read (meta enforces them in its transactions);
//! - [`settings`]: a container's settings as typed values and the changes to them;
//! - [`encryption`]: the server-side encryption parameters of objects, uploads and parts.
//!
//! This crate does not link LMDB: what meta stores on disk is meta's business (its own record
//! types), not the protocol's.
pub mod api;
pub mod client;
pub mod encryption;
pub mod error;
pub mod listing;
pub mod lock;
pub mod settings;
pub mod wire;

pub use client::MetaClient;
pub use error::{Error, Result};
