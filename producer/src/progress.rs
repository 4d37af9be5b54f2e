//! Progress of a run into Kafka: a live bar when stderr is a terminal, a log line every few
//! seconds otherwise (logs of unattended runs should not fill with bar redraws).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::writer::TweetWriter;

const LOG_EVERY: Duration = Duration::from_secs(5);

pub struct Reporter {
    bar: Option<ProgressBar>,
    started: Instant,
    last: Instant,
    calls: u64,
}

impl Default for Reporter {
    fn default() -> Self {
        Self::new()
    }
}

impl Reporter {
    pub fn new() -> Reporter {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("static template"),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Reporter {
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

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
