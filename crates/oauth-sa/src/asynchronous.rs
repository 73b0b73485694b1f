//! The async flavour (reqwest): what the crate root names.

use oauth_core::flavour::Async;
use oauth_core::run;
use serde_json::{Map, Value};

use crate::Error;

/// The ID token verifier over an async client:
/// [`verify::IdTokenVerifier`](crate::verify::IdTokenVerifier) in the async flavour. The
/// blocking twin is [`crate::blocking::IdTokenVerifier`].
///
/// ```no_run
/// # async fn f() -> Result<(), oauth_sa::Error> {
/// let verifier = oauth_sa::IdTokenVerifier::new("https://my-service.example.com");
/// # let token = "";
/// let claims = verifier.verify(token).await?;
/// # Ok(()) }
/// ```
pub type IdTokenVerifier = crate::verify::IdTokenVerifier<Async>;

impl IdTokenVerifier {
    /// Verifies `token` (signature, issuer, audience, times) and returns its claims,
    /// fetching the certificates when the cache holds none (or lacks the token's key).
    pub async fn verify(&self, token: &str) -> Result<Map<String, Value>, Error> {
        let (certs, cached) = match self.cached_certs() {
            Some(c) => (c, true),
            None => {
                let fetched = run(self.http.as_ref(), &mut self.certs_exchange()).await?;
                (self.store_certs(fetched), false)
            }
        };
        let verdict = self.verify_with_certs(token, &certs);
        if self.refetch_for(&verdict, cached) {
            let fetched = run(self.http.as_ref(), &mut self.certs_exchange()).await?;
            return self.verify_with_certs(token, &self.store_certs(fetched));
        }
        verdict
    }
}
