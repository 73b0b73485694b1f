//! Case 6: discovery, against googleapiclient (run here, now) and a serde_json pass that
//! keeps nothing.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

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

/// The time of one call of `f`, what it returns dropped on the clock.
fn timed<R>(f: impl FnOnce() -> R) -> Duration {
    let t = Instant::now();
    std::hint::black_box(f());
    t.elapsed()
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
        // The three are timed in turn, round after round, so that a machine's slower spell
        // weighs on each alike. The `gauth` row takes bytes handed over, as `build`'s fetch
        // and `from_file` hold them: each run's copy is made (and so in the cache, as bytes
        // just read are) before its clock starts.
        let mut times: [Vec<Duration>; 3] = Default::default();
        for _ in 0..=n {
            let copy = doc.clone();
            times[0].push(timed(|| Api::from_document_owned(copy)));
            times[1].push(timed(|| Api::from_document(doc)));
            times[2].push(timed(|| serde_json::from_slice::<IgnoredAny>(doc)));
        }
        let [owned, borrowed, raw] = times.map(|mut t| {
            t.remove(0); // the warm-up round
            Stats::of_durations(&t)
        });
        out.push(
            Record::new(case, "gauth", owned)
                .note(format!("Api::from_document_owned, {}", size(doc))),
        );
        out.push(
            Record::new(case, "gauth, borrowed bytes", borrowed)
                .note("Api::from_document: keeps a copy"),
        );
        out.push(
            Record::new(case, "raw: serde_json IgnoredAny", raw)
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
