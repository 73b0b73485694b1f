//! Paging through `nextPageToken`, without I/O: which request comes next, when to stop,
//! and where a page keeps its items. The blocking iterator and the async pager drive it.
//!
//! Paging always ends: a page without a next-page token is the last, a token the server
//! already sent is [`Error::RepeatedPageToken`] (a server looping between pages), and a
//! listing longer than the page limit ([`crate::CallOptions::max_pages`], 10,000 pages by
//! default) is [`Error::TooManyPages`]. Each error comes as the item after the last good
//! page; then the listing is over.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};

use crate::exchange::DEFAULT_MAX_PAGES;
use crate::{Error, ParamValue, Request};

/// The paging state of one listing.
///
/// ```
/// # let doc = br#"{"name":"d","version":"v1","rootUrl":"https://d.googleapis.com/","servicePath":"",
/// #  "schemas":{"L":{"properties":{"nextPageToken":{"type":"string"},"files":{"type":"array"}}}},
/// #  "methods":{"list":{"path":"files","httpMethod":"GET","parameters":{"pageToken":{"type":"string","location":"query"}},
/// #  "response":{"$ref":"L"}}}}"#;
/// use discovery_client::paging::Pages;
/// let api = discovery_client::Api::from_document(doc)?;
/// let mut pages = Pages::new(api.method("list")?)?;
/// assert_eq!(pages.items_field(), Some("files"));
/// let first = pages.next_request().unwrap()?;
/// assert_eq!(first.prepare()?.url, "https://d.googleapis.com/files?alt=json");
/// pages.on_page(&serde_json::json!({"files": [1], "nextPageToken": "t 2"}));
/// assert_eq!(pages.next_request().unwrap()?.prepare()?.url, "https://d.googleapis.com/files?pageToken=t+2&alt=json");
/// pages.on_page(&serde_json::json!({"files": [2]}));
/// assert!(pages.next_request().is_none());
///
/// // A server that sends a token again would loop forever: a typed error ends it.
/// let mut pages = Pages::new(api.method("list")?)?;
/// pages.next_request();
/// pages.on_page(&serde_json::json!({"nextPageToken": "a"}));
/// pages.next_request();
/// pages.on_page(&serde_json::json!({"nextPageToken": "a"}));
/// assert!(matches!(pages.next_request(), Some(Err(discovery_client::Error::RepeatedPageToken { .. }))));
/// assert!(pages.next_request().is_none());
/// # Ok::<(), discovery_client::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Pages {
    request: Request,
    token: Box<str>,
    in_body: bool,
    next: Box<str>,
    pending: bool,
    done: bool,
    /// Pages received so far.
    fetched: usize,
    max_pages: usize,
    /// Hashes of every page token used (keyed per listing; a token itself may be large).
    seen: HashSet<u64>,
    hasher: RandomState,
    /// An error to hand out as the next item (then the listing is over).
    failed: Option<Error>,
}

impl Pages {
    /// Paging over a method that pages (its response has a page token field and its
    /// parameters or body a `pageToken`); other methods are refused, naming the method.
    /// At most [`DEFAULT_MAX_PAGES`] pages (see [`Pages::with_max_pages`]).
    pub fn new(request: Request) -> Result<Pages, crate::Error> {
        let Some(p) = request.desc().paging.clone() else {
            return Err(crate::Error::UnknownMethod {
                api: request.api.model.label(),
                name: format!("{} (paged: it has no page token)", request.method_id()),
            });
        };
        let mut pages = Pages {
            request,
            token: p.token,
            in_body: p.in_body,
            next: p.next,
            pending: false,
            done: false,
            fetched: 0,
            max_pages: DEFAULT_MAX_PAGES,
            seen: HashSet::new(),
            hasher: RandomState::new(),
            failed: None,
        };
        // A listing that starts from a token of the caller's must not come back to it.
        let start = if pages.in_body {
            pages
                .request
                .body
                .as_ref()
                .and_then(|b| b.get(&*pages.token))
                .and_then(|t| t.as_str())
                .map(str::to_owned)
        } else {
            pages
                .request
                .params
                .iter()
                .find(|(n, _, _)| **n == *pages.token)
                .and_then(|(_, v, _)| match v {
                    ParamValue::Str(s) => Some(s.clone()),
                    _ => None,
                })
        };
        if let Some(t) = start {
            let h = pages.hasher.hash_one(t.as_str());
            pages.seen.insert(h);
        }
        Ok(pages)
    }

    /// Bounds the listing to `pages` pages: asking for one more is
    /// [`Error::TooManyPages`].
    pub fn with_max_pages(mut self, pages: usize) -> Self {
        self.max_pages = pages;
        self
    }

    /// The request for the next page; `None` after the last page (or while a page is
    /// awaited); an error once when paging cannot go on (a repeated token, the page
    /// limit), then `None`.
    pub fn next_request(&mut self) -> Option<Result<Request, Error>> {
        if let Some(e) = self.failed.take() {
            self.done = true;
            return Some(Err(e));
        }
        if self.done || self.pending {
            return None;
        }
        if self.fetched >= self.max_pages {
            self.done = true;
            return Some(Err(Error::TooManyPages {
                method: self.request.method_id().to_owned(),
                limit: self.max_pages,
            }));
        }
        self.pending = true;
        Some(Ok(self.request.clone()))
    }

