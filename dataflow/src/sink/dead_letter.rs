//! The report sink: dead letters to their file, and every worker's counters summed, on worker 0.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::rc::Rc;

use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::Exchange;
use timely::dataflow::operators::generic::Operator;

use crate::shutdown::Shutdown;
use crate::source::ingest::Report;
use crate::stats::Stats;

/// What worker 0 learned from all reports, read by the driver after the dataflow completes.
#[derive(Default)]
pub(crate) struct Reported {
    pub stats: Stats,
    pub dead_letters: u64,
    pub error: Option<io::Error>,
}

pub(crate) fn write_reports(
    reports: Stream<'_, u64, Vec<Report>>,
    mut file: Option<BufWriter<File>>,
    reported: Rc<RefCell<Reported>>,
    shutdown: Shutdown,
) {
    reports
        .exchange(|_| 0)
        .sink(Pipeline, "WriteReports", move |(input, frontier)| {
            let mut reported = reported.borrow_mut();
            input.for_each(|_time, data| {
                for report in data.drain(..) {
                    match report {
                        Report::Stats(stats) => reported.stats.add(&stats),
                        Report::DeadLetter(letter) => {
                            reported.dead_letters += 1;
                            if let (Some(out), None) = (file.as_mut(), reported.error.as_ref())
                                && let Err(e) = letter.write_jsonl(out)
                            {
                                tracing::error!(error = %e, "cannot write dead letters; stopping");
                                reported.error = Some(e);
                                shutdown.request();
                            }
                        }
                    }
                }
            });
            if frontier.is_empty()
                && let Some(mut out) = file.take()
                && let Err(e) = out.flush()
            {
                reported.error.get_or_insert(e);
            }
        });
}
