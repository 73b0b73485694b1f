//! Path templates (the `{name}` and `{+name}` subset of RFC 6570 that discovery documents
//! use) and the query encoding, byte for byte as googleapiclient (uritemplate 4 and
//! `urllib.parse.urlencode`) writes them.
//!
//! A crate for all of RFC 6570 would not help: googleapiclient's uritemplate passes a
//! `{+name}` value through untouched when it already holds a `%XX` escape, and that is the
//! behaviour requests must match.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Python's `quote(s, safe="")`: everything but letters, digits and `_.-~` escaped.
const DEFAULT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');

/// `{+name}`: reserved characters (`:/?#[]@!$&'()*+,;=`) kept as well.
const RESERVED: &AsciiSet = &DEFAULT
    .remove(b':')
    .remove(b'/')
    .remove(b'?')
    .remove(b'#')
    .remove(b'[')
    .remove(b']')
    .remove(b'@')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=');

/// What a passed-through `{+name}` value may still need escaped to be a valid URI.
const PASS_THROUGH: &AsciiSet = &RESERVED.remove(b'%');

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Segment {
    Literal(Box<str>),
    /// Variables of one expression, `reserved` for the `+` operator.
    Expr {
        names: Box<[Box<str>]>,
        reserved: bool,
    },
}

/// A parsed path template.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Template {
    segments: Box<[Segment]>,
    /// Every variable-like token inside braces (googleapiclient's `VARNAME` scan), which
    /// makes a parameter a path parameter whatever its `location` says.
    pub(crate) vars: Box<[Box<str>]>,
}

