//! gauth against google-auth, googleapiclient and google-auth-oauthlib themselves where they
//! define the behaviour (issue 15): ID-token certificates of every form, the verdict on
//! `iat`/`exp` at every leeway, and (further down) impersonation delegates, ADC's project id,
//! authorization URLs and discovery media checks. Each case runs the Python library on the
//! same input (`tests/interop/fidelity.py`); where gauth differs on purpose, the case says so
//! and `docs/differences.md` says why.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use gauth::IdTokenVerifier;
use gauth::sa::{Certs, IdTokenError};
use oauth_core::ManualClock;
use serde_json::{Value, json};

const AUD: &str = "https://service.example.com";
const ISS: &str = "https://accounts.google.com";
const NOW: i64 = 1_700_000_000;

/// Runs `fidelity.py COMMAND` on `spec` (written to a temporary file); its JSON answer.
fn oracle(command: &str, spec: &Value) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spec.json");
    std::fs::write(&path, spec.to_string()).unwrap();
    let out = gauth_tests::run_python("fidelity.py", &[command, path.to_str().unwrap()]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// One token for google-auth to sign and both to judge.
struct Case {
    signer: &'static str,
    kid: Option<&'static str>,
    header: Value,
    claims: Value,
    now: f64,
    skew: f64,
    /// `None`: gauth's verdict must be google-auth's. `Some(why)`: gauth differs on purpose
    /// (docs/differences.md), and must accept exactly when `gauth_accepts`.
    differs: Option<(&'static str, bool)>,
}

impl Case {
    fn new(signer: &'static str, kid: Option<&'static str>, claims: Value) -> Case {
        Case {
            signer,
            kid,
            header: json!({}),
            claims,
            now: NOW as f64,
            skew: 0.0,
            differs: None,
        }
    }

    fn differs(mut self, why: &'static str, gauth_accepts: bool) -> Case {
        self.differs = Some((why, gauth_accepts));
        self
    }
}

fn claims(iat: Value, exp: Value) -> Value {
    json!({"iss": ISS, "aud": AUD, "sub": "1", "iat": iat, "exp": exp})
}

fn valid() -> Value {
    claims(json!(NOW - 10), json!(NOW + 3600))
}

/// Runs every case through google-auth and gauth and compares the verdicts; returns how
/// many agreed and how many differed as documented.
fn judge(cases: &[Case], extra_certs: Value) -> (usize, usize) {
    let spec = json!({
        "extra_certs": extra_certs,
        "cases": cases.iter().map(|c| json!({
            "signer": c.signer, "kid": c.kid, "header": c.header, "claims": c.claims,
            "now": c.now, "skew": c.skew, "audience": AUD,
        })).collect::<Vec<_>>(),
    });
    let answer = oracle("idtokens", &spec);
    let certs = Certs::parse(
        answer["certs"].to_string().as_bytes(),
        "google-auth's certs",
    )
    .unwrap();
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), cases.len());
    let (mut same, mut documented) = (0, 0);
    for (case, result) in cases.iter().zip(results) {
        let token = result["token"].as_str().unwrap();
        let python = result["verdict"].as_str().unwrap();
        let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs_f64(case.now));
        let verifier = IdTokenVerifier::new(AUD)
            .with_clock(Arc::new(clock))
            .with_clock_skew(Duration::from_secs_f64(case.skew));
        let gauth = verifier.verify_with_certs(token, &certs);
        let what = format!(
            "signer {} kid {:?} claims {} now {} skew {}: google-auth says {python}, gauth {gauth:?}",
            case.signer, case.kid, case.claims, case.now, case.skew
        );
        match case.differs {
            None => {
                assert_eq!(gauth.is_ok(), python == "ok", "{what}");
                same += 1;
            }
            Some((why, gauth_accepts)) => {
                assert_eq!(gauth.is_ok(), gauth_accepts, "{why}: {what}");
                assert_ne!(
                    python == "ok",
                    gauth_accepts,
                    "no longer a difference ({why}): {what}"
                );
                documented += 1;
            }
        }
    }
    (same, documented)
}

