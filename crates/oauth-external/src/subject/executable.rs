//! Executable-sourced subject tokens: google-auth's pluggable source. The command runs only
//! when `GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1`, with a bounded wait (killed on
//! timeout) and a bounded output; its answer and the `output_file` cache are read as
//! google-auth reads them.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use oauth_core::json::Fields;
use oauth_core::{Error, Secret};
use serde_json::Value;

use super::SubjectContext;

const DEFAULT_TIMEOUT_MS: u64 = 30_000;
const MIN_TIMEOUT_MS: f64 = 5_000.0;
const MAX_TIMEOUT_MS: f64 = 120_000.0;
const MIN_INTERACTIVE_MS: f64 = 30_000.0;
const MAX_INTERACTIVE_MS: f64 = 30.0 * 60_000.0;
/// The largest answer read from an executable (a token response is a few kilobytes).
const OUTPUT_LIMIT: usize = 1 << 20;
/// The variable that must be `1` for an executable to run.
pub(crate) const ALLOW_EXECUTABLES: &str = "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES";

/// `credential_source.executable`.
#[derive(Debug, Clone)]
pub(crate) struct ExecutableSource {
    argv: Vec<String>,
    timeout: Duration,
    output_file: Option<PathBuf>,
}

impl ExecutableSource {
    pub(crate) fn parse(cs: &Fields<'_>) -> Result<Self, Error> {
        let ex = cs.object("executable")?;
        let command = ex.required_str("command")?.to_owned();
        let argv = shlex::split(&command)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| ex.invalid("command", "not a command line (unbalanced quotes?)"))?;
        let millis = |field: &str| -> Result<Option<f64>, Error> {
            match ex.map().get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => match v.as_f64() {
                    // google-auth treats 0 as unset.
                    Some(0.0) => Ok(None),
                    Some(n) => Ok(Some(n)),
                    None => Err(ex.invalid(field, "expected a number of milliseconds")),
                },
            }
        };
        let timeout = match millis("timeout_millis")? {
            None => DEFAULT_TIMEOUT_MS as f64,
            Some(n) if (MIN_TIMEOUT_MS..=MAX_TIMEOUT_MS).contains(&n) => n,
            Some(_) => {
                return Err(ex.invalid(
                    "timeout_millis",
                    "must be between 5000 and 120000 (5 s to 2 min)",
                ));
            }
        };
        if let Some(n) = millis("interactive_timeout_millis")?
            && !(MIN_INTERACTIVE_MS..=MAX_INTERACTIVE_MS).contains(&n)
        {
            return Err(ex.invalid(
                "interactive_timeout_millis",
                "must be between 30 s and 30 min",
            ));
        }
        Ok(ExecutableSource {
            argv,
            timeout: Duration::from_secs_f64(timeout / 1000.0),
            output_file: ex.optional_str("output_file")?.map(PathBuf::from),
        })
    }

    /// google-auth's `retrieve_subject_token`: the cached answer in `output_file` while it
    /// is valid, else the command's.
    pub(crate) fn subject_token(&self, cx: &SubjectContext<'_>) -> Result<Secret, Error> {
        let fail = |what: String| failure(cx.origin, &what);
        if cx.env.get(ALLOW_EXECUTABLES).as_deref() != Some("1") {
            return Err(fail(format!(
                "may run only when {ALLOW_EXECUTABLES}=1 is set in the environment"
            )));
        }
        let now = cx.refresh.clock.now();
        if let Some(path) = &self.output_file
            && let Some(token) = cached(cx.origin, path, now)?
        {
            return Ok(token);
        }
        let mut envs = vec![
            ("GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE", cx.audience.to_owned()),
            (
                "GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE",
                cx.subject_token_type.to_owned(),
            ),
            (
                "GOOGLE_EXTERNAL_ACCOUNT_ID",
                cx.impersonated_email.unwrap_or_default().to_owned(),
            ),
            ("GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE", "0".into()),
            ("GOOGLE_EXTERNAL_ACCOUNT_REVOKE", "0".into()),
        ];
        if let Some(email) = cx.impersonated_email {
            envs.push((
                "GOOGLE_EXTERNAL_ACCOUNT_IMPERSONATED_EMAIL",
                email.to_owned(),
            ));
        }
        if let Some(p) = &self.output_file {
            envs.push((
                "GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE",
                p.display().to_string(),
            ));
        }
        tracing::debug!(command = %self.argv[0], "running the credential executable");
        let (status, output) = run(&self.argv, &envs, self.timeout).map_err(|e| match e {
            RunError::Spawn(e) => fail(format!("`{}` cannot be started: {e}", self.argv[0])),
            RunError::Timeout => fail(format!(
                "did not finish within {} ms (`timeout_millis`) and was killed",
                self.timeout.as_millis()
            )),
            RunError::TooLarge => fail(format!("printed more than {OUTPUT_LIMIT} bytes")),
            RunError::Io(e) => fail(format!("could not be read: {e}")),
        })?;
        if status != Some(0) {
            let code = status.map_or("a signal".to_owned(), |c| c.to_string());
            return Err(fail(format!(
                "exited with status {code}: {}",
                oauth_core::http::safe_excerpt(&output)
            )));
        }
        let response = if output.iter().all(u8::is_ascii_whitespace) {
            let Some(path) = &self.output_file else {
                return Err(fail("printed nothing".into()));
            };
            let bytes = std::fs::read(path).map_err(|e| Error::Read {
                path: path.clone(),
                source: std::sync::Arc::new(e),
            })?;
            parse_json(&bytes).map_err(|reason| {
                fail(format!(
                    "printed nothing and its output_file {} {reason}",
                    path.display()
                ))
            })?
        } else {
            parse_json(&output)
                .map_err(|reason| fail(format!("printed an answer that {reason}")))?
        };
        match read_response(&response, now) {
            Ok(t) => Ok(t),
            Err(Problem::Malformed(r) | Problem::Refresh(r)) => Err(fail(r)),
        }
    }
}

