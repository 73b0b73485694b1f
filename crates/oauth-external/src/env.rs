//! The environment variables the credential sources read, injectable for tests.

use std::fmt;
use std::sync::Arc;

/// Where `AWS_*` and `GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES` are read from: the process
/// environment by default, read at each refresh as google-auth does.
///
/// Setting variables is `unsafe` in edition 2024 (and unsafe code is forbidden here), so
/// tests and programs that keep their own configuration hand in a lookup instead.
///
/// ```
/// use oauth_external::Environment;
/// let env = Environment::from_pairs([("AWS_REGION", "us-east-2")]);
/// assert_eq!(env.get("AWS_REGION").as_deref(), Some("us-east-2"));
/// assert_eq!(env.get("AWS_DEFAULT_REGION"), None);
/// assert_eq!(format!("{env:?}"), "Environment");
/// ```
#[derive(Clone)]
pub struct Environment(Arc<Lookup>);

type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

impl Environment {
    /// The process environment (variables that are not valid Unicode count as unset).
    pub fn process() -> Self {
        Environment(Arc::new(|k| std::env::var(k).ok()))
    }

    /// A lookup function.
    pub fn from_fn(f: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Environment(Arc::new(f))
    }

    /// A fixed set of variables; every other one is unset.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let map: std::collections::HashMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Environment(Arc::new(move |k| map.get(k).cloned()))
    }

    /// The variable's value, `None` when unset.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
    }
}

impl Default for Environment {
    fn default() -> Self {
        Environment::process()
    }
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values hold AWS secret keys: never shown.
        f.write_str("Environment")
    }
}
