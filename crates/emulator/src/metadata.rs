//! The GCE metadata server's credential endpoints under `/computeMetadata/v1/`: requests must
//! carry `Metadata-Flavor: Google`, and every answer carries it back.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::config::ServiceAccount;
use crate::reply::form;
use crate::store::{Grant, Shared, Subject, split_scopes};

/// Scopes the default account's tokens carry when none are asked for.
const DEFAULT_SCOPES: [&str; 2] = [
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/userinfo.email",
];

fn flavored(mut r: Response) -> Response {
    r.headers_mut()
        .insert("metadata-flavor", HeaderValue::from_static("Google"));
    r.headers_mut().insert(
        header::SERVER,
        HeaderValue::from_static("Metadata Server for VM"),
    );
    r
}

fn text(status: StatusCode, body: String) -> Response {
    flavored(
        (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/text"),
            )],
            body,
        )
            .into_response(),
    )
}

fn not_found() -> Response {
    flavored(
        (
            StatusCode::NOT_FOUND,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=UTF-8"),
            )],
            "<!DOCTYPE html><title>404</title><p>The requested URL was not found on this server.",
        )
            .into_response(),
    )
}

/// `GET /`: what google-auth's `ping` looks for (the `Metadata-Flavor` response header).
pub(crate) async fn root() -> Response {
    text(StatusCode::OK, "computeMetadata/\n".into())
}

/// `GET|POST /computeMetadata/v1/{*path}`.
pub(crate) async fn metadata(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if headers.get("metadata-flavor").and_then(|v| v.to_str().ok()) != Some("Google") {
        return text(
            StatusCode::FORBIDDEN,
            "Missing required header: Metadata-Flavor: Google\n".into(),
        );
    }
    let q = form(q.unwrap_or_default().as_bytes());
    let Some(sa) = shared.config.service_accounts.first() else {
        return not_found();
    };
    let json_reply = |v: serde_json::Value| flavored(axum::Json(v).into_response());
    match path.as_str() {
        "project/project-id" => text(StatusCode::OK, shared.config.project_id.clone()),
        "project/numeric-project-id" => text(StatusCode::OK, "123456789012".into()),
        "universe/universe-domain" => text(StatusCode::OK, "googleapis.com".into()),
        "instance/service-accounts" | "instance/service-accounts/" => {
            text(StatusCode::OK, format!("default/\n{}/\n", sa.email))
        }
        _ => {
            let Some(rest) = path.strip_prefix("instance/service-accounts/") else {
                return not_found();
            };
            let (account, leaf) = rest.split_once('/').unwrap_or((rest, ""));
            if account != "default" && account != sa.email {
                return not_found();
            }
            match leaf {
                "" => {
                    if q.get("recursive").map(String::as_str) == Some("true") {
                        json_reply(json!({
                            "aliases": ["default"],
                            "email": sa.email,
                            "scopes": DEFAULT_SCOPES,
                        }))
                    } else {
                        text(
                            StatusCode::OK,
                            "aliases\nemail\nidentity\nscopes\ntoken\n".into(),
                        )
                    }
                }
                "email" => text(StatusCode::OK, sa.email.clone()),
                "aliases" => text(StatusCode::OK, "default\n".into()),
                "scopes" => text(StatusCode::OK, DEFAULT_SCOPES.join("\n") + "\n"),
                "token" => {
                    let scopes = q
                        .get("scopes")
                        .map(|s| split_scopes(s))
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| DEFAULT_SCOPES.map(String::from).to_vec());
                    let token = issue(&shared, sa, &scopes);
                    json_reply(json!({
                        "access_token": token,
                        "expires_in": shared.config.access_token_lifetime.as_secs(),
                        "token_type": "Bearer",
                    }))
                }
                "identity" => {
                    let Some(audience) = q.get("audience").filter(|a| !a.is_empty()) else {
                        return text(
                            StatusCode::BAD_REQUEST,
                            "non-empty audience parameter required\n".into(),
                        );
                    };
                    let full = q.get("format").map(String::as_str) == Some("full");
                    let grant = sa_grant(sa, Vec::new());
                    match shared.id_token(&grant, audience, None, full) {
                        Some(jwt) => text(StatusCode::OK, jwt),
                        None => text(StatusCode::INTERNAL_SERVER_ERROR, "signing failed\n".into()),
                    }
                }
                _ => not_found(),
            }
        }
    }
}

/// A grant for service account `sa` itself.
pub(crate) fn sa_grant(sa: &ServiceAccount, scopes: Vec<String>) -> Grant {
    Grant {
        client_id: sa.unique_id.clone(),
        subject: Subject::ServiceAccount(sa.email.clone()),
        delegated_sub: None,
        scopes,
        offline: false,
        revoked: false,
        nonce: None,
    }
}

/// Issues an access token for `sa` with `scopes`.
pub(crate) fn issue(shared: &Shared, sa: &ServiceAccount, scopes: &[String]) -> String {
    let mut store = shared.store();
    let id = store.add_grant(sa_grant(sa, scopes.to_vec()));
    shared.issue_access(&mut store, id, scopes)
}
