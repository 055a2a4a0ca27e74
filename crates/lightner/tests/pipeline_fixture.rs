//! Reproduces `tests/fixtures/data-pipeline.json`: DeepKE's own source ids, word starts,
//! targets, target spans and decoder inputs for six sentences with the fixture tokenizer
//! (`learn_weights=True`, sub-token pointer space). DeepKE drops the entity-less sentence; we keep
//! it and must produce its `[0, 1]` target.

use lightner::data::scheme::{self, Tag, TagScheme};
use lightner::data::{LabelSet, Sentence};
use lightner::tokenize::{
    Alignment, Codec, LabelWordMode, LabelWords, PointerSpace, TargetIdx, TokenId, WordTokenizer,
};
use serde_json::Value;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

#[test]
fn reproduces_deepke_data_pipeline() {
    let fixture: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("data-pipeline.json")).unwrap()).unwrap();
    let tok = WordTokenizer::from_file(&root().join("parity/tokenizer/tokenizer.json")).unwrap();
    let sp = tok.special();
    let t = &fixture["tokenizer"];
    assert_eq!(
        (sp.bos.0, sp.pad.0, sp.eos.0, sp.unk.0, tok.vocab_size()),
        (
            t["bos"].as_u64().unwrap() as u32,
            t["pad"].as_u64().unwrap() as u32,
            t["eos"].as_u64().unwrap() as u32,
            t["unk"].as_u64().unwrap() as u32,
            t["vocab_size"].as_u64().unwrap() as usize
        )
    );

    let sentences = fixture["sentences"].as_array().unwrap();
    assert_eq!(sentences.len(), 6);
    for s in sentences {
        let id = s["id"].as_u64().unwrap();
        let dataset = s["dataset"].as_str().unwrap();
        let ds = &fixture["datasets"][dataset];
        let labels = LabelSet::builtin(dataset).unwrap();
        let order: Vec<&str> =
            ds["mapping_order"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        let ours: Vec<&str> = labels.labels().iter().map(|l| l.name.as_str()).collect();
        assert_eq!(ours, order, "{dataset} label order");
        for l in labels.labels() {
            assert_eq!(ds["mapping"][&l.name].as_str().unwrap(), l.word, "{dataset} label word");
        }

        // Label words, learn_weights=True: pieces of " " + inner text.
        let lw = LabelWords::new(&labels, &tok, LabelWordMode::Pieces).unwrap();
        let expect: Vec<Vec<u32>> =
            ds["label_ids_learn_weights_true"].as_array().unwrap().iter().map(u32s).collect();
        let got: Vec<Vec<u32>> = lw.pieces.iter().map(|p| p.iter().map(|t| t.0).collect()).collect();
        assert_eq!(got, expect, "{dataset} label pieces");
        let mut buffer = vec![sp.bos, sp.eos];
        buffer.extend(&lw.input_ids);
        assert_eq!(buffer.iter().map(|t| t.0).collect::<Vec<_>>(), u32s(&ds["decoder_mapping_buffer"]));

        // Reading: the tags through the strict BIO decoder.
        let words: Vec<String> =
            s["words"].as_array().unwrap().iter().map(|w| w.as_str().unwrap().to_string()).collect();
        let tags: Vec<Tag> =
            s["tags"].as_array().unwrap().iter().map(|t| Tag::parse(t.as_str().unwrap()).unwrap()).collect();
        let decoded = scheme::decode(&tags, TagScheme::Bio);
        assert!(decoded.ill_formed.is_empty());
        let spans: Vec<[usize; 2]> = decoded.spans.iter().map(|s| [s.start, s.end]).collect();
        let expect_spans: Vec<[usize; 2]> = s["entity_spans"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| [p[0].as_u64().unwrap() as usize, p[1].as_u64().unwrap() as usize])
            .collect();
        assert_eq!(spans, expect_spans, "sentence {id} spans");
        let sentence = Sentence::new(words, decoded.spans);

        // Source encoding.
        let align = Alignment::encode(&tok, &sentence.words).unwrap();
        assert_eq!(
            align.ids.iter().map(|t| t.0).collect::<Vec<_>>(),
            u32s(&s["src_tokens"]),
            "sentence {id} src"
        );
        assert_eq!(align.len() as u64, s["src_seq_len"].as_u64().unwrap());
        let starts: Vec<u32> = align.word_start.iter().map(|p| p.0 as u32).collect();
        assert_eq!(starts, u32s(&s["word_start"]), "sentence {id} word starts");

        // Target, tuples, decoder inputs.
        let codec = Codec::new(labels.len(), PointerSpace::SubToken);
        assert_eq!(codec.src_start() as u64, ds["src_start_index"].as_u64().unwrap());
        let target = codec.encode(&align, &sentence.spans, &labels).unwrap();
        let seq: Vec<u32> = target.seq.iter().map(|t| t.0).collect();
        assert_eq!(seq, u32s(&s["target"]), "sentence {id} target");
        assert_eq!(seq.len() as u64, s["tgt_seq_len"].as_u64().unwrap());
        let tuples: Vec<Vec<u32>> = target.tuples.iter().map(|t| t.iter().map(|x| x.0).collect()).collect();
        let expect_tuples: Vec<Vec<u32>> = s["target_span"].as_array().unwrap().iter().map(u32s).collect();
        assert_eq!(tuples, expect_tuples, "sentence {id} target_span");
        let dec = codec.decoder_input_ids(&target.seq, &align.ids, &lw.input_ids, sp);
        let dec: Vec<u32> = dec.iter().map(|t: &TokenId| t.0).collect();
        assert_eq!(dec, u32s(&s["decoder_input_ids_full"]), "sentence {id} decoder inputs");
        assert_eq!(&dec[..dec.len() - 1], u32s(&s["decoder_input_ids_train"]).as_slice());

        // And back.
        let back = codec.decode(&target.seq, &align, &labels);
        assert!(back.issues.is_empty());
        let back: Vec<[usize; 2]> = back.spans.iter().map(|s| [s.start, s.end]).collect();
        assert_eq!(back, expect_spans);
        if !s["kept_by_deepke_loader"].as_bool().unwrap() {
            assert_eq!(target.seq, vec![TargetIdx::BOS, TargetIdx::EOS]);
        }
    }
}

#[test]
fn added_label_ids_follow_decreasing_length() {
    // Spec docs/deepke.md §2.1 worked example: <<organization>> gets V, <<location>> V+1, <<person>> V+2,
    // <<others>> V+3; label_ids in dictionary order are [V+1, V+2, V, V+3].
    let tok = WordTokenizer::from_file(&root().join("parity/tokenizer/tokenizer.json")).unwrap();
    let labels = LabelSet::builtin("conll2003").unwrap();
    let lw = LabelWords::new(&labels, &tok, LabelWordMode::Added).unwrap();
    let v = tok.vocab_size() as u32;
    assert_eq!(lw.input_ids, [v + 1, v + 2, v, v + 3].map(TokenId));
    assert_eq!(lw.new_rows, 4);
    // The parity case with added labels records the ids and the (prefix-less) init pieces.
    let case: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("parity/cases/added_labels/case.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(lw.input_ids.iter().map(|t| t.0).collect::<Vec<_>>(), u32s(&case["label_ids"]));
    for (j, l) in case["label_embedding_init"]["labels"].as_array().unwrap().iter().enumerate() {
        let got: Vec<u32> = lw.init_pieces[j].iter().map(|t| t.0).collect();
        assert_eq!(got, u32s(&l["init_piece_ids"]), "init pieces of label {j}");
    }
}
