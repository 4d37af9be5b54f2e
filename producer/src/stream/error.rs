//! Errors that end a stream run. Everything else (network trouble, 5xx, rate limits, stalls) is
//! retried by the reconnect policy and only logged.

use thiserror::Error;

use super::credentials::CredentialError;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Error)]
pub enum StreamError {
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    /// 401/403: retrying cannot help; the message names what to check, never its value.
    #[error("X refused the credentials (HTTP {status}): check {check}. X said: {detail}")]
    Unauthorized {
        status: u16,
        check: String,
        detail: String,
    },
    /// A request X will refuse however often it is sent (400, 404, 406, 413, 416).
    #[error("{url} answered HTTP {status}, which retrying cannot fix: {detail}")]
    Refused {
        url: String,
        status: u16,
        detail: String,
    },
    /// A v1.1 disconnect notice that reconnecting cannot fix.
    #[error("X closed the stream (disconnect code {code}: {reason}): {hint}")]
    Closed {
        code: u64,
        reason: String,
        hint: &'static str,
    },
    #[error("stream rules: {0}")]
    Rules(String),
    /// The rules endpoint answered an error status; 5xx and 429 are retried.
    #[error("stream rules: {url} answered HTTP {status}: {detail}")]
    RulesStatus {
        url: String,
        status: u16,
        detail: String,
    },
    #[error("cannot reach {url}: {source}")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("cannot use API base {url:?}: {reason}")]
    Base { url: String, reason: String },
    #[error("writing a message: {0}")]
    Sink(#[source] BoxError),
}

impl StreamError {
    pub(crate) fn request(url: &reqwest::Url, source: reqwest::Error) -> StreamError {
        StreamError::Request {
            url: url.to_string(),
            source: source.without_url(),
        }
    }

    pub(crate) fn unauthorized(status: u16, check: &str, body: &str) -> StreamError {
        StreamError::Unauthorized {
            status,
            check: check.to_owned(),
            detail: detail(body),
        }
    }
}

/// A short, printable account of an error body: X's `detail`/`title`, v1.1's `errors[].message`,
/// or the start of the text.
pub fn detail(body: &str) -> String {
    let field = |v: &serde_json::Value, key: &str| v.get(key)?.as_str().map(str::to_owned);
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        let found = field(&v, "detail")
            .or_else(|| field(&v, "title"))
            .or_else(|| {
                let errors = v.get("errors")?.as_array()?;
                let messages: Vec<String> = errors
                    .iter()
                    .filter_map(|e| field(e, "message").or_else(|| field(e, "detail")))
                    .collect();
                (!messages.is_empty()).then(|| messages.join("; "))
            });
        if let Some(found) = found {
            return found;
        }
    }
    let text: String = body
        .trim()
        .chars()
        .take(300)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.is_empty() {
        "(no body)".to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_of_both_apis() {
        assert_eq!(
            detail(
                r#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#
            ),
            "Unauthorized"
        );
        assert_eq!(
            detail(r#"{"errors":[{"code":32,"message":"Could not authenticate you."}]}"#),
            "Could not authenticate you."
        );
        assert_eq!(
            detail("Exceeded connection limit\r\n"),
            "Exceeded connection limit"
        );
        assert_eq!(detail(""), "(no body)");
    }
}
