//! Who may call: the v2 bearer token, and v1.1's OAuth 1.0a signatures, verified with the
//! `oauth1-request` crate rather than a copy of the client's signer, so that a mistake in the
//! client's signing cannot be mirrored here.

use std::num::NonZeroU64;
use std::time::{SystemTime, UNIX_EPOCH};

use percent_encoding::percent_decode;

use super::http::{Request, find_param};
use super::{Auth, Shared, lock};

/// OAuth timestamps further than this from the server's clock are rejected (as X does).
const MAX_CLOCK_SKEW_SECS: u64 = 300;

pub(super) fn bearer_ok(auth: &Auth, req: &Request) -> bool {
    let Auth::Bearer(token) = auth else {
        return false;
    };
    let Some(value) = req.header("authorization") else {
        return false;
    };
    match value.split_once(' ') {
        Some((scheme, given)) => scheme.eq_ignore_ascii_case("bearer") && given.trim() == token,
        None => false,
    }
}

/// Parses `OAuth k="v", ...` into decoded pairs; None if it is not an OAuth header or a
/// parameter is malformed or repeated.
pub(super) fn parse_oauth_header(value: &str) -> Option<Vec<(String, String)>> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("oauth") {
        return None;
    }
    let mut params: Vec<(String, String)> = Vec::new();
    for item in rest.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (key, quoted) = item.split_once('=')?;
        let raw = quoted.trim().strip_prefix('"')?.strip_suffix('"')?;
        let key = percent_decode(key.trim().as_bytes())
            .decode_utf8()
            .ok()?
            .into_owned();
        let val = percent_decode(raw.as_bytes())
            .decode_utf8()
            .ok()?
            .into_owned();
        if params.iter().any(|(k, _)| *k == key) {
            return None;
        }
        params.push((key, val));
    }
    Some(params)
}

