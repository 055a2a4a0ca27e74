//! glibc malloc settings for the model commands, applied by re-executing the binary once (with
//! OpenBLAS's start-up settings, `lightner::model::kernels::blas::startup_env`, in the same exec).
//!
//! burn's CPU backend gives every intermediate tensor a fresh buffer. With glibc's defaults a
//! buffer above the dynamic mmap threshold (at most 32 MB; MiniLM's 30522 × 384 word-embedding
//! gradient is 47 MB) is a fresh `mmap` each time, and freed heap tops are trimmed back to the
//! kernel, so the next step faults the same pages in again. Measured on full fine-tuning of
//! MiniLM, MIT-Movie 10-shot, 2 epochs, `--threads 1`, beside another run (`perf stat -e
//! task-clock,page-faults` and `/usr/bin/time`): 4.85 M page faults, 29.4 s CPU of which 13.5 s in
//! the kernel, with glibc's defaults; 0.30 M faults, 19.8 s CPU (1.7 s kernel) with the settings
//! below. The losses were the same to every printed digit (the allocator does not touch the
//! arithmetic) and the peak resident size 1.04 GB against 1.07 GB. Prompt tuning, whose big
//! tensors are frozen, changed within noise (8.7 s against 8.3 s CPU for 2 epochs).
//!
//! glibc reads `GLIBC_TUNABLES` only at start-up, and setting the same values from the program
//! (`mallopt`) would need `unsafe`, which the workspace forbids; so a model command whose
//! environment has no `GLIBC_TUNABLES` replaces itself (`exec`, same process id, arguments and
//! streams) by the same binary with the settings in its environment. A `GLIBC_TUNABLES` the user
//! set is left alone, and `LIGHTNER_SYSTEM_MALLOC=1` turns the whole thing off.

/// The settings: allocations up to 256 MB come from the heap, and the heap keeps up to 4 GB of
/// freed memory instead of handing it back.
#[cfg_attr(not(all(target_os = "linux", target_env = "gnu")), allow(dead_code))]
pub const TUNABLES: &str = "glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=4294967296";

/// Set (to anything but `0`) to keep glibc's defaults.
#[cfg_attr(not(all(target_os = "linux", target_env = "gnu")), allow(dead_code))]
pub const OPT_OUT: &str = "LIGHTNER_SYSTEM_MALLOC";

/// Re-executes this process with [`TUNABLES`] when glibc is the allocator, `GLIBC_TUNABLES` is
/// unset and the user did not opt out. Returns only when it did not re-execute, including when
/// `exec` failed (the binary deleted by a rebuild, say): the command then runs with the defaults.
pub fn reexec_tuned() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        let opted_out = std::env::var_os(OPT_OUT).is_some_and(|v| v != "0");
        // OpenBLAS, too, reads its settings once, when it loads: the same exec passes them on.
        let mut env = lightner::model::kernels::blas::startup_env();
        if std::env::var_os("GLIBC_TUNABLES").is_none() && !opted_out {
            env.push(("GLIBC_TUNABLES", TUNABLES.to_string()));
        }
        if env.is_empty() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else { return };
        let mut args = std::env::args_os();
        let argv0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
        // `exec` only returns on failure, and then the command simply runs with the defaults:
        // slower, never wrong. The new process finds every variable set and does not exec again.
        let _failed = std::process::Command::new(&exe).arg0(argv0).args(args).envs(env).exec();
    }
}

/// The malloc settings this process runs with, for reports: `GLIBC_TUNABLES`, if set.
pub fn current() -> Option<String> {
    std::env::var("GLIBC_TUNABLES").ok()
}
