//! The interop environment: Python google-auth, google-auth-oauthlib and
//! google-api-python-client in a venv, node's oidc-provider in a node_modules, both under
//! `TARGET/interop`, installed once and again only when their pinned lists change. Needs
//! python3, node and npm; no root.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Paths of the interop environment, handed to the tests as environment variables.
pub struct Interop {
    /// The venv's python (`GAUTH_PYTHON`).
    pub python: PathBuf,
    /// The node_modules holding oidc-provider (`GAUTH_NODE_MODULES`).
    pub node_modules: PathBuf,
    /// The discovery documents googleapiclient ships (`GAUTH_DISCOVERY_DOCS`), when found.
    pub discovery_docs: Option<PathBuf>,
}

impl Interop {
    /// The variables the test binaries read.
    pub fn vars(&self) -> Vec<(&'static str, PathBuf)> {
        let mut v = vec![
            ("GAUTH_PYTHON", self.python.clone()),
            ("GAUTH_NODE_MODULES", self.node_modules.clone()),
        ];
        if let Some(d) = &self.discovery_docs {
            v.push(("GAUTH_DISCOVERY_DOCS", d.clone()));
        }
        v
    }
}

/// Creates the venv and node_modules once; reinstalls when the pinned lists change.
pub fn setup(target: &Path) -> Result<Interop, String> {
    let dir = target.join("interop");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let spec = super::root().join("tests").join("interop");

    let venv = dir.join("venv");
    let python = venv.join("bin").join("python");
    let requirements = spec.join("requirements.txt");
    let marker = venv.join(".gauth-requirements");
    let wanted = std::fs::read_to_string(&requirements)
        .map_err(|e| format!("cannot read {}: {e}", requirements.display()))?;
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(wanted.as_str()) {
        if !python.exists() {
            super::run(
                &format!("python3 -m venv {}", venv.display()),
                Command::new("python3").args(["-m", "venv"]).arg(&venv),
            )?;
        }
        super::run(
            "pip install -r tests/interop/requirements.txt",
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(&requirements),
        )?;
        std::fs::write(&marker, &wanted).map_err(|e| e.to_string())?;
    } else {
        eprintln!("==> python venv: up to date ({})", venv.display());
    }

    let node = dir.join("node");
    std::fs::create_dir_all(&node).map_err(|e| e.to_string())?;
    let package = std::fs::read_to_string(spec.join("package.json")).map_err(|e| e.to_string())?;
    let node_marker = node.join(".gauth-package");
    if std::fs::read_to_string(&node_marker).ok().as_deref() != Some(package.as_str()) {
        std::fs::write(node.join("package.json"), &package).map_err(|e| e.to_string())?;
        super::run(
            "npm install (oidc-provider)",
            Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&node),
        )?;
        std::fs::write(&node_marker, &package).map_err(|e| e.to_string())?;
    } else {
        eprintln!("==> node_modules: up to date ({})", node.display());
    }
    Ok(Interop {
        discovery_docs: discovery_docs(&venv),
        python,
        node_modules: node.join("node_modules"),
    })
}

/// `venv/lib/python3.X/site-packages/googleapiclient/discovery_cache/documents`.
fn discovery_docs(venv: &Path) -> Option<PathBuf> {
    std::fs::read_dir(venv.join("lib"))
        .ok()?
        .filter_map(Result::ok)
        .map(|e| {
            e.path()
                .join("site-packages/googleapiclient/discovery_cache/documents")
        })
        .find(|p| p.is_dir())
}
