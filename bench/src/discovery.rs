//! Case 6: discovery, against googleapiclient (run here, now) and a serde_json pass that
//! keeps nothing.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use discovery_client::Api;
use serde::de::IgnoredAny;

use crate::Ctx;
use crate::harness::{Record, Stats, per_call};

const BUILD_COMPUTE: &str = "6 discovery build compute alpha";
const BUILD_DRIVE: &str = "6 discovery build drive v3";
const FIRST_CALL: &str = "6 discovery first call compute instances.list";
const REQUEST: &str = "6 discovery drive files.list request, 4 params";

fn read(dir: &Path, name: &str) -> Result<Vec<u8>, String> {
    let p = dir.join(name);
    std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))
}

/// Times `f` `runs` times after one warm-up run (what it returns is dropped on the clock).
fn repeat<R>(runs: usize, mut f: impl FnMut() -> R) -> Stats {
    repeat_with(runs, || (), |()| f())
}

/// [`repeat`] of `f` on an input that `setup` makes before each run's clock starts.
fn repeat_with<I, R>(
    runs: usize,
    mut setup: impl FnMut() -> I,
    mut f: impl FnMut(I) -> R,
) -> Stats {
    std::hint::black_box(f(setup()));
    let d: Vec<_> = (0..runs)
        .map(|_| {
            let input = setup();
            let t = Instant::now();
            std::hint::black_box(f(input));
            t.elapsed()
        })
        .collect();
    Stats::of_durations(&d)
}

pub fn discovery(ctx: &Ctx) -> Result<Vec<Record>, String> {
    let docs = ctx
        .docs
        .as_deref()
        .ok_or("googleapiclient's documents were not found (run `cargo xtask setup`)")?;
    let compute = read(docs, "compute.alpha.json")?;
    let drive = read(docs, "drive.v3.json")?;
    let runs = if ctx.budget.quick { 5 } else { 21 };
    let mut out = Vec::new();

    let size = |b: &[u8]| format!("{:.1} MB", b.len() as f64 / 1e6);
    for (case, doc) in [(BUILD_COMPUTE, &compute), (BUILD_DRIVE, &drive)] {
        let n = if case == BUILD_DRIVE { runs * 5 } else { runs };
        Api::from_document(doc).map_err(|e| e.to_string())?;
        // The bytes handed over, as `build`'s fetch and `from_file` hold them: each run's
        // copy is made (and so in the cache, as bytes just read are) before its clock
        // starts.
        out.push(
            Record::new(
                case,
                "gauth",
                repeat_with(n, || doc.clone(), Api::from_document_owned),
            )
            .note(format!("Api::from_document_owned, {}", size(doc))),
        );
        out.push(
            Record::new(
                case,
                "gauth, borrowed bytes",
                repeat(n, || Api::from_document(doc)),
            )
            .note("Api::from_document: keeps a copy"),
        );
        out.push(
            Record::new(
                case,
                "raw: serde_json IgnoredAny",
                repeat(n, || serde_json::from_slice::<IgnoredAny>(doc)),
            )
            .note("one pass that keeps nothing"),
        );
    }

    // The first call on a method of the big API, on a service just built.
    let mut firsts = Vec::with_capacity(runs);
    for _ in 0..runs {
        let api = Api::from_document(&compute).map_err(|e| e.to_string())?;
        let t = Instant::now();
        let r = api.method("instances.list").map(|m| {
            m.param("project", "p")
                .param("zone", "us-central1-a")
                .prepare()
        });
        firsts.push(t.elapsed());
        r.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
    }
    out.push(
        Record::new(FIRST_CALL, "gauth", Stats::of_durations(&firsts))
            .note("method + 2 params + prepare on a fresh Api"),
    );

    let api = Api::from_document(&drive).map_err(|e| e.to_string())?;
    let one = || {
        api.method("files.list").and_then(|m| {
            m.param("q", "name contains 'x'")
                .param("pageSize", 50)
                .param("orderBy", "modifiedTime desc")
                .param("fields", "files(id,name)")
                .prepare()
        })
    };
    one().map_err(|e| e.to_string())?;
    out.push(
        Record::new(REQUEST, "gauth", per_call(&ctx.budget, one))
            .note("validated, URL built (PreparedRequest)"),
    );

    match googleapiclient(ctx) {
        Ok(mut v) => out.append(&mut v),
        Err(e) => {
            eprintln!("googleapiclient not measured: {e}");
            out.push(
                Record::new(REQUEST, "googleapiclient", Stats::of(Vec::new()))
                    .note(format!("not measured: {e}")),
            );
        }
    }
    Ok(out)
}

/// Runs `tests/interop/bench_discovery.py` with the venv's Python.
fn googleapiclient(ctx: &Ctx) -> Result<Vec<Record>, String> {
    let python = ctx
        .python
        .as_deref()
        .ok_or("no Python venv (run `cargo xtask setup`)")?;
    let script = ctx.root.join("tests/interop/bench_discovery.py");
    let mut cmd = Command::new(python);
    cmd.arg(&script);
    if ctx.budget.quick {
        cmd.arg("--quick");
    }
    let output = cmd
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if !output.status.success() {
        return Err(format!(
            "bench_discovery.py failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let mut out = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let case = match v["case"].as_str().unwrap_or("") {
            "discovery build compute alpha" => BUILD_COMPUTE,
            "discovery build drive v3" => BUILD_DRIVE,
            "discovery first call compute instances.list" => FIRST_CALL,
            "discovery drive files.list request" => REQUEST,
            other => return Err(format!("unknown case from Python: {other}")),
        };
        let stats = Stats {
            median_ns: v["median_ns"].as_f64().unwrap_or(f64::NAN),
            p90_ns: v["p90_ns"].as_f64().unwrap_or(f64::NAN),
        };
        out.push(
            Record::new(case, "googleapiclient", stats)
                .note(v["note"].as_str().unwrap_or("").to_owned()),
        );
    }
    Ok(out)
}
