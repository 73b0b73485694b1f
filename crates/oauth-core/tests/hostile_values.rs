//! Values no honest server or file holds: lifetimes of 2^64-1 seconds, expiries past year
//! 9999, files that never end. Each is clamped or a typed error, never a panic.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use oauth_core::blocking::TokenStore;
use oauth_core::clock::{format_rfc3339, max_time};
use oauth_core::exchange::{Exchange, Input, Step};
use oauth_core::source::{Refresh, RefreshContext, TokenSource};
use oauth_core::store::{FileStore, StoredToken};
use oauth_core::{AuthorizedUser, Error, ManualClock, RetryPolicy, TokenResponse};
use proptest::prelude::*;

fn user_json(expiry: &str) -> String {
    serde_json::json!({
        "client_id": "id", "client_secret": "s", "refresh_token": "r",
        "token_uri": "http://127.0.0.1:9/token", "token": "ya29.file", "expiry": expiry,
    })
    .to_string()
}

#[test]
fn file_expiries_outside_1970_to_9999_are_errors_naming_the_field() {
    for bad in [
        "10000-01-01T00:00:00Z",
        "+10000-01-01T00:00:00Z",
        "99999-12-31T23:59:59Z",
        "1969-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "-0001-01-01T00:00:00Z",
        "2024-13-01T00:00:00Z",
        "2024-01-01T25:00:00Z",
        "18446744073709551615",
        "",
    ] {
        let e = AuthorizedUser::from_json(user_json(bad).as_bytes(), "u.json").unwrap_err();
        let m = e.to_string();
        assert!(matches!(e, Error::InvalidField { .. }), "{bad}: {m}");
        assert!(m.contains("u.json") && m.contains("`expiry`"), "{bad}: {m}");
    }
    for good in [
        "9999-12-31T23:59:59Z",
        "1970-01-01T00:00:00Z",
        "2024-05-01T12:00:00.123456Z",
    ] {
        let u = AuthorizedUser::from_json(user_json(good).as_bytes(), "u.json").unwrap();
        // And it is written back as it was read (to the second).
        let back: serde_json::Value = serde_json::from_str(&u.to_json()).unwrap();
        assert_eq!(
            back["expiry"],
            good.split('.')
                .next()
                .unwrap()
                .trim_end_matches('Z')
                .to_owned()
                + "Z"
        );
    }
}

fn ctx() -> RefreshContext {
    RefreshContext {
        clock: Arc::new(ManualClock::new(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        )),
        margin: Duration::from_secs(225),
        retry: RetryPolicy::none(),
    }
}

/// A refresh whose answer says the token lasts 2^64-1 seconds: the expiry is clamped to
/// 9999-12-31T23:59:59Z, which the written file holds (google-auth reads it back).
#[test]
fn a_refresh_lasting_forever_is_written_back_as_year_9999() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user.json");
    std::fs::write(&path, user_json("2020-01-01T00:00:00Z")).unwrap();
    let u = AuthorizedUser::from_file(&path).unwrap();
    let store = FileStore::new(&path);
    let ctx = ctx();
    for expires_in in [
        "18446744073709551615",
        "1e300",
        "\"99999999999999999999999\"",
    ] {
        let Refresh::Exchange(mut exchange) = u.begin_refresh(&ctx, None).unwrap() else {
            panic!("expected an exchange")
        };
        assert!(matches!(exchange.step(Input::Start), Step::Send(_)));
        let body = format!(r#"{{"access_token":"ya29.forever","expires_in":{expires_in}}}"#);
        let resp = http::Response::builder()
            .status(200)
            .body(body.into())
            .unwrap();
        let Step::Done(Ok(tr)) = exchange.step(Input::Response(Ok(resp))) else {
            panic!("{expires_in}")
        };
        let t = u.finish_refresh(tr, &ctx).unwrap();
        assert_eq!(t.expiry, Some(max_time()));
        TokenStore::save(&store, &u.store_key(), &StoredToken::new(t)).unwrap();
        let back: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(back["expiry"], "9999-12-31T23:59:59Z", "{expires_in}");
        // The file reads back.
        AuthorizedUser::from_file(&path).unwrap();
    }
}

