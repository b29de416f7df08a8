//! Spread storage policies, chunk placement and erasure coding: pure logic, no I/O.
//!
//! - [`file`]: policy files (TOML) → a validated [`PolicySet`].
//! - [`storage`]: one storage policy (copies or K+M erasure coding, chunk size, distance, pool).
//! - [`pool`]: service pools selecting chunk servers by slot.
//! - [`location`]: the distance between two `dc.rack.host.vol` location strings.
//! - [`placement`]: choosing chunk servers for a write and ordering copies for a read.
//! - [`check`]: can the live cluster satisfy each policy?
//! - [`ec`]: the Reed-Solomon codec behind erasure-coded policies.
//! - [`size`]: byte sizes with binary units (`"8MiB"`).

pub mod check;
pub mod ec;
pub mod error;
pub mod file;
pub mod location;
pub mod placement;
pub mod pool;
pub mod size;
pub mod storage;

pub use check::{CheckReport, ServiceView, check};
pub use ec::{Codec, codec, fragment_size};
pub use error::{EcError, PlacementError, PolicyError};
pub use file::PolicySet;
pub use location::distance;
pub use placement::{Candidate, place, read_order, select};
pub use pool::Pool;
pub use storage::{ALL_POOL, DataSecurity, StoragePolicy};
