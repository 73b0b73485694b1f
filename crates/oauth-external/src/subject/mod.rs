//! Where the subject token of an `external_account` file comes from: its
//! `credential_source`, told apart as google-auth tells it apart.

mod aws;
mod executable;

use std::path::PathBuf;

use http::{HeaderName, HeaderValue, Method};
use oauth_core::exchange::BoxExchange;
use oauth_core::http::{HttpResponse, error_from_response, safe_excerpt};
use oauth_core::json::Fields;
use oauth_core::source::RefreshContext;
use oauth_core::{EndpointPolicy, Error, Retrying, Secret};
use serde_json::Value;
use url::Url;

pub(crate) use aws::AwsSource;
pub(crate) use executable::{ALLOW_EXECUTABLES, ExecutableSource};

use crate::env::Environment;
use crate::steps::{PlainCall, ready};

/// The AWS subject token type.
pub const AWS_TOKEN_TYPE: &str = "urn:ietf:params:aws:token-type:aws4_request";

/// What a refresh tells a source.
pub(crate) struct SubjectContext<'a> {
    pub origin: &'a str,
    pub audience: &'a str,
    pub subject_token_type: &'a str,
    pub impersonated_email: Option<&'a str>,
    pub env: &'a Environment,
    pub refresh: &'a RefreshContext,
}

/// `credential_source.format`: the whole text, or one field of a JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Format {
    Text,
    Json(String),
}

/// A parsed `credential_source`.
#[derive(Debug, Clone)]
pub(crate) enum SubjectSource {
    File { path: PathBuf, format: Format },
    Url(UrlSource),
    Executable(ExecutableSource),
    Aws(AwsSource),
}

#[derive(Debug, Clone)]
pub(crate) struct UrlSource {
    url: Url,
    headers: Vec<(HeaderName, HeaderValue)>,
    format: Format,
}

impl SubjectSource {
    /// Reads `credential_source` (`f` is the file's top level) in google-auth's order: an
    /// AWS subject token type means AWS, an `executable` means an executable, then `file`
    /// or `url`.
    pub(crate) fn parse(
        f: &Fields<'_>,
        subject_token_type: &str,
        policy: &EndpointPolicy,
    ) -> Result<SubjectSource, Error> {
        let cs = f.object("credential_source")?;
        if subject_token_type == AWS_TOKEN_TYPE {
            return AwsSource::parse(&cs, policy).map(SubjectSource::Aws);
        }
        if cs.map().get("executable").is_some_and(|v| !v.is_null()) {
            return ExecutableSource::parse(&cs).map(SubjectSource::Executable);
        }
        if cs.map().contains_key("environment_id") {
            return Err(cs.invalid(
                "environment_id",
                &format!("an AWS source needs `subject_token_type` {AWS_TOKEN_TYPE}"),
            ));
        }
        if cs.map().get("certificate").is_some_and(|v| !v.is_null()) {
            return Err(cs.invalid(
                "certificate",
                "X.509 certificate sources (mTLS) are not supported by gauth",
            ));
        }
        let file = cs.optional_str("file")?;
        let url = cs.optional_str("url")?;
        let format = parse_format(&cs)?;
        match (file, url) {
            (Some(_), Some(_)) => Err(f.invalid(
                "credential_source",
                "`file` and `url` are mutually exclusive",
            )),
            (Some(path), None) => Ok(SubjectSource::File {
                path: PathBuf::from(path),
                format,
            }),
            (None, Some(url)) => {
                let parsed =
                    Url::parse(url).map_err(|e| cs.invalid("url", &format!("not a URL ({e})")))?;
                if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
                    return Err(cs.invalid("url", "not an http or https URL"));
                }
                if !parsed.username().is_empty() || parsed.password().is_some() {
                    return Err(cs.invalid("url", "URLs with credentials in them are not accepted"));
                }
                Ok(SubjectSource::Url(UrlSource {
                    url: parsed,
                    headers: parse_headers(&cs)?,
                    format,
                }))
            }
            (None, None) => Err(f.invalid(
                "credential_source",
                "it names none of `file`, `url`, `executable` or `environment_id`",
            )),
        }
    }

    /// google-auth's name for the source (`x-goog-api-client`'s `source/...`).
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            SubjectSource::File { .. } => "file",
            SubjectSource::Url(_) => "url",
            SubjectSource::Executable(_) => "executable",
            SubjectSource::Aws(_) => "aws",
        }
    }

    /// Whether obtaining a subject token reads files or runs a program.
    pub(crate) fn does_blocking_io(&self) -> bool {
        matches!(
            self,
            SubjectSource::File { .. } | SubjectSource::Executable(_)
        )
    }

    /// The subject token, as an exchange (files and executables are read here, at once;
    /// URLs and AWS metadata are requests).
    pub(crate) fn begin(&self, cx: &SubjectContext<'_>) -> Result<BoxExchange<Secret>, Error> {
        match self {
            SubjectSource::File { path, format } => Ok(ready(read_file(cx.origin, path, format))),
            SubjectSource::Url(u) => Ok(u.exchange(cx)),
            SubjectSource::Executable(e) => Ok(ready(e.subject_token(cx))),
            SubjectSource::Aws(a) => a.exchange(cx),
        }
    }
}

