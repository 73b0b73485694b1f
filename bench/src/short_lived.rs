//! Case 10: short-lived tokens. A credential whose tokens live 10, 60 or 120 s is asked for a
//! token once a second for ten minutes of an injected clock (`ManualClock`), against the
//! counting token server; the row is the token requests per minute. Before the margin scaled
//! with the lifetime, every token shorter than the 225 s margin was stale on arrival: one
//! request per call, 60 a minute.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use gauth_emulator::token_server::{TokenServer, TokenServerConfig};
use oauth_core::ManualClock;
use oauth_core::transport::UreqClient;

use crate::gauth_creds::{self, BLOCKING};
use crate::harness::{Record, Stats};
use crate::{Ctx, fixtures};

/// Simulated minutes per lifetime.
const MINUTES: u64 = 10;

pub fn short_lived(ctx: &Ctx) -> Result<Vec<Record>, String> {
    let mut out = Vec::new();
    for lifetime in [10u64, 60, 120] {
        let server = TokenServer::start(TokenServerConfig::default().expires_in(lifetime))
            .map_err(|e| format!("token server: {e}"))?;
        let key = fixtures::write_key_file(&ctx.dir, &server.token_uri())?;
        let clock = Arc::new(ManualClock::new(SystemTime::now()));
        let creds = oauth_core::blocking::Credentials::builder(gauth_creds::service_account(&key)?)
            .http_client(Arc::new(UreqClient::new()))
            .clock(clock.clone())
            .build();
        let started = Instant::now();
        for _ in 0..MINUTES * 60 {
            let before = server.requests();
            let token = creds.token().map_err(|e| e.to_string())?;
            if server.requests() > before {
                // A background refresh went out: let it land before the clock moves on, as
                // it would in a second of real time.
                wait_for_new_token(&creds, token.expose())?;
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
                 (was 60/min when every token under 225 s was stale on arrival)"
            )),
        );
    }
    Ok(out)
}

fn wait_for_new_token(creds: &oauth_core::blocking::Credentials, old: &str) -> Result<(), String> {
    for _ in 0..10_000 {
        if creds.token().map_err(|e| e.to_string())?.expose() != old {
            return Ok(());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    Err("a background refresh never landed".into())
}
