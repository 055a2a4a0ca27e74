//! Tagging sentences with a model: encode, batch by length, search (beam or greedy, constrained or
//! not), decode to scored entities, and window sentences longer than the model's positions.

use super::backbone::Backbone;
use super::windows;
use crate::data::{LabelSet, Sentence};
use crate::decode::{self, Constraint, ScoredSpan, SearchConfig, SearchInput};
use crate::error::{Error, Result};
use crate::eval::{DeepKeScores, Evaluator, Report, Seq2SeqSpanMetric};
use crate::model::LightNer;
use crate::model::batch::source_tensors;
use crate::tokenize::codec::Symbol;
use crate::tokenize::{Alignment, Codec, Example, LabelWords, PointerSpace, TargetIdx, WordTokenizer};
use serde::{Deserialize, Serialize};

/// Decoding settings (stored in packs as their defaults).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DecodeSettings {
    /// Beams (1 = greedy).
    pub num_beams: usize,
    /// Beam length-normalisation exponent.
    pub length_penalty: f64,
    /// `max_len_a` of the length rule (docs/deepke.md §7.1).
    pub src_seq_ratio: f64,
    /// `tgt_max_len` of the length rule.
    pub tgt_max_len: usize,
    /// Only let through sequences that decode to valid spans.
    pub constrained: bool,
    /// Sentences decoded together.
    pub batch_size: usize,
}

impl DecodeSettings {
    /// Checks every setting: at least one beam and one sentence per batch, a finite length
    /// penalty >= 0, a finite length ratio >= 0.
    pub fn validate(&self) -> Result<()> {
        if self.num_beams == 0 || self.batch_size == 0 {
            return Err(Error::Config("decoding needs at least one beam and one sentence per batch".into()));
        }
        if !(self.length_penalty.is_finite() && self.length_penalty >= 0.0) {
            return Err(Error::Config(format!(
                "length penalty {} is not a finite number >= 0",
                self.length_penalty
            )));
        }
        if !(self.src_seq_ratio.is_finite() && self.src_seq_ratio >= 0.0) {
            return Err(Error::Config(format!(
                "source-length ratio {} is not a finite number >= 0",
                self.src_seq_ratio
            )));
        }
        Ok(())
    }
}

impl Default for DecodeSettings {
    fn default() -> Self {
        Self {
            num_beams: 1,
            length_penalty: 1.0,
            src_seq_ratio: 0.8,
            tgt_max_len: 10,
            constrained: true,
            batch_size: 16,
        }
    }
}

/// One sentence's result.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tagged {
    /// Entities over the sentence's words, sorted, with confidences.
    pub spans: Vec<ScoredSpan>,
    /// Tokens the decoder produced that did not form an entity.
    pub ignored: usize,
    /// Whether the sentence was tagged in windows.
    pub windowed: bool,
    /// The generated target sequence (bos … eos), when the sentence was tagged whole.
    pub sequence: Option<Vec<TargetIdx>>,
}

/// What tagging needs besides the model.
pub struct Tagger<'a> {
    /// The backbone's tokenizer.
    pub tokenizer: &'a WordTokenizer,
    /// The labels.
    pub labels: LabelSet,
    /// Their words.
    pub words: LabelWords,
    /// The codec.
    pub codec: Codec,
    /// Decoding settings.
    pub settings: DecodeSettings,
    /// Source positions the model has (bos and eos included).
    pub max_positions: usize,
}

/// One decoded unit (sentence or window): its entities, how many decoded tokens were ignored,
/// and the generated sequence.
type UnitResult = (Vec<ScoredSpan>, usize, Vec<TargetIdx>);

struct Unit {
    sentence: usize,
    window: usize,
    align: Alignment,
}

impl<'a> Tagger<'a> {
    /// A tagger for `bb` with these labels and words.
    pub fn new(
        bb: &'a Backbone,
        labels: LabelSet,
        words: LabelWords,
        space: PointerSpace,
        settings: DecodeSettings,
    ) -> Self {
        let codec = Codec::new(labels.len(), space);
        Self {
            tokenizer: &bb.tokenizer,
            labels,
            words,
            codec,
            settings,
            max_positions: bb.config.max_position_embeddings,
        }
    }