#[test]
#[ignore = "needs the interop venv (cargo xtask test)"]
fn certificates_of_every_form_google_auth_reads_verify_alike() {
    let broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    let mut cases = Vec::new();
    for (signer, kid) in [
        ("rsa", "rsa-v3"),
        ("rsa", "rsa-v1"),
        ("rsa", "rsa-spki"),
        ("rsa", "rsa-pkcs1"),
        ("p256", "p256-v3"),
        ("p256", "p256-v1"),
        ("p384", "p384-v3"),
        ("p384", "p384-spki"),
        // The key of another kind or another key: refused by both.
        ("rsa", "p256-v3"),
        ("p256", "rsa-v3"),
        ("p256", "p384-v3"),
        ("p384", "p256-v1"),
        ("rsa", "no-such-kid"),
        // The unreadable entry: refused by both; it spoils no other (the cases above).
        ("rsa", "broken"),
    ] {
        cases.push(Case::new(signer, Some(kid), valid()));
    }
    // No kid: google-auth tries every certificate in order and stops at the first it
    // cannot use with the token's algorithm; gauth tries those of the token's kind.
    cases.push(Case::new("rsa", None, valid()));
    cases.push(Case::new("p384", None, valid()).differs(
        "a kid-less token is tried against keys of its kind only",
        true,
    ));
    // The header's alg and the key's curve disagree: google-auth goes by the curve.
    let mut es256_on_p384 = Case::new("p384", Some("p384-v3"), valid())
        .differs("alg must match the key (ES256 header, P-384 key)", false);
    es256_on_p384.header = json!({"alg": "ES256"});
    cases.push(es256_on_p384);
    // aud: google-auth refuses every array; gauth takes one holding the audience (OIDC).
    let mut listed = valid();
    listed["aud"] = json!(["https://other.example.com", AUD]);
    cases.push(
        Case::new("rsa", Some("rsa-v3"), listed).differs("aud arrays holding the audience", true),
    );
    let mut not_listed = valid();
    not_listed["aud"] = json!(["https://other.example.com"]);
    cases.push(Case::new("rsa", Some("rsa-v3"), not_listed));
    let (same, documented) = judge(&cases, json!({ "broken": broken }));
    assert_eq!((same, documented), (cases.len() - 3, 3));
}

/// The grid of issue 15: `iat` and `exp` around the leeway's edges, whole and fractional,
/// at whole and fractional clock readings, for several leeways.
#[test]
#[ignore = "needs the interop venv (cargo xtask test)"]
fn times_get_google_auths_verdict_at_every_leeway() {
    let mut cases = Vec::new();
    let number = |base: i64, offset: f64| -> Value {
        if offset.fract() == 0.0 {
            json!(base + offset as i64)
        } else {
            json!(base as f64 + offset)
        }
    };
    for skew in [0.0, 1.0, 10.0, 0.5, 2.75] {
        for now_fraction in [0.0, 0.25, 0.999] {
            let iat_offsets = [
                skew + 1.0,
                skew + 0.5,
                skew + 0.25,
                skew,
                skew - 0.5,
                0.0,
                -100.0,
            ];
            let exp_offsets = [-skew - 1.0, -skew - 0.5, -skew, -skew + 0.5, 0.0, 100.0];
            for iat in iat_offsets {
                for exp in exp_offsets {
                    let mut case = Case::new(
                        "rsa",
                        Some("rsa-v3"),
                        claims(number(NOW, iat), number(NOW, exp)),
                    );
                    case.now = NOW as f64 + now_fraction;
                    case.skew = skew;
                    cases.push(case);
                }
            }
            // Whole values written as doubles (1700000010.0) are the same instants.
            let mut doubles = Case::new(
                "rsa",
                Some("rsa-v3"),
                claims(json!(NOW as f64 + skew), json!(NOW as f64 - skew)),
            );
            doubles.now = NOW as f64 + now_fraction;
            doubles.skew = skew;
            cases.push(doubles);
            // nbf, which google-auth does not read: gauth refuses a token not valid yet.
            for nbf in [skew + 1.0, skew + 0.5, skew, -5.0] {
                let mut c = valid();
                c["nbf"] = number(NOW, nbf);
                let not_yet = nbf > skew;
                let mut case = Case::new("rsa", Some("rsa-v3"), c);
                case.now = NOW as f64 + now_fraction;
                case.skew = skew;
                if not_yet {
                    case = case.differs("nbf is checked (google-auth ignores it)", false);
                }
                cases.push(case);
            }
        }
    }
    let (same, documented) = judge(&cases, json!({}));
    assert!(same > 600, "{same}");
    assert_eq!(documented, 5 * 3 * 2);
}

#[test]
fn the_default_leeway_is_ten_seconds_on_purpose() {
    // google-auth's default is 0 s; see docs/differences.md.
    assert_eq!(gauth::sa::DEFAULT_CLOCK_SKEW, Duration::from_secs(10));
    let e = IdTokenError::NotYetValid.to_string();
    assert!(e.contains("not valid yet"), "{e}");
}

mod impersonation {
    use gauth::{ImpersonatedCredentials, ServiceAccountCredentials, ServiceAccountKey};
    use gauth_tests::hostile::{Hostile, Recorded, Reply};
    use serde_json::{Value, json};

    const TARGET: &str = "target@p.iam.gserviceaccount.com";

