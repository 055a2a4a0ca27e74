//! A software prefetch: asks the CPU to start loading a cache line that a kernel will read soon.
//! The skinny product ([`super::skinny`]) walks its weight block column panel by column panel,
//! each panel one cache line in each of some 64 weight rows a whole row apart: more concurrent
//! streams than the hardware prefetchers follow, so each panel's first loads wait on memory.
//! Asking for the panel two ahead while computing this one hides that wait
//! (`docs/performance.md`, "Decoding steps"). The dot-product kernel ([`super::skinny_dot`])
//! asks for its next weight rows while it reads the current ones, for the same reason: rows of
//! 3 KB end before the hardware prefetchers have caught on.
//!
//! The crate's third file with `unsafe`: the intrinsic is an `unsafe fn` only because it carries
//! a `#[target_feature]` (SSE, part of every x86-64 CPU). A prefetch is a hint: it never faults,
//! never writes, and changes no result; it is only issued for an element inside the slice.
#![allow(unsafe_code)]

/// Prefetches the cache line holding `s[at]` into every cache level, if `at` is inside `s`;
/// nothing on other architectures.
#[inline(always)]
pub fn line(s: &[f32], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(x) = s.get(at) {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: SSE is part of the x86-64 baseline, and a prefetch of any address is a hint
        // that neither faults nor writes; this one is of an element of `s`.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(x).cast::<i8>()) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (s, at);
}
