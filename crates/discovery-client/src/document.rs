//! The discovery document, parsed once into an index by name.
//!
//! Only what request building, validation, media and paging need is kept; schemas are
//! reduced to the few facts paging needs (whether a page token field exists, which
//! fields are lists), so a 6 MB document costs one pass of the JSON parser and a few
//! allocations per method.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use oauth_core::EndpointPolicy;

use crate::Error;
use crate::origin::Origin;
use crate::template::{Template, py_urljoin};
use crate::value::ParamType;

/// The parameters googleapiclient adds to every method (`STACK_QUERY_PARAMETERS`).
pub(crate) const STACK_PARAMS: [&str; 4] = ["pp", "strict", "trace", "userip"];

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Location {
    Path,
    Query,
    Other,
}

/// A parameter's pattern. The first values are checked by walking the pattern's syntax
/// tree (parsed here in a microsecond or two, for the plain syntax discovery documents
/// use); compiling the regex (tens of microseconds for compute's bounded repetitions)
/// waits until the pattern has been used a few times. Both give `re.match`'s answer
/// (anchored at the start only), as the regex crate reads the pattern.
pub(crate) struct Pattern {
    pub(crate) source: Box<str>,
    tree: OnceLock<Option<Node>>,
    uses: AtomicU32,
    compiled: OnceLock<Option<regex::Regex>>,
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

    /// Python's `re.match`: anchored at the start only. A pattern Rust's regex cannot
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
            regex::Regex::new(&format!("^(?:{})", self.source))
                .map_err(
                    |e| tracing::debug!(pattern = %self.source, error = %e, "pattern not checked"),
                )
                .ok()
        });
        re.as_ref().is_none_or(|r| r.is_match(value))
    }
}

/// The plain regex syntax the walker reads; anything else goes to the regex crate.
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
/// small enough that the regex crate surely compiles it too. `None` leaves the pattern
/// to the regex crate (classes like `\d`, flags, look-around, anything unusual).
fn walkable(source: &str) -> Option<Node> {
    /// Far below the regex crate's own size limit: what passes here surely compiles.
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
                    // A repeated assertion is unusual: leave it to the regex crate.
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
/// (the regex decides then).
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

/// One parameter of a method (or of the whole API).
#[derive(Debug)]
pub(crate) struct Param {
    pub(crate) ty: ParamType,
    pub(crate) location: Location,
    pub(crate) required: bool,
    pub(crate) repeated: bool,
    pub(crate) pattern: Option<Arc<Pattern>>,
    pub(crate) enum_values: Option<Box<[Box<str>]>>,
}

static STACK_PARAM: Param = Param {
    ty: ParamType::String,
    location: Location::Query,
    required: false,
    repeated: false,
    pattern: None,
    enum_values: None,
};

/// Facts about a schema that paging needs.
#[derive(Debug, Default, Clone)]
pub(crate) struct SchemaFacts {
    pub(crate) page_token: bool,
    pub(crate) next_page_token: bool,
    /// Properties of type `array`, in document order.
    pub(crate) arrays: Vec<Box<str>>,
}

/// Media upload facts of a method.
#[derive(Debug, Clone)]
pub(crate) struct MediaUpload {
    pub(crate) accept: Box<[Box<str>]>,
    pub(crate) max_size: u64,
    /// `rootUrl + "upload/" + servicePath + path`, as googleapiclient builds it.
    pub(crate) path: Template,
}

/// One method.
#[derive(Debug)]
pub(crate) struct MethodDesc {
    pub(crate) id: Box<str>,
    pub(crate) http_method: http::Method,
    pub(crate) path: Template,
    /// The method's own parameters, sorted by name.
    pub(crate) params: Box<[(Box<str>, Param)]>,
    /// Names of required parameters in googleapiclient's check order (sorted).
    pub(crate) required: Box<[Box<str>]>,
    /// Whether the method takes a body (`request` on PUT, POST or PATCH).
    pub(crate) takes_body: bool,
    pub(crate) has_response: bool,
    pub(crate) supports_media_download: bool,
    pub(crate) media: Option<MediaUpload>,
    pub(crate) api_version: Option<Box<str>>,
    /// The page token parameter and the response's next-page field, when the method
    /// pages (googleapiclient's `_next` methods).
    pub(crate) paging: Option<Paging>,
    /// The response's list fields (for collecting every page's items).
    pub(crate) response_arrays: Vec<Box<str>>,
    /// Whether the response schema has a page token field (googleapiclient then insists
    /// on a required `pageToken`; otherwise it does not).
    pub(crate) response_pages: bool,
}

/// How a method pages.
#[derive(Debug, Clone)]
pub(crate) struct Paging {
    /// `pageToken` (a query parameter) or a body field of that name.
    pub(crate) token: Box<str>,
    pub(crate) in_body: bool,
    /// `nextPageToken` in the response.
    pub(crate) next: Box<str>,
}

/// One resource: its methods and nested resources, by name.
#[derive(Debug, Default)]
pub(crate) struct ResourceDesc {
    pub(crate) methods: HashMap<Box<str>, usize>,
    pub(crate) resources: HashMap<Box<str>, usize>,
}

/// Where a JSON value sits in the kept document: `start..end`.
type Span = (usize, usize);

/// One method as indexed when the document is read: its dotted path and where its JSON
/// is. Its description is parsed on first use and kept.
pub(crate) struct MethodEntry {
    path: Arc<str>,
    span: Span,
    desc: OnceLock<Result<Arc<MethodDesc>, Error>>,
}

impl fmt::Debug for MethodEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MethodEntry({})", self.path)
    }
}

