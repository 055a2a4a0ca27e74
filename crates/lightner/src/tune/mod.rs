//! `tune`: searching the fusion weight α (and optionally learning rate, prompt length and epochs)
//! by held-out F1. Model-free: a trial is scored by a caller-supplied function that trains on
//! some sentences and scores others, so this module only decides what to train, runs the units
//! (in parallel when asked), keeps the resumable [`log::TrialLog`] and summarises.
//!
//! A *trial* is one configuration; it is scored by *units*, one per (seed, fold): with a dev set
//! there is one fold (train on the training file, score on dev), without one the training file is
//! split into k folds ([`folds::k_fold`], reshuffled per seed) and each fold is held out once.
//! A trial's score is the mean F1 over its units, with their sample standard deviation.

pub mod folds;
pub mod log;
pub mod strategy;

pub use log::TrialLog;
pub use strategy::{Bayes, Strategy};

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The settings a trial varies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialConfig {
    /// Fusion weight α.
    pub alpha: f64,
    /// Peak learning rate.
    pub lr: f64,
    /// Prompt length.
    pub prompt_len: usize,
    /// Training epochs of each training of the trial.
    pub epochs: usize,
}

/// Where a trial came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// A grid point.
    Grid,
    /// The Bayesian search's initial design.
    Design,
    /// An expected-improvement suggestion.
    Bayes,
}

/// The held-out score of one unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UnitScore {
    /// Micro precision.
    pub precision: f64,
    /// Micro recall.
    pub recall: f64,
    /// Micro F1.
    pub f1: f64,
    /// Wall time of training and scoring, seconds.
    pub seconds: f64,
}

/// A finished unit, as the log records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitResult {
    /// Trial index.
    pub trial: usize,
    /// Training seed (also the seed of the fold split).
    pub seed: u64,
    /// Held-out fold (0 with a dev set).
    pub fold: usize,
    /// Micro precision.
    pub precision: f64,
    /// Micro recall.
    pub recall: f64,
    /// Micro F1.
    pub f1: f64,
    /// Wall-clock seconds the trial took, all its trainings together.
    pub seconds: f64,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// How trials are chosen.
    pub strategy: Strategy,
    /// Seeds every trial is trained with.
    pub seeds: Vec<u64>,
    /// Folds per seed (1: a dev set scores every unit).
    pub folds: usize,
    /// Units trained at the same time.
    pub jobs: usize,
}

/// A trial with its finished units.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialSummary {
    /// Index, in order of proposal.
    pub index: usize,
    /// The configuration.
    pub config: TrialConfig,
    /// Where it came from.
    pub origin: Origin,
    /// Its finished units.
    pub units: Vec<UnitResult>,
}

impl TrialSummary {
    /// Mean F1 over the units.
    pub fn mean(&self) -> f64 {
        mean_std(&self.f1s()).0
    }

    /// Sample standard deviation of the units' F1 (0 for a single unit).
    pub fn std(&self) -> f64 {
        mean_std(&self.f1s()).1
    }

    /// Seconds spent on its units.
    pub fn seconds(&self) -> f64 {
        self.units.iter().map(|u| u.seconds).sum()
    }

    fn f1s(&self) -> Vec<f64> {
        self.units.iter().map(|u| u.f1).collect()
    }
}

/// Mean and sample standard deviation.
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    if xs.is_empty() {
        return (0.0, 0.0);
    }
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 { xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (m, var.sqrt())
}

