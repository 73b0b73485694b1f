//! `gauth demo`: the seed walkthrough against an embedded emulator, offline, in seconds.
//!
//! Every step uses the library as a program would; the only stand-in is the user at the
//! browser, whose consent is played by `Robot` over HTTP, exactly as a browser submits the
//! emulator's consent form.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use gauth::blocking::{Credentials, InstalledAppFlow};
use gauth::discovery::BuildOptions;
use gauth::http::{HttpRequest, get};
use gauth::transport::{HttpClient, UreqClient};
use gauth::{EndpointPolicy, LocalServerOptions, Secret, ServiceAccountCredentials};
use gauth_emulator::{Emulator, EmulatorConfig};
use serde_json::json;

use crate::out::{self, Failure};

const SCOPES: [&str; 3] = [
    "openid",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/tasks",
];
const STEPS: usize = 10;

pub fn demo() -> Result<(), Failure> {
    let started = Instant::now();
    out::line(
        "gauth demo: Google OAuth 2.0 end to end, against the embedded emulator (loopback only)\n",
    )?;

    let emu = Emulator::start(EmulatorConfig::default().rotate_refresh_tokens(true))
        .map_err(|e| format!("cannot start the emulator: {e}"))?;
    step(
        1,
        "emulator",
        &format!(
            "Google's OAuth, token, certificate and API endpoints at {}",
            emu.base_url()
        ),
    )?;

    // A fresh private directory, removed however the demo ends.
    let files = emu
        .write_files()
        .map_err(|e| format!("cannot write the client secrets: {e}"))?;
    let secrets_path = files.client_secrets().to_path_buf();
    step(
        2,
        "client secrets",
        &format!("installed-app client written to {}", secrets_path.display()),
    )?;

    // 3. The installed-app flow: loopback server, PKCE, state; the browser is the robot.
    let (url_tx, url_rx) = mpsc::channel::<String>();
    let mut flow = InstalledAppFlow::from_client_secrets_file(&secrets_path, SCOPES)
        .map_err(|e| e.to_string())?;
    let options = LocalServerOptions::default()
        .open_browser(false)
        .timeout(Duration::from_secs(30))
        .prompt("  (the authorization URL, which a browser would open:)")
        .on_url(move |url| {
            let _ = url_tx.send(url.to_string());
        });
    let robot = std::thread::spawn(move || -> Result<Consent, String> {
        let url = url_rx
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| "the flow never produced an authorization URL".to_string())?;
        Robot::new().consent(&url)
    });
    let user = flow.run_local_server(options).map_err(|e| e.to_string())?;
    let consent = robot
        .join()
        .map_err(|_| "the browser robot stopped".to_string())??;
    step(
        3,
        "sign in",
        &format!(
            "consent page \"{}\" answered Allow as {}; the loopback server took the redirect; code exchanged with PKCE",
            consent.title, consent.user
        ),
    )?;
    let had_refresh_token = user.refresh_token().is_some();
    let creds = Credentials::new(user);
    let token = creds.token_details().map_err(|e| e.to_string())?;
    detail(&format!(
        "access token {} (expires in {} s), refresh token {}",
        show(token.access_token.secret()),
        token
            .expiry
            .and_then(|e| e.duration_since(std::time::SystemTime::now()).ok())
            .map_or(0, |d| d.as_secs()),
        if had_refresh_token {
            "received"
        } else {
            "absent"
        }
    ))?;

    // 4-5. Discovery: userinfo and Tasks, the documents served by the emulator.
    let options = BuildOptions::default()
        .discovery_url(format!(
            "{}/discovery/v1/apis/{{api}}/{{apiVersion}}/rest",
            emu.base_url()
        ))
        .no_disk_cache();
    let oauth2 = gauth::blocking::build_with("oauth2", "v2", Some(creds.clone()), &options)
        .map_err(|e| e.to_string())?;
    let me = oauth2
        .method("userinfo.get")
        .and_then(|m| m.execute())
        .map_err(|e| e.to_string())?;
    step(
        4,
        "userinfo",
        &format!(
            "build(\"oauth2\", \"v2\") -> userinfo.get -> {} (verified: {})",
            me["email"].as_str().unwrap_or("?"),
            me["verified_email"]
        ),
    )?;

    let tasks = gauth::blocking::build_with("tasks", "v1", Some(creds.clone()), &options)
        .map_err(|e| e.to_string())?;
    let list = tasks
        .method("tasklists.insert")
        .map(|m| m.body(json!({"title": "gauth demo"})))
        .and_then(|m| m.execute())
        .map_err(|e| e.to_string())?;
    let list_id = list["id"].as_str().unwrap_or_default().to_owned();
    for title in ["Read the guide", "Run cargo xtask test"] {
        tasks
            .method("tasks.insert")
            .map(|m| {
                m.param("tasklist", list_id.as_str())
                    .body(json!({"title": title}))
            })
            .and_then(|m| m.execute())
            .map_err(|e| e.to_string())?;
    }
    let items = tasks
        .method("tasks.list")
        .map(|m| m.param("tasklist", list_id.as_str()).param("maxResults", 1))
        .and_then(|m| m.collect_items())
        .map_err(|e| e.to_string())?;
    let titles: Vec<&str> = items.iter().filter_map(|t| t["title"].as_str()).collect();
    step(
        5,
        "tasks",
        &format!(
            "build(\"tasks\", \"v1\") -> tasklists.insert, 2 x tasks.insert, tasks.list one per page: {titles:?}"
        ),
    )?;

    // 6. Refresh: a new access token, the rotated refresh token kept.
    let refreshed = creds.refresh().map_err(|e| e.to_string())?;
    step(
        6,
        "refresh",
        &format!(
            "refresh_token grant -> new access token {} (the server rotated the refresh token; the new one is kept)",
            show(refreshed.access_token.secret())
        ),
    )?;

    // 7. A service account: the JWT-bearer grant, signed RS256 with ring.
    let key = emu.service_account_key();
    let sa = ServiceAccountCredentials::from_value_with(
        &key,
        "the emulator's key file",
        &EndpointPolicy::default(),
    )
    .map_err(|e| e.to_string())?
    .with_scopes(["https://www.googleapis.com/auth/cloud-platform"]);
    let email = sa.service_account_email().to_owned();
    let id_creds = Credentials::new(sa.id_token_credentials("https://demo.gauth.example"));
    let sa_creds = Credentials::new(sa);
    let sa_token = sa_creds.token().map_err(|e| e.to_string())?;
    step(
        7,
        "service account",
        &format!(
            "{email}: JWT-bearer grant -> access token {}",
            show(sa_token.secret())
        ),
    )?;

    // 8. An ID token for an audience, verified against the emulator's certificates.
    let id_token = id_creds.token().map_err(|e| e.to_string())?;
    let verifier = gauth::blocking::IdTokenVerifier::new("https://demo.gauth.example")
        .with_certs_url(
            emu.pem_certs_uri()
                .parse()
                .map_err(|e| format!("certificate URL: {e}"))?,
        )
        .with_issuers([emu.issuer()]);
    let claims = verifier
        .verify(id_token.expose())
        .map_err(|e| e.to_string())?;
    step(
        8,
        "ID token",
        &format!(
            "target_audience grant -> ID token for {} verified (RS256, issuer {}, email {})",
            claims["aud"].as_str().unwrap_or("?"),
            claims["iss"].as_str().unwrap_or("?"),
            claims["email"].as_str().unwrap_or("?")
        ),
    )?;

    // 9. Workload identity federation: an AWS workload signs in without a key.
    let wif = emu.external_account_file(gauth_emulator::CredentialSource::Aws, Some(&email));
    let federated = gauth::ExternalAccountCredentials::from_json(
        wif.to_string().as_bytes(),
        "the emulator's AWS workload identity file",
    )
    .map_err(|e| e.to_string())?
    .with_scopes(["https://www.googleapis.com/auth/cloud-platform"]);
    let fed_token = Credentials::new(federated)
        .token()
        .map_err(|e| e.to_string())?;
    step(
        9,
        "federation",
        &format!(
            "external_account (aws1): IMDSv2 role credentials -> SigV4-signed GetCallerIdentity -> STS token exchange -> {email} impersonated -> access token {}",
            show(fed_token.secret())
        ),
    )?;

    // 10. Revoke: the user's grant ends.
    let revoke = gauth::flow::RevokeCall::new(
        emu.revoke_uri()
            .parse()
            .map_err(|e| format!("revoke URL: {e}"))?,
        creds.token().map_err(|e| e.to_string())?.into(),
    );
    gauth::blocking::revoke(&revoke).map_err(|e| e.to_string())?;
    let after = creds
        .refresh()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    step(
        10,
        "revoke",
        &format!("token revoked; a refresh now fails: {after}"),
    )?;

    out::line(&format!(
        "\ndone in {:.2} s, nothing sent beyond 127.0.0.1. Next: `gauth emulator` keeps these endpoints up for your own experiments.",
        started.elapsed().as_secs_f64()
    ))?;
    drop(files);
    Ok(())
}

