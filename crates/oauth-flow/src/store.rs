//! Where a sign-in keeps the user between runs: [`CredentialStore`], implemented by
//! oauth-core's [`FileStore`] (google-auth's authorized-user file), and the file gauth uses
//! by default ([`default_store`]).
//!
//! Loading gives the credentials; to keep their refreshes in the same file, give the
//! handle the same store: `Credentials::builder(user).store(store.clone())`.

use std::fmt;

use oauth_core::{AuthorizedUser, EndpointPolicy};

pub use oauth_core::FileStore;

use crate::FlowError;

/// Keeps a user's credentials between runs: what a sign-in saves and a later run loads.
///
/// ```
/// use oauth_flow::{CredentialStore, FileStore};
/// let dir = tempfile::tempdir().unwrap();
/// let store = FileStore::new(dir.path().join("user.json"));
/// assert!(store.load(&Default::default())?.is_none());
/// # Ok::<(), oauth_flow::FlowError>(())
/// ```
pub trait CredentialStore: Send + Sync + fmt::Debug {
    /// The stored credentials, if any. `policy` checks the endpoints they name.
    fn load(&self, policy: &EndpointPolicy) -> Result<Option<AuthorizedUser>, FlowError>;
    /// Stores credentials, replacing what was there.
    fn save(&self, user: &AuthorizedUser) -> Result<(), FlowError>;
    /// Forgets the credentials (after a revocation, say). Deleting nothing is not an error.
    fn delete(&self) -> Result<(), FlowError>;
}

impl CredentialStore for FileStore {
    fn load(&self, policy: &EndpointPolicy) -> Result<Option<AuthorizedUser>, FlowError> {
        Ok(self.load_user(policy)?)
    }

    fn save(&self, user: &AuthorizedUser) -> Result<(), FlowError> {
        Ok(self.save_user(user)?)
    }

    fn delete(&self) -> Result<(), FlowError> {
        Ok(FileStore::delete(self)?)
    }
}

/// The default store: `authorized_user.json` in gauth's folder of the user's config
/// directory (`~/.config/gauth` on Linux, `~/Library/Application Support/gauth` on
/// macOS, `%APPDATA%\gauth` on Windows).
///
/// ```
/// if let Ok(store) = oauth_flow::default_store() {
///     assert!(store.path().ends_with("gauth/authorized_user.json"));
/// }
/// ```
pub fn default_store() -> Result<FileStore, FlowError> {
    store_in_config_dir("authorized_user.json")
}

/// A named file in gauth's folder of the user's config directory.
///
/// ```
/// let store = oauth_flow::store_in_config_dir("work.json");
/// assert!(oauth_flow::store_in_config_dir("../x").is_err());
/// ```
pub fn store_in_config_dir(name: &str) -> Result<FileStore, FlowError> {
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use oauth_core::fsutil::FileLock;
    use oauth_core::types::{ClientSecret, RefreshToken};

    fn user() -> AuthorizedUser {
        AuthorizedUser::new(
            "id",
            Some(ClientSecret::new("s")),
            Some(RefreshToken::new("1//r")),
            "https://oauth2.googleapis.com/token"
                .parse::<url::Url>()
                .unwrap(),
        )
    }

    #[test]
    fn a_sign_in_saved_loads_back_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("u.json"));
        let store: &dyn CredentialStore = &store;
        store.save(&user().with_scopes(["openid"])).unwrap();
        let back = store.load(&EndpointPolicy::default()).unwrap().unwrap();
        assert_eq!(back.refresh_token().unwrap().expose(), "1//r");
        assert_eq!(back.scopes().unwrap(), ["openid"]);
        store.delete().unwrap();
        store.delete().unwrap();
        assert!(store.load(&EndpointPolicy::default()).unwrap().is_none());
    }

    #[test]
    fn saving_while_another_process_holds_the_lock_ends_with_a_lock_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            FileStore::new(dir.path().join("u.json")).with_lock_wait(Duration::from_millis(20));
        let held = FileLock::exclusive(store.path()).unwrap();
        let e = CredentialStore::save(&store, &user()).unwrap_err();
        assert!(
            matches!(e, FlowError::Core(oauth_core::Error::LockTimeout { .. })),
            "{e:?}"
        );
        assert!(!store.path().exists(), "nothing written without the lock");
        drop(held);
        CredentialStore::save(&store, &user()).unwrap();
    }

    #[test]
    fn config_dir_names_must_be_plain() {
        assert!(store_in_config_dir("../x").is_err());
        assert!(store_in_config_dir("").is_err());
    }
}
