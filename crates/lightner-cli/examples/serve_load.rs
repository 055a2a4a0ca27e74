//! A load generator for `lightner serve`, loopback only: `--concurrency` clients each send one
//! text per `POST /v1/entities` (texts from `--input`, one per line, reused in turn) until
//! `--requests` are answered or `--max-secs` pass. Prints a line per run: texts per second,
//! latency percentiles, and the count of each status; with `--json`, a JSON object instead.
//!
//!   cargo run --release -p lightner-cli --example serve_load -- \
//!     --addr 127.0.0.1:8080 --pack movie --input texts.txt --concurrency 8 --requests 512
//!
//! `bench/serve-load.sh` runs it at several concurrencies beside `lightner predict`.

use anyhow::{Context, bail};
use clap::Parser;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser)]
struct Args {
    /// The server (a loopback address: this tool never loads another machine).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// The pack to ask.
    #[arg(long)]
    pack: String,
    /// Texts, one per line.
    #[arg(long)]
    input: PathBuf,
    /// Clients sending at once.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Requests in all.
    #[arg(long, default_value_t = 256)]
    requests: usize,
    /// Stop sending after this many seconds.
    #[arg(long, default_value_t = 120)]
    max_secs: u64,
    /// `Authorization: Bearer` key.
    #[arg(long)]
    api_key: Option<String>,
    /// Print a JSON object instead of a line.
    #[arg(long)]
    json: bool,
}

/// One answered request: its status and how long it took.
struct Answer {
    status: u16,
    took: Duration,
}

/// One `POST /v1/entities` on a fresh connection (`Connection: close`).
async fn post(addr: SocketAddr, body: &str, key: Option<&str>) -> anyhow::Result<u16> {
    let mut stream = TcpStream::connect(addr).await?;
    let auth = key.map(|k| format!("Authorization: Bearer {k}\r\n")).unwrap_or_default();
    let head = format!(
        "POST /v1/entities HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let line = raw.split(|&b| b == b'\r').next().unwrap_or_default();
    let status = std::str::from_utf8(line)?.split_whitespace().nth(1).context("no status line")?.parse()?;
    Ok(status)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.addr.ip().is_loopback() {
        bail!("--addr {}: this load generator only talks to loopback addresses", args.addr);
    }
    let texts: Vec<String> = std::fs::read_to_string(&args.input)
        .with_context(|| format!("reading {}", args.input.display()))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect();
    if texts.is_empty() {
        bail!("{}: no texts", args.input.display());
    }
    let bodies: Arc<Vec<String>> = Arc::new(
        texts.iter().map(|t| serde_json::json!({"pack": args.pack, "text": t}).to_string()).collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.max_secs);
    let key: Option<Arc<str>> = args.api_key.as_deref().map(Arc::from);
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let (bodies, next, key) = (Arc::clone(&bodies), Arc::clone(&next), key.clone());
        let (addr, requests) = (args.addr, args.requests);
        clients.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests || Instant::now() >= deadline {
                    break;
                }
                let t = Instant::now();
                let status = post(addr, &bodies[i % bodies.len()], key.as_deref()).await.unwrap_or(0);
                answers.push(Answer { status, took: t.elapsed() });
            }
            answers
        }));
    }
    let mut answers = Vec::new();
    for c in clients {
        answers.extend(c.await?);
    }
    let wall = started.elapsed().as_secs_f64();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for a in &answers {
        *statuses.entry(a.status).or_default() += 1;
    }
    let mut ok: Vec<Duration> = answers.iter().filter(|a| a.status == 200).map(|a| a.took).collect();
    ok.sort();
    let per_sec = ok.len() as f64 / wall;
    let (p50, p99) = (percentile(&ok, 0.5), percentile(&ok, 0.99));
    if args.json {
        let statuses: BTreeMap<String, usize> = statuses.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let v = serde_json::json!({
            "concurrency": args.concurrency, "requests": answers.len(), "seconds": wall,
            "texts_per_sec": per_sec, "p50_ms": p50, "p99_ms": p99, "statuses": statuses,
        });
        println!("{v}");
    } else {
        let st: Vec<String> = statuses.iter().map(|(k, v)| format!("{k}×{v}")).collect();
        println!(
            "c={:<3} {} requests in {wall:.1} s: {per_sec:.1} texts/s, p50 {p50:.0} ms, p99 {p99:.0} ms; status {} (0: no answer)",
            args.concurrency,
            answers.len(),
            st.join(" ")
        );
    }
    Ok(())
}
