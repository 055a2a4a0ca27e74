//! The large matrix products through a system OpenBLAS, found at run time.
//!
//! Why: on the Intel Xeon kind (AVX-512) the `gemm` crate's kernels reach about half of what
//! PyTorch's MKL does on bart-base's products, while OpenBLAS's AVX-512 kernels reach about four
//! fifths (issue figures, `docs/performance.md`, "The matrix products against a system BLAS").
//! On AVX2 the two run within a few per cent of each other at one thread, except on the weight
//! gradients' shapes, where OpenBLAS is about a quarter faster; at two threads one OpenBLAS call
//! per band beats `gemm`'s own threading (two fork-joins per depth block), and the bart-base
//! forward and training steps ran 10 to 20 % faster (`docs/performance.md`).
//!
//! How: the library is opened with `dlopen` the first time a product asks for it, so the binary
//! neither links against it nor needs it: where it is missing, or refused (below), the products
//! run through `gemm` as before. `LIGHTNER_BLAS` chooses:
//! - unset or `auto`: `libopenblas.so.0` (Debian's `libopenblas0`), then `libopenblas.so`;
//! - `off` (or `0`, `none`, `gemm`): never;
//! - a file path: that library (an OpenBLAS build, or any CBLAS exporting OpenBLAS's thread
//!   setter); a path that does not load is reported by [`status`], and the products use `gemm`.
//!
//! OpenBLAS is told to use one thread per call ([`Blas::open`]): our rayon pool splits a large
//! product into bands of rows (or of columns, for short products), one call per band, so
//! `--threads` stays the one thread count and no second pool spins beside rayon's.
//!
//! A library that picked kernels below the CPU's width is refused: an OpenBLAS older than the CPU
//! may not recognise it and fall back to its SSE kernels (the issue measured 9 GFLOP/s against
//! 44 once pinned). The CLI pins the kernel before the library loads ([`startup_env`]);
//! `OPENBLAS_CORETYPE` set by the user wins.
//!
//! Sums: each element of a product is summed over its depth in an order the library chooses, so
//! results differ from `gemm`'s in the last bits (the parity tests hold at their tolerances
//! either way); `examples/sequence_products.rs` and the unit tests below compare them. And the
//! order depends on where a row falls in OpenBLAS's blocking: measured on its Zen kernels, a
//! sentence multiplied alone differs from the same sentence inside a batch in the last bits
//! (relative 10⁻⁷), where `gemm` gives the same bits (padding the last partial tile did not
//! help: the column blocks differ too). So with a system BLAS, a sentence's scores depend on its
//! batch within rounding, as in PyTorch; `LIGHTNER_BLAS=off` gives the bit-for-bit guarantee back.
#![allow(unsafe_code)]

use super::gemm::{Mat, PARALLEL_THRESHOLD, band_start};
use std::ffi::{CStr, c_char, c_int};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// The environment variable that chooses the library ("off", "auto" or a path).
pub const ENV: &str = "LIGHTNER_BLAS";

/// `CblasRowMajor`, `CblasNoTrans`, `CblasTrans` (cblas.h).
const ROW_MAJOR: c_int = 101;
const NO_TRANS: c_int = 111;
const TRANS: c_int = 112;

type Sgemm = unsafe extern "C" fn(
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    f32,
    *const f32,
    c_int,
    *const f32,
    c_int,
    f32,
    *mut f32,
    c_int,
);
type SetThreads = unsafe extern "C" fn(c_int);
type GetName = unsafe extern "C" fn() -> *const c_char;

/// An opened OpenBLAS.
pub struct Blas {
    sgemm: Sgemm,
    /// What it is, for reports: file, version string, kernel.
    pub description: String,
    // Kept open for the process's life (the function pointers point into it).
    _lib: libloading::Library,
}

/// The library in use, or why none is.
static BLAS: OnceLock<Result<Blas, String>> = OnceLock::new();

/// The OpenBLAS the products use, if any (opened on the first call).
pub fn get() -> Option<&'static Blas> {
    BLAS.get_or_init(choose).as_ref().ok()
}

/// One line for reports: which library multiplies, and if it is `gemm`, why.
pub fn status() -> String {
    match BLAS.get_or_init(choose) {
        Ok(blas) => blas.description.clone(),
        Err(why) => format!("gemm (pure Rust): {why}"),
    }
}

