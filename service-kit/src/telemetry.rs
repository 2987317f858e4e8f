//! Structured JSON logs on stdout.
//!
//! Every line carries the list of spans it was written in, so a line written anywhere inside a
//! request's span (the gateway's HTTP span or a service's gRPC span) carries its `request_id`.

use tracing_subscriber::{
    EnvFilter, fmt::MakeWriter, layer::SubscriberExt, util::SubscriberInitExt,
};

/// Installs the global JSON subscriber writing to stdout; the filter comes from `RUST_LOG`
/// or else `default_filter`. Does nothing if a subscriber is already installed.
pub fn init(default_filter: &str) {
    init_with_writer(default_filter, std::io::stdout);
}

/// As [`init`], writing to `writer` (tests capture logs this way).
pub fn init_with_writer<W>(default_filter: &str, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
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
