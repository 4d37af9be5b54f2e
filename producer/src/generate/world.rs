//! The fixed synthetic population behind the generator: users, their locations, vocabularies.
//!
//! Everything here is a pure function of a user's index (through [`Mix`]), so the same user has the
//! same name, location and profile in every tweet and every run, whatever the seed: only which users
//! tweet and get mentioned depends on the seed. That keeps the skew realistic (a popular account is
//! mentioned under one stable screen name) and the data reproducible across platforms.

use std::sync::OnceLock;

use super::vocabulary::*;

/// Number of distinct users that can author tweets.
pub(super) const USERS: u64 = 2_000_000;
/// The most popular users (ranks `0..FAMOUS`), drawn Zipf-like as mention, reply and retweet targets:
/// tens of thousands of distinct screen names with a heavy head.
pub(super) const FAMOUS: usize = 60_000;

/// The real cities of [`PLACES`]; `KeyShape::places` beyond these are synthetic towns.
pub(super) const REAL_PLACES: usize = count_lines(PLACES);

const fn count_lines(text: &str) -> usize {
    let bytes = text.as_bytes();
    let (mut i, mut lines, mut empty) = (0, 0, true);
    while i < bytes.len() {
        if bytes[i] == b'\n' {
            if !empty {
                lines += 1;
            }
            empty = true;
        } else {
            empty = false;
        }
        i += 1;
    }
    if !empty { lines + 1 } else { lines }
}

/// Twitter's snowflake epoch (2010-11-04T01:42:54.657Z): ids embed their creation time, as real ones do.
pub(super) const TWEPOCH_MS: u64 = 1_288_834_974_657;

/// A splitmix64 stream: a tiny portable generator for values derived from an index, so that derived
/// attributes never consume the seeded main generator (which would make them depend on the seed).
#[derive(Clone)]
pub(super) struct Mix(u64);

impl Mix {
    pub(super) fn new(a: u64, b: u64) -> Self {
        Mix(a ^ b.wrapping_mul(0xA076_1D64_78BD_642F) ^ 0x5851_F42D_4C95_7F2D)
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub(super) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Log-normal with the given median and log-space spread (Box–Muller).
    pub(super) fn log_normal(&mut self, median: f64, sigma: f64) -> f64 {
        let u1 = self.unit().max(1e-300);
        let u2 = self.unit();
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        median * (sigma * z).exp()
    }
}

/// Inverse-CDF sampler of a Zipf-like law over ranks `0..n` (weight `1 / (rank + 1)^s`).
pub(super) struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub(super) fn new(n: usize, s: f64) -> Self {
        let mut cdf = Vec::with_capacity(n);
        let mut acc = 0.0;
        for rank in 0..n {
            acc += 1.0 / ((rank + 1) as f64).powf(s);
            cdf.push(acc);
        }
        for c in &mut cdf {
            *c /= acc;
        }
        Zipf { cdf }
    }

    /// Maps a uniform `u` in `[0, 1)` to a rank.
    pub(super) fn rank(&self, u: f64) -> usize {
        self.cdf
            .partition_point(|&c| c <= u)
            .min(self.cdf.len() - 1)
    }
}

/// Syllables of synthetic town names.
const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ra", "sen", "tor", "vil", "an", "bel", "dor", "es", "fa", "gar", "hol",
    "is", "jun", "ke", "lin", "mor", "na", "os", "pe", "quil", "ru", "sa", "ta", "ul", "ve", "wen",
    "xa", "yo", "zu",
];
const SYNTHETIC_COUNTRIES: &[&str] = &[
    "Valdoria", "Kestrel", "Norvane", "Ostrava", "Mirelle", "Tavros", "Quendal", "Ardenne",
];

