//! Files the library reads (bounded) and writes (atomically, mode 0600, safe to share
//! between processes).
//!
//! The rules (see `docs/security.md`, "Files"):
//! - A file is replaced atomically: a private temporary file in the same directory is
//!   written, flushed to disk and renamed over the old one, and the rename is flushed too.
//! - A file that is a symbolic link (a dotfile manager's) stays a link: the file at the end of
//!   its chain of links is the one replaced, in its own directory ([`resolve_links`]).
//! - Processes sharing a file take an OS lock on a companion `.NAME.lock` file beside the
//!   link's target. The lock file is never opened through a symbolic link and is created
//!   with mode 0600; it is never written.
//! - Waiting for another process's lock is bounded ([`DEFAULT_LOCK_WAIT`]); past the bound
//!   the wait ends with [`Error::LockTimeout`].

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

/// How long a process waits by default for another process's lock on a shared file: one
/// request timeout of the built-in transports ([`crate::transport::DEFAULT_TIMEOUT`]), so
/// that processes queued behind a stalled token request give up together, in about one
/// timeout, instead of each waiting for the previous one's stall in turn.
pub const DEFAULT_LOCK_WAIT: Duration = crate::transport::DEFAULT_TIMEOUT;

/// The longest chain of symbolic links followed (Linux's own limit).
const MAX_LINKS: usize = 40;

/// The longest pause between two attempts to take a lock held elsewhere.
const MAX_LOCK_POLL: Duration = Duration::from_millis(20);

/// Replaces `path` with `bytes` atomically: a temporary file (mode 0600) is written in the
/// same directory, flushed to disk and renamed over the target, and the directory is
/// flushed, so a reader (or a crash) sees the old file or the new one, never a part.
///
/// When `path` is a symbolic link (or a chain of them), the link stays as it is and the file
/// it leads to is replaced, in that file's directory; see [`resolve_links`].
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("token.json");
/// oauth_core::fsutil::atomic_write(&p, b"{}").unwrap();
/// assert_eq!(std::fs::read(&p).unwrap(), b"{}");
/// ```
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let target = resolve_links(path)?;
    replace(&target, bytes).map_err(|e| Error::write(path, e))
}

fn replace(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = parent_dir(target);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "gauth".into());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(&dir)?;
    restrict(tmp.as_file())?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(target).map_err(|e| e.error)?;
    // Make the rename itself durable.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The directory a path's last component lives in (`.` for a bare name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Where a write to `path` lands: `path` itself, or, when it is a symbolic link, the path at
/// the end of its chain of links (which need not exist yet). A relative link is read against
/// the directory of the link that holds it, as the OS reads it; nothing is normalised, so
/// `..` after a linked directory means what it means to the OS.
///
/// As the kernel's `protected_symlinks` rule does for opens, a link in a sticky
/// world-writable directory (such as `/tmp`) is followed only when it belongs to this
/// process's user or to the directory's owner: another user's link there is an error, never
/// a write to wherever it points. More than 40 links is an error too.
///
/// ```
/// # #[cfg(unix)] {
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::create_dir(dir.path().join("dotfiles")).unwrap();
/// let link = dir.path().join("creds.json");
/// std::os::unix::fs::symlink("dotfiles/creds.json", &link).unwrap();
/// let target = oauth_core::fsutil::resolve_links(&link).unwrap();
/// assert_eq!(target, dir.path().join("dotfiles/creds.json"));
/// oauth_core::fsutil::atomic_write(&link, b"{}").unwrap();
/// assert!(link.symlink_metadata().unwrap().file_type().is_symlink(), "still a link");
/// assert_eq!(std::fs::read(&target).unwrap(), b"{}");
/// # }
/// ```
pub fn resolve_links(path: &Path) -> Result<PathBuf, Error> {
    let mut current = path.to_path_buf();
    for _ in 0..=MAX_LINKS {
        let meta = match std::fs::symlink_metadata(&current) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(Error::write(path, e)),
        };
        if !meta.file_type().is_symlink() {
            return Ok(current);
        }
        may_follow(&current, &meta).map_err(|e| Error::write(path, e))?;
        let next = std::fs::read_link(&current).map_err(|e| Error::write(path, e))?;
        current = if next.is_absolute() {
            next
        } else {
            parent_dir(&current).join(next)
        };
    }
    Err(Error::write(
        path,
        std::io::Error::other(format!(
            "more than {MAX_LINKS} symbolic links in a chain (a loop?)"
        )),
    ))
}

/// The `protected_symlinks` rule for a link we are about to follow by hand.
#[cfg(unix)]
fn may_follow(link: &Path, meta: &std::fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let dir = std::fs::metadata(parent_dir(link))?;
    let euid = rustix::process::geteuid().as_raw();
    if follow_allowed(meta.uid(), dir.uid(), dir.mode(), euid) {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "a symbolic link owned by another user in a shared sticky directory; not followed",
        ))
    }
}

#[cfg(not(unix))]
fn may_follow(_link: &Path, _meta: &std::fs::Metadata) -> std::io::Result<()> {
    Ok(())
}