/// Progress reports.
#[derive(Debug)]
pub enum Event<'a> {
    /// Found in the log at the start: trials and units already done.
    Resumed {
        /// Trials proposed earlier.
        trials: usize,
        /// Units finished earlier.
        units: usize,
    },
    /// Units about to run (all pending units of the proposed trials).
    Running {
        /// How many.
        units: usize,
    },
    /// A unit finished.
    Unit(&'a UnitResult),
    /// A trial finished (all its units).
    Trial(&'a TrialSummary),
}

/// Scores one unit: trains `config` with `seed` and scores fold `fold` (the function knows the
/// data). Called from several threads at once when `jobs > 1`.
pub type UnitFn<'a> = dyn Fn(&TrialConfig, u64, usize) -> Result<UnitScore> + Sync + 'a;

/// The trials of the log with their units.
pub fn summaries(log: &TrialLog) -> Vec<TrialSummary> {
    log.trials
        .iter()
        .enumerate()
        .map(|(i, (config, origin))| TrialSummary {
            index: i,
            config: config.clone(),
            origin: *origin,
            units: log.units.iter().filter(|u| u.trial == i).cloned().collect(),
        })
        .collect()
}

/// The best finished trial: highest mean F1, ties to the smaller spread, then the earlier trial.
pub fn best(trials: &[TrialSummary], units_per_trial: usize) -> Option<&TrialSummary> {
    trials.iter().filter(|t| t.units.len() >= units_per_trial).reduce(|a, b| {
        let better = b.mean() > a.mean() || (b.mean() == a.mean() && b.std() < a.std());
        if better { b } else { a }
    })
}

/// Runs the search to its end, resuming from `log`: finished units are never rerun.
pub fn run(
    plan: &Plan,
    log: &mut TrialLog,
    unit: &UnitFn<'_>,
    events: &mut dyn FnMut(Event<'_>),
) -> Result<Vec<TrialSummary>> {
    if plan.seeds.is_empty() || plan.folds == 0 {
        return Err(Error::Config("a search needs at least one seed and one fold".into()));
    }
    let per_trial = plan.seeds.len() * plan.folds;
    if !log.trials.is_empty() {
        events(Event::Resumed { trials: log.trials.len(), units: log.units.len() });
    }
    loop {
        let pending: Vec<(usize, u64, usize)> = (0..log.trials.len())
            .flat_map(|t| plan.seeds.iter().flat_map(move |&s| (0..plan.folds).map(move |f| (t, s, f))))
            .filter(|&(t, s, f)| !log.done(t, s, f))
            .collect();
        if !pending.is_empty() {
            events(Event::Running { units: pending.len() });
            run_units(&pending, plan.jobs, log, unit, per_trial, events)?;
            continue;
        }
        let done: Vec<(TrialConfig, Option<f64>)> = summaries(log)
            .iter()
            .map(|t| (t.config.clone(), (t.units.len() >= per_trial).then(|| t.mean())))
            .collect();
        let next = plan.strategy.propose(&done)?;
        if next.is_empty() {
            return Ok(summaries(log));
        }
        for (config, origin) in next {
            log.propose(config, origin)?;
        }
    }
}

/// Runs `pending` units, `jobs` at a time, logging each as it finishes (on this thread only).
fn run_units(
    pending: &[(usize, u64, usize)],
    jobs: usize,
    log: &mut TrialLog,
    unit: &UnitFn<'_>,
    per_trial: usize,
    events: &mut dyn FnMut(Event<'_>),
) -> Result<()> {
    let mut record = |log: &mut TrialLog, (t, s, f): (usize, u64, usize), r: UnitScore| -> Result<()> {
        let u = UnitResult {
            trial: t,
            seed: s,
            fold: f,
            precision: r.precision,
            recall: r.recall,
            f1: r.f1,
            seconds: r.seconds,
        };
        log.finish(u.clone())?;
        events(Event::Unit(&u));
        let trial = summaries(log).swap_remove(t);
        if trial.units.len() == per_trial {
            events(Event::Trial(&trial));
        }
        Ok(())
    };
    if jobs <= 1 {
        for &key in pending {
            let config = log.trials[key.0].0.clone();
            let score = unit(&config, key.1, key.2)?;
            record(log, key, score)?;
        }
        return Ok(());
    }
    // Several units at once: each worker trains inside its own rayon pool with an equal share of
    // the cores, so that the workers do not fight over one pool.
    let configs: Vec<TrialConfig> = pending.iter().map(|k| log.trials[k.0].0.clone()).collect();
    // Fewer units than jobs (the last trial of a Bayesian search): the cores go to those there are.
    let workers = jobs.min(pending.len());
    let threads = (rayon::current_num_threads() / workers).max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Result<UnitScore>)>();
    std::thread::scope(|scope| -> Result<()> {
        for _ in 0..workers {
            let tx = tx.clone();
            let (next, stop, configs) = (&next, &stop, &configs);
            scope.spawn(move || {
                let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = tx.send((usize::MAX, Err(Error::Internal(format!("thread pool: {e}")))));
                        return;
                    }
                };
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if i >= pending.len() || stop.load(std::sync::atomic::Ordering::SeqCst) {
                        return;
                    }
                    let (_, s, f) = pending[i];
                    let r = pool.install(|| unit(&configs[i], s, f));
                    if tx.send((i, r)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut first_err = None;
        for (i, r) in rx {
            match r {
                Ok(score) if first_err.is_none() => {
                    if let Err(e) = record(log, pending[i], score) {
                        stop.store(true, std::sync::atomic::Ordering::SeqCst);
                        first_err = Some(e);
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    stop.store(true, std::sync::atomic::Ordering::SeqCst);
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    })
}
