//! Stream connections: the next scripted reply, or X's keep-alives when none is scripted.

use std::io;
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use serde_json::{Value, json};

use super::http::{reason, wait, write_all, write_chunk};
use super::{Shared, Step, lock};

/// Interval of the keep-alive newlines when no reply is scripted (X sends one about every 20 s;
/// tests want it faster).
const KEEP_ALIVE_EVERY: Duration = Duration::from_millis(200);

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

/// What a v2 connection asks to be delivered again of the posts matched before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Replay {
    /// `backfill_minutes=N`: the last N minutes, before the live stream.
    Backfill { minutes: i64 },
    /// `start_time`/`end_time`: that period, then the end of the stream (Recovery).
    Recovery { from_ms: i64, to_ms: i64 },
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The replay a request asks for, checked as X documents the parameters: `backfill_minutes` an
/// integer from 1 to 5; `start_time` and `end_time` RFC 3339, together, the start before the end
/// and at most 24 hours back; not both kinds at once.
pub(super) fn replay_of(req: &super::Request) -> Result<Option<Replay>, String> {
    let time = |name: &str| -> Result<Option<i64>, String> {
        req.query_param(name)
            .map(|v| {
                chrono::DateTime::parse_from_rfc3339(v)
                    .map(|t| t.timestamp_millis())
                    .map_err(|_| {
                        format!(
                            "The `{name}` query parameter value [{v}] is not a valid RFC 3339 time"
                        )
                    })
            })
            .transpose()
    };
    let backfill = req.query_param("backfill_minutes");
    let (start, end) = (time("start_time")?, time("end_time")?);
    match (backfill, start, end) {
        (None, None, None) => Ok(None),
        (Some(minutes), None, None) => match minutes.parse::<i64>() {
            Ok(minutes) if (1..=5).contains(&minutes) => Ok(Some(Replay::Backfill { minutes })),
            _ => Err(format!(
                "The `backfill_minutes` query parameter value [{minutes}] is not between 1 and 5"
            )),
        },
        (None, Some(from_ms), Some(to_ms)) => {
            if from_ms >= to_ms {
                Err("The `start_time` query parameter value must be before the `end_time`".into())
            } else if from_ms < now_ms() - 24 * 3_600_000 {
                Err(
                    "The `start_time` query parameter value must be within the last 24 hours"
                        .into(),
                )
            } else {
                Ok(Some(Replay::Recovery { from_ms, to_ms }))
            }
        }
        (None, _, _) => Err("`start_time` and `end_time` go together".into()),
        (Some(_), _, _) => Err("`backfill_minutes` cannot be combined with a recovery".into()),
    }
}

/// Answers a stream connection: for a recovery, the period's posts and the end; otherwise the
/// backfill asked for, then the next scripted reply, or keep-alives if there is none.
pub(super) fn serve(
    stream: &mut TcpStream,
    shared: &Shared,
    replay: Option<Replay>,
) -> io::Result<()> {
    let (scripted, replayed) = {
        let mut state = lock(&shared.state);
        state.stream_connections += 1;
        let mut posts: Vec<(i64, Vec<u8>)> = match replay {
            None => Vec::new(),
            Some(Replay::Backfill { minutes }) => {
                let since = now_ms() - minutes * 60_000;
                state
                    .matched
                    .iter()
                    .filter(|(at, _)| *at >= since)
                    .cloned()
                    .collect()
            }
            Some(Replay::Recovery { from_ms, to_ms }) => state
                .matched
                .iter()
                .filter(|(at, _)| (from_ms..=to_ms).contains(at))
                .cloned()
                .collect(),
        };
        // Older posts first.
        posts.sort_by_key(|(at, _)| *at);
        let scripted = match replay {
            Some(Replay::Recovery { .. }) => None,
            _ => state.replies.pop_front(),
        };
        (scripted, posts)
    };
    if let Some(Replay::Recovery { .. }) = replay {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                    Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        write_all(stream, shared, head.as_bytes())?;
        for (_, post) in &replayed {
            write_chunk(stream, shared, &[&post[..], b"\r\n"].concat())?;
        }
        return write_all(stream, shared, b"0\r\n\r\n");
    }
    let status = scripted.as_ref().map_or(200, |r| r.status);
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        reason(status)
    );
    write_all(stream, shared, head.as_bytes())?;
    if status == 200 {
        for (_, post) in &replayed {
            write_chunk(stream, shared, &[&post[..], b"\r\n"].concat())?;
        }
    }

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

#[cfg(test)]
mod tests {
    //! What a stream connection gets, byte by byte.
    use std::io::Read;
    use std::net::TcpStream;

    use super::super::client::*;
    use super::super::http::is_timeout;
    use super::super::*;

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

    fn stream_with(mock: &MockX, query: &str) -> Response {
        request(
            mock,
            "GET",
            &format!("/2/tweets/search/stream?{query}"),
            &[BEARER],
            b"",
        )
    }

    fn rfc3339(ms: i64) -> String {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    }

    #[test]
    fn backfill_and_recovery_parameters_x_refuses_get_400() {
        let mock = v2();
        let now = super::now_ms();
        for query in [
            "backfill_minutes=0".to_owned(),
            "backfill_minutes=6".to_owned(),
            "backfill_minutes=two".to_owned(),
            format!("start_time={}", rfc3339(now - 60_000)),
            format!(
                "start_time={}&end_time={}",
                rfc3339(now - 25 * 3_600_000),
                rfc3339(now)
            ),
            format!(
                "start_time={}&end_time={}",
                rfc3339(now),
                rfc3339(now - 60_000)
            ),
            format!(
                "backfill_minutes=2&start_time={}&end_time={}",
                rfc3339(now - 60_000),
                rfc3339(now)
            ),
        ] {
            assert_eq!(stream_with(&mock, &query).status, 400, "{query}");
        }
    }

    #[test]
    fn a_backfill_repeats_the_minutes_asked_for_oldest_first_then_the_stream() {
        let mock = v2();
        let now = super::now_ms();
        mock.matched(now - 10 * 60_000, b"too old");
        mock.matched(now - 1_000, b"second");
        mock.matched(now - 90_000, b"first");
        mock.push(messages_reply(&[b"live"]));
        let response = stream_with(&mock, "backfill_minutes=2");
        assert_eq!(response.status, 200);
        assert_eq!(
            dechunk(&response.raw_body).0,
            b"first\r\nsecond\r\nlive\r\n"
        );
    }

    #[test]
    fn a_recovery_restreams_its_period_then_ends_without_taking_a_reply() {
        let mock = v2();
        let now = super::now_ms();
        mock.matched(now - 3 * 3_600_000, b"before");
        mock.matched(now - 2 * 3_600_000, b"in");
        mock.matched(now - 60_000, b"after");
        mock.push(messages_reply(&[b"scripted"]));
        let query = format!(
            "start_time={}&end_time={}",
            rfc3339(now - 2 * 3_600_000 - 1_000),
            rfc3339(now - 3_600_000)
        );
        let response = stream_with(&mock, &query);
        assert_eq!(response.status, 200);
        assert_eq!(dechunk(&response.raw_body).0, b"in\r\n");
        assert_eq!(mock.pending_replies(), 1, "the live stream's reply is left");
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
}
