//! The file store: google-auth's authorized-user file, shared with other processes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::{StoreLock, StoredToken, TokenKey};
use crate::authorized_user::{TOKEN_FIELDS, covers, format_expiry, parse_token};
use crate::fsutil::{DEFAULT_LOCK_WAIT, FileLock, atomic_write};
use crate::json::{self, Fields};
use crate::types::{RefreshToken, Scope};
use crate::{AuthorizedUser, EndpointPolicy, Error};

/// A JSON file in google-auth's authorized-user format (`Credentials.to_json()`), so
/// google-auth and gcloud read it too, and the store that keeps a user's refreshes in it.
///
/// As a token store (give it to a handle with `Credentials::builder(user).store(...)`), it
/// reads the file's `token`, `expiry` and `refresh_token`, and writes them back after each
/// refresh, keeping every other field as it is. Writes are atomic with mode 0600, under an
/// OS lock on a companion `.NAME.lock` file that refreshes hold from before they read the
/// file until after they write it: processes sharing the file make one refresh between them
/// and never reuse a rotated refresh token. Waiting for another process's lock is bounded
/// ([`FileStore::with_lock_wait`]). A file that is a symbolic link (a dotfile manager's)
/// stays one: the file it leads to is replaced.
///
/// A store holds one credential: the file names it, so the [`TokenKey`] only says which
/// scopes were asked for. A token for other scopes than the file's grant records (see
/// [`AuthorizedUser::with_requested_scopes`]) is not written as the file's token; a rotated
/// refresh token always is. The async flavour does all of this on tokio's blocking pool.
///
/// The user-level operations ([`FileStore::load_user`], [`FileStore::save_user`],
/// [`FileStore::delete`]) read and write the whole credentials, as a sign-in does.
///
/// ```
/// use oauth_core::{AuthorizedUser, store::FileStore};
/// use oauth_core::types::{ClientSecret, RefreshToken};
/// let dir = tempfile::tempdir().unwrap();
/// let store = FileStore::new(dir.path().join("user.json"));
/// let user = AuthorizedUser::new("id", Some(ClientSecret::new("s")), Some(RefreshToken::new("1//r")),
///     "https://oauth2.googleapis.com/token".parse::<url::Url>().unwrap());
/// store.save_user(&user)?;
/// let back = store.load_user(&Default::default())?.unwrap();
/// assert_eq!(back.refresh_token().unwrap().expose(), "1//r");
/// # Ok::<(), oauth_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStore {
    path: PathBuf,
    lock_wait: Duration,
}

