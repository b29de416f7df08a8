//! chunkd
