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
        self.0.write_all(table(r).as_bytes())?;
        self.0.flush()
    }
}

/// One window as a block of text: the counts right-aligned to the widest in their column, so the
/// columns line up whatever the counts' widths (a 20-digit count included); keys padded by their
/// width on a terminal (東京 takes four columns), not their length.
fn table(r: &WindowRecord) -> String {
    use std::fmt::Write;

    use unicode_width::UnicodeWidthStr;
    let count_width = |entries: &[Entry]| {
        entries
            .iter()
            .map(|e| e.count.to_string().len())
            .max()
            .unwrap_or(0)
    };
    let (left_counts, right_counts) = (count_width(&r.locations), count_width(&r.mentions));
    let cell = |e: &Entry, width: usize| format!("{:>width$}  {}", e.count, e.key);
    let width = r
        .locations
        .iter()
        .map(|e| cell(e, left_counts).width())
        .max()
        .unwrap_or(0)
        .max("locations".len());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "window {} .. {}   {} tweets",
        r.window_start, r.window_end, r.tweets
    );
    let _ = writeln!(
        out,
        "  {:<width$}   mentions (retweet-weighted)",
        "locations"
    );
    for i in 0..r.locations.len().max(r.mentions.len()) {
        let left = r
            .locations
            .get(i)
            .map(|e| cell(e, left_counts))
            .unwrap_or_default();
        let right = r
            .mentions
            .get(i)
            .map(|e| cell(e, right_counts))
            .unwrap_or_default();
        let pad = width.saturating_sub(left.width());
        let _ = writeln!(out, "  {left}{}   {right}", " ".repeat(pad));
    }
    out.push('\n');
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, count: i128) -> Entry {
        Entry {
            key: key.to_owned(),
            count,
        }
    }

    #[test]
    fn table_columns_stay_aligned_for_any_count_width() {
        // Issue 13: counts wider than 7 digits shifted the columns.
        let r = WindowRecord {
            end_ms: 0,
            window_start: "2016-12-04T02:07:00Z".into(),
            window_end: "2016-12-04T02:08:00Z".into(),
            tweets: 3,
            locations: vec![
                entry("東京", 12_345_678_901_234_567_890),
                entry("Zürich", 7),
            ],
            mentions: vec![entry("@a", 5), entry("@bb", 123_456_789_012)],
        };
        let text = table(&r);
        let rows: Vec<&str> = text.lines().skip(2).filter(|l| !l.is_empty()).collect();
        assert_eq!(rows.len(), 2);
        // Every row's mention column starts at the same column of a terminal (東京 is four
        // wide, Zürich six), and counts end together.
        use unicode_width::UnicodeWidthStr;
        let starts: Vec<usize> = rows
            .iter()
            .map(|l| l[..l.find('@').unwrap()].width())
            .collect();
        assert_eq!(starts[0], starts[1], "{text}");
        let ends: Vec<usize> = rows
            .iter()
            .map(|l| {
                let chars: Vec<char> = l.chars().collect();
                (2..chars.len())
                    .find(|&i| chars[i] == ' ' && chars[i - 1].is_ascii_digit())
                    .unwrap()
            })
            .collect();
        assert_eq!(ends[0], ends[1], "location counts right-aligned: {text}");
        // The mentions' header is over their cells, counts right-aligned to the widest.
        let header = text.lines().nth(1).unwrap();
        let col = header.width() - "mentions (retweet-weighted)".len();
        let right = |row: &str| {
            let at = (0..=row.len())
                .find(|&i| row.is_char_boundary(i) && row[..i].width() == col)
                .unwrap();
            row[at..].to_owned()
        };
        assert_eq!(right(rows[0]), "           5  @a", "{text}");
        assert_eq!(right(rows[1]), "123456789012  @bb", "{text}");
    }
}
