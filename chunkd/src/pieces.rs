//! Piece hashes: a chunk's BLAKE3 hash split into the hashes ("chaining values") of its aligned
//! pieces, so that a reader can check each piece as it arrives instead of the whole chunk.
//!
//! BLAKE3 is a tree hash. A piece of a power-of-two size starting at a multiple of that size is
//! a whole subtree of the chunk's tree, so its chaining value can be computed on its own
//! ([`blake3::hazmat`]), and the chaining values of all pieces combine into the chunk hash that
//! meta keeps. The chunk server computes them while it receives the chunk (no extra hashing)
//! and keeps them in the chunk's footer; a reader first checks that they combine to the hash it
//! trusts, then checks each piece against its own value.

use blake3::Hasher;
use blake3::hazmat::{
    ChainingValue, HasherExt, Mode, left_subtree_len, merge_subtrees_non_root, merge_subtrees_root,
};

/// Smallest piece: hashes are computed at this size, then merged pairwise.
pub const BASE_PIECE: u64 = 1024 * 1024;
/// Most pieces kept for a chunk (the piece size doubles until it fits).
pub const MAX_PIECES: usize = 64;

/// The piece size of a chunk of `len` bytes: [`BASE_PIECE`], doubled until the chunk has at
/// most [`MAX_PIECES`] pieces. A chunk of at most one piece has no piece hashes.
pub fn piece_size(len: u64) -> u64 {
    let mut size = BASE_PIECE;
    while len.div_ceil(size) > MAX_PIECES as u64 {
        size *= 2;
    }
    size
}

/// Hashes a chunk as it streams in, piece by piece.
pub struct PieceHasher {
    hasher: Hasher,
    /// Bytes in the current piece.
    filled: u64,
    cvs: Vec<ChainingValue>,
    len: u64,
}

/// What [`PieceHasher::finish`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashed {
    pub hash: blake3::Hash,
    /// The piece hashes when the chunk has more than one piece (else empty).
    pub pieces: Pieces,
}

/// A chunk's piece size and the chaining value of each piece, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pieces {
    pub size: u64,
    pub cvs: Vec<ChainingValue>,
}

impl Default for PieceHasher {
    fn default() -> Self {
        PieceHasher::new()
    }
}

impl PieceHasher {
    pub fn new() -> PieceHasher {
        PieceHasher {
            hasher: Hasher::new(),
            filled: 0,
            cvs: Vec::new(),
            len: 0,
        }
    }

    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.filled == BASE_PIECE {
                // More bytes follow a full piece: it is not the whole chunk, so it is a subtree.
                self.cvs.push(self.hasher.finalize_non_root());
                self.hasher = Hasher::new();
                self.hasher.set_input_offset(self.len);
                self.filled = 0;
            }
            let room = usize::try_from(BASE_PIECE - self.filled).unwrap_or(usize::MAX);
            let (now, rest) = data.split_at(data.len().min(room));
            self.hasher.update(now);
            self.filled += now.len() as u64;
            self.len += now.len() as u64;
            data = rest;
        }
    }

    /// The chunk hash and, for a chunk of more than one piece, at most [`MAX_PIECES`] piece
    /// hashes.
    pub fn finish(mut self) -> Hashed {
        if self.cvs.is_empty() {
            return Hashed {
                hash: self.hasher.finalize(),
                pieces: Pieces::default(),
            };
        }
        self.cvs.push(self.hasher.finalize_non_root());
        let mut pieces = Pieces {
            size: BASE_PIECE,
            cvs: self.cvs,
        };
        while pieces.cvs.len() > MAX_PIECES {
            pieces = pieces.doubled();
        }
        Hashed {
            hash: pieces.root(self.len),
            pieces,
        }
    }
}

