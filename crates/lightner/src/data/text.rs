//! Raw text to sentences of words with character offsets: sentence boundaries by Unicode's
//! rules (UAX #29, via `unicode-segmentation`), then [`split_words`] inside each sentence.

use super::sentence::{Sentence, TextAnchor};
use super::words::WordSplit;
use unicode_segmentation::UnicodeSegmentation;

/// The sentences of `doc`, each with its words and their character offsets *in `doc`*.
/// Sentences without words (blank stretches) are left out. Words as [`WordSplit::Words`].
pub fn sentences(doc: &str) -> Vec<Sentence> {
    sentences_with(doc, WordSplit::Words)
}

/// [`sentences`] with words split by `split`.
pub fn sentences_with(doc: &str, split: WordSplit) -> Vec<Sentence> {
    let mut out = Vec::new();
    // Byte offsets from the segmenter, converted to character offsets as we go.
    let mut chars_before = 0;
    let mut last_byte = 0;
    for (byte, piece) in doc.split_sentence_bound_indices() {
        chars_before += doc[last_byte..byte].chars().count();
        last_byte = byte;
        let words = split.split(piece);
        if words.is_empty() {
            continue;
        }
        let offsets = words.iter().map(|w| (w.start + chars_before, w.end + chars_before)).collect();
        let mut s = Sentence::new(words.into_iter().map(|w| w.text).collect(), vec![]);
        s.text = Some(TextAnchor { text: doc.to_string(), offsets });
        out.push(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_sentences_and_keeps_document_offsets() {
        let doc = "Tom Hanks stars. Who directed Jaws? « Déjà vu » is from 2006!";
        let s = sentences(doc);
        assert_eq!(s.len(), 3);
        assert_eq!(s[1].words, ["Who", "directed", "Jaws", "?"]);
        let chars: Vec<char> = doc.chars().collect();
        for sent in &s {
            let a = sent.text.as_ref().unwrap();
            for (w, &(b, e)) in sent.words.iter().zip(&a.offsets) {
                assert_eq!(&chars[b..e].iter().collect::<String>(), w);
            }
        }
        assert!(sentences("   ").is_empty());
    }
}
