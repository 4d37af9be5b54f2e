//! Renders a model tweet as a v1.1 `statuses/filter` status, with the fields CONTRACT §2 reads
//! (`timestamp_ms`, `created_at`, `user.location`, `entities.user_mentions`,
//! `retweeted_status.retweet_count`) where real Twitter puts them, and the bulk around them.

use serde::Serialize;

use super::model::{Composer, Ent, EntKind, Kind, MAX_CHARS, Text, Tweet, photo};
use super::world::{self, Mix, Profile};
use super::{v1_time, v1_time_ms};

#[derive(Serialize)]
pub(super) struct Status {
    pub(super) created_at: String,
    pub(super) id: u64,
    pub(super) id_str: String,
    pub(super) text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_text_range: Option<[u32; 2]>,
    source: &'static str,
    truncated: bool,
    in_reply_to_status_id: Option<u64>,
    in_reply_to_status_id_str: Option<String>,
    in_reply_to_user_id: Option<u64>,
    in_reply_to_user_id_str: Option<String>,
    in_reply_to_screen_name: Option<String>,
    pub(super) user: User,
    geo: (),
    coordinates: (),
    place: Option<Place>,
    contributors: (),
    #[serde(skip_serializing_if = "Option::is_none")]
    retweeted_status: Option<Box<Status>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quoted_status_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quoted_status_id_str: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quoted_status: Option<Box<Status>>,
    is_quote_status: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    extended_tweet: Option<Extended>,
    retweet_count: u64,
    favorite_count: u64,
    entities: Entities,
    #[serde(skip_serializing_if = "Option::is_none")]
    extended_entities: Option<ExtendedEntities>,
    favorited: bool,
    retweeted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    possibly_sensitive: Option<bool>,
    filter_level: &'static str,
    lang: &'static str,
    /// Only the top-level status of a stream message carries it; `None` also serves the noise
    /// generator's "tweet without a valid time".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) timestamp_ms: Option<String>,
}

#[derive(Serialize)]
struct Extended {
    full_text: String,
    display_text_range: [u32; 2],
    entities: Entities,
}

#[derive(Serialize)]
struct Entities {
    hashtags: Vec<Hashtag>,
    urls: Vec<Url>,
    user_mentions: Vec<Mention>,
    symbols: [(); 0],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    media: Vec<Media>,
}

#[derive(Serialize)]
struct ExtendedEntities {
    media: Vec<Media>,
}

#[derive(Serialize, Clone)]
struct Media {
    id: u64,
    id_str: String,
    indices: [u32; 2],
    media_url: String,
    media_url_https: String,
    url: String,
    display_url: String,
    expanded_url: String,
    #[serde(rename = "type")]
    kind: &'static str,
    sizes: Sizes,
}

#[derive(Serialize, Clone)]
struct Sizes {
    medium: Size,
    thumb: Size,
    small: Size,
    large: Size,
}

#[derive(Serialize, Clone)]
struct Size {
    w: u32,
    h: u32,
    resize: &'static str,
}

impl Sizes {
    fn new(w: u32, h: u32) -> Self {
        let scaled = |max: u32| {
            let f = (max as f64 / w.max(h) as f64).min(1.0);
            Size {
                w: (w as f64 * f) as u32,
                h: (h as f64 * f) as u32,
                resize: "fit",
            }
        };
        Sizes {
            medium: scaled(1200),
            thumb: Size {
                w: 150,
                h: 150,
                resize: "crop",
            },
            small: scaled(680),
            large: scaled(2048),
        }
    }
}

#[derive(Serialize)]
struct Place {
    id: String,
    url: String,
    place_type: &'static str,
    name: &'static str,
    full_name: &'static str,
    country_code: &'static str,
    country: &'static str,
    bounding_box: BoundingBox,
    attributes: Attributes,
}

#[derive(Serialize)]
struct BoundingBox {
    #[serde(rename = "type")]
    kind: &'static str,
    coordinates: [[[f64; 2]; 4]; 1],
}

#[derive(Serialize)]
struct Attributes {}

/// A few tagged places; only geo-enabled users tag, and few of them do.
const PLACES: &[(&str, &str, &str, &str, f64, f64)] = &[
    (
        "Manhattan",
        "Manhattan, NY",
        "US",
        "United States",
        -73.97,
        40.78,
    ),
    (
        "London",
        "London, England",
        "GB",
        "United Kingdom",
        -0.12,
        51.5,
    ),
    (
        "São Paulo",
        "São Paulo, Brasil",
        "BR",
        "Brasil",
        -46.63,
        -23.55,
    ),
    ("Tokyo", "Tokyo-to, Japan", "JP", "Japan", 139.69, 35.68),
    ("Paris", "Paris, France", "FR", "France", 2.35, 48.85),
    (
        "Los Angeles",
        "Los Angeles, CA",
        "US",
        "United States",
        -118.24,
        34.05,
    ),
    (
        "Jakarta",
        "Jakarta, Indonesia",
        "ID",
        "Indonesia",
        106.84,
        -6.2,
    ),
    ("Madrid", "Madrid, España", "ES", "España", -3.7, 40.41),
];

