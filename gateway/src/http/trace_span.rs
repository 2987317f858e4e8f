//! The gateway's request span as the first span of a trace (docs/operations.md, "Traces"):
//! named `METHOD route`, of the `gateway` part, the root of a new trace: a W3C trace context the
//! request carries (any internet client may send one) is only linked, so clients choose
//! neither the trace id nor whether it is sampled. Nothing happens while traces are not
//! exported.

/// Makes `span`, the span of `req` matched to `route` (its template), the gateway's span in
/// the request's trace.
pub(super) fn continue_request<B>(span: &tracing::Span, req: &axum::http::Request<B>, route: &str) {
    if !service_kit::trace_context::enabled() {
        return;
    }
    span.record("otel.name", format!("{} {route}", req.method()));
    span.record("otel.kind", "server");
    service_kit::trace_context::start_linked_to_headers(span, "gateway", req.headers());
}
