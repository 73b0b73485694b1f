//! `--token-cache redis://...` (or `GAUTH_TOKEN_CACHE`): the loaded credentials, refreshed
//! through a Redis token store shared by every process and machine that uses it. A user's
//! file stays the store behind Redis, so refreshes (and rotated refresh tokens) still go
//! back to it.

use gauth::{FileStore, RedisStore};

use crate::args::CacheArgs;
use crate::credentials::Loaded;

/// The credentials, sharing their tokens through the cache when one is named.
pub fn share(mut loaded: Loaded, args: &CacheArgs) -> Result<Loaded, String> {
    let Some(url) = &args.token_cache else {
        return Ok(loaded);
    };
    let mut store = RedisStore::new(url).map_err(|e| e.to_string())?;
    // The CLI keeps an authorized-user file's refreshes in the file itself.
    if loaded.credentials.kind() == "authorized_user" && !loaded.source.is_metadata_server() {
        store = store.with_file_store(FileStore::new(&loaded.source.location));
    }
    loaded.credentials = loaded.credentials.to_builder().store(store).build();
    Ok(loaded)
}
