//! Parameter patterns: Python's `re.match` answered by walking the pattern's syntax tree
//! for the first uses, by `regex-lite` once a pattern is used often.

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// A parameter's pattern. The first values are checked by walking the pattern's syntax
/// tree (parsed here in a microsecond or two, for the plain syntax discovery documents
/// use); compiling the regex (tens of microseconds for compute's bounded repetitions)
/// waits until the pattern has been used a few times, or is needed (other syntax, a walk
/// that would take too long). Both give `re.match`'s answer (anchored at the start only)
/// as `regex-lite` reads the pattern: `\d`, `\w`, `\s` and `\b` are ASCII there, as in
/// RE2 and the servers' checks, where Python's `re` also takes other scripts' digits and
/// letters (docs/decisions.md).
pub(crate) struct Pattern {
    pub(crate) source: Box<str>,
    tree: OnceLock<Option<Node>>,
    uses: AtomicU32,
    compiled: OnceLock<Option<regex_lite::Regex>>,
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.source)
    }
}

/// Values checked by walking the tree before the regex is compiled.
const WALKED_USES: u32 = 32;

impl Pattern {
    pub(crate) fn new(source: &str) -> Pattern {
        Pattern {
            source: source.into(),
            tree: OnceLock::new(),
            uses: AtomicU32::new(0),
            compiled: OnceLock::new(),
        }
    }

    /// Python's `re.match`: anchored at the start only. A pattern `regex-lite` cannot
    /// compile (look-around, back-references) checks nothing, rather than refusing calls.
    pub(crate) fn matches(&self, value: &str) -> bool {
        if self.compiled.get().is_none() && self.uses.fetch_add(1, Ordering::Relaxed) < WALKED_USES
        {
            let tree = self.tree.get_or_init(|| walkable(&self.source));
            if let Some(found) = tree.as_ref().and_then(|t| walk(t, value)) {
                return found;
            }
        }
        let re = self.compiled.get_or_init(|| {
            regex_lite::Regex::new(&format!("^(?:{})", self.source))
                .map_err(
                    |e| tracing::debug!(pattern = %self.source, error = %e, "pattern not checked"),
                )
                .ok()
        });
        re.as_ref().is_none_or(|r| r.is_match(value))
    }
}

/// The plain regex syntax the walker reads; anything else goes to `regex-lite`.
#[derive(Debug)]
enum Node {
    Empty,
    Char(char),
    /// A bracketed class: sorted ranges, or every character outside them.
    Set {
        ranges: Vec<(char, char)>,
        negated: bool,
    },
    /// `.`: any character but `\n`.
    Any,
    /// `^` and `$` (text start and end: no `(?m)` here).
    Start,
    End,
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Rep {
        sub: Box<Node>,
        min: u32,
        max: Option<u32>,
    },
}

/// The tree of a pattern in the plain syntax (literals, escaped punctuation, bracketed
/// classes of literals and ranges, `.`, groups, `|`, `^`, `$`, `?`, `*`, `+`, `{m,n}`),
/// small enough that `regex-lite` surely compiles it too. `None` leaves the pattern to
/// `regex-lite` (classes like `\d`, flags, look-around, anything unusual).
fn walkable(source: &str) -> Option<Node> {
    /// Far below `regex-lite`'s own size limit: what passes here surely compiles.
    const MAX_SIZE: u64 = 4096;
    fn size(n: &Node) -> u64 {
        match n {
            Node::Set { ranges, .. } => ranges.len() as u64 + 1,
            Node::Concat(v) | Node::Alt(v) => v.iter().fold(1, |a, n| a.saturating_add(size(n))),
            Node::Rep { sub, min, max } => size(sub)
                .saturating_add(1)
                .saturating_mul(u64::from(max.unwrap_or(*min)) + 1),
            _ => 1,
        }
    }
    let mut p = PatternParser {
        chars: source.chars().peekable(),
    };
    let node = p.alternation()?;
    if p.chars.next().is_some() || size(&node) > MAX_SIZE {
        return None;
    }
    Some(node)
}

