//! `grpc_server_handled_total` and `grpc_server_handling_seconds` of a service's gRPC server, by
//! `part` (identity-svc, …), `grpc_service`, `grpc_method` and `grpc_code` (the status name,
//! `OK`, `NOT_FOUND`, …).
//!
//! The layer sits outside every other layer of the server, so refusals of the caller rules
//! count too. A call's code is its `grpc-status`: in the answer's head for a trailers-only
//! answer (every error tonic returns), else in the trailers that end its body; a body dropped
//! before its end (the client went away) counts as `CANCELLED`, one that ends without a status
//! as `UNKNOWN`. The time runs from the call's arrival to its status.
//!
//! The hot path takes no lock and allocates nothing: the method table is built once from the
//! server's caller rules (a path outside them is `unknown`, so no client can mint series), and
//! each method's handles are resolved once per code.

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{Arc, OnceLock},
    task::{Context, Poll, ready},
    time::Instant,
};

use http_body::{Body, Frame, SizeHint};
use metrics::{Counter, Histogram, Label};
use tonic::Code;

/// Methods every server has besides its own: health and reflection.
const COMMON_METHODS: &[&str] = &[
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.health.v1.Health/List",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

/// The codes 0 to 16, in the order of their numbers, as series label them.
const CODE_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// The label of a code.
pub fn code_name(code: Code) -> &'static str {
    CODE_NAMES.get(code as usize).copied().unwrap_or("UNKNOWN")
}

/// One method's series, resolved per code on first use.
struct Method {
    labels: [Label; 3],
    by_code: [OnceLock<(Counter, Histogram)>; 17],
}

impl std::fmt::Debug for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.labels.iter()).finish()
    }
}

impl Method {
    fn new(part: &'static str, service: String, method: String) -> Self {
        Self {
            labels: [
                Label::new("part", part),
                Label::new("grpc_service", service),
                Label::new("grpc_method", method),
            ],
            by_code: Default::default(),
        }
    }

    fn record(&self, code: Code, started: Instant) {
        let i = (code as usize).min(16);
        let (count, seconds) = self.by_code[i].get_or_init(|| {
            let mut labels = self.labels.to_vec();
            labels.push(Label::new("grpc_code", CODE_NAMES[i]));
            (
                metrics::counter!("grpc_server_handled_total", labels.clone()),
                metrics::histogram!("grpc_server_handling_seconds", labels),
            )
        });
        count.increment(1);
        seconds.record(started.elapsed().as_secs_f64());
    }
}

/// Each method of a server by its path, and the entry of every other path.
#[derive(Debug)]
struct Methods {
    known: HashMap<Box<str>, Arc<Method>, foldhash::fast::RandomState>,
    unknown: Arc<Method>,
}

/// The tower layer that measures every call of a server (see the module's documentation).
#[derive(Debug, Clone)]
pub struct GrpcMetricsLayer(Option<Arc<Methods>>);

impl GrpcMetricsLayer {
    /// Measures the calls of `part`'s server to `paths` (`/pkg.Service/Method`, its caller
    /// rules), health and reflection; a no-op while no recorder is installed
    /// ([`super::enabled`]).
    pub fn new<'a>(part: &'static str, paths: impl IntoIterator<Item = &'a str>) -> Self {
        if !super::enabled() {
            return Self(None);
        }
        let known = paths
            .into_iter()
            .chain(COMMON_METHODS.iter().copied())
            .filter_map(|path| {
                let (service, method) = path.strip_prefix('/')?.split_once('/')?;
                let entry = Method::new(part, service.to_owned(), method.to_owned());
                Some((Box::from(path), Arc::new(entry)))
            })
            .collect();
        let unknown = Arc::new(Method::new(part, "unknown".into(), "unknown".into()));
        Self(Some(Arc::new(Methods { known, unknown })))
    }
}

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics {
            inner,
            methods: self.0.clone(),
        }
    }
}

/// The service [`GrpcMetricsLayer`] wraps around a server.
#[derive(Debug, Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
    methods: Option<Arc<Methods>>,
}

impl<S, B, R> tower::Service<http::Request<B>> for GrpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
{
    type Response = http::Response<MeasuredBody<R>>;
    type Error = S::Error;
    type Future = MeasuredCall<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let call = self.methods.as_ref().map(|m| {
            let method = m.known.get(req.uri().path()).unwrap_or(&m.unknown).clone();
            Call {
                method,
                started: Instant::now(),
            }
        });
        MeasuredCall {
            inner: self.inner.call(req),
            call,
        }
    }
}

/// A call being measured: its method and when it arrived.
#[derive(Debug)]
struct Call {
    method: Arc<Method>,
    started: Instant,
}

pin_project_lite::pin_project! {
    /// The answer's future of a measured call.
    pub struct MeasuredCall<F> {
        #[pin]
        inner: F,
        call: Option<Call>,
    }
}