/// An executable failure: names the file and the field.
fn failure(origin: &str, what: &str) -> Error {
    Error::NotRefreshable {
        kind: "external_account",
        reason: format!("{origin}: `credential_source.executable.command` {what}"),
    }
}

fn parse_json(bytes: &[u8]) -> Result<Value, String> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err("is not a JSON object".into()),
        Err(e) => Err(format!(
            "is not JSON (line {} column {}: {})",
            e.line(),
            e.column(),
            oauth_core::http::safe_excerpt(bytes)
        )),
    }
}

/// The cached answer, when it is usable. A cache that is not JSON, or that google-auth
/// would refresh (expired, failed, unsupported version or type, no `expiration_time`),
/// means running the command; a malformed one is an error, as in google-auth.
fn cached(origin: &str, path: &Path, now: SystemTime) -> Result<Option<Secret>, Error> {
    let Ok(bytes) = std::fs::read(path) else {
        return Ok(None);
    };
    let Ok(response) = serde_json::from_slice::<Value>(&bytes) else {
        return Ok(None);
    };
    if !response.is_object() {
        return Ok(None);
    }
    match read_response(&response, now) {
        Ok(_) if response.get("expiration_time").is_none() => Ok(None),
        Ok(t) => Ok(Some(t)),
        Err(Problem::Refresh(_)) => Ok(None),
        Err(Problem::Malformed(r)) => Err(Error::InvalidField {
            origin: origin.to_owned(),
            field: "credential_source.executable.output_file".into(),
            reason: format!("{}: {r}", path.display()),
        }),
    }
}

/// google-auth's two kinds of bad answer: malformed ones are errors even in the cache;
/// the others only mean the cache cannot be used.
enum Problem {
    Malformed(String),
    Refresh(String),
}

