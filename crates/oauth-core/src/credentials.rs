//! What the blocking and async credential handles share: the source, the cache, the
//! options, and applying a token to a request.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use http::header::AUTHORIZATION;

use crate::cache::DEFAULT_REFRESH_MARGIN;
use crate::http::HttpRequest;
use crate::source::{RefreshContext, TokenSource};
use crate::{Clock, Error, RetryPolicy, Secret, SystemClock, TokenCache};

/// The quota project header.
pub const QUOTA_PROJECT_HEADER: &str = "x-goog-user-project";

/// Options common to both flavours of credential handle.
///
/// ```
/// use std::time::Duration;
/// use oauth_core::{CredentialsOptions, RetryPolicy};
/// let o = CredentialsOptions::default()
///     .refresh_margin(Duration::from_secs(60))
///     .retry(RetryPolicy::none());
/// # let _ = o;
/// ```
#[derive(Debug, Clone)]
pub struct CredentialsOptions {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) margin: Duration,
    pub(crate) retry: RetryPolicy,
}

impl Default for CredentialsOptions {
    fn default() -> Self {
        CredentialsOptions {
            clock: Arc::new(SystemClock),
            margin: DEFAULT_REFRESH_MARGIN,
            retry: RetryPolicy::default(),
        }
    }
}

impl CredentialsOptions {
    /// The clock that expiry is judged by.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How long before expiry a token is replaced (google-auth's 3 min 45 s by default).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// How failed token requests are retried.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

/// A credential without its transport: the source and its cache.
#[derive(Debug)]
#[cfg_attr(not(any(feature = "blocking", feature = "async")), allow(dead_code))]
pub(crate) struct Core {
    pub(crate) source: Arc<dyn TokenSource>,
    pub(crate) cache: TokenCache,
    pub(crate) ctx: RefreshContext,
}

#[cfg_attr(not(any(feature = "blocking", feature = "async")), allow(dead_code))]
impl Core {
    pub(crate) fn new(source: Arc<dyn TokenSource>, options: CredentialsOptions) -> Self {
        let cache = TokenCache::new(Arc::clone(&options.clock), options.margin);
        if let Some(t) = source.initial_token() {
            cache.seed(t);
        }
        Core {
            source,
            cache,
            ctx: RefreshContext {
                clock: options.clock,
                margin: options.margin,
                retry: options.retry,
            },
        }
    }
}

/// Sets `Authorization: Bearer <token>` (marked sensitive, so HTTP libraries do not log
/// it) and, when there is one, the quota project header.
///
/// ```
/// let mut req = http::Request::new(Vec::new());
/// oauth_core::apply_token(&mut req, &oauth_core::Secret::new("ya29.a"), Some("billing-project")).unwrap();
/// assert_eq!(req.headers()["authorization"], "Bearer ya29.a");
/// assert!(req.headers()["authorization"].is_sensitive());
/// assert_eq!(req.headers()["x-goog-user-project"], "billing-project");
/// ```
pub fn apply_token(
    request: &mut HttpRequest,
    token: &Secret,
    quota_project: Option<&str>,
) -> Result<(), Error> {
    let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose())).map_err(|_| {
        Error::InvalidRequest("the access token holds characters not allowed in a header".into())
    })?;
    value.set_sensitive(true);
    request.headers_mut().insert(AUTHORIZATION, value);
    if let Some(q) = quota_project {
        let v = HeaderValue::try_from(q).map_err(|_| {
            Error::InvalidRequest(format!(
                "quota project `{}` is not a valid header value",
                q.escape_debug()
            ))
        })?;
        request.headers_mut().insert(QUOTA_PROJECT_HEADER, v);
    }
    Ok(())
}

