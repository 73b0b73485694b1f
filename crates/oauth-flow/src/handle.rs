//! The sign-in handles, written once for both flavours: [`InstalledAppFlow<F>`] and
//! [`DeviceFlow<F>`], named `oauth_flow::InstalledAppFlow` (async) and
//! `oauth_flow::blocking::InstalledAppFlow` by aliases, as oauth-core names
//! `Credentials<F>`.
//!
//! Everything here is flavour-free: building, the transport, the steps before and after
//! the wait. What blocks or awaits (the accept loop, reading the console, running an
//! exchange) is written per flavour in `blocking.rs` and `asynchronous.rs`, a few lines
//! over the flavour's runner.

use std::fmt;
use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;

use oauth_core::flavour::Flavour;
use oauth_core::types::{AuthorizationCode, Scope};
use oauth_core::{ClientSecrets, RetryPolicy, Retrying};

use crate::device::{DeviceCodeCall, DevicePoll};
use crate::server::{MAX_REQUEST_HEAD, RedirectHandler};
use crate::{
    CodeExchange, ConsoleOptions, DeviceAuthorization, DeviceCode, Flow, FlowError,
    LocalServerOptions,
};

/// The installed-application flow (Python's `InstalledAppFlow`): a [`Flow`] with a
/// transport, the loopback redirect server, and the manual mode. Dereferences to the
/// [`Flow`], so its builders and `authorization_url` are at hand.
///
/// Written once for both flavours; use it by its flavour's name:
/// `oauth_flow::InstalledAppFlow` (async, on reqwest and tokio) or
/// `oauth_flow::blocking::InstalledAppFlow` (on ureq and std threads). The methods here
/// work in both; `fetch_token`, `fetch_token_from_redirect`, `run_local_server` and
/// `run_console` are `async` in one and blocking in the other.
///
/// ```no_run
/// # #[cfg(feature = "blocking")] {
/// use oauth_flow::{LocalServerOptions, blocking::InstalledAppFlow};
/// use oauth_core::blocking::Credentials;
/// let mut flow = InstalledAppFlow::from_client_secrets_file("client_secrets.json", ["openid", "email"])?;
/// let user = flow.run_local_server(LocalServerOptions::default())?;   // opens the browser
/// let creds = Credentials::new(user);
/// # }
/// # Ok::<(), oauth_flow::FlowError>(())
/// ```
pub struct InstalledAppFlow<F: Flavour> {
    pub(crate) flow: Flow,
    pub(crate) http: Arc<F::Client>,
}

impl<F: Flavour> fmt::Debug for InstalledAppFlow<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstalledAppFlow")
            .field("flow", &self.flow)
            .finish_non_exhaustive()
    }
}

impl<F: Flavour> std::ops::Deref for InstalledAppFlow<F> {
    type Target = Flow;
    fn deref(&self) -> &Flow {
        &self.flow
    }
}

impl<F: Flavour> std::ops::DerefMut for InstalledAppFlow<F> {
    fn deref_mut(&mut self) -> &mut Flow {
        &mut self.flow
    }
}

impl<F: Flavour> From<Flow> for InstalledAppFlow<F> {
    fn from(flow: Flow) -> Self {
        InstalledAppFlow {
            flow,
            http: F::shared_client(),
        }
    }
}

impl<F: Flavour> InstalledAppFlow<F> {
    /// Reads a client-secrets file.
    ///
    /// ```no_run
    /// # #[cfg(feature = "blocking")] {
    /// let flow = oauth_flow::blocking::InstalledAppFlow::from_client_secrets_file("client_secrets.json", ["openid"])?;
    /// # }
    /// # Ok::<(), oauth_flow::FlowError>(())
    /// ```
    pub fn from_client_secrets_file<I, S>(
        path: impl AsRef<Path>,
        scopes: I,
    ) -> Result<Self, FlowError>
    where
        I: IntoIterator<Item = S>,
        S: Into<Scope>,
    {
        Ok(Flow::from_client_secrets_file(path, scopes)?.into())
    }

