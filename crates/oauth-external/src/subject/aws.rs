//! AWS-sourced subject tokens (`environment_id` `aws1`): the region and role credentials
//! from the environment or the EC2 metadata service (IMDSv2 session tokens when
//! `imdsv2_session_token_url` is given), then a SigV4-signed `GetCallerIdentity` request,
//! in google-auth's order and format.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use http::{HeaderName, HeaderValue, Method};
use oauth_core::exchange::BoxExchange;
use oauth_core::json::Fields;
use oauth_core::{EndpointPolicy, Error, Retrying, Secret};
use serde_json::Value;
use url::{Host, Url};

use super::{SubjectContext, ok_text};
use crate::sigv4::{AwsCredentials, caller_identity_token};
use crate::steps::{PlainCall, Then, ready};

/// The EC2 metadata service's documented addresses.
pub const AWS_METADATA_IPV4: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
/// The EC2 metadata service's IPv6 address.
pub const AWS_METADATA_IPV6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);

const TOKEN_TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";

#[derive(Debug, Clone)]
pub(crate) struct AwsSource {
    region_url: Option<Url>,
    url: Option<Url>,
    imdsv2_session_token_url: Option<Url>,
    verification_url: String,
    /// The region, once known: google-auth asks for it once per credential.
    region: Arc<Mutex<Option<String>>>,
}

