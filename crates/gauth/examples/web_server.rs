//! A small web application that signs its users in with Google (the web-server flow, async
//! flavour, on axum): the Rust edition of the Flask example in Google's OAuth 2.0 guide.
//!
//! ```text
//! cargo run -p gauth --example web_server -- [CLIENT_SECRETS]
//! ```
//!
//! - `CLIENT_SECRETS`: the "Web application" client file from the Google Cloud console
//!   (default `client_secrets.json`), whose authorized redirect URIs include
//!   `PUBLIC_URL/oauth2callback`.
//! - `PUBLIC_URL`: the address browsers use to reach this app (default
//!   `http://localhost:8080`); `BIND`: the socket address it listens on (default
//!   `127.0.0.1:8080`).
//! - `GAUTH_DISCOVERY_URL` (optional): where discovery documents come from, with `{api}`
//!   and `{apiVersion}` placeholders; Google's discovery service by default.
//!
//! Pages: `/` (a sign-in link, or who is signed in), `/login` (off to Google),
//! `/oauth2callback` (Google sends the browser back here), `/me` (the userinfo API's
//! answer, as JSON), `POST /logout`.

use std::collections::HashMap;
use std::error::Error;
use std::fmt::Display;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Json, Redirect, Response};
use axum::routing::{get, post};
use gauth::discovery::BuildOptions;
use gauth::{ClientSecrets, ClientType, Credentials, Flow, FlowError};

/// What the app asks for: who the user is.
pub const SCOPES: [&str; 2] = ["openid", "https://www.googleapis.com/auth/userinfo.email"];

/// The cookie that carries the session's random id (and nothing else).
const COOKIE: &str = "gauth_example_session";

/// How the app is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// The web client's secrets, read once at start.
    pub client_secrets: ClientSecrets,
    /// The app's address as browsers see it, without a trailing slash.
    pub public_url: String,
    /// Where discovery documents come from.
    pub discovery: BuildOptions,
}

impl Config {
    /// Reads the client file and checks that it is a web client's.
    pub fn new(
        client_secrets: &Path,
        public_url: &str,
        discovery: BuildOptions,
    ) -> Result<Config, Box<dyn Error>> {
        let secrets = ClientSecrets::from_file(client_secrets)?;
        if secrets.client_type != ClientType::Web {
            return Err(format!(
                "{}: an `{}` client; the web-server flow needs a \"Web application\" client",
                client_secrets.display(),
                secrets.client_type
            )
            .into());
        }
        Ok(Config {
            client_secrets: secrets,
            public_url: public_url.trim_end_matches('/').to_owned(),
            discovery,
        })
    }

    fn redirect_uri(&self) -> String {
        format!("{}/oauth2callback", self.public_url)
    }
}

