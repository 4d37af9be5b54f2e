//! Every metric of `tweet-producer` (`--metrics HOST:PORT`), registered in one place and handed
//! out as one handle. The run publishes what its writer and stream have counted with each
//! progress tick (every 256 messages, and on each keep-alive of a stream) and once more at the
//! end, so the counters equal the summary's when the run is over.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::stream::StreamStats;
use crate::writer::Delivery;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

/// What was published last, to add only what changed.
#[derive(Debug, Default)]
struct Published {
    sent: u64,
    delivery: Delivery,
    stream: StreamStats,
}

#[derive(Clone, Debug)]
pub struct ProducerMetrics {
    registry: Arc<Registry>,
    sent: Counter,
    delivered: Counter,
    failed: Counter,
    skipped: Counter,
    queue: Gauge,
    connected: Gauge,
    connections: Counter,
    reconnects: Family<KindLabels, Counter>,
    undelivered: Counter,
    duplicates: Counter,
    published: Arc<Mutex<Published>>,
}

impl Default for ProducerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ProducerMetrics {
    pub fn new() -> ProducerMetrics {
        let mut r = Registry::with_prefix("tweetflow_producer");
        let mut counter = |name: &str, help: &str| {
            let c = Counter::default();
            r.register(name, help, c.clone());
            c
        };
        let sent = counter("sent", "Tweets handed to Kafka's producer");
        let delivered = counter("delivered", "Tweets Kafka acknowledged");
        let failed = counter(
            "failed",
            "Tweets Kafka finally refused (kept as undelivered dead letters with --dead-letter)",
        );
        let skipped = counter(
            "skipped",
            "Messages that are not tweets (notices, blank, malformed, rejected): not written",
        );
        let connections = counter("stream_connections", "Stream connections X answered 200");
        let undelivered = counter(
            "stream_undelivered",
            "Tweets X's limit notices say it matched but did not deliver",
        );
        let duplicates = counter(
            "stream_duplicates",
            "Tweets a backfill or a recovery delivered again: dropped",
        );
        let queue = Gauge::default();
        r.register(
            "queue_depth",
            "Records in librdkafka's queue, not acknowledged yet",
            queue.clone(),
        );
        let connected = Gauge::default();
        r.register(
            "stream_connected",
            "1 while a stream connection is open, else 0",
            connected.clone(),
        );
        let reconnects = Family::<KindLabels, Counter>::default();
        r.register(
            "stream_reconnects",
            "Stream connection attempts that failed or ended, by kind: network, http, rate_limited, stall",
            reconnects.clone(),
        );
        ProducerMetrics {
            registry: Arc::new(r),
            sent,
            delivered,
            failed,
            skipped,
            queue,
            connected,
            connections,
            reconnects,
            undelivered,
            duplicates,
            published: Arc::default(),
        }
    }

    /// Serves `/metrics` at `addr` until the process exits.
    pub fn serve(
        &self,
        addr: SocketAddr,
    ) -> Result<tweetflow_observe::Server, tweetflow_observe::ServerError> {
        tweetflow_observe::Server::start(
            "metrics",
            addr,
            Some(self.registry.clone()),
            axum::Router::new(),
        )
    }

    /// The registry in Prometheus' text format, as `/metrics` serves it.
    pub fn text(&self) -> String {
        tweetflow_observe::metrics_text(&self.registry)
    }

    /// The writer's counts so far (`sent`, and what was delivered, failed and skipped), and its
    /// queue.
    pub fn writer(&self, sent: u64, delivery: &Delivery, queued: u64) {
        let mut was = self.published.lock().expect("not poisoned");
        add(&self.sent, sent, was.sent);
        add(&self.delivered, delivery.delivered, was.delivery.delivered);
        add(&self.failed, delivery.failed, was.delivery.failed);
        add(&self.skipped, delivery.skipped, was.delivery.skipped);
        was.sent = sent;
        was.delivery = delivery.clone();
        self.queue.set(queued as i64);
    }

    /// The stream's counts so far, and whether a connection is open.
    pub fn stream(&self, now: &StreamStats, connected: bool) {
        let mut published = self.published.lock().expect("not poisoned");
        let was = &published.stream;
        add(&self.connections, now.connections, was.connections);
        add(&self.undelivered, now.undelivered, was.undelivered);
        add(&self.duplicates, now.duplicates, was.duplicates);
        for (kind, now, was) in [
            ("network", now.network_failures, was.network_failures),
            ("http", now.http_failures, was.http_failures),
            ("rate_limited", now.rate_limited, was.rate_limited),
            ("stall", now.stalls, was.stalls),
        ] {
            add(
                &self.reconnects.get_or_create(&KindLabels { kind }),
                now,
                was,
            );
        }
        published.stream = now.clone();
        self.connected.set(connected as i64);
    }
}

fn add(counter: &Counter, now: u64, was: u64) {
    if now > was {
        counter.inc_by(now - was);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_follow_the_latest_counts() {
        let m = ProducerMetrics::new();
        let mut d = Delivery {
            delivered: 5,
            skipped: 2,
            ..Delivery::default()
        };
        m.writer(7, &d, 2);
        d.delivered = 7;
        m.writer(7, &d, 0);
        let text = m.text();
        for line in [
            "tweetflow_producer_sent_total 7",
            "tweetflow_producer_delivered_total 7",
            "tweetflow_producer_skipped_total 2",
            "tweetflow_producer_queue_depth 0",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        let s = StreamStats {
            connections: 2,
            network_failures: 1,
            ..StreamStats::default()
        };
        m.stream(&s, true);
        let text = m.text();
        assert!(
            text.contains("tweetflow_producer_stream_reconnects_total{kind=\"network\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("tweetflow_producer_stream_connected 1"),
            "{text}"
        );
    }
}
