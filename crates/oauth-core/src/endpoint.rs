//! Which endpoints a credentials file may send secrets to.
//!
//! A credentials file names the server that receives its refresh token and client secret
//! (`token_uri`). google-auth ignores that field in authorized-user files for this reason,
//! which also makes testing against a local server impossible. gauth keeps both: an
//! endpoint from a file is used when its host is Google's or loopback, and any other host
//! needs the caller's explicit opt-in. Plain http is refused except on loopback.

use std::net::IpAddr;

use url::{Host, Url};

use crate::Error;

/// The hosts and schemes endpoints from files may use.
///
/// ```
/// use oauth_core::EndpointPolicy;
/// let p = EndpointPolicy::default();
/// assert!(p.check("f.json", "token_uri", "https://oauth2.googleapis.com/token", None).is_ok());
/// assert!(p.check("f.json", "token_uri", "http://127.0.0.1:8080/token", None).is_ok());
/// assert!(p.check("f.json", "token_uri", "https://evil.example/token", None).is_err());
/// let p = p.allow_host("idp.example");
/// assert!(p.check("f.json", "token_uri", "https://idp.example/token", None).is_ok());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointPolicy {
    allowed_hosts: Vec<String>,
    allow_http: bool,
}

impl EndpointPolicy {
    /// Trusts one more host (exact match, case-insensitive).
    pub fn allow_host(mut self, host: impl Into<String>) -> Self {
        self.allowed_hosts.push(host.into().to_ascii_lowercase());
        self
    }

    /// Allows plain http on hosts that are not loopback (never needed with Google).
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Parses `value`, the `field` of `origin`, and checks it against the policy.
    /// `universe_domain` is the file's own universe (googleapis.com when absent).
    pub fn check(
        &self,
        origin: &str,
        field: &str,
        value: &str,
        universe_domain: Option<&str>,
    ) -> Result<Url, Error> {
        let invalid = |reason: &str| Error::InvalidField {
            origin: origin.to_owned(),
            field: field.to_owned(),
            reason: reason.to_owned(),
        };
        let url = Url::parse(value).map_err(|e| invalid(&format!("not a URL ({e})")))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("URLs with credentials in them are not accepted"));
        }
        let host = match url.host() {
            Some(h) => h,
            None => return Err(invalid("the URL has no host")),
        };
        let loopback = is_loopback(&host);
        let host_name = host.to_string().to_ascii_lowercase();
        match url.scheme() {
            "https" => {}
            "http" if loopback || self.allow_http => {}
            "http" => {
                return Err(Error::InsecureEndpoint {
                    origin: origin.to_owned(),
                    field: field.to_owned(),
                    host: host_name,
                });
            }
            other => return Err(invalid(&format!("scheme `{other}` is not http or https"))),
        }
        let trusted = loopback
            || is_google(&host_name, universe_domain)
            || self
                .allowed_hosts
                .iter()
                .any(|h| h.trim_matches(['[', ']']) == host_name.trim_matches(['[', ']']));
        if !trusted {
            return Err(Error::UntrustedEndpoint {
                origin: origin.to_owned(),
                field: field.to_owned(),
                host: host_name,
            });
        }
        Ok(url)
    }
}

/// Whether a host is loopback: 127.0.0.0/8, ::1 or localhost.
pub fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
    }
}

fn is_google(host: &str, universe_domain: Option<&str>) -> bool {
    let under = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
    under("googleapis.com")
        || host == "accounts.google.com"
        || universe_domain.is_some_and(|u| !u.is_empty() && under(&u.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(p: &EndpointPolicy, url: &str) -> Result<Url, Error> {
        p.check("creds.json", "token_uri", url, None)
    }

    #[test]
    fn google_and_loopback_hosts_are_trusted() {
        let p = EndpointPolicy::default();
        for ok in [
            "https://oauth2.googleapis.com/token",
            "https://www.googleapis.com/oauth2/v4/token",
            "https://accounts.google.com/o/oauth2/token",
            "http://127.0.0.1:9/token",
            "http://127.8.9.1/token",
            "http://[::1]:80/token",
            "http://localhost:1/token",
        ] {
            assert!(check(&p, ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn strangers_and_look_alikes_are_refused() {
        let p = EndpointPolicy::default();
        for bad in [
            "https://evil.example/token",
            "https://googleapis.com.evil.example/token",
            "https://evilgoogleapis.com/token",
            "https://accounts.google.com.evil/token",
            "https://10.0.0.1/token",
        ] {
            assert!(
                matches!(check(&p, bad), Err(Error::UntrustedEndpoint { .. })),
                "{bad}"
            );
        }
        let e = check(&p, "https://evil.example/token")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("creds.json") && e.contains("token_uri") && e.contains("evil.example"),
            "{e}"
        );
    }

    #[test]
    fn plain_http_is_refused_off_loopback() {
        let p = EndpointPolicy::default().allow_host("idp.example");
        assert!(matches!(
            check(&p, "http://oauth2.googleapis.com/token"),
            Err(Error::InsecureEndpoint { .. })
        ));
        assert!(matches!(
            check(&p, "http://idp.example/token"),
            Err(Error::InsecureEndpoint { .. })
        ));
        assert!(
            check(
                &p.clone().allow_insecure_http(true),
                "http://idp.example/token"
            )
            .is_ok()
        );
        assert!(matches!(
            check(&p, "ftp://idp.example/x"),
            Err(Error::InvalidField { .. })
        ));
        assert!(matches!(
            check(&p, "https://u:p@idp.example/x"),
            Err(Error::InvalidField { .. })
        ));
        assert!(matches!(
            check(&p, "not a url"),
            Err(Error::InvalidField { .. })
        ));
    }

    #[test]
    fn the_files_universe_domain_is_trusted() {
        let p = EndpointPolicy::default();
        assert!(
            p.check(
                "f",
                "token_uri",
                "https://oauth2.example-universe.com/token",
                Some("example-universe.com")
            )
            .is_ok()
        );
        assert!(
            p.check(
                "f",
                "token_uri",
                "https://oauth2.example-universe.com/token",
                None
            )
            .is_err()
        );
    }
}
