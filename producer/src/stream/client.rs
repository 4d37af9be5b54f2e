//! One long-running streaming session: connect, read messages until the connection ends, reconnect
//! by X's policy, until stopped (issue 4). Tweets and everything else go to a [`MessageSink`]
//! unchanged; this layer only acts on what the stream says about itself (limits, disconnects,
//! in-band errors) and on its silence (stalls).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde::Serialize;
use tweet::{Message, NoticeKind};

use super::backoff::{Backoff, Failure, Sleep};
use super::credentials::{self, OAuth1, Secret};
use super::dedup::{BACKFILL_HORIZON, Seen, backfill_minutes};
use super::error::{BoxError, StreamError, detail};
use super::framing::{Frame, Framer};
use super::oauth1::{self, Nonce};
use super::rules::{RulePlan, RulesApi};

/// Which of X's streaming APIs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    /// v2: reconnect with `backfill_minutes` for the gap, and drop the duplicates it brings.
    pub backfill: bool,
    /// v2: a one-off Recovery run of this period instead of the live stream.
    pub recover: Option<Recover>,
}

/// A period for X's Recovery (`start_time`, `end_time`; at most 24 hours back).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recover {
    pub from_ms: u64,
    pub to_ms: u64,
}

impl StreamConfig {
    fn url(&self, path: &str) -> Result<reqwest::Url, StreamError> {
        let base = self.base.trim_end_matches('/');
        let bad = |reason: String| StreamError::Base {
            url: self.shown_base(),
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

    /// The base for messages: without a user name or password, should one have been given.
    fn shown_base(&self) -> String {
        match reqwest::Url::parse(&self.base) {
            Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
                let _ = url.set_username("");
                let _ = url.set_password(None);
                format!("{url} (credentials removed)")
            }
            Ok(_) => self.base.clone(),
            Err(_) if self.base.contains('@') => "(an unparsable URL with '@')".to_owned(),
            Err(_) => self.base.clone(),
        }
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

    /// The counts so far and whether a connection is open: at each connection change, each
    /// keep-alive and every 256 messages (for metrics).
    fn observe(&mut self, _stats: &StreamStats, _connected: bool) {}
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
    /// Tweets delivered again (by a backfill, or already in the topic for a recovery): dropped.
    pub duplicates: u64,
    /// Reconnects that asked for a backfill.
    pub backfills: u64,
}

impl std::fmt::Display for StreamStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "connections {}, messages {}, keep-alives {}, stalls {}, cut off {}, oversized {}, \
             undelivered {} (limit notices), disconnect notices {}, in-band errors {}, \
             duplicates {}, backfills {}, failed attempts {} network / {} HTTP / {} rate-limited",
            self.connections,
            self.messages,
            self.keep_alives,
            self.stalls,
            self.cut_off,
            self.oversized,
            self.undelivered,
            self.disconnect_notices,
            self.in_band_errors,
            self.duplicates,
            self.backfills,
            self.network_failures,
            self.http_failures,
            self.rate_limited
        )
    }
}

/// The credentials `config.api` needs, from the environment or a `.env` file in the working
/// directory (which never overrides the environment).
pub fn credentials(config: &StreamConfig) -> Result<Auth, StreamError> {
    credentials::load_dotenv();
    Auth::for_api(config.api, &credentials::from_env)
}

fn runtime() -> Result<tokio::runtime::Runtime, StreamError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StreamError::Rules(format!("starting the async runtime: {e}")))
}

