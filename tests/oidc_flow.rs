//! The sign-in flows against node's oidc-provider, configured like Google for an installed
//! app (native client, loopback redirect on any port, PKCE required, refresh tokens that
//! rotate on every use with reuse revoking the grant, revocation, device flow). The user's
//! browser is played by `gauth_tests::oidc::Browser`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gauth::{ClientSecrets, EndpointPolicy, Secret, TokenCall};
use gauth_tests::oidc::{Browser, CLIENT_ID, CLIENT_SECRET, OidcProvider};
use oauth_flow::{
    CredentialStore, DeviceAuthorization, FileStore, FlowError, LocalServerOptions, RevokeCall,
    TokenInfoCall,
};

const SCOPES: [&str; 2] = ["openid", "email"];

/// The pages the browser was shown by the loopback server: (status, body).
type Pages = Arc<Mutex<Vec<(u16, String)>>>;

/// The pages the browser saw, once it has seen `n` of them: the flow can return before the
/// browser thread has stored the last page it received.
fn wait_pages(pages: &Pages, n: usize) -> Vec<(u16, String)> {
    for _ in 0..500 {
        {
            let seen = pages.lock().unwrap();
            if seen.len() >= n {
                return seen.clone();
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("the browser saw fewer than {n} pages");
}

fn secrets(p: &OidcProvider) -> ClientSecrets {
    ClientSecrets::from_value_with(&p.client_secrets(), "oidc", &EndpointPolicy::default()).unwrap()
}

/// Options whose URL callback plays the browser in a thread: signs in as `login`, or
/// refuses, and first sends `forged` redirects when asked.
fn browser_options(
    p: &OidcProvider,
    refuse: bool,
    forge_first: bool,
) -> (LocalServerOptions, Pages) {
    let issuer = p.issuer.clone();
    let pages = Arc::new(Mutex::new(Vec::new()));
    let seen = pages.clone();
    let options = LocalServerOptions::default()
        .open_browser(false)
        .timeout(Duration::from_secs(60))
        .on_url(move |url| {
            let url = url.to_string();
            let issuer = issuer.clone();
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut b = Browser::new();
                let redirect_uri: String = url::Url::parse(&url)
                    .unwrap()
                    .query_pairs()
                    .find(|(k, _)| k == "redirect_uri")
                    .map(|(_, v)| v.into_owned())
                    .unwrap();
                if forge_first {
                    // A forged redirect (wrong state) and a forged refusal reach the
                    // loopback server before the real redirect.
                    let forged =
                        b.deliver(&format!("{redirect_uri}?code=forged&state=not-the-state"));
                    let refusal =
                        b.deliver(&format!("{redirect_uri}?error=access_denied&state=guess"));
                    let junk = b.deliver(&format!("{redirect_uri}favicon.ico"));
                    let mut s = seen.lock().unwrap();
                    s.push(forged);
                    s.push(refusal);
                    s.push(junk);
                }
                let landing = if refuse {
                    b.refuse(&issuer, &url)
                } else {
                    b.sign_in(&issuer, &url, "alice")
                };
                let page = b.deliver(&landing);
                seen.lock().unwrap().push(page);
            });
        });
    (options, pages)
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn blocking_sign_in_through_the_loopback_server_then_refresh_with_rotation() {
    let p = OidcProvider::start();
    let mut flow = oauth_flow::blocking::InstalledAppFlow::from_client_secrets(secrets(&p), SCOPES);
    let (options, pages) = browser_options(&p, false, false);
    let user = flow.run_local_server(options).unwrap();
    let first_refresh = user
        .refresh_token()
        .expect("a refresh token for access_type=offline");
    assert!(user.token().unwrap().is_valid(std::time::SystemTime::now()));
    let page = wait_pages(&pages, 1).pop().unwrap();
    assert_eq!(page.0, 200);
    assert!(page.1.contains("completed"), "{}", page.1);
    assert_eq!(p.grants("authorization_code"), 1);

    // Saved, expired, and refreshed: the provider rotates the refresh token each time.
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("user.json"));
    store.save(&user).unwrap();
    expire(store.path());
    let creds = gauth::blocking::Credentials::builder(
        store.load(&EndpointPolicy::default()).unwrap().unwrap(),
    )
    .store(store.clone())
    .build();
    let t1 = creds.token().unwrap();
    let second_refresh = refresh_token_in(store.path());
    assert_ne!(second_refresh, first_refresh.expose(), "rotated");
    expire(store.path());
    let creds = gauth::blocking::Credentials::builder(
        store.load(&EndpointPolicy::default()).unwrap().unwrap(),
    )
    .store(store.clone())
    .build();
    let t2 = creds.token().unwrap();
    assert_ne!(t1.expose(), t2.expose());
    let third_refresh = refresh_token_in(store.path());
    assert_ne!(third_refresh, second_refresh);
    assert_eq!(p.grants("refresh_token"), 2);

    // Reusing a rotated-away refresh token is refused, and revokes the grant: this is what
    // processes sharing a file must never do.
    let reuse = refresh_with(&p, &second_refresh).unwrap_err();
    assert_eq!(reuse.oauth().unwrap().error, "invalid_grant");
    let after = refresh_with(&p, &third_refresh).unwrap_err();
    assert_eq!(
        after.oauth().unwrap().error,
        "invalid_grant",
        "the whole grant is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the interop environment: cargo xtask test"]
async fn async_sign_in_through_the_loopback_server() {
    let p = OidcProvider::start();
    let mut flow = oauth_flow::InstalledAppFlow::from_client_secrets(secrets(&p), SCOPES);
    let (options, pages) = browser_options(&p, false, false);
    let user = flow.run_local_server(options).await.unwrap();
    assert!(user.refresh_token().is_some());
    let creds = gauth::Credentials::new(user);
    let token = creds.token().await.unwrap();
    // tokeninfo knows the token (async flavour).
    let info = oauth_flow::tokeninfo(&TokenInfoCall::new(
        p.url("/tokeninfo").parse().unwrap(),
        token.into(),
    ))
    .await
    .unwrap();
    assert_eq!(info.aud.as_deref(), Some(CLIENT_ID));
    assert_eq!(info.sub.as_deref(), Some("alice"));
    assert!(info.scopes().contains(&"openid"), "{:?}", info.scope);
    assert_eq!(wait_pages(&pages, 1).pop().unwrap().0, 200);
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn a_refusal_is_a_typed_access_denied() {
    let p = OidcProvider::start();
    let mut flow = oauth_flow::blocking::InstalledAppFlow::from_client_secrets(secrets(&p), SCOPES);
    let (options, pages) = browser_options(&p, true, false);
    let e = flow.run_local_server(options).unwrap_err();
    match &e {
        FlowError::Authorization(a) => assert!(a.is_access_denied(), "{a}"),
        other => panic!("{other:?}"),
    }
    let page = wait_pages(&pages, 1).pop().unwrap();
    assert!(
        page.1.contains("access_denied"),
        "the page says why: {}",
        page.1
    );
    assert_eq!(p.grants("authorization_code"), 0);
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn forged_redirects_arriving_first_do_not_spoil_the_sign_in() {
    let p = OidcProvider::start();
    let mut flow = oauth_flow::blocking::InstalledAppFlow::from_client_secrets(secrets(&p), SCOPES);
    let (options, pages) = browser_options(&p, false, true);
    let user = flow.run_local_server(options).unwrap();
    assert!(user.refresh_token().is_some());
    let pages = wait_pages(&pages, 4);
    assert_eq!(pages.len(), 4);
    assert_eq!(pages[0].0, 400, "forged code: {}", pages[0].1);
    assert_eq!(pages[1].0, 400, "forged refusal: {}", pages[1].1);
    assert_eq!(pages[2].0, 404, "favicon");
    assert_eq!(pages[3].0, 200);
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn a_saved_flow_resumes_at_the_callback() {
    let p = OidcProvider::start();
    let mut flow = oauth_flow::Flow::from_client_secrets(secrets(&p), SCOPES)
        .with_redirect_uri("http://127.0.0.1:9/".parse().unwrap());
    let url = flow.authorization_url().unwrap().url;
    let saved = serde_json::to_string(&flow).unwrap();
    let redirect = Browser::new().sign_in(&p.issuer, url.as_str(), "bob");
    assert!(redirect.starts_with("http://127.0.0.1:9/?"));
    let restored: oauth_flow::Flow = serde_json::from_str(&saved).unwrap();
    let handle = oauth_flow::blocking::InstalledAppFlow::from(restored);
    assert!(matches!(
        handle.fetch_token_from_redirect(&redirect.replace("state=", "state=x")),
        Err(FlowError::StateMismatch)
    ));
    let user = handle.fetch_token_from_redirect(&redirect).unwrap();
    assert!(user.refresh_token().is_some());
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn device_flow_blocking_then_revocation() {
    let p = OidcProvider::start();
    let device = DeviceAuthorization::from_client_secrets(&secrets(&p), SCOPES)
        .with_device_authorization_uri(p.url("/device/auth").parse().unwrap());
    let flow = oauth_flow::blocking::DeviceFlow::from(device);
    let issuer = p.issuer.clone();
    let started = std::time::Instant::now();
    let user = flow
        .run(move |code| {
            assert!(code.verification_url.starts_with(&issuer));
            let (issuer, user_code) = (issuer.clone(), code.user_code.clone());
            std::thread::spawn(move || {
                let page = Browser::new().approve_device(&issuer, &user_code, "carol");
                assert!(
                    page.contains("Sign-in Success") || page.contains("success"),
                    "{page}"
                );
            });
        })
        .unwrap();
    eprintln!("device flow completed in {:?}", started.elapsed());
    assert_eq!(p.grants("urn:ietf:params:oauth:grant-type:device_code"), 1);
    let refresh = user.refresh_token().unwrap();
    let access = user.token().unwrap().access_token;

    let info = oauth_flow::blocking::tokeninfo(&TokenInfoCall::new(
        p.url("/tokeninfo").parse().unwrap(),
        access.clone().into(),
    ))
    .unwrap();
    assert_eq!(info.sub.as_deref(), Some("carol"));

    // Revoking the refresh token ends the grant: no refresh, and the access token is dead.
    let call = RevokeCall::new(
        p.url("/token/revocation").parse().unwrap(),
        refresh.clone().into(),
    )
    .with_client(CLIENT_ID, Some(Secret::new(CLIENT_SECRET)));
    oauth_flow::blocking::revoke(&call).unwrap();
    let e = refresh_with(&p, refresh.expose()).unwrap_err();
    assert_eq!(e.oauth().unwrap().error, "invalid_grant");
    let e = oauth_flow::blocking::tokeninfo(&TokenInfoCall::new(
        p.url("/tokeninfo").parse().unwrap(),
        access.into(),
    ))
    .unwrap_err();
    assert_eq!(e.oauth_error(), Some("invalid_token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the interop environment: cargo xtask test"]
async fn device_flow_async_and_async_revocation() {
    let p = OidcProvider::start();
    let device = DeviceAuthorization::from_client_secrets(&secrets(&p), SCOPES)
        .with_device_authorization_uri(p.url("/device/auth").parse().unwrap());
    let flow = oauth_flow::DeviceFlow::from(device);
    let issuer = p.issuer.clone();
    let user = flow
        .run(move |code| {
            let (issuer, user_code) = (issuer.clone(), code.user_code.clone());
            std::thread::spawn(move || {
                Browser::new().approve_device(&issuer, &user_code, "dave");
            });
        })
        .await
        .unwrap();
    let refresh = user.refresh_token().unwrap();
    let call = RevokeCall::new(
        p.url("/token/revocation").parse().unwrap(),
        refresh.clone().into(),
    )
    .with_client(CLIENT_ID, Some(Secret::new(CLIENT_SECRET)));
    oauth_flow::revoke(&call).await.unwrap();
    let e = refresh_with(&p, refresh.expose()).unwrap_err();
    assert_eq!(e.oauth().unwrap().error, "invalid_grant");
}

fn expire(path: &std::path::Path) {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["expiry"] = "2000-01-01T00:00:00Z".into();
    std::fs::write(path, v.to_string()).unwrap();
}

fn refresh_token_in(path: &std::path::Path) -> String {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["refresh_token"].as_str().unwrap().to_owned()
}

/// One refresh_token grant with a given refresh token, outside any credential.
fn refresh_with(
    p: &OidcProvider,
    refresh_token: &str,
) -> Result<gauth::TokenResponse, gauth::Error> {
    let call = TokenCall::new(
        p.url("/token").parse::<url::Url>().unwrap(),
        vec![
            ("grant_type".into(), "refresh_token".into()),
            ("client_id".into(), CLIENT_ID.into()),
            ("client_secret".into(), CLIENT_SECRET.into()),
            ("refresh_token".into(), refresh_token.into()),
        ],
    );
    let mut ex = gauth::Retrying::new(call, gauth::RetryPolicy::none());
    gauth::blocking::run(&gauth::transport::UreqClient::new(), &mut ex)
}
