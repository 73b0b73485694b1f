//! `cargo xtask bench [--quick] [--json FILE] [--only 1,media,..] [--media-mib N]
//! [--media-runs N] [--media-server lean|emulator]`: builds the `gauth-bench` package in release mode and
//! runs it (`--only media` runs case 8, the 512 MiB upload and download, alone). The benchmark itself (the counting token server on loopback, the cases,
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
    let python = super::target_dir().join("interop/venv/bin/python");
    if !python.exists() {
        eprintln!("(no Python venv: googleapiclient is skipped; `cargo xtask setup` makes one)");
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
