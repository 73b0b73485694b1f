//! Paging and documents are bounded, both flavours, against a hostile server: a repeated
//! `nextPageToken` ends a listing with a typed error (the blocking iterator, the async
//! `Pager` as a stream, `collect_items`), an endless series of fresh tokens stops at the
//! page limit, and a discovery document larger than the limit (or endless) is a typed
//! error, not memory.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use discovery_client::{Api, BuildOptions, CallOptions, Error};
use gauth_tests::hostile::{Hostile, Reply};
use serde_json::json;

fn doc(server: &Hostile) -> Api {
    let d = json!({
        "name": "p", "version": "v1", "rootUrl": server.url("/"), "servicePath": "",
        "schemas": {"L": {"properties": {"nextPageToken": {"type": "string"}, "items": {"type": "array"}}}},
        "methods": {"list": {"id": "p.list", "path": "items", "httpMethod": "GET",
            "parameters": {"pageToken": {"type": "string", "location": "query"}},
            "response": {"$ref": "L"}}}
    });
    Api::from_document(d.to_string().as_bytes()).unwrap()
}

/// Pages `a`, `b`, then `a` again: a cycle.
fn cycling() -> Hostile {
    Hostile::start(|r| {
        let next = if r.path.contains("pageToken=a") {
            "b"
        } else {
            "a"
        };
        Reply::json(200, format!(r#"{{"items":[1],"nextPageToken":"{next}"}}"#))
    })
}

/// A fresh token on every page, forever.
fn endless() -> Hostile {
    let n = Arc::new(AtomicUsize::new(0));
    Hostile::start(move |_| {
        let i = n.fetch_add(1, Ordering::SeqCst);
        Reply::json(200, format!(r#"{{"items":[{i}],"nextPageToken":"t{i}"}}"#))
    })
}

#[test]
fn blocking_paging_ends_on_a_repeated_token_and_at_the_page_limit() {
    let server = cycling();
    let service = discovery_client::blocking::Service::new(doc(&server), None);
    let results: Vec<_> = service.method("list").unwrap().pages().unwrap().collect();
    assert_eq!(
        results.len(),
        4,
        "three pages, then the error, then the end"
    );
    assert!(results[..3].iter().all(Result::is_ok));
    assert!(matches!(&results[3], Err(Error::RepeatedPageToken { method }) if method == "p.list"));
    assert_eq!(server.count(), 3);
    let e = service.method("list").unwrap().collect_items().unwrap_err();
    assert!(matches!(e, Error::RepeatedPageToken { .. }), "{e}");

    let server = endless();
    let service = discovery_client::blocking::Service::new(doc(&server), None)
        .with_call_options(CallOptions::default().max_pages(5));
    let e = service.method("list").unwrap().collect_items().unwrap_err();
    assert!(matches!(e, Error::TooManyPages { limit: 5, .. }), "{e}");
    assert_eq!(server.count(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_paging_ends_on_a_repeated_token_and_at_the_page_limit() {
    use futures_core::Stream;
    let server = cycling();
    let service = discovery_client::Service::new(doc(&server), None);
    let mut pager = service.method("list").unwrap().pages().unwrap();
    let mut results = Vec::new();
    // The pager as a Stream.
    while let Some(r) = std::future::poll_fn(|cx| Pin::new(&mut pager).poll_next(cx)).await {
        results.push(r);
    }
    assert_eq!(results.len(), 4);
    assert!(matches!(&results[3], Err(Error::RepeatedPageToken { .. })));
    assert_eq!(server.count(), 3);
    let e = service
        .method("list")
        .unwrap()
        .collect_items()
        .await
        .unwrap_err();
    assert!(matches!(e, Error::RepeatedPageToken { .. }), "{e}");

    let server = endless();
    let service = discovery_client::Service::new(doc(&server), None);
    let mut pager = service
        .method("list")
        .unwrap()
        .options(CallOptions::default().max_pages(4))
        .pages()
        .unwrap();
    let mut pages = 0;
    let end = loop {
        match pager.next_page().await {
            Some(Ok(_)) => pages += 1,
            other => break other,
        }
    };
    assert_eq!(pages, 4);
    assert!(matches!(
        end,
        Some(Err(Error::TooManyPages { limit: 4, .. }))
    ));
    assert!(pager.next_page().await.is_none());
    assert_eq!(server.count(), 4);
}

/// A document over the limit, or one that never ends, is `DocumentTooLarge` in both
/// flavours; a document within it is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetched_documents_over_the_limit_are_typed_errors() {
    let small = json!({"name": "d", "version": "v1", "rootUrl": "https://d.googleapis.com/",
        "servicePath": "", "description": "x".repeat(10_000)})
    .to_string();
    for (reply, ok) in [
        (Reply::json(200, small.clone()), true),
        (Reply::json(200, " ".repeat(40_000) + &small), false),
        (
            Reply::status(200)
                .header("content-type", "application/json")
                .endless(Duration::from_millis(1)),
            false,
        ),
        (Reply::json(200, small.clone()).without_length(), true),
    ] {
        let server = Hostile::always(reply);
        let options = BuildOptions::default()
            .discovery_url(server.url("/{api}/{apiVersion}"))
            .no_disk_cache()
            .max_document_size(32 * 1024);
        let r = discovery_client::blocking::build_with("d", "v1", None, &options);
        match r {
            Ok(_) => assert!(ok),
            Err(Error::DocumentTooLarge { limit, .. }) => {
                assert!(!ok);
                assert_eq!(limit, 32 * 1024);
            }
            Err(e) => panic!("{e}"),
        }
        let options = options.discovery_url(server.url("/{api}/{apiVersion}?async"));
        match discovery_client::build_with("d", "v1", None, &options).await {
            Ok(_) => assert!(ok),
            Err(Error::DocumentTooLarge { .. }) => assert!(!ok),
            Err(e) => panic!("{e}"),
        }
    }
}

/// A disk-cache file over the limit is not read: the document is fetched again.
#[test]
fn an_oversized_cache_file_is_ignored() {
    let d = json!({"name": "c", "version": "v1", "rootUrl": "https://c.googleapis.com/",
        "servicePath": ""})
    .to_string();
    let server = Hostile::always(Reply::json(200, d.clone()));
    let dir = tempfile::tempdir().unwrap();
    let options = BuildOptions::default()
        .discovery_url(server.url("/cache-limit/{api}/{apiVersion}"))
        .cache_dir(dir.path())
        .max_document_size(4096);
    discovery_client::blocking::build_with("c", "v1", None, &options).unwrap();
    assert_eq!(server.count(), 1);
    let cached: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(cached.len(), 1);
    // A valid document, padded past the limit.
    std::fs::write(&cached[0], " ".repeat(8192) + &d).unwrap();
    // Another limit is another memory-cache key, so the disk copy is consulted.
    let options = options.max_document_size(4095);
    discovery_client::blocking::build_with("c", "v1", None, &options).unwrap();
    assert_eq!(server.count(), 2, "the oversized cache file was not used");
}
