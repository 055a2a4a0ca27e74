//! K-shot sampling: draw a small training set in which every entity type has about K mentions.
//!
//! The algorithm is the greedy sampling of Yang & Katiyar, "Simple and Effective Few-Shot Named
//! Entity Recognition with Structured Nearest Neighbor Learning" (EMNLP 2020), Algorithm 1, the
//! usual way few-shot NER training sets are drawn:
//!
//! 1. Sort the entity types by how often they occur, rarest first.
//! 2. For each type in that order, while its count in the sample is below K, draw (without
//!    replacement) a sentence that contains the type, add it, and add *all* its mentions to the
//!    counts (a sentence drawn for one type usually brings others along).
//! 3. Removal pass: for each sentence of the sample, in the order it was added, take it out if
//!    every type still has at least K mentions without it.
//!
//! Rarest types go first because they have the fewest candidate sentences; drawing them last
//! would overshoot K on the common types that those sentences also carry. Counts are mentions,
//! not sentences: a sentence with two `PER` entities adds two.
//!
//! Two details the paper leaves open are fixed here:
//!
//! * "Draw a sentence" walks one seeded shuffle of the corpus (`ChaCha8Rng::seed_from_u64`,
//!   `rand`'s Fisher–Yates, both platform-independent), so a seed gives the same sample on every
//!   machine. The shuffle is drawn once, before step 2.
//! * A type with fewer than K mentions in the whole corpus has target `min(K, available)`, i.e.
//!   all of them. Taken literally, the paper's check (`∃ Count_j < K`) would then hold forever and
//!   disable the removal pass for every sentence.
//!
//! After the removal pass no sentence of the sample can be dropped without some type falling
//! below its target: removals only lower counts, so a sentence kept when it was checked stays
//! needed. Sentences without entities are never drawn.

use super::sentence::Sentence;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::BTreeMap;

/// Mentions of one entity type: in the sample, and in the corpus it was drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TypeCount {
    /// Mentions in the sample.
    pub sampled: usize,
    /// Mentions in the whole corpus.
    pub available: usize,
}

/// A K-shot sample: which sentences were chosen and how many mentions of each type they hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// Indices into the corpus of the chosen sentences, in corpus (file) order.
    pub indices: Vec<usize>,
    /// Every entity type of the corpus, with its mentions in the sample and in the corpus.
    pub per_type: BTreeMap<String, TypeCount>,
    /// The K that was asked for.
    pub k: usize,
    /// The seed that was used.
    pub seed: u64,
}

impl Sample {
    /// The chosen sentences, cloned from `corpus` (the slice the sample was drawn from), in
    /// corpus order.
    pub fn sentences(&self, corpus: &[Sentence]) -> Vec<Sentence> {
        self.indices.iter().filter_map(|&i| corpus.get(i).cloned()).collect()
    }

    /// Types with fewer than K mentions in the whole corpus (the sample holds all of them), so
    /// that callers can warn about them.
    pub fn short_types(&self) -> impl Iterator<Item = (&str, &TypeCount)> {
        self.per_type.iter().filter(|(_, c)| c.available < self.k).map(|(t, c)| (t.as_str(), c))
    }
}

/// Mentions per type in one sentence.
fn mention_counts(s: &Sentence) -> BTreeMap<&str, usize> {
    let mut m = BTreeMap::new();
    for span in &s.spans {
        *m.entry(span.label.as_str()).or_insert(0) += 1;
    }
    m
}