    fn iam_server() -> Hostile {
        Hostile::start(|req| {
            if req.path.ends_with(":generateAccessToken") {
                Reply::json(
                    200,
                    r#"{"accessToken":"ya29.target","expireTime":"2099-01-01T00:00:00Z"}"#,
                )
            } else if req.path.ends_with(":generateIdToken") {
                Reply::json(200, r#"{"token":"e30.eyJleHAiOjQxMDI0NDQ4MDB9.c2ln"}"#)
            } else {
                Reply::status(404)
            }
        })
    }

    /// A source whose tokens need no request: a self-signed JWT.
    fn source() -> ServiceAccountCredentials {
        let key = json!({
            "type": "service_account",
            "private_key_id": "test-kid",
            "private_key": include_str!("../crates/oauth-sa/testdata/rsa_pkcs8.pem"),
            "client_email": "source@p.iam.gserviceaccount.com",
            "token_uri": "https://oauth2.googleapis.com/token",
        });
        ServiceAccountCredentials::new(
            ServiceAccountKey::from_json(key.to_string().as_bytes(), "key").unwrap(),
        )
        .with_jwt_audience("https://iamcredentials.googleapis.com/")
    }

    fn iam_requests(server: &Hostile, from: usize) -> Requests {
        let all: Vec<Recorded> = server.requests();
        all[from..]
            .iter()
            .map(|r| {
                let body = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
                (r.path.clone(), body)
            })
            .collect()
    }

    /// The IAM requests seen: (path, JSON body).
    type Requests = Vec<(String, Value)>;

    /// What google-auth and gauth send for the same delegates: (google-auth's, gauth's).
    fn both(delegates: &[&str]) -> (Requests, Requests) {
        let server = iam_server();
        let spec = json!({
            "base": server.url("").trim_end_matches('/'), "target": TARGET,
            "scopes": ["https://www.googleapis.com/auth/cloud-platform"],
            "delegates": if delegates.is_empty() { Value::Null } else { json!(delegates) },
            "lifetime": 1800, "audience": "https://run.example.com", "include_email": true,
        });
        let python = super::oracle("impersonation", &spec);
        assert_eq!(python["access_token"], "ya29.target");
        let python_requests = iam_requests(&server, 0);
        let seen = server.count();
        let target = ImpersonatedCredentials::new(source(), TARGET)
            .with_scopes(["https://www.googleapis.com/auth/cloud-platform"])
            .with_delegates(delegates.iter().copied())
            .with_lifetime(std::time::Duration::from_secs(1800))
            .with_endpoint(server.url("/").parse().unwrap());
        let ids = target.id_token_credentials("https://run.example.com", true);
        let token = oauth_core::blocking::Credentials::new(target)
            .token()
            .unwrap();
        assert_eq!(token.expose(), "ya29.target");
        oauth_core::blocking::Credentials::new(ids).token().unwrap();
        (python_requests, iam_requests(&server, seen))
    }

    #[test]
    #[ignore = "needs the interop venv (cargo xtask test)"]
    fn delegates_as_resource_names_are_sent_as_google_auth_sends_them() {
        for delegates in [
            &[][..],
            &["projects/-/serviceAccounts/mid@p.iam.gserviceaccount.com"][..],
            &[
                "projects/-/serviceAccounts/a@p.iam.gserviceaccount.com",
                "projects/-/serviceAccounts/1234567890",
            ][..],
        ] {
            let (python, gauth) = both(delegates);
            assert_eq!(python.len(), 2, "{python:?}");
            assert_eq!(gauth, python, "delegates {delegates:?}");
        }
    }

    #[test]
    #[ignore = "needs the interop venv (cargo xtask test)"]
    fn bare_email_delegates_are_prefixed_once_where_google_auth_sends_them_bare() {
        let (python, gauth) = both(&["mid@p.iam.gserviceaccount.com"]);
        // google-auth passes the list through; the API wants resource names.
        assert_eq!(
            python[0].1["delegates"],
            json!(["mid@p.iam.gserviceaccount.com"])
        );
        let prefixed = json!(["projects/-/serviceAccounts/mid@p.iam.gserviceaccount.com"]);
        for (i, (path, body)) in gauth.iter().enumerate() {
            assert_eq!(path, &python[i].0);
            assert_eq!(body["delegates"], prefixed);
            let mut expected = python[i].1.clone();
            expected["delegates"] = prefixed.clone();
            assert_eq!(body, &expected, "all else as google-auth sends it");
        }
    }
}

mod adc {
    use std::collections::HashMap;
    use std::path::Path;

    use gauth::adc::{AdcEnv, AdcOptions};
    use gauth_tests::hostile::{Hostile, Reply};
    use serde_json::{Value, json};

    const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

