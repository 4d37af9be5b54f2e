//! Dead letters in a Kafka topic (`--dead-letter-topic`), as Kafka Connect's dead-letter queues
//! keep them: the message as value, its key when known, and what went wrong in headers, so that
//! any consumer (or a Connect sink) can triage them without parsing a wrapper.

use rdkafka::message::{Header, Headers, OwnedHeaders};
use tweet::DeadLetter;

/// Header names. `class` is the contract's class (malformed, rejected, late, notice, undelivered),
/// `reason` the human-readable why, `source` and `position` where the message was read.
pub const CLASS: &str = "tweetflow.class";
pub const REASON: &str = "tweetflow.reason";
pub const SOURCE: &str = "tweetflow.source";
pub const POSITION: &str = "tweetflow.position";
/// The dataflow's epoch of the letter (its time).
pub const EPOCH: &str = "tweetflow.epoch";
/// The dataflow job that wrote it (its transactional id), so that a resumed run recognises its
/// own letters in a topic other writers share.
pub const JOB: &str = "tweetflow.job";

/// The headers of `letter`'s record (with the dataflow's `epoch`, when it has one).
pub fn headers(letter: &DeadLetter, epoch: Option<u64>) -> OwnedHeaders {
    let epoch = epoch.map(|e| e.to_string());
    let mut headers = OwnedHeaders::new();
    for (key, value) in [
        (CLASS, Some(letter.class.as_str())),
        (REASON, Some(letter.reason.as_str())),
        (SOURCE, Some(letter.source.as_str())),
        (POSITION, Some(letter.position.as_str())),
        (EPOCH, epoch.as_deref()),
    ] {
        if let Some(value) = value {
            headers = headers.insert(Header {
                key,
                value: Some(value),
            });
        }
    }
    headers
}

/// The value of header `name` of a record, as text.
pub fn header<'a>(
    headers: Option<&'a rdkafka::message::BorrowedHeaders>,
    name: &str,
) -> Option<&'a str> {
    headers?
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value)
        .and_then(|v| std::str::from_utf8(v).ok())
}