impl Pieces {
    /// The same chunk in pieces twice as large: each pair of pieces is a subtree of the size.
    fn doubled(&self) -> Pieces {
        let cvs = self
            .cvs
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => merge_subtrees_non_root(left, right, Mode::Hash),
                _ => pair[0],
            })
            .collect();
        Pieces {
            size: self.size * 2,
            cvs,
        }
    }

    /// Byte range of piece `index` in a chunk of `len` bytes.
    pub fn range(&self, index: usize, len: u64) -> std::ops::Range<u64> {
        let start = (index as u64).saturating_mul(self.size).min(len);
        start..start.saturating_add(self.size).min(len)
    }

    /// Whether these pieces describe a chunk of `len` bytes whose hash is `hash`: the right
    /// number of pieces of a valid size, combining into `hash`. Only then may a reader trust
    /// [`check`](Self::check).
    pub fn describe(&self, len: u64, hash: &blake3::Hash) -> bool {
        let valid_size = self.size >= BASE_PIECE && self.size.is_power_of_two();
        valid_size
            && len > self.size
            && self.cvs.len() as u64 == len.div_ceil(self.size)
            && self.root(len) == *hash
    }

    /// Whether `data` is piece `index` (the chunk has more than one piece).
    pub fn check(&self, index: usize, data: &[&[u8]]) -> bool {
        let Some(expected) = self.cvs.get(index) else {
            return false;
        };
        let offset = (index as u64).checked_mul(self.size);
        let Some(offset) = offset.filter(|o| o % blake3::CHUNK_LEN as u64 == 0) else {
            return false;
        };
        if data.iter().all(|d| d.is_empty()) {
            return false;
        }
        let mut hasher = Hasher::new();
        hasher.set_input_offset(offset);
        for d in data {
            hasher.update(d);
        }
        hasher.finalize_non_root() == *expected
    }

    /// The chunk hash the pieces combine into (more than one piece).
    fn root(&self, len: u64) -> blake3::Hash {
        let (left, right) = self.split(0, self.cvs.len(), len);
        merge_subtrees_root(&left, &right, Mode::Hash)
    }

    /// The two children of the subtree made of pieces `first..end` (at least two).
    fn split(&self, first: usize, end: usize, len: u64) -> (ChainingValue, ChainingValue) {
        let start = first as u64 * self.size;
        let stop = (end as u64 * self.size).min(len);
        let left_pieces = (left_subtree_len(stop - start) / self.size) as usize;
        let mid = first + left_pieces.max(1);
        (self.subtree(first, mid, len), self.subtree(mid, end, len))
    }

    fn subtree(&self, first: usize, end: usize, len: u64) -> ChainingValue {
        if end - first == 1 {
            return self.cvs[first];
        }
        let (left, right) = self.split(first, end, len);
        merge_subtrees_non_root(&left, &right, Mode::Hash)
    }

    /// `size hex hex ...`: the form kept in chunk footers and sent in a header.
    pub fn encode(&self) -> String {
        let mut out = self.size.to_string();
        for cv in &self.cvs {
            out.push(' ');
            out.push_str(&hex::encode(cv));
        }
        out
    }

    /// Reads [`encode`](Self::encode)'s form; `None` if malformed.
    pub fn decode(text: &str) -> Option<Pieces> {
        let mut words = text.split_ascii_whitespace();
        let size = words.next()?.parse().ok()?;
        let cvs = words
            .map(|w| {
                let mut cv = [0u8; 32];
                hex::decode_to_slice(w, &mut cv).ok()?;
                Some(cv)
            })
            .collect::<Option<Vec<_>>>()?;
        if cvs.len() > MAX_PIECES * 2 {
            return None;
        }
        Some(Pieces { size, cvs })
    }
}

/// Checks bytes of a chunk as they are read from its file, so that a server never sends the
/// last bytes of a bad piece: the reader reads no further than
/// [`until_boundary`](Self::until_boundary) at a time and learns, from the read that completes
/// a piece (or the whole chunk, when it has no piece hashes), whether that piece is sound
/// before sending it.
pub struct ReadCheck {
    /// Piece hashes, or `None` when the chunk is checked whole against `hash`.
    pieces: Option<Pieces>,
    hash: blake3::Hash,
    len: u64,
    /// Index of the piece being read (always 0 when checked whole).
    index: usize,
    /// End (chunk offset) of the unit being read: the piece, or the chunk.
    unit_end: u64,
    /// Chunk offset of the next byte expected.
    pos: u64,
    hasher: Hasher,
}

