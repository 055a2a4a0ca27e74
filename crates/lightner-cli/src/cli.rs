//! Command-line syntax. Doc comments here are the `--help` text, so they say what each flag does,
//! its default, and when to use it.

use crate::values;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use lightner::data::TagScheme;
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  lightner stats data/mit-movie/train.txt data/mit-movie/test.txt
  lightner stats --json train.jsonl
  lightner sample --input data/mit-movie/train.txt -k 5 --seed 1 --output movie-5shot.txt
  lightner score --gold data/mit-movie/test.txt --pred predictions.txt

Input files are CoNLL (`word<TAB>tag`, blank line between sentences; tag scheme detected unless
--scheme is given) or JSON Lines (`{\"text\", \"entities\"}` or `{\"tokens\", \"spans\"}`), told
apart by their content.

Exit status: 0 success, 1 error while running (bad data, unreadable file), 2 bad command line.";

/// LightNER: few-shot named-entity recognition with prompts on a frozen BART.
///
/// Start with `stats` to check that a labelled file reads the way you expect, then `sample` to
/// draw a K-shot training set from it.
#[derive(Debug, Parser)]
#[command(name = "lightner", version, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    /// Options every command accepts.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags accepted before or after any subcommand.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Print no warnings or progress on stderr (errors are still printed).
    // The high display orders keep the global flags after each subcommand's own in `--help`.
    #[arg(short, long, global = true, display_order = 900)]
    pub quiet: bool,

    /// Worker threads for model commands [default: all cores]. Data commands run on one thread
    /// and ignore it.
    #[arg(long, global = true, display_order = 901, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024), allow_negative_numbers = true)]
    pub threads: Option<u32>,

    /// Where model commands compute: cpu, or cuda / cuda:N in a build with the `cuda` feature
    /// (`cargo build --release -p lightner-cli --features cuda`). Data commands ignore it.
    #[arg(long, global = true, display_order = 902, value_name = "DEVICE", default_value = "cpu", value_parser = parse_device)]
    pub device: String,
}

/// `--device`: checked when parsed (a typo is a usage error), opened by the command that needs
/// it (a CUDA device of a build without CUDA is a runtime error that says how to rebuild).
fn parse_device(s: &str) -> Result<String, String> {
    let ok = s == "cpu"
        || s == "cuda"
        || s.strip_prefix("cuda:")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && n.len() <= 3);
    if ok { Ok(s.to_string()) } else { Err(format!("`{}` is not cpu, cuda or cuda:N", values::clip(s))) }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Count sentences, tokens and entities (per type) of labelled files.
    #[command(after_help = STATS_EXAMPLES)]
    Stats(StatsArgs),
    /// Draw a K-shot training set: about K mentions of every entity type.
    #[command(after_help = SAMPLE_EXAMPLES)]
    Sample(SampleArgs),
    /// Score predicted entities against gold ones: per-type precision, recall and F1.
    #[command(after_help = SCORE_EXAMPLES)]
    Score(ScoreArgs),
    /// Time the model on this machine: forward, prompt-tuning step, greedy decoding.
    #[command(after_help = BENCH_EXAMPLES)]
    Bench(BenchArgs),
    /// Train prompts on a few labelled sentences and save them as a prompt pack.
    #[command(after_help = TRAIN_EXAMPLES)]
    Train(Box<TrainArgs>),
    /// Score a prompt pack on a labelled file: per-type precision, recall and F1.
    #[command(after_help = EVAL_EXAMPLES)]
    Eval(EvalArgs),
    /// Tag raw text, CoNLL or JSONL with a prompt pack.
    #[command(after_help = PREDICT_EXAMPLES)]
    Predict(PredictArgs),
    /// Search the fusion weight alpha (and learning rate, prompt length, epochs) by held-out F1.
    #[command(after_help = TUNE_EXAMPLES)]
    Tune(Box<TuneArgs>),
    /// Write a tiny random backbone, to try the whole pipeline without a download.
    #[command(after_help = INIT_TINY_EXAMPLES)]
    InitTiny(InitTinyArgs),
    /// Download a backbone from the Hugging Face hub into the local cache and print its folder.
    #[command(after_help = FETCH_EXAMPLES)]
    Fetch(FetchArgs),
    /// Bake a pack's trained backbone (--full, --also-train) into a backbone folder for new packs.
    #[command(after_help = EXPORT_EXAMPLES)]
    Export(ExportArgs),
    /// Serve many prompt packs over HTTP from one process, the pack chosen per request.
    #[command(after_help = SERVE_EXAMPLES)]
    Serve(ServeArgs),
}

