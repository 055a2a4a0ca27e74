//! The model workers: threads (one by default, `--workers`) that share the registry (and so
//! every model) and drain a bounded queue. Jobs that arrive together for the same pack and
//! decoding settings are tagged as one batch, so that concurrent requests share decoding
//! batches. A panic while tagging answers the jobs of that batch with an error; the worker goes
//! on.

use super::metrics::Metrics;
use super::registry::{Lookup, PackInfo, Registry};
use lightner::data::{Sentence, jsonl};
use lightner::pipeline::{Entity, document_entities};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// What a request asks to tag.
#[derive(Debug, Clone)]
pub enum Input {
    /// Raw texts, split into sentences and words as the pack's training data was.
    Texts(Vec<String>),
    /// Pre-tokenized sentences.
    Tokens(Vec<Vec<String>>),
}

/// Why a job failed.
#[derive(Debug)]
pub enum JobError {
    /// No pack of that name.
    NotFound(String),
    /// The pack exists but is not loaded.
    Unavailable(String),
    /// The input is malformed (a bad token).
    BadInput(String),
    /// Tagging failed (a library error or a panic).
    Failed(String),
}

/// The entities of every text of a job.
pub type JobResult = Result<Vec<Vec<Entity>>, JobError>;

/// A unit of work for the model thread.
pub enum Job {
    /// Tag `input` with `pack`, `beams` overriding the pack's beam count.
    Tag { pack: String, input: Input, beams: Option<usize>, reply: oneshot::Sender<JobResult> },
    /// Rescan the packs folder now.
    Reload { reply: oneshot::Sender<Vec<PackInfo>> },
}

/// What the HTTP side may read without asking the worker.
#[derive(Default)]
pub struct Shared {
    /// The packs after the last scan.
    pub packs: Vec<PackInfo>,
    /// The backbones opened.
    pub backbones: Vec<String>,
    /// Whether the first scan is done.
    pub ready: bool,
}

/// Worker settings.
pub struct WorkerConfig {
    /// How often the folder is rescanned when no job comes.
    pub scan_every: Duration,
    /// How long the worker waits for more jobs to batch with the first one.
    pub batch_window: Duration,
    /// At most this many jobs in one batch.
    pub max_batch_jobs: usize,
    /// Whether pack changes go unlogged.
    pub quiet: bool,
}

/// The model workers' shared state: the registry (read while tagging, written by a scan, so a
/// scan waits for batches in flight and a request finishes on the pack it started with), the
/// queue's receiving end (one worker at a time gathers a batch), and what they publish.
pub struct Pool {
    registry: RwLock<Registry>,
    jobs: Mutex<Receiver<Job>>,
    shared: Arc<RwLock<Shared>>,
    metrics: Arc<Metrics>,
    cfg: WorkerConfig,
    last_scan: Mutex<Instant>,
}

/// Locks even when a thread panicked while holding the lock: tagging runs under
/// `catch_unwind`, and what the locks guard stays whole between statements.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Pool {
    /// A pool over `registry`, scanned once before this returns (every pack found at start
    /// loaded or refused), so that the server can open its port ready.
    pub fn start(
        registry: Registry,
        jobs: Receiver<Job>,
        shared: Arc<RwLock<Shared>>,
        metrics: Arc<Metrics>,
        cfg: WorkerConfig,
    ) -> Arc<Self> {
        let pool = Arc::new(Self {
            registry: RwLock::new(registry),
            jobs: Mutex::new(jobs),
            shared,
            metrics,
            cfg,
            last_scan: Mutex::new(Instant::now()),
        });
        pool.scan();
        pool
    }

    /// Rescans the packs folder and publishes the result.
    fn scan(&self) -> Vec<PackInfo> {
        let mut registry = self.registry.write().unwrap_or_else(PoisonError::into_inner);
        for line in registry.scan() {
            if !self.cfg.quiet {
                eprintln!("{line}");
            }
        }
        let infos = registry.infos();
        let ready = infos.iter().filter(|p| p.status == "ready").count();
        self.metrics.packs(ready, infos.len() - ready);
        if let Ok(mut s) = self.shared.write() {
            s.packs = infos.clone();
            s.backbones = registry.backbone_ids();
            s.ready = true;
        }
        *lock(&self.last_scan) = Instant::now();
        infos
    }

    /// Scans when the last scan is older than `--scan-secs`.
    fn scan_if_due(&self) {
        if lock(&self.last_scan).elapsed() >= self.cfg.scan_every {
            self.scan();
        }
    }

    /// The next batch: the first job (waiting up to the scan interval), then whatever arrives
    /// within the batching window. `None` once every sender is gone; empty on a quiet interval.
    fn next_batch(&self) -> Option<Vec<Job>> {
        let jobs = lock(&self.jobs);
        let first = match jobs.recv_timeout(self.cfg.scan_every) {
            Ok(j) => j,
            Err(RecvTimeoutError::Timeout) => return Some(Vec::new()),
            Err(RecvTimeoutError::Disconnected) => return None,
        };
        self.metrics.dequeued();
        // A short window lets concurrent requests join the batch.
        let mut batch = vec![first];
        let deadline = Instant::now() + self.cfg.batch_window;
        while batch.len() < self.cfg.max_batch_jobs {
            let left = deadline.saturating_duration_since(Instant::now());
            match jobs.recv_timeout(left) {
                Ok(j) => {
                    self.metrics.dequeued();
                    batch.push(j);
                }
                Err(_) => break,
            }
        }
        Some(batch)
    }
}

