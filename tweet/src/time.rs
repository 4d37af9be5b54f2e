//! Event-time parsing (CONTRACT section 2) and the RFC 3339 rendering of window bounds (section 4).

use chrono::{DateTime, SecondsFormat, Utc};

/// The last millisecond of year 9999: later times cannot be printed as RFC 3339, so they are
/// treated as invalid and the tweet is rejected, as are times before 1970.
pub const MAX_EVENT_MS: u64 = 253_402_300_799_999;

/// How far after the wall clock an event time may be, by default (CONTRACT section 2: no genuine
/// tweet comes from the future; one that claims to would make its partition's later tweets late).
pub const DEFAULT_MAX_FUTURE_MS: u64 = 3_600_000;

/// The wall clock and how far ahead of it an event time may be, when a message is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Horizon {
    pub now_ms: u64,
    pub max_future_ms: u64,
}

impl Horizon {
    /// The horizon at this instant.
    pub fn now(max_future_ms: u64) -> Horizon {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Horizon {
            now_ms,
            max_future_ms,
        }
    }

    /// Whether an event time lies beyond the horizon.
    pub fn is_future(&self, event_ms: u64) -> bool {
        event_ms > self.now_ms.saturating_add(self.max_future_ms)
    }
}

/// Twitter's v1.1 `created_at`, e.g. `Sun Dec 04 02:07:40 +0000 2016`.
pub fn parse_twitter_date(s: &str) -> Option<u64> {
    let t = DateTime::parse_from_str(s, "%a %b %d %H:%M:%S %z %Y").ok()?;
    in_range(t.timestamp_millis())
}

/// v2's `created_at`, e.g. `2016-12-04T02:07:40.000Z`.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let t = DateTime::parse_from_rfc3339(s).ok()?;
    in_range(t.timestamp_millis())
}

/// A duration flag: an integer followed by `ms`, `s`, `m` or `h` (`500ms`, `5s`, `1m`), in
/// milliseconds. Bare numbers are refused: they are ambiguous between seconds and milliseconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let scale = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "" => {
            return Err(format!(
                "duration {s:?} needs a unit: ms, s, m or h (e.g. 5s)"
            ));
        }
        _ => {
            return Err(format!(
                "duration {s:?} has an unknown unit {unit:?}; use ms, s, m or h"
            ));
        }
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("duration {s:?} must start with a whole number"))?;
    n.checked_mul(scale)
        .ok_or_else(|| format!("duration {s:?} is too large"))
}

/// v1.1's `timestamp_ms` when it is a string: ASCII digits only (no sign, no spaces).
pub fn parse_digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

pub fn in_range(ms: i64) -> Option<u64> {
    u64::try_from(ms).ok().filter(|&ms| ms <= MAX_EVENT_MS)
}

/// RFC 3339 in UTC with `Z`, milliseconds only when they are not zero (CONTRACT section 4).
/// Signed, because the first windows of a stream near 1970 start before it. Callers keep bounds at
/// or before [`MAX_EVENT_MS`] (the dataflow rejects tweets whose windows would end later); beyond
/// it chrono would print the extended form `+10000-01-01T00:00:00Z`, which RFC 3339 does not allow.
pub fn format_rfc3339(ms: i64) -> String {
    // Event times and durations are bounded by MAX_EVENT_MS, so window bounds stay far inside
    // chrono's range (±262,000 years).
    let t = DateTime::<Utc>::from_timestamp_millis(ms)
        .expect("window bounds are within chrono's range");
    let format = if ms.rem_euclid(1000) == 0 {
        SecondsFormat::Secs
    } else {
        SecondsFormat::Millis
    };
    t.to_rfc3339_opts(format, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twitter_date() {
        assert_eq!(
            parse_twitter_date("Sun Dec 04 02:07:40 +0000 2016"),
            Some(1_480_817_260_000)
        );
        assert_eq!(
            parse_twitter_date("Sun Dec 04 03:07:40 +0100 2016"),
            Some(1_480_817_260_000)
        );
        assert_eq!(parse_twitter_date("Sun Dec 04 02:07:40 2016"), None);
        assert_eq!(parse_twitter_date(""), None);
    }

    #[test]
    fn rfc3339() {
        assert_eq!(
            parse_rfc3339("2016-12-04T02:07:40.000Z"),
            Some(1_480_817_260_000)
        );
        assert_eq!(
            parse_rfc3339("2016-12-04T02:07:40.5Z"),
            Some(1_480_817_260_500)
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(500));
        assert_eq!(parse_duration("5s"), Ok(5_000));
        assert_eq!(parse_duration("1m"), Ok(60_000));
        assert_eq!(parse_duration("2h"), Ok(7_200_000));
        assert_eq!(parse_duration("0s"), Ok(0));
        for bad in ["5", "s", "5 s", "+5s", "1.5s", "5sec", ""] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn digits() {
        assert_eq!(parse_digits("1480817260000"), Some(1_480_817_260_000));
        assert_eq!(parse_digits("-1"), None);
        assert_eq!(parse_digits("12a"), None);
        assert_eq!(parse_digits(""), None);
        assert_eq!(parse_digits("99999999999999999999"), None);
    }

    #[test]
    fn horizon() {
        let h = Horizon {
            now_ms: 1_000,
            max_future_ms: 500,
        };
        assert!(!h.is_future(1_500));
        assert!(h.is_future(1_501));
        let wide = Horizon {
            now_ms: u64::MAX - 1,
            max_future_ms: 10,
        };
        assert!(!wide.is_future(u64::MAX), "saturates instead of wrapping");
        assert!(Horizon::now(0).now_ms > 1_700_000_000_000);
    }

    #[test]
    fn format_drops_zero_millis() {
        assert_eq!(format_rfc3339(1_480_817_220_000), "2016-12-04T02:07:00Z");
        assert_eq!(
            format_rfc3339(1_480_817_220_500),
            "2016-12-04T02:07:00.500Z"
        );
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(-30_000), "1969-12-31T23:59:30Z");
        let after_9999 = MAX_EVENT_MS as i64 + 1;
        assert_eq!(format_rfc3339(after_9999), "+10000-01-01T00:00:00Z");
    }
}
