//! tweet-dataflow: windowed tweet analytics on timely and differential dataflow.
//!
//! ```text
//!  partitions ──▶ Ingest ─────(window counts)─────▶ TopPerBucket ──▶ TopPerKind ──▶ WriteWindows
//!  (file splits)   │ classify, lateness, fold a slide     two-level top N over      worker 0: one
//!                  │ per key; + at the first window       differential arrangements record per window
//!                  │ that holds it, − at the first that does not
//!                  └──(dead letters, counters)──────────────────────────────────────────────────────▶ WriteReports
//! ```

mod aggregate;
pub mod config;
mod run;
mod sink;
mod source;
pub mod stats;
mod topn;
pub mod window;

pub use config::{Args, Config, ConfigError, Format, Output};
pub use run::{RunError, Summary, run};
pub use sink::{Entry, WindowRecord};
pub use source::{Split, plan_splits};
pub use stats::Stats;
