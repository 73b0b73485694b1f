//! Case 8: media at size (issue 17, point 6). A file (512 MiB; `--media-mib N` for another
//! size, 32 MiB under `--quick`) goes up and comes down through the emulator's Drive
//! (`crates/emulator/src/media.rs`) on loopback, by
//!
//! - bare reqwest (async): one `PUT` of the file to a resumable session, one `GET alt=media`
//!   into a file: the baseline gauth's async flavour is held to;
//! - bare ureq (blocking): the same, the baseline of the blocking flavour;
//! - googleapiclient: `MediaFileUpload` (resumable) and `MediaIoBaseDownload`, default
//!   chunks, from the venv (`tests/interop/bench_media.py`);
//! - gauth, both flavours: [`gauth_upload`] and [`gauth_download`] below, THE SLOT where
//!   discovery-client's streaming media plugs in (empty until then: reported as such).
//!
//! Every measured transfer runs in a child process (this binary with `--media-child`, or
//! Python). It reports the bytes it moved and the transfer's own time, then waits; the bench
//! reads the child's peak RSS (`VmHWM` in `/proc/PID/status`) from outside before letting
//! it exit. Uploads are checked against the file's SHA-256 as the emulator stored them, and
//! downloads by hashing what arrived: a wrong byte fails the case rather than a figure.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use gauth_emulator::{Emulator, EmulatorConfig};

use crate::Ctx;
use crate::harness::{Record, Stats};
use crate::media_server::LeanServer;

const DRIVE: &str = "https://www.googleapis.com/auth/drive";
const MIB: u64 = 1024 * 1024;
/// Block size of the bare clients' file reads and writes.
const BLOCK: usize = 1024 * 1024;

/// Which flavour of gauth a slot call is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// The async flavour (discovery-client at its root), on tokio.
    Async,
    /// The blocking flavour (`discovery_client::blocking`), on ureq.
    Blocking,
}

// =========================================================================================
// THE SLOT: gauth's own streaming upload and download (issue 17). Fill these two in when
// discovery-client streams media; they run inside a child process that the bench measures
// from outside (time, bytes, peak RSS), against the same server and file as the baselines.
// Return `None` while there is nothing to measure.
// =========================================================================================

/// Uploads `file` through gauth to Drive's `files.create` (resumable upload, `upload_url` is
/// `.../upload/drive/v3/files`, `token` a Bearer token with the drive scope) and returns the
/// bytes sent. The discovery document is at `{base}/discovery/v1/apis/drive/v3/rest`.
pub fn gauth_upload(
    flavour: Flavour,
    base: &str,
    token: &str,
    file: &Path,
) -> Option<Result<u64, String>> {
    use discovery_client::upload::UploadOptions;
    let metadata = serde_json::json!({"name": "bench.bin"});
    let options = || UploadOptions::resumable();
    let answer = match flavour {
        Flavour::Blocking => (|| {
            let service = discovery_client::blocking::build_with(
                "drive",
                "v3",
                Some(oauth_core::blocking::Credentials::new(bearer(base, token))),
                &build_options(base),
            )?;
            let source = discovery_client::blocking::MediaSource::from_file(
                file,
                Some("application/octet-stream"),
            )?;
            service
                .method("files.create")?
                .body(metadata)
                .upload(source, options())
        })(),
        Flavour::Async => match runtime() {
            Ok(rt) => rt.block_on(async {
                let service = discovery_client::build_with(
                    "drive",
                    "v3",
                    Some(oauth_core::Credentials::new(bearer(base, token))),
                    &build_options(base),
                )
                .await?;
                let source = discovery_client::MediaSource::from_file(
                    file,
                    Some("application/octet-stream"),
                )
                .await?;
                service
                    .method("files.create")?
                    .body(metadata)
                    .upload(source, options())
                    .await
            }),
            Err(e) => return Some(Err(e)),
        },
    };
    Some(answer.map_err(|e| e.to_string()).and_then(|_| {
        std::fs::metadata(file)
            .map(|m| m.len())
            .map_err(|e| e.to_string())
    }))
}

