//! The propagation itself, with OpenTelemetry's W3C propagator (the `otlp` feature).

use std::collections::HashMap;

use opentelemetry::{
    Context,
    propagation::{Extractor, Injector, TextMapPropagator},
    trace::TraceContextExt,
};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::{Part, enabled};

struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value),
        ) {
            self.0.insert(key, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Adds the current span's `traceparent` (and `tracestate`) to an outgoing call's metadata.
pub fn inject(metadata: &mut MetadataMap) {
    if !enabled() {
        return;
    }
    let cx = tracing::Span::current().context();
    if cx.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&cx, &mut MetadataInjector(metadata));
    }
}

/// The current span's `traceparent`, to store with an outbox event; None while tracing is off
/// or outside any traced span.
pub fn current_traceparent() -> Option<String> {
    if !enabled() {
        return None;
    }
    let cx = tracing::Span::current().context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove("traceparent")
}

/// Makes `span` (not yet entered) part `part`'s work, continuing the trace whose context the
/// incoming `headers` carry (a new trace when they carry none).
pub fn continue_from_headers(span: &tracing::Span, part: &'static str, headers: &http::HeaderMap) {
    if !enabled() {
        return;
    }
    let cx = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    adopt(span, part, cx);
}

/// Makes `span` (not yet entered) the root of a new trace of part `part`, linked to the trace
/// context the incoming `headers` carry, if any: for the public edge, where a client's
/// `traceparent` is not trusted to choose the trace id or, through the parent-based sampler,
/// whether the trace is sampled. The link keeps the client's trace findable.
pub fn start_linked_to_headers(
    span: &tracing::Span,
    part: &'static str,
    headers: &http::HeaderMap,
) {
    if !enabled() {
        return;
    }
    let remote = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    adopt(span, part, Context::new());
    let incoming = remote.span().span_context().clone();
    if incoming.is_valid() {
        span.add_link(incoming);
    }
}

/// Makes `span` (not yet entered) part `part`'s work, a child of the span that wrote
/// `traceparent` (an event's, from the producer's outbox row); a new trace without one.
pub fn continue_from_traceparent(span: &tracing::Span, part: &'static str, traceparent: &str) {
    if !enabled() {
        return;
    }
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let cx = TraceContextPropagator::new().extract(&carrier);
    adopt(span, part, cx);
}

fn adopt(span: &tracing::Span, part: &'static str, remote: Context) {
    // A span no exporter sees (filtered out by RUST_LOG) has no context to set: nothing to do.
    let _ = span.set_parent(remote.with_value(Part(part)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_injected_while_tracing_is_off() {
        let mut md = MetadataMap::new();
        inject(&mut md);
        assert!(md.is_empty());
        assert_eq!(current_traceparent(), None);
    }

    #[test]
    fn a_traceparent_header_is_read_back() {
        let mut headers = http::HeaderMap::new();
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        headers.insert("traceparent", tp.parse().unwrap());
        let cx = TraceContextPropagator::new().extract(&HeaderExtractor(&headers));
        let span = cx.span();
        assert_eq!(
            span.span_context().trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(span.span_context().is_remote());
    }
}
