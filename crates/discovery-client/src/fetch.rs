//! Fetching discovery documents: the URLs googleapiclient tries, an in-memory cache of
//! parsed documents and an on-disk cache of their bytes, both with an expiry; the fetch
//! itself is a sans-IO exchange both flavours drive.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use oauth_core::EndpointPolicy;
use oauth_core::TransportErrorKind;
use oauth_core::exchange::{Exchange, Input, Step};
use oauth_core::http::{Bytes, ResponseLimit, endpoint_label};
use oauth_core::retry::{RetryOn, retry_after, transport_error};

use crate::api::DocumentOptions;
use crate::exchange::CallOptions;
use crate::{Api, ApiError, Error};

/// Reads at most `limit` bytes of a file: a larger file, or one that never ends
/// (`/dev/zero`, a pipe that keeps writing), is [`Error::DocumentTooLarge`] after
/// `limit + 1` bytes, never read further.
pub(crate) fn read_bounded(path: &Path, limit: usize) -> Result<Vec<u8>, Error> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, &e))?;
    let too_large = || Error::DocumentTooLarge {
        origin: path.display().to_string(),
        limit,
    };
    // A regular file says its size: no need to read one that is too large.
    if file
        .metadata()
        .is_ok_and(|m| m.is_file() && m.len() > u64::try_from(limit).unwrap_or(u64::MAX))
    {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    file.take(cap)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, &e))?;
    if bytes.len() > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// googleapiclient's discovery URLs for an API, in the order it tries them.
///
/// ```
/// assert_eq!(discovery_client::discovery_urls("drive", "v3"), [
///     "https://www.googleapis.com/discovery/v1/apis/drive/v3/rest".to_string(),
///     "https://drive.googleapis.com/$discovery/rest?version=v3".to_string(),
/// ]);
/// ```
pub fn discovery_urls(api: &str, version: &str) -> Vec<String> {
    vec![
        format!("https://www.googleapis.com/discovery/v1/apis/{api}/{version}/rest"),
        format!("https://{api}.googleapis.com/$discovery/rest?version={version}"),
    ]
}

/// How `build` finds the document and where the service sends calls.
///
/// ```
/// use std::time::Duration;
/// let o = discovery_client::BuildOptions::default()
///     .discovery_url("http://127.0.0.1:8080/discovery/{api}/{apiVersion}")
///     .root_url("http://127.0.0.1:8080/")
///     .max_age(Duration::from_secs(60))
///     .max_document_size(8 << 20)
///     .no_disk_cache();
/// assert_eq!(o.urls("drive", "v3"), ["http://127.0.0.1:8080/discovery/drive/v3"]);
/// ```
#[derive(Debug, Clone)]
pub struct BuildOptions {
    discovery_url: Option<String>,
    document: DocumentOptions,
    cache_dir: Option<PathBuf>,
    max_age: Duration,
    /// How calls made through the service are retried and bounded.
    pub call: CallOptions,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            discovery_url: None,
            document: DocumentOptions::default(),
            cache_dir: default_cache_dir(),
            max_age: Duration::from_secs(24 * 3600),
            call: CallOptions::default(),
        }
    }
}

fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("gauth").join("discovery"))
}

impl BuildOptions {
    /// The discovery URL, with `{api}` and `{apiVersion}` replaced (googleapiclient's
    /// `discoveryServiceUrl`); only this URL is tried.
    pub fn discovery_url(mut self, url: impl Into<String>) -> Self {
        self.discovery_url = Some(url.into());
        self
    }

    /// Replaces the document's `rootUrl` (so calls go to a local server): the program's
    /// own choice of host, https or loopback (see [`DocumentOptions::root_url`]).
    pub fn root_url(mut self, url: impl Into<String>) -> Self {
        self.document = self.document.root_url(url);
        self
    }

