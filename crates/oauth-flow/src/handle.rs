//! The flavour-independent half of the two `InstalledAppFlow` handles.

/// Writes an `InstalledAppFlow` type for one flavour: the struct (a [`crate::Flow`] plus a
/// transport), `Debug`, `Deref`/`DerefMut` to the flow, `From<Flow>`, the constructors and
/// the builders. Each flavour then adds the methods that block or await.
macro_rules! installed_app_flow {
    (
        $(#[$meta:meta])*
        client: $client:ident,
        default_client: $default:ty,
        path: $path:literal $(,)?
    ) => {
        $(#[$meta])*
        pub struct InstalledAppFlow {
            flow: Flow,
            http: Arc<dyn $client>,
        }

        impl std::fmt::Debug for InstalledAppFlow {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct($path)
                    .field("flow", &self.flow)
                    .finish_non_exhaustive()
            }
        }

        impl std::ops::Deref for InstalledAppFlow {
            type Target = Flow;
            fn deref(&self) -> &Flow {
                &self.flow
            }
        }

        impl std::ops::DerefMut for InstalledAppFlow {
            fn deref_mut(&mut self) -> &mut Flow {
                &mut self.flow
            }
        }

        impl From<Flow> for InstalledAppFlow {
            fn from(flow: Flow) -> Self {
                InstalledAppFlow {
                    flow,
                    http: <$default>::shared(),
                }
            }
        }

        impl InstalledAppFlow {
            /// Reads a client-secrets file.
            pub fn from_client_secrets_file<I, S>(
                path: impl AsRef<std::path::Path>,
                scopes: I,
            ) -> Result<Self, FlowError>
            where
                I: IntoIterator<Item = S>,
                S: Into<String>,
            {
                Ok(Flow::from_client_secrets_file(path, scopes)?.into())
            }

            /// A flow for parsed client secrets.
            ///
            /// ```
            /// # let secrets = oauth_core::ClientSecrets::from_json(br#"{"installed": {"client_id": "id",
            /// #     "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            /// #     "token_uri": "https://oauth2.googleapis.com/token"}}"#, "cs.json").unwrap();
            #[doc = concat!("let flow = oauth_flow::", $path, "::from_client_secrets(secrets, [\"openid\"]);")]
            /// assert_eq!(flow.client_id(), "id");
            /// ```
            pub fn from_client_secrets<I, S>(secrets: ClientSecrets, scopes: I) -> Self
            where
                I: IntoIterator<Item = S>,
                S: Into<String>,
            {
                Flow::from_client_secrets(secrets, scopes).into()
            }

            #[doc = concat!("Uses another transport (the shared `", stringify!($default), "` by default).")]
            pub fn with_http_client(mut self, http: Arc<dyn $client>) -> Self {
                self.http = http;
                self
            }

            /// Changes the flow with one of its builders.
            ///
            /// ```
            /// # let secrets = oauth_core::ClientSecrets::from_json(br#"{"installed": {"client_id": "id",
            /// #     "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            /// #     "token_uri": "https://oauth2.googleapis.com/token"}}"#, "cs.json").unwrap();
            #[doc = concat!("let flow = oauth_flow::", $path, "::from_client_secrets(secrets, [\"openid\"])")]
            ///     .configure(|f| f.with_prompt("consent").with_login_hint("a@example.com"));
            /// ```
            pub fn configure(mut self, f: impl FnOnce(Flow) -> Flow) -> Self {
                self.flow = f(self.flow);
                self
            }

            /// The flow, for saving it.
            pub fn into_flow(self) -> Flow {
                self.flow
            }
        }
    };
}

pub(crate) use installed_app_flow;
