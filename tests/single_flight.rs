//! One refresh for many callers: 1000 async tasks and 64 threads ask one credential for a
//! token at once, against a counting token server that takes 200 ms to answer.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant, SystemTime};

use gauth::{AuthorizedUser, Credentials, RetryPolicy, Secret, Token, blocking};
use gauth_emulator::token_server::{TokenServer, TokenServerConfig};

const DELAY: Duration = Duration::from_millis(200);

fn server() -> TokenServer {
    TokenServer::start(TokenServerConfig::default().delay(DELAY)).expect("token server")
}

fn user(server: &TokenServer, token: Option<Token>) -> AuthorizedUser {
    let c = server.config();
    let u = AuthorizedUser::new(
        c.client_id.clone(),
        Some(Secret::new(c.client_secret.as_str()).into()),
        Some(Secret::new(c.refresh_token.as_str()).into()),
        server.token_uri().parse::<url::Url>().unwrap(),
    );
    match token {
        Some(t) => u.with_token(t),
        None => u,
    }
}

fn expired() -> Token {
    Token::bearer(
        Secret::new("ya29.expired"),
        Some(SystemTime::now() - Duration::from_secs(1)),
    )
}

fn in_margin() -> Token {
    Token::bearer(
        Secret::new("ya29.stale"),
        Some(SystemTime::now() + Duration::from_secs(60)),
    )
}

async fn stampede_async(initial: Option<Token>) -> (usize, Duration, Vec<String>) {
    let server = server();
    let creds = Credentials::builder(user(&server, initial))
        .retry(RetryPolicy::none())
        .build();
    let start = Instant::now();
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let c = creds.clone();
            tokio::spawn(async move { c.token().await.map(|t| t.expose().to_owned()) })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap().expect("every caller gets a token"));
    }
    (server.requests(), start.elapsed(), tokens)
}

fn stampede_threads(initial: Option<Token>) -> (usize, Duration, Vec<String>) {
    let server = server();
    let creds = blocking::Credentials::builder(user(&server, initial))
        .retry(RetryPolicy::none())
        .build();
    let barrier = Arc::new(Barrier::new(64));
    let start = Instant::now();
    let threads: Vec<_> = (0..64)
        .map(|_| {
            let c = creds.clone();
            let b = Arc::clone(&barrier);
            std::thread::spawn(move || {
                b.wait();
                c.token().map(|t| t.expose().to_owned())
            })
        })
        .collect();
    let tokens = threads
        .into_iter()
        .map(|t| t.join().unwrap().expect("every caller gets a token"))
        .collect();
    (server.requests(), start.elapsed(), tokens)
}

fn all_fresh(tokens: &[String]) {
    assert!(
        tokens.iter().all(|t| t == "ya29.test-access-0"),
        "one token for all"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_tasks_with_no_token_make_one_request() {
    let (requests, wall, tokens) = stampede_async(None).await;
    eprintln!("async, no token: {requests} request(s), {wall:?}");
    assert_eq!(requests, 1);
    all_fresh(&tokens);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_tasks_with_an_expired_token_make_one_request() {
    let (requests, wall, tokens) = stampede_async(Some(expired())).await;
    eprintln!("async, expired: {requests} request(s), {wall:?}");
    assert_eq!(requests, 1);
    all_fresh(&tokens);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_holding_a_token_inside_the_margin_do_not_wait_for_the_refresh() {
    // Refresh ahead: every caller gets the stale token at once; one refresh runs behind
    // them and its token reaches every holder.
    let server = server();
    let clock = Arc::new(gauth::ManualClock::new(SystemTime::now()));
    let creds = Credentials::builder(user(&server, Some(in_margin())))
        .clock(clock.clone())
        .retry(RetryPolicy::none())
        .build();
    clock.advance(Duration::from_secs(50)); // 10 s left: inside the 15 s margin of a 60 s token
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let c = creds.clone();
            tokio::spawn(async move { c.token().await.map(|t| t.expose().to_owned()) })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), "ya29.stale");
    }
    let mut polls = 0;
    while creds.token().await.unwrap().expose() == "ya29.stale" {
        polls += 1;
        assert!(polls < 10_000, "the background refresh never published");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(creds.token().await.unwrap().expose(), "ya29.test-access-0");
    assert_eq!(server.requests(), 1);
}

#[test]
fn sixty_four_threads_with_no_token_make_one_request() {
    let (requests, wall, tokens) = stampede_threads(None);
    eprintln!("blocking, no token: {requests} request(s), {wall:?}");
    assert_eq!(requests, 1);
    all_fresh(&tokens);
}

#[test]
fn sixty_four_threads_with_an_expired_token_make_one_request() {
    let (requests, wall, tokens) = stampede_threads(Some(expired()));
    eprintln!("blocking, expired: {requests} request(s), {wall:?}");
    assert_eq!(requests, 1);
    all_fresh(&tokens);
}

#[test]
fn every_waiting_caller_shares_the_refresh_error() {
    let server = server();
    let c = server.config();
    let bad = AuthorizedUser::new(
        c.client_id.clone(),
        Some(Secret::new(c.client_secret.as_str()).into()),
        Some(Secret::new("1//not-the-grant").into()),
        server.token_uri().parse::<url::Url>().unwrap(),
    );
    let creds = blocking::Credentials::builder(bad)
        .retry(RetryPolicy::none())
        .build();
    let barrier = Arc::new(Barrier::new(16));
    let errors: Vec<_> = (0..16)
        .map(|_| {
            let c = creds.clone();
            let b = Arc::clone(&barrier);
            std::thread::spawn(move || {
                b.wait();
                c.token().unwrap_err()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    assert_eq!(server.requests(), 1);
    for e in errors {
        assert_eq!(
            e.oauth().map(|o| o.error.as_str()),
            Some("invalid_grant"),
            "{e}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_leader_hands_the_refresh_to_a_waiter() {
    let server = server();
    let creds = Credentials::builder(user(&server, None))
        .retry(RetryPolicy::none())
        .build();
    // The leader is dropped mid-refresh.
    let leader = creds.clone();
    let abandoned = tokio::spawn(async move { leader.token().await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let waiter = creds.clone();
    let waiting = tokio::spawn(async move { waiter.token().await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    abandoned.abort();
    let token = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the waiter is not stranded")
        .unwrap()
        .unwrap();
    assert!(token.expose().starts_with("ya29.test-access-"));
}
