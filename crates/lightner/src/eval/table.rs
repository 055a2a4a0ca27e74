//! The plain-text report, laid out exactly as seqeval's `classification_report(..., digits=4)`
//! (`seqeval/reporters.py`, `StringReporter`), so that the two can be diffed.

use std::fmt;

use super::metrics::{Report, Scores};
use crate::pad;

/// Decimals of the scores, as seqeval's report with `digits=4`.
const DIGITS: usize = 4;

impl Report {
    /// The report as a text table: a header, one row per type (sorted by name), a blank line,
    /// then the micro, macro and weighted averages, with fractions to 4 decimals. Byte for byte
    /// what seqeval prints with `digits=4` (seqeval cannot print a report without any type;
    /// here the type rows are then simply absent).
    pub fn table(&self) -> String {
        // seqeval: width = max(longest type name, len("weighted avg"), digits), in characters.
        let name_width = self.per_type.keys().map(|k| k.chars().count()).max().unwrap_or(0);
        let width = name_width.max("weighted avg".len()).max(DIGITS);
        let mut out = pad::right("", width);
        out.push(' ');
        for h in ["precision", "recall", "f1-score", "support"] {
            out.push_str(&format!(" {h:>9}"));
        }
        out.push_str("\n\n");
        // seqeval joins rows with '\n'; its blank rows are empty strings.
        let mut rows: Vec<String> = self.per_type.iter().map(|(ty, s)| row(ty, s, width)).collect();
        rows.push(String::new());
        rows.push(row("micro avg", &self.micro, width));
        rows.push(row("macro avg", &self.macro_avg, width));
        rows.push(row("weighted avg", &self.weighted, width));
        rows.push(String::new());
        out.push_str(&rows.join("\n"));
        out
    }
}

/// One line: `'{:>{width}s} ' + ' {:>9.{digits}f}' * 3 + ' {:>9}'`. Rust's `{:.4}` rounds the
/// exact binary value half to even, like Python's `format`.
fn row(name: &str, s: &Scores, width: usize) -> String {
    // The name is padded by hand: a format width panics beyond u16::MAX (see `pad`).
    format!(
        "{}  {:>9.DIGITS$} {:>9.DIGITS$} {:>9.DIGITS$} {:>9}",
        pad::right(name, width),
        s.precision,
        s.recall,
        s.f1,
        s.support
    )
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.table())
    }
}

#[cfg(test)]
mod tests {
    use crate::data::Span;
    use crate::eval::evaluate;

    /// The text seqeval 1.2.2 prints for this input with `digits=4` (copied from its output).
    #[test]
    fn matches_seqeval_text() {
        let gold = [vec![Span::new(0, 2, "PER"), Span::new(3, 4, "LOC")], vec![]];
        let pred = [
            vec![Span::new(0, 2, "PER"), Span::new(3, 4, "LOC")],
            vec![Span::new(0, 1, "MISCELLANEOUS_LONG")],
        ];
        let r = evaluate(gold.iter().map(Vec::as_slice).zip(pred.iter().map(Vec::as_slice)));
        let expected = "                    precision    recall  f1-score   support\n\n               LOC     1.0000    1.0000    1.0000         1\nMISCELLANEOUS_LONG     0.0000    0.0000    0.0000         0\n               PER     1.0000    1.0000    1.0000         1\n\n         micro avg     0.6667    1.0000    0.8000         2\n         macro avg     0.6667    0.6667    0.6667         2\n      weighted avg     1.0000    1.0000    1.0000         2\n";
        assert_eq!(r.table(), expected);
        assert_eq!(r.to_string(), expected);
    }

    #[test]
    fn empty_report_has_only_averages() {
        let r = evaluate(std::iter::empty());
        let t = r.table();
        assert!(t.starts_with("              precision    recall  f1-score   support\n\n"));
        assert!(t.contains("\n   micro avg     0.0000    0.0000    0.0000         0\n"));
        assert!(t.ends_with("weighted avg     0.0000    0.0000    0.0000         0\n"));
    }
}