const SERVE_EXAMPLES: &str = "\
Examples:
  lightner serve --packs packs/            # every sub-folder of packs/ is a pack, named by it
  curl -s localhost:8080/v1/entities -H 'Content-Type: application/json' \\
      -d '{\"pack\": \"movie\", \"text\": \"show me films with tom hanks\"}'
  LIGHTNER_API_KEY=secret lightner serve --packs packs/ --addr 0.0.0.0:8080

Open http://127.0.0.1:8080/ for a page to try it. Packs added, replaced or removed in the folder
are picked up within --scan-secs (or at once with POST /v1/packs/reload). Every route but
/health requires `Authorization: Bearer KEY` when a key is set. docs/serving.md has every route.";

/// Arguments of `lightner serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Folder whose sub-folders are prompt packs (each named by its folder).
    #[arg(long, value_name = "DIR")]
    pub packs: PathBuf,

    /// Backbone for every pack [default: the one each pack records].
    #[arg(long, value_name = "ID|DIR")]
    pub model: Option<String>,

    /// Address to listen on (loopback unless told otherwise; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "IP:PORT")]
    pub addr: std::net::SocketAddr,

    /// Require `Authorization: Bearer KEY` on every route but /health [default: the environment
    /// variable LIGHTNER_API_KEY, else no key].
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,

    /// Texts per request (1 to 10000).
    #[arg(long, default_value_t = 64, value_parser = values::count_up_to(10_000))]
    pub max_texts: usize,

    /// Characters per text (1 to 10000000).
    #[arg(long, default_value_t = 100_000, value_parser = values::count_up_to(10_000_000))]
    pub max_chars: usize,

    /// Bytes of a request body (1 to 1073741824).
    #[arg(long, default_value_t = 2 << 20, value_parser = values::count_up_to(1 << 30))]
    pub max_body_bytes: usize,

    /// Requests waiting for the model; beyond, 429 with Retry-After (1 to 100000).
    #[arg(long, default_value_t = 256, value_parser = values::count_up_to(100_000))]
    pub queue: usize,

    /// Seconds a request may wait for its result before a 503 (1 to 3600).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout_secs: u64,

    /// Seconds between scans of the packs folder (0.1 to 3600).
    #[arg(long, default_value_t = 2.0, value_parser = scan_secs)]
    pub scan_secs: f64,

    /// Model threads, each tagging its own batch (1 to 64). On a CPU one is usually best: each
    /// batch already uses every `--threads` core.
    #[arg(long, default_value_t = 1, value_parser = values::count_up_to(64))]
    pub workers: usize,

    /// Milliseconds a model thread waits for more requests to batch with one (0 to 1000).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(0..=1000))]
    pub batch_window_ms: u64,
}

fn scan_secs(s: &str) -> Result<f64, String> {
    let x = values::positive(s)?;
    if (0.1..=3600.0).contains(&x) { Ok(x) } else { Err(format!("{x} is not in [0.1, 3600]")) }
}

impl Command {
    /// Whether the command runs the model (and so allocates big tensors: see `malloc`).
    pub fn runs_model(&self) -> bool {
        matches!(
            self,
            Self::Bench(_)
                | Self::Train(_)
                | Self::Eval(_)
                | Self::Predict(_)
                | Self::Tune(_)
                | Self::Serve(_)
        )
    }
}

const TRAIN_EXAMPLES: &str = "\
Examples:
  lightner train --model facebook/bart-base --train data/mit-movie/10-shot-train.txt \\
      --labels mit-movie --out movie.pack
  lightner train --model ./my-bart --train train.txt --dev dev.txt --test test.txt \\
      --labels auto --epochs 30 --out my.pack --checkpoint my.ckpt

What trains: the prompts (and label weights / alpha when asked), never the backbone, unless
--also-train names backbone parts or --full trains everything. The pack holds the materialised
prompts, label rows and alpha: a few MB that plug onto the same backbone.

Model selection: the best epoch by dev micro-F1 (from --eval-from on). Without --dev, --holdout
of the training sentences is set aside for it (never the test set). --checkpoint makes the run
resumable: run the same command again after an interruption.";

const EVAL_EXAMPLES: &str = "\
Examples:
  lightner eval --pack movie.pack --data data/mit-movie/test.txt
  lightner eval --pack movie.pack --model ./bart-base --data test.txt --json > scores.json

--model defaults to the backbone the pack was trained on (its folder or hub id). Matching is
strict, as seqeval's strict mode.";

const PREDICT_EXAMPLES: &str = "\
Examples:
  echo \"Show me films with Tom Hanks from the nineties\" | lightner predict --pack movie.pack
  lightner predict --pack movie.pack --input docs.txt --output entities.jsonl
  lightner predict --pack movie.pack --input test.txt --format conll --output-format conll