    fn service_account(project: Option<&str>) -> Value {
        let mut v = json!({
            "type": "service_account",
            "private_key_id": "test-kid",
            "private_key": include_str!("../crates/oauth-sa/testdata/rsa_pkcs8.pem"),
            "client_email": "sa@file-project.iam.gserviceaccount.com",
            "token_uri": "https://oauth2.googleapis.com/token",
            // google-auth does not read a key file's quota project; neither may gauth.
            "quota_project_id": "sa-file-quota",
        });
        if let Some(p) = project {
            v["project_id"] = json!(p);
        }
        v
    }

    fn user() -> Value {
        json!({"type": "authorized_user", "client_id": "c.apps.googleusercontent.com",
               "client_secret": "s", "refresh_token": "r", "quota_project_id": "user-quota"})
    }

    fn metadata_server() -> Hostile {
        Hostile::start(|req| {
            let reply = match req.path.as_str() {
                "/" => Reply::text(200, ""),
                "/computeMetadata/v1/project/project-id" => Reply::text(200, "meta-project"),
                _ => Reply::status(404),
            };
            reply.header("metadata-flavor", "Google")
        })
    }

    /// One environment: files to write (relative to the root), variables (`{root}` is
    /// replaced by the root), and what `gcloud config get project` says (also written to
    /// gcloud's configuration files under `gcloud_dir`, for gauth).
    struct Scenario {
        name: &'static str,
        files: Vec<(&'static str, Value)>,
        vars: Vec<(&'static str, String)>,
        gcloud: Option<(&'static str, &'static str, &'static str)>,
    }

    fn scenario(name: &'static str) -> Scenario {
        Scenario {
            name,
            files: Vec::new(),
            vars: Vec::new(),
            gcloud: None,
        }
    }

    impl Scenario {
        fn file(mut self, path: &'static str, v: Value) -> Self {
            self.files.push((path, v));
            self
        }
        fn var(mut self, k: &'static str, v: impl Into<String>) -> Self {
            self.vars.push((k, v.into()));
            self
        }
        /// gcloud's project `project` in configuration `config` under `dir`.
        fn gcloud(
            mut self,
            dir: &'static str,
            config: &'static str,
            project: &'static str,
        ) -> Self {
            self.gcloud = Some((dir, config, project));
            self
        }
    }

    fn run(s: &Scenario) {
        let root = tempfile::tempdir().unwrap();
        let root_str = root.path().to_str().unwrap().to_owned();
        for dir in [
            "home",
            "bin",
            "gcloud/configurations",
            "home/.config/gcloud/configurations",
        ] {
            std::fs::create_dir_all(root.path().join(dir)).unwrap();
        }
        for (path, v) in &s.files {
            std::fs::write(root.path().join(path), v.to_string()).unwrap();
        }
        let mut vars: HashMap<String, String> = HashMap::new();
        vars.insert("HOME".into(), format!("{root_str}/home"));
        for (k, v) in &s.vars {
            vars.insert((*k).into(), v.replace("{root}", &root_str));
        }
        let mut gcloud_project = Value::Null;
        if let Some((dir, config, project)) = s.gcloud {
            let dir = root.path().join(dir);
            let decoy = "[core]\nproject = decoy-project\n";
            std::fs::write(dir.join("configurations/config_default"), decoy).unwrap();
            std::fs::write(
                dir.join(format!("configurations/config_{config}")),
                format!("[core]\naccount = me@example.com\nproject = {project}\n"),
            )
            .unwrap();
            if config != "default" && !vars.contains_key("CLOUDSDK_ACTIVE_CONFIG_NAME") {
                std::fs::write(dir.join("active_config"), config).unwrap();
            }
            gcloud_project = json!(project);
        }
        let python = super::oracle(
            "adc",
            &json!({"env": vars, "bin_dir": format!("{root_str}/bin"),
                    "gcloud_project": gcloud_project, "scopes": [SCOPE]}),
        );
        let env = AdcEnv::from_vars(|k| vars.get(k).map(Into::into));
        let found = gauth::blocking::adc::find(&AdcOptions::new(&[SCOPE]).env(env))
            .unwrap_or_else(|e| panic!("{}: {e}", s.name));
        let what = format!(
            "{}: google-auth {python}, gauth {:?}",
            s.name, found.project_id
        );
        assert_eq!(
            found.project_id.as_deref(),
            python["project"].as_str(),
            "{what}"
        );
        assert_eq!(
            found.credentials.quota_project_id(),
            python["quota_header"].as_str(),
            "x-goog-user-project, {what}"
        );
        let kind = match python["kind"].as_str().unwrap() {
            "google.oauth2.service_account.Credentials" => "service_account",
            "google.oauth2.credentials.Credentials" => "authorized_user",
            "google.auth.compute_engine.credentials.Credentials" => "compute_engine",
            other => panic!("{what}: {other}"),
        };
        assert_eq!(found.credentials.kind(), kind, "{what}");
        let _ = Path::new(&root_str);
    }

    #[test]
    #[ignore = "needs the interop venv (cargo xtask test)"]
    fn project_and_quota_project_come_from_where_google_auth_takes_them() {
        let gac = "{root}/key.json";
        let at_gcloud = "gcloud/application_default_credentials.json";
        let scenarios = [
            scenario("a key file's project_id")
                .file("key.json", service_account(Some("file-project")))
                .var("GOOGLE_APPLICATION_CREDENTIALS", gac),
            scenario("GOOGLE_CLOUD_PROJECT over the file's")
                .file("key.json", service_account(Some("file-project")))
                .var("GOOGLE_APPLICATION_CREDENTIALS", gac)
                .var("GOOGLE_CLOUD_PROJECT", "env-project")
                .var("GCLOUD_PROJECT", "legacy-project"),
            scenario("the legacy GCLOUD_PROJECT")
                .file("key.json", service_account(Some("file-project")))
                .var("GOOGLE_APPLICATION_CREDENTIALS", gac)
                .var("GCLOUD_PROJECT", "legacy-project"),
            scenario("an empty GOOGLE_CLOUD_PROJECT hides GCLOUD_PROJECT")
                .file("key.json", service_account(Some("file-project")))
                .var("GOOGLE_APPLICATION_CREDENTIALS", gac)
                .var("GOOGLE_CLOUD_PROJECT", "")
                .var("GCLOUD_PROJECT", "legacy-project"),
            scenario("GOOGLE_CLOUD_QUOTA_PROJECT for a service account")
                .file("key.json", service_account(None))
                .var("GOOGLE_APPLICATION_CREDENTIALS", gac)
                .var("GOOGLE_CLOUD_QUOTA_PROJECT", "env-quota"),
            scenario("a user file elsewhere names no project, only a quota project")
                .file("key.json", user())
                .var("GOOGLE_APPLICATION_CREDENTIALS", gac)
                .var("CLOUDSDK_CONFIG", "{root}/gcloud")
                .gcloud("gcloud", "default", "gcloud-project"),
            scenario("gcloud's file takes gcloud's project")
                .file(at_gcloud, user())
                .var("CLOUDSDK_CONFIG", "{root}/gcloud")
                .gcloud("gcloud", "default", "gcloud-project"),
            scenario("GOOGLE_CLOUD_QUOTA_PROJECT over the user file's")
                .file(at_gcloud, user())
                .var("CLOUDSDK_CONFIG", "{root}/gcloud")
                .var("GOOGLE_CLOUD_QUOTA_PROJECT", "env-quota")
                .gcloud("gcloud", "default", "gcloud-project"),
            scenario("gcloud's file without a gcloud project")
                .file(at_gcloud, user())
                .var("CLOUDSDK_CONFIG", "{root}/gcloud"),
            scenario("GOOGLE_APPLICATION_CREDENTIALS naming gcloud's file")
                .file(at_gcloud, user())
                .var(
                    "GOOGLE_APPLICATION_CREDENTIALS",
                    format!("{{root}}/{at_gcloud}"),
                )
                .var("CLOUDSDK_CONFIG", "{root}/gcloud")
                .gcloud("gcloud", "default", "gcloud-project"),
            scenario("a key without project_id at gcloud's path")
                .file(at_gcloud, service_account(None))
                .var("CLOUDSDK_CONFIG", "{root}/gcloud")
                .gcloud("gcloud", "default", "gcloud-project"),
            scenario("~/.config/gcloud and the active configuration")
                .file(
                    "home/.config/gcloud/application_default_credentials.json",
                    user(),
                )
                .gcloud("home/.config/gcloud", "work", "work-project"),
            scenario("CLOUDSDK_ACTIVE_CONFIG_NAME")
                .file(at_gcloud, user())
                .var("CLOUDSDK_CONFIG", "{root}/gcloud")
                .var("CLOUDSDK_ACTIVE_CONFIG_NAME", "other")
                .gcloud("gcloud", "other", "other-project"),
        ];
        for s in &scenarios {
            run(s);
        }
    }

    #[test]
    #[ignore = "needs the interop venv (cargo xtask test)"]
    fn the_metadata_servers_project_and_the_environments_quota_project() {
        let server = metadata_server();
        let host = server.authority();
        for (name, extra) in [
            ("the metadata server's project", vec![]),
            (
                "GOOGLE_CLOUD_QUOTA_PROJECT on the metadata server",
                vec![("GOOGLE_CLOUD_QUOTA_PROJECT", "env-quota")],
            ),
            (
                "GOOGLE_CLOUD_PROJECT over the metadata server's",
                vec![("GOOGLE_CLOUD_PROJECT", "env-project")],
            ),
        ] {
            let mut s = scenario(name)
                .var("GCE_METADATA_HOST", host.clone())
                .var("GCE_METADATA_IP", host.clone())
                .var("CLOUDSDK_CONFIG", "{root}/gcloud");
            for (k, v) in extra {
                s = s.var(k, v);
            }
            run(&s);
        }
    }
}

mod authorization_url {
    use oauth_flow::Flow;
    use serde_json::{Value, json};

    /// One sign-in's settings, given to both libraries.
    struct Case {
        auth_uri: &'static str,
        scopes: Vec<&'static str>,
        redirect_uri: &'static str,
        state: &'static str,
        verifier: Option<&'static str>,
        prompt: Option<&'static str>,
        include_granted_scopes: bool,
        login_hint: Option<&'static str>,
        hd: Option<&'static str>,
        extra: Vec<(&'static str, &'static str)>,
        access_type: Option<&'static str>,
    }

    fn case() -> Case {
        Case {
            auth_uri: "https://accounts.google.com/o/oauth2/auth",
            scopes: vec!["openid", "https://www.googleapis.com/auth/drive.file"],
            redirect_uri: "http://127.0.0.1:8080/",
            state: "st4te-_.~",
            verifier: Some("v3rifier-v3rifier-v3rifier-v3rifier-v3rifier-v3rifier"),
            prompt: None,
            include_granted_scopes: false,
            login_hint: None,
            hd: None,
            extra: Vec::new(),
            access_type: Some("offline"),
        }
    }

    fn config(auth_uri: &str) -> Value {
        json!({"web": {"client_id": "123-abc.apps.googleusercontent.com", "client_secret": "s",
                       "auth_uri": auth_uri, "token_uri": "https://oauth2.googleapis.com/token"}})
    }

    fn gauth_url(c: &Case) -> String {
        let mut flow = Flow::from_client_config(&config(c.auth_uri), c.scopes.iter().copied())
            .unwrap()
            .with_redirect_uri(c.redirect_uri.parse().unwrap())
            .with_state(c.state)
            .with_access_type(c.access_type)
            .with_include_granted_scopes(c.include_granted_scopes);
        flow = match c.verifier {
            Some(v) => flow.with_code_verifier(v).unwrap(),
            None => flow.with_pkce(false),
        };
        if let Some(p) = c.prompt {
            flow = flow.with_prompt(p);
        }
        if let Some(h) = c.login_hint {
            flow = flow.with_login_hint(h);
        }
        if let Some(h) = c.hd {
            flow = flow.with_hd(h);
        }
        for (k, v) in &c.extra {
            flow = flow.with_param(*k, *v);
        }
        flow.authorization_url().unwrap().url.to_string()
    }

    /// The same settings as google-auth-oauthlib's keyword arguments, in the order a caller
    /// writes them (the options, then the extra parameters; access_type as given).
    fn python_case(c: &Case) -> Value {
        let mut kwargs: Vec<Value> = Vec::new();
        if let Some(p) = c.prompt {
            kwargs.push(json!(["prompt", p]));
        }
        if c.include_granted_scopes {
            kwargs.push(json!(["include_granted_scopes", "true"]));
        }
        if let Some(h) = c.login_hint {
            kwargs.push(json!(["login_hint", h]));
        }
        if let Some(h) = c.hd {
            kwargs.push(json!(["hd", h]));
        }
        for (k, v) in &c.extra {
            kwargs.push(json!([k, v]));
        }
        if c.access_type != Some("offline") {
            kwargs.push(json!(["access_type", c.access_type]));
        }
        json!({"config": config(c.auth_uri), "scopes": c.scopes, "state": c.state,
               "code_verifier": c.verifier, "redirect_uri": c.redirect_uri, "kwargs": kwargs})
    }

    #[test]
    #[ignore = "needs the interop venv (cargo xtask test)"]
    fn authorization_urls_are_google_auth_oauthlibs_byte_for_byte() {
        let cases = [
            case(),
            Case {
                verifier: None,
                access_type: None,
                ..case()
            },
            Case {
                prompt: Some("consent select_account"),
                include_granted_scopes: true,
                login_hint: Some("first.last+tag@example.com"),
                hd: Some("example.com"),
                extra: vec![
                    ("enable_granular_consent", "true"),
                    ("ui_locales", "fr-CA en"),
                ],
                ..case()
            },
            Case {
                // Every character class: reserved, unreserved, '*', '~', UTF-8, empty.
                redirect_uri: "http://127.0.0.1:8080/cb?next=/a b&x=*~'()!",
                scopes: vec!["https://www.googleapis.com/auth/userinfo.email", "é ü"],
                login_hint: Some("ünïcødé@exämple.com"),
                extra: vec![("k*~", "v/:?#[]@!$&'()*+,;= %"), ("empty", ""), ("ü", "ü")],
                access_type: Some("online"),
                ..case()
            },
            Case {
                // The auth URI's own query comes first, re-encoded.
                auth_uri: "https://accounts.google.com/o/oauth2/v2/auth?hl=en&x=a%20b*",
                prompt: Some(""),
                ..case()
            },
        ];
        let spec = json!({"cases": cases.iter().map(python_case).collect::<Vec<_>>()});
        let python = super::oracle("authurls", &spec);
        for (c, expected) in cases.iter().zip(python.as_array().unwrap()) {
            assert_eq!(gauth_url(c), expected.as_str().unwrap());
        }
    }
}

mod media_checks {
    use discovery_client::{Api, Error, Media};
    use serde_json::{Value, json};

    /// Upload methods with the accept lists and sizes googleapiclient's checks turn on.
    fn document() -> Value {
        let method = |name: &str, accept: Value, max: Option<&str>| {
            let mut upload = json!({"accept": accept, "protocols": {"simple": {
                "multipart": true, "path": format!("/upload/ex/v1/{name}")}}});
            if let Some(m) = max {
                upload["maxSize"] = json!(m);
            }
            (
                name.to_owned(),
                json!({"id": format!("ex.things.{name}"), "path": name, "httpMethod": "POST",
                       "supportsMediaUpload": true, "mediaUpload": upload}),
            )
        };
        let methods: serde_json::Map<String, Value> = [
            method("images", json!(["image/*"]), Some("1KB")),
            method("anything", json!(["*/*"]), None),
            method("nothing", json!([]), Some("10")),
            method(
                "weighted",
                json!(["text/plain;q=0", "application/json;q=0.5"]),
                Some("2kb"),
            ),
            method(
                "exact",
                json!(["message/rfc822", "application/octet-stream"]),
                Some("1MB"),
            ),
        ]
        .into_iter()
        .collect();
        json!({"kind": "discovery#restDescription", "discoveryVersion": "v1", "id": "ex:v1",
               "name": "ex", "version": "v1", "rootUrl": "https://ex.googleapis.com/",
               "servicePath": "ex/v1/", "baseUrl": "https://ex.googleapis.com/ex/v1/",
               "resources": {"things": {"methods": methods}}})
    }

    #[test]
    #[ignore = "needs the interop venv (cargo xtask test)"]
    fn uploads_are_refused_exactly_where_googleapiclient_refuses_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut cases = Vec::new();
        for method in ["images", "anything", "nothing", "weighted", "exact"] {
            for mime in [
                "image/png",
                "text/plain",
                "application/json",
                "message/rfc822",
                "application/octet-stream",
            ] {
                for size in [0usize, 10, 11, 1024, 1025, 2048, 2049] {
                    for from in ["file", "memory"] {
                        cases.push(json!({"method": method, "mime": mime, "size": size,
                                          "from": from}));
                    }
                }
            }
        }
        let doc = document();
        let python = super::oracle(
            "media",
            &json!({"document": doc, "cases": cases, "dir": dir.path()}),
        );
        let api = Api::from_document(doc.to_string().as_bytes()).unwrap();
        let path = dir.path().join("media.bin");
        for (case, expected) in cases.iter().zip(python.as_array().unwrap()) {
            let size = case["size"].as_u64().unwrap() as usize;
            let mime = case["mime"].as_str().unwrap();
            let media = if case["from"] == "file" {
                std::fs::write(&path, vec![0u8; size]).unwrap();
                Media::from_file(&path, Some(mime)).unwrap()
            } else {
                Media::new(vec![0u8; size], mime)
            };
            let method = format!("things.{}", case["method"].as_str().unwrap());
            let verdict = match api.method(&method).unwrap().media(media).prepare() {
                Ok(_) => "ok",
                Err(Error::UnacceptableMimeType { .. }) => "UnacceptableMimeTypeError",
                Err(Error::MediaTooLarge { .. }) => "MediaUploadSizeError",
                Err(e) => panic!("{case}: {e}"),
            };
            assert_eq!(verdict, expected.as_str().unwrap(), "{case}");
        }
    }
}

mod compression {
    use std::io::Write;

