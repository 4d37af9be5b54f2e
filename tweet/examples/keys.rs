//! How diverse a file's keys are, per slide of event time: tweets, mentions per tweet, distinct
//! mention names per tweet, distinct locations. `scripts/bench-file.sh` prints it next to each
//! point of its sweep.
//!
//!   cargo run --release -p tweet --example keys -- FILE [SLIDE_SECONDS]

use std::collections::{BTreeMap, HashSet};
use std::io::BufRead;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: keys FILE [SLIDE_SECONDS]");
        std::process::exit(2);
    };
    let slide_ms: u64 = args.next().map_or(30, |s| s.parse().expect("seconds")) * 1000;
    let file = std::fs::File::open(&path).unwrap_or_else(|e| {
        eprintln!("error: {path}: {e}");
        std::process::exit(1)
    });
    #[derive(Default)]
    struct Slide {
        tweets: u64,
        mentions: u64,
        names: HashSet<String>,
        locations: HashSet<String>,
    }
    let mut slides: BTreeMap<u64, Slide> = BTreeMap::new();
    for line in std::io::BufReader::with_capacity(1 << 20, file).split(b'\n') {
        let line = line.expect("read");
        if let tweet::Message::Tweet(t) = tweet::classify(&line) {
            let slide = slides.entry(t.event_ms / slide_ms).or_default();
            slide.tweets += 1;
            slide.mentions += t.mentions.len() as u64;
            for m in &t.mentions {
                slide.names.insert(m.to_string());
            }
            if let Some(l) = &t.location {
                slide.locations.insert(l.to_string());
            }
        }
    }
    // Whole slides only: the first and last are cut by the file's start and end.
    let whole: Vec<&Slide> = match slides.len() {
        0..=2 => slides.values().collect(),
        n => slides.values().skip(1).take(n - 2).collect(),
    };
    let n = whole.len().max(1) as f64;
    let tweets: f64 = whole.iter().map(|s| s.tweets as f64).sum::<f64>() / n;
    let mentions: f64 = whole.iter().map(|s| s.mentions as f64).sum::<f64>() / n;
    let names: f64 = whole.iter().map(|s| s.names.len() as f64).sum::<f64>() / n;
    let locations: f64 = whole.iter().map(|s| s.locations.len() as f64).sum::<f64>() / n;
    println!(
        "{tweets:.0} tweets per {} s slide, {:.2} mentions per tweet, {names:.0} distinct names ({:.2} per tweet), {locations:.0} distinct locations ({:.2} per tweet)",
        slide_ms / 1000,
        mentions / tweets.max(1.0),
        names / tweets.max(1.0),
        locations / tweets.max(1.0)
    );
}
