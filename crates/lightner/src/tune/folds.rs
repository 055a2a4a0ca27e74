//! K-fold cross-validation splits of a training file, for tuning without a dev set. Data only.

use crate::error::{Error, Result};
use rand::SeedableRng;
use rand::seq::SliceRandom;

/// The held-out index sets of a `k`-fold split of `n` items: the indices are shuffled with `seed`
/// and dealt round-robin, so fold sizes differ by at most one and every item is held out exactly
/// once. Each repetition of a cross-validation (a seed) gets its own partition.
pub fn k_fold(n: usize, k: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
    if k < 2 {
        return Err(Error::Config(format!("{k} folds: cross-validation needs at least 2")));
    }
    if n < k {
        return Err(Error::Config(format!(
            "{n} training sentences cannot be split into {k} folds; use fewer folds or give a dev set"
        )));
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0xf01d));
    let mut folds = vec![Vec::new(); k];
    for (i, j) in idx.into_iter().enumerate() {
        folds[i % k].push(j);
    }
    for f in &mut folds {
        f.sort_unstable();
    }
    Ok(folds)
}

/// Splits `items` into (kept, held out) by the held-out indices `held` (sorted).
pub fn split<T: Clone>(items: &[T], held: &[usize]) -> (Vec<T>, Vec<T>) {
    let mut keep = Vec::with_capacity(items.len() - held.len().min(items.len()));
    let mut out = Vec::with_capacity(held.len());
    for (i, x) in items.iter().enumerate() {
        if held.binary_search(&i).is_ok() { out.push(x.clone()) } else { keep.push(x.clone()) }
    }
    (keep, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_partition_the_items() {
        let folds = k_fold(10, 3, 7).unwrap();
        let mut all: Vec<usize> = folds.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        let sizes: Vec<usize> = folds.iter().map(Vec::len).collect();
        assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1, "{sizes:?}");
        assert_eq!(folds, k_fold(10, 3, 7).unwrap(), "same seed, same split");
        assert_ne!(folds, k_fold(10, 3, 8).unwrap(), "another seed reshuffles");
    }

    #[test]
    fn split_keeps_order_and_sizes() {
        let items: Vec<u32> = (0..6).collect();
        let (keep, out) = split(&items, &[1, 4]);
        assert_eq!(keep, vec![0, 2, 3, 5]);
        assert_eq!(out, vec![1, 4]);
    }

    #[test]
    fn too_few_items_or_folds_are_errors() {
        assert!(k_fold(2, 3, 1).unwrap_err().to_string().contains("dev set"));
        assert!(k_fold(10, 1, 1).is_err());
    }
}
