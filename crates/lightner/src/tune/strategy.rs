//! Search strategies: which configuration to try next, given what was tried and how it scored.
//!
//! * Grid: every configuration of a list, all proposed at once (they can run in parallel).
//! * Bayes: Gaussian-process Bayesian optimisation of α with the expected-improvement
//!   acquisition, by egobox-ego's ask-and-tell service (Bartoli et al.'s EGO): a small initial
//!   design (α at both ends of the range and its middle), then one suggestion per trial from the
//!   GP fitted to the mean held-out F1 of every finished trial. The suggestion depends only on
//!   the finished trials and a fixed seed, so a resumed search asks the same questions.

use super::{Origin, TrialConfig};
use crate::error::{Error, Result};

/// How trials are chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    /// Exactly these configurations.
    Grid(Vec<TrialConfig>),
    /// Bayesian optimisation of α.
    Bayes(Bayes),
}

/// Settings of the Bayesian search.
#[derive(Debug, Clone, PartialEq)]
pub struct Bayes {
    /// Trials in all, initial design included.
    pub budget: usize,
    /// The α range searched.
    pub range: (f64, f64),
    /// Every other setting of the trials (its α is replaced).
    pub base: TrialConfig,
    /// Seed of the optimiser's own randomness (its multistart of the acquisition).
    pub seed: u64,
}

/// Suggestions closer than this to an evaluated α are replaced by the middle of the widest
/// unexplored gap: with the same seeds, a repeated α would retrain to the same score and teach
/// the GP nothing.
const MIN_SPACING: f64 = 5e-3;

impl Strategy {
    /// Trials in all (`None` when only the strategy knows, never here).
    pub fn budget(&self) -> usize {
        match self {
            Strategy::Grid(g) => g.len(),
            Strategy::Bayes(b) => b.budget,
        }
    }

    /// The next configurations to try, given every proposed trial with its mean held-out F1
    /// (`None` while unfinished). Empty when the search is over. Bayes proposes only once all
    /// earlier trials have finished.
    pub fn propose(&self, trials: &[(TrialConfig, Option<f64>)]) -> Result<Vec<(TrialConfig, Origin)>> {
        match self {
            Strategy::Grid(grid) => Ok(grid
                .iter()
                .filter(|c| !trials.iter().any(|(t, _)| t == *c))
                .map(|c| (c.clone(), Origin::Grid))
                .collect()),
            Strategy::Bayes(b) => b.propose(trials),
        }
    }
}

impl Bayes {
    fn design(&self) -> Vec<f64> {
        let (lo, hi) = self.range;
        let all = [lo, hi, (lo + hi) / 2.0];
        all[..self.budget.min(3)].to_vec()
    }

    fn propose(&self, trials: &[(TrialConfig, Option<f64>)]) -> Result<Vec<(TrialConfig, Origin)>> {
        let (lo, hi) = self.range;
        if !(0.0..=1.0).contains(&lo) || !(0.0..=1.0).contains(&hi) || lo >= hi {
            return Err(Error::Config(format!("alpha range {lo}..{hi} is not inside [0, 1]")));
        }
        let with = |alpha: f64| TrialConfig { alpha, ..self.base.clone() };
        let design = self.design();
        if trials.len() < design.len() {
            return Ok(design[trials.len()..].iter().map(|&a| (with(a), Origin::Design)).collect());
        }
        if trials.len() >= self.budget || trials.iter().any(|(_, f)| f.is_none()) {
            return Ok(Vec::new());
        }
        let xs: Vec<f64> = trials.iter().map(|(c, _)| c.alpha).collect();
        // egobox minimises: the objective is minus the mean F1.
        let ys: Vec<f64> = trials.iter().map(|(_, f)| -f.unwrap_or(0.0)).collect();
        let alpha = match suggest(&xs, &ys, self.range, self.seed) {
            Some(a) if xs.iter().all(|x| (x - a).abs() >= MIN_SPACING) => a,
            _ => widest_gap_middle(&xs, self.range),
        };
        Ok(vec![(with((alpha * 1000.0).round() / 1000.0), Origin::Bayes)])
    }
}

