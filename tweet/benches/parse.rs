//! Parser throughput on a real file: each backend classifies the same lines held in memory, on one
//! thread and on two. This is the ceiling the dataflow is measured against (`scripts/bench-file.sh`).
//!
//! `cargo bench -p tweet --bench parse -- FILE [LINES]` (default 200,000 lines).

use std::time::Instant;

use tweet::{Backend, Message, classify_with};

fn classify_all(backend: Backend, lines: &[&[u8]]) -> u64 {
    let mut tweets = 0;
    for line in lines {
        if let Message::Tweet(t) = classify_with(backend, line) {
            tweets += u64::from(t.event_ms > 0);
        }
    }
    tweets
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let Some(path) = args.first() else {
        eprintln!("usage: cargo bench -p tweet --bench parse -- FILE [LINES]");
        std::process::exit(2);
    };
    let limit: usize = args
        .get(1)
        .map_or(200_000, |n| n.parse().expect("LINES is a number"));
    // Only the first LINES lines are read: the file may be far larger than memory should hold.
    let mut reader = std::io::BufReader::new(std::fs::File::open(path).expect("open FILE"));
    let mut bytes = Vec::new();
    let mut count = 0;
    while count < limit
        && std::io::BufRead::read_until(&mut reader, b'\n', &mut bytes).expect("read FILE") > 0
    {
        count += 1;
    }
    let lines: Vec<&[u8]> = bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let total: usize = lines.iter().map(|l| l.len() + 1).sum();
    println!(
        "{} lines, {:.1} MB, {:.2} KB per line",
        lines.len(),
        total as f64 / 1e6,
        total as f64 / lines.len() as f64 / 1e3
    );

    for backend in [Backend::SerdeJson, Backend::SonicRs] {
        classify_all(backend, &lines[..lines.len().min(10_000)]); // warm up
        let start = Instant::now();
        let tweets = classify_all(backend, &lines);
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{backend:?} 1 thread: {:>9.0} tweets/s {:>7.0} MB/s ({tweets} tweets)",
            tweets as f64 / secs,
            total as f64 / secs / 1e6
        );
        let start = Instant::now();
        let (a, b) = lines.split_at(lines.len() / 2);
        let tweets = std::thread::scope(|s| {
            let other = s.spawn(|| classify_all(backend, b));
            classify_all(backend, a) + other.join().expect("no panic")
        });
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{backend:?} 2 threads: {:>8.0} tweets/s {:>7.0} MB/s",
            tweets as f64 / secs,
            total as f64 / secs / 1e6
        );
    }
}
