//! File helpers: atomic writes (temp file in the same folder, fsync, rename), so that a crash or a
//! full disk never leaves a half-written output in place of a good one.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically: readers see either the old file or the whole new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Like [`write_atomic`], with the content produced by `fill` into a buffered writer.
///
/// The temporary file is created with `create_new` under a name of its own (`.NAME.PID.N.tmp`,
/// the first N that is free), so it can never truncate a file of the user's.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let dir = parent_of(path);
    let name =
        path.file_name().ok_or_else(|| Error::Output(format!("{}: not a file path", path.display())))?;
    if path.is_dir() {
        return Err(Error::Output(format!("{}: is a folder, not a file; give a file path", path.display())));
    }
    let (tmp, file) = (0..1000)
        .find_map(|n| {
            let tmp = dir.join(format!(".{}.{}.{n}.tmp", name.to_string_lossy(), std::process::id()));
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp) {
                Ok(f) => Some(Ok((tmp, f))),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => None,
                Err(e) => Some(Err(Error::io(path, e))),
            }
        })
        .unwrap_or_else(|| Err(Error::Output(format!("{}: no free temporary name", path.display()))))?;
    let result = (|| {
        let mut w = std::io::BufWriter::new(file);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

/// The folder a path lies in (`.` for a bare name).
pub fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The file inside a staging folder that proves lightner made it: only a folder holding it is
/// ever removed as a leftover of an interrupted write.
const STAGING_MARK: &str = ".lightner-staging";

/// A lightner-owned sibling of `dir`: `.NAME.lightner-TAG` in the same folder (same file system,
/// so the final rename is atomic; hidden and namespaced, so it does not collide with a user's
/// `NAME.tmp`).
fn sibling(dir: &Path, tag: &str) -> PathBuf {
    let name = dir.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    parent_of(dir).join(format!(".{name}.lightner-{tag}"))
}

/// The folders an interrupted [`write_dir_atomic`] of `dir` can leave behind, newest first: the
/// new content being staged, and the old content moved aside during the swap. Each is complete
/// once its `fill` finished (resumable writers such as checkpoints look there).
pub fn dir_leftovers(dir: &Path) -> [PathBuf; 2] {
    [sibling(dir, "staging"), sibling(dir, "old")]
}

/// What a directory output is and how to recognise one lightner wrote, so that an existing folder
/// is replaced only when it is one of ours.
#[derive(Debug, Clone, Copy)]
pub struct DirKind {
    /// What the folder is, for messages (`pack`, `checkpoint`).
    pub what: &'static str,
    /// Whether an existing folder is one of these (and so may be replaced).
    pub is_ours: fn(&Path) -> bool,
}

/// Checks, before any work, that `dir` can be written as a `kind`: it does not exist, or it is
/// one lightner wrote or an empty folder (replaced then), and no foreign folder sits where the staging folders go.
pub fn check_dir_target(dir: &Path, kind: DirKind) -> Result<()> {
    let replaceable = dir.is_dir() && (is_empty_dir(dir) || (kind.is_ours)(dir));
    if dir.exists() && !replaceable {
        return Err(Error::Output(format!(
            "{} exists and is not a {}; lightner replaces only its own outputs: choose another path or move it away",
            dir.display(),
            kind.what
        )));
    }
    for d in dir_leftovers(dir) {
        if d.exists() && !d.join(STAGING_MARK).is_file() {
            return Err(Error::Output(format!(
                "{} exists and was not made by lightner (it would be used as a temporary folder); move it away",
                d.display()
            )));
        }
    }
    Ok(())
}

/// Writes the folder `dir` atomically: `fill` writes into a fresh staging folder beside it, which
/// then replaces `dir` (an existing `dir` must be one of ours, see [`check_dir_target`]). Readers
/// see the old folder or the whole new one; a failure leaves `dir` as it was and removes what
/// lightner created.
pub fn write_dir_atomic(dir: &Path, kind: DirKind, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    check_dir_target(dir, kind)?;
    let [staging, old] = dir_leftovers(dir);
    claim(&staging)?;
    if let Err(e) = fill(&staging) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    let swap = || -> std::io::Result<()> {
        if dir.exists() {
            clear_leftover(&old).map_err(std::io::Error::other)?;
            // Marked first, so that a crash between the two renames leaves a removable leftover.
            std::fs::write(dir.join(STAGING_MARK), b"")?;
            std::fs::rename(dir, &old)?;
            if let Err(e) = std::fs::rename(&staging, dir) {
                let _ = std::fs::rename(&old, dir);
                let _ = std::fs::remove_file(dir.join(STAGING_MARK));
                return Err(e);
            }
            std::fs::remove_dir_all(&old)?;
        } else {
            std::fs::rename(&staging, dir)?;
        }
        std::fs::remove_file(dir.join(STAGING_MARK))
    };
    swap().map_err(|e| {
        let _ = std::fs::remove_dir_all(&staging);
        Error::io(dir, e)
    })
}

fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none())
}