Text input is one document per line, split into sentences and words (as the training data was:
character by character when it was character-level, like CLUENER2020); the JSONL output gives
character offsets into the document, labels and confidences (the geometric mean of the
probabilities of the entity's pointer and label tokens). Sentences longer than the model's
positions are tagged in overlapping windows (counted on stderr), never truncated.";

const INIT_TINY_EXAMPLES: &str = "\
Examples:
  lightner init-tiny --out tiny-bart --vocab-from data/mit-movie/10-shot-train.txt
  lightner train --model tiny-bart --train data/mit-movie/10-shot-train.txt --labels mit-movie --out t.pack

The weights are random: predictions are meaningless until trained, and even then the model only
memorises. It is for tests and for trying the commands.";

const FETCH_EXAMPLES: &str = "\
Examples:
  lightner fetch facebook/bart-base
  lightner train --model facebook/bart-base --train data/mit-movie/10-shot-train.txt --out movie.pack

Every command that takes --model downloads a hub id by itself; fetch does it ahead of time (and
tells you at once when the hub cannot be reached). The cache is hf-hub's: HF_HOME or
HF_HUB_CACHE move it, HF_HUB_OFFLINE=1 checks the cache only. Exit status 1 when the model is
neither cached nor reachable.";

const EXPORT_EXAMPLES: &str = "\
Examples:
  lightner train --model minilm/ --train conll.txt --labels conll2003 --full --out conll.pack
  lightner export --pack conll.pack --out minilm-conll/
  lightner train --model minilm-conll/ --train movie-10shot.txt --labels mit-movie --out movie.pack

The folder holds config.json, model.safetensors (BART names, the pack's trained values in place of
the backbone's, without label rows), the tokenizer files and lightner-export.json (where it came
from). New packs trained on it carry only their prompts, label rows and alpha. --rebased-pack also
writes the source pack moved onto the new folder: the same entities, a smaller pack.";

/// Arguments of `lightner export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The pack whose trained backbone parameters are baked in.
    #[arg(long, value_name = "DIR")]
    pub pack: PathBuf,

    /// The backbone folder to write (replaced only if it is an earlier export).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// The pack's backbone when it moved since training [default: the one the pack records].
    #[arg(long, value_name = "ID|DIR")]
    pub model: Option<String>,

    /// Also write the pack onto the exported folder here: its prompts, label rows and alpha,
    /// without the backbone parameters the folder now holds.
    #[arg(long, value_name = "DIR")]
    pub rebased_pack: Option<PathBuf>,
}

/// Arguments of `lightner fetch`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Hub id (owner/name) of a BART or BERT-family model with safetensors weights.
    #[arg(value_name = "ID")]
    pub model: String,
}

/// The backbone and the labelled files of `train` and `tune`.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Backbone: a folder (config.json, model.safetensors, tokenizer) or a hub id such as
    /// facebook/bart-base (downloaded once into the hub cache; HF_HUB_OFFLINE=1 forbids it).
    #[arg(long, value_name = "ID|DIR")]
    pub model: String,

    /// Labelled training sentences (CoNLL or JSONL).
    #[arg(long, value_name = "FILE")]
    pub train: PathBuf,

    /// Labelled dev sentences: `train` keeps its best epoch on them, `tune` scores every trial
    /// on them [default: train keeps the last epoch (or holds out --holdout); tune
    /// cross-validates on --train].
    #[arg(long, value_name = "FILE")]
    pub dev: Option<PathBuf>,

    /// Labelled test sentences, scored once at the end with the final model (never used to
    /// choose anything).
    #[arg(long, value_name = "FILE")]
    pub test: Option<PathBuf>,

    /// Label words: a built-in map (conll2003, mit-movie, mit-restaurant, atis, cluener2020), a
    /// JSON file {"TYPE": "<<word>>"}, or auto (from the type names in the data).
    #[arg(long, default_value = "auto", value_name = "MAP")]
    pub labels: String,
}

impl TrainingArgs {
    /// The adapters asked for (`--lora-rank`, `--lora-on`, `--lora-alpha`).
    pub fn lora(&self) -> Option<lightner::model::lora::LoraSpec> {
        self.lora_rank.map(|rank| lightner::model::lora::LoraSpec {
            rank,
            alpha: self.lora_alpha.unwrap_or(rank as f64),
            on: if self.lora_on.is_empty() { vec!["encoder_attn".into()] } else { self.lora_on.clone() },
        })
    }
}

impl DataArgs {
    /// The labelled files given (train, then dev and test when present): what no output may be.
    pub fn files(&self) -> Vec<&std::path::Path> {
        [Some(self.train.as_path()), self.dev.as_deref(), self.test.as_deref()]
            .into_iter()
            .flatten()
            .collect()
    }
}

/// Training options shared by `train` and `tune`: what trains, and how batches are made.
#[derive(Debug, Args)]
pub struct TrainingArgs {
    /// Sentences per batch (1 to 4096).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=4096), allow_negative_numbers = true)]
    pub batch_size: u64,