// The tests include this file as a module and call `app` directly, so `main` and
// `cli` go unused there.
#[cfg_attr(test, allow(dead_code))]
#[tokio::main]
async fn main() -> ExitCode {
    match cli().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("web_server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Reads the arguments and runs the program.
#[cfg_attr(test, allow(dead_code))]
async fn cli() -> Result<(), Box<dyn Error>> {
    let secrets = std::env::args_os()
        .nth(1)
        .unwrap_or_else(|| "client_secrets.json".into());
    let public_url =
        std::env::var("PUBLIC_URL").unwrap_or_else(|_| "http://localhost:8080".to_owned());
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:8080".to_owned());
    let mut discovery = BuildOptions::default();
    if let Ok(url) = std::env::var("GAUTH_DISCOVERY_URL") {
        discovery = discovery.discovery_url(url);
    }

    let config = Config::new(Path::new(&secrets), &public_url, discovery)?;
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    println!("Listening on {bind}; open {public_url}/ in a browser");
    axum::serve(listener, app(config)).await?;
    Ok(())
}

/// The application's routes, with an empty session store.
pub fn app(config: Config) -> Router {
    let state = AppState {
        config: Arc::new(config),
        sessions: Arc::default(),
    };
    Router::new()
        .route("/", get(index))
        .route("/login", get(login))
        .route("/oauth2callback", get(oauth2callback))
        .route("/me", get(me))
        .route("/logout", post(logout))
        .with_state(state)
}

/// What the server keeps for one browser. It stays on the server: the serialized flow
/// holds the PKCE verifier and the client secret, the credentials a refresh token.
#[derive(Default)]
struct Session {
    /// A sign-in in progress: the `Flow`, serialized as a database-backed session store
    /// would keep it.
    flow: Option<String>,
    /// The signed-in user.
    user: Option<SignedIn>,
}

struct SignedIn {
    email: String,
    /// Cheap to clone; refreshes its token when needed, once for all concurrent requests.
    credentials: Credentials,
}

/// Sessions in memory, by cookie id. A real app would expire them and keep them in a
/// shared store (a database, Redis) so that several instances can serve one user.
type Sessions = Arc<Mutex<HashMap<String, Session>>>;

#[derive(Clone)]
struct AppState {
    config: Arc<Config>,
    sessions: Sessions,
}

impl AppState {
    /// Runs `f` on the request's session, if the browser sent a known session cookie.
    fn with_session<T>(&self, headers: &HeaderMap, f: impl FnOnce(&mut Session) -> T) -> Option<T> {
        let id = session_id(headers)?;
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.get_mut(&id).map(f)
    }

    /// Replaces the request's session (if any) with a fresh one under a new random id, and
    /// returns the cookie that names it. A new id at each sign-in step means an id seen
    /// before signing in is worthless afterwards (no session fixation).
    fn new_session(&self, headers: &HeaderMap, session: Session) -> Result<String, AppError> {
        let id = random_id()?;
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = session_id(headers) {
            sessions.remove(&old);
        }
        sessions.insert(id.clone(), session);
        let secure = if self.config.public_url.starts_with("https:") {
            "; Secure"
        } else {
            ""
        };
        // Lax: the browser sends the cookie along when Google redirects back to us.
        Ok(format!(
            "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax{secure}"
        ))
    }
}

/// `/`: a sign-in link, or the signed-in user.
async fn index(State(app): State<AppState>, headers: HeaderMap) -> Html<String> {
    let email = app
        .with_session(&headers, |s| s.user.as_ref().map(|u| u.email.clone()))
        .flatten();
    Html(match email {
        Some(email) => page(&format!(
            "<p>Signed in as <b>{}</b>.</p>\
             <p><a href=\"/me\">Your Google profile (JSON)</a></p>\
             <form method=\"post\" action=\"/logout\"><button>Sign out</button></form>",
            escape(&email)
        )),
        None => page("<p><a href=\"/login\">Sign in with Google</a></p>"),
    })
}

/// `/login`: creates a flow for this sign-in, keeps it in a new session, and sends the
/// browser to Google's consent page.
async fn login(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let mut flow = Flow::from_client_secrets(app.config.client_secrets.clone(), SCOPES)
        .with_redirect_uri(app.config.redirect_uri().parse().map_err(FlowError::from)?)
        // Keeps scopes the user granted this app before (incremental authorization).
        .with_include_granted_scopes(true);
    // A fresh random `state` and PKCE verifier, both kept in the flow.
    let url = flow.authorization_url()?.url;
    let saved = serde_json::to_string(&flow).map_err(AppError::internal)?;
    let cookie = app.new_session(
        &headers,
        Session {
            flow: Some(saved),
            user: None,
        },
    )?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(url.as_str())).into_response())
}

