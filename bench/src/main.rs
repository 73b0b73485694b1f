//! `cargo xtask bench`: gauth against yup-oauth2, gcp_auth, google-cloud-auth, googleapiclient
//! and the raw limits, on this machine, in one run. Timed results are printed and written as
//! JSON lines; nothing here is a test and nothing asserts a time.
//!
//! usage: gauth-bench [--quick] [--json FILE] [--python PATH] [--docs DIR] [--only 1,media,..]
//!                    [--media-mib N] [--media-runs N] [--media-server lean|emulator]
//!
//! (`gauth-bench --fleet-member ...` is case 9's member process, not for people.)

mod crypto;
mod discovery;
mod fixtures;
mod fleet;
mod footprint;
mod gauth_creds;
mod harness;
mod media;
mod media_server;
mod peers;
mod report;
mod short_lived;
mod tokens;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use harness::{Budget, Record};

/// What every case needs.
pub struct Ctx {
    /// How long to measure.
    pub budget: Budget,
    /// The runtime of every async measurement: multi-threaded, one worker per core.
    pub rt: tokio::runtime::Runtime,
    /// Scratch files (key files).
    pub dir: PathBuf,
    /// The workspace root.
    pub root: PathBuf,
    /// The venv's Python, for googleapiclient.
    pub python: Option<PathBuf>,
    /// googleapiclient's shipped discovery documents.
    pub docs: Option<PathBuf>,
    /// Case 8's file size in MiB (`--media-mib`).
    pub media_mib: Option<u64>,
    /// Case 8's server: `lean` (default) or `emulator` (`--media-server`).
    pub media_server: Option<String>,
    /// Case 8's rounds (`--media-runs`; 3, or 1 under `--quick`).
    pub media_runs: Option<usize>,
}

impl Ctx {
    /// How long a throughput window lasts.
    pub fn window(&self) -> Duration {
        if self.budget.quick {
            Duration::from_millis(150)
        } else {
            Duration::from_millis(500)
        }
    }
}

struct Args {
    quick: bool,
    json: Option<PathBuf>,
    python: Option<PathBuf>,
    docs: Option<PathBuf>,
    only: Option<Vec<u32>>,
    media_mib: Option<u64>,
    media_server: Option<String>,
    media_runs: Option<usize>,
}

/// Cases that `--only` also takes by name.
const NAMES: [(&str, u32); 10] = [
    ("cached", 1),
    ("stampede", 2),
    ("cold-start", 3),
    ("minting", 4),
    ("verification", 5),
    ("discovery", 6),
    ("footprint", 7),
    ("media", 8),
    ("fleet", 9),
    ("short-lived", 10),
];

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        quick: false,
        json: None,
        python: None,
        docs: None,
        only: None,
        media_mib: None,
        media_server: None,
        media_runs: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--json" => a.json = Some(value("--json")?.into()),
            "--python" => a.python = Some(value("--python")?.into()),
            "--docs" => a.docs = Some(value("--docs")?.into()),
            "--only" => {
                let list = value("--only")?;
                a.only = Some(
                    list.split(',')
                        .map(|s| {
                            let s = s.trim();
                            s.parse()
                                .ok()
                                .or_else(|| NAMES.iter().find(|(n, _)| *n == s).map(|(_, i)| *i))
                                .ok_or_else(|| format!("bad case `{s}`"))
                        })
                        .collect::<Result<_, _>>()?,
                );
            }
            "--media-server" => {
                let v = value("--media-server")?;
                if v != "lean" && v != "emulator" {
                    return Err(format!("--media-server is lean or emulator, not `{v}`"));
                }
                a.media_server = Some(v);
            }
            "--media-runs" => {
                let v = value("--media-runs")?;
                a.media_runs = Some(
                    v.parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or(format!("--media-runs takes a count, not `{v}`"))?,
                );
            }
            "--media-mib" => {
                let v = value("--media-mib")?;
                a.media_mib = Some(
                    v.parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or(format!("--media-mib takes a size in MiB, not `{v}`"))?,
                );
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    // Case 8 measures transfers in child processes: this binary again.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--media-child") {
        return media::child_main(&args[2..]);
    }
    // Case 9's fleet members are this binary too.
    if args.get(1).map(String::as_str) == Some("--fleet-member") {
        return match fleet::member(&args[2..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("fleet member: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    // google-cloud-auth without its default features needs a process-wide rustls provider;
    // ring, as everywhere else here.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .ok_or("no workspace root")?;
    let python = args
        .python
        .or_else(|| Some(root.join("target/interop/venv/bin/python")))
        .filter(|p| p.exists());
    let docs = args.docs.or_else(|| find_docs(&root));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let dir = root.join("target/bench-work");
    let ctx = Ctx {
        budget: Budget::new(args.quick),
        rt,
        dir,
        root,
        python,
        docs,
        media_mib: args.media_mib,
        media_server: args.media_server,
        media_runs: args.media_runs,
    };

    type Case = fn(&Ctx) -> Result<Vec<Record>, String>;
    let cases: [(u32, &str, Case); 10] = [
        (1, "cached token", tokens::cached),
        (2, "stampede", tokens::stampede),
        (3, "cold start", tokens::cold_start),
        (4, "service-account minting", crypto::minting),
        (5, "ID-token verification", crypto::verification),
        (6, "discovery", discovery::discovery),
        (7, "footprint", footprint::footprint),
        (8, "media", media::media),
        (9, "fleet token cache on Redis", fleet::fleet),
        (10, "short-lived tokens", short_lived::short_lived),
    ];
    let mut json = match &args.json {
        Some(p) => Some(std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?),
        None => None,
    };
    let started = Instant::now();
    let mut all = Vec::new();
    for (n, name, case) in cases {
        if args.only.as_ref().is_some_and(|o| !o.contains(&n)) {
            continue;
        }
        eprintln!("==> case {n}: {name}");
        let t = Instant::now();
        let records = case(&ctx).map_err(|e| format!("case {n} ({name}): {e}"))?;
        eprintln!("    {:.1} s", t.elapsed().as_secs_f64());
        if let Some(f) = json.as_mut() {
            for r in &records {
                let line = serde_json::to_string(r).map_err(|e| e.to_string())?;
                writeln!(f, "{line}").map_err(|e| e.to_string())?;
            }
        }
        all.extend(records);
    }
    print!("{}", report::table(&all));
    eprintln!("total {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// googleapiclient's documents inside the test venv.
fn find_docs(root: &std::path::Path) -> Option<PathBuf> {
    let lib = root.join("target/interop/venv/lib");
    std::fs::read_dir(lib).ok()?.flatten().find_map(|e| {
        let d = e
            .path()
            .join("site-packages/googleapiclient/discovery_cache/documents");
        d.is_dir().then_some(d)
    })
}
