//! Request bodies: nothing, or an object generated from one shared random block.
//!
//! An object of any size is the block repeated (starting at an offset that varies per object),
//! handed to hyper as cheap `Bytes` slices of the block — no object is ever built in memory, so
//! a worker holds at most one block-sized frame whatever the object size.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use rand::RngCore;

/// Size of the shared random block (1 MiB).
pub const BLOCK_SIZE: usize = 1 << 20;

/// One random block of [`BLOCK_SIZE`] bytes, shared by every worker.
pub fn random_block() -> Bytes {
    let mut data = vec![0u8; BLOCK_SIZE];
    rand::thread_rng().fill_bytes(&mut data);
    Bytes::from(data)
}

/// A request body.
#[derive(Debug)]
pub enum ReqBody {
    /// No body.
    Empty,
    /// A generated object.
    Generated(Generated),
}

/// `remaining` bytes of `block` repeated, starting at `pos`.
#[derive(Debug)]
pub struct Generated {
    block: Bytes,
    pos: usize,
    remaining: u64,
}

impl ReqBody {
    /// An object of `size` bytes cut from `block`, starting at `seed % block.len()`.
    pub fn generated(block: &Bytes, size: u64, seed: u64) -> ReqBody {
        if size == 0 || block.is_empty() {
            return ReqBody::Empty;
        }
        let pos = (seed % block.len() as u64) as usize;
        ReqBody::Generated(Generated {
            block: block.clone(),
            pos,
            remaining: size,
        })
    }

    fn remaining(&self) -> u64 {
        match self {
            ReqBody::Empty => 0,
            ReqBody::Generated(g) => g.remaining,
        }
    }
}

impl Body for ReqBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let ReqBody::Generated(g) = self.get_mut() else {
            return Poll::Ready(None);
        };
        if g.remaining == 0 {
            return Poll::Ready(None);
        }
        let available = g.block.len() - g.pos;
        let n = usize::try_from(g.remaining).map_or(available, |r| r.min(available));
        let frame = g.block.slice(g.pos..g.pos + n);
        g.pos = (g.pos + n) % g.block.len();
        g.remaining -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(frame))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining() == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn collect(body: ReqBody) -> (Vec<u8>, usize) {
        let mut body = body;
        let mut out = Vec::new();
        let mut frames = 0;
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap();
            assert!(data.len() <= 8, "frames never exceed the block");
            out.extend_from_slice(&data);
            frames += 1;
        }
        (out, frames)
    }

    #[tokio::test]
    async fn repeats_the_block_from_the_seed_offset() {
        let block = Bytes::from_static(b"abcdefgh");
        let body = ReqBody::generated(&block, 20, 3);
        assert_eq!(body.size_hint().exact(), Some(20));
        let (data, frames) = collect(body).await;
        assert_eq!(data, b"defghabcdefghabcdefg");
        assert_eq!(frames, 3);
    }

    #[tokio::test]
    async fn small_and_empty_bodies() {
        let block = Bytes::from_static(b"abcdefgh");
        let (data, frames) = collect(ReqBody::generated(&block, 3, 9)).await;
        assert_eq!((data.as_slice(), frames), (&b"bcd"[..], 1));
        let empty = ReqBody::generated(&block, 0, 1);
        assert!(empty.is_end_stream());
        assert_eq!(collect(empty).await.0.len(), 0);
    }

    #[test]
    fn random_block_size() {
        assert_eq!(random_block().len(), BLOCK_SIZE);
    }
}