    /// Prompt MLP width P (1 to 16384).
    #[arg(long, default_value_t = 800, value_parser = values::count_up_to(16_384), allow_negative_numbers = true)]
    pub prompt_dim: usize,

    /// Also train the backbone parameters whose name contains PART (e.g. encoder_attn for the
    /// cross-attention); repeatable.
    #[arg(long, value_name = "PART")]
    pub also_train: Vec<String>,

    /// Train everything, backbone included (full fine-tuning; the pack then holds the backbone).
    #[arg(long, conflicts_with = "also_train")]
    pub full: bool,

    /// Train low-rank adapters (LoRA) of rank R beside the prompts, on the four projections of
    /// each attention block --lora-on names: the backbone stays frozen and the pack holds 2·d·R
    /// numbers per projection (about 0.6 MB at R = 8 on the cross-attention of a d = 384
    /// backbone, against 15 MB for --also-train encoder_attn). 1 to 4096.
    #[arg(long, value_name = "R", value_parser = values::count_up_to(4096), allow_negative_numbers = true, conflicts_with = "full")]
    pub lora_rank: Option<usize>,

    /// The attention blocks that get adapters: those whose module path contains PART
    /// (encoder_attn: every cross-attention; self_attn: every self-attention;
    /// decoder.layers.5.encoder_attn: one block); repeatable. [default: encoder_attn]
    #[arg(long, value_name = "PART", requires = "lora_rank")]
    pub lora_on: Vec<String>,

    /// The adapters' scale numerator: their update is multiplied by ALPHA / R, > 0
    /// [default: R, a scale of 1].
    #[arg(long, value_name = "ALPHA", value_parser = values::positive, allow_negative_numbers = true, requires = "lora_rank")]
    pub lora_alpha: Option<f64>,

    /// With a BERT-family backbone (warm-started as encoder-decoder), keep its new, randomly
    /// initialised cross-attention frozen (by default it trains with the prompts).
    #[arg(long)]
    pub freeze_cross_attention: bool,

    /// No dropout in training.
    #[arg(long)]
    pub no_dropout: bool,
}

/// Arguments of `lightner train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,

    /// Where to write the prompt pack (a directory; replaced atomically).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Start from this pack (trained on the same backbone): its trained backbone parameters,
    /// its prompts (when it kept its generators, --keep-generator), its alpha, and the label
    /// rows of the types both share by name; the other types start from their label words.
    /// The new pack records where it started (manifest.json, init_from).
    #[arg(long, value_name = "PACK")]
    pub init_from: Option<PathBuf>,

    /// Keep the prompt generators in the pack (generator.safetensors, several times the size of
    /// the prefixes; never read by predict) so that --init-from can train its prompts further.
    #[arg(long)]
    pub keep_generator: bool,

    /// Epochs (at least 1).
    #[arg(long, default_value_t = 30, value_parser = values::count, allow_negative_numbers = true)]
    pub epochs: usize,

    /// Peak learning rate, > 0 (linear warm-up, then linear decay to 0).
    #[arg(long, default_value_t = 5e-5, value_parser = values::positive, allow_negative_numbers = true)]
    pub lr: f64,

    /// Fraction of the steps spent warming up, in [0, 1].
    #[arg(long, default_value_t = 0.01, value_parser = values::unit, allow_negative_numbers = true)]
    pub warmup_ratio: f64,

    /// Decoupled weight decay, >= 0 (none on biases and LayerNorms).
    #[arg(long, default_value_t = 0.01, value_parser = values::non_negative, allow_negative_numbers = true)]
    pub weight_decay: f64,

    /// Clip the global gradient norm to this, >= 0 (0 = no clipping).
    #[arg(long, default_value_t = 1.0, value_parser = values::non_negative, allow_negative_numbers = true)]
    pub max_grad_norm: f64,

    /// Seed of the prompt initialisation, shuffling, dropout and hold-out split.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// First 0-based epoch evaluated on the dev set.
    #[arg(long, default_value_t = 0)]
    pub eval_from: usize,

    /// Stop after this many evaluated epochs without a better dev F1 (at least 1).
    #[arg(long, value_parser = values::count, allow_negative_numbers = true)]
    pub patience: Option<usize>,

    /// Without --dev: fraction of the training sentences held out to pick the best epoch (0 =
    /// keep the last epoch).
    #[arg(long, default_value_t = 0.2, value_parser = values::unit_open, allow_negative_numbers = true)]
    pub holdout: f64,

    /// The fusion weight alpha: the pointer compares the decoder state with
    /// alpha*H_enc + (1-alpha)*E[word] of every source word. A number in [0, 1] (lower leans on
    /// the plain word embedding, higher on the contextual hidden state), or `learn` to train it
    /// with the prompts (a scalar through a sigmoid starting at --alpha-init; its value after
    /// every epoch is printed and kept in metrics.jsonl), or `learn-per-dim` to learn one alpha
    /// per hidden dimension (reported as their mean). `lightner tune` searches a fixed alpha.
    /// [default: 0.5, or with --init-from the source pack's alpha, fixed or learnt as it was]
    #[arg(long, value_parser = parse_alpha, value_name = "A|learn|learn-per-dim", allow_negative_numbers = true)]
    pub alpha: Option<AlphaArg>,

    /// Starting value of a learnt alpha (--alpha learn or learn-per-dim), in [0, 1].
    #[arg(long, default_value_t = 0.5, value_name = "A", value_parser = values::unit, allow_negative_numbers = true)]
    pub alpha_init: f64,

    /// Peak learning rate of a learnt alpha (same warm-up and decay as --lr, no weight decay).
    /// Adam moves a parameter by about its learning rate per step, so at the prompts' rate alpha
    /// would barely leave --alpha-init in a few-shot run; 0.05 lets its logit cross most of
    /// [0, 1] in about 200 steps. Give the --lr value to learn it at the prompts' rate.
    #[arg(long, default_value_t = 0.05, value_name = "LR", value_parser = values::positive, allow_negative_numbers = true)]
    pub alpha_lr: f64,

    /// Older spelling of --alpha learn: learn alpha, starting at --alpha.
    #[arg(long, hide = true)]
    pub learn_alpha: bool,

    /// Prompt length L (1 to 512; --no-prompts for none).
    #[arg(long, default_value_t = 10, value_parser = values::count_up_to(512), allow_negative_numbers = true)]
    pub prompt_len: usize,

    /// No prompts at all (plain BARTNER; use with --full).
    #[arg(long)]
    pub no_prompts: bool,

    /// How label words enter the model: added (one new token each) or pieces (learnt weights
    /// over their existing sub-tokens).
    #[arg(long, value_enum, default_value = "added")]
    pub label_words: LabelWordsArg,

    /// Which positions pointers address: word-start (first piece of each word) or sub-token
    /// (every piece, as DeepKE).
    #[arg(long, value_enum, default_value = "word-start")]
    pub pointer_space: PointerSpaceArg,

    #[command(flatten)]
    pub training: TrainingArgs,

    /// Resumable checkpoint directory (written after every epoch; a rerun with the same settings
    /// and data resumes from it, one with others is refused).
    #[arg(long, value_name = "DIR")]
    pub checkpoint: Option<PathBuf>,

    /// Decoding settings for dev evaluation and the pack's defaults.
    #[command(flatten)]
    pub decode: DecodeArgs,
}

