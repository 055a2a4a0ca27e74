//! Padding cells of plain-text tables to a width counted in characters.
//!
//! The width arguments of Rust's formatting (`{:<w$}`) are limited to `u16::MAX` and *panic*
//! beyond it, and a type name is user data of any length (a 70,000-character label in a CoNLL
//! file crashed every table printer). These helpers pad by pushing spaces instead, so a table
//! prints whatever its cells hold.

/// `s` followed by spaces up to `width` characters (no padding when `s` is already as wide).
pub fn left(s: &str, width: usize) -> String {
    let mut out = String::with_capacity(s.len() + width);
    out.push_str(s);
    push_spaces(&mut out, width.saturating_sub(s.chars().count()));
    out
}

/// Spaces up to `width` characters, then `s` (right-aligned).
pub fn right(s: &str, width: usize) -> String {
    let mut out = String::with_capacity(s.len() + width);
    push_spaces(&mut out, width.saturating_sub(s.chars().count()));
    out.push_str(s);
    out
}

fn push_spaces(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_like_format_widths() {
        for s in ["", "ab", "Zürich", "abcdefgh"] {
            assert_eq!(left(s, 6), format!("{s:<6}"));
            assert_eq!(right(s, 6), format!("{s:>6}"));
        }
    }

    #[test]
    fn widths_beyond_u16_do_not_panic() {
        let long = "x".repeat(70_000);
        assert_eq!(right("a", 70_001).len(), 70_001);
        assert_eq!(left(&long, 70_003).len(), 70_003);
    }
}
