//! Reading what the test scrapes and what the dashboard asks: the Prometheus text format, and
//! the metric names a PromQL expression selects.

use std::collections::{BTreeMap, BTreeSet};

/// One sample of an exposition: its name (`…_bucket` for a histogram's bucket), labels and
/// value.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed exposition: each family's type (`# TYPE`) and every sample.
#[derive(Debug, Default)]
pub struct Exposition {
    pub types: BTreeMap<String, String>,
    pub samples: Vec<Sample>,
}

impl Exposition {
    /// Parses the text format; panics on a line it cannot read (the endpoint must serve valid
    /// text).
    pub fn parse(text: &str) -> Self {
        let mut out = Self::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
                out.types.insert(name.to_owned(), kind.trim().to_owned());
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            out.samples.push(parse_sample(line));
        }
        out
    }

    /// The samples of `name` whose labels include every pair of `with`.
    pub fn find(&self, name: &str, with: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                with.iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// Whether `name` names a family here, or a histogram's `_bucket`, `_sum` or `_count`.
    pub fn knows(&self, name: &str) -> bool {
        if self.types.contains_key(name) {
            return true;
        }
        ["_bucket", "_sum", "_count"].iter().any(|suffix| {
            name.strip_suffix(suffix)
                .and_then(|family| self.types.get(family))
                .is_some_and(|kind| kind == "histogram" || kind == "summary")
        })
    }
}

fn parse_sample(line: &str) -> Sample {
    let name_end = line
        .find(['{', ' '])
        .unwrap_or_else(|| panic!("no value: {line}"));
    let name = line[..name_end].to_owned();
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices();
        let mut key = String::new();
        loop {
            let (i, c) = chars
                .next()
                .unwrap_or_else(|| panic!("open labels: {line}"));
            match c {
                '}' => {
                    rest = &inner[i + 1..];
                    break;
                }
                ',' | ' ' => {}
                '=' => {
                    assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
                    let mut value = String::new();
                    loop {
                        match chars.next().map(|(_, c)| c) {
                            Some('\\') => match chars.next().map(|(_, c)| c) {
                                Some('n') => value.push('\n'),
                                Some(other) => value.push(other),
                                None => panic!("{line}"),
                            },
                            Some('"') => break,
                            Some(other) => value.push(other),
                            None => panic!("open value: {line}"),
                        }
                    }
                    labels.insert(std::mem::take(&mut key), value);
                }
                other => key.push(other),
            }
        }
    }
    let value = rest
        .split_whitespace()
        .next()
        .unwrap_or_else(|| panic!("no value: {line}"));
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("bad value: {line}")),
    };
    Sample {
        name,
        labels,
        value,
    }
}

/// Words of PromQL that are no metric: binary operators and modifiers.
const KEYWORDS: &[&str] = &["and", "or", "unless", "bool", "offset", "atan2"];
/// Modifiers followed by a parenthesized list of label names.
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The metric names an expression selects: every identifier but functions and aggregations
/// (followed by `(`), keywords, label names (inside `{…}` and the lists of `by`, `on`, …),
/// string literals, ranges (`[5m]`) and numbers.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&chars, i);
        } else if c == '{' {
            i = skip_until(&chars, i, '}');
        } else if c == '[' {
            i = skip_until(&chars, i, ']');
        } else if c.is_ascii_digit() || c == '.' {
            // A number (1, 0.99, 1e3): its letters are no name.
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut next = i;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            let called = chars.get(next) == Some(&'(');
            // `sum by (…) (…)`: an aggregation whose modifier comes first.
            let after: String = chars[next..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                .collect();
            let modified = after == "by" || after == "without";
            if LABEL_LISTS.contains(&word.as_str()) {
                if called {
                    i = skip_until(&chars, next, ')');
                }
            } else if !called && !modified && !KEYWORDS.contains(&word.as_str()) {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

/// The index after the string starting at `at`.
fn skip_string(chars: &[char], at: usize) -> usize {
    let quote = chars[at];
    let mut i = at + 1;
    while i < chars.len() && chars[i] != quote {
        if chars[i] == '\\' && quote != '`' {
            i += 1;
        }
        i += 1;
    }
    i + 1
}

/// The index after the `close` that ends the group opened at `at` (strings inside skipped).
fn skip_until(chars: &[char], at: usize, close: char) -> usize {
    let mut i = at + 1;
    while i < chars.len() && chars[i] != close {
        if matches!(chars[i], '"' | '\'' | '`') {
            i = skip_string(chars, i);
        } else {
            i += 1;
        }
    }
    i + 1
}

#[test]
fn names_are_read_out_of_expressions() {
    let names = |e: &str| metric_names(e).into_iter().collect::<Vec<_>>();
    assert_eq!(
        names(
            r#"histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{route!~"/x|y", status=~"5.."}[$__rate_interval])))"#
        ),
        ["http_request_duration_seconds_bucket"]
    );
    assert_eq!(
        names(
            "max by (producer) (outbox_head_sequence) - on (producer) group_right max by (producer, consumer) (events_consumer_sequence)"
        ),
        ["events_consumer_sequence", "outbox_head_sequence"]
    );
    assert_eq!(
        names("sum(a_total) / sum(b) > bool 1e3 and c offset 5m"),
        ["a_total", "b", "c"]
    );
    let text =
        "# TYPE h histogram\nh_bucket{le=\"+Inf\",route=\"/a\\\"b\"} 2\nh_sum 0.5\nh_count 2\n";
    let e = Exposition::parse(text);
    assert!(e.knows("h_bucket") && e.knows("h_count") && !e.knows("g"));
    assert_eq!(e.find("h_bucket", &[("route", "/a\"b")])[0].value, 2.0);
}
