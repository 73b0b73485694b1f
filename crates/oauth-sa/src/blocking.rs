//! The blocking flavour: the same names as the async API at the crate root, on ureq.

use std::sync::Arc;

use oauth_core::blocking::run;
use oauth_core::flavour::Blocking;
use serde_json::{Map, Value};

use crate::Error;
use crate::verify::Certs;

/// The ID token verifier over a blocking client:
/// [`verify::IdTokenVerifier`](crate::verify::IdTokenVerifier) in the blocking flavour. The
/// async twin is [`crate::IdTokenVerifier`].
///
/// ```no_run
/// let verifier = oauth_sa::blocking::IdTokenVerifier::new("https://my-service.example.com");
/// # let token = "";
/// let claims = verifier.verify(token)?;
/// # Ok::<(), oauth_sa::Error>(())
/// ```
pub type IdTokenVerifier = crate::verify::IdTokenVerifier<Blocking>;

impl IdTokenVerifier {
    /// Verifies `token` (signature, issuer, audience, times) and returns its claims,
    /// fetching the certificates when the cache holds none (or lacks the token's key).
    pub fn verify(&self, token: &str) -> Result<Map<String, Value>, Error> {
        let fetch = || -> Result<Arc<Certs>, Error> {
            let fetched = run(self.http.as_ref(), &mut self.certs_exchange())?;
            Ok(self.store_certs(fetched))
        };
        let (certs, cached) = match self.cached_certs() {
            Some(c) => (c, true),
            None => (fetch()?, false),
        };
        let verdict = self.verify_with_certs(token, &certs);
        if self.refetch_for(&verdict, cached) {
            return self.verify_with_certs(token, &*fetch()?);
        }
        verdict
    }
}
