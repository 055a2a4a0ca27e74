//! Where the MiniLM weights are, for the tests that need them (both crates include this file):
//! `LIGHTNER_MINILM_DIR`, else `.cache/backbones/all-MiniLM-L6-v2` (`bash scripts/fetch-minilm.sh`).

use std::path::{Path, PathBuf};

/// The folder, or `None` (said on stderr) when the weights are missing; under `CI` a missing
/// backbone fails the test instead, since `.ci/run` fetches it.
pub fn weights_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("LIGHTNER_MINILM_DIR").map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/backbones/all-MiniLM-L6-v2")
    });
    if dir.join("model.safetensors").is_file() {
        Some(dir)
    } else {
        // In CI a missing backbone is a failure, not a silent pass: `.ci/run` fetches it.
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
        assert!(
            !ci,
            "CI is set but there are no MiniLM weights in {} (`bash scripts/fetch-minilm.sh` failed?)",
            dir.display()
        );
        eprintln!(
            "SKIPPED: no MiniLM weights in {} (run `bash scripts/fetch-minilm.sh`, or set LIGHTNER_MINILM_DIR)",
            dir.display()
        );
        None
    }
}
