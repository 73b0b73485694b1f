//! Answers no honest server sends, against literal responses (sans-IO): far `exp` claims,
//! endless `max-age`, huge `expires_in`, control characters and echoed secrets. Each is
//! clamped or a typed error with nothing unsafe in its message.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth_core::clock::{format_rfc3339, max_time};
use oauth_core::exchange::{Call, Exchange, Input, Step};
use oauth_core::sanitize::is_unsafe_char;
use oauth_core::source::{Refresh, RefreshContext, TokenSource};
use oauth_core::{Error as CoreError, ManualClock, RetryPolicy};
use oauth_sa::{Certs, CertsCall, IdTokenVerifier, MetadataCredentials};

fn resp(status: u16, body: &str) -> oauth_core::http::HttpResponse {
    http::Response::builder()
        .status(status)
        .header("metadata-flavor", "Google")
        .body(body.as_bytes().to_vec().into())
        .unwrap()
}

fn ctx() -> RefreshContext {
    RefreshContext {
        clock: Arc::new(ManualClock::new(
            UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        )),
        margin: Duration::ZERO,
        retry: RetryPolicy::none(),
    }
}

fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

/// Drives a source's refresh against one literal answer.
fn refresh_with(
    source: &dyn TokenSource,
    answer: oauth_core::http::HttpResponse,
) -> Result<oauth_core::Token, CoreError> {
    let ctx = ctx();
    let Refresh::Exchange(mut exchange) = source.begin_refresh(&ctx, None)? else {
        panic!("expected an exchange")
    };
    assert!(matches!(exchange.step(Input::Start), Step::Send(_)));
    match exchange.step(Input::Response(Ok(answer))) {
        Step::Done(Ok(r)) => source.finish_refresh(r, &ctx),
        Step::Done(Err(e)) => Err(e),
        other => panic!("{other:?}"),
    }
}

#[test]
fn id_token_exp_claims_of_any_size_are_clamped() {
    let m = MetadataCredentials::with_host("127.0.0.1:1").id_token_credentials("https://aud");
    for (exp, want) in [
        ("9223372036854775807", max_time()),
        ("18446744073709551615", max_time()),
        ("1e300", max_time()),
        ("253402300800", max_time()),
        ("-9223372036854775808", UNIX_EPOCH),
        ("-1", UNIX_EPOCH),
    ] {
        let jwt = format!("{}.{}.c2ln", b64("{}"), b64(&format!("{{\"exp\":{exp}}}")));
        let t = refresh_with(&m, resp(200, &jwt)).unwrap_or_else(|e| panic!("{exp}: {e}"));
        assert_eq!(t.expiry, Some(want), "{exp}");
        let _ = format_rfc3339(t.expiry.unwrap());
    }
}

#[test]
fn metadata_lifetimes_of_any_size_are_clamped() {
    let m = MetadataCredentials::with_host("127.0.0.1:1");
    for expires_in in ["18446744073709551615", "9223372036854775807", "1e300"] {
        let body = format!(r#"{{"access_token":"ya29.m","expires_in":{expires_in}}}"#);
        let t = refresh_with(&m, resp(200, &body)).unwrap();
        assert_eq!(t.expiry, Some(max_time()), "{expires_in}");
    }
    for bad in ["-1", "\"NaN\"", "\"-5\"", "{}"] {
        let body = format!(r#"{{"access_token":"ya29.m","expires_in":{bad}}}"#);
        let e = refresh_with(&m, resp(200, &body)).unwrap_err();
        assert!(
            matches!(e, CoreError::MalformedResponse { .. }),
            "{bad}: {e}"
        );
    }
}

#[test]
fn metadata_text_answers_with_control_characters_are_refused() {
    let m = MetadataCredentials::with_host("127.0.0.1:1");
    for body in ["proj\x1b]0;owned\x07", "proj\r\nX: y", "proj\u{202e}dorp"] {
        let e = m.project_id_call().parse(resp(200, body)).unwrap_err();
        assert!(matches!(e, CoreError::MalformedResponse { .. }), "{e}");
        assert!(!e.to_string().chars().any(is_unsafe_char), "{e}");
        let e = m.email_call().parse(resp(200, body)).unwrap_err();
        assert!(matches!(e, CoreError::MalformedResponse { .. }), "{e}");
    }
    assert_eq!(
        m.project_id_call()
            .parse(resp(200, " my-project\n"))
            .unwrap(),
        "my-project"
    );
    let id = m.id_token_credentials("a");
    let e = refresh_with(&id, resp(200, "e30.e30\x1b[2J.c2ln")).unwrap_err();
    assert!(matches!(e, CoreError::MalformedResponse { .. }), "{e}");
}

#[test]
fn certificates_cached_for_ever_do_not_overflow_the_clock() {
    let v = IdTokenVerifier::new("aud").with_clock(Arc::new(ManualClock::new(SystemTime::now())));
    for age in ["18446744073709551615", "9223372036854775807"] {
        let r = http::Response::builder()
            .status(200)
            .header("cache-control", format!("max-age={age}"))
            .body(br#"{"keys": []}"#.to_vec().into())
            .unwrap();
        let fetched = CertsCall::new("http://127.0.0.1:1/c".parse().unwrap())
            .parse(r)
            .unwrap();
        v.store_certs(fetched);
        assert!(v.cached_certs().is_some());
    }
    let r = http::Response::builder()
        .status(200)
        .header("cache-control", "max-age=99999999999999999999999")
        .body(br#"{"keys": []}"#.to_vec().into())
        .unwrap();
    let fetched = CertsCall::new("http://127.0.0.1:1/c".parse().unwrap())
        .parse(r)
        .unwrap();
    assert_eq!(fetched.max_age, None);
}

#[test]
fn certificate_sets_are_bounded() {
    let mut big = String::from("{\"keys\": [");
    while big.len() <= oauth_sa::MAX_CERTS_BYTES {
        big.push_str(r#"{"kty":"oct","kid":"k","k":"AAAA"},"#);
    }
    big.push_str("{}]}");
    let e = Certs::parse(big.as_bytes(), "big.json").unwrap_err();
    assert!(e.to_string().contains("larger than"), "{e}");
}

#[test]
fn what_a_token_says_about_itself_is_shown_cleaned() {
    let v = IdTokenVerifier::new("aud");
    for header in [
        r#"{"alg":"\u001b[2J\u001b]0;owned\u0007"}"#,
        r#"{"alg":"RS256","kid":"k\r\nforged: line"}"#,
        r#"{"alg":"ES256","kid":"\u202eevil"}"#,
    ] {
        let token = format!("{}.{}.c2ln", b64(header), b64("{}"));
        let e = v.verify_with_certs(&token, &Certs::default()).unwrap_err();
        let shown = e.to_string();
        assert!(!shown.chars().any(is_unsafe_char), "{shown:?}");
    }
}
