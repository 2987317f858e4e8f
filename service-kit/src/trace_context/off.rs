//! A binary built without trace export (no `otlp` feature): nothing is ever exported
//! ([`super::enabled`] stays false), so there is no context to carry.

use tonic::metadata::MetadataMap;

/// Adds the current span's `traceparent` to an outgoing call's metadata: nothing to add.
pub fn inject(_metadata: &mut MetadataMap) {}

/// The current span's `traceparent`, to store with an outbox event: none.
pub fn current_traceparent() -> Option<String> {
    None
}

/// Makes `span` part `part`'s work, continuing the incoming `headers`' trace: no trace here.
pub fn continue_from_headers(
    _span: &tracing::Span,
    _part: &'static str,
    _headers: &http::HeaderMap,
) {
}

/// Makes `span` the root of a new trace linked to the incoming `headers`' one: no trace here.
pub fn start_linked_to_headers(
    _span: &tracing::Span,
    _part: &'static str,
    _headers: &http::HeaderMap,
) {
}

/// Makes `span` part `part`'s work, a child of the span that wrote `traceparent`: no trace here.
pub fn continue_from_traceparent(_span: &tracing::Span, _part: &'static str, _traceparent: &str) {}