    /// Records a page: its next-page token becomes the next request's page token; a page
    /// without one (or with an empty one) is the last; a token seen before makes the
    /// next item [`Error::RepeatedPageToken`].
    pub fn on_page(&mut self, page: &serde_json::Value) {
        self.pending = false;
        self.fetched = self.fetched.saturating_add(1);
        match page.get(&*self.next).and_then(|t| t.as_str()) {
            Some(t) if !t.is_empty() => {
                if !self.seen.insert(self.hasher.hash_one(t)) {
                    self.failed = Some(Error::RepeatedPageToken {
                        method: self.request.method_id().to_owned(),
                    });
                    return;
                }
                if self.in_body {
                    let mut body = self
                        .request
                        .body
                        .take()
                        .unwrap_or_else(|| serde_json::json!({}));
                    if let Some(obj) = body.as_object_mut() {
                        obj.insert(self.token.to_string(), t.into());
                    }
                    self.request.body = Some(body);
                } else {
                    let token = self.token.to_string();
                    self.request.set_param(&token, t.into());
                }
            }
            _ => self.done = true,
        }
    }

    /// Marks the listing finished (after an error).
    pub fn finish(&mut self) {
        self.done = true;
        self.pending = false;
        self.failed = None;
    }

    /// Pages received so far.
    pub fn pages_fetched(&self) -> usize {
        self.fetched
    }

    /// The field of a page that holds its items: `items` when the response has it,
    /// else the response schema's first list field.
    pub fn items_field(&self) -> Option<&str> {
        let arrays = &self.request.desc().response_arrays;
        arrays
            .iter()
            .find(|a| &***a == "items")
            .or_else(|| arrays.first())
            .map(|a| &**a)
    }

    /// The items of one page.
    pub fn items_of(&self, page: &serde_json::Value) -> Vec<serde_json::Value> {
        self.items_field()
            .and_then(|f| page.get(f))
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Api;

    const DOC: &[u8] = br#"{"name":"d","version":"v1","rootUrl":"https://d.googleapis.com/","servicePath":"",
      "schemas":{"L":{"properties":{"nextPageToken":{"type":"string"},"items":{"type":"array"}}},
                 "Q":{"properties":{"pageToken":{"type":"string"}}}},
      "methods":{"list":{"id":"d.list","path":"files","httpMethod":"GET",
        "parameters":{"pageToken":{"type":"string","location":"query"}},"response":{"$ref":"L"}},
        "search":{"id":"d.search","path":"search","httpMethod":"POST","request":{"$ref":"Q"},"response":{"$ref":"L"}}}}"#;

    fn next(p: &mut Pages) -> Option<Result<Request, Error>> {
        p.next_request()
    }

    #[test]
    fn a_token_sent_again_ends_paging_with_an_error_even_after_a_cycle() {
        let api = Api::from_document(DOC).unwrap();
        for method in ["list", "search"] {
            let mut p = Pages::new(api.method(method).unwrap()).unwrap();
            for t in ["a", "b", "c"] {
                assert!(next(&mut p).unwrap().is_ok());
                p.on_page(&serde_json::json!({ "nextPageToken": t }));
            }
            assert!(next(&mut p).unwrap().is_ok());
            p.on_page(&serde_json::json!({ "nextPageToken": "a" }));
            let e = next(&mut p).unwrap().unwrap_err();
            assert!(
                matches!(&e, Error::RepeatedPageToken { method: m } if m.starts_with("d.")),
                "{e}"
            );
            assert!(next(&mut p).is_none(), "then the listing is over");
            assert_eq!(p.pages_fetched(), 4);
        }
        // A listing that starts at a token of the caller's may not come back to it.
        let mut p = Pages::new(api.method("list").unwrap().param("pageToken", "start")).unwrap();
        assert!(next(&mut p).unwrap().is_ok());
        p.on_page(&serde_json::json!({ "nextPageToken": "start" }));
        assert!(matches!(
            next(&mut p),
            Some(Err(Error::RepeatedPageToken { .. }))
        ));
    }

    #[test]
    fn the_page_limit_bounds_an_endless_listing() {
        let api = Api::from_document(DOC).unwrap();
        let mut p = Pages::new(api.method("list").unwrap())
            .unwrap()
            .with_max_pages(3);
        for i in 0..3 {
            assert!(next(&mut p).unwrap().is_ok());
            p.on_page(&serde_json::json!({ "nextPageToken": format!("t{i}") }));
        }
        assert!(matches!(
            next(&mut p),
            Some(Err(Error::TooManyPages { limit: 3, .. }))
        ));
        assert!(next(&mut p).is_none());
        // A listing that ends at the limit is no error.
        let mut p = Pages::new(api.method("list").unwrap())
            .unwrap()
            .with_max_pages(1);
        assert!(next(&mut p).unwrap().is_ok());
        p.on_page(&serde_json::json!({ "items": [] }));
        assert!(next(&mut p).is_none());
        // The default is 10,000 pages.
        let mut p = Pages::new(api.method("list").unwrap()).unwrap();
        let mut pages = 0;
        while let Some(r) = next(&mut p) {
            if r.is_err() {
                break;
            }
            pages += 1;
            p.on_page(&serde_json::json!({ "nextPageToken": pages.to_string() }));
        }
        assert_eq!(pages, DEFAULT_MAX_PAGES);
    }
}
