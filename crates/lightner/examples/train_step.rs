//! Forward + backward of the bench's bart-base prompt-tuning step, alone, in a loop: the
//! workload to profile (`perf record`) without the random-weight set-up, the forward-only and
//! decoding parts of `lightner bench` in the same samples.
//!
//! `RAYON_NUM_THREADS=T cargo run --release -p lightner --example train_step -- [REPEATS] [MODE]`
//! prints each repeat's forward and backward times in ms (default 10 repeats). MODE says where
//! the step runs, as the CLI's model commands run it:
//! - `inside` (default): on the main thread made the first worker of the rayon pool, as the
//!   CLI's `train`, `predict`, `eval`, `tune` and `bench` do;
//! - `outside`: on a thread outside the pool, every parallel kernel handed over to the pool;
//! - `both`: each repeat once each way, alternately, in one process (a probe of the two).
//!
//! Run it with the CLI's malloc settings for comparable figures:
//! `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=4294967296`.

use burn::optim::GradientsParams;
use burn::tensor::Device;
use lightner::bench::{BenchShape, examples, model};
use lightner::model::LightNer;
use lightner::model::batch::training_batch;
use lightner::tokenize::TokenId;
use std::time::Instant;

fn main() -> lightner::Result<()> {
    let mut args = std::env::args().skip(1);
    let repeats: usize = match args.next() {
        Some(s) => s.parse().unwrap_or_else(|_| panic!("REPEATS must be a number, got {s:?}")),
        None => 10,
    };
    let mode = args.next().unwrap_or_else(|| "inside".into());
    let (inside, outside) = match mode.as_str() {
        "inside" => (true, false),
        "outside" => (false, true),
        "both" => (true, true),
        m => panic!("MODE must be inside, outside or both, got {m:?}"),
    };
    // Inside: the step runs on a worker of `pool` (`install`), as on the CLI's main thread made
    // worker 0 of the global pool. Outside: on the main thread, outside every pool, its kernels
    // handed to the global pool (RAYON_NUM_THREADS threads).
    let pool = rayon::ThreadPoolBuilder::new().build().expect("a pool");
    let shape = BenchShape::bart_base();
    let device = Device::flex().autodiff();
    let m = model(shape, &device)?;
    let batch = training_batch(&examples(shape), TokenId(1), &device);
    let step = || {
        let t = Instant::now();
        let out = m.forward(&batch);
        let loss = LightNer::loss(out.logits, batch.targets.clone(), batch.target_mask.clone());
        let f = t.elapsed().as_secs_f64() * 1e3;
        let _ = GradientsParams::from_grads(loss.backward(), &m.trainable);
        let all = t.elapsed().as_secs_f64() * 1e3;
        (f, all)
    };
    let show = |i: usize, way: &str, (f, all): (f64, f64)| {
        println!("repeat {i} {way}: forward {f:.0} ms, backward {:.0} ms, total {all:.0} ms", all - f);
    };
    for i in 0..repeats {
        if outside {
            show(i, "outside", step());
        }
        if inside {
            show(i, "inside ", pool.install(step));
        }
    }
    Ok(())
}
