//! `cargo xtask test`'s checks of the facade's build shape (issue 13, point 7; issue 18,
//! point 3): every feature combination of `gauth` compiles, its dependency trees stay within
//! their crate limits with no crate in two versions, and the declared MSRV is one that the
//! toolchain and every dependency satisfy.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// The facade's features (crates/gauth/Cargo.toml).
pub const FEATURES: [&str; 8] = [
    "blocking",
    "async",
    "flow",
    "service-account",
    "external-account",
    "adc",
    "discovery",
    "redis",
];

/// What a feature turns on besides itself (crates/gauth/Cargo.toml).
fn implied(feature: &str) -> &'static [&'static str] {
    match feature {
        "external-account" | "adc" => &["service-account"],
        _ => &[],
    }
}

/// A limit on one build of the facade.
pub struct Limit {
    /// How the build is named in reports.
    pub name: &'static str,
    /// Its features; `None` for the default ones.
    pub features: Option<&'static [&'static str]>,
    /// The most crates its normal dependency tree may hold (proc macros included, as
    /// `cargo tree -e normal` lists them), the facade itself included.
    pub max_crates: usize,
    /// Crates it must not hold.
    pub forbidden: &'static [&'static str],
}

/// The limits of issue 13 point 7 (the async build is measured, not limited).
pub const LIMITS: [Limit; 3] = [
    Limit {
        name: "default features",
        features: None,
        max_crates: 99,
        forbidden: &[],
    },
    Limit {
        name: "blocking + service-account",
        features: Some(&["blocking", "service-account"]),
        max_crates: 72,
        forbidden: &["reqwest", "tokio", "hyper"],
    },
    Limit {
        name: "async + service-account",
        features: Some(&["async", "service-account"]),
        max_crates: 99,
        forbidden: &["ureq"],
    },
];

/// Every distinct feature set of the facade: the power set of [`FEATURES`], with sets that
/// turn on the same features (through `implied`) counted once.
pub fn combinations() -> Vec<Vec<&'static str>> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for mask in 0u32..(1 << FEATURES.len()) {
        let mut set = BTreeSet::new();
        for (i, f) in FEATURES.iter().enumerate() {
            if mask & (1 << i) != 0 {
                set.insert(*f);
                set.extend(implied(f));
            }
        }
        if seen.insert(set.clone()) {
            out.push(set.into_iter().collect());
        }
    }
    out
}

fn feature_args(features: Option<&[&str]>) -> Vec<String> {
    match features {
        None => Vec::new(),
        Some(f) => vec![
            "--no-default-features".into(),
            "--features".into(),
            f.join(","),
        ],
    }
}

/// The crates (`name version`) in the facade's tree for `edges`, the facade included.
pub fn crates(root: &Path, features: Option<&[&str]>, edges: &str) -> Result<Vec<String>, String> {
    let out = super::cargo()
        .args(["tree", "-p", "gauth", "--prefix", "none", "-e", edges])
        .args(feature_args(features))
        .current_dir(root)
        .output()
        .map_err(|e| format!("cargo tree: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo tree: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let set: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            Some(format!("{} {}", parts.next()?, parts.next()?))
        })
        .collect();
    Ok(set.into_iter().collect())
}

/// Names that appear in more than one version.
pub fn duplicates(crates: &[String]) -> Vec<String> {
    let mut versions: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for c in crates {
        if let Some((name, version)) = c.split_once(' ') {
            versions.entry(name).or_default().push(version);
        }
    }
    versions
        .into_iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(n, v)| format!("{n} ({})", v.join(", ")))
        .collect()
}