impl FileStore {
    /// A store in the file the caller names.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileStore {
            path: path.into(),
            lock_wait: DEFAULT_LOCK_WAIT,
        }
    }

    /// How long refreshes, saves and deletes wait for another process that holds the
    /// file's lock ([`DEFAULT_LOCK_WAIT`], one request timeout, by default); then they fail
    /// with [`Error::LockTimeout`] (a refresh first reads the file once more, and uses a
    /// fresh token the holder wrote meanwhile).
    ///
    /// ```
    /// use std::time::Duration;
    /// let store = oauth_core::store::FileStore::new("user.json").with_lock_wait(Duration::from_secs(5));
    /// assert_eq!(store.lock_wait(), Duration::from_secs(5));
    /// ```
    pub fn with_lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    /// How long the store waits for another process's lock.
    pub fn lock_wait(&self) -> Duration {
        self.lock_wait
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The credentials in the file, if it exists; `policy` checks the endpoint it names.
    pub fn load_user(&self, policy: &EndpointPolicy) -> Result<Option<AuthorizedUser>, Error> {
        if !self.path.exists() {
            return Ok(None);
        }
        AuthorizedUser::from_file_with(&self.path, policy).map(Some)
    }

    /// Stores credentials, replacing what the file held (its directory is created with mode
    /// 0700 when missing).
    pub fn save_user(&self, user: &AuthorizedUser) -> Result<(), Error> {
        self.ensure_dir()?;
        let _lock = FileLock::exclusive_timeout(&self.path, self.lock_wait)?;
        atomic_write(&self.path, user.to_json().as_bytes())
    }

    /// Forgets the credentials (after a revocation, say). Deleting nothing is not an error.
    pub fn delete(&self) -> Result<(), Error> {
        let _lock = FileLock::exclusive_timeout(&self.path, self.lock_wait)?;
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::Write {
                path: self.path.clone(),
                source: Arc::new(e),
            }),
        }
    }

    fn ensure_dir(&self) -> Result<(), Error> {
        let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) else {
            return Ok(());
        };
        if dir.is_dir() {
            return Ok(());
        }
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(dir).map_err(|e| Error::Write {
            path: dir.to_path_buf(),
            source: Arc::new(e),
        })
    }

    /// The file's object, or `None` when there is no file.
    fn read_object(&self) -> Result<Option<Map<String, Value>>, Error> {
        if !self.path.exists() {
            return Ok(None);
        }
        let origin = self.path.display().to_string();
        let v = json::read_file(&self.path)?;
        Fields::new(&v, &origin, "").map(|f| Some(f.map().clone()))
    }

    fn read_entry(&self) -> Result<Option<StoredToken>, Error> {
        let Some(map) = self.read_object()? else {
            return Ok(None);
        };
        let origin = self.path.display().to_string();
        let v = Value::Object(map);
        let f = Fields::new(&v, &origin, "")?;
        Ok(Some(StoredToken {
            token: parse_token(&f)?,
            refresh_token: f.optional_secret("refresh_token")?.map(RefreshToken::new),
        }))
    }

    fn write_entry(&self, key: &TokenKey, entry: &StoredToken) -> Result<(), Error> {
        // A file that cannot be read is replaced by what is known: losing a rotated
        // refresh token would end the grant.
        let mut map = self.read_object().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the credentials file; writing the new token alone");
            None
        });
        let existed = map.is_some();
        let m = map.get_or_insert_with(Map::new);
        let grant: Option<Vec<Scope>> = m.get("scopes").and_then(|v| match v {
            Value::Array(a) => Some(
                a.iter()
                    .filter_map(|s| s.as_str())
                    .map(Scope::from)
                    .collect(),
            ),
            Value::String(s) => Some(s.split_whitespace().map(Scope::from).collect()),
            _ => None,
        });
        let rotated = entry
            .refresh_token
            .as_ref()
            .is_some_and(|rt| m.get("refresh_token").and_then(Value::as_str) != Some(rt.expose()));
        // The file's token is for its grant: a token asked for particular scopes is written
        // only when it covers the whole grant.
        let fits = |t: &crate::Token| {
            key.scopes().is_empty()
                || grant
                    .as_deref()
                    .is_some_and(|g| covers(t.scopes.as_deref(), Some(g)))
        };
        let token = entry.token.as_ref().filter(|t| fits(t));
        if token.is_none() && !rotated && existed {
            return Ok(());
        }
        if let Some(t) = token {
            for k in TOKEN_FIELDS {
                m.remove(k);
            }
            m.insert("token".into(), t.access_token.expose().into());
            if let Some(e) = t.expiry {
                m.insert("expiry".into(), format_expiry(e).into());
            }
        }
        if let Some(rt) = &entry.refresh_token {
            m.insert("refresh_token".into(), rt.expose().into());
        }
        self.ensure_dir()?;
        atomic_write(
            &self.path,
            Value::Object(map.unwrap_or_default())
                .to_string()
                .as_bytes(),
        )
    }

    fn take_lock(&self) -> Result<StoreLock, Error> {
        FileLock::exclusive_timeout(&self.path, self.lock_wait).map(StoreLock::new)
    }
}

#[cfg(feature = "blocking")]
impl crate::blocking::TokenStore for FileStore {
    fn load(&self, _key: &TokenKey) -> Result<Option<StoredToken>, Error> {
        self.read_entry()
    }

    fn lock(&self, _key: &TokenKey) -> Result<StoreLock, Error> {
        self.take_lock()
    }

    fn save(&self, key: &TokenKey, entry: &StoredToken) -> Result<(), Error> {
        self.write_entry(key, entry)
    }
}

#[cfg(feature = "async")]
#[async_trait::async_trait]
impl super::TokenStore for FileStore {
    async fn load(&self, _key: &TokenKey) -> Result<Option<StoredToken>, Error> {
        let store = self.clone();
        crate::asynchronous::off_executor(move || store.read_entry()).await
    }

    async fn lock(&self, _key: &TokenKey) -> Result<StoreLock, Error> {
        let store = self.clone();
        crate::asynchronous::off_executor(move || store.take_lock()).await
    }