    /// A flow for parsed client secrets.
    ///
    /// ```
    /// # #[cfg(feature = "blocking")] {
    /// # let secrets = oauth_core::ClientSecrets::from_json(br#"{"installed": {"client_id": "id",
    /// #     "auth_uri": "https://accounts.google.com/o/oauth2/auth",
    /// #     "token_uri": "https://oauth2.googleapis.com/token"}}"#, "cs.json").unwrap();
    /// let flow = oauth_flow::blocking::InstalledAppFlow::from_client_secrets(secrets, ["openid"]);
    /// assert_eq!(flow.client_id(), "id");
    /// # }
    /// ```
    pub fn from_client_secrets<I, S>(secrets: ClientSecrets, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Scope>,
    {
        Flow::from_client_secrets(secrets, scopes).into()
    }

    /// Uses another transport (the flavour's shared client by default).
    pub fn with_http_client(mut self, http: Arc<F::Client>) -> Self {
        self.http = http;
        self
    }

    /// Changes the flow with one of its builders.
    ///
    /// ```
    /// # #[cfg(feature = "blocking")] {
    /// # let secrets = oauth_core::ClientSecrets::from_json(br#"{"installed": {"client_id": "id",
    /// #     "auth_uri": "https://accounts.google.com/o/oauth2/auth",
    /// #     "token_uri": "https://oauth2.googleapis.com/token"}}"#, "cs.json").unwrap();
    /// let flow = oauth_flow::blocking::InstalledAppFlow::from_client_secrets(secrets, ["openid"])
    ///     .configure(|f| f.with_prompt("consent").with_login_hint("a@example.com"));
    /// # }
    /// ```
    pub fn configure(mut self, f: impl FnOnce(Flow) -> Flow) -> Self {
        self.flow = f(self.flow);
        self
    }

    /// The flow, for saving it.
    pub fn into_flow(self) -> Flow {
        self.flow
    }

    /// The loopback server is listening on `port`: points the flow's redirect there,
    /// builds the authorization URL, shows it, and returns the handler that waits for the
    /// redirect carrying its state.
    pub(crate) fn listening(
        &mut self,
        options: &LocalServerOptions,
        port: u16,
    ) -> Result<RedirectHandler, FlowError> {
        self.flow.set_redirect_uri(options.redirect_uri(port)?);
        let request = self.flow.authorization_url()?;
        let handler =
            RedirectHandler::new("/", request.state.expose(), options.success_message_text());
        options.announce(&request.url);
        Ok(handler)
    }

    /// The manual mode's first half: the redirect URI, the URL shown.
    pub(crate) fn console_started(&mut self, options: &ConsoleOptions) -> Result<(), FlowError> {
        self.flow.set_redirect_uri(options.uri()?);
        let request = self.flow.authorization_url()?;
        options.announce(&request.url);
        Ok(())
    }

    /// The exchange for the code a redirect brought.
    pub(crate) fn exchange_for(&self, code: AuthorizationCode) -> Result<CodeExchange, FlowError> {
        self.flow.code_exchange(code)
    }
}

/// Reads the redirected URL the user pastes (one line, bounded).
pub(crate) fn read_pasted(input: &mut dyn BufRead) -> Result<String, FlowError> {
    use std::io::Read;
    let mut line = String::new();
    input
        .take(MAX_REQUEST_HEAD as u64)
        .read_line(&mut line)
        .map_err(|e| FlowError::io("cannot read the redirected URL", e))?;
    Ok(line.trim().to_owned())
}

/// The device authorization grant (RFC 8628) with a transport: for machines without a
/// browser. Written once for both flavours, named `oauth_flow::DeviceFlow` (async) and
/// `oauth_flow::blocking::DeviceFlow`; `request_code`, `poll` and `run` block or await.
///
/// ```no_run
/// # #[cfg(feature = "blocking")] {
/// use oauth_flow::blocking::DeviceFlow;
/// let device = DeviceFlow::from_client_secrets_file("client_secrets.json", ["openid", "email"])?;
/// let user = device.run(|code| eprintln!("Visit {} and enter {}", code.verification_url, code.user_code))?;
/// # }
/// # Ok::<(), oauth_flow::FlowError>(())
/// ```
pub struct DeviceFlow<F: Flavour> {
    pub(crate) device: DeviceAuthorization,
    pub(crate) http: Arc<F::Client>,
}

impl<F: Flavour> fmt::Debug for DeviceFlow<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceFlow")
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

impl<F: Flavour> From<DeviceAuthorization> for DeviceFlow<F> {
    fn from(device: DeviceAuthorization) -> Self {
        DeviceFlow {
            device,
            http: F::shared_client(),
        }
    }
}

impl<F: Flavour> DeviceFlow<F> {
    /// Reads a client-secrets file (Google's device endpoint).
    ///
    /// ```no_run
    /// # #[cfg(feature = "blocking")] {
    /// let device = oauth_flow::blocking::DeviceFlow::from_client_secrets_file("client_secrets.json", ["openid"])?;
    /// # }
    /// # Ok::<(), oauth_flow::FlowError>(())
    /// ```
    pub fn from_client_secrets_file<I, S>(
        path: impl AsRef<Path>,
        scopes: I,
    ) -> Result<Self, FlowError>
    where
        I: IntoIterator<Item = S>,
        S: Into<Scope>,
    {
        let secrets = ClientSecrets::from_file(path)?;
        Ok(DeviceAuthorization::from_client_secrets(&secrets, scopes).into())
    }

    /// Uses another transport (the flavour's shared client by default).
    pub fn with_http_client(mut self, http: Arc<F::Client>) -> Self {
        self.http = http;
        self
    }

    /// The sans-IO grant this handle runs.
    pub fn authorization(&self) -> &DeviceAuthorization {
        &self.device
    }

    /// The device-code request, retried on transient failures.
    pub(crate) fn code_call(&self) -> Retrying<DeviceCodeCall> {
        Retrying::new(self.device.code_call(), RetryPolicy::default())
    }

    /// Polling for `code`.
    pub(crate) fn poll_exchange(&self, code: &DeviceCode) -> DevicePoll {
        self.device.poll(code)
    }
}
