//! The report sink: dead letters to their file, and every worker's counters summed, on worker 0.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::rc::Rc;

use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::Exchange;
use timely::dataflow::operators::generic::Operator;

use crate::source::ingest::{DeadLetter, Report};
use crate::stats::Stats;

/// What worker 0 learned from all reports, read by the driver after the dataflow completes.
#[derive(Default)]
pub(crate) struct Reported {
    pub stats: Stats,
    pub dead_letters: u64,
    pub error: Option<io::Error>,
}

fn write_letter(out: &mut impl Write, letter: &DeadLetter) -> io::Result<()> {
    serde_json::to_writer(&mut *out, letter)?;
    out.write_all(b"\n")
}

pub(crate) fn write_reports(
    reports: Stream<'_, u64, Vec<Report>>,
    mut file: Option<BufWriter<File>>,
    reported: Rc<RefCell<Reported>>,
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
                                && let Err(e) = write_letter(out, &letter)
                            {
                                reported.error = Some(e);
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
