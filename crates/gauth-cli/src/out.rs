//! Writing to the terminal without ever panicking: data to stdout, messages to stderr.
//!
//! `println!` panics when stdout is closed (`gauth token | true`, `gauth demo | head -1`),
//! and `eprintln!` when stderr is. Every line `gauth` prints goes through here instead: a
//! closed stdout ends the command quietly ([`Failure::StdoutClosed`], exit 0), and a
//! message that cannot reach stderr is dropped.

use std::io::Write;

/// Why a command stopped early.
#[derive(Debug)]
pub enum Failure {
    /// Something went wrong: one line for stderr, exit 1.
    Error(String),
    /// Whoever read stdout went away (a pipe into `head`): stop quietly, exit 0.
    StdoutClosed,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Error(message)
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Self {
        Failure::Error(message.to_owned())
    }
}

/// Writes `text` and a newline to stdout, and flushes: a line of data.
pub fn line(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    let written = out
        .write_all(text.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Failure::StdoutClosed),
        Err(e) => Err(Failure::Error(format!("cannot write to stdout: {e}"))),
    }
}

/// Writes `value` as JSON to stdout: pretty when `pretty`, else on one line.
pub fn json(value: &serde_json::Value, pretty: bool) -> Result<(), Failure> {
    let text = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    }
    .map_err(|e| Failure::Error(format!("cannot print JSON: {e}")))?;
    line(&text)
}

/// Writes a message line to stderr; a closed stderr loses it and nothing else.
pub fn note(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// The one line `gauth` prints for a failure: control characters (a newline in a
/// server's message, an escape sequence) shown escaped, so it stays one line and cannot
/// drive the terminal.
pub fn one_line(message: &str) -> String {
    let mut s = String::with_capacity(message.len());
    for c in message.trim().chars() {
        match c {
            '\n' | '\r' | '\t' => s.push(' '),
            c if c.is_control() => s.extend(c.escape_default()),
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_lines_have_no_control_characters() {
        assert_eq!(one_line("a\nb\r\tc\u{1b}[31m"), "a b  c\\u{1b}[31m");
        assert_eq!(one_line("  plain  "), "plain");
    }
}
