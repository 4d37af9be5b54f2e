//! Progress of a run into Kafka: a live bar when stderr is a terminal, a log line every few
//! seconds otherwise (logs of unattended runs should not fill with bar redraws).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::metrics::ProducerMetrics;
use crate::stream::StreamStats;
use crate::writer::TweetWriter;

const LOG_EVERY: Duration = Duration::from_secs(5);

pub struct Reporter {
    metrics: ProducerMetrics,
    bar: Option<ProgressBar>,
    started: Instant,
    last: Instant,
    calls: u64,
}

impl Reporter {
    /// Also publishes the counts into `metrics` with each tick.
    pub fn new(metrics: ProducerMetrics) -> Reporter {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("static template"),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Reporter {
            metrics,
            bar,
            started: Instant::now(),
            last: Instant::now(),
            calls: 0,
        }
    }

    pub fn tick(&mut self, writer: &TweetWriter) {
        self.calls += 1;
        // Reading the clock per message would cost more than the message.
        if !self.calls.is_multiple_of(256) {
            return;
        }
        self.publish(writer);
        let due = if self.bar.is_some() {
            Duration::from_millis(200)
        } else {
            LOG_EVERY
        };
        if self.last.elapsed() < due {
            return;
        }
        self.last = Instant::now();
        let p = writer.progress();
        let rate = writer.sent() as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        let line = format!(
            "sent {} ({rate:.0}/s), delivered {}, failed {}, skipped {}",
            writer.sent(),
            p.delivered,
            p.failed,
            p.skipped
        );
        match &self.bar {
            Some(bar) => bar.set_message(line),
            None => tracing::info!("{line}"),
        }
    }

    fn publish(&self, writer: &TweetWriter) {
        self.metrics
            .writer(writer.sent(), &writer.progress(), writer.queued());
    }

    /// The stream's counts, at each connection change and keep-alive (and the writer's with them,
    /// which a quiet stream would otherwise leave behind).
    pub fn stream(&self, writer: &TweetWriter, stats: &StreamStats, connected: bool) {
        self.metrics.stream(stats, connected);
        self.publish(writer);
    }

    /// Clears the bar and publishes where the writer got to (also when its flush then fails).
    pub fn finish(self, writer: &TweetWriter) {
        self.publish(writer);
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
