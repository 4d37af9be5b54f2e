//! One long-running streaming session: connect, read messages until the connection ends, reconnect
//! by X's policy, until stopped (issue 4). Tweets and everything else go to a [`MessageSink`]
//! unchanged; this layer only acts on what the stream says about itself (limits, disconnects,
//! in-band errors) and on its silence (stalls).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde::Serialize;
use tweet::{Message, NoticeKind};

use super::backoff::{Backoff, Failure, Sleep};
use super::credentials::{self, OAuth1, Secret};
use super::error::{BoxError, StreamError, detail};
use super::framing::{Frame, Framer};
use super::oauth1::{self, Nonce};
use super::rules::{RulePlan, RulesApi};

/// Which of X's streaming APIs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Api {
    /// `GET /2/tweets/search/stream`, app-only bearer token, rules synced with `--track`.
    V2,
    /// `POST /1.1/statuses/filter.json` with `track=`, OAuth 1.0a user context.
    V1,
}

impl Api {
    pub fn default_base(self) -> &'static str {
        match self {
            Api::V2 => "https://api.x.com",
            Api::V1 => "https://stream.twitter.com",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Api::V2 => "v2",
            Api::V1 => "v1.1",
        }
    }
}

/// What the contract needs of a v2 tweet (CONTRACT section 2): time, entities, the retweeted
/// tweet's metrics and the author's location.
pub const V2_FIELDS: [(&str, &str); 3] = [
    (
        "tweet.fields",
        "created_at,entities,public_metrics,referenced_tweets,author_id",
    ),
    ("expansions", "author_id,referenced_tweets.id"),
    ("user.fields", "location"),
];

#[derive(Clone, Debug)]
pub enum Auth {
    Bearer(Secret),
    OAuth1(OAuth1),
}

impl Auth {
    /// The credentials `api` needs, from `lookup` (the environment in the binary).
    pub fn for_api(api: Api, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Auth, StreamError> {
        Ok(match api {
            Api::V2 => Auth::Bearer(credentials::bearer(lookup)?),
            Api::V1 => Auth::OAuth1(credentials::oauth1(lookup)?),
        })
    }

    /// What a 401/403 tells the user to check.
    fn check(&self) -> String {
        match self {
            Auth::Bearer(_) => credentials::BEARER_TOKEN.to_owned(),
            Auth::OAuth1(_) => format!(
                "{}, {}, {} and {} (and this machine's clock: OAuth 1.0a signatures carry the time)",
                credentials::CONSUMER_KEY,
                credentials::CONSUMER_SECRET,
                credentials::ACCESS_TOKEN,
                credentials::ACCESS_TOKEN_SECRET
            ),
        }
    }
}

#[derive(Clone, Debug)]
pub struct StreamConfig {
    pub api: Api,
    /// Scheme, host and optional path prefix, e.g. `https://api.x.com`.
    pub base: String,
    pub track: Vec<String>,
    /// Tag of the v2 rules this tool owns.
    pub rule_tag: String,
    /// No bytes at all (keep-alives included) for this long: the connection is dead. X sends a
    /// keep-alive every 20 s (v2) or 30 s (v1.1) and documents 90 s.
    pub stall_timeout: Duration,
    pub connect_timeout: Duration,
}

impl StreamConfig {
    fn url(&self, path: &str) -> Result<reqwest::Url, StreamError> {
        let base = self.base.trim_end_matches('/');
        let bad = |reason: String| StreamError::Base {
            url: self.base.clone(),
            reason,
        };
        let url = reqwest::Url::parse(&format!("{base}{path}")).map_err(|e| bad(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("the scheme must be http or https".to_owned()));
        }
        if url.query().is_some() || !url.username().is_empty() {
            return Err(bad("no query or user name, please".to_owned()));
        }
        Ok(url)
    }

    fn stream_url(&self) -> Result<reqwest::Url, StreamError> {
        match self.api {
            Api::V2 => {
                let mut url = self.url("/2/tweets/search/stream")?;
                url.query_pairs_mut().extend_pairs(V2_FIELDS);
                Ok(url)
            }
            Api::V1 => self.url("/1.1/statuses/filter.json"),
        }
    }
}

/// Where messages go: the Kafka writer in the binary, a list in tests. `position` names the
/// message for logs and dead letters.
pub trait MessageSink {
    fn message(&mut self, message: &[u8], position: &str) -> Result<(), BoxError>;
}

impl<F: FnMut(&[u8], &str) -> Result<(), BoxError>> MessageSink for F {
    fn message(&mut self, message: &[u8], position: &str) -> Result<(), BoxError> {
        self(message, position)
    }
}

/// What the stream did, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StreamStats {
    /// Connections that were answered 200.
    pub connections: u64,
    /// Attempts that failed, by the kind of failure.
    pub network_failures: u64,
    pub http_failures: u64,
    pub rate_limited: u64,
    /// Messages given to the sink (tweets and everything else), and keep-alives.
    pub messages: u64,
    pub keep_alives: u64,
    /// Connections that went silent for the stall timeout.
    pub stalls: u64,
    /// Messages a disconnect cut in two (their first part is dead-lettered).
    pub cut_off: u64,
    pub oversized: u64,
    /// Tweets X matched but did not deliver (sum of `limit.track` increases per connection).
    pub undelivered: u64,
    pub disconnect_notices: u64,
    /// v2 error objects sent in the stream.
    pub in_band_errors: u64,
}

