//! Tokenizer loading and word encoding: the three model-folder layouts, special ids read from the
//! tokenizer, prefix-space rules, padding/truncation switched off, and over-long sentences.

use lightner::data::{Sentence, Span};
use lightner::tokenize::align::encode_all;
use lightner::tokenize::{Alignment, OverlongPolicy, SrcPos, TokenId, TokenizerKind, WordTokenizer};
use std::path::PathBuf;

fn fixture_tok_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/parity/tokenizer")
}

#[test]
fn vocab_and_merges_equal_tokenizer_json() {
    let json = WordTokenizer::from_dir(&fixture_tok_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for f in ["vocab.json", "merges.txt", "special_tokens_map.json"] {
        std::fs::copy(fixture_tok_dir().join(f), dir.path().join(f)).unwrap();
    }
    let bpe = WordTokenizer::from_dir(dir.path()).unwrap();
    assert_eq!(json.kind(), TokenizerKind::ByteLevelBpe);
    assert_eq!(bpe.kind(), TokenizerKind::ByteLevelBpe);
    assert_eq!(json.special(), bpe.special());
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/mit-movie/test.txt"),
    )
    .unwrap();
    let mut words: Vec<&str> =
        text.lines().filter_map(|l| l.split('\t').next()).filter(|w| !w.is_empty()).collect();
    words.extend(["o'clock", "Blackburn", "naïve", "北京", "🙂", "U.S."]);
    for w in words {
        assert_eq!(json.word_pieces(w).unwrap(), bpe.word_pieces(w).unwrap(), "{w}");
    }
    // Every word of byte-level BPE starts with a Ġ piece.
    let first = json.word_pieces("Blackburn").unwrap()[0];
    assert!(json.id_to_token(first).unwrap().starts_with('Ġ'));
}

fn write_wordpiece(dir: &std::path::Path, with_json_padding: bool) {
    let vocab = ["[PAD]", "[unused1]", "[UNK]", "[CLS]", "[SEP]", "北", "京", "##ing", "play", "the", "位"];
    std::fs::write(dir.join("vocab.txt"), vocab.join("\n") + "\n").unwrap();
    if with_json_padding {
        // A tokenizer.json with padding and truncation on, as MiniLM's ships.
        let vocab_obj: serde_json::Map<String, serde_json::Value> =
            vocab.iter().enumerate().map(|(i, t)| (t.to_string(), serde_json::json!(i))).collect();
        let json = serde_json::json!({
            "version": "1.0",
            "truncation": {"direction": "Right", "max_length": 3, "strategy": "LongestFirst", "stride": 0},
            "padding": {"strategy": {"Fixed": 8}, "direction": "Right", "pad_to_multiple_of": null,
                        "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"},
            "added_tokens": [],
            "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                           "strip_accents": null, "lowercase": true},
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": null,
            "decoder": null,
            "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                      "max_input_chars_per_word": 100, "vocab": vocab_obj}
        });
        std::fs::write(dir.join("tokenizer.json"), json.to_string()).unwrap();
    }
}

#[test]
fn wordpiece_has_no_prefix_space_and_reads_its_special_ids() {
    for with_json in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        write_wordpiece(dir.path(), with_json);
        let tok = WordTokenizer::from_dir(dir.path()).unwrap();
        assert_eq!(tok.kind(), TokenizerKind::WordPiece);
        let sp = tok.special();
        assert_eq!((sp.pad.0, sp.unk.0, sp.bos.0, sp.eos.0), (0, 2, 3, 4), "json={with_json}");
        assert_eq!(tok.word_pieces("playing").unwrap(), [TokenId(8), TokenId(7)]);
        // Padding and truncation from tokenizer.json are switched off: exactly the pieces.
        let a = Alignment::encode(&tok, &["北", "京", "the", "playing"]).unwrap();
        assert_eq!(a.ids.iter().map(|t| t.0).collect::<Vec<_>>(), [3, 5, 6, 9, 8, 7, 4]);
        assert_eq!(a.word_start, [1, 2, 3, 4].map(SrcPos));
        // A word the normaliser erases becomes [UNK] so it keeps a position.
        assert_eq!(tok.word_pieces("\u{200b}").unwrap(), [TokenId(2)]);
    }
}

#[test]
fn missing_tokenizer_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = WordTokenizer::from_dir(dir.path()).unwrap_err().to_string();
    assert!(err.contains("no tokenizer.json"), "{err}");
    std::fs::write(dir.path().join("tokenizer.json"), "{not json").unwrap();
    let err = WordTokenizer::from_dir(dir.path()).unwrap_err().to_string();
    assert!(err.contains("tokenizer.json"), "{err}");
}

#[test]
fn alignment_maps_positions_to_words() {
    let tok = WordTokenizer::from_dir(&fixture_tok_dir()).unwrap();
    let a = Alignment::encode(&tok, &["Peter", "Blackburn", "visited"]).unwrap();
    let bb = tok.word_pieces("Blackburn").unwrap().len();
    assert!(bb > 1);
    assert_eq!(a.word_start[2].0, a.word_start[1].0 + bb);
    assert_eq!(a.word_containing(SrcPos(0)), None);
    assert_eq!(a.word_containing(a.word_start[1]), Some(1));
    assert_eq!(a.word_containing(SrcPos(a.word_start[1].0 + 1)), Some(1));
    assert!(!a.is_word_start(SrcPos(a.word_start[1].0 + 1)));
    assert_eq!(a.word_containing(a.eos_pos()), None);
}

#[test]
fn overlong_sentences_are_counted_never_a_crash() {
    let tok = WordTokenizer::from_dir(&fixture_tok_dir()).unwrap();
    let words: Vec<String> = (0..30).map(|i| format!("w{i}")).collect();
    let mut long = Sentence::new(words, vec![Span::new(0, 2, "A"), Span::new(25, 27, "B")]);
    long.line = 7;
    let mut short = Sentence::new(vec!["hi".into()], vec![]);
    short.line = 40;
    let sentences = vec![long, short];
    let max = 20;

    let (enc, rep) = encode_all(&tok, &sentences, max, OverlongPolicy::Skip).unwrap();
    assert_eq!(enc.len(), 1);
    assert_eq!(rep.lines, [7]);

    let (enc, rep) = encode_all(&tok, &sentences, max, OverlongPolicy::Truncate).unwrap();
    assert_eq!(enc.len(), 2);
    assert!(enc[0].align.len() <= max);
    assert_eq!(enc[0].sentence.spans, [Span::new(0, 2, "A")]);
    assert_eq!(rep.entities_lost, 1);

    let err = encode_all(&tok, &sentences, max, OverlongPolicy::Error).unwrap_err().to_string();
    assert!(err.contains("line 7"), "{err}");
}
