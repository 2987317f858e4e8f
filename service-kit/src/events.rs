//! The event flow between services: a producing service serves `events.v1.EventsService` from
//! its transactional outbox ([`EventsServer`] over an [`Outbox`]); a consuming service follows a
//! producer with a cursor it keeps in its own schema ([`spawn_consumer`] over an [`EventSink`]).
//!
//! Guarantees: an event row commits with the change it reports, numbered in commit order (on
//! PostgreSQL a trigger takes an advisory lock and draws the number under it, so the transactions
//! that write events commit one at a time: they are rare deletions; SQLite has one writer
//! anyway); delivery is
//! at least once (a consumer resubscribes from its cursor after any failure); the effect is
//! exactly once, because a sink applies an event and advances its cursor in one transaction, and
//! only if the cursor was still where the event follows (two instances of one consumer cannot
//! both apply it).

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use proto::events::v1::{self as pb, events_service_client::EventsServiceClient};
use tokio_util::sync::CancellationToken;
use tonic::{Code, Request, Response, Status, transport::Channel};
use uuid::Uuid;

use crate::grpc::{InternalCredential, OutgoingCall};

/// One stored outbox event.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredEvent {
    pub sequence: i64,
    pub event_uuid: Uuid,
    pub event_type: String,
    /// JSON object of identifiers.
    pub payload: String,
    pub created_at: DateTime<Utc>,
}

/// A producer's outbox, as the events server reads it.
#[async_trait::async_trait]
pub trait Outbox: Send + Sync + std::fmt::Debug + 'static {
    /// Up to `limit` events after `sequence`, in order.
    async fn events_after(&self, sequence: i64, limit: i64) -> anyhow::Result<Vec<StoredEvent>>;
    /// The highest sequence pruned so far (0 when none was).
    async fn pruned_through(&self) -> anyhow::Result<i64>;
    /// The highest sequence committed (0 when none).
    async fn head(&self) -> anyhow::Result<i64>;
    /// Deletes the events older than `before`; returns how many.
    async fn prune(&self, before: DateTime<Utc>) -> anyhow::Result<u64>;
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
        occurred_at: Some(crate::grpc::timestamp(e.created_at)),
        payload: Some(payload),
    })
}

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
    pub organizations: std::collections::HashSet<Uuid>,
    /// (organization, user).
    pub memberships: std::collections::HashSet<(Uuid, Uuid)>,
    pub groups: std::collections::HashSet<Uuid>,
    pub projects: std::collections::HashSet<Uuid>,
}

/// The queries that list a producer's live identifiers (one uuid column each; two for
/// memberships: organization, user). `None`: the producer has no such objects.
#[derive(Debug, Clone, Copy, Default)]
pub struct SnapshotQueries {
    pub organizations: Option<&'static str>,
    pub memberships: Option<&'static str>,
    pub groups: Option<&'static str>,
    pub projects: Option<&'static str>,
}

/// Identifiers per snapshot chunk.
const CHUNK: usize = 10_000;

/// Settings of the events server.
#[derive(Debug, Clone, Copy)]
pub struct ServerSettings {
    /// How often an idle subscription looks for new events.
    pub poll: Duration,
    /// Events read per query.
    pub batch: i64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(100),
            batch: 500,
        }
    }
}

/// Implements `events.v1.EventsService` over an outbox, for the trusted internal caller only.
#[derive(Debug, Clone)]
pub struct EventsServer {
    outbox: Arc<dyn Outbox>,
    snapshot: Option<(crate::db::Pool, SnapshotQueries)>,
    credential: InternalCredential,
    settings: ServerSettings,
    shutdown: CancellationToken,
}

