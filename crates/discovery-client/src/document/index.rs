//! The one pass over a document: the API's own fields, the resource tree with each
//! method's span, and each schema's span; nothing below a method or schema is parsed here.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::method::{Entries, RawParam};
use super::model::{MethodEntry, Name, NameMap, Names, ResourceDesc, Span};
use crate::Error;

/// The document's `auth`: only its OAuth scopes are read.
#[derive(Deserialize)]
struct RawAuth {
    #[serde(default)]
    oauth2: Option<RawOauth2>,
}

#[derive(Deserialize)]
struct RawOauth2 {
    #[serde(default)]
    scopes: Entries<IgnoredAny>,
}

/// What one pass over the document collects: the API's own fields, the resource tree
/// with each method's span, and each schema's span.
pub(super) struct Index {
    /// Where the document starts in memory, to turn borrowed slices into spans.
    base: usize,
    len: usize,
    pub(super) methods: Vec<MethodEntry>,
    pub(super) resources: Vec<ResourceDesc>,
    pub(super) by_path: NameMap<Arc<str>, usize>,
    pub(super) schemas: Names<Span>,
    pub(super) name: Option<String>,
    pub(super) version: Option<String>,
    pub(super) root_url: Option<Option<String>>,
    pub(super) service_path: Option<String>,
    pub(super) batch_path: Option<Option<String>>,
    pub(super) features: Option<Vec<String>>,
    pub(super) parameters: Option<Entries<RawParam>>,
    auth: Option<Option<RawAuth>>,
    /// A buffer for joining method paths.
    scratch: String,
}

impl Index {
    /// Reads the document in one pass; an error names the document.
    pub(super) fn read(text: &str, origin: &str) -> Result<Index, Error> {
        let mut ix = Index {
            base: text.as_ptr() as usize,
            len: text.len(),
            methods: Vec::new(),
            resources: vec![ResourceDesc::default()],
            by_path: NameMap::default(),
            schemas: Names::default(),
            name: None,
            version: None,
            root_url: None,
            service_path: None,
            batch_path: None,
            features: None,
            parameters: None,
            auth: None,
            scratch: String::new(),
        };
        let mut de = serde_json::Deserializer::from_str(text);
        DocSeed(&mut ix)
            .deserialize(&mut de)
            .and_then(|()| de.end())
            .map_err(|e| Error::InvalidDocument {
                origin: origin.to_owned(),
                reason: oauth_core::Error::json("document", &e).to_string(),
            })?;
        ix.schemas.finish(text);
        for r in &mut ix.resources {
            r.methods.finish(text);
        }
        Ok(ix)
    }

    /// The API's OAuth scopes, sorted.
    pub(super) fn scopes(&mut self) -> Vec<String> {
        self.auth
            .take()
            .flatten()
            .and_then(|a| a.oauth2)
            .map(|o| o.scopes.sorted().into_iter().map(|(k, _)| k).collect())
            .unwrap_or_default()
    }

    fn span(&self, raw: &RawValue) -> Span {
        self.span_of(raw.get()).unwrap_or((0, 0))
    }

    /// Where `text` is in the document, when it is a slice of it.
    fn span_of(&self, text: &str) -> Option<Span> {
        let start = (text.as_ptr() as usize).wrapping_sub(self.base);
        let end = start.checked_add(text.len())?;
        (end <= self.len).then_some((start, end))
    }

    /// A key read from the document: where it is (no copy), unless the JSON escaped it.
    fn name(&self, key: &str) -> Name {
        match self.span_of(key) {
            Some(span) => Name::At(span),
            None => Name::Owned(key.into()),
        }
    }

    fn join(prefix: &str, name: &str) -> String {
        let mut path = String::new();
        Self::push_joined(&mut path, prefix, name);
        path
    }

    /// Appends `prefix.name` (or `name` at the top) to `path`.
    fn push_joined(path: &mut String, prefix: &str, name: &str) {
        if !prefix.is_empty() {
            path.push_str(prefix);
            path.push('.');
        }
        path.push_str(name);
    }

    fn add_method(&mut self, resource: usize, prefix: &str, name: &str, raw: &RawValue) {
        // Joined in a reused buffer: one allocation per path, the `Arc` itself.
        self.scratch.clear();
        Self::push_joined(&mut self.scratch, prefix, name);
        let path: Arc<str> = Arc::from(self.scratch.as_str());
        let span = self.span(raw);
        let mi = self.methods.len();
        self.methods.push(MethodEntry {
            path: path.clone(),
            span,
            desc: OnceLock::new(),
        });
        self.by_path.insert(path, mi);
        let name = self.name(name);
        self.resources[resource].methods.push(name, mi);
    }
}

/// A map key, borrowed from the document unless the JSON escaped it (serde's own
/// `Cow<str>` always copies).
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
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
        while let Some(name) = map.next_key_seed(KeySeed)? {
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
        while let Some(name) = map.next_key_seed(KeySeed)? {
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
        while let Some(key) = map.next_key_seed(KeySeed)? {
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
        while let Some(name) = map.next_key_seed(KeySeed)? {
            let raw = map.next_value::<&'de RawValue>()?;
            let (name, span) = (self.0.name(&name), self.0.span(raw));
            self.0.schemas.push(name, span);
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
        while let Some(key) = map.next_key_seed(KeySeed)? {
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
