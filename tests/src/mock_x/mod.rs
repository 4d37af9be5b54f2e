//! `MockX`: a local stand-in for X's (Twitter's) streaming endpoints, for the end-to-end tests
//! of the producer's streaming client.
//!
//! The real API cannot be used in tests (it needs paid credentials, is rate limited and cannot be
//! made to fail on cue), so this module serves the same protocols on `127.0.0.1`:
//!
//! - v2 filtered stream `GET /2/tweets/search/stream` with bearer-token auth (`stream`), and its
//!   rules endpoint `GET`/`POST /2/tweets/search/stream/rules` (`rules`);
//! - v1.1 `POST /1.1/statuses/filter.json` with OAuth 1.0a (HMAC-SHA1) auth, verified with the
//!   `oauth1-request` crate, an implementation independent of the client's signer (`oauth`).
//!
//! Stream responses are scripted per connection ([`MockX::push`] a [`Reply`] made of [`Step`]s),
//! so a test can reproduce what is hard to get from the real service on demand: chunks that split
//! a message, pauses, keep-alives, error statuses, disconnects mid-stream and stalled connections.
//!
//! The server is deliberately small: HTTP/1.1 written by hand on `std::net` (`http`; no HTTP
//! crate, so the client is exercised against framing we control byte by byte), one thread per
//! connection, one request per connection, and every response says `Connection: close`. Bad input
//! never panics a server thread: it gets a 400 or the connection is dropped. Every blocking
//! operation polls a stop flag, so dropping the [`MockX`] stops all threads and closes all
//! connections.
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

#[cfg(test)]
mod client;
mod http;
mod oauth;
mod rules;
mod stream;

use std::collections::{HashSet, VecDeque};
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::json;

pub use http::Request;
use http::{ReadError, read_request, respond};

/// Stream endpoint of the v2 filtered stream.
const V2_STREAM: &str = "/2/tweets/search/stream";
/// Rules endpoint of the v2 filtered stream.
const V2_RULES: &str = "/2/tweets/search/stream/rules";
/// Stream endpoint of the v1.1 statuses/filter API.
const V1_FILTER: &str = "/1.1/statuses/filter.json";

/// How often blocked reads, writes, accepts and waits look at the stop flag: short enough that
/// dropping a `MockX` is quick, long enough that idle threads cost nothing.
const POLL: Duration = Duration::from_millis(20);
/// First id handed to a rule: X's rule ids are 19-digit numbers, and the client should not
/// assume they are small.
const FIRST_RULE_ID: u64 = 1_600_000_000_000_000_001;

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

/// The mock server. It serves in background threads until dropped; dropping it stops the
/// threads and closes open connections.
pub struct MockX {
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

/// State shared by the handle and the server threads.
pub(crate) struct Shared {
    pub(crate) auth: Auth,
    pub(crate) addr: SocketAddr,
    pub(crate) stop: AtomicBool,
    pub(crate) state: Mutex<State>,
    /// Clones of the open connections, so `Drop` can shut them down and unblock their threads.
    pub(crate) open: Mutex<Vec<(u64, TcpStream)>>,
}

pub(crate) struct State {
    pub(crate) replies: VecDeque<Reply>,
    pub(crate) requests: Vec<Request>,
    pub(crate) stream_connections: usize,
    pub(crate) rules: Vec<Rule>,
    pub(crate) next_rule_id: u64,
    /// Posts the rules matched, with when (ms since the epoch): what a backfill or a recovery
    /// delivers again.
    pub(crate) matched: Vec<(i64, Vec<u8>)>,
    /// Whether the app has Enterprise access, which backfill and Recovery need (else 403).
    pub(crate) enterprise: bool,
    /// OAuth nonces already accepted, to reject replays.
    pub(crate) nonces: HashSet<String>,
}

/// Locks a mutex, ignoring poisoning: a panicking test thread must not take the mock down too.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl MockX {
    /// Starts a server on `127.0.0.1` (a free port) demanding `auth`.
    pub fn start(auth: Auth) -> MockX {
        MockX::start_on(0, auth)
    }

    /// Starts a server on `127.0.0.1:port` (0: a free one), for a client that was pointed there
    /// before the server was up.
    pub fn start_on(port: u16, auth: Auth) -> MockX {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("bind port {port}: {e}"));
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
                matched: Vec::new(),
                enterprise: true,
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

    /// Records that the rules matched `post` at `at_ms` (ms since the epoch), whether or not a
    /// connection was there to receive it: a v2 connection with `backfill_minutes=N` first gets
    /// every post matched in the last N minutes, and one with `start_time`/`end_time` (Recovery)
    /// gets the posts matched in that period, then the end of the stream. Neither is deduplicated
    /// against what earlier connections received, as X documents.
    pub fn matched(&self, at_ms: i64, post: &[u8]) {
        lock(&self.shared.state)
            .matched
            .push((at_ms, post.to_vec()));
    }

    /// Takes Enterprise access away (or gives it back): backfill and Recovery requests get 403.
    pub fn set_enterprise(&self, enterprise: bool) {
        lock(&self.shared.state).enterprise = enterprise;
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
    if (is_v2 && !oauth::bearer_ok(&shared.auth, req)) || (is_v1 && !oauth::oauth1_ok(shared, req))
    {
        let body = json!({
            "title": "Unauthorized",
            "type": "about:blank",
            "status": 401,
            "detail": "Unauthorized",
        });
        return respond(stream, shared, 401, &body);
    }
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", V2_STREAM) => match stream::replay_of(req) {
            Ok(Some(_)) if !lock(&shared.state).enterprise => {
                let body = json!({
                    "title": "Client Forbidden",
                    "detail": "backfill_minutes and start_time/end_time need Enterprise access",
                    "reason": "client-not-enrolled",
                    "type": "https://api.twitter.com/2/problems/client-forbidden",
                });
                respond(stream, shared, 403, &body)
            }
            Ok(replay) => stream::serve(stream, shared, replay),
            Err(why) => {
                let body = json!({
                    "title": "Invalid Request",
                    "detail": why,
                    "type": "https://api.twitter.com/2/problems/invalid-request",
                });
                respond(stream, shared, 400, &body)
            }
        },
        ("POST", V1_FILTER) => stream::serve(stream, shared, None),
        ("GET", V2_RULES) => rules::get(stream, shared, req),
        ("POST", V2_RULES) => rules::post(stream, shared, req),
        _ => {
            let body = json!({
                "errors": [{"message": "Sorry, that page does not exist", "code": 34}],
            });
            respond(stream, shared, 404, &body)
        }
    }
}

#[cfg(test)]
mod tests {
    //! Routing: auth before paths, 404 and 400, request bodies.
    use super::client::*;
    use super::*;

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
}