impl EventsServer {
    /// The server; its streams end when `shutdown` is cancelled.
    pub fn new(
        outbox: Arc<dyn Outbox>,
        credential: InternalCredential,
        settings: ServerSettings,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            outbox,
            snapshot: None,
            credential,
            settings,
            shutdown,
        }
    }

    /// Serves snapshots of `pool` read with `queries`.
    pub fn with_snapshots(mut self, pool: crate::db::Pool, queries: SnapshotQueries) -> Self {
        self.snapshot = Some((pool, queries));
        self
    }

    /// Deletes events older than `retention` every `every` until shutdown.
    pub fn spawn_pruning(&self, retention: Duration, every: Duration) {
        let outbox = self.outbox.clone();
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let before = Utc::now()
                    - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
                match outbox.prune(before).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(pruned = n, "outbox events past the retention pruned"),
                    Err(e) => tracing::warn!(error = %e, "pruning the outbox failed"),
                }
            }
        });
    }
}

fn behind(cursor: i64, pruned: i64) -> Status {
    Status::out_of_range(format!(
        "events after {cursor} up to {pruned} were pruned (retention): resynchronize this consumer (docs/events.md)"
    ))
}

type EventStream = tokio_stream::wrappers::ReceiverStream<Result<pb::Event, Status>>;

#[tonic::async_trait]
impl pb::events_service_server::EventsService for EventsServer {
    type SubscribeStream = EventStream;

    async fn subscribe(
        &self,
        req: Request<pb::SubscribeRequest>,
    ) -> Result<Response<EventStream>, Status> {
        self.credential.check(req.metadata())?;
        let mut cursor = req.get_ref().after_sequence.max(0);
        let internal = |e: anyhow::Error| {
            tracing::error!(error = ?e, "reading the outbox failed");
            Status::internal("reading the outbox failed")
        };
        let pruned = self.outbox.pruned_through().await.map_err(internal)?;
        if cursor < pruned {
            return Err(behind(cursor, pruned));
        }
        // A cursor beyond everything this producer ever numbered: the producer was restored
        // from a backup (its numbers start again below the cursor). Following would skip its
        // new events silently.
        let head = self.outbox.head().await.map_err(internal)?;
        if cursor > head {
            return Err(Status::failed_precondition(format!(
                "cursor {cursor} is ahead of this producer's newest event {head} (restored from a backup?): resynchronize this consumer (docs/events.md)"
            )));
        }
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let outbox = self.outbox.clone();
        let settings = self.settings;
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            loop {
                let batch = match outbox.events_after(cursor, settings.batch).await {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = tx.send(Err(internal(e))).await;
                        return;
                    }
                };
                // Pruning may have passed a slow reader: never skip silently.
                match outbox.pruned_through().await {
                    Ok(p)
                        if cursor < p && batch.first().is_none_or(|e| e.sequence > cursor + 1) =>
                    {
                        let _ = tx.send(Err(behind(cursor, p))).await;
                        return;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let _ = tx.send(Err(internal(e))).await;
                        return;
                    }
                }
                let idle = batch.is_empty();
                for e in batch {
                    cursor = e.sequence;
                    let event = match to_proto(&e) {
                        Ok(ev) => ev,
                        Err(err) => {
                            // A row this build cannot describe: skipping it would lose a
                            // cascade, so the stream stops and says so.
                            tracing::error!(sequence = e.sequence, error = %err, "outbox event cannot be sent");
                            let _ = tx
                                .send(Err(Status::internal("an outbox event cannot be sent")))
                                .await;
                            return;
                        }
                    };
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        sent = tx.send(Ok(event)) => if sent.is_err() { return },
                    }
                }
                if idle {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tx.closed() => return,
                        () = tokio::time::sleep(settings.poll) => {}
                    }
                }
            }
        });
        Ok(Response::new(EventStream::new(rx)))
    }

    type SnapshotStream = tokio_stream::wrappers::ReceiverStream<Result<pb::SnapshotChunk, Status>>;

    async fn snapshot(
        &self,
        req: Request<pb::SnapshotRequest>,
    ) -> Result<Response<Self::SnapshotStream>, Status> {
        self.credential.check(req.metadata())?;
        let Some((pool, queries)) = self.snapshot.clone() else {
            return Err(Status::unimplemented("this producer serves no snapshots"));
        };
        let failed = |e: anyhow::Error| {
            tracing::error!(error = ?e, "reading a snapshot failed");
            Status::internal("reading a snapshot failed")
        };
        // The head first: whatever is deleted after it is also replayed from it.
        let head = self.outbox.head().await.map_err(failed)?;
        let snapshot = read_snapshot(&pool, queries, head).await.map_err(failed)?;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            for chunk in chunks(snapshot) {
                if tx.send(Ok(chunk)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(
            rx,
        )))
    }
}

