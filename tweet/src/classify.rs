//! CONTRACT section 1: one message in, exactly one class out.

use std::borrow::Cow;

use crate::lenient::{Int, IntOrStr, Obj};
use crate::message::{Api, Message, NoticeKind, Tweet};
use crate::schema::{Named, Top, V1Retweeted, V2Data, V2Includes};
use crate::time::{self, Horizon};
use crate::validate;

/// The JSON parser behind [`classify_with`]; both are kept so the benchmark can compare them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    SerdeJson,
    SonicRs,
}

/// Classifies one message with the fastest backend (see `benches/parse.rs` and the README).
pub fn classify(message: &[u8]) -> Message<'_> {
    classify_with(Backend::SonicRs, message)
}

/// The reason of a tweet rejected by [`classify_read`].
pub const FUTURE: &str = "event time in the future";

/// [`classify`] for a message being read now: a tweet whose event time lies beyond `horizon` is
/// rejected (CONTRACT section 2). Both binaries read through this, so they reject alike.
pub fn classify_read(message: &[u8], horizon: Horizon) -> Message<'_> {
    match classify(message) {
        Message::Tweet(tweet) if horizon.is_future(tweet.event_ms) => Message::Rejected(FUTURE),
        other => other,
    }
}

pub fn classify_with(backend: Backend, message: &[u8]) -> Message<'_> {
    let message = message.strip_suffix(b"\r").unwrap_or(message);
    if message.iter().all(|&b| b == b' ' || b == b'\t') {
        return Message::Blank;
    }
    if let Err(reason) = validate::check(message) {
        return Message::Malformed(malformed_reason(message, reason));
    }
    let parsed = match backend {
        // serde_json does not check UTF-8 inside the strings it skips.
        Backend::SerdeJson => std::str::from_utf8(message)
            .map_err(|e| e.to_string())
            .and_then(|s| serde_json::from_str::<Obj<Top>>(s).map_err(|e| e.to_string())),
        Backend::SonicRs => sonic_rs::from_slice::<Obj<Top>>(message).map_err(|e| e.to_string()),
    };
    match parsed {
        Err(reason) => Message::Malformed(malformed_reason(message, reason)),
        Ok(Obj(None)) => Message::Malformed("JSON value is not an object".into()),
        Ok(Obj(Some(top))) => from_top(top),
    }
}

/// Parser messages for bad UTF-8 differ between backends; name the cause plainly.
fn malformed_reason(message: &[u8], parser_error: String) -> String {
    match std::str::from_utf8(message) {
        Err(e) => format!("not UTF-8: {e}"),
        // sonic-rs appends a multi-line excerpt of the input; the dead letter carries the input.
        Ok(_) => format!(
            "invalid JSON: {}",
            parser_error.lines().next().unwrap_or_default()
        ),
    }
}

fn from_top(top: Top<'_>) -> Message<'_> {
    if let Some(user) = top.user {
        let Some(event_ms) = v1_event_time(&top.timestamp_ms, top.created_at.as_deref()) else {
            return Message::Rejected("v1.1 tweet without a valid timestamp_ms or created_at");
        };
        let id = top.id_str.or(match top.id {
            IntOrStr::Int(Int::Unsigned(id)) => Some(Cow::Owned(id.to_string())),
            IntOrStr::Int(Int::Negative(id)) => Some(Cow::Owned(id.to_string())),
            IntOrStr::Str(id) => Some(id),
            IntOrStr::Int(Int::Absent) | IntOrStr::Absent => None,
        });
        return Message::Tweet(Tweet {
            api: Api::V1,
            id,
            event_ms,
            location: trimmed(user.location),
            mentions: names(top.entities.map(|e| e.user_mentions).unwrap_or_default()),
            weight: top
                .retweeted_status
                .map_or(1, |rt: V1Retweeted| weight(rt.retweet_count)),
        });
    }
    if let Some(data) = top.data {
        return v2_tweet(data, top.includes.unwrap_or_default());
    }
    if let Some(kind) = top.notice {
        // `limit.track` only counts when the message is a limit notice.
        let undelivered = top.limit_track.filter(|_| kind == NoticeKind::Limit);
        return Message::Notice { kind, undelivered };
    }
    Message::Rejected("object is neither a tweet nor a notice")
}

fn v2_tweet<'a>(data: V2Data<'a>, includes: V2Includes<'a>) -> Message<'a> {
    let Some(event_ms) = data.created_at.as_deref().and_then(time::parse_rfc3339) else {
        return Message::Rejected("v2 tweet without a valid data.created_at");
    };
    let location = data.author_id.as_ref().and_then(|author| {
        includes
            .users
            .into_iter()
            .find(|u| u.id.as_ref() == Some(author))
            .and_then(|u| u.location)
    });
    let retweeted = data
        .referenced_tweets
        .iter()
        .find(|r| r.kind.as_deref() == Some("retweeted"))
        .and_then(|r| r.id.as_ref());
    let weight = retweeted
        .and_then(|id| includes.tweets.iter().find(|t| t.id.as_ref() == Some(id)))
        .map_or(1, |t| self::weight(t.retweet_count));
    Message::Tweet(Tweet {
        api: Api::V2,
        id: data.id,
        event_ms,
        location: trimmed(location),
        mentions: names(data.mentions),
        weight,
    })
}

fn v1_event_time(timestamp_ms: &IntOrStr<'_>, created_at: Option<&str>) -> Option<u64> {
    let ms = match timestamp_ms {
        IntOrStr::Int(Int::Unsigned(ms)) => i64::try_from(*ms).ok(),
        IntOrStr::Int(Int::Negative(ms)) => Some(*ms),
        IntOrStr::Str(s) => time::parse_digits(s),
        IntOrStr::Int(Int::Absent) | IntOrStr::Absent => None,
    };
    match ms {
        Some(ms) => time::in_range(ms),
        None => created_at.and_then(time::parse_twitter_date),
    }
}

fn weight(count: Int) -> u64 {
    match count {
        Int::Unsigned(n) if n > 0 => n,
        _ => 1,
    }
}

fn trimmed(location: Option<Cow<'_, str>>) -> Option<Cow<'_, str>> {
    let location = location?;
    let trimmed = location.trim();
    if trimmed.is_empty() {
        return None;
    }
    Some(match location {
        Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
        Cow::Owned(ref s) if s.len() == trimmed.len() => location,
        Cow::Owned(_) => Cow::Owned(trimmed.to_owned()),
    })
}

fn names<const V2: bool>(mentions: Vec<Named<'_, V2>>) -> Vec<Cow<'_, str>> {
    mentions
        .into_iter()
        .filter_map(|m| m.name.filter(|n| !n.is_empty()))
        .collect()
}

#[cfg(test)]
mod tests;
