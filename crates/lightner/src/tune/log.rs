//! The trial log: a JSON Lines file that records the tuning settings, every proposed trial and
//! every finished training unit, appended and synced line by line. A rerun with the same settings
//! reads it back and redoes nothing that finished; an interrupted write leaves at most one torn
//! last line, which is dropped on reading.

use super::{Origin, TrialConfig, UnitResult};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Record {
    /// The first line: what the run searches and on which data.
    Settings { settings: serde_json::Value },
    /// A configuration to evaluate (numbered from 0 in order of proposal).
    Trial { trial: usize, config: TrialConfig, origin: Origin },
    /// One training unit (a seed and a fold of a trial) and its held-out score.
    Unit(UnitResult),
}

/// The log, read into memory and kept in step with its file.
#[derive(Debug)]
pub struct TrialLog {
    path: PathBuf,
    /// Proposed trials, by index.
    pub trials: Vec<(TrialConfig, Origin)>,
    /// Finished units, in order of completion.
    pub units: Vec<UnitResult>,
}

impl TrialLog {
    /// Opens the log at `path`: creates it with `settings`, or reads it back when it exists and
    /// was written with the same settings (a different run's log is refused, not overwritten).
    pub fn open(path: &Path, settings: &serde_json::Value) -> Result<Self> {
        let mut log = Self { path: path.to_path_buf(), trials: Vec::new(), units: Vec::new() };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                log.append(&Record::Settings { settings: settings.clone() })?;
                return Ok(log);
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        let torn = !text.is_empty() && !text.ends_with('\n');
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let record: Record = match serde_json::from_str(line) {
                Ok(r) => r,
                // A kill during a write leaves a partial last line: that unit simply reruns.
                Err(_) if torn && i + 1 == lines.len() => break,
                Err(e) => {
                    return Err(Error::Checkpoint(format!(
                        "{}:{}: not a trial-log line ({e}); delete the file to start the search over",
                        path.display(),
                        i + 1
                    )));
                }
            };
            match record {
                Record::Settings { settings: s } if i == 0 => {
                    if &s != settings {
                        return Err(Error::Checkpoint(format!(
                            "{} was written by a tune run with other settings ({}); use another --out, \
                             or delete it to start over",
                            path.display(),
                            first_difference(&s, settings)
                        )));
                    }
                }
                Record::Trial { trial, config, origin } if trial == log.trials.len() => {
                    log.trials.push((config, origin));
                }
                Record::Unit(u) if u.trial < log.trials.len() => log.units.push(u),
                _ => {
                    return Err(Error::Checkpoint(format!(
                        "{}:{}: trial-log line out of order; delete the file to start the search over",
                        path.display(),
                        i + 1
                    )));
                }
            }
        }
        if torn {
            // Rewrite without the torn line, so that the next append starts on a line of its own.
            let keep: String = lines[..lines.len() - 1].iter().map(|l| format!("{l}\n")).collect();
            crate::io::write_atomic(path, keep.as_bytes())?;
        }
        Ok(log)
    }

    /// Records a proposed trial and returns its index.
    pub fn propose(&mut self, config: TrialConfig, origin: Origin) -> Result<usize> {
        let trial = self.trials.len();
        self.append(&Record::Trial { trial, config: config.clone(), origin })?;
        self.trials.push((config, origin));
        Ok(trial)
    }

    /// Records a finished unit.
    pub fn finish(&mut self, unit: UnitResult) -> Result<()> {
        self.append(&Record::Unit(unit.clone()))?;
        self.units.push(unit);
        Ok(())
    }

    /// Whether the unit (trial, seed, fold) has finished.
    pub fn done(&self, trial: usize, seed: u64, fold: usize) -> bool {
        self.units.iter().any(|u| u.trial == trial && u.seed == seed && u.fold == fold)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn append(&self, record: &Record) -> Result<()> {
        let mut line = serde_json::to_string(record).map_err(|e| Error::Internal(e.to_string()))?;
        line.push('\n');
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&self.path)?;
            f.write_all(line.as_bytes())?;
            f.sync_data()
        };
        write().map_err(|e| Error::io(&self.path, e))
    }
}

/// Names the first top-level setting that differs, for the error message.
fn first_difference(old: &serde_json::Value, new: &serde_json::Value) -> String {
    if let (Some(a), Some(b)) = (old.as_object(), new.as_object()) {
        for (k, v) in b {
            if a.get(k) != Some(v) {
                return format!("{k} was {}, now {v}", a.get(k).map_or("absent".into(), |x| x.to_string()));
            }
        }
        for k in a.keys() {
            if !b.contains_key(k) {
                return format!("{k} is no longer set");
            }
        }
    }
    "they differ".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(trial: usize, seed: u64) -> UnitResult {
        UnitResult { trial, seed, fold: 0, precision: 0.5, recall: 0.5, f1: 0.5, seconds: 1.0 }
    }

    #[test]
    fn reopening_restores_trials_and_units() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trials.jsonl");
        let settings = serde_json::json!({"folds": 3});
        let mut log = TrialLog::open(&path, &settings).unwrap();
        let c = TrialConfig { alpha: 0.3, lr: 1e-3, prompt_len: 10, epochs: 5 };
        assert_eq!(log.propose(c.clone(), Origin::Grid).unwrap(), 0);
        log.finish(unit(0, 1)).unwrap();
        let back = TrialLog::open(&path, &settings).unwrap();
        assert_eq!(back.trials, vec![(c, Origin::Grid)]);
        assert!(back.done(0, 1, 0) && !back.done(0, 2, 0));
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_other_settings_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trials.jsonl");
        let settings = serde_json::json!({"folds": 3});
        let mut log = TrialLog::open(&path, &settings).unwrap();
        log.propose(TrialConfig { alpha: 0.0, lr: 1e-3, prompt_len: 10, epochs: 5 }, Origin::Grid).unwrap();
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"kind\":\"unit\",\"tri").unwrap();
        drop(f);
        let mut back = TrialLog::open(&path, &settings).unwrap();
        assert!(back.units.is_empty());
        back.finish(unit(0, 1)).unwrap();
        assert_eq!(TrialLog::open(&path, &settings).unwrap().units.len(), 1);
        let err = TrialLog::open(&path, &serde_json::json!({"folds": 5})).unwrap_err().to_string();
        assert!(err.contains("folds was 3, now 5"), "{err}");
    }
}
