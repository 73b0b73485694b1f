//! The Security Token Service (`sts.googleapis.com`): the token exchange of RFC 8693 for
//! workload and workforce identity federation (OIDC subject tokens this emulator signed,
//! AWS requests signed with the metadata stand-in's credentials) and for downscoping
//! (Credential Access Boundaries), checking what google-auth sends; and introspection.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::reply::{form, oauth_error, oauth_json};
use crate::store::{Grant, Shared, Subject, split_scopes};

/// The token-exchange grant.
pub(crate) const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The access-token token type.
pub(crate) const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
const SAML2: &str = "urn:ietf:params:oauth:token-type:saml2";
const AWS4: &str = "urn:ietf:params:aws:token-type:aws4_request";
/// Where federated tokens may be used when no scope is asked.
const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The project number of the emulator's workload identity pools.
pub const PROJECT_NUMBER: &str = "123456789012";
/// The workload identity pool.
pub const WORKLOAD_POOL: &str = "gauth-emulator-pool";
/// The workforce pool.
pub const WORKFORCE_POOL: &str = "gauth-emulator-workforce";

fn bad(error: &str, description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, error, description)
}

/// A pool audience, parsed: the principal prefix of its subjects and whether it is a
/// workforce pool.
struct Pool {
    principal_prefix: String,
    workforce: bool,
}

fn pool_of(audience: &str) -> Option<Pool> {
    let rest = audience.strip_prefix("//iam.googleapis.com/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [
            "projects",
            number,
            "locations",
            loc,
            "workloadIdentityPools",
            pool,
            "providers",
            provider,
        ] if [number, loc, pool, provider].iter().all(|p| !p.is_empty()) => Some(Pool {
            principal_prefix: format!(
                "principal://iam.googleapis.com/projects/{number}/locations/{loc}/workloadIdentityPools/{pool}/subject/"
            ),
            workforce: false,
        }),
        [
            "locations",
            loc,
            "workforcePools",
            pool,
            "providers",
            provider,
        ] if [loc, pool, provider].iter().all(|p| !p.is_empty()) => Some(Pool {
            principal_prefix: format!(
                "principal://iam.googleapis.com/locations/{loc}/workforcePools/{pool}/subject/"
            ),
            workforce: true,
        }),
        _ => None,
    }
}

/// The issuer of the subject tokens the emulator's identity provider signs.
pub(crate) fn subject_issuer(shared: &Shared) -> String {
    format!("{}/external", shared.base_url)
}

/// An OIDC subject token for `audience` (`aud` is `https:` + the pool audience, Google's
/// default allowed audience), signed with the emulator's key.
pub(crate) fn mint_subject_token(shared: &Shared, audience: &str, subject: &str) -> Option<String> {
    let now = shared.now();
    shared.key.sign_jwt(&json!({
        "iss": subject_issuer(shared),
        "sub": subject,
        "aud": format!("https:{audience}"),
        "iat": now,
        "exp": now + 3600,
    }))
}

fn verify_oidc(shared: &Shared, token: &str, audience: &str) -> Result<String, String> {
    let claims = shared
        .key
        .verify_own(token)
        .ok_or("the subject token is not a JWT signed by the emulator's identity provider")?;
    if claims.get("iss").and_then(Value::as_str) != Some(&subject_issuer(shared)) {
        return Err("the subject token's issuer is not the emulator's identity provider".into());
    }
    let aud = claims
        .get("aud")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if aud != audience && aud != format!("https:{audience}") {
        return Err("the subject token's audience is not this provider".into());
    }
    let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
    if exp <= shared.now() {
        return Err("the subject token has expired".into());
    }
    claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| "the subject token has no subject".into())
}