struct PatternParser<'s> {
    chars: std::iter::Peekable<std::str::Chars<'s>>,
}

impl PatternParser<'_> {
    /// Characters that may be escaped (and then stand for themselves).
    const PUNCT: &'static str = r".\/-[](){}^$|?*+";

    fn alternation(&mut self) -> Option<Node> {
        let mut alts = vec![self.concat()?];
        while self.chars.peek() == Some(&'|') {
            self.chars.next();
            alts.push(self.concat()?);
        }
        Some(if alts.len() == 1 {
            alts.pop()?
        } else {
            Node::Alt(alts)
        })
    }

    fn concat(&mut self) -> Option<Node> {
        let mut items = Vec::new();
        while let Some(&c) = self.chars.peek() {
            let atom = match c {
                '|' | ')' => break,
                '(' => {
                    self.chars.next();
                    if self.chars.peek() == Some(&'?') {
                        self.chars.next();
                        if self.chars.next() != Some(':') {
                            return None;
                        }
                    }
                    let inner = self.alternation()?;
                    if self.chars.next() != Some(')') {
                        return None;
                    }
                    inner
                }
                '[' => {
                    self.chars.next();
                    self.class()?
                }
                '.' => {
                    self.chars.next();
                    Node::Any
                }
                '^' | '$' => {
                    self.chars.next();
                    items.push(if c == '^' { Node::Start } else { Node::End });
                    // A repeated assertion is unusual: leave it to `regex-lite`.
                    if matches!(self.chars.peek(), Some('?' | '*' | '+' | '{')) {
                        return None;
                    }
                    continue;
                }
                '\\' => {
                    self.chars.next();
                    Node::Char(self.escaped()?)
                }
                '?' | '*' | '+' | '{' | ']' | '}' => return None,
                c => {
                    self.chars.next();
                    Node::Char(c)
                }
            };
            items.push(self.repetition(atom)?);
        }
        Some(if items.len() == 1 {
            items.pop()?
        } else if items.is_empty() {
            Node::Empty
        } else {
            Node::Concat(items)
        })
    }

    fn escaped(&mut self) -> Option<char> {
        self.chars.next().filter(|c| Self::PUNCT.contains(*c))
    }

    fn number(&mut self) -> Option<u32> {
        let mut n: u32 = 0;
        let mut any = false;
        while let Some(d) = self.chars.peek().and_then(|c| c.to_digit(10)) {
            self.chars.next();
            n = n.checked_mul(10)?.checked_add(d)?;
            any = true;
        }
        (any && n <= 1000).then_some(n)
    }

    fn repetition(&mut self, atom: Node) -> Option<Node> {
        let (min, max) = match self.chars.peek() {
            Some('?') => (0, Some(1)),
            Some('*') => (0, None),
            Some('+') => (1, None),
            Some('{') => {
                self.chars.next();
                let min = self.number()?;
                let max = match self.chars.next()? {
                    '}' => Some(min),
                    ',' if self.chars.peek() == Some(&'}') => {
                        self.chars.next();
                        None
                    }
                    ',' => {
                        let max = self.number()?;
                        if self.chars.next() != Some('}') || max < min {
                            return None;
                        }
                        Some(max)
                    }
                    _ => return None,
                };
                if self.chars.peek() == Some(&'?') {
                    self.chars.next();
                }
                if matches!(self.chars.peek(), Some('?' | '*' | '+' | '{')) {
                    return None;
                }
                return Some(Node::Rep {
                    sub: Box::new(atom),
                    min,
                    max,
                });
            }
            _ => return Some(atom),
        };
        self.chars.next();
        // Laziness does not change whether there is a match.
        if self.chars.peek() == Some(&'?') {
            self.chars.next();
        }
        if matches!(self.chars.peek(), Some('?' | '*' | '+' | '{')) {
            return None;
        }
        Some(Node::Rep {
            sub: Box::new(atom),
            min,
            max,
        })
    }

    /// After `[`: literals, escaped punctuation and ranges; `-` only first or last.
    fn class(&mut self) -> Option<Node> {
        let negated = self.chars.peek() == Some(&'^');
        if negated {
            self.chars.next();
        }
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let c = match self.chars.next()? {
                ']' if !first => break,
                '[' | ']' | '&' | '~' => return None,
                '\\' => self.escaped()?,
                '-' if self.chars.peek() == Some(&'-') => return None,
                '-' if !first && self.chars.peek() != Some(&']') => return None,
                c => c,
            };
            first = false;
            if self.chars.peek() == Some(&'-') {
                let mut ahead = self.chars.clone();
                ahead.next();
                match ahead.peek() {
                    Some(']') => {}
                    Some('[' | '&' | '~' | '-' | '\\') | None => return None,
                    Some(&end) => {
                        self.chars = ahead;
                        self.chars.next();
                        if end < c {
                            return None;
                        }
                        ranges.push((c, end));
                        continue;
                    }
                }
            }
            ranges.push((c, c));
        }
        ranges.sort_unstable();
        let mut merged: Vec<(char, char)> = Vec::with_capacity(ranges.len());
        for (a, b) in ranges {
            match merged.last_mut() {
                Some(last) if a <= last.1 || u32::from(a) == u32::from(last.1) + 1 => {
                    last.1 = last.1.max(b);
                }
                _ => merged.push((a, b)),
            }
        }
        Some(Node::Set {
            ranges: merged,
            negated,
        })
    }
}