/// A synthetic town, written as a city alone, with its country, or in lower case (the three
/// commonest ways): interned, so a profile can hold it as `&'static str`; at most three strings
/// per town ever drawn.
fn synthetic_place(place: usize, variant: usize) -> &'static str {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static INTERNED: OnceLock<Mutex<HashMap<(usize, u8), &'static str>>> = OnceLock::new();
    let way: u8 = match variant {
        1 | 2 | 7 | 8 | 9 | 14 => 1,
        3 | 4 => 2,
        _ => 0,
    };
    let mut interned = INTERNED
        .get_or_init(Default::default)
        .lock()
        .expect("not poisoned");
    interned.entry((place, way)).or_insert_with(|| {
        let n = SYLLABLES.len();
        let mut name = String::new();
        let mut rest = place - REAL_PLACES;
        loop {
            name.push_str(SYLLABLES[rest % n]);
            rest /= n;
            if rest == 0 {
                break;
            }
        }
        if name.len() < 4 {
            name.push_str("ville");
        }
        let mut town: String = name[..1].to_uppercase() + &name[1..];
        match way {
            1 => {
                town.push_str(", ");
                town.push_str(SYNTHETIC_COUNTRIES[place % SYNTHETIC_COUNTRIES.len()]);
            }
            2 => town = town.to_lowercase(),
            _ => {}
        }
        Box::leak(town.into_boxed_str())
    })
}

/// What a user's profile says about where they are; about 20% of users say nothing usable.
#[derive(Clone, Copy, Debug)]
pub(super) enum Location {
    Null,
    Empty,
    Text(&'static str),
}

impl Location {
    pub(super) fn as_v1(self) -> Option<&'static str> {
        match self {
            Location::Null => None,
            Location::Empty => Some(""),
            Location::Text(s) => Some(s),
        }
    }

    /// The v2 API omits fields a user never set.
    pub(super) fn as_v2(self) -> Option<&'static str> {
        match self {
            Location::Null | Location::Empty => None,
            Location::Text(s) => Some(s),
        }
    }
}

