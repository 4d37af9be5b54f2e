//! The wire shapes of v1.1 statuses, v2 envelopes and notices, reduced to the fields CONTRACT
//! section 2 reads. Every other field is skipped without building anything.

use std::borrow::Cow;

use serde::de::MapAccess;

use crate::lenient::{Fields, Int, IntOrStr, Obj, Objects, Str, skip};
use crate::message::NoticeKind;

/// A top-level message object; both API versions and the notices share one pass over it.
#[derive(Default, Debug)]
pub(crate) struct Top<'a> {
    // v1.1
    pub user: Option<V1User<'a>>,
    pub timestamp_ms: IntOrStr<'a>,
    pub created_at: Option<Cow<'a, str>>,
    pub entities: Option<V1Entities<'a>>,
    pub retweeted_status: Option<V1Retweeted>,
    pub id_str: Option<Cow<'a, str>>,
    pub id: IntOrStr<'a>,
    // v2
    pub data: Option<V2Data<'a>>,
    pub includes: Option<V2Includes<'a>>,
    // notices: the first kind present in contract order, and `limit.track`
    pub notice: Option<NoticeKind>,
    pub limit_track: Option<u64>,
}

impl<'de> Fields<'de> for Top<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "user" => self.user = map.next_value::<Obj<V1User>>()?.0,
            "timestamp_ms" => self.timestamp_ms = map.next_value()?,
            "created_at" => self.created_at = map.next_value::<Str>()?.0,
            "entities" => self.entities = map.next_value::<Obj<V1Entities>>()?.0,
            "retweeted_status" => self.retweeted_status = map.next_value::<Obj<V1Retweeted>>()?.0,
            "id_str" => self.id_str = map.next_value::<Str>()?.0,
            "id" => self.id = map.next_value()?,
            "data" => self.data = map.next_value::<Obj<V2Data>>()?.0,
            "includes" => self.includes = map.next_value::<Obj<V2Includes>>()?.0,
            "limit" => {
                self.note(NoticeKind::Limit);
                // The last `limit` key wins, as with every duplicated key.
                self.limit_track = match map.next_value::<Obj<Limit>>()?.0 {
                    Some(Limit {
                        track: Int::Unsigned(track),
                    }) => Some(track),
                    _ => None,
                };
            }
            other => {
                if let Some(kind) = NoticeKind::from_key(other) {
                    self.note(kind);
                }
                skip(map)?;
            }
        }
        Ok(())
    }
}

impl Top<'_> {
    fn note(&mut self, kind: NoticeKind) {
        self.notice = Some(self.notice.map_or(kind, |seen| seen.min(kind)));
    }
}

#[derive(Default, Debug)]
pub(crate) struct Limit {
    pub track: Int,
}

impl<'de> Fields<'de> for Limit {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "track" => self.track = map.next_value()?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

#[derive(Default, Debug)]
pub(crate) struct V1User<'a> {
    pub location: Option<Cow<'a, str>>,
}

impl<'de> Fields<'de> for V1User<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "location" => self.location = map.next_value::<Str>()?.0,
            _ => skip(map)?,
        }
        Ok(())
    }
}

#[derive(Default, Debug)]
pub(crate) struct V1Entities<'a> {
    pub user_mentions: Vec<Named<'a, false>>,
}

impl<'de> Fields<'de> for V1Entities<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "user_mentions" => self.user_mentions = map.next_value::<Objects<Named<false>>>()?.0,
            _ => skip(map)?,
        }
        Ok(())
    }
}

/// A mention: `screen_name` in v1.1 (`V2 = false`), `username` in v2.
#[derive(Default, Debug)]
pub(crate) struct Named<'a, const V2: bool> {
    pub name: Option<Cow<'a, str>>,
}

impl<'de, const V2: bool> Fields<'de> for Named<'de, V2> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        if key == if V2 { "username" } else { "screen_name" } {
            self.name = map.next_value::<Str>()?.0;
        } else {
            skip(map)?;
        }
        Ok(())
    }
}

/// Of the retweeted status only its retweet count matters; the rest (often most of the bytes)
/// is skipped.
#[derive(Default, Debug)]
pub(crate) struct V1Retweeted {
    pub retweet_count: Int,
}

impl<'de> Fields<'de> for V1Retweeted {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "retweet_count" => self.retweet_count = map.next_value()?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

#[derive(Default, Debug)]
pub(crate) struct V2Data<'a> {
    pub id: Option<Cow<'a, str>>,
    pub author_id: Option<Cow<'a, str>>,
    pub created_at: Option<Cow<'a, str>>,
    pub mentions: Vec<Named<'a, true>>,
    pub referenced_tweets: Vec<V2Reference<'a>>,
}

impl<'de> Fields<'de> for V2Data<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "id" => self.id = map.next_value::<Str>()?.0,
            "author_id" => self.author_id = map.next_value::<Str>()?.0,
            "created_at" => self.created_at = map.next_value::<Str>()?.0,
            "entities" => {
                self.mentions = map
                    .next_value::<Obj<V2Entities>>()?
                    .0
                    .map(|e| e.mentions)
                    .unwrap_or_default()
            }
            "referenced_tweets" => {
                self.referenced_tweets = map.next_value::<Objects<V2Reference>>()?.0
            }
            _ => skip(map)?,
        }
        Ok(())
    }
}

#[derive(Default, Debug)]
pub(crate) struct V2Entities<'a> {
    pub mentions: Vec<Named<'a, true>>,
}

impl<'de> Fields<'de> for V2Entities<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "mentions" => self.mentions = map.next_value::<Objects<Named<true>>>()?.0,
            _ => skip(map)?,
        }
        Ok(())
    }
}

#[derive(Default, Debug)]
pub(crate) struct V2Reference<'a> {
    pub kind: Option<Cow<'a, str>>,
    pub id: Option<Cow<'a, str>>,
}

impl<'de> Fields<'de> for V2Reference<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "type" => self.kind = map.next_value::<Str>()?.0,
            "id" => self.id = map.next_value::<Str>()?.0,
            _ => skip(map)?,
        }
        Ok(())
    }
}

#[derive(Default, Debug)]
pub(crate) struct V2Includes<'a> {
    pub users: Vec<V2User<'a>>,
    pub tweets: Vec<V2Included<'a>>,
}

impl<'de> Fields<'de> for V2Includes<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "users" => self.users = map.next_value::<Objects<V2User>>()?.0,
            "tweets" => self.tweets = map.next_value::<Objects<V2Included>>()?.0,
            _ => skip(map)?,
        }
        Ok(())
    }
}

#[derive(Default, Debug)]
pub(crate) struct V2User<'a> {
    pub id: Option<Cow<'a, str>>,
    pub location: Option<Cow<'a, str>>,
}

impl<'de> Fields<'de> for V2User<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "id" => self.id = map.next_value::<Str>()?.0,
            "location" => self.location = map.next_value::<Str>()?.0,
            _ => skip(map)?,
        }
        Ok(())
    }
}

/// An expanded referenced tweet: its id and `public_metrics.retweet_count`.
#[derive(Default, Debug)]
pub(crate) struct V2Included<'a> {
    pub id: Option<Cow<'a, str>>,
    pub retweet_count: Int,
}

impl<'de> Fields<'de> for V2Included<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "id" => self.id = map.next_value::<Str>()?.0,
            "public_metrics" => {
                self.retweet_count = map
                    .next_value::<Obj<V1Retweeted>>()?
                    .0
                    .map(|m| m.retweet_count)
                    .unwrap_or_default()
            }
            _ => skip(map)?,
        }
        Ok(())
    }
}
