//! Files the library writes: atomically, mode 0600, safe to share between processes.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::Error;

/// Replaces `path` with `bytes` atomically: a temporary file beside it (mode 0600) is
/// written, flushed to disk and renamed over the target, so a reader (or a crash) sees the
/// old file or the new one, never a part.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("token.json");
/// oauth_core::fsutil::atomic_write(&p, b"{}").unwrap();
/// assert_eq!(std::fs::read(&p).unwrap(), b"{}");
/// ```
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "gauth".into());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| Error::write(path, e))?;
    restrict(tmp.as_file()).map_err(|e| Error::write(path, e))?;
    tmp.write_all(bytes).map_err(|e| Error::write(path, e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::write(path, e))?;
    tmp.persist(path).map_err(|e| Error::write(path, e.error))?;
    // Make the rename itself durable.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(unix)]
fn restrict(file: &File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn restrict(_file: &File) -> std::io::Result<()> {
    Ok(())
}

/// An exclusive OS lock on a file's companion lock file (`.NAME.lock` beside it), held
/// until dropped.
///
/// The lock is not taken on the file itself because [`atomic_write`] replaces that file: a
/// process waiting on the old inode would hold a lock nobody else sees.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("token.json");
/// let lock = oauth_core::fsutil::FileLock::exclusive(&p).unwrap();
/// drop(lock);
/// ```
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
}

impl FileLock {
    /// Blocks until this process holds the lock for `path`.
    pub fn exclusive(path: &Path) -> Result<FileLock, Error> {
        let lock_path = lock_path(path);
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options
            .open(&lock_path)
            .map_err(|e| Error::write(&lock_path, e))?;
        file.lock().map_err(|e| Error::write(&lock_path, e))?;
        Ok(FileLock {
            file,
            path: lock_path,
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "gauth".into());
    path.with_file_name(format!(".{name}.lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn written_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.json");
        std::fs::write(&p, b"old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        atomic_write(&p, b"new").unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn the_lock_excludes_other_holders() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.json");
        let held = FileLock::exclusive(&p).unwrap();
        let other = File::options()
            .read(true)
            .write(true)
            .open(held.path())
            .unwrap();
        assert!(other.try_lock().is_err());
        drop(held);
        assert!(other.try_lock().is_ok());
    }

    #[test]
    fn a_missing_directory_is_a_write_error_naming_the_file() {
        let e = atomic_write(Path::new("/nonexistent-dir/x/t.json"), b"x").unwrap_err();
        assert!(e.to_string().contains("/nonexistent-dir/x/t.json"), "{e}");
    }
}
