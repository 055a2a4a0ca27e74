//! Result buffers zeroed piece by piece on rayon's workers instead of all at once on the calling
//! thread. `vec![0.0; n]` is one `memset` of the whole result while the workers wait for it: in a
//! two-thread profile of a prompt-tuning step it was the largest part of what the calling thread
//! did alone (`docs/performance.md`, "Zero fills off the calling thread"). Here the buffer is
//! allocated without being written, cut into pieces, and each piece is zeroed (or started as a
//! repeated row: a linear layer's bias) by the task that is about to compute it, on its worker,
//! while those bytes go into its cache anyway.
//!
//! This file, `gemm.rs`, `blas.rs` and `prefetch.rs` are the crate's only `unsafe` code. The invariant is counted rather
//! than trusted: every piece records how many elements it zeroed, and [`Fresh::finish`] sets the
//! vector's length only when the count covers the whole buffer, and panics otherwise (a piece
//! left unused is a bug in the kernel, never a property of its input).
#![allow(unsafe_code)]

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A vector of `len` f32s still to be written, handed out as [`Piece`]s.
pub struct Fresh {
    buf: Vec<f32>,
    len: usize,
    zeroed: AtomicUsize,
}

/// A disjoint part of a [`Fresh`] buffer, not yet written.
pub struct Piece<'a> {
    mem: &'a mut [MaybeUninit<f32>],
    zeroed: &'a AtomicUsize,
}

impl Fresh {
    /// Room for `len` elements; nothing is written yet.
    pub fn new(len: usize) -> Self {
        Fresh { buf: Vec::with_capacity(len), len, zeroed: AtomicUsize::new(0) }
    }

    /// The buffer as consecutive pieces of `size` elements, the last one shorter when `size` does
    /// not divide it; none when the buffer is empty or `size` is 0.
    pub fn chunks(&mut self, size: usize) -> Vec<Piece<'_>> {
        let Fresh { buf, len, zeroed } = self;
        if size == 0 {
            return Vec::new();
        }
        let zeroed = &*zeroed;
        buf.spare_capacity_mut()[..*len].chunks_mut(size).map(|mem| Piece { mem, zeroed }).collect()
    }

    /// The buffer as `count` pieces of equal size (empty ones when the buffer is empty).
    ///
    /// # Panics
    /// If `count` does not divide the length, or is 0 while the length is not.
    pub fn split(&mut self, count: usize) -> Vec<Piece<'_>> {
        assert!(
            self.len.is_multiple_of(count),
            "{} elements do not split into {count} equal pieces",
            self.len
        );
        let size = self.len.checked_div(count).unwrap_or(0);
        if size == 0 {
            let zeroed = &self.zeroed;
            return (0..count).map(|_| Piece { mem: &mut [], zeroed }).collect();
        }
        self.chunks(size)
    }

    /// The written vector.
    ///
    /// # Panics
    /// If some piece was never zeroed (a kernel that forgot part of its result).
    pub fn finish(mut self) -> Vec<f32> {
        let zeroed = self.zeroed.load(Ordering::Acquire);
        assert_eq!(zeroed, self.len, "a fresh buffer's pieces were not all zeroed");
        // SAFETY: the first `len` elements of the allocation are initialised: the pieces are
        // disjoint, each was counted once (`zeroed` consumes it) after it was filled with zeros,
        // and the counts add up to `len`.
        unsafe { self.buf.set_len(self.len) };
        self.buf
    }
}

