//! The authorization endpoint (`/o/oauth2/auth`, `/o/oauth2/v2/auth`), its consent page and
//! the Allow / Deny answer that redirects back with a code or `error=access_denied`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::config::{ClientKind, OAuthClient};
use crate::reply::{error_page, escape, form, page};
use crate::store::{AuthRequest, Code, PkceMethod, Shared, split_scopes};

/// Whether `uri` is an `http` loopback URI (any port, any path), as Google accepts for
/// installed apps.
pub(crate) fn is_loopback_redirect(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    if url.scheme() != "http" || url.fragment().is_some() {
        return false;
    }
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Whether `client` may be sent back to `uri`.
pub(crate) fn redirect_allowed(client: &OAuthClient, uri: &str) -> bool {
    client.redirect_uris.iter().any(|r| r == uri)
        || (client.kind == ClientKind::Installed && is_loopback_redirect(uri))
}

/// Whether a PKCE challenge or verifier has RFC 7636's shape: 43 to 128 unreserved characters.
pub(crate) fn pkce_shape_ok(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// `uri` with `params` appended to its query.
pub(crate) fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            url.into()
        }
        Err(_) => uri.to_owned(),
    }
}

/// A 302 to `location`.
pub(crate) fn redirect(location: &str) -> Response {
    let mut r = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// An error redirect: `error`, `error_description` and `state` appended.
fn error_redirect(req_uri: &str, state: Option<&str>, error: &str, description: &str) -> Response {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(s) = state {
        params.push(("state", s));
    }
    redirect(&with_query(req_uri, &params))
}

/// Human words for the scopes a consent page lists.
pub(crate) fn describe_scope(scope: &str) -> String {
    match scope {
        "openid" => "Associate you with your personal info on Google".into(),
        "email" | "https://www.googleapis.com/auth/userinfo.email" => {
            "See your primary Google Account email address".into()
        }
        "profile" | "https://www.googleapis.com/auth/userinfo.profile" => {
            "See your personal info, including any personal info you've made publicly available"
                .into()
        }
        "https://www.googleapis.com/auth/tasks" => {
            "Create, edit, organize, and delete all your tasks".into()
        }
        "https://www.googleapis.com/auth/tasks.readonly" => "View your tasks".into(),
        other => format!("Use {other}"),
    }
}

/// The consent page: who asks, for what, as whom; Allow posts `decision=allow`.
pub(crate) fn consent_page(
    shared: &Shared,
    client: &OAuthClient,
    scopes: &[String],
    login_hint: Option<&str>,
    action: &str,
    hidden: &[(&str, &str)],
) -> Response {
    let users = &shared.config.users;
    let selected = login_hint
        .and_then(|h| users.iter().position(|u| u.email.eq_ignore_ascii_case(h)))
        .unwrap_or(0);
    let options: String = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            format!(
                "<option value=\"{e}\"{sel}>{n} &lt;{e}&gt;</option>",
                e = escape(&u.email),
                n = escape(&u.name),
                sel = if i == selected { " selected" } else { "" }
            )
        })
        .collect();
    let items: String = scopes
        .iter()
        .map(|s| {
            format!(
                "<li title=\"{}\">{}</li>",
                escape(s),
                escape(&describe_scope(s))
            )
        })
        .collect();
    let hidden: String = hidden
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(k),
                escape(v)
            )
        })
        .collect();
    let body = format!(
        "<h1 id=\"title\">{app} wants to access your Google Account</h1>\
<form method=\"post\" action=\"{action}\" id=\"consent\">{hidden}\
<p><label for=\"user\">Signed in as</label><br><select name=\"user\" id=\"user\">{options}</select></p>\
<p>This will allow <b>{app}</b> (<code>{id}</code>) to:</p><ul id=\"scopes\">{items}</ul>\
<div class=\"actions\"><button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Deny</button>\
<button type=\"submit\" name=\"decision\" value=\"allow\" id=\"allow\">Allow</button></div></form>",
        app = escape(&client.name),
        id = escape(&client.client_id),
        action = escape(action),
    );
    page(StatusCode::OK, "Sign in - gauth emulator", &body)
}

