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

pub(crate) enum Next<'a> {
    Message(&'a [u8]),
    /// Reading failed mid-way (a corrupt gzip stream, an I/O error); the partition is finished.
    Failed(String),
    Done,
}
