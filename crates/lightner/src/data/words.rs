//! Splitting raw text into words with character offsets: whitespace separates words, every
//! punctuation or symbol character is a word of its own (except `.`/`,` inside a number), and
//! every CJK character is a word of its own (Chinese NER is character-level, as in CLUENER).

/// A word and its `[start, end)` character offsets in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The word.
    pub text: String,
    /// Character offset of its first character.
    pub start: usize,
    /// Character offset one past its last character.
    pub end: usize,
}

/// Whether `c` is a CJK character, by the code-point blocks BERT's basic tokenizer uses
/// (`_is_chinese_char` in google-research/bert tokenization.py), plus kana.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F | 0x2B820..=0x2CEAF | 0xF900..=0xFAFF | 0x2F800..=0x2FA1F
        | 0x3040..=0x30FF)
}

fn is_symbol(c: char) -> bool {
    !c.is_alphanumeric() && !c.is_whitespace() && !is_mark(c)
}

/// Combining marks stay attached to their word (é written as e + U+0301).
fn is_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

/// How raw text becomes words: as the training data was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WordSplit {
    /// [`split_words`]: whitespace, punctuation, and CJK characters one by one.
    #[default]
    Words,
    /// Every non-space character is a word, Latin letters and digits included — the layout of
    /// character-level corpora such as CLUENER2020, whose annotation may start or end inside
    /// a run of digits or letters ("CSOL" is four words there).
    Chars,
}

impl WordSplit {
    /// `Chars` when the training words are all single characters and some are CJK (a
    /// character-level corpus), `Words` otherwise.
    pub fn detect<'a>(words: impl IntoIterator<Item = &'a str>) -> Self {
        let (mut any, mut cjk) = (false, false);
        for w in words {
            let mut chars = w.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => {
                    any = true;
                    cjk |= is_cjk(c);
                }
                _ => return Self::Words,
            }
        }
        if any && cjk { Self::Chars } else { Self::Words }
    }

    /// The words of `text` under this mode.
    pub fn split(self, text: &str) -> Vec<Word> {
        match self {
            Self::Words => split_words(text),
            Self::Chars => text
                .chars()
                .enumerate()
                .filter(|(_, c)| !c.is_whitespace())
                .map(|(i, c)| Word { text: c.to_string(), start: i, end: i + 1 })
                .collect(),
        }
    }
}

/// Splits `text` into words (see the module docs).
pub fn split_words(text: &str) -> Vec<Word> {
    let chars: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut cur_start = 0;
    let flush = |cur: &mut String, start: usize, end: usize, words: &mut Vec<Word>| {
        if !cur.is_empty() {
            words.push(Word { text: std::mem::take(cur), start, end });
        }
    };
    for (i, &c) in chars.iter().enumerate() {
        let in_number = matches!(c, '.' | ',')
            && i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit())
            && !cur.is_empty();
        if c.is_whitespace() {
            flush(&mut cur, cur_start, i, &mut words);
        } else if (is_symbol(c) && !in_number) || is_cjk(c) {
            flush(&mut cur, cur_start, i, &mut words);
            words.push(Word { text: c.to_string(), start: i, end: i + 1 });
        } else {
            if cur.is_empty() {
                cur_start = i;
            }
            cur.push(c);
        }
    }
    flush(&mut cur, cur_start, chars.len(), &mut words);
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<String> {
        split_words(s).into_iter().map(|w| w.text).collect()
    }

    #[test]
    fn character_level_corpora_are_detected_and_split_by_character() {
        assert_eq!(WordSplit::detect(["北", "京", "C", "S"]), WordSplit::Chars);
        assert_eq!(WordSplit::detect(["a", "b"]), WordSplit::Words, "single Latin letters are not Chinese");
        assert_eq!(WordSplit::detect(["北京", "人"]), WordSplit::Words);
        assert_eq!(WordSplit::detect(std::iter::empty::<&str>()), WordSplit::Words);
        let w = WordSplit::Chars.split("玩 CSOL");
        let got: Vec<(&str, usize)> = w.iter().map(|w| (w.text.as_str(), w.start)).collect();
        assert_eq!(got, vec![("玩", 0), ("C", 2), ("S", 3), ("O", 4), ("L", 5)]);
        assert_eq!(texts("玩CSOL"), vec!["玩", "CSOL"]);
    }

    #[test]
    fn splits_punctuation_numbers_and_cjk() {
        assert_eq!(
            texts("Hello, New York-based 3.5 U.S."),
            ["Hello", ",", "New", "York", "-", "based", "3.5", "U", ".", "S", "."]
        );
        assert_eq!(texts("  北京欢迎你 ok "), ["北", "京", "欢", "迎", "你", "ok"]);
        let w = split_words("é café");
        assert_eq!((w[1].start, w[1].end), (2, 6));
    }
}
