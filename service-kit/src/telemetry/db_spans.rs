//! Database calls as spans. sqlx opens no span of its own, but reports every statement it ran
//! as an event (target `sqlx::query`, at DEBUG) when the statement is done, with its SQL text
//! (placeholders, never bound values) and how long it took; on SQLite it reports it in the
//! span of the task that asked. [`DbSpans`] turns each such event inside a traced span into a
//! child span with the statement's start and end times, `db.system.name` (the backend of the
//! part the trace is in) and `db.query.summary` (its first words). Installed only while traces
//! are exported: it is the one hook, for every store on both backends.

use std::{
    collections::HashMap,
    sync::{OnceLock, RwLock},
    time::{Duration, SystemTime},
};

use opentelemetry::{
    Context, KeyValue,
    trace::{Span as _, SpanBuilder, SpanKind, TraceContextExt, Tracer as _},
};
use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
};
use tracing_subscriber::{Registry, layer::Context as LayerContext, registry::LookupSpan};

use super::otel::PartTracer;
use crate::trace_context::Part;

/// The target of sqlx's statement events.
pub(super) const TARGET: &str = "sqlx::query";

/// Each part's database backend, as OpenTelemetry names it.
static BACKENDS: OnceLock<RwLock<HashMap<&'static str, &'static str>>> = OnceLock::new();

/// Notes that `part` keeps its data on `backend` (`sqlite`, `postgres`): its statements' spans
/// carry it as `db.system.name`.
pub fn record_backend(part: &'static str, backend: &'static str) {
    let system = match backend {
        "postgres" => "postgresql",
        other => other,
    };
    let backends = BACKENDS.get_or_init(Default::default);
    if let Ok(mut map) = backends.write() {
        map.insert(part, system);
    }
}

fn backend_of(part: &str) -> Option<&'static str> {
    BACKENDS.get()?.read().ok()?.get(part).copied()
}

/// The layer turning sqlx's statement events into spans (see the module's comment).
#[derive(Debug)]
pub(super) struct DbSpans {
    pub(super) tracer: PartTracer,
}

impl<S> tracing_subscriber::Layer<S> for DbSpans
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        if event.metadata().target() != TARGET {
            return;
        }
        let Some(parent) = traced_parent(&ctx) else {
            return; // a statement outside any request (startup, background work)
        };
        let mut fields = Statement::default();
        event.record(&mut fields);
        let end = SystemTime::now();
        let start = end.checked_sub(fields.elapsed).unwrap_or(end);
        let mut attributes = vec![KeyValue::new("db.query.summary", fields.summary.clone())];
        if let Some(system) = parent.get::<Part>().and_then(|p| backend_of(p.0)) {
            attributes.push(KeyValue::new("db.system.name", system));
        }
        let builder = SpanBuilder::from_name(format!("db {}", fields.summary))
            .with_kind(SpanKind::Client)
            .with_start_time(start)
            .with_attributes(attributes);
        self.tracer
            .build_with_context(builder, &parent)
            .end_with_timestamp(end);
    }
}

/// The OpenTelemetry context of the innermost traced span the statement ran in.
fn traced_parent<S: Subscriber>(ctx: &LayerContext<'_, S>) -> Option<Context> {
    let current = ctx.current_span().id()?.clone();
    tracing::dispatcher::get_default(|dispatch| {
        // This layer's own filter hides the request spans from `ctx`: look them up unfiltered.
        let registry = dispatch.downcast_ref::<Registry>()?;
        let scope: Vec<_> = registry.span(&current)?.scope().map(|s| s.id()).collect();
        scope.iter().find_map(|id| {
            tracing_opentelemetry::get_otel_context(id, dispatch)
                .filter(|cx| cx.span().span_context().is_valid())
        })
    })
}

/// The fields of a sqlx statement event that a span keeps: never the SQL's bound values (the
/// event has none), nor row counts.
#[derive(Debug, Default)]
struct Statement {
    summary: String,
    elapsed: Duration,
}

impl Visit for Statement {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "summary" {
            value.clone_into(&mut self.summary);
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.elapsed = Duration::try_from_secs_f64(value).unwrap_or_default();
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" {
            self.summary = format!("{value:?}");
        }
    }
}