/// `--alpha` values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AlphaArg {
    /// A fixed weight in [0, 1].
    Fixed(f64),
    /// Learnt with the prompts.
    Learn,
    /// One per hidden dimension, learnt with the prompts.
    LearnPerDim,
}

/// Parses `--alpha`: a number in [0, 1] or `learn`.
fn parse_alpha(s: &str) -> Result<AlphaArg, String> {
    if s.eq_ignore_ascii_case("learn") {
        return Ok(AlphaArg::Learn);
    }
    if s.eq_ignore_ascii_case("learn-per-dim") {
        return Ok(AlphaArg::LearnPerDim);
    }
    let a: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is neither a number in [0, 1] nor `learn` or `learn-per-dim`"))?;
    if !(0.0..=1.0).contains(&a) {
        return Err(format!("{a} is not in [0, 1]"));
    }
    Ok(AlphaArg::Fixed(a))
}

/// `--label-words` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LabelWordsArg {
    /// One new token per label, initialised from its pieces.
    Added,
    /// The label word's own pieces with learnt weights.
    Pieces,
}

/// `--pointer-space` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PointerSpaceArg {
    /// First piece of each word.
    WordStart,
    /// Every sub-token (DeepKE).
    SubToken,
}

/// Decoding flags.
#[derive(Debug, Args, Clone)]
pub struct DecodeArgs {
    /// Beams, 1 to 128 (1 = greedy).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=128), allow_negative_numbers = true)]
    pub beams: Option<u64>,

    /// Beam length-normalisation exponent, >= 0: a finished hypothesis scores its log-probability
    /// divided by length^exponent (0 = no normalisation; 1 = per-token mean).
    #[arg(long, value_parser = values::non_negative, allow_negative_numbers = true)]
    pub length_penalty: Option<f64>,

    /// Let the decoder emit any sequence (by default only sequences that decode to valid,
    /// non-overlapping spans are allowed).
    #[arg(long)]
    pub unconstrained: bool,

    /// Sentences decoded together (1 to 4096).
    #[arg(long, value_parser = values::count_up_to(4096), allow_negative_numbers = true)]
    pub decode_batch: Option<usize>,
}

