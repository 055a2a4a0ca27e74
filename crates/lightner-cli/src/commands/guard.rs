//! Guards that keep a command from destroying the user's files: an output may not be one of the
//! command's inputs, and an output folder must be free or one lightner wrote. They run before
//! any work, so a refused command costs nothing (not a whole training).

use crate::cli::Cli;
use clap::CommandFactory;
use std::path::{Path, PathBuf};

/// A usage error rendered by clap under `sub`'s usage line, so that `main` exits 2 as for the
/// mistakes clap finds itself.
pub fn usage_error(sub: &str, msg: String) -> anyhow::Error {
    let mut cmd = Cli::command();
    cmd.build();
    let err = match cmd.find_subcommand_mut(sub) {
        Some(s) => s.error(clap::error::ErrorKind::ArgumentConflict, msg),
        None => cmd.error(clap::error::ErrorKind::ArgumentConflict, msg),
    };
    err.into()
}

/// Refuses an `output` that names one of `inputs` (writing it would replace the user's data
/// with results). `flag` is the output's flag, for the message.
pub fn output_not_input(sub: &str, flag: &str, output: &Path, inputs: &[&Path]) -> anyhow::Result<()> {
    match inputs.iter().find(|i| same_file(i, output)) {
        Some(input) => Err(usage_error(
            sub,
            format!(
                "{flag} {} is the input file {}; choose another path so the input is kept",
                output.display(),
                input.display()
            ),
        )),
        None => Ok(()),
    }
}

/// Whether two paths name the same file, also through `./`, `..`, symlinks or hard links. The
/// output may not exist yet, so its folder is resolved instead.
pub fn same_file(a: &Path, b: &Path) -> bool {
    if a == b || matches!((resolve(a), resolve(b)), (Some(x), Some(y)) if x == y) {
        return true;
    }
    same_inode(a, b)
}

#[cfg(unix)]
fn same_inode(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_inode(_: &Path, _: &Path) -> bool {
    false
}

fn resolve(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = p.canonicalize() {
        return Some(c);
    }
    let name = p.file_name()?;
    Some(lightner::io::parent_of(p).canonicalize().ok()?.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_file_sees_through_dot_segments_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("train.txt");
        std::fs::write(&f, "x").unwrap();
        assert!(same_file(&f, &dir.path().join(".").join("train.txt")));
        assert!(!same_file(&f, &dir.path().join("out.txt")));
        assert!(!same_file(&f, &dir.path().join("missing").join("train.txt")));
        let hard = dir.path().join("hard.txt");
        std::fs::hard_link(&f, &hard).unwrap();
        assert!(same_file(&f, &hard));
    }
}
