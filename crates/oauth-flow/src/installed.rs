//! What both flavours of `InstalledAppFlow` share: the options of the loopback server and
//! of the manual mode, and how the authorization URL is shown.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use oauth_core::types::RedirectUrl;
use url::Url;

use crate::FlowError;

/// The default page shown in the browser once the code has arrived.
pub const DEFAULT_SUCCESS_MESSAGE: &str =
    "The authentication flow has completed. You may close this window.";

/// The loopback address the redirect server listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LoopbackHost {
    /// `127.0.0.1`, in the redirect URI too (Google's recommendation).
    #[default]
    Ipv4,
    /// Listens on `127.0.0.1`; the redirect URI says `localhost`.
    Localhost,
    /// `::1`, `[::1]` in the redirect URI.
    Ipv6,
}

impl LoopbackHost {
    /// The address to bind.
    pub fn ip(self) -> IpAddr {
        match self {
            LoopbackHost::Ipv4 | LoopbackHost::Localhost => IpAddr::V4(Ipv4Addr::LOCALHOST),
            LoopbackHost::Ipv6 => IpAddr::V6(Ipv6Addr::LOCALHOST),
        }
    }

    /// The host as written in the redirect URI.
    pub fn uri_host(self) -> &'static str {
        match self {
            LoopbackHost::Ipv4 => "127.0.0.1",
            LoopbackHost::Localhost => "localhost",
            LoopbackHost::Ipv6 => "[::1]",
        }
    }
}

impl std::str::FromStr for LoopbackHost {
    type Err = crate::FlowError;

    /// `127.0.0.1`, `localhost` or `::1` (also `[::1]`); any other host is refused: the
    /// server must never listen beyond loopback.
    ///
    /// ```
    /// use oauth_flow::LoopbackHost;
    /// assert_eq!("::1".parse::<LoopbackHost>().unwrap(), LoopbackHost::Ipv6);
    /// assert!("0.0.0.0".parse::<LoopbackHost>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "127.0.0.1" => Ok(LoopbackHost::Ipv4),
            "localhost" => Ok(LoopbackHost::Localhost),
            "::1" | "[::1]" => Ok(LoopbackHost::Ipv6),
            _ => Err(crate::FlowError::invalid(
                "host",
                "the redirect server listens on loopback only: 127.0.0.1, localhost or ::1",
            )),
        }
    }
}

/// How `InstalledAppFlow::run_local_server` (async, or [`crate::blocking::InstalledAppFlow`])
/// runs.
///
/// Showing the URL: by default the prompt and the URL are written to standard error, each
/// on a line of its own (what Python's `run_local_server` prints), and the browser is
/// opened. [`LocalServerOptions::show_url`] replaces the writing to standard error (a GUI
/// shows the URL its own way; a quiet program passes `|_| {}`), and
/// [`LocalServerOptions::on_url`] adds a function that sees the URL too (a test plays the
/// browser).
///
/// ```
/// use std::time::Duration;
/// use oauth_flow::{LocalServerOptions, LoopbackHost};
/// let o = LocalServerOptions::default()
///     .host(LoopbackHost::Ipv6)
///     .port(8085)
///     .open_browser(false)
///     .timeout(Duration::from_secs(60))
///     .success_message("All set.");
/// assert_eq!(o.redirect_uri(8085).unwrap().as_str(), "http://[::1]:8085/");
/// ```
#[derive(Clone)]
pub struct LocalServerOptions {
    host: LoopbackHost,
    port: u16,
    open_browser: bool,
    success_message: String,
    timeout: Duration,
    prompt: String,
    show_url: Option<UrlCallback>,
    on_url: Option<UrlCallback>,
}

/// A function shown the authorization URL.
type UrlCallback = std::sync::Arc<dyn Fn(&Url) + Send + Sync>;