/// Syncs the v2 rules with `config.track` before streaming, retrying what the stream itself would
/// retry (the rules API unreachable, a 5xx, a 429) with the stream's backoff; SIGINT/SIGTERM
/// (`stop`) interrupt the request and the waits. False when stopped before the rules were in place.
pub fn rules_in_place(
    config: &StreamConfig,
    bearer: &Secret,
    stop: &AtomicBool,
    sleeper: &impl Sleep,
) -> Result<bool, StreamError> {
    runtime()?.block_on(async {
        let mut backoff = Backoff::default();
        loop {
            let synced = tokio::select! {
                synced = sync_rules(config, bearer, false) => synced,
                () = stopped(stop) => return Ok(false),
            };
            let failure = match &synced {
                Ok(_) => return Ok(true),
                Err(StreamError::Request { .. }) => Failure::Network,
                Err(StreamError::RulesStatus { status: 429, .. }) => Failure::RateLimited,
                Err(StreamError::RulesStatus { status, .. }) if *status >= 500 || *status == 408 => {
                    Failure::Http
                }
                Err(_) => return synced.map(|_| true),
            };
            let delay = backoff.failed(failure);
            if let Err(error) = &synced {
                tracing::warn!(%error, delay_ms = delay.as_millis() as u64, "cannot sync the stream rules; trying again");
            }
            tokio::select! {
                () = sleeper.sleep(delay) => {}
                () = stopped(stop) => return Ok(false),
            }
        }
    })
}

/// What `--dry-run` shows: the rule change v2 would make, or the request v1 would send.
pub fn dry_run(config: &StreamConfig) -> Result<String, StreamError> {
    let auth = credentials(config)?;
    let Auth::Bearer(token) = &auth else {
        return Ok(format!(
            "would POST {}/1.1/statuses/filter.json with track={}\n",
            config.base.trim_end_matches('/'),
            config.track.join(",")
        ));
    };
    let plan = runtime()?.block_on(sync_rules(config, token, true))?;
    let mut text = format!("stream rules (tag {}), dry run:\n", config.rule_tag);
    for value in &plan.add {
        text += &format!("  add    {value}\n");
    }
    for rule in &plan.delete {
        text += &format!(
            "  delete {} (id {})\n",
            rule.value,
            rule.id.as_deref().unwrap_or("?")
        );
    }
    for rule in &plan.foreign {
        text += &format!("  keep   {} (tag {:?}, not ours)\n", rule.value, rule.tag);
    }
    if plan.is_empty() {
        text += "  nothing to change\n";
    }
    Ok(text)
}

/// How one connection ended.
enum End {
    Stopped,
    /// The server ended the body cleanly (the end of a recovery).
    Finished,
    /// The server closed the body, a read failed, or X asked us to reconnect.
    Dropped(String),
    /// X said there are too many connections (a v2 in-band `ConnectionException`).
    RateLimited(String),
    Stalled,
    /// X closed the stream for a reason reconnecting cannot fix.
    Fatal(StreamError),
}

/// Resolves once `stop` is set; the binary's signal handlers set it.
async fn stopped(stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Rules requests are small: anything slower than this is a dead connection.
const RULES_TIMEOUT: Duration = Duration::from_secs(30);

/// An error body is read up to here, for its message; X's are a few hundred bytes.
const ERROR_BODY_BYTES: usize = 64 << 10;

/// Syncs the v2 rules with `--track` (only reports with `dry_run`).
pub async fn sync_rules(
    config: &StreamConfig,
    bearer: &Secret,
    dry_run: bool,
) -> Result<RulePlan, StreamError> {
    let client = http_client(config, Some(RULES_TIMEOUT))?;
    let url = config.url("/2/tweets/search/stream/rules")?;
    RulesApi {
        client: &client,
        url,
        bearer,
    }
    .sync(&config.track, &config.rule_tag, dry_run)
    .await
}

/// `timeout` bounds whole requests; the stream's client has none (it reads for weeks) and relies
/// on its own waits instead: for the response head, and between chunks (the stall timeout).
fn http_client(
    config: &StreamConfig,
    timeout: Option<Duration>,
) -> Result<reqwest::Client, StreamError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(config.connect_timeout)
        // A peer that vanished without a FIN is noticed by the OS, not only by the stall timer.
        .tcp_keepalive(Duration::from_secs(30))
        .user_agent(concat!("tweetflow/", env!("CARGO_PKG_VERSION")));
    if let Some(timeout) = timeout {
        builder = builder.timeout(timeout);
    }
    builder.build().map_err(|e| StreamError::Base {
        url: config.shown_base(),
        reason: format!("cannot build an HTTP client: {e}"),
    })
}

