//! The learning-rate schedule: linear warm-up from 0 to the peak over the first
//! `warmup_ratio · total` steps, then linear decay to 0 at the last step (the schedule of
//! `transformers.get_linear_schedule_with_warmup`; the reference reads `warmup_ratio` but never
//! uses it, docs/deepke.md §6.2).

/// Learning rate at 0-based `step` of `total`.
pub fn linear_warmup_decay(step: usize, total: usize, warmup_ratio: f64, peak: f64) -> f64 {
    let total = total.max(1) as f64;
    let warmup = (warmup_ratio * total).ceil();
    let s = step as f64;
    if s < warmup {
        peak * (s + 1.0) / warmup
    } else {
        peak * ((total - s) / (total - warmup).max(1.0)).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warms_up_then_decays_linearly() {
        let lr = |s| linear_warmup_decay(s, 100, 0.1, 1.0);
        assert!((lr(0) - 0.1).abs() < 1e-12);
        assert!((lr(9) - 1.0).abs() < 1e-12);
        assert!((lr(10) - 1.0).abs() < 1e-12);
        assert!((lr(55) - 0.5).abs() < 1e-12);
        assert!(lr(99) > 0.0 && lr(99) < 0.02);
        // Monotone after the peak.
        assert!((10..99).all(|s| lr(s + 1) <= lr(s)));
    }

    #[test]
    fn no_warmup_starts_at_the_peak() {
        assert_eq!(linear_warmup_decay(0, 10, 0.0, 2.0), 2.0);
    }
}
