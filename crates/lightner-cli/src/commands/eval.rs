//! `lightner eval`: tag a labelled file with a pack and score it.

use super::{open_predictor, read_sentences, set_threads};
use crate::cli::{EvalArgs, GlobalArgs};
use std::io::Write;

/// Runs `lightner eval`.
pub fn run(global: &GlobalArgs, args: &EvalArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    set_threads(global)?;
    let data = read_sentences(global, &args.data, None, "to score")?.sentences;
    let predictor = open_predictor(global, &args.pack, args.model.as_deref(), &args.decode)?;
    predictor.labels().check_covers(&args.data, &data)?;
    let (report, tagged) = predictor.evaluate(&data)?;
    let windowed = tagged.iter().filter(|t| t.windowed).count();
    let deepke = args.deepke_compat.then(|| predictor.deepke_metric(&data, &tagged)).transpose()?;
    if args.json {
        let mut v = serde_json::to_value(&report)?;
        if let (Some((d, n)), Some(obj)) = (&deepke, v.as_object_mut()) {
            obj.insert("deepke".into(), serde_json::json!({ "scores": d, "sentences": n }));
        }
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        write!(out, "{report}")?;
        if let Some((d, n)) = &deepke {
            writeln!(
                out,
                "\nDeepKE Seq2SeqSpanMetric over {n} sentences: f {:.2}  rec {:.2}  pre {:.2}  em {:.4}",
                d.f, d.rec, d.pre, d.em
            )?;
        }
    }
    if !global.quiet && windowed > 0 {
        eprintln!("{windowed} sentences were longer than the model's positions and were tagged in windows");
    }
    out.flush()?;
    Ok(())
}