/// The start of an error response's body, read while listening for `stop` and within `limit`.
async fn error_body(
    response: &mut reqwest::Response,
    stop: &AtomicBool,
    limit: Duration,
) -> String {
    let mut body = Vec::new();
    let read = async {
        while body.len() < ERROR_BODY_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
    };
    tokio::select! {
        _ = tokio::time::timeout(limit, read) => {}
        () = stopped(stop) => {}
    }
    body.truncate(ERROR_BODY_BYTES);
    String::from_utf8_lossy(&body).into_owned()
}

/// Streams until `stop` is set or a fatal error (credentials refused, a request X will never
/// accept, the sink failing), counting into `stats` — which the caller keeps either way, so a
/// summary survives a fatal error. Rules are expected in place already (see [`sync_rules`]).
pub async fn run(
    config: &StreamConfig,
    auth: &Auth,
    sink: &mut dyn MessageSink,
    stop: &AtomicBool,
    sleeper: &impl Sleep,
    stats: &mut StreamStats,
) -> Result<(), StreamError> {
    run_with(config, auth, sink, stop, sleeper, stats, seen(config)).await
}

/// The ids a run of `config` remembers to drop duplicates: none without a backfill or a
/// recovery; for a backfill those of its reach, for a recovery those of the whole run.
pub fn seen(config: &StreamConfig) -> Option<Seen> {
    match (config.recover, config.backfill) {
        (Some(_), _) => Some(Seen::new(None)),
        (None, true) => Some(Seen::new(Some(BACKFILL_HORIZON))),
        (None, false) => None,
    }
}

