//! Credentials for the X API, from the environment or a `.env` file (issue 4): never from flags,
//! which other users can read in `ps`, and never printed.

use std::fmt;

use thiserror::Error;

/// The v2 app-only bearer token.
pub const BEARER_TOKEN: &str = "X_BEARER_TOKEN";
/// The four OAuth 1.0a values of the v1.1 API, in the order X's developer portal shows them.
pub const CONSUMER_KEY: &str = "TWITTER_CONSUMER_KEY";
pub const CONSUMER_SECRET: &str = "TWITTER_CONSUMER_SECRET";
pub const ACCESS_TOKEN: &str = "TWITTER_ACCESS_TOKEN";
pub const ACCESS_TOKEN_SECRET: &str = "TWITTER_ACCESS_TOKEN_SECRET";

/// A credential value. Its `Debug` and `Display` say `[redacted]`, so no log line or error message
/// can carry it by accident; [`Secret::expose`] is the one way to the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// OAuth 1.0a user-context credentials (v1.1).
#[derive(Clone, Debug)]
pub struct OAuth1 {
    pub consumer_key: Secret,
    pub consumer_secret: Secret,
    pub token: Secret,
    pub token_secret: Secret,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CredentialError {
    #[error(
        "{0} is not set: put it in the environment or in a .env file in the working directory (see README, \"Live tweets\")"
    )]
    Missing(&'static str),
    #[error("{0} is set but empty")]
    Empty(&'static str),
}

/// Loads `.env` from the working directory (or a parent) into the environment, without overriding
/// what is already set. A missing file is fine; a malformed one is reported, not fatal.
pub fn load_dotenv() {
    match dotenvy::dotenv() {
        Ok(path) => tracing::info!(path = %path.display(), "read credentials file"),
        Err(e) if e.not_found() => {}
        // dotenvy's own message quotes the offending line — a secret, most likely: say where only.
        Err(dotenvy::Error::LineParse(_, index)) => {
            tracing::warn!(
                at_character = index,
                "cannot parse .env; nothing from the bad line on is read"
            )
        }
        Err(dotenvy::Error::Io(e)) => tracing::warn!(error = %e, "cannot read .env"),
        Err(_) => tracing::warn!("cannot read .env"),
    }
}

fn var(
    name: &'static str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Secret, CredentialError> {
    match lookup(name) {
        None => Err(CredentialError::Missing(name)),
        Some(v) if v.trim().is_empty() => Err(CredentialError::Empty(name)),
        Some(v) => Ok(Secret::new(v.trim())),
    }
}

/// The bearer token, looked up with `lookup` (the environment, in the binary).
pub fn bearer(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Secret, CredentialError> {
    var(BEARER_TOKEN, lookup)
}

pub fn oauth1(lookup: &dyn Fn(&str) -> Option<String>) -> Result<OAuth1, CredentialError> {
    Ok(OAuth1 {
        consumer_key: var(CONSUMER_KEY, lookup)?,
        consumer_secret: var(CONSUMER_SECRET, lookup)?,
        token: var(ACCESS_TOKEN, lookup)?,
        token_secret: var(ACCESS_TOKEN_SECRET, lookup)?,
    })
}

/// The process environment as a lookup.
pub fn from_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_format() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        let creds = OAuth1 {
            consumer_key: s.clone(),
            consumer_secret: s.clone(),
            token: s.clone(),
            token_secret: s,
        };
        assert!(!format!("{creds:?}").contains("hunter2"));
    }

    #[test]
    fn missing_and_empty_name_the_variable() {
        let none = |_: &str| None;
        assert_eq!(
            bearer(&none).unwrap_err(),
            CredentialError::Missing(BEARER_TOKEN)
        );
        let empty = |_: &str| Some(" ".to_owned());
        assert_eq!(
            oauth1(&empty).unwrap_err(),
            CredentialError::Empty(CONSUMER_KEY)
        );
        let some = |n: &str| Some(format!(" {n}-value\n"));
        assert_eq!(
            oauth1(&some).unwrap().token_secret.expose(),
            "TWITTER_ACCESS_TOKEN_SECRET-value"
        );
    }
}