/// Runs one model worker until every sender of the queue is gone. Several workers may run
/// over one pool: each gathers its own batch and tags it while the others gather theirs.
pub fn run(pool: &Pool) {
    while let Some(batch) = pool.next_batch() {
        let mut tags = Vec::new();
        for job in batch {
            match job {
                Job::Reload { reply } => {
                    let _ = reply.send(pool.scan());
                }
                Job::Tag { pack, input, beams, reply } => tags.push((pack, input, beams, reply)),
            }
        }
        if !tags.is_empty() {
            let registry = pool.registry.read().unwrap_or_else(PoisonError::into_inner);
            tag_grouped(&registry, &pool.metrics, tags);
        }
        pool.scan_if_due();
    }
}

type TagJob = (String, Input, Option<usize>, oneshot::Sender<JobResult>);

/// Tags jobs grouped by pack and beam count, one model call per group.
fn tag_grouped(registry: &Registry, metrics: &Metrics, mut jobs: Vec<TagJob>) {
    while !jobs.is_empty() {
        let (pack, beams) = (jobs[0].0.clone(), jobs[0].2);
        let (group, rest): (Vec<TagJob>, Vec<TagJob>) =
            jobs.into_iter().partition(|j| j.0 == pack && j.2 == beams);
        jobs = rest;
        let predictor = match registry.get(&pack) {
            Lookup::Ready(p) => p,
            Lookup::NotFound => {
                group.into_iter().for_each(|j| drop(j.3.send(Err(JobError::NotFound(pack.clone())))));
                continue;
            }
            Lookup::Unavailable(r) => {
                group.into_iter().for_each(|j| drop(j.3.send(Err(JobError::Unavailable(r.clone())))));
                continue;
            }
        };
        // Every job's documents (a text, or one pre-tokenized sentence) as sentences.
        let mut docs: Vec<(usize, Vec<Sentence>)> = Vec::new();
        let mut replies: Vec<Pending> = Vec::new();
        for (k, (_, input, _, reply)) in group.into_iter().enumerate() {
            match documents(&input, predictor.text_words()) {
                Ok(d) => {
                    docs.extend(d.into_iter().map(|s| (k, s)));
                    replies.push(Some((reply, Vec::new())));
                }
                Err(e) => {
                    let _ = reply.send(Err(JobError::BadInput(e)));
                    replies.push(None);
                }
            }
        }
        let words: Vec<Vec<String>> =
            docs.iter().flat_map(|(_, d)| d.iter().map(|s| s.words.clone())).collect();
        let mut settings = predictor.settings();
        if let Some(b) = beams {
            settings.num_beams = b;
        }
        let started = Instant::now();
        let tagged =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| predictor.tag_with(&words, settings)));
        let tagged = match tagged {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                fail(replies, &lightner::error::report(&e));
                continue;
            }
            Err(_) => {
                fail(replies, "the model panicked on this batch; the server goes on");
                continue;
            }
        };
        let tokens = words.iter().map(Vec::len).sum();
        metrics.batch(&pack, replies.iter().flatten().count(), words.len(), tokens, started.elapsed());
        let mut at = 0;
        for (k, doc) in &docs {
            let n = doc.len();
            if let Some((_, out)) = replies[*k].as_mut() {
                out.push(document_entities(doc, &tagged[at..at + n]));
            }
            at += n;
        }
        for (reply, out) in replies.into_iter().flatten() {
            let _ = reply.send(Ok(out));
        }
    }
}

/// A job's reply channel and the entities gathered for it so far (`None`: already answered).
type Pending = Option<(oneshot::Sender<JobResult>, Vec<Vec<Entity>>)>;

fn fail(replies: Vec<Pending>, msg: &str) {
    for (reply, _) in replies.into_iter().flatten() {
        let _ = reply.send(Err(JobError::Failed(msg.to_string())));
    }
}

/// The documents of an input: each text split into sentences, or each token list as one
/// sentence.
fn documents(input: &Input, split: lightner::data::words::WordSplit) -> Result<Vec<Vec<Sentence>>, String> {
    match input {
        Input::Texts(texts) => {
            Ok(texts.iter().map(|t| lightner::data::text::sentences_with(t, split)).collect())
        }
        Input::Tokens(sents) => sents
            .iter()
            .enumerate()
            .map(|(i, words)| {
                jsonl::from_tokens(words.clone(), vec![])
                    .map(|s| vec![s])
                    .map_err(|e| format!("tokens[{i}]: {e}"))
            })
            .collect(),
    }
}
