//! `lightner predict`: tag text (one document per line), CoNLL or JSONL with a pack. Results are
//! written batch by batch, so output starts before the input is exhausted.

use super::{guard, open_predictor, set_threads};
use crate::cli::{GlobalArgs, PredictArgs, PredictInput, PredictOutput};
use anyhow::Context;
use lightner::data::scheme::Tag;
use lightner::data::{self, Format, ReadOptions, Sentence, TagScheme};
use lightner::pipeline::{Entity, Tagged, document_entities};
use std::io::{BufRead, Write};
use std::path::Path;

/// Documents tagged together (text input).
const CHUNK: usize = 32;

/// Lines of a text input looked at for [`looks_like_conll`].
const CONLL_SNIFF_LINES: usize = 20;

/// Whether text lines look like a CoNLL file: at least three quarters of the non-blank lines are
/// a few fields whose last is a tag the CoNLL reader accepts (`O`, `B-PER`, …), and at
/// least one line is blank (a sentence break). A text a user wants tagged is rarely like that.
fn looks_like_conll(lines: &[String]) -> bool {
    // A tag is what the CoNLL reader accepts as one.
    let is_tag = |t: &str| Tag::parse(t).is_ok();
    let filled: Vec<&String> = lines.iter().filter(|l| !l.trim().is_empty()).collect();
    let tagged = filled
        .iter()
        .filter(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            (2..=4).contains(&fields.len()) && fields.last().is_some_and(|t| is_tag(t))
        })
        .count();
    filled.len() < lines.len() && !filled.is_empty() && tagged * 4 >= filled.len() * 3
}

/// One document: its text (text input) and its sentences.
struct Doc {
    text: Option<String>,
    sentences: Vec<Sentence>,
}

/// A text document's output line (fields in this order).
#[derive(serde::Serialize)]
struct TextRecord<'a> {
    text: &'a str,
    entities: &'a [Entity],
}

/// A pre-tokenized sentence's output line (fields in this order).
#[derive(serde::Serialize)]
struct TokensRecord<'a> {
    tokens: &'a [String],
    text: &'a str,
    entities: &'a [Entity],
}

fn write_doc(out: &mut dyn Write, doc: &Doc, tagged: &[Tagged], format: PredictOutput) -> anyhow::Result<()> {
    match format {
        PredictOutput::Jsonl => {
            // Written straight from typed records: a `serde_json::Value` per entity cost about
            // a kilobyte each, and a document of 200,000 entities hundreds of megabytes.
            let entities = document_entities(&doc.sentences, tagged);
            match &doc.text {
                Some(text) => serde_json::to_writer(&mut *out, &TextRecord { text, entities: &entities })?,
                None => {
                    let s = &doc.sentences[0];
                    let record =
                        TokensRecord { tokens: &s.words, text: &s.anchor().text, entities: &entities };
                    serde_json::to_writer(&mut *out, &record)?;
                }
            }
            writeln!(out)?;
        }
        PredictOutput::Conll => {
            let tagged_sents: Vec<Sentence> = doc
                .sentences
                .iter()
                .zip(tagged)
                .map(|(s, t)| {
                    Sentence::new(s.words.clone(), t.spans.iter().map(|x| x.span.clone()).collect())
                })
                .collect();
            data::write_to(out, &tagged_sents, Format::Conll(TagScheme::Bio))?;
        }
    }
    Ok(())
}