async fn ids(pool: &crate::db::Pool, sql: &'static str) -> anyhow::Result<Vec<Uuid>> {
    use crate::db::Pool;
    Ok(match pool {
        Pool::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await?,
        Pool::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await?,
    })
}

async fn read_snapshot(
    pool: &crate::db::Pool,
    q: SnapshotQueries,
    head: i64,
) -> anyhow::Result<Snapshot> {
    use crate::db::Pool;
    let mut s = Snapshot {
        head,
        ..Snapshot::default()
    };
    if let Some(sql) = q.organizations {
        s.organizations = ids(pool, sql).await?.into_iter().collect();
    }
    if let Some(sql) = q.groups {
        s.groups = ids(pool, sql).await?.into_iter().collect();
    }
    if let Some(sql) = q.projects {
        s.projects = ids(pool, sql).await?.into_iter().collect();
    }
    if let Some(sql) = q.memberships {
        let pairs: Vec<(Uuid, Uuid)> = match pool {
            Pool::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await?,
            Pool::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await?,
        };
        s.memberships = pairs.into_iter().collect();
    }
    Ok(s)
}

fn chunks(s: Snapshot) -> Vec<pb::SnapshotChunk> {
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
async fn fetch_snapshot(
    client: &mut EventsServiceClient<Channel>,
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

/// Where a consumer applies events and keeps its cursor.
#[async_trait::async_trait]
pub trait EventSink: Send + Sync + std::fmt::Debug + 'static {
    /// The last sequence applied from `source` (0 when none).
    async fn cursor(&self, source: &str) -> anyhow::Result<i64>;
    /// Applies `event` and moves the cursor of `source` from `after` to the event's sequence,
    /// in one transaction; false (nothing changed) when the cursor was no longer at `after`.
    async fn apply(&self, source: &str, after: i64, event: &pb::Event) -> anyhow::Result<bool>;
    /// Resynchronizes with a producer's snapshot: removes what refers to identifiers it no
    /// longer has, and sets the cursor of `source` to the snapshot's head, in one transaction.
    async fn resync(&self, source: &str, snapshot: &Snapshot) -> anyhow::Result<()>;
}

/// What a consumer follows.
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    /// The producer's name, the key of the cursor (`identity`, `projects`).
    pub source: &'static str,
    /// Longest wait between two attempts after a failure.
    pub max_backoff: Duration,
    /// How often to reconcile with the producer's snapshot besides following its events: a row
    /// created while its organization's (or member's) deletion was being applied escapes the
    /// event, and the next reconciliation removes it. `None`: never.
    pub reconcile_every: Option<Duration>,
}

