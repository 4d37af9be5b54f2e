//! A format-neutral synthetic tweet, rendered later as v1.1 or v2 JSON.
//!
//! Drawing every random choice here, once, and rendering with pure functions is what makes the v1.1
//! and v2 outputs of one seed describe the same tweets: same times, authors, locations, mentions
//! and retweet weights (CONTRACT §2), hence the same windows.

use std::cell::RefCell;
use std::rc::Rc;

use rand::Rng;
use rand_distr::{Distribution, LogNormal, Pareto, Poisson};

use super::KeyShape;
use super::vocabulary;
use super::world::{self, Mix, Profile, World, Zipf};

/// Twitter's limit in 2016; longer originals are sent truncated with an `extended_tweet` in v1.1.
pub(super) const MAX_CHARS: u32 = 140;

#[derive(Clone, Debug)]
pub(super) enum EntKind {
    /// `shown` is the name as written, which may be a case variant of the screen name.
    Mention {
        user: u64,
        shown: String,
    },
    Hashtag(&'static str),
    Url {
        tco: String,
        expanded: String,
        display: String,
    },
    /// A photo of status `tweet` by user `author`; its details derive from `id`.
    Media {
        id: u64,
        tweet: u64,
        author: u64,
        tco: String,
    },
}

/// An entity of a text, with code-point offsets as both APIs use.
#[derive(Clone, Debug)]
pub(super) struct Ent {
    pub(super) start: u32,
    pub(super) end: u32,
    pub(super) kind: EntKind,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Text {
    pub(super) body: String,
    pub(super) chars: u32,
    pub(super) ents: Vec<Ent>,
}

impl Text {
    fn sep(&mut self) {
        if !self.body.is_empty() {
            self.body.push(' ');
            self.chars += 1;
        }
    }

    fn push_raw(&mut self, s: &str) {
        self.body.push_str(s);
        self.chars += s.chars().count() as u32;
    }

    pub(super) fn word(&mut self, w: &str) {
        self.sep();
        self.push_raw(w);
    }

    fn entity(&mut self, shown: &str, kind: EntKind) {
        self.sep();
        let start = self.chars;
        self.push_raw(shown);
        self.ents.push(Ent {
            start,
            end: self.chars,
            kind,
        });
    }

    pub(super) fn mention(&mut self, user: u64, shown: String) {
        self.entity(&format!("@{shown}"), EntKind::Mention { user, shown });
    }

    fn hashtag(&mut self, tag: &'static str) {
        self.entity(&format!("#{tag}"), EntKind::Hashtag(tag));
    }

    fn url(&mut self, tco: String, expanded: String) {
        let shown = format!("https://t.co/{tco}");
        let display = display_url(&expanded);
        self.entity(
            &shown,
            EntKind::Url {
                tco: shown.clone(),
                expanded,
                display,
            },
        );
    }

    fn media(&mut self, id: u64, tweet: u64, author: u64, code: String) {
        let tco = format!("https://t.co/{code}");
        self.entity(
            &tco.clone(),
            EntKind::Media {
                id,
                tweet,
                author,
                tco,
            },
        );
    }

    /// The first `n` code points as a byte offset into `body`.
    pub(super) fn byte_at(&self, n: u32) -> usize {
        self.body
            .char_indices()
            .nth(n as usize)
            .map_or(self.body.len(), |(i, _)| i)
    }

    /// The text cut to `max` code points ending in "…", keeping only entities wholly inside,
    /// as the API does for the text of retweets.
    pub(super) fn cut(&self, max: u32) -> Text {
        if self.chars <= max {
            return self.clone();
        }
        let keep = max - 1;
        let mut body = self.body[..self.byte_at(keep)].to_string();
        body.push('…');
        Text {
            body,
            chars: max,
            ents: self
                .ents
                .iter()
                .filter(|e| e.end <= keep)
                .cloned()
                .collect(),
        }
    }

