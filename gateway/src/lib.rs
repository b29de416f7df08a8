//! Spread's gateway: the S3 front end (`s3`, on `s3s`) and the Swift front end (`swift`, on
//! hyper) over one protocol-neutral object service
//! (`objects`) that streams data to chunk servers and records it in meta.

mod admin;
pub mod config;
pub mod console;
pub mod error;
mod listener;
pub mod objects;
pub mod observe;
pub mod s3;
pub mod server;
pub mod swift;
pub mod tls;
mod ttl_cache;
mod xml;

pub use config::Config;
pub use error::{Error, Result};
