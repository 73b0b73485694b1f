//! Which endpoints a credentials file may send secrets to.
//!
//! A credentials file names the server that receives its refresh token and client secret
//! (`token_uri`). google-auth ignores that field in authorized-user files for this reason,
//! which also makes testing against a local server impossible. gauth keeps both: an
//! endpoint from a file is used when its host is Google's or loopback, and any other host
//! needs the program's explicit opt-in. Plain http is refused except on loopback.
//!
//! The rules, in full (`docs/security.md` has them with their reasons):
//!
//! - **Google's hosts** are `googleapis.com` and every name under it (`oauth2.`, `sts.`,
//!   `iamcredentials.`, `www.`, ...), and `accounts.google.com`. Nothing else.
//! - **Loopback** is 127.0.0.0/8 (in any of the forms a URL parser accepts, `127.1`
//!   included), `::1`, `::ffff:127.0.0.0/104` and `localhost`. `0.0.0.0` and `::` are not
//!   loopback.
//! - **The program's allowances**: [`EndpointPolicy::allow_host`] trusts one host (exact
//!   match), [`EndpointPolicy::allow_universe`] trusts a universe domain and every name
//!   under it (a Trusted Partner Cloud universe, for instance).
//! - **A file's own `universe_domain` never widens trust.** It may name a universe, but
//!   only hosts the rules above trust are used: `"universe_domain": "com"` does not make
//!   `evil.com` trusted.
//! - Hosts are compared as the URL parser normalises them (lower case, IDNA to punycode,
//!   numeric IPv4 forms to dotted quads) and without one trailing dot; the URL that is
//!   checked is the URL that is used, so what is checked is where the request goes. URLs
//!   with a user name or password are refused.

use std::net::IpAddr;

use url::{Host, Url};

use crate::Error;

/// Google's default universe.
pub const GOOGLE_UNIVERSE: &str = "googleapis.com";

/// The hosts and schemes endpoints from files may use.
///
/// ```
/// use oauth_core::EndpointPolicy;
/// let p = EndpointPolicy::default();
/// assert!(p.check("f.json", "token_uri", "https://oauth2.googleapis.com/token", None).is_ok());
/// assert!(p.check("f.json", "token_uri", "http://127.0.0.1:8080/token", None).is_ok());
/// assert!(p.check("f.json", "token_uri", "https://evil.example/token", None).is_err());
/// // A file's universe never widens trust.
/// assert!(p.check("f.json", "token_uri", "https://evil.com/token", Some("com")).is_err());
/// let p = p.allow_host("idp.example").allow_universe("partner-cloud.example");
/// assert!(p.check("f.json", "token_uri", "https://idp.example/token", None).is_ok());
/// assert!(p.check("f.json", "token_uri", "https://oauth2.partner-cloud.example/token", None).is_ok());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointPolicy {
    allowed_hosts: Vec<Host<String>>,
    allowed_universes: Vec<String>,
    allow_http: bool,
}

impl EndpointPolicy {
    /// Trusts one more host: an exact match after normalisation (case, IDNA, a trailing
    /// dot, brackets around an IPv6 address and numeric IPv4 forms do not matter). A value
    /// that is not a host (empty, or holding a `/`) trusts nothing.
    ///
    /// ```
    /// use oauth_core::EndpointPolicy;
    /// let p = EndpointPolicy::default().allow_host("IdP.Example.").allow_host("::2");
    /// assert!(p.check("f", "token_uri", "https://idp.example/t", None).is_ok());
    /// assert!(p.check("f", "token_uri", "https://[::2]/t", None).is_ok());
    /// assert!(p.check("f", "token_uri", "https://sub.idp.example/t", None).is_err());
    /// ```
    pub fn allow_host(mut self, host: impl Into<String>) -> Self {
        if let Some(h) = normalize(&host.into()) {
            self.allowed_hosts.push(h);
        }
        self
    }

