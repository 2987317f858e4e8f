//! W3C trace context (`traceparent`, `tracestate`) across processes: injected into every
//! outgoing gRPC call, extracted into the parent of every incoming one, and carried by outbox
//! events (docs/operations.md, "Traces").
//!
//! Every function here does nothing while tracing is off ([`enabled`]): no OTEL_* exporter is
//! configured, so no context is read or written and no header is added.

use std::sync::atomic::{AtomicBool, Ordering};

#[cfg(not(feature = "otlp"))]
mod off;
#[cfg(feature = "otlp")]
mod propagate;

#[cfg(not(feature = "otlp"))]
pub use off::{
    continue_from_headers, continue_from_traceparent, current_traceparent, inject,
    start_linked_to_headers,
};
#[cfg(feature = "otlp")]
pub use propagate::{
    continue_from_headers, continue_from_traceparent, current_traceparent, inject,
    start_linked_to_headers,
};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported (set once, when [`crate::telemetry::init_traced`] installs an
/// exporter; never in a binary built without the `otlp` feature).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

#[cfg(feature = "otlp")]
pub(crate) fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// The part of the platform a span belongs to (`gateway`, `identity-svc`, …), carried in the
/// OpenTelemetry context from the span that starts a part's work to every span below it. In
/// the all-in-one it picks the tracer provider, so each part's spans carry its own
/// `service.name` ([`crate::telemetry`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part(pub &'static str);