/// Removes a leftover of an interrupted write at `path` (a folder holding our mark); anything
/// else there is refused.
fn clear_leftover(path: &Path) -> Result<()> {
    if path.exists() {
        if !path.join(STAGING_MARK).is_file() {
            return Err(Error::Output(format!(
                "{} exists and was not made by lightner; move it away",
                path.display()
            )));
        }
        std::fs::remove_dir_all(path).map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}

/// Makes `path` a fresh, marked, empty folder: a leftover of ours is removed first; anything
/// else there is refused.
fn claim(path: &Path) -> Result<()> {
    clear_leftover(path)?;
    std::fs::create_dir_all(parent_of(path)).map_err(|e| Error::io(path, e))?;
    std::fs::create_dir(path).map_err(|e| Error::io(path, e))?;
    std::fs::write(path.join(STAGING_MARK), b"").map_err(|e| Error::io(path, e))
}

/// A named f32 tensor on the host: name, values, shape.
pub type F32Tensor = (String, Vec<f32>, Vec<usize>);

/// Serialises named f32 tensors (little-endian) as a safetensors image, with optional metadata.
/// The one writer behind packs, checkpoints and random backbones.
pub fn f32_safetensors(
    tensors: &[F32Tensor],
    metadata: Option<std::collections::HashMap<String, String>>,
) -> Result<Vec<u8>> {
    use safetensors::tensor::{Dtype, TensorView};
    let bytes: Vec<Vec<u8>> =
        tensors.iter().map(|(_, v, _)| v.iter().flat_map(|x| x.to_le_bytes()).collect()).collect();
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .zip(&bytes)
        .map(|((n, _, s), b)| {
            TensorView::new(Dtype::F32, s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::Internal(format!("tensor {n}: {e}")))
        })
        .collect::<Result<_>>()?;
    safetensors::serialize(views, metadata).map_err(|e| Error::Internal(e.to_string()))
}

/// Reads every tensor of a safetensors image written by [`f32_safetensors`], with its metadata.
/// Errors name `path`: not safetensors, or a tensor that is not f32.
pub fn read_f32_safetensors(
    path: &Path,
    bytes: &[u8],
) -> Result<(Vec<F32Tensor>, std::collections::HashMap<String, String>)> {
    let bad = |m: String| Error::Pack(format!("{}: {m}", path.display()));
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::new();
    for (name, view) in st.tensors() {
        if view.dtype() != safetensors::tensor::Dtype::F32 {
            return Err(bad(format!("{name} is not f32")));
        }
        let v = view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        out.push((name, v, view.shape().to_vec()));
    }
    Ok((out, meta.metadata().clone().unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_keeps_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        write_atomic(&p, b"old").unwrap();
        let err = write_atomic_with(&p, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "temp file left behind");
    }

    #[test]
    fn a_users_file_with_the_temporary_name_is_not_touched() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        let theirs = dir.path().join(format!(".out.txt.{}.0.tmp", std::process::id()));
        std::fs::write(&theirs, b"mine").unwrap();
        write_atomic(&p, b"new").unwrap();
        assert_eq!(std::fs::read(&theirs).unwrap(), b"mine");
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
    }

    const KIND: DirKind = DirKind { what: "pack", is_ours: |d| d.join("manifest.json").is_file() };

    fn fill_with(name: &'static str) -> impl FnOnce(&Path) -> Result<()> {
        move |d| write_atomic(&d.join("manifest.json"), name.as_bytes())
    }

    #[test]
    fn dir_writes_replace_only_our_own_folders() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("p");
        write_dir_atomic(&out, KIND, fill_with("one")).unwrap();
        write_dir_atomic(&out, KIND, fill_with("two")).unwrap();
        assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1, "leftovers beside the pack");
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1, "the staging mark stayed inside");

        // A user's folder is refused, before and at the write, and left intact.
        let user = root.path().join("notes");
        std::fs::create_dir(&user).unwrap();
        std::fs::write(user.join("a.txt"), b"keep").unwrap();
        assert!(check_dir_target(&user, KIND).is_err());
        assert!(write_dir_atomic(&user, KIND, fill_with("x")).is_err());
        assert_eq!(std::fs::read(user.join("a.txt")).unwrap(), b"keep");
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 2, "staging left behind");
    }

    #[test]
    fn a_users_folder_named_like_a_temporary_is_never_deleted() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("p");
        for tmp in [root.path().join("p.tmp"), dir_leftovers(&out)[0].clone()] {
            std::fs::create_dir(&tmp).unwrap();
            std::fs::write(tmp.join("a.txt"), b"keep").unwrap();
        }
        // `p.tmp` is no concern of ours; the hidden staging name is refused, not removed.
        let err = write_dir_atomic(&out, KIND, fill_with("x")).unwrap_err();
        assert!(err.to_string().contains("not made by lightner"), "{err}");
        assert!(!out.exists());
        std::fs::remove_dir_all(&dir_leftovers(&out)[0]).unwrap();
        write_dir_atomic(&out, KIND, fill_with("x")).unwrap();
        assert_eq!(std::fs::read(root.path().join("p.tmp/a.txt")).unwrap(), b"keep");
    }

    #[test]
    fn a_failed_fill_keeps_the_old_folder_and_removes_the_staging() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("p");
        write_dir_atomic(&out, KIND, fill_with("one")).unwrap();
        let err = write_dir_atomic(&out, KIND, |_| Err(Error::Internal("disk full".into())));
        assert!(err.is_err());
        assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), b"one");
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
        // A leftover of an interrupted write (marked) is cleaned up by the next one.
        let [staging, _] = dir_leftovers(&out);
        claim(&staging).unwrap();
        write_dir_atomic(&out, KIND, fill_with("two")).unwrap();
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
    }
}
