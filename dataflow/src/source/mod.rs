//! Where tweets come from: partitions of input, each with its own lateness watermark.

pub(crate) mod file;
pub(crate) mod frontier;
pub(crate) mod ingest;
pub(crate) mod kafka;
pub(crate) mod watermark;

/// One ordered stream of messages: a file split or a Kafka partition. Time only advances
/// per partition; the ingest operator holds the frontier at the slowest one.
pub(crate) trait Partition {
    /// The next message, borrowed until the following call.
    fn next(&mut self) -> Next<'_>;
    /// The position of the message last returned, for logs and dead letters (`file:line`).
    fn position(&mut self) -> String;
    /// The input name (file path, topic) for dead letters.
    fn source(&self) -> &str;
    /// A Kafka partition's number and next offset, for checkpoints; `None` for files.
    fn offset(&self) -> Option<(i32, i64)> {
        None
    }
    /// Its name in metrics and the live view: the partition number, or the file (and where its
    /// split starts).
    fn label(&self) -> String {
        self.source().to_owned()
    }
    /// Records not read yet (Kafka: the high watermark librdkafka last heard minus the next
    /// offset); cheap, asked about once a second.
    fn lag(&self) -> Option<i64> {
        None
    }
}

pub(crate) enum Next<'a> {
    Message(&'a [u8]),
    /// A message over [`tweet::input::MAX_MESSAGE_BYTES`]: its first
    /// [`tweet::input::OVERSIZED_HEAD_BYTES`] and its length.
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

/// Partitions that join a worker while it runs (a Kafka topic that grows); asked on every
/// activation, so it must be cheap when nothing changed.
pub(crate) trait Discover {
    fn discover(&mut self) -> Vec<Box<dyn Partition>>;
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
