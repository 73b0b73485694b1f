//! Reading credentials JSON with errors that name the file and the field.

use std::path::Path;

use serde_json::{Map, Value};

use crate::{EndpointPolicy, Error, Secret};

/// Reads and parses a JSON credentials file of at most
/// `MAX_CREDENTIALS_FILE` (1 MiB) bytes; errors name the
/// file and never quote its content.
///
/// ```
/// let e = oauth_core::json::read_file(std::path::Path::new("/no/such/file.json")).unwrap_err();
/// assert!(e.to_string().starts_with("cannot read /no/such/file.json"));
/// ```
pub fn read_file(path: &Path) -> Result<Value, Error> {
    let bytes = crate::fsutil::read_bounded(path, crate::fsutil::MAX_CREDENTIALS_FILE)?;
    parse(&bytes, &path.display().to_string())
}

/// Parses JSON text; `origin` names it in errors.
pub fn parse(bytes: &[u8], origin: &str) -> Result<Value, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::json(origin, &e))
}

/// Reads a credentials file ([`read_file`]) and hands its value, its name and `policy` to
/// `read`: the one body of every file type's `from_file_with`.
///
/// ```
/// let e = oauth_core::json::load_file(std::path::Path::new("/no/such.json"), &Default::default(),
///     oauth_core::AuthorizedUser::from_value_with).unwrap_err();
/// assert!(e.to_string().starts_with("cannot read /no/such.json"));
/// ```
pub fn load_file<T, E: From<Error>>(
    path: &Path,
    policy: &EndpointPolicy,
    read: impl FnOnce(&Value, &str, &EndpointPolicy) -> Result<T, E>,
) -> Result<T, E> {
    let value = read_file(path)?;
    read(&value, &path.display().to_string(), policy)
}

/// Parses credentials JSON ([`parse`]) and hands it to `read` with the default endpoint
/// policy: the one body of every file type's `from_json`.
///
/// ```
/// let e = oauth_core::json::load_json(b"{", "user.json", oauth_core::AuthorizedUser::from_value_with).unwrap_err();
/// assert!(e.to_string().starts_with("user.json"));
/// ```
pub fn load_json<T, E: From<Error>>(
    bytes: &[u8],
    origin: &str,
    read: impl FnOnce(&Value, &str, &EndpointPolicy) -> Result<T, E>,
) -> Result<T, E> {
    let value = parse(bytes, origin)?;
    read(&value, origin, &EndpointPolicy::default())
}

/// A JSON object with the name of where it came from, for field access with good errors.
///
/// ```
/// use oauth_core::json::Fields;
/// let v = serde_json::json!({"installed": {"client_id": "x"}});
/// let top = Fields::new(&v, "secrets.json", "").unwrap();
/// let inner = top.object("installed").unwrap();
/// assert_eq!(inner.required_str("client_id").unwrap(), "x");
/// let e = inner.required_str("token_uri").unwrap_err();
/// assert_eq!(e.to_string(), "secrets.json: missing field `installed.token_uri`");
/// ```
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    origin: &'a str,
    prefix: String,
}

impl<'a> Fields<'a> {
    /// Checks the file's `type`, when it has one: it must be `expected`
    /// ([`Error::UnknownType`] otherwise).
    ///
    /// ```
    /// use oauth_core::json::Fields;
    /// let v = serde_json::json!({"type": "service_account"});
    /// let f = Fields::new(&v, "key.json", "").unwrap();
    /// assert!(f.expect_type("service_account").is_ok());
    /// assert!(f.expect_type("authorized_user").unwrap_err().to_string().contains("service_account"));
    /// ```
    pub fn expect_type(&self, expected: &str) -> Result<(), Error> {
        match self.optional_str("type")? {
            Some(t) if t != expected => Err(Error::UnknownType {
                origin: self.origin.to_owned(),
                found: t.to_owned(),
                supported: expected.to_owned(),
            }),
            _ => Ok(()),
        }
    }

    /// Wraps a value that must be an object; `prefix` is its dotted path ("" at the top).
    pub fn new(value: &'a Value, origin: &'a str, prefix: &str) -> Result<Self, Error> {
        match value.as_object() {
            Some(map) => Ok(Fields {
                map,
                origin,
                prefix: prefix.to_owned(),
            }),
            None => Err(Error::InvalidField {
                origin: origin.to_owned(),
                field: if prefix.is_empty() {
                    "(top level)".into()
                } else {
                    prefix.to_owned()
                },
                reason: "expected a JSON object".into(),
            }),
        }
    }

    /// The underlying map.
    pub fn map(&self) -> &'a Map<String, Value> {
        self.map
    }

    /// The origin (file or value name).
    pub fn origin(&self) -> &'a str {
        self.origin
    }

    /// The dotted name of a field of this object.
    pub fn path(&self, field: &str) -> String {
        if self.prefix.is_empty() {
            field.to_owned()
        } else {
            format!("{}.{field}", self.prefix)
        }
    }

    /// A nested object, its fields named with a dotted prefix in errors.
    pub fn object(&self, field: &str) -> Result<Fields<'a>, Error> {
        let v = self.map.get(field).ok_or_else(|| self.missing(field))?;
        let map = v
            .as_object()
            .ok_or_else(|| self.invalid(field, "expected a JSON object"))?;
        Ok(Fields {
            map,
            origin: self.origin,
            prefix: self.path(field),
        })
    }

    /// An error: the field is missing.
    pub fn missing(&self, field: &str) -> Error {
        Error::MissingField {
            origin: self.origin.to_owned(),
            field: self.path(field),
        }
    }

    /// An error: the field is invalid.
    pub fn invalid(&self, field: &str, reason: &str) -> Error {
        Error::InvalidField {
            origin: self.origin.to_owned(),
            field: self.path(field),
            reason: reason.to_owned(),
        }
    }

    /// An optional string field; present but not a string is an error.
    pub fn optional_str(&self, field: &str) -> Result<Option<&'a str>, Error> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(self.invalid(field, "expected a string")),
        }
    }

    /// A required, non-empty string field.
    pub fn required_str(&self, field: &str) -> Result<&'a str, Error> {
        match self.optional_str(field)? {
            None => Err(self.missing(field)),
            Some("") => Err(self.invalid(field, "is empty")),
            Some(s) => Ok(s),
        }
    }

    /// A required secret field; errors never show the value.
    pub fn required_secret(&self, field: &str) -> Result<Secret, Error> {
        self.required_str(field).map(Secret::from)
    }

    /// An optional secret field.
    pub fn optional_secret(&self, field: &str) -> Result<Option<Secret>, Error> {
        Ok(self
            .optional_str(field)?
            .filter(|s| !s.is_empty())
            .map(Secret::from))
    }

    /// A list of strings, given as a JSON array or as one space-separated string (both
    /// appear in files google-auth reads).
    pub fn string_list(&self, field: &str) -> Result<Option<Vec<String>>, Error> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.split_whitespace().map(str::to_owned).collect())),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| self.invalid(field, "expected a list of strings"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(self.invalid(field, "expected a list of strings")),
        }
    }
}
