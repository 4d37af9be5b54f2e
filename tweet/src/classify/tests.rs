//! Every class of CONTRACT section 1 and every field rule of section 2, on both backends.

use super::*;
use crate::NoticeKind;

const BACKENDS: [Backend; 2] = [Backend::SerdeJson, Backend::SonicRs];

fn each(message: &[u8]) -> Message<'_> {
    let first = classify_with(BACKENDS[0], message);
    for backend in &BACKENDS[1..] {
        let other = classify_with(*backend, message);
        match (&first, &other) {
            (Message::Malformed(_), Message::Malformed(_)) => {}
            _ => assert_eq!(
                first,
                other,
                "backends disagree on {:?}",
                String::from_utf8_lossy(message)
            ),
        }
    }
    first
}

fn tweet(message: &str) -> Tweet<'_> {
    match each(message.as_bytes()) {
        Message::Tweet(t) => t,
        other => panic!("expected a tweet, got {other:?} for {message}"),
    }
}

const TS: &str = r#""timestamp_ms":"1480817260000""#;

#[test]
fn blank_lines() {
    for line in ["", " ", "\t \t", "\r", "  \r"] {
        assert_eq!(each(line.as_bytes()), Message::Blank, "{line:?}");
    }
}

#[test]
fn malformed() {
    for line in [
        &b"{"[..],
        b"not json",
        b"[1,2]",
        b"\"str\"",
        b"42",
        b"null",
        b"{\"a\":1} trailing",
        b"{\"user\":{}",
    ] {
        assert!(
            matches!(each(line), Message::Malformed(_)),
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn non_utf8_is_malformed_even_in_skipped_fields() {
    let line = b"{\"user\":{},\"timestamp_ms\":\"1\",\"text\":\"caf\xe9\"}";
    match each(line) {
        Message::Malformed(reason) => assert!(reason.starts_with("not UTF-8"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn notices_per_kind() {
    for kind in NoticeKind::ALL {
        let line = format!(r#"{{"{}":{{"x":1}}}}"#, kind.key());
        assert_eq!(
            each(line.as_bytes()),
            Message::Notice {
                kind,
                undelivered: None
            }
        );
    }
    assert_eq!(
        each(br#"{"limit":{"track":42,"timestamp_ms":"1"}}"#),
        Message::Notice {
            kind: NoticeKind::Limit,
            undelivered: Some(42)
        }
    );
    assert_eq!(
        each(br#"{"warning":{},"delete":{}}"#),
        Message::Notice {
            kind: NoticeKind::Delete,
            undelivered: None
        },
        "the first kind in contract order names the notice"
    );
}

#[test]
fn rejected() {
    assert!(matches!(each(br#"{"foo":1}"#), Message::Rejected(_)));
    assert!(
        matches!(each(br#"{"user":{}}"#), Message::Rejected(_)),
        "no event time"
    );
    assert!(matches!(
        each(br#"{"user":{},"timestamp_ms":"12a"}"#),
        Message::Rejected(_)
    ));
    assert!(matches!(
        each(br#"{"user":{},"timestamp_ms":-5}"#),
        Message::Rejected(_)
    ));
    assert!(matches!(
        each(br#"{"data":{"created_at":"junk"}}"#),
        Message::Rejected(_)
    ));
}

#[test]
fn user_must_be_an_object_to_be_v1() {
    // `user` of the wrong type: not a v1.1 tweet, and with nothing else it is rejected.
    assert!(matches!(
        each(format!(r#"{{"user":"x",{TS}}}"#).as_bytes()),
        Message::Rejected(_)
    ));
    // `user` wins over `data`.
    let t = tweet(
        r#"{"user":{"location":"a"},"timestamp_ms":"5","data":{"created_at":"2016-12-04T02:07:40Z"}}"#,
    );
    assert_eq!((t.api, t.event_ms), (Api::V1, 5));
}

#[test]
fn v1_event_time_rules() {
    assert_eq!(
        tweet(r#"{"user":{},"timestamp_ms":1480817260001}"#).event_ms,
        1_480_817_260_001
    );
    assert_eq!(
        tweet(r#"{"user":{},"timestamp_ms":"1480817260002"}"#).event_ms,
        1_480_817_260_002
    );
    let fallback =
        r#"{"user":{},"timestamp_ms":1.5,"created_at":"Sun Dec 04 02:07:40 +0000 2016"}"#;
    assert_eq!(tweet(fallback).event_ms, 1_480_817_260_000);
    let missing = r#"{"user":{},"created_at":"Sun Dec 04 02:07:40 +0000 2016"}"#;
    assert_eq!(tweet(missing).event_ms, 1_480_817_260_000);
}

#[test]
fn v1_fields() {
    let t = tweet(concat!(
        r#"{"id":1,"id_str":"801","user":{"location":"  東京\t","name":"x"},"timestamp_ms":"7","#,
        r#""entities":{"user_mentions":[{"screen_name":"Foo"},{"screen_name":"foo"},{"screen_name":""},"#,
        r#"{"screen_name":3},{"id":4},{"screen_name":"Foo"}]},"#,
        r#""extended_tweet":{"entities":{"user_mentions":[{"screen_name":"hidden"}]}},"#,
        r#""retweeted_status":{"user":{"location":"elsewhere"},"entities":{"user_mentions":[{"screen_name":"inner"}]},"retweet_count":22150}}"#
    ));
    assert_eq!(t.id.as_deref(), Some("801"));
    assert_eq!(t.location.as_deref(), Some("東京"));
    assert_eq!(t.mentions, ["Foo", "foo", "Foo"]);
    assert_eq!(t.weight, 22150);
}

#[test]
fn v1_id_falls_back_to_numeric_id() {
    assert_eq!(
        tweet(r#"{"id":801,"user":{},"timestamp_ms":"1"}"#)
            .id
            .as_deref(),
        Some("801")
    );
}

#[test]
fn v1_wrong_types_are_absent() {
    let t =
        tweet(r#"{"user":{"location":5},"timestamp_ms":"1","entities":[],"retweeted_status":"x"}"#);
    assert_eq!((t.location, t.mentions.len(), t.weight), (None, 0, 1));
    for location in [r#"null"#, r#""   ""#, r#"{"a":1}"#, r#"["x"]"#] {
        let line = format!(r#"{{"user":{{"location":{location}}},"timestamp_ms":"1"}}"#);
        assert_eq!(tweet(&line).location, None, "{location}");
    }
}

#[test]
fn retweet_weights() {
    for (count, weight) in [
        ("0", 1),
        ("-3", 1),
        ("2.5", 1),
        ("\"7\"", 1),
        ("null", 1),
        ("1", 1),
        ("9007199254740993", 9_007_199_254_740_993),
        ("18446744073709551615", u64::MAX),
        ("18446744073709551616", 1),
    ] {
        let line = format!(
            r#"{{"user":{{}},"timestamp_ms":"1","retweeted_status":{{"retweet_count":{count}}}}}"#
        );
        assert_eq!(tweet(&line).weight, weight, "{count}");
    }
}

#[test]
fn escaped_strings_are_decoded() {
    let t = tweet(
        r#"{"user":{"location":"\u0020Par\u00eds\n"},"timestamp_ms":"1","entities":{"user_mentions":[{"screen_name":"a\"b"}]}}"#,
    );
    assert_eq!(t.location.as_deref(), Some("París"));
    assert_eq!(t.mentions, ["a\"b"]);
    // an escaped key is the same key
    assert_eq!(
        tweet(r#"{"us\u0065r":{"location":"x"},"timestamp_ms":"1"}"#)
            .location
            .as_deref(),
        Some("x")
    );
}

const V2: &str = r#"{"data":{"id":"9","author_id":"2","created_at":"2016-12-04T02:07:40.000Z","text":"hi",
 "entities":{"mentions":[{"start":0,"end":4,"username":"Bob"},{"username":""},{"username":"bob"}]},
 "referenced_tweets":[{"type":"quoted","id":"5"},{"type":"retweeted","id":"6"}]},
 "includes":{"users":[{"id":"1","location":"nowhere"},{"id":"2","location":" Paris "}],
  "tweets":[{"id":"5","public_metrics":{"retweet_count":100}},{"id":"6","public_metrics":{"retweet_count":3}}]},
 "matching_rules":[{"id":"1","tag":"t"}]}"#;

#[test]
fn v2_fields() {
    let t = tweet(V2);
    assert_eq!(t.api, Api::V2);
    assert_eq!(t.id.as_deref(), Some("9"));
    assert_eq!(t.event_ms, 1_480_817_260_000);
    assert_eq!(t.location.as_deref(), Some("Paris"));
    assert_eq!(t.mentions, ["Bob", "bob"]);
    assert_eq!(t.weight, 3);
}

#[test]
fn v2_missing_expansions() {
    let no_author = V2.replace(r#""author_id":"2""#, r#""author_id":"3""#);
    assert_eq!(tweet(&no_author).location, None);
    let quoted_only = V2.replace(r#""type":"retweeted""#, r#""type":"replied_to""#);
    assert_eq!(tweet(&quoted_only).weight, 1);
    let no_includes = r#"{"data":{"created_at":"2016-12-04T02:07:40Z","referenced_tweets":[{"type":"retweeted","id":"6"}]}}"#;
    assert_eq!(tweet(no_includes).weight, 1);
}

#[test]
fn mention_field_names_follow_the_api() {
    let v1 = r#"{"user":{},"timestamp_ms":"1","entities":{"user_mentions":[{"username":"x"},{"screen_name":"a","username":null}]}}"#;
    assert_eq!(tweet(v1).mentions, ["a"]);
    let v2 = r#"{"data":{"created_at":"2016-12-04T02:07:40Z","entities":{"mentions":[{"screen_name":"x"},{"username":"b","screen_name":null}]}}}"#;
    assert_eq!(tweet(v2).mentions, ["b"]);
}

#[test]
fn deep_nesting_and_bad_escapes_are_malformed_not_a_crash() {
    let deep = format!(
        r#"{{"user":{{}},"timestamp_ms":"1","x":{}}}"#,
        "[".repeat(200_000)
    );
    assert!(matches!(each(deep.as_bytes()), Message::Malformed(_)));
    for text in [r#""\uZZZZ""#, r#""\ud800""#] {
        let line = format!(r#"{{"user":{{}},"timestamp_ms":"1","text":{text}}}"#);
        assert!(
            matches!(each(line.as_bytes()), Message::Malformed(_)),
            "{text}"
        );
    }
}

#[test]
fn limit_track_counts_only_for_limit_notices() {
    assert_eq!(
        each(br#"{"delete":{},"limit":{"track":5}}"#),
        Message::Notice {
            kind: NoticeKind::Delete,
            undelivered: None
        }
    );
    assert_eq!(
        each(br#"{"limit":{"track":5},"limit":{"track":7}}"#),
        Message::Notice {
            kind: NoticeKind::Limit,
            undelivered: Some(7)
        }
    );
}

#[test]
fn tweets_from_beyond_the_horizon_are_rejected_when_read() {
    // Issue 8: one tweet dated 9999-12-31 made the rest of its partition late.
    let line = br#"{"user":{},"timestamp_ms":"253402300799999"}"#;
    let now = Horizon::now(crate::time::DEFAULT_MAX_FUTURE_MS);
    assert_eq!(classify_read(line, now), Message::Rejected(FUTURE));
    assert!(
        matches!(classify(line), Message::Tweet(_)),
        "only the read-time rule rejects it"
    );
    let soon = format!(
        r#"{{"user":{{}},"timestamp_ms":{}}}"#,
        now.now_ms + 3_599_000
    );
    assert!(matches!(
        classify_read(soon.as_bytes(), now),
        Message::Tweet(_)
    ));
    let later = format!(
        r#"{{"user":{{}},"timestamp_ms":{}}}"#,
        now.now_ms + 3_601_000
    );
    assert_eq!(
        classify_read(later.as_bytes(), now),
        Message::Rejected(FUTURE)
    );
    assert_eq!(classify_read(b"garbage", now), classify(b"garbage"));
}

#[test]
fn minus_zero_is_a_float() {
    // serde_json (the contract's JSON) reads `-0` as a float: a `-0` timestamp is absent and
    // created_at decides, where `0` is 1970.
    let line = r#"{"user":{},"timestamp_ms":-0,"created_at":"Sun Dec 04 02:07:40 +0000 2016"}"#;
    assert_eq!(tweet(line).event_ms, 1_480_817_260_000);
    let zero = r#"{"user":{},"timestamp_ms":0,"created_at":"Sun Dec 04 02:07:40 +0000 2016"}"#;
    assert_eq!(tweet(zero).event_ms, 0);
}

#[test]
fn integers_beyond_64_bits_in_skipped_fields_are_valid_json() {
    for big in [
        "123456789012345678901234567890",
        "-9223372036854775809",
        "18446744073709551616",
    ] {
        let line = format!(r#"{{"user":{{"location":"x","n":{big}}},{TS}}}"#);
        assert_eq!(tweet(&line).location.as_deref(), Some("x"), "{big}");
    }
}

/// Byte edits of the fixtures' tweets (deletions, duplications, JSON's own bytes put in),
/// classified by every backend: they must agree on every one, whatever it turned into.
#[test]
fn backends_agree_on_edited_tweets() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures");
    let mut lines = Vec::new();
    for file in ["tweets-v1.jsonl", "tweets-v2.jsonl", "edge-cases.jsonl"] {
        let text = std::fs::read(format!("{fixtures}/{file}")).expect("fixture");
        lines.extend(
            text.split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .take(20)
                .map(<[u8]>::to_vec),
        );
    }
    assert!(lines.len() >= 10, "fixtures read");
    const BYTES: &[u8] = b"{}[],:\"\\-0123456789.eE+tfnul \t\x00\xff\xc3";
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut classes = std::collections::BTreeMap::<&str, usize>::new();
    for line in &lines {
        for _ in 0..200 {
            let mut edited = line.clone();
            for _ in 0..1 + next(3) {
                let at = next(edited.len());
                match next(3) {
                    0 => drop(edited.remove(at)),
                    1 => edited.insert(at, edited[at]),
                    _ => edited[at] = BYTES[next(BYTES.len())],
                }
            }
            let class = match each(&edited) {
                Message::Malformed(_) => "malformed",
                Message::Tweet(_) => "tweet",
                _ => "other",
            };
            *classes.entry(class).or_default() += 1;
        }
    }
    // The edits reach both sides of validity.
    assert!(
        classes["malformed"] > 100 && classes["tweet"] > 100,
        "{classes:?}"
    );
}
