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

/// Answers a stream connection with the next scripted reply, or keep-alives if there is none.
pub(super) fn serve(stream: &mut TcpStream, shared: &Shared) -> io::Result<()> {
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
