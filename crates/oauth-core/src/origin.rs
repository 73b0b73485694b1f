//! Where credentials go: the origin (scheme, host, port) an API call is for, and the check
//! that a URL a request is sent to lies on it.
//!
//! The sans-IO code that builds an API call's requests declares the API's origin in each
//! request's extensions ([`ApiOrigin`]); the runners' `run_authorized` puts credentials only
//! on a request that declares an origin and is addressed to it ([`check_origin`]), and
//! refuses any other request with [`Error::ForeignOrigin`] before it is sent: a resumable
//! upload's session URL or a page token that points elsewhere can never take the
//! `Authorization` header along.
//!
//! A URL is read the way each transport reads it: as an `http::Uri` (the request value;
//! ureq connects to its host and port) and as a WHATWG `url::Url` (reqwest re-parses the
//! URI's text). Both readings must name the root's origin, each compared with the same
//! parser's reading of the root, so no difference between parsers (`\`, `@`, odd IP
//! spellings, default ports) can carry a credential to another host.
//!
//! ```
//! use oauth_core::origin::ApiOrigin;
//! let root = ApiOrigin::parse("https://www.googleapis.com/").unwrap();
//! assert!(root.admits("https://www.googleapis.com:443/drive/v3/files?alt=json").is_ok());
//! let other = root.admits("https://www.googleapis.com.attacker.example/x").unwrap_err();
//! assert_eq!(other.unwrap().host(), "www.googleapis.com.attacker.example");
//! assert!(root.admits("http://www.googleapis.com/drive/v3/files").is_err(), "another scheme");
//! assert!(root.admits("https://www.googleapis.com:8443/x").is_err(), "another port");
//! assert!(root.admits("https://www.googleapis.com@attacker.example/x").is_err(), "userinfo");
//! assert_eq!(root.to_string(), "https://www.googleapis.com:443");
//! ```

use std::fmt;

use url::Url;

use crate::Error;
use crate::http::{HttpRequest, endpoint_label};

/// One parser's reading of a URL's origin.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Triple {
    scheme: Box<str>,
    host: Box<str>,
    port: u16,
}

fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

/// The origin as `http::Uri` reads it: http(s), an authority without userinfo.
fn of_uri(uri: &http::Uri) -> Option<Triple> {
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let authority = uri.authority()?;
    if authority.as_str().contains('@') {
        return None;
    }
    let host = authority.host();
    if host.is_empty() {
        return None;
    }
    let port = match authority.port() {
        Some(p) => p.as_u16(),
        None => default_port(&scheme),
    };
    Some(Triple {
        host: host.to_ascii_lowercase().into(),
        scheme: scheme.into(),
        port,
    })
}

/// The origin as `url::Url` reads it.
fn of_url(text: &str) -> Option<Triple> {
    let url = Url::parse(text).ok()?;
    let scheme = url.scheme();
    if scheme != "https" && scheme != "http" {
        return None;
    }
    if !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    let host = url.host_str().filter(|h| !h.is_empty())?;
    Some(Triple {
        scheme: scheme.into(),
        host: host.to_ascii_lowercase().into(),
        port: url.port_or_known_default()?,
    })
}

/// The origin of an API's root URL: every request that carries credentials must be on
/// it. Displayed as `scheme://host:port`; equal when both parsers read the same origin.
#[derive(Debug, Clone)]
pub struct ApiOrigin {
    uri: Triple,
    url: Triple,
    /// The root's text up to the `/` that ends its authority (`https://host:port/`),
    /// when it has one: a URL that starts with it is on this origin for both parsers
    /// (each ends the authority at that `/`), so the common case needs no parse.
    prefix: Option<Box<str>>,
}

impl ApiOrigin {
    /// The origin of `url` (http or https, a host, no user name or password), or `None`
    /// when the two parsers do not both read one.
    pub fn parse(url: &str) -> Option<ApiOrigin> {
        let uri = of_uri(&url.parse::<http::Uri>().ok()?)?;
        let whatwg = of_url(url)?;
        let mut origin = ApiOrigin {
            uri,
            url: whatwg,
            prefix: None,
        };
        let after_scheme = url.find("://")? + 3;
        if let Some(slash) = url[after_scheme..].find(['/', '\\', '?', '#']) {
            let end = after_scheme + slash;
            let prefix = &url[..=end];
            if url.as_bytes()[end] == b'/' && origin.admits_parsed(prefix) {
                origin.prefix = Some(prefix.into());
            }
        }
        Some(origin)
    }

