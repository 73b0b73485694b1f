//! The root URL and the endpoint policy: where calls that carry credentials may go.

use oauth_core::EndpointPolicy;

use crate::Error;
use crate::origin::Origin;

/// Where calls may go: an explicit root is the program's choice of host (still https or
/// loopback, unless the policy allows plain http); a document's own `rootUrl` is held to
/// the policy (Google's hosts, loopback, or hosts the program allowed).
pub(super) fn trusted_root(
    root: &str,
    origin: &str,
    explicit: bool,
    policy: &EndpointPolicy,
) -> Result<Origin, Error> {
    let field = if explicit { "root URL" } else { "rootUrl" };
    match policy.check(origin, field, root, None) {
        Ok(_) => {}
        Err(oauth_core::Error::UntrustedEndpoint { .. }) if explicit => {}
        Err(e) => return Err(Error::Core(e)),
    }
    Origin::parse(root).ok_or_else(|| Error::InvalidDocument {
        origin: origin.to_owned(),
        reason: format!("the {field} is not an http(s) URL with a host"),
    })
}

/// The root URL: the program's, else the document's `rootUrl`, which must be there.
pub(super) fn root_url(
    explicit: Option<&str>,
    documented: Option<String>,
    origin: &str,
) -> Result<String, Error> {
    let root = match explicit {
        Some(r) => r.to_owned(),
        None => documented.ok_or_else(|| Error::InvalidDocument {
            origin: origin.to_owned(),
            reason: "no rootUrl".into(),
        })?,
    };
    // A root without a path (`https://host`) gets its `/`: googleapiclient appends
    // `upload/` and `batchPath` to the root as text, which would otherwise run into the
    // host name.
    Ok(
        if root
            .split_once("://")
            .is_some_and(|(_, rest)| !rest.contains(['/', '?', '#']))
        {
            format!("{root}/")
        } else {
            root
        },
    )
}

/// `servicePath` and `batchPath`, joined to the root, must stay on the root's origin.
pub(super) fn paths_stay_on_root(
    root_origin: &Origin,
    origin: &str,
    base_url: &str,
    batch_url: &str,
) -> Result<(), Error> {
    let context = format!("discovery document {origin}");
    for (field, url) in [("servicePath", base_url), ("batchPath", batch_url)] {
        if let Err(found) = root_origin.admits(url) {
            return Err(Error::foreign(&context, field, found.as_ref(), root_origin));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use oauth_core::EndpointPolicy;

    use super::super::{Model, parse};
    use crate::Error;

    fn doc(root: &str, service_path: &str, batch_path: &str) -> String {
        format!(
            r#"{{"name":"x","version":"v1","rootUrl":"{root}","servicePath":"{service_path}","batchPath":"{batch_path}"}}"#
        )
    }

    fn parse_doc(
        d: &str,
        root: Option<&str>,
        policy: &EndpointPolicy,
    ) -> Result<Arc<Model>, Error> {
        parse(
            std::borrow::Cow::Borrowed(d.as_bytes()),
            "x.json",
            root,
            policy,
        )
    }

    #[test]
    fn a_documents_root_url_must_be_googles_or_loopback_over_https_or_loopback() {
        let p = EndpointPolicy::default();
        for ok in [
            "https://www.googleapis.com/",
            "https://x.y.googleapis.com/",
            "http://127.0.0.1:9/",
            "http://[::1]:9/",
            "http://localhost:9/",
        ] {
            assert!(
                parse_doc(&doc(ok, "v1/", "batch"), None, &p).is_ok(),
                "{ok}"
            );
        }
        for (bad, host) in [
            ("https://attacker.example/", "attacker.example"),
            (
                "https://googleapis.com.attacker.example/",
                "googleapis.com.attacker.example",
            ),
            ("http://attacker.example/", "attacker.example"),
            ("http://www.googleapis.com/", "www.googleapis.com"),
            ("https://10.0.0.1/", "10.0.0.1"),
        ] {
            let e = parse_doc(&doc(bad, "v1/", "batch"), None, &p).unwrap_err();
            assert!(
                matches!(
                    &e,
                    Error::Core(
                        oauth_core::Error::UntrustedEndpoint { host: h, field, .. }
                            | oauth_core::Error::InsecureEndpoint { host: h, field, .. }
                    ) if h == host && field == "rootUrl"
                ),
                "{bad}: {e}"
            );
        }
        for bad in [
            "ftp://x.googleapis.com/",
            "https://u:p@x.googleapis.com/",
            "/relative",
        ] {
            assert!(
                parse_doc(&doc(bad, "", "batch"), None, &p).is_err(),
                "{bad}"
            );
        }
        // The program's allowance, or its own root URL, opens another host; plain http off
        // loopback stays refused even then, unless the policy allows it.
        let allowed = EndpointPolicy::default().allow_host("api.example.com");
        assert!(
            parse_doc(
                &doc("https://api.example.com/", "", "batch"),
                None,
                &allowed
            )
            .is_ok()
        );
        assert!(
            parse_doc(
                &doc("https://other.example.com/", "", "batch"),
                None,
                &allowed
            )
            .is_err()
        );
        let d = doc("https://attacker.example/", "v1/", "batch");
        assert!(parse_doc(&d, Some("https://api.example.com/"), &p).is_ok());
        assert!(parse_doc(&d, Some("http://api.example.com/"), &p).is_err());
        assert!(
            parse_doc(
                &d,
                Some("http://api.example.com/"),
                &p.clone().allow_insecure_http(true)
            )
            .is_ok()
        );
    }

    #[test]
    fn a_service_path_that_leaves_the_root_origin_is_refused() {
        let p = EndpointPolicy::default();
        for (sp, host) in [
            ("http://127.0.0.1:10/v1/", "127.0.0.1"),
            ("https://attacker.example/v1/", "attacker.example"),
        ] {
            match parse_doc(&doc("http://127.0.0.1:9/", sp, "batch"), None, &p) {
                Err(Error::ForeignUrl {
                    field,
                    host: h,
                    context,
                    ..
                }) => {
                    assert_eq!((field.as_str(), h.as_str()), ("servicePath", host));
                    assert!(context.contains("x.json"), "{context}");
                }
                other => panic!("{sp}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_root_without_its_slash_gets_one_so_paths_cannot_run_into_the_host() {
        // googleapiclient appends `batchPath` and `upload/` to the root as text: without
        // the `/`, `@attacker.example` would become the host.
        let p = EndpointPolicy::default();
        let m = parse_doc(
            &doc("http://127.0.0.1:9", "v1/", "@attacker.example/b"),
            None,
            &p,
        )
        .unwrap();
        assert_eq!(&*m.root_url, "http://127.0.0.1:9/");
        let api = crate::Api { model: m };
        assert_eq!(api.batch_url(), "http://127.0.0.1:9/@attacker.example/b");
        assert!(api.root_origin().admits(&api.batch_url()).is_ok());
    }
}