/// google-auth's `_parse_subject_token`.
fn read_response(r: &Value, now: SystemTime) -> Result<Secret, Problem> {
    let malformed = |s: &str| Problem::Malformed(s.to_owned());
    let version = r
        .get("version")
        .ok_or_else(|| malformed("answered without the `version` field"))?;
    let version = version
        .as_f64()
        .ok_or_else(|| malformed("answered with a `version` that is not a number"))?;
    if version > 1.0 {
        return Err(Problem::Refresh(format!(
            "answered with version {version}, newer than the supported 1"
        )));
    }
    let success = r
        .get("success")
        .ok_or_else(|| malformed("answered without the `success` field"))?;
    if !truthy(success) {
        let (Some(code), Some(message)) = (r.get("code"), r.get("message")) else {
            return Err(malformed(
                "reported failure without the `code` and `message` fields",
            ));
        };
        return Err(Problem::Refresh(format!(
            "reported failure: code {}, message {}",
            short(code),
            short(message)
        )));
    }
    if let Some(exp) = r.get("expiration_time") {
        let exp = exp
            .as_f64()
            .ok_or_else(|| malformed("answered with an `expiration_time` that is not a number"))?;
        let now = now
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        if exp < now {
            return Err(Problem::Refresh(
                "answered with a token that has expired".into(),
            ));
        }
    }
    let token_type = r
        .get("token_type")
        .ok_or_else(|| malformed("answered without the `token_type` field"))?;
    let field = match token_type.as_str() {
        Some(
            "urn:ietf:params:oauth:token-type:jwt" | "urn:ietf:params:oauth:token-type:id_token",
        ) => "id_token",
        Some("urn:ietf:params:oauth:token-type:saml2") => "saml_response",
        _ => {
            return Err(Problem::Refresh(format!(
                "answered with the unsupported token_type {}",
                short(token_type)
            )));
        }
    };
    match r.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(Secret::new(s.as_str())),
        _ => Err(malformed(&format!(
            "answered without a string `{field}` field"
        ))),
    }
}

/// Python's truth value of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// A value for an error message: short, on one line, without control characters.
fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let cut: String = s
        .chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("`{cut}`")
}

enum RunError {
    Spawn(std::io::Error),
    Timeout,
    TooLarge,
    Io(std::io::Error),
}

