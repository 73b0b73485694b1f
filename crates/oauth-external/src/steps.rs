//! Small sans-IO building blocks: one exchange after another, a plain request with its own
//! reading, and a source credential's token taken from cache or refreshed.

use std::sync::{Arc, Mutex, MutexGuard};

use http::{HeaderName, HeaderValue, Method};
use oauth_core::exchange::{BoxExchange, Call, Exchange, Immediate, Input, Step};
use oauth_core::http::{Bytes, HttpRequest, HttpResponse, endpoint_label, to_uri};
use oauth_core::source::{Refresh, RefreshContext, TokenSource};
use oauth_core::{Error, Token};
use url::Url;

type Next<A, T> = Box<dyn FnOnce(A) -> Result<BoxExchange<T>, Error> + Send>;

/// Runs `first`, hands its output to `next`, then runs the exchange `next` returns.
pub(crate) struct Then<A, T> {
    first: Option<BoxExchange<A>>,
    next: Option<Next<A, T>>,
    second: Option<BoxExchange<T>>,
}

impl<A: 'static, T: 'static> Then<A, T> {
    pub(crate) fn boxed(
        first: BoxExchange<A>,
        next: impl FnOnce(A) -> Result<BoxExchange<T>, Error> + Send + 'static,
    ) -> BoxExchange<T> {
        Box::new(Then {
            first: Some(first),
            next: Some(Box::new(next)),
            second: None,
        })
    }
}

impl<A, T> Exchange for Then<A, T> {
    type Output = T;

    fn step(&mut self, input: Input) -> Step<T> {
        if let Some(second) = &mut self.second {
            return second.step(input);
        }
        let Some(first) = &mut self.first else {
            return Step::Done(Err(Error::InvalidRequest(
                "exchange resumed after it finished".into(),
            )));
        };
        match first.step(input) {
            Step::Send(r) => Step::Send(r),
            Step::Wait(d) => Step::Wait(d),
            Step::Done(Err(e)) => {
                self.first = None;
                Step::Done(Err(e))
            }
            Step::Done(Ok(value)) => {
                self.first = None;
                let Some(next) = self.next.take() else {
                    return Step::Done(Err(Error::InvalidRequest(
                        "exchange resumed after it finished".into(),
                    )));
                };
                match next(value) {
                    Ok(mut second) => {
                        let step = second.step(Input::Start);
                        self.second = Some(second);
                        step
                    }
                    Err(e) => Step::Done(Err(e)),
                }
            }
        }
    }
}

/// An exchange that is already done.
pub(crate) fn ready<T: Send + 'static>(result: Result<T, Error>) -> BoxExchange<T> {
    Box::new(Immediate::new(result))
}

type Parse<T> = Box<dyn Fn(&str, HttpResponse) -> Result<T, Error> + Send + Sync>;

/// One request without a body (method, URL, headers) and how its answer is read.
pub(crate) struct PlainCall<T> {
    method: Method,
    url: Url,
    headers: Vec<(HeaderName, HeaderValue)>,
    parse: Parse<T>,
}

impl<T> PlainCall<T> {
    pub(crate) fn new(
        method: Method,
        url: Url,
        parse: impl Fn(&str, HttpResponse) -> Result<T, Error> + Send + Sync + 'static,
    ) -> Self {
        PlainCall {
            method,
            url,
            headers: Vec::new(),
            parse: Box::new(parse),
        }
    }

    pub(crate) fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl<T: Send> Call for PlainCall<T> {
    type Output = T;

    fn request(&self) -> Result<HttpRequest, Error> {
        let mut req = http::Request::new(Bytes::new());
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = to_uri(&self.url);
        for (k, v) in &self.headers {
            req.headers_mut().append(k.clone(), v.clone());
        }
        Ok(req)
    }

    fn parse(&self, response: HttpResponse) -> Result<T, Error> {
        (self.parse)(&self.endpoint(), response)
    }

    fn endpoint(&self) -> String {
        endpoint_label(&to_uri(&self.url))
    }
}

/// A source credential's last token, shared by the copies of the credential built on it.
pub(crate) type TokenSlot = Arc<Mutex<Option<Token>>>;

pub(crate) fn lock(slot: &TokenSlot) -> MutexGuard<'_, Option<Token>> {
    slot.lock().unwrap_or_else(|p| p.into_inner())
}

/// The source's token: the one in `slot` while it is fresh, else the source's own refresh
/// (its exchange, then `finish_refresh`), kept in `slot`.
pub(crate) fn source_token(
    source: &Arc<dyn TokenSource>,
    slot: &TokenSlot,
    ctx: &RefreshContext,
) -> Result<BoxExchange<Token>, Error> {
    let now = ctx.clock.now();
    if let Some(t) = lock(slot).as_ref().filter(|t| t.is_fresh(now, ctx.margin)) {
        return Ok(ready(Ok(t.clone())));
    }
    match source.begin_refresh(ctx, None)? {
        Refresh::Ready(t) => {
            *lock(slot) = Some(t.clone());
            Ok(ready(Ok(t)))
        }
        Refresh::Exchange(exchange) => {
            let source = Arc::clone(source);
            let slot = Arc::clone(slot);
            let ctx = ctx.clone();
            Ok(Then::boxed(exchange, move |response| {
                let t = source.finish_refresh(response, &ctx)?;
                *lock(&slot) = Some(t.clone());
                Ok(ready(Ok(t)))
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn then_runs_both_exchanges_and_stops_at_the_first_error() {
        let mut ex = Then::boxed(ready(Ok(2u32)), |n| Ok(ready(Ok(n * 10))));
        assert!(matches!(ex.step(Input::Start), Step::Done(Ok(20))));
        assert!(matches!(ex.step(Input::Start), Step::Done(Err(_))));
        let mut ex: BoxExchange<u32> = Then::boxed(
            ready(Err::<u32, _>(Error::InvalidRequest("no".into()))),
            |_| unreachable!("never called after an error"),
        );
        assert!(matches!(ex.step(Input::Start), Step::Done(Err(_))));
        let call = PlainCall::new(
            Method::PUT,
            "http://127.0.0.1:1/x?q=1".parse().unwrap(),
            |_, r| Ok(r.status().as_u16()),
        )
        .header(
            HeaderName::from_static("x-a"),
            HeaderValue::from_static("1"),
        );
        let mut ex = Then::boxed(ready(Ok(())), move |()| {
            Ok(Box::new(oauth_core::Retrying::new(
                call,
                oauth_core::RetryPolicy::none(),
            )) as BoxExchange<u16>)
        });
        let Step::Send(req) = ex.step(Input::Start) else {
            panic!("expected a request")
        };
        assert_eq!(req.method(), "PUT");
        assert_eq!(req.headers()["x-a"], "1");
        let ok = http::Response::builder()
            .status(204)
            .body(Default::default())
            .unwrap();
        assert!(matches!(
            ex.step(Input::Response(Ok(ok))),
            Step::Done(Ok(204))
        ));
    }
}
