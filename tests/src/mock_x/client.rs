//! A minimal std HTTP client for the mock's own tests: raw requests in, the response as sent.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

use super::http::find;
use super::{Auth, MockX};

pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn s(x: &str) -> String {
    x.to_string()
}

pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) head: String,
    /// The body bytes exactly as sent (still chunked if the response was).
    pub(crate) raw_body: Vec<u8>,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.head.split("\r\n").skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body()).expect("JSON body")
    }

    /// The body with chunked framing removed (if any).
    pub(crate) fn body(&self) -> Vec<u8> {
        if self.header("transfer-encoding").is_some() {
            dechunk(&self.raw_body).0
        } else {
            self.raw_body.clone()
        }
    }
}

/// Decodes chunked data; also says whether the terminating chunk was seen.
pub(crate) fn dechunk(mut raw: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        let Some(eol) = find(raw, b"\r\n") else {
            return (out, false);
        };
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..eol]).unwrap(), 16)
            .expect("chunk size");
        raw = &raw[eol + 2..];
        if size == 0 {
            assert_eq!(raw, b"\r\n", "nothing after the terminating chunk");
            return (out, true);
        }
        assert!(raw.len() >= size + 2, "truncated chunk");
        out.extend_from_slice(&raw[..size]);
        assert_eq!(&raw[size..size + 2], b"\r\n");
        raw = &raw[size + 2..];
    }
}

pub(crate) fn connect(mock: &MockX) -> TcpStream {
    let stream = TcpStream::connect(mock.addr()).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

pub(crate) fn parse_response(raw: Vec<u8>) -> Response {
    let end = find(&raw, b"\r\n\r\n").expect("complete response head");
    let head = String::from_utf8(raw[..end].to_vec()).unwrap();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status code");
    Response {
        status,
        head,
        raw_body: raw[end + 4..].to_vec(),
    }
}

/// Sends raw bytes and reads the response until the server closes.
pub(crate) fn exchange(mock: &MockX, raw: &[u8]) -> Response {
    let mut stream = connect(mock);
    stream.write_all(raw).unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).expect("response until close");
    parse_response(out)
}

pub(crate) fn request(
    mock: &MockX,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut raw = format!("{method} {target} HTTP/1.1\r\nHost: {}\r\n", mock.addr());
    for (n, v) in headers {
        raw.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    raw.push_str("\r\n");
    let mut raw = raw.into_bytes();
    raw.extend_from_slice(body);
    exchange(mock, &raw)
}

pub(crate) const TOKEN: &str = "test-bearer-token";
pub(crate) const BEARER: (&str, &str) = ("Authorization", "Bearer test-bearer-token");

pub(crate) fn v2() -> MockX {
    MockX::start(Auth::Bearer(TOKEN.into()))
}

pub(crate) fn get_stream(mock: &MockX) -> Response {
    request(
        mock,
        "GET",
        "/2/tweets/search/stream?tweet.fields=created_at%2Cauthor_id&expansions=author_id",
        &[BEARER],
        b"",
    )
}