    async fn save(&self, key: &TokenKey, entry: &StoredToken) -> Result<(), Error> {
        let (store, key, entry) = (self.clone(), key.clone(), entry.clone());
        crate::asynchronous::off_executor(move || store.write_entry(&key, &entry)).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::http::{Bytes, HttpRequest, HttpResponse};
    use crate::types::ClientSecret;
    use crate::{RetryPolicy, TokenSource, TransportError};

    const USER: &str = r#"{"token": "ya29.old", "refresh_token": "1//r0", "token_uri": "http://127.0.0.1:9/token", "client_id": "id", "client_secret": "s", "scopes": ["openid", "email"], "expiry": "2020-01-01T00:00:00Z", "keep": "me"}"#;

    fn read(path: &Path) -> Value {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    /// A token endpoint that rotates the refresh token on every use and records what it
    /// was sent.
    #[derive(Clone, Default)]
    struct Rotating {
        issued: Arc<AtomicUsize>,
        sent: Arc<Mutex<Vec<String>>>,
        /// Leave `scope` out of the answers.
        no_scope: bool,
    }

    impl Rotating {
        fn client(&self) -> Arc<dyn crate::transport::HttpClient> {
            let this = self.clone();
            Arc::new(
                move |r: HttpRequest| -> Result<HttpResponse, TransportError> {
                    this.sent
                        .lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(r.body()).into_owned());
                    let n = this.issued.fetch_add(1, Ordering::SeqCst) + 1;
                    let scope = if this.no_scope {
                        ""
                    } else {
                        r#","scope":"openid email""#
                    };
                    let body = format!(
                        r#"{{"access_token":"ya29.new-{n}","expires_in":3600,"refresh_token":"1//r{n}"{scope}}}"#
                    );
                    Ok(http::Response::new(Bytes::from(body)))
                },
            )
        }
    }

    fn creds(
        path: &Path,
        endpoint: &Rotating,
        user: AuthorizedUser,
    ) -> crate::blocking::Credentials {
        crate::blocking::Credentials::builder(user)
            .store(FileStore::new(path))
            .http_client(endpoint.client())
            .retry(RetryPolicy::none())
            .build()
    }

    #[cfg(unix)]
    #[test]
    fn saved_users_are_private_google_auth_files_in_private_directories() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("sub").join("u.json"));
        let user = AuthorizedUser::new(
            "id",
            Some(ClientSecret::new("s")),
            Some(RefreshToken::new("1//r")),
            "https://oauth2.googleapis.com/token"
                .parse::<url::Url>()
                .unwrap(),
        )
        .with_scopes(["openid"]);
        store.save_user(&user).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(store.path()), 0o600);
        assert_eq!(mode(&dir.path().join("sub")), 0o700);
        let v = read(store.path());
        assert_eq!(v["client_id"], "id");
        assert_eq!(v["refresh_token"], "1//r");
        assert_eq!(v["scopes"], serde_json::json!(["openid"]));
        store.delete().unwrap();
        store.delete().unwrap();
        assert!(
            store
                .load_user(&EndpointPolicy::default())
                .unwrap()
                .is_none()
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_store_that_is_a_symlink_stays_one_and_its_target_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("dotfiles")).unwrap();
        let target = dir.path().join("dotfiles").join("gauth.json");
        let link = dir.path().join("user.json");
        std::os::unix::fs::symlink("dotfiles/gauth.json", &link).unwrap();
        std::fs::write(&target, USER).unwrap();
        let endpoint = Rotating::default();
        let token = creds(&link, &endpoint, AuthorizedUser::from_file(&link).unwrap())
            .token()
            .unwrap();
        assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!(read(&target)["token"], token.expose());
    }

    #[test]
    fn every_refresh_and_rotation_is_written_back_keeping_the_other_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("user.json");
        std::fs::write(&path, USER).unwrap();
        let endpoint = Rotating::default();
        let c = creds(&path, &endpoint, AuthorizedUser::from_file(&path).unwrap());
        assert_eq!(c.token().unwrap().expose(), "ya29.new-1");
        let v = read(&path);
        assert_eq!(v["token"], "ya29.new-1");
        assert_eq!(v["refresh_token"], "1//r1");
        assert_eq!(v["keep"], "me");
        assert_eq!(v["scopes"], serde_json::json!(["openid", "email"]));
        assert!(v["expiry"].as_str().unwrap().ends_with('Z'));
        // A forced refresh sends the rotated refresh token, and keeps the next one.
        c.refresh().unwrap();
        assert!(endpoint.sent.lock().unwrap()[1].contains("refresh_token=1%2F%2Fr1"));
        assert_eq!(read(&path)["refresh_token"], "1//r2");
        AuthorizedUser::from_file(&path).expect("the file still loads");
    }

    #[test]
    fn a_token_another_process_wrote_is_used_and_its_rotation_adopted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("user.json");
        std::fs::write(&path, USER).unwrap();
        let endpoint = Rotating::default();
        let ours = creds(&path, &endpoint, AuthorizedUser::from_file(&path).unwrap());
        // Another process refreshes (and rotates) after we read the file.
        let mut theirs: Value = serde_json::from_str(USER).unwrap();
        theirs["token"] = "ya29.theirs".into();
        theirs["refresh_token"] = "1//theirs".into();
        theirs["expiry"] = format_expiry(SystemTime::now() + Duration::from_secs(3000)).into();
        std::fs::write(&path, theirs.to_string()).unwrap();
        assert_eq!(ours.token().unwrap().expose(), "ya29.theirs");
        assert!(endpoint.sent.lock().unwrap().is_empty(), "no request");
        // When ours refreshes, it uses their rotated refresh token, not its own stale one.
        ours.refresh().unwrap();
        assert!(endpoint.sent.lock().unwrap()[0].contains("refresh_token=1%2F%2Ftheirs"));
    }

    #[test]
    fn a_token_for_other_scopes_is_not_the_files_but_a_rotation_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("user.json");
        std::fs::write(&path, USER).unwrap();
        let endpoint = Rotating {
            no_scope: true,
            ..Rotating::default()
        };
        let user = AuthorizedUser::from_file(&path)
            .unwrap()
            .with_requested_scopes(["email"]);
        let store = FileStore::new(&path);
        let key = user.store_key();
        // Without a rotation, the file is left byte for byte as it was.
        let before = std::fs::read(&path).unwrap();
        let narrow = crate::Token {
            scopes: Some(vec![Scope::new("email")]),
            ..crate::Token::bearer("ya29.narrow", None)
        };
        let entry = StoredToken::new(narrow).with_refresh_token(RefreshToken::new("1//r0"));
        crate::blocking::TokenStore::save(&store, &key, &entry).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), before);
        // Through a handle: the refresh asks for `email`; the file keeps its token and
        // grant, and takes the rotated refresh token.
        let c = creds(&path, &endpoint, user);
        c.token().unwrap();
        assert!(endpoint.sent.lock().unwrap()[0].ends_with("&scope=email"));
        let v = read(&path);
        assert_eq!(v["token"], "ya29.old");
        assert_eq!(v["scopes"], serde_json::json!(["openid", "email"]));
        assert_eq!(v["refresh_token"], "1//r1");
    }

    #[test]
    fn waiting_for_another_holders_refresh_is_bounded_and_uses_what_it_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("user.json");
        std::fs::write(&path, USER).unwrap();
        let endpoint = Rotating::default();
        let c = crate::blocking::Credentials::builder(AuthorizedUser::from_file(&path).unwrap())
            .store(FileStore::new(&path).with_lock_wait(Duration::from_millis(20)))
            .http_client(endpoint.client())
            .retry(RetryPolicy::none())
            .build();
        let holder = FileLock::exclusive(&path).unwrap();
        let e = c.token().unwrap_err();
        assert!(
            matches!(e, Error::LockTimeout { .. }) && e.is_transient(),
            "{e:?}"
        );
        // The holder writes a fresh token and keeps the lock: it is used, no request.
        let mut v: Value = serde_json::from_str(USER).unwrap();
        v["token"] = "ya29.holders".into();
        v["expiry"] = format_expiry(SystemTime::now() + Duration::from_secs(3000)).into();
        atomic_write(&path, v.to_string().as_bytes()).unwrap();
        assert_eq!(c.token().unwrap().expose(), "ya29.holders");
        assert!(endpoint.sent.lock().unwrap().is_empty());
        drop(holder);
    }
}
