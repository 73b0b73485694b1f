//! Protocol steps as state machines: the shape that lets one protocol core serve both
//! transports.
//!
//! An [`Exchange`] is fed [`Input`]s and answers with [`Step`]s: send this request, wait
//! this long, or done. The blocking runner ([`crate::blocking::run`]) and the async runner
//! (`oauth_core::run`) only move bytes and sleep; retries, polling and multi-request
//! protocols are written once, here and in the crates that build on it.

use std::time::Duration;

use crate::http::{HttpRequest, HttpResponse};
use crate::{Error, TransportError};

/// What a driver feeds an exchange.
#[derive(Debug)]
pub enum Input {
    /// The first step.
    Start,
    /// The transport's answer to the last [`Step::Send`].
    Response(Result<HttpResponse, TransportError>),
    /// The last [`Step::Wait`] has elapsed.
    Waited,
}

/// What an exchange asks of its driver.
#[derive(Debug)]
pub enum Step<T> {
    /// Send this request and feed back the answer.
    Send(HttpRequest),
    /// Sleep this long, then feed back [`Input::Waited`].
    Wait(Duration),
    /// Finished.
    Done(Result<T, Error>),
}

/// A protocol exchange of one or more requests, free of I/O.
///
/// ```
/// use oauth_core::exchange::{Exchange, Input, Step};
/// // An exchange that needs no network at all.
/// struct Ready(Option<u32>);
/// impl Exchange for Ready {
///     type Output = u32;
///     fn step(&mut self, _: Input) -> Step<u32> {
///         Step::Done(self.0.take().ok_or_else(|| oauth_core::Error::InvalidRequest("twice".into())))
///     }
/// }
/// assert!(matches!(Ready(Some(7)).step(Input::Start), Step::Done(Ok(7))));
/// ```
pub trait Exchange: Send {
    /// What the exchange produces.
    type Output;
    /// Advances the exchange.
    fn step(&mut self, input: Input) -> Step<Self::Output>;
}

/// A boxed exchange, as credential sources hand them out.
pub type BoxExchange<T> = Box<dyn Exchange<Output = T>>;

impl<E: Exchange + ?Sized> Exchange for Box<E> {
    type Output = E::Output;
    fn step(&mut self, input: Input) -> Step<E::Output> {
        (**self).step(input)
    }
}

/// One request and the reading of its answer: the unit that [`crate::Retrying`] repeats.
pub trait Call: Send {
    /// What a successful answer yields.
    type Output;
    /// Builds the request (again, for each attempt).
    fn request(&self) -> Result<HttpRequest, Error>;
    /// Reads the answer, success or error.
    fn parse(&self, response: HttpResponse) -> Result<Self::Output, Error>;
    /// The endpoint, for error messages.
    fn endpoint(&self) -> String;
    /// Which failures [`crate::Retrying`] retries: google-auth's token-endpoint rule by
    /// default.
    fn retry_on(&self) -> crate::retry::RetryOn {
        crate::retry::RetryOn::TOKEN_ENDPOINT
    }
}

/// An exchange that is already finished: a token minted locally needs no request.
///
/// ```
/// use oauth_core::exchange::{Exchange, Immediate, Input, Step};
/// let mut e = Immediate::new(Ok::<_, oauth_core::Error>(5));
/// assert!(matches!(e.step(Input::Start), Step::Done(Ok(5))));
/// ```
pub struct Immediate<T>(Option<Result<T, Error>>);

impl<T> Immediate<T> {
    /// An exchange that finishes with `result` at once.
    pub fn new(result: Result<T, Error>) -> Self {
        Immediate(Some(result))
    }
}

impl<T: Send> Exchange for Immediate<T> {
    type Output = T;
    fn step(&mut self, _: Input) -> Step<T> {
        Step::Done(self.0.take().unwrap_or_else(|| {
            Err(Error::InvalidRequest(
                "exchange resumed after it finished".into(),
            ))
        }))
    }
}
