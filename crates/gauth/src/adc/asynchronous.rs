//! ADC in the async flavour (`gauth::adc::find`): the files read on tokio's blocking pool,
//! the metadata server asked with reqwest.

use std::sync::Arc;

use oauth_core::flavour::Async;
use oauth_core::run;
use oauth_core::transport::{AsyncHttpClient, ReqwestClient};

use super::{AdcError, AdcOptions, Search, file_step};

/// Credentials found by ADC, with the project, async:
/// [`adc::handle::DefaultCredentials`](super::handle::DefaultCredentials) in the async flavour. The
/// blocking twin is `gauth::blocking::adc::DefaultCredentials`.
pub type DefaultCredentials = super::handle::DefaultCredentials<Async>;

/// `google.auth.default(scopes)` for async programs.
///
/// ```no_run
/// # async fn f() -> Result<(), gauth::adc::AdcError> {
/// let adc = gauth::adc::default_credentials(&["https://www.googleapis.com/auth/cloud-platform"]).await?;
/// let token = adc.credentials.token().await;
/// # Ok(()) }
/// ```
pub async fn default_credentials<S: AsRef<str>>(
    scopes: &[S],
) -> Result<DefaultCredentials, AdcError> {
    find(&AdcOptions::new(scopes)).await
}

/// ADC with options. The file steps (reading the credential files and gcloud's
/// configuration) run on tokio's blocking pool, so the executor's threads are never held
/// by the file system.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use gauth::adc::{AdcEnv, AdcOptions};
/// let env = AdcEnv { no_gce_check: true, ..Default::default() };
/// let e = gauth::adc::find(&AdcOptions::new(&["openid"]).env(env)).await.unwrap_err();
/// assert!(e.to_string().starts_with("no Application Default Credentials found"));
/// # }
/// ```
pub async fn find(options: &AdcOptions) -> Result<DefaultCredentials, AdcError> {
    let (env, files) = off_executor(options.clone()).await?;
    let mut search = Search::new(options, env, files);
    let client: Arc<dyn AsyncHttpClient> = match search.detection_timeout() {
        Some(t) => Arc::new(ReqwestClient::with_timeouts(t, t)),
        None => ReqwestClient::shared(),
    };
    let found = run(client.as_ref(), &mut search).await??;
    Ok(DefaultCredentials::assemble(found, |b, store| {
        b.store(store)
    }))
}

/// [`file_step`] on tokio's blocking pool (inline without a runtime).
async fn off_executor(
    options: AdcOptions,
) -> Result<(super::AdcEnv, Result<super::Found, Vec<String>>), AdcError> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(move || file_step(&options))
            .await
            .map_err(|e| {
                AdcError::from(oauth_core::Error::InvalidRequest(format!(
                    "the ADC file search failed: {e}"
                )))
            })?,
        Err(_) => file_step(&options),
    }
}