impl<F> std::fmt::Debug for MeasuredCall<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeasuredCall").finish_non_exhaustive()
    }
}

impl<F, R, E> Future for MeasuredCall<F>
where
    F: Future<Output = Result<http::Response<R>, E>>,
{
    type Output = Result<http::Response<MeasuredBody<R>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let mut call = this.call.take();
        Poll::Ready(result.map(|res| {
            // A trailers-only answer carries its status in its head.
            if let Some(code) = status(res.headers())
                && let Some(c) = call.take()
            {
                c.method.record(code, c.started);
            }
            res.map(|body| MeasuredBody { inner: body, call })
        }))
    }
}

/// The `grpc-status` of a head or trailers.
fn status(headers: &http::HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?;
    let n: i32 = std::str::from_utf8(value.as_bytes()).ok()?.parse().ok()?;
    Some(Code::from(n))
}

/// An answer's body that records its call when its trailers pass (or it ends, or is dropped).
#[derive(Debug)]
pub struct MeasuredBody<B> {
    inner: B,
    call: Option<Call>,
}

impl<B> MeasuredBody<B> {
    fn finish(&mut self, code: Code) {
        if let Some(c) = self.call.take() {
            c.method.record(code, c.started);
        }
    }
}

impl<B: Body + Unpin> Body for MeasuredBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if self.call.is_some() {
            match &frame {
                Some(Ok(f)) => {
                    if let Some(code) = f.trailers_ref().and_then(status) {
                        self.finish(code);
                    }
                }
                Some(Err(_)) => self.finish(Code::Internal),
                None => self.finish(Code::Unknown),
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for MeasuredBody<B> {
    fn drop(&mut self) {
        self.finish(Code::Cancelled);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use tower::{Layer as _, ServiceExt as _};

    use super::*;

    /// A body of given frames.
    struct Frames(VecDeque<Frame<&'static [u8]>>);

    impl Body for Frames {
        type Data = &'static [u8];
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
            Poll::Ready(self.0.pop_front().map(Ok))
        }
    }

    /// Answers as the path says: `Ok` a message then trailers with OK, `Missing` a trailers-only
    /// NOT_FOUND, `Gone` a message whose client leaves before the trailers.
    async fn answer(
        req: http::Request<()>,
    ) -> Result<http::Response<Frames>, std::convert::Infallible> {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().unwrap());
        let frames = match req.uri().path() {
            "/t.v1.S/Missing" => {
                let mut res = http::Response::new(Frames(VecDeque::new()));
                res.headers_mut()
                    .insert("grpc-status", "5".parse().unwrap());
                return Ok(res);
            }
            _ => [Frame::data(&b"message"[..]), Frame::trailers(trailers)],
        };
        Ok(http::Response::new(Frames(frames.into())))
    }

    #[tokio::test]
    async fn each_call_counts_once_with_its_code() {
        let handle = crate::metrics::install().unwrap();
        let layer = GrpcMetricsLayer::new(
            "layer-test",
            ["/t.v1.S/Ok", "/t.v1.S/Missing", "/t.v1.S/Gone"],
        );
        let service = layer.layer(tower::service_fn(answer));
        for (path, frames) in [
            ("/t.v1.S/Ok", 3),
            ("/t.v1.S/Missing", 1),
            ("/t.v1.S/Gone", 1),
            ("/x.Y/Z", 3),
        ] {
            let req = http::Request::builder().uri(path).body(()).unwrap();
            let mut body = service.clone().oneshot(req).await.unwrap().into_body();
            for _ in 0..frames {
                let _ = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
            }
        }
        let text = handle.render();
        for (method, code) in [
            ("Ok", "OK"),
            ("Missing", "NOT_FOUND"),
            ("Gone", "CANCELLED"),
        ] {
            let line = format!(
                "grpc_server_handled_total{{part=\"layer-test\",grpc_service=\"t.v1.S\",grpc_method=\"{method}\",grpc_code=\"{code}\"}} 1"
            );
            assert!(text.contains(&line), "no {line} in {text}");
        }
        let unknown = "grpc_server_handled_total{part=\"layer-test\",grpc_service=\"unknown\",grpc_method=\"unknown\",grpc_code=\"OK\"} 1";
        assert!(text.contains(unknown), "{text}");
        assert!(!text.contains("x.Y"), "{text}");
    }

    #[test]
    fn codes_are_named_by_their_number() {
        assert_eq!(code_name(Code::Ok), "OK");
        assert_eq!(code_name(Code::NotFound), "NOT_FOUND");
        assert_eq!(code_name(Code::Unauthenticated), "UNAUTHENTICATED");
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-status", "5".parse().unwrap());
        assert_eq!(status(&headers), Some(Code::NotFound));
        headers.insert("grpc-status", "x".parse().unwrap());
        assert_eq!(status(&headers), None);
    }
}