/// Follows a producer until `shutdown`: subscribes from the stored cursor, applies every event,
/// and after any failure (producer down, stream broken, an apply failing) starts again from the
/// stored cursor with a growing pause.
pub fn spawn_consumer(
    settings: ConsumerSettings,
    channel: Channel,
    credential: InternalCredential,
    sink: Arc<dyn EventSink>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    if let Some(every) = settings.reconcile_every {
        spawn_reconciliation(
            settings.source,
            every,
            EventsServiceClient::new(channel.clone()),
            OutgoingCall::internal(credential.clone()),
            sink.clone(),
            shutdown.clone(),
        );
    }
    tokio::spawn(async move {
        let call = OutgoingCall::internal(credential);
        let client = EventsServiceClient::new(channel);
        let mut backoff = Duration::from_millis(100);
        let mut failures = 0u32;
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            let mut applied = 0u64;
            let outcome = follow(
                &settings,
                client.clone(),
                &call,
                sink.as_ref(),
                &shutdown,
                &mut applied,
            )
            .await;
            if applied > 0 {
                failures = 0;
                backoff = Duration::from_millis(100);
            }
            match outcome {
                Ok(()) => return,
                // Another instance applied an event first: follow it again at once.
                Err(e) if e.code() == Code::Aborted => {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_millis(20)) => continue,
                    }
                }
                // Fell behind the retention (events were lost to pruning), or ahead of a producer
                // restored from a backup: reconcile with the producer's snapshot, then follow
                // from its head.
                Err(e) if matches!(e.code(), Code::OutOfRange | Code::FailedPrecondition) => {
                    tracing::error!(
                        source = settings.source,
                        message = e.message(),
                        "event consumer fell behind the retention; resynchronizing from a snapshot"
                    );
                    match resync(&settings, client.clone(), &call, sink.as_ref()).await {
                        Ok(head) => {
                            tracing::warn!(
                                source = settings.source,
                                head,
                                "event consumer resynchronized"
                            );
                            continue;
                        }
                        Err(e) => {
                            failures += 1;
                            tracing::error!(source = settings.source, code = ?e.code(), message = e.message(), "resynchronizing failed");
                        }
                    }
                }
                Err(e) => {
                    failures += 1;
                    // The first failures of a row are expected (a producer restarting): log
                    // them quietly, then loudly.
                    if failures > 3 {
                        tracing::error!(source = settings.source, code = ?e.code(), message = e.message(), "event consumer failing");
                    } else {
                        tracing::info!(source = settings.source, code = ?e.code(), message = e.message(), "event consumer retrying");
                    }
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(settings.max_backoff);
        }
    })
}

/// Every `every`, removes from the sink what refers to identifiers the producer no longer has
/// (anti-entropy: effects are idempotent deletions bounded by the snapshot's time, so this is
/// safe at any moment and never moves the cursor).
fn spawn_reconciliation(
    source: &'static str,
    every: Duration,
    mut client: EventsServiceClient<Channel>,
    call: OutgoingCall,
    sink: Arc<dyn EventSink>,
    shutdown: CancellationToken,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let snapshot = match fetch_snapshot(&mut client, &call).await {
                Ok(s) => Snapshot {
                    reconcile_only: true,
                    ..s
                },
                Err(e) => {
                    tracing::info!(source, code = ?e.code(), message = e.message(), "reconciliation skipped: no snapshot");
                    continue;
                }
            };
            if let Err(e) = sink.resync(source, &snapshot).await {
                tracing::warn!(source, error = %e, "reconciliation failed");
            }
        }
    });
}

/// Reconciles the sink with the producer's snapshot; returns the new cursor.
async fn resync(
    settings: &ConsumerSettings,
    mut client: EventsServiceClient<Channel>,
    call: &OutgoingCall,
    sink: &dyn EventSink,
) -> Result<i64, Status> {
    let snapshot = fetch_snapshot(&mut client, call).await?;
    // Ahead of the producer: the cursor must come back to its head.
    let rewind = sink
        .cursor(settings.source)
        .await
        .map_err(|_| Status::internal("reading the cursor failed"))?
        > snapshot.head;
    let snapshot = Snapshot { rewind, ..snapshot };
    sink.resync(settings.source, &snapshot).await.map_err(|e| {
        tracing::warn!(source = settings.source, error = %e, "applying a snapshot failed");
        Status::internal("applying a snapshot failed")
    })?;
    Ok(snapshot.head)
}

/// One subscription: Ok when shut down, Err on anything else.
async fn follow(
    settings: &ConsumerSettings,
    mut client: EventsServiceClient<Channel>,
    call: &OutgoingCall,
    sink: &dyn EventSink,
    shutdown: &CancellationToken,
    applied: &mut u64,
) -> Result<(), Status> {
    let sink_error = |e: anyhow::Error| {
        tracing::warn!(source = settings.source, error = %e, "applying an event failed");
        Status::internal("applying an event failed")
    };
    let mut cursor = sink.cursor(settings.source).await.map_err(sink_error)?;
    let request = call.request(
        pb::SubscribeRequest {
            after_sequence: cursor,
        },
        None,
        None,
    );
    let mut stream = client.subscribe(request).await?.into_inner();
    loop {
        let next = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            next = stream.message() => next?,
        };
        let Some(event) = next else {
            return Err(Status::unavailable("the producer ended the stream"));
        };
        if event.sequence <= cursor {
            continue;
        }
        if sink
            .apply(settings.source, cursor, &event)
            .await
            .map_err(sink_error)?
        {
            tracing::debug!(
                source = settings.source,
                sequence = event.sequence,
                "event applied"
            );
            cursor = event.sequence;
            *applied += 1;
        } else {
            // Another instance moved the cursor: start again from where it is now.
            return Err(Status::aborted("the cursor moved; resubscribing"));
        }
    }
}