/// Whether any product of this process has gone through the system BLAS.
static USED: AtomicBool = AtomicBool::new(false);

/// What has multiplied the linear layers' large products in this process so far: the library's
/// [`status`] line once a product went through it, else `gemm (pure Rust)`. A pack records it
/// (its manifest's `training.products`), because the library decides the last bits of a training
/// (see the module's note on sums): `LIGHTNER_BLAS=off` reproduces a `gemm` pack bit for bit.
pub fn products_used() -> String {
    // `BLAS.get()`, not [`get`]: asking what multiplied never opens a library.
    match BLAS.get() {
        Some(Ok(blas)) if USED.load(Ordering::Relaxed) => blas.description.clone(),
        _ => "gemm (pure Rust)".to_string(),
    }
}

/// The words of the reason a library is refused for kernels narrower than the CPU (the tests
/// tell that refusal from a missing library by them).
const NARROW_KERNELS: &str = "kernels on a CPU with AVX-512";

/// The kernel names of OpenBLAS's AVX-512 targets (`openblas_get_corename`, lower-cased).
const AVX512_CORES: [&str; 3] = ["skylakex", "cooperlake", "sapphirerapids"];

/// Whether this CPU runs OpenBLAS's AVX-512 kernels (the instruction sets its SkylakeX target
/// uses).
fn cpu_has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// What `LIGHTNER_BLAS` asks for.
#[derive(Debug, PartialEq, Eq)]
enum Want {
    Off,
    Auto,
    Path(String),
}

fn want(value: Option<&str>) -> Want {
    match value.map(str::trim) {
        None | Some("" | "auto") => Want::Auto,
        Some(v) if ["off", "0", "none", "gemm"].contains(&v.to_ascii_lowercase().as_str()) => Want::Off,
        Some(path) => Want::Path(path.to_string()),
    }
}

/// Environment the process should start with so that OpenBLAS, which reads it once when it
/// loads, loads as we use it: one thread per call, and on an AVX-512 CPU its SkylakeX kernels
/// (the AVX-512 target every OpenBLAS since 0.2.20 has). Variables the user set are left out,
/// as is everything when `LIGHTNER_BLAS` is off. The CLI starts its model commands with these.
pub fn startup_env() -> Vec<(&'static str, String)> {
    if want(std::env::var(ENV).ok().as_deref()) == Want::Off {
        return Vec::new();
    }
    let mut env = Vec::new();
    if std::env::var_os("OPENBLAS_NUM_THREADS").is_none() {
        env.push(("OPENBLAS_NUM_THREADS", "1".to_string()));
    }
    if std::env::var_os("OPENBLAS_CORETYPE").is_none() && cpu_has_avx512() {
        env.push(("OPENBLAS_CORETYPE", "SkylakeX".to_string()));
    }
    env
}

/// Opens the library `LIGHTNER_BLAS` asks for, or says why there is none.
fn choose() -> Result<Blas, String> {
    let names: Vec<String> = match want(std::env::var(ENV).ok().as_deref()) {
        Want::Off => return Err(format!("{ENV} is off")),
        Want::Auto => vec!["libopenblas.so.0".into(), "libopenblas.so".into()],
        Want::Path(p) => vec![p],
    };
    let mut why = Vec::new();
    for name in &names {
        match Blas::open(name) {
            Ok(blas) => return Ok(blas),
            Err(e) => why.push(e),
        }
    }
    Err(why.join("; "))
}