/// A parsed discovery document: every method indexed by its dotted path.
///
/// Building reads the document once and keeps its bytes: methods and schemas are indexed
/// by where their JSON is, and a method is parsed (parameters, paging facts, media) the
/// first time it is used.
#[derive(Debug)]
pub(crate) struct Model {
    pub(crate) name: Box<str>,
    pub(crate) version: Box<str>,
    pub(crate) root_url: Box<str>,
    /// The root URL's origin: where every request that carries credentials goes.
    pub(crate) root_origin: Origin,
    pub(crate) service_path: Box<str>,
    pub(crate) base_url: Box<str>,
    pub(crate) batch_path: Box<str>,
    pub(crate) data_wrapper: bool,
    pub(crate) globals: Box<[(Box<str>, Param)]>,
    pub(crate) methods: Vec<MethodEntry>,
    /// Resource 0 is the root (the document's top-level methods and resources).
    pub(crate) resources: Vec<ResourceDesc>,
    pub(crate) by_path: HashMap<Arc<str>, usize>,
    pub(crate) scopes: Vec<String>,
    origin: Box<str>,
    /// The document's bytes (methods and schemas are read from here on first use).
    doc: Box<[u8]>,
    schemas: HashMap<Box<str>, Span>,
    /// Patterns by source: compute repeats a few patterns over a thousand parameters.
    patterns: Mutex<HashMap<Box<str>, Arc<Pattern>>>,
}

/// Where a parameter of a method is described (found once, when it is set).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Slot {
    Stack,
    Global(usize),
    Own(usize),
}

impl Model {
    /// Where the parameter of this name is, as googleapiclient sees it for `m`: stack
    /// parameters, then the API's global parameters, then the method's own.
    pub(crate) fn slot(&self, m: &MethodDesc, name: &str) -> Option<Slot> {
        if STACK_PARAMS.contains(&name) {
            return Some(Slot::Stack);
        }
        if let Ok(i) = self.globals.binary_search_by(|(n, _)| (**n).cmp(name)) {
            return Some(Slot::Global(i));
        }
        m.params
            .binary_search_by(|(n, _)| (**n).cmp(name))
            .ok()
            .map(Slot::Own)
    }

    /// The parameter at `slot` (found by [`Model::slot`] for the same method).
    pub(crate) fn at<'a>(&'a self, m: &'a MethodDesc, slot: Slot) -> &'a Param {
        let found = match slot {
            Slot::Stack => None,
            Slot::Global(i) => self.globals.get(i),
            Slot::Own(i) => m.params.get(i),
        };
        found.map_or(&STACK_PARAM, |(_, p)| p)
    }

    /// The label used in errors (`drive:v3`).
    pub(crate) fn label(&self) -> String {
        format!("{}:{}", self.name, self.version)
    }

    /// Method `index`, parsed on first use (an error is kept and returned again).
    pub(crate) fn method(&self, index: usize) -> Result<Arc<MethodDesc>, Error> {
        let entry = &self.methods[index];
        entry
            .desc
            .get_or_init(|| self.parse_method(entry).map(Arc::new))
            .clone()
    }

    /// The same document with another root URL (the program's explicit choice).
    pub(crate) fn reparse(&self, root_url: Option<&str>) -> Result<Arc<Model>, Error> {
        parse(
            &self.doc,
            &self.origin,
            root_url,
            &EndpointPolicy::default(),
        )
    }

