//! A UTF-8 byte-order mark before a JSON request body is dropped, as RFC 8259 §8.1 allows a
//! parser to do: editors on Windows save JSON files with one, and `curl --data-binary @file.json`
//! sends it as it is. The data readers and label maps take a BOM too; without this, such a body
//! answered "expected value at line 1 column 1". Done on the body's stream (its first chunk), so
//! the body limit and axum's JSON checks apply unchanged afterwards.

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use http_body::Frame;
use std::pin::Pin;
use std::task::{Context, Poll};

const BOM: &[u8] = b"\xef\xbb\xbf";

/// Middleware: for a request that says its body is JSON, drops a BOM at the start of the body.
pub async fn strip_json_bom(request: Request, next: Next) -> Response {
    let json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
    if !json {
        return next.run(request).await;
    }
    let (mut parts, mut body) = request.into_parts();
    let first = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
    let first = match first {
        Some(Ok(frame)) => match frame.into_data() {
            Ok(data) if data.starts_with(BOM) => {
                // The body is now shorter than the length the client declared.
                parts.headers.remove(header::CONTENT_LENGTH);
                Some(Ok(data.slice(BOM.len()..)))
            }
            Ok(data) => Some(Ok(data)),
            // A trailers frame first: nothing to strip; an empty body follows.
            Err(_) => None,
        },
        Some(Err(e)) => Some(Err(e)),
        None => None,
    };
    next.run(Request::from_parts(parts, Body::new(Prepend { first, rest: body }))).await
}

/// A body whose first chunk was already read: that chunk, then the rest.
struct Prepend {
    first: Option<Result<Bytes, axum::Error>>,
    rest: Body,
}

impl HttpBody for Prepend {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(first.map(Frame::data)));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }
}
