//! Parsers of numeric flag values, checked when the command line is parsed: a NaN, an infinity,
//! a negative or an out-of-range value is a usage error (exit 2) whose message gives the range,
//! never a run that trains on nonsense. Each parser states its range once, in its message.

/// A finite number, or the reason it is not one.
fn finite(s: &str) -> Result<f64, String> {
    let x: f64 = s.trim().parse().map_err(|_| format!("`{}` is not a number", crate::values::clip(s)))?;
    if x.is_finite() { Ok(x) } else { Err(format!("{x} is not a finite number")) }
}

/// Shortens a value quoted in a message (a pasted file must not flood the terminal).
pub fn clip(s: &str) -> String {
    lightner::error::elide(s, 60)
}

/// Whether `x` survives the conversion to the model's 32-bit floats (a learning rate of 1e-300
/// would become 0 and train nothing; 1e300 would become infinity and NaN every weight).
fn f32_normal(x: f64) -> bool {
    (x as f32).is_normal()
}

/// A number `> 0` that a 32-bit float holds (learning rates).
pub fn positive(s: &str) -> Result<f64, String> {
    let x = finite(s)?;
    if x <= 0.0 {
        return Err(format!("{x} is not greater than 0 (a positive number such as 5e-5)"));
    }
    if f32_normal(x) {
        Ok(x)
    } else {
        Err(format!("{x} is outside the 32-bit float range (1.2e-38 to 3.4e38)"))
    }
}

/// A number `>= 0` that a 32-bit float holds (weight decay, gradient-norm clipping, length
/// penalty).
pub fn non_negative(s: &str) -> Result<f64, String> {
    let x = finite(s)?;
    if x < 0.0 {
        return Err(format!("{x} is negative (a number >= 0)"));
    }
    if x == 0.0 || f32_normal(x) {
        Ok(x)
    } else {
        Err(format!("{x} is outside the 32-bit float range (0, or 1.2e-38 to 3.4e38)"))
    }
}

/// A finite number in `[0, 1]` (fractions, α).
pub fn unit(s: &str) -> Result<f64, String> {
    let x = finite(s)?;
    if (0.0..=1.0).contains(&x) { Ok(x) } else { Err(format!("{x} is not in [0, 1]")) }
}

/// A finite number in `[0, 1)` (a held-out fraction: 1 would leave nothing to train on).
pub fn unit_open(s: &str) -> Result<f64, String> {
    let x = finite(s)?;
    if (0.0..1.0).contains(&x) { Ok(x) } else { Err(format!("{x} is not in [0, 1)")) }
}

/// An integer `>= 1` (epochs, prompt sizes, batch sizes, folds of at least one).
pub fn count(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("0 is not allowed (an integer >= 1)".to_string()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{}` is not an integer >= 1", clip(s))),
    }
}

/// An integer in `[1, max]`: sizes whose memory grows with them (prompt sizes, beams, batches),
/// where an absurd value would exhaust memory rather than fail cleanly.
pub fn count_up_to(max: usize) -> impl Fn(&str) -> Result<usize, String> + Clone + Send + Sync + 'static {
    move |s| match count(s)? {
        n if n > max => Err(format!("{n} is too large (an integer in [1, {max}])")),
        n => Ok(n),
    }
}

/// An integer `>= 2` (cross-validation folds).
pub fn at_least_two(s: &str) -> Result<usize, String> {
    match count(s)? {
        1 => Err("1 is not allowed (an integer >= 2)".to_string()),
        n => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_and_out_of_range_values_are_refused_with_their_range() {
        for s in ["nan", "NaN", "inf", "-inf", "1e400", "abc", ""] {
            assert!(positive(s).is_err() && non_negative(s).is_err() && unit(s).is_err(), "{s}");
        }
        assert!(positive("0").unwrap_err().contains("greater than 0"));
        assert!(non_negative("-0.1").unwrap_err().contains(">= 0"));
        assert!(unit("1.5").unwrap_err().contains("[0, 1]"));
        assert!(unit_open("1").unwrap_err().contains("[0, 1)"));
        assert_eq!(non_negative("0").unwrap(), 0.0);
        assert!(positive("5e-309").unwrap_err().contains("32-bit"));
        assert!(non_negative("1e300").unwrap_err().contains("32-bit"));
        assert_eq!(unit("1").unwrap(), 1.0);
        assert!(count("0").is_err() && count("-1").is_err() && count("1.5").is_err());
        assert_eq!(count("3").unwrap(), 3);
        assert!(at_least_two("1").is_err());
        assert!(count_up_to(8)("9").unwrap_err().contains("[1, 8]"));
        assert_eq!(count_up_to(8)("8").unwrap(), 8);
        assert!(positive(&"9".repeat(10_000)).is_err_and(|m| m.len() < 200));
        assert!(count(&"x".repeat(10_000)).is_err_and(|m| m.len() < 200));
    }
}