fn parse_format(cs: &Fields<'_>) -> Result<Format, Error> {
    let Some(v) = cs.map().get("format").filter(|v| !v.is_null()) else {
        return Ok(Format::Text);
    };
    let fmt = Fields::new(v, cs.origin(), &cs.path("format"))?;
    match fmt.optional_str("type")?.filter(|t| !t.is_empty()) {
        None | Some("text") => Ok(Format::Text),
        Some("json") => Ok(Format::Json(
            fmt.required_str("subject_token_field_name")?.to_owned(),
        )),
        Some(other) => Err(fmt.invalid(
            "type",
            &format!("`{}` is neither `text` nor `json`", other.escape_debug()),
        )),
    }
}

fn parse_headers(cs: &Fields<'_>) -> Result<Vec<(HeaderName, HeaderValue)>, Error> {
    let Some(v) = cs.map().get("headers").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let h = Fields::new(v, cs.origin(), &cs.path("headers"))?;
    let mut out = Vec::new();
    for (name, value) in h.map() {
        let Value::String(value) = value else {
            return Err(h.invalid(name, "expected a string"));
        };
        let name_ok = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| h.invalid(name, "not a valid header name"))?;
        let mut value_ok = HeaderValue::from_str(value)
            .map_err(|_| h.invalid(name, "not a valid header value"))?;
        // The file's own headers often carry a bearer token for the identity provider.
        value_ok.set_sensitive(true);
        out.push((name_ok, value_ok));
    }
    Ok(out)
}

/// google-auth's `_parse_token_data`: the text as is, or the JSON field; empty is an error.
fn parse_token(
    content: &str,
    format: &Format,
    origin: &str,
    location: &str,
) -> Result<Secret, Error> {
    let token = match format {
        Format::Text => content.to_owned(),
        Format::Json(field) => {
            let v: Value = serde_json::from_str(content).map_err(|_| Error::InvalidField {
                origin: origin.to_owned(),
                field: "credential_source.format.subject_token_field_name".into(),
                reason: format!("{location} is not JSON"),
            })?;
            match v.get(field) {
                Some(Value::String(s)) => s.clone(),
                _ => {
                    return Err(Error::InvalidField {
                        origin: origin.to_owned(),
                        field: "credential_source.format.subject_token_field_name".into(),
                        reason: format!(
                            "{location} has no string field `{}`",
                            field.escape_debug()
                        ),
                    });
                }
            }
        }
    };
    if token.is_empty() {
        return Err(Error::InvalidField {
            origin: origin.to_owned(),
            field: "credential_source".into(),
            reason: format!("{location} holds an empty subject token"),
        });
    }
    Ok(Secret::new(token))
}

/// Reads the file as Python's text mode does (UTF-8, universal newlines).
fn read_file(origin: &str, path: &std::path::Path, format: &Format) -> Result<Secret, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::Read {
        path: path.to_owned(),
        source: std::sync::Arc::new(e),
    })?;
    let text = String::from_utf8(bytes).map_err(|_| Error::InvalidField {
        origin: origin.to_owned(),
        field: "credential_source.file".into(),
        reason: format!("{} is not UTF-8 text", path.display()),
    })?;
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    parse_token(&text, format, origin, &path.display().to_string())
}

impl UrlSource {
    fn exchange(&self, cx: &SubjectContext<'_>) -> BoxExchange<Secret> {
        let format = self.format.clone();
        let origin = cx.origin.to_owned();
        let location = oauth_core::http::endpoint_label(&oauth_core::http::to_uri(&self.url));
        // Only the file's own headers: no Google credential goes to a subject-token source.
        let mut call = PlainCall::new(Method::GET, self.url.clone(), move |endpoint, r| {
            let body = ok_text(endpoint, r)?;
            parse_token(&body, &format, &origin, &location)
        });
        for (k, v) in &self.headers {
            call = call.header(k.clone(), v.clone());
        }
        Box::new(Retrying::new(call, cx.refresh.retry))
    }
}