/// Whether `value` matches `tree` at its start; `None` when the walk would take too long
/// (`regex-lite` decides then).
fn walk(tree: &Node, value: &str) -> Option<bool> {
    Walker {
        text: value,
        steps: 0,
        depth: 0,
    }
    .node(tree, 0, &Next::Done)
}

/// What follows the node being matched (a continuation).
enum Next<'a> {
    Done,
    /// The rest of a concatenation.
    Seq(&'a [Node], &'a Next<'a>),
    /// The end of iteration `count` of a repetition begun at `start`.
    Rep {
        sub: &'a Node,
        min: u32,
        max: Option<u32>,
        count: u32,
        start: usize,
        next: &'a Next<'a>,
    },
}

/// A backtracking search for any match; bounded in steps and depth.
struct Walker<'t> {
    text: &'t str,
    steps: u32,
    depth: u32,
}

impl Walker<'_> {
    const MAX_STEPS: u32 = 20_000;
    const MAX_DEPTH: u32 = 600;

    fn node(&mut self, n: &Node, pos: usize, next: &Next<'_>) -> Option<bool> {
        self.steps += 1;
        if self.steps > Self::MAX_STEPS || self.depth > Self::MAX_DEPTH {
            return None;
        }
        self.depth += 1;
        let found = self.step(n, pos, next);
        self.depth -= 1;
        found
    }

    fn one(&mut self, pos: usize, next: &Next<'_>, ok: impl Fn(char) -> bool) -> Option<bool> {
        match self.text.get(pos..)?.chars().next() {
            Some(c) if ok(c) => self.cont(pos + c.len_utf8(), next),
            _ => Some(false),
        }
    }

    fn step(&mut self, n: &Node, pos: usize, next: &Next<'_>) -> Option<bool> {
        match n {
            Node::Empty => self.cont(pos, next),
            Node::Char(want) => self.one(pos, next, |c| c == *want),
            Node::Any => self.one(pos, next, |c| c != '\n'),
            Node::Set { ranges, negated } => self.one(pos, next, |c| {
                let inside = ranges
                    .binary_search_by(|&(a, b)| {
                        if b < c {
                            std::cmp::Ordering::Less
                        } else if a > c {
                            std::cmp::Ordering::Greater
                        } else {
                            std::cmp::Ordering::Equal
                        }
                    })
                    .is_ok();
                inside != *negated
            }),
            Node::Start => {
                if pos == 0 {
                    self.cont(pos, next)
                } else {
                    Some(false)
                }
            }
            Node::End => {
                if pos == self.text.len() {
                    self.cont(pos, next)
                } else {
                    Some(false)
                }
            }
            Node::Concat(v) => self.cont(pos, &Next::Seq(v, next)),
            Node::Alt(v) => {
                for alt in v {
                    if self.node(alt, pos, next)? {
                        return Some(true);
                    }
                }
                Some(false)
            }
            Node::Rep { sub, min, max } => self.rep(sub, *min, *max, 0, pos, next),
        }
    }

    /// After `count` iterations of `sub` ending at `pos`: one more, or what follows.
    fn rep(
        &mut self,
        sub: &Node,
        min: u32,
        max: Option<u32>,
        count: u32,
        pos: usize,
        next: &Next<'_>,
    ) -> Option<bool> {
        let more = Next::Rep {
            sub,
            min,
            max,
            count: count + 1,
            start: pos,
            next,
        };
        if count < min {
            return self.node(sub, pos, &more);
        }
        if max.is_none_or(|m| count < m) && self.node(sub, pos, &more)? {
            return Some(true);
        }
        self.cont(pos, next)
    }

    fn cont(&mut self, pos: usize, next: &Next<'_>) -> Option<bool> {
        match next {
            // Anchored at the start only: any prefix will do.
            Next::Done => Some(true),
            Next::Seq(v, after) => match v.split_first() {
                None => self.cont(pos, after),
                Some((n, tail)) => self.node(n, pos, &Next::Seq(tail, after)),
            },
            Next::Rep {
                sub,
                min,
                max,
                count,
                start,
                next,
            } => {
                // An empty iteration beyond the minimum adds nothing.
                if *count > *min && pos == *start {
                    return Some(false);
                }
                self.rep(sub, *min, *max, *count, pos, next)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_values() -> Vec<String> {
        let alphabet = [
            "a", "b", "c", "d", "1", "-", ".", ":", "\n", "é", "/", "A", "]",
        ];
        let mut values = vec![String::new()];
        let mut frontier = values.clone();
        for _ in 0..4 {
            let mut more = Vec::new();
            for v in &frontier {
                for c in alphabet {
                    more.push(format!("{v}{c}"));
                }
            }
            values.extend(more.iter().cloned());
            frontier = more;
        }
        values.extend([
            "projects/p/locations/l".into(),
            "projects/p/locations/l/x".into(),
            "my-project:my-zone".into(),
            "example.com:my-project".into(),
            "us-central1-a".into(),
            "organizations/123".into(),
            "a".repeat(70),
            format!("{}b", "a".repeat(25)),
            "x".repeat(300),
        ]);
        values
    }

    /// Compares the walker with `regex-lite` on `values`; returns how many answered.
    fn agree(p: &str, values: &[String]) -> usize {
        let tree = walkable(p).unwrap_or_else(|| panic!("{p} not walkable"));
        let re = regex_lite::Regex::new(&format!("^(?:{p})")).unwrap();
        let mut answered = 0;
        for v in values {
            if let Some(found) = walk(&tree, v) {
                assert_eq!(found, re.is_match(v), "{p:?} on {v:?}");
                answered += 1;
            }
        }
        answered
    }

    /// The walker agrees with `regex-lite` on every value of a small alphabet, for
    /// compute's patterns and for the shapes that are hard to backtrack right.
    #[test]
    fn the_walker_answers_as_the_regex_does() {
        let patterns = [
            r"(?:(?:[-a-z0-9]{1,63}\.)*(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?):)?(?:[0-9]{1,19}|(?:[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?))",
            r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?|[1-9][0-9]{0,19}",
            r"^projects/[^/]+/locations/[^/]+$",
            r"(a*)*b",
            r"(a|ab)(c|bcd)(d*)$",
            r"(?:a?){2,3}b?$",
            r"a$|b",
            r"[é-ü]+.$",
            r"(?:)*$",
            r"a{2}?b*?$",
            r"a{2,}b",
            r"(?:a|b)??c",
            r"[\]\-.]+[-a]\/\.\-\\\(\)\[\{\}\^\$\|\?\*\+",
            r"[a-]|[^-b]x",
            r"",
            r"x|",
            r"()a",
            r" #",
        ];
        let values = sample_values();
        for p in patterns {
            let answered = agree(p, &values);
            assert!(answered + 3 >= values.len(), "{p:?}: {answered} answered");
        }
        // Other syntax, and oversized patterns, are left to `regex-lite`.
        for p in [
            r"\bx",
            r"\d",
            r"\w{3}",
            r"(?i)a",
            r"(?P<x>a)",
            r"[[:alpha:]]",
            r"[a&&b]",
            r"[a-z-_]",
            r"[--]",
            r"a**",
            r"*a",
            r"a{",
            r"a{3,2}",
            r"a)",
            r"(a",
            r"^*",
            r"(?:[a-z]{1000}){1000}",
        ] {
            assert!(walkable(p).is_none(), "{p}");
        }
        // A pattern used often is compiled, with the same answers; so is one whose walk
        // would take too long.
        let p = Pattern::new("[a-z]+[0-9]");
        for _ in 0..2 * WALKED_USES {
            assert!(p.matches("ab1"));
            assert!(!p.matches("1ab"));
        }
        assert!(p.compiled.get().is_some());
        let p = Pattern::new("(a*)*b");
        assert!(p.matches("aab"));
        assert!(p.compiled.get().is_none());
        assert!(!p.matches(&"a".repeat(40)));
        assert!(p.compiled.get().is_some());
        // So is other syntax; what `regex-lite` cannot compile checks nothing.
        assert!(Pattern::new("(?<=a)b").matches("anything"));
        assert!(Pattern::new(r"\d+").matches("12"));
        assert!(!Pattern::new(r"\d+").matches("x"));
        assert!(Pattern::new(r"(?i)HTTPS?://").matches("https://x"));
        // `\d`, `\w` and `\s` are ASCII, as in RE2 and the servers' checks (Python's `re`
        // would take these).
        assert!(!Pattern::new(r"\d+").matches("\u{661}\u{662}"));
        assert!(!Pattern::new(r"\w").matches("\u{e9}"));
        assert!(Pattern::new(r"\S{1,3}$").matches("\u{a0}"));
    }

    /// Every pattern of the shipped documents (when `GAUTH_DISCOVERY_DOCS` names their
    /// directory): the walker, where it reads the pattern, answers as `regex-lite`.
    #[test]
    fn the_walker_answers_as_the_regex_does_for_shipped_patterns() {
        let Some(dir) = std::env::var_os("GAUTH_DISCOVERY_DOCS") else {
            return;
        };
        fn collect(v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, v) in m {
                        match (k.as_str(), v) {
                            ("pattern", serde_json::Value::String(p)) => {
                                out.insert(p.clone());
                            }
                            _ => collect(v, out),
                        }
                    }
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| collect(v, out)),
                _ => {}
            }
        }
        let mut patterns = std::collections::BTreeSet::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(e.unwrap().path()).unwrap();
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                collect(&v, &mut patterns);
            }
        }
        let values = sample_values();
        let (mut walked, mut left) = (0, 0);
        for p in &patterns {
            if walkable(p).is_some() && regex_lite::Regex::new(&format!("^(?:{p})")).is_ok() {
                agree(p, &values);
                walked += 1;
            } else {
                assert!(
                    walkable(p).is_none() || regex_lite::Regex::new(&format!("^(?:{p})")).is_ok(),
                    "{p}"
                );
                left += 1;
            }
        }
        eprintln!("{walked} patterns walked, {left} left to regex-lite");
    }
}