/// One expected-improvement suggestion from egobox, or `None` when the GP cannot be fitted (for
/// instance every score equal): egobox reports that by panicking, which is caught here so that
/// the search goes on with the gap rule instead of aborting.
fn suggest(xs: &[f64], ys: &[f64], (lo, hi): (f64, f64), seed: u64) -> Option<f64> {
    use egobox_ego::{CorrelationSpec, EgorServiceBuilder, InfillStrategy, RegressionSpec};
    let x = ndarray::Array2::from_shape_vec((xs.len(), 1), xs.to_vec()).ok()?;
    let y = ndarray::Array2::from_shape_vec((ys.len(), 1), ys.to_vec()).ok()?;
    if ys.iter().all(|v| (v - ys[0]).abs() < 1e-12) {
        return None;
    }
    let run = move || {
        let ego = EgorServiceBuilder::optimize()
            .configure(|c| {
                c.configure_gp(|gp| {
                    gp.regression_spec(RegressionSpec::CONSTANT)
                        .correlation_spec(CorrelationSpec::SQUAREDEXPONENTIAL)
                })
                .infill_strategy(InfillStrategy::EI)
                .seed(seed)
            })
            .min_within(&ndarray::array![[lo, hi]])
            .ok()?;
        let next = ego.suggest(&x, &y);
        next.get((0, 0)).copied()
    };
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let out = std::panic::catch_unwind(run).ok().flatten();
    std::panic::set_hook(hook);
    out.filter(|a| a.is_finite()).map(|a| a.clamp(lo, hi))
}

/// The middle of the widest interval between evaluated α values (range ends included; the lowest
/// of equally wide ones).
fn widest_gap_middle(xs: &[f64], (lo, hi): (f64, f64)) -> f64 {
    let mut pts: Vec<f64> = xs.iter().copied().chain([lo, hi]).collect();
    pts.sort_by(f64::total_cmp);
    // The first of equally wide gaps (the lowest α), so that the rule is deterministic.
    let mut best = (lo, lo);
    for w in pts.windows(2) {
        if w[1] - w[0] > best.1 - best.0 {
            best = (w[0], w[1]);
        }
    }
    (best.0 + best.1) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> TrialConfig {
        TrialConfig { alpha: 0.5, lr: 1e-3, prompt_len: 10, epochs: 5 }
    }

    fn bayes(budget: usize) -> Bayes {
        Bayes { budget, range: (0.0, 1.0), base: base(), seed: 3 }
    }

    #[test]
    fn grid_proposes_what_is_missing() {
        let a = TrialConfig { alpha: 0.0, ..base() };
        let b = TrialConfig { alpha: 1.0, ..base() };
        let s = Strategy::Grid(vec![a.clone(), b.clone()]);
        assert_eq!(s.propose(&[]).unwrap().len(), 2);
        assert_eq!(s.propose(&[(a, Some(0.1))]).unwrap(), vec![(b, Origin::Grid)]);
    }

    /// On a smooth curve with its peak at α = 0.3, expected improvement homes in on the peak.
    #[test]
    fn bayes_finds_the_peak_of_a_smooth_curve() {
        let f = |a: f64| 0.8 - (a - 0.3) * (a - 0.3);
        let s = bayes(8);
        let mut trials: Vec<(TrialConfig, Option<f64>)> = Vec::new();
        loop {
            let next = s.propose(&trials).unwrap();
            if next.is_empty() {
                break;
            }
            for (c, _) in next {
                let v = f(c.alpha);
                trials.push((c, Some(v)));
            }
        }
        assert_eq!(trials.len(), 8);
        let best = trials.iter().max_by(|a, b| a.1.unwrap().total_cmp(&b.1.unwrap())).unwrap();
        assert!((best.0.alpha - 0.3).abs() < 0.05, "best alpha {}", best.0.alpha);
        // Resuming asks the same question.
        assert_eq!(s.propose(&trials[..5]).unwrap(), s.propose(&trials[..5]).unwrap());
    }

    #[test]
    fn flat_scores_fall_back_to_the_widest_gap() {
        let s = bayes(4);
        let trials: Vec<_> =
            [0.0, 1.0, 0.5].iter().map(|&a| (TrialConfig { alpha: a, ..base() }, Some(0.0))).collect();
        let next = s.propose(&trials).unwrap();
        assert_eq!(next.len(), 1);
        assert!((next[0].0.alpha - 0.25).abs() < 1e-9, "{}", next[0].0.alpha);
    }

    #[test]
    fn bayes_waits_for_unfinished_trials() {
        let s = bayes(5);
        let trials: Vec<_> =
            [0.0, 1.0, 0.5].iter().map(|&a| (TrialConfig { alpha: a, ..base() }, None)).collect();
        assert!(s.propose(&trials).unwrap().is_empty());
    }
}
