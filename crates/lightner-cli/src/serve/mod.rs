//! `lightner serve`: one process, many prompt packs over shared backbones, an HTTP API. The
//! models live with the model threads fed by a bounded queue ([`worker`]); the HTTP side
//! ([`api`], axum on tokio) only checks requests and waits for answers. Ctrl-C or SIGTERM stops
//! accepting, lets requests in flight finish, and exits 0.

mod api;
mod bom;
mod metrics;
mod registry;
mod worker;

use crate::cli::{GlobalArgs, ServeArgs};
use anyhow::Context;
use std::io::Write;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Runs the server until a shutdown signal.
pub fn run(global: &GlobalArgs, args: &ServeArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if !args.packs.is_dir() {
        anyhow::bail!(
            "--packs {}: not a folder; give the folder whose sub-folders are packs",
            args.packs.display()
        );
    }
    crate::commands::set_pool_threads(global)?;
    let device = lightner::model::device::device(&global.device)?;
    let api_key =
        args.api_key.clone().or_else(|| std::env::var("LIGHTNER_API_KEY").ok().filter(|k| !k.is_empty()));
    let limits = api::Limits {
        max_texts: args.max_texts,
        max_chars: args.max_chars,
        max_body_bytes: args.max_body_bytes,
        queue: args.queue,
        timeout_secs: args.timeout_secs,
        max_beams: 16,
    };
    let (tx, rx) = std::sync::mpsc::sync_channel(args.queue);
    let shared = Arc::new(RwLock::new(worker::Shared::default()));
    let metrics = Arc::new(metrics::Metrics::default());
    let registry = registry::Registry::new(args.packs.clone(), args.model.clone(), device);
    let cfg = worker::WorkerConfig {
        scan_every: Duration::from_secs_f64(args.scan_secs),
        batch_window: Duration::from_millis(args.batch_window_ms),
        max_batch_jobs: 64,
        quiet: global.quiet,
    };
    // The packs found at start are loaded (or listed as unavailable) before the port opens, so
    // that "listening" means ready.
    let pool = worker::Pool::start(registry, rx, Arc::clone(&shared), Arc::clone(&metrics), cfg);
    let workers = (0..args.workers)
        .map(|i| {
            let pool = Arc::clone(&pool);
            std::thread::Builder::new()
                .name(format!("lightner-model-{i}"))
                .spawn(move || worker::run(&pool))
                .context("starting a model thread")
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let state = api::AppState {
        jobs: tx,
        shared,
        limits,
        api_key: api_key.map(Arc::from),
        packs_dir: args.packs.display().to_string(),
        metrics,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("cannot listen on {}", args.addr))?;
        let addr = listener.local_addr()?;
        writeln!(out, "listening on http://{addr}")?;
        out.flush()?;
        if !global.quiet {
            // Which library multiplies (a system OpenBLAS or the built-in products) sets the pace.
            eprintln!("matrix products: {}", lightner::model::kernels::blas::status());
        }
        if !addr.ip().is_loopback() && state.api_key.is_none() && !global.quiet {
            eprintln!("warning: listening on {addr} without --api-key: anyone who can reach it can use it");
        }
        axum::serve(listener, api::router(state)).with_graceful_shutdown(shutdown_signal()).await?;
        anyhow::Ok(())
    })?;
    // The router (and with it the queue's sender) is gone: the workers finish and return.
    for w in workers {
        let _ = w.join();
    }
    if !global.quiet {
        eprintln!("stopped");
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
