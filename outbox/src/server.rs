//! The producer's side: [`EventsServer`] serves `events.v1.EventsService` (a subscription from a
//! cursor, snapshots) from an [`Outbox`] to the parts the producer's caller rules admit (its consumers), and prunes the events
//! past the retention.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use proto::events::v1 as pb;
use service_kit::{callers::require_caller, db::Pool};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::{Outbox, SnapshotQueries, SqlOutbox, snapshot::chunks, to_proto};

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

/// Implements `events.v1.EventsService` over an outbox, for the callers the service's caller
/// rules admit (`service_kit::callers`); a call no rule admitted is refused.
#[derive(Debug, Clone)]
pub struct EventsServer {
    outbox: Arc<dyn Outbox>,
    snapshot: Option<(Pool, SnapshotQueries)>,
    settings: ServerSettings,
    shutdown: CancellationToken,
}

impl EventsServer {
    /// The server; its streams end when `shutdown` is cancelled.
    pub fn new(
        outbox: Arc<dyn Outbox>,
        settings: ServerSettings,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            outbox,
            snapshot: None,
            settings,
            shutdown,
        }
    }

    /// Serves snapshots of `pool` read with `queries`.
    pub fn with_snapshots(mut self, pool: Pool, queries: SnapshotQueries) -> Self {
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
        require_caller(&req)?;
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
        require_caller(&req)?;
        let Some((pool, queries)) = self.snapshot.clone() else {
            return Err(Status::unimplemented("this producer serves no snapshots"));
        };
        let failed = |e: anyhow::Error| {
            tracing::error!(error = ?e, "reading a snapshot failed");
            Status::internal("reading a snapshot failed")
        };
        // The head first: whatever is deleted after it is also replayed from it.
        let head = self.outbox.head().await.map_err(failed)?;
        let snapshot = queries.read(&pool, head).await.map_err(failed)?;
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

/// The events service of a producer over its database's outbox, pruning events older than
/// `retention` (checked every tenth of it, at most hourly).
pub fn server(
    pool: Pool,
    snapshots: SnapshotQueries,
    retention: Duration,
    shutdown: CancellationToken,
) -> pb::events_service_server::EventsServiceServer<EventsServer> {
    let server = EventsServer::new(
        Arc::new(SqlOutbox(pool.clone())),
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
