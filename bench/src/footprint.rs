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

pub fn footprint(ctx: &Ctx) -> Result<Vec<Record>, String> {
    let mut out = Vec::new();
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

        let (stats, note) = if ctx.budget.quick {
            (
                Stats::of(Vec::new()),
                "clean build skipped (--quick)".to_owned(),
            )
        } else {
            let target = dir.join("target");
            let _ = std::fs::remove_dir_all(&target);
            let t = Instant::now();
            let build = Command::new("cargo")
                .args(["build", "--release", "--quiet"])
                .env("CARGO_TARGET_DIR", &target)
                .current_dir(&dir)
                .status()
                .map_err(|e| format!("cargo build: {e}"))?;
            let took = t.elapsed();
            if !build.success() {
                return Err(format!("clean build of {name} failed"));
            }
            let _ = std::fs::remove_dir_all(&target);
            (
                Stats::of_durations(&[took]),
                "clean release build (time in median_ns)".to_owned(),
            )
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
