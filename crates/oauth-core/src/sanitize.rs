//! The one sanitiser for text that reaches a message, a log or a terminal.
//!
//! Text from servers (OAuth `error_description`, Google API error messages, HTTP excerpts,
//! metadata answers) and from files can hold two dangers: control characters (ESC
//! sequences that rewrite a terminal, CR and LF that forge log lines, bidi overrides that
//! reorder what is shown) and secrets (a hostile server that echoes the request back puts
//! the client secret or the refresh token it was sent into its error message).
//!
//! [`clean`] handles both: every secret the process holds is replaced by `[redacted]`, then
//! every control character is escaped (`\n`, `\r`, `\t`, `\u{1b}`, ...). "Every secret the
//! process holds" is a process-wide registry: [`Secret::new`](crate::Secret::new) registers
//! its value (weakly: a secret that is dropped leaves the registry), and so do the token
//! requests for the grant parameters they send (assertions, codes, verifiers). Values
//! shorter than [`MIN_REGISTERED_LEN`] are not registered, so that ordinary words are never
//! redacted.
//!
//! Every error type's `Display` in gauth goes through [`Clean`], and errors built from
//! server text are cleaned when they are built as well (so a `Debug` print or a field read
//! by a program holds no secret either).
//!
//! ```
//! use oauth_core::{Secret, sanitize};
//! let refresh = Secret::new("1//0abcdef-refresh");
//! let echoed = "bad refresh_token=1%2F%2F0abcdef-refresh\x1b[2J\r\nforged log line";
//! assert_eq!(
//!     sanitize::clean(echoed),
//!     "bad refresh_token=[redacted]\\u{1b}[2J\\r\\nforged log line"
//! );
//! # drop(refresh);
//! ```

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex, Weak};

/// What a redacted secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Values shorter than this are not registered: redacting them would also redact ordinary
/// words (and a secret this short is no secret).
pub const MIN_REGISTERED_LEN: usize = 8;

/// The registry: weak references to every registered secret's text.
struct Registry {
    entries: Vec<Weak<str>>,
    /// Dead entries are swept when the list reaches this length.
    sweep_at: usize,
}

const FIRST_SWEEP: usize = 64;

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    entries: Vec::new(),
    sweep_at: FIRST_SWEEP,
});

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

/// Registers a secret's text so that [`clean`] redacts it for as long as the value lives
/// (the registry holds it weakly). Values shorter than [`MIN_REGISTERED_LEN`] are ignored.
/// [`Secret::new`](crate::Secret::new) calls this; clones of a secret share its
/// registration and cost nothing.
pub(crate) fn register(value: &Arc<str>) {
    if value.len() < MIN_REGISTERED_LEN {
        return;
    }
    let mut r = registry();
    r.entries.push(Arc::downgrade(value));
    if r.entries.len() >= r.sweep_at {
        r.entries.retain(|w| w.strong_count() > 0);
        r.sweep_at = (r.entries.len() * 2).max(FIRST_SWEEP);
    }
}

/// The registered secrets still alive, longest first.
fn live_secrets() -> Vec<Arc<str>> {
    let mut live: Vec<Arc<str>> = registry()
        .entries
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    live.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    live.dedup();
    live
}

/// How many registered secrets are alive (for tests and diagnostics).
#[doc(hidden)]
pub fn registered_secrets() -> usize {
    registry()
        .entries
        .iter()
        .filter(|w| w.strong_count() > 0)
        .count()
}

/// The forms in which a secret may come back from a server: as sent in a form body
/// (`1%2F%2Fx`, `a+b`), percent-encoded with lower-case hex, JSON with escaped slashes
/// (`1\/\/x`), and as itself.
fn forms(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_owned()];
    let form: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    if form != secret {
        let lower = lower_hex(&form);
        out.push(form);
        out.push(lower);
        // Percent-encoding with %20 for a space (a URL query rather than a form).
        if secret.contains(' ') {
            let pct: String = form_urlencoded::byte_serialize(secret.as_bytes())
                .collect::<String>()
                .replace('+', "%20");
            out.push(pct);
        }
    }
    if secret.contains('/') {
        out.push(secret.replace('/', "\\/"));
    }
    out.sort();
    out.dedup();
    out
}