/// Downloads file `file_id` through gauth (`files.get` with `alt=media`) into `out` and
/// returns the bytes written.
pub fn gauth_download(
    flavour: Flavour,
    base: &str,
    token: &str,
    file_id: &str,
    out: &Path,
) -> Option<Result<u64, String>> {
    use discovery_client::download::DownloadOptions;
    let written = match flavour {
        Flavour::Blocking => (|| {
            let service = discovery_client::blocking::build_with(
                "drive",
                "v3",
                Some(oauth_core::blocking::Credentials::new(bearer(base, token))),
                &build_options(base),
            )?;
            let file = std::fs::File::create(out).map_err(|e| discovery_client::Error::Io {
                path: out.display().to_string(),
                reason: e.to_string(),
            })?;
            let mut sink = std::io::BufWriter::with_capacity(BLOCK, file);
            service
                .method("files.get")?
                .param("fileId", file_id)
                .download_to(&mut sink, DownloadOptions::default())
        })(),
        Flavour::Async => match runtime() {
            Ok(rt) => rt.block_on(async {
                let service = discovery_client::build_with(
                    "drive",
                    "v3",
                    Some(oauth_core::Credentials::new(bearer(base, token))),
                    &build_options(base),
                )
                .await?;
                let file = tokio::fs::File::create(out).await.map_err(|e| {
                    discovery_client::Error::Io {
                        path: out.display().to_string(),
                        reason: e.to_string(),
                    }
                })?;
                let mut sink = tokio::io::BufWriter::with_capacity(BLOCK, file);
                service
                    .method("files.get")?
                    .param("fileId", file_id)
                    .download_to(&mut sink, DownloadOptions::default())
                    .await
            }),
            Err(e) => return Some(Err(e)),
        },
    };
    Some(written.map_err(|e| e.to_string()))
}

/// A user credential holding `token` (valid for an hour, never refreshed here).
fn bearer(base: &str, token: &str) -> oauth_core::AuthorizedUser {
    let token_uri = format!("{base}/token").parse::<url::Url>();
    oauth_core::AuthorizedUser::new(
        "bench",
        None,
        None,
        token_uri.unwrap_or_else(|_| url::Url::parse("http://127.0.0.1/token").expect("a URL")),
    )
    .with_token(oauth_core::Token::bearer(
        token.to_owned(),
        Some(std::time::SystemTime::now() + Duration::from_secs(3600)),
    ))
}

fn build_options(base: &str) -> discovery_client::BuildOptions {
    discovery_client::BuildOptions::default().discovery_url(format!(
        "{base}/discovery/v1/apis/{{api}}/{{apiVersion}}/rest"
    ))
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

// =========================================================================================

/// Who moves the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Reqwest,
    Ureq,
    GauthAsync,
    GauthBlocking,
    Python,
}

impl Who {
    const ALL: [Who; 5] = [
        Who::Reqwest,
        Who::Ureq,
        Who::GauthAsync,
        Who::GauthBlocking,
        Who::Python,
    ];

    fn key(self) -> &'static str {
        match self {
            Who::Reqwest => "reqwest",
            Who::Ureq => "ureq",
            Who::GauthAsync => "gauth-async",
            Who::GauthBlocking => "gauth-blocking",
            Who::Python => "python",
        }
    }

    fn from_key(s: &str) -> Option<Who> {
        Who::ALL.into_iter().find(|w| w.key() == s)
    }

    fn label(self, upload: bool) -> String {
        let verb = if upload { "PUT" } else { "GET" };
        match self {
            Who::Reqwest => format!("raw: reqwest {verb} (async)"),
            Who::Ureq => format!("raw: ureq {verb} (blocking)"),
            Who::GauthAsync => "gauth async".into(),
            Who::GauthBlocking => "gauth blocking".into(),
            Who::Python => "googleapiclient".into(),
        }
    }
}

/// One child's transfer.
struct Measured {
    bytes: u64,
    nanos: u64,
    peak_rss_kib: u64,
}

