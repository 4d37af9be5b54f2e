//! `MockX`: a local stand-in for X's (Twitter's) streaming endpoints, for the end-to-end tests
//! of the producer's streaming client.
//!
//! The real API cannot be used in tests (it needs paid credentials, is rate limited and cannot be
//! made to fail on cue), so this module serves the same protocols on `127.0.0.1`:
//!
//! - v2 filtered stream `GET /2/tweets/search/stream` with bearer-token auth, and its rules
//!   endpoint `GET`/`POST /2/tweets/search/stream/rules`;
//! - v1.1 `POST /1.1/statuses/filter.json` with OAuth 1.0a (HMAC-SHA1) auth, verified by an
//!   implementation of the signature algorithm written here independently of the client's.
//!
//! Stream responses are scripted per connection ([`MockX::push`] a [`Reply`] made of [`Step`]s),
//! so a test can reproduce what is hard to get from the real service on demand: chunks that split
//! a message, pauses, keep-alives, error statuses, disconnects mid-stream and stalled connections.
//!
//! The server is deliberately small: HTTP/1.1 written by hand on `std::net` (no HTTP crate, so
//! the client is exercised against framing we control byte by byte), one thread per connection,
//! one request per connection, and every response says `Connection: close`. Bad input never
//! panics a server thread: it gets a 400 or the connection is dropped. Every blocking operation
//! polls a stop flag, so dropping the [`MockX`] stops all threads and closes all connections.
//!
//! Decisions where X's behaviour is not reproduced exactly:
//! - Auth is checked before routing: any `/2/...` request without the right bearer token and any
//!   `/1.1/...` request without a valid OAuth 1.0a signature gets 401, even for unknown paths.
//! - `stream_connections` counts stream requests that passed the auth check (scripted replies of
//!   any status and the default keep-alive stream); rejected ones are only in `requests`.
//! - While waiting (pauses, keep-alives, `Hang`) the server watches the socket: when the client
//!   closes (or half-closes) the connection the stream ends.
//! - An empty [`Step::Send`] writes nothing, because a zero-size chunk would end the body.
//! - A request with `Expect: 100-continue` gets an interim `100 Continue` before its body is read.

use std::collections::{HashSet, VecDeque};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, utf8_percent_encode};
use serde_json::{Value, json};
use sha1::Sha1;

/// Stream endpoint of the v2 filtered stream.
const V2_STREAM: &str = "/2/tweets/search/stream";
/// Rules endpoint of the v2 filtered stream.
const V2_RULES: &str = "/2/tweets/search/stream/rules";
/// Stream endpoint of the v1.1 statuses/filter API.
const V1_FILTER: &str = "/1.1/statuses/filter.json";

/// How often blocked reads, writes, accepts and waits look at the stop flag: short enough that
/// dropping a `MockX` is quick, long enough that idle threads cost nothing.
const POLL: Duration = Duration::from_millis(20);
/// Interval of the keep-alive newlines when no reply is scripted (X sends one about every 20 s;
/// tests want it faster).
const KEEP_ALIVE_EVERY: Duration = Duration::from_millis(200);
/// A client gets this long to send its whole request, so a stuck client cannot pin a thread.
const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// Limits on request sizes; beyond them the request is answered with 400.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 8 * 1024 * 1024;
/// OAuth timestamps further than this from the server's clock are rejected (as X does).
const MAX_CLOCK_SKEW_SECS: u64 = 300;
/// First id handed to a rule: X's rule ids are 19-digit numbers, and the client should not
/// assume they are small.
const FIRST_RULE_ID: u64 = 1_600_000_000_000_000_001;

/// RFC 3986 percent-encoding, as OAuth 1.0a requires: everything but the unreserved characters
/// `A-Z a-z 0-9 - . _ ~` is encoded (with upper-case hex digits).
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The credentials the mock demands, which also chooses the API version being tested.
#[derive(Clone, Debug)]
pub enum Auth {
    /// v2: every /2/ request must carry `Authorization: Bearer <token>`, else 401.
    Bearer(String),
    /// v1.1: every /1.1/ request must carry a valid OAuth 1.0a HMAC-SHA1 Authorization header,
    /// else 401.
    OAuth1 {
        consumer_key: String,
        consumer_secret: String,
        token: String,
        token_secret: String,
    },
}

/// One step of a scripted stream response.
#[derive(Clone, Debug)]
pub enum Step {
    /// Write exactly these bytes as ONE HTTP chunk (size line, data, CRLF), then flush.
    /// Empty data writes nothing (a zero-size chunk would terminate the body).
    Send(Vec<u8>),
    /// Send nothing for this long (ends early if the client disconnects).
    Pause(Duration),
    /// Drop the TCP connection abruptly: no terminating 0-chunk (a disconnect mid-stream).
    Close,
    /// Send nothing more and keep the connection open until the client closes it or the server
    /// is dropped (a stalled stream, for read-timeout tests).
    Hang,
}

/// A scripted answer to one stream connection.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub steps: Vec<Step>,
}

impl Reply {
    /// A reply with `status` and no steps: for a non-200 status the mock sends X's error body.
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            steps: Vec::new(),
        }
    }
}

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

/// A v2 filtered-stream rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    pub value: String,
    pub tag: Option<String>,
}

/// Helper for building replies: a 200 whose steps send each message followed by "\r\n" as its
/// own chunk (how X delimits messages).
pub fn messages_reply(messages: &[&[u8]]) -> Reply {
    Reply {
        status: 200,
        steps: messages
            .iter()
            .map(|m| {
                let mut data = m.to_vec();
                data.extend_from_slice(b"\r\n");
                Step::Send(data)
            })
            .collect(),
    }
}

/// Like [`messages_reply`], but all messages (each followed by "\r\n") are concatenated and cut
/// into chunks of at most `chunk_size` bytes, so messages straddle chunk boundaries, as they do
/// on the real stream. `chunk_size` 0 is treated as 1.
pub fn split_reply(messages: &[&[u8]], chunk_size: usize) -> Reply {
    let mut all = Vec::new();
    for m in messages {
        all.extend_from_slice(m);
        all.extend_from_slice(b"\r\n");
    }
    Reply {
        status: 200,
        steps: all
            .chunks(chunk_size.max(1))
            .map(|c| Step::Send(c.to_vec()))
            .collect(),
    }
}

