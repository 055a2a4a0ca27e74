//! The HTTP API: routes, request checks, limits, authentication and JSON errors. Every error is
//! `{"error": "...", "error_type": "..."}` with a status that says whose fault it is; the model
//! work happens on the worker thread, reached through a bounded queue.

use super::metrics::Metrics;
use super::registry::PackInfo;
use super::worker::{Input, Job, JobError, Shared};
use axum::extract::rejection::JsonRejection;
use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lightner::pipeline::Entity;
use serde::{Deserialize, Serialize};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Limits of one server, shown at `GET /info`.
#[derive(Debug, Clone, Serialize)]
pub struct Limits {
    /// Texts (or token lists) per request.
    pub max_texts: usize,
    /// Characters per text.
    pub max_chars: usize,
    /// Bytes of a request body.
    pub max_body_bytes: usize,
    /// Requests waiting for the model.
    pub queue: usize,
    /// Seconds a request may wait for its result.
    pub timeout_secs: u64,
    /// Beams a request may ask for.
    pub max_beams: usize,
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The worker's queue.
    pub jobs: SyncSender<Job>,
    /// What the worker publishes.
    pub shared: Arc<RwLock<Shared>>,
    /// The limits.
    pub limits: Limits,
    /// `Authorization: Bearer` key, when one is required.
    pub api_key: Option<Arc<str>>,
    /// The packs folder, for `/info`.
    pub packs_dir: String,
    /// What `/metrics` reports.
    pub metrics: Arc<Metrics>,
}

/// An error response.
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self { status, kind, message: message.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({ "error": self.message, "error_type": self.kind }));
        let mut r = (self.status, body).into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        r
    }
}

/// The routes, with authentication on all but `/health` and the page (static HTML that holds
/// nothing; the key is typed into it and sent with each of its calls).
pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .route("/ready", get(ready))
        .route("/info", get(info))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/v1/packs", get(packs))
        .route("/v1/packs/reload", post(reload))
        .route("/v1/entities", post(entities))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth));
    Router::new()
        .route("/health", get(health))
        .route("/", get(page))
        .merge(protected)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(super::bom::strip_json_bom))
        .layer(axum::middleware::from_fn_with_state(state.clone(), count))
        .layer(axum::extract::DefaultBodyLimit::max(state.limits.max_body_bytes))
        .with_state(state)
}

/// Counts every answer by route pattern and status (other paths as `unmatched`, so that a
/// scanner trying paths cannot grow the metrics).
async fn count(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route =
        request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_string();
    let response = next.run(request).await;
    state.metrics.request(&route, response.status().as_u16());
    response
}

async fn auth(State(state): State<AppState>, headers: HeaderMap, request: Request, next: Next) -> Response {
    if let Some(key) = &state.api_key {
        let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let ok = given.and_then(|v| v.strip_prefix("Bearer ")).is_some_and(|k| constant_time_eq(k, key));
        if !ok {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this server needs `Authorization: Bearer <key>` (the key given to --api-key)",
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// Compares without stopping at the first difference (no timing hint about the key).
fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A known route asked with another method: the JSON error every other failure has (axum's own
/// 405 has an empty body); axum adds the `Allow` header with the methods the route takes.
async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not take {method}; its Allow header lists the methods it does", uri.path()),
    )
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route; see GET /info and docs/serving.md")
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn ready(State(state): State<AppState>) -> Response {
    let ready = state.shared.read().map(|s| s.ready).unwrap_or(false);
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(serde_json::json!({ "ready": ready }))).into_response()
}

async fn info(State(state): State<AppState>) -> Json<serde_json::Value> {
    let backbones = state.shared.read().map(|s| s.backbones.clone()).unwrap_or_default();
    Json(serde_json::json!({
        "name": "lightner",
        "version": env!("CARGO_PKG_VERSION"),
        "packs_dir": state.packs_dir,
        "backbones": backbones,
        "limits": state.limits,
        "auth": state.api_key.is_some(),
    }))
}

async fn metrics(State(state): State<AppState>) -> Response {
    let headers = [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")];
    (headers, state.metrics.render()).into_response()
}

/// The OpenAPI 3.1 description of every route.
async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("openapi.json")).into_response()
}

async fn packs(State(state): State<AppState>) -> Json<Vec<PackInfo>> {
    Json(state.shared.read().map(|s| s.packs.clone()).unwrap_or_default())
}

async fn reload(State(state): State<AppState>) -> Result<Json<Vec<PackInfo>>, ApiError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    submit(&state, Job::Reload { reply: tx })?;
    await_reply(&state, rx).await.map(Json)
}

/// `POST /v1/entities`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntitiesRequest {
    /// The pack's name.
    pack: String,
    /// One text.
    text: Option<String>,
    /// Several texts.
    texts: Option<Vec<String>>,
    /// Pre-tokenized sentences.
    tokens: Option<Vec<Vec<String>>>,
    /// Decoding options.
    #[serde(default)]
    options: Options,
}

/// Per-request options.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    num_beams: Option<usize>,
    min_score: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub struct FormatQuery {
    format: Option<String>,
}

#[derive(Serialize)]
struct TextResult {
    entities: Vec<Entity>,
}

