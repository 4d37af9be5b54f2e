//! CONTRACT section 1, how bytes become messages: the one size limit, gzip by file name, the
//! byte-order mark at the start of a file and the line terminator.
//!
//! Every reader of messages (the dataflow's file and Kafka sources, the producer's replay, the X
//! stream's framing) takes these from here, so that they cannot drift apart.

use std::path::Path;

/// Messages longer than this are malformed: no tweet comes close (X caps a post far below it), and
/// a bound keeps one bad line from exhausting memory. Kafka clients are configured from it too.
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

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
    fn terminators() {
        assert_eq!(strip_terminator(b"{}\r\n"), b"{}");
        assert_eq!(strip_terminator(b"{}\n"), b"{}");
        assert_eq!(strip_terminator(b"{}"), b"{}");
        assert_eq!(strip_terminator(b"{}\r\r\n"), b"{}\r");
    }
}
