//! The crate's single error type. [`EcError`] and [`PlacementError`] are aliases naming the
//! context an error comes from.

use thiserror::Error;

/// Everything that can go wrong in this crate: a policy file that does not parse or validate,
/// a placement that cannot satisfy its policy, or an erasure-coding call with bad shards.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    /// The policy file is not valid TOML or does not have the expected shape.
    #[error("policy file: {0}")]
    Syntax(String),
    /// The policy file parsed but breaks one or more rules; every message names its place.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    /// Not enough chunk servers qualify to write a chunk under `policy`.
    #[error("storage policy \"{policy}\" cannot be satisfied: {reason}")]
    Placement { policy: String, reason: String },
    /// An erasure-coding call was given unusable shards or parameters.
    #[error("erasure coding: {0}")]
    Ec(String),
}

/// Errors from [`crate::ec`].
pub type EcError = PolicyError;

/// Errors from [`crate::placement::place`].
pub type PlacementError = PolicyError;
