//! `http_requests_total` and `http_request_duration_seconds` of the public API, by `route` (the
//! route's template, such as `/api/v1/org/users/{userUuid}`, never the raw path: paths carry
//! identifiers and invitation codes; a request no route matched is `unmatched`), `method` (the
//! standard ones, any other `other`) and `status`.
//!
//! The layer is the router's outermost, so the time covers every other layer (authentication,
//! timeouts, the panic catcher) up to the answer's head. Series are resolved once per (route,
//! method, status): the hot path takes a read lock and hashes the template, nothing more. It is
//! a no-op while no recorder is installed (`service_kit::metrics::enabled`).

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{Arc, RwLock},
    task::{Context, Poll, ready},
    time::Instant,
};

use axum::{
    extract::MatchedPath,
    http::{Method, Request, Response},
};
use metrics::{Counter, Histogram, Label};

/// The route label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// The methods labelled by name; any other is `other` (a client may send any token).
const METHODS: [Method; 9] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::HEAD,
    Method::OPTIONS,
    Method::CONNECT,
    Method::TRACE,
];

fn method_index(method: &Method) -> u8 {
    METHODS
        .iter()
        .position(|m| m == method)
        .unwrap_or(METHODS.len()) as u8
}

fn method_name(index: u8) -> &'static str {
    METHODS
        .get(usize::from(index))
        .map_or("other", Method::as_str)
}

/// One (method, status) of a route, with its handles.
type Seen = Vec<(u8, u16, Counter, Histogram)>;

/// The series resolved so far, by route template. Bounded: the router has finitely many
/// routes, methods are folded into ten names and statuses are three digits.
#[derive(Debug, Default)]
struct Series(RwLock<HashMap<Box<str>, Seen, foldhash::fast::RandomState>>);

impl Series {
    fn record(&self, route: &str, method: u8, status: u16, started: Instant) {
        let seconds = started.elapsed().as_secs_f64();
        {
            let known = self.0.read().unwrap_or_else(|e| e.into_inner());
            if let Some((_, _, count, time)) = known
                .get(route)
                .and_then(|seen| seen.iter().find(|s| s.0 == method && s.1 == status))
            {
                count.increment(1);
                time.record(seconds);
                return;
            }
        }
        let labels = vec![
            Label::new("route", route.to_owned()),
            Label::new("method", method_name(method)),
            Label::new("status", status.to_string()),
        ];
        let count = metrics::counter!("http_requests_total", labels.clone());
        let time = metrics::histogram!("http_request_duration_seconds", labels);
        count.increment(1);
        time.record(seconds);
        let mut known = self.0.write().unwrap_or_else(|e| e.into_inner());
        let seen = known.entry(route.into()).or_default();
        if !seen.iter().any(|s| s.0 == method && s.1 == status) {
            seen.push((method, status, count, time));
        }
    }
}

/// The layer measuring every request of the router it wraps.
#[derive(Debug, Clone)]
pub struct HttpMetricsLayer(Option<Arc<Series>>);

impl HttpMetricsLayer {
    /// Measures requests when a recorder is installed.
    pub fn new() -> Self {
        Self(service_kit::metrics::enabled().then(Arc::default))
    }
}

impl Default for HttpMetricsLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> tower::Layer<S> for HttpMetricsLayer {
    type Service = HttpMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpMetrics {
            inner,
            series: self.0.clone(),
        }
    }
}

/// The service [`HttpMetricsLayer`] wraps around each route.
#[derive(Debug, Clone)]
pub struct HttpMetrics<S> {
    inner: S,
    series: Option<Arc<Series>>,
}

/// A request being measured.
#[derive(Debug)]
struct Measure {
    series: Arc<Series>,
    route: Option<MatchedPath>,
    method: u8,
    started: Instant,
}

impl<S, B, R> tower::Service<Request<B>> for HttpMetrics<S>
where
    S: tower::Service<Request<B>, Response = Response<R>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Measured<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let measure = self.series.as_ref().map(|series| Measure {
            series: series.clone(),
            route: req.extensions().get::<MatchedPath>().cloned(),
            method: method_index(req.method()),
            started: Instant::now(),
        });
        Measured {
            inner: self.inner.call(req),
            measure,
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer's future of a measured request.
    pub struct Measured<F> {
        #[pin]
        inner: F,
        measure: Option<Measure>,
    }
}

impl<F> std::fmt::Debug for Measured<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Measured").finish_non_exhaustive()
    }
}

impl<F, R, E> Future for Measured<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let (Ok(res), Some(m)) = (&result, this.measure.take()) {
            let route = m.route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
            m.series
                .record(route, m.method, res.status().as_u16(), m.started);
        }
        Poll::Ready(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_standard_ones_share_one_label() {
        assert_eq!(method_name(method_index(&Method::GET)), "GET");
        assert_eq!(method_name(method_index(&Method::TRACE)), "TRACE");
        let made_up = Method::from_bytes(b"FOOBAR").unwrap();
        assert_eq!(method_name(method_index(&made_up)), "other");
    }
}
