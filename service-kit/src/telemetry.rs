//! Structured JSON logs on stdout.
//!
//! Every line carries the list of spans it was written in, so a line written anywhere inside a
//! request's span (the gateway's HTTP span or a service's gRPC span) carries its `request_id`.

use tracing_subscriber::{
    EnvFilter, fmt::MakeWriter, layer::SubscriberExt, util::SubscriberInitExt,
};

/// Installs the global JSON subscriber writing to stdout with `filter` (a binary's `RUST_LOG`
/// setting, [`crate::config::LogArgs`], already checked). Does nothing if a subscriber is
/// already installed.
pub fn init(filter: &str) {
    install(EnvFilter::new(filter), std::io::stdout);
}

/// Installs the global JSON subscriber writing to `writer` (tests capture logs this way); the
/// filter comes from `RUST_LOG` or else `default_filter`.
pub fn init_with_writer<W>(default_filter: &str, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    install(filter, writer);
}

fn install<W>(filter: EnvFilter, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let fmt = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(true)
        .with_target(true)
        .with_writer(writer);
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .try_init();
}