/// `options`: `urllib.parse.quote(json.dumps(...))` sent as a form value.
fn options(f: &std::collections::HashMap<String, String>) -> Result<Option<Value>, Response> {
    let Some(raw) = f.get("options").filter(|o| !o.is_empty()) else {
        return Ok(None);
    };
    // google-auth percent-encodes (`quote`, spaces as %20); `+` is read as a space too.
    let decode = |text: String| -> Option<Value> {
        let decoded = form_urlencoded::parse(format!("o={text}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())?;
        serde_json::from_str::<Value>(&decoded)
            .ok()
            .filter(Value::is_object)
    };
    match decode(raw.replace('+', "%2B")).or_else(|| decode(raw.clone())) {
        Some(v) => Ok(Some(v)),
        None => Err(bad(
            "invalid_request",
            "Invalid value for \"options\": not URL-encoded JSON.",
        )),
    }
}

/// `POST /v1/token`.
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return bad("invalid_request", "The request must be form-encoded.");
    }
    let f = form(&body);
    if f.get("grant_type").map(String::as_str) != Some(TOKEN_EXCHANGE) {
        return bad(
            "unsupported_grant_type",
            &format!(
                "Unsupported grant_type: {}",
                f.get("grant_type").map_or("", String::as_str)
            ),
        );
    }
    if f.get("requested_token_type").map(String::as_str) != Some(ACCESS_TOKEN) {
        return bad(
            "invalid_request",
            "Invalid value for \"requested_token_type\": only access tokens are issued.",
        );
    }
    let Some(subject_token) = f.get("subject_token").filter(|t| !t.is_empty()) else {
        return bad("invalid_request", "Missing subject_token.");
    };
    let subject_type = f.get("subject_token_type").map_or("", String::as_str);
    let options = match options(&f) {
        Ok(o) => o,
        Err(r) => return r,
    };
    // Client authentication is optional, but when sent it must be right.
    let client = if headers.contains_key(header::AUTHORIZATION) {
        match crate::token::client(&shared, &f, &headers) {
            Ok(c) => Some(c.client_id.clone()),
            Err(r) => return r,
        }
    } else {
        None
    };
    if subject_type == ACCESS_TOKEN {
        return downscope(&shared, subject_token, options.as_ref());
    }
    let Some(audience) = f.get("audience").filter(|a| !a.is_empty()) else {
        return bad("invalid_request", "Missing audience.");
    };
    let Some(pool) = pool_of(audience) else {
        return bad(
            "invalid_target",
            "The target service indicated by the \"audience\" parameters is invalid.",
        );
    };
    let user_project = options
        .as_ref()
        .and_then(|o| o.get("userProject"))
        .and_then(Value::as_str);
    if pool.workforce && user_project.is_none() && client.is_none() {
        return bad(
            "invalid_request",
            "A workforce pool needs a user project (options.userProject) or client credentials.",
        );
    }
    if !pool.workforce && user_project.is_some() {
        return bad(
            "invalid_request",
            "options.userProject is for workforce pools only.",
        );
    }
    let verified = match subject_type {
        JWT | ID_TOKEN => verify_oidc(&shared, subject_token, audience),
        AWS4 => crate::aws::verify_subject_token(&shared, subject_token, audience),
        SAML2 => Err("the emulator's identity provider does not issue SAML assertions".into()),
        other => {
            return bad(
                "invalid_request",
                &format!("Invalid value for \"subject_token_type\": {other}"),
            );
        }
    };
    let subject = match verified {
        Ok(s) => s,
        Err(reason) => return bad("invalid_grant", &reason),
    };
    let scopes = match f.get("scope").map(|s| split_scopes(s)) {
        Some(s) if !s.is_empty() => s,
        _ => vec![CLOUD_PLATFORM.to_owned()],
    };
    let principal = format!("{}{subject}", pool.principal_prefix);
    let lifetime = shared.config.access_token_lifetime.as_secs();
    let token = {
        let mut store = shared.store();
        let id = store.add_grant(Grant {
            client_id: client.unwrap_or_default(),
            subject: Subject::Federated(principal),
            delegated_sub: None,
            scopes: scopes.clone(),
            offline: false,
            revoked: false,
            nonce: None,
        });
        shared.issue_access(&mut store, id, &scopes)
    };
    oauth_json(json!({
        "access_token": token,
        "issued_token_type": ACCESS_TOKEN,
        "token_type": "Bearer",
        "expires_in": lifetime,
    }))
}

