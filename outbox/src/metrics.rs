//! How far events have travelled (docs/operations.md, "Metrics"):
//! - `outbox_head_sequence{producer}`: the number of a producer's newest event, read when
//!   Prometheus scrapes the producer;
//! - `events_consumer_sequence{producer, consumer}`: the last event a consumer applied (its
//!   cursor), set when it subscribes and at each event;
//! - `events_consumer_delay_seconds{producer, consumer}`: from an event's writing (the producer's
//!   clock) to its application.
//!
//! The lag of a consumer in events is the first less the second (the dashboard's query: both
//! series share `producer`); in time, the delay's upper quantiles.

use chrono::Utc;
use metrics::{Gauge, Histogram, Label};
use service_kit::db::Pool;
use tokio_util::sync::CancellationToken;

use crate::{Outbox, SqlOutbox};

/// Reports the head of `producer`'s outbox in `pool` at each scrape until `shutdown`.
pub fn watch_head(producer: &'static str, pool: Pool, shutdown: CancellationToken) {
    let head = metrics::gauge!("outbox_head_sequence", "producer" => producer);
    let outbox = SqlOutbox(pool);
    service_kit::metrics::on_scrape(shutdown, move || {
        let (outbox, head) = (outbox.clone(), head.clone());
        async move {
            match outbox.head().await {
                Ok(n) => head.set(n as f64),
                Err(e) => tracing::warn!(error = %e, "reading the outbox head for metrics failed"),
            }
        }
    });
}

/// A consumer's series for one producer.
#[derive(Debug, Clone)]
pub(crate) struct ConsumerMetrics {
    sequence: Gauge,
    delay: Histogram,
}

impl ConsumerMetrics {
    pub(crate) fn new(producer: &'static str, consumer: &'static str) -> Self {
        let labels = vec![
            Label::new("producer", producer),
            Label::new("consumer", consumer),
        ];
        Self {
            sequence: metrics::gauge!("events_consumer_sequence", labels.clone()),
            delay: metrics::histogram!(service_kit::metrics::CONSUMER_DELAY, labels),
        }
    }

    /// The cursor the consumer follows from.
    pub(crate) fn at(&self, sequence: i64) {
        self.sequence.set(sequence as f64);
    }

    /// An event applied.
    pub(crate) fn applied(&self, event: &proto::events::v1::Event) {
        self.at(event.sequence);
        let delay = Utc::now() - crate::occurred_at(event);
        self.delay
            .record(delay.to_std().unwrap_or_default().as_secs_f64());
    }
}