/// `%2F` -> `%2f`, leaving everything else as it is.
fn lower_hex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut after_percent = 0;
    for c in s.chars() {
        if c == '%' {
            after_percent = 2;
            out.push(c);
        } else if after_percent > 0 {
            after_percent -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Replaces every registered secret in `text` (as itself or in the encoded forms a server
/// may echo it in) by [`REDACTED`]. Control characters are left alone: see [`clean`].
///
/// ```
/// let s = oauth_core::Secret::new("GOCSPX-client-secret");
/// assert_eq!(oauth_core::sanitize::redact("client_secret=GOCSPX-client-secret"), "client_secret=[redacted]");
/// # drop(s);
/// ```
pub fn redact(text: &str) -> Cow<'_, str> {
    if text.len() < MIN_REGISTERED_LEN {
        return Cow::Borrowed(text);
    }
    let secrets = live_secrets();
    if secrets.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut needles: Vec<String> = secrets
        .iter()
        .filter(|s| s.len() <= text.len())
        .flat_map(|s| forms(s))
        .collect();
    // Longest first, so that a secret inside a longer one (or its encoded form) never
    // leaves a piece of the longer one behind.
    needles.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    needles.dedup();
    let mut out = Cow::Borrowed(text);
    for n in needles {
        if n.len() >= MIN_REGISTERED_LEN && out.contains(n.as_str()) {
            out = Cow::Owned(out.replace(n.as_str(), REDACTED));
        }
    }
    out
}

/// Whether `c` is shown escaped: C0 and C1 controls, DEL, the Unicode bidi embeddings,
/// overrides, isolates and marks, and the line and paragraph separators.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if is_unsafe_char(c) => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

/// Escapes control characters (see [`is_unsafe_char`]) as `\n`, `\r`, `\t` or `\u{..}`;
/// secrets are left alone: see [`clean`].
///
/// ```
/// assert_eq!(oauth_core::sanitize::escape_controls("a\x07b\u{202e}c"), "a\\u{7}b\\u{202e}c");
/// ```
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

/// Text made safe to show: every registered secret redacted, then every control
/// character escaped.
///
/// ```
/// assert_eq!(oauth_core::sanitize::clean("line\r\nfake: yes"), "line\\r\\nfake: yes");
/// ```
pub fn clean(text: &str) -> String {
    escape_controls(&redact(text)).into_owned()
}

/// [`clean`], cut to `max_chars` characters of the original text (`...` marks the cut).
/// Secrets are redacted before the cut, so a cut never leaves part of one behind.
///
/// ```
/// assert_eq!(oauth_core::sanitize::excerpt("abc\ndef", 5), "abc\\nd...");
/// ```
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let redacted = redact(text);
    let mut out = String::with_capacity(redacted.len().min(max_chars * 2) + 3);
    let mut chars = redacted.chars();
    for c in chars.by_ref().take(max_chars) {
        push_escaped(&mut out, c);
    }
    if chars.next().is_some() {
        out.push_str("...");
    }
    out
}

/// Shows any `Display` value [`clean`]ed: what every error type's `Display` wraps its
/// fields in.
///
/// ```
/// use oauth_core::sanitize::Clean;
/// assert_eq!(format!("{}", Clean("a\x1b[31mred")), "a\\u{1b}[31mred");
/// assert_eq!(format!("{}", Clean(std::path::Path::new("/tmp/x\ny").display())), "/tmp/x\\ny");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Clean<T>(pub T);

impl<T: fmt::Display> fmt::Display for Clean<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&clean(&self.0.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    #[test]
    fn every_control_character_is_escaped() {
        for c in (0u32..0x20).chain(0x7f..0xa0).filter_map(char::from_u32) {
            let s = clean(&format!("a{c}b"));
            assert!(!s.chars().any(|x| x.is_control()), "{c:?} -> {s:?}");
            assert!(s.starts_with('a') && s.ends_with('b'), "{s:?}");
        }
        assert_eq!(clean("\x1b[2J\x07\r\n\t"), "\\u{1b}[2J\\u{7}\\r\\n\\t");
        assert_eq!(clean("\u{85}"), "\\u{85}");
    }

    #[test]
    fn bidi_overrides_and_separators_are_escaped() {
        for c in [
            '\u{202e}', '\u{202a}', '\u{2066}', '\u{2069}', '\u{200f}', '\u{061c}', '\u{2028}',
            '\u{2029}',
        ] {
            let s = clean(&format!("x{c}y"));
            assert!(!s.contains(c), "{c:?}");
            assert_eq!(s, format!("x\\u{{{:x}}}y", c as u32));
        }
        // Ordinary text, accents and emoji pass untouched.
        assert_eq!(clean("Zoë 日本 👍 ok"), "Zoë 日本 👍 ok");
        assert!(matches!(escape_controls("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn registered_secrets_are_redacted_in_every_echoed_form() {
        let rt = Secret::new("1//0gLongRefresh Token+x");
        let cs = Secret::new("GOCSPX-abcdefghijkl");
        let text = "rt=1%2F%2F0gLongRefresh+Token%2Bx rt2=1%2f%2f0gLongRefresh+Token%2bx \
                    raw=1//0gLongRefresh Token+x json=1\\/\\/0gLongRefresh Token+x \
                    q=1%2F%2F0gLongRefresh%20Token%2Bx cs=GOCSPX-abcdefghijkl";
        let out = clean(text);
        assert!(!out.contains("0gLongRefresh"), "{out}");
        assert!(!out.contains("GOCSPX-abcdefghijkl"), "{out}");
        assert_eq!(out.matches(REDACTED).count(), 6, "{out}");
        drop((rt, cs));
    }

    #[test]
    fn short_values_and_dropped_secrets_are_not_redacted() {
        let short = Secret::new("abc1234");
        assert_eq!(clean("abc1234 is a word"), "abc1234 is a word");
        let gone = Secret::new("ephemeral-secret-value");
        assert_eq!(clean("x ephemeral-secret-value"), format!("x {REDACTED}"));
        drop(gone);
        assert_eq!(
            clean("x ephemeral-secret-value"),
            "x ephemeral-secret-value"
        );
        drop(short);
    }

    #[test]
    fn clones_share_one_registration() {
        let s = Secret::new("clone-me-not-registered-twice");
        let clones: Vec<Secret> = (0..100).map(|_| s.clone()).collect();
        // The registry's one weak reference is the only one.
        assert_eq!(s.weak_count(), 1);
        let copy = Secret::unregistered(s.expose());
        assert_eq!(copy.weak_count(), 0);
        drop((clones, s, copy));
    }

    #[test]
    fn a_secret_inside_another_leaves_no_piece_behind() {
        let long = Secret::new("prefix-INNER-secret-suffix");
        let inner = Secret::new("INNER-secret");
        assert_eq!(
            clean("[prefix-INNER-secret-suffix]"),
            format!("[{REDACTED}]")
        );
        assert_eq!(clean("INNER-secret"), REDACTED);
        drop((long, inner));
    }

    #[test]
    fn excerpts_redact_before_cutting() {
        let s = Secret::new("0123456789-secret");
        let e = excerpt("head 0123456789-secret tail", 8);
        assert_eq!(e, "head [re...");
        assert!(!e.contains("0123"));
        assert_eq!(excerpt("short", 10), "short");
        drop(s);
    }
}