/// Arguments of `lightner eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The prompt pack (directory written by `train`).
    #[arg(long, value_name = "DIR")]
    pub pack: PathBuf,

    /// Backbone [default: the one recorded in the pack].
    #[arg(long, value_name = "ID|DIR")]
    pub model: Option<String>,

    /// Labelled sentences to score (CoNLL or JSONL).
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,

    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,

    /// Also report DeepKE's Seq2SeqSpanMetric (its f/rec/pre percentages and exact-match rate),
    /// to compare with DeepKE's training logs.
    #[arg(long)]
    pub deepke_compat: bool,

    /// Decoding overrides.
    #[command(flatten)]
    pub decode: DecodeArgs,
}

/// Input formats of `predict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PredictInput {
    /// One document per line.
    Text,
    /// CoNLL (tags, if any, are ignored).
    Conll,
    /// JSON Lines ({"text"} or {"tokens"}).
    Jsonl,
}

/// Output formats of `predict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PredictOutput {
    /// JSON Lines with character offsets, labels and scores.
    Jsonl,
    /// word<TAB>BIO-tag lines.
    Conll,
}

/// Arguments of `lightner predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// The prompt pack.
    #[arg(long, value_name = "DIR")]
    pub pack: PathBuf,

    /// Backbone [default: the one recorded in the pack].
    #[arg(long, value_name = "ID|DIR")]
    pub model: Option<String>,

    /// Input file, or - for standard input.
    #[arg(long, default_value = "-", value_name = "FILE")]
    pub input: PathBuf,

    /// Input format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: PredictInput,

    /// Output file [default: standard output]; written atomically.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value = "jsonl")]
    pub output_format: PredictOutput,

    /// Decoding overrides.
    #[command(flatten)]
    pub decode: DecodeArgs,
}

const TUNE_EXAMPLES: &str = "\
Examples:
  lightner tune --model facebook/bart-base --train data/mit-movie/10-shot-train.txt \\
      --labels mit-movie --out movie-tune
  lightner tune --model ./bart --train train.txt --dev dev.txt --bayes 8 --seeds 1,2 --out t
  lightner tune --model ./bart --train train.txt --grid 0,0.5,1 --lr 1e-4,5e-4 --jobs 2 --out t

Every trial is a configuration (alpha, lr, prompt length, epochs) trained once per seed and
scored on held-out sentences: the dev set, or without --dev each of --folds folds of the
training file in turn (the folds are reshuffled per seed). Its score is the mean micro-F1 over
those trainings, with their standard deviation.

--grid tries every combination of the listed values; --bayes N fits a Gaussian process to the
finished trials and picks each next alpha by expected improvement (egobox), N trials in all,
starting from alpha at both ends of --alpha-range and its middle. Without either: the grid
0, 0.1, ..., 1.

OUT receives trials.jsonl (the trial log: run the same command again after an interruption
and finished trainings are not redone), report.md (every trial), alpha.svg (F1 against alpha
with error bars) and best.pack (the best configuration trained on all the data, train + dev,
with the first seed; scored on --test when given).";

/// Arguments of `lightner tune`.
#[derive(Debug, Args)]
pub struct TuneArgs {
    #[command(flatten)]
    pub data: DataArgs,

    /// Folder for the trial log, report, plot and best pack (a rerun resumes from it).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Alpha values to try, comma-separated, each in [0, 1] (e.g. 0,0.25,0.5,0.75,1).
    #[arg(long, value_delimiter = ',', num_args = 1.., conflicts_with = "bayes", value_name = "A,...", value_parser = values::unit, allow_negative_numbers = true)]
    pub grid: Vec<f64>,

    /// Bayesian optimisation of alpha: N trials in all (at least 3; the first 3 are the
    /// initial design).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(3..), allow_negative_numbers = true)]
    pub bayes: Option<u64>,

    /// The alpha interval --bayes searches: two increasing values in [0, 1].
    #[arg(long, value_delimiter = ',', default_value = "0,1", value_name = "LO,HI", value_parser = values::unit, allow_negative_numbers = true)]
    pub alpha_range: Vec<f64>,

    /// Peak learning rates to try, comma-separated, each > 0 (one value with --bayes).
    #[arg(long, value_delimiter = ',', num_args = 1.., default_value = "5e-5", value_name = "LR,...", value_parser = values::positive, allow_negative_numbers = true)]
    pub lr: Vec<f64>,

    /// Prompt lengths to try, comma-separated, each 1 to 512 (one value with --bayes).
    #[arg(long, value_delimiter = ',', num_args = 1.., default_value = "10", value_name = "L,...", value_parser = values::count_up_to(512), allow_negative_numbers = true)]
    pub prompt_len: Vec<usize>,

