//! The gateway binary reads OTEL_* at start (docs/operations.md, "Traces"): a value it cannot
//! honour stops it with an error naming the variable, never a panic, and never the endpoint's
//! credentials. (Also what makes `cargo test --workspace` build this binary, which
//! platform/tests/api/traces.rs runs as a separate process.)

use std::process::Command;

fn gateway_with(vars: &[(&str, &str)]) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gateway"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("OTEL_")) {
        command.env_remove(name);
    }
    let out = command
        .env(
            "SERVICE_CREDENTIAL",
            "a-credential-long-enough-to-be-accepted",
        )
        .env("GATEWAY_LISTEN_ADDR", "127.0.0.1:0")
        .envs(vars.iter().copied())
        .output()
        .expect("the gateway binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_unsupported_protocol_is_refused_by_name() {
    let (ok, stderr) = gateway_with(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
    ]);
    assert!(!ok);
    assert!(stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_bad_endpoint_is_refused_without_its_credentials() {
    for protocol in ["grpc", "http/protobuf"] {
        let (ok, stderr) = gateway_with(&[
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://user:canary-7f3a@[not a host",
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
        ]);
        assert!(!ok, "{protocol}");
        assert!(
            stderr.contains("OTEL_EXPORTER_OTLP"),
            "{protocol}: {stderr}"
        );
        assert!(!stderr.contains("canary-7f3a"), "{protocol}: {stderr}");
        assert!(!stderr.contains("panicked"), "{protocol}: {stderr}");
    }
}
