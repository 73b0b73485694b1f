//! A method's JSON read into its [`MethodDesc`] on first use: parameters (their patterns
//! shared per API), googleapiclient's required order, paging and media facts.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, de};

use super::model::{
    Location, MediaUpload, MethodDesc, MethodEntry, Model, Paging, Param, STACK_PARAMS,
};
use super::pattern::Pattern;
use super::schema::{RawRef, SchemaFacts};
use crate::Error;
use crate::template::Template;
use crate::value::ParamType;

impl Model {
    /// The method at `entry`, read from its span of the document.
    pub(super) fn parse_method(&self, entry: &MethodEntry) -> Result<MethodDesc, Error> {
        let path = &*entry.path;
        let bytes = self
            .doc
            .as_bytes()
            .get(entry.span.0..entry.span.1)
            .unwrap_or_default();
        let m: RawMethod = serde_json::from_slice(bytes).map_err(|e| {
            self.invalid(format!(
                "method `{path}`: {}",
                oauth_core::Error::json("document", &e)
            ))
        })?;
        self.build_method(path, m)
    }

    /// The method's description: checked names, parameters, paging and media.
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
        let params = {
            let mut patterns = self.patterns.lock().unwrap_or_else(|e| e.into_inner());
            params(m.parameters, &mut patterns)
        };
        let template = Template::parse(&url_path);
        let takes_body = matches!(verb.as_str(), "PUT" | "POST" | "PATCH") && m.request.is_some();
        let body_required = takes_body && m.request.as_ref().is_some_and(|r| r.required);
        let required = self.required(&params, body_required);
        let response = self.facts(m.response.as_ref())?;
        let paging = match &response {
            Some(resp) => self.paging(resp, &params, m.request.as_ref())?,
            None => None,
        };
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
            required,
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

    /// The required parameters in googleapiclient's view (globals and stack parameters
    /// override the method's own), sorted, with `body` when the body is required.
    fn required(&self, params: &[(Box<str>, Param)], body_required: bool) -> Box<[Box<str>]> {
        let mut required: Vec<Box<str>> = Vec::new();
        for (n, p) in params {
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
        required.into()
    }

    /// How the method pages, when its response names a next page: the token as a
    /// parameter of the method, else as a field of its request body.
    fn paging(
        &self,
        response: &SchemaFacts,
        params: &[(Box<str>, Param)],
        request: Option<&RawRef>,
    ) -> Result<Option<Paging>, Error> {
        let next = if response.page_token {
            "pageToken"
        } else if response.next_page_token {
            "nextPageToken"
        } else {
            return Ok(None);
        };
        let in_params = |n: &str| params.iter().any(|(p, _)| &**p == n);
        let found = if in_params("pageToken") {
            Some(("pageToken", false))
        } else if in_params("nextPageToken") {
            Some(("nextPageToken", false))
        } else {
            match self.facts(request)? {
                Some(req) if req.page_token => Some(("pageToken", true)),
                Some(req) if req.next_page_token => Some(("nextPageToken", true)),
                _ => None,
            }
        };
        Ok(found.map(|(t, in_body)| Paging {
            token: t.into(),
            in_body,
            next: next.into(),
        }))
    }
}

/// A method as the document describes it (only what is kept).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMethod {
    id: Option<String>,
    path: Option<String>,
    http_method: Option<String>,
    #[serde(default)]
    parameters: Entries<RawParam>,
    request: Option<RawRef>,
    response: Option<RawRef>,
    #[serde(default)]
    supports_media_download: bool,
    media_upload: Option<RawMediaUpload>,
    api_version: Option<String>,
}

/// A method's `mediaUpload`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMediaUpload {
    #[serde(default)]
    accept: Vec<String>,
    max_size: Option<String>,
}

/// A parameter as the document describes it.
#[derive(Deserialize)]
pub(super) struct RawParam {
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

/// The parameters of a method (or of the API), sorted by name, each pattern shared with
/// every other use of the same pattern.
pub(super) fn params(
    raw: Entries<RawParam>,
    patterns: &mut HashMap<Box<str>, Arc<Pattern>>,
) -> Vec<(Box<str>, Param)> {
    raw.sorted()
        .into_iter()
        .map(|(k, v)| (k.into(), v.into_param(patterns)))
        .collect()
}

/// A JSON object's entries in document order: a map without hashing (the few parameters
/// of a method, an API's scopes), sorted once it is read.
pub(super) struct Entries<T>(Vec<(String, T)>);

impl<T> Default for Entries<T> {
    fn default() -> Self {
        Entries(Vec::new())
    }
}

impl<T> Entries<T> {
    /// The entries sorted by name; of a repeated name the last is kept, as a map would.
    pub(super) fn sorted(mut self) -> Vec<(String, T)> {
        super::model::sort_last_wins(&mut self.0, |a, b| a.0.cmp(&b.0));
        self.0
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Entries<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> de::Visitor<'de> for V<T> {
            type Value = Entries<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Entries<T>, A::Error> {
                let mut v = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
                while let Some(entry) = map.next_entry()? {
                    v.push(entry);
                }
                Ok(Entries(v))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_sizes_follow_googleapiclient() {
        assert_eq!(media_size("5MB"), 5 << 20);
        assert_eq!(media_size("10GB"), 10 << 30);
        assert_eq!(media_size("1024"), 1024);
        assert_eq!(media_size(""), 0);
        assert_eq!(media_size("xxGB"), u64::MAX);
    }
}
