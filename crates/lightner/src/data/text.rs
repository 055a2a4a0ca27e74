//! Raw text to sentences of words with character offsets: sentence boundaries by Unicode's
//! rules (UAX #29, via `unicode-segmentation`), then [`split_words`] inside each sentence.

use super::sentence::{Sentence, SharedText, TextAnchor};
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
    // One copy of the document, shared by all its sentences.
    let shared: SharedText = doc.into();
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
        s.text = Some(TextAnchor { text: shared.clone(), offsets });
        out.push(s);
    }
    out
}

/// Character offsets to byte offsets of one text, computed once, so that cutting many entities
/// out of a long document costs each entity its own length, not the document's.
pub struct CharIndex {
    /// Byte offset of every character, then the text's length.
    bytes: Vec<usize>,
}

impl CharIndex {
    /// The index of `text`.
    pub fn new(text: &str) -> Self {
        let mut bytes: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
        bytes.push(text.len());
        Self { bytes }
    }

    /// Characters `[start, end)` of `text` (the text this index was made from); `None` when out
    /// of range or reversed.
    pub fn slice<'t>(&self, text: &'t str, start: usize, end: usize) -> Option<&'t str> {
        if start > end {
            return None;
        }
        text.get(*self.bytes.get(start)?..*self.bytes.get(end)?)
    }
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

    #[test]
    fn sentences_share_one_copy_of_their_document() {
        let doc = "Ann sleeps. ".repeat(50_000);
        let s = sentences(&doc);
        assert_eq!(s.len(), 50_000);
        let first = s[0].text.as_ref().unwrap().text.as_str().as_ptr();
        assert!(s.iter().all(|x| x.text.as_ref().unwrap().text.as_str().as_ptr() == first));
    }

    #[test]
    fn char_index_slices_by_characters() {
        let t = "Zoë in Zürich";
        let ix = CharIndex::new(t);
        assert_eq!(ix.slice(t, 7, 13), Some("Zürich"));
        assert_eq!(ix.slice(t, 0, 3), Some("Zoë"));
        assert_eq!(ix.slice(t, 13, 13), Some(""));
        assert_eq!(ix.slice(t, 3, 14), None);
        assert_eq!(ix.slice(t, 4, 3), None);
    }
}
