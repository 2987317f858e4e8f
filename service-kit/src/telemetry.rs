//! Structured JSON logs on stdout, and traces over OTLP when OTEL_* asks for them.
//!
//! Every line carries the list of spans it was written in, so a line written anywhere inside a
//! request's span (the gateway's HTTP span or a service's gRPC span) carries its `request_id`;
//! while traces are exported it also carries its `trace_id` and `span_id`.

#[cfg(feature = "otlp")]
use tracing_subscriber::{
    Layer,
    filter::{FilterExt, LevelFilter, Targets},
};
use tracing_subscriber::{
    fmt::MakeWriter, layer::SubscriberExt, registry::LookupSpan, util::SubscriberInitExt,
};

#[cfg(feature = "otlp")]
mod db_spans;
mod filter;
mod json;
#[cfg(feature = "otlp")]
mod log_ids;
#[cfg(feature = "otlp")]
mod otel;
mod otlp_env;
mod stdout;

#[cfg(feature = "otlp")]
pub use db_spans::record_backend;
pub use filter::LogFilter;

/// Notes that `part` keeps its data on `backend`, for its statements' spans: nothing to note in
/// a binary built without trace export (the `otlp` feature).
#[cfg(not(feature = "otlp"))]
pub fn record_backend(_part: &'static str, _backend: &'static str) {}

/// Installs the global JSON subscriber writing to stdout with `filter` (a binary's `RUST_LOG`
/// setting, [`crate::config::LogArgs`], already checked). Does nothing if a subscriber is
/// already installed. Exports no traces (the one-shot commands).
pub fn init(filter: &str) {
    install(LogFilter::new(filter), stdout::Stdout::new());
}

/// Installs the global JSON subscriber writing to `writer` (tests capture logs this way); the
/// filter comes from `RUST_LOG` or else `default_filter`.
pub fn init_with_writer<W>(default_filter: &str, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let from_env = std::env::var(tracing_subscriber::EnvFilter::DEFAULT_ENV)
        .ok()
        .filter(|value| crate::config::parse_log_filter(value).is_ok());
    install(
        LogFilter::new(from_env.as_deref().unwrap_or(default_filter)),
        writer,
    );
}

/// What a server keeps of its telemetry until it stops: the trace exporters, if any.
#[derive(Debug)]
#[must_use = "stop it with `shutdown` to send the last spans"]
pub struct Telemetry {
    #[cfg(feature = "otlp")]
    providers: Option<otel::Providers>,
}

impl Telemetry {
    /// Sends the spans still buffered and stops exporting (on a graceful stop).
    pub async fn shutdown(self) {
        #[cfg(feature = "otlp")]
        if let Some(providers) = self.providers {
            providers.shutdown().await;
        }
    }
}

/// Installs the global subscriber of a server running `parts` (`gateway`, `identity-svc`, …;
/// all four in the all-in-one): JSON logs on stdout with `filter` as [`init`], and, when the
/// OTEL_* variables name an OTLP endpoint, the spans `filter` admits exported with each part's
/// own `service.name`, database statements as spans, and trace ids in the log lines.
/// Without such a variable this is [`init`]: no exporter and no layer more. Must run inside the
/// Tokio runtime. A binary built without the `otlp` feature refuses such a variable: it cannot
/// export.
pub fn init_traced(filter: &str, parts: &[&'static str]) -> anyhow::Result<Telemetry> {
    let Some(protocol) = otlp_env::protocol_from_env()? else {
        init(filter);
        return Ok(Telemetry {
            #[cfg(feature = "otlp")]
            providers: None,
        });
    };
    #[cfg(feature = "otlp")]
    return init_exporting(filter, parts, protocol);
    #[cfg(not(feature = "otlp"))]
    {
        let _ = (parts, protocol);
        anyhow::bail!(
            "OTEL_EXPORTER_OTLP_* asks for traces, but this binary was built without trace \
             export: build it with `--features service-kit/otlp` (the images have it), or unset \
             the variable"
        )
    }
}

#[cfg(feature = "otlp")]
fn init_exporting(
    filter: &str,
    parts: &[&'static str],
    protocol: otlp_env::Protocol,
) -> anyhow::Result<Telemetry> {
    let providers = otel::Providers::build(parts, protocol)?;
    let fmt = json_layer(stdout::Stdout::new())
        .event_format(log_ids::WithTraceIds(json::Line))
        .with_filter(LogFilter::new(filter));
    let spans = tracing_opentelemetry::layer()
        .with_tracer(providers.tracer.clone())
        .with_filter(LogFilter::new(filter).or(store_spans()));
    let statements = db_spans::DbSpans {
        tracer: providers.tracer.clone(),
    }
    .with_filter(Targets::new().with_target(db_spans::TARGET, tracing::Level::DEBUG));
    tracing_subscriber::registry()
        .with(fmt)
        .with(spans)
        .with(statements)
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot install the trace exporter: {e}"))?;
    crate::trace_context::enable();
    Ok(Telemetry {
        providers: Some(providers),
    })
}

/// The spans of the services' store methods: `#[tracing::instrument(level = "debug")]` in a
/// crate's `store` module. Traces show them whatever the log filter; logs alone never make them
/// (at `info`), where they were 15k of a PAT request's 209k instructions (docs/benchmarks.md,
/// issue #21).
#[cfg(feature = "otlp")]
fn store_spans() -> tracing_subscriber::filter::FilterFn<impl Fn(&tracing::Metadata<'_>) -> bool> {
    tracing_subscriber::filter::filter_fn(|meta| {
        meta.is_span()
            && *meta.level() == tracing::Level::DEBUG
            && meta.target().split("::").nth(1) == Some("store")
    })
    .with_max_level_hint(LevelFilter::DEBUG)
}

/// One line per event: its fields at the top level, the spans it is in, its target
/// (`json.rs`).
fn json_layer<S, W>(writer: W) -> tracing_subscriber::fmt::Layer<S, json::Fields, json::Line, W>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .fmt_fields(json::Fields)
        .event_format(json::Line)
        .with_writer(writer)
}

fn install<W>(filter: LogFilter, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(json_layer(writer))
        .try_init();
}