/// The OAuth 1.0a HMAC-SHA1 signature (base64) of a request, as X documents it in "Creating a
/// signature". `url` is the base URL (scheme, host, path; no query), `params` every query,
/// form-body and `oauth_*` parameter (not `oauth_signature`), all *decoded*.
pub fn oauth1_signature(
    method: &str,
    url: &str,
    params: &[(String, String)],
    consumer_secret: &str,
    token_secret: &str,
) -> String {
    let mut encoded: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (rfc3986(k), rfc3986(v)))
        .collect();
    encoded.sort();
    let parameter_string = encoded
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let base_string = format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        rfc3986(url),
        rfc3986(&parameter_string)
    );
    let key = format!("{}&{}", rfc3986(consumer_secret), rfc3986(token_secret));
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac =
        <Hmac<Sha1> as Mac>::new_from_slice(key.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(base_string.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Percent-encodes per RFC 3986 (OAuth's encoding).
fn rfc3986(s: &str) -> String {
    utf8_percent_encode(s, RFC3986).to_string()
}

/// The mock server. It serves in background threads until dropped; dropping it stops the
/// threads and closes open connections.
pub struct MockX {
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

/// State shared by the handle and the server threads.
struct Shared {
    auth: Auth,
    addr: SocketAddr,
    stop: AtomicBool,
    state: Mutex<State>,
    /// Clones of the open connections, so `Drop` can shut them down and unblock their threads.
    open: Mutex<Vec<(u64, TcpStream)>>,
}

struct State {
    replies: VecDeque<Reply>,
    requests: Vec<Request>,
    stream_connections: usize,
    rules: Vec<Rule>,
    next_rule_id: u64,
    /// OAuth nonces already accepted, to reject replays.
    nonces: HashSet<String>,
}

/// Locks a mutex, ignoring poisoning: a panicking test thread must not take the mock down too.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl MockX {
    /// Starts a server on `127.0.0.1` (a free port) demanding `auth`.
    pub fn start(auth: Auth) -> MockX {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        // Non-blocking, polled, so the accept loop notices the stop flag.
        listener
            .set_nonblocking(true)
            .expect("set the listener non-blocking");
        let addr = listener.local_addr().expect("listener address");
        let shared = Arc::new(Shared {
            auth,
            addr,
            stop: AtomicBool::new(false),
            state: Mutex::new(State {
                replies: VecDeque::new(),
                requests: Vec::new(),
                stream_connections: 0,
                rules: Vec::new(),
                next_rule_id: FIRST_RULE_ID,
                nonces: HashSet::new(),
            }),
            open: Mutex::new(Vec::new()),
        });
        let accept_shared = Arc::clone(&shared);
        let accept_thread = thread::Builder::new()
            .name("mock-x-accept".into())
            .spawn(move || accept_loop(listener, accept_shared))
            .expect("spawn the mock-x accept thread");
        MockX {
            shared,
            accept_thread: Some(accept_thread),
        }
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// Scripts the reply for the next *stream* connection (FIFO queue). With the queue empty a
    /// stream connection gets 200 and keep-alives until it is closed.
    pub fn push(&self, reply: Reply) {
        lock(&self.shared.state).replies.push_back(reply);
    }

    /// How many pushed replies no connection has taken yet.
    pub fn pending_replies(&self) -> usize {
        lock(&self.shared.state).replies.len()
    }

    /// Every request received so far, in order (including rejected ones).
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.shared.state).requests.clone()
    }

    /// Requests to a stream endpoint that passed the auth check and were answered (scripted
    /// replies of any status, or the default keep-alive stream).
    pub fn stream_connections(&self) -> usize {
        lock(&self.shared.state).stream_connections
    }

    /// Waits until at least `n` stream connections were answered; false on timeout. Lets tests
    /// synchronise with the client without fixed sleeps.
    pub fn wait_for_stream_connections(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.stream_connections() >= n {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(POLL);
        }
    }

    /// The current v2 rules.
    pub fn rules(&self) -> Vec<Rule> {
        lock(&self.shared.state).rules.clone()
    }

    /// Replaces the v2 rules (ids are kept as given; later ids are allocated above numeric ones).
    pub fn set_rules(&self, rules: Vec<Rule>) {
        let mut state = lock(&self.shared.state);
        let max_id = rules.iter().filter_map(|r| r.id.parse::<u64>().ok()).max();
        if let Some(max_id) = max_id {
            state.next_rule_id = state.next_rule_id.max(max_id.saturating_add(1));
        }
        state.rules = rules;
    }
}

impl Drop for MockX {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for (_, stream) in lock(&self.shared.open).iter() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        if let Some(handle) = self.accept_thread.take() {
            let _ = handle.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    let mut next_id: u64 = 0;
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                workers.retain(|w| !w.is_finished());
                next_id += 1;
                let id = next_id;
                if let Ok(clone) = stream.try_clone() {
                    lock(&shared.open).push((id, clone));
                }
                let conn_shared = Arc::clone(&shared);
                let spawned = thread::Builder::new()
                    .name("mock-x-conn".into())
                    .spawn(move || {
                        serve_connection(stream, &conn_shared);
                        lock(&conn_shared.open).retain(|(i, _)| *i != id);
                    });
                match spawned {
                    Ok(handle) => workers.push(handle),
                    // Out of threads: the stream was moved into the failed closure and dropped,
                    // which closes the connection; forget its clone.
                    Err(_) => lock(&shared.open).retain(|(i, _)| *i != id),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => thread::sleep(POLL),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // Transient accept failures (e.g. the client reset before accept, out of fds):
            // back off a little and keep serving.
            Err(_) => thread::sleep(POLL),
        }
    }
    // The stop flag is set: connections were shut down by `Drop` (or will notice the flag).
    for (_, stream) in lock(&shared.open).iter() {
        let _ = stream.shutdown(Shutdown::Both);
    }
    for worker in workers {
        let _ = worker.join();
    }
}

/// Why a request could not be parsed: answered with 400, or the connection just dropped.
enum ReadError {
    /// Malformed or too large: worth a 400.
    Bad(&'static str),
    /// Closed, timed out, stopped or an I/O error: nobody to answer.
    Gone,
}

/// Serves one connection: one request, one response, then close.
fn serve_connection(mut stream: TcpStream, shared: &Shared) {
    // Accepted sockets are blocking on Linux, but be explicit: all I/O below relies on timeouts.
    if stream.set_nonblocking(false).is_err()
        || stream.set_read_timeout(Some(POLL)).is_err()
        || stream.set_write_timeout(Some(POLL)).is_err()
    {
        return;
    }
    let _ = stream.set_nodelay(true);
    let request = match read_request(&mut stream, shared) {
        Ok(request) => request,
        Err(ReadError::Bad(why)) => {
            let body = json!({
                "title": "Invalid Request",
                "detail": why,
                "type": "https://api.twitter.com/2/problems/invalid-request",
            });
            let _ = respond(&mut stream, shared, 400, &body);
            return;
        }
        Err(ReadError::Gone) => return,
    };
    lock(&shared.state).requests.push(request.clone());
    let _ = route(&mut stream, shared, &request);
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Write);
}

/// Dispatches a recorded request: auth check, then the endpoint.
fn route(stream: &mut TcpStream, shared: &Shared, req: &Request) -> io::Result<()> {
    let is_v2 = req.path.starts_with("/2/");
    let is_v1 = req.path.starts_with("/1.1/");
    if (is_v2 && !bearer_ok(&shared.auth, req)) || (is_v1 && !oauth1_ok(shared, req)) {
        let body = json!({
            "title": "Unauthorized",
            "type": "about:blank",
            "status": 401,
            "detail": "Unauthorized",
        });
        return respond(stream, shared, 401, &body);
    }
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", V2_STREAM) | ("POST", V1_FILTER) => serve_stream(stream, shared),
        ("GET", V2_RULES) => get_rules(stream, shared, req),
        ("POST", V2_RULES) => post_rules(stream, shared, req),
        _ => {
            let body = json!({
                "errors": [{"message": "Sorry, that page does not exist", "code": 34}],
            });
            respond(stream, shared, 404, &body)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading requests
// ---------------------------------------------------------------------------------------------

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

fn is_timeout(e: &io::Error) -> bool {
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

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn read_request(stream: &mut TcpStream, shared: &Shared) -> Result<Request, ReadError> {
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
fn parse_urlencoded(input: &[u8]) -> Vec<(String, String)> {
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

fn find_param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

// ---------------------------------------------------------------------------------------------
// Auth
// ---------------------------------------------------------------------------------------------

fn bearer_ok(auth: &Auth, req: &Request) -> bool {
    let Auth::Bearer(token) = auth else {
        return false;
    };
    let Some(value) = req.header("authorization") else {
        return false;
    };
    match value.split_once(' ') {
        Some((scheme, given)) => scheme.eq_ignore_ascii_case("bearer") && given.trim() == token,
        None => false,
    }
}

/// Parses `OAuth k="v", ...` into decoded pairs; None if it is not an OAuth header or a
/// parameter is malformed or repeated.
fn parse_oauth_header(value: &str) -> Option<Vec<(String, String)>> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("oauth") {
        return None;
    }
    let mut params: Vec<(String, String)> = Vec::new();
    for item in rest.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (key, quoted) = item.split_once('=')?;
        let raw = quoted.trim().strip_prefix('"')?.strip_suffix('"')?;
        let key = percent_decode(key.trim().as_bytes())
            .decode_utf8()
            .ok()?
            .into_owned();
        let val = percent_decode(raw.as_bytes())
            .decode_utf8()
            .ok()?
            .into_owned();
        if params.iter().any(|(k, _)| *k == key) {
            return None;
        }
        params.push((key, val));
    }
    Some(params)
}

fn oauth1_ok(shared: &Shared, req: &Request) -> bool {
    let Auth::OAuth1 {
        consumer_key,
        consumer_secret,
        token,
        token_secret,
    } = &shared.auth
    else {
        return false;
    };
    let Some(oauth) = req.header("authorization").and_then(parse_oauth_header) else {
        return false;
    };
    let get = |name: &str| find_param(&oauth, name);
    let (Some(signature), Some(nonce), Some(timestamp)) = (
        get("oauth_signature"),
        get("oauth_nonce"),
        get("oauth_timestamp"),
    ) else {
        return false;
    };
    if get("oauth_consumer_key") != Some(consumer_key.as_str())
        || get("oauth_token") != Some(token.as_str())
        || get("oauth_signature_method") != Some("HMAC-SHA1")
        || get("oauth_version").is_some_and(|v| v != "1.0")
        || nonce.is_empty()
    {
        return false;
    }
    let Ok(timestamp) = timestamp.parse::<u64>() else {
        return false;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    if now.abs_diff(timestamp) > MAX_CLOCK_SKEW_SECS {
        return false;
    }
    let Some(host) = req.header("host") else {
        return false;
    };
    let mut host = host.to_ascii_lowercase();
    if let Some(h) = host.strip_suffix(":80") {
        // RFC 5849 3.4.1.2: the default port is not part of the base URL.
        host = h.to_string();
    }
    let base_url = format!("http://{host}{}", req.path);

    let mut params = req.query.clone();
    params.extend(req.form());
    params.extend(
        oauth
            .iter()
            .filter(|(k, _)| k.starts_with("oauth_") && k != "oauth_signature")
            .cloned(),
    );
    let expected = oauth1_signature(
        &req.method,
        &base_url,
        &params,
        consumer_secret,
        token_secret,
    );
    if expected != signature {
        return false;
    }
    // Only a valid signature uses up its nonce, so a forged request cannot block a real one.
    lock(&shared.state).nonces.insert(nonce.to_string())
}

// ---------------------------------------------------------------------------------------------
// Writing responses
// ---------------------------------------------------------------------------------------------

/// Writes all of `data`, retrying the poll timeouts so a slow reader is waited for while a
/// stopped server gives up.
fn write_all(stream: &mut TcpStream, shared: &Shared, mut data: &[u8]) -> io::Result<()> {
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

fn reason(status: u16) -> &'static str {
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
fn respond(stream: &mut TcpStream, shared: &Shared, status: u16, body: &Value) -> io::Result<()> {
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

fn write_chunk(stream: &mut TcpStream, shared: &Shared, data: &[u8]) -> io::Result<()> {
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
fn wait(stream: &mut TcpStream, shared: &Shared, duration: Option<Duration>) -> bool {
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

/// X's error body for a stream connection refused with `status`.
fn stream_error_body(status: u16) -> Value {
    match status {
        429 => json!({
            "title": "ConnectionException",
            "detail": "This stream is currently at the maximum allowed connection limit.",
            "type": "https://api.twitter.com/2/problems/streaming-connection",
            "connection_issue": "TooManyConnections",
        }),
        420 => json!({
            "errors": [{"code": 420, "message": "Enhance Your Calm"}],
        }),
        _ => json!({
            "title": reason(status),
            "detail": reason(status),
            "type": "about:blank",
            "status": status,
        }),
    }
}

/// Answers a stream connection with the next scripted reply, or keep-alives if there is none.
fn serve_stream(stream: &mut TcpStream, shared: &Shared) -> io::Result<()> {
    let scripted = {
        let mut state = lock(&shared.state);
        state.stream_connections += 1;
        state.replies.pop_front()
    };
    let status = scripted.as_ref().map_or(200, |r| r.status);
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        reason(status)
    );
    write_all(stream, shared, head.as_bytes())?;

    let Some(reply) = scripted else {
        // X's keep-alive: a bare newline now and then, until the client goes away.
        loop {
            write_chunk(stream, shared, b"\r\n")?;
            if !wait(stream, shared, Some(KEEP_ALIVE_EVERY)) {
                return Ok(());
            }
        }
    };
    if reply.status != 200 && reply.steps.is_empty() {
        write_chunk(
            stream,
            shared,
            stream_error_body(reply.status).to_string().as_bytes(),
        )?;
    }
    for step in reply.steps {
        match step {
            Step::Send(data) => write_chunk(stream, shared, &data)?,
            Step::Pause(d) => {
                if !wait(stream, shared, Some(d)) {
                    return Ok(());
                }
            }
            Step::Close => {
                // No terminating chunk: the client must see a truncated body.
                let _ = stream.shutdown(Shutdown::Both);
                return Ok(());
            }
            Step::Hang => {
                wait(stream, shared, None);
                return Ok(());
            }
        }
    }
    write_all(stream, shared, b"0\r\n\r\n")
}

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

/// X's `sent` timestamp: RFC 3339 with milliseconds, UTC.
fn sent_now() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    i64::try_from(millis)
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_string())
}

fn rule_json(rule: &Rule) -> Value {
    let mut v = json!({"id": rule.id, "value": rule.value});
    if let Some(tag) = &rule.tag {
        v["tag"] = json!(tag);
    }
    v
}

fn get_rules(stream: &mut TcpStream, shared: &Shared, req: &Request) -> io::Result<()> {
    let wanted: Option<Vec<&str>> = req
        .query_param("ids")
        .map(|ids| ids.split(',').map(str::trim).collect());
    let rules: Vec<Rule> = lock(&shared.state)
        .rules
        .iter()
        .filter(|r| wanted.as_ref().is_none_or(|w| w.contains(&r.id.as_str())))
        .cloned()
        .collect();
    let mut body = json!({"meta": {"sent": sent_now(), "result_count": rules.len()}});
    if !rules.is_empty() {
        body["data"] = rules.iter().map(rule_json).collect();
    }
    respond(stream, shared, 200, &body)
}

fn invalid_request(message: &str) -> Value {
    json!({
        "errors": [{"message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    })
}

fn post_rules(stream: &mut TcpStream, shared: &Shared, req: &Request) -> io::Result<()> {
    let dry_run = match req.query_param("dry_run") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            let body =
                invalid_request("The `dry_run` query parameter value is not one of [true,false]");
            return respond(stream, shared, 400, &body);
        }
    };
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&req.body) else {
        return respond(
            stream,
            shared,
            400,
            &invalid_request("Request body is not a JSON object"),
        );
    };
    let answer = match (body.get("add"), body.get("delete")) {
        (Some(add), None) => add_rules(shared, add, dry_run),
        (None, Some(delete)) => delete_rules(shared, delete, dry_run),
        _ => Err("Request body must contain exactly one of `add` or `delete`"),
    };
    match answer {
        Ok(body) => respond(stream, shared, 200, &body),
        Err(message) => respond(stream, shared, 400, &invalid_request(message)),
    }
}

fn add_rules(shared: &Shared, add: &Value, dry_run: bool) -> Result<Value, &'static str> {
    let items = add.as_array().ok_or("`add` must be an array")?;
    let mut wanted = Vec::with_capacity(items.len());
    for item in items {
        let value = item
            .get("value")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .ok_or("every rule needs a non-empty string `value`")?;
        let tag = match item.get("tag") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => Some(t.clone()),
            Some(_) => return Err("a rule's `tag` must be a string"),
        };
        wanted.push((value.to_string(), tag));
    }

    let mut state = lock(&shared.state);
    // Work on copies so a dry run can validate exactly like a real run without changing state.
    let mut rules = state.rules.clone();
    let mut next_id = state.next_rule_id;
    let mut created = Vec::new();
    let mut errors = Vec::new();
    for (value, tag) in wanted {
        if let Some(existing) = rules.iter().find(|r| r.value == value) {
            errors.push(json!({
                "value": value,
                "id": existing.id,
                "title": "DuplicateRule",
                "type": "https://api.twitter.com/2/problems/duplicate-rules",
            }));
            continue;
        }
        let rule = Rule {
            id: next_id.to_string(),
            value,
            tag,
        };
        next_id += 1;
        rules.push(rule.clone());
        created.push(rule);
    }
    if !dry_run {
        state.rules = rules;
        state.next_rule_id = next_id;
    }
    drop(state);

    let mut body = json!({
        "meta": {
            "sent": sent_now(),
            "summary": {
                "created": created.len(),
                "not_created": errors.len(),
                "valid": created.len(),
                "invalid": errors.len(),
            },
        },
    });
    if !created.is_empty() {
        body["data"] = created.iter().map(rule_json).collect();
    }
    if !errors.is_empty() {
        body["errors"] = Value::Array(errors);
    }
    Ok(body)
}

fn delete_rules(shared: &Shared, delete: &Value, dry_run: bool) -> Result<Value, &'static str> {
    let strings = |key: &str| -> Result<Vec<String>, &'static str> {
        match delete.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err("`delete` entries must be strings"),
                })
                .collect(),
            Some(_) => Err("`delete.ids` / `delete.values` must be arrays"),
        }
    };
    if !delete.is_object() {
        return Err("`delete` must be an object");
    }
    let ids = strings("ids")?;
    let values = strings("values")?;
    if ids.is_empty() && values.is_empty() {
        return Err("`delete` needs non-empty `ids` or `values`");
    }

    let mut state = lock(&shared.state);
    let mut deleted = 0usize;
    let mut not_deleted = 0usize;
    let mut rules = state.rules.clone();
    for (key, by_id) in ids
        .iter()
        .map(|i| (i, true))
        .chain(values.iter().map(|v| (v, false)))
    {
        match rules
            .iter()
            .position(|r| if by_id { &r.id == key } else { &r.value == key })
        {
            Some(pos) => {
                rules.remove(pos);
                deleted += 1;
            }
            None => not_deleted += 1,
        }
    }
    if !dry_run {
        state.rules = rules;
    }
    drop(state);
    Ok(json!({
        "meta": {
            "sent": sent_now(),
            "summary": {"deleted": deleted, "not_deleted": not_deleted},
        },
    }))
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    const IO_TIMEOUT: Duration = Duration::from_secs(5);

    fn s(x: &str) -> String {
        x.to_string()
    }

    /// X's published example from "Creating a signature".
    fn x_example_params() -> Vec<(String, String)> {
        vec![
            (
                s("status"),
                s("Hello Ladies + Gentlemen, a signed OAuth request!"),
            ),
            (s("include_entities"), s("true")),
            (s("oauth_consumer_key"), s("xvz1evFS4wEEPTGEFPHBog")),
            (
                s("oauth_nonce"),
                s("kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"),
            ),
            (s("oauth_signature_method"), s("HMAC-SHA1")),
            (s("oauth_timestamp"), s("1318622958")),
            (
                s("oauth_token"),
                s("370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"),
            ),
            (s("oauth_version"), s("1.0")),
        ]
    }

    const X_CONSUMER_SECRET: &str = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw";
    const X_TOKEN_SECRET: &str = "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE";

    /// X's published example, for both of its hosts, in the given and in reversed order.
    #[test]
    fn signature_matches_x_published_example_in_any_parameter_order() {
        let mut params = x_example_params();
        for _ in 0..2 {
            for (url, want) in [
                (
                    "https://api.twitter.com/1.1/statuses/update.json",
                    "hCtSmYh+iHYCEqBWrE7C7hYmtUk=",
                ),
                (
                    "https://api.x.com/1.1/statuses/update.json",
                    "Ls93hJiZbQ3akF3HF3x1Bz8/zU4=",
                ),
            ] {
                assert_eq!(
                    oauth1_signature("POST", url, &params, X_CONSUMER_SECRET, X_TOKEN_SECRET),
                    want
                );
            }
            params.reverse();
        }
    }

    #[test]
    fn rfc3986_encoding_keeps_only_unreserved() {
        assert_eq!(rfc3986("Az09-._~"), "Az09-._~");
        assert_eq!(rfc3986("a b+c!*'()/é"), "a%20b%2Bc%21%2A%27%28%29%2F%C3%A9");
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

    // --- a minimal std client ----------------------------------------------------------------

    struct Response {
        status: u16,
        head: String,
        /// The body bytes exactly as sent (still chunked if the response was).
        raw_body: Vec<u8>,
    }

    impl Response {
        fn header(&self, name: &str) -> Option<String> {
            self.head.split("\r\n").skip(1).find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
        }

        fn json(&self) -> Value {
            serde_json::from_slice(&self.body()).expect("JSON body")
        }

        /// The body with chunked framing removed (if any).
        fn body(&self) -> Vec<u8> {
            if self.header("transfer-encoding").is_some() {
                dechunk(&self.raw_body).0
            } else {
                self.raw_body.clone()
            }
        }
    }

    /// Decodes chunked data; also says whether the terminating chunk was seen.
    fn dechunk(mut raw: &[u8]) -> (Vec<u8>, bool) {
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

    fn connect(mock: &MockX) -> TcpStream {
        let stream = TcpStream::connect(mock.addr()).expect("connect");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream
    }

    fn parse_response(raw: Vec<u8>) -> Response {
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
    fn exchange(mock: &MockX, raw: &[u8]) -> Response {
        let mut stream = connect(mock);
        stream.write_all(raw).unwrap();
        let mut out = Vec::new();
        stream.read_to_end(&mut out).expect("response until close");
        parse_response(out)
    }

    fn request(
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

    const TOKEN: &str = "test-bearer-token";
    const BEARER: (&str, &str) = ("Authorization", "Bearer test-bearer-token");

    fn v2() -> MockX {
        MockX::start(Auth::Bearer(TOKEN.into()))
    }

    fn get_stream(mock: &MockX) -> Response {
        request(
            mock,
            "GET",
            "/2/tweets/search/stream?tweet.fields=created_at%2Cauthor_id&expansions=author_id",
            &[BEARER],
            b"",
        )
    }

    // --- stream framing ----------------------------------------------------------------------

    #[test]
    fn scripted_reply_is_chunked_exactly_and_terminated() {
        let mock = v2();
        mock.push(Reply {
            status: 200,
            steps: vec![
                Step::Send(b"{\"a\":".to_vec()),
                Step::Pause(Duration::from_millis(30)),
                Step::Send(b"1}\r\n".to_vec()),
                Step::Send(Vec::new()),
                Step::Send(vec![b'x'; 300]),
            ],
        });
        let resp = get_stream(&mock);
        assert_eq!(resp.status, 200);
        assert!(resp.head.starts_with("HTTP/1.1 200 OK\r\n"));
        assert_eq!(
            resp.header("content-type").as_deref(),
            Some("application/json")
        );
        assert_eq!(resp.header("transfer-encoding").as_deref(), Some("chunked"));
        assert_eq!(resp.header("connection").as_deref(), Some("close"));
        let mut expected = b"5\r\n{\"a\":\r\n4\r\n1}\r\n\r\n12c\r\n".to_vec();
        expected.extend_from_slice(&[b'x'; 300]);
        expected.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_eq!(resp.raw_body, expected);
        assert_eq!(mock.stream_connections(), 1);

        let reqs = mock.requests();
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].method, "GET");
        assert_eq!(reqs[0].path, V2_STREAM);
        assert_eq!(
            reqs[0].query_param("tweet.fields"),
            Some("created_at,author_id")
        );
        assert_eq!(reqs[0].query_param("expansions"), Some("author_id"));
        assert_eq!(
            reqs[0].header("AUTHORIZATION"),
            Some("Bearer test-bearer-token")
        );
    }

    #[test]
    fn close_step_ends_without_terminating_chunk() {
        let mock = v2();
        mock.push(Reply {
            status: 200,
            steps: vec![
                Step::Send(b"{\"x\":1}\r\n".to_vec()),
                Step::Close,
                Step::Send(b"never sent".to_vec()),
            ],
        });
        let resp = get_stream(&mock);
        assert_eq!(resp.raw_body, b"9\r\n{\"x\":1}\r\n\r\n");
        assert_eq!(dechunk(&resp.raw_body), (b"{\"x\":1}\r\n".to_vec(), false));
    }

    #[test]
    fn replies_are_used_in_order_then_keep_alive() {
        let mock = v2();
        mock.push(messages_reply(&[b"first"]));
        mock.push(split_reply(&[b"second", b"third"], 4));
        assert_eq!(mock.pending_replies(), 2);
        assert_eq!(get_stream(&mock).body(), b"first\r\n");
        let second = get_stream(&mock);
        assert_eq!(second.body(), b"second\r\nthird\r\n");
        assert!(
            second
                .raw_body
                .starts_with(b"4\r\nseco\r\n4\r\nnd\r\n\r\n4\r\nthir\r\n3\r\nd\r\n\r\n0\r\n\r\n")
        );
        assert_eq!(mock.pending_replies(), 0);
        assert_eq!(mock.stream_connections(), 2);
    }

    #[test]
    fn empty_queue_streams_keep_alives_until_the_client_leaves() {
        let mock = v2();
        let mut stream = connect(&mock);
        write!(
            stream,
            "GET {V2_STREAM} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\n\r\n",
            mock.addr()
        )
        .unwrap();
        let started = Instant::now();
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        // Head plus three keep-alive chunks ("2\r\n\r\n\r\n") take about 400 ms at 200 ms each.
        while got.windows(7).filter(|w| *w == b"2\r\n\r\n\r\n").count() < 3 {
            let n = stream.read(&mut buf).expect("keep-alives arrive");
            assert!(n > 0, "server closed the keep-alive stream");
            got.extend_from_slice(&buf[..n]);
            assert!(started.elapsed() < IO_TIMEOUT);
        }
        let resp = parse_response(got);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("transfer-encoding").as_deref(), Some("chunked"));
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(350),
            "keep-alives too fast: {elapsed:?}"
        );
        assert_eq!(mock.stream_connections(), 1);
        drop(stream);
        // The server notices the close and frees the connection.
        let deadline = Instant::now() + IO_TIMEOUT;
        while !lock(&mock.shared.open).is_empty() {
            assert!(Instant::now() < deadline, "connection thread still running");
            thread::sleep(POLL);
        }
    }

    #[test]
    fn error_status_without_steps_sends_x_error_body() {
        let mock = v2();
        mock.push(Reply::status(429));
        let resp = get_stream(&mock);
        assert_eq!(resp.status, 429);
        assert!(resp.head.starts_with("HTTP/1.1 429 Too Many Requests\r\n"));
        let body = resp.json();
        assert_eq!(body["connection_issue"], "TooManyConnections");
        assert_eq!(body["title"], "ConnectionException");
        assert!(dechunk(&resp.raw_body).1, "error body is terminated");
        assert_eq!(mock.stream_connections(), 1);

        mock.push(Reply {
            status: 503,
            steps: vec![Step::Send(b"custom".to_vec())],
        });
        let resp = get_stream(&mock);
        assert_eq!(resp.status, 503);
        assert_eq!(resp.body(), b"custom");
    }

    #[test]
    fn hang_keeps_the_connection_open_until_drop() {
        let mock = v2();
        mock.push(Reply {
            status: 200,
            steps: vec![Step::Send(b"one\r\n".to_vec()), Step::Hang],
        });
        let mut stream = connect(&mock);
        write!(
            stream,
            "GET {V2_STREAM} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
        )
        .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        while !got.ends_with(b"5\r\none\r\n\r\n") {
            let n = stream
                .read(&mut buf)
                .expect("the head and first chunk arrive");
            assert!(n > 0, "closed before the first chunk");
            got.extend_from_slice(&buf[..n]);
        }
        // Then nothing: neither data nor a close.
        stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        match stream.read(&mut buf) {
            Err(e) if is_timeout(&e) => {}
            other => panic!("expected a silent open connection, got {other:?}"),
        }
        let started = Instant::now();
        drop(mock);
        assert!(started.elapsed() < Duration::from_secs(2), "drop is prompt");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut rest = Vec::new();
        // EOF (or a reset) after the drop, and never a terminating chunk.
        let _ = stream.read_to_end(&mut rest);
        assert!(rest.is_empty());
    }

    #[test]
    fn drop_stops_keep_alive_streams_and_the_port() {
        let mock = v2();
        let addr = mock.addr();
        let mut stream = connect(&mock);
        write!(
            stream,
            "GET {V2_STREAM} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
        )
        .unwrap();
        assert!(mock.wait_for_stream_connections(1, IO_TIMEOUT));
        // A connection that never finishes its request must not block the drop either.
        let idle = connect(&mock);
        drop(mock);
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
        assert!(!rest.ends_with(b"0\r\n\r\n"));
        drop(idle);
        assert!(TcpStream::connect(addr).is_err(), "listener closed");
    }

    // --- errors and auth ---------------------------------------------------------------------

    #[test]
    fn bad_or_missing_bearer_token_is_401() {
        let mock = v2();
        mock.push(messages_reply(&[b"kept for the real client"]));
        for headers in [
            &[("Authorization", "Bearer wrong")][..],
            &[][..],
            &[("Authorization", "Basic dGVzdA==")][..],
        ] {
            let resp = request(&mock, "GET", V2_STREAM, headers, b"");
            assert_eq!(resp.status, 401);
            assert_eq!(resp.header("connection").as_deref(), Some("close"));
            assert_eq!(
                resp.json(),
                json!({"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"})
            );
        }
        let resp = request(&mock, "GET", V2_RULES, &[], b"");
        assert_eq!(resp.status, 401);
        assert_eq!(mock.stream_connections(), 0);
        assert_eq!(mock.pending_replies(), 1);
        assert_eq!(mock.requests().len(), 4, "rejected requests are recorded");
        // The v1.1 endpoint needs OAuth, which a bearer-configured mock never accepts.
        let resp = request(&mock, "POST", V1_FILTER, &[BEARER], b"");
        assert_eq!(resp.status, 401);
        // The right token works (case-insensitive scheme).
        let resp = request(
            &mock,
            "GET",
            V2_STREAM,
            &[("authorization", "bearer test-bearer-token")],
            b"",
        );
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body(), b"kept for the real client\r\n");
    }

    #[test]
    fn unknown_paths_are_404_and_garbage_is_400() {
        let mock = v2();
        assert_eq!(
            request(&mock, "GET", "/2/nothing", &[BEARER], b"").status,
            404
        );
        assert_eq!(request(&mock, "GET", "/", &[], b"").status, 404);
        assert_eq!(
            request(&mock, "DELETE", V2_STREAM, &[BEARER], b"").status,
            404
        );
        assert_eq!(exchange(&mock, b"NONSENSE\r\n\r\n").status, 400);
        assert_eq!(
            exchange(&mock, b"GET / HTTP/1.1\r\nno colon\r\n\r\n").status,
            400
        );
        assert_eq!(
            exchange(&mock, b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n").status,
            400
        );
        assert_eq!(
            exchange(&mock, b"GET / HTTP/1.1\r\nHost: \xff\r\n\r\n").status,
            400
        );
        // A client that connects and leaves: nothing recorded, server fine.
        drop(connect(&mock));
        assert_eq!(mock.requests().len(), 3);
        mock.push(messages_reply(&[b"ok"]));
        assert_eq!(get_stream(&mock).body(), b"ok\r\n");
    }

    #[test]
    fn chunked_request_body_is_decoded() {
        let mock = v2();
        let resp = exchange(
            &mock,
            format!(
                "POST {V2_RULES} HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n\
                 5\r\n{{\"add\r\n15;ext=1\r\n\":[{{\"value\":\"cats\"}}]}}\r\n0\r\nX-Trailer: t\r\n\r\n"
            )
            .as_bytes(),
        );
        assert_eq!(
            resp.status,
            200,
            "{}",
            String::from_utf8_lossy(&resp.body())
        );
        assert_eq!(mock.rules().len(), 1);
        assert_eq!(mock.requests()[0].body, br#"{"add":[{"value":"cats"}]}"#);
    }

    // --- rules ---------------------------------------------------------------------------------

    fn post_json(mock: &MockX, target: &str, body: &str) -> Response {
        request(
            mock,
            "POST",
            target,
            &[BEARER, ("Content-Type", "application/json")],
            body.as_bytes(),
        )
    }

    #[test]
    fn rules_get_add_duplicate_delete() {
        let mock = v2();
        let resp = request(&mock, "GET", V2_RULES, &[BEARER], b"");
        assert_eq!(resp.status, 200);
        let body = resp.json();
        assert!(body.get("data").is_none(), "X omits data without rules");
        assert_eq!(body["meta"]["result_count"], 0);
        assert!(
            body["meta"]["sent"]
                .as_str()
                .is_some_and(|s| s.ends_with('Z'))
        );

        let resp = post_json(
            &mock,
            V2_RULES,
            r#"{"add":[{"value":"cat has:images","tag":"cats"},{"value":"dog"}]}"#,
        );
        assert_eq!(resp.status, 200);
        let body = resp.json();
        assert_eq!(
            body["meta"]["summary"],
            json!({"created":2,"not_created":0,"valid":2,"invalid":0})
        );
        let data = body["data"].as_array().unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(data[0]["value"], "cat has:images");
        assert_eq!(data[0]["tag"], "cats");
        assert!(data[1].get("tag").is_none());
        let cat_id = data[0]["id"].as_str().unwrap().to_string();
        let dog_id = data[1]["id"].as_str().unwrap().to_string();
        assert!(cat_id.parse::<u64>().is_ok());
        assert_ne!(cat_id, dog_id);
        assert_eq!(
            mock.rules(),
            vec![
                Rule {
                    id: cat_id.clone(),
                    value: s("cat has:images"),
                    tag: Some(s("cats"))
                },
                Rule {
                    id: dog_id.clone(),
                    value: s("dog"),
                    tag: None
                },
            ]
        );

        let body = request(&mock, "GET", V2_RULES, &[BEARER], b"").json();
        assert_eq!(body["meta"]["result_count"], 2);
        assert_eq!(body["data"][1], json!({"id": dog_id, "value": "dog"}));
        let body = request(
            &mock,
            "GET",
            &format!("{V2_RULES}?ids={dog_id}"),
            &[BEARER],
            b"",
        )
        .json();
        assert_eq!(body["meta"]["result_count"], 1);

        // Duplicate value: not created, reported with the existing id.
        let body = post_json(
            &mock,
            V2_RULES,
            r#"{"add":[{"value":"dog"},{"value":"bird"}]}"#,
        )
        .json();
        assert_eq!(
            body["meta"]["summary"],
            json!({"created":1,"not_created":1,"valid":1,"invalid":1})
        );
        assert_eq!(body["data"][0]["value"], "bird");
        assert_eq!(
            body["errors"],
            json!([{
                "value": "dog",
                "id": dog_id,
                "title": "DuplicateRule",
                "type": "https://api.twitter.com/2/problems/duplicate-rules",
            }])
        );
        assert_eq!(mock.rules().len(), 3);

        // Dry runs validate but change nothing.
        let body = post_json(
            &mock,
            &format!("{V2_RULES}?dry_run=true"),
            r#"{"add":[{"value":"fish"}]}"#,
        )
        .json();
        assert_eq!(body["meta"]["summary"]["created"], 1);
        let body = post_json(
            &mock,
            &format!("{V2_RULES}?dry_run=true"),
            &format!(r#"{{"delete":{{"ids":["{cat_id}"]}}}}"#),
        )
        .json();
        assert_eq!(
            body["meta"]["summary"],
            json!({"deleted":1,"not_deleted":0})
        );
        assert_eq!(mock.rules().len(), 3);

        // Delete one known id and one unknown.
        let body = post_json(
            &mock,
            V2_RULES,
            &format!(r#"{{"delete":{{"ids":["{cat_id}","42"]}}}}"#),
        )
        .json();
        assert_eq!(
            body["meta"]["summary"],
            json!({"deleted":1,"not_deleted":1})
        );
        assert!(body.get("data").is_none());
        let values: Vec<String> = mock.rules().into_iter().map(|r| r.value).collect();
        assert_eq!(values, vec![s("dog"), s("bird")]);

        // Malformed bodies.
        for bad in [
            "{not json",
            "[]",
            "{}",
            r#"{"add":{}}"#,
            r#"{"add":[{"tag":"x"}]}"#,
        ] {
            let resp = post_json(&mock, V2_RULES, bad);
            assert_eq!(resp.status, 400, "body {bad}");
            assert_eq!(resp.json()["title"], "Invalid Request");
        }
        assert_eq!(mock.rules().len(), 2);
    }

    #[test]
    fn set_rules_ids_do_not_collide_with_new_ones() {
        let mock = v2();
        mock.set_rules(vec![Rule {
            id: FIRST_RULE_ID.to_string(),
            value: s("preset"),
            tag: None,
        }]);
        let body = post_json(&mock, V2_RULES, r#"{"add":[{"value":"new"}]}"#).json();
        assert_ne!(body["data"][0]["id"], FIRST_RULE_ID.to_string());
        assert_eq!(mock.rules().len(), 2);
    }

    // --- OAuth 1.0a ----------------------------------------------------------------------------

    fn oauth_mock() -> MockX {
        MockX::start(Auth::OAuth1 {
            consumer_key: s("ck"),
            consumer_secret: s("cs secret"),
            token: s("tok-1"),
            token_secret: s("ts&secret"),
        })
    }

    fn now_secs() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    /// Builds an Authorization header for a v1.1 filter request as a client would.
    fn sign(
        mock: &MockX,
        form: &[(&str, &str)],
        nonce: &str,
        timestamp: u64,
        consumer_secret: &str,
    ) -> String {
        let mut oauth = vec![
            (s("oauth_consumer_key"), s("ck")),
            (s("oauth_nonce"), s(nonce)),
            (s("oauth_signature_method"), s("HMAC-SHA1")),
            (s("oauth_timestamp"), timestamp.to_string()),
            (s("oauth_token"), s("tok-1")),
            (s("oauth_version"), s("1.0")),
        ];
        let mut params: Vec<(String, String)> = form.iter().map(|(k, v)| (s(k), s(v))).collect();
        params.extend(oauth.clone());
        let url = format!("{}{V1_FILTER}", mock.base_url());
        let signature = oauth1_signature("POST", &url, &params, consumer_secret, "ts&secret");
        oauth.push((s("oauth_signature"), signature));
        let fields: Vec<String> = oauth
            .iter()
            .map(|(k, v)| format!("{}=\"{}\"", rfc3986(k), rfc3986(v)))
            .collect();
        format!("OAuth {}", fields.join(", "))
    }

    fn post_filter(mock: &MockX, authorization: &str, body: &str) -> Response {
        request(
            mock,
            "POST",
            V1_FILTER,
            &[
                ("Authorization", authorization),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            body.as_bytes(),
        )
    }

    #[test]
    fn oauth1_accepts_a_correctly_signed_request() {
        let mock = oauth_mock();
        mock.push(messages_reply(&[br#"{"id_str":"1","text":"hi"}"#]));
        let auth = sign(
            &mock,
            &[("track", "rust lang,tokio!")],
            "nonce-1",
            now_secs(),
            "cs secret",
        );
        let resp = post_filter(&mock, &auth, "track=rust+lang%2Ctokio%21");
        assert_eq!(
            resp.status,
            200,
            "{}",
            String::from_utf8_lossy(&resp.body())
        );
        assert_eq!(resp.body(), b"{\"id_str\":\"1\",\"text\":\"hi\"}\r\n");
        let req = &mock.requests()[0];
        assert_eq!(req.form(), vec![(s("track"), s("rust lang,tokio!"))]);
        assert_eq!(mock.stream_connections(), 1);
    }

    #[test]
    fn oauth1_rejects_tampering_replays_and_wrong_credentials() {
        let mock = oauth_mock();
        let now = now_secs();
        let expect_401 = |auth: &str, body: &str, why: &str| {
            let resp = post_filter(&mock, auth, body);
            assert_eq!(resp.status, 401, "{why}");
            assert_eq!(resp.json()["title"], "Unauthorized");
        };
        // Body changed after signing.
        let auth = sign(&mock, &[("track", "cats")], "n-tamper", now, "cs secret");
        expect_401(&auth, "track=dogs", "tampered body");
        // Signed with the wrong secret.
        let auth = sign(&mock, &[("track", "cats")], "n-secret", now, "wrong");
        expect_401(&auth, "track=cats", "wrong consumer secret");
        // Stale timestamp.
        let auth = sign(&mock, &[("track", "cats")], "n-old", now - 301, "cs secret");
        expect_401(&auth, "track=cats", "stale timestamp");
        // Tampered signature header field.
        let auth = sign(&mock, &[("track", "cats")], "n-field", now, "cs secret")
            .replace("oauth_token=\"tok-1\"", "oauth_token=\"tok-2\"");
        expect_401(&auth, "track=cats", "other token");
        // Not OAuth at all.
        expect_401("Bearer x", "track=cats", "bearer on v1.1");
        expect_401("OAuth garbage", "track=cats", "garbage header");
        assert_eq!(mock.stream_connections(), 0);

        // A good one passes once; its replay is refused.
        let auth = sign(&mock, &[("track", "cats")], "n-good", now, "cs secret");
        mock.push(Reply::status(200));
        assert_eq!(post_filter(&mock, &auth, "track=cats").status, 200);
        expect_401(&auth, "track=cats", "replayed nonce");
        assert_eq!(mock.stream_connections(), 1);
        // v2 endpoints are not reachable with an OAuth-configured mock.
        assert_eq!(request(&mock, "GET", V2_STREAM, &[BEARER], b"").status, 401);
    }

    #[test]
    fn oauth1_header_parsing() {
        assert_eq!(
            parse_oauth_header(r#"OAuth oauth_nonce="a%20b", oauth_token="t""#),
            Some(vec![
                (s("oauth_nonce"), s("a b")),
                (s("oauth_token"), s("t"))
            ])
        );
        assert_eq!(parse_oauth_header(r#"OAuth a="1", a="2""#), None);
        assert_eq!(parse_oauth_header(r#"OAuth a=1"#), None);
        assert_eq!(parse_oauth_header(r#"Bearer a="1""#), None);
        assert_eq!(parse_oauth_header("OAuth"), None);
    }
}
