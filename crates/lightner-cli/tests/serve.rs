//! `lightner serve` as a client sees it: the real binary on a loopback port, two packs over one
//! tiny backbone plus a broken one; every route, the error statuses, authentication, hot reload
//! (add, replace with a corrupt pack, remove) and a shutdown that lets a request in flight
//! finish. Results must equal `lightner predict` on the same texts.

mod common;

use common::{bin, movie, run, s, tiny_args};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};

/// A server process and its address; killed when dropped (a failed test leaves nothing behind).
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(packs: &Path, extra: &[&str]) -> Server {
    let mut args = vec![
        "-q",
        "--threads",
        "1",
        "serve",
        "--packs",
        s(packs),
        "--addr",
        "127.0.0.1:0",
        "--scan-secs",
        "0.2",
    ];
    args.extend_from_slice(extra);
    let mut child =
        bin().args(&args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("start server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr =
        line.trim().strip_prefix("listening on http://").unwrap_or_else(|| panic!("{line:?}")).to_string();
    Server { child, addr }
}

/// An HTTP/1.1 request (`Connection: close`, a JSON body when given).
fn request(addr: &str, method: &str, path: &str, body: Option<&str>, headers: &[(&str, &str)]) -> String {
    let body = body.unwrap_or("");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    req
}

/// One HTTP/1.1 exchange: (status, JSON body or the body as a string).
fn http(addr: &str, method: &str, path: &str, body: Option<&str>, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let req = request(addr, method, path, body, headers);
    stream.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let v = serde_json::from_str(rest).unwrap_or_else(|_| Value::String(rest.to_string()));
    (status, v)
}

fn post(addr: &str, body: &Value) -> (u16, Value) {
    http(addr, "POST", "/v1/entities", Some(&body.to_string()), &[])
}

/// A tiny backbone and a pack trained on it, in `dir`.
fn trained_pack(dir: &Path) -> std::path::PathBuf {
    trained_pack_on(dir, "0")
}

/// A tiny backbone drawn with `seed` and a pack trained on it, in `dir`.
fn trained_pack_on(dir: &Path, seed: &str) -> std::path::PathBuf {
    let (train, _) = movie(dir, 12);
    let tiny = dir.join(format!("tiny{seed}"));
    run(&["init-tiny", "--out", s(&tiny), "--vocab-from", s(&train), "--seed", seed]);
    let pack = dir.join(format!("trained{seed}.pack"));
    let mut args = tiny_args("train", s(&tiny), s(&train), "mit-movie", s(&pack), "20");
    args.push("--no-dropout");
    run(&args);
    pack
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

const TEXTS: [&str; 3] = [
    "show me films with tom hanks from the nineties",
    "Who directed Jaws? It was Spielberg.",
    "what movies star harrison ford",
];

#[test]
fn the_server_answers_every_route_as_documented() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = trained_pack(tmp.path());
    let packs = tmp.path().join("packs");
    copy_dir(&pack, &packs.join("movie"));
    copy_dir(&pack, &packs.join("movie2"));
    std::fs::create_dir_all(packs.join("broken")).unwrap();
    std::fs::write(packs.join("broken/manifest.json"), "{").unwrap();
    let server = start(&packs, &["--max-texts", "4"]);
    let a = server.addr.as_str();

    assert_eq!(http(a, "GET", "/health", None, &[]), (200, json!({"status": "ok"})));
    assert_eq!(http(a, "GET", "/ready", None, &[]).0, 200);
    let (st, info) = http(a, "GET", "/info", None, &[]);
    assert_eq!(st, 200);
    assert_eq!(info["limits"]["max_texts"], 4);
    assert_eq!(info["backbones"].as_array().unwrap().len(), 1, "two packs, one backbone: {info}");
    let (_, list) = http(a, "GET", "/v1/packs", None, &[]);
    let status: Vec<(String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap().to_string(), p["status"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        status,
        [
            ("broken".into(), "unavailable".into()),
            ("movie".into(), "ready".into()),
            ("movie2".into(), "ready".into())
        ]
    );

    // Results equal `lightner predict` on the same texts.
    let input = tmp.path().join("texts.txt");
    std::fs::write(&input, TEXTS.join("\n") + "\n").unwrap();
    let o = run(&["-q", "predict", "--pack", s(&packs.join("movie")), "--input", s(&input)]);
    let want: Vec<Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["entities"].clone())
        .collect();
    let (st, got) = post(a, &json!({"pack": "movie", "texts": TEXTS}));
    assert_eq!(st, 200, "{got}");
    let got: Vec<Value> = got["results"].as_array().unwrap().iter().map(|r| r["entities"].clone()).collect();
    assert_eq!(got, want);
    assert!(
        got.iter().any(|e| !e.as_array().unwrap().is_empty()),
        "no entities at all: the comparison shows little"
    );
    let (_, one) = post(a, &json!({"pack": "movie2", "text": TEXTS[0]}));
    assert_eq!(one["results"][0]["entities"], want[0]);
    // A body saved with a UTF-8 byte-order mark (RFC 8259 lets a parser ignore it), whole or
    // chunked with the mark in a chunk of its own: the same answer.
    let body = json!({"pack": "movie", "text": TEXTS[0]}).to_string();
    let (st, v) = http(a, "POST", "/v1/entities", Some(&format!("\u{feff}{body}")), &[]);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["results"][0]["entities"], want[0]);
    let (head, tail) = body.split_at(5);
    let chunked = format!(
        "POST /v1/entities HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\n\r\n3\r\n\u{feff}\r\n{:x}\r\n{head}\r\n{:x}\r\n{tail}\r\n0\r\n\r\n",
        head.len(),
        tail.len()
    );
    let mut stream = TcpStream::connect(a).unwrap();
    stream.write_all(chunked.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (status, rest) = raw.split_once("\r\n\r\n").unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{raw}");
    let v: Value = serde_json::from_str(rest).unwrap();
    assert_eq!(v["results"][0]["entities"], want[0]);
    let (st, d) = http(
        a,
        "POST",
        "/v1/entities?format=displacy",
        Some(&json!({"pack": "movie", "text": TEXTS[0]}).to_string()),
        &[],
    );
    assert_eq!(st, 200);
    assert_eq!(d[0]["text"], TEXTS[0]);
    assert_eq!(d[0]["ents"].as_array().unwrap().len(), want[0].as_array().unwrap().len());
    let (st, t) = post(
        a,
        &json!({"pack": "movie", "tokens": [["tom", "hanks", "films"]], "options": {"num_beams": 2, "min_score": 0.0}}),
    );
    assert_eq!(st, 200, "{t}");

    // Errors: status and error_type.
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"pack": "nope", "text": "x"}), 404, "pack_not_found"),
        (json!({"pack": "broken", "text": "x"}), 424, "pack_unavailable"),
        (json!({"pack": "movie", "texts": ["a", "b", "c", "d", "e"]}), 413, "payload_too_large"),
        (json!({"pack": "movie", "txt": "a"}), 422, "validation"),
        (json!({"pack": "movie", "text": "a", "texts": ["b"]}), 422, "validation"),
        (json!({"pack": "movie", "texts": []}), 422, "validation"),
        (json!({"pack": "movie", "tokens": [["new york"]]}), 422, "validation"),
        (json!({"pack": "movie", "text": "a", "options": {"num_beams": 0}}), 422, "validation"),
        (json!({"pack": "../movie", "text": "a"}), 404, "pack_not_found"),
    ];
    for (body, status, kind) in cases {
        let (st, v) = post(a, &body);
        assert_eq!((st, v["error_type"].as_str()), (status, Some(kind)), "{body}: {v}");
        assert!(v["error"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (st, v) = http(a, "POST", "/v1/entities", Some("{\"pack\": "), &[]);
    assert_eq!((st, v["error_type"].as_str()), (400, Some("bad_request")));
    let (st, v) = http(a, "GET", "/nowhere", None, &[]);
    assert_eq!((st, v["error_type"].as_str()), (404, Some("not_found")));
    let (st, page) = http(a, "GET", "/", None, &[]);
    assert!(st == 200 && page.as_str().is_some_and(|p| p.contains("/v1/entities")));

    // Hot reload: a new pack, a pack replaced by a corrupt one, a pack removed.
    copy_dir(&pack, &packs.join("added"));
    std::fs::write(packs.join("movie2/manifest.json"), "not json").unwrap();
    std::fs::remove_dir_all(packs.join("broken")).unwrap();
    let (st, list) = http(a, "POST", "/v1/packs/reload", None, &[]);
    assert_eq!(st, 200);
    let names: Vec<(&str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["status"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("added", "ready"), ("movie", "ready"), ("movie2", "unavailable")]);
    assert_eq!(post(a, &json!({"pack": "added", "text": TEXTS[0]})).1["results"][0]["entities"], want[0]);
    assert_eq!(post(a, &json!({"pack": "movie2", "text": "x"})).0, 424);
}

#[test]
fn a_key_guards_every_route_but_health_and_shutdown_finishes_what_is_in_flight() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = trained_pack(tmp.path());
    let packs = tmp.path().join("packs");
    copy_dir(&pack, &packs.join("movie"));
    let mut server = start(&packs, &["--api-key", "s3cret"]);
    let a = server.addr.clone();
    assert_eq!(http(&a, "GET", "/health", None, &[]).0, 200);
    assert_eq!(http(&a, "GET", "/", None, &[]).0, 200, "the page holds nothing and asks for the key");
    for (path, method) in [
        ("/v1/packs", "GET"),
        ("/info", "GET"),
        ("/ready", "GET"),
        ("/metrics", "GET"),
        ("/openapi.json", "GET"),
        ("/v1/packs/reload", "POST"),
    ] {
        let (st, v) = http(&a, method, path, None, &[]);
        assert_eq!((st, v["error_type"].as_str()), (401, Some("unauthorized")), "{path}");
    }
    assert_eq!(http(&a, "GET", "/v1/packs", None, &[("Authorization", "Bearer wrong")]).0, 401);
    assert_eq!(http(&a, "GET", "/v1/packs", None, &[("Authorization", "Bearer s3cret")]).0, 200);

    // A request in flight when SIGTERM arrives is answered; then the process exits 0.
    let body = json!({"pack": "movie", "texts": TEXTS}).to_string();
    let mut stream = TcpStream::connect(&a).unwrap();
    let req = request(&a, "POST", "/v1/entities", Some(&body), &[("Authorization", "Bearer s3cret")]);
    stream.write_all(req.as_bytes()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    let status = server.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

/// The entities `lightner predict` finds in `texts` with `pack`, one list per text.
fn predicted(dir: &Path, pack: &Path, texts: &[&str]) -> Vec<Value> {
    let input = dir.join("texts.txt");
    std::fs::write(&input, texts.join("\n") + "\n").unwrap();
    let o = run(&["-q", "predict", "--pack", s(pack), "--input", s(&input)]);
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["entities"].clone())
        .collect()
}

/// The value of the sample `name` (a whole line up to the value) in a metrics exposition.
fn sample(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
        .parse()
        .unwrap()
}

#[test]
fn packs_over_two_backbones_each_answer_as_predict_and_the_server_reports_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let pack_a = trained_pack_on(tmp.path(), "0");
    let pack_b = trained_pack_on(tmp.path(), "7");
    let packs = tmp.path().join("packs");
    copy_dir(&pack_a, &packs.join("a1"));
    copy_dir(&pack_a, &packs.join("a2"));
    copy_dir(&pack_b, &packs.join("b"));
    // A pack that names a copy of backbone A elsewhere (moved since, say) shares A by its hash,
    // though it is scanned before any pack that opens A.
    copy_dir(&pack_a, &packs.join("a0"));
    let manifest = packs.join("a0/manifest.json");
    let mut m: Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    m["backbone"]["id"] = json!("/moved/elsewhere/tiny0");
    std::fs::write(&manifest, serde_json::to_string_pretty(&m).unwrap()).unwrap();
    // Two model threads: results must not depend on which one tags a request.
    let server = start(&packs, &["--workers", "2"]);
    let a = server.addr.as_str();

    let (_, info) = http(a, "GET", "/info", None, &[]);
    let backbones = info["backbones"].as_array().unwrap();
    assert_eq!(backbones.len(), 2, "four packs over two backbones: {info}");
    let (_, list) = http(a, "GET", "/v1/packs", None, &[]);
    let on: Vec<&str> = list.as_array().unwrap().iter().map(|p| p["backbone"].as_str().unwrap()).collect();
    assert!(on[0] == on[1] && on[1] == on[2] && on[0] != on[3], "{list}");

    let want_a = predicted(tmp.path(), &pack_a, &TEXTS);
    let want_b = predicted(tmp.path(), &pack_b, &TEXTS);
    for (name, want) in [("a0", &want_a), ("a1", &want_a), ("a2", &want_a), ("b", &want_b)] {
        let (st, got) = post(a, &json!({"pack": name, "texts": TEXTS}));
        assert_eq!(st, 200, "{got}");
        let got: Vec<Value> =
            got["results"].as_array().unwrap().iter().map(|r| r["entities"].clone()).collect();
        assert_eq!(&got, want, "pack {name}");
    }
    assert_ne!(want_a, want_b, "the two backbones tag alike: the comparison shows little");
    assert_eq!(post(a, &json!({"pack": "nope", "text": "x"})).0, 404);
    // A route asked with a method it does not take: a JSON error too, not axum's empty 405.
    let (st, v) = http(a, "GET", "/v1/entities", None, &[]);
    assert_eq!((st, &v["error_type"]), (405, &json!("method_not_allowed")), "{v}");

    // /metrics counts what happened.
    let (st, m) = http(a, "GET", "/metrics", None, &[]);
    assert_eq!(st, 200);
    let m = m.as_str().unwrap().to_string();
    assert_eq!(sample(&m, "lightner_http_requests_total{route=\"/v1/entities\",status=\"200\"}"), 4.0);
    assert_eq!(sample(&m, "lightner_http_requests_total{route=\"/v1/entities\",status=\"404\"}"), 1.0);
    assert_eq!(sample(&m, "lightner_http_requests_total{route=\"/info\",status=\"200\"}"), 1.0);
    let sentences_a1 = sample(&m, "lightner_sentences_total{pack=\"a1\"}");
    assert!(sentences_a1 >= TEXTS.len() as f64, "{m}");
    assert_eq!(sample(&m, "lightner_sentences_total{pack=\"b\"}"), sentences_a1);
    assert_eq!(sample(&m, "lightner_entities_request_seconds_count{pack=\"b\"}"), 1.0);
    assert_eq!(sample(&m, "lightner_packs{status=\"ready\"}"), 4.0);
    assert_eq!(sample(&m, "lightner_queue_depth"), 0.0);

    // /openapi.json describes exactly the routes that answer.
    let (st, doc) = http(a, "GET", "/openapi.json", None, &[]);
    assert_eq!(st, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let mut described = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let (st, v) = http(a, &method.to_uppercase(), path, None, &[]);
            assert!(
                v["error_type"] != "not_found" && st != 405,
                "{method} {path} is described but answers {st} {v}"
            );
            described.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    described.sort();
    let routes = [
        "GET /",
        "GET /health",
        "GET /info",
        "GET /metrics",
        "GET /openapi.json",
        "GET /ready",
        "GET /v1/packs",
        "POST /v1/entities",
        "POST /v1/packs/reload",
    ];
    assert_eq!(described, routes, "the OpenAPI document and the router disagree");
}

/// Whether `program` runs (`--version` answers).
fn available(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn the_page_highlights_in_a_real_browser_what_the_api_answers() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    if !available("node") || !available(&chromium) {
        // In CI a missing browser is a failure, not a silent pass: `.ci/run` installs it.
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
        assert!(!ci, "CI is set but node or {chromium} is missing (`apt-get install chromium nodejs`)");
        eprintln!("SKIPPED: the browser test needs node and {chromium} (`apt-get install chromium nodejs`)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pack = trained_pack(tmp.path());
    let packs = tmp.path().join("packs");
    copy_dir(&pack, &packs.join("movie"));
    let server = start(&packs, &["--api-key", "k3y"]);
    let a = server.addr.as_str();
    let text = "Show me films with Tom Hanks — «Big», 1988.";
    let (st, want) = http(
        a,
        "POST",
        "/v1/entities",
        Some(&json!({"pack": "movie", "text": text}).to_string()),
        &[("Authorization", "Bearer k3y")],
    );
    assert_eq!(st, 200, "{want}");
    let want = want["results"][0]["entities"].as_array().unwrap().clone();
    assert!(!want.is_empty(), "no entities: the page would show little");

    // The screenshot goes where LIGHTNER_PAGE_SCREENSHOT says (docs/serving-page.png is made so).
    let shot = std::env::var_os("LIGHTNER_PAGE_SCREENSHOT")
        .map_or_else(|| tmp.path().join("page.png"), std::path::PathBuf::from);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser/page-test.mjs");
    let url = format!("http://{a}/");
    let o = std::process::Command::new("node")
        .args([s(&script), &url, "movie", text, s(&shot), "k3y"])
        .env("CHROMIUM", &chromium)
        .output()
        .unwrap();
    assert!(o.status.success(), "the browser test failed:\n{}", String::from_utf8_lossy(&o.stderr));
    let got: Value = serde_json::from_slice(&o.stdout).unwrap();
    let marks = got["marks"].as_array().unwrap();
    assert_eq!(marks.len(), want.len(), "{got}");
    for (m, e) in marks.iter().zip(&want) {
        assert_eq!((&m["text"], &m["label"]), (&e["text"], &e["label"]), "{got}");
        assert!((m["score"].as_f64().unwrap() - e["score"].as_f64().unwrap()).abs() < 1e-12);
    }
    assert_eq!(got["plain"], text, "the page shows the text with its entities marked, nothing lost");
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "not a screenshot: {} bytes", png.len());
}