    /// The host (lower case; an IPv6 address in brackets).
    pub fn host(&self) -> &str {
        &self.url.host
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &str {
        &self.url.scheme
    }

    /// The port (the scheme's default when the URL names none).
    pub fn port(&self) -> u16 {
        self.url.port
    }

    /// Whether the host is loopback (127.0.0.0/8, ::1, localhost).
    pub fn is_loopback(&self) -> bool {
        let host = match url::Host::parse(self.host()) {
            Ok(url::Host::Domain(d)) => return d.eq_ignore_ascii_case("localhost"),
            Ok(url::Host::Ipv4(ip)) => url::Host::Ipv4(ip),
            Ok(url::Host::Ipv6(ip)) => url::Host::Ipv6(ip),
            Err(_) => return false,
        };
        crate::endpoint::is_loopback(&host)
    }

    /// `Ok` when `url` is on this origin as both parsers read it; otherwise the origin
    /// it points at (`None` when it has none: not an http(s) URL, userinfo, unparsable).
    pub fn admits(&self, url: &str) -> Result<(), Option<ApiOrigin>> {
        if self.prefix.as_deref().is_some_and(|p| url.starts_with(p)) {
            return Ok(());
        }
        let uri = url.parse::<http::Uri>().ok().and_then(|u| of_uri(&u));
        let whatwg = of_url(url);
        if uri.as_ref() == Some(&self.uri) && whatwg.as_ref() == Some(&self.url) {
            return Ok(());
        }
        Err(ApiOrigin::from_parts(uri, whatwg))
    }

    /// [`ApiOrigin::admits`] for a request's URI, read as ureq reads it and as reqwest
    /// re-reads its text.
    pub fn admits_uri(&self, uri: &http::Uri) -> Result<(), Option<ApiOrigin>> {
        let first = of_uri(uri);
        let text = uri.to_string();
        if first.as_ref() == Some(&self.uri)
            && self.prefix.as_deref().is_some_and(|p| text.starts_with(p))
        {
            return Ok(());
        }
        let whatwg = of_url(&text);
        if first.as_ref() == Some(&self.uri) && whatwg.as_ref() == Some(&self.url) {
            return Ok(());
        }
        Err(ApiOrigin::from_parts(first, whatwg))
    }

    /// Both parsers read `url`'s origin as this one (no shortcut).
    fn admits_parsed(&self, url: &str) -> bool {
        url.parse::<http::Uri>()
            .ok()
            .and_then(|u| of_uri(&u))
            .as_ref()
            == Some(&self.uri)
            && of_url(url).as_ref() == Some(&self.url)
    }

    /// What a refused URL points at, for the error: the WHATWG reading when there is one.
    fn from_parts(uri: Option<Triple>, url: Option<Triple>) -> Option<ApiOrigin> {
        let (uri, url) = match (uri, url) {
            (Some(u), Some(w)) => (u, w),
            (None, Some(w)) => (w.clone(), w),
            (Some(u), None) => (u.clone(), u),
            (None, None) => return None,
        };
        Some(ApiOrigin {
            uri,
            url,
            prefix: None,
        })
    }
}

impl PartialEq for ApiOrigin {
    fn eq(&self, other: &ApiOrigin) -> bool {
        self.uri == other.uri && self.url == other.url
    }
}

impl Eq for ApiOrigin {}

impl fmt::Display for ApiOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}:{}",
            self.url.scheme, self.url.host, self.url.port
        )
    }
}

impl ApiOrigin {
    /// The origin of a request URI (see [`ApiOrigin::parse`]).
    pub fn of(uri: &http::Uri) -> Option<ApiOrigin> {
        ApiOrigin::parse(&uri.to_string())
    }
}

/// Checks that `request` may carry credentials: it declares an [`ApiOrigin`] in its
/// extensions and is addressed to that origin, as both transports read its URI. The runners'
/// `run_authorized` asks this before putting credentials on every request.
///
/// ```
/// use oauth_core::origin::{ApiOrigin, check_origin};
/// let uri: http::Uri = "https://www.googleapis.com/drive/v3/files".parse().unwrap();
/// let mut req = http::Request::builder().uri(uri.clone()).body(Default::default()).unwrap();
/// assert!(check_origin(&req).is_err(), "no origin declared");
/// req.extensions_mut().insert(ApiOrigin::of(&uri).unwrap());
/// assert!(check_origin(&req).is_ok());
/// *req.uri_mut() = "https://evil.example/steal".parse().unwrap();
/// assert!(check_origin(&req).is_err());
/// ```
pub fn check_origin(request: &HttpRequest) -> Result<(), Error> {
    let Some(origin) = request.extensions().get::<ApiOrigin>() else {
        return Err(Error::ForeignOrigin {
            expected: "(no origin declared by the call)".into(),
            found: found(request),
        });
    };
    origin
        .admits_uri(request.uri())
        .map_err(|f| Error::ForeignOrigin {
            expected: origin.to_string(),
            found: f.map_or_else(|| found(request), |o| o.to_string()),
        })
}

