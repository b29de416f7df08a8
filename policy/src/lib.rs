//! Spread storage policies and chunk placement: pure logic, no I/O.
//!
//! - [`location`]: the distance between two `dc.rack.host.vol` location strings.
//! - [`placement`]: choosing chunk servers for a write and ordering copies for a read.
//! - [`storage`]: storage policies (replication now, erasure coding later).

pub mod location;
pub mod placement;
pub mod storage;

pub use location::distance;
pub use placement::{Candidate, read_order, select};
pub use storage::{DataSecurity, StoragePolicy};