/// A success answer's body as text; anything else is the endpoint's error.
pub(crate) fn ok_text(endpoint: &str, r: HttpResponse) -> Result<String, Error> {
    if !r.status().is_success() {
        return Err(error_from_response(endpoint, &r));
    }
    String::from_utf8(r.into_body().into()).map_err(|e| Error::MalformedResponse {
        endpoint: endpoint.to_owned(),
        reason: format!("not UTF-8 text ({})", safe_excerpt(e.as_bytes())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(cs: Value, token_type: &str) -> Result<SubjectSource, Error> {
        let v = serde_json::json!({ "credential_source": cs });
        let f = Fields::new(&v, "f.json", "").unwrap();
        SubjectSource::parse(&f, token_type, &EndpointPolicy::default())
    }

    const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";

    #[test]
    fn sources_are_told_apart_as_google_auth_does() {
        let s = parse(serde_json::json!({"file": "/t"}), JWT).unwrap();
        assert_eq!(s.kind(), "file");
        let s = parse(
            serde_json::json!({"url": "http://169.254.169.254/token", "headers": {"Metadata": "True"},
                               "format": {"type": "json", "subject_token_field_name": "access_token"}}),
            JWT,
        )
        .unwrap();
        assert_eq!(s.kind(), "url");
        let s = parse(
            serde_json::json!({"executable": {"command": "/bin/true"}}),
            JWT,
        )
        .unwrap();
        assert_eq!(s.kind(), "executable");
        let s = parse(
            serde_json::json!({"environment_id": "aws1",
                "regional_cred_verification_url": "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"}),
            AWS_TOKEN_TYPE,
        )
        .unwrap();
        assert_eq!(s.kind(), "aws");
    }

    #[test]
    fn bad_sources_name_the_file_and_field() {
        let e = parse(serde_json::json!({}), JWT).unwrap_err().to_string();
        assert_eq!(
            e,
            "f.json: invalid field `credential_source`: it names none of `file`, `url`, `executable` or `environment_id`"
        );
        let e = parse(serde_json::json!({"file": "a", "url": "http://x/"}), JWT)
            .unwrap_err()
            .to_string();
        assert!(e.contains("mutually exclusive"), "{e}");
        let e = parse(serde_json::json!({"environment_id": "aws1"}), JWT)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`credential_source.environment_id`"), "{e}");
        let e = parse(
            serde_json::json!({"file": "a", "format": {"type": "xml"}}),
            JWT,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("`credential_source.format.type`"), "{e}");
        let e = parse(
            serde_json::json!({"file": "a", "format": {"type": "json"}}),
            JWT,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "f.json: missing field `credential_source.format.subject_token_field_name`"
        );
        let e = parse(serde_json::json!({"url": "ftp://x/"}), JWT)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`credential_source.url`"), "{e}");
        let e = parse(
            serde_json::json!({"url": "http://x/", "headers": {"a": 1}}),
            JWT,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("`credential_source.headers.a`"), "{e}");
    }

    #[test]
    fn tokens_are_text_or_a_json_field_never_empty() {
        let t = parse_token("abc\n", &Format::Text, "f", "l").unwrap();
        assert_eq!(
            t.expose(),
            "abc\n",
            "the text is sent as is, as google-auth sends it"
        );
        let j = Format::Json("id_token".into());
        assert_eq!(
            parse_token(r#"{"id_token":"x"}"#, &j, "f", "l")
                .unwrap()
                .expose(),
            "x"
        );
        assert!(parse_token(r#"{"other":"x"}"#, &j, "f", "l").is_err());
        assert!(parse_token("not json", &j, "f", "l").is_err());
        assert!(parse_token("", &Format::Text, "f", "l").is_err());
    }

    #[test]
    fn files_are_read_with_universal_newlines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t");
        std::fs::write(&p, "a\r\nb\r").unwrap();
        assert_eq!(
            read_file("f", &p, &Format::Text).unwrap().expose(),
            "a\nb\n"
        );
        let e = read_file("f", &dir.path().join("none"), &Format::Text).unwrap_err();
        assert!(e.to_string().contains("cannot read"), "{e}");
    }
}