async fn entities(
    State(state): State<AppState>,
    Query(query): Query<FormatQuery>,
    body: Result<Json<EntitiesRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let started = Instant::now();
    let Json(req) = body.map_err(|r| {
        let kind = match r.status() {
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::UNPROCESSABLE_ENTITY => "validation",
            _ => "bad_request",
        };
        ApiError::new(r.status(), kind, r.body_text())
    })?;
    let displacy = match query.format.as_deref() {
        None | Some("json") => false,
        Some("displacy") => true,
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("format {other:?}: use json (default) or displacy"),
            ));
        }
    };
    let input = input(&req, &state.limits)?;
    let min_score = req.options.min_score.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&min_score) {
        return Err(validation("options.min_score must be in [0, 1]"));
    }
    if let Some(b) = req.options.num_beams
        && !(1..=state.limits.max_beams).contains(&b)
    {
        return Err(validation(format!("options.num_beams must be in [1, {}]", state.limits.max_beams)));
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let texts = match &input {
        Input::Texts(t) => t.clone(),
        Input::Tokens(t) => t.iter().map(|w| w.join(" ")).collect(),
    };
    submit(&state, Job::Tag { pack: req.pack.clone(), input, beams: req.options.num_beams, reply: tx })?;
    let results = await_reply(&state, rx).await?.map_err(|e| match e {
        JobError::NotFound(p) => ApiError::new(
            StatusCode::NOT_FOUND,
            "pack_not_found",
            format!("no pack named {p:?}; GET /v1/packs lists them"),
        ),
        JobError::Unavailable(r) => ApiError::new(
            StatusCode::FAILED_DEPENDENCY,
            "pack_unavailable",
            format!("pack {:?} is not loaded: {r}", req.pack),
        ),
        JobError::BadInput(m) => validation(m),
        JobError::Failed(m) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", m),
    })?;
    state.metrics.entities_latency(&req.pack, started.elapsed());
    let results: Vec<Vec<Entity>> =
        results.into_iter().map(|es| es.into_iter().filter(|e| e.score >= min_score).collect()).collect();
    if displacy {
        let docs: Vec<serde_json::Value> = texts
            .iter()
            .zip(&results)
            .map(|(t, es)| {
                let ents: Vec<serde_json::Value> = es
                    .iter()
                    .map(|e| serde_json::json!({ "start": e.start, "end": e.end, "label": e.label }))
                    .collect();
                serde_json::json!({ "text": t, "ents": ents })
            })
            .collect();
        return Ok(Json(serde_json::Value::Array(docs)));
    }
    let results: Vec<TextResult> = results.into_iter().map(|entities| TextResult { entities }).collect();
    Ok(Json(serde_json::json!({ "pack": req.pack, "results": results })))
}

fn validation(msg: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", msg)
}

/// The request's input, checked against the limits: exactly one of `text`, `texts`, `tokens`.
fn input(req: &EntitiesRequest, limits: &Limits) -> Result<Input, ApiError> {
    let input = match (&req.text, &req.texts, &req.tokens) {
        (Some(t), None, None) => Input::Texts(vec![t.clone()]),
        (None, Some(t), None) => Input::Texts(t.clone()),
        (None, None, Some(t)) => Input::Tokens(t.clone()),
        _ => return Err(validation("give exactly one of `text`, `texts` or `tokens`")),
    };
    let (n, longest) = match &input {
        Input::Texts(t) => (t.len(), t.iter().map(|x| x.chars().count()).max().unwrap_or(0)),
        Input::Tokens(t) => {
            (t.len(), t.iter().map(|w| w.iter().map(|x| x.chars().count() + 1).sum()).max().unwrap_or(0))
        }
    };
    if n == 0 {
        return Err(validation("no texts to tag"));
    }
    if n > limits.max_texts {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("{n} texts; at most {} per request", limits.max_texts),
        ));
    }
    if longest > limits.max_chars {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("a text of {longest} characters; at most {} per text", limits.max_chars),
        ));
    }
    Ok(input)
}

/// Queues a job, or answers 429 when the queue is full (503 when the worker is gone).
fn submit(state: &AppState, job: Job) -> Result<(), ApiError> {
    // Counted before sending: the model thread may take the job (and count it out) at once.
    state.metrics.queued();
    let sent = state.jobs.try_send(job);
    if sent.is_err() {
        state.metrics.dequeued();
    }
    match sent {
        Ok(()) => Ok(()),
        Err(TrySendError::Full(_)) => Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "overloaded",
            format!("{} requests are already waiting; retry in a moment", state.limits.queue),
        )),
        Err(TrySendError::Disconnected(_)) => {
            Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the model worker has stopped"))
        }
    }
}

async fn await_reply<T>(state: &AppState, rx: tokio::sync::oneshot::Receiver<T>) -> Result<T, ApiError> {
    match tokio::time::timeout(Duration::from_secs(state.limits.timeout_secs), rx).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(_)) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the model worker dropped the request",
        )),
        Err(_) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!("no result within {} s; the server is busy", state.limits.timeout_secs),
        )),
    }
}

async fn page() -> Html<&'static str> {
    Html(include_str!("page.html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(jobs: SyncSender<Job>) -> AppState {
        let limits =
            Limits { max_texts: 1, max_chars: 1, max_body_bytes: 1, queue: 0, timeout_secs: 1, max_beams: 1 };
        AppState {
            jobs,
            shared: Arc::default(),
            limits,
            api_key: None,
            packs_dir: String::new(),
            metrics: Arc::default(),
        }
    }

    #[test]
    fn a_full_queue_answers_429_with_retry_after_and_a_gone_worker_503() {
        let (tx, rx) = std::sync::mpsc::sync_channel(0);
        let (reply, _) = tokio::sync::oneshot::channel();
        let r = submit(&state(tx.clone()), Job::Reload { reply }).unwrap_err().into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers().get(header::RETRY_AFTER).unwrap(), "1");
        drop(rx);
        let (reply, _) = tokio::sync::oneshot::channel();
        let r = submit(&state(tx), Job::Reload { reply }).unwrap_err().into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn keys_compare_whole() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(
            !constant_time_eq("abc", "abd") && !constant_time_eq("abc", "ab") && !constant_time_eq("", "a")
        );
    }
}
