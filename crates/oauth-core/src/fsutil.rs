//! Files the library reads (bounded) and writes (atomically, mode 0600, safe to share
//! between processes).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::Error;

/// The most gauth reads of a credentials file (authorized user, service-account key,
/// client secrets, ADC): 1 MiB, a thousand times a real one.
pub const MAX_CREDENTIALS_FILE: u64 = 1 << 20;

/// Reads at most `limit` bytes of `path`: the one way the library reads a file.
///
/// A longer file, or a special file that never ends (`/dev/zero`, `/dev/urandom`), is
/// [`Error::FileTooLarge`] naming the file and the limit, after reading `limit + 1` bytes
/// at most (milliseconds, bounded memory). On Linux the file is opened without blocking, so
/// a named pipe that no process writes to reads as empty instead of hanging; a pipe with a
/// writer (`<(command)` in a shell) is read as usual.
///
/// ```
/// use oauth_core::{Error, fsutil::read_bounded};
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("creds.json");
/// std::fs::write(&p, b"{}").unwrap();
/// assert_eq!(read_bounded(&p, 2).unwrap(), b"{}");
/// assert!(matches!(read_bounded(&p, 1), Err(Error::FileTooLarge { limit: 1, .. })));
/// # #[cfg(unix)]
/// assert!(matches!(read_bounded(std::path::Path::new("/dev/zero"), 1 << 20), Err(Error::FileTooLarge { .. })));
/// ```
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, Error> {
    let file = open_for_reading(path).map_err(|e| Error::read(path, e))?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::read(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(Error::FileTooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(bytes)
}

/// Opens for reading; on Linux without blocking on a FIFO nobody writes to (the open
/// would wait forever), then back in blocking mode for the reads.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn open_for_reading(path: &Path) -> std::io::Result<File> {
    use rustix::fs::OFlags;
    use std::os::unix::fs::OpenOptionsExt;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(OFlags::NONBLOCK.bits() as i32)
        .open(path)?;
    if !file.metadata()?.is_file() {
        let flags = rustix::fs::fcntl_getfl(&file)?;
        rustix::fs::fcntl_setfl(&file, flags - OFlags::NONBLOCK)?;
    }
    Ok(file)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn open_for_reading(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

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

    #[cfg(unix)]
    #[test]
    fn endless_special_files_are_a_typed_error_naming_file_and_limit() {
        for dev in ["/dev/zero", "/dev/urandom"] {
            let e = read_bounded(Path::new(dev), MAX_CREDENTIALS_FILE).unwrap_err();
            assert!(matches!(e, Error::FileTooLarge { .. }), "{e:?}");
            let m = e.to_string();
            assert!(m.contains(dev) && m.contains("1048576"), "{m}");
        }
        assert_eq!(read_bounded(Path::new("/dev/null"), 10).unwrap(), b"");
        let e = read_bounded(Path::new("/"), 10).unwrap_err();
        assert!(matches!(e, Error::Read { .. }), "{e:?}");
    }

    #[test]
    fn files_at_the_limit_are_read_and_one_byte_more_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, vec![b'x'; 100]).unwrap();
        assert_eq!(read_bounded(&p, 100).unwrap().len(), 100);
        assert!(matches!(
            read_bounded(&p, 99),
            Err(Error::FileTooLarge { limit: 99, .. })
        ));
        assert_eq!(read_bounded(&p, u64::MAX).unwrap().len(), 100);
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn a_fifo_without_a_writer_reads_as_empty_instead_of_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fifo");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &p,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
        )
        .unwrap();
        assert_eq!(read_bounded(&p, 10).unwrap(), b"");
        // Data a writer left in the pipe is read (a second reader keeps the pipe open
        // while nobody reads, as a shell's `<(command)` does).
        use std::os::unix::fs::OpenOptionsExt;
        let keeper = OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(&p)
            .unwrap();
        let mut writer = OpenOptions::new().write(true).open(&p).unwrap();
        writer.write_all(b"{\"a\":1}").unwrap();
        drop(writer);
        assert_eq!(read_bounded(&p, 10).unwrap(), b"{\"a\":1}");
        drop(keeper);
    }

    #[test]
    fn a_missing_directory_is_a_write_error_naming_the_file() {
        let e = atomic_write(Path::new("/nonexistent-dir/x/t.json"), b"x").unwrap_err();
        assert!(e.to_string().contains("/nonexistent-dir/x/t.json"), "{e}");
    }
}
