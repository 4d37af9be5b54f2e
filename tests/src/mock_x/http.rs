//! The HTTP/1.1 the mock speaks, written by hand on `std::net` so the client is exercised
//! against framing we control byte by byte: reading one request (head, `Content-Length` or
//! chunked body, `Expect: 100-continue`), answering it, and waiting while watching the socket.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use percent_encoding::percent_decode;
use serde_json::Value;

use super::{POLL, Shared};

/// A client gets this long to send its whole request, so a stuck client cannot pin a thread.
const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// Limits on request sizes; beyond them the request is answered with 400.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 8 * 1024 * 1024;

/// A request as the mock received it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The path without the query string, as sent (not percent-decoded).
    pub path: String,
    /// Percent-decoded query parameters (`+` decoded as a space), in order.
    pub query: Vec<(String, String)>,
    /// Headers in order, names in lower case, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked if it was sent chunked).
    pub body: Vec<u8>,
}

impl Request {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first query parameter named `name`.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        find_param(&self.query, name)
    }

    /// The body decoded as `application/x-www-form-urlencoded` (empty if it has another type).
    pub fn form(&self) -> Vec<(String, String)> {
        if self.is_form() {
            parse_urlencoded(&self.body)
        } else {
            Vec::new()
        }
    }

    fn is_form(&self) -> bool {
        self.header("content-type").is_some_and(|ct| {
            ct.split(';').next().is_some_and(|mime| {
                mime.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        })
    }
}

/// Why a request could not be parsed: answered with 400, or the connection just dropped.
pub(super) enum ReadError {
    /// Malformed or too large: worth a 400.
    Bad(&'static str),
    /// Closed, timed out, stopped or an I/O error: nobody to answer.
    Gone,
}

/// Reads some bytes, retrying the poll timeouts until data, EOF, the deadline or the stop flag.
fn read_some(
    stream: &mut TcpStream,
    shared: &Shared,
    deadline: Instant,
    buf: &mut [u8],
) -> Result<usize, ReadError> {
    loop {
        if shared.stop.load(Ordering::SeqCst) || Instant::now() >= deadline {
            return Err(ReadError::Gone);
        }
        match stream.read(buf) {
            Ok(0) => return Err(ReadError::Gone),
            Ok(n) => return Ok(n),
            Err(e) if is_timeout(&e) => {}
            Err(_) => return Err(ReadError::Gone),
        }
    }
}

pub(super) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Bytes received but not yet consumed by the parser.
struct Input<'a> {
    stream: &'a mut TcpStream,
    shared: &'a Shared,
    deadline: Instant,
    buf: Vec<u8>,
}

impl Input<'_> {
    /// Reads more into the buffer, refusing to grow it past `limit`.
    fn fill(&mut self, limit: usize) -> Result<(), ReadError> {
        if self.buf.len() >= limit {
            return Err(ReadError::Bad("request too large"));
        }
        let mut chunk = [0u8; 8192];
        let n = read_some(self.stream, self.shared, self.deadline, &mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// Takes one CRLF-terminated line (without the CRLF).
    fn line(&mut self, limit: usize) -> Result<Vec<u8>, ReadError> {
        loop {
            if let Some(pos) = find(&self.buf, b"\r\n") {
                let line = self.buf[..pos].to_vec();
                self.buf.drain(..pos + 2);
                return Ok(line);
            }
            self.fill(limit)?;
        }
    }

    /// Takes exactly `n` bytes.
    fn exact(&mut self, n: usize) -> Result<Vec<u8>, ReadError> {
        while self.buf.len() < n {
            self.fill(n)?;
        }
        Ok(self.buf.drain(..n).collect())
    }
}

pub(super) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub(super) fn read_request(stream: &mut TcpStream, shared: &Shared) -> Result<Request, ReadError> {
    let mut input = Input {
        stream,
        shared,
        deadline: Instant::now() + REQUEST_DEADLINE,
        buf: Vec::new(),
    };
    let head_end = loop {
        if let Some(pos) = find(&input.buf, b"\r\n\r\n") {
            break pos;
        }
        input.fill(MAX_HEAD)?;
    };
    let head = String::from_utf8(input.buf[..head_end].to_vec())
        .map_err(|_| ReadError::Bad("request head is not UTF-8"))?;
    input.buf.drain(..head_end + 4);

    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) if !m.is_empty() && t.starts_with('/') => (m, t, v),
        _ => return Err(ReadError::Bad("malformed request line")),
    };
    if !version.starts_with("HTTP/1.") {
        return Err(ReadError::Bad("unsupported HTTP version"));
    }
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or(ReadError::Bad("malformed header"))?;
        if name.is_empty() || name.contains(|c: char| c.is_whitespace()) {
            return Err(ReadError::Bad("malformed header name"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let chunked =
        header("transfer-encoding").is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    let length = match header("content-length") {
        Some(v) => Some(
            v.parse::<usize>()
                .map_err(|_| ReadError::Bad("bad Content-Length"))?,
        ),
        None => None,
    };
    if length.is_some_and(|n| n > MAX_BODY) {
        return Err(ReadError::Bad("body too large"));
    }
    let expects_continue = header("expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue"));
    let wants_body = chunked || length.is_some_and(|n| n > 0);
    if expects_continue && wants_body && input.buf.is_empty() {
        // The client waits for this before sending the body; failing to send it just means the
        // body read below times out or sees EOF.
        let _ = write_all(input.stream, shared, b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    let body = if chunked {
        read_chunked_body(&mut input)?
    } else {
        input.exact(length.unwrap_or(0))?
    };

    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, parse_urlencoded(q.as_bytes())),
        None => (target, Vec::new()),
    };
    Ok(Request {
        method: method.to_string(),
        path: path.to_string(),
        query,
        headers,
        body,
    })
}

/// Decodes a chunked request body (trailers are read and dropped).
fn read_chunked_body(input: &mut Input<'_>) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let line = input.line(MAX_HEAD)?;
        let line = std::str::from_utf8(&line).map_err(|_| ReadError::Bad("bad chunk size"))?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size =
            usize::from_str_radix(size_text, 16).map_err(|_| ReadError::Bad("bad chunk size"))?;
        if size > MAX_BODY.saturating_sub(body.len()) {
            return Err(ReadError::Bad("body too large"));
        }
        if size == 0 {
            // Trailer section: header lines until an empty one.
            while !input.line(MAX_HEAD)?.is_empty() {}
            return Ok(body);
        }
        body.extend(input.exact(size)?);
        if !input.exact(2)?.eq(b"\r\n") {
            return Err(ReadError::Bad("chunk not followed by CRLF"));
        }
    }
}

/// Parses `application/x-www-form-urlencoded` (also used for query strings): `&`-separated
/// `key=value` pairs, `+` is a space, percent-escapes decoded (invalid UTF-8 replaced).
pub(super) fn parse_urlencoded(input: &[u8]) -> Vec<(String, String)> {
    input
        .split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            (form_decode(k), form_decode(v))
        })
        .collect()
}

