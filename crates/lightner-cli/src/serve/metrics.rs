//! `GET /metrics`: what the server has done, in the Prometheus text format (OpenMetrics 1.0,
//! which Prometheus scrapes natively). Counters only grow; rates (sentences or tokens per second)
//! are `rate(...)` over them, as Prometheus intends. Label values are bounded: routes are the
//! router's own patterns, packs are names the scan found.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteStatus {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PackLabel {
    pack: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: &'static str,
}

type Seconds = Counter<f64, AtomicU64>;

/// Latency buckets: 1 ms to about 65 s, doubling.
fn latency_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// The server's metrics, shared by the HTTP side and the model thread.
pub struct Metrics {
    registry: Registry,
    requests: Family<RouteStatus, Counter>,
    request_seconds: Family<PackLabel, Histogram, fn() -> Histogram>,
    queue_depth: Gauge,
    batch_sentences: Histogram,
    batch_requests: Histogram,
    sentences: Family<PackLabel, Counter>,
    tokens: Family<PackLabel, Counter>,
    model_seconds: Family<PackLabel, Seconds>,
    packs: Family<StatusLabel, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("lightner");
        let requests = Family::<RouteStatus, Counter>::default();
        registry.register("http_requests", "HTTP requests answered, by route and status", requests.clone());
        let request_seconds =
            Family::<PackLabel, Histogram, fn() -> Histogram>::new_with_constructor(latency_buckets);
        registry.register(
            "entities_request_seconds",
            "Time from receiving a POST /v1/entities to answering it, by pack (answered requests)",
            request_seconds.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register("queue_depth", "Requests waiting for the model thread", queue_depth.clone());
        let batch_sentences = Histogram::new(exponential_buckets(1.0, 2.0, 13));
        registry.register(
            "batch_sentences",
            "Sentences decoded together in one model call",
            batch_sentences.clone(),
        );
        let batch_requests = Histogram::new(exponential_buckets(1.0, 2.0, 8));
        registry.register(
            "batch_requests",
            "Requests whose sentences were decoded together in one model call",
            batch_requests.clone(),
        );
        let sentences = Family::<PackLabel, Counter>::default();
        registry.register("sentences", "Sentences tagged, by pack", sentences.clone());
        let tokens = Family::<PackLabel, Counter>::default();
        registry.register("tokens", "Words (tokens of the input) tagged, by pack", tokens.clone());
        let model_seconds = Family::<PackLabel, Seconds>::default();
        registry.register(
            "model_seconds",
            "Seconds the model thread spent tagging, by pack",
            model_seconds.clone(),
        );
        let packs = Family::<StatusLabel, Gauge>::default();
        registry.register(
            "packs",
            "Packs in the packs folder, by status (ready, unavailable)",
            packs.clone(),
        );
        Self {
            registry,
            requests,
            request_seconds,
            queue_depth,
            batch_sentences,
            batch_requests,
            sentences,
            tokens,
            model_seconds,
            packs,
        }
    }
}

impl Metrics {
    /// Counts an answered request. `route` is the router's pattern (`unmatched` for others).
    pub fn request(&self, route: &str, status: u16) {
        self.requests.get_or_create(&RouteStatus { route: route.to_string(), status }).inc();
    }

    /// Records how long an answered `POST /v1/entities` on `pack` took.
    pub fn entities_latency(&self, pack: &str, took: Duration) {
        self.request_seconds.get_or_create(&PackLabel { pack: pack.to_string() }).observe(took.as_secs_f64());
    }

    /// A job entered the queue.
    pub fn queued(&self) {
        self.queue_depth.inc();
    }

    /// A job left the queue (taken by the model thread, or refused at the door).
    pub fn dequeued(&self) {
        self.queue_depth.dec();
    }

    /// Records one model call: `requests` requests, `sentences` sentences of `tokens` words.
    pub fn batch(&self, pack: &str, requests: usize, sentences: usize, tokens: usize, took: Duration) {
        let label = PackLabel { pack: pack.to_string() };
        self.batch_requests.observe(requests as f64);
        self.batch_sentences.observe(sentences as f64);
        self.sentences.get_or_create(&label).inc_by(sentences as u64);
        self.tokens.get_or_create(&label).inc_by(tokens as u64);
        self.model_seconds.get_or_create(&label).inc_by(took.as_secs_f64());
    }

    /// Sets the count of packs by status after a scan.
    pub fn packs(&self, ready: usize, unavailable: usize) {
        self.packs.get_or_create(&StatusLabel { status: "ready" }).set(ready as i64);
        self.packs.get_or_create(&StatusLabel { status: "unavailable" }).set(unavailable as i64);
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_every_metric_with_its_labels() {
        let m = Metrics::default();
        m.request("/v1/entities", 200);
        m.request("/v1/entities", 200);
        m.request("unmatched", 404);
        m.entities_latency("movie", Duration::from_millis(3));
        m.queued();
        m.queued();
        m.dequeued();
        m.batch("movie", 2, 5, 40, Duration::from_millis(20));
        m.packs(2, 1);
        let text = m.render();
        for line in [
            "lightner_http_requests_total{route=\"/v1/entities\",status=\"200\"} 2",
            "lightner_http_requests_total{route=\"unmatched\",status=\"404\"} 1",
            "lightner_entities_request_seconds_count{pack=\"movie\"} 1",
            "lightner_entities_request_seconds_bucket{le=\"0.004\",pack=\"movie\"} 1",
            "lightner_queue_depth 1",
            "lightner_batch_sentences_sum 5.0",
            "lightner_batch_requests_count 1",
            "lightner_sentences_total{pack=\"movie\"} 5",
            "lightner_tokens_total{pack=\"movie\"} 40",
            "lightner_model_seconds_total{pack=\"movie\"} 0.02",
            "lightner_packs{status=\"ready\"} 2",
            "lightner_packs{status=\"unavailable\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