    /// Epoch counts to try, comma-separated, each at least 1 (one value with --bayes).
    #[arg(long, value_delimiter = ',', num_args = 1.., default_value = "30", value_name = "E,...", value_parser = values::count, allow_negative_numbers = true)]
    pub epochs: Vec<usize>,

    /// Seeds every trial is trained with.
    #[arg(long, value_delimiter = ',', num_args = 1.., default_value = "1,2,3", value_name = "S,...")]
    pub seeds: Vec<u64>,

    /// Folds of cross-validation on --train when there is no --dev (at least 2).
    #[arg(long, default_value_t = 3, value_parser = values::at_least_two, allow_negative_numbers = true)]
    pub folds: usize,

    /// Trainings run at the same time, each on an equal share of the threads [default: one per
    /// thread (--threads, else all cores), at most 4: each holds its own activations and
    /// optimizer state in memory].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..), allow_negative_numbers = true)]
    pub jobs: Option<u64>,

    #[command(flatten)]
    pub training: TrainingArgs,

    /// Decoding settings for scoring.
    #[command(flatten)]
    pub decode: DecodeArgs,
}

/// Arguments of `lightner init-tiny`.
#[derive(Debug, Args)]
pub struct InitTinyArgs {
    /// Folder to write (config.json, model.safetensors, tokenizer.json, vocab.txt).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Labelled files whose words become whole tokens (otherwise words are spelled in letters).
    #[arg(long, value_name = "FILE")]
    pub vocab_from: Vec<PathBuf>,

    /// Width (a multiple of the 4 heads, at most 4096).
    #[arg(long, default_value_t = 32, value_parser = tiny_width, allow_negative_numbers = true)]
    pub d_model: usize,

    /// Layers of the encoder and of the decoder (1 to 48).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=48).map(usize::from), allow_negative_numbers = true)]
    pub layers: usize,

    /// Source positions (8 to 8192).
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u16).range(8..=8192).map(usize::from), allow_negative_numbers = true)]
    pub positions: usize,

    /// Seed of the weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

const BENCH_EXAMPLES: &str = "\
Examples:
  lightner bench                       # bart-base shape, random weights, batch 16 x 40
  lightner bench --shape tiny --repeats 3 --json

Weights are random (no download); timings depend on the machine and on what else runs on it,
so compare figures measured in the same run (bench/pytorch_bench.py runs the same shapes in
PyTorch).";

/// Model shapes `lightner bench` knows.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BenchShapeArg {
    /// facebook/bart-base (d 768, 6+6 layers, 12 heads), prompts L 10 / P 800, batch 16 x 40.
    BartBase,
    /// A tiny model, for a quick check that everything runs.
    Tiny,
}

/// Arguments of `lightner bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Model shape.
    #[arg(long, value_enum, default_value = "bart-base")]
    pub shape: BenchShapeArg,

    /// Timed repeats of each measurement (after one warm-up); the median and the best are shown.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..), allow_negative_numbers = true)]
    pub repeats: u32,

    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

const SCORE_EXAMPLES: &str = "\
Examples:
  lightner score --gold data/mit-movie/test.txt --pred predictions.txt
  lightner score --gold test.jsonl --pred pred.jsonl --json > scores.json

Matching is strict: a predicted entity counts only if its words and its type both equal a gold
entity's, as in seqeval's strict mode (whose classification report this reproduces exactly).
The two files must hold the same sentences, with the same words, in the same order.";

/// Arguments of `lightner score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The reference file (CoNLL or JSONL).
    #[arg(long, value_name = "FILE")]
    pub gold: PathBuf,

    /// The predictions, same sentences and words as --gold (CoNLL or JSONL).
    #[arg(long, value_name = "FILE")]
    pub pred: PathBuf,

    /// Tag scheme of CoNLL inputs [default: detected per file].
    #[arg(long, value_name = "SCHEME", value_parser = scheme_parser())]
    pub scheme: Option<TagScheme>,

    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

const STATS_EXAMPLES: &str = "\
Examples:
  lightner stats data/mit-movie/10-shot-train.txt
  lightner stats --json train.txt test.txt | jq '.[].stats.per_type'

Entities are counted the way seqeval's strict mode does: an ill-formed tag sequence (an I-X
after O, say) is no entity, and is reported as a warning.";

const SAMPLE_EXAMPLES: &str = "\
Examples:
  lightner sample --input data/mit-movie/train.txt -k 5 --seed 1 --output movie-5shot.txt
  lightner sample -i train.txt -k 10 --seed 3 -o train-10shot.jsonl --format jsonl

Algorithm (Yang & Katiyar 2020, Algorithm 1): go through the entity types rarest first; for each,
add randomly drawn sentences containing it until it has K mentions; then drop every sentence
without which all types still have K. A type with fewer than K mentions in the input gets all of
them. Sentences without entities are never chosen. The chosen sentences keep their input order.";

