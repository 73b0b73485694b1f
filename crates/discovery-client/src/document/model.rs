//! The method and parameter model: what request building, validation, media and paging
//! read of a parsed document, and where a parameter of a method is found.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use oauth_core::EndpointPolicy;

use super::pattern::Pattern;
use crate::Error;
use crate::origin::Origin;
use crate::template::Template;
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

/// The maps of names read from a document: foldhash, seeded per process (SipHash was a
/// tenth of building an index).
pub(crate) type NameMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// One resource: its methods and nested resources, by name.
#[derive(Debug, Default)]
pub(crate) struct ResourceDesc {
    pub(crate) methods: Names<usize>,
    pub(crate) resources: NameMap<Box<str>, usize>,
}

/// A name read from the document: where its text is, or the text itself when the JSON
/// escaped it.
#[derive(Debug)]
pub(crate) enum Name {
    At(Span),
    Owned(Box<str>),
}

impl Name {
    fn text<'a>(&'a self, doc: &'a str) -> &'a str {
        match self {
            Name::At((start, end)) => doc.get(*start..*end).unwrap_or_default(),
            Name::Owned(s) => s,
        }
    }
}

/// Sorts `v` (stably) and keeps, of entries that compare equal, the last: what a map
/// built in `v`'s order would hold.
pub(super) fn sort_last_wins<T>(v: &mut Vec<T>, cmp: impl Fn(&T, &T) -> std::cmp::Ordering) {
    v.sort_by(&cmp);
    v.dedup_by(|later, kept| {
        let same = cmp(later, kept).is_eq();
        if same {
            std::mem::swap(later, kept);
        }
        same
    });
}

/// Values by a name read from the document, sorted once it is read: no allocation or
/// hash per entry while a document is indexed (a name is where its text is), a binary
/// search to find one.
#[derive(Debug)]
pub(crate) struct Names<T> {
    entries: Vec<(Name, T)>,
}

impl<T> Default for Names<T> {
    fn default() -> Self {
        Names {
            entries: Vec::new(),
        }
    }
}

impl<T> Names<T> {
    pub(super) fn push(&mut self, name: Name, value: T) {
        self.entries.push((name, value));
    }

    /// Sorts by name (one pass when the document's keys came sorted, as Google's do); of
    /// a repeated name the last entry is kept, as a map would have it.
    pub(super) fn finish(&mut self, doc: &str) {
        sort_last_wins(&mut self.entries, |a, b| a.0.text(doc).cmp(b.0.text(doc)));
    }

    /// The value of `name`.
    pub(crate) fn get(&self, doc: &str, name: &str) -> Option<&T> {
        self.entries
            .binary_search_by(|(n, _)| n.text(doc).cmp(name))
            .ok()
            .map(|i| &self.entries[i].1)
    }

    /// The names, sorted.
    pub(crate) fn names<'a>(&'a self, doc: &'a str) -> impl Iterator<Item = &'a str> {
        self.entries.iter().map(move |(n, _)| n.text(doc))
    }
}

/// Where a JSON value sits in the kept document: `start..end`.
pub(super) type Span = (usize, usize);

/// One method as indexed when the document is read: its dotted path and where its JSON
/// is. Its description is parsed on first use and kept.
pub(crate) struct MethodEntry {
    pub(super) path: Arc<str>,
    pub(super) span: Span,
    /// A failure is boxed: entries stay small (a thousand of them in Compute's index).
    pub(super) desc: OnceLock<Result<Arc<MethodDesc>, Box<Error>>>,
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
    pub(crate) by_path: NameMap<Arc<str>, usize>,
    pub(crate) scopes: Vec<String>,
    pub(super) origin: Box<str>,
    /// The document (methods and schemas are read from here on first use), shared with
    /// a reparse.
    pub(crate) doc: Arc<String>,
    pub(super) schemas: Names<Span>,
    /// Patterns by source: compute repeats a few patterns over a thousand parameters.
    pub(super) patterns: Mutex<HashMap<Box<str>, Arc<Pattern>>>,
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
            .get_or_init(|| self.parse_method(entry).map(Arc::new).map_err(Box::new))
            .clone()
            .map_err(|e| *e)
    }

    /// The same document with another root URL (the program's explicit choice).
    pub(crate) fn reparse(&self, root_url: Option<&str>) -> Result<Arc<Model>, Error> {
        super::parse_text(
            Arc::clone(&self.doc),
            &self.origin,
            root_url,
            &EndpointPolicy::default(),
        )
    }

    pub(super) fn invalid(&self, reason: String) -> Error {
        Error::InvalidDocument {
            origin: self.origin.to_string(),
            reason,
        }
    }
}
