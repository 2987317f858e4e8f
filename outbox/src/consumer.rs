//! The consumer's side: [`spawn_consumer`] follows a producer from the cursor an [`EventSink`]
//! keeps, applies each event, and resynchronizes from the producer's snapshot when it fell
//! behind the retention (or periodically reconciles with it).

use std::{sync::Arc, time::Duration};

use proto::events::v1::{self as pb, events_service_client::EventsServiceClient};
use service_kit::grpc::{GrpcChannel, InternalCredential, OutgoingCall};
use tokio_util::sync::CancellationToken;
use tonic::{Code, Status};
use tracing::Instrument as _;

use crate::{Snapshot, metrics::ConsumerMetrics, snapshot::fetch_snapshot};

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
    /// The consuming part (`projects-svc`, `connections-svc`): its name in metrics, and whose
    /// work applying an event is in traces (`service_kit::trace_context::Part`).
    pub consumer: &'static str,
    /// Longest wait between two attempts after a failure.
    pub max_backoff: Duration,
    /// How often to reconcile with the producer's snapshot besides following its events: a row
    /// created while its organization's (or member's) deletion was being applied escapes the
    /// event, and the next reconciliation removes it. `None`: never.
    pub reconcile_every: Option<Duration>,
}

/// Follows a producer until `shutdown`: subscribes from the stored cursor, applies every event,
/// and after any failure (producer down, stream broken, an apply failing) starts again from the
/// stored cursor with a growing pause. `channel` reaches the producer over the network or, in
/// the all-in-one, in place.
pub fn spawn_consumer(
    settings: ConsumerSettings,
    channel: impl Into<GrpcChannel>,
    credential: InternalCredential,
    sink: Arc<dyn EventSink>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    spawn_consumer_on(settings, channel.into(), credential, sink, shutdown)
}

/// [`spawn_consumer`] past its one generic argument: the consumer's code is compiled once, here,
/// not in every crate that starts a consumer.
fn spawn_consumer_on(
    settings: ConsumerSettings,
    channel: GrpcChannel,
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
        let metrics = ConsumerMetrics::new(settings.source, settings.consumer);
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
                &metrics,
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
    mut client: EventsServiceClient<GrpcChannel>,
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
    mut client: EventsServiceClient<GrpcChannel>,
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

/// The span of applying `event`: a child of the producer's span that wrote it, when its
/// outbox row kept one (docs/operations.md, "Traces").
fn apply_span(settings: &ConsumerSettings, event: &pb::Event) -> tracing::Span {
    let span = tracing::info_span!(
        "apply_event",
        source = settings.source,
        sequence = event.sequence
    );
    service_kit::trace_context::continue_from_traceparent(
        &span,
        settings.consumer,
        &event.traceparent,
    );
    span
}

/// One subscription: Ok when shut down, Err on anything else.
async fn follow(
    settings: &ConsumerSettings,
    mut client: EventsServiceClient<GrpcChannel>,
    call: &OutgoingCall,
    sink: &dyn EventSink,
    shutdown: &CancellationToken,
    metrics: &ConsumerMetrics,
    applied: &mut u64,
) -> Result<(), Status> {
    let sink_error = |e: anyhow::Error| {
        tracing::warn!(source = settings.source, error = %e, "applying an event failed");
        Status::internal("applying an event failed")
    };
    let mut cursor = sink.cursor(settings.source).await.map_err(sink_error)?;
    metrics.at(cursor);
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
            .instrument(apply_span(settings, &event))
            .await
            .map_err(sink_error)?
        {
            tracing::debug!(
                source = settings.source,
                sequence = event.sequence,
                "event applied"
            );
            cursor = event.sequence;
            metrics.applied(&event);
            *applied += 1;
        } else {
            // Another instance moved the cursor: start again from where it is now.
            return Err(Status::aborted("the cursor moved; resubscribing"));
        }
    }
}