#[cfg(unix)]
#[test]
fn special_and_huge_credential_files_are_typed_errors() {
    let e = AuthorizedUser::from_file("/dev/zero").unwrap_err();
    assert!(
        matches!(
            e,
            Error::FileTooLarge {
                limit: 1_048_576,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("/dev/zero"), "{e}");
    let e = oauth_core::ClientSecrets::from_file("/dev/urandom").unwrap_err();
    assert!(matches!(e, Error::FileTooLarge { .. }), "{e:?}");
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    let mut text = String::from("{\"client_id\":\"");
    text.push_str(&"x".repeat(2 << 20));
    text.push_str("\"}");
    std::fs::write(&big, text).unwrap();
    let e = AuthorizedUser::from_file(&big).unwrap_err();
    assert!(matches!(e, Error::FileTooLarge { .. }), "{e:?}");
    assert!(e.to_string().contains("big.json"), "{e}");
}

/// Any `expires_in` a server may send.
fn expires_in() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
        any::<u128>().prop_map(|n| format!("\"{n}\"")),
        "[0-9]{1,60}",
        "\"[0-9]{1,60}\"",
        "\"[-+ .eE0-9a-zA-Z]{0,12}\"",
        Just("null".to_owned()),
        Just("[]".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn any_expires_in_is_clamped_or_refused(value in expires_in(), secs_now in 0u64..400_000_000_000) {
        let body = format!(r#"{{"access_token":"ya29.p","expires_in":{value}}}"#);
        let resp = http::Response::builder().status(200).body(body.into()).unwrap();
        let now = oauth_core::clock::add_clamped(SystemTime::UNIX_EPOCH, Duration::from_secs(secs_now));
        match TokenResponse::parse("https://t/token", &resp) {
            Ok(t) => {
                let token = t.to_token(now);
                if let Some(exp) = token.expiry {
                    prop_assert!(exp <= max_time().max(now));
                    let shown = format_rfc3339(exp);
                    prop_assert!(shown.len() == 20, "{}", shown);
                }
                let _ = token.is_fresh(now, Duration::MAX);
            }
            Err(e) => {
                let typed = matches!(e, Error::MalformedResponse { .. } | Error::Http { .. });
                prop_assert!(typed, "{:?}", e);
            }
        }
    }
}

/// URL-ish text built from the pieces that trip trust checks.
fn url_text() -> impl Strategy<Value = (String, String)> {
    let pieces = prop::sample::select(vec![
        "https://",
        "http://",
        "HTTPS://",
        "ftp://",
        "//",
        "@",
        ":",
        "[",
        "]",
        ".",
        "..",
        "%2e",
        "%40",
        "\\",
        "/",
        "?",
        "#",
        " ",
        "\t",
        "\n",
        "\u{3002}",
        "\u{ff0e}",
        "\u{2024}",
        "googleapis.com",
        "oauth2.",
        "GOOGLEAPIS.COM",
        "accounts.google.com",
        "google.com",
        "evil.example",
        "com",
        "127.0.0.1",
        "127.1",
        "0x7f.1",
        "2130706433",
        "0.0.0.0",
        "::1",
        "::",
        "::ffff:127.0.0.1",
        "localhost",
        "LOCALHOST",
        "xn--",
        "gооgleapis",
        "partner.example",
        ":443",
        ":80",
        "user",
        "pw",
        "/token",
    ]);
    let universe = prop::sample::select(vec![
        "",
        ".",
        "com",
        "example",
        "evil.example",
        "googleapis.com",
        "googleapis.com.evil.example",
        "EVIL.EXAMPLE.",
        "partner.example",
    ]);
    (
        universe.prop_map(str::to_owned),
        prop::collection::vec(pieces, 1..12).prop_map(|v| v.concat()),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5000, ..ProptestConfig::default() })]

    /// Whatever the file says, an accepted endpoint is one the program's policy trusts by
    /// itself: the file's universe never counts.
    #[test]
    fn accepted_endpoints_are_trusted_without_the_files_universe((universe, url) in url_text()) {
        let policy = oauth_core::EndpointPolicy::default().allow_universe("partner.example");
        match policy.check("f", "token_uri", &url, Some(&universe)) {
            Ok(u) => {
                let host = u.host_str().unwrap_or_default();
                prop_assert!(policy.trusts_host(host), "{} accepted via {}", url, universe);
                prop_assert!(u.username().is_empty() && u.password().is_none());
                let loopback = u.host().is_some_and(|h| oauth_core::endpoint::is_loopback(&h));
                prop_assert!(u.scheme() == "https" || loopback, "{}", u);
                let google = host.trim_end_matches('.').ends_with(".googleapis.com")
                    || host.trim_end_matches('.') == "googleapis.com"
                    || host.trim_end_matches('.') == "accounts.google.com";
                let partner = host.trim_end_matches('.').ends_with("partner.example");
                prop_assert!(google || loopback || partner, "{} accepted as {}", url, host);
            }
            Err(e) => {
                prop_assert!(!e.to_string().chars().any(oauth_core::sanitize::is_unsafe_char));
            }
        }
    }
}