/// Arguments of `lightner stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Labelled files to describe (CoNLL or JSONL), one table each.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Tag scheme of CoNLL input [default: detected per file]. Ignored for JSONL.
    #[arg(long, value_name = "SCHEME", value_parser = scheme_parser())]
    pub scheme: Option<TagScheme>,

    /// Print one JSON array (an object per file) on stdout instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `lightner sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Labelled file to draw from (CoNLL or JSONL), usually a full training set.
    #[arg(short, long, value_name = "FILE")]
    pub input: PathBuf,

    /// Mentions to draw per entity type (at least 1).
    #[arg(short, long, value_name = "K", value_parser = parse_k)]
    pub k: usize,

    /// Random seed. The same input, K and seed give the same sample on every machine.
    #[arg(short, long, value_name = "S")]
    pub seed: u64,

    /// Where to write the sample; replaced atomically, never half-written. Must differ from
    /// --input.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,

    /// Output format [default: the input's format].
    #[arg(short, long, value_enum, value_name = "FORMAT")]
    pub format: Option<OutputFormat>,

    /// Tag scheme of CoNLL input [default: detected]. Ignored for JSONL.
    #[arg(long, value_name = "SCHEME", value_parser = scheme_parser())]
    pub scheme: Option<TagScheme>,

    /// Tag scheme of CoNLL output [default: the input's scheme; bio for JSONL input].
    #[arg(long, value_name = "SCHEME", value_parser = scheme_parser())]
    pub output_scheme: Option<TagScheme>,
}

/// File formats `sample` can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// `word<TAB>tag` lines, a blank line after each sentence.
    Conll,
    /// JSON Lines with text and character offsets: {"text", "entities": [{start, end, label}]}.
    Jsonl,
    /// JSON Lines with words and word indices: {"tokens", "spans": [[start, end, label]]}.
    JsonlTokens,
}

/// `--scheme` values, listed in `--help` and checked by clap (so a typo is a usage error), with
/// the usual aliases accepted.
fn scheme_parser() -> impl TypedValueParser<Value = TagScheme> {
    let values = [
        PossibleValue::new("bio").alias("iob2").help("B- begins, I- continues (IOB2)"),
        PossibleValue::new("iob1")
            .alias("iob")
            .help("I- begins, B- only between touching entities (CoNLL-2003)"),
        PossibleValue::new("bioes").alias("iobes").help("B-, I-, E- end, S- single"),
        PossibleValue::new("bilou").help("B-, I-, L- last, U- unit"),
    ];
    PossibleValuesParser::new(values).try_map(|s| s.parse::<TagScheme>())
}

/// `--d-model` of `init-tiny`: a positive multiple of the 4 heads, small enough to be tiny.
fn tiny_width(s: &str) -> Result<usize, String> {
    let d = values::count(s)?;
    if d % 4 != 0 || d > 4096 {
        return Err(format!("{d} is not a multiple of 4 (the heads) in [4, 4096]"));
    }
    Ok(d)
}

/// `-k` must be a positive integer: K = 0 would draw nothing.
fn parse_k(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("K must be at least 1 (mentions to draw per entity type)".to_string()),
        Ok(k) => Ok(k),
        Err(e) => Err(format!("{e}; K is a positive integer such as 5")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn k_zero_is_a_usage_error() {
        let err = Cli::try_parse_from(["lightner", "sample", "-i", "a", "-k", "0", "-s", "1", "-o", "b"])
            .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("at least 1"), "{err}");
    }

    #[test]
    fn scheme_aliases_and_global_flags() {
        let cli =
            Cli::try_parse_from(["lightner", "stats", "--scheme", "iob2", "f.txt", "-q", "--threads", "3"])
                .unwrap();
        assert!(cli.global.quiet);
        assert_eq!(cli.global.threads, Some(3));
        let Command::Stats(args) = cli.command else { panic!("expected stats") };
        assert_eq!(args.scheme, Some(TagScheme::Bio));
        assert!(Cli::try_parse_from(["lightner", "stats", "--scheme", "bioul", "f"]).is_err());
        assert!(Cli::try_parse_from(["lightner", "--threads", "0", "stats", "f"]).is_err());
    }

    #[test]
    fn device_is_checked_when_parsed() {
        for ok in ["cpu", "cuda", "cuda:0", "cuda:12"] {
            let cli = Cli::try_parse_from(["lightner", "bench", "--device", ok]).unwrap();
            assert_eq!(cli.global.device, ok);
        }
        assert_eq!(Cli::try_parse_from(["lightner", "bench"]).unwrap().global.device, "cpu");
        for bad in ["gpu", "cuda:", "cuda:x", "cuda:-1", "CPU", ""] {
            let err = Cli::try_parse_from(["lightner", "bench", "--device", bad]).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
        }
    }
}