/// How one connection ended.
enum End {
    Stopped,
    /// The server closed the body, a read failed, or X asked us to reconnect.
    Dropped(String),
    Stalled,
}

/// Resolves once `stop` is set; the binary's signal handlers set it.
async fn stopped(stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Syncs the v2 rules with `--track` (only reports with `dry_run`).
pub async fn sync_rules(
    config: &StreamConfig,
    bearer: &Secret,
    dry_run: bool,
) -> Result<RulePlan, StreamError> {
    let client = http_client(config)?;
    let url = config.url("/2/tweets/search/stream/rules")?;
    RulesApi {
        client: &client,
        url,
        bearer,
    }
    .sync(&config.track, &config.rule_tag, dry_run)
    .await
}

fn http_client(config: &StreamConfig) -> Result<reqwest::Client, StreamError> {
    reqwest::Client::builder()
        .connect_timeout(config.connect_timeout)
        .user_agent(concat!("tweetflow/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| StreamError::Base {
            url: config.base.clone(),
            reason: format!("cannot build an HTTP client: {e}"),
        })
}

/// Streams until `stop` is set or a fatal error (credentials refused, a request X will never
/// accept, the sink failing). Rules are expected in place already (see [`sync_rules`]).
pub async fn run(
    config: &StreamConfig,
    auth: &Auth,
    sink: &mut dyn MessageSink,
    stop: &AtomicBool,
    sleeper: &impl Sleep,
) -> Result<StreamStats, StreamError> {
    let client = http_client(config)?;
    let url = config.stream_url()?;
    let api = config.api.name();
    let mut stats = StreamStats::default();
    let mut backoff = Backoff::default();
    let mut framer = Framer::default();
    let mut delay = Duration::ZERO;
    loop {
        if !delay.is_zero() {
            tracing::info!(
                api,
                delay_ms = delay.as_millis() as u64,
                "reconnecting after a pause"
            );
            tokio::select! {
                () = sleeper.sleep(delay) => {}
                () = stopped(stop) => {}
            }
        }
        if stop.load(Ordering::Relaxed) {
            return Ok(stats);
        }
        let request = match (config.api, auth) {
            (Api::V2, Auth::Bearer(token)) => client.get(url.clone()).bearer_auth(token.expose()),
            (Api::V1, Auth::OAuth1(oauth)) => {
                let track = super::rules::wanted(&config.track).join(",");
                let form = [("track", track.as_str()), ("stall_warnings", "true")];
                let header = oauth1::authorization("POST", &url, &form, oauth, &Nonce::fresh());
                let mut header = HeaderValue::from_str(&header)
                    .expect("OAuth header values are percent-encoded ASCII");
                // Debug output of the request (reqwest's, hyper's) shows `Sensitive`.
                header.set_sensitive(true);
                client
                    .post(url.clone())
                    .header(AUTHORIZATION, header)
                    .form(&form)
            }
            _ => unreachable!("Auth::for_api gives each API its credentials"),
        };
        let sent = tokio::select! {
            sent = request.send() => sent,
            () = stopped(stop) => return Ok(stats),
        };
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                stats.network_failures += 1;
                delay = backoff.failed(Failure::Network);
                tracing::warn!(api, error = %e.without_url(), "cannot connect");
                continue;
            }
        };
        let status = response.status().as_u16();
        if status != 200 {
            let body = response.text().await.unwrap_or_default();
            let said = detail(&body);
            let failure = match status {
                401 | 403 => return Err(StreamError::unauthorized(status, &auth.check(), &body)),
                400 | 404 | 406 | 413 | 416 => {
                    return Err(StreamError::Refused {
                        url: url.to_string(),
                        status,
                        detail: said,
                    });
                }
                420 | 429 => {
                    stats.rate_limited += 1;
                    Failure::RateLimited
                }
                _ => {
                    stats.http_failures += 1;
                    Failure::Http
                }
            };
            delay = backoff.failed(failure);
            tracing::warn!(api, status, detail = %said, "connection refused");
            continue;
        }
        stats.connections += 1;
        let connection = stats.connections;
        let opened = std::time::Instant::now();
        tracing::info!(api, connection, "connected");

        let mut read = Connection {
            api,
            connection,
            limit_track: 0,
            any_bytes: false,
            reconnect: None,
        };
        let end = read
            .read(response, config, &mut framer, &mut stats, sink, stop)
            .await?;
        if let Some(partial) = framer.cut_off() {
            stats.cut_off += 1;
            let position = format!("{api} connection {connection}, cut off by the disconnect");
            tracing::warn!(
                api,
                connection,
                bytes = partial.len(),
                "a message was cut off"
            );
            sink.message(&partial, &position)
                .map_err(StreamError::Sink)?;
        }
        delay = match end {
            End::Stopped => return Ok(stats),
            End::Stalled => {
                stats.stalls += 1;
                tracing::warn!(
                    api,
                    connection,
                    timeout_s = config.stall_timeout.as_secs_f64(),
                    "no data, not even keep-alives: reconnecting"
                );
                if read.any_bytes {
                    backoff.dropped(opened.elapsed())
                } else {
                    backoff.failed(Failure::Network)
                }
            }
            End::Dropped(why) => {
                tracing::warn!(api, connection, %why, "stream ended");
                if read.any_bytes {
                    backoff.dropped(opened.elapsed())
                } else {
                    stats.network_failures += 1;
                    backoff.failed(Failure::Network)
                }
            }
        };
    }
}