impl Template {
    pub(crate) fn parse(s: &str) -> Template {
        let mut segments = Vec::new();
        let mut vars = Vec::new();
        let mut rest = s;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}').map(|c| open + c) else {
                break;
            };
            if open > 0 {
                segments.push(Segment::Literal(rest[..open].into()));
            }
            let inner = &rest[open + 1..close];
            for tok in inner.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')) {
                if !tok.is_empty() {
                    vars.push(Box::<str>::from(tok));
                }
            }
            let (reserved, body) = match inner.strip_prefix('+') {
                Some(b) => (true, b),
                None => (
                    false,
                    inner.trim_start_matches(['#', '.', '/', ';', '?', '&']),
                ),
            };
            let names = body
                .split(',')
                .map(|n| n.trim_end_matches('*'))
                .map(|n| n.split(':').next().unwrap_or(n))
                .filter(|n| !n.is_empty())
                .map(Box::<str>::from)
                .collect();
            segments.push(Segment::Expr { names, reserved });
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Literal(rest.into()));
        }
        Template {
            segments: segments.into(),
            vars: vars.into(),
        }
    }

    /// Expands with `lookup(name)` giving the already-cast values of a variable (one for
    /// a scalar, several for a list); absent variables expand to nothing.
    pub(crate) fn expand<'v, T: AsRef<str> + 'v>(
        &self,
        out: &mut String,
        lookup: impl Fn(&str) -> Option<&'v [T]>,
    ) {
        for seg in self.segments.iter() {
            match seg {
                Segment::Literal(l) => out.push_str(l),
                Segment::Expr { names, reserved } => {
                    let mut first = true;
                    for name in names.iter() {
                        let Some(values) = lookup(name) else { continue };
                        if !first {
                            out.push(',');
                        }
                        first = false;
                        for (i, v) in values.iter().enumerate() {
                            let v = v.as_ref();
                            if i > 0 {
                                out.push(',');
                            }
                            if *reserved {
                                quote_reserved(out, v);
                            } else {
                                out.extend(utf8_percent_encode(v, DEFAULT));
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Expands a path template as discovery requests do (`{name}` escapes every reserved
/// character, `{+name}` keeps them and passes a value holding a `%XX` escape through),
/// with `vars` giving each variable's values already as text (several for a list);
/// absent variables expand to nothing.
///
/// ```
/// use discovery_client::template::expand;
/// assert_eq!(expand("v1/{+name}/x/{id}", &[("name", &["projects/p"]), ("id", &["a/b"])]), "v1/projects/p/x/a%2Fb");
/// assert_eq!(expand("{id}", &[("id", &["http://h/", "c d"])]), "http%3A%2F%2Fh%2F,c%20d");
/// ```
pub fn expand(template: &str, vars: &[(&str, &[&str])]) -> String {
    let mut out = String::new();
    Template::parse(template).expand(&mut out, |n| {
        vars.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)
    });
    out
}

/// uritemplate's reserved expansion: a value that already holds a `%XX` escape is
/// passed through (only what would make the URI invalid is escaped); otherwise
/// everything but unreserved and reserved characters is escaped.
fn quote_reserved(out: &mut String, v: &str) {
    if has_escape(v) {
        out.extend(utf8_percent_encode(v, PASS_THROUGH));
    } else {
        out.extend(utf8_percent_encode(v, RESERVED));
    }
}

fn has_escape(v: &str) -> bool {
    let b = v.as_bytes();
    b.windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
}

/// Python's `quote_plus`: as `quote(s, safe="")` with spaces as `+`.
///
/// ```
/// let mut s = String::new();
/// discovery_client::template::quote_plus(&mut s, "a b+c/ü~*");
/// assert_eq!(s, "a+b%2Bc%2F%C3%BC~%2A");
/// ```
pub fn quote_plus(out: &mut String, v: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(v.len());
    for &b in v.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~') {
            out.push(char::from(b));
        } else if b == b' ' {
            out.push('+');
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

/// Python's `urljoin(rootUrl, servicePath)` for the shapes discovery documents have.
pub(crate) fn py_urljoin(base: &str, rel: &str) -> String {
    if rel.is_empty() {
        return base.to_owned();
    }
    if rel.starts_with("http://") || rel.starts_with("https://") {
        return rel.to_owned();
    }
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    let origin = &base[..path_start];
    let joined = if rel.starts_with('/') {
        rel.to_owned()
    } else {
        let base_path = &base[path_start..];
        let dir = match base_path.rfind('/') {
            Some(i) => &base_path[..=i],
            None => "/",
        };
        format!("{dir}{rel}")
    };
    format!("{origin}{}", remove_dot_segments(&joined))
}

fn remove_dot_segments(path: &str) -> String {
    if !path.split('/').any(|s| s == "." || s == "..") {
        return path.to_owned();
    }
    let mut out: Vec<&str> = Vec::new();
    let segs: Vec<&str> = path.split('/').collect();
    let last = segs.len() - 1;
    for (i, s) in segs.iter().enumerate() {
        match *s {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    out.join("/")
}

/// googleapiclient's `_urljoin(base, url)`: exactly one `/` between them (what
/// [`join_path_before`] does in place).
#[cfg(test)]
pub(crate) fn join_path(out: &mut String, base: &str, path: &str) {
    out.push_str(base);
    if !base.ends_with('/') {
        out.push('/');
    }
    out.push_str(path.strip_prefix('/').unwrap_or(path));
}

/// [`join_path`] with the path already in `out`: the base goes in front of it.
pub(crate) fn join_path_before(out: &mut String, base: &str) {
    if out.starts_with('/') {
        out.remove(0);
    }
    if !base.ends_with('/') {
        out.insert(0, '/');
    }
    out.insert_str(0, base);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(t: &str, vars: &[(&str, &[&str])]) -> String {
        let owned: Vec<(String, Vec<String>)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect();
        let mut out = String::new();
        Template::parse(t).expand(&mut out, |n| {
            owned
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_slice())
        });
        out
    }

    #[test]
    fn simple_expansion_escapes_reserved_characters() {
        assert_eq!(
            expand("files/{fileId}", &[("fileId", &["a/b c+&ü"])]),
            "files/a%2Fb%20c%2B%26%C3%BC"
        );
        assert_eq!(expand("x/{a}/y", &[]), "x//y");
        assert_eq!(expand("{a}", &[("a", &["p", "q r"])]), "p,q%20r");
    }

    #[test]
    fn reserved_expansion_keeps_them_and_passes_escapes_through() {
        assert_eq!(
            expand("v1/{+name}:run", &[("name", &["projects/p/a b?#"])]),
            "v1/projects/p/a%20b?#:run"
        );
        assert_eq!(
            expand("v1/{+name}", &[("name", &["a%2Fb c"])]),
            "v1/a%2Fb%20c"
        );
        assert_eq!(expand("{+n}", &[("n", &["50%"])]), "50%25");
    }

    #[test]
    fn template_vars_are_scanned_like_googleapiclient() {
        let t = Template::parse("v1/{+name}/x/{id}/{a,b}");
        let v: Vec<&str> = t.vars.iter().map(|s| &**s).collect();
        assert_eq!(v, ["name", "id", "a", "b"]);
    }

    #[test]
    fn urljoin_follows_python() {
        assert_eq!(
            py_urljoin("https://www.googleapis.com/", "drive/v3/"),
            "https://www.googleapis.com/drive/v3/"
        );
        assert_eq!(
            py_urljoin("https://x.googleapis.com/", ""),
            "https://x.googleapis.com/"
        );
        assert_eq!(py_urljoin("https://h/a/b", "c/"), "https://h/a/c/");
        assert_eq!(py_urljoin("https://h/a/", "/c"), "https://h/c");
        assert_eq!(py_urljoin("https://h", "c"), "https://h/c");
        let mut s = String::new();
        join_path(&mut s, "https://h/v1", "/x");
        assert_eq!(s, "https://h/v1/x");
        for (base, path) in [
            ("https://h/v1", "/x"),
            ("https://h/v1/", "x"),
            ("https://h/", "/"),
            ("b", ""),
        ] {
            let mut a = String::new();
            join_path(&mut a, base, path);
            let mut b = path.to_owned();
            join_path_before(&mut b, base);
            assert_eq!(a, b);
        }
    }
}
