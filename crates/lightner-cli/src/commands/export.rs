//! `lightner export`: bake a pack's trained backbone into a backbone folder (and, if asked, move
//! the pack onto it).

use super::{guard, open_pack};
use crate::cli::{ExportArgs, GlobalArgs};
use lightner::pipeline::Backbone;
use lightner::pipeline::export::{EXPORT_DIR, export};
use lightner::pipeline::pack::PACK_DIR;
use std::io::Write;

/// Runs `lightner export`.
pub fn run(global: &GlobalArgs, args: &ExportArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    // Outputs are checked before any work: the folders must not be the pack, nor each other.
    guard::output_not_input("export", "--out", &args.out, &[args.pack.as_path()])?;
    lightner::io::check_dir_target(&args.out, EXPORT_DIR)?;
    if let Some(r) = &args.rebased_pack {
        guard::output_not_input("export", "--rebased-pack", r, &[args.pack.as_path(), args.out.as_path()])?;
        lightner::io::check_dir_target(r, PACK_DIR)?;
    }
    let (bb, pack) = open_pack(global, &args.pack, args.model.as_deref())?;
    let done = export(&pack, &args.pack, &bb, &args.out)?;
    writeln!(
        out,
        "wrote {} ({} tensors, {} of them trained in the pack; weights hash {})",
        args.out.display(),
        done.tensors,
        done.from_pack,
        done.weights_hash
    )?;
    if let Some(r) = &args.rebased_pack {
        let exported = Backbone::open(&args.out.display().to_string())?;
        pack.rebased(&exported)?.save(r)?;
        writeln!(out, "wrote {} (the pack on {})", r.display(), args.out.display())?;
    }
    Ok(())
}
