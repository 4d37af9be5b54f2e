//! Checks the JSON parser leaves to us: sonic-rs skips ignored values without a depth limit (a deep
//! enough message would overflow the stack) and without checking `\u` escapes. The contract's
//! "valid JSON" is serde_json's, whose limits the reference implementation shares: nesting of at
//! most 127 arrays/objects, well-formed `\u` escapes, no lone surrogates.

/// serde_json refuses the 128th level of nesting.
const MAX_DEPTH: usize = 127;

/// `Err(reason)` when the message is not valid JSON for a reason the parser would miss.
pub(crate) fn check(message: &[u8]) -> Result<(), String> {
    // Most messages cannot be too deep: count the openers first, a loop the compiler vectorises.
    if count_openers(message) > MAX_DEPTH {
        check_depth(message)?;
    }
    check_escapes(message)
}

/// The number of `{` and `[` bytes. They differ only in bit 0x20, so one compare per byte finds
/// both, and per-chunk `u8` sums (at most 255 per chunk) keep the loop in SIMD registers.
fn count_openers(message: &[u8]) -> usize {
    message
        .chunks(255)
        .map(|chunk| {
            chunk
                .iter()
                .map(|&b| u8::from(b | 0x20 == b'{'))
                .sum::<u8>() as usize
        })
        .sum()
}

fn check_depth(message: &[u8]) -> Result<(), String> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in message {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(format!(
                        "invalid JSON: nested deeper than {MAX_DEPTH} levels"
                    ));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn hex4(bytes: &[u8]) -> Option<u16> {
    let digits = std::str::from_utf8(bytes.get(..4)?).ok()?;
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(digits, 16).ok()
}

fn check_escapes(message: &[u8]) -> Result<(), String> {
    let mut at = 0;
    while let Some(found) = memchr::memchr(b'\\', &message[at..]) {
        let escape = at + found + 1;
        at = escape + 1;
        match message.get(escape) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {}
            Some(b'u') => {
                let unit = hex4(&message[at..]).ok_or("invalid JSON: bad \\u escape")?;
                at += 4;
                match unit {
                    0xD800..=0xDBFF => {
                        let low = message
                            .get(at..at + 2)
                            .filter(|p| *p == b"\\u")
                            .and_then(|_| hex4(&message[at + 2..]));
                        match low {
                            Some(0xDC00..=0xDFFF) => at += 6,
                            _ => {
                                return Err(
                                    "invalid JSON: lone leading surrogate in \\u escape".into()
                                );
                            }
                        }
                    }
                    0xDC00..=0xDFFF => {
                        return Err("invalid JSON: lone trailing surrogate in \\u escape".into());
                    }
                    _ => {}
                }
            }
            _ => return Err("invalid JSON: invalid escape".into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our checks plus a parser must agree with serde_json on what is valid.
    fn serde_json_accepts(message: &[u8]) -> bool {
        serde_json::from_slice::<serde_json::Value>(message).is_ok()
    }

    #[test]
    fn depth_limit_is_serde_jsons() {
        for depth in [1, 100, 126, 127, 128, 129, 5_000] {
            let message = format!(
                "{{\"x\":{}0{}}}",
                "[".repeat(depth - 1),
                "]".repeat(depth - 1)
            );
            assert_eq!(
                check(message.as_bytes()).is_ok(),
                serde_json_accepts(message.as_bytes()),
                "depth {depth}"
            );
        }
        // brackets inside strings do not nest
        let quoted = format!("{{\"x\":\"{}\"}}", "[".repeat(1_000));
        assert!(check(quoted.as_bytes()).is_ok());
    }

    #[test]
    fn openers_are_counted_outside_and_inside_strings() {
        let message = format!("{{\"a\":[{}],\"b\":\"[{{\"}}", "{}".repeat(300));
        assert_eq!(count_openers(message.as_bytes()), 1 + 1 + 300 + 2);
        assert_eq!(count_openers(b"{}[]"), 2);
        assert_eq!(count_openers(b";{[;"), 2); // neighbours of the two bytes in ASCII
    }

    #[test]
    fn escapes_are_serde_jsons() {
        for body in [
            r#""\u00e9""#,
            r#""\uD83D\uDE00""#,
            r#""\\u12""#,
            r#""\uZZZZ""#,
            r#""\u12""#,
            r#""\uD800""#,
            r#""\uD800\u0041""#,
            r#""\uDC00""#,
            r#""\q""#,
            r#""\"\\\/\b\f\n\r\t""#,
        ] {
            let message = format!(r#"{{"text":{body}}}"#);
            assert_eq!(
                check(message.as_bytes()).is_ok(),
                serde_json_accepts(message.as_bytes()),
                "{body}"
            );
        }
    }
}
