//! The `lightner` command. Parsing lives in [`cli`], each subcommand in [`commands`]; this file
//! only turns results into exit codes: 0 success, 1 runtime error (bad data, unreadable file),
//! 2 usage error (bad flag or flag value; clap's own convention).

mod cli;
mod commands;
#[cfg(test)]
mod fuzz_args;
mod malloc;
mod plot;
mod serve;
mod values;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // `parse` prints help/version and exits 0, or prints a usage error and exits 2.
    let cli = cli::Cli::parse();
    if cli.command.runs_model() {
        malloc::reexec_tuned();
    }
    match commands::run(&cli, &mut std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => report(&err),
    }
}

/// Prints `err` and picks the exit code.
fn report(err: &anyhow::Error) -> ExitCode {
    // Usage mistakes found after parsing (e.g. `--output` equal to `--input`) are clap errors,
    // so they look and exit like the ones clap finds itself.
    if let Some(usage) = err.downcast_ref::<clap::Error>() {
        let _ = usage.print();
        return ExitCode::from(u8::try_from(usage.exit_code()).unwrap_or(2));
    }
    // `lightner stats … | head` closes stdout early; that is the reader's choice, not an error.
    let broken_pipe = err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    });
    if broken_pipe {
        return ExitCode::SUCCESS;
    }
    eprintln!("error: {}", message(err));
    ExitCode::FAILURE
}

/// The most characters of one cause that an error message prints.
const MAX_CAUSE_CHARS: usize = 4000;

/// The error and its causes joined by `: ` like `{err:#}` (the library's I/O error prints only its
/// path and returns the OS error as `source()`, so the chain is what names both), except that a
/// cause whose text the message already contains is skipped: some third-party errors repeat
/// their source's text in their own message, which `{:#}` would show twice.
fn message(err: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in err.chain() {
        // Whatever quotes user input unbounded (a line, a label, a path), the message stays
        // readable: each cause is cut in the middle beyond this many characters.
        let text = lightner::error::elide(&cause.to_string(), MAX_CAUSE_CHARS);
        if msg.contains(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_skips_repeated_causes() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let err = anyhow::Error::from(lightner::Error::io("x.txt", io)).context("reading");
        assert_eq!(message(&err), "reading: x.txt: gone");
    }

    #[test]
    fn message_is_bounded() {
        let err = anyhow::anyhow!("{}", "x".repeat(1_000_000)).context("reading");
        assert!(message(&err).len() < MAX_CAUSE_CHARS + 100);
    }
}