impl std::fmt::Debug for LocalServerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalServerOptions")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("open_browser", &self.open_browser)
            .field("timeout", &self.timeout)
            .field("show_url", &self.show_url.is_some())
            .field("on_url", &self.on_url.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for LocalServerOptions {
    fn default() -> Self {
        LocalServerOptions {
            host: LoopbackHost::default(),
            port: 0,
            open_browser: true,
            success_message: DEFAULT_SUCCESS_MESSAGE.into(),
            timeout: Duration::from_secs(300),
            prompt: "Please visit this URL to authorize this application:".into(),
            show_url: None,
            on_url: None,
        }
    }
}

impl LocalServerOptions {
    /// The loopback address (127.0.0.1 by default).
    pub fn host(mut self, host: LoopbackHost) -> Self {
        self.host = host;
        self
    }

    /// The port (0, the default, takes any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Whether to open the browser (yes by default); the URL is printed either way.
    pub fn open_browser(mut self, open: bool) -> Self {
        self.open_browser = open;
        self
    }

    /// The text of the page the browser shows once the code has arrived.
    pub fn success_message(mut self, message: impl Into<String>) -> Self {
        self.success_message = message.into();
        self
    }

    /// How long to wait for the redirect (5 minutes by default; at most
    /// [`MAX_TIMEOUT`](oauth_core::clock::MAX_TIMEOUT), a longer wait is clamped to it).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = oauth_core::clock::clamp_timeout(timeout);
        self
    }

    /// The line printed to stderr before the URL (the URL follows on a line of its own).
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = prompt.into();
        self
    }

    /// Shows the authorization URL with `f` instead of writing the prompt and the URL to
    /// standard error (the default).
    ///
    /// ```
    /// // A program that shows nothing: the browser is opened, or another hook plays it.
    /// let o = oauth_flow::LocalServerOptions::default().show_url(|_| {});
    /// ```
    pub fn show_url(mut self, f: impl Fn(&Url) + Send + Sync + 'static) -> Self {
        self.show_url = Some(std::sync::Arc::new(f));
        self
    }

    /// Also hands the authorization URL to `f` once the server listens (a GUI shows it
    /// its own way; a test plays the browser).
    ///
    /// ```
    /// let o = oauth_flow::LocalServerOptions::default().on_url(|url| eprintln!("go to {url}"));
    /// ```
    pub fn on_url(mut self, f: impl Fn(&Url) + Send + Sync + 'static) -> Self {
        self.on_url = Some(std::sync::Arc::new(f));
        self
    }

    /// The socket address to bind.
    pub fn bind_address(&self) -> SocketAddr {
        SocketAddr::new(self.host.ip(), self.port)
    }

    /// The redirect URI for the port actually bound.
    pub fn redirect_uri(&self, port: u16) -> Result<RedirectUrl, FlowError> {
        format!("http://{}:{port}/", self.host.uri_host())
            .parse()
            .map_err(FlowError::from)
    }

    pub(crate) fn success_message_text(&self) -> &str {
        &self.success_message
    }

    pub(crate) fn wait(&self) -> Duration {
        oauth_core::clock::clamp_timeout(self.timeout)
    }

    /// Shows the URL (to stderr unless [`LocalServerOptions::show_url`] says otherwise)
    /// and opens the browser (unless told not to).
    pub(crate) fn announce(&self, url: &Url) {
        match &self.show_url {
            Some(show) => show(url),
            None => to_stderr(&format!("{}\n{url}\n", self.prompt)),
        }
        if let Some(f) = &self.on_url {
            f(url);
        }
        if self.open_browser
            && let Err(e) = webbrowser::open(url.as_str())
        {
            tracing::info!(error = %e, "cannot open a browser; open the URL printed above");
        }
    }
}

/// How the manual mode (`run_console`) runs: for a machine where the browser is elsewhere
/// (an SSH session). The user opens the URL on any machine, signs in, and pastes the URL
/// the browser was sent to (the page itself fails to load, which is expected).
///
/// By default the prompt and the URL are written to standard error, then
/// `Redirected URL: `; [`ConsoleOptions::show_url`] replaces that.
///
/// ```
/// let o = oauth_flow::ConsoleOptions::default().redirect_uri("http://127.0.0.1:8085/".parse()?);
/// # Ok::<(), oauth_core::Error>(())
/// ```
#[derive(Clone)]
pub struct ConsoleOptions {
    redirect_uri: Option<RedirectUrl>,
    prompt: String,
    show_url: Option<UrlCallback>,
}

impl std::fmt::Debug for ConsoleOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleOptions")
            .field("redirect_uri", &self.redirect_uri)
            .field("show_url", &self.show_url.is_some())
            .finish_non_exhaustive()
    }
}

/// The console's redirect URI by default: loopback, a port nothing listens on.
const CONSOLE_REDIRECT_URI: &str = "http://127.0.0.1:1/";

impl Default for ConsoleOptions {
    fn default() -> Self {
        ConsoleOptions {
            redirect_uri: None,
            show_url: None,
            prompt: "Please visit this URL to authorize this application, then paste the URL \
                     your browser was sent to (its page will fail to load; that is expected):"
                .into(),
        }
    }
}

impl ConsoleOptions {
    /// The redirect URI (a loopback URI nothing listens on, by default).
    pub fn redirect_uri(mut self, uri: RedirectUrl) -> Self {
        self.redirect_uri = Some(uri);
        self
    }

    /// Shows the authorization URL with `f` instead of writing it to standard error.
    ///
    /// ```
    /// let o = oauth_flow::ConsoleOptions::default().show_url(|url| println!("{url}"));
    /// ```
    pub fn show_url(mut self, f: impl Fn(&Url) + Send + Sync + 'static) -> Self {
        self.show_url = Some(std::sync::Arc::new(f));
        self
    }

    /// The text printed before the URL.
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = prompt.into();
        self
    }

    pub(crate) fn uri(&self) -> Result<RedirectUrl, FlowError> {
        match &self.redirect_uri {
            Some(uri) => Ok(uri.clone()),
            None => CONSOLE_REDIRECT_URI.parse().map_err(FlowError::from),
        }
    }

    pub(crate) fn announce(&self, url: &Url) {
        match &self.show_url {
            Some(show) => show(url),
            None => to_stderr(&format!("{}\n{url}\nRedirected URL: ", self.prompt)),
        }
    }
}

/// The default way a URL is shown: written to standard error in one write (a closed or
/// full stderr is not the sign-in's failure).
fn to_stderr(text: &str) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}
