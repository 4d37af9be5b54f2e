//! Messages out of a streaming HTTP body. X delimits messages with `\r\n` and sends a bare `\r\n`
//! as a keep-alive; chunk boundaries are TCP's, not the messages' — one message may span several
//! chunks and one chunk hold several messages.

use tweet::input::{MAX_MESSAGE_BYTES, OVERSIZED_HEAD_BYTES};

#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// One message without its delimiter.
    Message(&'a [u8]),
    /// An empty line: the server saying the connection is alive.
    KeepAlive,
    /// A message over [`MAX_MESSAGE_BYTES`]: its first bytes and its length.
    Oversized { head: &'a [u8], len: u64 },
}

/// Splits a byte stream into frames; holds at most one incomplete message (bounded).
#[derive(Debug, Default)]
pub struct Framer {
    partial: Vec<u8>,
    /// Length so far of an oversized message being skipped; `partial` then holds its head.
    skipping: Option<u64>,
}

impl Framer {
    /// Feeds the next piece of the body; `out` sees every frame it completes, in order.
    pub fn push<E>(
        &mut self,
        mut chunk: &[u8],
        mut out: impl FnMut(Frame<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        while let Some(end) = memchr::memchr(b'\n', chunk) {
            let piece = &chunk[..end];
            chunk = &chunk[end + 1..];
            if let Some(len) = self.skipping.take() {
                let len = len + piece.len() as u64;
                let head = std::mem::take(&mut self.partial);
                out(Frame::Oversized { head: &head, len })?;
            } else if self.partial.is_empty() && piece.len() <= MAX_MESSAGE_BYTES {
                emit(piece, &mut out)?;
            } else {
                // Also reached by a complete but oversized piece: `partial` is then empty.
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(piece);
                if line.len() > MAX_MESSAGE_BYTES {
                    let len = line.len() as u64;
                    line.truncate(OVERSIZED_HEAD_BYTES);
                    out(Frame::Oversized { head: &line, len })?;
                } else {
                    emit(&line, &mut out)?;
                }
                line.clear();
                self.partial = line; // keeps the allocation
            }
        }
        self.keep(chunk);
        Ok(())
    }

    fn keep(&mut self, rest: &[u8]) {
        if let Some(len) = &mut self.skipping {
            *len += rest.len() as u64;
            return;
        }
        if self.partial.len() + rest.len() > MAX_MESSAGE_BYTES {
            let len = (self.partial.len() + rest.len()) as u64;
            let room = OVERSIZED_HEAD_BYTES.saturating_sub(self.partial.len());
            self.partial
                .extend_from_slice(&rest[..room.min(rest.len())]);
            self.partial.truncate(OVERSIZED_HEAD_BYTES);
            self.skipping = Some(len);
        } else {
            self.partial.extend_from_slice(rest);
        }
    }

    /// At the end of a connection: the bytes of a message it cut off, if any (its head when it was
    /// oversized), and a clean state for the next connection.
    pub fn cut_off(&mut self) -> Option<Vec<u8>> {
        self.skipping = None;
        let partial = std::mem::take(&mut self.partial);
        (!partial.is_empty() && partial != b"\r").then_some(partial)
    }
}

fn emit<E>(line: &[u8], out: &mut impl FnMut(Frame<'_>) -> Result<(), E>) -> Result<(), E> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        out(Frame::KeepAlive)
    } else {
        out(Frame::Message(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    enum Owned {
        Message(Vec<u8>),
        KeepAlive,
        Oversized(usize, u64),
    }

    fn frames(framer: &mut Framer, chunks: &[&[u8]]) -> Vec<Owned> {
        let mut got = Vec::new();
        for chunk in chunks {
            framer
                .push(chunk, |f| {
                    got.push(match f {
                        Frame::Message(m) => Owned::Message(m.to_vec()),
                        Frame::KeepAlive => Owned::KeepAlive,
                        Frame::Oversized { head, len } => Owned::Oversized(head.len(), len),
                    });
                    Ok::<(), ()>(())
                })
                .unwrap();
        }
        got
    }

    fn msg(s: &str) -> Owned {
        Owned::Message(s.as_bytes().to_vec())
    }

    #[test]
    fn messages_across_and_within_chunks() {
        let mut f = Framer::default();
        let got = frames(
            &mut f,
            &[
                b"{\"a\"",
                b":1}\r",
                b"\n\r\n{\"b\":2}\r\n{\"c\"",
                b":3}\r\n",
            ],
        );
        assert_eq!(
            got,
            [
                msg("{\"a\":1}"),
                Owned::KeepAlive,
                msg("{\"b\":2}"),
                msg("{\"c\":3}")
            ]
        );
        assert_eq!(f.cut_off(), None);
    }

    #[test]
    fn a_cut_off_message_is_returned_once() {
        let mut f = Framer::default();
        assert_eq!(
            frames(&mut f, &[b"{\"a\":1}\r\n{\"b\""]),
            [msg("{\"a\":1}")]
        );
        assert_eq!(f.cut_off(), Some(b"{\"b\"".to_vec()));
        assert_eq!(f.cut_off(), None);
        assert_eq!(frames(&mut f, &[b"{\"c\":3}\r\n"]), [msg("{\"c\":3}")]);
    }

    #[test]
    fn oversized_messages_are_skipped_with_their_head() {
        let mut f = Framer::default();
        let big = vec![b'x'; MAX_MESSAGE_BYTES / 3];
        let mut chunks: Vec<&[u8]> = vec![b"{\"a\":1}\r\n"];
        chunks.extend([&big[..]; 4]);
        chunks.push(b"\r\n{\"b\":2}\r\n");
        let len = (4 * big.len() + 1) as u64;
        assert_eq!(
            frames(&mut f, &chunks),
            [
                msg("{\"a\":1}"),
                Owned::Oversized(OVERSIZED_HEAD_BYTES, len),
                msg("{\"b\":2}")
            ]
        );
        // One piece over the limit inside a chunk.
        let mut one = b"y".repeat(MAX_MESSAGE_BYTES + 1);
        one.extend_from_slice(b"\n");
        let mut joined = b"z".to_vec();
        joined.extend_from_slice(&one);
        let got = frames(&mut f, &[b"", &joined]);
        assert_eq!(got.len(), 1);
        assert!(matches!(got[0], Owned::Oversized(_, l) if l == MAX_MESSAGE_BYTES as u64 + 2));
    }
}