/// [`run`], dropping the tweets whose ids `seen` holds (for a recovery: what the topic holds of
/// the period already).
pub async fn run_with(
    config: &StreamConfig,
    auth: &Auth,
    sink: &mut dyn MessageSink,
    stop: &AtomicBool,
    sleeper: &impl Sleep,
    stats: &mut StreamStats,
    mut seen: Option<Seen>,
) -> Result<(), StreamError> {
    let client = http_client(config, None)?;
    let stream_url = config.stream_url()?;
    let api = config.api.name();
    let mut backoff = Backoff::default();
    let mut framer = Framer::default();
    let mut delay = Duration::ZERO;
    // When the stream last sent anything (a backfill covers the gap from there).
    let mut last_alive: Option<(Instant, SystemTime)> = None;
    // The start of a gap too long for a backfill, reported with its end once connected again.
    let mut long_gap: Option<SystemTime> = None;
    // X refused backfill_minutes (no Enterprise access): the stream goes on without.
    let mut backfill = config.backfill;
    loop {
        sink.observe(stats, false);
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
            return Ok(());
        }
        let mut url = stream_url.clone();
        if let Some(recover) = config.recover {
            url.query_pairs_mut()
                .append_pair("start_time", &rfc3339_seconds(recover.from_ms))
                .append_pair("end_time", &rfc3339_seconds(recover.to_ms));
        }
        let mut asked_backfill = false;
        if config.recover.is_none()
            && backfill
            && let Some((alive, alive_wall)) = last_alive
        {
            match backfill_minutes(alive.elapsed()) {
                Some(minutes) => {
                    url.query_pairs_mut()
                        .append_pair("backfill_minutes", &minutes.to_string());
                    asked_backfill = true;
                    stats.backfills += 1;
                    tracing::info!(api, minutes, "reconnecting with a backfill of the gap");
                }
                None => {
                    long_gap.get_or_insert(alive_wall);
                }
            }
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
        // A server (or proxy) that accepts and never answers must not hold the stream forever.
        let sent = tokio::select! {
            sent = tokio::time::timeout(config.stall_timeout, request.send()) => sent,
            () = stopped(stop) => return Ok(()),
        };
        let mut response = match sent {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => {
                stats.network_failures += 1;
                delay = backoff.failed(Failure::Network);
                tracing::warn!(api, error = %e.without_url(), "cannot connect");
                continue;
            }
            Err(_) => {
                stats.network_failures += 1;
                delay = backoff.failed(Failure::Network);
                tracing::warn!(
                    api,
                    timeout_s = config.stall_timeout.as_secs_f64(),
                    "no response"
                );
                continue;
            }
        };
        let status = response.status().as_u16();
        if status != 200 {
            let body = error_body(&mut response, stop, config.stall_timeout).await;
            let said = detail(&body);
            if asked_backfill && matches!(status, 400 | 403) {
                // Backfill needs Enterprise access; the live stream must not end for it.
                backfill = false;
                delay = Duration::ZERO;
                tracing::warn!(api, status, detail = %said, "X refused backfill_minutes (it needs Enterprise access): reconnecting without; gaps are logged with the --recover period instead");
                continue;
            }
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
        if let Some(from) = long_gap.take() {
            let (from, to) = (
                rfc3339_seconds(unix_ms(from)),
                rfc3339_seconds(unix_ms(SystemTime::now())),
            );
            tracing::warn!(api, %from, %to, "the stream was away for longer than a backfill covers (5 minutes): its tweets can be fetched with `tweet-producer stream --recover {from}..{to}`");
        }
        let opened = std::time::Instant::now();
        tracing::info!(api, connection, "connected");
        sink.observe(stats, true);

        let mut read = Connection {
            api,
            connection,
            auth,
            limit_track: 0,
            any_bytes: false,
            last_alive: None,
            messages: 0,
            end: None,
            stop,
        };
        let end = read
            .read(response, config, &mut framer, stats, sink, &mut seen)
            .await?;
        if read.last_alive.is_some() {
            last_alive = read.last_alive;
        }
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
        let lived = opened.elapsed();
        let end = match end {
            // A recovery re-streams its period, then disconnects.
            End::Finished if config.recover.is_some() => {
                tracing::info!(api, "recovery complete");
                return Ok(());
            }
            End::Finished => End::Dropped("closed by the server".to_owned()),
            end => end,
        };
        delay = match end {
            End::Stopped | End::Finished => return Ok(()),
            End::Fatal(error) => return Err(error),
            End::RateLimited(why) => {
                stats.rate_limited += 1;
                tracing::warn!(api, connection, %why, "too many connections");
                backoff.failed(Failure::RateLimited)
            }
            End::Stalled | End::Dropped(_) if !read.any_bytes => {
                stats.network_failures += 1;
                tracing::warn!(api, connection, "the stream ended before sending anything");
                backoff.failed(Failure::Network)
            }
            End::Stalled => {
                stats.stalls += 1;
                tracing::warn!(
                    api,
                    connection,
                    timeout_s = config.stall_timeout.as_secs_f64(),
                    "no data, not even keep-alives: reconnecting"
                );
                backoff.dropped(lived, read.messages)
            }
            End::Dropped(why) => {
                tracing::warn!(api, connection, %why, "stream ended");
                backoff.dropped(lived, read.messages)
            }
        };
    }
}

/// The state of one connection.
struct Connection<'a> {
    api: &'static str,
    connection: u64,
    auth: &'a Auth,
    /// v1.1's `limit.track` counts since the connection opened: only increases are new.
    limit_track: u64,
    any_bytes: bool,
    /// When the connection last sent anything.
    last_alive: Option<(Instant, SystemTime)>,
    messages: u64,
    /// Set when a message ends the connection (a disconnect notice, an in-band error).
    end: Option<End>,
    stop: &'a AtomicBool,
}