impl<'a> Piece<'a> {
    /// The piece filled with `pattern` over and over (a bias broadcast over rows, say).
    ///
    /// # Panics
    /// If the piece's length is not a multiple of the pattern's (an empty pattern only fits an
    /// empty piece).
    pub fn repeat(self, pattern: &[f32]) -> &'a mut [f32] {
        assert!(self.mem.len().is_multiple_of(pattern.len()), "the piece holds whole patterns");
        for part in self.mem.chunks_exact_mut(pattern.len().max(1)) {
            for (d, &v) in part.iter_mut().zip(pattern) {
                *d = MaybeUninit::new(v);
            }
        }
        self.initialised()
    }

    /// The piece filled with zeros, ready to be written.
    pub fn zeroed(self) -> &'a mut [f32] {
        self.mem.fill(MaybeUninit::new(0.0));
        self.initialised()
    }

    /// Counts the piece as initialised and hands it out as plain f32s; every element must have
    /// been written.
    fn initialised(self) -> &'a mut [f32] {
        self.zeroed.fetch_add(self.mem.len(), Ordering::AcqRel);
        let (ptr, len) = (self.mem.as_mut_ptr().cast::<f32>(), self.mem.len());
        // SAFETY: the callers above wrote every element; `MaybeUninit<f32>` has `f32`'s layout,
        // and the exclusive borrow of the piece passes to the returned slice.
        unsafe { std::slice::from_raw_parts_mut(ptr, len) }
    }

    /// Its length.
    pub fn len(&self) -> usize {
        self.mem.len()
    }

    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.mem.is_empty()
    }
}

/// A vector of `len` elements computed in `size`-element chunks on rayon's pool: `write(i, chunk)`
/// receives chunk `i` zeroed (the last chunk may be shorter).
pub fn par_chunks(len: usize, size: usize, write: impl Fn(usize, &mut [f32]) + Sync + Send) -> Vec<f32> {
    use rayon::prelude::*;
    let mut out = Fresh::new(len);
    out.chunks(size).into_par_iter().enumerate().for_each(|(i, piece)| write(i, piece.zeroed()));
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn chunks_cover_the_buffer_in_order() {
        for (len, size) in [(0, 3), (1, 3), (9, 3), (10, 3), (5, 8), (0, 0)] {
            let got = par_chunks(len, size, |i, c| {
                for (j, x) in c.iter_mut().enumerate() {
                    *x = (i * size + j) as f32;
                }
            });
            assert_eq!(got, (0..len).map(|v| v as f32).collect::<Vec<_>>(), "len {len} size {size}");
        }
    }

    #[test]
    fn pieces_start_at_zero_even_over_reused_memory() {
        // Fill and free blocks of the same size first, so the allocator is likely to hand back
        // memory that holds non-zero bytes.
        for _ in 0..4 {
            drop(vec![7.0f32; 4096]);
        }
        let mut f = Fresh::new(4096);
        let sums: Vec<f32> = f.split(8).into_par_iter().map(|p| p.zeroed().iter().sum()).collect();
        assert_eq!(sums, vec![0.0; 8]);
        assert_eq!(f.finish(), vec![0.0; 4096]);
    }

    #[test]
    #[should_panic(expected = "not all zeroed")]
    fn a_piece_left_unused_is_refused() {
        let mut f = Fresh::new(1000);
        let mut pieces = f.chunks(300);
        assert_eq!(pieces.iter().map(Piece::len).collect::<Vec<_>>(), [300, 300, 300, 100]);
        pieces.remove(0).zeroed().fill(1.0);
        drop(pieces);
        f.finish();
    }

    #[test]
    fn repeated_patterns_fill_their_pieces() {
        let mut f = Fresh::new(12);
        f.chunks(6).into_par_iter().for_each(|p| {
            p.repeat(&[1.0, 2.0, 3.0]);
        });
        assert_eq!(f.finish(), [1.0, 2.0, 3.0].repeat(4));
        assert!(
            std::panic::catch_unwind(|| Fresh::new(4)
                .chunks(4)
                .pop()
                .map(|p| p.len() + p.repeat(&[1.0; 3]).len()))
            .is_err()
        );
    }

    #[test]
    fn split_gives_equal_pieces_and_refuses_a_remainder() {
        let mut f = Fresh::new(12);
        assert_eq!(f.split(4).iter().map(Piece::len).collect::<Vec<_>>(), [3, 3, 3, 3]);
        let mut empty = Fresh::new(0);
        assert_eq!(empty.split(5).len(), 5);
        assert!(empty.split(5).iter().all(Piece::is_empty));
        assert!(std::panic::catch_unwind(|| Fresh::new(10).split(4).len()).is_err());
    }
}