impl ReadCheck {
    /// A check of bytes `start..end` of a chunk of `len` bytes whose hash is `hash`, with the
    /// piece hashes `pieces` of its footer (trusted only if they combine into `hash`). `None`
    /// when that range cannot be checked: it does not begin and end on piece boundaries (or,
    /// for a chunk without usable piece hashes, it is not the whole chunk), or it is empty.
    pub fn plan(
        len: u64,
        hash: blake3::Hash,
        pieces: Option<Pieces>,
        start: u64,
        end: u64,
    ) -> Option<ReadCheck> {
        if start >= end || end > len {
            return None;
        }
        let pieces = pieces.filter(|p| p.describe(len, &hash));
        let (index, unit_end) = match &pieces {
            Some(p) => {
                if !start.is_multiple_of(p.size) || (!end.is_multiple_of(p.size) && end != len) {
                    return None;
                }
                let index = usize::try_from(start / p.size).ok()?;
                (index, p.range(index, len).end)
            }
            None if start == 0 && end == len => (0, len),
            None => return None,
        };
        let mut check = ReadCheck {
            pieces,
            hash,
            len,
            index,
            unit_end,
            pos: start,
            hasher: Hasher::new(),
        };
        check.hasher.set_input_offset(start);
        Some(check)
    }

    /// Bytes left in the piece (or chunk) being read: no read may go past it.
    pub fn until_boundary(&self) -> u64 {
        self.unit_end - self.pos
    }