fn place(tweet_id: u64) -> Option<Place> {
    let mut mix = Mix::new(tweet_id, 8);
    if mix.unit() >= 0.03 {
        return None;
    }
    let &(name, full_name, country_code, country, lon, lat) = mix.pick(PLACES);
    let id = format!("{:016x}", Mix::new(lon.to_bits(), 9).next_u64());
    let (w, s, e, n) = (lon - 0.2, lat - 0.15, lon + 0.2, lat + 0.15);
    Some(Place {
        url: format!("https://api.twitter.com/1.1/geo/id/{id}.json"),
        id,
        place_type: "city",
        name,
        full_name,
        country_code,
        country,
        bounding_box: BoundingBox {
            kind: "Polygon",
            coordinates: [[[w, s], [w, n], [e, n], [e, s]]],
        },
        attributes: Attributes {},
    })
}

fn media(c: &Composer, id: u64, tweet: u64, author: u64, tco: &str, indices: [u32; 2]) -> Media {
    let (file, w, h) = photo(id);
    let code = tco.trim_start_matches("https://t.co/");
    Media {
        id,
        id_str: id.to_string(),
        indices,
        media_url: format!("http://{file}"),
        media_url_https: format!("https://{file}"),
        url: tco.to_string(),
        display_url: format!("pic.twitter.com/{code}"),
        expanded_url: format!(
            "https://twitter.com/{}/status/{tweet}/photo/1",
            c.profile(author).screen_name
        ),
        kind: "photo",
        sizes: Sizes::new(w, h),
    }
}

#[derive(Serialize)]
struct Hashtag {
    text: &'static str,
    indices: [u32; 2],
}

#[derive(Serialize)]
struct Url {
    url: String,
    expanded_url: String,
    display_url: String,
    indices: [u32; 2],
}

#[derive(Serialize)]
struct Mention {
    screen_name: String,
    name: String,
    id: u64,
    id_str: String,
    indices: [u32; 2],
}

#[derive(Serialize)]
pub(super) struct User {
    id: u64,
    id_str: String,
    name: String,
    screen_name: String,
    pub(super) location: Option<&'static str>,
    url: Option<String>,
    description: String,
    protected: bool,
    verified: bool,
    followers_count: u64,
    friends_count: u64,
    listed_count: u64,
    favourites_count: u64,
    statuses_count: u64,
    created_at: String,
    utc_offset: Option<i32>,
    time_zone: Option<&'static str>,
    geo_enabled: bool,
    lang: &'static str,
    contributors_enabled: bool,
    is_translator: bool,
    profile_background_color: &'static str,
    profile_background_image_url: &'static str,
    profile_background_image_url_https: String,
    profile_background_tile: bool,
    profile_link_color: &'static str,
    profile_sidebar_border_color: &'static str,
    profile_sidebar_fill_color: &'static str,
    profile_text_color: &'static str,
    profile_use_background_image: bool,
    profile_image_url: String,
    profile_image_url_https: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile_banner_url: Option<String>,
    default_profile: bool,
    default_profile_image: bool,
    following: (),
    follow_request_sent: (),
    notifications: (),
}

fn user(p: &Profile) -> User {
    let image = format!(
        "pbs.twimg.com/profile_images/{}/{}_normal.jpg",
        p.image_id, p.image_name
    );
    let background = p.background_url();
    User {
        id: p.id,
        id_str: p.id.to_string(),
        location: p.location.as_v1(),
        url: p.url.clone(),
        description: p.description.clone(),
        protected: p.protected,
        verified: p.verified,
        followers_count: p.followers,
        friends_count: p.friends,
        listed_count: p.listed,
        favourites_count: p.favourites,
        statuses_count: p.statuses,
        created_at: v1_time(p.created_ms),
        utc_offset: p.time_zone.map(|(_, o)| o),
        time_zone: p.time_zone.map(|(z, _)| z),
        geo_enabled: p.geo_enabled,
        lang: p.lang,
        contributors_enabled: false,
        is_translator: false,
        profile_background_color: p.colors[0],
        profile_background_image_url: background,
        profile_background_image_url_https: background.replacen("http://", "https://", 1),
        profile_background_tile: p.background % 2 == 1,
        profile_link_color: p.colors[1],
        profile_sidebar_border_color: p.colors[2],
        profile_sidebar_fill_color: p.colors[3],
        profile_text_color: p.colors[4],
        profile_use_background_image: !p.default_profile,
        profile_image_url: format!("http://{image}"),
        profile_image_url_https: format!("https://{image}"),
        profile_banner_url: p
            .banner
            .map(|b| format!("https://pbs.twimg.com/profile_banners/{}/{b}", p.id)),
        default_profile: p.default_profile,
        default_profile_image: p.default_profile_image,
        following: (),
        follow_request_sent: (),
        notifications: (),
        name: p.name.clone(),
        screen_name: p.screen_name.clone(),
    }
}

