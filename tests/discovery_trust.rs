//! Where API calls send credentials, both flavours, against live servers on loopback: the
//! API's server and an attacker's (another port: another origin). A method `path`, a
//! `servicePath`, a parameter value (`{+name}` included), a download, an upload session
//! URL, a batch or a request from another API that would reach the attacker is refused
//! with a typed error naming its host, before anything is sent: the attacker receives no
//! request at all, and so no token.

use std::time::{Duration, SystemTime};

use discovery_client::{Api, BuildOptions, Error, Media, UploadProtocol};
use gauth::{AuthorizedUser, EndpointPolicy, Secret, Token};
use gauth_tests::hostile::{Hostile, Reply};
use serde_json::json;

const SECRET: &str = "ya29.trust-SECRET-token";
const REFRESH: &str = "1//trust-SECRET-refresh";

/// The API's server (which points resumable sessions at the attacker) and the attacker.
struct World {
    api: Hostile,
    attacker: Hostile,
}

fn world() -> World {
    let attacker = Hostile::always(Reply::json(200, r#"{"id":"stolen"}"#));
    let thief = attacker.url("/session");
    let api = Hostile::start(move |r| {
        if r.path.contains("uploadType=resumable") {
            Reply::json(200, "{}").header("location", thief.clone())
        } else if r.path.starts_with("/discovery") {
            Reply::status(404)
        } else {
            Reply::json(200, r#"{"id":"ok","items":[]}"#)
        }
    });
    World { api, attacker }
}

impl World {
    fn doc(&self) -> serde_json::Value {
        json!({
            "name": "t", "version": "v1", "rootUrl": self.api.url("/"), "servicePath": "t/v1/",
            "batchPath": self.attacker.url("/batch"),
            "schemas": {"F": {"properties": {"id": {"type": "string"}}}},
            "methods": {
                "absolute": {"id": "t.absolute", "path": self.attacker.url("/stolen"), "httpMethod": "GET",
                    "response": {"$ref": "F"}},
                "reserved": {"id": "t.reserved", "path": "{+name}", "httpMethod": "GET",
                    "parameters": {"name": {"type": "string", "location": "path", "required": true},
                                   "q": {"type": "string", "location": "query"}},
                    "response": {"$ref": "F"}, "supportsMediaDownload": true},
                "simple": {"id": "t.simple", "path": "items/{id}", "httpMethod": "GET",
                    "parameters": {"id": {"type": "string", "location": "path", "required": true}},
                    "response": {"$ref": "F"}},
                "upload": {"id": "t.upload", "path": "{+name}", "httpMethod": "POST",
                    "parameters": {"name": {"type": "string", "location": "path", "required": true}},
                    "request": {"$ref": "F"}, "response": {"$ref": "F"},
                    "mediaUpload": {"accept": ["*/*"], "maxSize": "1MB"}}
            }
        })
    }

    fn api(&self) -> Api {
        Api::from_document(self.doc().to_string().as_bytes()).unwrap()
    }

    /// The same document served from the attacker's port: an API of its own (loopback is
    /// trusted), whose requests must never carry another service's credentials.
    fn attackers_api(&self) -> Api {
        let mut d = self.doc();
        d["rootUrl"] = self.attacker.url("/").into();
        Api::from_document(d.to_string().as_bytes()).unwrap()
    }

    fn user(&self) -> AuthorizedUser {
        AuthorizedUser::new(
            "id",
            Some(Secret::new("client-SECRET").into()),
            Some(Secret::new(REFRESH).into()),
            self.api.url("/token").parse::<url::Url>().unwrap(),
        )
        .with_token(Token::bearer(
            Secret::new(SECRET),
            Some(SystemTime::now() + Duration::from_secs(3600)),
        ))
    }

    /// The attacker received nothing, and no credential reached anyone but the API.
    fn attacker_got_nothing(&self, case: &str) {
        assert_eq!(
            self.attacker.count(),
            0,
            "{case}: the attacker was sent {:?}",
            self.attacker.requests()
        );
        assert!(!self.attacker.saw_any(&[SECRET, REFRESH]), "{case}");
    }
}

/// A refusal naming the attacker's host and port.
fn refused<T: std::fmt::Debug>(case: &str, w: &World, r: Result<T, Error>) {
    match r {
        Err(Error::ForeignUrl { host, origin, .. }) => {
            assert_eq!(host, "127.0.0.1", "{case}");
            assert!(
                origin.ends_with(&format!(
                    ":{}",
                    w.attacker.authority().rsplit(':').next().unwrap()
                )),
                "{case}: {origin}"
            );
        }
        other => panic!("{case}: expected a ForeignUrl error, got {other:?}"),
    }
    w.attacker_got_nothing(case);
}

/// Every vector, in one flavour: `$service` is the service type's path, `$creds` the
/// credentials type's, and `$($aw)*` is `.await` for the async flavour.
macro_rules! vectors {
    ($w:expr, $service:path, $creds:path, $($aw:tt)*) => {{
        let w: &World = $w;
        use $service as Service;
        use $creds as Credentials;
        let service = Service::new(w.api(), Some(Credentials::new(w.user())));
        let stolen = w.attacker.url("/stolen");

        // A method path that is an absolute URL elsewhere.
        let r = service.method("absolute").unwrap().execute() $($aw)*;
        refused("method path", w, r);
        // A `{+name}` value that is an absolute URL elsewhere.
        let r = service.method("reserved").unwrap().param("name", stolen.as_str()).execute() $($aw)*;
        refused("{+name} value", w, r);
        // The same parameter in a media download.
        let r = service.method("reserved").unwrap().param("name", stolen.as_str()).download().execute_bytes() $($aw)*;
        refused("download URL", w, r);
        // A media upload whose session URL (Location) is the attacker's.
        let r = service
            .method("upload")
            .unwrap()
            .param("name", "files")
            .body(json!({"id": "f"}))
            .media(Media::new(vec![7u8; 1000], "application/octet-stream"))
            .upload_protocol(UploadProtocol::Resumable { chunk_size: 256 * 1024 })
            .execute() $($aw)*;
        refused("upload session URL", w, r);
        // A request built from another API (the attacker's own, loopback, so trusted as
        // an API): this service's credentials are not applied to it.
        let foreign = service.call(w.attackers_api().method("simple").unwrap().param("id", "x"));
        let r = foreign.execute() $($aw)*;
        refused("request of another API", w, r);
        // A batch holding a call of another API.
        let mut batch = service.new_batch_http_request();
        let r = batch.add(service.call(w.attackers_api().method("simple").unwrap().param("id", "x")));
        refused("batched call of another API", w, r);

        // What stays on the API: a simple `{name}` expansion (escaped), a query value, a
        // batch whose `batchPath` names the attacker (it is a path under the root), a media
        // upload of a `{+name}` method.
        let before = w.api.count();
        service.method("simple").unwrap().param("id", stolen.as_str()).execute() $($aw)*.unwrap();
        service.method("reserved").unwrap().param("name", "v1/x").param("q", stolen.as_str()).execute() $($aw)*.unwrap();
        let mut batch = service.new_batch_http_request();
        batch.add(service.method("simple").unwrap().param("id", "a")).unwrap();
        let _ = batch.execute() $($aw)*;
        service
            .method("upload")
            .unwrap()
            .param("name", stolen.as_str())
            .media(Media::new(vec![7u8; 10], "text/plain"))
            .execute() $($aw)*
            .unwrap();
        assert_eq!(w.api.count(), before + 4);
        assert!(w.api.requests().iter().skip(before).all(|r| r.header("authorization") == Some(&format!("Bearer {SECRET}"))));
        w.attacker_got_nothing("calls that stay on the API");
    }};
}

#[test]
fn blocking_calls_send_credentials_only_to_the_root_origin() {
    let w = world();
    vectors!(
        &w,
        discovery_client::blocking::Service,
        gauth::blocking::Credentials,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_calls_send_credentials_only_to_the_root_origin() {
    let w = world();
    vectors!(&w, discovery_client::Service, gauth::Credentials, .await);
}

/// A document whose `servicePath` leads to the attacker is refused when read, naming the
/// host; no service can be built from it.
#[test]
fn a_service_path_to_another_origin_is_refused_when_the_document_is_read() {
    let w = world();
    let mut d = w.doc();
    d["servicePath"] = w.attacker.url("/t/v1/").into();
    let r = Api::from_document(d.to_string().as_bytes());
    refused("servicePath", &w, r);
}

/// A fetched document names its own root URL: plain http off loopback and hosts that are
/// neither Google's nor loopback are refused (both flavours of `build_with`), unless the
/// program allows the host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetched_documents_root_url_is_held_to_the_endpoint_policy() {
    for (root, host, insecure) in [
        ("http://attacker.example/", "attacker.example", true),
        ("https://attacker.example/", "attacker.example", false),
        (
            "https://www.googleapis.com.attacker.example/",
            "www.googleapis.com.attacker.example",
            false,
        ),
    ] {
        let doc = json!({"name": "t", "version": "v1", "rootUrl": root, "servicePath": "",
            "methods": {"get": {"id": "t.get", "path": "x", "httpMethod": "GET"}}})
        .to_string();
        let server = Hostile::always(Reply::json(200, doc));
        let dir = tempfile::tempdir().unwrap();
        let options = BuildOptions::default()
            .discovery_url(server.url("/d/{api}/{apiVersion}"))
            .cache_dir(dir.path());
        let check = |r: Result<_, Error>| match r {
            Err(Error::Core(
                gauth::Error::UntrustedEndpoint { host: h, field, .. }
                | gauth::Error::InsecureEndpoint { host: h, field, .. },
            )) => {
                assert_eq!((h.as_str(), field.as_str()), (host, "rootUrl"), "{root}");
            }
            other => panic!("{root}: {other:?}"),
        };
        check(discovery_client::blocking::build_with("t", "v1", None, &options).map(|_| ()));
        check(
            discovery_client::build_with("t", "v1", None, &options)
                .await
                .map(|_| ()),
        );
        // Allowed by the program: used (https), still refused over plain http.
        let allowed = options
            .clone()
            .endpoint_policy(EndpointPolicy::default().allow_host(host));
        let r = discovery_client::blocking::build_with("t", "v1", None, &allowed);
        assert_eq!(r.is_ok(), !insecure, "{root}: {r:?}");
        let r = discovery_client::build_with("t", "v1", None, &allowed).await;
        assert_eq!(r.is_ok(), !insecure, "{root}: {r:?}");
    }
}

/// `--root-url`-style roots are the program's choice of host, but still https or loopback.
#[test]
fn an_explicit_root_url_must_be_https_or_loopback() {
    let w = world();
    let api = w.api();
    assert!(api.with_root_url("https://api.example.com/").is_ok());
    assert!(api.with_root_url(&w.attacker.url("/")).is_ok());
    for bad in [
        "http://api.example.com/",
        "ftp://api.example.com/",
        "https://u:p@api.example.com/",
    ] {
        assert!(api.with_root_url(bad).is_err(), "{bad}");
    }
}