    /// Feeds the next bytes (at most [`until_boundary`](Self::until_boundary)). `None` while
    /// the piece is not complete; `Some(sound)` when these bytes complete it.
    pub fn update(&mut self, data: &[u8]) -> Option<bool> {
        let n = data.len() as u64;
        if n > self.until_boundary() {
            return Some(false);
        }
        self.hasher.update(data);
        self.pos += n;
        if self.pos < self.unit_end {
            return None;
        }
        let sound = match &self.pieces {
            Some(p) => p.cvs.get(self.index) == Some(&self.hasher.finalize_non_root()),
            None => self.hasher.finalize() == self.hash,
        };
        // The next piece, if any (its offset is a multiple of the piece size, as BLAKE3 asks).
        if let Some(p) = self.pieces.as_ref().filter(|_| self.pos < self.len) {
            self.index += 1;
            self.unit_end = p.range(self.index, self.len).end;
            self.hasher = Hasher::new();
            self.hasher.set_input_offset(self.pos);
        }
        Some(sound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seeded random bytes, so that no two pieces are alike.
    fn data(len: usize) -> Vec<u8> {
        use rand::{RngCore, SeedableRng};
        let mut bytes = vec![0u8; len];
        rand::rngs::StdRng::seed_from_u64(7).fill_bytes(&mut bytes);
        bytes
    }

    const MIB: usize = 1 << 20;

    #[test]
    fn pieces_combine_into_the_plain_hash_and_check_each_piece() {
        for len in [
            0,
            1,
            MIB - 1,
            MIB,
            MIB + 1,
            2 * MIB,
            3 * MIB + 7,
            5 * MIB,
            8 * MIB,
            8 * MIB + 1024,
            64 * MIB,
            65 * MIB + 3,
            130 * MIB,
        ] {
            let bytes = data(len);
            // Fed in uneven frames.
            let mut hasher = PieceHasher::new();
            for frame in bytes.chunks(300_001) {
                hasher.update(frame);
            }
            let hashed = hasher.finish();
            assert_eq!(hashed.hash, blake3::hash(&bytes), "len {len}");
            let pieces = &hashed.pieces;
            if len <= MIB {
                assert!(pieces.cvs.is_empty(), "len {len}");
                continue;
            }
            assert!(pieces.cvs.len() <= MAX_PIECES, "len {len}");
            assert_eq!(pieces.size, piece_size(len as u64), "len {len}");
            assert!(pieces.describe(len as u64, &hashed.hash), "len {len}");
            for i in 0..pieces.cvs.len() {
                let r = pieces.range(i, len as u64);
                let piece = &bytes[r.start as usize..r.end as usize];
                assert!(pieces.check(i, &[piece]), "len {len} piece {i}");
                let (a, b) = piece.split_at(piece.len() / 3);
                assert!(pieces.check(i, &[a, b]), "len {len} piece {i} in two parts");
                let mut bad = piece.to_vec();
                bad[piece.len() / 2] ^= 1;
                assert!(!pieces.check(i, &[&bad]), "len {len} piece {i} altered");
            }
            assert!(!pieces.check(pieces.cvs.len(), &[&bytes[..1]]));
            let decoded = Pieces::decode(&pieces.encode()).unwrap();
            assert_eq!(&decoded, pieces);
        }
    }

    #[test]
    fn pieces_that_do_not_describe_the_chunk_are_refused() {
        let bytes = data(3 * MIB);
        let mut hasher = PieceHasher::new();
        hasher.update(&bytes);
        let hashed = hasher.finish();
        let len = bytes.len() as u64;
        assert!(hashed.pieces.describe(len, &hashed.hash));
        assert!(!hashed.pieces.describe(len, &blake3::hash(b"other")));
        assert!(!hashed.pieces.describe(len + MIB as u64, &hashed.hash));
        let mut swapped = hashed.pieces.clone();
        swapped.cvs.swap(0, 1);
        assert!(!swapped.describe(len, &hashed.hash));
        let mut odd = hashed.pieces.clone();
        odd.size = 3 * MIB as u64 / 2;
        assert!(!odd.describe(len, &hashed.hash));
        // A piece checked at the wrong index fails (its offset is part of its hash).
        assert!(!hashed.pieces.check(1, &[&bytes[..MIB]]));
        for bad in ["", "x", "1048576 zz", "1048576 00"] {
            assert!(Pieces::decode(bad).is_none(), "{bad:?}");
        }
    }

    /// Feeds `bytes[start..end]` to a check in reads of at most `block` bytes, never past a
    /// boundary; returns the verdicts in order.
    fn run_check(mut check: ReadCheck, bytes: &[u8], start: usize, end: usize) -> Vec<bool> {
        let mut pos = start;
        let mut verdicts = Vec::new();
        while pos < end {
            let n = (check.until_boundary() as usize)
                .min(300_001)
                .min(end - pos);
            if let Some(v) = check.update(&bytes[pos..pos + n]) {
                verdicts.push(v);
            }
            pos += n;
        }
        verdicts
    }

    #[test]
    fn reads_are_checked_piece_by_piece_or_whole() {
        let len = 3 * MIB + 5;
        let mut bytes = data(len);
        let mut hasher = PieceHasher::new();
        hasher.update(&bytes);
        let hashed = hasher.finish();
        let (hash, pieces) = (hashed.hash, Some(hashed.pieces.clone()));
        let l = len as u64;
        let plan = |start: usize, end: usize, p: Option<Pieces>| {
            ReadCheck::plan(l, hash, p, start as u64, end as u64)
        };
        // Whole chunk, a piece-aligned range, the last piece.
        let whole = plan(0, len, pieces.clone()).unwrap();
        assert_eq!(whole.until_boundary(), MIB as u64);
        assert_eq!(run_check(whole, &bytes, 0, len), vec![true; 4]);
        let mid = plan(MIB, 3 * MIB, pieces.clone()).unwrap();
        assert_eq!(run_check(mid, &bytes, MIB, 3 * MIB), vec![true, true]);
        let last = plan(3 * MIB, len, pieces.clone()).unwrap();
        assert_eq!(run_check(last, &bytes, 3 * MIB, len), vec![true]);
        // Unaligned ranges and empty ones cannot be checked; without pieces only the whole.
        assert!(plan(1, len, pieces.clone()).is_none());
        assert!(plan(0, MIB + 1, pieces.clone()).is_none());
        assert!(plan(5, 5, pieces.clone()).is_none());
        assert!(plan(MIB, len, None).is_none());
        let no_pieces = plan(0, len, None).unwrap();
        assert_eq!(no_pieces.until_boundary(), l);
        assert_eq!(run_check(no_pieces, &bytes, 0, len), vec![true]);
        // Pieces that do not combine into the hash are not trusted: checked whole.
        let mut wrong = hashed.pieces.clone();
        wrong.cvs.swap(0, 1);
        assert_eq!(plan(0, len, Some(wrong)).unwrap().until_boundary(), l);

        // One flipped byte in piece 2: pieces 0, 1 and 3 are sound, piece 2 is not.
        bytes[2 * MIB + 7] ^= 1;
        let whole = plan(0, len, pieces.clone()).unwrap();
        assert_eq!(
            run_check(whole, &bytes, 0, len),
            vec![true, true, false, true]
        );
        let no_pieces = plan(0, len, None).unwrap();
        assert_eq!(run_check(no_pieces, &bytes, 0, len), vec![false]);
        // A read past the boundary is refused.
        let mut check = plan(0, len, pieces).unwrap();
        assert_eq!(check.update(&bytes[..MIB + 1]), Some(false));
    }
}
