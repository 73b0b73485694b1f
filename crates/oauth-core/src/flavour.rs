//! The two flavours, as types: [`Async`] (reqwest, tokio) and [`Blocking`] (ureq, no
//! runtime).
//!
//! A public type that exists in both flavours is written once, generic over a
//! [`Flavour`], and named per flavour by an alias, as reqwest names its two clients:
//! `oauth_core::Credentials` is [`handle::Credentials<Async>`](crate::handle::Credentials)
//! and `oauth_core::blocking::Credentials` is `handle::Credentials<Blocking>`. What does not
//! block or await is written once for every `F: Flavour`; the few methods that do are
//! written per flavour, each a few lines over the flavour's runner.
//!
//! The trait is sealed: the two markers are the only flavours.
//!
//! ```
//! # #[cfg(all(feature = "async", feature = "blocking"))] {
//! use oauth_core::flavour::{Async, Blocking, Flavour};
//! use oauth_core::handle::Credentials;
//! // Code that does not block or await can serve both flavours.
//! fn describe<F: Flavour>(c: &Credentials<F>) -> String {
//!     format!("{} credentials", c.kind())
//! }
//! # let _ = describe::<Async>;
//! # let _ = describe::<Blocking>;
//! # }
//! ```

use std::fmt;
use std::sync::Arc;

mod sealed {
    pub trait Sealed {}
}

/// A flavour: which HTTP client trait its handles use and which token-store trait.
pub trait Flavour: sealed::Sealed + fmt::Debug + Send + Sync + Sized + 'static {
    /// The HTTP client: `dyn AsyncHttpClient` or `dyn HttpClient`.
    type Client: ?Sized + Send + Sync;
    /// The token store: `dyn TokenStore` or `dyn blocking::TokenStore`.
    type Store: ?Sized + Send + Sync + fmt::Debug;
    /// The process-wide shared client (one connection pool for every credential).
    fn shared_client() -> Arc<Self::Client>;
    /// A new in-memory store: what a handle keeps its tokens in when given no other.
    fn memory_store() -> Arc<Self::Store>;
    /// How a handle of this flavour names itself in `Debug`.
    #[doc(hidden)]
    const HANDLE: &'static str;
}

/// The async flavour: reqwest for HTTP, tokio for timers and for the blocking pool that
/// file work runs on.
#[cfg(feature = "async")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Async;

/// The blocking flavour: ureq for HTTP, `std::thread::sleep` for waits, no runtime.
#[cfg(feature = "blocking")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Blocking;

#[cfg(feature = "async")]
impl sealed::Sealed for Async {}

#[cfg(feature = "async")]
impl Flavour for Async {
    type Client = dyn crate::transport::AsyncHttpClient;
    type Store = dyn crate::store::TokenStore;
    const HANDLE: &'static str = "Credentials";

    fn shared_client() -> Arc<Self::Client> {
        crate::transport::ReqwestClient::shared()
    }

    fn memory_store() -> Arc<Self::Store> {
        Arc::new(crate::store::MemoryStore::new())
    }
}

#[cfg(feature = "blocking")]
impl sealed::Sealed for Blocking {}

#[cfg(feature = "blocking")]
impl Flavour for Blocking {
    type Client = dyn crate::transport::HttpClient;
    type Store = dyn crate::blocking::TokenStore;
    const HANDLE: &'static str = "blocking::Credentials";

    fn shared_client() -> Arc<Self::Client> {
        crate::transport::UreqClient::shared()
    }

    fn memory_store() -> Arc<Self::Store> {
        Arc::new(crate::store::MemoryStore::new())
    }
}
