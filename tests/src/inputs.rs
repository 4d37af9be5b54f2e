//! Small seeded tweet streams for the fault tests: cheap to write and to replay, with the shapes
//! the windows care about (locations, repeated mentions, retweet weights, disorder, late tweets).

use std::path::Path;

const BASE_MS: u64 = 1_480_817_220_000;
const PLACES: [&str; 6] = ["Lyon", "Paris", "東京", "New York, USA", "Berlin", "Lagos"];

/// A small xorshift: the tests' inputs and schedules are seeded and repeatable.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// `n` small v1.1 tweets, `per_s` per second of event time, out of order by up to 2 s, and every
/// 400th a minute behind: late wherever it lands, so a dead letter.
pub fn input(n: u64, per_s: u64, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng(seed | 1);
    (0..n)
        .map(|i| {
            let mut ms = BASE_MS + i * 1000 / per_s;
            ms = ms.saturating_sub(rng.below(2000));
            if i % 400 == 399 {
                ms -= 60_000;
            }
            let mentions: Vec<serde_json::Value> = (0..rng.below(3))
                .map(|_| serde_json::json!({"screen_name": format!("u{}", rng.below(50))}))
                .collect();
            let mut tweet = serde_json::json!({
                "id_str": i.to_string(),
                "timestamp_ms": ms.to_string(),
                "user": {"location": PLACES[rng.below(6) as usize]},
                "entities": {"user_mentions": mentions},
            });
            if rng.below(10) == 0 {
                tweet["retweeted_status"] = serde_json::json!({"retweet_count": rng.below(1000)});
            }
            tweet.to_string().into_bytes()
        })
        .collect()
}

pub fn write_lines(path: &Path, lines: &[Vec<u8>]) {
    let text: Vec<u8> = lines
        .iter()
        .flat_map(|l| [&l[..], b"\n"].concat())
        .collect();
    std::fs::write(path, text).unwrap();
}