    /// Trusts a universe domain and every host under it, the way `googleapis.com` is
    /// trusted: for a program that runs in another universe (a Trusted Partner Cloud).
    /// The domain must be a name of at least two labels: `com` or `localhost` trust
    /// nothing.
    ///
    /// ```
    /// use oauth_core::EndpointPolicy;
    /// let p = EndpointPolicy::default().allow_universe("s3nsapis.fr");
    /// assert!(p.check("f", "token_uri", "https://oauth2.s3nsapis.fr/token", Some("s3nsapis.fr")).is_ok());
    /// let p = EndpointPolicy::default().allow_universe("com");
    /// assert!(p.check("f", "token_uri", "https://evil.com/token", Some("com")).is_err());
    /// ```
    pub fn allow_universe(mut self, domain: impl Into<String>) -> Self {
        if let Some(Host::Domain(d)) = normalize(&domain.into())
            && d.split('.').count() >= 2
            && valid_labels(&d)
        {
            self.allowed_universes.push(d);
        }
        self
    }

    /// Allows plain http on hosts that are not loopback (never needed with Google).
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Whether `host` (as a URL holds it) is trusted: Google's, loopback, or allowed.
    ///
    /// ```
    /// use oauth_core::EndpointPolicy;
    /// let p = EndpointPolicy::default();
    /// assert!(p.trusts_host("oauth2.googleapis.com"));
    /// assert!(p.trusts_host("127.0.0.1"));
    /// assert!(!p.trusts_host("googleapis.com.evil.example"));
    /// ```
    pub fn trusts_host(&self, host: &str) -> bool {
        normalize(host).is_some_and(|h| self.trusts(&h))
    }

    fn trusts(&self, host: &Host<String>) -> bool {
        if is_loopback_host(host) || self.allowed_hosts.contains(host) {
            return true;
        }
        match host {
            Host::Domain(d) => {
                is_google(d) || self.allowed_universes.iter().any(|u| is_under(d, u))
            }
            _ => false,
        }
    }

    /// Parses `value`, the `field` of `origin`, and checks it against the policy.
    ///
    /// `universe_domain` is the file's own universe (`googleapis.com` when absent). It is
    /// taken for the record only: it never widens trust, so an endpoint in another
    /// universe is used only when the program allowed that universe
    /// ([`EndpointPolicy::allow_universe`]) or host.
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
            Some(h) => h.to_owned(),
            None => return Err(invalid("the URL has no host")),
        };
        let host = without_trailing_dot(host);
        let loopback = is_loopback_host(&host);
        let host_name = host.to_string();
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
        if !self.trusts(&host) {
            if let Some(u) = universe_domain.filter(|u| !u.eq_ignore_ascii_case(GOOGLE_UNIVERSE)) {
                tracing::debug!(
                    universe = %crate::sanitize::Clean(u),
                    "a file's universe_domain does not make its endpoints trusted; \
                     EndpointPolicy::allow_universe does"
                );
            }
            return Err(Error::UntrustedEndpoint {
                origin: origin.to_owned(),
                field: field.to_owned(),
                host: host_name,
            });
        }
        Ok(url)
    }
}

/// A host as the program or a URL gives it, normalised: lower case, IDNA, numeric IPv4
/// forms, no brackets around IPv6, no trailing dot.
fn normalize(input: &str) -> Option<Host<String>> {
    let s = input.trim();
    if s.is_empty() || s.contains(['/', '@', '?', '#']) {
        return None;
    }
    let bare = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Some(match ip {
            IpAddr::V4(v4) => Host::Ipv4(v4),
            IpAddr::V6(v6) => Host::Ipv6(v6),
        });
    }
    let s = s.strip_suffix('.').unwrap_or(s);
    Host::parse(s).ok().map(without_trailing_dot)
}

fn without_trailing_dot(host: Host<String>) -> Host<String> {
    match host {
        Host::Domain(d) => match d.strip_suffix('.') {
            Some(stripped) => Host::Domain(stripped.to_owned()),
            None => Host::Domain(d),
        },
        other => other,
    }
}

/// Every label non-empty (`a..b`, `.a` and `a.` are not names).
fn valid_labels(domain: &str) -> bool {
    !domain.is_empty() && domain.split('.').all(|l| !l.is_empty())
}

/// `host` is `domain` or a name under it.
fn is_under(host: &str, domain: &str) -> bool {
    if !valid_labels(host) {
        return false;
    }
    host == domain
        || host
            .strip_suffix(domain)
            .is_some_and(|prefix| prefix.ends_with('.'))
}

