//! librdkafka properties given by the user — a file (`-F`, librdkafka's properties format, as
//! kcat reads it), the environment (`TWEETFLOW_KAFKA_SASL_PASSWORD`), `-X key=value` — parsed
//! here, and redacted wherever they are printed, since they carry SASL passwords and key material.
//! Secrets belong in the file or the environment: other users of the machine can read a process's
//! command line (`/proc/PID/cmdline`), not its environment or a file of mode 600.

use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Parts of a property name that mark its value as a secret (`sasl.password`,
/// `ssl.key.password`, `sasl.oauthbearer.client.secret`, `…token…`, and librdkafka's
/// `sasl.oauthbearer.config`, which holds credentials too). Over-matching (`ssl.key.location` is
/// only a path) costs a `[redacted]` in a log line; under-matching would leak a credential.
const SENSITIVE: [&str; 9] = [
    "password",
    "passw",
    "pwd",
    "secret",
    "key",
    "token",
    "credential",
    "jaas",
    "oauthbearer.config",
];

/// Whether the value of the property `name` must never be printed.
pub fn is_sensitive(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SENSITIVE.iter().any(|word| name.contains(word))
}

#[derive(Debug, Error)]
pub enum PropertyError {
    /// The text is shown only when it cannot hold a secret.
    #[error("-X {0} is not of the form key=value")]
    NotKeyValue(String),
    #[error("cannot read the Kafka properties file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The line's text is never shown: it may hold a secret.
    #[error("{path}, line {line}: not of the form key=value (its text is not shown)")]
    FileLine { path: PathBuf, line: usize },
}

/// Variables named `TWEETFLOW_KAFKA_<NAME>` give property `<name>`, lowercased, `_` for `.`.
pub const ENV_PREFIX: &str = "TWEETFLOW_KAFKA_";

/// The properties of a file in librdkafka's format: `key=value` lines; blank lines and lines
/// starting with `#` are skipped; spaces around the key are trimmed, the value kept as written.
pub fn read_properties_file(path: &Path) -> Result<Properties, PropertyError> {
    let text = std::fs::read_to_string(path).map_err(|source| PropertyError::File {
        path: path.to_owned(),
        source,
    })?;
    let mut properties = Properties::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = parse_property(line).map_err(|_| PropertyError::FileLine {
            path: path.to_owned(),
            line: number + 1,
        })?;
        properties.set(key, value.trim_end_matches('\r'));
    }
    Ok(properties)
}

/// The properties the environment `vars` give (see [`ENV_PREFIX`]), in name order.
pub fn properties_from_env(vars: impl IntoIterator<Item = (String, String)>) -> Properties {
    let mut found: Vec<(String, String)> = vars
        .into_iter()
        .filter_map(|(name, value)| {
            let rest = name.strip_prefix(ENV_PREFIX)?;
            (!rest.is_empty()).then(|| (rest.to_ascii_lowercase().replace('_', "."), value))
        })
        .collect();
    found.sort();
    found.into_iter().collect()
}

/// The user's properties in the order they take effect: the file, then the environment, then
/// the `-X` flags (the last given wins, as in kcat).
pub fn user_properties(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    flags: &[String],
) -> Result<Properties, PropertyError> {
    let file = match file {
        Some(path) => read_properties_file(path)?,
        None => Properties::new(),
    };
    Ok(file
        .then(&properties_from_env(env))
        .then(&parse_properties(flags)?))
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
            parse_property(" acks =all=1").unwrap(),
            ("acks".to_owned(), "all=1".to_owned())
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
    fn a_file_then_the_environment_then_the_flags() {
        let dir = std::env::temp_dir().join(format!("tweetflow-props-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("client.properties");
        std::fs::write(
            &file,
            "# kcat -F format\n\nsecurity.protocol=SASL_SSL\r\n sasl.password=from-file\nacks=1\n",
        )
        .unwrap();
        let env = [
            (
                "TWEETFLOW_KAFKA_SASL_PASSWORD".to_owned(),
                "from-env".to_owned(),
            ),
            ("TWEETFLOW_KAFKA_".to_owned(), "ignored".to_owned()),
            ("HOME".to_owned(), "/root".to_owned()),
        ];
        let props = user_properties(Some(&file), env, &["acks=all".to_owned()]).unwrap();
        assert_eq!(props.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(props.get("sasl.password"), Some("from-env"));
        assert_eq!(props.get("acks"), Some("all"));
        assert_eq!(props.iter().count(), 5, "file 3, environment 1, flags 1");

        std::fs::write(&file, "sasl.password hunter2\n").unwrap();
        let err = read_properties_file(&file).unwrap_err().to_string();
        assert!(err.contains("line 1") && !err.contains("hunter2"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
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
