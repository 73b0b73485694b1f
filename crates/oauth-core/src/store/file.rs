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