impl Blas {
    /// Opens `name` (a file name `dlopen` searches for, or a path), sets it to one thread per
    /// call, and checks that its kernels fit the CPU.
    fn open(name: &str) -> Result<Self, String> {
        // SAFETY: loading a shared library runs its initialisers; OpenBLAS's set up its CPU
        // tables and buffers and nothing of ours. The symbols are looked up with the signatures
        // of OpenBLAS's `cblas.h` (LP64: 32-bit `int` sizes, as Debian's `libopenblas0` builds).
        unsafe {
            let lib = libloading::Library::new(name).map_err(|e| format!("{name}: {e}"))?;
            let sgemm: Sgemm = *lib.get::<Sgemm>(b"cblas_sgemm\0").map_err(|e| format!("{name}: {e}"))?;
            let set_threads: SetThreads = *lib
                .get::<SetThreads>(b"openblas_set_num_threads\0")
                .map_err(|e| format!("{name} is not OpenBLAS: {e}"))?;
            let text = |symbol: &[u8]| -> String {
                lib.get::<GetName>(symbol)
                    .ok()
                    .map(|f| f())
                    .filter(|p| !p.is_null())
                    .map(|p| CStr::from_ptr(p).to_string_lossy().trim().to_string())
                    .unwrap_or_default()
            };
            let core = text(b"openblas_get_corename\0");
            let config = text(b"openblas_get_config\0");
            if cpu_has_avx512() && !AVX512_CORES.contains(&core.to_ascii_lowercase().as_str()) {
                return Err(format!(
                    "{name} chose its {core:?} {NARROW_KERNELS} (set OPENBLAS_CORETYPE=SkylakeX)"
                ));
            }
            set_threads(1);
            let description = format!("OpenBLAS ({name}; {config}; {core} kernels)");
            Ok(Self { sgemm, description, _lib: lib })
        }
    }
}

/// A view as CBLAS takes it (row-major order): transposed or not, and its leading dimension.
/// `None` when neither of its strides is 1, or a size does not fit CBLAS's `int`.
fn operand(m: &Mat<'_>) -> Option<(c_int, c_int)> {
    let (rows, cols) = (m.rows.max(1), m.cols.max(1));
    let (trans, ld) = if m.cs == 1 && (m.rs >= cols || rows == 1) {
        (NO_TRANS, m.rs.max(cols))
    } else if m.rs == 1 && (m.cs >= rows || cols == 1) {
        (TRANS, m.cs.max(rows))
    } else {
        return None;
    };
    Some((trans, c_int::try_from(ld).ok()?))
}

/// Bands of rows start at multiples of this (OpenBLAS's AVX2 and AVX-512 sgemm kernels take 16
/// rows at a time, so no band but the last ends in a partial tile).
const BAND_ALIGN: usize = 16;

/// Products whose right-hand side (a linear layer's weight) has fewer elements go to `gemm`, for
/// any number of rows. Where a call is cheap the library's overhead weighs more, and tiny models
/// (the tests' among them) keep `gemm`'s guarantee that a row's bits do not depend on the rows
/// beside it, which OpenBLAS does not give (see the module's notes).
const MIN_WEIGHT: usize = 256 * 256;

/// Fewest columns a band of columns may have (a few of the kernels' 4- to 16-column tiles).
const MIN_BAND_COLS: usize = 64;