pub(super) fn oauth1_ok(shared: &Shared, req: &Request) -> bool {
    let Auth::OAuth1 {
        consumer_key,
        consumer_secret,
        token,
        token_secret,
    } = &shared.auth
    else {
        return false;
    };
    let Some(oauth) = req.header("authorization").and_then(parse_oauth_header) else {
        return false;
    };
    let get = |name: &str| find_param(&oauth, name);
    let (Some(given), Some(nonce), Some(timestamp)) = (
        get("oauth_signature"),
        get("oauth_nonce"),
        get("oauth_timestamp"),
    ) else {
        return false;
    };
    if get("oauth_consumer_key") != Some(consumer_key.as_str())
        || get("oauth_token") != Some(token.as_str())
        || get("oauth_signature_method") != Some("HMAC-SHA1")
        || get("oauth_version").is_some_and(|v| v != "1.0")
        || nonce.is_empty()
    {
        return false;
    }
    let Ok(timestamp) = timestamp.parse::<u64>() else {
        return false;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    if now.abs_diff(timestamp) > MAX_CLOCK_SKEW_SECS {
        return false;
    }
    let Some(host) = req.header("host") else {
        return false;
    };
    let mut host = host.to_ascii_lowercase();
    if let Some(h) = host.strip_suffix(":80") {
        // RFC 5849 3.4.1.2: the default port is not part of the base URL.
        host = h.to_string();
    }
    let base_url = format!("http://{host}{}", req.path);

    let mut params = req.query.clone();
    params.extend(req.form());
    let credentials = [consumer_key.as_str(), consumer_secret, token, token_secret];
    let version = get("oauth_version").is_some();
    let Some(expected) = signature(
        &req.method,
        &base_url,
        params,
        nonce,
        timestamp,
        version,
        credentials,
    ) else {
        return false;
    };
    if expected != given {
        return false;
    }
    // Only a valid signature uses up its nonce, so a forged request cannot block a real one.
    lock(&shared.state).nonces.insert(nonce.to_string())
}

/// The HMAC-SHA1 signature `oauth1-request` gives a request with these (decoded) query and form
/// parameters, nonce and timestamp; `credentials` are the consumer key and secret and the token
/// and its secret.
pub(super) fn signature(
    method: &str,
    url: &str,
    params: Vec<(String, String)>,
    nonce: &str,
    timestamp: u64,
    version: bool,
    credentials: [&str; 4],
) -> Option<String> {
    let [consumer_key, consumer_secret, token, token_secret] = credentials;
    let token =
        oauth1_request::Token::from_parts(consumer_key, consumer_secret, token, token_secret);
    let header = oauth1_request::Builder::with_token(token, oauth1_request::HmacSha1::new())
        .nonce(nonce)
        .timestamp(NonZeroU64::new(timestamp)?)
        .version(version)
        .authorize(method, url, &oauth1_request::ParameterList::new(params));
    parse_oauth_header(&header)?
        .into_iter()
        .find(|(k, _)| k == "oauth_signature")
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    //! The verifier against X's published example, and a client signing with the same crate.
    use super::super::client::*;
    use super::super::*;
    use super::*;

    const X_CONSUMER_KEY: &str = "xvz1evFS4wEEPTGEFPHBog";
    const X_CONSUMER_SECRET: &str = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw";
    const X_TOKEN: &str = "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb";
    const X_TOKEN_SECRET: &str = "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE";

    /// X's published example from "Creating a signature" (the api.twitter.com signature is the
    /// one X published; X's page now names api.x.com, whose signature is the same computation
    /// for that host, and agrees with the client's own signer), with the parameters in the given
    /// and in reversed order.
    #[test]
    fn signature_matches_x_published_example_in_any_parameter_order() {
        let mut params = vec![
            (
                s("status"),
                s("Hello Ladies + Gentlemen, a signed OAuth request!"),
            ),
            (s("include_entities"), s("true")),
        ];
        for _ in 0..2 {
            for (url, want) in [
                (
                    "https://api.twitter.com/1.1/statuses/update.json",
                    "hCtSmYh+iHYCEqBWrE7C7hYmtUk=",
                ),
                (
                    "https://api.x.com/1.1/statuses/update.json",
                    "Ls93hJiZbQ3akF3HF3x1Bz8/zU4=",
                ),
            ] {
                let got = signature(
                    "POST",
                    url,
                    params.clone(),
                    "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
                    1_318_622_958,
                    true,
                    [X_CONSUMER_KEY, X_CONSUMER_SECRET, X_TOKEN, X_TOKEN_SECRET],
                );
                assert_eq!(got.as_deref(), Some(want), "{url}");
            }
            params.reverse();
        }
    }

    fn oauth_mock() -> MockX {
        MockX::start(Auth::OAuth1 {
            consumer_key: s("ck"),
            consumer_secret: s("cs secret"),
            token: s("tok-1"),
            token_secret: s("ts&secret"),
        })
    }

    fn now_secs() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    /// Builds an Authorization header for a v1.1 filter request as a client would.
    fn sign(
        mock: &MockX,
        form: &[(&str, &str)],
        nonce: &str,
        timestamp: u64,
        consumer_secret: &str,
    ) -> String {
        let token = oauth1_request::Token::from_parts("ck", consumer_secret, "tok-1", "ts&secret");
        let params: Vec<(String, String)> = form.iter().map(|(k, v)| (s(k), s(v))).collect();
        oauth1_request::Builder::with_token(token, oauth1_request::HmacSha1::new())
            .nonce(nonce)
            .timestamp(NonZeroU64::new(timestamp).unwrap())
            .authorize(
                "POST",
                format!("{}{V1_FILTER}", mock.base_url()),
                &oauth1_request::ParameterList::new(params),
            )
    }

    fn post_filter(mock: &MockX, authorization: &str, body: &str) -> Response {
        request(
            mock,
            "POST",
            V1_FILTER,
            &[
                ("Authorization", authorization),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            body.as_bytes(),
        )
    }

    #[test]
    fn oauth1_accepts_a_correctly_signed_request() {
        let mock = oauth_mock();
        mock.push(messages_reply(&[br#"{"id_str":"1","text":"hi"}"#]));
        let auth = sign(
            &mock,
            &[("track", "rust lang,tokio!")],
            "nonce-1",
            now_secs(),
            "cs secret",
        );
        let resp = post_filter(&mock, &auth, "track=rust+lang%2Ctokio%21");
        assert_eq!(
            resp.status,
            200,
            "{}",
            String::from_utf8_lossy(&resp.body())
        );
        assert_eq!(resp.body(), b"{\"id_str\":\"1\",\"text\":\"hi\"}\r\n");
        let req = &mock.requests()[0];
        assert_eq!(req.form(), vec![(s("track"), s("rust lang,tokio!"))]);
        assert_eq!(mock.stream_connections(), 1);
    }

    #[test]
    fn oauth1_rejects_tampering_replays_and_wrong_credentials() {
        let mock = oauth_mock();
        let now = now_secs();
        let expect_401 = |auth: &str, body: &str, why: &str| {
            let resp = post_filter(&mock, auth, body);
            assert_eq!(resp.status, 401, "{why}");
            assert_eq!(resp.json()["title"], "Unauthorized");
        };
        // Body changed after signing.
        let auth = sign(&mock, &[("track", "cats")], "n-tamper", now, "cs secret");
        expect_401(&auth, "track=dogs", "tampered body");
        // Signed with the wrong secret.
        let auth = sign(&mock, &[("track", "cats")], "n-secret", now, "wrong");
        expect_401(&auth, "track=cats", "wrong consumer secret");
        // Stale timestamp.
        let auth = sign(&mock, &[("track", "cats")], "n-old", now - 301, "cs secret");
        expect_401(&auth, "track=cats", "stale timestamp");
        // Tampered signature header field.
        let auth = sign(&mock, &[("track", "cats")], "n-field", now, "cs secret")
            .replace("oauth_token=\"tok-1\"", "oauth_token=\"tok-2\"");
        expect_401(&auth, "track=cats", "other token");
        // Not OAuth at all.
        expect_401("Bearer x", "track=cats", "bearer on v1.1");
        expect_401("OAuth garbage", "track=cats", "garbage header");
        assert_eq!(mock.stream_connections(), 0);

        // A good one passes once; its replay is refused.
        let auth = sign(&mock, &[("track", "cats")], "n-good", now, "cs secret");
        mock.push(Reply::status(200));
        assert_eq!(post_filter(&mock, &auth, "track=cats").status, 200);
        expect_401(&auth, "track=cats", "replayed nonce");
        assert_eq!(mock.stream_connections(), 1);
        // v2 endpoints are not reachable with an OAuth-configured mock.
        assert_eq!(request(&mock, "GET", V2_STREAM, &[BEARER], b"").status, 401);
    }

    #[test]
    fn oauth1_header_parsing() {
        assert_eq!(
            parse_oauth_header(r#"OAuth oauth_nonce="a%20b", oauth_token="t""#),
            Some(vec![
                (s("oauth_nonce"), s("a b")),
                (s("oauth_token"), s("t"))
            ])
        );
        assert_eq!(parse_oauth_header(r#"OAuth a="1", a="2""#), None);
        assert_eq!(parse_oauth_header(r#"OAuth a=1"#), None);
        assert_eq!(parse_oauth_header(r#"Bearer a="1""#), None);
        assert_eq!(parse_oauth_header("OAuth"), None);
    }
}
