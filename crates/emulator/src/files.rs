//! What a running emulator hands out on disk, and how a foreground emulator knows to stop.
//!
//! The files live in a fresh private directory (a random name, mode 0700) made for this run,
//! created with `create_new` (mode 0600) so that nothing planted beforehand, a symbolic link
//! included, is ever followed or written through; the directory goes when its
//! [`EmulatorFiles`] is dropped. [`ShutdownSignal`] turns SIGINT (Ctrl-C) and SIGTERM into an
//! ordinary return, so that drop runs.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{ClientKind, Emulator};

/// The files an emulator hands out (a client-secrets file for its installed client and
/// the test service-account key, both pointing at it) in a fresh private directory, removed
/// with everything in it when this value is dropped (or [`EmulatorFiles::remove`]d).
///
/// ```
/// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
/// let files = emu.write_files().unwrap();
/// let dir = files.dir().to_path_buf();
/// assert!(std::fs::read_to_string(files.client_secrets()).unwrap().contains(emu.token_uri().as_str()));
/// assert!(files.service_account_key().starts_with(&dir));
/// drop(files);
/// assert!(!dir.exists());
/// ```
#[derive(Debug)]
pub struct EmulatorFiles {
    dir: tempfile::TempDir,
    client_secrets: PathBuf,
    service_account_key: PathBuf,
    external_account: PathBuf,
}

impl EmulatorFiles {
    /// The private directory holding the files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `client_secrets.json`: the installed client, with the emulator's endpoints.
    pub fn client_secrets(&self) -> &Path {
        &self.client_secrets
    }

    /// `service_account.json`: the committed TEST-ONLY key, its `token_uri` pointing at the
    /// emulator.
    pub fn service_account_key(&self) -> &Path {
        &self.service_account_key
    }

    /// `external_account.json`: a workload identity federation file (the emulator's URL
    /// subject-token source, its STS, and impersonation of its first service account).
    pub fn external_account(&self) -> &Path {
        &self.external_account
    }

    /// Removes the directory now, reporting a failure (dropping removes it silently).
    pub fn remove(self) -> std::io::Result<()> {
        self.dir.close()
    }
}

impl Emulator {
    /// Writes [`EmulatorFiles`] to a fresh private directory in the system's temporary
    /// directory (`$TMPDIR`, `/tmp`).
    pub fn write_files(&self) -> std::io::Result<EmulatorFiles> {
        self.write_files_in(&std::env::temp_dir())
    }

    /// Writes [`EmulatorFiles`] to a fresh private directory (`gauth-emulator-` and a random
    /// name, mode 0700) inside `parent`.
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// let parent = tempfile::tempdir().unwrap();
    /// let files = emu.write_files_in(parent.path()).unwrap();
    /// assert_eq!(files.dir().parent(), Some(parent.path()));
    /// ```
    pub fn write_files_in(&self, parent: &Path) -> std::io::Result<EmulatorFiles> {
        let mut builder = tempfile::Builder::new();
        builder.prefix("gauth-emulator-");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o700));
        }
        let dir = builder.tempdir_in(parent)?;
        #[cfg(unix)]
        {
            // The umask narrowed the mode at creation, perhaps too far: set it exactly.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
        }
        let secrets = self
            .client_secrets(ClientKind::Installed)
            .ok_or_else(|| std::io::Error::other("no installed client is registered"))?;
        let client_secrets = create_new(dir.path(), "client_secrets.json", &pretty(&secrets)?)?;
        let service_account_key = create_new(
            dir.path(),
            "service_account.json",
            &pretty(&self.service_account_key())?,
        )?;
        let sa_email = self
            .config()
            .service_accounts
            .first()
            .map(|s| s.email.clone());
        let federation =
            self.external_account_file(crate::CredentialSource::Url, sa_email.as_deref());
        let external_account =
            create_new(dir.path(), "external_account.json", &pretty(&federation)?)?;
        Ok(EmulatorFiles {
            dir,
            client_secrets,
            service_account_key,
            external_account,
        })
    }
}

fn pretty(v: &serde_json::Value) -> std::io::Result<Vec<u8>> {
    let mut text = serde_json::to_vec_pretty(v).map_err(std::io::Error::other)?;
    text.push(b'\n');
    Ok(text)
}