/// Runs `argv` with stdout and stderr on one pipe (as google-auth merges them), stdin
/// closed, `envs` added to the environment; kills it when `timeout` passes.
fn run(
    argv: &[String],
    envs: &[(&str, String)],
    timeout: Duration,
) -> Result<(Option<i32>, Vec<u8>), RunError> {
    let deadline = Instant::now() + timeout;
    let (mut reader, writer) = std::io::pipe().map_err(RunError::Io)?;
    let mut command = Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(writer.try_clone().map_err(RunError::Io)?)
        .stderr(writer);
    let spawned = command.spawn();
    // The parent's ends of the pipe go with the command, so the reader sees end of file
    // once the child (and whatever it started) is done writing.
    drop(command);
    let mut child = spawned.map_err(RunError::Spawn)?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let result = (&mut reader)
            .take(OUTPUT_LIMIT as u64 + 1)
            .read_to_end(&mut out)
            .map(|_| out);
        let _ = tx.send(result);
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => return Err(RunError::Io(e)),
        }
        let now = Instant::now();
        if now >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(RunError::Timeout);
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(10)));
    };
    // A child that exited but left a descendant holding the pipe gets what remains of the
    // time (and a moment) to close it.
    let wait = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(200));
    let output = match rx.recv_timeout(wait) {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => return Err(RunError::Io(e)),
        Err(_) => return Err(RunError::Timeout),
    };
    if output.len() > OUTPUT_LIMIT {
        return Err(RunError::TooLarge);
    }
    Ok((status.code(), output))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use oauth_core::source::RefreshContext;
    use oauth_core::{ManualClock, RetryPolicy};
    use serde_json::json;

    use super::*;
    use crate::env::Environment;

    fn source(exe: Value) -> Result<ExecutableSource, Error> {
        let v = json!({ "executable": exe });
        ExecutableSource::parse(&Fields::new(&v, "f.json", "credential_source").unwrap())
    }

    const NOW: u64 = 1_700_000_000;

    fn run_source(s: &ExecutableSource, allow: bool) -> Result<Secret, Error> {
        let refresh = RefreshContext {
            clock: Arc::new(ManualClock::new(UNIX_EPOCH + Duration::from_secs(NOW))),
            margin: Duration::ZERO,
            retry: RetryPolicy::none(),
        };
        let env = if allow {
            Environment::from_pairs([(ALLOW_EXECUTABLES, "1")])
        } else {
            Environment::from_pairs([(ALLOW_EXECUTABLES, "true")])
        };
        let cx = SubjectContext {
            origin: "f.json",
            audience: "aud",
            subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
            impersonated_email: None,
            env: &env,
            refresh: &refresh,
        };
        s.subject_token(&cx)
    }

    fn script(dir: &Path, body: &str) -> String {
        let p = dir.join("exe.sh");
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        format!("/bin/sh {}", p.display())
    }

    proptest::proptest! {
        #[test]
        fn any_answer_is_read_without_panicking(
            version in proptest::prelude::any::<Option<f64>>(),
            success in proptest::prelude::any::<Option<u8>>(),
            exp in proptest::prelude::any::<Option<f64>>(),
            token_type in proptest::sample::select(vec![
                "urn:ietf:params:oauth:token-type:jwt", "urn:ietf:params:oauth:token-type:saml2",
                "urn:ietf:params:oauth:token-type:id_token", "x", ""]),
            token in proptest::prelude::any::<Option<String>>(),
        ) {
            let mut r = serde_json::Map::new();
            if let Some(v) = version { r.insert("version".into(), json!(v)); }
            if let Some(s) = success { r.insert("success".into(), json!(s)); }
            if let Some(e) = exp { r.insert("expiration_time".into(), json!(e)); }
            r.insert("token_type".into(), json!(token_type));
            if let Some(t) = token {
                r.insert("id_token".into(), json!(t.clone()));
                r.insert("saml_response".into(), json!(t));
            }
            let _ = read_response(&Value::Object(r), UNIX_EPOCH + Duration::from_secs(NOW));
        }
    }

    #[test]
    fn timeouts_are_bounded_as_google_auth_bounds_them() {
        assert!(source(json!({"command": "x", "timeout_millis": 4999})).is_err());
        assert!(source(json!({"command": "x", "timeout_millis": 120001})).is_err());
        let e = source(json!({"command": "x", "timeout_millis": "5s"})).unwrap_err();
        assert!(
            e.to_string()
                .contains("`credential_source.executable.timeout_millis`"),
            "{e}"
        );
        let s = source(json!({"command": "x", "timeout_millis": 0})).unwrap();
        assert_eq!(s.timeout, Duration::from_secs(30));
        let e = source(json!({})).unwrap_err().to_string();
        assert_eq!(
            e,
            "f.json: missing field `credential_source.executable.command`"
        );
        assert!(source(json!({"command": "a 'b"})).is_err());
    }

    #[test]
    #[cfg(unix)]
    fn executables_run_only_when_allowed() {
        let s = source(json!({"command": "/bin/echo hi"})).unwrap();
        let e = run_source(&s, false).unwrap_err().to_string();
        assert!(
            e.contains("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1"),
            "{e}"
        );
        assert!(e.contains("f.json"), "{e}");
    }

    #[test]
    #[cfg(unix)]
    fn answers_are_read_as_google_auth_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let ok = format!(
            r#"{{"version":1,"success":true,"token_type":"urn:ietf:params:oauth:token-type:jwt","id_token":"eyJ.a.b","expiration_time":{}}}"#,
            NOW + 60
        );
        let s = source(json!({"command": script(dir.path(), &format!("echo '{ok}'"))})).unwrap();
        assert_eq!(run_source(&s, true).unwrap().expose(), "eyJ.a.b");
        let saml = r#"{"version":1,"success":true,"token_type":"urn:ietf:params:oauth:token-type:saml2","saml_response":"PHNhbWw+"}"#;
        let s = source(json!({"command": script(dir.path(), &format!("echo '{saml}'"))})).unwrap();
        assert_eq!(run_source(&s, true).unwrap().expose(), "PHNhbWw+");
        let cases = [
            ("echo 'not json at all'", "is not JSON"),
            ("echo '{\"success\":true}'", "without the `version` field"),
            (
                "echo '{\"version\":1,\"success\":false,\"code\":\"401\",\"message\":\"denied\"}'",
                "reported failure: code `401`, message `denied`",
            ),
            (
                "echo '{\"version\":1,\"success\":false}'",
                "without the `code` and `message` fields",
            ),
            (
                "echo '{\"version\":2,\"success\":true}'",
                "newer than the supported 1",
            ),
            (
                "echo '{\"version\":1,\"success\":true,\"token_type\":\"urn:ietf:params:oauth:token-type:jwt\",\"id_token\":\"x\",\"expiration_time\":1}'",
                "has expired",
            ),
            (
                "echo '{\"version\":1,\"success\":true,\"token_type\":\"x\"}'",
                "unsupported token_type",
            ),
            ("echo oops; exit 3", "exited with status 3"),
            ("echo oops >&2; exit 1", "\"oops\""),
        ];
        for (body, want) in cases {
            let s = source(json!({"command": script(dir.path(), body)})).unwrap();
            let e = run_source(&s, true).unwrap_err().to_string();
            assert!(e.contains(want), "{body}: {e}");
            assert!(
                e.starts_with("cannot refresh external_account credentials: f.json: `credential_source.executable.command`"),
                "{e}"
            );
        }
    }

    #[test]
    #[cfg(unix)]
    fn a_hanging_executable_is_killed_at_its_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = source(json!({"command": script(dir.path(), "sleep 30")})).unwrap();
        s.timeout = Duration::from_millis(300);
        let e = run_source(&s, true).unwrap_err().to_string();
        assert!(e.contains("did not finish within 300 ms"), "{e}");
    }

    #[test]
    #[cfg(unix)]
    fn the_output_file_is_a_cache_while_its_answer_is_valid() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache.json");
        let marker = dir.path().join("ran");
        let fresh = format!(
            r#"{{"version":1,"success":true,"token_type":"urn:ietf:params:oauth:token-type:id_token","id_token":"from-exe","expiration_time":{}}}"#,
            NOW + 60
        );
        let body = format!("touch {}; echo '{fresh}'", marker.display());
        let s = source(json!({"command": script(dir.path(), &body),
                              "output_file": cache.display().to_string()}))
        .unwrap();
        // A valid cache is used without running the command.
        std::fs::write(&cache, fresh.replace("from-exe", "from-cache")).unwrap();
        assert_eq!(run_source(&s, true).unwrap().expose(), "from-cache");
        assert!(!marker.exists());
        // An expired one, or one without expiration_time, runs it.
        std::fs::write(
            &cache,
            r#"{"version":1,"success":true,"token_type":"urn:ietf:params:oauth:token-type:jwt","id_token":"old"}"#,
        )
        .unwrap();
        assert_eq!(run_source(&s, true).unwrap().expose(), "from-exe");
        assert!(marker.exists());
        // A malformed cache is an error naming the file and field.
        std::fs::write(&cache, r#"{"success":true}"#).unwrap();
        let e = run_source(&s, true).unwrap_err().to_string();
        assert!(
            e.contains("`credential_source.executable.output_file`"),
            "{e}"
        );
        // Nothing printed: the answer is read from the output file.
        let s = source(json!({"command": "/bin/true", "output_file": cache.display().to_string()}))
            .unwrap();
        std::fs::write(&cache, fresh.replace("\"expiration_time\"", "\"x\"")).unwrap();
        assert_eq!(run_source(&s, true).unwrap().expose(), "from-exe");
    }
}
