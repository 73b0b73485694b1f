//! `gauth call --dry-run`: the request printed as JSON, invalid calls exit 1 naming the
//! parameter, no credentials needed.

use std::process::Command;

const DOC: &str = r#"{"name":"demo","version":"v1","rootUrl":"https://demo.googleapis.com/","servicePath":"demo/v1/",
  "parameters":{"fields":{"type":"string","location":"query"}},
  "resources":{"files":{"methods":{"get":{"id":"demo.files.get","path":"files/{fileId}","httpMethod":"GET",
    "parameters":{"fileId":{"type":"string","location":"path","required":true},
                  "view":{"type":"string","location":"query","enum":["BASIC","FULL"]},
                  "tag":{"type":"string","location":"query","repeated":true}},
    "response":{"$ref":"File"}},
   "create":{"id":"demo.files.create","path":"files","httpMethod":"POST","request":{"$ref":"File"},"response":{"$ref":"File"}}}}}}"#;

fn gauth(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gauth"))
        .args(args)
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn dry_run_prints_the_request_googleapiclient_would_send() {
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("demo.json");
    std::fs::write(&doc, DOC).unwrap();
    let d = doc.to_str().unwrap();
    let (code, out, err) = gauth(&[
        "call",
        "demo",
        "v1",
        "files.get",
        "--discovery-file",
        d,
        "--param",
        "fileId=a/b c",
        "--param",
        "tag=x",
        "--param",
        "tag=y&z",
        "--param",
        "fields=id",
        "--dry-run",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["method"], "GET");
    assert_eq!(
        v["url"],
        "https://demo.googleapis.com/demo/v1/files/a%2Fb%20c?tag=x&tag=y%26z&fields=id&alt=json"
    );
    assert_eq!(v["body"], serde_json::Value::Null);
    assert_eq!(v["headers"]["authorization"], "Bearer <redacted>");

    let (code, out, _) = gauth(&[
        "call",
        "demo",
        "v1",
        "files.create",
        "--discovery-file",
        d,
        "--body",
        r#"{"name":"ü"}"#,
        "--root-url",
        "http://127.0.0.1:9/",
        "--dry-run",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["url"], "http://127.0.0.1:9/demo/v1/files?alt=json");
    assert_eq!(v["body"]["name"], "ü");
    assert_eq!(v["headers"]["content-type"], "application/json");
}

#[test]
fn invalid_calls_exit_1_naming_the_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("demo.json");
    std::fs::write(&doc, DOC).unwrap();
    let d = doc.to_str().unwrap();
    for (args, param) in [
        (vec!["--dry-run"], "fileId"),
        (
            vec!["--param", "fileId=1", "--param", "nope=1", "--dry-run"],
            "nope",
        ),
        (
            vec!["--param", "fileId=1", "--param", "view=ALL", "--dry-run"],
            "view",
        ),
        (
            vec!["--param", "fileId=1", "--body", "{}", "--dry-run"],
            "body",
        ),
    ] {
        let mut all = vec!["call", "demo", "v1", "files.get", "--discovery-file", d];
        all.extend(args);
        let (code, out, err) = gauth(&all);
        assert_eq!(code, 1, "{all:?}: {err}");
        assert!(out.is_empty());
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(&format!("`{param}`")), "{err}");
    }
    let (code, _, err) = gauth(&[
        "call",
        "demo",
        "v1",
        "files.nope",
        "--discovery-file",
        d,
        "--dry-run",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("no method `files.nope`"), "{err}");
}
