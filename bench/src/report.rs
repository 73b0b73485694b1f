//! The printed table: medians, p90s and the ratio of gauth to the best peer and to the raw
//! limit, case by case.

use std::fmt::Write;

use crate::harness::Record;

/// Nanoseconds in the unit that reads best.
pub fn human(ns: f64) -> String {
    if !ns.is_finite() {
        "-".into()
    } else if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} us", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

fn is_gauth(r: &Record) -> bool {
    r.imp.starts_with("gauth")
}

fn is_raw(r: &Record) -> bool {
    r.imp.starts_with("raw:")
}

fn best<'a>(rows: impl Iterator<Item = &'a Record>) -> Option<&'a Record> {
    rows.filter(|r| r.median_ns.is_finite())
        .min_by(|a, b| a.median_ns.total_cmp(&b.median_ns))
}

pub fn table(records: &[Record]) -> String {
    let mut cases: Vec<&str> = Vec::new();
    for r in records {
        if !cases.contains(&r.case.as_str()) {
            cases.push(&r.case);
        }
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n{:<34} {:>12} {:>12} {:>9}  note",
        "impl", "median", "p90", "req/crates"
    );
    for case in cases {
        let rows: Vec<&Record> = records.iter().filter(|r| r.case == case).collect();
        let _ = writeln!(s, "\n## {case}");
        for r in &rows {
            let _ = writeln!(
                s,
                "{:<34} {:>12} {:>12} {:>9}  {}",
                r.imp,
                human(r.median_ns),
                human(r.p90_ns),
                r.requests.map(|n| n.to_string()).unwrap_or_default(),
                r.note
            );
        }
        let g = best(rows.iter().copied().filter(|r| is_gauth(r)));
        let peer = best(rows.iter().copied().filter(|r| !is_gauth(r) && !is_raw(r)));
        let raw = best(rows.iter().copied().filter(|r| is_raw(r)));
        if let (Some(g), Some(p)) = (g, peer) {
            let _ = writeln!(
                s,
                "   ratio {} / best peer ({}): {:.2}",
                g.imp,
                p.imp,
                g.median_ns / p.median_ns
            );
        }
        if let (Some(g), Some(raw)) = (g, raw) {
            let _ = writeln!(
                s,
                "   ratio {} / {}: {:.2}",
                g.imp,
                raw.imp,
                g.median_ns / raw.median_ns
            );
        }
    }
    s
}
