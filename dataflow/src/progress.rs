//! Progress of a long run on standard error: a bar when it is a terminal (bytes of the input
//! files read, or the Kafka partitions' lag), a log line every few seconds otherwise, never one
//! per record. It reads this process's metrics from a thread of its own, so the workers do
//! nothing for it.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::metrics::{Metrics, Snapshot};

const LOG_EVERY: Duration = Duration::from_secs(10);
const DRAW_EVERY: Duration = Duration::from_millis(250);

/// Stops the reporter (and clears its bar) when dropped.
pub(crate) struct Progress {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            // Woken now, not at its next tick: the run's end must not wait for it.
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// One line of what the run has done: rate, windows, and the lag or the share of the files read.
fn line(s: &Snapshot, kafka: bool) -> String {
    let rate = s.tweets as f64 / s.elapsed_s.max(1e-3);
    let mut line = format!(
        "{} tweets ({rate:.0}/s), {} late, {} bad, {} windows",
        s.tweets,
        s.late,
        s.malformed + s.rejected,
        s.windows
    );
    if kafka {
        let lag: i64 = s.partitions.iter().filter_map(|p| p.lag).sum();
        line.push_str(&format!(", lag {lag}"));
    } else if s.input_bytes > 0 {
        let share = 100.0 * s.bytes as f64 / s.input_bytes as f64;
        line.push_str(&format!(", {:.1} % of the input", share.min(100.0)));
    }
    line
}

/// `leader`: process 0, the only one to draw a bar (the others of a local cluster share its
/// terminal), and only when the windows do not go to the same terminal.
pub(crate) fn start(metrics: Metrics, kafka: bool, leader: bool) -> Progress {
    let stop = Arc::new(AtomicBool::new(false));
    let terminal = std::io::stderr().is_terminal() && !std::io::stdout().is_terminal();
    let bar = (leader && terminal).then(|| {
        let total = metrics.snapshot().input_bytes;
        if !kafka && total > 0 {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30}] {binary_bytes}/{binary_total_bytes} {msg}",
                )
                .expect("static template")
                .progress_chars("=> "),
            );
            bar
        } else {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                    .expect("static template"),
            );
            bar
        }
    });
    let thread = std::thread::Builder::new()
        .name("tweetflow:progress".to_owned())
        .spawn({
            let stop = stop.clone();
            move || {
                let mut last_log = Instant::now();
                loop {
                    std::thread::park_timeout(DRAW_EVERY);
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let s = metrics.snapshot();
                    match &bar {
                        Some(bar) => {
                            bar.set_position(s.bytes.min(s.input_bytes));
                            bar.set_message(line(&s, kafka));
                        }
                        None if last_log.elapsed() >= LOG_EVERY && !terminal => {
                            last_log = Instant::now();
                            tracing::info!("progress: {}", line(&s, kafka));
                        }
                        None => {}
                    }
                }
                if let Some(bar) = bar {
                    bar.finish_and_clear();
                }
            }
        })
        .ok();
    Progress { stop, thread }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_the_share_of_files_or_the_lag() {
        let files = Snapshot {
            tweets: 10,
            bytes: 250,
            input_bytes: 1000,
            elapsed_s: 2.0,
            ..Snapshot::default()
        };
        assert_eq!(
            line(&files, false),
            "10 tweets (5/s), 0 late, 0 bad, 0 windows, 25.0 % of the input"
        );
        let kafka = Snapshot {
            partitions: vec![
                crate::metrics::PartitionView {
                    partition: "0".into(),
                    watermark_ms: None,
                    lag: Some(7),
                },
                crate::metrics::PartitionView {
                    partition: "1".into(),
                    watermark_ms: None,
                    lag: Some(5),
                },
            ],
            ..Snapshot::default()
        };
        assert!(line(&kafka, true).ends_with("lag 12"));
    }
}