/// Runs `cmd` as a measured child: its `ok BYTES NANOS` line, then its peak RSS read from
/// `/proc` while it waits. `Ok(None)` when it has nothing to measure (`skip ...`).
fn measure(mut cmd: Command) -> Result<Option<Measured>, String> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    let read = BufReader::new(stdout).read_line(&mut line);
    let peak = peak_rss_kib(child.id());
    // Closing stdin lets the child exit.
    drop(child.stdin.take());
    let status = child.wait().map_err(|e| e.to_string())?;
    read.map_err(|e| e.to_string())?;
    let mut words = line.split_whitespace();
    match words.next() {
        Some("ok") => {
            let mut num = || -> Result<u64, String> {
                words
                    .next()
                    .and_then(|w| w.parse().ok())
                    .ok_or_else(|| format!("bad child line `{}`", line.trim()))
            };
            let bytes = num()?;
            let nanos = num()?;
            Ok(Some(Measured {
                bytes,
                nanos,
                peak_rss_kib: peak?,
            }))
        }
        Some("skip") => Ok(None),
        _ => Err(format!(
            "child failed ({status}): {}",
            if line.is_empty() {
                "no output"
            } else {
                line.trim()
            }
        )),
    }
}

/// `VmHWM` of process `pid`, in KiB.
fn peak_rss_kib(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e} (peak RSS needs Linux)"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no VmHWM in /proc/{pid}/status"))
}

/// Writes `size` bytes that do not repeat (unless a file of that size is there already).
fn source_file(path: &Path, size: u64) -> Result<(), String> {
    if std::fs::metadata(path).is_ok_and(|m| m.len() == size) {
        return Ok(());
    }
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?,
    );
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; BLOCK];
    let mut left = size;
    while left > 0 {
        for w in block.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            w.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(BLOCK as u64) as usize;
        f.write_all(&block[..n]).map_err(|e| e.to_string())?;
        left -= n as u64;
    }
    f.flush().map_err(|e| e.to_string())
}

