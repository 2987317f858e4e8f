//! `trace_id` and `span_id` on every JSON log line written inside a traced span, so a line
//! leads to its trace and a trace to its lines (docs/operations.md, "Logs"). Used only while
//! traces are exported.

use std::fmt;

use opentelemetry::trace::TraceContextExt as _;
use tracing::{Event, Subscriber};
use tracing_subscriber::{
    fmt::{
        FmtContext, FormatEvent, FormatFields,
        format::{Writer, Writer as FmtWriter},
    },
    registry::LookupSpan,
};

/// Wraps a JSON event format, opening each line with the trace and span ids of the innermost
/// span the event is in.
#[derive(Debug)]
pub(super) struct WithTraceIds<F>(pub(super) F);

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let ids = ctx
            .event_scope()
            .and_then(|mut scope| scope.next().map(|span| span.id()))
            .and_then(|id| {
                tracing::dispatcher::get_default(|d| {
                    tracing_opentelemetry::get_otel_context(&id, d)
                })
            })
            .map(|cx| cx.span().span_context().clone())
            .filter(opentelemetry::trace::SpanContext::is_valid);
        let Some(ids) = ids else {
            return self.0.format_event(ctx, writer, event);
        };
        let mut line = String::with_capacity(256);
        self.0.format_event(ctx, FmtWriter::new(&mut line), event)?;
        match line.strip_prefix('{') {
            Some(rest) => write!(
                writer,
                "{{\"trace_id\":\"{}\",\"span_id\":\"{}\",{rest}",
                ids.trace_id(),
                ids.span_id()
            ),
            None => writer.write_str(&line),
        }
    }
}
