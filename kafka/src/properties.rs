//! librdkafka properties given by the user (`-X key=value`): parsed here, and redacted wherever
//! they are printed, since they carry SASL passwords and key material.

use std::fmt;

use thiserror::Error;

/// Parts of a property name that mark its value as a secret (`sasl.password`,
/// `ssl.key.password`, `sasl.oauthbearer.client.secret`, `…token…`, and librdkafka's
/// `sasl.oauthbearer.config`, which holds credentials too). Over-matching (`ssl.key.location` is
/// only a path) costs a `[redacted]` in a log line; under-matching would leak a credential.
const SENSITIVE: [&str; 6] = [
    "password",
    "secret",
    "key",
    "token",
    "credential",
    "oauthbearer.config",
];

/// Whether the value of the property `name` must never be printed.
pub fn is_sensitive(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SENSITIVE.iter().any(|word| name.contains(word))
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PropertyError {
    /// The text is shown only when it cannot hold a secret.
    #[error("-X {0} is not of the form key=value")]
    NotKeyValue(String),
}

/// `key=value`, as `-X` takes it (the key is trimmed, the value kept as given).
pub fn parse_property(s: &str) -> Result<(String, String), PropertyError> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(PropertyError::NotKeyValue(if is_sensitive(s) {
            "(a property naming a secret; its text is not shown)".to_owned()
        } else {
            format!("{s:?}")
        })),
    }
}

/// Every `key=value` of a repeatable flag. The flags take plain strings and are parsed here, not
/// by clap: clap's own error would quote the argument, secret and all.
pub fn parse_properties(given: &[String]) -> Result<Properties, PropertyError> {
    given.iter().map(|s| parse_property(s)).collect()
}

/// Properties in the order given; librdkafka takes the last value of a key.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Properties(Vec<(String, String)>);

impl Properties {
    pub fn new() -> Properties {
        Properties::default()
    }

    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.0.push((key.into(), value.into()));
    }

    /// The value that takes effect for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// These properties, then `later` (which wins where both set a key).
    pub fn then(&self, later: &Properties) -> Properties {
        Properties(self.0.iter().chain(&later.0).cloned().collect())
    }
}

impl FromIterator<(String, String)> for Properties {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Properties {
        Properties(iter.into_iter().collect())
    }
}

/// A value as it may be printed.
pub(crate) struct Shown<'a> {
    pub key: &'a str,
    pub value: &'a str,
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_sensitive(self.key) {
            f.write_str("[redacted]")
        } else {
            f.write_str(self.value)
        }
    }
}

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_sensitive(self.key) {
            f.write_str("[redacted]")
        } else {
            fmt::Debug::fmt(self.value, f)
        }
    }
}

impl fmt::Debug for Properties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.0
                    .iter()
                    .map(|(key, value)| (key, Shown { key, value })),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_reach_debug_output() {
        let props: Properties = [
            ("sasl.password", "hunter2"),
            ("ssl.key.password", "k3y"),
            ("sasl.oauthbearer.client.secret", "s3cret"),
            ("SASL.OAUTHBEARER.TOKEN.ENDPOINT.URL", "https://t"),
            ("sasl.oauthbearer.config", "principal=p secret=conf1g"),
            ("queued.min.messages", "5000"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let shown = format!("{props:?} {props:#?}");
        for secret in ["hunter2", "k3y", "s3cret", "https://t", "conf1g"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(
            shown.contains("\"queued.min.messages\": \"5000\""),
            "{shown}"
        );
    }

    #[test]
    fn parsing() {
        assert_eq!(
            parse_property(" acks =all=1"),
            Ok(("acks".to_owned(), "all=1".to_owned()))
        );
        assert!(parse_property("=x").is_err());
        let err = parse_property("sasl.password:hunter2")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        let err = parse_property("acks").unwrap_err().to_string();
        assert!(err.contains("\"acks\""), "{err}");
    }

    #[test]
    fn a_list_is_parsed_without_quoting_a_bad_secret() {
        let given = ["acks=all".to_owned(), "sasl.password hunter2".to_owned()];
        let err = parse_properties(&given).unwrap_err().to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert_eq!(
            parse_properties(&given[..1]).unwrap().get("acks"),
            Some("all")
        );
    }

    #[test]
    fn later_properties_win() {
        let mut a = Properties::new();
        a.set("acks", "1");
        let mut b = Properties::new();
        b.set("acks", "all");
        assert_eq!(a.then(&b).get("acks"), Some("all"));
        assert_eq!(b.then(&a).get("acks"), Some("1"));
    }
}
