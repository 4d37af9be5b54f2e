//! The non-tweet lines a real stream carries (CONTRACT §1): keep-alives, notices, broken and
//! rejected messages. Drawn from their own random stream so that turning noise on adds lines
//! without changing a single tweet.

use rand::Rng;
use serde_json::json;

use super::model::{Composer, snowflake};
use super::{v1, v1_time_ms, v2, v2_time};

/// One kind of noise line; `ALL_V1`/`ALL_V2` list what each format's stream may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Blank,
    Whitespace,
    Delete,
    Limit,
    ScrubGeo,
    StatusWithheld,
    UserWithheld,
    Warning,
    Disconnect,
    Truncated,
    NotJson,
    Array,
    Unknown,
    NoTime,
    /// The v2 stream's in-band error object: an object of no known class, hence rejected.
    Errors,
}

/// v1.1 noise with relative frequencies: deletes dominate real streams.
const V1: &[(Kind, u32)] = &[
    (Kind::Blank, 10),
    (Kind::Whitespace, 4),
    (Kind::Delete, 25),
    (Kind::Limit, 12),
    (Kind::ScrubGeo, 4),
    (Kind::StatusWithheld, 3),
    (Kind::UserWithheld, 2),
    (Kind::Warning, 4),
    (Kind::Disconnect, 1),
    (Kind::Truncated, 10),
    (Kind::NotJson, 5),
    (Kind::Array, 3),
    (Kind::Unknown, 6),
    (Kind::NoTime, 8),
];

/// The v2 filtered stream has no v1 notices; it sends keep-alives and `errors` objects.
const V2: &[(Kind, u32)] = &[
    (Kind::Blank, 20),
    (Kind::Whitespace, 4),
    (Kind::Truncated, 10),
    (Kind::NotJson, 5),
    (Kind::Array, 3),
    (Kind::Unknown, 6),
    (Kind::NoTime, 8),
    (Kind::Errors, 6),
];

/// State carried between noise lines.
#[derive(Default)]
pub(super) struct Noise {
    /// `limit.track` is cumulative over a connection, as the real API reports it.
    track: u64,
}

impl Noise {
    pub(super) fn pick(&self, v2: bool, rng: &mut impl Rng) -> Kind {
        let table = if v2 { V2 } else { V1 };
        let total: u32 = table.iter().map(|&(_, w)| w).sum();
        let mut r = rng.random_range(0..total);
        for &(kind, w) in table {
            if r < w {
                return kind;
            }
            r -= w;
        }
        table[0].0
    }

    /// Appends one line (with its `\n`) of the given kind, as of event time `ts_ms`.
    pub(super) fn line(
        &mut self,
        kind: Kind,
        c: &Composer,
        ts_ms: u64,
        v2: bool,
        rng: &mut impl Rng,
        out: &mut Vec<u8>,
    ) {
        let ts = v1_time_ms(ts_ms);
        let id = snowflake(ts_ms.saturating_sub(rng.random_range(0..86_400_000)), rng);
        let user = rng.random_range(10_000_000u64..4_000_000_000);
        let value = match kind {
            Kind::Blank => None,
            Kind::Whitespace => {
                out.extend_from_slice([" ", "\t", "  \t "][rng.random_range(0..3)].as_bytes());
                None
            }
            Kind::Delete => Some(json!({"delete": {
                "status": {"id": id, "id_str": id.to_string(), "user_id": user, "user_id_str": user.to_string()},
                "timestamp_ms": ts,
            }})),
            Kind::Limit => {
                self.track += rng.random_range(1..200);
                Some(json!({"limit": {"track": self.track, "timestamp_ms": ts}}))
            }
            Kind::ScrubGeo => Some(json!({"scrub_geo": {
                "user_id": user, "user_id_str": user.to_string(),
                "up_to_status_id": id, "up_to_status_id_str": id.to_string(),
                "timestamp_ms": ts,
            }})),
            Kind::StatusWithheld => Some(json!({"status_withheld": {
                "id": id, "user_id": user, "withheld_in_countries": ["DE", "FR"], "timestamp_ms": ts,
            }})),
            Kind::UserWithheld => Some(json!({"user_withheld": {
                "id": user, "withheld_in_countries": ["TR"], "timestamp_ms": ts,
            }})),
            Kind::Warning => Some(json!({"warning": {
                "code": "FALLING_BEHIND",
                "message": "Your connection is falling behind and messages are being queued for delivery to you. Your queue is now over 60% full. You will be disconnected when the queue is full.",
                "percent_full": 60,
            }})),
            Kind::Disconnect => Some(json!({"disconnect": {
                "code": 7, "stream_name": "tweetflow-statuses", "reason": "admin logout",
            }})),
            Kind::Truncated => {
                let mut line = Vec::new();
                self.tweet_line(c, ts_ms, v2, false, rng, &mut line);
                // Any proper prefix of an object misses its closing brace, so it is never JSON; the cut
                // stays on a character boundary so the line is still UTF-8.
                let mut cut = rng.random_range(1..line.len() - 1);
                while (line[cut] & 0xC0) == 0x80 {
                    cut -= 1;
                }
                out.extend_from_slice(&line[..cut]);
                None
            }
            Kind::NotJson => {
                let text = [
                    "Exceeded connection limit for user",
                    "<html><body>503 Service Unavailable</body></html>",
                    "HTTP/1.1 420 Enhance Your Calm",
                    "{'single': 'quotes'}",
                ][rng.random_range(0..4)];
                out.extend_from_slice(text.as_bytes());
                None
            }
            Kind::Array => Some(json!([{"id": id}, 1, "two"])),
            Kind::Unknown => Some(if rng.random_bool(0.5) {
                json!({"foo": 1})
            } else {
                json!({"id": id, "id_str": id.to_string(), "text": "a status without its user", "timestamp_ms": ts})
            }),
            Kind::NoTime => {
                self.tweet_line(c, ts_ms, v2, true, rng, out);
                None
            }
            Kind::Errors => Some(json!({"errors": [{
                "title": "operational-disconnect",
                "disconnect_type": "UpstreamOperationalDisconnect",
                "detail": "This stream has been disconnected upstream for operational reasons.",
                "type": "https://api.twitter.com/2/problems/operational-disconnect",
            }]})),
        };
        if let Some(v) = value {
            serde_json::to_writer(&mut *out, &v).expect("serializing a JSON value into memory");
        }
        out.push(b'\n');
    }

    /// A tweet line without the newline; with `no_time`, one whose every time field is invalid.
    fn tweet_line(
        &self,
        c: &Composer,
        ts_ms: u64,
        v2: bool,
        no_time: bool,
        rng: &mut impl Rng,
        out: &mut Vec<u8>,
    ) {
        let t = c.tweet(ts_ms, rng);
        if v2 {
            let mut e = v2::envelope(c, &t);
            if no_time {
                e.data.created_at = match rng.random_range(0..3) {
                    0 => None,
                    1 => Some(String::new()),
                    _ => Some(super::v1_time(ts_ms)),
                };
            } else {
                e.data.created_at = Some(v2_time(ts_ms));
            }
            serde_json::to_writer(&mut *out, &e).expect("serializing into memory");
        } else {
            let mut s = v1::status(c, &t, true);
            if no_time {
                (s.timestamp_ms, s.created_at) = match rng.random_range(0..3) {
                    0 => (None, String::new()),
                    1 => (Some("12a".into()), "not a date".into()),
                    _ => (None, v2_time(ts_ms)),
                };
            }
            serde_json::to_writer(&mut *out, &s).expect("serializing into memory");
        }
    }
}