/// Linux's `fs.protected_symlinks`: in a sticky world-writable directory, only a link owned
/// by the follower or by the directory's owner is followed.
#[cfg(unix)]
fn follow_allowed(link_uid: u32, dir_uid: u32, dir_mode: u32, euid: u32) -> bool {
    let sticky_world_writable = dir_mode & 0o1002 == 0o1002;
    !sticky_world_writable || link_uid == euid || link_uid == dir_uid
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
/// process waiting on the old inode would hold a lock nobody else sees. When the file is a
/// symbolic link, the lock file lies beside the link's target, so every name of one file
/// shares one lock. The lock file is opened without following a symbolic link (one planted
/// at its path is an error, not a file created or opened elsewhere), created with mode 0600,
/// and never written.
///
/// ```
/// use std::time::Duration;
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("token.json");
/// let lock = oauth_core::fsutil::FileLock::exclusive(&p).unwrap();
/// // Another holder gives up after the wait it chose.
/// let e = oauth_core::fsutil::FileLock::exclusive_timeout(&p, Duration::from_millis(10)).unwrap_err();
/// assert!(matches!(e, oauth_core::Error::LockTimeout { .. }));
/// drop(lock);
/// ```
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
}

impl FileLock {
    /// Takes the lock for `path`, waiting at most [`DEFAULT_LOCK_WAIT`] for another holder.
    pub fn exclusive(path: &Path) -> Result<FileLock, Error> {
        Self::exclusive_timeout(path, DEFAULT_LOCK_WAIT)
    }

    /// Takes the lock for `path`, waiting at most `wait` for another holder to release it;
    /// then fails with [`Error::LockTimeout`]. A `wait` too large to represent waits without
    /// a bound. The wait blocks the calling thread (async callers run it on the blocking
    /// pool).
    pub fn exclusive_timeout(path: &Path, wait: Duration) -> Result<FileLock, Error> {
        let target = resolve_links(path)?;
        let lock_path = lock_path(&target);
        let file = open_lock_file(&lock_path)?;
        let started = Instant::now();
        let deadline = started.checked_add(wait);
        let mut pause = Duration::from_millis(1);
        loop {
            match file.try_lock() {
                Ok(()) => {
                    return Ok(FileLock {
                        file,
                        path: lock_path,
                    });
                }
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::write(&lock_path, e)),
            }
            let left = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => pause,
            };
            if left.is_zero() {
                return Err(Error::LockTimeout {
                    path: path.to_path_buf(),
                    lock: lock_path,
                    waited: started.elapsed(),
                });
            }
            std::thread::sleep(pause.min(left));
            pause = pause.saturating_mul(2).min(MAX_LOCK_POLL);
        }
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