impl Blas {
    /// `dst = lhs·rhs` (or `dst += lhs·rhs` with `accumulate`), `dst` row-major `[m, n]`, on
    /// the current rayon pool when the product is large enough. Returns false, touching nothing,
    /// when a view is one CBLAS cannot take (neither stride 1), a size overflows its `int`, or
    /// the right-hand side is smaller than [`MIN_WEIGHT`]; the caller then multiplies with `gemm`.
    ///
    /// # Safety
    /// `dst` must be valid for writes of m·n elements, not aliased by `lhs` or `rhs`, and
    /// initialised when `accumulate` is set. `lhs` and `rhs` must lie inside their slices, with
    /// `lhs.cols == rhs.rows` (the caller checks both).
    pub unsafe fn product(&self, dst: *mut f32, lhs: Mat<'_>, rhs: Mat<'_>, accumulate: bool) -> bool {
        let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
        let (Some((ta, lda)), Some((tb, ldb))) = (operand(&lhs), operand(&rhs)) else { return false };
        if [m, n, k].iter().any(|&v| c_int::try_from(v).is_err()) || m == 0 || n == 0 || k == 0 {
            return false;
        }
        if n.saturating_mul(k) < MIN_WEIGHT {
            return false;
        }
        USED.store(true, Ordering::Relaxed);
        let beta = if accumulate { 1.0 } else { 0.0 };
        let threads = rayon::current_num_threads();
        let parallel = threads > 1 && m.saturating_mul(n).saturating_mul(k) >= PARALLEL_THRESHOLD;
        // One call per band: rows when there are enough of them, else columns.
        let row_bands = (m / (2 * BAND_ALIGN)).min(threads);
        let col_bands = (n / MIN_BAND_COLS).min(threads);
        // The views' element (r, c) lies at r·rs + c·cs of their slices; a band's first element
        // is an offset into the same slice. Pointers travel as addresses (they are not `Send`).
        let (a, b, c) = (lhs.data.as_ptr() as usize, rhs.data.as_ptr() as usize, dst as usize);
        let call = |row0: usize, rows: usize, col0: usize, cols: usize| {
            // SAFETY: rows row0..row0 + rows and columns col0..col0 + cols of the product lie
            // inside `lhs`'s rows, `rhs`'s columns and `dst` (checked by the caller's contract and
            // by the band arithmetic below); bands write disjoint elements of `dst`; the sizes
            // and leading dimensions fit `int` (checked above).
            unsafe {
                (self.sgemm)(
                    ROW_MAJOR,
                    ta,
                    tb,
                    rows as c_int,
                    cols as c_int,
                    k as c_int,
                    1.0,
                    (a as *const f32).add(row0 * lhs.rs),
                    lda,
                    (b as *const f32).add(col0 * rhs.cs),
                    ldb,
                    beta,
                    (c as *mut f32).add(row0 * n + col0),
                    n as c_int,
                )
            }
        };
        if !parallel || (row_bands <= 1 && col_bands <= 1) {
            call(0, m, 0, n);
        } else {
            // Rows when there are enough of them, else columns; bands of either start on tiles.
            let by_rows = row_bands > 1;
            let (bands, len) = if by_rows { (row_bands, m) } else { (col_bands, n) };
            rayon::scope(|s| {
                for i in 0..bands {
                    let (from, to) =
                        (band_start(i, bands, len, BAND_ALIGN), band_start(i + 1, bands, len, BAND_ALIGN));
                    if by_rows {
                        s.spawn(move |_| call(from, to - from, 0, n));
                    } else {
                        s.spawn(move |_| call(0, m, from, to - from));
                    }
                }
            });
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::super::gemm::{linear, matmul_blas};
    use super::*;

    /// The library, or `None` where this machine has none or it was refused (then the caller's
    /// test has nothing to check). Under CI, whose set-up installs Debian's `libopenblas0`, a
    /// missing library fails; one refused for its kernels (an AVX-512 CPU it did not recognise,
    /// run without the CLI's `OPENBLAS_CORETYPE`) is what [`Blas::open`] is meant to do.
    fn library() -> Option<&'static Blas> {
        let blas = get();
        if blas.is_none() {
            let refused = status().contains(NARROW_KERNELS);
            assert!(refused || std::env::var_os("CI").is_none(), "CI installs OpenBLAS, yet: {}", status());
            eprintln!("skipped: no system BLAS in use ({})", status());
        }
        blas
    }

    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n).map(|i| (((i + seed) * 7919) % 2001) as f32 / 1000.0 - 1.0).collect()
    }

    /// `lhs·rhs` in f64.
    fn reference(lhs: Mat<'_>, rhs: Mat<'_>) -> Vec<f64> {
        let at = |m: &Mat<'_>, r: usize, c: usize| m.data[r * m.rs + c * m.cs] as f64;
        let mut out = Vec::with_capacity(lhs.rows * rhs.cols);
        for r in 0..lhs.rows {
            for c in 0..rhs.cols {
                out.push((0..lhs.cols).map(|i| at(&lhs, r, i) * at(&rhs, i, c)).sum());
            }
        }
        out
    }

    #[test]
    fn products_equal_the_f64_formula_in_every_layout_and_band() {
        let Some(blas) = library() else { return };
        // Rows that split into bands of rows, too few rows for that (bands of columns), fewer
        // rows than a tile, and a partial last tile; weights read as stored and transposed.
        for (m, k, n) in [(300, 256, 384), (40, 512, 768), (5, 300, 300), (97, 257, 260)] {
            let (x, w, w_t) = (values(m * k, 1), values(k * n, 2), values(n * k, 2));
            for rhs in [Mat::row_major(&w, k, n), Mat::row_major(&w_t, n, k).t()] {
                let lhs = Mat::row_major(&x, m, k);
                let want = reference(lhs, rhs);
                for threads in 1..=3 {
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a pool");
                    let got = pool.install(|| matmul_blas(lhs, rhs)).expect("BLAS takes these views");
                    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                        // k terms of magnitude ≤ 1: a few f32 roundings of a sum up to k.
                        assert!(
                            (*g as f64 - w).abs() <= 1e-6 * (1.0 + k as f64),
                            "{m}x{k}x{n} [{i}]: {g} vs {w}"
                        );
                    }
                }
            }
        }
        assert_eq!(
            products_used(),
            blas.description,
            "a product went through the library: reports must say so"
        );
    }

    #[test]
    fn a_linear_layers_rows_depend_on_the_rows_beside_them_and_the_threads_only_within_rounding() {
        let Some(blas) = library() else { return };
        // A bart-base-sized weight goes through the library; a sentence alone must give what it
        // gives in a batch (the server batches unrelated requests), at any thread count, to
        // rounding (not to the bit: see the module's notes).
        let (m, k, n) = (300, 384, 768);
        let (x, w, b) = (values(m * k, 5), values(n * k, 6), values(n, 7));
        let w = Mat::row_major(&w, n, k).t();
        assert!(n * k >= MIN_WEIGHT, "this size takes the library: {}", blas.description);
        let all = linear(&x, m, w, &b);
        for threads in 1..=3 {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a pool");
            for (first, rows) in [(0, 300), (0, 2), (7, 3), (151, 40), (200, 100), (299, 1), (16, 16)] {
                let one = pool.install(|| linear(&x[first * k..(first + rows) * k], rows, w, &b));
                for (i, (a, b)) in one.iter().zip(&all[first * n..(first + rows) * n]).enumerate() {
                    // The same sum in another order: a few roundings of terms up to k in size.
                    let tol = 4.0 * f32::EPSILON * k as f32;
                    assert!(
                        (a - b).abs() <= tol,
                        "rows {first}..+{rows}, {threads} threads, [{i}]: {a} vs {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn small_weights_and_strided_views_are_left_to_gemm() {
        let Some(blas) = library() else { return };
        let data = values(64 * 64, 3);
        let (a, b) = (Mat::row_major(&data, 64, 64), Mat::row_major(&data, 64, 64));
        let mut out = vec![0.0; 64 * 64];
        // SAFETY: `out` holds 64 × 64 elements; the views lie inside `data`.
        assert!(!unsafe { blas.product(out.as_mut_ptr(), a, b, false) }, "64 × 64 weight: gemm's");
        let big = values(512 * 512, 4);
        let strided = Mat { data: &big, rows: 256, cols: 256, rs: 512, cs: 2 };
        let mut out = vec![0.0; 256 * 256];
        // SAFETY: as above, 256 × 256.
        assert!(!unsafe { blas.product(out.as_mut_ptr(), strided, strided, false) }, "no unit stride");
        assert!(out.iter().all(|&v| v == 0.0), "a refused product writes nothing");
    }

    #[test]
    fn the_variable_reads_as_documented() {
        assert_eq!(want(None), Want::Auto);
        assert_eq!(want(Some(" auto ")), Want::Auto);
        assert_eq!(want(Some("")), Want::Auto);
        for off in ["off", "OFF", "0", "none", "gemm"] {
            assert_eq!(want(Some(off)), Want::Off, "{off}");
        }
        assert_eq!(want(Some("/opt/lib/libopenblas.so")), Want::Path("/opt/lib/libopenblas.so".into()));
    }

    #[test]
    fn views_map_to_cblas_operands_or_to_none() {
        let data = [0.0f32; 64];
        assert_eq!(operand(&Mat::row_major(&data, 4, 8)), Some((NO_TRANS, 8)));
        assert_eq!(operand(&Mat::row_major(&data, 8, 4).t()), Some((TRANS, 4)));
        // A row of a wider matrix: the leading dimension is the stride.
        assert_eq!(operand(&Mat { data: &data, rows: 2, cols: 3, rs: 8, cs: 1 }), Some((NO_TRANS, 8)));
        // One row: its stride is never used, the leading dimension only has to cover it.
        assert_eq!(operand(&Mat { data: &data, rows: 1, cols: 5, rs: 0, cs: 1 }), Some((NO_TRANS, 5)));
        // Neither stride 1: gemm's job.
        assert_eq!(operand(&Mat { data: &data, rows: 2, cols: 2, rs: 4, cs: 2 }), None);
    }
}