/// Creates `dir/name` (mode 0600), failing if anything, a link included, is already there.
fn create_new(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let path = dir.join(name);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(path)
}

/// Writes `bytes` to `dir/name` by renaming a private temporary file over it: a symbolic
/// link planted at that name is replaced, never followed.
pub(crate) fn replace_in(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let path = dir.join(name);
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(&path).map_err(|e| e.error)?;
    Ok(path)
}

/// Which signal ended the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopSignal {
    /// SIGINT: Ctrl-C at a terminal (also Ctrl-C on Windows).
    Interrupt,
    /// SIGTERM: `kill`, a service manager, a container stopping.
    Terminate,
    /// SIGHUP: the terminal it ran in was closed.
    Hangup,
}

impl std::fmt::Display for StopSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
            StopSignal::Hangup => "SIGHUP",
        })
    }
}

/// SIGINT, SIGTERM and SIGHUP caught for a foreground emulator, so that it can clean up (drop
/// its [`EmulatorFiles`] and stop serving) instead of dying where it stands.
///
/// Install it before handing anything out: from then on these signals no longer end the
/// process by themselves, and [`ShutdownSignal::wait`] returns when one arrives.
///
/// ```no_run
/// use gauth_emulator::{Emulator, ShutdownSignal};
/// let signal = ShutdownSignal::install()?;
/// let emu = Emulator::start(Default::default())?;
/// let files = emu.write_files()?;
/// println!("{}", files.client_secrets().display());
/// let why = signal.wait()?;
/// files.remove()?;
/// eprintln!("stopped by {why}");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct ShutdownSignal {
    runtime: tokio::runtime::Runtime,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hangup: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    /// Starts catching SIGINT, SIGTERM and SIGHUP (Ctrl-C on Windows).
    pub fn install() -> std::io::Result<ShutdownSignal> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            // Registering needs the runtime's I/O driver at hand.
            let (interrupt, terminate, hangup) = {
                let _context = runtime.enter();
                (
                    signal(SignalKind::interrupt())?,
                    signal(SignalKind::terminate())?,
                    signal(SignalKind::hangup())?,
                )
            };
            Ok(ShutdownSignal {
                runtime,
                interrupt,
                terminate,
                hangup,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(ShutdownSignal { runtime })
        }
    }

    /// Blocks until one of the signals arrives (at once if one came since
    /// [`ShutdownSignal::install`]) and says which.
    pub fn wait(self) -> std::io::Result<StopSignal> {
        #[cfg(unix)]
        {
            let ShutdownSignal {
                runtime,
                mut interrupt,
                mut terminate,
                mut hangup,
            } = self;
            Ok(runtime.block_on(async move {
                tokio::select! {
                    _ = interrupt.recv() => StopSignal::Interrupt,
                    _ = terminate.recv() => StopSignal::Terminate,
                    _ = hangup.recv() => StopSignal::Hangup,
                }
            }))
        }
        #[cfg(not(unix))]
        {
            self.runtime.block_on(tokio::signal::ctrl_c())?;
            Ok(StopSignal::Interrupt)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EmulatorConfig;

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private_in_a_private_directory_of_their_own() {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let parent = tempfile::tempdir().unwrap();
        let a = emu.write_files_in(parent.path()).unwrap();
        let b = emu.write_files_in(parent.path()).unwrap();
        assert_ne!(a.dir(), b.dir(), "a fresh directory each time");
        assert_eq!(mode(a.dir()), 0o700);
        assert_eq!(mode(a.client_secrets()), 0o600);
        assert_eq!(mode(a.service_account_key()), 0o600);
        let key: serde_json::Value =
            serde_json::from_slice(&std::fs::read(a.service_account_key()).unwrap()).unwrap();
        assert_eq!(key["token_uri"], emu.token_uri());
        let dir = a.dir().to_path_buf();
        a.remove().unwrap();
        assert!(!dir.exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_planted_where_a_file_goes_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        // create_new refuses the link.
        std::os::unix::fs::symlink(&victim, dir.path().join("client_secrets.json")).unwrap();
        assert!(create_new(dir.path(), "client_secrets.json", b"x").is_err());
        // replace_in replaces the link itself.
        let path = replace_in(dir.path(), "client_secrets.json", b"{}").unwrap();
        assert!(!path.symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert_eq!(std::fs::read(&path).unwrap(), b"{}");
    }
}