/// Everything the renderers need to know about one user.
pub(super) struct Profile {
    pub(super) id: u64,
    pub(super) screen_name: String,
    pub(super) name: String,
    pub(super) location: Location,
    pub(super) description: String,
    pub(super) url: Option<String>,
    pub(super) created_ms: u64,
    pub(super) followers: u64,
    pub(super) friends: u64,
    pub(super) listed: u64,
    pub(super) favourites: u64,
    pub(super) statuses: u64,
    pub(super) verified: bool,
    pub(super) protected: bool,
    pub(super) geo_enabled: bool,
    pub(super) lang: &'static str,
    pub(super) time_zone: Option<(&'static str, i32)>,
    pub(super) colors: [&'static str; 5],
    pub(super) background: usize,
    pub(super) image_id: u64,
    pub(super) image_name: String,
    pub(super) banner: Option<u64>,
    pub(super) default_profile: bool,
    pub(super) default_profile_image: bool,
}

/// The immutable population, built once per process.
pub(super) struct World {
    locations: Vec<&'static str>,
    city_zipf: Zipf,
    variant_cdf: Vec<f64>,
    pub(super) famous: Zipf,
    pub(super) hashtags: Zipf,
}

static WORLD: OnceLock<World> = OnceLock::new();

impl World {
    pub(super) fn get() -> &'static World {
        WORLD.get_or_init(World::build)
    }

    fn build() -> World {
        // Strings are leaked once per process so profiles can hand out `&'static str` cheaply.
        let mut locations = Vec::new();
        let mut places = 0;
        for line in PLACES.lines().filter(|l| !l.is_empty()) {
            let mut parts = line.split('|');
            let city = parts.next().expect("place line has a city");
            let country = parts.next().unwrap_or("");
            let short = parts.next().unwrap_or("");
            places += 1;
            for &(variant, _) in VARIANTS {
                let text = if country.is_empty() {
                    city.to_string()
                } else {
                    match variant {
                        0 => city.to_string(),
                        1 => format!("{city}, {country}"),
                        2 => format!("{city}, {short}"),
                        3 => city.to_lowercase(),
                        4 => city.to_uppercase(),
                        5 => format!("  {city}  "),
                        6 => format!("{city} {}", EMOJI_SUFFIX[city.len() % EMOJI_SUFFIX.len()]),
                        7 => country.to_string(),
                        8 => format!("{city} | {country}"),
                        9 => format!("{city} ({country})"),
                        10 => format!("📍 {city}"),
                        11 => format!("{city}\n"),
                        12 => format!("Greater {city} Area"),
                        13 => format!("{city} ✈ London"),
                        _ => format!("{city}, {country} 🌍"),
                    }
                };
                locations.push(&*Box::leak(text.into_boxed_str()));
            }
        }
        let mut acc = 0.0;
        let variant_cdf = VARIANTS
            .iter()
            .map(|&(_, w)| {
                acc += w;
                acc
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|c| c / acc)
            .collect();
        World {
            locations,
            city_zipf: Zipf::new(places, 0.9),
            variant_cdf,
            famous: Zipf::new(FAMOUS, 1.0),
            hashtags: Zipf::new(HASHTAGS.len(), 0.9),
        }
    }

    pub(super) fn hashtag(&self, rank: usize) -> &'static str {
        HASHTAGS[rank]
    }

    /// The Zipf law over places of the default key shape.
    pub(super) fn cities(&self) -> &Zipf {
        &self.city_zipf
    }

    fn location(&self, mix: &mut Mix, cities: &Zipf) -> Location {
        let u = mix.unit();
        // About 20% of profiles give no usable location.
        if u < 0.10 {
            return Location::Null;
        }
        if u < 0.18 {
            return Location::Empty;
        }
        if u < 0.20 {
            return Location::Text(["   ", " ", "\t"][mix.below(3) as usize]);
        }
        let place = cities.rank(mix.unit());
        let v = mix.unit();
        let variant = self
            .variant_cdf
            .partition_point(|&c| c <= v)
            .min(VARIANTS.len() - 1);
        if place >= REAL_PLACES {
            return Location::Text(synthetic_place(place, variant));
        }
        Location::Text(self.locations[place * VARIANTS.len() + variant])
    }

    /// The profile of user `idx` (`0..USERS`); ranks below [`FAMOUS`] are the popular accounts.
    pub(super) fn profile(&self, idx: u64, cities: &Zipf) -> Profile {
        let mut mix = Mix::new(idx, 0x5EED_u64);
        let famous = idx < FAMOUS as u64;
        let screen_name = screen_name(idx, &mut mix);
        let name = if (idx as usize) < TOP_ACCOUNTS.len() || mix.unit() < 0.3 {
            let base = if (idx as usize) < TOP_ACCOUNTS.len() {
                TOP_ACCOUNTS[idx as usize].replace('_', " ")
            } else {
                screen_name.clone()
            };
            format!("{base}{}", mix.pick(NAME_DECOR))
        } else {
            format!(
                "{} {}{}",
                mix.pick(GIVEN),
                mix.pick(FAMILY),
                mix.pick(NAME_DECOR)
            )
        };
        // Old accounts have small ids, accounts since 2013 have snowflake ids; both unique per idx.
        let (id, created_ms) = if mix.unit() < 0.6 {
            let id = 10_000_000 + idx * 1931 + mix.below(1931);
            let span = 1_370_000_000_000 - 1_170_000_000_000;
            (id, 1_170_000_000_000 + id % span)
        } else {
            let created = 1_370_000_000_000 + mix.below(1_480_000_000_000 - 1_370_000_000_000);
            ((created - TWEPOCH_MS) << 22 | (idx & 0x3F_FFFF), created)
        };
        let boost = if famous {
            (FAMOUS as f64 / (idx + 1) as f64).sqrt() * 20.0
        } else {
            1.0
        };
        let followers = (mix.log_normal(250.0, 1.8) * boost) as u64;
        let mut description = String::new();
        for _ in 0..2 + mix.below(4) {
            if !description.is_empty() {
                description.push_str(" | ");
            }
            description.push_str(mix.pick::<&str>(DESCRIPTION_BITS));
        }
        let has_url = mix.unit() < 0.45;
        let url = has_url.then(|| format!("https://t.co/{}", tco(&mut mix)));
        let default_profile = mix.unit() < 0.35;
        let colors = if default_profile {
            ["C0DEED", "1DA1F2", "C0DEED", "DDEEF6", "333333"]
        } else {
            [
                *mix.pick(COLORS),
                *mix.pick(COLORS),
                *mix.pick(COLORS),
                *mix.pick(COLORS),
                *mix.pick(COLORS),
            ]
        };
        Profile {
            id,
            location: self.location(&mut mix, cities),
            description,
            url,
            created_ms,
            followers,
            friends: mix.log_normal(300.0, 1.2) as u64,
            listed: (followers as f64 * mix.unit() * 0.02) as u64,
            favourites: mix.log_normal(2000.0, 1.8) as u64,
            statuses: mix.log_normal(5000.0, 1.6) as u64 + 1,
            verified: famous && followers > 200_000 && mix.unit() < 0.7,
            protected: false,
            geo_enabled: mix.unit() < 0.4,
            lang: mix.pick::<&str>(&[
                "en", "en", "en", "es", "pt", "ja", "fr", "en-gb", "id", "tr",
            ]),
            time_zone: if mix.unit() < 0.3 {
                None
            } else {
                Some(*mix.pick(TIME_ZONES))
            },
            colors,
            background: mix.below(BACKGROUNDS.len() as u64) as usize,
            image_id: 700_000_000_000_000_000 + mix.below(110_000_000_000_000_000),
            image_name: tco(&mut mix),
            banner: (mix.unit() < 0.6).then(|| 1_400_000_000 + mix.below(80_000_000)),
            default_profile,
            default_profile_image: mix.unit() < 0.03,
            screen_name,
            name,
        }
    }
}

impl Profile {
    pub(super) fn background_url(&self) -> &'static str {
        BACKGROUNDS[self.background]
    }
}