/// The parts of the two credential handles that do not depend on the flavour: the handle and
/// builder types, their constructors and option setters, and the accessors. Each flavour's
/// module invokes it with its client trait and default client, then adds its own `token`,
/// `token_details`, `refresh` and `apply` (the only methods that block or await).
#[cfg(any(feature = "blocking", feature = "async"))]
macro_rules! credentials_handle {
    (
        $(#[$handle_meta:meta])*
        pub struct Credentials;
        $(#[$builder_meta:meta])*
        pub struct CredentialsBuilder;
        client: $client:ident,
        default_client: $default:ty,
        name: $name:literal $(,)?
    ) => {
        $(#[$handle_meta])*
        #[derive(Clone)]
        pub struct Credentials {
            core: Arc<Core>,
            http: Arc<dyn $client>,
        }

        impl std::fmt::Debug for Credentials {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct($name)
                    .field("source", &self.core.source)
                    .finish_non_exhaustive()
            }
        }

        $(#[$builder_meta])*
        pub struct CredentialsBuilder {
            source: Arc<dyn TokenSource>,
            options: CredentialsOptions,
            http: Option<Arc<dyn $client>>,
        }

        impl std::fmt::Debug for CredentialsBuilder {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("CredentialsBuilder")
                    .field("source", &self.source)
                    .field("options", &self.options)
                    .finish_non_exhaustive()
            }
        }

        impl CredentialsBuilder {
            /// The transport (the process-wide shared client by default).
            pub fn http_client(mut self, client: Arc<dyn $client>) -> Self {
                self.http = Some(client);
                self
            }

            /// All options at once.
            pub fn options(mut self, options: CredentialsOptions) -> Self {
                self.options = options;
                self
            }

            /// See [`CredentialsOptions::clock`].
            pub fn clock(mut self, clock: Arc<dyn crate::Clock>) -> Self {
                self.options = self.options.clock(clock);
                self
            }

            /// See [`CredentialsOptions::refresh_margin`].
            pub fn refresh_margin(mut self, margin: std::time::Duration) -> Self {
                self.options = self.options.refresh_margin(margin);
                self
            }

            /// See [`CredentialsOptions::retry`].
            pub fn retry(mut self, retry: crate::RetryPolicy) -> Self {
                self.options = self.options.retry(retry);
                self
            }

            /// The handle.
            pub fn build(self) -> Credentials {
                Credentials {
                    core: Arc::new(Core::new(self.source, self.options)),
                    http: self
                        .http
                        .unwrap_or_else(|| <$default>::shared() as Arc<dyn $client>),
                }
            }
        }

        impl Credentials {
            /// A handle with default options and the shared client.
            pub fn new(source: impl TokenSource) -> Self {
                Self::builder(source).build()
            }

            /// A builder.
            pub fn builder(source: impl TokenSource) -> CredentialsBuilder {
                Self::builder_from_arc(Arc::new(source))
            }

            /// A builder for a source that is already shared.
            pub fn builder_from_arc(source: Arc<dyn TokenSource>) -> CredentialsBuilder {
                CredentialsBuilder {
                    source,
                    options: CredentialsOptions::default(),
                    http: None,
                }
            }

            /// The credential type (`authorized_user`, `service_account`, ...).
            pub fn kind(&self) -> &'static str {
                self.core.source.kind()
            }

            /// The quota project, when set.
            pub fn quota_project_id(&self) -> Option<&str> {
                self.core.source.quota_project_id()
            }

            /// The source as its concrete type, when it is `T`.
            pub fn source<T: TokenSource>(&self) -> Option<&T> {
                self.core.source.as_any().downcast_ref()
            }

            /// The shared source itself, to wrap it in another credential (impersonation,
            /// downscoping) that refreshes through it.
            pub fn source_arc(&self) -> &Arc<dyn TokenSource> {
                &self.core.source
            }

            /// The transport, for API calls over the same connection pool.
            pub fn http_client(&self) -> &Arc<dyn $client> {
                &self.http
            }
        }
    };
}
#[cfg(any(feature = "blocking", feature = "async"))]
pub(crate) use credentials_handle;
