//! Where signed-in credentials are kept between runs: a pluggable [`TokenStore`], a file
//! by default.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oauth_core::fsutil::{DEFAULT_LOCK_WAIT, FileLock, atomic_write};
use oauth_core::{AuthorizedUser, EndpointPolicy};

use crate::FlowError;

/// Keeps a user's credentials between runs.
///
/// `load` returns credentials that persist their own refreshes to the store where the
/// store can do that safely across processes (the [`FileStore`] does: its users take the
/// file's lock, re-read it, and write the refreshed token back atomically); other stores
/// should call `save` after a refresh.
///
/// ```
/// use oauth_flow::{FileStore, TokenStore};
/// let dir = tempfile::tempdir().unwrap();
/// let store = FileStore::new(dir.path().join("user.json"));
/// assert!(store.load(&Default::default())?.is_none());
/// # Ok::<(), oauth_flow::FlowError>(())
/// ```
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// The stored credentials, if any. `policy` checks the endpoints they name.
    fn load(&self, policy: &EndpointPolicy) -> Result<Option<AuthorizedUser>, FlowError>;
    /// Stores credentials, replacing what was there.
    fn save(&self, user: &AuthorizedUser) -> Result<(), FlowError>;
    /// Forgets the credentials (after a revocation, say). Deleting nothing is not an error.
    fn delete(&self) -> Result<(), FlowError>;
}

/// A JSON file in google-auth's authorized-user format (`Credentials.to_json()`), so
/// google-auth and gcloud read it too. Written atomically with mode 0600, under the same
/// OS lock that refreshes take, so processes sharing the file make one refresh between
/// them and never reuse a rotated refresh token. A file that is a symbolic link (a dotfile
/// manager's) stays one: the file it leads to is replaced. Waiting for the lock is bounded
/// ([`FileStore::with_lock_wait`]).
///
/// ```
/// use oauth_core::{AuthorizedUser, Secret};
/// use oauth_flow::{FileStore, TokenStore};
/// let dir = tempfile::tempdir().unwrap();
/// let store = FileStore::new(dir.path().join("user.json"));
/// let user = AuthorizedUser::new("id", Some(Secret::new("s")), Some(Secret::new("1//r")),
///     "https://oauth2.googleapis.com/token".parse().unwrap());
/// store.save(&user)?;
/// let back = store.load(&Default::default())?.unwrap();
/// assert_eq!(back.refresh_token().unwrap().expose(), "1//r");
/// assert_eq!(back.file(), Some(store.path()));   // refreshes go back to the file
/// # Ok::<(), oauth_flow::FlowError>(())
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

    /// How long saving, deleting and the refreshes of loaded credentials wait for another
    /// process that holds the file's lock ([`DEFAULT_LOCK_WAIT`], one request timeout, by
    /// default); then they fail with [`oauth_core::Error::LockTimeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let store = oauth_flow::FileStore::new("user.json").with_lock_wait(Duration::from_secs(5));
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

    /// The default store: `authorized_user.json` in gauth's folder of the user's config
    /// directory (`~/.config/gauth` on Linux, `~/Library/Application Support/gauth` on
    /// macOS, `%APPDATA%\gauth` on Windows).
    ///
    /// ```
    /// if let Ok(store) = oauth_flow::FileStore::default_location() {
    ///     assert!(store.path().ends_with("gauth/authorized_user.json"));
    /// }
    /// ```
    pub fn default_location() -> Result<Self, FlowError> {
        Self::in_config_dir("authorized_user.json")
    }

    /// A named file in gauth's folder of the user's config directory.
    ///
    /// ```
    /// let store = oauth_flow::FileStore::in_config_dir("work.json");
    /// ```
    pub fn in_config_dir(name: &str) -> Result<Self, FlowError> {
        if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
            return Err(FlowError::invalid("name", "must be a plain file name"));
        }
        let dir = dirs::config_dir().ok_or_else(|| {
            FlowError::invalid(
                "store",
                "the user's config directory is unknown (no HOME?); name a file instead",
            )
        })?;
        Ok(FileStore::new(dir.join("gauth").join(name)))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn ensure_dir(&self) -> Result<(), FlowError> {
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
        builder.create(dir).map_err(|e| {
            FlowError::Core(oauth_core::Error::Write {
                path: dir.to_path_buf(),
                source: std::sync::Arc::new(e),
            })
        })
    }
}

