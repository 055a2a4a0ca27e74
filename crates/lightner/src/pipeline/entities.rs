//! Tagged sentences as entities with character offsets into their text: what `predict` writes
//! and what a server returns. Pure data: no tensors.

use super::Tagged;
use crate::data::Sentence;
use crate::data::text::CharIndex;
use serde::Serialize;

/// One predicted entity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entity {
    /// Character offset (Unicode scalar values, as Python's `str`) of its first character.
    pub start: usize,
    /// Character offset one past its last character.
    pub end: usize,
    /// The entity type.
    pub label: String,
    /// The text it covers.
    pub text: String,
    /// Its words, `[first, one past the last]`, in its sentence.
    pub tokens: [usize; 2],
    /// Confidence in (0, 1]: the geometric mean of its tokens' probabilities.
    pub score: f64,
}

/// The entities of the `tagged` sentences of one document, in order. All sentences must anchor
/// into the same text (as [`crate::data::text::sentences`] makes them, or a single sentence):
/// their offsets are offsets into it, and the characters are indexed once for all of them, so
/// that a document of many sentences costs linear time and memory.
pub fn document_entities(sentences: &[Sentence], tagged: &[Tagged]) -> Vec<Entity> {
    let Some(first) = sentences.first() else { return Vec::new() };
    let text = first.anchor().text;
    let index = CharIndex::new(&text);
    let mut out = Vec::new();
    for (s, t) in sentences.iter().zip(tagged) {
        let a = s.anchor();
        for x in &t.spans {
            let (start, end) = (a.offsets[x.span.start].0, a.offsets[x.span.end - 1].1);
            out.push(Entity {
                start,
                end,
                label: x.span.label.clone(),
                text: index.slice(&a.text, start, end).unwrap_or_default().to_string(),
                tokens: [x.span.start, x.span.end],
                score: f64::from(x.score),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Span;
    use crate::decode::ScoredSpan;

    #[test]
    fn offsets_and_text_come_from_the_document() {
        let doc = "Zoë met Ann. Ann left Zürich.";
        let sents = crate::data::text::sentences(doc);
        let tag = |spans: Vec<(usize, usize, &str)>| Tagged {
            spans: spans
                .into_iter()
                .map(|(a, b, l)| ScoredSpan { span: Span::new(a, b, l), score: 0.5 })
                .collect(),
            ..Tagged::default()
        };
        let tagged = [tag(vec![(0, 1, "PER")]), tag(vec![(2, 3, "LOC")])];
        let e = document_entities(&sents, &tagged);
        assert_eq!((e[0].start, e[0].end, e[0].text.as_str()), (0, 3, "Zoë"));
        assert_eq!((e[1].start, e[1].end, e[1].text.as_str(), e[1].tokens), (22, 28, "Zürich", [2, 3]));
    }
}
