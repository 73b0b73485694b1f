//! Paging through `nextPageToken`, without I/O: which request comes next, when to stop,
//! and where a page keeps its items. The blocking iterator and the async pager drive it.

use crate::Request;

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
/// let first = pages.next_request().unwrap();
/// assert_eq!(first.prepare()?.url, "https://d.googleapis.com/files?alt=json");
/// pages.on_page(&serde_json::json!({"files": [1], "nextPageToken": "t 2"}));
/// assert_eq!(pages.next_request().unwrap().prepare()?.url, "https://d.googleapis.com/files?pageToken=t+2&alt=json");
/// pages.on_page(&serde_json::json!({"files": [2]}));
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
}

impl Pages {
    /// Paging over a method that pages (its response has a page token field and its
    /// parameters or body a `pageToken`); other methods are refused, naming the method.
    pub fn new(request: Request) -> Result<Pages, crate::Error> {
        let Some(p) = request.desc().paging.clone() else {
            return Err(crate::Error::UnknownMethod {
                api: request.api.model.label(),
                name: format!("{} (paged: it has no page token)", request.method_id()),
            });
        };
        Ok(Pages {
            request,
            token: p.token,
            in_body: p.in_body,
            next: p.next,
            pending: false,
            done: false,
        })
    }

    /// The request for the next page, or `None` after the last page.
    pub fn next_request(&mut self) -> Option<Request> {
        if self.done || self.pending {
            return None;
        }
        self.pending = true;
        Some(self.request.clone())
    }

    /// Records a page: its next-page token becomes the next request's page token; a page
    /// without one (or with an empty one) is the last.
    pub fn on_page(&mut self, page: &serde_json::Value) {
        self.pending = false;
        match page.get(&*self.next).and_then(|t| t.as_str()) {
            Some(t) if !t.is_empty() => {
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