/// The outbox of a producing service: its tables `outbox_events` (numbered in commit order; see
/// the services' `outbox_sequence` migrations) and `outbox_pruned`.
#[derive(Debug, Clone)]
pub struct SqlOutbox(pub crate::db::Pool);

const EVENTS_AFTER: &str = "SELECT sequence, event_uuid, event_type, payload, created_at \
     FROM outbox_events WHERE sequence > $1 ORDER BY sequence LIMIT $2";

#[async_trait::async_trait]
impl Outbox for SqlOutbox {
    async fn events_after(&self, sequence: i64, limit: i64) -> anyhow::Result<Vec<StoredEvent>> {
        use crate::db::Pool;
        Ok(match &self.0 {
            Pool::Postgres(p) => {
                sqlx::query_as(EVENTS_AFTER)
                    .bind(sequence)
                    .bind(limit)
                    .fetch_all(p)
                    .await?
            }
            Pool::Sqlite(p) => {
                sqlx::query_as(EVENTS_AFTER)
                    .bind(sequence)
                    .bind(limit)
                    .fetch_all(p)
                    .await?
            }
        })
    }

    async fn pruned_through(&self) -> anyhow::Result<i64> {
        use crate::db::Pool;
        let sql = "SELECT through FROM outbox_pruned WHERE id = 1";
        Ok(match &self.0 {
            Pool::Postgres(p) => sqlx::query_scalar::<_, i64>(sql).fetch_optional(p).await?,
            Pool::Sqlite(p) => sqlx::query_scalar::<_, i64>(sql).fetch_optional(p).await?,
        }
        .unwrap_or(0))
    }

    async fn head(&self) -> anyhow::Result<i64> {
        use crate::db::Pool;
        let sql = "SELECT COALESCE(MAX(sequence), 0) FROM outbox_events";
        let head: i64 = match &self.0 {
            Pool::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await?,
            Pool::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await?,
        };
        // Everything may have been pruned: the head is then where pruning reached.
        Ok(head.max(self.pruned_through().await?))
    }