/// Checks every [`Limit`]: crate count, forbidden crates, and no crate compiled into the
/// program in two versions (proc macros run at build time and are reported, not failed:
/// jsonwebtoken's `zeroize_derive` is still on syn 2 while serde's derive is on syn 3).
pub fn check_limits(root: &Path) -> Result<(), String> {
    let mut failures = Vec::new();
    for limit in &LIMITS {
        let all = crates(root, limit.features, "normal")?;
        let linked = crates(root, limit.features, "normal,no-proc-macro")?;
        let held: Vec<&str> = limit
            .forbidden
            .iter()
            .filter(|f| all.iter().any(|c| c.split(' ').next() == Some(**f)))
            .copied()
            .collect();
        let dup = duplicates(&linked);
        let host_dup: Vec<String> = duplicates(&all)
            .into_iter()
            .filter(|d| !dup.contains(d))
            .collect();
        eprintln!(
            "    {}: {} crates (limit {}), {} linked into the program; twice: {}{}",
            limit.name,
            all.len(),
            limit.max_crates,
            linked.len(),
            if dup.is_empty() {
                "none".into()
            } else {
                dup.join(", ")
            },
            if host_dup.is_empty() {
                String::new()
            } else {
                format!(" (build-time proc macros only: {})", host_dup.join(", "))
            }
        );
        if all.len() > limit.max_crates {
            failures.push(format!(
                "{}: {} crates, over the limit of {}",
                limit.name,
                all.len(),
                limit.max_crates
            ));
        }
        if !held.is_empty() {
            failures.push(format!("{}: holds {}", limit.name, held.join(", ")));
        }
        if !dup.is_empty() {
            failures.push(format!(
                "{}: in two versions: {}",
                limit.name,
                dup.join(", ")
            ));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

/// `cargo check -p gauth` for every combination, in `target_dir` (its own, so that the
/// usual builds keep their artifacts). The sub-crates compile once per flavour; the facade
/// once per combination.
pub fn check_combinations(root: &Path, target_dir: &Path) -> Result<(), String> {
    let all = combinations();
    let mut failed = Vec::new();
    for (i, set) in all.iter().enumerate() {
        let list = if set.is_empty() {
            "(none)".to_owned()
        } else {
            set.join(",")
        };
        eprintln!("    [{}/{}] {list}", i + 1, all.len());
        let ok = super::cargo()
            .args(["check", "--quiet", "-p", "gauth", "--no-default-features"])
            .args(["--features", &set.join(",")])
            .env("CARGO_TARGET_DIR", target_dir)
            .current_dir(root)
            .status()
            .map_err(|e| format!("cargo check: {e}"))?
            .success();
        if !ok {
            failed.push(list);
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "these feature sets do not compile: {}",
            failed.join("; ")
        ))
    }
}

/// A `major.minor[.patch]` version as a comparable triple.
fn version(s: &str) -> Option<(u64, u64, u64)> {
    let mut it = s.trim().split('.').map(|p| p.parse::<u64>().ok());
    let major = it.next()??;
    let minor = it.next().flatten().unwrap_or(0);
    let patch = it.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

/// The declared MSRV (`rust-version` in the workspace's Cargo.toml) is no newer than the
/// toolchain's rustc, and no dependency of the facade (all features) declares a newer one.
/// There is one toolchain here, so that the code builds with exactly the declared version
/// is not checked; what is checked is that nothing in the tree already rules it out.
pub fn check_msrv(root: &Path) -> Result<(), String> {
    let manifest =
        std::fs::read_to_string(root.join("Cargo.toml")).map_err(|e| format!("Cargo.toml: {e}"))?;
    let declared = manifest
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == "rust-version").then(|| v.trim().trim_matches('"').to_owned())
        })
        .ok_or("no rust-version in the workspace Cargo.toml")?;
    let msrv = version(&declared).ok_or(format!("rust-version `{declared}` is not a version"))?;
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .map_err(|e| format!("rustc: {e}"))?;
    let rustc = String::from_utf8_lossy(&rustc.stdout).into_owned();
    let have = rustc
        .split_whitespace()
        .nth(1)
        .and_then(version)
        .ok_or(format!("cannot read `{}`", rustc.trim()))?;
    if msrv > have {
        return Err(format!(
            "rust-version {declared} is newer than the toolchain ({})",
            rustc.trim()
        ));
    }
    let tree: BTreeSet<String> = crates(root, Some(&FEATURES), "normal")?
        .into_iter()
        .collect();
    let meta = super::cargo()
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(root)
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    let meta: serde_json::Value =
        serde_json::from_slice(&meta.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    let mut newer = Vec::new();
    for p in meta["packages"].as_array().into_iter().flatten() {
        let id = format!(
            "{} v{}",
            p["name"].as_str().unwrap_or(""),
            p["version"].as_str().unwrap_or("")
        );
        let needs = p["rust_version"].as_str().and_then(version);
        if tree.contains(&id) && needs.is_some_and(|n| n > msrv) {
            newer.push(format!("{id} needs {}", p["rust_version"]));
        }
    }
    eprintln!(
        "    rust-version {declared}; toolchain {}; {} crates in the facade's tree checked",
        rustc.trim(),
        tree.len()
    );
    if newer.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "dependencies newer than rust-version {declared}: {}",
            newer.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implied_features_make_fewer_distinct_sets() {
        let all = combinations();
        // 2^8 subsets; service-account is on whenever adc or external-account is.
        assert_eq!(all.len(), 160);
        assert!(all.iter().any(|s| s.is_empty()));
        assert!(all.iter().all(|s| {
            !(s.contains(&"adc") || s.contains(&"external-account"))
                || s.contains(&"service-account")
        }));
    }

    #[test]
    fn duplicates_name_each_version() {
        let list = ["a 1", "b 1", "b 2", "c 3"].map(String::from);
        assert_eq!(duplicates(&list), ["b (1, 2)"]);
        assert_eq!(version("1.89"), Some((1, 89, 0)));
        assert!(version("1.89.0") < version("1.95.0"));
    }
}
