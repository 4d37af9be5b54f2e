//! The window sink: turns the top-N collection's changes into one record per complete window.
//!
//! The collection at window time `t` is that window's content, and it only changes at times where
//! updates arrive; between two such times every window holds the same lists. So the sink applies
//! updates in time order, and for each window time the frontier has passed it writes the current
//! lists if the window holds any tweet.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::io;
use std::rc::Rc;

use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::Exchange;
use timely::dataflow::operators::generic::Operator;

use super::record::{self, RecordWriter, WindowRecord};
use crate::aggregate::Kind;
use crate::shutdown::Shutdown;
use crate::topn::Ranked;
use crate::window::Windows;

/// What the sink has done, read by the driver after the dataflow completes.
#[derive(Default)]
pub(crate) struct Written {
    pub windows: u64,
    pub error: Option<io::Error>,
}

/// A change to the top-N lists: `(kind, ranked key)` at a window time, with its multiplicity.
pub(crate) type TopChange = ((Kind, Ranked), u64, isize);

struct State {
    windows: Windows,
    writer: Box<dyn RecordWriter>,
    pending: BTreeMap<u64, Vec<TopChange>>,
    lists: [BTreeMap<Ranked, isize>; 3],
    /// The next window time to consider; `None` while the collection is empty.
    cursor: Option<u64>,
    written: Rc<RefCell<Written>>,
    finished: bool,
    /// Told when writing fails: a run whose results cannot be written should not read on.
    shutdown: Shutdown,
}

impl State {
    fn tweets(&self) -> i128 {
        self.lists[Kind::Tweets as usize]
            .keys()
            .next()
            .map_or(0, |r| r.count)
    }

    /// Applies every update before `frontier` (`None`: all) and writes the windows that completes.
    fn advance(&mut self, frontier: Option<u64>) {
        while let Some(entry) = self.pending.first_entry() {
            if frontier.is_some_and(|f| *entry.key() >= f) {
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
        self.write_until(frontier);
        if frontier.is_none() && !self.finished {
            self.finished = true;
            let mut written = self.written.borrow_mut();
            if written.error.is_none()
                && let Err(e) = self.writer.finish()
            {
                written.error = Some(e);
            }
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
            self.write(time);
            self.cursor = Some(self.windows.next_window_time(time));
        }
    }

    fn write(&mut self, time: u64) {
        let mut written = self.written.borrow_mut();
        if written.error.is_some() {
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
            window_start: tweet::time::format_rfc3339(start),
            window_end: tweet::time::format_rfc3339(end),
            tweets: self.tweets(),
            locations: entries(Kind::Location, ""),
            mentions: entries(Kind::Mention, "@"),
        };
        match self.writer.write(&record) {
            Ok(()) => written.windows += 1,
            Err(e) => {
                if e.kind() != io::ErrorKind::BrokenPipe {
                    tracing::error!(error = %e, "cannot write window records; stopping");
                }
                written.error = Some(e);
                self.shutdown.request();
            }
        }
    }
}

/// Sends the top-N changes to worker 0, which writes the records with `writer` (other workers pass
/// `None` and receive nothing).
pub(crate) fn write_windows(
    top: Stream<'_, u64, Vec<TopChange>>,
    windows: Windows,
    writer: Option<Box<dyn RecordWriter>>,
    written: Rc<RefCell<Written>>,
    shutdown: Shutdown,
) {
    let mut state = writer.map(|writer| State {
        windows,
        writer,
        pending: BTreeMap::new(),
        lists: Default::default(),
        cursor: None,
        written,
        finished: false,
        shutdown,
    });
    top.exchange(|_| 0)
        .sink(Pipeline, "WriteWindows", move |(input, frontier)| {
            input.for_each(|_time, data| {
                let state = state
                    .as_mut()
                    .expect("only worker 0 receives top-N changes");
                for change in data.drain(..) {
                    state.pending.entry(change.1).or_default().push(change);
                }
            });
            if let Some(state) = state.as_mut() {
                state.advance(frontier.frontier().first().copied());
            }
        });
}
