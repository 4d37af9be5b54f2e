//! Human durations for flags such as `--disorder 500ms`: an integer and a unit (`ms`, `s`, `m`, `h`).
//!
//! Deliberately tiny and strict: a typo in a flag should fail loudly rather than be guessed at.

use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DurationError {
    #[error("empty duration: expected e.g. 500ms, 5s, 1m or 1h")]
    Empty,
    #[error("duration {0:?} has no unit: write e.g. {0}ms or {0}s")]
    MissingUnit(String),
    #[error("duration {0:?} does not start with a whole number: expected e.g. 500ms, 5s, 1m or 1h")]
    BadNumber(String),
    #[error("duration {input:?} has unknown unit {unit:?}: use ms, s, m or h")]
    UnknownUnit { input: String, unit: String },
    #[error("duration {0:?} is too large")]
    Overflow(String),
}

/// Parses `"500ms"`, `"5s"`, `"1m"`, `"2h"`; a bare `"0"` is accepted since zero needs no unit.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    if digits.is_empty() {
        return Err(DurationError::BadNumber(input.to_string()));
    }
    let n: u64 = digits
        .parse()
        .map_err(|_| DurationError::Overflow(input.to_string()))?;
    let ms_per_unit = match unit {
        "" if n == 0 => 0,
        "" => return Err(DurationError::MissingUnit(input.to_string())),
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => {
            return Err(DurationError::UnknownUnit {
                input: input.to_string(),
                unit: unit.to_string(),
            });
        }
    };
    n.checked_mul(ms_per_unit)
        .map(Duration::from_millis)
        .ok_or_else(|| DurationError::Overflow(input.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_each_unit() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration(" 3s "), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_bad_input_with_a_clear_error() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert_eq!(
            parse_duration("5"),
            Err(DurationError::MissingUnit("5".into()))
        );
        assert!(matches!(
            parse_duration("s"),
            Err(DurationError::BadNumber(_))
        ));
        assert!(matches!(
            parse_duration("-5s"),
            Err(DurationError::BadNumber(_))
        ));
        assert!(matches!(
            parse_duration("1.5s"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_duration("5 s"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_duration("5sec"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_duration("99999999999999999999s"),
            Err(DurationError::Overflow(_))
        ));
        assert!(matches!(
            parse_duration("18446744073709551615h"),
            Err(DurationError::Overflow(_))
        ));
        let msg = parse_duration("5x").unwrap_err().to_string();
        assert!(msg.contains("ms, s, m or h"), "{msg}");
    }
}
