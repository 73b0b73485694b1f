//! The device authorization grant (RFC 8628): `/device/code` issues codes (with Google's
//! `verification_url`), `/device` is the page where the user enters the code and approves.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use crate::authorize::consent_page;
use crate::reply::{escape, form, oauth_error, oauth_json, page};
use crate::store::{Device, DeviceState, Shared, split_scopes};

/// `POST /device/code`.
pub(crate) async fn device_code(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let f = form(&body);
    let Some(client_id) = f.get("client_id").filter(|c| !c.is_empty()) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: client_id",
        );
    };
    if !shared
        .config
        .clients
        .iter()
        .any(|c| &c.client_id == client_id)
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        );
    }
    let scopes = split_scopes(f.get("scope").map(String::as_str).unwrap_or(""));
    if scopes.is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "Missing required parameter: scope",
        );
    }
    let device_code = format!("AH-emu-{}", shared.random(32));
    let user_code = shared.user_code();
    let lifetime = shared.config.device_code_lifetime.as_secs();
    let interval = shared.config.device_interval;
    let state = if shared.config.auto_approve {
        DeviceState::Approved(0)
    } else {
        DeviceState::Pending
    };
    {
        let now = shared.now();
        let mut store = shared.store();
        store.sweep(now);
        store.devices.insert(
            device_code.clone(),
            Device {
                client_id: client_id.clone(),
                user_code: user_code.clone(),
                scopes,
                expires_at: now + lifetime,
                interval,
                last_poll: None,
                state,
            },
        );
    }
    oauth_json(json!({
        "device_code": device_code,
        "user_code": user_code,
        "expires_in": lifetime,
        "interval": interval,
        "verification_url": format!("{}/device", shared.base_url),
    }))
}

/// Normalises what a user types: upper case, no spaces, the dash put back.
fn normalise(code: &str) -> String {
    let raw: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if raw.len() == 8 {
        format!("{}-{}", &raw[..4], &raw[4..])
    } else {
        raw
    }
}

fn entry_page(prefill: &str, error: Option<&str>) -> Response {
    let error = error
        .map(|e| format!("<p class=\"error\" id=\"error\">{}</p>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Connect a device</h1><p>Enter the code shown on your device.</p>{error}\
<form method=\"post\" action=\"/device\" id=\"device\"><input type=\"text\" name=\"user_code\" id=\"user_code\" \
value=\"{}\" autocomplete=\"off\" placeholder=\"XXXX-XXXX\">\
<div class=\"actions\"><button type=\"submit\" id=\"allow\">Next</button></div></form>",
        escape(prefill)
    );
    page(StatusCode::OK, "Connect a device - gauth emulator", &body)
}

/// `GET /device`: the code entry form.
pub(crate) async fn device_page(RawQuery(q): RawQuery) -> Response {
    let q = form(q.unwrap_or_default().as_bytes());
    entry_page(q.get("user_code").map(String::as_str).unwrap_or(""), None)
}

/// The pending device authorization with this user code.
fn find(shared: &Shared, user_code: &str) -> Option<(String, Device)> {
    let now = shared.now();
    shared
        .store()
        .devices
        .iter()
        .find(|(_, d)| d.user_code == user_code && d.expires_at > now)
        .map(|(k, d)| (k.clone(), d.clone()))
}

/// `POST /device`: a code was entered; show the consent page for it.
pub(crate) async fn device_entered(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let f = form(&body);
    let code = normalise(f.get("user_code").map(String::as_str).unwrap_or(""));
    let Some((_, device)) = find(&shared, &code).filter(|(_, d)| d.state == DeviceState::Pending)
    else {
        return entry_page(
            &code,
            Some("That code is not valid or has expired. Check it and try again."),
        );
    };
    let Some(client) = shared
        .config
        .clients
        .iter()
        .find(|c| c.client_id == device.client_id)
    else {
        return entry_page(&code, Some("That code is not valid."));
    };
    consent_page(
        &shared,
        client,
        &device.scopes,
        None,
        "/device/approval",
        &[("user_code", &code)],
    )
}

/// Sets the state of the pending device authorization with `user_code`; false when none.
pub(crate) fn decide(shared: &Shared, user_code: &str, state: DeviceState) -> bool {
    let now = shared.now();
    let mut store = shared.store();
    match store
        .devices
        .values_mut()
        .find(|d| d.user_code == user_code && d.expires_at > now && d.state == DeviceState::Pending)
    {
        Some(d) => {
            d.state = state;
            true
        }
        None => false,
    }
}

/// `POST /device/approval`: Allow or Deny.
pub(crate) async fn device_approval(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let f = form(&body);
    let code = normalise(f.get("user_code").map(String::as_str).unwrap_or(""));
    let allow = f.get("decision").map(String::as_str) == Some("allow");
    let user = f
        .get("user")
        .and_then(|e| shared.config.users.iter().position(|u| &u.email == e))
        .unwrap_or(0);
    let state = if allow {
        DeviceState::Approved(user)
    } else {
        DeviceState::Denied
    };
    if !decide(&shared, &code, state) {
        return entry_page(&code, Some("That code is not valid or has expired."));
    }
    let (title, text) = if allow {
        ("Success", "You're all set. You can return to your device.")
    } else {
        (
            "Access denied",
            "You denied access. You can close this page.",
        )
    };
    page(
        StatusCode::OK,
        title,
        &format!("<h1 id=\"result\">{title}</h1><p>{text}</p>"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_codes_are_normalised() {
        assert_eq!(normalise("wdjb mjht"), "WDJB-MJHT");
        assert_eq!(normalise("WDJB-MJHT"), "WDJB-MJHT");
        assert_eq!(normalise("ab"), "AB");
        assert_eq!(normalise("ü"), "");
    }
}