/// A unique screen name per index: the (first, second) word pair is a bijection of the index
/// within each block of `FIRST × SECOND`, the block number becomes a numeric suffix, and only case
/// and underscores vary by user, so two users never share a name.
fn screen_name(idx: u64, mix: &mut Mix) -> String {
    if let Some(top) = TOP_ACCOUNTS.get(idx as usize) {
        return (*top).to_string();
    }
    let pairs = (FIRST.len() * SECOND.len()) as u64;
    // 7919 is prime and does not divide `pairs`, so this permutes each block.
    let p = (idx % pairs) * 7919 % pairs;
    let block = idx / pairs;
    let first = FIRST[(p / SECOND.len() as u64) as usize];
    let second = SECOND[(p % SECOND.len() as u64) as usize];
    let mut name = String::with_capacity(20);
    let style = mix.below(10);
    let cap = |w: &str, out: &mut String| {
        let mut chars = w.chars();
        if let Some(c) = chars.next() {
            out.extend(c.to_uppercase());
            out.push_str(chars.as_str());
        }
    };
    match style {
        0..=3 => {
            cap(first, &mut name);
            cap(second, &mut name);
        }
        4..=6 => {
            name.push_str(first);
            name.push_str(second);
        }
        7 | 8 => {
            name.push_str(first);
            name.push('_');
            name.push_str(second);
        }
        _ => {
            cap(first, &mut name);
            name.push('_');
            cap(second, &mut name);
        }
    }
    if block > 0 {
        name.push_str(&block.to_string());
    }
    name
}

const TCO_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A t.co-style 10-character code.
pub(super) fn tco(mix: &mut Mix) -> String {
    (0..10)
        .map(|_| TCO_ALPHABET[mix.below(TCO_ALPHABET.len() as u64) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn screen_names_are_unique_among_famous_users() {
        let mut seen = HashSet::new();
        for idx in 0..FAMOUS as u64 {
            let name = screen_name(idx, &mut Mix::new(idx, 1));
            assert!(seen.insert(name.to_lowercase()), "duplicate {name}");
        }
    }

    #[test]
    fn profiles_are_stable() {
        let w = World::get();
        let a = w.profile(12345, w.cities());
        let b = w.profile(12345, w.cities());
        assert_eq!(a.screen_name, b.screen_name);
        assert_eq!(a.id, b.id);
        assert_eq!(a.location.as_v1(), b.location.as_v1());
    }

    #[test]
    fn there_are_thousands_of_locations() {
        let w = World::get();
        let distinct: HashSet<_> = w.locations.iter().collect();
        assert!(distinct.len() > 2000, "{}", distinct.len());
        assert!(distinct.contains(&"東京"));
        assert!(distinct.contains(&"São Paulo"));
        assert!(distinct.contains(&"  Paris  "));
    }

    #[test]
    fn zipf_has_a_heavy_head() {
        let z = Zipf::new(1000, 1.0);
        assert_eq!(z.rank(0.0), 0);
        assert_eq!(z.rank(0.999_999_9), 999);
        // The first rank holds 1/H(1000) ≈ 13% of the mass.
        assert_eq!(z.rank(0.12), 0);
        assert!(z.rank(0.2) > 0);
    }
}
