//! Schema walking: of a request or response schema only the facts paging needs (a page
//! token field, the list fields), read without building the schema.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};

use super::model::Model;
use crate::Error;

/// Facts about a schema that paging needs.
#[derive(Debug, Default, Clone)]
pub(crate) struct SchemaFacts {
    pub(crate) page_token: bool,
    pub(crate) next_page_token: bool,
    /// Properties of type `array`, in document order.
    pub(crate) arrays: Vec<Box<str>>,
}

/// A method's `request` or `response`: a schema by name, or an inline one.
#[derive(Deserialize)]
pub(super) struct RawRef {
    #[serde(rename = "$ref")]
    reference: Option<String>,
    #[serde(default)]
    pub(super) required: bool,
    /// An inline schema's page facts.
    #[serde(default)]
    properties: Option<Properties>,
}

impl Model {
    /// The paging facts of a request or response: its schema's, read on first use.
    pub(super) fn facts(&self, r: Option<&RawRef>) -> Result<Option<SchemaFacts>, Error> {
        let Some(r) = r else { return Ok(None) };
        match &r.reference {
            Some(name) => {
                let Some(&(start, end)) = self.schemas.get(&self.doc, name) else {
                    return Ok(None);
                };
                let bytes = self.doc.as_bytes().get(start..end).unwrap_or_default();
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
