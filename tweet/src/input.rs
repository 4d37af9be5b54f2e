//! CONTRACT section 1, how bytes become messages: the one size limit, gzip by file name, the
//! byte-order mark at the start of a file and the line terminator.
//!
//! Every reader of messages (the dataflow's file and Kafka sources, the producer's replay, the X
//! stream's framing) takes these from here, so that they cannot drift apart.

use std::io::{self, BufRead};
use std::path::Path;

/// Messages longer than this are malformed: no tweet comes close (X caps a post far below it), and
/// a bound keeps one bad line from exhausting memory. Kafka clients are configured from it too.
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// Room for a record's key and framing above [`MAX_MESSAGE_BYTES`] in Kafka's size limits
/// (`message.max.bytes`, `max.message.bytes`), so that a message at the limit is still accepted.
pub const KAFKA_RECORD_OVERHEAD: usize = 64 << 10;

/// How much of an oversized message its dead letter keeps.
pub const OVERSIZED_HEAD_BYTES: usize = 64 << 10;

/// The UTF-8 byte-order mark, which some tools write at the start of a text file.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Whether a file is read (or written) through gzip: by its extension, in any case (`.gz`, `.GZ`).
pub fn is_gzip(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// The first line of a file without its byte-order mark, if it has one.
pub fn strip_bom(first_line: &[u8]) -> &[u8] {
    first_line.strip_prefix(BOM).unwrap_or(first_line)
}

/// A line without its terminator, `\n` or `\r\n` (the `\r` is not part of the message).
pub fn strip_terminator(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Reads one line (terminator excluded) into `line`, keeping at most `MAX_MESSAGE_BYTES + 1` bytes
/// of it, so that an endless line cannot exhaust memory; the rest of a longer line is skipped.
/// Returns the line's full length, or `None` at the end of the input.
pub fn read_line_bounded(reader: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Option<u64>> {
    line.clear();
    let (mut len, mut any) = (0u64, false);
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(any.then_some(len));
        }
        any = true;
        let (take, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (i, true),
            None => (buf.len(), false),
        };
        let room = (MAX_MESSAGE_BYTES + 1).saturating_sub(line.len());
        line.extend_from_slice(&buf[..take.min(room)]);
        len += take as u64;
        reader.consume(take + usize::from(done));
        if done {
            return Ok(Some(len));
        }
    }
}

/// The dead-letter reason of a message over [`MAX_MESSAGE_BYTES`] of which `kept` bytes are kept.
pub fn oversized_reason(len: u64, kept: usize) -> String {
    format!(
        "message of {len} bytes is over the {} MiB limit; raw holds its first {} KiB",
        MAX_MESSAGE_BYTES >> 20,
        kept >> 10
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_recognised_in_any_case() {
        assert!(is_gzip(Path::new("a.jsonl.gz")));
        assert!(is_gzip(Path::new("A.GZ")));
        assert!(is_gzip(Path::new("x.Gz")));
        assert!(!is_gzip(Path::new("x.gzip")));
        assert!(!is_gzip(Path::new("gz")));
    }

    #[test]
    fn only_a_leading_bom_is_removed() {
        assert_eq!(strip_bom(b"\xEF\xBB\xBF{}"), b"{}");
        assert_eq!(strip_bom(b"{}\xEF\xBB\xBF"), b"{}\xEF\xBB\xBF");
        assert_eq!(strip_bom(b"\xEF\xBB"), b"\xEF\xBB");
    }

    #[test]
    fn long_lines_are_cut_and_the_rest_skipped() {
        let text = format!("a\n{}\nb", "x".repeat(MAX_MESSAGE_BYTES + 10));
        let mut reader = io::BufReader::with_capacity(4096, text.as_bytes());
        let mut line = Vec::new();
        assert_eq!(read_line_bounded(&mut reader, &mut line).unwrap(), Some(1));
        assert_eq!(line, b"a");
        let long = read_line_bounded(&mut reader, &mut line).unwrap();
        assert_eq!(
            (long, line.len()),
            (Some(MAX_MESSAGE_BYTES as u64 + 10), MAX_MESSAGE_BYTES + 1)
        );
        assert_eq!(read_line_bounded(&mut reader, &mut line).unwrap(), Some(1));
        assert_eq!(line, b"b");
        assert_eq!(read_line_bounded(&mut reader, &mut line).unwrap(), None);
    }

    #[test]
    fn terminators() {
        assert_eq!(strip_terminator(b"{}\r\n"), b"{}");
        assert_eq!(strip_terminator(b"{}\n"), b"{}");
        assert_eq!(strip_terminator(b"{}"), b"{}");
        assert_eq!(strip_terminator(b"{}\r\r\n"), b"{}\r");
    }
}