    fn invalid(&self, reason: String) -> Error {
        Error::InvalidDocument {
            origin: self.origin.to_string(),
            reason,
        }
    }

    fn parse_method(&self, entry: &MethodEntry) -> Result<MethodDesc, Error> {
        let path = &*entry.path;
        let bytes = self.doc.get(entry.span.0..entry.span.1).unwrap_or_default();
        let m: RawMethod = serde_json::from_slice(bytes).map_err(|e| {
            self.invalid(format!(
                "method `{path}`: {}",
                oauth_core::Error::json("document", &e)
            ))
        })?;
        self.build_method(path, m)
    }

    /// The paging facts of a request or response: its schema's, read on first use.
    fn facts(&self, r: Option<&RawRef>) -> Result<Option<SchemaFacts>, Error> {
        let Some(r) = r else { return Ok(None) };
        match &r.reference {
            Some(name) => {
                let Some(&(start, end)) = self.schemas.get(name.as_str()) else {
                    return Ok(None);
                };
                let bytes = self.doc.get(start..end).unwrap_or_default();
                serde_json::from_slice::<SchemaFacts>(bytes)
                    .map(Some)
                    .map_err(|e| {
                        self.invalid(format!(
                            "schema `{name}`: {}",
                            oauth_core::Error::json("document", &e)
                        ))
                    })
            }
            None => Ok(r.properties.as_ref().map(|p| p.0.clone())),
        }
    }

    fn build_method(&self, path: &str, m: RawMethod) -> Result<MethodDesc, Error> {
        let invalid = |what: &str| self.invalid(format!("method `{path}` has no {what}"));
        let id = m.id.unwrap_or_else(|| path.to_owned());
        let url_path = m.path.ok_or_else(|| invalid("path"))?;
        let verb = m.http_method.ok_or_else(|| invalid("httpMethod"))?;
        let http_method = http::Method::from_bytes(verb.as_bytes()).map_err(|_| {
            self.invalid(format!(
                "method `{path}` has an invalid httpMethod (not an HTTP token)"
            ))
        })?;
        if let Some(v) = &m.api_version
            && http::HeaderValue::from_str(v).is_err()
        {
            return Err(self.invalid(format!(
                "method `{path}` has an apiVersion that is not a valid header value"
            )));
        }
        let mut params: Vec<(Box<str>, Param)> = {
            let mut patterns = self.patterns.lock().unwrap_or_else(|e| e.into_inner());
            m.parameters
                .into_iter()
                .map(|(k, v)| (k.into(), v.into_param(&mut patterns)))
                .collect()
        };
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let template = Template::parse(&url_path);
        let takes_body = matches!(verb.as_str(), "PUT" | "POST" | "PATCH") && m.request.is_some();
        let body_required = takes_body && m.request.as_ref().is_some_and(|r| r.required);

        // googleapiclient's view: globals and stack parameters override the method's own.
        let mut required: Vec<Box<str>> = Vec::new();
        for (n, p) in &params {
            let shadowed = STACK_PARAMS.contains(&&**n)
                || self.globals.binary_search_by(|(g, _)| g.cmp(n)).is_ok();
            if p.required && !shadowed {
                required.push(n.clone());
            }
        }
        for (n, p) in self.globals.iter() {
            if p.required && !STACK_PARAMS.contains(&&**n) {
                required.push(n.clone());
            }
        }
        if body_required {
            required.push("body".into());
        }
        required.sort();
        required.dedup();

        let response = self.facts(m.response.as_ref())?;
        let mut paging = None;
        if let Some(resp) = &response {
            let next = if resp.page_token {
                Some("pageToken")
            } else if resp.next_page_token {
                Some("nextPageToken")
            } else {
                None
            };
            if let Some(next) = next {
                let in_params = |n: &str| params.iter().any(|(p, _)| &**p == n);
                let found = if in_params("pageToken") {
                    Some(("pageToken", false))
                } else if in_params("nextPageToken") {
                    Some(("nextPageToken", false))
                } else {
                    match self.facts(m.request.as_ref())? {
                        Some(req) if req.page_token => Some(("pageToken", true)),
                        Some(req) if req.next_page_token => Some(("nextPageToken", true)),
                        _ => None,
                    }
                };
                paging = found.map(|(t, in_body)| Paging {
                    token: t.into(),
                    in_body,
                    next: next.into(),
                });
            }
        }
        let media = m.media_upload.map(|mu| MediaUpload {
            accept: mu.accept.into_iter().map(Into::into).collect(),
            max_size: mu.max_size.as_deref().map_or(0, media_size),
            path: Template::parse(&format!(
                "{}upload/{}{}",
                self.root_url, self.service_path, url_path
            )),
        });
        Ok(MethodDesc {
            id: id.into(),
            http_method,
            path: template,
            required: required.into(),
            params: params.into(),
            takes_body,
            has_response: m.response.is_some(),
            supports_media_download: m.supports_media_download,
            media,
            api_version: m.api_version.map(Into::into),
            response_pages: response
                .as_ref()
                .is_some_and(|r| r.page_token || r.next_page_token),
            response_arrays: response.map(|r| r.arrays).unwrap_or_default(),
            paging,
        })
    }
}

