//! Renders a model tweet as an X API v2 filtered-stream envelope (`data`, `includes`,
//! `matching_rules`), with the fields CONTRACT §2 reads: `data.created_at`, `data.author_id` →
//! `includes.users[].location`, `data.entities.mentions`, and `data.referenced_tweets` →
//! `includes.tweets[].public_metrics.retweet_count`.

use serde::Serialize;

use super::model::{Composer, EntKind, Kind, Metrics, Text, Tweet, photo};
use super::v2_time;
use super::world::Mix;

#[derive(Serialize)]
pub(super) struct Envelope {
    pub(super) data: Data,
    includes: Includes,
    matching_rules: Vec<Rule>,
}

#[derive(Serialize)]
pub(super) struct Data {
    id: String,
    text: String,
    author_id: String,
    /// Optional only so that the noise generator can produce a tweet without a valid time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) created_at: Option<String>,
    conversation_id: String,
    edit_history_tweet_ids: [String; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    in_reply_to_user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    referenced_tweets: Option<Vec<Reference>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attachments: Option<Attachments>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    context_annotations: Vec<Annotation>,
    #[serde(skip_serializing_if = "Entities::is_empty")]
    entities: Entities,
    lang: &'static str,
    possibly_sensitive: bool,
    reply_settings: &'static str,
    public_metrics: PublicMetrics,
}

#[derive(Serialize)]
struct Attachments {
    media_keys: Vec<String>,
}

#[derive(Serialize)]
struct Annotation {
    domain: Described,
    entity: Described,
}

#[derive(Serialize)]
struct Described {
    id: &'static str,
    name: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'static str,
}

/// Context annotations as the API attaches them: (domain, entity) pairs with long descriptions,
/// a large share of a real v2 payload.
const ANNOTATIONS: &[[(&str, &str, &str); 2]] = &[
    [
        (
            "46",
            "Business Taxonomy",
            "Categories within Brand Verticals that narrow down the scope of Brands",
        ),
        (
            "1557696940178935808",
            "Gaming Business",
            "Brands, companies, advertisers and every non-person handle with the profit intent related to softwares, apps, consoles, tournaments, clubs, and gaming organizations",
        ),
    ],
    [
        ("47", "Brand", "Brands and Companies"),
        ("10045225402", "Twitter", ""),
    ],
    [
        (
            "65",
            "Interests and Hobbies Vertical",
            "Top level interests and hobbies groupings, like Food or Travel",
        ),
        ("847544972781826048", "Music", "Music"),
    ],
    [
        (
            "66",
            "Interests and Hobbies Category",
            "A grouping of interests and hobbies entities, like Novelty Food or Destinations",
        ),
        ("847888632711061504", "Personal finance", "Personal finance"),
    ],
    [
        ("11", "Sport", "Types of sports, like soccer and basketball"),
        ("847901791693619200", "Soccer", "Soccer"),
    ],
    [
        (
            "12",
            "Sports Team",
            "A sports team organization, like FC Barcelona or the Chicago Bulls",
        ),
        ("10026802787", "Real Madrid CF", ""),
    ],
    [
        ("71", "Video Game", "A video game like Overwatch"),
        (
            "1055110213993828352",
            "Counter-Strike: Global Offensive",
            "",
        ),
    ],
    [
        (
            "131",
            "Unified Twitter Taxonomy",
            "A taxonomy view into the Semantic Core knowledge graph",
        ),
        ("1220701888179359745", "Entertainment", "Entertainment"),
    ],
    [
        (
            "54",
            "Musician",
            "A musician in the world, like Adele or Bob Dylan",
        ),
        ("1070057264215965696", "BTS", "South Korean boy band"),
    ],
    [
        ("3", "TV Shows", "Television shows from around the world"),
        ("10040395078", "The Voice", "The Voice"),
    ],
];

fn annotations(id: u64) -> Vec<Annotation> {
    let mut mix = Mix::new(id, 7);
    let n = [0, 1, 1, 2, 2, 3, 4][mix.below(7) as usize];
    (0..n)
        .map(|_| {
            let [(did, dname, ddesc), (eid, ename, edesc)] = *mix.pick(ANNOTATIONS);
            Annotation {
                domain: Described {
                    id: did,
                    name: dname,
                    description: ddesc,
                },
                entity: Described {
                    id: eid,
                    name: ename,
                    description: edesc,
                },
            }
        })
        .collect()
}

fn attachments(text: &Text) -> Option<Attachments> {
    let keys: Vec<String> = text
        .ents
        .iter()
        .filter_map(|e| match e.kind {
            EntKind::Media { id, .. } => Some(format!("3_{id}")),
            _ => None,
        })
        .collect();
    (!keys.is_empty()).then_some(Attachments { media_keys: keys })
}

#[derive(Serialize)]
struct Reference {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
}

#[derive(Serialize, Default)]
struct Entities {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    mentions: Vec<Mention>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hashtags: Vec<Hashtag>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    urls: Vec<Url>,
}

impl Entities {
    fn is_empty(&self) -> bool {
        self.mentions.is_empty() && self.hashtags.is_empty() && self.urls.is_empty()
    }
}

#[derive(Serialize)]
struct Mention {
    start: u32,
    end: u32,
    username: String,
    id: String,
}

#[derive(Serialize)]
struct Hashtag {
    start: u32,
    end: u32,
    tag: &'static str,
}

#[derive(Serialize)]
struct Url {
    start: u32,
    end: u32,
    url: String,
    expanded_url: String,
    display_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_key: Option<String>,
}

#[derive(Serialize)]
struct PublicMetrics {
    retweet_count: u64,
    reply_count: u64,
    like_count: u64,
    quote_count: u64,
    bookmark_count: u64,
    impression_count: u64,
}

impl PublicMetrics {
    fn new(m: Metrics, id: u64) -> Self {
        let mut mix = Mix::new(id, 4);
        PublicMetrics {
            retweet_count: m.retweets,
            reply_count: m.replies,
            like_count: m.likes,
            quote_count: m.quotes,
            bookmark_count: m.likes / 20,
            impression_count: if m == Metrics::default() {
                0
            } else {
                (m.retweets + m.likes) * (20 + mix.below(200))
            },
        }
    }
}

#[derive(Serialize)]
struct Includes {
    users: Vec<User>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tweets: Vec<IncludedTweet>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    media: Vec<IncludedMedia>,
}

#[derive(Serialize)]
struct IncludedMedia {
    media_key: String,
    #[serde(rename = "type")]
    kind: &'static str,
    url: String,
    width: u32,
    height: u32,
}

#[derive(Serialize)]
struct User {
    id: String,
    name: String,
    username: String,
    created_at: String,
    description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<&'static str>,
    profile_image_url: String,
    protected: bool,
    verified: bool,
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    entities: Option<UserEntities>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pinned_tweet_id: Option<String>,
    public_metrics: UserMetrics,
}

#[derive(Serialize)]
struct UserEntities {
    url: UserUrls,
}

#[derive(Serialize)]
struct UserUrls {
    urls: [Url; 1],
}

#[derive(Serialize)]
struct UserMetrics {
    followers_count: u64,
    following_count: u64,
    tweet_count: u64,
    listed_count: u64,
}

#[derive(Serialize)]
struct IncludedTweet {
    id: String,
    text: String,
    author_id: String,
    created_at: String,
    conversation_id: String,
    edit_history_tweet_ids: [String; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    attachments: Option<Attachments>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    context_annotations: Vec<Annotation>,
    #[serde(skip_serializing_if = "Entities::is_empty")]
    entities: Entities,
    lang: &'static str,
    possibly_sensitive: bool,
    public_metrics: PublicMetrics,
}

#[derive(Serialize)]
struct Rule {
    id: String,
    tag: &'static str,
}

const RULES: &[(&str, &str)] = &[
    ("1586932489301372928", "tweets with mentions"),
    ("1586932489301372929", "retweets of popular accounts"),
    ("1586932489301372930", "sports"),
    ("1586932489301372931", "games and giveaways"),
    ("1586932489301372932", "music"),
];

fn entities(c: &Composer, text: &Text) -> Entities {
    let mut out = Entities::default();
    for e in &text.ents {
        let (start, end) = (e.start, e.end);
        match &e.kind {
            EntKind::Mention { user, shown } => out.mentions.push(Mention {
                start,
                end,
                username: shown.clone(),
                id: c.profile(*user).id.to_string(),
            }),
            EntKind::Hashtag(tag) => out.hashtags.push(Hashtag { start, end, tag }),
            EntKind::Url {
                tco,
                expanded,
                display,
            } => out.urls.push(Url {
                start,
                end,
                url: tco.clone(),
                expanded_url: expanded.clone(),
                display_url: display.clone(),
                media_key: None,
            }),
            EntKind::Media {
                id,
                tweet,
                author,
                tco,
            } => out.urls.push(Url {
                start,
                end,
                url: tco.clone(),
                expanded_url: format!(
                    "https://twitter.com/{}/status/{tweet}/photo/1",
                    c.profile(*author).screen_name
                ),
                display_url: format!(
                    "pic.twitter.com/{}",
                    tco.trim_start_matches("https://t.co/")
                ),
                media_key: Some(format!("3_{id}")),
            }),
        }
    }
    out
}

fn user(c: &Composer, idx: u64) -> User {
    let p = c.profile(idx);
    User {
        id: p.id.to_string(),
        created_at: v2_time(p.created_ms),
        description: p.description.clone(),
        location: p.location.as_v2(),
        profile_image_url: format!(
            "https://pbs.twimg.com/profile_images/{}/{}_normal.jpg",
            p.image_id, p.image_name
        ),
        protected: p.protected,
        verified: p.verified,
        entities: p.url.as_ref().map(|u| UserEntities {
            url: UserUrls {
                urls: [Url {
                    start: 0,
                    end: 23,
                    url: u.clone(),
                    expanded_url: format!("https://{}.example.com", p.screen_name.to_lowercase()),
                    display_url: format!("{}.example.com", p.screen_name.to_lowercase()),
                    media_key: None,
                }],
            },
        }),
        pinned_tweet_id: (Mix::new(p.id, 11).unit() < 0.3).then(|| {
            (p.id.wrapping_mul(31) % 800_000_000_000_000_000 + 100_000_000_000_000_000).to_string()
        }),
        url: p.url.clone().unwrap_or_default(),
        public_metrics: UserMetrics {
            followers_count: p.followers,
            following_count: p.friends,
            tweet_count: p.statuses,
            listed_count: p.listed,
        },
        name: p.name.clone(),
        username: p.screen_name.clone(),
    }
}

fn included(c: &Composer, t: &Tweet) -> IncludedTweet {
    let id = t.id.to_string();
    IncludedTweet {
        text: t.text.body.clone(),
        author_id: c.profile(t.author).id.to_string(),
        created_at: v2_time(t.ts_ms),
        conversation_id: id.clone(),
        edit_history_tweet_ids: [id.clone()],
        attachments: attachments(&t.text),
        context_annotations: annotations(t.id),
        entities: entities(c, &t.text),
        lang: t.lang,
        possibly_sensitive: t.sensitive.unwrap_or(false),
        public_metrics: PublicMetrics::new(t.metrics, t.id),
        id,
    }
}

/// Photos of the status and of the status it retweets or quotes, once each.
fn media(t: &Tweet) -> Vec<IncludedMedia> {
    let mut ids = Vec::new();
    let nested = match &t.kind {
        Kind::Retweet(o) | Kind::Quote(o) => Some(&o.text),
        _ => None,
    };
    for text in std::iter::once(&t.text).chain(nested) {
        for e in &text.ents {
            if let EntKind::Media { id, .. } = e.kind
                && !ids.contains(&id)
            {
                ids.push(id);
            }
        }
    }
    ids.into_iter()
        .map(|id| {
            let (file, width, height) = photo(id);
            IncludedMedia {
                media_key: format!("3_{id}"),
                kind: "photo",
                url: format!("https://{file}"),
                width,
                height,
            }
        })
        .collect()
}

pub(super) fn envelope(c: &Composer, t: &Tweet) -> Envelope {
    let id = t.id.to_string();
    let mut users = vec![t.author];
    let mut add_user = |u: u64| {
        if !users.contains(&u) {
            users.push(u);
        }
    };
    for (_, u, _) in t.text.mentions() {
        add_user(u);
    }
    let mut tweets = Vec::new();
    let mut conversation_id = id.clone();
    let mut in_reply_to_user_id = None;
    let references = match &t.kind {
        Kind::Original => None,
        Kind::Reply { user, status } => {
            conversation_id = status.to_string();
            in_reply_to_user_id = Some(c.profile(*user).id.to_string());
            Some(vec![Reference {
                kind: "replied_to",
                id: status.to_string(),
            }])
        }
        Kind::Retweet(orig) | Kind::Quote(orig) => {
            add_user(orig.author);
            tweets.push(included(c, orig));
            let kind = if matches!(t.kind, Kind::Retweet(_)) {
                "retweeted"
            } else {
                "quoted"
            };
            Some(vec![Reference {
                kind,
                id: orig.id.to_string(),
            }])
        }
    };
    let mut mix = Mix::new(t.id, 5);
    let mut matching_rules = Vec::with_capacity(2);
    for (i, &(rule_id, tag)) in RULES.iter().enumerate() {
        if mix.below(RULES.len() as u64) == 0 || (matching_rules.is_empty() && i == RULES.len() - 1)
        {
            matching_rules.push(Rule {
                id: rule_id.to_string(),
                tag,
            });
        }
    }
    Envelope {
        data: Data {
            text: t.text.body.clone(),
            author_id: c.profile(t.author).id.to_string(),
            created_at: Some(v2_time(t.ts_ms)),
            conversation_id,
            edit_history_tweet_ids: [id.clone()],
            in_reply_to_user_id,
            referenced_tweets: references,
            attachments: attachments(&t.text),
            context_annotations: annotations(t.id),
            entities: entities(c, &t.text),
            lang: t.lang,
            possibly_sensitive: t.sensitive.unwrap_or(false),
            reply_settings: "everyone",
            public_metrics: PublicMetrics::new(t.metrics, t.id),
            id,
        },
        includes: Includes {
            users: users.into_iter().map(|u| user(c, u)).collect(),
            media: media(t),
            tweets,
        },
        matching_rules,
    }
}
