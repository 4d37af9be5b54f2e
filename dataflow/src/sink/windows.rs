//! Window records from the top-N collection's changes: one record per complete window.
//!
//! The collection at window time `t` is that window's content, and it only changes at times where
//! updates arrive; between two such times every window holds the same lists. So the sink applies
//! updates in time order, and for each window time the frontier has passed it writes the current
//! lists if the window holds any tweet.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::io;
use std::time::Instant;

use super::record::{self, RecordWriter, WindowRecord};
use crate::aggregate::Kind;
use crate::metrics::Metrics;
use crate::topn::Ranked;
use crate::window::Windows;

/// A change to the top-N lists: `(kind, ranked key)` at a window time, with its multiplicity.
pub(crate) type TopChange = ((Kind, Ranked), u64, isize);

pub(crate) struct WindowSink {
    windows: Windows,
    pub writer: Box<dyn RecordWriter>,
    pending: BTreeMap<u64, Vec<TopChange>>,
    lists: [BTreeMap<Ranked, isize>; 3],
    /// The next window time to consider; `None` while the collection is empty.
    cursor: Option<u64>,
    /// Windows before this time were written by an earlier run (resumed from a checkpoint).
    skip_before: u64,
    /// Windows written by this run.
    pub written: u64,
    /// A write failed: no more are tried (the run is stopping).
    failed: bool,
    /// The last window time passed (written, or skipped as written before).
    pub last_time: Option<u64>,
    pub error: Option<io::Error>,
    metrics: Metrics,
    /// When the ingest's frontier (every partition's watermark) was first seen past each time:
    /// the moment the windows before it became complete.
    complete_at: BTreeMap<u64, Instant>,
}

impl WindowSink {
    pub fn new(
        windows: Windows,
        writer: Box<dyn RecordWriter>,
        skip_before: u64,
        metrics: Metrics,
    ) -> WindowSink {
        WindowSink {
            windows,
            writer,
            pending: BTreeMap::new(),
            lists: Default::default(),
            cursor: None,
            skip_before,
            written: 0,
            failed: false,
            last_time: None,
            error: None,
            metrics,
            complete_at: BTreeMap::new(),
        }
    }

    /// The ingest's frontier is at `f`: windows at times before it are complete from now on.
    pub fn complete_before(&mut self, f: u64) {
        if self
            .complete_at
            .last_key_value()
            .is_none_or(|(&t, _)| f > t)
        {
            self.complete_at.insert(f, Instant::now());
        }
    }

    pub fn push(&mut self, change: TopChange) {
        self.pending.entry(change.1).or_default().push(change);
    }

    fn tweets(&self) -> i128 {
        self.lists[Kind::Tweets as usize]
            .keys()
            .next()
            .map_or(0, |r| r.count)
    }

    /// Applies every update before `limit` (`None`: all) and writes the windows that completes.
    pub fn advance(&mut self, limit: Option<u64>) {
        while let Some(entry) = self.pending.first_entry() {
            if limit.is_some_and(|f| *entry.key() >= f) {
                break;
            }
            let (time, updates) = entry.remove_entry();
            self.write_until(Some(time));
            for ((kind, ranked), _, diff) in updates {
                match self.lists[kind as usize].entry(ranked) {
                    Entry::Vacant(vacant) => {
                        vacant.insert(diff);
                    }
                    Entry::Occupied(mut occupied) => {
                        *occupied.get_mut() += diff;
                        if *occupied.get() == 0 {
                            occupied.remove();
                        }
                    }
                }
            }
            self.cursor = (self.tweets() > 0).then_some(time);
        }
        self.write_until(limit);
        // Every window still to come is at `limit` or later, and needs a completion after it.
        if let Some(limit) = limit {
            self.complete_at = self.complete_at.split_off(&(limit + 1));
        }
    }

    fn write_until(&mut self, limit: Option<u64>) {
        while let Some(time) = self.cursor {
            if limit.is_some_and(|l| time >= l) {
                return;
            }
            if limit.is_none() {
                // Every tweet is retracted one window later, so a finished input leaves nothing.
                debug_assert!(false, "lists not empty at the end of input");
                return;
            }
            if time >= self.skip_before {
                self.write(time);
            }
            self.last_time = Some(time);
            self.cursor = Some(self.windows.next_window_time(time));
        }
    }

    fn write(&mut self, time: u64) {
        if self.failed {
            return;
        }
        let (start, end) = self.windows.bounds_ms(time);
        let entries = |kind: Kind, prefix: &str| -> Vec<record::Entry> {
            self.lists[kind as usize]
                .keys()
                .map(|r| record::Entry {
                    key: format!("{prefix}{}", r.key),
                    count: r.count,
                })
                .collect()
        };
        let record = WindowRecord {
            end_ms: end,
            window_start: tweet::time::format_rfc3339(start),
            window_end: tweet::time::format_rfc3339(end),
            tweets: self.tweets(),
            locations: entries(Kind::Location, ""),
            mentions: entries(Kind::Mention, "@"),
        };
        match self.writer.write(&record) {
            Ok(()) => {
                self.written += 1;
                let since = self.complete_at.range(time + 1..).next().map(|(_, at)| *at);
                let latency = since.map(|at| at.elapsed());
                self.metrics.window_written(latency);
                // Per window, for scripts/bench-latency.sh's exact percentiles.
                if let Some(latency) = latency {
                    tracing::debug!(
                        target: "tweetflow::latency",
                        window_end = end,
                        latency_us = latency.as_micros() as u64,
                        "window written"
                    );
                }
            }
            Err(e) => {
                self.failed = true;
                self.error = Some(e);
            }
        }
    }
}