// ---- serde shapes of the document ----

#[derive(Deserialize)]
struct RawAuth {
    #[serde(default)]
    oauth2: Option<RawOauth2>,
}

#[derive(Deserialize)]
struct RawOauth2 {
    #[serde(default)]
    scopes: HashMap<String, IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMethod {
    id: Option<String>,
    path: Option<String>,
    http_method: Option<String>,
    #[serde(default)]
    parameters: HashMap<String, RawParam>,
    request: Option<RawRef>,
    response: Option<RawRef>,
    #[serde(default)]
    supports_media_download: bool,
    media_upload: Option<RawMediaUpload>,
    api_version: Option<String>,
}

#[derive(Deserialize)]
struct RawRef {
    #[serde(rename = "$ref")]
    reference: Option<String>,
    #[serde(default)]
    required: bool,
    /// An inline schema's page facts.
    #[serde(default)]
    properties: Option<Properties>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMediaUpload {
    #[serde(default)]
    accept: Vec<String>,
    max_size: Option<String>,
}

#[derive(Deserialize)]
struct RawParam {
    #[serde(rename = "type")]
    ty: Option<String>,
    location: Option<String>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    repeated: bool,
    pattern: Option<String>,
    #[serde(rename = "enum")]
    enum_values: Option<Vec<String>>,
}

impl RawParam {
    /// The parameter, its pattern shared with every other use of the same pattern.
    fn into_param(self, patterns: &mut HashMap<Box<str>, Arc<Pattern>>) -> Param {
        Param {
            ty: ParamType::parse(self.ty.as_deref()),
            location: match self.location.as_deref() {
                Some("path") => Location::Path,
                Some("query") => Location::Query,
                _ => Location::Other,
            },
            required: self.required,
            repeated: self.repeated,
            pattern: self.pattern.filter(|p| !p.is_empty()).map(|p| {
                patterns
                    .entry(p.as_str().into())
                    .or_insert_with(|| Arc::new(Pattern::new(&p)))
                    .clone()
            }),
            enum_values: self
                .enum_values
                .filter(|e| !e.is_empty())
                .map(|e| e.into_iter().map(Into::into).collect()),
        }
    }
}

/// A schema: only `properties` is read, and of each property only its name and whether
/// its `type` is `array`.
impl<'de> Deserialize<'de> for SchemaFacts {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SchemaVisitor;
        impl<'de> Visitor<'de> for SchemaVisitor {
            type Value = SchemaFacts;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a schema object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SchemaFacts, A::Error> {
                let mut facts = SchemaFacts::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == "properties" {
                        facts = map.next_value::<Properties>()?.0;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(facts)
            }
        }
        d.deserialize_map(SchemaVisitor)
    }
}

struct Properties(SchemaFacts);

impl<'de> Deserialize<'de> for Properties {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PropsVisitor;
        impl<'de> Visitor<'de> for PropsVisitor {
            type Value = Properties;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("schema properties")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Properties, A::Error> {
                let mut facts = SchemaFacts::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match &*key {
                        "pageToken" => facts.page_token = true,
                        "nextPageToken" => facts.next_page_token = true,
                        _ => {}
                    }
                    if map.next_value::<PropType>()?.0 {
                        facts.arrays.push((*key).into());
                    }
                }
                Ok(Properties(facts))
            }
        }
        d.deserialize_map(PropsVisitor)
    }
}

/// Whether a property's `type` is `array`; everything else skipped.
struct PropType(bool);

impl<'de> Deserialize<'de> for PropType {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PropType;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a property schema")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PropType, A::Error> {
                let mut array = false;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == "type" {
                        let t = map.next_value::<std::borrow::Cow<'de, str>>()?;
                        array = t == "array";
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(PropType(array))
            }
            fn visit_bool<E>(self, _: bool) -> Result<PropType, E> {
                Ok(PropType(false))
            }
        }
        d.deserialize_any(V)
    }
}

