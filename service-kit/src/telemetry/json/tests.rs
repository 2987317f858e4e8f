//! The lines are tracing-subscriber's JSON format's, byte for byte but the timestamp: the same
//! events and spans through both, compared line by line.

use std::sync::{Arc, Mutex};

use tracing_subscriber::{fmt::MakeWriter, layer::SubscriberExt as _};

/// Everything written, shared with the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    /// The lines, each timestamp replaced by `T` (both formats take the clock themselves).
    fn lines(&self) -> Vec<String> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| {
                let rest = line
                    .strip_prefix("{\"timestamp\":\"")
                    .unwrap_or_else(|| panic!("no timestamp first: {line}"));
                let end = rest.find('"').unwrap();
                format!("{{\"timestamp\":\"T\"{}", &rest[end + 1..])
            })
            .collect()
    }
}

#[derive(Debug)]
struct Failure;

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("it failed: \"quoted\"\n")
    }
}

impl std::error::Error for Failure {}

/// Events and spans with every kind of field the platform writes, and the awkward ones.
fn scenario() {
    tracing::info!("outside any span");
    tracing::warn!(
        count = 3_u64,
        delta = -2_i64,
        ok = true,
        ratio = 0.25,
        "plain fields"
    );
    tracing::info!(
        nan = f64::NAN,
        inf = f64::INFINITY,
        big = 1e300,
        tiny = 1e-7,
        "floats"
    );
    tracing::info!(
        wide = 170_141_183_460_469_231_731_687_303_715_884_105_727_i128,
        "wide"
    );
    let error: &(dyn std::error::Error + 'static) = &Failure;
    tracing::error!(error, "an error value");
    tracing::info!(
        text = "quote \" backslash \\ newline \n tab \t bell \u{7} é ☃ \u{7f} \r \u{8} \u{c} \u{1} \u{1f} end",
        debug = ?Some("x\"y\u{2}"),
        display = %"a\nb",
        "escapes: {}",
        "\"in the message\""
    );
    let outer = tracing::info_span!(
        "http",
        method = "GET",
        route = "/api/v1/user",
        request_id = %"4b3104da",
        r#type = "raw identifier",
        otel.name = tracing::field::Empty,
        empty = tracing::field::Empty,
    );
    let _outer = outer.enter();
    tracing::info!(status = 200_u64, latency_ms = 1.5, "request finished");
    let inner = tracing::info_span!(
        "grpc",
        method = "/identity.v1.IdentityService/GetUser",
        b = 2,
        a = 1,
        a = "again"
    );
    {
        let _inner = inner.enter();
        tracing::info!(user = ?uuid::Uuid::nil(), "inside both");
        tracing::info_span!("fields", s = "a\u{1}\"b", n = -5_i64, u = 7_u64, t = true, d = ?"dbg\n", f = 0.1)
        .in_scope(|| tracing::info!("typed span fields"));
        tracing::info_span!("store_method").in_scope(|| tracing::debug!("no fields span"));
        tracing::info_span!("odd \"name\"", bytes = tracing::field::Empty).in_scope(|| {
            tracing::Span::current().record("bytes", [1_u8, 2, 255].as_slice());
            tracing::info!("after a record on an empty span");
        });
    }
    outer.record("otel.name", "GET /api/v1/user");
    outer.record("empty", 7_u64);
    tracing::info!("after fields were added");
    tracing::info!(parent: &inner, "explicit parent");
    tracing::info!(parent: None, "explicit root inside a span");
    drop(_outer);
    tracing::info!(parent: &inner, "explicit parent, no current span");
}

/// The format the platform used before `json.rs` (tracing-subscriber's), as it was configured.
fn stock(writer: Captured) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .json()
            .event_format(
                tracing_subscriber::fmt::format()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(true)
                    .with_target(true),
            )
            .with_writer(writer),
    )
}

#[test]
fn lines_are_those_of_tracing_subscribers_json_format() {
    let expected = Captured::default();
    tracing::subscriber::with_default(stock(expected.clone()), scenario);
    let actual = Captured::default();
    tracing::subscriber::with_default(
        tracing_subscriber::registry().with(super::super::json_layer(actual.clone())),
        scenario,
    );
    let (expected, actual) = (expected.lines(), actual.lines());
    assert_eq!(expected.len(), 15, "{expected:#?}");
    for (e, a) in expected.iter().zip(&actual) {
        assert_eq!(a, e);
    }
    assert_eq!(actual.len(), expected.len());
}

#[test]
fn every_line_is_one_json_object() {
    let actual = Captured::default();
    tracing::subscriber::with_default(
        tracing_subscriber::registry().with(super::super::json_layer(actual.clone())),
        scenario,
    );
    for line in actual.lines() {
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert!(value.is_object(), "{line}");
    }
}
