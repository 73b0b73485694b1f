//! `cargo xtask bench [--quick] [--json FILE] [--only 1,media,..] [--media-mib N]
//! [--media-runs N] [--media-server lean|emulator]`: builds the `gauth-bench` package in release mode and
//! runs it (`--only media` runs case 8, the 512 MiB upload and download, alone), after
//! setting up the Python peers under `TARGET/interop` as `cargo xtask test` does. The benchmark itself (the counting token server on loopback, the cases,
//! the peers, googleapiclient, the table) lives in `bench/`; `docs/performance.md` shows the
//! latest table.

use std::path::PathBuf;

/// Runs the benchmark with the caller's arguments (`--quick`, `--json FILE`, `--only 1,2`
/// or names such as `--only media`, `--media-mib N`, `--media-runs N`,
/// `--media-server lean|emulator`).
pub fn bench(args: &[String]) -> Result<(), String> {
    let mut forwarded = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => forwarded.push(a.clone()),
            "--json" | "--only" | "--media-mib" | "--media-runs" | "--media-server" => {
                let v = it.next().ok_or(format!("{a} needs a value"))?;
                let v = if a == "--json" {
                    absolute(v)
                } else {
                    v.clone()
                };
                forwarded.push(a.clone());
                forwarded.push(v);
            }
            other => return Err(format!("bench: unknown argument `{other}`")),
        }
    }
    // The Python peers (googleapiclient, its discovery documents) as `cargo xtask test`
    // sets them up: once, under TARGET/interop. Without python3 or npm the bench still runs,
    // and skips googleapiclient.
    match super::interop::setup(&super::target_dir()) {
        Ok(env) => {
            forwarded.push("--python".into());
            forwarded.push(env.python.display().to_string());
            if let Some(docs) = env.discovery_docs {
                forwarded.push("--docs".into());
                forwarded.push(docs.display().to_string());
            }
        }
        Err(e) => eprintln!("(interop environment unavailable: {e}; googleapiclient is skipped)"),
    }
    super::run(
        "build gauth-bench (release)",
        super::cargo().args(["build", "--release", "-p", "gauth-bench"]),
    )?;
    super::run(
        "bench",
        super::cargo()
            .args(["run", "--quiet", "--release", "-p", "gauth-bench", "--"])
            .args(&forwarded),
    )
}

/// A path relative to where the user ran cargo, not to the workspace root.
fn absolute(p: &str) -> String {
    let path = PathBuf::from(p);
    if path.is_absolute() {
        return p.to_owned();
    }
    std::env::current_dir()
        .map(|d| d.join(path).display().to_string())
        .unwrap_or_else(|_| p.to_owned())
}