/// `/oauth2callback`: Google's redirect, with `code` and `state` (or `error`). The flow
/// saved at `/login` checks the state and exchanges the code.
async fn oauth2callback(
    State(app): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, AppError> {
    // One use only: a replayed callback finds no flow.
    let saved = app
        .with_session(&headers, |s| s.flow.take())
        .flatten()
        .ok_or_else(|| {
            AppError::bad_request(
                "No sign-in is in progress in this browser (was the cookie blocked, or this \
                 page reloaded?). Start again from the home page.",
            )
        })?;
    let flow: Flow = serde_json::from_str(&saved).map_err(AppError::internal)?;

    // The whole URL the browser was sent to: the flow checks its `state` against the saved
    // one before anything else, reads the code (or the user's refusal) and trades it for
    // tokens with the PKCE verifier. `InstalledAppFlow::from` only adds the HTTP transport;
    // nothing in it is specific to installed apps.
    let redirect = format!(
        "{}{}",
        app.config.public_url,
        uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let user = gauth::InstalledAppFlow::from(flow)
        .fetch_token_from_redirect(&redirect)
        .await?;
    let credentials = Credentials::new(user);
    let me = userinfo(&app.config, &credentials).await?;
    let email = me["email"].as_str().unwrap_or("(no email)").to_owned();

    let cookie = app.new_session(
        &headers,
        Session {
            flow: None,
            user: Some(SignedIn { email, credentials }),
        },
    )?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response())
}

/// `/me`: the signed-in user's profile from the userinfo API, as JSON.
async fn me(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    // Clone the handle out of the lock: no lock is held across the API call.
    let credentials = app
        .with_session(&headers, |s| s.user.as_ref().map(|u| u.credentials.clone()))
        .flatten()
        .ok_or(AppError {
            status: StatusCode::UNAUTHORIZED,
            message: "Not signed in.".to_owned(),
        })?;
    Ok(Json(userinfo(&app.config, &credentials).await?).into_response())
}

/// `POST /logout`: forgets the session.
async fn logout(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = session_id(&headers) {
        let mut sessions = app.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.remove(&id);
    }
    Redirect::to("/").into_response()
}

/// The oauth2 v2 API's `userinfo.get`, through its discovery document (fetched once,
/// then cached).
async fn userinfo(
    config: &Config,
    credentials: &Credentials,
) -> Result<serde_json::Value, gauth::discovery::Error> {
    let oauth2 =
        gauth::discovery::build_with("oauth2", "v2", Some(credentials.clone()), &config.discovery)
            .await?;
    oauth2.method("userinfo.get")?.execute().await
}

/// The session id in the request's cookies.
fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// 32 random bytes from the operating system, as hex: unguessable.
fn random_id() -> Result<String, AppError> {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| AppError::internal("the system's random generator failed"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// An error page. Messages name what went wrong, never a token or secret (gauth's errors
/// carry none).
#[derive(Debug)]
struct AppError {
    status: StatusCode,
    message: String,
}

impl AppError {
    fn bad_request(message: impl Display) -> Self {
        AppError {
            status: StatusCode::BAD_REQUEST,
            message: message.to_string(),
        }
    }

    fn internal(error: impl Display) -> Self {
        AppError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: error.to_string(),
        }
    }
}

impl From<FlowError> for AppError {
    fn from(e: FlowError) -> Self {
        match e.oauth_error() {
            // The user clicked "Cancel" on Google's consent page.
            Some("access_denied") => AppError {
                status: StatusCode::FORBIDDEN,
                message: "You declined to sign in. You can try again from the home page."
                    .to_owned(),
            },
            _ => match e {
                // Google could not be reached, or answered 5xx: worth a retry later.
                FlowError::Core(core) if core.is_transient() => AppError {
                    status: StatusCode::BAD_GATEWAY,
                    message: core.to_string(),
                },
                // The token endpoint refused the client: the app's configuration is wrong.
                FlowError::Core(core)
                    if core.oauth().is_none_or(|o| o.error != "invalid_grant") =>
                {
                    AppError::internal(core)
                }
                // A forged or stale redirect, a used or expired code: the request's fault.
                other => AppError::bad_request(other),
            },
        }
    }
}

impl From<gauth::discovery::Error> for AppError {
    fn from(e: gauth::discovery::Error) -> Self {
        AppError {
            status: StatusCode::BAD_GATEWAY,
            message: e.to_string(),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = page(&format!(
            "<p>{}</p><p><a href=\"/\">Home</a></p>",
            escape(&self.message)
        ));
        (self.status, Html(body)).into_response()
    }
}

fn page(body: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>gauth web example</title>\
         </head><body><h1>gauth web example</h1>{body}</body></html>"
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
