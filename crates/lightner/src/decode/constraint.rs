//! Constrained decoding: which target indices may come next so that the sequence decodes to valid,
//! non-overlapping spans. Plain vectors, no tensors; the search turns the answer into a mask.
//!
//! Rules, in target space `[bos | eos | labels | positions]` (docs/deepke.md §4.1):
//! * Between entities (after bos or a label): eos, or a pointer to an allowed position past the
//!   last position already used — entities come in source order and never overlap.
//! * Inside an entity (after a pointer): a pointer to a later allowed position, or a label. In
//!   the word-start space only the *next* word's start may follow, so spans stay contiguous.
//! * Near the length limit, an open entity must be closed (a label) and then eos must come, so
//!   no pointer is left dangling when eos is forced.

use crate::tokenize::TargetIdx;

/// The layout a constraint needs: label count and, per source position, whether a pointer may
/// address it.
#[derive(Debug, Clone)]
pub struct Constraint {
    num_labels: usize,
    allowed: Vec<bool>,
    contiguous: bool,
}

impl Constraint {
    /// `allowed[p]`: whether position p may be pointed to (the model's own pointer mask, negated).
    /// `contiguous`: only the next allowed position may continue an entity (word-start space).
    pub fn new(num_labels: usize, allowed: Vec<bool>, contiguous: bool) -> Self {
        Self { num_labels, allowed, contiguous }
    }

    /// Number of target columns `C + 2 + S`.
    pub fn width(&self) -> usize {
        self.num_labels + 2 + self.allowed.len()
    }

    fn src_start(&self) -> usize {
        self.num_labels + 2
    }

    /// The allowed next indices after `prefix` (bos first), when `left` more tokens may still be
    /// generated including this one (1 = this is the last, so it must be eos).
    pub fn next(&self, prefix: &[TargetIdx], left: usize) -> Vec<bool> {
        let c2 = self.src_start() as u32;
        let first_label = TargetIdx::EOS.0 + 1;
        let mut out = vec![false; self.width()];
        // Last position used by any pointer so far, and whether an entity is open.
        let mut last: Option<usize> = None;
        let mut open = false;
        for &TargetIdx(t) in prefix.iter().skip(1) {
            if t >= c2 {
                last = Some((t - c2) as usize);
                open = true;
            } else if t >= first_label {
                open = false;
            }
        }
        let after = last.map_or(0, |p| p + 1);
        if open {
            // Close with a label; continue with a pointer only if a label still fits after it.
            out[first_label as usize..c2 as usize].iter_mut().for_each(|b| *b = true);
            if left >= 3 {
                let next = (after..self.allowed.len()).filter(|&p| self.allowed[p]);
                for p in next.take(if self.contiguous { 1 } else { usize::MAX }) {
                    out[c2 as usize + p] = true;
                }
            }
        } else {
            out[TargetIdx::EOS.0 as usize] = true;
            // A new entity needs a pointer, a label and then eos: three tokens.
            if left >= 3 {
                for p in (after..self.allowed.len()).filter(|&p| self.allowed[p]) {
                    out[c2 as usize + p] = true;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[u32]) -> Vec<TargetIdx> {
        v.iter().map(|&x| TargetIdx(x)).collect()
    }

    /// 2 labels (indices 2, 3); positions 0..6 with 1, 2, 4 allowed (word starts).
    fn c(contiguous: bool) -> Constraint {
        Constraint::new(2, vec![false, true, true, false, true, false], contiguous)
    }

    fn on(v: &[bool]) -> Vec<usize> {
        v.iter().enumerate().filter(|(_, b)| **b).map(|(i, _)| i).collect()
    }

    #[test]
    fn start_allows_eos_and_every_allowed_pointer() {
        assert_eq!(on(&c(true).next(&t(&[0]), 10)), vec![1, 5, 6, 8]);
    }

    #[test]
    fn inside_an_entity_only_later_pointers_or_labels() {
        // bos, pointer to position 1 (index 5).
        assert_eq!(on(&c(true).next(&t(&[0, 5]), 10)), vec![2, 3, 6]);
        assert_eq!(on(&c(false).next(&t(&[0, 5]), 10)), vec![2, 3, 6, 8]);
    }

    #[test]
    fn entities_do_not_overlap() {
        // bos, ptr 2 (index 6), label → only positions after 2, or eos.
        assert_eq!(on(&c(true).next(&t(&[0, 6, 2]), 10)), vec![1, 8]);
        // After the last allowed position is used, only eos.
        assert_eq!(on(&c(true).next(&t(&[0, 8, 3]), 10)), vec![1]);
    }

    #[test]
    fn the_length_limit_closes_entities() {
        assert_eq!(on(&c(true).next(&t(&[0, 5]), 2)), vec![2, 3]);
        assert_eq!(on(&c(true).next(&t(&[0]), 2)), vec![1]);
        assert_eq!(on(&c(true).next(&t(&[0, 5, 2]), 1)), vec![1]);
    }
}