    pub(super) fn mentions(&self) -> impl Iterator<Item = (&Ent, u64, &str)> {
        self.ents.iter().filter_map(|e| match &e.kind {
            EntKind::Mention { user, shown } => Some((e, *user, shown.as_str())),
            _ => None,
        })
    }
}

pub(super) fn display_url(expanded: &str) -> String {
    let bare = expanded
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let mut out: String = bare.chars().take(26).collect();
    if bare.chars().count() > 26 {
        out.push('…');
    }
    out
}

/// A photo's file (host and path, no scheme) and size, derived from its id.
pub(super) fn photo(id: u64) -> (String, u32, u32) {
    let mut mix = Mix::new(id, 10);
    let file = format!(
        "pbs.twimg.com/media/{}{}.jpg",
        world::tco(&mut mix),
        mix.below(100_000)
    );
    let (w, h) = *mix.pick(&[
        (1200, 675),
        (1080, 1080),
        (750, 1334),
        (2048, 1536),
        (640, 480),
    ]);
    (file, w, h)
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Metrics {
    pub(super) retweets: u64,
    pub(super) likes: u64,
    pub(super) replies: u64,
    pub(super) quotes: u64,
}

#[derive(Debug)]
pub(super) enum Kind {
    Original,
    Reply { user: u64, status: u64 },
    Retweet(Box<Tweet>),
    Quote(Box<Tweet>),
}

#[derive(Debug)]
pub(super) struct Tweet {
    pub(super) id: u64,
    pub(super) ts_ms: u64,
    pub(super) author: u64,
    /// For a retweet, the "RT @name: …" text as the API sends it; otherwise the full text.
    pub(super) text: Text,
    pub(super) kind: Kind,
    pub(super) lang: &'static str,
    pub(super) source: &'static str,
    pub(super) metrics: Metrics,
    pub(super) sensitive: Option<bool>,
}

impl Tweet {
    pub(super) fn retweeted(&self) -> Option<&Tweet> {
        match &self.kind {
            Kind::Retweet(t) => Some(t),
            _ => None,
        }
    }
}

/// A snowflake id as Twitter mints them: milliseconds since its epoch, then worker and sequence.
pub(super) fn snowflake(ts_ms: u64, rng: &mut impl Rng) -> u64 {
    (ts_ms.saturating_sub(world::TWEPOCH_MS) << 22) | rng.random_range(0..1u64 << 22)
}

/// Draws tweets; owns the distributions so they are built once.
pub(super) struct Composer {
    world: &'static World,
    retweets_body: LogNormal<f64>,
    retweets_tail: Pareto<f64>,
    age: LogNormal<f64>,
    profiles: RefCell<Vec<ProfileSlot>>,
    /// The key shape's laws, when it is not the default one (the world's).
    mention_law: Option<Zipf>,
    place_law: Option<Zipf>,
    mentions_per_original: Option<Poisson<f64>>,
}

const PROFILE_CACHE: usize = 1 << 14;
type ProfileSlot = Option<(u64, Rc<Profile>)>;

impl Composer {
    pub(super) fn new(keys: &KeyShape) -> Self {
        let default = KeyShape::default();
        Composer {
            mention_law: (keys.mention_accounts, keys.mention_zipf)
                .ne(&(default.mention_accounts, default.mention_zipf))
                .then(|| {
                    Zipf::new(
                        keys.mention_accounts.clamp(1, world::USERS as usize),
                        keys.mention_zipf,
                    )
                }),
            place_law: (keys.places, keys.location_zipf)
                .ne(&(default.places, default.location_zipf))
                .then(|| Zipf::new(keys.places.max(1), keys.location_zipf)),
            mentions_per_original: keys
                .mentions_per_original
                .map(|mean| Poisson::new(mean.max(1e-9)).expect("a positive mean")),
            world: World::get(),
            // Median ~12 retweets, long body up to tens of thousands...
            retweets_body: LogNormal::new(2.5, 2.2).expect("valid log-normal parameters"),
            // ...and a Pareto tail for the viral few, up to millions.
            retweets_tail: Pareto::new(1000.0, 0.8).expect("valid Pareto parameters"),
            // How long ago a retweeted or quoted status was posted: minutes to days.
            age: LogNormal::new(8.0, 2.0).expect("valid log-normal parameters"),
            profiles: RefCell::new(vec![None; PROFILE_CACHE]),
        }
    }

    /// The profile of `user`, from a small direct-mapped cache: popular accounts recur in
    /// almost every tweet, and a tweet names its author several times while rendering.
    pub(super) fn profile(&self, user: u64) -> Rc<Profile> {
        let slot = (user % PROFILE_CACHE as u64) as usize;
        let mut cache = self.profiles.borrow_mut();
        match &cache[slot] {
            Some((idx, p)) if *idx == user => p.clone(),
            _ => {
                let cities = self.place_law.as_ref().unwrap_or(self.world.cities());
                let p = Rc::new(self.world.profile(user, cities));
                cache[slot] = Some((user, p.clone()));
                p
            }
        }
    }

    fn famous(&self, rng: &mut impl Rng) -> u64 {
        let law = self.mention_law.as_ref().unwrap_or(&self.world.famous);
        law.rank(rng.random()) as u64
    }

    fn retweet_count(&self, rng: &mut impl Rng) -> u64 {
        let r = rng.random::<f64>();
        let n = if r < 0.01 {
            0.0
        } else if r < 0.05 {
            self.retweets_tail.sample(rng)
        } else {
            self.retweets_body.sample(rng)
        };
        (n as u64).min(9_999_999)
    }

    /// A status posted at `ts_ms` by someone in the stream.
    pub(super) fn tweet(&self, ts_ms: u64, rng: &mut impl Rng) -> Tweet {
        let author = if rng.random_bool(0.15) {
            self.famous(rng)
        } else {
            rng.random_range(world::FAMOUS as u64..world::USERS)
        };
        let r = rng.random::<f64>();
        let id = snowflake(ts_ms, rng);
        let source = pick_weighted(vocabulary::SOURCES, rng);
        if r < 0.30 {
            let orig_ts = ts_ms.saturating_sub(self.age.sample(rng) as u64 * 1000 + 1000);
            let orig_author = self.famous(rng);
            let mut orig = self.original(snowflake(orig_ts, rng), orig_ts, orig_author, 3, rng);
            orig.metrics.retweets = self.retweet_count(rng);
            let rt = orig.metrics.retweets as f64;
            orig.metrics.likes = (rt * rng.random_range(0.3..3.0)) as u64;
            orig.metrics.replies = (rt * rng.random_range(0.0..0.1)) as u64;
            orig.metrics.quotes = (rt * rng.random_range(0.0..0.05)) as u64;
            let mut text = Text::default();
            text.word("RT");
            let shown = self.profile(orig_author).screen_name.clone();
            text.entity(
                &format!("@{shown}:"),
                EntKind::Mention {
                    user: orig_author,
                    shown,
                },
            );
            // The mention entity covers "@name", not the colon.
            if let Some(e) = text.ents.last_mut() {
                e.end -= 1;
            }
            let prefix = text.chars + 1;
            text.word(&orig.text.body);
            for e in &orig.text.ents {
                text.ents.push(Ent {
                    start: e.start + prefix,
                    end: e.end + prefix,
                    kind: e.kind.clone(),
                });
            }
            Tweet {
                id,
                ts_ms,
                author,
                text: text.cut(MAX_CHARS),
                lang: orig.lang,
                kind: Kind::Retweet(Box::new(orig)),
                source,
                metrics: Metrics::default(),
                sensitive: Some(false),
            }
        } else {
            let mut t = self.original(id, ts_ms, author, 4, rng);
            t.source = source;
            if r < 0.36 {
                let orig_ts = ts_ms.saturating_sub(self.age.sample(rng) as u64 * 1000 + 1000);
                let quoted_author = self.famous(rng);
                let mut quoted =
                    self.original(snowflake(orig_ts, rng), orig_ts, quoted_author, 2, rng);
                quoted.metrics.retweets = self.retweet_count(rng);
                quoted.metrics.likes = quoted.metrics.retweets * 2;
                let sn = &self.profile(quoted_author).screen_name;
                let mut mix = Mix::new(id, 2);
                t.text.url(
                    world::tco(&mut mix),
                    format!("https://twitter.com/{sn}/status/{}", quoted.id),
                );
                t.kind = Kind::Quote(Box::new(quoted));
            }
            t
        }
    }

    /// An original status (or reply) with up to `max_mentions` mentions, all placed early in the
    /// text so they stay visible when a long status is truncated.
    fn original(
        &self,
        id: u64,
        ts_ms: u64,
        author: u64,
        max_mentions: u32,
        rng: &mut impl Rng,
    ) -> Tweet {
        let (lang, words): (&str, &[&str]) = match rng.random_range(0..100) {
            0..60 => ("en", vocabulary::WORDS_EN),
            60..72 => ("es", vocabulary::WORDS_ES),
            72..80 => ("pt", vocabulary::WORDS_PT),
            80..90 => ("ja", vocabulary::WORDS_JA),
            90..95 => ("fr", vocabulary::WORDS_FR),
            _ => ("und", vocabulary::EMOJI),
        };
        let mentions = match &self.mentions_per_original {
            Some(law) => (law.sample(rng) as u32).min(4),
            None => match rng.random_range(0..100) {
                0..45 => 0,
                45..75 => 1,
                75..90 => 2,
                90..97 => 3,
                _ => 4,
            },
        }
        .min(max_mentions);
        let mut text = Text::default();
        let mut kind = Kind::Original;
        let mut targets = Vec::with_capacity(mentions as usize);
        for _ in 0..mentions {
            targets.push(self.famous(rng));
        }
        // A reply starts with the mention of whom it answers.
        if mentions > 0 && rng.random_bool(0.4) {
            kind = Kind::Reply {
                user: targets[0],
                status: snowflake(ts_ms.saturating_sub(rng.random_range(1000..3_600_000)), rng),
            };
        } else {
            for _ in 0..rng.random_range(0..3) {
                text.word(words[rng.random_range(0..words.len())]);
            }
        }
        let mut shown_names = Vec::new();
        for (i, &user) in targets.iter().enumerate() {
            let name = self.profile(user).screen_name.clone();
            // People sometimes type a name in another case than the account's.
            let shown = match rng.random_range(0..100) {
                0 => name.to_lowercase(),
                1 => name.to_uppercase(),
                _ => name,
            };
            if i > 0 && rng.random_bool(0.3) {
                text.word(["and", "&", "cc", "+", "y", "e"][rng.random_range(0..6)]);
            }
            text.mention(user, shown.clone());
            shown_names.push((user, shown));
        }
        // Occasionally the same name is mentioned twice in one tweet.
        if let Some((user, shown)) = shown_names.first().cloned()
            && rng.random_bool(0.03)
        {
            text.word(words[rng.random_range(0..words.len())]);
            text.mention(user, shown);
        }
        let long = rng.random_bool(0.15);
        let n_words = if long {
            rng.random_range(28..45)
        } else {
            rng.random_range(3..16)
        };
        let hashtags = match rng.random_range(0..100) {
            0..60 => 0,
            60..85 => 1,
            85..95 => 2,
            _ => 3,
        };
        let mid_tag = hashtags > 0 && rng.random_bool(0.3);
        for i in 0..n_words {
            if mid_tag && i == n_words / 2 {
                text.hashtag(self.world.hashtag(self.world.hashtags.rank(rng.random())));
            }
            text.word(words[rng.random_range(0..words.len())]);
            if rng.random_bool(0.04) {
                text.word(vocabulary::EMOJI[rng.random_range(0..vocabulary::EMOJI.len())]);
            }
        }
        if rng.random_bool(0.01) {
            // Real texts carry newlines and quotes; make sure escaping is exercised.
            text.body.push_str("\n\"quoted\"\n");
            text.chars += 10;
        }
        for _ in usize::from(mid_tag)..hashtags {
            text.hashtag(self.world.hashtag(self.world.hashtags.rank(rng.random())));
        }
        if rng.random_bool(0.35) {
            let mut mix = Mix::new(id, 1);
            let domain = vocabulary::DOMAINS[rng.random_range(0..vocabulary::DOMAINS.len())];
            let expanded = format!("https://{domain}{}", world::tco(&mut mix));
            text.url(world::tco(&mut mix), expanded);
        }
        // A quarter of short statuses carry a photo, the biggest entity of all.
        if !long && rng.random_bool(0.25) {
            let media_id = snowflake(ts_ms.saturating_sub(rng.random_range(1000..60_000)), rng);
            text.media(media_id, id, author, world::tco(&mut Mix::new(media_id, 6)));
        }
        let followers_hint = rng.random::<f64>();
        Tweet {
            id,
            ts_ms,
            author,
            text,
            kind,
            lang,
            source: pick_weighted(vocabulary::SOURCES, rng),
            metrics: Metrics {
                retweets: 0,
                likes: (followers_hint * 3.0) as u64,
                replies: 0,
                quotes: 0,
            },
            sensitive: rng.random_bool(0.35).then(|| rng.random_bool(0.05)),
        }
    }
}

fn pick_weighted<T: Copy>(items: &[(T, u32)], rng: &mut impl Rng) -> T {
    let total: u32 = items.iter().map(|&(_, w)| w).sum();
    let mut r = rng.random_range(0..total);
    for &(item, w) in items {
        if r < w {
            return item;
        }
        r -= w;
    }
    items[items.len() - 1].0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn entity_offsets_point_at_their_text() {
        let c = Composer::new(&KeyShape::default());
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for i in 0..2000 {
            let t = c.tweet(1_480_817_260_000 + i, &mut rng);
            let chars: Vec<char> = t.text.body.chars().collect();
            assert_eq!(chars.len() as u32, t.text.chars, "{}", t.text.body);
            for (e, _, shown) in t.text.mentions() {
                let got: String = chars[e.start as usize..e.end as usize].iter().collect();
                assert_eq!(got, format!("@{shown}"));
            }
            if t.retweeted().is_some() {
                assert!(t.text.chars <= MAX_CHARS);
                assert!(t.text.body.starts_with("RT @"));
            }
        }
    }

    #[test]
    fn cut_keeps_only_whole_entities() {
        let mut t = Text::default();
        t.word("hello");
        t.mention(1, "abcdef".into());
        let cut = t.cut(10);
        assert_eq!(cut.body, "hello @ab…");
        assert!(cut.ents.is_empty());
        assert_eq!(t.cut(100).ents.len(), 1);
    }
}
