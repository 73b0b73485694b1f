//! Outside input never panics: credential files of every keyless type, access boundaries and
//! the refresh they lead to take arbitrary JSON and give a value or a typed error.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use oauth_core::source::{Refresh, RefreshContext};
use oauth_core::{EndpointPolicy, ManualClock, RetryPolicy};
use oauth_external::{CredentialAccessBoundary, Environment, ExternalAccountCredentials};
use proptest::prelude::*;
use serde_json::{Map, Value};

const KEYS: &[&str] = &[
    "type",
    "audience",
    "subject_token_type",
    "token_url",
    "token_info_url",
    "service_account_impersonation_url",
    "service_account_impersonation",
    "token_lifetime_seconds",
    "client_id",
    "client_secret",
    "quota_project_id",
    "workforce_pool_user_project",
    "universe_domain",
    "credential_source",
    "file",
    "url",
    "headers",
    "format",
    "subject_token_field_name",
    "executable",
    "command",
    "timeout_millis",
    "output_file",
    "interactive_timeout_millis",
    "environment_id",
    "region_url",
    "imdsv2_session_token_url",
    "regional_cred_verification_url",
    "certificate",
    "refresh_token",
    "token",
    "expiry",
    "revoke_url",
    "scopes",
    "delegates",
    "source_credentials",
    "private_key",
    "client_email",
    "accessBoundary",
    "accessBoundaryRules",
    "availableResource",
    "availablePermissions",
    "availabilityCondition",
    "expression",
    "title",
    "description",
];

const STRINGS: &[&str] = &[
    "",
    "external_account",
    "external_account_authorized_user",
    "impersonated_service_account",
    "authorized_user",
    "service_account",
    "urn:ietf:params:oauth:token-type:jwt",
    "urn:ietf:params:aws:token-type:aws4_request",
    "urn:ietf:params:oauth:token-type:saml2",
    "aws1",
    "aws2",
    "aws",
    "text",
    "json",
    "http://127.0.0.1:1/x",
    "https://sts.googleapis.com/v1/token",
    "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15",
    "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/a@b:generateAccessToken",
    "//iam.googleapis.com/locations/global/workforcePools/p/providers/o",
    "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/o",
    "inRole:roles/x",
    "/nonexistent/gauth/token",
    "a 'b",
    "2024-01-01T00:00:00Z",
    "é\u{0}",
    "https://sts.{universe_domain}/v1/token",
];

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop_oneof![
            Just(0i64),
            Just(-1),
            Just(5000),
            Just(1_000_000),
            any::<i64>()
        ]
        .prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(STRINGS).prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..8).prop_map(|kv| {
                Value::Object(
                    kv.into_iter()
                        .map(|(k, v)| ((*k).to_owned(), v))
                        .collect::<Map<String, Value>>(),
                )
            }),
        ]
    })
}

fn ctx() -> RefreshContext {
    RefreshContext {
        clock: Arc::new(ManualClock::new(
            UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        )),
        margin: Duration::from_secs(225),
        retry: RetryPolicy::none(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn keyless_files_and_boundaries_never_panic(v in value()) {
        let policy = EndpointPolicy::default();
        let _ = oauth_external::load(&v, "f.json", &policy, &["s"]);
        let _ = CredentialAccessBoundary::from_value(&v, "b.json");
        if let Ok(c) = ExternalAccountCredentials::from_value_with(&v, "f.json", &policy) {
            // Executables stay off: the environment does not allow them.
            let c = c.with_environment(Environment::from_pairs([("AWS_REGION", "r")]));
            if let Ok(Refresh::Exchange(mut exchange)) =
                oauth_core::TokenSource::begin_refresh(&c, &ctx(), None)
            {
                let _ = exchange.step(oauth_core::exchange::Input::Start);
            }
        }
    }

    #[test]
    fn files_wrapped_in_an_external_account_never_panic(cs in value(), t in prop::sample::select(STRINGS)) {
        let mut m = Map::new();
        m.insert("type".into(), "external_account".into());
        m.insert("audience".into(), STRINGS[18].into());
        m.insert("subject_token_type".into(), t.into());
        m.insert("credential_source".into(), cs);
        let _ = oauth_external::load(&Value::Object(m), "f.json", &EndpointPolicy::default(), &[] as &[&str]);
    }
}