/// Opens (creating, mode 0600) a lock file, never through a symbolic link, and only when it
/// is a regular file.
fn open_lock_file(lock_path: &Path) -> Result<File, Error> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use rustix::fs::OFlags;
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
        // NOFOLLOW: a planted link is refused. NONBLOCK: a planted FIFO cannot hang the open.
        options.custom_flags((OFlags::NOFOLLOW | OFlags::NONBLOCK).bits() as i32);
    }
    let file = options.open(lock_path).map_err(|e| {
        let is_link =
            std::fs::symlink_metadata(lock_path).is_ok_and(|m| m.file_type().is_symlink());
        if is_link {
            Error::write(
                lock_path,
                std::io::Error::other(
                    "the lock file is a symbolic link; a lock file is never opened through one",
                ),
            )
        } else {
            Error::write(lock_path, e)
        }
    })?;
    let meta = file.metadata().map_err(|e| Error::write(lock_path, e))?;
    if !meta.is_file() {
        return Err(Error::write(
            lock_path,
            std::io::Error::other("the lock file is not a regular file"),
        ));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    fn temporaries(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count()
    }

    #[cfg(unix)]
    #[test]
    fn written_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.json");
        std::fs::write(&p, b"old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        atomic_write(&p, b"new").unwrap();
        assert_eq!(mode(&p), 0o600);
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        assert_eq!(temporaries(dir.path()), 0);
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
    fn waiting_for_a_held_lock_ends_with_a_typed_transient_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.json");
        let held = FileLock::exclusive(&p).unwrap();
        let e = FileLock::exclusive_timeout(&p, Duration::from_millis(30)).unwrap_err();
        match &e {
            Error::LockTimeout { path, lock, waited } => {
                assert_eq!(path, &p);
                assert_eq!(lock, held.path());
                assert!(*waited >= Duration::from_millis(30));
            }
            other => panic!("{other:?}"),
        }
        assert!(e.is_transient(), "another try may find the lock free");
        let text = e.to_string();
        assert!(
            text.contains("t.json") && text.contains("another process"),
            "{text}"
        );
        drop(held);
        FileLock::exclusive_timeout(&p, Duration::from_millis(30)).expect("free again");
    }

    #[test]
    fn a_waiter_gets_the_lock_as_soon_as_it_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.json");
        let held = FileLock::exclusive(&p).unwrap();
        let waiter = {
            let p = p.clone();
            std::thread::spawn(move || FileLock::exclusive_timeout(&p, Duration::from_secs(600)))
        };
        std::thread::sleep(Duration::from_millis(50));
        drop(held);
        waiter.join().unwrap().expect("taken after the release");
    }

    #[test]
    fn an_unrepresentable_wait_is_no_overflow() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.json");
        FileLock::exclusive_timeout(&p, Duration::MAX).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn lock_files_are_created_private() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.json");
        let lock = FileLock::exclusive(&p).unwrap();
        assert_eq!(lock.path(), dir.path().join(".t.json.lock"));
        assert_eq!(mode(lock.path()), 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_planted_at_the_lock_path_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let victim = elsewhere.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let before = std::fs::metadata(&victim).unwrap();
        let p = dir.path().join("t.json");
        std::os::unix::fs::symlink(&victim, dir.path().join(".t.json.lock")).unwrap();
        let e = FileLock::exclusive(&p).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(e.to_string().contains(".t.json.lock"), "{e}");
        let after = std::fs::metadata(&victim).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert_eq!(before.modified().unwrap(), after.modified().unwrap());
        assert_eq!(before.permissions(), after.permissions());

        // A dangling link does not create its target either.
        let missing = elsewhere.path().join("created-by-nobody");
        let q = dir.path().join("u.json");
        std::os::unix::fs::symlink(&missing, dir.path().join(".u.json.lock")).unwrap();
        assert!(FileLock::exclusive(&q).is_err());
        assert!(!missing.exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_planted_at_the_lock_path_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join(".t.json.lock");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let e = FileLock::exclusive(&dir.path().join("t.json")).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn writing_through_a_relative_symlink_replaces_its_target_and_keeps_the_link() {
        use std::os::unix::fs::symlink;
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join("dotfiles")).unwrap();
        let target = home.path().join("dotfiles/creds.json");
        std::fs::write(&target, b"old").unwrap();
        let link = home.path().join("creds.json");
        symlink("dotfiles/creds.json", &link).unwrap();
        atomic_write(&link, b"new").unwrap();
        assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            Path::new("dotfiles/creds.json")
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert_eq!(mode(&target), 0o600);
        assert_eq!(temporaries(home.path()), 0);
        assert_eq!(temporaries(&home.path().join("dotfiles")), 0);
    }

    #[cfg(unix)]
    #[test]
    fn writing_through_a_chain_of_links_across_directories_replaces_the_last_target() {
        use std::os::unix::fs::symlink;
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let c = tempfile::tempdir().unwrap();
        let target = c.path().join("real.json");
        std::fs::write(&target, b"old").unwrap();
        // a/creds.json -> b/middle.json (absolute) -> ../<c>/real.json (relative to b)
        let middle = b.path().join("middle.json");
        let rel = Path::new("..")
            .join(c.path().file_name().unwrap())
            .join("real.json");
        symlink(&rel, &middle).unwrap();
        let link = a.path().join("creds.json");
        symlink(&middle, &link).unwrap();
        assert_eq!(resolve_links(&link).unwrap(), b.path().join(&rel));
        atomic_write(&link, b"new").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert_eq!(std::fs::read_link(&link).unwrap(), middle);
        assert_eq!(std::fs::read_link(&middle).unwrap(), rel);
        // The lock lies beside the target, whatever name the file is reached by.
        let via_link = FileLock::exclusive(&link).unwrap();
        assert_eq!(
            std::fs::canonicalize(via_link.path()).unwrap(),
            std::fs::canonicalize(c.path().join(".real.json.lock")).unwrap()
        );
        assert!(FileLock::exclusive_timeout(&target, Duration::ZERO).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_dangling_link_gets_its_target_created_and_a_loop_is_an_error() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("creds.json");
        symlink("not-yet.json", &link).unwrap();
        atomic_write(&link, b"{}").unwrap();
        assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!(
            std::fs::read(dir.path().join("not-yet.json")).unwrap(),
            b"{}"
        );

        let l1 = dir.path().join("l1");
        let l2 = dir.path().join("l2");
        symlink(&l2, &l1).unwrap();
        symlink(&l1, &l2).unwrap();
        let e = atomic_write(&l1, b"x").unwrap_err();
        assert!(e.to_string().contains("symbolic links"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn links_in_sticky_shared_directories_are_followed_only_for_their_owners() {
        const SHARED: u32 = 0o41777; // a directory like /tmp
        const ROOT: u32 = 0;
        let (me, stranger) = (1000, 1001);
        assert!(follow_allowed(me, ROOT, SHARED, me));
        assert!(!follow_allowed(stranger, ROOT, SHARED, me));
        assert!(
            follow_allowed(ROOT, ROOT, SHARED, me),
            "the directory's owner"
        );
        assert!(
            follow_allowed(stranger, me, 0o40755, me),
            "a private directory trusts its contents"
        );
        assert!(follow_allowed(stranger, ROOT, 0o40777, me), "not sticky");
    }

    #[test]
    fn a_missing_directory_is_a_write_error_naming_the_file() {
        let e = atomic_write(Path::new("/nonexistent-dir/x/t.json"), b"x").unwrap_err();
        assert!(e.to_string().contains("/nonexistent-dir/x/t.json"), "{e}");
    }
}
