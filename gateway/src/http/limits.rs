//! What a request may send (issue #18 item 3; AP-2, API4): how large its body may be, per
//! route, and how long the client may take to send it. Both refusals are answered by each
//! face's body extractor in the face's own shape ([`unreadable_body`]): 413 over the limit,
//! 408 past the deadline. The connection limits are `serve.rs`'s.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    extract::{DefaultBodyLimit, Request, rejection::BytesRejection},
    http::StatusCode,
    middleware::Next,
    response::Response,
};
use http_body::{Frame, SizeHint};
use tower::{Layer, Service, ServiceExt};
use utoipa_axum::router::OpenApiRouter;

/// The body limit of routes that take small bodies (credentials, names, invitations,
/// accounts): 16 KiB, or `BODY_LIMIT_BYTES` when that is smaller.
pub const SMALL_BODY_BYTES: usize = 16 * 1024;

/// The configured body limit (`BODY_LIMIT_BYTES`), set on every request by the router's
/// middleware for [`small_bodies`].
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// `router` with its routes' bodies limited to [`SMALL_BODY_BYTES`].
pub fn small_bodies<S: Clone + Send + Sync + 'static>(
    router: OpenApiRouter<S>,
) -> OpenApiRouter<S> {
    router.layer(axum::middleware::from_fn(small_body))
}

async fn small_body(req: Request, next: Next) -> Response {
    let configured = req
        .extensions()
        .get::<BodyLimit>()
        .map_or(SMALL_BODY_BYTES, |l| l.0);
    let limit = DefaultBodyLimit::max(configured.min(SMALL_BODY_BYTES));
    match limit.layer(next).oneshot(req).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// The status and message answering a body that could not be read: 408 when it did not
/// arrive in time ([`RequestBodyDeadlineLayer`]), 413 over the route's limit, 400 otherwise.
pub fn unreadable_body(r: &BytesRejection) -> (StatusCode, &'static str) {
    if timed_out(r) {
        (
            StatusCode::REQUEST_TIMEOUT,
            "The request body did not arrive in time",
        )
    } else if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        (StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large")
    } else {
        (
            StatusCode::BAD_REQUEST,
            "The request body could not be read",
        )
    }
}

/// Marks a refused body's answer (413, 408) `Connection: close`: the rest of the body is
/// never read, so the connection cannot carry another request, and a client that reused it
/// would meet a closed connection (`serve.rs` drops what the client still sends). HTTP/2
/// drops the header; the stream ends there.
pub fn close_after_refused_body<B>(
    mut response: axum::http::Response<B>,
) -> axum::http::Response<B> {
    if matches!(
        response.status(),
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT
    ) {
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
}

/// The error of a body that did not arrive whole in time.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct BodyTimedOut;

/// Whether `error` (a body extractor's rejection) comes from [`BodyTimedOut`].
pub fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut at = Some(error);
    while let Some(e) = at {
        if e.is::<BodyTimedOut>() {
            return true;
        }
        at = e.source();
    }
    false
}

/// Gives each request's body `timeout` from the end of its headers to arrive whole
/// (`BODY_READ_TIMEOUT_SECS`); reading it after that fails with [`BodyTimedOut`].
#[derive(Debug, Clone, Copy)]
pub struct RequestBodyDeadlineLayer {
    timeout: Duration,
}

impl RequestBodyDeadlineLayer {
    /// Bodies get `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl<S> Layer<S> for RequestBodyDeadlineLayer {
    type Service = RequestBodyDeadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestBodyDeadline {
            inner,
            timeout: self.timeout,
        }
    }
}

/// The service of [`RequestBodyDeadlineLayer`].
#[derive(Debug, Clone)]
pub struct RequestBodyDeadline<S> {
    inner: S,
    timeout: Duration,
}

impl<S: Service<Request>> Service<Request> for RequestBodyDeadline<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let timeout = self.timeout;
        self.inner.call(req.map(|body| {
            if http_body::Body::is_end_stream(&body) {
                body
            } else {
                Body::new(DeadlineBody {
                    inner: body,
                    deadline: Box::pin(tokio::time::sleep(timeout)),
                })
            }
        }))
    }
}

/// A body that fails with [`BodyTimedOut`] when it has not ended by its deadline.
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use axum::{extract::FromRequest, http::StatusCode};

    use super::*;

    /// A body that never ends: one byte, then nothing.
    struct Trickle(bool);

    impl http_body::Body for Trickle {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            if self.0 {
                return Poll::Pending;
            }
            self.0 = true;
            Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"{")))))
        }
    }

    fn trickle() -> Body {
        Body::new(Trickle(false))
    }

    async fn read(body: Body, timeout: Duration) -> Result<Bytes, BytesRejection> {
        let svc = RequestBodyDeadlineLayer::new(timeout).layer(tower::service_fn(
            |req: Request| async move {
                Ok::<_, std::convert::Infallible>(Bytes::from_request(req, &()).await)
            },
        ));
        svc.oneshot(Request::new(body)).await.unwrap()
    }

    #[tokio::test]
    async fn a_late_body_is_a_408_and_a_whole_one_passes() {
        let r = read(trickle(), Duration::from_millis(50))
            .await
            .unwrap_err();
        assert_eq!(unreadable_body(&r).0, StatusCode::REQUEST_TIMEOUT);
        let ok = read(Body::from("{}"), Duration::from_millis(50)).await;
        assert_eq!(ok.unwrap(), Bytes::from_static(b"{}"));
    }
}