fn form_decode(bytes: &[u8]) -> String {
    let plus_as_space: Vec<u8> = bytes
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_decode(&plus_as_space)
        .decode_utf8_lossy()
        .into_owned()
}

pub(super) fn find_param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Writes all of `data`, retrying the poll timeouts so a slow reader is waited for while a
/// stopped server gives up.
pub(super) fn write_all(
    stream: &mut TcpStream,
    shared: &Shared,
    mut data: &[u8],
) -> io::Result<()> {
    while !data.is_empty() {
        if shared.stop.load(Ordering::SeqCst) {
            return Err(io::Error::other("mock-x stopped"));
        }
        match stream.write(data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
    stream.flush()
}

pub(super) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        406 => "Not Acceptable",
        409 => "Conflict",
        413 => "Payload Too Large",
        416 => "Range Unacceptable",
        420 => "Enhance Your Calm",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// A complete (non-streaming) JSON response with Content-Length.
pub(super) fn respond(
    stream: &mut TcpStream,
    shared: &Shared,
    status: u16,
    body: &Value,
) -> io::Result<()> {
    let body = body.to_string();
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        reason(status),
        body.len()
    );
    let mut out = head.into_bytes();
    out.extend_from_slice(body.as_bytes());
    write_all(stream, shared, &out)
}

pub(super) fn write_chunk(stream: &mut TcpStream, shared: &Shared, data: &[u8]) -> io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    write_all(stream, shared, &out)
}

/// Waits `duration` (None: forever) while watching the connection. Returns false when the
/// client closed it, the socket failed or the server is stopping; whatever the client sends
/// meanwhile is discarded.
pub(super) fn wait(stream: &mut TcpStream, shared: &Shared, duration: Option<Duration>) -> bool {
    let deadline = duration.and_then(|d| Instant::now().checked_add(d));
    let mut sink = [0u8; 1024];
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return false;
        }
        let timeout = match deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return true;
                }
                left.min(POLL)
            }
            None => POLL,
        };
        if stream.set_read_timeout(Some(timeout)).is_err() {
            return false;
        }
        match stream.read(&mut sink) {
            Ok(0) => return false,
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(_) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> String {
        x.to_string()
    }

    #[test]
    fn urlencoded_parsing() {
        assert_eq!(
            parse_urlencoded(b"track=a+b%2Cc&x=&flag&e=%E2%9C%93"),
            vec![
                (s("track"), s("a b,c")),
                (s("x"), s("")),
                (s("flag"), s("")),
                (s("e"), s("\u{2713}")),
            ]
        );
    }
}