    async fn prune(&self, before: DateTime<Utc>) -> anyhow::Result<u64> {
        use crate::db::Pool;
        macro_rules! prune {
            ($p:expr) => {{
                let mut tx = $p.begin().await?;
                // Only a prefix of the sequence goes: the oldest events up to the first one that
                // is still within the retention. (`created_at` is the writer's clock, not the
                // commit order: pruning by it alone could leave a hole that no reader notices.)
                let first_kept: Option<i64> = sqlx::query_scalar(
                    "SELECT MIN(sequence) FROM outbox_events WHERE created_at >= $1",
                )
                .bind(before)
                .fetch_one(&mut *tx)
                .await?;
                let through: Option<i64> = match first_kept {
                    Some(kept) => Some(kept - 1),
                    None => {
                        sqlx::query_scalar("SELECT MAX(sequence) FROM outbox_events")
                            .fetch_one(&mut *tx)
                            .await?
                    }
                };
                let mut gone = 0;
                if let Some(through) = through {
                    gone = sqlx::query("DELETE FROM outbox_events WHERE sequence <= $1")
                        .bind(through)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if gone > 0 {
                        sqlx::query(
                            "UPDATE outbox_pruned SET through = $1 WHERE id = 1 AND through < $1",
                        )
                        .bind(through)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                tx.commit().await?;
                gone
            }};
        }
        Ok(match &self.0 {
            Pool::Postgres(p) => prune!(p),
            Pool::Sqlite(p) => prune!(p),
        })
    }
}

/// The events service of a producer over its database's outbox, pruning events older than
/// `retention` (checked every tenth of it, at most hourly).
pub fn server(
    pool: crate::db::Pool,
    snapshots: SnapshotQueries,
    credential: InternalCredential,
    retention: Duration,
    shutdown: CancellationToken,
) -> pb::events_service_server::EventsServiceServer<EventsServer> {
    let server = EventsServer::new(
        Arc::new(SqlOutbox(pool.clone())),
        credential,
        ServerSettings::default(),
        shutdown,
    )
    .with_snapshots(pool, snapshots);
    server.spawn_pruning(
        retention,
        (retention / 10).clamp(Duration::from_secs(1), Duration::from_secs(3600)),
    );
    pb::events_service_server::EventsServiceServer::new(server)
}

/// SQL of a consumer's cursor table `event_cursors (source TEXT PRIMARY KEY, sequence BIGINT)`,
/// the same on both backends: [`EventSink`] implementations run [`ENSURE_CURSOR`] and
/// [`ADVANCE_CURSOR`] (binds: new sequence, source, expected sequence; 0 rows affected means
/// another instance moved it) in the transaction that applies the event.
pub const READ_CURSOR: &str = "SELECT sequence FROM event_cursors WHERE source = $1";
/// See [`READ_CURSOR`].
pub const ENSURE_CURSOR: &str =
    "INSERT INTO event_cursors (source, sequence) VALUES ($1, 0) ON CONFLICT (source) DO NOTHING";
/// See [`READ_CURSOR`].
pub const ADVANCE_CURSOR: &str =
    "UPDATE event_cursors SET sequence = $1 WHERE source = $2 AND sequence = $3";

/// In an [`EventSink::cursor`] over a sqlx pool: the stored cursor of `source`, 0 when none.
#[macro_export]
macro_rules! read_cursor {
    ($pool:expr, $source:expr) => {
        Ok(sqlx::query_scalar($crate::events::READ_CURSOR)
            .bind($source)
            .fetch_optional($pool)
            .await?
            .unwrap_or(0))
    };
}

/// In an [`EventSink::apply`] over a transaction `tx`: makes sure the cursor of `source` exists
/// and moves it from `after` to the event's sequence; returns `Ok(false)` from the enclosing
/// function (the transaction dropped: rolled back) when another instance moved it first.
#[macro_export]
macro_rules! advance_cursor_or_return {
    ($tx:expr, $source:expr, $after:expr, $event:expr) => {{
        sqlx::query($crate::events::ENSURE_CURSOR)
            .bind($source)
            .execute(&mut *$tx)
            .await?;
        let moved = sqlx::query($crate::events::ADVANCE_CURSOR)
            .bind($event.sequence)
            .bind($source)
            .bind($after)
            .execute(&mut *$tx)
            .await?
            .rows_affected();
        if moved == 0 {
            return Ok(false);
        }
    }};
}

/// In an [`EventSink::resync`] over a transaction `tx`: sets the cursor of `source` to the
/// snapshot's head, forward only (an instance holding an older snapshot never moves it back)
/// unless the snapshot says to rewind; a reconciliation leaves it alone.
#[macro_export]
macro_rules! cursor_from_snapshot {
    ($tx:expr, $source:expr, $snapshot:expr) => {{
        let snapshot: &$crate::events::Snapshot = $snapshot;
        if !snapshot.reconcile_only {
            sqlx::query($crate::events::ENSURE_CURSOR)
                .bind($source)
                .execute(&mut *$tx)
                .await?;
            let sql = if snapshot.rewind {
                "UPDATE event_cursors SET sequence = $1 WHERE source = $2"
            } else {
                "UPDATE event_cursors SET sequence = $1 WHERE source = $2 AND sequence < $1"
            };
            sqlx::query(sql)
                .bind(snapshot.head)
                .bind($source)
                .execute(&mut *$tx)
                .await?;
        }
    }};
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
