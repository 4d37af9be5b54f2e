//! tweet-dataflow: windowed tweet analytics on timely and differential dataflow.
//!
//! ```text
//!  partitions ──▶ Ingest ──(per-slide counts)──▶ Slide ──▶ TopPerBucket ──▶ TopPerKind ──▶ WriteWindows
//!  (file splits)   │ classify, lateness,            insert at the first window,   two-level top N     worker 0: one
//!                  │ consolidate per slide          retract one window later      (differential)      record per window
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
