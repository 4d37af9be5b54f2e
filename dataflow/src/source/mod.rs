//! Where tweets come from: partitions of input, each with its own lateness watermark.

pub(crate) mod file;
pub(crate) mod ingest;
pub(crate) mod watermark;

pub use file::{Split, plan_splits};

/// One ordered stream of messages: a file split now, a Kafka partition later. Time only advances
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
    /// Reading failed mid-way (a corrupt gzip stream, an I/O error); the partition is finished.
    Failed(String),
    Done,
}