fn sha256_file(path: &Path) -> Result<String, String> {
    let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; BLOCK];
    loop {
        let n = f.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    Ok(ctx
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

/// Opens a resumable session for `size` bytes at `base`; returns its URL.
fn session(base: &str, token: &str, size: u64) -> Result<String, String> {
    let r = agent()
        .post(format!(
            "{base}/upload/drive/v3/files?uploadType=resumable&fields=id,size"
        ))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/json; charset=UTF-8")
        .header("X-Upload-Content-Type", "application/octet-stream")
        .header("X-Upload-Content-Length", size.to_string())
        .send(r#"{"name": "bench.bin"}"#)
        .map_err(|e| format!("initiation: {e}"))?;
    if r.status() != 200 {
        return Err(format!("initiation answered {}", r.status()));
    }
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| "initiation without Location".into())
}

fn delete(emu: &Emulator, token: &str, id: &str) {
    let _ = agent()
        .delete(format!("{}/{id}", emu.drive_files_url()))
        .header("Authorization", format!("Bearer {token}"))
        .call();
}

/// The child command for `who` moving bytes one way.
fn child(ctx: &Ctx, who: Who, args: &[&str]) -> Result<Command, String> {
    let mut cmd = if who == Who::Python {
        let python = ctx
            .python
            .as_deref()
            .ok_or("no Python venv (run `cargo xtask setup`)")?;
        let mut c = Command::new(python);
        c.arg(ctx.root.join("tests/interop/bench_media.py"));
        c
    } else {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut c = Command::new(exe);
        c.args(["--media-child", who.key()]);
        c
    };
    cmd.args(args);
    Ok(cmd)
}

fn mb_s(bytes: u64, nanos: f64) -> f64 {
    bytes as f64 / 1e6 / (nanos / 1e9)
}

/// The record of `who`'s runs (none: not measured, with why) against `server`.
fn record(
    case: &str,
    who: Who,
    upload: bool,
    runs: &[Measured],
    why: Option<String>,
    server: &str,
) -> Record {
    let label = who.label(upload);
    if runs.is_empty() {
        return Record::new(case, &label, Stats::of(Vec::new())).note(
            why.unwrap_or_else(|| "not plugged in yet (bench/src/media.rs, the slot)".into()),
        );
    }
    let times: Vec<f64> = runs.iter().map(|m| m.nanos as f64).collect();
    let median = Stats::of(times.clone()).median_ns;
    let slowest = times.iter().copied().fold(0.0, f64::max);
    let bytes = runs[0].bytes;
    let peak = runs.iter().map(|m| m.peak_rss_kib).max().unwrap_or(0);
    let mut r = Record::new(
        case,
        &label,
        Stats {
            median_ns: median,
            p90_ns: slowest,
        },
    )
    .note(format!(
        "{:.0} MB/s, peak RSS {:.1} MiB; {} run{} (p90 column: slowest); {server}",
        mb_s(bytes, median),
        peak as f64 / 1024.0,
        runs.len(),
        if runs.len() == 1 { "" } else { "s" }
    ));
    r.mb_s = Some(mb_s(bytes, median));
    r.peak_rss_kib = Some(peak);
    r
}

/// The server of a run.
enum Backend {
    Emulator,
    Lean(LeanServer),
}

pub fn media(ctx: &Ctx) -> Result<Vec<Record>, String> {
    let mib = ctx
        .media_mib
        .unwrap_or(if ctx.budget.quick { 32 } else { 512 });
    let size = mib * MIB;
    let runs = ctx
        .media_runs
        .unwrap_or(if ctx.budget.quick { 1 } else { 3 });
    let dir = ctx.dir.join("media");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let src = dir.join(format!("source-{mib}MiB.bin"));
    source_file(&src, size)?;
    let want = sha256_file(&src)?;
    // The emulator always runs: tokens, and the Drive document the lean server copies.
    let emu = Emulator::start(
        EmulatorConfig::default()
            .media_dir(&dir)
            .media_store_limit(3 * size + 64 * MIB),
    )
    .map_err(|e| format!("emulator: {e}"))?;
    let token = emu.access_token(&[DRIVE]);
    let backend = if ctx.media_server.as_deref() == Some("emulator") {
        Backend::Emulator
    } else {
        let content = std::fs::read(&src).map_err(|e| e.to_string())?;
        let doc = agent()
            .get(emu.discovery_url("drive", "v3"))
            .call()
            .map_err(|e| e.to_string())?
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        Backend::Lean(LeanServer::start(content.into(), want.clone(), &doc)?)
    };
    let (base, server_note) = match &backend {
        Backend::Emulator => (
            emu.base_url().to_owned(),
            "the emulator's Drive (disk, SHA-256)",
        ),
        Backend::Lean(l) => (l.base.clone(), "lean server (memory, bytes compared)"),
    };
    eprintln!("    {mib} MiB against {server_note}, {runs} run(s) each");
    let up_case = format!("8 media: upload {mib} MiB");
    let down_case = format!("8 media: download {mib} MiB");
    let src_arg = src.display().to_string();
    let mut out = Vec::new();

    // Runs alternate between the clients, so that a change in the machine's load falls on
    // all of them alike.
    let skip: Vec<(Who, String)> = if ctx.python.is_none() {
        vec![(
            Who::Python,
            "not measured: no Python venv (run `cargo xtask setup`)".into(),
        )]
    } else {
        Vec::new()
    };
    // Uploads. On the emulator the first one stored stays, for the downloads.
    let mut kept: Option<String> = None;
    let mut upload = |who: Who| -> Result<Option<Measured>, String> {
        let cmd = match who {
            Who::Reqwest | Who::Ureq => {
                let url = session(&base, &token, size)?;
                child(ctx, who, &["upload", &url, &token, &src_arg])?
            }
            Who::Python => child(ctx, who, &[&base, &token, "upload", &src_arg])?,
            Who::GauthAsync | Who::GauthBlocking => {
                child(ctx, who, &["upload", &base, &token, &src_arg])?
            }
        };
        let before = emu.media_objects().len();
        let Some(m) = measure(cmd)? else {
            return Ok(None);
        };
        let label = who.label(true);
        match &backend {
            Backend::Emulator => {
                let objects = emu.media_objects();
                let stored = objects
                    .last()
                    .filter(|_| objects.len() > before)
                    .ok_or_else(|| format!("{label}: nothing was stored"))?;
                if stored.sha256 != want || m.bytes != size {
                    return Err(format!(
                        "{label}: stored {} bytes with SHA-256 {}, not the file's {want}",
                        stored.size, stored.sha256
                    ));
                }
                if kept.is_none() {
                    kept = Some(stored.id.clone());
                } else {
                    delete(&emu, &token, &stored.id);
                }
            }
            Backend::Lean(l) => match l.take_last() {
                Some((n, true)) if n == size && m.bytes == size => {}
                other => {
                    return Err(format!(
                        "{label}: the server received {other:?} (bytes, all right), not the file"
                    ));
                }
            },
        }
        eprintln!("    {label}: {:.0} MB/s", mb_s(m.bytes, m.nanos as f64));
        Ok(Some(m))
    };
    let ups = alternate(runs, &skip, &mut upload)?;
    for (who, (done, why)) in Who::ALL.into_iter().zip(ups) {
        out.push(record(&up_case, who, true, &done, why, server_note));
    }

    // Downloads.
    let id = match &backend {
        Backend::Emulator => kept.ok_or("no upload succeeded, nothing to download")?,
        Backend::Lean(_) => "lean".to_owned(),
    };
    let media_url = format!("{base}/drive/v3/files/{id}?alt=media");
    let sink = dir.join("download.bin");
    let sink_arg = sink.display().to_string();
    let mut download = |who: Who| -> Result<Option<Measured>, String> {
        let _ = std::fs::remove_file(&sink);
        let cmd = match who {
            Who::Reqwest | Who::Ureq => {
                child(ctx, who, &["download", &media_url, &token, &sink_arg])?
            }
            Who::Python => child(ctx, who, &[&base, &token, "download", &id, &sink_arg])?,
            Who::GauthAsync | Who::GauthBlocking => {
                child(ctx, who, &["download", &base, &token, &id, &sink_arg])?
            }
        };
        let Some(m) = measure(cmd)? else {
            return Ok(None);
        };
        let label = who.label(false);
        let got = sha256_file(&sink)?;
        let _ = std::fs::remove_file(&sink);
        if got != want || m.bytes != size {
            return Err(format!(
                "{label}: downloaded {} bytes with SHA-256 {got}, not the file's {want}",
                m.bytes
            ));
        }
        eprintln!("    {label}: {:.0} MB/s", mb_s(m.bytes, m.nanos as f64));
        Ok(Some(m))
    };
    let downs = alternate(runs, &skip, &mut download)?;
    for (who, (done, why)) in Who::ALL.into_iter().zip(downs) {
        out.push(record(&down_case, who, false, &done, why, server_note));
    }
    if matches!(backend, Backend::Emulator) {
        // The emulator runs in this process, which holds no copy of the file: its peak is
        // what the emulator needed to store and serve it.
        if let Ok(peak) = peak_rss_kib(std::process::id()) {
            let line = format!(
                " (bench process with the emulator peaked at {:.1} MiB)",
                peak as f64 / 1024.0
            );
            eprintln!("   {line}");
            for r in out.iter_mut().filter(|r| r.mb_s.is_some()) {
                r.note.push_str(&line);
            }
        }
    }
    compare_flavours(&mut out);
    Ok(out)
}

/// A client's runs, or why it has none.
type Runs = (Vec<Measured>, Option<String>);

/// Runs `once` for every client, `runs` rounds, the clients taking turns within a round. A
/// client with nothing to measure (`Ok(None)`) drops out, as do those in `skip` (with their
/// reason); a wrong transfer fails the case. Returns the runs per client, in [`Who::ALL`]
/// order.
fn alternate(
    runs: usize,
    skip: &[(Who, String)],
    once: &mut dyn FnMut(Who) -> Result<Option<Measured>, String>,
) -> Result<Vec<Runs>, String> {
    let mut results: Vec<Runs> = Who::ALL
        .iter()
        .map(|w| {
            let why = skip
                .iter()
                .find(|(s, _)| s == w)
                .map(|(_, why)| why.clone());
            (Vec::new(), why)
        })
        .collect();
    let mut out_of_it: Vec<bool> = results.iter().map(|r| r.1.is_some()).collect();
    for _ in 0..runs {
        for (i, who) in Who::ALL.into_iter().enumerate() {
            if out_of_it[i] {
                continue;
            }
            match once(who)? {
                Some(m) => results[i].0.push(m),
                None => out_of_it[i] = true,
            }
        }
    }
    Ok(results)
}

/// Notes each gauth flavour's throughput as a share of its baseline's (async: reqwest,
/// blocking: ureq), the figure issue 17 asks to be at least 90%, and its peak RSS against
/// the 64 MiB bound.
fn compare_flavours(records: &mut [Record]) {
    for (gauth, raw) in [
        (Who::GauthAsync, Who::Reqwest),
        (Who::GauthBlocking, Who::Ureq),
    ] {
        for upload in [true, false] {
            let way = if upload { "upload" } else { "download" };
            let find = |w: Who| {
                records.iter().position(|r| {
                    r.imp == w.label(upload) && r.case.contains(way) && r.mb_s.is_some()
                })
            };
            let (Some(g), Some(b)) = (find(gauth), find(raw)) else {
                continue;
            };
            let share = records[g].mb_s.unwrap_or(0.0) / records[b].mb_s.unwrap_or(f64::NAN);
            let peak = records[g].peak_rss_kib.unwrap_or(0) as f64 / 1024.0;
            let line = format!(
                "; {:.0}% of {}'s throughput (target 90%), peak RSS {peak:.1} of 64 MiB",
                share * 100.0,
                raw.key()
            );
            records[g].note.push_str(&line);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The children.

/// `gauth-bench --media-child WHO upload URL TOKEN FILE` or
/// `gauth-bench --media-child WHO download URL TOKEN [FILE_ID] OUT`: one transfer, its line,
/// then a wait for stdin to close.
pub fn child_main(args: &[String]) -> ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match a.as_slice() {
        [who, op, rest @ ..] => match Who::from_key(who) {
            Some(who) => transfer(who, op, rest),
            None => Err(format!("unknown child `{who}`")),
        },
        _ => Err("usage: --media-child WHO OP ARGS".into()),
    };
    let line = match &result {
        Ok(Some((bytes, took))) => format!("ok {bytes} {}", took.as_nanos()),
        Ok(None) => "skip not plugged in".to_owned(),
        Err(e) => format!("error {e}"),
    };
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
    // Stay alive until the bench has read our peak RSS.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

type Moved = Option<(u64, Duration)>;

fn transfer(who: Who, op: &str, rest: &[&str]) -> Result<Moved, String> {
    let timed = |f: &mut dyn FnMut() -> Option<Result<u64, String>>| -> Result<Moved, String> {
        let t = Instant::now();
        match f() {
            None => Ok(None),
            Some(r) => r.map(|n| Some((n, t.elapsed()))),
        }
    };
    match (who, op, rest) {
        (Who::Reqwest, "upload", [url, token, file]) => {
            timed(&mut || Some(reqwest_put(url, token, Path::new(file))))
        }
        (Who::Reqwest, "download", [url, token, out]) => {
            timed(&mut || Some(reqwest_get(url, token, Path::new(out))))
        }
        (Who::Ureq, "upload", [url, token, file]) => {
            timed(&mut || Some(ureq_put(url, token, Path::new(file))))
        }
        (Who::Ureq, "download", [url, token, out]) => {
            timed(&mut || Some(ureq_get(url, token, Path::new(out))))
        }
        (Who::GauthAsync | Who::GauthBlocking, "upload", [base, token, file]) => {
            let flavour = flavour(who);
            timed(&mut || gauth_upload(flavour, base, token, Path::new(file)))
        }
        (Who::GauthAsync | Who::GauthBlocking, "download", [base, token, id, out]) => {
            let flavour = flavour(who);
            timed(&mut || gauth_download(flavour, base, token, id, Path::new(out)))
        }
        _ => Err(format!("bad child arguments: {} {op} {rest:?}", who.key())),
    }
}

fn flavour(who: Who) -> Flavour {
    if who == Who::GauthBlocking {
        Flavour::Blocking
    } else {
        Flavour::Async
    }
}

/// The whole file in one `PUT` (the session's one-request form), read on a thread in 1 MiB
/// blocks and streamed by reqwest.
fn reqwest_put(url: &str, token: &str, file: &Path) -> Result<u64, String> {
    let size = std::fs::metadata(file).map_err(|e| e.to_string())?.len();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    let path = file.to_path_buf();
    let reader = std::thread::spawn(move || {
        let mut f = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        loop {
            let mut buf = vec![0u8; BLOCK];
            match read_full(&mut f, &mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.blocking_send(Ok(buf)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    let result = rt.block_on(async {
        let client = reqwest::Client::new();
        let body = reqwest::Body::wrap(Blocks(rx));
        let r = client
            .put(url)
            .bearer_auth(token)
            .header("Content-Length", size)
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status();
        let text = r.text().await.map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!("PUT answered {status}: {text}"));
        }
        Ok(size)
    });
    let _ = reader.join();
    result
}

/// A channel of blocks as a request body.
struct Blocks(tokio::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>);

impl http_body::Body for Blocks {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, std::io::Error>>> {
        self.get_mut()
            .0
            .poll_recv(cx)
            .map(|b| b.map(|r| r.map(|v| http_body::Frame::data(v.into()))))
    }
}

fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// `GET alt=media` with reqwest, each chunk written to `out` as it comes.
fn reqwest_get(url: &str, token: &str, out: &Path) -> Result<u64, String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let client = reqwest::Client::new();
        let mut r = client
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status() != 200 {
            return Err(format!("GET answered {}", r.status()));
        }
        let mut f = std::io::BufWriter::with_capacity(
            BLOCK,
            std::fs::File::create(out).map_err(|e| e.to_string())?,
        );
        let mut n = 0u64;
        while let Some(chunk) = r.chunk().await.map_err(|e| e.to_string())? {
            f.write_all(&chunk).map_err(|e| e.to_string())?;
            n += chunk.len() as u64;
        }
        f.flush().map_err(|e| e.to_string())?;
        Ok(n)
    })
}

/// The whole file in one `PUT` with ureq (it reads the file itself).
fn ureq_put(url: &str, token: &str, file: &Path) -> Result<u64, String> {
    let f = std::fs::File::open(file).map_err(|e| e.to_string())?;
    let size = f.metadata().map_err(|e| e.to_string())?.len();
    let mut r = agent()
        .put(url)
        .header("Authorization", format!("Bearer {token}"))
        .send(f)
        .map_err(|e| e.to_string())?;
    let text = r.body_mut().read_to_string().unwrap_or_default();
    if r.status() != 200 {
        return Err(format!("PUT answered {}: {text}", r.status()));
    }
    Ok(size)
}

/// `GET alt=media` with ureq, copied to `out` in 1 MiB blocks.
fn ureq_get(url: &str, token: &str, out: &Path) -> Result<u64, String> {
    let r = agent()
        .get(url)
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .map_err(|e| e.to_string())?;
    if r.status() != 200 {
        return Err(format!("GET answered {}", r.status()));
    }
    let mut body = r.into_body().into_reader();
    let mut f = std::fs::File::create(out).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; BLOCK];
    let mut n = 0u64;
    loop {
        let k = body.read(&mut buf).map_err(|e| e.to_string())?;
        if k == 0 {
            break;
        }
        f.write_all(&buf[..k]).map_err(|e| e.to_string())?;
        n += k as u64;
    }
    Ok(n)
}
