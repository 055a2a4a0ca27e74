//! The one way to run a trained pack: a backbone and a pack made into a [`Predictor`], which tags
//! pre-split sentences, raw documents (split as the training data was) and labelled files.
//! `predict`, `eval` and test scoring use it, so that none of them assembles backbone, pack,
//! tokenizer and tagger on its own.

use super::entities::{Entity, document_entities};
use super::{Backbone, DecodeSettings, Pack, Tagged, Tagger};
use crate::data::words::WordSplit;
use crate::data::{LabelSet, Sentence};
use crate::error::Result;
use crate::eval::{DeepKeScores, Report};
use crate::model::LightNer;
use crate::tokenize::{LabelWords, PointerSpace};
use burn::tensor::Device;
use std::sync::Arc;

/// Sentences handed to the tagger at once: it sorts them by length into decoding batches, and
/// its working state (alignments, batches, sequences) grows with them, so a document of a
/// million sentences is tagged in slices and only the results are kept whole.
const TAG_SLICE: usize = 1024;

/// A pack on its backbone, ready to tag. The backbone is shared (`Arc`): packs of one backbone
/// hold one tokenizer and one configuration between them.
pub struct Predictor {
    backbone: Arc<Backbone>,
    model: LightNer,
    labels: LabelSet,
    words: LabelWords,
    space: PointerSpace,
    settings: DecodeSettings,
    text_words: WordSplit,
}

impl Predictor {
    /// Loads `pack` onto `backbone` (refused when the pack was trained on another backbone),
    /// decoding with the pack's own defaults.
    pub fn new(backbone: Arc<Backbone>, pack: &Pack, device: &Device) -> Result<Self> {
        let (model, words) = pack.model(&backbone, device)?;
        let m = &pack.manifest;
        Ok(Self {
            labels: pack.labels()?,
            model,
            words,
            space: m.model.pointer_space,
            settings: m.decoding,
            text_words: m.text_words,
            backbone,
        })
    }

    /// The same predictor decoding with `settings` (checked when tagging).
    pub fn with_settings(mut self, settings: DecodeSettings) -> Self {
        self.settings = settings;
        self
    }

    /// The decoding settings in force.
    pub fn settings(&self) -> DecodeSettings {
        self.settings
    }

    /// The pack's labels, in target order.
    pub fn labels(&self) -> &LabelSet {
        &self.labels
    }

    /// How raw text is split into words: as the pack's training data was (characters for
    /// character-level corpora).
    pub fn text_words(&self) -> WordSplit {
        self.text_words
    }

    /// The backbone.
    pub fn backbone(&self) -> &Arc<Backbone> {
        &self.backbone
    }

    fn tagger(&self) -> Tagger<'_> {
        Tagger::new(&self.backbone, self.labels.clone(), self.words.clone(), self.space, self.settings)
    }

    /// Tags sentences given as words, one result per sentence, in order.
    pub fn tag(&self, sentences: &[Vec<String>]) -> Result<Vec<Tagged>> {
        self.tag_with(sentences, self.settings)
    }

    /// [`Predictor::tag`] with other decoding settings (a server's per-request options).
    ///
    /// The work runs on a thread of the current rayon pool: called from outside the pool (a
    /// server's model thread, a library user's own thread), the whole call is handed to the pool
    /// once, instead of each parallel kernel handing its work over and waking the caller after
    /// (see `set_threads` in the CLI and docs/performance.md). Inside the pool it runs in place.
    pub fn tag_with(&self, sentences: &[Vec<String>], settings: DecodeSettings) -> Result<Vec<Tagged>> {
        rayon::scope(|_| {
            let tagger =
                Tagger::new(&self.backbone, self.labels.clone(), self.words.clone(), self.space, settings);
            let mut out = Vec::with_capacity(sentences.len());
            for slice in sentences.chunks(TAG_SLICE) {
                out.extend(tagger.tag(&self.model, slice)?);
            }
            Ok(out)
        })
    }

    /// Tags the sentences of one document (all anchored into the same text, as
    /// [`crate::data::text::sentences_with`] makes them) and returns its entities with character
    /// offsets into that text.
    pub fn document(&self, sentences: &[Sentence]) -> Result<(Vec<Entity>, Vec<Tagged>)> {
        let words: Vec<Vec<String>> = sentences.iter().map(|s| s.words.clone()).collect();
        let tagged = self.tag(&words)?;
        Ok((document_entities(sentences, &tagged), tagged))
    }

    /// Splits raw text into sentences and words as the training data was, tags it, and returns
    /// the entities with character offsets into `text`.
    pub fn text(&self, text: &str) -> Result<Vec<Entity>> {
        let sentences = crate::data::text::sentences_with(text, self.text_words);
        Ok(self.document(&sentences)?.0)
    }

    /// Tags labelled sentences and scores them against their own spans (seqeval strict).
    pub fn evaluate(&self, gold: &[Sentence]) -> Result<(Report, Vec<Tagged>)> {
        let words: Vec<Vec<String>> = gold.iter().map(|s| s.words.clone()).collect();
        let tagged = self.tag(&words)?;
        Ok((super::tagger::score(gold, &tagged), tagged))
    }

    /// DeepKE's `Seq2SeqSpanMetric` of tagged sentences against their gold spans, with the number
    /// of sentences it counted.
    pub fn deepke_metric(&self, gold: &[Sentence], tagged: &[Tagged]) -> Result<(DeepKeScores, usize)> {
        self.tagger().deepke_metric(gold, tagged)
    }
}
