//! The event flow between services: a producing service serves `events.v1.EventsService` from
//! its transactional outbox ([`EventsServer`] over an [`Outbox`], [`server`] for the usual
//! SQL one); a consuming service follows a producer with a cursor it keeps in its own schema
//! ([`spawn_consumer`] over an [`EventSink`], whose SQL helpers are in [`cursor`]).
//!
//! Guarantees: an event row commits with the change it reports, numbered in commit order (on
//! PostgreSQL a trigger takes an advisory lock and draws the number under it, so the transactions
//! that write events commit one at a time: they are rare deletions; SQLite has one writer
//! anyway); delivery is at least once (a consumer resubscribes from its cursor after any
//! failure); the effect is exactly once, because a sink applies an event and advances its cursor
//! in one transaction, and only if the cursor was still where the event follows (two instances
//! of one consumer cannot both apply it).
//!
//! Modules: `server` (the producer's side of `events.v1`, pruning), `store` (the outbox's SQL),
//! `snapshot` (the live identifiers a consumer resynchronizes from), `consumer` (following a
//! producer), [`cursor`] (the consumer's cursor table) and `metrics` (the head, the cursors
//! and the delay as Prometheus series).

mod consumer;
pub mod cursor;
mod metrics;
mod server;
mod snapshot;
mod store;

use chrono::{DateTime, Utc};
use proto::events::v1 as pb;
use uuid::Uuid;

pub use consumer::{ConsumerSettings, EventSink, spawn_consumer};
pub use metrics::watch_head;
pub use server::{EventsServer, ServerSettings, server};
pub use snapshot::{Snapshot, SnapshotQueries};
pub use store::{Outbox, SqlOutbox};

service_kit::from_row! {
    /// One stored outbox event.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct StoredEvent {
        /// Its place in the producer's commit order.
        pub sequence: i64,
        /// Its identifier.
        pub event_uuid: Uuid,
        /// `organization.deleted`, `user.deleted`, … (docs/events.md).
        pub event_type: String,
        /// JSON object of identifiers.
        pub payload: String,
        /// When it was written, by the producer's clock.
        pub created_at: DateTime<Utc>,
        /// The W3C traceparent of the span that wrote it, when traces were exported.
        pub traceparent: Option<String>,
    }
}

fn id(payload: &serde_json::Value, key: &str) -> anyhow::Result<String> {
    payload
        .get(key)
        .and_then(|v| v.as_str())
        .and_then(|s| Uuid::parse_str(s).ok())
        .map(|u| u.to_string())
        .ok_or_else(|| anyhow::anyhow!("event payload has no {key}"))
}

/// The proto form of a stored event.
pub fn to_proto(e: &StoredEvent) -> anyhow::Result<pb::Event> {
    use pb::event::Payload;
    let p: serde_json::Value = serde_json::from_str(&e.payload)?;
    let payload = match e.event_type.as_str() {
        "organization.deleted" => Payload::OrganizationDeleted(pb::OrganizationDeleted {
            organization_uuid: id(&p, "organizationUuid")?,
        }),
        "user.deleted" => Payload::UserDeleted(pb::UserDeleted {
            user_uuid: id(&p, "userUuid")?,
        }),
        "organization.member_removed" => Payload::MemberRemoved(pb::MemberRemoved {
            organization_uuid: id(&p, "organizationUuid")?,
            user_uuid: id(&p, "userUuid")?,
        }),
        "group.deleted" => Payload::GroupDeleted(pb::GroupDeleted {
            organization_uuid: id(&p, "organizationUuid")?,
            group_uuid: id(&p, "groupUuid")?,
        }),
        "project.deleted" => Payload::ProjectDeleted(pb::ProjectDeleted {
            organization_uuid: id(&p, "organizationUuid")?,
            project_uuid: id(&p, "projectUuid")?,
        }),
        other => anyhow::bail!("unknown event type {other:?}"),
    };
    Ok(pb::Event {
        sequence: e.sequence,
        event_uuid: e.event_uuid.to_string(),
        occurred_at: Some(service_kit::grpc::timestamp(e.created_at)),
        payload: Some(payload),
        traceparent: e.traceparent.clone().unwrap_or_default(),
    })
}

/// When an event happened, by the producer's clock (the epoch when it has none).
pub fn occurred_at(event: &pb::Event) -> DateTime<Utc> {
    event
        .occurred_at
        .as_ref()
        .and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
        .unwrap_or_default()
}

/// A time after every row: the bound of effects that remove everything (identifiers of deleted
/// organizations, users and groups are never reused). Year 9999, so that SQLite's text form
/// still sorts after every real time.
pub fn far_future() -> DateTime<Utc> {
    DateTime::from_timestamp(253_402_300_799, 0).unwrap_or_default()
}

/// A uuid field of an event, or an error naming it.
pub fn event_uuid(field: &str, value: &str) -> anyhow::Result<Uuid> {
    Uuid::parse_str(value).map_err(|_| anyhow::anyhow!("event field {field} is not a uuid"))
}
