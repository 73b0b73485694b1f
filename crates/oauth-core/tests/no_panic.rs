//! Outside input never panics: every parser of oauth-core takes arbitrary bytes and returns
//! a value or a typed error, and no error repeats a secret-looking input.

use oauth_core::{AuthorizedUser, ClientSecrets, TokenResponse};
use proptest::prelude::*;

fn response(status: u16, body: Vec<u8>) -> oauth_core::http::HttpResponse {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap()
}

/// JSON-ish bytes: mostly structure and the field names the parsers look for.
fn jsonish() -> impl Strategy<Value = Vec<u8>> {
    let atoms = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "null",
        "true",
        "1",
        "-1",
        "3599",
        "\"3599\"",
        "1e999",
        "\"access_token\"",
        "\"expires_in\"",
        "\"refresh_token\"",
        "\"client_id\"",
        "\"client_secret\"",
        "\"installed\"",
        "\"web\"",
        "\"token_uri\"",
        "\"auth_uri\"",
        "\"type\"",
        "\"authorized_user\"",
        "\"expiry\"",
        "\"scopes\"",
        "\"error\"",
        "\"http://127.0.0.1/t\"",
        "\"\\u0000\"",
        "é",
        "\\",
    ]);
    prop::collection::vec(atoms, 0..40).prop_map(|v| v.concat().into_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn token_responses_never_panic(status in 100u16..600, body in prop_oneof![jsonish(), prop::collection::vec(any::<u8>(), 0..200)]) {
        let _ = TokenResponse::parse("https://t/token", &response(status, body));
    }

    #[test]
    fn client_secrets_never_panic(body in prop_oneof![jsonish(), prop::collection::vec(any::<u8>(), 0..200)]) {
        let _ = ClientSecrets::from_json(&body, "cs.json");
    }

    #[test]
    fn authorized_user_files_never_panic(body in prop_oneof![jsonish(), prop::collection::vec(any::<u8>(), 0..200)]) {
        let _ = AuthorizedUser::from_json(&body, "u.json");
    }

    #[test]
    fn errors_never_repeat_a_secret_value(secret in "[A-Za-z0-9._/-]{12,40}") {
        let secret = format!("ya29.{secret}");
        let bodies = [
            format!(r#"{{"access_token": "{secret}", "expires_in": "#),
            format!(r#"{{"access_token": "{secret}", "expires_in": "soon"}}"#),
            format!(r#"{{"access_token": {{"x": "{secret}"}}}}"#),
            format!("access_token={secret}"),
        ];
        for b in bodies {
            for status in [200u16, 400, 502] {
                if let Err(e) = TokenResponse::parse("https://t/token", &response(status, b.clone().into_bytes())) {
                    prop_assert!(!e.to_string().contains(&secret), "{}", e);
                    prop_assert!(!format!("{e:?}").contains(&secret), "{:?}", e);
                }
            }
        }
        let user = format!(r#"{{"client_id": "i", "client_secret": "s", "refresh_token": ["{secret}"]}}"#);
        let e = AuthorizedUser::from_json(user.as_bytes(), "u.json").unwrap_err();
        prop_assert!(!e.to_string().contains(&secret));
        let cs = format!(r#"{{"installed": {{"client_id": "i", "client_secret": 5, "auth_uri": "{secret}", "token_uri": "x"}}}}"#);
        let e = ClientSecrets::from_json(cs.as_bytes(), "cs.json").unwrap_err();
        prop_assert!(!e.to_string().contains(&secret), "{}", e);
    }
}
