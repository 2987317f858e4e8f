//! Trace export over OTLP, configured only by the standard OTEL_* variables
//! (docs/operations.md, "Traces").
//!
//! One tracer provider per part of the platform a process runs, each with its own resource
//! (`service.name`): a separate binary has one, the all-in-one four. One tracing layer feeds
//! them all through [`PartTracer`], which starts each span on its part's provider: the part
//! the span's OpenTelemetry context names ([`Part`], set where a part's work starts: the
//! gateway's HTTP span, a service's gRPC span, an event's apply span, and inherited by every
//! span below), else the part whose crate wrote the span, else the process's first part.

use std::{sync::Arc, time::Duration};

use opentelemetry::{
    Context, KeyValue,
    trace::{SpanBuilder, Tracer, TracerProvider as _},
};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::{
    Resource,
    error::OTelSdkResult,
    trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter},
};

use super::otlp_env::Protocol;
use crate::trace_context::Part;

/// The providers of a process's parts and the tracer that routes spans to them.
#[derive(Debug)]
pub(super) struct Providers {
    providers: Vec<SdkTracerProvider>,
    pub(super) tracer: PartTracer,
}

impl Providers {
    /// One provider per part, exporting with `protocol` to the endpoint OTEL_* names. Must run
    /// inside the Tokio runtime: exports use it.
    pub(super) fn build(parts: &[&'static str], protocol: Protocol) -> anyhow::Result<Self> {
        anyhow::ensure!(!parts.is_empty(), "a process runs at least one part");
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| anyhow::anyhow!("trace export needs the Tokio runtime"))?;
        let mut providers = Vec::with_capacity(parts.len());
        let mut tracers = Vec::with_capacity(parts.len());
        for &part in parts {
            let exporter = OnRuntime {
                inner: exporter(protocol)?,
                runtime: runtime.clone(),
            };
            let provider = SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(resource(part, parts.len() == 1))
                .build();
            tracers.push((part, provider.tracer("platform")));
            providers.push(provider);
        }
        Ok(Self {
            providers,
            tracer: PartTracer(tracers.into()),
        })
    }

    /// Exports what is buffered and stops the exporters (a graceful stop).
    pub(super) async fn shutdown(self) {
        // Shutting down blocks until the last batch is sent, which needs the runtime's
        // threads: not on one of them.
        let done = tokio::task::spawn_blocking(move || {
            for provider in self.providers {
                if let Err(e) = provider.shutdown_with_timeout(Duration::from_secs(5)) {
                    tracing::warn!(error = %e, "flushing traces failed");
                }
            }
        });
        let _ = done.await;
    }
}

fn exporter(protocol: Protocol) -> anyhow::Result<opentelemetry_otlp::SpanExporter> {
    let built = match protocol {
        Protocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_protocol(opentelemetry_otlp::Protocol::Grpc)
            .build(),
        Protocol::HttpProtobuf => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .build(),
    };
    // The library's message quotes the endpoint, which may carry credentials: name the
    // setting only.
    built.map_err(|e| {
        let message = e.to_string();
        let setting = message
            .split_once(": ")
            .and_then(|(_, rest)| rest.split_once(':'))
            .map_or("", |(name, _)| name);
        anyhow::anyhow!(
            "cannot export traces: check {} (OTEL_EXPORTER_OTLP_* must name a plain http:// \
             collector endpoint)",
            if setting.starts_with("OTEL_") {
                setting
            } else {
                "the OTEL_EXPORTER_OTLP_* settings"
            }
        )
    })
}

/// A part's resource: OTEL_RESOURCE_ATTRIBUTES, and `service.name` from OTEL_SERVICE_NAME
/// when a process runs one part, else the part's own name.
fn resource(part: &'static str, only_part: bool) -> Resource {
    let named_by_env = only_part
        && (std::env::var("OTEL_SERVICE_NAME").is_ok_and(|v| !v.trim().is_empty())
            || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|v| {
                v.split(',')
                    .any(|kv| kv.trim().starts_with("service.name="))
            }));
    let builder = Resource::builder();
    if named_by_env {
        match std::env::var("OTEL_SERVICE_NAME") {
            Ok(name) if !name.trim().is_empty() => {
                builder.with_service_name(name.trim().to_owned())
            }
            _ => builder,
        }
        .build()
    } else {
        builder
            .with_service_name(part)
            .with_attribute(KeyValue::new("service.namespace", "platform"))
            .build()
    }
}

/// Starts each span on the provider of its part (see the module's comment).
#[derive(Debug, Clone)]
pub(super) struct PartTracer(Arc<[(&'static str, SdkTracer)]>);

impl PartTracer {
    fn for_span(&self, builder: &SpanBuilder, parent: &Context) -> &SdkTracer {
        let part = parent.get::<Part>().map(|p| p.0).or_else(|| {
            // `target` is the writing module's path: its crate names the part.
            builder
                .attributes
                .as_deref()?
                .iter()
                .find(|kv| kv.key.as_str() == "target")
                .map(|kv| kv.value.as_str())
                .and_then(|target| {
                    let krate = target.split("::").next().unwrap_or_default();
                    self.0
                        .iter()
                        .map(|(name, _)| *name)
                        .find(|name| name.replace('-', "_") == krate)
                })
        });
        let found = part.and_then(|p| self.0.iter().find(|(name, _)| *name == p));
        &found.unwrap_or(&self.0[0]).1
    }
}

impl Tracer for PartTracer {
    type Span = opentelemetry_sdk::trace::Span;

    fn build_with_context(&self, builder: SpanBuilder, parent_cx: &Context) -> Self::Span {
        self.for_span(&builder, parent_cx)
            .build_with_context(builder, parent_cx)
    }
}

/// Runs an exporter's work inside the Tokio runtime: the batch processor exports from a
/// thread of its own, while the gRPC and HTTP clients need the runtime's timers and I/O.
#[derive(Debug)]
struct OnRuntime<E> {
    inner: E,
    runtime: tokio::runtime::Handle,
}

impl<E: SpanExporter> SpanExporter for OnRuntime<E> {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let runtime = self.runtime.clone();
        let mut export = {
            let _in = runtime.enter();
            Box::pin(self.inner.export(batch))
        };
        std::future::poll_fn(move |cx| {
            let _in = runtime.enter();
            export.as_mut().poll(cx)
        })
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let _in = self.runtime.enter();
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        let _in = self.runtime.enter();
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
