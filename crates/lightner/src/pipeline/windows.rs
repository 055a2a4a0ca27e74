//! Sentences longer than the model's positions are tagged in overlapping windows of words and the
//! results merged: each window owns the words between the midpoints of its overlaps with its
//! neighbours, and keeps the entities that start there. Plain vectors, no tensors.

use crate::decode::ScoredSpan;

/// Windows `[start, end)` of words covering `0..pieces.len()`, each holding at most `max_pieces`
/// pieces (a word longer than that gets a window of its own), consecutive windows sharing about
/// `overlap` words.
pub fn plan(pieces: &[usize], max_pieces: usize, overlap: usize) -> Vec<(usize, usize)> {
    let n = pieces.len();
    let mut out = Vec::new();
    let mut start = 0;
    while start < n {
        let mut end = start;
        let mut used = 0;
        while end < n && (end == start || used + pieces[end] <= max_pieces) {
            used += pieces[end];
            end += 1;
        }
        out.push((start, end));
        if end == n {
            break;
        }
        // Step back by the overlap, but always move forward.
        start = end.saturating_sub(overlap).max(start + 1);
    }
    out
}

/// Merges per-window entities (word offsets relative to their window) into sentence entities.
pub fn merge(windows: &[(usize, usize)], per_window: Vec<Vec<ScoredSpan>>) -> Vec<ScoredSpan> {
    let mut kept: Vec<ScoredSpan> = Vec::new();
    for (i, (&(s, e), spans)) in windows.iter().zip(per_window).enumerate() {
        // Ownership boundaries: midpoints of the overlaps with the neighbours.
        let lo = if i == 0 { 0 } else { (s + windows[i - 1].1).div_ceil(2) };
        let hi = windows.get(i + 1).map_or(usize::MAX, |&(ns, _)| (ns + e).div_ceil(2));
        for mut sp in spans {
            sp.span.start += s;
            sp.span.end += s;
            if sp.span.start >= lo && sp.span.start < hi {
                kept.push(sp);
            }
        }
    }
    kept.sort_by(|a, b| a.span.cmp(&b.span));
    // Two windows may still disagree across a boundary: keep the more confident of overlapping spans.
    let mut out: Vec<ScoredSpan> = Vec::new();
    for sp in kept {
        match out.last_mut() {
            Some(last) if last.span.end > sp.span.start => {
                if sp.score > last.score {
                    *last = sp;
                }
            }
            _ => out.push(sp),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Span;

    #[test]
    fn windows_cover_everything_and_respect_the_limit() {
        let pieces = vec![1, 2, 1, 1, 3, 1, 1, 2, 1, 1, 1, 1];
        let w = plan(&pieces, 5, 2);
        assert_eq!(w.first().unwrap().0, 0);
        assert_eq!(w.last().unwrap().1, pieces.len());
        for (i, &(s, e)) in w.iter().enumerate() {
            assert!(pieces[s..e].iter().sum::<usize>() <= 5);
            if i > 0 {
                assert!(s > w[i - 1].0 && s <= w[i - 1].1, "windows overlap or touch and move forward");
            }
        }
        assert_eq!(plan(&[1, 1], 5, 2), vec![(0, 2)]);
        assert_eq!(plan(&[9], 5, 2), vec![(0, 1)]);
    }

    #[test]
    fn merge_keeps_each_entity_once() {
        let w = vec![(0, 6), (4, 10)];
        let s = |a, b, sc| ScoredSpan { span: Span::new(a, b, "X"), score: sc };
        // The entity at sentence words 4..5 is seen by both windows.
        let merged = merge(&w, vec![vec![s(1, 2, 0.9), s(4, 5, 0.8)], vec![s(0, 1, 0.7), s(3, 4, 0.6)]]);
        let spans: Vec<(usize, usize)> = merged.iter().map(|x| (x.span.start, x.span.end)).collect();
        assert_eq!(spans, vec![(1, 2), (4, 5), (7, 8)]);
    }
}
