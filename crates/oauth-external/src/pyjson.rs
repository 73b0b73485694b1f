//! Python's `json.dumps` and `urllib.parse.quote`, byte for byte: google-auth sends STS
//! `options` and AWS subject tokens in these encodings, and STS compares what it receives.

use std::fmt::Write;

/// A JSON value with its object keys in the order they are written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Py {
    Str(String),
    List(Vec<Py>),
    Obj(Vec<(&'static str, Py)>),
}

impl Py {
    pub(crate) fn str(s: impl Into<String>) -> Py {
        Py::Str(s.into())
    }
}

/// `json.dumps(value)` (`compact` = `separators=(",", ":")`), with `ensure_ascii`.
pub(crate) fn dumps(value: &Py, compact: bool) -> String {
    let mut out = String::new();
    write_value(&mut out, value, compact);
    out
}

fn write_value(out: &mut String, value: &Py, compact: bool) {
    let (item, key) = if compact { (",", ":") } else { (", ", ": ") };
    match value {
        Py::Str(s) => write_str(out, s),
        Py::List(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(item);
                }
                write_value(out, v, compact);
            }
            out.push(']');
        }
        Py::Obj(fields) => {
            out.push('{');
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(item);
                }
                write_str(out, k);
                out.push_str(key);
                write_value(out, v, compact);
            }
            out.push('}');
        }
    }
}

/// A string as `json.dumps` writes it with `ensure_ascii=True`: printable ASCII as is,
/// everything else escaped (lower-case hex, surrogate pairs beyond the BMP).
fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// `urllib.parse.quote(s, safe)`: UTF-8 bytes outside `A-Za-z0-9_.-~` and `safe` become
/// `%XX` (upper-case hex).
pub(crate) fn quote(s: &str, safe: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"_.-~".contains(&b) || safe.contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dumps_matches_pythons_separators_and_escapes() {
        let v = Py::Obj(vec![
            ("b", Py::str("x\"y\\z\n\u{7f}é😀")),
            ("a", Py::List(vec![Py::str("1"), Py::str("2")])),
        ]);
        assert_eq!(
            dumps(&v, false),
            r#"{"b": "x\"y\\z\n\u007f\u00e9\ud83d\ude00", "a": ["1", "2"]}"#
        );
        assert_eq!(
            dumps(&v, true),
            r#"{"b":"x\"y\\z\n\u007f\u00e9\ud83d\ude00","a":["1","2"]}"#
        );
    }

    #[test]
    fn quote_keeps_unreserved_and_safe_bytes() {
        assert_eq!(quote("a b/c~_.-é{", b"/"), "a%20b/c~_.-%C3%A9%7B");
        assert_eq!(quote("a/b", b""), "a%2Fb");
    }
}
