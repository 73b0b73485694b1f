//! A URL subject-token source, in the shape of Azure's instance metadata identity endpoint:
//! `GET /external/subject-token` with `Metadata: True` answers
//! `{"access_token": <OIDC token>, ...}` for the emulator's workload pool (or the
//! `audience` asked). It refuses requests that carry a credential, so tests see that no
//! Google credential reaches a subject-token source.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::reply::form;
use crate::store::Shared;

/// The subject the identity provider vouches for.
pub const WORKLOAD_SUBJECT: &str = "gauth-emulator-workload";

/// `GET /external/subject-token[?audience=...&format=text]`.
pub(crate) async fn subject_token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if let Some(r) = crate::aws::refuse_google_credential(&headers) {
        return r;
    }
    if headers
        .get("metadata")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| !v.eq_ignore_ascii_case("true"))
    {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_request",
                "error_description": "Required metadata header not specified"})),
        )
            .into_response();
    }
    let q = form(q.unwrap_or_default().as_bytes());
    let audience = q
        .get("audience")
        .cloned()
        .unwrap_or_else(|| crate::federation::workload_audience(crate::federation::OIDC_PROVIDER));
    let Some(token) = crate::sts::mint_subject_token(&shared, &audience, WORKLOAD_SUBJECT) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if q.get("format").map(String::as_str) == Some("text") {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain")],
            token,
        )
            .into_response();
    }
    axum::Json(json!({
        "access_token": token,
        "expires_in": "3599",
        "token_type": "Bearer",
        "resource": audience,
    }))
    .into_response()
}
