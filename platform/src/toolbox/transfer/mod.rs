//! `export` and `import`: one organization (an account with its sub-accounts) as one JSON
//! document, `platform-org-export/1`, covering every service's data of it (docs/operations.md,
//! "export and import"). The tool reads and writes each service's database directly, table by
//! table as [`tables`] lists them, in one transaction per service.

mod check;
pub mod export;
pub mod import;
mod sql;
pub mod tables;
mod write;

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

/// The document's `format`: a reader refuses any other.
pub const FORMAT: &str = "platform-org-export/1";

/// How a column is read, written and shown in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A uuid, as its hyphenated string.
    Uuid,
    /// A time, as an RFC 3339 string in UTC.
    Time,
    /// A boolean.
    Bool,
    /// A 64-bit integer.
    Int,
    /// A 32-bit integer (`INTEGER` on PostgreSQL).
    Int32,
    /// Text.
    Text,
}

/// One table of a service that holds an organization's rows.
#[derive(Debug)]
pub struct Table {
    /// The table's name in the service's schema.
    pub name: &'static str,
    /// Its columns, each with its kind; any of them may be null.
    pub columns: &'static [(&'static str, Kind)],
    /// The condition selecting the organization's rows; `{orgs}` is the list of its accounts.
    pub scope: &'static str,
    /// `(id, parent)` when a row may reference a row of the same table: parents are written
    /// first.
    pub tree: Option<(&'static str, &'static str)>,
}

/// One service's tables, in the order they are written.
#[derive(Debug)]
pub struct Service {
    /// `identity`, `projects` or `connections`.
    pub name: &'static str,
    /// Its tables.
    pub tables: &'static [Table],
}

/// A row: column name to value.
pub type Row = serde_json::Map<String, Value>;

/// The document: `services.<service>.<table>` is the list of that table's rows.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Document {
    /// [`FORMAT`].
    pub format: String,
    /// When the export began.
    pub exported_at: DateTime<Utc>,
    /// The top-level account exported.
    pub organization_uuid: uuid::Uuid,
    /// Every service's rows.
    pub services: BTreeMap<String, BTreeMap<String, Vec<Row>>>,
}

/// A value ready to bind, parsed from the document by its column's kind.
#[derive(Debug, Clone)]
pub enum Cell {
    Uuid(Option<uuid::Uuid>),
    Time(Option<DateTime<Utc>>),
    Bool(Option<bool>),
    Int(Option<i64>),
    Int32(Option<i32>),
    Text(Option<String>),
}

impl Cell {
    /// Parses `value` as a `kind`; the error names what was expected, never the value.
    pub fn parse(kind: Kind, value: &Value) -> Result<Self, &'static str> {
        let text = || match value {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.as_str())),
            _ => Err("a string or null"),
        };
        Ok(match kind {
            Kind::Uuid => Cell::Uuid(
                text()?
                    .map(uuid::Uuid::parse_str)
                    .transpose()
                    .map_err(|_| "a uuid or null")?,
            ),
            Kind::Time => Cell::Time(
                text()?
                    .map(DateTime::parse_from_rfc3339)
                    .transpose()
                    .map_err(|_| "an RFC 3339 time or null")?
                    .map(|t| t.with_timezone(&Utc)),
            ),
            Kind::Text => Cell::Text(text()?.map(str::to_owned)),
            Kind::Bool => Cell::Bool(match value {
                Value::Null => None,
                Value::Bool(b) => Some(*b),
                _ => return Err("a boolean or null"),
            }),
            Kind::Int => Cell::Int(match value {
                Value::Null => None,
                v => Some(v.as_i64().ok_or("an integer or null")?),
            }),
            Kind::Int32 => Cell::Int32(match value {
                Value::Null => None,
                v => Some(
                    v.as_i64()
                        .and_then(|i| i32::try_from(i).ok())
                        .ok_or("a 32-bit integer or null")?,
                ),
            }),
        })
    }

    /// The value as the document shows it.
    pub fn to_json(&self) -> Value {
        match self {
            Cell::Uuid(v) => v.map_or(Value::Null, |u| Value::String(u.to_string())),
            Cell::Time(v) => v.map_or(Value::Null, |t| {
                Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
            }),
            Cell::Bool(v) => v.map_or(Value::Null, Value::Bool),
            Cell::Int(v) => v.map_or(Value::Null, Value::from),
            Cell::Int32(v) => v.map_or(Value::Null, Value::from),
            Cell::Text(v) => v.clone().map_or(Value::Null, Value::String),
        }
    }
}

/// `{orgs}` of a scope replaced by `$first`, `$first+1`, … one per account.
fn scoped(scope: &str, accounts: usize, first: usize) -> String {
    let list: Vec<String> = (first..first + accounts).map(|n| format!("${n}")).collect();
    scope.replace("{orgs}", &list.join(", "))
}

#[cfg(test)]
mod tests;