/// `GET /o/oauth2/auth`.
pub(crate) async fn authorize(
    State(shared): State<Arc<Shared>>,
    RawQuery(q): RawQuery,
) -> Response {
    let q = form(q.unwrap_or_default().as_bytes());
    let get = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let Some(client_id) = get("client_id") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: client_id",
        );
    };
    let Some(client) = shared
        .config
        .clients
        .iter()
        .find(|c| c.client_id == client_id)
    else {
        return error_page(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        );
    };
    let Some(redirect_uri) = get("redirect_uri") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: redirect_uri",
        );
    };
    if redirect_uri.starts_with("urn:ietf:wg:oauth:2.0:oob") {
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The out-of-band (OOB) flow has been blocked in order to keep users secure. Use a loopback redirect URI or the device flow.",
        );
    }
    if !redirect_allowed(client, redirect_uri) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "redirect_uri_mismatch",
            &format!(
                "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. Register the redirect URI for this client. Request details: redirect_uri={redirect_uri}"
            ),
        );
    }
    let state = get("state");
    let fail =
        |error: &str, description: &str| error_redirect(redirect_uri, state, error, description);
    match get("response_type") {
        None => {
            return fail(
                "invalid_request",
                "Missing required parameter: response_type",
            );
        }
        Some("code") => {}
        Some(_) => return fail("unsupported_response_type", "Invalid response_type"),
    }
    let scopes = split_scopes(get("scope").unwrap_or(""));
    if scopes.is_empty() {
        return fail("invalid_request", "Missing required parameter: scope");
    }
    let challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (None, None) => None,
        (None, Some(_)) => {
            return fail(
                "invalid_request",
                "Missing required parameter: code_challenge",
            );
        }
        (Some(c), m) => {
            let method = match m {
                None | Some("plain") => PkceMethod::Plain,
                Some("S256") => PkceMethod::S256,
                Some(_) => return fail("invalid_request", "Invalid code_challenge_method"),
            };
            if !pkce_shape_ok(c) {
                return fail("invalid_request", "Invalid code_challenge");
            }
            Some((c.to_owned(), method))
        }
    };
    let prompt_none = get("prompt").is_some_and(|p| p.split(' ').any(|x| x == "none"));
    let request = AuthRequest {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        state: state.map(str::to_owned),
        challenge,
        offline: get("access_type") == Some("offline"),
        nonce: get("nonce").map(str::to_owned),
        login_hint: get("login_hint").map(str::to_owned),
        expires_at: shared.now() + 600,
    };
    if shared.config.auto_approve {
        let user = request
            .login_hint
            .as_deref()
            .and_then(|h| {
                shared
                    .config
                    .users
                    .iter()
                    .position(|u| u.email.eq_ignore_ascii_case(h))
            })
            .unwrap_or(0);
        return approve_redirect(&shared, request, user);
    }
    if prompt_none {
        return fail(
            "interaction_required",
            "The user must consent on the consent page.",
        );
    }
    let id = shared.random(24);
    let scopes = request.scopes.clone();
    let hint = request.login_hint.clone();
    {
        let mut store = shared.store();
        store.sweep(shared.now());
        store.pending.insert(id.clone(), request);
    }
    consent_page(
        &shared,
        client,
        &scopes,
        hint.as_deref(),
        "/o/oauth2/approval",
        &[("request", &id)],
    )
}

/// Issues a code for `request` as user number `user` and redirects to the client.
fn approve_redirect(shared: &Shared, request: AuthRequest, user: usize) -> Response {
    let code = format!("4/emu-{}", shared.random(32));
    let scope = request.scopes.join(" ");
    let mut params = vec![("code", code.as_str()), ("scope", scope.as_str())];
    if let Some(s) = &request.state {
        params.push(("state", s.as_str()));
    }
    params.push(("authuser", "0"));
    params.push(("prompt", "consent"));
    let location = with_query(&request.redirect_uri, &params);
    let expires_at = shared.now() + shared.config.code_lifetime.as_secs();
    shared.store().codes.insert(
        code,
        Code {
            request,
            user,
            expires_at,
            redeemed: None,
        },
    );
    redirect(&location)
}

/// `POST /o/oauth2/approval`: the consent page's Allow / Deny.
pub(crate) async fn approval(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let f = form(&body);
    let id = f.get("request").map(String::as_str).unwrap_or("");
    let now = shared.now();
    let pending = shared.store().pending.remove(id);
    let Some(request) = pending.filter(|p| p.expires_at > now) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "This sign-in request has expired or was already answered. Start again from the app.",
        );
    };
    match f.get("decision").map(String::as_str) {
        Some("allow") => {
            let user = f
                .get("user")
                .and_then(|e| shared.config.users.iter().position(|u| &u.email == e))
                .unwrap_or(0);
            approve_redirect(&shared, request, user)
        }
        _ => error_redirect(
            &request.redirect_uri,
            request.state.as_deref(),
            "access_denied",
            "The user denied access.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_are_any_port_any_path() {
        assert!(is_loopback_redirect("http://127.0.0.1:8080/"));
        assert!(is_loopback_redirect("http://localhost:1/cb?x=1"));
        assert!(is_loopback_redirect("http://[::1]:9/"));
        assert!(is_loopback_redirect("http://127.0.0.1"));
        assert!(!is_loopback_redirect("https://127.0.0.1/"));
        assert!(!is_loopback_redirect("http://example.com/"));
        assert!(!is_loopback_redirect("http://localhost.example.com/"));
        assert!(!is_loopback_redirect("http://127.0.0.1/#frag"));
        assert!(!is_loopback_redirect("not a url"));
    }

    #[test]
    fn web_clients_need_registered_uris() {
        let web = OAuthClient::web("w", "s", ["https://app.example/cb"]);
        assert!(redirect_allowed(&web, "https://app.example/cb"));
        assert!(!redirect_allowed(&web, "http://127.0.0.1:5000/"));
        let installed = OAuthClient::installed("i", "s");
        assert!(redirect_allowed(&installed, "http://127.0.0.1:5000/"));
    }

    #[test]
    fn pkce_shapes() {
        assert!(pkce_shape_ok(&"a".repeat(43)));
        assert!(!pkce_shape_ok(&"a".repeat(42)));
        assert!(!pkce_shape_ok(&"a".repeat(129)));
        assert!(!pkce_shape_ok(&format!("{}+", "a".repeat(43))));
    }

    #[test]
    fn query_is_appended_to_existing_one() {
        assert_eq!(
            with_query(
                "http://127.0.0.1:1/cb?x=1",
                &[("code", "a b"), ("state", "s&t")]
            ),
            "http://127.0.0.1:1/cb?x=1&code=a+b&state=s%26t"
        );
    }
}