/// A downscoped token: the subject token's grant and scopes, bounded by its expiry, under a
/// Credential Access Boundary (checked as STS checks it).
fn downscope(shared: &Shared, subject_token: &str, options: Option<&Value>) -> Response {
    let Some(rules) = options
        .and_then(|o| o.get("accessBoundary"))
        .and_then(|b| b.get("accessBoundaryRules"))
        .and_then(Value::as_array)
    else {
        return bad(
            "invalid_request",
            "A downscoping exchange needs options.accessBoundary.accessBoundaryRules.",
        );
    };
    if rules.is_empty() || rules.len() > 10 {
        return bad(
            "invalid_request",
            "An access boundary has between 1 and 10 rules.",
        );
    }
    for r in rules {
        let resource_ok = r
            .get("availableResource")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        let permissions_ok = r
            .get("availablePermissions")
            .and_then(Value::as_array)
            .is_some_and(|p| {
                !p.is_empty()
                    && p.iter()
                        .all(|x| x.as_str().is_some_and(|s| s.starts_with("inRole:")))
            });
        let condition_ok = r
            .get("availabilityCondition")
            .is_none_or(|c| c.get("expression").and_then(Value::as_str).is_some());
        if !(resource_ok && permissions_ok && condition_ok) {
            return bad("invalid_request", "An access boundary rule is malformed.");
        }
    }
    let now = shared.now();
    let mut store = shared.store();
    let Some((at, _grant)) = store.live_access(subject_token, now) else {
        return bad("invalid_grant", "The subject token is invalid or expired.");
    };
    let token = shared.issue_access(&mut store, at.grant, &at.scopes);
    if let Some(t) = store.access.get_mut(&token) {
        t.expires_at = at.expires_at;
    }
    drop(store);
    oauth_json(json!({
        "access_token": token,
        "issued_token_type": ACCESS_TOKEN,
        "token_type": "Bearer",
        "expires_in": at.expires_at.saturating_sub(now),
    }))
}

/// `POST /v1/introspect` (RFC 7662), for the client's own tokens.
pub(crate) async fn introspect(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = form(&body);
    let client = match crate::token::client(&shared, &f, &headers) {
        Ok(c) => c.client_id.clone(),
        Err(r) => return r,
    };
    let Some(token) = f.get("token") else {
        return bad("invalid_request", "Missing token.");
    };
    let now = shared.now();
    let store = shared.store();
    match store.live_access(token, now) {
        Some((at, grant)) if grant.client_id == client => {
            let (sub, _) = shared.identity(&grant);
            oauth_json(json!({
                "active": true, "client_id": client, "scope": at.scopes.join(" "),
                "exp": at.expires_at, "sub": sub, "token_type": "Bearer",
            }))
        }
        _ => oauth_json(json!({"active": false})),
    }
}

/// A workforce user's grant with a refresh token, for `external_account_authorized_user`
/// files: `(refresh token, principal)`.
pub(crate) fn workforce_user(shared: &Shared, client_id: &str, user: &str) -> (String, String) {
    let principal = format!(
        "principal://iam.googleapis.com/locations/global/workforcePools/{WORKFORCE_POOL}/subject/{user}"
    );
    let mut store = shared.store();
    let id = store.add_grant(Grant {
        client_id: client_id.to_owned(),
        subject: Subject::Federated(principal.clone()),
        delegated_sub: None,
        scopes: vec![CLOUD_PLATFORM.to_owned()],
        offline: true,
        revoked: false,
        nonce: None,
    });
    (shared.issue_refresh(&mut store, id), principal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_audiences_are_recognised() {
        let w = pool_of(
            "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/o",
        )
        .unwrap();
        assert!(!w.workforce);
        assert!(
            w.principal_prefix
                .ends_with("/workloadIdentityPools/p/subject/")
        );
        assert!(
            pool_of("//iam.googleapis.com/locations/global/workforcePools/p/providers/o")
                .unwrap()
                .workforce
        );
        assert!(pool_of("//iam.googleapis.com/projects//locations/global/workloadIdentityPools/p/providers/o").is_none());
        assert!(pool_of("https://example.com").is_none());
    }
}