impl AwsSource {
    pub(crate) fn parse(cs: &Fields<'_>, policy: &EndpointPolicy) -> Result<Self, Error> {
        let env_id = cs
            .optional_str("environment_id")?
            .ok_or_else(|| cs.missing("environment_id"))?;
        let version = env_id
            .strip_prefix("aws")
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                cs.invalid("environment_id", "not an AWS environment id such as `aws1`")
            })?;
        if version.trim_start_matches('0') != "1" {
            return Err(cs.invalid(
                "environment_id",
                &format!("AWS version {version} is not supported (only `aws1` is)"),
            ));
        }
        let verification_url = cs
            .optional_str("regional_cred_verification_url")?
            .ok_or_else(|| cs.missing("regional_cred_verification_url"))?
            .to_owned();
        if !verification_url.starts_with("https://") {
            return Err(cs.invalid(
                "regional_cred_verification_url",
                "must be an https URL (it is signed, never fetched)",
            ));
        }
        Ok(AwsSource {
            region_url: metadata_url(cs, "region_url", policy)?,
            url: metadata_url(cs, "url", policy)?,
            imdsv2_session_token_url: metadata_url(cs, "imdsv2_session_token_url", policy)?,
            verification_url,
            region: Arc::new(Mutex::new(None)),
        })
    }

    fn cached_region(&self) -> Option<String> {
        self.region.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Region, then credentials, then the signature: google-auth's `retrieve_subject_token`.
    pub(crate) fn exchange(&self, cx: &SubjectContext<'_>) -> Result<BoxExchange<Secret>, Error> {
        let retry = cx.refresh.retry;
        let region: BoxExchange<String> = match self.cached_region() {
            Some(r) => ready(Ok(r)),
            None => self.region_exchange(cx, retry),
        };
        let creds = self.credentials_exchange(cx, retry);
        let slot = Arc::clone(&self.region);
        let verification_url = self.verification_url.clone();
        let audience = cx.audience.to_owned();
        let clock = Arc::clone(&cx.refresh.clock);
        let origin = cx.origin.to_owned();
        Ok(Then::boxed(region, move |region| {
            if let Ok(mut r) = slot.lock() {
                *r = Some(region.clone());
            }
            Ok(Then::boxed(creds, move |creds| {
                let token = caller_identity_token(
                    &creds,
                    &region,
                    &verification_url,
                    &audience,
                    clock.now(),
                )
                .map_err(|reason| Error::InvalidField {
                    origin,
                    field: "credential_source.regional_cred_verification_url".into(),
                    reason,
                });
                Ok(ready(token))
            }))
        }))
    }

    fn region_exchange(
        &self,
        cx: &SubjectContext<'_>,
        retry: oauth_core::RetryPolicy,
    ) -> BoxExchange<String> {
        if let Some(r) = cx
            .env
            .get("AWS_REGION")
            .or_else(|| cx.env.get("AWS_DEFAULT_REGION"))
        {
            return ready(Ok(r));
        }
        let Some(region_url) = self.region_url.clone() else {
            return ready(Err(Error::MissingField {
                origin: cx.origin.to_owned(),
                field: "credential_source.region_url".into(),
            }
            .with_note(
                "the AWS region is in neither AWS_REGION nor AWS_DEFAULT_REGION",
            )));
        };
        self.with_session_token(retry, move |token| {
            // google-auth drops the last character: the availability zone `us-east-1b`
            // names the region `us-east-1`.
            let call = metadata_get(region_url, token, |text| {
                let mut chars = text.chars();
                chars.next_back();
                Ok(chars.as_str().to_owned())
            });
            Box::new(Retrying::new(call, retry))
        })
    }

    fn credentials_exchange(
        &self,
        cx: &SubjectContext<'_>,
        retry: oauth_core::RetryPolicy,
    ) -> BoxExchange<AwsCredentials> {
        let id = cx.env.get("AWS_ACCESS_KEY_ID").filter(|s| !s.is_empty());
        let secret = cx
            .env
            .get("AWS_SECRET_ACCESS_KEY")
            .filter(|s| !s.is_empty());
        if let (Some(id), Some(secret)) = (id, secret) {
            return ready(Ok(AwsCredentials {
                access_key_id: id,
                secret_access_key: Secret::new(secret),
                session_token: cx.env.get("AWS_SESSION_TOKEN").map(Secret::new),
            }));
        }
        let Some(url) = self.url.clone() else {
            return ready(Err(Error::MissingField {
                origin: cx.origin.to_owned(),
                field: "credential_source.url".into(),
            }
            .with_note(
                "AWS credentials are in neither AWS_ACCESS_KEY_ID nor AWS_SECRET_ACCESS_KEY",
            )));
        };
        self.with_session_token(retry, move |token| {
            let role_call = metadata_get(url.clone(), token.clone(), Ok);
            Then::boxed(Box::new(Retrying::new(role_call, retry)), move |role| {
                let creds_url = Url::parse(&format!("{}/{role}", url.as_str())).map_err(|_| {
                    Error::MalformedResponse {
                        endpoint: url.as_str().to_owned(),
                        reason: "the role name does not make a URL".into(),
                    }
                })?;
                let call = metadata_get(creds_url, token, |text| {
                    let v: Value = serde_json::from_str(&text)
                        .map_err(|_| "the role credentials are not JSON".to_owned())?;
                    let field = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
                    let (Some(id), Some(secret)) = (field("AccessKeyId"), field("SecretAccessKey"))
                    else {
                        return Err(
                            "the role credentials lack AccessKeyId or SecretAccessKey".into()
                        );
                    };
                    Ok(AwsCredentials {
                        access_key_id: id,
                        secret_access_key: Secret::new(secret),
                        session_token: field("Token").map(Secret::new),
                    })
                });
                Ok(Box::new(Retrying::new(call, retry)) as BoxExchange<AwsCredentials>)
            })
        })
    }

    /// Runs `then` after fetching a fresh IMDSv2 session token (each use asks for its own,
    /// as google-auth does), or at once when the file names no token URL.
    fn with_session_token<T: 'static>(
        &self,
        retry: oauth_core::RetryPolicy,
        then: impl FnOnce(Option<Secret>) -> BoxExchange<T> + Send + 'static,
    ) -> BoxExchange<T> {
        match self.imdsv2_session_token_url.clone() {
            None => then(None),
            Some(url) => {
                let call = PlainCall::new(Method::PUT, url, |endpoint, r| {
                    ok_text(endpoint, r).map(Secret::new)
                })
                .header(
                    HeaderName::from_static(TOKEN_TTL_HEADER),
                    HeaderValue::from_static("300"),
                );
                Then::boxed(Box::new(Retrying::new(call, retry)), move |token| {
                    Ok(then(Some(token)))
                })
            }
        }
    }
}

/// A metadata GET with the session token, its text read by `read`.
fn metadata_get<T: Send + 'static>(
    url: Url,
    token: Option<Secret>,
    read: impl Fn(String) -> Result<T, String> + Send + Sync + 'static,
) -> PlainCall<T> {
    let mut call = PlainCall::new(Method::GET, url, move |endpoint, r| {
        let text = ok_text(endpoint, r)?;
        read(text).map_err(|reason| Error::MalformedResponse {
            endpoint: endpoint.to_owned(),
            reason,
        })
    });
    if let Some(t) = token
        && let Ok(mut v) = HeaderValue::from_str(t.expose())
    {
        v.set_sensitive(true);
        call = call.header(HeaderName::from_static(TOKEN_HEADER), v);
    }
    call
}

