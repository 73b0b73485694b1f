//! Every Markdown file a newcomer reads (the workspace README and `docs/*.md`) is included in
//! `gauth`'s doc-tests (`src/lib.rs`, `workspace_docs`), so its Rust snippets compile and
//! its other snippets say their language.

use std::path::Path;

#[test]
fn every_readme_and_docs_page_is_compiled_as_doc_tests() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = crate_dir.join("../..");
    let lib = std::fs::read_to_string(crate_dir.join("src/lib.rs")).unwrap();
    let mut pages = vec!["README.md".to_owned()];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") {
            pages.push(format!("docs/{name}"));
        }
    }
    assert!(pages.len() > 1, "docs/ has Markdown pages");
    let missing: Vec<&String> = pages
        .iter()
        .filter(|p| !lib.contains(&format!("include_str!(\"../../../{p}\")")))
        .collect();
    assert!(
        missing.is_empty(),
        "not included in gauth's doc-tests (src/lib.rs, workspace_docs): {missing:?}"
    );
}