fn entities<'e>(c: &Composer, ents: impl Iterator<Item = &'e Ent>) -> Entities {
    let mut out = Entities {
        hashtags: Vec::new(),
        urls: Vec::new(),
        user_mentions: Vec::new(),
        symbols: [],
        media: Vec::new(),
    };
    for e in ents {
        let indices = [e.start, e.end];
        match &e.kind {
            EntKind::Mention { user, shown } => {
                let p = c.profile(*user);
                out.user_mentions.push(Mention {
                    screen_name: shown.clone(),
                    name: p.name.clone(),
                    id: p.id,
                    id_str: p.id.to_string(),
                    indices,
                });
            }
            EntKind::Hashtag(tag) => out.hashtags.push(Hashtag { text: tag, indices }),
            EntKind::Url {
                tco,
                expanded,
                display,
            } => out.urls.push(Url {
                url: tco.clone(),
                expanded_url: expanded.clone(),
                display_url: display.clone(),
                indices,
            }),
            EntKind::Media {
                id,
                tweet,
                author,
                tco,
            } => out.media.push(media(c, *id, *tweet, *author, tco, indices)),
        }
    }
    out
}

/// The status as the stream sends it: `top` adds `timestamp_ms`, which nested statuses lack.
pub(super) fn status(c: &Composer, t: &Tweet, top: bool) -> Status {
    let author = c.profile(t.author);
    let (mut text, mut ents, mut extended, mut range) = (
        t.text.body.clone(),
        entities(c, t.text.ents.iter()),
        None,
        None,
    );
    if t.retweeted().is_none() && t.text.chars > MAX_CHARS {
        let (short, cut) = truncate(t);
        range = Some([0, short.chars]);
        extended = Some(Extended {
            full_text: std::mem::replace(&mut text, short.body),
            display_text_range: [0, t.text.chars],
            entities: std::mem::replace(&mut ents, entities(c, short.ents.iter())),
        });
        debug_assert!(cut <= MAX_CHARS);
    }
    let (mut reply_status, mut reply_user) = (None, None);
    let mut retweeted_status = None;
    let mut quoted = None;
    match &t.kind {
        Kind::Original => {}
        Kind::Reply { user, status } => {
            reply_status = Some(*status);
            reply_user = Some(c.profile(*user));
        }
        Kind::Retweet(orig) => retweeted_status = Some(Box::new(status(c, orig, false))),
        Kind::Quote(q) => quoted = Some((q.id, Box::new(status(c, q, false)))),
    }
    Status {
        created_at: v1_time(t.ts_ms),
        id: t.id,
        id_str: t.id.to_string(),
        text,
        display_text_range: range,
        source: t.source,
        truncated: extended.is_some(),
        in_reply_to_status_id: reply_status,
        in_reply_to_status_id_str: reply_status.map(|s| s.to_string()),
        in_reply_to_user_id: reply_user.as_ref().map(|p| p.id),
        in_reply_to_user_id_str: reply_user.as_ref().map(|p| p.id.to_string()),
        in_reply_to_screen_name: reply_user.map(|p| p.screen_name.clone()),
        user: user(&author),
        geo: (),
        coordinates: (),
        place: if top { place(t.id) } else { None },
        contributors: (),
        retweeted_status,
        quoted_status_id: quoted.as_ref().map(|q| q.0),
        quoted_status_id_str: quoted.as_ref().map(|q| q.0.to_string()),
        is_quote_status: quoted.is_some(),
        quoted_status: quoted.map(|q| q.1),
        extended_tweet: extended,
        retweet_count: t.metrics.retweets,
        favorite_count: t.metrics.likes,
        extended_entities: (!ents.media.is_empty()).then(|| ExtendedEntities {
            media: ents.media.clone(),
        }),
        entities: ents,
        favorited: false,
        retweeted: false,
        possibly_sensitive: t.sensitive,
        filter_level: "low",
        lang: t.lang,
        timestamp_ms: top.then(|| v1_time_ms(t.ts_ms)),
    }
}

/// Cuts a long status the way the API did in 2016: at a word boundary, never inside a mention,
/// then "… " and a t.co link to the status. Returns the visible text and the cut position.
fn truncate(t: &Tweet) -> (Text, u32) {
    let last_mention = t.text.mentions().map(|(e, _, _)| e.end).max().unwrap_or(0);
    let mut cut = last_mention;
    for (i, ch) in t.text.body.chars().enumerate() {
        let i = i as u32;
        if i > 113 {
            break;
        }
        if ch == ' ' && i >= last_mention {
            cut = i;
        }
    }
    let mut short = Text {
        body: t.text.body[..t.text.byte_at(cut)].to_string(),
        chars: cut,
        ents: t
            .text
            .ents
            .iter()
            .filter(|e| e.end <= cut)
            .cloned()
            .collect(),
    };
    let mut mix = Mix::new(t.id, 3);
    let tco = format!("https://t.co/{}", world::tco(&mut mix));
    short.body.push_str("… ");
    short.chars += 2;
    let start = short.chars;
    short.body.push_str(&tco);
    short.chars += tco.chars().count() as u32;
    let expanded = format!("https://twitter.com/i/web/status/{}", t.id);
    short.ents.push(Ent {
        start,
        end: short.chars,
        kind: EntKind::Url {
            tco,
            display: super::model::display_url(&expanded),
            expanded,
        },
    });
    (short, cut)
}