    /// Which hosts a fetched document's `rootUrl` may name beyond Google's and loopback
    /// (see [`DocumentOptions`]).
    pub fn endpoint_policy(mut self, policy: EndpointPolicy) -> Self {
        self.document = self.document.endpoint_policy(policy);
        self
    }

    /// The largest document accepted, fetched or cached (64 MiB by default).
    pub fn max_document_size(mut self, bytes: usize) -> Self {
        self.document = self.document.max_size(bytes);
        self
    }

    /// Where fetched documents are kept on disk (`~/.cache/gauth/discovery` by default).
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Keeps documents in memory only.
    pub fn no_disk_cache(mut self) -> Self {
        self.cache_dir = None;
        self
    }

    /// How long a cached document is used (a day by default, as googleapiclient).
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = age;
        self
    }

    /// Call options for the service built.
    pub fn call_options(mut self, call: CallOptions) -> Self {
        self.call = call;
        self
    }

    /// The URLs tried for an API, in order.
    pub fn urls(&self, api: &str, version: &str) -> Vec<String> {
        match &self.discovery_url {
            Some(u) => vec![u.replace("{api}", api).replace("{apiVersion}", version)],
            None => discovery_urls(api, version),
        }
    }

    /// A cached document, from memory or disk, when one is fresh.
    pub(crate) fn cached(&self, api: &str, version: &str) -> Option<Api> {
        let key = self.key(api, version);
        if let Ok(mem) = memory().lock()
            && let Some((at, doc)) = mem.get(&key)
            && at.elapsed() < self.max_age
        {
            return Some(doc.clone());
        }
        let path = self.disk_path(&key)?;
        let age = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())?;
        if age >= self.max_age {
            return None;
        }
        let bytes = read_bounded(&path, self.document.max_size).ok()?;
        let doc = Api::parse(
            Cow::Owned(bytes),
            &path.display().to_string(),
            &self.document,
        )
        .ok()?;
        self.remember(&key, &doc);
        Some(doc)
    }

    /// Parses fetched bytes and caches them.
    pub(crate) fn store(
        &self,
        api: &str,
        version: &str,
        origin: &str,
        bytes: Bytes,
    ) -> Result<Api, Error> {
        // Kept without a copy when the body is one unshared buffer.
        let doc = Api::parse(Cow::Owned(Vec::from(bytes)), origin, &self.document)?;
        let bytes = doc.model.doc.as_bytes();
        let key = self.key(api, version);
        self.remember(&key, &doc);
        if let Some(path) = self.disk_path(&key) {
            let written = path
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .map_err(|e| Error::io(&path, &e))
                .and_then(|()| oauth_core::fsutil::atomic_write(&path, bytes).map_err(Error::Core));
            if let Err(e) = written {
                tracing::debug!(%e, "discovery document not cached on disk");
            }
        }
        Ok(doc)
    }

    /// The memory cache's key: everything that changes what a parsed document is
    /// (the URLs, the root URL, the trust policy and the size limit).
    fn key(&self, api: &str, version: &str) -> String {
        format!(
            "{}|{}|{:?}|{}",
            self.urls(api, version).join(" "),
            self.document.root_url.as_deref().unwrap_or(""),
            self.document.policy,
            self.document.max_size,
        )
    }

    /// A fetch of the document of `api` `version`.
    pub(crate) fn fetch(&self, api: &str, version: &str) -> FetchDocument {
        FetchDocument::new(
            self.urls(api, version),
            self.call.retry,
            self.document.max_size,
        )
    }

    fn remember(&self, key: &str, doc: &Api) {
        if let Ok(mut mem) = memory().lock() {
            mem.insert(key.to_owned(), (Instant::now(), doc.clone()));
        }
    }

    fn disk_path(&self, key: &str) -> Option<PathBuf> {
        let dir = self.cache_dir.as_deref()?;
        let url = key.split('|').next().unwrap_or(key);
        let name: String = url
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(200)
            .collect();
        Some(Path::new(dir).join(format!("{name}.json")))
    }
}

type MemoryCache = Mutex<HashMap<String, (Instant, Api)>>;

