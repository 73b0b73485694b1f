//! ADC in the blocking flavour: `gauth::blocking::adc`, the same names as `gauth::adc`.

use std::sync::Arc;

use oauth_core::blocking::run;
use oauth_core::flavour::Blocking;
use oauth_core::transport::{HttpClient, UreqClient};

use super::{AdcError, AdcOptions, Search, file_step};

/// Credentials found by ADC, with the project:
/// [`adc::handle::DefaultCredentials`](crate::adc::handle::DefaultCredentials) in the blocking flavour.
pub type DefaultCredentials = super::handle::DefaultCredentials<Blocking>;

/// `google.auth.default(scopes)`: the process environment, Google's defaults.
///
/// ```no_run
/// let adc = gauth::blocking::adc::default_credentials(&["https://www.googleapis.com/auth/cloud-platform"])?;
/// let token = adc.credentials.token()?;
/// # Ok::<(), gauth::adc::AdcError>(())
/// ```
pub fn default_credentials<S: AsRef<str>>(scopes: &[S]) -> Result<DefaultCredentials, AdcError> {
    find(&AdcOptions::new(scopes))
}

/// ADC with options.
///
/// ```
/// use gauth::adc::{AdcEnv, AdcOptions};
/// let env = AdcEnv { no_gce_check: true, ..Default::default() };
/// let e = gauth::blocking::adc::find(&AdcOptions::new(&["openid"]).env(env)).unwrap_err();
/// assert!(e.to_string().starts_with("no Application Default Credentials found"));
/// ```
pub fn find(options: &AdcOptions) -> Result<DefaultCredentials, AdcError> {
    let (env, files) = file_step(options)?;
    let mut search = Search::new(options, env, files);
    let client: Arc<dyn HttpClient> = match search.detection_timeout() {
        Some(t) => Arc::new(UreqClient::with_timeouts(t, t)),
        None => UreqClient::shared(),
    };
    let found = run(client.as_ref(), &mut search)??;
    Ok(DefaultCredentials::assemble(found, |b, store| {
        b.store(store)
    }))
}