    /// Tags sentences (lists of words).
    pub fn tag(&self, model: &LightNer, sentences: &[Vec<String>]) -> Result<Vec<Tagged>> {
        self.settings.validate()?;
        // Sentences that do not fit are cut into overlapping word windows.
        let mut units = Vec::new();
        let mut plans: Vec<Vec<(usize, usize)>> = Vec::with_capacity(sentences.len());
        for (i, words) in sentences.iter().enumerate() {
            let align = Alignment::encode(self.tokenizer, words)?;
            if align.len() <= self.max_positions {
                plans.push(vec![(0, words.len())]);
                units.push(Unit { sentence: i, window: 0, align });
                continue;
            }
            let pieces: Vec<usize> =
                align.word_start.iter().zip(&align.word_end).map(|(s, e)| e.0 - s.0).collect();
            let plan = windows::plan(&pieces, self.max_positions.saturating_sub(2).max(1), 8);
            for (w, &(s, e)) in plan.iter().enumerate() {
                let mut a = Alignment::encode(self.tokenizer, &words[s..e])?;
                if a.len() > self.max_positions {
                    // One word longer than the model: keep its first pieces.
                    let eos = *a.ids.last().unwrap_or(&self.tokenizer.special().eos);
                    a.ids.truncate(self.max_positions - 1);
                    a.ids.push(eos);
                    let cap = crate::tokenize::SrcPos(self.max_positions - 1);
                    a.word_end.iter_mut().for_each(|x| *x = (*x).min(cap));
                }
                units.push(Unit { sentence: i, window: w, align: a });
            }
            plans.push(plan);
        }
        // Longest first, so that batches hold similar lengths.
        let mut order: Vec<usize> = (0..units.len()).collect();
        order.sort_by_key(|&u| std::cmp::Reverse(units[u].align.len()));
        let mut found: Vec<Option<UnitResult>> = vec![None; units.len()];
        for chunk in order.chunks(self.settings.batch_size.max(1)) {
            let results = self.tag_batch(model, chunk.iter().map(|&u| &units[u].align).collect())?;
            for (&u, r) in chunk.iter().zip(results) {
                found[u] = Some(r);
            }
        }
        let mut out: Vec<Tagged> =
            plans.iter().map(|p| Tagged { windowed: p.len() > 1, ..Tagged::default() }).collect();
        let mut per_window: Vec<Vec<Vec<ScoredSpan>>> =
            plans.iter().map(|p| vec![Vec::new(); p.len()]).collect();
        for (unit, r) in units.iter().zip(found) {
            // Invariant: every unit is in exactly one chunk above.
            let (spans, ignored, seq) = r.expect("every unit is tagged");
            out[unit.sentence].ignored += ignored;
            if !out[unit.sentence].windowed {
                out[unit.sentence].sequence = Some(seq);
            }
            per_window[unit.sentence][unit.window] = spans;
        }
        for ((t, plan), pw) in out.iter_mut().zip(&plans).zip(per_window) {
            t.spans = windows::merge(plan, pw);
        }
        Ok(out)
    }

    fn tag_batch(&self, model: &LightNer, aligns: Vec<&Alignment>) -> Result<Vec<UnitResult>> {
        let device = model.bart.shared.val().device();
        let examples: Vec<Example> = aligns.iter().map(|a| Example::source_only(a, &self.codec)).collect();
        let (src_ids, src_pad, invalid) = source_tensors(&examples, self.tokenizer.special().pad, &device);
        let s = &self.settings;
        let max_len: Vec<usize> = aligns
            .iter()
            .map(|a| decode::max_len(a.len(), s.src_seq_ratio, s.tgt_max_len).min(self.max_positions))
            .collect();
        let special = self.tokenizer.special();
        let to_input = |r: usize, y: TargetIdx| match self.codec.symbol(y) {
            Symbol::Bos => special.bos,
            Symbol::Eos => special.eos,
            Symbol::Label(j) => self.words.input_ids[j],
            Symbol::Pointer(p) => aligns[r].ids.get(p.0).copied().unwrap_or(special.pad),
        };
        let constraints: Vec<Constraint> = examples
            .iter()
            .map(|e| {
                Constraint::new(
                    self.labels.len(),
                    e.invalid.iter().map(|&x| !x).collect(),
                    self.codec.space() == PointerSpace::WordStart,
                )
            })
            .collect();
        let generated = decode::search(
            model,
            SearchInput {
                src_ids,
                src_pad,
                invalid,
                max_len: &max_len,
                to_input: &to_input,
                bos_id: special.bos,
                constraints: s.constrained.then_some(constraints.as_slice()),
            },
            SearchConfig { num_beams: s.num_beams, length_penalty: s.length_penalty },
        );
        Ok(generated
            .iter()
            .zip(&aligns)
            .map(|(g, a)| {
                let (spans, decoded) = decode::entities(g, a, &self.codec, &self.labels);
                (spans, decoded.issues.len(), g.tokens.clone())
            })
            .collect())
    }

    /// DeepKE's `Seq2SeqSpanMetric` (docs/deepke.md §8.1) of tagged sentences against their gold entities,
    /// in this tagger's pointer space, over the sentences tagged whole (windowed ones have no
    /// single sequence). Returns the scores and how many sentences they cover.
    pub fn deepke_metric(&self, gold: &[Sentence], tagged: &[Tagged]) -> Result<(DeepKeScores, usize)> {
        let mut m = Seq2SeqSpanMetric::new(self.labels.len());
        let mut n = 0;
        for (g, t) in gold.iter().zip(tagged) {
            let Some(pred) = &t.sequence else { continue };
            let align = Alignment::encode(self.tokenizer, &g.words)?;
            let target = self.codec.encode(&align, &g.spans, &self.labels)?;
            let gold_row: Vec<u32> = target.seq.iter().map(|t| t.0).collect();
            let pred_row: Vec<u32> = pred.iter().map(|t| t.0).collect();
            m.add(&pred_row, &gold_row);
            n += 1;
        }
        Ok((m.metric(), n))
    }

    /// Tags the sentences and scores them against their gold entities.
    pub fn evaluate(&self, model: &LightNer, gold: &[Sentence]) -> Result<(Report, Vec<Tagged>)> {
        let words: Vec<Vec<String>> = gold.iter().map(|s| s.words.clone()).collect();
        let tagged = self.tag(model, &words)?;
        Ok((score(gold, &tagged), tagged))
    }
}

/// The report of tagged sentences against their gold entities (seqeval strict).
pub fn score(gold: &[Sentence], tagged: &[Tagged]) -> Report {
    let mut ev = Evaluator::new();
    for (g, t) in gold.iter().zip(tagged) {
        let pred: Vec<crate::data::Span> = t.spans.iter().map(|s| s.span.clone()).collect();
        ev.add(&g.spans, &pred);
    }
    ev.report()
}