/// Google's hosts: `googleapis.com` and every name under it, and `accounts.google.com`.
fn is_google(host: &str) -> bool {
    is_under(host, GOOGLE_UNIVERSE) || host == "accounts.google.com"
}

fn is_loopback_host(host: &Host<String>) -> bool {
    match host {
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Host::Domain(d) => d == "localhost",
    }
}

/// Whether a host is loopback: 127.0.0.0/8, ::1 (or ::ffff:127.x.y.z) or localhost (with
/// or without a trailing dot, any case).
///
/// ```
/// use url::Host;
/// assert!(oauth_core::endpoint::is_loopback(&Host::Domain("LOCALHOST.")));
/// assert!(!oauth_core::endpoint::is_loopback(&Host::Ipv4("0.0.0.0".parse().unwrap())));
/// ```
pub fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => normalize(d).is_some_and(|h| is_loopback_host(&h)),
        Host::Ipv4(ip) => is_loopback_host(&Host::Ipv4(*ip)),
        Host::Ipv6(ip) => is_loopback_host(&Host::Ipv6(*ip)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(p: &EndpointPolicy, url: &str) -> Result<Url, Error> {
        p.check("creds.json", "token_uri", url, None)
    }

    fn untrusted(r: Result<Url, Error>) -> bool {
        matches!(r, Err(Error::UntrustedEndpoint { .. }))
    }

    #[test]
    fn google_and_loopback_hosts_are_trusted() {
        let p = EndpointPolicy::default();
        for ok in [
            "https://oauth2.googleapis.com/token",
            "https://www.googleapis.com/oauth2/v4/token",
            "https://sts.googleapis.com/v1/token",
            "https://iamcredentials.googleapis.com/v1/x",
            "https://googleapis.com/x",
            "https://accounts.google.com/o/oauth2/token",
            "https://OAUTH2.GOOGLEAPIS.COM/token",
            "https://oauth2.googleapis.com./token",
            "https://Accounts.Google.Com./o/oauth2/auth",
            "https://oauth2.googleapis.com:8443/token",
            "http://127.0.0.1:9/token",
            "http://127.8.9.1/token",
            "http://127.1/token",
            "http://0x7f.1/token",
            "http://2130706433/token",
            "http://[::1]:80/token",
            "http://[0:0:0:0:0:0:0:1]/token",
            "http://[::ffff:127.0.0.1]/token",
            "http://localhost:1/token",
            "http://LOCALHOST./token",
        ] {
            assert!(check(&p, ok).is_ok(), "{ok}: {:?}", check(&p, ok));
        }
        // IDNA mapping turns full-width letters and dots into the ASCII name: the URL
        // checked (and then used) is Google's.
        let u = check(&p, "https://oauth2\u{ff0e}ｇｏｏｇｌｅａｐｉｓ.com/token").unwrap();
        assert_eq!(u.host_str(), Some("oauth2.googleapis.com"));
    }

    #[test]
    fn strangers_and_look_alikes_are_refused() {
        let p = EndpointPolicy::default();
        for bad in [
            "https://evil.example/token",
            "https://googleapis.com.evil.example/token",
            "https://googleapis.com.evil.example./token",
            "https://evilgoogleapis.com/token",
            "https://accounts.google.com.evil/token",
            "https://google.com/token",
            "https://mail.google.com/token",
            "https://x.accounts.google.com/token",
            "https://10.0.0.1/token",
            "https://0.0.0.0/token",
            "https://[::]/token",
            "https://[::ffff:10.0.0.1]/token",
            "https://oauth2.gооgleapis.com/token",
            "https://127.0.0.1.evil.example/token",
            "https://localhost.evil.example/token",
            "https://oauth2.googleapis.com%2eevil.example/token",
            "https://evil.example\\@oauth2.googleapis.com/token",
        ] {
            assert!(untrusted(check(&p, bad)), "{bad}: {:?}", check(&p, bad));
        }
        // Look-alike dots are either mapped to a real dot (and the name is then not
        // Google's) or refused by the URL parser: never trusted.
        for bad in [
            "https://oauth2.googleapis.com\u{2024}evil.example/token",
            "https://oauth2.googleapis.com\u{3002}evil.example/token",
        ] {
            assert!(check(&p, bad).is_err(), "{bad}: {:?}", check(&p, bad));
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
    fn credentials_in_a_url_are_refused() {
        let p = EndpointPolicy::default();
        for bad in [
            "https://oauth2.googleapis.com@evil.example/token",
            "https://user:pw@oauth2.googleapis.com/token",
            "https://:pw@oauth2.googleapis.com/token",
            "http://u@127.0.0.1/token",
        ] {
            assert!(
                matches!(check(&p, bad), Err(Error::InvalidField { .. })),
                "{bad}"
            );
        }
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
        assert!(matches!(
            check(&p, "http://0.0.0.0/token"),
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
            check(&p, "not a url"),
            Err(Error::InvalidField { .. })
        ));
        assert!(matches!(
            check(&p, "file:///etc/passwd"),
            Err(Error::InvalidField { .. })
        ));
    }

    #[test]
    fn a_files_universe_domain_never_widens_trust() {
        let p = EndpointPolicy::default();
        for (universe, url) in [
            ("com", "https://evil.com/token"),
            ("example", "https://oauth2.example/token"),
            ("evil.example", "https://oauth2.evil.example/token"),
            ("", "https://evil.example/token"),
            (".", "https://evil.example/token"),
            (
                "googleapis.com.evil.example",
                "https://oauth2.googleapis.com.evil.example/token",
            ),
            ("EVIL.EXAMPLE.", "https://oauth2.evil.example./token"),
            (
                "example-universe.com",
                "https://oauth2.example-universe.com/token",
            ),
            ("universe.invalid", "https://oauth2.universe.invalid/token"),
        ] {
            let r = p.check("f", "token_uri", url, Some(universe));
            assert!(untrusted(r), "{universe} / {url}");
        }
        // Google's endpoints stay usable whatever the file claims.
        assert!(
            p.check(
                "f",
                "token_uri",
                "https://oauth2.googleapis.com/token",
                Some("com")
            )
            .is_ok()
        );
    }

    #[test]
    fn a_universe_the_program_allows_is_trusted_like_googleapis() {
        let p = EndpointPolicy::default().allow_universe("Example-Universe.com.");
        for ok in [
            "https://oauth2.example-universe.com/token",
            "https://example-universe.com/token",
            "https://sts.EXAMPLE-UNIVERSE.com./v1/token",
        ] {
            assert!(
                p.check("f", "token_uri", ok, Some("example-universe.com"))
                    .is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "https://example-universe.com.evil.example/token",
            "https://evilexample-universe.com/token",
            "https://evil.example/token",
        ] {
            assert!(
                untrusted(p.check("f", "token_uri", bad, Some("example-universe.com"))),
                "{bad}"
            );
        }
        assert!(matches!(
            p.check(
                "f",
                "token_uri",
                "http://oauth2.example-universe.com/token",
                None
            ),
            Err(Error::InsecureEndpoint { .. })
        ));
        // Universes of one label, or not names at all, trust nothing.
        for nonsense in [
            "com",
            "",
            ".",
            "localhost",
            "a..b",
            "evil.example/x",
            "10.0.0.1",
        ] {
            let p = EndpointPolicy::default().allow_universe(nonsense);
            assert_eq!(p, EndpointPolicy::default(), "{nonsense}");
        }
    }

    #[test]
    fn allowed_hosts_match_exactly_after_normalisation() {
        let p = EndpointPolicy::default()
            .allow_host("IDP.example.")
            .allow_host("[2001:db8::1]")
            .allow_host("10.1")
            .allow_host("bücher.example");
        for ok in [
            "https://idp.example/t",
            "https://idp.example./t",
            "https://[2001:db8:0::1]/t",
            "https://10.0.0.1/t",
            "https://xn--bcher-kva.example/t",
            "https://BÜCHER.example/t",
        ] {
            assert!(check(&p, ok).is_ok(), "{ok}");
        }
        for bad in [
            "https://sub.idp.example/t",
            "https://idp.example.evil/t",
            "https://[2001:db8::2]/t",
            "https://10.0.0.2/t",
        ] {
            assert!(untrusted(check(&p, bad)), "{bad}");
        }
        for nonsense in ["", "  ", "idp.example/path", "u@idp.example"] {
            assert_eq!(
                EndpointPolicy::default().allow_host(nonsense),
                EndpointPolicy::default(),
                "{nonsense:?}"
            );
        }
    }
}