    use discovery_client::BuildOptions;
    use flate2::Compression;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use gauth_tests::hostile::{Hostile, Reply};
    use serde_json::{Value, json};

    fn compress(encoding: &str, data: &[u8]) -> Vec<u8> {
        match encoding {
            "gzip" => {
                let mut e = GzEncoder::new(Vec::new(), Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            "zlib" => {
                let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            _ => {
                let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
        }
    }

    fn server() -> Hostile {
        Hostile::start(|req| {
            let path = req.path.split('?').next().unwrap_or("");
            let base = format!("http://{}", req.header("host").unwrap_or(""));
            let (encoding, framing, body) = match path {
                "/discovery/demo/v1" => {
                    let method = |name: &str| {
                        json!({"id": format!("demo.items.{name}"), "path": format!("items/{name}"),
                               "httpMethod": "GET", "response": {"$ref": "Item"}})
                    };
                    let doc = json!({"kind": "discovery#restDescription", "name": "demo",
                        "version": "v1", "rootUrl": format!("{base}/"), "servicePath": "demo/v1/",
                        "description": "x".repeat(5000),
                        "schemas": {"Item": {"id": "Item", "type": "object"}},
                        "resources": {"items": {"methods": {
                            "gzipped": method("gzipped"), "zlibbed": method("zlibbed"),
                            "deflated": method("deflated"), "plain": method("plain")}}}});
                    ("gzip", "gzip", doc.to_string())
                }
                "/demo/v1/items/gzipped" => (
                    "gzip",
                    "gzip",
                    json!({"via": "gzip", "n": [1, 2, 3]}).to_string(),
                ),
                "/demo/v1/items/zlibbed" => ("deflate", "zlib", json!({"via": "zlib"}).to_string()),
                "/demo/v1/items/deflated" => {
                    ("deflate", "raw", json!({"via": "raw deflate"}).to_string())
                }
                "/demo/v1/items/plain" => ("", "", json!({"via": "none"}).to_string()),
                _ => return Reply::status(404),
            };
            let reply = Reply::status(200).header("content-type", "application/json");
            if encoding.is_empty() {
                reply.body(body.into_bytes())
            } else {
                reply
                    .header("content-encoding", encoding)
                    .body(compress(framing, body.as_bytes()))
            }
        })
    }

    #[test]
    #[ignore = "needs the interop venv (cargo xtask test)"]
    fn compressed_documents_and_answers_are_asked_for_and_read_as_googleapiclient_does() {
        let server = server();
        let methods = ["gzipped", "zlibbed", "deflated", "plain"];
        let discovery_url = server.url("/discovery/{api}/{apiVersion}");
        let python = super::oracle(
            "compressed",
            &json!({"discovery_url": discovery_url, "methods": methods}),
        );
        let python_requests = server.requests();
        let seen = python_requests.len();
        let options = BuildOptions::default()
            .discovery_url(discovery_url)
            .no_disk_cache();
        let service = discovery_client::blocking::build_with("demo", "v1", None, &options).unwrap();
        let gauth: Vec<Value> = methods
            .iter()
            .map(|m| {
                service
                    .method(&format!("items.{m}"))
                    .unwrap()
                    .execute()
                    .unwrap()
            })
            .collect();
        assert_eq!(Value::from(gauth), python);
        let gauth_requests = &server.requests()[seen..];
        assert_eq!(python_requests.len(), gauth_requests.len());
        for (p, g) in python_requests.iter().zip(gauth_requests) {
            assert_eq!(p.path, g.path);
            assert_eq!(
                p.header("accept-encoding"),
                Some("gzip, deflate"),
                "{}",
                p.path
            );
            assert_eq!(
                g.header("accept-encoding"),
                p.header("accept-encoding"),
                "{}",
                g.path
            );
        }
    }

    #[test]
    fn a_gzip_bomb_from_an_api_is_a_typed_error() {
        let zeros = vec![0u8; 1 << 20];
        let mut e = GzEncoder::new(Vec::new(), Compression::best());
        for _ in 0..40 {
            e.write_all(&zeros).unwrap();
        }
        let bomb = e.finish().unwrap();
        let server = Hostile::start(move |req| {
            let base = format!("http://{}", req.header("host").unwrap_or(""));
            if req.path.starts_with("/discovery/") {
                let doc = json!({"name": "demo", "version": "v1", "rootUrl": format!("{base}/"),
                    "servicePath": "demo/v1/", "resources": {"items": {"methods": {"get": {
                        "id": "demo.items.get", "path": "items", "httpMethod": "GET"}}}}});
                Reply::json(200, doc.to_string())
            } else {
                Reply::status(200)
                    .header("content-encoding", "gzip")
                    .body(bomb.clone())
            }
        });
        let options = BuildOptions::default()
            .discovery_url(server.url("/discovery/{api}/{apiVersion}"))
            .no_disk_cache()
            .call_options(discovery_client::CallOptions::default().response_limit(1 << 20));
        let service = discovery_client::blocking::build_with("demo", "v1", None, &options).unwrap();
        let e = service.method("items.get").unwrap().execute().unwrap_err();
        assert!(
            matches!(
                e,
                discovery_client::Error::Core(oauth_core::Error::ResponseTooLarge { limit, .. })
                    if limit == 1 << 20
            ),
            "{e}"
        );
    }
}
