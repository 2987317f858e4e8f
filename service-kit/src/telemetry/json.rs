//! The JSON log line, written straight into the line.
//!
//! The same lines as tracing-subscriber's JSON format with `flatten_event(true)`,
//! `with_current_span(false)`, `with_span_list(true)` and `with_target(true)`, byte for byte
//! (`tests.rs` compares them), for less: that format keeps each span's fields as a JSON object
//! built through a `BTreeMap` of `serde_json::Value`, parses it back into `Value`s for every line
//! written inside the span, and writes the line in pieces that are each checked as UTF-8. Here a
//! span's fields are formatted once, straight to JSON text, and copied into each line as they are
//! (docs/benchmarks.md, issue #21: the access line went from 23k to 8k instructions).

use std::fmt::{self, Write as _};

use tracing::{Event, Subscriber, field::Field};
use tracing_log::NormalizeEvent as _;
use tracing_subscriber::{
    field::{RecordFields, Visit},
    fmt::{
        FmtContext, FormatEvent, FormatFields, FormattedFields,
        format::Writer,
        time::{FormatTime, SystemTime},
    },
    registry::LookupSpan,
};

/// A span's fields as one JSON object, keys in order, the last value of a repeated key (what
/// tracing-subscriber's `JsonFields` stores).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Fields;

impl<'w> FormatFields<'w> for Fields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut members = Members::default();
        fields.record(&mut members);
        members.write_object(&mut writer)
    }

    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let mut members = Members::default();
        fields.record(&mut members);
        if current.is_empty() {
            return members.write_object(&mut current.as_writer());
        }
        // Fields recorded after the span began (rare: the trace names of an exported span):
        // merge them into the stored object.
        let mut merged: std::collections::BTreeMap<String, serde_json::Value> =
            serde_json::from_str(current).map_err(|_| fmt::Error)?;
        for (name, range) in members.entries {
            let value = serde_json::from_str(&members.text[range]).map_err(|_| fmt::Error)?;
            merged.insert(name.to_owned(), value);
        }
        current.fields = serde_json::to_string(&merged).map_err(|_| fmt::Error)?;
        Ok(())
    }
}

/// A span's fields, each value already JSON text.
#[derive(Default)]
struct Members {
    text: String,
    entries: Vec<(&'static str, std::ops::Range<usize>)>,
}

impl Members {
    /// Records a value written as JSON text by `write` (nothing if it fails).
    fn push(&mut self, name: &'static str, write: impl FnOnce(&mut String) -> fmt::Result) {
        let start = self.text.len();
        if write(&mut self.text).is_err() {
            self.text.truncate(start);
            return;
        }
        self.entries.push((name, start..self.text.len()));
    }

