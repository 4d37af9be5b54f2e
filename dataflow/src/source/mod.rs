//! Where tweets come from: partitions of input, each with its own lateness watermark.

pub(crate) mod file;
pub(crate) mod frontier;
pub(crate) mod ingest;
pub(crate) mod kafka;
pub(crate) mod watermark;

pub use file::{Split, plan_splits};

/// One ordered stream of messages: a file split or a Kafka partition. Time only advances
/// per partition; the ingest operator holds the frontier at the slowest one.
pub(crate) trait Partition {
    /// The next message, borrowed until the following call.
    fn next(&mut self) -> Next<'_>;
    /// The position of the message last returned, for logs and dead letters (`file:line`).
    fn position(&mut self) -> String;
    /// The input name (file path, topic) for dead letters.
    fn source(&self) -> &str;
}

/// Messages longer than this are malformed: no tweet comes close (X caps a tweet far below it),
/// and a bound keeps one bad line from exhausting memory.
pub(crate) const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// How much of an oversized message its dead letter keeps.
pub(crate) const OVERSIZED_HEAD_BYTES: usize = 64 << 10;

pub(crate) enum Next<'a> {
    Message(&'a [u8]),
    /// A message over [`MAX_MESSAGE_BYTES`]: its first [`OVERSIZED_HEAD_BYTES`] and its length.
    Oversized {
        head: &'a [u8],
        len: u64,
    },
    /// Nothing to read now (an unbounded source); ask again later.
    Idle,
    /// Reading failed mid-way (a corrupt gzip stream, an I/O error); the partition is finished.
    Failed(String),
    Done,
}

/// A partition that could not be opened (a file removed after planning, a Kafka assignment that
/// failed): it reports the error once, as a read error, and is finished.
pub(crate) struct Broken {
    pub source: String,
    pub error: Option<String>,
}

impl Partition for Broken {
    fn next(&mut self) -> Next<'_> {
        match self.error.take() {
            Some(e) => Next::Failed(format!("cannot open: {e}")),
            None => Next::Done,
        }
    }

    fn position(&mut self) -> String {
        self.source.clone()
    }

    fn source(&self) -> &str {
        &self.source
    }
}