/// googleapiclient's `_media_size_to_long`.
fn media_size(s: &str) -> u64 {
    if s.len() < 2 {
        return 0;
    }
    let (num, unit) = s.split_at(s.len() - 2);
    let shift = match unit.to_ascii_uppercase().as_str() {
        "KB" => 10,
        "MB" => 20,
        "GB" => 30,
        "TB" => 40,
        _ => return s.trim().parse().unwrap_or(0),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_shl(shift))
        .unwrap_or(u64::MAX)
}

/// What one pass over the document collects: the API's own fields, the resource tree
/// with each method's span, and each schema's span.
struct Index {
    /// Where the document starts in memory, to turn borrowed slices into spans.
    base: usize,
    len: usize,
    methods: Vec<MethodEntry>,
    resources: Vec<ResourceDesc>,
    by_path: HashMap<Arc<str>, usize>,
    schemas: HashMap<Box<str>, Span>,
    name: Option<String>,
    version: Option<String>,
    root_url: Option<Option<String>>,
    service_path: Option<String>,
    batch_path: Option<Option<String>>,
    features: Option<Vec<String>>,
    parameters: Option<HashMap<String, RawParam>>,
    auth: Option<Option<RawAuth>>,
}

impl Index {
    fn span(&self, raw: &RawValue) -> Span {
        let start = (raw.get().as_ptr() as usize).wrapping_sub(self.base);
        let end = start.saturating_add(raw.get().len());
        if end <= self.len {
            (start, end)
        } else {
            (0, 0)
        }
    }

    fn join(prefix: &str, name: &str) -> String {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        }
    }

    fn add_method(&mut self, resource: usize, prefix: &str, name: &str, raw: &RawValue) {
        let path: Arc<str> = Self::join(prefix, name).into();
        let span = self.span(raw);
        let mi = self.methods.len();
        self.methods.push(MethodEntry {
            path: path.clone(),
            span,
            desc: OnceLock::new(),
        });
        self.by_path.insert(path, mi);
        self.resources[resource].methods.insert(name.into(), mi);
    }
}

/// A `methods` object: each method's span, under `resource`.
struct MethodsSeed<'i> {
    index: &'i mut Index,
    resource: usize,
    prefix: &'i str,
}

impl<'de> DeserializeSeed<'de> for MethodsSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MethodsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of methods")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(name) = map.next_key::<Cow<'de, str>>()? {
            let raw = map.next_value::<&'de RawValue>()?;
            self.index
                .add_method(self.resource, self.prefix, &name, raw);
        }
        Ok(())
    }
}

/// A `resources` object: each resource added under `parent`.
struct ResourcesSeed<'i> {
    index: &'i mut Index,
    parent: usize,
    prefix: &'i str,
}

impl<'de> DeserializeSeed<'de> for ResourcesSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ResourcesSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of resources")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(name) = map.next_key::<Cow<'de, str>>()? {
            let path = Index::join(self.prefix, &name);
            if self.index.resources[self.parent]
                .resources
                .contains_key(&*name)
            {
                // A repeated key: the last one wins, as a map would have it.
                let nested = format!("{path}.");
                self.index.by_path.retain(|k, _| !k.starts_with(&nested));
            }
            let child = self.index.resources.len();
            self.index.resources.push(ResourceDesc::default());
            self.index.resources[self.parent]
                .resources
                .insert((*name).into(), child);
            map.next_value_seed(ResourceSeed {
                index: self.index,
                resource: child,
                prefix: &path,
            })?;
        }
        Ok(())
    }
}

/// One resource: its `methods` and `resources`, nothing else read.
struct ResourceSeed<'i> {
    index: &'i mut Index,
    resource: usize,
    prefix: &'i str,
}

impl<'de> DeserializeSeed<'de> for ResourceSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ResourceSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a resource object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (mut methods, mut resources) = (false, false);
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match &*key {
                "methods" => {
                    if std::mem::replace(&mut methods, true) {
                        return Err(de::Error::duplicate_field("methods"));
                    }
                    map.next_value_seed(MethodsSeed {
                        index: self.index,
                        resource: self.resource,
                        prefix: self.prefix,
                    })?;
                }
                "resources" => {
                    if std::mem::replace(&mut resources, true) {
                        return Err(de::Error::duplicate_field("resources"));
                    }
                    map.next_value_seed(ResourcesSeed {
                        index: self.index,
                        parent: self.resource,
                        prefix: self.prefix,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// The `schemas` object: each schema's span, by name.
struct SchemasSeed<'i>(&'i mut Index);

impl<'de> DeserializeSeed<'de> for SchemasSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for SchemasSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of schemas")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(name) = map.next_key::<Cow<'de, str>>()? {
            let raw = map.next_value::<&'de RawValue>()?;
            let span = self.0.span(raw);
            self.0.schemas.insert((*name).into(), span);
        }
        Ok(())
    }
}