    /// `{"a":1,"b":"x"}`: keys sorted, the last value of a repeated key.
    fn write_object(mut self, writer: &mut Writer<'_>) -> fmt::Result {
        // Stable: of equal keys the last recorded stays last, and is the one kept.
        self.entries.sort_by(|a, b| a.0.cmp(b.0));
        writer.write_char('{')?;
        let mut first = true;
        for (i, (name, range)) in self.entries.iter().enumerate() {
            if self.entries.get(i + 1).is_some_and(|next| next.0 == *name) {
                continue;
            }
            if !first {
                writer.write_char(',')?;
            }
            first = false;
            write_json_str(writer, name)?;
            writer.write_char(':')?;
            writer.write_str(&self.text[range.clone()])?;
        }
        writer.write_char('}')
    }
}

impl Visit for Members {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field.name(), |out| out.write_str(&json_text(&value)?));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field.name(), |out| write!(out, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field.name(), |out| write!(out, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field.name(), |out| write!(out, "{value}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field.name(), |out| write_json_str(out, value));
    }

    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        self.push(field.name(), |out| out.write_str(&json_text(&value)?));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let name = field.name();
        // As `JsonFields`: `log.*` fields are the metadata of a `log` record, already used.
        if name.starts_with("log.") {
            return;
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        self.push(name, |out| write_json_debug(out, value));
    }
}

/// The line: timestamp, level, the event's fields, target, and the spans it is in from the root.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Line;

impl<S> FormatEvent<S, Fields> for Line
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, Fields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let mut timestamp = String::with_capacity(32);
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let w = &mut writer;
        w.write_str("{\"timestamp\":")?;
        write_json_str(w, &timestamp)?;
        w.write_str(",\"level\":\"")?;
        w.write_str(meta.level().as_str())?;
        w.write_char('"')?;
        let mut fields = EventFields {
            writer: w,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        w.write_str(",\"target\":")?;
        write_json_str(w, meta.target())?;
        let in_span = event
            .parent()
            .and_then(|id| ctx.span(id))
            .or_else(|| ctx.lookup_current())
            .is_some();
        if in_span {
            write_spans(ctx, w)?;
        }
        w.write_str("}\n")
    }
}

/// `,"spans":[…]`: the spans from the root to the current one (as tracing-subscriber: the
/// current span's, even for an event given another parent), each its stored fields and name.
fn write_spans<S>(ctx: &FmtContext<'_, S, Fields>, w: &mut Writer<'_>) -> fmt::Result
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    w.write_str(",\"spans\":[")?;
    if let Some(leaf) = ctx.lookup_current() {
        for (i, span) in leaf.scope().from_root().enumerate() {
            if i > 0 {
                w.write_char(',')?;
            }
            let extensions = span.extensions();
            let stored = extensions
                .get::<FormattedFields<Fields>>()
                .map_or("{}", |f| f.fields.as_str());
            let members = stored
                .strip_prefix('{')
                .and_then(|s| s.strip_suffix('}'))
                .unwrap_or("");
            w.write_char('{')?;
            if !members.is_empty() {
                w.write_str(members)?;
                w.write_char(',')?;
            }
            w.write_str("\"name\":")?;
            write_json_str(w, span.metadata().name())?;
            w.write_char('}')?;
        }
    }
    w.write_char(']')
}

/// An event's fields at the line's top level, in the order recorded (repeats kept).
struct EventFields<'a, 'w> {
    writer: &'a mut Writer<'w>,
    result: fmt::Result,
}

impl<'w> EventFields<'_, 'w> {
    /// `,"name":` and the value `value` writes.
    fn member(&mut self, name: &str, value: impl FnOnce(&mut Writer<'w>) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        self.result = (|| {
            self.writer.write_char(',')?;
            write_json_str(self.writer, name)?;
            self.writer.write_char(':')?;
            value(self.writer)
        })();
    }
}

impl Visit for EventFields<'_, '_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.member(field.name(), |w| w.write_str(&json_text(&value)?));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field.name(), |w| write!(w, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field.name(), |w| write!(w, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field.name(), |w| write!(w, "{value}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field.name(), |w| write_json_str(w, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.member(field.name(), |w| write_json_debug(w, value));
    }
}

/// `value` as serde_json writes it (the floats: `ryu`'s shortest form, `null` when not finite).
fn json_text(value: &impl serde::Serialize) -> Result<String, fmt::Error> {
    serde_json::to_string(value).map_err(|_| fmt::Error)
}

/// Writes `value`'s `Debug` text as a JSON string.
fn write_json_debug(out: &mut impl fmt::Write, value: &dyn fmt::Debug) -> fmt::Result {
    let mut text = String::with_capacity(64);
    write!(text, "{value:?}")?;
    write_json_str(out, &text)
}

/// Writes `s` as a JSON string, escaped as serde_json escapes it: `"`, `\`, and the control
/// characters below U+0020 (`\b \f \n \r \t` by name, the others as `\u00xx`).
fn write_json_str(out: &mut impl fmt::Write, s: &str) -> fmt::Result {
    out.write_char('"')?;
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        let escaped = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..0x20 => "",
            _ => continue,
        };
        out.write_str(&s[plain..i])?;
        plain = i + 1;
        if escaped.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.write_str("\\u00")?;
            out.write_char(char::from(HEX[usize::from(b >> 4)]))?;
            out.write_char(char::from(HEX[usize::from(b & 0xf)]))?;
        } else {
            out.write_str(escaped)?;
        }
    }
    out.write_str(&s[plain..])?;
    out.write_char('"')
}

#[cfg(test)]
mod tests;
