//! What the standard OTEL_* variables ask of trace export (docs/operations.md, "Traces"), read
//! the same way whether or not this binary can export (the `otlp` feature): one built without
//! it refuses to start when they ask for traces, instead of running without them unnoticed.

/// How spans are sent to the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Protocol {
    /// OTLP over gRPC.
    Grpc,
    /// OTLP over HTTP, protobuf bodies (the specification's default).
    HttpProtobuf,
}

/// How the environment asks for traces: None when it does not (no OTLP endpoint set,
/// `OTEL_TRACES_EXPORTER=none` or `OTEL_SDK_DISABLED=true`).
pub(super) fn protocol_from_env() -> anyhow::Result<Option<Protocol>> {
    protocol_from(|name| std::env::var(name).ok())
}

fn protocol_from(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Option<Protocol>> {
    let var = |name: &str| {
        var(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    match var("OTEL_TRACES_EXPORTER").as_deref() {
        None | Some("otlp") => {}
        Some("none") => return Ok(None),
        Some(other) => {
            anyhow::bail!("OTEL_TRACES_EXPORTER={other:?}: only `otlp` and `none` are supported")
        }
    }
    let endpoint = [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .into_iter()
    .find_map(|name| Some((name, var(name)?)));
    let Some((endpoint_name, endpoint)) = endpoint else {
        return Ok(None);
    };
    // No TLS client is built into the exporters: refuse at start what would fail at each export.
    anyhow::ensure!(
        !endpoint.to_ascii_lowercase().starts_with("https:"),
        "{endpoint_name}: https endpoints are not supported; name a plain http:// collector \
         (an agent or sidecar beside the process)"
    );
    let (name, value) = match var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") {
        Some(v) => ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", Some(v)),
        None => (
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            var("OTEL_EXPORTER_OTLP_PROTOCOL"),
        ),
    };
    match value.as_deref() {
        // The specification's default.
        None | Some("http/protobuf") => Ok(Some(Protocol::HttpProtobuf)),
        Some("grpc") => Ok(Some(Protocol::Grpc)),
        Some(other) => {
            anyhow::bail!("{name}={other:?}: only `grpc` and `http/protobuf` are supported")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn no_endpoint_means_no_traces() {
        assert!(protocol_from(env(&[])).unwrap().is_none());
        assert!(
            protocol_from(env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn an_endpoint_turns_traces_on_unless_disabled() {
        let e = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");
        assert_eq!(
            protocol_from(env(&[e])).unwrap(),
            Some(Protocol::HttpProtobuf)
        );
        assert_eq!(
            protocol_from(env(&[e, ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")])).unwrap(),
            Some(Protocol::Grpc)
        );
        let t = (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://127.0.0.1:4317",
        );
        assert_eq!(
            protocol_from(env(&[t, ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")])).unwrap(),
            Some(Protocol::Grpc)
        );
        assert!(
            protocol_from(env(&[e, ("OTEL_TRACES_EXPORTER", "none")]))
                .unwrap()
                .is_none()
        );
        assert!(
            protocol_from(env(&[e, ("OTEL_SDK_DISABLED", "TRUE")]))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn unsupported_values_are_refused_by_name() {
        let e = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");
        let err = protocol_from(env(&[e, ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("OTEL_EXPORTER_OTLP_PROTOCOL"), "{err}");
        let https = (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "HTTPS://user:canary@collector",
        );
        let err = protocol_from(env(&[https])).unwrap_err().to_string();
        assert!(err.contains("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), "{err}");
        assert!(!err.contains("canary"), "{err}");
        let err = protocol_from(env(&[e, ("OTEL_TRACES_EXPORTER", "zipkin")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("OTEL_TRACES_EXPORTER"), "{err}");
    }
}
