//! Case 10: short-lived tokens. A credential whose tokens live 10, 60 or 120 s is asked for a
//! token once a second for ten minutes of an injected clock (`ManualClock`), against the
//! counting token server; the row is the token requests per minute. Before the margin scaled
//! with the lifetime, every token shorter than the 225 s margin was stale on arrival: one
//! request per call, 60 a minute.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use gauth_emulator::token_server::{TokenServer, TokenServerConfig};
use oauth_core::transport::UreqClient;
use oauth_core::{Clock, ManualClock};

use crate::Ctx;
use crate::gauth_creds::BLOCKING;
use crate::harness::{Record, Stats};

/// Simulated minutes per lifetime.
const MINUTES: u64 = 10;

pub fn short_lived(_ctx: &Ctx) -> Result<Vec<Record>, String> {
    let mut out = Vec::new();
    for lifetime in [10u64, 60, 120] {
        let server = TokenServer::start(TokenServerConfig::default().expires_in(lifetime))
            .map_err(|e| format!("token server: {e}"))?;
        // An authorized user: a service account's assertion would carry the manual clock's
        // time, which runs ahead of the server's, and be refused as issued in the future.
        let c = server.config();
        let user = oauth_core::AuthorizedUser::new(
            c.client_id.clone(),
            Some(oauth_core::Secret::new(c.client_secret.as_str()).into()),
            Some(oauth_core::Secret::new(c.refresh_token.as_str()).into()),
            server
                .token_uri()
                .parse::<url::Url>()
                .map_err(|e| e.to_string())?,
        );
        let clock = Arc::new(ManualClock::new(SystemTime::now()));
        let creds = oauth_core::blocking::Credentials::builder(user)
            .http_client(Arc::new(UreqClient::new()))
            .clock(clock.clone())
            .build();
        let started = Instant::now();
        // The first token, in the foreground; every later refresh is a background one.
        let mut held = creds.token_details().map_err(|e| e.to_string())?;
        let margin = oauth_core::token::scaled_margin(
            oauth_core::DEFAULT_REFRESH_MARGIN,
            Duration::from_secs(lifetime),
        );
        let mut unlanded = 0u32;
        for _ in 0..MINUTES * 60 {
            let token = creds.token_details().map_err(|e| e.to_string())?;
            let stale = token.expiry.is_some_and(|exp| clock.now() + margin >= exp);
            if Arc::ptr_eq(&token, &held) && stale {
                // This call found the token stale and started a background refresh: let it
                // land before the clock moves on, as it would in a second of real time.
                match landed(&creds, &held) {
                    Some(new) => held = new,
                    None => unlanded += 1,
                }
            } else {
                held = token;
            }
            clock.advance(Duration::from_secs(1));
        }
        let requests = server.requests() as u64;
        let per_minute = requests as f64 / MINUTES as f64;
        out.push(
            Record::new(
                &format!("10 short-lived tokens, expires_in {lifetime} s: requests per minute"),
                BLOCKING,
                Stats::of_durations(&[started.elapsed()]),
            )
            .requests(requests)
            .note(format!(
                "{per_minute:.1} requests/min at 1 call/s over {MINUTES} min of a manual clock \
                 (was 60/min when every token under 225 s was stale on arrival); \
                 {unlanded} background refreshes not landed within 2 s"
            )),
        );
    }
    Ok(out)
}

/// Waits until the cache holds another token than `old` (the server may issue the same
/// access token string again: the entry itself is compared); `None` after about 2 s.
fn landed(
    creds: &oauth_core::blocking::Credentials,
    old: &Arc<oauth_core::Token>,
) -> Option<Arc<oauth_core::Token>> {
    for _ in 0..10_000 {
        match creds.token_details() {
            Ok(t) if !Arc::ptr_eq(&t, old) => return Some(t),
            _ => std::thread::sleep(Duration::from_micros(200)),
        }
    }
    None
}
