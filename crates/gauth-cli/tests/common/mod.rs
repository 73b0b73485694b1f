//! What the process-level CLI tests share: a private home for each run, and the user at
//! the browser, played over HTTP.

#![allow(dead_code)] // each test file uses its own part

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use gauth::http::{HttpResponse, form_post, get};
use gauth::transport::{HttpClient, UreqClient};

/// A private HOME (and XDG directories) in a temp dir, so a run sees no user's files: no
/// gauth store, no gcloud file, no metadata server unless a test says so.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Where `gauth login` saves by default under this home.
    pub fn store(&self) -> PathBuf {
        self.path()
            .join("config")
            .join("gauth")
            .join("authorized_user.json")
    }

    /// gcloud's ADC file under this home.
    pub fn gcloud_file(&self) -> PathBuf {
        self.path()
            .join("home")
            .join(".config")
            .join("gcloud")
            .join("application_default_credentials.json")
    }

    /// `gauth` with this home, no ambient credentials, `BROWSER` a no-op (the tests play
    /// the browser themselves), and the metadata server check off.
    pub fn gauth(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_gauth"));
        self.apply(&mut c);
        c
    }

    /// Applies this home's environment to any command.
    pub fn apply(&self, c: &mut Command) {
        let home = self.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        c.env("HOME", &home)
            .env("XDG_CONFIG_HOME", self.path().join("config"))
            .env("XDG_CACHE_HOME", self.path().join("cache"))
            .env("XDG_DATA_HOME", self.path().join("data"))
            .env("BROWSER", "true")
            .env("NO_GCE_CHECK", "true")
            .env("NO_COLOR", "1")
            .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
            .env_remove("CLOUDSDK_CONFIG")
            .env_remove("GCE_METADATA_HOST")
            .env_remove("GCE_METADATA_IP")
            .env_remove("GAUTH_TOKEN_CACHE")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
    }
}

/// Runs `cmd`; whenever its stderr shows an authorization URL, signs in at it as a user
/// clicking Allow would. Returns the output with the whole stderr.
pub fn run_as_user(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gauth starts");
    let reader = consent_on_stderr(&mut child, false);
    let mut out = child.wait_with_output().unwrap();
    out.stderr = reader.join().unwrap().into_bytes();
    out
}

/// Reads `child`'s stderr on a thread, signing in at every authorization URL it shows;
/// with `close_after_url`, stops reading (closing the pipe) once it has seen the URL.
pub fn consent_on_stderr(
    child: &mut Child,
    close_after_url: bool,
) -> std::thread::JoinHandle<String> {
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut lines = BufReader::new(stderr).lines();
        while let Some(Ok(line)) = lines.next() {
            let url = line.trim().to_owned();
            all.push(line);
            if url.starts_with("http") && url.contains("/o/oauth2/auth?") {
                if close_after_url {
                    drop(lines);
                    if let Err(e) = allow(&url) {
                        all.push(format!("(the browser failed: {e})"));
                    }
                    return all.join("\n");
                }
                if let Err(e) = allow(&url) {
                    all.push(format!("(the browser failed: {e})"));
                }
            }
        }
        all.join("\n")
    })
}

fn send(request: gauth::http::HttpRequest) -> Result<HttpResponse, String> {
    UreqClient::shared()
        .execute(request)
        .map_err(|e| format!("browser: {e}"))
}

/// The user at the browser: loads the emulator's consent page, submits its form with
/// Allow as the first account, and follows the redirect to the loopback server.
pub fn allow(authorization_url: &str) -> Result<(), String> {
    let url: url::Url = authorization_url.parse().map_err(|e| format!("{e}"))?;
    let page = send(get(&url))?;
    let html = String::from_utf8_lossy(page.body()).into_owned();
    let form_at = html.find("<form").ok_or("no consent form")?;
    let form_tag = &html[form_at..form_at + html[form_at..].find('>').ok_or("form tag")?];
    let action = attr(form_tag, "action").ok_or("no form action")?;
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut rest = &html[form_at..];
    while let Some(i) = rest.find("<input type=\"hidden\"") {
        rest = &rest[i..];
        let end = rest.find('>').unwrap_or(rest.len());
        if let (Some(n), Some(v)) = (attr(&rest[..end], "name"), attr(&rest[..end], "value")) {
            fields.push((n, v));
        }
        rest = &rest[end..];
    }
    let option_at = html.find("<option").ok_or("no account to choose")?;
    let option = &html[option_at..option_at + html[option_at..].find('>').ok_or("option")?];
    fields.push(("user".into(), attr(option, "value").ok_or("option value")?));
    fields.push(("decision".into(), "allow".into()));
    let target = url.join(&action).map_err(|e| e.to_string())?;
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let answer = send(form_post(&target, &pairs))?;
    let location = answer
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| format!("the consent form answered {}", answer.status()))?;
    let redirect = target.join(location).map_err(|e| e.to_string())?;
    let landing = send(get(&redirect))?;
    if landing.status().is_success() {
        Ok(())
    } else {
        Err(format!("the loopback server answered {}", landing.status()))
    }
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
    let end = tag[start..].find('"')? + start;
    Some(
        tag[start..end]
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success, showing stderr otherwise; returns stdout.
pub fn ok(what: &str, o: &Output) -> String {
    assert!(
        o.status.success(),
        "{what}: exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

/// A running `gauth emulator` process and what it printed on stdout.
pub struct EmulatorProcess {
    pub child: Child,
    pub base_url: String,
    pub client_secrets: PathBuf,
    pub key: PathBuf,
    pub discovery_url: String,
    pub banner: std::sync::mpsc::Receiver<String>,
}

impl EmulatorProcess {
    /// Starts `gauth emulator` (with `home`'s environment) and reads its four stdout lines;
    /// its stderr banner lines arrive on `banner`.
    pub fn start(home: &Home) -> EmulatorProcess {
        let mut child = home
            .gauth()
            .args(["emulator", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut next = || lines.next().expect("a banner line").expect("text");
        let base_url = next();
        let client_secrets = PathBuf::from(next());
        let key = PathBuf::from(next());
        let discovery_url = next();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        EmulatorProcess {
            child,
            base_url,
            client_secrets,
            key,
            discovery_url,
            banner: rx,
        }
    }

    /// The stderr banner, every line of it.
    pub fn banner_text(&self) -> String {
        let mut lines = Vec::new();
        while let Ok(line) = self.banner.recv_timeout(std::time::Duration::from_secs(10)) {
            let last = line.trim_start().starts_with("gauth token --credentials");
            lines.push(line);
            if last {
                break;
            }
        }
        lines.join("\n")
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
