//! Snapshots: the identifiers a producer holds now, served by `events.v1.EventsService/Snapshot`
//! in chunks, from which a consumer that fell behind the retention (or reconciles) removes what
//! refers to identifiers that are gone.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use proto::events::v1::{self as pb, events_service_client::EventsServiceClient};
use service_kit::{
    db::Pool,
    grpc::{GrpcChannel, OutgoingCall},
    on_pool,
};
use tonic::Status;
use uuid::Uuid;

/// The identifiers a producer holds now (see `events.v1.EventsService/Snapshot`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The newest sequence committed before the identifiers were read.
    pub head: i64,
    /// When the consumer asked for it (its own clock): a resynchronization removes only what was
    /// created before, since anything newer may refer to objects the snapshot could not know.
    pub taken_at: DateTime<Utc>,
    /// A periodic reconciliation rather than a resynchronization: remove what refers to
    /// identifiers that are gone, but leave the cursor where it is.
    pub reconcile_only: bool,
    /// The consumer's cursor is ahead of the producer (restored from a backup): set the cursor
    /// to the head even though that moves it back.
    pub rewind: bool,
    /// Live organizations.
    pub organizations: HashSet<Uuid>,
    /// (organization, user).
    pub memberships: HashSet<(Uuid, Uuid)>,
    /// Live groups.
    pub groups: HashSet<Uuid>,
    /// Live projects.
    pub projects: HashSet<Uuid>,
}

/// The queries that list a producer's live identifiers (one uuid column each; two for
/// memberships: organization, user). `None`: the producer has no such objects.
#[derive(Debug, Clone, Copy, Default)]
pub struct SnapshotQueries {
    /// Lists the live organizations.
    pub organizations: Option<&'static str>,
    /// Lists the live memberships (organization, user).
    pub memberships: Option<&'static str>,
    /// Lists the live groups.
    pub groups: Option<&'static str>,
    /// Lists the live projects.
    pub projects: Option<&'static str>,
}

/// Identifiers per snapshot chunk.
const CHUNK: usize = 10_000;

impl SnapshotQueries {
    /// Reads the snapshot of `pool` whose events up to `head` are committed.
    pub(crate) async fn read(self, pool: &Pool, head: i64) -> anyhow::Result<Snapshot> {
        let mut s = Snapshot {
            head,
            ..Snapshot::default()
        };
        if let Some(sql) = self.organizations {
            s.organizations = ids(pool, sql).await?.into_iter().collect();
        }
        if let Some(sql) = self.groups {
            s.groups = ids(pool, sql).await?.into_iter().collect();
        }
        if let Some(sql) = self.projects {
            s.projects = ids(pool, sql).await?.into_iter().collect();
        }
        if let Some(sql) = self.memberships {
            let pairs: Vec<(Uuid, Uuid)> =
                on_pool!(pool, |p| sqlx::query_as(sql).fetch_all(p).await?);
            s.memberships = pairs.into_iter().collect();
        }
        Ok(s)
    }
}

async fn ids(pool: &Pool, sql: &'static str) -> anyhow::Result<Vec<Uuid>> {
    Ok(on_pool!(pool, |p| sqlx::query_scalar(sql)
        .fetch_all(p)
        .await?))
}

/// `s` as the chunks of a `Snapshot` stream: the head in the first, at most [`CHUNK`]
/// identifiers in each, `last` set on the last.
pub(crate) fn chunks(s: Snapshot) -> Vec<pb::SnapshotChunk> {
    let mut out = vec![pb::SnapshotChunk {
        head_sequence: s.head,
        ..Default::default()
    }];
    let room = |out: &mut Vec<pb::SnapshotChunk>| {
        let c = out.last().map(|c| {
            c.organization_uuids.len()
                + c.memberships.len()
                + c.group_uuids.len()
                + c.project_uuids.len()
        });
        if c.unwrap_or(CHUNK) >= CHUNK {
            out.push(pb::SnapshotChunk::default());
        }
    };
    for o in s.organizations {
        room(&mut out);
        out.last_mut()
            .unwrap_or_else(|| unreachable!())
            .organization_uuids
            .push(o.to_string());
    }
    for (o, u) in s.memberships {
        room(&mut out);
        out.last_mut()
            .unwrap_or_else(|| unreachable!())
            .memberships
            .push(pb::MembershipRef {
                organization_uuid: o.to_string(),
                user_uuid: u.to_string(),
            });
    }
    for g in s.groups {
        room(&mut out);
        out.last_mut()
            .unwrap_or_else(|| unreachable!())
            .group_uuids
            .push(g.to_string());
    }
    for p in s.projects {
        room(&mut out);
        out.last_mut()
            .unwrap_or_else(|| unreachable!())
            .project_uuids
            .push(p.to_string());
    }
    if let Some(last) = out.last_mut() {
        last.last = true;
    }
    out
}

/// Reads a whole snapshot from a producer.
pub(crate) async fn fetch_snapshot(
    client: &mut EventsServiceClient<GrpcChannel>,
    call: &OutgoingCall,
) -> Result<Snapshot, Status> {
    let taken_at = Utc::now();
    let mut stream = client
        .snapshot(call.request(pb::SnapshotRequest {}, None, None))
        .await?
        .into_inner();
    let bad = |what: &str| Status::data_loss(format!("snapshot: {what}"));
    let parse = |s: &str| Uuid::parse_str(s).map_err(|_| bad("not a uuid"));
    let mut snapshot = Snapshot {
        taken_at,
        ..Snapshot::default()
    };
    let mut first = true;
    while let Some(c) = stream.message().await? {
        if first {
            snapshot.head = c.head_sequence;
            first = false;
        }
        for o in &c.organization_uuids {
            snapshot.organizations.insert(parse(o)?);
        }
        for m in &c.memberships {
            snapshot
                .memberships
                .insert((parse(&m.organization_uuid)?, parse(&m.user_uuid)?));
        }
        for g in &c.group_uuids {
            snapshot.groups.insert(parse(g)?);
        }
        for p in &c.project_uuids {
            snapshot.projects.insert(parse(p)?);
        }
        if c.last {
            return Ok(snapshot);
        }
    }
    Err(bad("the stream ended before its last chunk"))
}
