//! node's oidc-provider on loopback (`tests/interop/oidc_provider.mjs`) and a small
//! browser that plays the user: follows redirects, keeps cookies, submits the provider's
//! login and consent forms (its dev interactions) and the device-code forms.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gauth::transport::{HttpClient, UreqClient};

/// The client registered in the provider.
pub const CLIENT_ID: &str = "gauth-native.apps.example";
/// Its secret.
pub const CLIENT_SECRET: &str = "gauth-native-secret";

/// A running provider; killed on drop.
pub struct OidcProvider {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub issuer: String,
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

impl OidcProvider {
    /// Starts the provider on a free port and waits until it listens.
    pub fn start() -> OidcProvider {
        let modules = crate::node_modules();
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let mut child = Command::new("node")
                .arg(crate::interop_dir().join("oidc_provider.mjs"))
                .arg(port.to_string())
                .env("GAUTH_NODE_MODULES", &modules)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start node: {e}"));
            let stdout = child.stdout.take().expect("piped stdout");
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
            match rx.recv_timeout(Duration::from_secs(20)) {
                Ok(line) if line.starts_with("READY ") => {
                    return OidcProvider {
                        child,
                        issuer: line["READY ".len()..].trim().to_owned(),
                    };
                }
                other => {
                    last = format!("{other:?}");
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
        panic!("oidc-provider did not start: {last}");
    }

    /// A URL on the provider.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// An installed-app client-secrets value for the provider's client.
    pub fn client_secrets(&self) -> serde_json::Value {
        serde_json::json!({"installed": {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "auth_uri": self.url("/auth"),
            "token_uri": self.url("/token"),
            "redirect_uris": ["http://127.0.0.1"],
        }})
    }

    /// Writes the client-secrets file into `dir`.
    pub fn write_client_secrets(&self, dir: &Path) -> PathBuf {
        let p = dir.join("client_secrets.json");
        std::fs::write(&p, self.client_secrets().to_string()).expect("write client secrets");
        p
    }

    /// The provider's grant counters: `{"grants": {grant_type: n}, "errors": {...}, "revoked": n}`.
    pub fn stats(&self) -> serde_json::Value {
        let r = Browser::new().get(&self.url("/__stats"));
        serde_json::from_slice(r.body()).expect("stats JSON")
    }

    /// Successful grants of a type (`refresh_token`, `authorization_code`, ...).
    pub fn grants(&self, grant_type: &str) -> u64 {
        self.stats()["grants"][grant_type].as_u64().unwrap_or(0)
    }
}

/// Where a browser journey ended.
#[derive(Debug)]
pub enum Landing {
    /// Sent to a URL outside the provider (the application's redirect), not followed.
    Redirect(String),
    /// A page of the provider (status, body).
    Page(u16, String),
}

/// A cookie-keeping client that follows the provider's redirects itself.
pub struct Browser {
    http: UreqClient,
    cookies: HashMap<String, String>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

fn resolve(base: &str, location: &str) -> String {
    url::Url::parse(base)
        .and_then(|b| b.join(location))
        .map(|u| u.to_string())
        .unwrap_or_else(|_| location.to_owned())
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = text.find(start)? + start.len();
    let j = text[i..].find(end)? + i;
    Some(&text[i..j])
}

impl Browser {
    /// A browser with no cookies.
    pub fn new() -> Self {
        Browser {
            http: UreqClient::new(),
            cookies: HashMap::new(),
        }
    }

    fn send(&mut self, mut req: gauth::http::HttpRequest) -> gauth::http::HttpResponse {
        if !self.cookies.is_empty() {
            let cookie = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            req.headers_mut()
                .insert("cookie", cookie.parse().expect("cookie header"));
        }
        let resp = self.http.execute(req).expect("browser request");
        for v in resp.headers().get_all("set-cookie") {
            if let Some((name, rest)) = v.to_str().unwrap_or("").split_once('=') {
                let value = rest.split(';').next().unwrap_or("");
                self.cookies
                    .insert(name.trim().to_owned(), value.to_owned());
            }
        }
        resp
    }

    /// A plain GET (no redirect followed).
    pub fn get(&mut self, url: &str) -> gauth::http::HttpResponse {
        self.send(gauth::http::get(&url.parse().expect("URL")))
    }

    fn post(&mut self, url: &str, form: &[(&str, &str)]) -> gauth::http::HttpResponse {
        self.send(gauth::http::form_post(&url.parse().expect("URL"), form))
    }

    /// Follows redirects from `response` (at `url`), submitting login (as `login`) and
    /// consent forms, or aborting at the first interaction when `refuse`.
    fn drive(
        &mut self,
        issuer: &str,
        mut url: String,
        mut response: gauth::http::HttpResponse,
        login: &str,
        refuse: bool,
    ) -> Landing {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(Instant::now() < deadline, "browser journey did not end");
            let status = response.status().as_u16();
            if (300..400).contains(&status) {
                let location = response
                    .headers()
                    .get("location")
                    .and_then(|l| l.to_str().ok())
                    .expect("redirect without Location");
                let next = resolve(&url, location);
                if !next.starts_with(issuer) {
                    return Landing::Redirect(next);
                }
                url = next;
                response = self.get(&url);
                continue;
            }
            let body = String::from_utf8_lossy(response.body()).into_owned();
            let path = url::Url::parse(&url)
                .map(|u| u.path().to_owned())
                .unwrap_or_default();
            if status == 200 && path.starts_with("/interaction/") {
                if refuse {
                    url = format!("{issuer}{path}/abort");
                    response = self.get(&url);
                } else if body.contains(r#"name="prompt" value="login""#) {
                    response = self.post(
                        &url,
                        &[("prompt", "login"), ("login", login), ("password", "any")],
                    );
                } else if body.contains(r#"name="prompt" value="consent""#) {
                    response = self.post(&url, &[("prompt", "consent")]);
                } else {
                    panic!("unexpected interaction page: {body}");
                }
                continue;
            }
            return Landing::Page(status, body);
        }
    }

    /// Opens an authorization URL and signs in as `login`, consenting; returns the
    /// application's redirect URL (not followed).
    pub fn sign_in(&mut self, issuer: &str, auth_url: &str, login: &str) -> String {
        let r = self.get(auth_url);
        match self.drive(issuer, auth_url.to_owned(), r, login, false) {
            Landing::Redirect(u) => u,
            Landing::Page(s, b) => panic!("sign-in ended on a page ({s}): {b}"),
        }
    }

    /// Opens an authorization URL and refuses; returns the error redirect URL.
    pub fn refuse(&mut self, issuer: &str, auth_url: &str) -> String {
        let r = self.get(auth_url);
        match self.drive(issuer, auth_url.to_owned(), r, "nobody", true) {
            Landing::Redirect(u) => u,
            Landing::Page(s, b) => panic!("refusal ended on a page ({s}): {b}"),
        }
    }

    /// Delivers a redirect to the application's loopback server: (status, page).
    pub fn deliver(&mut self, redirect: &str) -> (u16, String) {
        let r = Browser::new().get(redirect);
        (
            r.status().as_u16(),
            String::from_utf8_lossy(r.body()).into_owned(),
        )
    }

    /// Enters a device flow's user code at the provider and approves as `login`; returns
    /// the final page.
    pub fn approve_device(&mut self, issuer: &str, user_code: &str, login: &str) -> String {
        let start = format!("{issuer}/device");
        let page = self.get(&start);
        let body = String::from_utf8_lossy(page.body()).into_owned();
        let xsrf = between(&body, r#"name="xsrf" value=""#, "\"")
            .expect("xsrf")
            .to_owned();
        let action = resolve(&start, between(&body, r#"action=""#, "\"").expect("action"));
        let confirm = self.post(&action, &[("xsrf", &xsrf), ("user_code", user_code)]);
        let body = String::from_utf8_lossy(confirm.body()).into_owned();
        let xsrf = between(&body, r#"name="xsrf" value=""#, "\"")
            .unwrap_or_else(|| panic!("confirm page: {body}"))
            .to_owned();
        let action = resolve(&start, between(&body, r#"action=""#, "\"").expect("action"));
        let r = self.post(
            &action,
            &[
                ("xsrf", &xsrf),
                ("user_code", user_code),
                ("confirm", "yes"),
            ],
        );
        match self.drive(issuer, action.clone(), r, login, false) {
            Landing::Page(200, body) => body,
            other => panic!("device approval ended badly: {other:?}"),
        }
    }
}

/// A query parameter of a URL, decoded.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