impl TokenStore for FileStore {
    fn load(&self, policy: &EndpointPolicy) -> Result<Option<AuthorizedUser>, FlowError> {
        if !self.path.exists() {
            return Ok(None);
        }
        let user = AuthorizedUser::from_file_with(&self.path, policy)?;
        Ok(Some(
            user.write_back_to(&self.path)
                .with_lock_wait(self.lock_wait),
        ))
    }

    fn save(&self, user: &AuthorizedUser) -> Result<(), FlowError> {
        self.ensure_dir()?;
        let _lock = FileLock::exclusive_timeout(&self.path, self.lock_wait)?;
        atomic_write(&self.path, user.to_json().as_bytes())?;
        Ok(())
    }

    fn delete(&self) -> Result<(), FlowError> {
        let _lock = FileLock::exclusive_timeout(&self.path, self.lock_wait)?;
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(FlowError::Core(oauth_core::Error::Write {
                path: self.path.clone(),
                source: std::sync::Arc::new(e),
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oauth_core::Secret;

    #[cfg(unix)]
    #[test]
    fn saved_files_are_private_and_google_auth_shaped() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("sub").join("u.json"));
        let user = AuthorizedUser::new(
            "id",
            Some(Secret::new("s")),
            Some(Secret::new("1//r")),
            "https://oauth2.googleapis.com/token".parse().unwrap(),
        )
        .with_scopes(["openid"]);
        store.save(&user).unwrap();
        let mode = std::fs::metadata(store.path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = std::fs::metadata(dir.path().join("sub"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dmode, 0o700);
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(store.path()).unwrap()).unwrap();
        assert_eq!(v["client_id"], "id");
        assert_eq!(v["refresh_token"], "1//r");
        assert_eq!(v["scopes"], serde_json::json!(["openid"]));
        store.delete().unwrap();
        store.delete().unwrap();
        assert!(store.load(&EndpointPolicy::default()).unwrap().is_none());
    }

    fn user() -> AuthorizedUser {
        AuthorizedUser::new(
            "id",
            Some(Secret::new("s")),
            Some(Secret::new("1//r")),
            "https://oauth2.googleapis.com/token".parse().unwrap(),
        )
    }

    #[cfg(unix)]
    #[test]
    fn a_store_that_is_a_symlink_stays_one_and_its_target_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("dotfiles")).unwrap();
        let target = dir.path().join("dotfiles").join("gauth.json");
        let link = dir.path().join("user.json");
        std::os::unix::fs::symlink("dotfiles/gauth.json", &link).unwrap();
        let store = FileStore::new(&link);
        // The first save creates the link's target; the second replaces it.
        store.save(&user()).unwrap();
        store.save(&user().with_scopes(["openid"])).unwrap();
        assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&target).unwrap()).unwrap();
        assert_eq!(v["scopes"], serde_json::json!(["openid"]));
        let loaded = store.load(&EndpointPolicy::default()).unwrap().unwrap();
        assert_eq!(loaded.refresh_token().unwrap().expose(), "1//r");
        assert_eq!(loaded.lock_wait(), store.lock_wait());
    }

    #[test]
    fn saving_while_another_process_holds_the_lock_ends_with_a_lock_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            FileStore::new(dir.path().join("u.json")).with_lock_wait(Duration::from_millis(20));
        let held = FileLock::exclusive(store.path()).unwrap();
        let e = store.save(&user()).unwrap_err();
        assert!(
            matches!(e, FlowError::Core(oauth_core::Error::LockTimeout { .. })),
            "{e:?}"
        );
        assert!(!store.path().exists(), "nothing written without the lock");
        assert!(store.delete().is_err());
        drop(held);
        store.save(&user()).unwrap();
    }

    #[test]
    fn config_dir_names_must_be_plain() {
        assert!(FileStore::in_config_dir("../x").is_err());
        assert!(FileStore::in_config_dir("").is_err());
    }
}
