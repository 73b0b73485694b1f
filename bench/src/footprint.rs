//! Case 7: crates in the dependency tree and a clean release build, each in a scratch project
//! under `target/bench-footprint/` that depends on one library only.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::Ctx;
use crate::harness::{Record, Stats};

/// Each library as a user would add it (the peers on ring, as in bench/Cargo.toml).
fn subjects(root: &Path) -> Vec<(&'static str, String)> {
    let gauth = |features: &str| {
        format!(
            "gauth = {{ path = {:?}{features} }}",
            root.join("crates/gauth").display().to_string()
        )
    };
    vec![
        ("gauth", gauth("")),
        // The default before discovery left it (issue 18): what a program calling APIs by
        // their discovery documents builds.
        ("gauth+discovery", gauth(r#", features = ["discovery"]"#)),
        (
            "gauth blocking+sa",
            gauth(r#", default-features = false, features = ["blocking", "service-account"]"#),
        ),
        (
            "gauth async+sa",
            gauth(r#", default-features = false, features = ["async", "service-account"]"#),
        ),
        (
            "yup-oauth2",
            r#"yup-oauth2 = { version = "12.1", default-features = false, features = ["hyper-rustls", "service-account", "ring"] }"#.into(),
        ),
        (
            "gcp_auth",
            r#"gcp_auth = { version = "0.12.7", default-features = false, features = ["ring"] }"#.into(),
        ),
        (
            "google-cloud-auth",
            r#"google-cloud-auth = { version = "1.18", default-features = false }
rustls = { version = "0.23", default-features = false, features = ["ring"] }"#
                .into(),
        ),
    ]
}

/// Clean builds of every subject, in interleaved rounds: a build's time on a shared
/// machine swings by 10% and more from one run to the next (and the first build of a run
/// is slowest), so each subject's best round is reported, its rounds in the note.
const ROUNDS: usize = 2;

pub fn footprint(ctx: &Ctx) -> Result<Vec<Record>, String> {
    let mut projects = Vec::new();
    for (name, dep) in subjects(&ctx.root) {
        let dir = ctx
            .root
            .join("target/bench-footprint")
            .join(name.replace([' ', '+'], "-"));
        std::fs::create_dir_all(dir.join("src")).map_err(|e| e.to_string())?;
        let manifest = format!(
            "[package]\nname = \"footprint-{}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n[workspace]\n\n[dependencies]\n{dep}\n",
            name.replace(['_', ' ', '+'], "-")
        );
        std::fs::write(dir.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("src/lib.rs"), "").map_err(|e| e.to_string())?;
        // Same versions as the workspace resolved, where it has them.
        let lock = dir.join("Cargo.lock");
        if !lock.exists() {
            let _ = std::fs::copy(ctx.root.join("Cargo.lock"), &lock);
        }
        let count = crate_count(&dir, name, "normal,build")?;
        // The limits of issue 13 count `cargo tree -e normal` (the library itself included).
        let normal = crate_count(&dir, name, "normal")?;
        projects.push((name, dir, count, normal, Vec::new()));
    }
    if !ctx.budget.quick {
        for _ in 0..ROUNDS {
            for (name, dir, _, _, times) in &mut projects {
                times.push(clean_build(name, dir)?);
            }
        }
    }
    let mut out = Vec::new();
    for (name, _, count, normal, times) in projects {
        let (stats, note) = match times.iter().min() {
            None => (
                Stats::of(Vec::new()),
                "clean build skipped (--quick)".to_owned(),
            ),
            Some(best) => (
                Stats::of_durations(&[*best]),
                format!(
                    "clean release build, best of {} rounds ({}; time in median_ns)",
                    times.len(),
                    times
                        .iter()
                        .map(|t| format!("{:.1} s", t.as_secs_f64()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        };
        out.push(
            Record::new("7 footprint: crates / clean release build", name, stats)
                .requests(count)
                .note(format!(
                    "{count} crates (normal+build), {normal} with `cargo tree -e normal`; {note}"
                )),
        );
    }
    Ok(out)
}

/// One clean release build of the scratch project in `dir`, in its own target directory.
fn clean_build(name: &str, dir: &Path) -> Result<std::time::Duration, String> {
    let target = dir.join("target");
    let _ = std::fs::remove_dir_all(&target);
    let t = Instant::now();
    let build = Command::new("cargo")
        .args(["build", "--release", "--quiet"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(dir)
        .status()
        .map_err(|e| format!("cargo build: {e}"))?;
    let took = t.elapsed();
    if !build.success() {
        return Err(format!("clean build of {name} failed"));
    }
    let _ = std::fs::remove_dir_all(&target);
    Ok(took)
}

/// Unique crates (`name version`) in the scratch project's tree for `edges`, the project
/// itself left out.
fn crate_count(dir: &Path, name: &str, edges: &str) -> Result<u64, String> {
    let tree = Command::new("cargo")
        .args(["tree", "--edges", edges, "--prefix", "none"])
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cargo tree: {e}"))?;
    if !tree.status.success() {
        return Err(format!(
            "cargo tree for {name}: {}",
            String::from_utf8_lossy(&tree.stderr)
        ));
    }
    let mut crates: Vec<String> = String::from_utf8_lossy(&tree.stdout)
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            Some(format!("{} {}", parts.next()?, parts.next()?))
        })
        .filter(|c| !c.starts_with("footprint-"))
        .collect();
    crates.sort();
    crates.dedup();
    Ok(crates.len() as u64)
}
