//! tweet-dataflow: windowed tweet analytics on timely and differential dataflow.
//!
//! ```text
//!  partitions ──▶ Ingest ─────(window counts)─────▶ TopPerBucket ──▶ TopPerKind ──▶ WriteWindows
//!  (file splits)   │ classify, lateness, fold a slide     two-level top N over      worker 0: one
//!                  │ per key; + at the first window       differential arrangements record per window
//!                  │ that holds it, − at the first that does not
//!                  └──(dead letters, counters)──────────────────────────────────────────────────────▶ WriteReports
//! ```
//!
//! The library takes a typed [`Config`]; the flags of the `tweet-dataflow` binary live with it
//! (`src/main.rs`, `src/cli.rs`).

mod aggregate;
mod checkpoint;
pub mod cluster;
pub mod config;
pub mod metrics;
mod progress;
mod run;
mod shutdown;
mod sink;
mod source;
pub mod stats;
mod topn;
mod ui;
pub mod window;

pub use config::{Checkpoints, Cluster, Config, Format, Input, Observe, Output, OutputTopic};
pub use metrics::Metrics;
pub use run::{RunError, Summary, run, run_observed};
pub use shutdown::Shutdown;
pub use source::kafka::{KafkaInput, Start};
pub use stats::Stats;
pub use window::Windows;