fn memory() -> &'static MemoryCache {
    static CACHE: OnceLock<MemoryCache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Fetching a document: each URL in turn, moving on after a 404 as googleapiclient does.
pub(crate) struct FetchDocument {
    urls: Vec<String>,
    next: usize,
    retry: oauth_core::RetryPolicy,
    attempts: u32,
    limit: usize,
}

impl FetchDocument {
    pub(crate) fn new(
        urls: Vec<String>,
        retry: oauth_core::RetryPolicy,
        limit: usize,
    ) -> FetchDocument {
        FetchDocument {
            urls,
            next: 0,
            retry,
            attempts: 0,
            limit,
        }
    }

    fn label(&self) -> String {
        let url = self.urls.get(self.next).map_or("", |s| s.as_str());
        url.parse::<http::Uri>()
            .map(|u| endpoint_label(&u))
            .unwrap_or_else(|_| url.to_owned())
    }

    fn send(&mut self) -> Step<Result<(String, Bytes), Error>> {
        self.attempts += 1;
        let Some(url) = self.urls.get(self.next) else {
            return Step::Done(Ok(Err(Error::InvalidDocument {
                origin: "discovery".into(),
                reason: "no discovery URL left to try".into(),
            })));
        };
        let uri: http::Uri = match url.parse() {
            Ok(u) => u,
            Err(_) => {
                return Step::Done(Ok(Err(Error::InvalidDocument {
                    origin: url.clone(),
                    reason: "not a valid URL".into(),
                })));
            }
        };
        let mut req = http::Request::new(Bytes::new());
        *req.uri_mut() = uri;
        req.extensions_mut().insert(ResponseLimit(self.limit));
        crate::encoding::offer(&mut req);
        Step::Send(req)
    }

    /// The retry decision is oauth-core's, with googleapiclient's rule ([`RetryOn::API`]).
    fn fail(
        &mut self,
        error: Error,
        retryable: bool,
        retry_after: Option<Duration>,
    ) -> Step<Result<(String, Bytes), Error>> {
        match self.retry.next_delay(self.attempts, retryable, retry_after) {
            Some(delay) => Step::Wait(delay),
            None => Step::Done(Ok(Err(error))),
        }
    }
}

impl Exchange for FetchDocument {
    type Output = Result<(String, Bytes), Error>;

