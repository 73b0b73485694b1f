//! oauth-core's one retry classification against the libraries it follows: `RetryOn::API`
//! against googleapiclient's `_should_retry_response`, and `RetryOn::TOKEN_ENDPOINT`
//! against google-auth's `_can_retry`, case by case, asked of the Python libraries
//! themselves. The two places where gauth retries more on purpose (see
//! `docs/decisions.md`) are checked as such: 408 for API calls, and every 5xx for token
//! endpoints.

use gauth::retry::RetryOn;
use gauth_tests::run_python;

const STATUSES: [u16; 13] = [
    200, 400, 401, 403, 404, 408, 409, 429, 500, 501, 502, 503, 504,
];

const BODIES: [&str; 16] = [
    "",
    "not json",
    "<html><title>502 Bad Gateway</title></html>",
    r#"{"error":{"code":403,"message":"Rate Limit Exceeded","errors":[{"reason":"rateLimitExceeded","domain":"usageLimits"}]}}"#,
    r#"{"error":{"code":403,"errors":[{"reason":"userRateLimitExceeded"}]}}"#,
    r#"{"error":{"code":403,"errors":[{"reason":"forbidden"},{"reason":"rateLimitExceeded"}]}}"#,
    r#"{"error":{"code":403,"errors":[]}}"#,
    r#"{"error":{"code":403,"errors":[{"domain":"x"}]}}"#,
    r#"{"error":{"code":403,"status":"rateLimitExceeded"}}"#,
    r#"{"error":{"code":403,"message":"rateLimitExceeded"}}"#,
    r#"{"error":{"code":403,"message":"The caller does not have permission","status":"PERMISSION_DENIED"}}"#,
    r#"[{"error":{"errors":{"reason":"rateLimitExceeded"}}}]"#,
    r#"{"error":"server_error"}"#,
    r#"{"error":"invalid_request","error_description":"temporarily_unavailable"}"#,
    r#"{"error":"internal_failure"}"#,
    r#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#,
];

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn the_retry_classification_is_googleapiclients_and_google_auths() {
    let cases: Vec<(u16, &str)> = STATUSES
        .iter()
        .flat_map(|s| BODIES.iter().map(move |b| (*s, *b)))
        .collect();
    let arg = serde_json::to_string(&cases).unwrap();
    let out = run_python("retry_rules.py", &[&arg]);
    let theirs: Vec<(bool, bool)> = serde_json::from_str(out.trim()).expect("python prints JSON");
    assert_eq!(theirs.len(), cases.len());
    let mut compared = 0;
    for ((status, body), (api, auth)) in cases.iter().zip(theirs) {
        let ours_api = RetryOn::API.response(*status, body.as_bytes());
        let ours_auth = RetryOn::TOKEN_ENDPOINT.response(*status, body.as_bytes());
        // gauth retries a 408 on API calls too (googleapiclient does not).
        let want_api = api || *status == 408;
        // gauth retries every 5xx on token endpoints (google-auth: 500, 503, 504).
        let want_auth = auth || *status >= 500;
        assert_eq!(ours_api, want_api, "API rule, {status} {body}");
        assert_eq!(ours_auth, want_auth, "token endpoint rule, {status} {body}");
        compared += 1;
    }
    assert_eq!(compared, STATUSES.len() * BODIES.len());
}
