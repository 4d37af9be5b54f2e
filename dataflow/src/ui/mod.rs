//! The live view (`--ui`, process 0): one page served by the binary itself, with every asset in
//! it (users run offline too), updated by Server-Sent Events as each window is written; and the
//! JSON behind it for scripts: `/api/windows?last=N`, `/api/status`, `/api/events` (the stream).
//!
//! The window sink hands each record to [`Live`] through a [`RecordWriter`] beside the real
//! outputs ([`Tap`]); the page never asks the dataflow anything, it only reads what was written
//! and the process's metrics.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::{BroadcastStream, IntervalStream};

use crate::metrics::{Metrics, Snapshot};
use crate::sink::record::{RecordWriter, WindowRecord};

/// Windows kept for `/api/windows` and the chart of tweets per window.
const KEPT: usize = 1000;

const PAGE: &str = include_str!("page.html");

/// What the job is, for the page's header.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct JobView {
    pub input: String,
    pub window_ms: u64,
    pub slide_ms: u64,
    pub batch_ms: u64,
    pub lateness_ms: u64,
    pub top: usize,
    pub processes: usize,
    pub workers: usize,
}

/// The windows written so far (each as its JSON and its end) and the clients listening.
pub(crate) struct Live {
    windows: Mutex<VecDeque<(Arc<str>, String)>>,
    events: broadcast::Sender<Arc<str>>,
    metrics: Metrics,
    job: JobView,
}

#[derive(Serialize)]
struct Status<'a> {
    job: &'a JobView,
    #[serde(flatten)]
    counters: Snapshot,
    /// The end of the last window written (RFC 3339).
    latest_window_end: Option<String>,
}

impl Live {
    pub fn new(metrics: Metrics, job: JobView) -> Arc<Live> {
        Arc::new(Live {
            windows: Mutex::new(VecDeque::new()),
            events: broadcast::channel(256).0,
            metrics,
            job,
        })
    }

    fn push(&self, record: &WindowRecord) {
        let text: Arc<str> = serde_json::to_string(record)
            .expect("a record serialises")
            .into();
        let mut windows = self.windows.lock().expect("not poisoned");
        if windows.len() == KEPT {
            windows.pop_front();
        }
        windows.push_back((text.clone(), record.window_end.clone()));
        // No listener is not an error.
        let _ = self.events.send(text);
    }

    fn last(&self, n: usize) -> String {
        let windows = self.windows.lock().expect("not poisoned");
        let skip = windows.len().saturating_sub(n);
        let items: Vec<&str> = windows.iter().skip(skip).map(|(w, _)| &**w).collect();
        format!("[{}]", items.join(","))
    }

    fn status(&self) -> String {
        let latest_window_end = self
            .windows
            .lock()
            .expect("not poisoned")
            .back()
            .map(|(_, end)| end.clone());
        serde_json::to_string(&Status {
            job: &self.job,
            counters: self.metrics.snapshot(),
            latest_window_end,
        })
        .expect("status serialises")
    }

    /// The routes of the live view.
    pub fn routes(self: &Arc<Live>) -> Router {
        Router::new()
            .route("/", get(|| async { Html(PAGE) }))
            .route("/api/windows", get(windows))
            .route("/api/status", get(status))
            .route("/api/events", get(events))
            .with_state(self.clone())
    }
}

#[derive(Deserialize)]
struct Last {
    last: Option<usize>,
}

fn json(text: String) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], text)
}

async fn windows(State(live): State<Arc<Live>>, Query(q): Query<Last>) -> impl IntoResponse {
    json(live.last(q.last.unwrap_or(20).min(KEPT)))
}

async fn status(State(live): State<Arc<Live>>) -> impl IntoResponse {
    json(live.status())
}

/// `window` events as records are written, a `status` event every second, and `reload` when the
/// client fell so far behind that windows were dropped for it.
async fn events(
    State(live): State<Arc<Live>>,
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    let windows = BroadcastStream::new(live.events.subscribe()).filter_map(|w| {
        // A client too slow for 256 windows misses some; the page asks for the list again.
        w.ok()
            .map(|w| Ok(Event::default().event("window").data(&*w)))
    });
    let ticks = IntervalStream::new(tokio::time::interval(Duration::from_secs(1)))
        .map(move |_| Ok(Event::default().event("status").data(live.status())));
    Sse::new(windows.merge(ticks)).keep_alive(KeepAlive::default())
}

/// Hands every window record written to the live view.
pub(crate) struct Tap(pub Arc<Live>);

impl RecordWriter for Tap {
    fn write(&mut self, record: &WindowRecord) -> io::Result<()> {
        self.0.push(record);
        Ok(())
    }
}
