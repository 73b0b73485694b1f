//! What ADC returns, written once for both flavours (as oauth-core's `handle` module holds
//! `Credentials<F>`); each flavour names it by an alias.

use oauth_core::FileStore;
use oauth_core::flavour::Flavour;
use oauth_core::handle::{Credentials, CredentialsBuilder};

use super::{AdcOrigin, Found};

/// Credentials found by ADC, with the project. Written once for both flavours, named
/// `gauth::adc::DefaultCredentials` (async) and `gauth::blocking::adc::DefaultCredentials`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DefaultCredentials<F: Flavour> {
    /// The handle.
    pub credentials: Credentials<F>,
    /// The project id, when known.
    pub project_id: Option<String>,
    /// Where they were found.
    pub origin: AdcOrigin,
}

impl<F: Flavour> DefaultCredentials<F> {
    /// A handle over what the search found; `store` puts the handle on gauth's store
    /// file when the user was found there.
    #[cfg_attr(not(any(feature = "blocking", feature = "async")), allow(dead_code))]
    pub(crate) fn assemble(
        found: Found,
        store: impl FnOnce(CredentialsBuilder<F>, FileStore) -> CredentialsBuilder<F>,
    ) -> Self {
        let mut builder = Credentials::<F>::builder_from_arc(found.source);
        if let Some(file) = found.store {
            builder = store(builder, file);
        }
        DefaultCredentials {
            credentials: builder.build(),
            project_id: found.project_id,
            origin: found.origin,
        }
    }
}
