//! Replays the saved fuzz corpus (`fuzz/corpus/TARGET/*`) through the same entry points the
//! fuzz targets drive (`fuzz/src/lib.rs`), so every input fuzzing kept, crashes included,
//! is checked by the normal test suite on stable. `cargo xtask fuzz` grows the corpus.

#[path = "../fuzz/src/lib.rs"]
mod targets;

use std::path::Path;

#[test]
fn every_saved_fuzz_input_is_handled_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let mut total = 0;
    for (name, entry) in targets::TARGETS {
        let dir = root.join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no corpus for {name}");
        for f in &files {
            let data = std::fs::read(f).unwrap();
            let r = std::panic::catch_unwind(|| entry(&data));
            assert!(r.is_ok(), "{name}: {} panics", f.display());
        }
        eprintln!("{name}: {} inputs replayed", files.len());
        total += files.len();
    }
    eprintln!("{total} corpus inputs replayed");
}