/// Whether a request declares the origin it is for.
pub(crate) fn declares_origin(request: &HttpRequest) -> bool {
    request.extensions().get::<ApiOrigin>().is_some()
}

/// Where a refused request was going, for the error: its origin, or its label.
fn found(request: &HttpRequest) -> String {
    ApiOrigin::of(request.uri()).map_or_else(|| endpoint_label(request.uri()), |o| o.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ports_and_case_are_the_same_origin() {
        let root = ApiOrigin::parse("https://Demo.googleapis.com/").unwrap();
        for ok in [
            "https://demo.googleapis.com/x",
            "HTTPS://DEMO.GOOGLEAPIS.COM:443/x?y#z",
            "https://demo.googleapis.com",
        ] {
            assert!(root.admits(ok).is_ok(), "{ok}");
        }
        let local = ApiOrigin::parse("http://127.0.0.1:8080/prefix/").unwrap();
        assert!(local.admits("http://127.0.0.1:8080/other").is_ok());
        assert!(local.is_loopback());
        assert!(!root.is_loopback());
    }

    #[test]
    fn other_schemes_hosts_ports_and_parser_tricks_are_refused() {
        let root = ApiOrigin::parse("http://127.0.0.1:8080/").unwrap();
        for bad in [
            "http://127.0.0.1:8081/x",
            "https://127.0.0.1:8080/x",
            "http://localhost:8080/x",
            "http://127.0.0.1/x",
            "http://127.0.0.1:8080@127.0.0.1:9/x",
            "http://127.0.0.1:8080\\@127.0.0.1:9/x",
            "http://127.0.0.1:8080\\x",
            "//127.0.0.1:8080/x",
            "/x",
            "ftp://127.0.0.1:8080/x",
            "http://127.000.000.001:8080/x",
            "http://2130706433:8080/x",
            "",
            "http://127.0.0.1:8080\r\n/x",
        ] {
            assert!(root.admits(bad).is_err(), "{bad:?}");
        }
        let e = root.admits("http://127.0.0.1:9/x").unwrap_err().unwrap();
        assert_eq!((e.host(), e.port()), ("127.0.0.1", 9));
        assert_eq!(e.to_string(), "http://127.0.0.1:9");
    }

    #[test]
    fn roots_without_an_origin_are_none() {
        for bad in [
            "file:///etc/passwd",
            "https://user:pw@host/",
            "not a url",
            "https:///x",
            "data:text/plain,x",
        ] {
            assert!(ApiOrigin::parse(bad).is_none(), "{bad}");
        }
        let v6 = ApiOrigin::parse("http://[::1]:9/").unwrap();
        assert!(v6.is_loopback());
        assert!(v6.admits("http://[::1]:9/a").is_ok());
        assert!(v6.admits("http://[::2]:9/a").is_err());
    }

    #[test]
    fn the_roots_prefix_is_a_shortcut_only_where_both_parsers_agree() {
        let root = ApiOrigin::parse("https://x.googleapis.com/v1/").unwrap();
        assert_eq!(root.prefix.as_deref(), Some("https://x.googleapis.com/"));
        assert_eq!(
            root,
            ApiOrigin::parse("https://X.googleapis.com:443").unwrap()
        );
        assert!(
            ApiOrigin::parse("https://x.googleapis.com:443")
                .unwrap()
                .prefix
                .is_none()
        );
        for tail in [
            "",
            "a",
            "/evil.example/x",
            "\\@evil.example/",
            "@evil.example",
            "?@evil#x",
        ] {
            let url = format!("https://x.googleapis.com/{tail}");
            assert!(root.admits(&url).is_ok(), "{url}");
            assert!(
                root.admits_parsed(&url),
                "{url}: the shortcut agrees with the parsers"
            );
        }
        // A root whose authority ends otherwise has no shortcut: every URL is parsed.
        let q = ApiOrigin::parse("https://x.googleapis.com?a").unwrap();
        assert!(q.prefix.is_none());
        assert!(q.admits("https://x.googleapis.com?a@evil.example").is_ok());
        assert!(q.admits("https://x.googleapis.comevil.example/").is_err());
    }

    #[test]
    fn a_request_uri_is_read_as_both_transports_read_it() {
        let root = ApiOrigin::parse("https://x.googleapis.com/").unwrap();
        let ok: http::Uri = "https://x.googleapis.com/a?b".parse().unwrap();
        assert!(root.admits_uri(&ok).is_ok());
        let bad: http::Uri = "https://evil.example/a".parse().unwrap();
        assert_eq!(
            root.admits_uri(&bad).unwrap_err().unwrap().host(),
            "evil.example"
        );
    }
}