/// Draws a K-shot sample from `sentences` with Yang & Katiyar's greedy algorithm (see the module
/// docs). The same `sentences`, `k` and `seed` always give the same sample. `k = 0` gives an
/// empty sample.
pub fn sample_k_shot(sentences: &[Sentence], k: usize, seed: u64) -> Sample {
    let mentions: Vec<BTreeMap<&str, usize>> = sentences.iter().map(mention_counts).collect();

    let mut available: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &mentions {
        for (&t, &n) in m {
            *available.entry(t).or_insert(0) += n;
        }
    }
    let target = |t: &str| available.get(t).map_or(0, |&a| a.min(k));

    // Rarest first; ties by name so the order never depends on map internals.
    let mut types: Vec<&str> = available.keys().copied().collect();
    types.sort_by_key(|t| (available[t], *t));

    let mut order: Vec<usize> = (0..sentences.len()).filter(|&i| !mentions[i].is_empty()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    order.shuffle(&mut rng);

    let mut counts: BTreeMap<&str, usize> = available.keys().map(|&t| (t, 0)).collect();
    let mut chosen = vec![false; sentences.len()];
    let mut added: Vec<usize> = Vec::new();
    for &ty in &types {
        // Walking the shuffled order and skipping taken sentences draws uniformly without
        // replacement among the sentences that contain `ty`.
        for &i in &order {
            if counts[ty] >= target(ty) {
                break;
            }
            if chosen[i] || !mentions[i].contains_key(ty) {
                continue;
            }
            chosen[i] = true;
            added.push(i);
            for (&t, &n) in &mentions[i] {
                *counts.entry(t).or_insert(0) += n;
            }
        }
    }

    for &i in &added {
        let removable = mentions[i].iter().all(|(&t, &n)| counts[t] - n >= target(t));
        if removable {
            chosen[i] = false;
            for (&t, &n) in &mentions[i] {
                *counts.entry(t).or_insert(0) -= n;
            }
        }
    }

    let indices = (0..sentences.len()).filter(|&i| chosen[i]).collect();
    let per_type = available
        .iter()
        .map(|(&t, &a)| (t.to_string(), TypeCount { sampled: counts[t], available: a }))
        .collect();
    Sample { indices, per_type, k, seed }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::sentence::Span;

    /// A corpus with skewed type frequencies: `A` is common, `B` middling, `C` rare, and some
    /// sentences have no entity at all.
    fn corpus() -> Vec<Sentence> {
        let mut out = Vec::new();
        for i in 0..60 {
            let words: Vec<String> = (0..6).map(|w| format!("w{i}_{w}")).collect();
            let mut spans = Vec::new();
            if i % 2 == 0 {
                spans.push(Span::new(0, 1, "A"));
            }
            if i % 3 == 0 {
                spans.push(Span::new(2, 3, "A"));
            }
            if i % 5 == 0 {
                spans.push(Span::new(4, 5, "B"));
            }
            if i % 17 == 3 {
                spans.push(Span::new(5, 6, "C"));
            }
            out.push(Sentence::new(words, spans));
        }
        out
    }

    fn counts_of(sentences: &[Sentence], indices: &[usize]) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for &i in indices {
            for s in &sentences[i].spans {
                *m.entry(s.label.clone()).or_insert(0) += 1;
            }
        }
        m
    }

    #[test]
    fn same_seed_same_sample() {
        let c = corpus();
        assert_eq!(sample_k_shot(&c, 3, 7), sample_k_shot(&c, 3, 7));
    }

    #[test]
    fn different_seeds_differ() {
        let c = corpus();
        let samples: std::collections::BTreeSet<Vec<usize>> =
            (0..8).map(|seed| sample_k_shot(&c, 3, seed).indices).collect();
        assert!(samples.len() > 1, "8 seeds all gave the same sample");
    }

    #[test]
    fn pinned_sample_for_seed() {
        // A seed must give the same sample on every machine and with every build: if this
        // changes (a `rand`/`rand_chacha` upgrade, an edit to the algorithm), previously
        // published samples can no longer be redrawn, so treat it as a breaking change.
        let c = corpus();
        assert_eq!(sample_k_shot(&c, 2, 1).indices, PINNED_K2_SEED1);
    }

    const PINNED_K2_SEED1: [usize; 4] = [10, 37, 40, 54];

    #[test]
    fn every_type_reaches_min_k_available() {
        let c = corpus();
        for k in [1, 2, 3, 5, 10, 100] {
            for seed in 0..5 {
                let s = sample_k_shot(&c, k, seed);
                let got = counts_of(&c, &s.indices);
                for (t, tc) in &s.per_type {
                    assert!(tc.sampled >= k.min(tc.available), "k={k} seed={seed} type {t}: {tc:?}");
                    assert_eq!(got.get(t).copied().unwrap_or(0), tc.sampled, "reported count for {t}");
                }
            }
        }
    }

    #[test]
    fn no_chosen_sentence_is_removable() {
        let c = corpus();
        for k in [1, 2, 4, 8] {
            for seed in 0..5 {
                let s = sample_k_shot(&c, k, seed);
                for &i in &s.indices {
                    let rest: Vec<usize> = s.indices.iter().copied().filter(|&j| j != i).collect();
                    let without = counts_of(&c, &rest);
                    let still_enough = s
                        .per_type
                        .iter()
                        .all(|(t, tc)| without.get(t).copied().unwrap_or(0) >= k.min(tc.available));
                    assert!(!still_enough, "k={k} seed={seed}: sentence {i} could be removed");
                }
            }
        }
    }

    #[test]
    fn sample_is_an_ordered_subset_without_entityless_sentences() {
        let c = corpus();
        let s = sample_k_shot(&c, 4, 3);
        assert!(s.indices.windows(2).all(|w| w[0] < w[1]), "not in corpus order: {:?}", s.indices);
        assert!(s.indices.iter().all(|&i| i < c.len() && !c[i].spans.is_empty()));
        let chosen = s.sentences(&c);
        assert_eq!(chosen.len(), s.indices.len());
        assert!(chosen.iter().all(|x| c.contains(x)));
    }

    #[test]
    fn rare_type_is_taken_whole() {
        let c = corpus();
        let available_c = c.iter().flat_map(|s| &s.spans).filter(|s| s.label == "C").count();
        let s = sample_k_shot(&c, 10, 0);
        assert_eq!(s.per_type["C"], TypeCount { sampled: available_c, available: available_c });
        assert_eq!(s.short_types().map(|(t, _)| t).collect::<Vec<_>>(), ["C"]);
    }

    #[test]
    fn degenerate_inputs() {
        assert!(sample_k_shot(&[], 5, 0).indices.is_empty());
        let c = corpus();
        let s = sample_k_shot(&c, 0, 0);
        assert!(s.indices.is_empty());
        assert!(s.per_type.values().all(|tc| tc.sampled == 0));
        let plain = vec![Sentence::new(vec!["a".into()], vec![]); 3];
        let s = sample_k_shot(&plain, 5, 0);
        assert!(s.indices.is_empty() && s.per_type.is_empty());
    }
}
