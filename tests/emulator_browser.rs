//! Headless Chromium, driven through chromedriver's WebDriver HTTP API, signs in on the
//! emulator's consent page: the installed-app flow (oauth-flow's `run_local_server`) prints
//! the URL, the browser clicks Allow, lands on the flow's loopback success page, and the flow
//! completes with tokens. Screenshots of both pages go to `target/emulator-browser/`.
//!
//! Chromium and ChromeDriver are found wherever they are installed (`CHROMIUM`/`CHROME` and
//! `CHROMEDRIVER`, else `chromium`, `chromium-browser`, `google-chrome` and `chromedriver`
//! on `PATH`); without them the test says so in one line and skips, except under `CI=true`
//! where it fails (`.ci/run` installs Debian's `chromium` and `chromium-driver`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;
use gauth_emulator::{Emulator, EmulatorConfig};
use gauth_tests::require_tool;
use gauth_tests::tools::{CHROMEDRIVER, CHROMIUM};
use oauth_flow::LocalServerOptions;
use oauth_flow::blocking::InstalledAppFlow;
use serde_json::{Value, json};

/// The flags Chromium needs to run headless in a container, quietly and offline.
const CHROMIUM_FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1000,900",
];

/// chromedriver, killed on drop.
struct Driver {
    child: Child,
    url: String,
    agent: ureq::Agent,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start(bin: &std::path::Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(bin)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} ({e})", bin.display()));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            agent,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut r) = driver.agent.get(format!("{}/status", driver.url)).call() {
                let status: Value =
                    serde_json::from_str(&r.body_mut().read_to_string().unwrap_or_default())
                        .unwrap_or(Value::Null);
                if status["value"]["ready"] == true {
                    return driver;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// One WebDriver command; its `value`, or a panic naming the command.
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.url);
        let result = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, body) => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.unwrap_or(json!({})).to_string()),
        };
        let mut r = result.unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert_eq!(status, 200, "WebDriver {method} {path}: {text}");
        v["value"].clone()
    }
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("emulator-browser");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

fn save_screenshot(driver: &Driver, session: &str, name: &str) -> PathBuf {
    let png = driver.cmd("GET", &format!("/session/{session}/screenshot"), None);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(png.as_str().expect("a base64 screenshot"))
        .expect("base64");
    assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
    let path = screenshot_dir().join(name);
    std::fs::write(&path, bytes).expect("write screenshot");
    path
}

#[test]
#[ignore = "drives a real browser (seconds, not milliseconds): cargo xtask test runs it"]
fn chromium_clicks_allow_on_the_consent_page_and_the_installed_flow_completes() {
    let Some(chromium) = require_tool(&CHROMIUM) else {
        return;
    };
    let Some(chromedriver) = require_tool(&CHROMEDRIVER) else {
        return;
    };
    let emu = Emulator::start(EmulatorConfig::default()).expect("emulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let secrets = emu
        .write_client_secrets(dir.path())
        .expect("client secrets");

    // The installed-app flow, as a user's program runs it; the browser is ours to drive.
    let (url_tx, url_rx) = mpsc::channel::<String>();
    let flow_thread = std::thread::spawn(move || {
        let mut flow = InstalledAppFlow::from_client_secrets_file(
            &secrets,
            ["openid", "https://www.googleapis.com/auth/userinfo.email"],
        )
        .expect("client secrets load");
        let options = LocalServerOptions::default()
            .open_browser(false)
            .timeout(Duration::from_secs(90))
            .on_url(move |u| {
                let _ = url_tx.send(u.to_string());
            });
        flow.run_local_server(options)
    });
    let auth_url = url_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the flow announces its authorization URL");
    assert!(auth_url.starts_with(&emu.auth_uri()), "{auth_url}");

    let driver = Driver::start(&chromedriver);
    let profile = tempfile::tempdir().expect("profile dir");
    let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| (*s).to_owned()).collect();
    args.push(format!("--user-data-dir={}", profile.path().display()));
    let options = json!({"args": args, "binary": chromium});
    let session = driver.cmd(
        "POST",
        "/session",
        Some(json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options,
        }}})),
    );
    let session = session["sessionId"]
        .as_str()
        .expect("a WebDriver session")
        .to_owned();

    driver.cmd(
        "POST",
        &format!("/session/{session}/url"),
        Some(json!({"url": auth_url})),
    );
    let title = driver.cmd("GET", &format!("/session/{session}/title"), None);
    assert_eq!(title, "Sign in - gauth emulator");
    let consent_png = save_screenshot(&driver, &session, "consent.png");

    let allow = driver.cmd(
        "POST",
        &format!("/session/{session}/element"),
        Some(json!({"using": "css selector", "value": "#allow"})),
    );
    let element = allow["element-6066-11e4-a52e-4f735466cecf"]
        .as_str()
        .expect("the Allow button")
        .to_owned();
    driver.cmd(
        "POST",
        &format!("/session/{session}/element/{element}/click"),
        None,
    );

    // The browser lands on the flow's loopback redirect page.
    let deadline = Instant::now() + Duration::from_secs(30);
    let landed = loop {
        let url = driver.cmd("GET", &format!("/session/{session}/url"), None);
        let url = url.as_str().unwrap_or("").to_owned();
        if (url.starts_with("http://localhost:") || url.starts_with("http://127.0.0.1:"))
            && !url.starts_with(emu.base_url())
        {
            break url;
        }
        assert!(Instant::now() < deadline, "still on {url}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        landed.contains("code=") && landed.contains("state="),
        "{landed}"
    );
    let text = driver.cmd(
        "POST",
        &format!("/session/{session}/execute/sync"),
        Some(json!({"script": "return document.body.innerText", "args": []})),
    );
    let success_png = save_screenshot(&driver, &session, "success.png");
    driver.cmd("DELETE", &format!("/session/{session}"), None);

    let user = flow_thread
        .join()
        .expect("the flow thread")
        .expect("the installed-app flow completes");
    assert!(
        user.refresh_token().is_some(),
        "access_type=offline yields a refresh token"
    );
    assert!(user.token().is_some(), "an access token");
    assert!(
        !text.as_str().unwrap_or("").is_empty(),
        "the success page has text"
    );
    eprintln!(
        "screenshots: {} and {}",
        consent_png.display(),
        success_png.display()
    );
}