/// The state of one connection.
struct Connection {
    api: &'static str,
    connection: u64,
    /// v1.1's `limit.track` counts since the connection opened: only increases are new.
    limit_track: u64,
    any_bytes: bool,
    /// Set when a message asks us to reconnect (a v2 operational disconnect).
    reconnect: Option<String>,
}

impl Connection {
    async fn read(
        &mut self,
        mut response: reqwest::Response,
        config: &StreamConfig,
        framer: &mut Framer,
        stats: &mut StreamStats,
        sink: &mut dyn MessageSink,
        stop: &AtomicBool,
    ) -> Result<End, StreamError> {
        loop {
            let chunk = tokio::select! {
                chunk = tokio::time::timeout(config.stall_timeout, response.chunk()) => chunk,
                () = stopped(stop) => return Ok(End::Stopped),
            };
            let bytes = match chunk {
                Err(_) => return Ok(End::Stalled),
                Ok(Err(e)) => return Ok(End::Dropped(e.without_url().to_string())),
                Ok(Ok(None)) => return Ok(End::Dropped("closed by the server".to_owned())),
                Ok(Ok(Some(bytes))) => bytes,
            };
            self.any_bytes = true;
            framer
                .push(&bytes, |frame| self.frame(frame, stats, sink))
                .map_err(StreamError::Sink)?;
            if let Some(why) = self.reconnect.take() {
                return Ok(End::Dropped(why));
            }
            if stop.load(Ordering::Relaxed) {
                return Ok(End::Stopped);
            }
        }
    }

    fn frame(
        &mut self,
        frame: Frame<'_>,
        stats: &mut StreamStats,
        sink: &mut dyn MessageSink,
    ) -> Result<(), BoxError> {
        let message = match frame {
            Frame::KeepAlive => {
                stats.keep_alives += 1;
                return Ok(());
            }
            Frame::Oversized { head, len } => {
                stats.oversized += 1;
                tracing::warn!(
                    api = self.api,
                    len,
                    "message over the size limit, not written"
                );
                head
            }
            Frame::Message(message) => message,
        };
        stats.messages += 1;
        self.inspect(message, stats);
        let position = format!(
            "{} connection {}, message {}",
            self.api, self.connection, stats.messages
        );
        sink.message(message, &position)
    }

    /// Acts on what the stream says about itself.
    fn inspect(&mut self, message: &[u8], stats: &mut StreamStats) {
        match tweet::classify(message) {
            Message::Notice {
                kind: NoticeKind::Limit,
                undelivered,
            } => {
                let total = undelivered.unwrap_or(0);
                let new = total.saturating_sub(self.limit_track);
                self.limit_track = self.limit_track.max(total);
                stats.undelivered += new;
                if new > 0 {
                    tracing::info!(
                        api = self.api,
                        undelivered = stats.undelivered,
                        "X did not deliver every matching tweet (limit notice)"
                    );
                }
            }
            Message::Notice {
                kind: NoticeKind::Disconnect,
                ..
            } => {
                stats.disconnect_notices += 1;
                let notice = json_field(message, "disconnect");
                tracing::warn!(api = self.api, %notice, "disconnect notice: X is closing the stream");
                self.reconnect = Some(format!("disconnect notice {notice}"));
            }
            Message::Notice {
                kind: NoticeKind::Warning,
                ..
            } => {
                let warning = json_field(message, "warning");
                tracing::warn!(api = self.api, %warning, "warning from X");
            }
            Message::Rejected(_) => {
                // v2 sends problems as `{"errors": [...]}` objects in the stream.
                let Ok(value) = serde_json::from_slice::<serde_json::Value>(message) else {
                    return;
                };
                let Some(errors) = value.get("errors").and_then(|e| e.as_array()) else {
                    return;
                };
                stats.in_band_errors += 1;
                for error in errors {
                    let title = error.get("title").and_then(|t| t.as_str()).unwrap_or("");
                    tracing::warn!(api = self.api, %error, "error in the stream");
                    if title.contains("disconnect") || error.get("disconnect_type").is_some() {
                        self.reconnect = Some(format!("X: {title}"));
                    }
                }
            }
            _ => {}
        }
    }
}

fn json_field(message: &[u8], key: &str) -> String {
    serde_json::from_slice::<serde_json::Value>(message)
        .ok()
        .and_then(|v| v.get(key).map(|v| v.to_string()))
        .unwrap_or_default()
}
