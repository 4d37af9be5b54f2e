//! The dead-letter record (CONTRACT section 1: a bad message is kept for inspection, never silently
//! lost), shared by every binary and sink, so that the producer's, the dataflow's and (later) a
//! dead-letter topic's records all have one schema.

use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use crate::message::Message;

/// Why a message was kept aside. Serialised in kebab case: `malformed`, `read-error`, …
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// Not UTF-8, not JSON, not an object, or over the size limit.
    Malformed,
    /// An object that is neither a tweet nor a notice, or a tweet whose event time is not valid.
    Rejected,
    /// A stream notice (`delete`, `limit`, …): counted, and kept by the producer, which does not
    /// write notices to the tweet topic.
    Notice,
    /// A tweet more than the allowed lateness behind its partition's watermark.
    Late,
    /// An input that could not be read to its end (corrupt gzip, I/O error).
    ReadError,
    /// A record Kafka did not acknowledge in the end: the producer keeps its bytes and key.
    Undelivered,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Malformed => "malformed",
            Class::Rejected => "rejected",
            Class::Notice => "notice",
            Class::Late => "late",
            Class::ReadError => "read-error",
            Class::Undelivered => "undelivered",
        }
    }
}

/// One dead letter. `raw` is the message decoded lossily as UTF-8 (a JSON Lines file cannot hold
/// arbitrary bytes); `key` is the Kafka record key, when the message had one.
///
/// Its serde form always has every field (timely moves letters between processes with bincode,
/// which is not self-describing); [`DeadLetter::write_jsonl`] leaves out an absent key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The input: a file path, a topic, `generated`, the stream's URL.
    pub source: String,
    /// Where in the input: `file:line`, `topic/partition/offset`.
    pub position: String,
    pub class: Class,
    pub reason: String,
    pub raw: String,
    #[serde(default)]
    pub key: Option<String>,
}

/// The JSON Lines form: the same fields, the key only when there is one.
#[derive(Serialize)]
struct Line<'a> {
    source: &'a str,
    position: &'a str,
    class: Class,
    reason: &'a str,
    raw: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
}

impl DeadLetter {
    /// Writes the letter as one JSON line.
    pub fn write_jsonl(&self, out: &mut impl Write) -> io::Result<()> {
        let line = Line {
            source: &self.source,
            position: &self.position,
            class: self.class,
            reason: &self.reason,
            raw: &self.raw,
            key: self.key.as_deref(),
        };
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")
    }
}

impl Message<'_> {
    /// The class and reason under which this message is dead-lettered; `None` for tweets and
    /// blank keep-alives, which are not.
    pub fn dead_letter(&self) -> Option<(Class, String)> {
        match self {
            Message::Blank | Message::Tweet(_) => None,
            Message::Notice { kind, .. } => Some((Class::Notice, kind.key().to_owned())),
            Message::Malformed(reason) => Some((Class::Malformed, reason.clone())),
            Message::Rejected(reason) => Some((Class::Rejected, (*reason).to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_schema_with_the_key_only_when_known() {
        let mut letter = DeadLetter {
            source: "t".into(),
            position: "t/0/5".into(),
            class: Class::ReadError,
            reason: "r".into(),
            raw: "x".into(),
            key: None,
        };
        let mut out = Vec::new();
        letter.write_jsonl(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "{\"source\":\"t\",\"position\":\"t/0/5\",\"class\":\"read-error\",\"reason\":\"r\",\"raw\":\"x\"}\n"
        );
        let line = String::from_utf8(out).unwrap();
        assert_eq!(
            serde_json::from_str::<DeadLetter>(&line).unwrap(),
            letter,
            "read back"
        );
        letter.key = Some("42".into());
        let mut out = Vec::new();
        letter.write_jsonl(&mut out).unwrap();
        let json = String::from_utf8(out).unwrap();
        assert!(json.ends_with(",\"key\":\"42\"}\n"), "{json}");
        assert_eq!(serde_json::from_str::<DeadLetter>(&json).unwrap(), letter);
    }
}
