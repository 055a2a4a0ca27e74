//! Training batches: shuffled, and grouped by length so that little padding is computed. Indices
//! only, no tensors.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Batches of indices into `lengths` for one epoch: the indices are shuffled with `seed`, cut
/// into pools of 50 batches, each pool is sorted by length and cut into batches of `size`, and
/// the batch order is shuffled again. Every index appears exactly once.
pub fn length_grouped(lengths: &[usize], size: usize, seed: u64) -> Vec<Vec<usize>> {
    let size = size.max(1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut idx: Vec<usize> = (0..lengths.len()).collect();
    idx.shuffle(&mut rng);
    let mut batches: Vec<Vec<usize>> = Vec::new();
    for pool in idx.chunks(size * 50) {
        let mut pool = pool.to_vec();
        pool.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
        batches.extend(pool.chunks(size).map(<[usize]>::to_vec));
    }
    batches.shuffle(&mut rng);
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_index_once_and_reproducible() {
        let lengths: Vec<usize> = (0..103).map(|i| (i * 37) % 29).collect();
        let b = length_grouped(&lengths, 8, 3);
        let mut all: Vec<usize> = b.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..103).collect::<Vec<_>>());
        assert!(b.iter().all(|x| x.len() <= 8));
        assert_eq!(b, length_grouped(&lengths, 8, 3));
        assert_ne!(b, length_grouped(&lengths, 8, 4));
    }

    #[test]
    fn batches_are_length_sorted_within_a_pool() {
        let lengths: Vec<usize> = (0..40).map(|i| (i * 7) % 13).collect();
        for batch in length_grouped(&lengths, 4, 1) {
            assert!(batch.windows(2).all(|w| lengths[w[0]] >= lengths[w[1]]));
        }
    }
}
