//! Spread's directory service (meta).
pub mod error;
pub mod wire;
pub use error::{Error, Result};
