//! The classes of CONTRACT section 1 and the tweet fields of section 2, borrowed from the input.

use std::borrow::Cow;

/// Which wire format a tweet arrived in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Api {
    /// v1.1 status (`statuses/filter`, archives): an object whose `user` is an object.
    V1,
    /// X API v2 filtered-stream envelope: `{"data": {...}, "includes": {...}}`.
    V2,
}

/// The kinds of stream notice, in the order the contract lists them; when a message carries several
/// notice keys the first in this order names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NoticeKind {
    Delete,
    ScrubGeo,
    Limit,
    StatusWithheld,
    UserWithheld,
    Disconnect,
    Warning,
    Friends,
    FriendsStr,
    Event,
    Control,
    ForUser,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 12] = [
        NoticeKind::Delete,
        NoticeKind::ScrubGeo,
        NoticeKind::Limit,
        NoticeKind::StatusWithheld,
        NoticeKind::UserWithheld,
        NoticeKind::Disconnect,
        NoticeKind::Warning,
        NoticeKind::Friends,
        NoticeKind::FriendsStr,
        NoticeKind::Event,
        NoticeKind::Control,
        NoticeKind::ForUser,
    ];

    /// The top-level JSON key that marks this notice.
    pub fn key(self) -> &'static str {
        match self {
            NoticeKind::Delete => "delete",
            NoticeKind::ScrubGeo => "scrub_geo",
            NoticeKind::Limit => "limit",
            NoticeKind::StatusWithheld => "status_withheld",
            NoticeKind::UserWithheld => "user_withheld",
            NoticeKind::Disconnect => "disconnect",
            NoticeKind::Warning => "warning",
            NoticeKind::Friends => "friends",
            NoticeKind::FriendsStr => "friends_str",
            NoticeKind::Event => "event",
            NoticeKind::Control => "control",
            NoticeKind::ForUser => "for_user",
        }
    }

    pub fn from_key(key: &str) -> Option<NoticeKind> {
        NoticeKind::ALL.into_iter().find(|k| k.key() == key)
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// One message, classified. Strings borrow from the input unless JSON escapes forced a copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// Empty or only spaces/tabs: stream keep-alives.
    Blank,
    /// Not UTF-8, not JSON, or JSON that is not an object. The reason is for the dead-letter record.
    Malformed(String),
    Tweet(Tweet<'a>),
    /// `undelivered` is `limit.track`: how many tweets the API says it did not deliver.
    Notice {
        kind: NoticeKind,
        undelivered: Option<u64>,
    },
    /// An object that is neither a tweet nor a notice, or a tweet without a valid event time.
    Rejected(&'static str),
}

/// The fields of CONTRACT section 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tweet<'a> {
    pub api: Api,
    /// `id_str`, else `id` (v1.1); `data.id` (v2). The Kafka record key.
    pub id: Option<Cow<'a, str>>,
    /// Milliseconds since the Unix epoch; never before 1970 (such tweets are rejected).
    pub event_ms: u64,
    /// Trimmed, non-empty.
    pub location: Option<Cow<'a, str>>,
    /// Screen names without the `@`, in order, duplicates kept.
    pub mentions: Vec<Cow<'a, str>>,
    /// Retweet weight of each mention: the retweeted tweet's retweet count, or 1.
    pub weight: u64,
}