/// The document's top level.
struct DocSeed<'i>(&'i mut Index);

impl<'de> DeserializeSeed<'de> for DocSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

/// Reads a field once, refusing a repeated one as a derived struct would.
fn once<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
    name: &'static str,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

impl<'de> Visitor<'de> for DocSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a discovery document")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ix = self.0;
        let (mut schemas, mut resources, mut methods) = (false, false, false);
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match &*key {
                "name" => once(&mut map, &mut ix.name, "name")?,
                "version" => once(&mut map, &mut ix.version, "version")?,
                "rootUrl" => once(&mut map, &mut ix.root_url, "rootUrl")?,
                "servicePath" => once(&mut map, &mut ix.service_path, "servicePath")?,
                "batchPath" => once(&mut map, &mut ix.batch_path, "batchPath")?,
                "features" => once(&mut map, &mut ix.features, "features")?,
                "parameters" => once(&mut map, &mut ix.parameters, "parameters")?,
                "auth" => once(&mut map, &mut ix.auth, "auth")?,
                "schemas" => {
                    if std::mem::replace(&mut schemas, true) {
                        return Err(de::Error::duplicate_field("schemas"));
                    }
                    map.next_value_seed(SchemasSeed(ix))?;
                }
                "resources" => {
                    if std::mem::replace(&mut resources, true) {
                        return Err(de::Error::duplicate_field("resources"));
                    }
                    map.next_value_seed(ResourcesSeed {
                        index: ix,
                        parent: 0,
                        prefix: "",
                    })?;
                }
                "methods" => {
                    if std::mem::replace(&mut methods, true) {
                        return Err(de::Error::duplicate_field("methods"));
                    }
                    map.next_value_seed(MethodsSeed {
                        index: ix,
                        resource: 0,
                        prefix: "",
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Where calls may go: an explicit root is the program's choice of host (still https or
/// loopback, unless the policy allows plain http); a document's own `rootUrl` is held to
/// the policy (Google's hosts, loopback, or hosts the program allowed).
fn trusted_root(
    root: &str,
    origin: &str,
    explicit: bool,
    policy: &EndpointPolicy,
) -> Result<Origin, Error> {
    let field = if explicit { "root URL" } else { "rootUrl" };
    match policy.check(origin, field, root, None) {
        Ok(_) => {}
        Err(oauth_core::Error::UntrustedEndpoint { .. }) if explicit => {}
        Err(e) => return Err(Error::Core(e)),
    }
    Origin::parse(root).ok_or_else(|| Error::InvalidDocument {
        origin: origin.to_owned(),
        reason: format!("the {field} is not an http(s) URL with a host"),
    })
}

/// Parses a document; `root_url` replaces the document's `rootUrl` when given. The root
/// is checked against `policy`, and `servicePath` and `batchPath` must stay on its
/// origin.
pub(crate) fn parse(
    bytes: &[u8],
    origin: &str,
    root_url: Option<&str>,
    policy: &EndpointPolicy,
) -> Result<Arc<Model>, Error> {
    let mut ix = Index {
        base: bytes.as_ptr() as usize,
        len: bytes.len(),
        methods: Vec::new(),
        resources: vec![ResourceDesc::default()],
        by_path: HashMap::new(),
        schemas: HashMap::new(),
        name: None,
        version: None,
        root_url: None,
        service_path: None,
        batch_path: None,
        features: None,
        parameters: None,
        auth: None,
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    DocSeed(&mut ix)
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| Error::InvalidDocument {
            origin: origin.to_owned(),
            reason: oauth_core::Error::json("document", &e).to_string(),
        })?;
    let root = match root_url {
        Some(r) => r.to_owned(),
        None => ix
            .root_url
            .take()
            .flatten()
            .ok_or_else(|| Error::InvalidDocument {
                origin: origin.to_owned(),
                reason: "no rootUrl".into(),
            })?,
    };
    // A root without a path (`https://host`) gets its `/`: googleapiclient appends
    // `upload/` and `batchPath` to the root as text, which would otherwise run into the
    // host name.
    let root = if root
        .split_once("://")
        .is_some_and(|(_, rest)| !rest.contains(['/', '?', '#']))
    {
        format!("{root}/")
    } else {
        root
    };
    let root_origin = trusted_root(&root, origin, root_url.is_some(), policy)?;
    let service_path = ix.service_path.take().unwrap_or_default();
    let mut patterns = HashMap::new();
    let mut globals: Vec<(Box<str>, Param)> = ix
        .parameters
        .take()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.into(), v.into_param(&mut patterns)))
        .collect();
    globals.sort_by(|a, b| a.0.cmp(&b.0));
    let base_url = py_urljoin(&root, &service_path);
    let batch_path: String = ix
        .batch_path
        .take()
        .flatten()
        .unwrap_or_else(|| "batch".into());
    let context = format!("discovery document {origin}");
    if let Err(found) = root_origin.admits(&base_url) {
        return Err(Error::foreign(
            &context,
            "servicePath",
            found.as_ref(),
            &root_origin,
        ));
    }
    if let Err(found) = root_origin.admits(&format!("{root}{batch_path}")) {
        return Err(Error::foreign(
            &context,
            "batchPath",
            found.as_ref(),
            &root_origin,
        ));
    }
    let mut scopes: Vec<String> = ix
        .auth
        .take()
        .flatten()
        .and_then(|a| a.oauth2)
        .map(|o| o.scopes.into_keys().collect())
        .unwrap_or_default();
    scopes.sort();
    Ok(Arc::new(Model {
        name: ix.name.take().unwrap_or_default().into(),
        version: ix.version.take().unwrap_or_default().into(),
        batch_path: batch_path.into(),
        root_url: root.into(),
        root_origin,
        service_path: service_path.into(),
        base_url: base_url.into(),
        data_wrapper: ix
            .features
            .as_ref()
            .is_some_and(|f| f.iter().any(|f| f == "dataWrapper")),
        globals: globals.into(),
        methods: ix.methods,
        resources: ix.resources,
        by_path: ix.by_path,
        scopes,
        origin: origin.into(),
        doc: bytes.into(),
        schemas: ix.schemas,
        patterns: Mutex::new(patterns),
    }))
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

    /// Compares the walker with the regex crate on `values`; returns how many answered.
    fn agree(p: &str, values: &[String]) -> usize {
        let tree = walkable(p).unwrap_or_else(|| panic!("{p} not walkable"));
        let re = regex::Regex::new(&format!("^(?:{p})")).unwrap();
        let mut answered = 0;
        for v in values {
            if let Some(found) = walk(&tree, v) {
                assert_eq!(found, re.is_match(v), "{p:?} on {v:?}");
                answered += 1;
            }
        }
        answered
    }

    /// The walker agrees with the regex crate on every value of a small alphabet, for
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
        // Other syntax, and oversized patterns, are left to the regex crate.
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
        // A pattern used often is compiled, with the same answers.
        let p = Pattern::new("[a-z]+[0-9]");
        for _ in 0..2 * WALKED_USES {
            assert!(p.matches("ab1"));
            assert!(!p.matches("1ab"));
        }
        assert!(p.compiled.get().is_some());
        assert!(Pattern::new("(?<=a)b").matches("anything"));
        assert!(Pattern::new(r"\d+").matches("12"));
        assert!(!Pattern::new(r"\d+").matches("x"));
    }

    /// Every pattern of the shipped documents (when `GAUTH_DISCOVERY_DOCS` names their
    /// directory): the walker, where it reads the pattern, answers as the regex crate.
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
            if walkable(p).is_some() && regex::Regex::new(&format!("^(?:{p})")).is_ok() {
                agree(p, &values);
                walked += 1;
            } else {
                assert!(
                    walkable(p).is_none() || regex::Regex::new(&format!("^(?:{p})")).is_ok(),
                    "{p}"
                );
                left += 1;
            }
        }
        eprintln!("{walked} patterns walked, {left} left to the regex crate");
    }

    #[test]
    fn media_sizes_follow_googleapiclient() {
        assert_eq!(media_size("5MB"), 5 << 20);
        assert_eq!(media_size("10GB"), 10 << 30);
        assert_eq!(media_size("1024"), 1024);
        assert_eq!(media_size(""), 0);
        assert_eq!(media_size("xxGB"), u64::MAX);
    }

    fn doc(root: &str, service_path: &str, batch_path: &str) -> String {
        format!(
            r#"{{"name":"x","version":"v1","rootUrl":"{root}","servicePath":"{service_path}","batchPath":"{batch_path}"}}"#
        )
    }

    fn parse_doc(
        d: &str,
        root: Option<&str>,
        policy: &EndpointPolicy,
    ) -> Result<Arc<Model>, Error> {
        parse(d.as_bytes(), "x.json", root, policy)
    }

    #[test]
    fn a_documents_root_url_must_be_googles_or_loopback_over_https_or_loopback() {
        let p = EndpointPolicy::default();
        for ok in [
            "https://www.googleapis.com/",
            "https://x.y.googleapis.com/",
            "http://127.0.0.1:9/",
            "http://[::1]:9/",
            "http://localhost:9/",
        ] {
            assert!(
                parse_doc(&doc(ok, "v1/", "batch"), None, &p).is_ok(),
                "{ok}"
            );
        }
        for (bad, host) in [
            ("https://attacker.example/", "attacker.example"),
            (
                "https://googleapis.com.attacker.example/",
                "googleapis.com.attacker.example",
            ),
            ("http://attacker.example/", "attacker.example"),
            ("http://www.googleapis.com/", "www.googleapis.com"),
            ("https://10.0.0.1/", "10.0.0.1"),
        ] {
            let e = parse_doc(&doc(bad, "v1/", "batch"), None, &p).unwrap_err();
            assert!(
                matches!(
                    &e,
                    Error::Core(
                        oauth_core::Error::UntrustedEndpoint { host: h, field, .. }
                            | oauth_core::Error::InsecureEndpoint { host: h, field, .. }
                    ) if h == host && field == "rootUrl"
                ),
                "{bad}: {e}"
            );
        }
        for bad in [
            "ftp://x.googleapis.com/",
            "https://u:p@x.googleapis.com/",
            "/relative",
        ] {
            assert!(
                parse_doc(&doc(bad, "", "batch"), None, &p).is_err(),
                "{bad}"
            );
        }
        // The program's allowance, or its own root URL, opens another host; plain http off
        // loopback stays refused even then, unless the policy allows it.
        let allowed = EndpointPolicy::default().allow_host("api.example.com");
        assert!(
            parse_doc(
                &doc("https://api.example.com/", "", "batch"),
                None,
                &allowed
            )
            .is_ok()
        );
        assert!(
            parse_doc(
                &doc("https://other.example.com/", "", "batch"),
                None,
                &allowed
            )
            .is_err()
        );
        let d = doc("https://attacker.example/", "v1/", "batch");
        assert!(parse_doc(&d, Some("https://api.example.com/"), &p).is_ok());
        assert!(parse_doc(&d, Some("http://api.example.com/"), &p).is_err());
        assert!(
            parse_doc(
                &d,
                Some("http://api.example.com/"),
                &p.clone().allow_insecure_http(true)
            )
            .is_ok()
        );
    }

    #[test]
    fn a_service_path_that_leaves_the_root_origin_is_refused() {
        let p = EndpointPolicy::default();
        for (sp, host) in [
            ("http://127.0.0.1:10/v1/", "127.0.0.1"),
            ("https://attacker.example/v1/", "attacker.example"),
        ] {
            match parse_doc(&doc("http://127.0.0.1:9/", sp, "batch"), None, &p) {
                Err(Error::ForeignUrl {
                    field,
                    host: h,
                    context,
                    ..
                }) => {
                    assert_eq!((field.as_str(), h.as_str()), ("servicePath", host));
                    assert!(context.contains("x.json"), "{context}");
                }
                other => panic!("{sp}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_root_without_its_slash_gets_one_so_paths_cannot_run_into_the_host() {
        // googleapiclient appends `batchPath` and `upload/` to the root as text: without
        // the `/`, `@attacker.example` would become the host.
        let p = EndpointPolicy::default();
        let m = parse_doc(
            &doc("http://127.0.0.1:9", "v1/", "@attacker.example/b"),
            None,
            &p,
        )
        .unwrap();
        assert_eq!(&*m.root_url, "http://127.0.0.1:9/");
        let api = crate::Api { model: m };
        assert_eq!(api.batch_url(), "http://127.0.0.1:9/@attacker.example/b");
        assert!(api.root_origin().admits(&api.batch_url()).is_ok());
    }

    #[test]
    fn a_document_without_root_url_is_refused_by_name() {
        let e = parse(
            br#"{"name":"x"}"#,
            "x.json",
            None,
            &EndpointPolicy::default(),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "discovery document x.json: no rootUrl");
        let e = parse(b"{\"name\": 5", "x.json", None, &EndpointPolicy::default()).unwrap_err();
        assert!(e.to_string().contains("x.json"), "{e}");
    }
}
