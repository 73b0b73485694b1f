//! Google's partial responses: the `fields` parameter (`id,name`, `files(id,size)`,
//! `files/id`, `*`) parsed into a selection and applied to a JSON answer.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// What to keep of a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selection {
    /// All of it.
    All,
    /// These members of an object (or of each object of an array).
    Some(BTreeMap<String, Selection>),
}

/// Why a `fields` value was refused: the text at fault.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct FieldsError(pub(crate) String);

/// Longest `fields` value read.
const MAX_LEN: usize = 4096;

impl Selection {
    /// Parses a `fields` value.
    pub(crate) fn parse(text: &str) -> Result<Selection, FieldsError> {
        if text.len() > MAX_LEN {
            return Err(FieldsError("the field selection is too long".into()));
        }
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
            depth: 0,
        };
        let sel = p.list()?;
        if p.i != p.s.len() {
            return Err(FieldsError(text.to_owned()));
        }
        Ok(sel)
    }

    /// Checks every top-level name against `known`, and the members under each name
    /// against `nested(name)` where that gives a list.
    pub(crate) fn check(
        &self,
        known: &[&str],
        nested: &dyn Fn(&str) -> Option<&'static [&'static str]>,
    ) -> Result<(), FieldsError> {
        let Selection::Some(map) = self else {
            return Ok(());
        };
        for (name, sub) in map {
            if !known.contains(&name.as_str()) {
                return Err(FieldsError(name.clone()));
            }
            if let Some(inner) = nested(name) {
                sub.check(inner, &|_| None)?;
            }
        }
        Ok(())
    }

    /// The part of `v` this selection keeps.
    pub(crate) fn apply(&self, v: &Value) -> Value {
        match (self, v) {
            (Selection::All, _) => v.clone(),
            (Selection::Some(map), Value::Object(o)) => {
                let mut out = Map::new();
                for (k, sub) in map {
                    if let Some(x) = o.get(k) {
                        out.insert(k.clone(), sub.apply(x));
                    }
                }
                Value::Object(out)
            }
            (Selection::Some(_), Value::Array(items)) => {
                Value::Array(items.iter().map(|x| self.apply(x)).collect())
            }
            (Selection::Some(_), other) => other.clone(),
        }
    }

    fn merge(&mut self, path: &[String], sub: Selection) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        if first == "*" && rest.is_empty() {
            *self = Selection::All;
            return;
        }
        let Selection::Some(map) = self else {
            return;
        };
        let entry = map
            .entry(first.clone())
            .or_insert_with(|| Selection::Some(BTreeMap::new()));
        if rest.is_empty() {
            match (entry, sub) {
                (e, Selection::All) => *e = Selection::All,
                (Selection::Some(mine), Selection::Some(theirs)) => mine.extend(theirs),
                (Selection::All, _) => {}
            }
        } else {
            entry.merge(rest, sub);
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn err(&self) -> FieldsError {
        FieldsError(String::from_utf8_lossy(self.s).into_owned())
    }

    fn skip_ws(&mut self) {
        while self.s.get(self.i).is_some_and(|b| *b == b' ') {
            self.i += 1;
        }
    }

    fn name(&mut self) -> Result<String, FieldsError> {
        self.skip_ws();
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|b| b.is_ascii_alphanumeric() || b"_*.$-@".contains(b))
        {
            self.i += 1;
        }
        if start == self.i {
            return Err(self.err());
        }
        let name = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        self.skip_ws();
        Ok(name)
    }

    fn list(&mut self) -> Result<Selection, FieldsError> {
        self.depth += 1;
        if self.depth > 8 {
            return Err(self.err());
        }
        let mut sel = Selection::Some(BTreeMap::new());
        loop {
            let mut path = vec![self.name()?];
            while self.s.get(self.i) == Some(&b'/') {
                self.i += 1;
                path.push(self.name()?);
            }
            let sub = if self.s.get(self.i) == Some(&b'(') {
                self.i += 1;
                let inner = self.list()?;
                if self.s.get(self.i) != Some(&b')') {
                    return Err(self.err());
                }
                self.i += 1;
                self.skip_ws();
                inner
            } else {
                Selection::All
            };
            sel.merge(&path, sub);
            if self.s.get(self.i) == Some(&b',') {
                self.i += 1;
                continue;
            }
            break;
        }
        self.depth -= 1;
        Ok(sel)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn selections_keep_what_they_name() {
        let v = json!({"kind": "k", "files": [{"id": "1", "name": "a", "size": "3"}], "nextPageToken": "t"});
        let s = Selection::parse("files(id,size),nextPageToken").unwrap();
        assert_eq!(
            s.apply(&v),
            json!({"files": [{"id": "1", "size": "3"}], "nextPageToken": "t"})
        );
        let s = Selection::parse("files/name").unwrap();
        assert_eq!(s.apply(&v), json!({"files": [{"name": "a"}]}));
        assert_eq!(Selection::parse("*").unwrap().apply(&v), v);
        assert_eq!(
            Selection::parse("files(*)").unwrap().apply(&v),
            json!({"files": v["files"]})
        );
        assert_eq!(
            Selection::parse(" id , name ")
                .unwrap()
                .apply(&v["files"][0]),
            json!({"id": "1", "name": "a"})
        );
    }

    #[test]
    fn bad_selections_are_refused() {
        for bad in [
            "",
            "a,",
            "a(b",
            "a)",
            "(a)",
            "a//b",
            "a b",
            &"a(".repeat(20),
        ] {
            assert!(Selection::parse(bad).is_err(), "{bad}");
        }
        assert!(Selection::parse(&"a,".repeat(3000)).is_err());
    }

    #[test]
    fn unknown_names_are_named() {
        let file: &'static [&'static str] = &["id", "name"];
        let nested = |n: &str| (n == "files").then_some(file);
        let s = Selection::parse("files(id,bogus)").unwrap();
        assert_eq!(
            s.check(&["files", "kind"], &nested),
            Err(FieldsError("bogus".into()))
        );
        let s = Selection::parse("kind,files/id").unwrap();
        assert!(s.check(&["files", "kind"], &nested).is_ok());
        assert_eq!(
            Selection::parse("nope").unwrap().check(&["files"], &nested),
            Err(FieldsError("nope".into()))
        );
    }
}
