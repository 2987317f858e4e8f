//! The log filter of a `RUST_LOG` string, as cheap as the string allows.
//!
//! `EnvFilter` keeps a table of live spans behind a lock and takes it on every span's enter,
//! exit and close, so that span- and field-scoped directives (`gateway[http]=debug`) can work.
//! Async code enters and exits its spans at every poll: on the gateway's `GET /api/v1/user`
//! path that bookkeeping was 11 % of the process's CPU (perf, docs/benchmarks.md, issue #21).
//! A string of plain `target=level` directives, which is what `RUST_LOG` almost always holds,
//! is served by [`Targets`] instead: the same decisions, made once per call site.

use tracing::{Metadata, Subscriber, subscriber::Interest};
use tracing_subscriber::{
    EnvFilter, Layer,
    filter::{LevelFilter, Targets},
    layer::{Context, Filter},
    registry::LookupSpan,
};

/// A `RUST_LOG` filter: [`Targets`] when every directive is a plain `target=level`, else
/// [`EnvFilter`].
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per process, built once
pub enum LogFilter {
    /// Only `target=level` and `level` directives: decided per call site.
    Static(Targets),
    /// Span or field directives: `EnvFilter`, with its per-span bookkeeping.
    Dynamic(EnvFilter),
}

impl LogFilter {
    /// The filter of `directives`, already checked as an `EnvFilter` string
    /// (`crate::config::parse_log_filter`); one that does not parse filters as `EnvFilter`
    /// does with it (it ignores what it cannot read).
    pub fn new(directives: &str) -> Self {
        match directives.parse::<Targets>() {
            Ok(targets) if !directives.contains('[') => Self::Static(targets),
            _ => Self::Dynamic(EnvFilter::new(directives)),
        }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Filter<S> for LogFilter {
    fn enabled(&self, meta: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
        match self {
            Self::Static(f) => Filter::<S>::enabled(f, meta, cx),
            Self::Dynamic(f) => Filter::<S>::enabled(f, meta, cx),
        }
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        match self {
            Self::Static(f) => Filter::<S>::callsite_enabled(f, meta),
            Self::Dynamic(f) => Filter::<S>::callsite_enabled(f, meta),
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        match self {
            Self::Static(f) => Filter::<S>::max_level_hint(f),
            Self::Dynamic(f) => Filter::<S>::max_level_hint(f),
        }
    }

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        cx: Context<'_, S>,
    ) {
        if let Self::Dynamic(f) = self {
            Filter::<S>::on_new_span(f, attrs, id, cx);
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        cx: Context<'_, S>,
    ) {
        if let Self::Dynamic(f) = self {
            Filter::<S>::on_record(f, id, values, cx);
        }
    }

    fn on_enter(&self, id: &tracing::span::Id, cx: Context<'_, S>) {
        if let Self::Dynamic(f) = self {
            Filter::<S>::on_enter(f, id, cx);
        }
    }

    fn on_exit(&self, id: &tracing::span::Id, cx: Context<'_, S>) {
        if let Self::Dynamic(f) = self {
            Filter::<S>::on_exit(f, id, cx);
        }
    }

    fn on_close(&self, id: tracing::span::Id, cx: Context<'_, S>) {
        if let Self::Dynamic(f) = self {
            Filter::<S>::on_close(f, id, cx);
        }
    }
}

/// As the process's global filter (no per-layer bookkeeping: the logs-only subscriber).
impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for LogFilter {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        match self {
            Self::Static(f) => Layer::<S>::register_callsite(f, meta),
            Self::Dynamic(f) => Layer::<S>::register_callsite(f, meta),
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, cx: Context<'_, S>) -> bool {
        match self {
            Self::Static(f) => Layer::<S>::enabled(f, meta, cx),
            Self::Dynamic(f) => Layer::<S>::enabled(f, meta, cx),
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        match self {
            Self::Static(f) => Layer::<S>::max_level_hint(f),
            Self::Dynamic(f) => Layer::<S>::max_level_hint(f),
        }
    }

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        cx: Context<'_, S>,
    ) {
        if let Self::Dynamic(f) = self {
            Layer::<S>::on_new_span(f, attrs, id, cx);
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        cx: Context<'_, S>,
    ) {
        if let Self::Dynamic(f) = self {
            Layer::<S>::on_record(f, id, values, cx);
        }
    }

    fn on_enter(&self, id: &tracing::span::Id, cx: Context<'_, S>) {
        if let Self::Dynamic(f) = self {
            Layer::<S>::on_enter(f, id, cx);
        }
    }

    fn on_exit(&self, id: &tracing::span::Id, cx: Context<'_, S>) {
        if let Self::Dynamic(f) = self {
            Layer::<S>::on_exit(f, id, cx);
        }
    }

    fn on_close(&self, id: tracing::span::Id, cx: Context<'_, S>) {
        if let Self::Dynamic(f) = self {
            Layer::<S>::on_close(f, id, cx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_directives_are_static_and_span_directives_dynamic() {
        for plain in [
            "info",
            "warn,gateway=debug",
            "identity_svc=trace,info",
            "off",
        ] {
            assert!(
                matches!(LogFilter::new(plain), LogFilter::Static(_)),
                "{plain}"
            );
        }
        for dynamic in ["gateway[http]=debug", "info,[{request_id}]=trace"] {
            assert!(
                matches!(LogFilter::new(dynamic), LogFilter::Dynamic(_)),
                "{dynamic}"
            );
        }
    }

    #[test]
    fn the_static_filter_decides_as_env_filter_does() {
        let targets = match LogFilter::new("warn,gateway=debug,gateway::noisy=error") {
            LogFilter::Static(t) => t,
            LogFilter::Dynamic(_) => panic!("plain directives"),
        };
        use tracing::Level;
        assert!(targets.would_enable("gateway::http", &Level::DEBUG));
        assert!(!targets.would_enable("gateway::http", &Level::TRACE));
        assert!(!targets.would_enable("gateway::noisy", &Level::WARN));
        assert!(targets.would_enable("identity_svc", &Level::WARN));
        assert!(!targets.would_enable("identity_svc", &Level::INFO));
    }
}
