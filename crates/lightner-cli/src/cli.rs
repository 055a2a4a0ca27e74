//! Command-line syntax. Doc comments here are the `--help` text, so they say what each flag does,
//! its default, and when to use it.

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
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print no warnings or progress on stderr (errors are still printed).
    // The high display orders keep the global flags after each subcommand's own in `--help`.
    #[arg(short, long, global = true, display_order = 900)]
    pub quiet: bool,

    /// Worker threads for model commands [default: all cores]. Data commands run on one thread
    /// and ignore it.
    #[arg(long, global = true, display_order = 901, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
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
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
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
}