impl Connection<'_> {
    async fn read(
        &mut self,
        mut response: reqwest::Response,
        config: &StreamConfig,
        framer: &mut Framer,
        stats: &mut StreamStats,
        sink: &mut dyn MessageSink,
        seen: &mut Option<Seen>,
    ) -> Result<End, StreamError> {
        let stop = self.stop;
        loop {
            let chunk = tokio::select! {
                chunk = tokio::time::timeout(config.stall_timeout, response.chunk()) => chunk,
                () = stopped(stop) => return Ok(End::Stopped),
            };
            let bytes = match chunk {
                Err(_) => return Ok(End::Stalled),
                Ok(Err(e)) => return Ok(End::Dropped(e.without_url().to_string())),
                Ok(Ok(None)) => return Ok(End::Finished),
                Ok(Ok(Some(bytes))) => bytes,
            };
            self.any_bytes = true;
            self.last_alive = Some((Instant::now(), SystemTime::now()));
            framer
                .push(&bytes, |frame| self.frame(frame, stats, sink, seen))
                .map_err(StreamError::Sink)?;
            if let Some(end) = self.end.take() {
                return Ok(end);
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
        seen: &mut Option<Seen>,
    ) -> Result<(), BoxError> {
        let message = match frame {
            Frame::KeepAlive => {
                stats.keep_alives += 1;
                sink.observe(stats, true);
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
        self.messages += 1;
        if stats.messages.is_multiple_of(256) {
            sink.observe(stats, true);
        }
        let classified = tweet::classify(message);
        if let (Some(seen), Message::Tweet(tweet)) = (seen.as_mut(), &classified)
            && let Some(id) = tweet.id.as_deref()
            && !seen.first(id, Instant::now())
        {
            stats.duplicates += 1;
            return Ok(());
        }
        self.inspect(&classified, message, stats);
        let position = format!(
            "{} connection {}, message {}",
            self.api, self.connection, stats.messages
        );
        sink.message(message, &position)
    }

    /// Acts on what the stream says about itself.
    fn inspect(&mut self, classified: &Message<'_>, message: &[u8], stats: &mut StreamStats) {
        match *classified {
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
                let notice = json_value(message, "disconnect");
                tracing::warn!(api = self.api, %notice, "disconnect notice: X is closing the stream");
                self.end = Some(self.disconnect(&notice));
            }
            Message::Notice {
                kind: NoticeKind::Warning,
                ..
            } => {
                let warning = json_value(message, "warning");
                tracing::warn!(api = self.api, %warning, "warning from X");
            }
            Message::Rejected(_) => {
                // v2 sends problems as `{"errors": [...]}` objects in the stream.
                let errors = json_value(message, "errors");
                let Some(errors) = errors.as_array() else {
                    return;
                };
                stats.in_band_errors += 1;
                for error in errors {
                    tracing::warn!(api = self.api, %error, "error in the stream");
                    let text = |k: &str| error.get(k).and_then(|v| v.as_str()).unwrap_or("");
                    let title = text("title");
                    if title == "ConnectionException"
                        || text("connection_issue") == "TooManyConnections"
                    {
                        self.end =
                            Some(End::RateLimited(format!("X: {title}: {}", text("detail"))));
                    } else if title.contains("disconnect") || error.get("disconnect_type").is_some()
                    {
                        self.end.get_or_insert(End::Dropped(format!("X: {title}")));
                    }
                }
            }
            _ => {}
        }
    }

    /// v1.1's disconnect codes: most mean "reconnect"; a few mean reconnecting cannot help.
    fn disconnect(&self, notice: &serde_json::Value) -> End {
        let code = notice.get("code").and_then(|c| c.as_u64()).unwrap_or(0);
        let reason = notice
            .get("reason")
            .and_then(|r| r.as_str())
            .unwrap_or("")
            .to_owned();
        match code {
            // Duplicate stream, admin logout: another client streams with these credentials;
            // reconnecting would only knock it off in turn.
            2 | 7 => End::Fatal(StreamError::Closed {
                code,
                reason,
                hint: "another client is streaming with the same credentials; stop one of them",
            }),
            // Token revoked.
            6 => End::Fatal(StreamError::Unauthorized {
                status: 401,
                check: self.auth.check(),
                detail: format!("disconnect code {code}: {reason}"),
            }),
            _ => End::Dropped(format!("disconnect notice {code}: {reason}")),
        }
    }
}

fn json_value(message: &[u8], key: &str) -> serde_json::Value {
    serde_json::from_slice::<serde_json::Value>(message)
        .ok()
        .and_then(|mut v| v.get_mut(key).map(serde_json::Value::take))
        .unwrap_or_default()
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `YYYY-MM-DDTHH:mm:ssZ`, the form X's `start_time` and `end_time` take.
pub fn rfc3339_seconds(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}