/// Runs `lightner predict`.
pub fn run(global: &GlobalArgs, args: &PredictArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if let Some(output) = &args.output {
        guard::output_not_input("predict", "--output", output, &[&args.input])?;
    }
    set_threads(global)?;
    let predictor = open_predictor(global, &args.pack, args.model.as_deref(), &args.decode)?;
    // Raw text is split as the training data was (characters for CLUENER-style corpora).
    let split = predictor.text_words();
    // Output to a file is collected and written atomically at the end; stdout streams.
    let mut buffer: Vec<u8> = Vec::new();
    let sink: &mut dyn Write = if args.output.is_some() { &mut buffer } else { out };
    let mut stats = (0usize, 0usize, 0usize); // sentences, windowed, entities
    let mut flush = |docs: &mut Vec<Doc>, sink: &mut dyn Write| -> anyhow::Result<()> {
        let words: Vec<Vec<String>> =
            docs.iter().flat_map(|d| d.sentences.iter().map(|s| s.words.clone())).collect();
        // Documents are tagged together, so that short lines fill the decoding batches.
        let tagged = predictor.tag(&words)?;
        let mut k = 0;
        for d in docs.iter() {
            let n = d.sentences.len();
            write_doc(sink, d, &tagged[k..k + n], args.output_format)?;
            k += n;
        }
        sink.flush()?;
        stats.0 += tagged.len();
        stats.1 += tagged.iter().filter(|t| t.windowed).count();
        stats.2 += tagged.iter().map(|t| t.spans.len()).sum::<usize>();
        docs.clear();
        Ok(())
    };
    let mut docs: Vec<Doc> = Vec::new();
    match args.format {
        PredictInput::Text => {
            let reader: Box<dyn BufRead> = if args.input == Path::new("-") {
                Box::new(std::io::stdin().lock())
            } else {
                let f = std::fs::File::open(&args.input).map_err(|e| lightner::Error::io(&args.input, e))?;
                Box::new(std::io::BufReader::new(f))
            };
            // The first lines, to warn once (when they are all read, or at the end of a short
            // input) if the file looks like CoNLL given as text.
            let mut first_lines: Vec<String> = Vec::new();
            let mut sniffed = global.quiet;
            let mut sniff = |lines: &[String]| {
                if !sniffed && looks_like_conll(lines) {
                    eprintln!(
                        "warning: {} looks like CoNLL (a word and a tag per line); each line is tagged as a \
                         text of its own. Use --format conll to tag its sentences, or `lightner eval` to score it.",
                        args.input.display()
                    );
                }
                sniffed = true;
            };
            for (i, line) in reader.lines().enumerate() {
                let line = line.with_context(|| format!("{}:{}: reading", args.input.display(), i + 1))?;
                let text = line.trim_end_matches('\r').to_string();
                if first_lines.len() < CONLL_SNIFF_LINES {
                    first_lines.push(text.clone());
                    if first_lines.len() == CONLL_SNIFF_LINES {
                        sniff(&first_lines);
                    }
                }
                let sentences = data::text::sentences_with(&text, split);
                docs.push(Doc { text: Some(text), sentences });
                if docs.len() >= CHUNK {
                    flush(&mut docs, sink)?;
                }
            }
            sniff(&first_lines);
        }
        PredictInput::Conll | PredictInput::Jsonl => {
            let opts =
                ReadOptions { scheme: None, jsonl: Some(args.format == PredictInput::Jsonl), words: split };
            let ds = if args.input == Path::new("-") {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes)?;
                data::read_bytes(Path::new("<stdin>"), &bytes, opts)?
            } else {
                data::read_file(&args.input, opts)?
            };
            for s in ds.sentences {
                docs.push(Doc { text: None, sentences: vec![s] });
                if docs.len() >= CHUNK {
                    flush(&mut docs, sink)?;
                }
            }
        }
    }
    flush(&mut docs, sink)?;
    if let Some(path) = &args.output {
        lightner::io::write_atomic(path, &buffer)?;
    }
    if !global.quiet {
        eprintln!(
            "tagged {} sentences, {} entities; {} sentences tagged in windows",
            stats.0, stats.2, stats.1
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn conll_lines_are_recognised_and_ordinary_text_is_not() {
        assert!(looks_like_conll(&lines(
            "find\tO\nmovies\tO\nwith\tO\ntom\tB-ACTOR\nhanks\tI-ACTOR\n\nshow\tO\n"
        )));
        assert!(looks_like_conll(&lines("EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n")));
        // Text, even text that mentions a tag, and tagged lines with no sentence break.
        assert!(!looks_like_conll(&lines(
            "find movies with tom hanks\nwho directed jaws\n\nB-PER is a tag\n"
        )));
        assert!(!looks_like_conll(&lines("tom\tB-ACTOR\nhanks\tI-ACTOR\n")));
        assert!(!looks_like_conll(&lines("\n\n")));
    }
}
