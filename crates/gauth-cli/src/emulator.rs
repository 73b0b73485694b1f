//! `gauth emulator [--port N]`: runs the local Google stand-in until interrupted.

use gauth_emulator::{Emulator, EmulatorConfig, ShutdownSignal};

use crate::args::EmulatorArgs;
use crate::out::{self, Failure};

/// Starts the emulator on loopback, writes a client-secrets file and a (test-only)
/// service-account key for it in a fresh private directory, prints what a user needs
/// (stdout: the base URL, the client-secrets file, the key file and the `--discovery-url`
/// template, one a line; stderr: the same, labelled, and a session to paste), and serves until
/// SIGINT (Ctrl-C), SIGTERM or SIGHUP, then removes the directory.
pub fn emulator(a: &EmulatorArgs) -> Result<(), Failure> {
    // Before anything is handed out: from here on a signal stops us through the cleanup.
    let signal = ShutdownSignal::install().map_err(|e| format!("cannot catch signals: {e}"))?;
    let emu =
        Emulator::start(EmulatorConfig::default().port(a.port.unwrap_or(0))).map_err(|e| {
            format!(
                "cannot start the emulator on port {}: {e}",
                a.port.unwrap_or(0)
            )
        })?;
    // Removed when dropped, on every way out of this function.
    let files = emu
        .write_files()
        .map_err(|e| format!("cannot write the emulator's files: {e}"))?;
    let (secrets, key) = (files.client_secrets(), files.service_account_key());

    let banner = Banner {
        base_url: emu.base_url().to_owned(),
        client_secrets: secrets.display().to_string(),
        key: key.display().to_string(),
        federation: files.external_account().display().to_string(),
        discovery_url: emu.discovery_url_template(),
        metadata_host: emu.metadata_host(),
    };
    for value in [
        &banner.base_url,
        &banner.client_secrets,
        &banner.key,
        &banner.discovery_url,
    ] {
        out::line(value)?;
    }
    out::note(&banner.text());
    let why = signal
        .wait()
        .map_err(|e| format!("waiting for a signal: {e}"))?;
    let dir = files.dir().to_path_buf();
    files
        .remove()
        .map_err(|e| format!("cannot remove {}: {e}", dir.display()))?;
    drop(emu);
    out::note(&format!(
        "gauth emulator: stopped ({why}); removed {}",
        dir.display()
    ));
    Ok(())
}

/// What the emulator tells its user.
struct Banner {
    base_url: String,
    client_secrets: String,
    key: String,
    federation: String,
    discovery_url: String,
    metadata_host: String,
}

impl Banner {
    /// The labelled values and a session that works when pasted as it is.
    fn text(&self) -> String {
        let cs = shell_word(&self.client_secrets);
        let key = shell_word(&self.key);
        let discovery = shell_word(&self.discovery_url);
        format!(
            "gauth emulator: Google's OAuth, token, metadata and API endpoints on loopback, \
signing with test-only keys. Ctrl-C stops it.
  base URL             {base}
  client secrets       {cs_raw}
  service-account key  {key_raw}
  federation file      {fed_raw} (URL source, STS, impersonation)
  --discovery-url      {disc_raw}
  metadata server      GCE_METADATA_HOST={meta}
Try it in another terminal (login saves to gauth's credential store, replacing what is there):
  gauth login --client-secrets {cs} --scope openid --scope email
  gauth token
  gauth call oauth2 v2 userinfo.get --discovery-url {discovery}
  gauth token --credentials {key}",
            base = self.base_url,
            cs_raw = self.client_secrets,
            key_raw = self.key,
            fed_raw = self.federation,
            disc_raw = self.discovery_url,
            meta = self.metadata_host,
        )
    }
}

/// `s` as one shell word: as it is when it holds nothing a shell would touch, else in
/// single quotes.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:=@%+,".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_survive_a_shell() {
        assert_eq!(shell_word("/tmp/a.json"), "/tmp/a.json");
        assert_eq!(
            shell_word("http://127.0.0.1:1/d/{api}/{apiVersion}/rest"),
            "'http://127.0.0.1:1/d/{api}/{apiVersion}/rest'"
        );
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
    }
}
