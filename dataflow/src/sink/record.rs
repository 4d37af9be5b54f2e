//! The output record of CONTRACT section 4 and its two renderings.

use std::io;

use serde::Serialize;

use super::file::Durable;

/// One window's result. Field order is the contract's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WindowRecord {
    /// The window's end in milliseconds, for writers that compare windows (not written).
    #[serde(skip)]
    pub end_ms: i64,
    pub window_start: String,
    pub window_end: String,
    pub tweets: i128,
    pub locations: Vec<Entry>,
    pub mentions: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub key: String,
    pub count: i128,
}

/// Renders window records; flushed after each window so a consumer sees it as soon as it is final.
pub(crate) trait RecordWriter {
    fn write(&mut self, record: &WindowRecord) -> io::Result<()>;

    /// Bytes written to the output file so far, for a checkpoint (0 for other outputs).
    fn position(&self) -> u64 {
        0
    }

    /// Makes what is written durable (fsync), before a checkpoint says it was written.
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Commits what is written to a transactional output (the output topic), before a checkpoint.
    fn commit(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Called about once a second, for work due on the clock (an old transaction's commit).
    fn tick(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Called once after the last window, to make sure everything reached its destination.
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Whether its reader went away (a closed pipe).
    fn closed(&self) -> bool {
        false
    }
}

pub(crate) struct JsonLines<W: Durable>(pub W);

impl<W: Durable> RecordWriter for JsonLines<W> {
    fn write(&mut self, record: &WindowRecord) -> io::Result<()> {
        serde_json::to_writer(&mut self.0, record)?;
        self.0.write_all(b"\n")?;
        self.0.flush()
    }

    fn position(&self) -> u64 {
        self.0.position()
    }

    fn sync(&mut self) -> io::Result<()> {
        self.0.sync()
    }

    fn closed(&self) -> bool {
        self.0.closed()
    }
}

/// A readable block per window, locations and mentions side by side.
pub(crate) struct Table<W: Durable>(pub W);

impl<W: Durable> RecordWriter for Table<W> {
    fn closed(&self) -> bool {
        self.0.closed()
    }

    fn write(&mut self, r: &WindowRecord) -> io::Result<()> {
        let out = &mut self.0;
        writeln!(
            out,
            "window {} .. {}   {} tweets",
            r.window_start, r.window_end, r.tweets
        )?;
        let width = r.locations.iter().map(|e| cell(e).chars().count()).max();
        let width = width.unwrap_or(0).max("locations".len());
        writeln!(
            out,
            "  {:<width$}   mentions (retweet-weighted)",
            "locations"
        )?;
        for i in 0..r.locations.len().max(r.mentions.len()) {
            let left = r.locations.get(i).map(cell).unwrap_or_default();
            let right = r.mentions.get(i).map(cell).unwrap_or_default();
            let pad = width.saturating_sub(left.chars().count());
            writeln!(out, "  {left}{}   {right}", " ".repeat(pad))?;
        }
        writeln!(out)?;
        out.flush()
    }
}

fn cell(e: &Entry) -> String {
    format!("{:>7}  {}", e.count, e.key)
}

/// Writes every record to both writers.
pub(crate) struct Both(
    pub Box<dyn RecordWriter + Send>,
    pub Box<dyn RecordWriter + Send>,
);

impl RecordWriter for Both {
    fn write(&mut self, record: &WindowRecord) -> io::Result<()> {
        self.0.write(record)?;
        self.1.write(record)
    }

    fn position(&self) -> u64 {
        self.0.position()
    }

    fn closed(&self) -> bool {
        self.0.closed()
    }

    fn sync(&mut self) -> io::Result<()> {
        self.0.sync()?;
        self.1.sync()
    }

    fn commit(&mut self) -> io::Result<()> {
        self.0.commit()?;
        self.1.commit()
    }

    fn tick(&mut self) -> io::Result<()> {
        self.0.tick()?;
        self.1.tick()
    }

    fn finish(&mut self) -> io::Result<()> {
        // Both, whatever the first says: the other still has records to deliver.
        let first = self.0.finish();
        let second = self.1.finish();
        first.and(second)
    }
}
