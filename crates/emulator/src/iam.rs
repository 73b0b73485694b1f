//! IAM Credentials: `POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken` and
//! `:generateIdToken`, as service-account impersonation uses them.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::info::authenticate;
use crate::metadata::sa_grant;
use crate::reply::{api_error, insufficient_scope};
use crate::store::Shared;

/// Scopes that let a caller use the IAM Credentials API.
fn may_impersonate(scopes: &[String]) -> bool {
    scopes.iter().any(|s| {
        s == "https://www.googleapis.com/auth/cloud-platform"
            || s == "https://www.googleapis.com/auth/iam"
    })
}

/// `"3600s"` to seconds.
fn parse_lifetime(s: &str) -> Option<u64> {
    let secs = s.strip_suffix('s')?;
    let secs = secs.split('.').next()?;
    secs.parse().ok()
}

/// RFC 3339, as `expireTime` is written.
pub(crate) fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

/// `POST /v1/projects/{project}/serviceAccounts/{email}:{method}`.
pub(crate) async fn iam(
    State(shared): State<Arc<Shared>>,
    Path((_project, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (at, _) = match authenticate(&shared, &headers, None) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !may_impersonate(&at.scopes) {
        return insufficient_scope();
    }
    let Some((email, method)) = name.rsplit_once(':') else {
        return api_error(StatusCode::NOT_FOUND, "notFound", "Method not found.");
    };
    let Some(sa) = shared
        .config
        .service_accounts
        .iter()
        .find(|s| s.email == email || s.unique_id == email)
    else {
        return api_error(
            StatusCode::NOT_FOUND,
            "notFound",
            &format!("Not found; Gaia id not found for email {email}"),
        );
    };
    let req: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    "badRequest",
                    "Invalid JSON payload received.",
                );
            }
        }
    };
    match method {
        "generateAccessToken" => {
            let scopes: Vec<String> = req
                .get("scope")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            if scopes.is_empty() {
                return api_error(StatusCode::BAD_REQUEST, "badRequest", "Scope required.");
            }
            let lifetime = match req.get("lifetime").and_then(Value::as_str) {
                None => 3600,
                Some(l) => match parse_lifetime(l) {
                    Some(s) if (1..=3600).contains(&s) => s,
                    _ => {
                        return api_error(
                            StatusCode::BAD_REQUEST,
                            "badRequest",
                            "Invalid value for \"lifetime\": must be between 1s and 3600s.",
                        );
                    }
                },
            };
            let now = shared.now();
            let token = {
                let mut store = shared.store();
                let id = store.add_grant(sa_grant(sa, scopes.clone()));
                let token = shared.issue_access(&mut store, id, &scopes);
                if let Some(t) = store.access.get_mut(&token) {
                    t.expires_at = now + lifetime;
                }
                token
            };
            axum::Json(json!({"accessToken": token, "expireTime": rfc3339(now + lifetime)}))
                .into_response()
        }
        "generateIdToken" => {
            let Some(audience) = req
                .get("audience")
                .and_then(Value::as_str)
                .filter(|a| !a.is_empty())
            else {
                return api_error(StatusCode::BAD_REQUEST, "badRequest", "Audience required.");
            };
            let include_email = req
                .get("includeEmail")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            match shared.id_token(&sa_grant(sa, Vec::new()), audience, None, include_email) {
                Some(token) => axum::Json(json!({"token": token})).into_response(),
                None => api_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internalError",
                    "Signing failed.",
                ),
            }
        }
        _ => api_error(StatusCode::NOT_FOUND, "notFound", "Method not found."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_are_protobuf_durations() {
        assert_eq!(parse_lifetime("3600s"), Some(3600));
        assert_eq!(parse_lifetime("1.5s"), Some(1));
        assert_eq!(parse_lifetime("3600"), None);
        assert_eq!(parse_lifetime("xs"), None);
    }

    #[test]
    fn expire_time_is_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