/// A metadata URL from the file: the metadata service's documented addresses, loopback
/// (tests) or a host the caller allowed; never anywhere else, since AWS credentials come
/// back from it.
fn metadata_url(
    cs: &Fields<'_>,
    field: &str,
    policy: &EndpointPolicy,
) -> Result<Option<Url>, Error> {
    let Some(value) = cs.optional_str(field)? else {
        return Ok(None);
    };
    let url = Url::parse(value).map_err(|e| cs.invalid(field, &format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(cs.invalid(field, "not an http or https URL"));
    }
    let documented = match url.host() {
        Some(Host::Ipv4(ip)) => ip == AWS_METADATA_IPV4 || IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => ip == AWS_METADATA_IPV6 || ip.is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    if documented {
        return Ok(Some(url));
    }
    // A host the caller allowed explicitly is taken too.
    let checked =
        policy
            .clone()
            .allow_insecure_http(true)
            .check(cs.origin(), &cs.path(field), value, None);
    match checked {
        Ok(u)
            if u.host_str()
                .is_some_and(|h| !h.ends_with("googleapis.com") && h != "accounts.google.com") =>
        {
            Ok(Some(u))
        }
        _ => Err(cs.invalid(
            field,
            "the AWS metadata service is 169.254.169.254 or [fd00:ec2::254] (or loopback); \
             allow another host explicitly (e.g. `--allow-endpoint HOST`) if you trust it",
        )),
    }
}

/// Adds a note to a missing-field error's field name, so the message says why it was needed.
trait WithNote {
    fn with_note(self, note: &str) -> Error;
}

impl WithNote for Error {
    fn with_note(self, note: &str) -> Error {
        match self {
            Error::MissingField { origin, field } => Error::InvalidField {
                origin,
                field,
                reason: format!("missing, and {note}"),
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use oauth_core::exchange::{Exchange, Input, Step};
    use oauth_core::http::HttpRequest;
    use oauth_core::source::RefreshContext;
    use oauth_core::{ManualClock, RetryPolicy};
    use serde_json::json;

    use super::*;
    use crate::env::Environment;

    const VERIFY: &str =
        "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15";

    fn source(extra: Value) -> Result<AwsSource, Error> {
        let mut cs = json!({"environment_id": "aws1", "regional_cred_verification_url": VERIFY});
        for (k, v) in extra.as_object().unwrap() {
            cs[k] = v.clone();
        }
        AwsSource::parse(
            &Fields::new(&cs, "aws.json", "credential_source").unwrap(),
            &EndpointPolicy::default(),
        )
    }

    fn drive(s: &AwsSource, env: Environment) -> (Vec<HttpRequest>, Result<Secret, Error>) {
        let refresh = RefreshContext {
            clock: Arc::new(ManualClock::new(
                UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            )),
            margin: Duration::ZERO,
            retry: RetryPolicy::none(),
        };
        let cx = SubjectContext {
            origin: "aws.json",
            audience: "//iam.googleapis.com/aud",
            subject_token_type: crate::subject::AWS_TOKEN_TYPE,
            impersonated_email: None,
            env: &env,
            refresh: &refresh,
        };
        let mut ex = s.exchange(&cx).unwrap();
        let mut sent = Vec::new();
        let mut input = Input::Start;
        loop {
            match ex.step(input) {
                Step::Send(req) => {
                    let body: &[u8] = match (req.method().as_str(), req.uri().path()) {
                        ("PUT", _) => b"imds-token",
                        (_, "/latest/meta-data/placement/availability-zone") => b"us-west-2b",
                        (_, "/latest/meta-data/iam/security-credentials") => b"my-role",
                        _ => br#"{"AccessKeyId":"AKID","SecretAccessKey":"SK","Token":"ST"}"#,
                    };
                    sent.push(req);
                    input = Input::Response(Ok(http::Response::builder()
                        .status(200)
                        .body(body.to_vec().into())
                        .unwrap()));
                }
                Step::Wait(_) => input = Input::Waited,
                Step::Done(r) => return (sent, r),
            }
        }
    }

    #[test]
    fn metadata_requests_follow_google_auths_order_with_session_tokens() {
        let s = source(json!({
            "region_url": "http://169.254.169.254/latest/meta-data/placement/availability-zone",
            "url": "http://169.254.169.254/latest/meta-data/iam/security-credentials",
            "imdsv2_session_token_url": "http://169.254.169.254/latest/api/token"
        }))
        .unwrap();
        let (sent, token) = drive(&s, Environment::from_pairs::<[(&str, &str); 0], _, _>([]));
        let seen: Vec<String> = sent
            .iter()
            .map(|r| format!("{} {}", r.method(), r.uri().path()))
            .collect();
        assert_eq!(
            seen,
            [
                "PUT /latest/api/token",
                "GET /latest/meta-data/placement/availability-zone",
                "PUT /latest/api/token",
                "GET /latest/meta-data/iam/security-credentials",
                "GET /latest/meta-data/iam/security-credentials/my-role",
            ]
        );
        assert_eq!(sent[0].headers()[TOKEN_TTL_HEADER], "300");
        for r in &sent[1..] {
            if r.method() == "GET" {
                assert_eq!(r.headers()[TOKEN_HEADER], "imds-token");
            }
            assert!(r.headers().get("authorization").is_none());
        }
        let token = token.unwrap();
        let decoded = url::form_urlencoded::parse(format!("t={}", token.expose()).as_bytes())
            .next()
            .unwrap()
            .1
            .into_owned();
        assert!(decoded.contains("sts.us-west-2.amazonaws.com"), "{decoded}");
        assert!(decoded.contains("Credential=AKID/20231114/us-west-2/sts/aws4_request"));
        // The region is asked once per credential.
        let (sent, _) = drive(&s, Environment::from_pairs::<[(&str, &str); 0], _, _>([]));
        assert_eq!(sent.len(), 3);
    }

    #[test]
    fn environment_variables_need_no_metadata_service() {
        let s = source(json!({})).unwrap();
        let env = Environment::from_pairs([
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "SK"),
        ]);
        let (sent, token) = drive(&s, env);
        assert!(sent.is_empty());
        assert!(!token.unwrap().expose().contains("x-amz-security-token"));
        let e = drive(&s, Environment::from_pairs([("AWS_REGION", "r")]))
            .1
            .unwrap_err()
            .to_string();
        assert!(e.contains("`credential_source.url`"), "{e}");
        // (The region above is cached now: a fresh source has none.)
        let fresh = source(json!({})).unwrap();
        let e = drive(
            &fresh,
            Environment::from_pairs::<[(&str, &str); 0], _, _>([]),
        )
        .1
        .unwrap_err()
        .to_string();
        assert!(e.contains("`credential_source.region_url`"), "{e}");
    }

    #[test]
    fn metadata_hosts_are_the_documented_ones_or_loopback() {
        for ok in [
            "http://169.254.169.254/x",
            "http://[fd00:ec2::254]/x",
            "http://127.0.0.1:8080/x",
        ] {
            assert!(source(json!({"url": ok})).is_ok(), "{ok}");
        }
        for bad in [
            "http://169.254.169.253/x",
            "http://evil.example/x",
            "https://oauth2.googleapis.com/x",
        ] {
            let e = source(json!({"url": bad})).unwrap_err().to_string();
            assert!(e.contains("`credential_source.url`"), "{bad}: {e}");
        }
        let cs = json!({"environment_id": "aws1", "regional_cred_verification_url": VERIFY,
                        "url": "http://imds.internal/x"});
        let allowed = EndpointPolicy::default().allow_host("imds.internal");
        assert!(
            AwsSource::parse(
                &Fields::new(&cs, "f", "credential_source").unwrap(),
                &allowed
            )
            .is_ok()
        );
    }

    #[test]
    fn environment_ids_and_verification_urls_are_checked() {
        let bad = |cs: Value| {
            AwsSource::parse(
                &Fields::new(&cs, "aws.json", "credential_source").unwrap(),
                &EndpointPolicy::default(),
            )
            .unwrap_err()
            .to_string()
        };
        assert!(
            bad(json!({"environment_id": "aws2", "regional_cred_verification_url": VERIFY}))
                .contains("version 2")
        );
        assert!(
            bad(json!({"environment_id": "azure1", "regional_cred_verification_url": VERIFY}))
                .contains("`credential_source.environment_id`")
        );
        assert_eq!(
            bad(json!({"environment_id": "aws1"})),
            "aws.json: missing field `credential_source.regional_cred_verification_url`"
        );
        assert_eq!(
            bad(json!({"regional_cred_verification_url": VERIFY})),
            "aws.json: missing field `credential_source.environment_id`"
        );
    }
}