    fn step(&mut self, input: Input) -> Step<Self::Output> {
        match input {
            Input::Start | Input::Waited => self.send(),
            Input::Response(Err(e)) if e.kind == TransportErrorKind::TooLarge => {
                Step::Done(Ok(Err(Error::DocumentTooLarge {
                    origin: self.label(),
                    limit: self.limit,
                })))
            }
            Input::Response(Err(e)) => {
                let retryable = RetryOn::API.transport(&e);
                let error = Error::Core(transport_error(self.label(), e));
                self.fail(error, retryable, None)
            }
            Input::Response(Ok(resp)) => {
                let resp = match crate::encoding::decode(resp, self.limit, &self.label()) {
                    Ok(r) => r,
                    Err(e) => return Step::Done(Ok(Err(e.into()))),
                };
                let status = resp.status().as_u16();
                if status == 404 && self.next + 1 < self.urls.len() {
                    self.next += 1;
                    self.attempts = 0;
                    return self.send();
                }
                if !resp.status().is_success() {
                    let retryable = RetryOn::API.response(status, resp.body());
                    let e = Error::Api(Box::new(ApiError::from_response(
                        status,
                        &self.label(),
                        resp.body(),
                    )));
                    return self.fail(e, retryable, retry_after(&resp));
                }
                if resp.body().len() > self.limit {
                    // A client that ignores the limit extension.
                    return Step::Done(Ok(Err(Error::DocumentTooLarge {
                        origin: self.label(),
                        limit: self.limit,
                    })));
                }
                Step::Done(Ok(Ok((self.label(), resp.into_body()))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_404_moves_on_to_the_next_url() {
        let mut f = FetchDocument::new(
            discovery_urls("x", "v1"),
            oauth_core::RetryPolicy::none(),
            64 << 20,
        );
        let Step::Send(r) = f.step(Input::Start) else {
            panic!()
        };
        assert_eq!(
            r.uri(),
            "https://www.googleapis.com/discovery/v1/apis/x/v1/rest"
        );
        let nf = http::Response::builder()
            .status(404)
            .body(Bytes::new())
            .unwrap();
        let Step::Send(r) = f.step(Input::Response(Ok(nf))) else {
            panic!()
        };
        assert_eq!(
            r.uri(),
            "https://x.googleapis.com/$discovery/rest?version=v1"
        );
        let nf = http::Response::builder()
            .status(404)
            .body(Bytes::new())
            .unwrap();
        assert!(
            matches!(f.step(Input::Response(Ok(nf))), Step::Done(Ok(Err(Error::Api(e)))) if e.status == 404)
        );
    }

    #[test]
    fn files_are_read_up_to_the_limit_and_endless_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("d.json");
        std::fs::write(&f, b"0123456789").unwrap();
        assert_eq!(read_bounded(&f, 10).unwrap(), b"0123456789");
        assert!(matches!(
            read_bounded(&f, 9),
            Err(Error::DocumentTooLarge { limit: 9, .. })
        ));
        #[cfg(unix)]
        {
            let e = read_bounded(Path::new("/dev/zero"), 1 << 20).unwrap_err();
            assert!(matches!(e, Error::DocumentTooLarge { .. }), "{e}");
            assert!(e.to_string().contains("/dev/zero"), "{e}");
        }
        assert!(matches!(
            read_bounded(&dir.path().join("absent"), 10),
            Err(Error::Io { .. })
        ));
        assert!(matches!(
            read_bounded(dir.path(), 10),
            Err(Error::Io { .. })
        ));
    }

    #[test]
    fn a_fetched_document_over_the_limit_is_a_typed_error() {
        let mut f = FetchDocument::new(
            vec!["https://x.googleapis.com/d".into()],
            oauth_core::RetryPolicy::none(),
            8,
        );
        let Step::Send(r) = f.step(Input::Start) else {
            panic!()
        };
        assert_eq!(r.extensions().get::<ResponseLimit>().map(|l| l.0), Some(8));
        let too_large = oauth_core::TransportError::new(TransportErrorKind::TooLarge, "8");
        assert!(matches!(
            f.step(Input::Response(Err(too_large))),
            Step::Done(Ok(Err(Error::DocumentTooLarge { limit: 8, .. })))
        ));
        // A client that ignored the limit: the body is still refused.
        let mut f = FetchDocument::new(
            vec!["https://x.googleapis.com/d".into()],
            oauth_core::RetryPolicy::none(),
            8,
        );
        f.step(Input::Start);
        let big = http::Response::builder()
            .status(200)
            .body(vec![b' '; 9].into())
            .unwrap();
        assert!(matches!(
            f.step(Input::Response(Ok(big))),
            Step::Done(Ok(Err(Error::DocumentTooLarge { .. })))
        ));
    }

    #[test]
    fn documents_are_cached_on_disk_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let o = BuildOptions::default()
            .cache_dir(dir.path())
            .discovery_url("http://127.0.0.1:9/{api}/{apiVersion}/cache-test");
        let doc = br#"{"name":"c","version":"v1","rootUrl":"https://c.googleapis.com/","servicePath":""}"#;
        o.store("c", "v1", "test", Bytes::from_static(doc)).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // Memory forgotten: the disk copy serves.
        memory().lock().unwrap().clear();
        assert_eq!(o.cached("c", "v1").unwrap().name(), "c");
        memory().lock().unwrap().clear();
        assert!(
            o.clone()
                .max_age(Duration::ZERO)
                .cached("c", "v1")
                .is_none()
        );
    }
}