fn step(n: usize, name: &str, text: &str) -> Result<(), Failure> {
    out::line(&format!("[{n}/{STEPS}] {name:<16} {text}"))
}

fn detail(text: &str) -> Result<(), Failure> {
    out::line(&format!("      {:<16} {text}", ""))
}

/// A token shown as a demo may show it: its kind and length, never the value.
fn show(token: &Secret) -> String {
    let t = token.expose();
    let prefix: String = t
        .chars()
        .take_while(|c| *c != '.' && *c != '-')
        .take(6)
        .collect();
    format!("{prefix}... ({} characters)", t.len())
}

/// What the robot saw and chose.
struct Consent {
    title: String,
    user: String,
}

/// The user at the browser: loads the consent page, submits its form with Allow, and
/// follows the redirect to the program's loopback server, as a browser would.
struct Robot {
    http: std::sync::Arc<UreqClient>,
}

impl Robot {
    fn new() -> Self {
        Robot {
            http: UreqClient::shared(),
        }
    }

    fn send(&self, request: HttpRequest) -> Result<gauth::http::HttpResponse, String> {
        self.http
            .execute(request)
            .map_err(|e| format!("browser: {e}"))
    }

    fn consent(&self, authorization_url: &str) -> Result<Consent, String> {
        let url: url::Url = authorization_url
            .parse()
            .map_err(|e| format!("authorization URL: {e}"))?;
        let page = self.send(get(&url))?;
        let html = String::from_utf8_lossy(page.body()).into_owned();
        let title = between(&html, "<h1 id=\"title\">", "</h1>")
            .map(unescape)
            .unwrap_or_default();
        let action = attr_after(&html, "<form", "action").ok_or("the consent page has no form")?;
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut rest = html.as_str();
        while let Some(i) = rest.find("<input type=\"hidden\"") {
            rest = &rest[i..];
            let end = rest.find('>').unwrap_or(rest.len());
            let tag = &rest[..end];
            if let (Some(n), Some(v)) = (attr(tag, "name"), attr(tag, "value")) {
                fields.push((n, v));
            }
            rest = &rest[end..];
        }
        let user = attr_after(&html, "<option", "value").unwrap_or_default();
        fields.push(("user".into(), user.clone()));
        fields.push(("decision".into(), "allow".into()));
        let target = url.join(&action).map_err(|e| format!("form action: {e}"))?;
        let pairs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let answer = self.send(gauth::http::form_post(&target, &pairs))?;
        let location = answer
            .headers()
            .get(http_location())
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                format!(
                    "the consent form answered {} without a redirect",
                    answer.status()
                )
            })?;
        let redirect: url::Url = target
            .join(location)
            .map_err(|e| format!("redirect: {e}"))?;
        let landing = self.send(get(&redirect))?;
        if !landing.status().is_success() {
            return Err(format!("the loopback server answered {}", landing.status()));
        }
        Ok(Consent { title, user })
    }
}

fn http_location() -> &'static str {
    "location"
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = text.find(start)? + start.len();
    let j = text[i..].find(end)? + i;
    Some(&text[i..j])
}

fn attr(tag: &str, name: &str) -> Option<String> {
    between(tag, &format!("{name}=\""), "\"").map(unescape)
}

fn attr_after(html: &str, tag: &str, name: &str) -> Option<String> {
    let i = html.find(tag)?;
    let end = html[i..].find('>')? + i;
    attr(&html[i..end], name)
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}
