//! Each flavour's media I/O: reading an upload's source and writing a download as it
//! arrives. No protocol here: [`crate::upload`] and [`crate::download`] decide.

#[cfg(feature = "async")]
pub(crate) mod asynchronous;
#[cfg(feature = "blocking")]
pub(crate) mod blocking;

use crate::Error;

/// The error of a download body that broke off, when no retry is left.
pub(crate) fn broke_off(endpoint: &str, reason: &str) -> Error {
    Error::Core(oauth_core::retry::transport_error(
        endpoint.to_owned(),
        oauth_core::TransportError::new(
            oauth_core::TransportErrorKind::Other,
            format!("the download broke off: {reason}"),
        ),
    ))
}
