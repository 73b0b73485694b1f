//! Cases 1 to 3: the cached token, the stampede, the cold start; all against the counting
//! token server on loopback.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use gauth_emulator::token_server::{TokenServer, TokenServerConfig};

use crate::gauth_creds::{self, ASYNC, BLOCKING};
use crate::harness::{Record, Stats, per_call, per_call_async};
use crate::peers::{Peer, PeerCreds};
use crate::{Ctx, fixtures};

fn server(config: TokenServerConfig) -> Result<(TokenServer, String), String> {
    let s = TokenServer::start(config).map_err(|e| format!("token server: {e}"))?;
    let uri = s.token_uri();
    Ok((s, uri))
}

/// Case 1: ns per `token()` on a valid token, and throughput with 2 and 64 callers.
pub fn cached(ctx: &Ctx) -> Result<Vec<Record>, String> {
    const CASE: &str = "1 cached token, 1 caller";
    let (_server, uri) = server(TokenServerConfig::default())?;
    let key = fixtures::write_key_file(&ctx.dir, &uri)?;
    let mut out = Vec::new();

    let b = gauth_creds::blocking(&key)?;
    b.token().map_err(|e| e.to_string())?;
    out.push(Record::new(
        CASE,
        BLOCKING,
        per_call(&ctx.budget, || b.token()),
    ));
    for n in [2usize, 64] {
        let s = throughput_threads(ctx, n, &b);
        out.push(throughput_record(n, "threads", BLOCKING, s));
    }

    let a = gauth_creds::asynchronous(&key)?;
    ctx.rt.block_on(a.token()).map_err(|e| e.to_string())?;
    let s = ctx.rt.block_on(per_call_async(&ctx.budget, || a.token()));
    out.push(Record::new(CASE, ASYNC, s));
    for n in [2usize, 64] {
        let a = a.clone();
        let s = throughput_tasks(ctx, n, move |each| {
            let a = a.clone();
            async move { calls(each, || a.token()).await }
        });
        out.push(throughput_record(n, "tasks", ASYNC, s));
    }

    for peer in Peer::ALL {
        let p = ctx.rt.block_on(async {
            let p = PeerCreds::build(peer, &key, &uri).await?;
            p.token().await?;
            Ok::<_, String>(p)
        })?;
        let s = ctx.rt.block_on(per_call_async(&ctx.budget, || p.token()));
        out.push(Record::new(CASE, peer.name(), s).note(peer.credential_note()));
        for n in [2usize, 64] {
            let p = p.clone();
            let s = throughput_tasks(ctx, n, move |each| {
                let p = p.clone();
                async move { calls(each, || p.token()).await }
            });
            out.push(throughput_record(n, "tasks", peer.name(), s));
        }
    }
    Ok(out)
}

fn throughput_record(n: usize, unit: &str, imp: &str, s: Stats) -> Record {
    let per_sec = 1e9 / s.median_ns;
    Record::new(
        &format!("1 cached token, {n} {unit} (ns per call overall)"),
        imp,
        s,
    )
    .note(format!("{:.2} M calls/s", per_sec / 1e6))
}

/// Calls each caller makes in one throughput run: about `window` of work in all, if a call
/// took 20 ns on one core; every caller makes the same number, and the wall time from the
/// start line to the last caller's end is divided by the total. (A stop flag instead let
/// descheduled threads skew the count.)
fn calls_per_caller(ctx: &Ctx, n: usize) -> u64 {
    let total = ctx.window().as_nanos() as u64 / 20;
    (total / n as u64).max(256)
}

/// Wall time per call over all threads: `n` threads each make the same number of calls.
fn throughput_threads(ctx: &Ctx, n: usize, creds: &oauth_core::blocking::Credentials) -> Stats {
    let each = calls_per_caller(ctx, n);
    let samples = (0..ctx.budget.runs.min(7))
        .map(|_| {
            let start_line = Arc::new(Barrier::new(n + 1));
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    let (c, b) = (creds.clone(), Arc::clone(&start_line));
                    std::thread::spawn(move || {
                        b.wait();
                        let start = Instant::now();
                        for _ in 0..each {
                            std::hint::black_box(c.token().is_ok());
                        }
                        (start, Instant::now())
                    })
                })
                .collect();
            start_line.wait();
            // Each thread times itself: on 2 cores the main thread may be descheduled past
            // the barrier while the workers already run. Wall = first start to last end.
            let spans: Vec<(Instant, Instant)> =
                handles.into_iter().filter_map(|h| h.join().ok()).collect();
            let first = spans.iter().map(|s| s.0).min();
            let last = spans.iter().map(|s| s.1).max();
            match (first, last) {
                (Some(a), Some(b)) => (b - a).as_nanos() as f64 / (each * n as u64) as f64,
                _ => f64::NAN,
            }
        })
        .collect();
    Stats::of(samples)
}

/// Wall time per call over all tasks on the shared runtime: `n` tasks, each holding its own
/// handle (cloned once per task, as a program would), make the same number of calls.
fn throughput_tasks<T, Fut>(ctx: &Ctx, n: usize, task: T) -> Stats
where
    T: Fn(u64) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let each = calls_per_caller(ctx, n);
    let samples = (0..ctx.budget.runs.min(7))
        .map(|_| {
            ctx.rt.block_on(async {
                let t = Instant::now();
                let tasks: Vec<_> = (0..n).map(|_| tokio::spawn(task(each))).collect();
                for task in tasks {
                    let _ = task.await;
                }
                t.elapsed().as_nanos() as f64 / (each * n as u64) as f64
            })
        })
        .collect();
    Stats::of(samples)
}

/// One task's calls, yielding every 256 so that every task gets its turn.
async fn calls<F, Fut, R>(each: u64, call: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = R>,
{
    for i in 0..each {
        std::hint::black_box(call().await);
        if i % 256 == 255 {
            tokio::task::yield_now().await;
        }
    }
}

/// The server's answer delay in the stampede.
const STAMPEDE_DELAY: Duration = Duration::from_millis(200);
/// Concurrent callers in the stampede.
const CALLERS: usize = 1000;

/// What one stampede run saw.
struct Stampede {
    wall: Duration,
    latencies: Vec<Duration>,
    requests: u64,
}

/// Case 2: 1000 callers at once on a credential with no token ("cold"), and on one whose
/// token has just entered the refresh margin ("stale"); server delay 200 ms.
pub fn stampede(ctx: &Ctx) -> Result<Vec<Record>, String> {
    let mut out = Vec::new();
    let runs = if ctx.budget.quick { 1 } else { 3 };
    for stale in [false, true] {
        let case = if stale {
            "2 stampede, token inside the refresh margin (1000 callers, 200 ms server)"
        } else {
            "2 stampede, no token yet (1000 callers, 200 ms server)"
        };
        let imps: Vec<(&str, Option<Peer>, u64)> = [
            (BLOCKING, None, oauth_core::DEFAULT_REFRESH_MARGIN.as_secs()),
            (ASYNC, None, oauth_core::DEFAULT_REFRESH_MARGIN.as_secs()),
            (
                ASYNC_USER,
                None,
                oauth_core::DEFAULT_REFRESH_MARGIN.as_secs(),
            ),
            (RAW_THREADS, None, 0),
        ]
        .into_iter()
        .chain(Peer::ALL.map(|p| (p.name(), Some(p), p.refresh_margin_secs())))
        .collect();
        for (name, peer, margin) in imps {
            let mut seen = Vec::new();
            for _ in 0..runs {
                seen.push(stampede_once(ctx, name, peer, stale, margin)?);
            }
            let walls: Vec<Duration> = seen.iter().map(|s| s.wall).collect();
            let requests = seen.iter().map(|s| s.requests).max().unwrap_or(0);
            let mut lat: Vec<Duration> = seen.iter().flat_map(|s| s.latencies.clone()).collect();
            lat.sort();
            let p50 = lat.get(lat.len() / 2).copied().unwrap_or_default();
            let max = lat.last().copied().unwrap_or_default();
            out.push(
                Record::new(case, name, Stats::of_durations(&walls))
                    .requests(requests)
                    .note(format!(
                        "caller latency p50 {:.1} ms, max {:.1} ms{}",
                        p50.as_secs_f64() * 1e3,
                        max.as_secs_f64() * 1e3,
                        peer.map(|p| format!("; {}", p.credential_note()))
                            .unwrap_or_default()
                    )),
            );
        }
    }
    Ok(out)
}

fn stampede_once(
    ctx: &Ctx,
    name: &str,
    peer: Option<Peer>,
    stale: bool,
    margin: u64,
) -> Result<Stampede, String> {
    // Stale: the run starts 2.5 s after the first token, when it is inside the margin but
    // still valid. The peers' tokens live 2 s longer than their fixed margins; gauth's margin
    // scales with the lifetime (half of it for the shortest tokens), so its tokens live 4 s:
    // stale after 2 s, expired after 4.
    let lifetime = match (stale, peer) {
        (false, _) => 3600,
        (true, None) => 4,
        (true, Some(_)) => margin + 2,
    };
    let (server, uri) = server(
        TokenServerConfig::default()
            .delay(STAMPEDE_DELAY)
            .expires_in(lifetime),
    )?;
    let key = fixtures::write_key_file(&ctx.dir, &uri)?;
    let settle = || {
        if stale {
            std::thread::sleep(Duration::from_millis(2500));
        }
    };
    let result = match (name, peer) {
        (BLOCKING, _) => {
            let c = gauth_creds::blocking(&key)?;
            if stale {
                c.token().map_err(|e| e.to_string())?;
            }
            let before = server.requests() as u64;
            settle();
            let (wall, latencies) = thread_stampede(name, move || c.token().is_ok())?;
            Stampede {
                wall,
                latencies,
                requests: requests_after(&server, before, stale),
            }
        }
        (RAW_THREADS, _) => {
            // The floor of any thread-per-caller design: the first caller makes the one RSA
            // signature a service account's assertion needs (ring, the same key), sends one
            // token request with a bare ureq agent (a refresh-token grant, which the server
            // answers after the same delay) and publishes the body, which every other thread
            // waits for on one `OnceLock`.
            let c = server.config().clone();
            let agent = ureq::Agent::new_with_defaults();
            let form = [
                ("grant_type", "refresh_token".to_owned()),
                ("client_id", c.client_id.clone()),
                ("client_secret", c.client_secret.clone()),
                ("refresh_token", c.refresh_token.clone()),
            ];
            let token_uri = uri.clone();
            let before = server.requests() as u64;
            settle();
            let der = fixtures::pkcs8_der()?;
            let pair = Arc::new(
                ring::signature::RsaKeyPair::from_pkcs8(&der)
                    .map_err(|e| format!("ring key: {e}"))?,
            );
            let first = Arc::new(std::sync::atomic::AtomicBool::new(true));
            let cell = Arc::new(std::sync::OnceLock::<Arc<str>>::new());
            let (wall, latencies) = thread_stampede(name, move || {
                if stale {
                    return true;
                }
                if first.swap(false, std::sync::atomic::Ordering::AcqRel) {
                    let mut sig = vec![0; pair.public().modulus_len()];
                    let signed = pair.sign(
                        &ring::signature::RSA_PKCS1_SHA256,
                        &ring::rand::SystemRandom::new(),
                        b"header.claims",
                        &mut sig,
                    );
                    let body = agent
                        .post(&token_uri)
                        .send_form(form.iter().map(|(k, v)| (*k, v.as_str())))
                        .ok()
                        .and_then(|mut r| r.body_mut().read_to_string().ok())
                        .filter(|_| signed.is_ok())
                        .unwrap_or_default();
                    let _ = cell.set(Arc::from(body));
                }
                !cell.wait().is_empty()
            })?;
            Stampede {
                wall,
                latencies,
                requests: requests_after(&server, before, stale),
            }
        }
        _ => {
            let creds: Caller = match peer {
                None if name == ASYNC_USER => {
                    let json = crate::peers::authorized_user_json(&uri).to_string();
                    let user = oauth_core::AuthorizedUser::from_json(json.as_bytes(), "user")
                        .map_err(|e| e.to_string())?;
                    Caller::Gauth(
                        oauth_core::Credentials::builder(user)
                            .http_client(Arc::new(oauth_core::transport::ReqwestClient::new()))
                            .build(),
                    )
                }
                None => Caller::Gauth(gauth_creds::asynchronous(&key)?),
                Some(p) => Caller::Peer(ctx.rt.block_on(PeerCreds::build(p, &key, &uri))?),
            };
            if stale {
                ctx.rt.block_on(creds.token())?;
            }
            let before = server.requests() as u64;
            settle();
            let (wall, latencies) = ctx.rt.block_on(async {
                let gate = Arc::new(tokio::sync::Barrier::new(CALLERS + 1));
                let tasks: Vec<_> = (0..CALLERS)
                    .map(|_| {
                        let (c, gate) = (creds.clone(), Arc::clone(&gate));
                        tokio::spawn(async move {
                            gate.wait().await;
                            let t = Instant::now();
                            let r = c.token().await;
                            (t, t.elapsed(), r)
                        })
                    })
                    .collect();
                gate.wait().await;
                let mut timed = Vec::with_capacity(CALLERS);
                for task in tasks {
                    let (t, d, r) = task.await.map_err(|e| format!("caller task: {e}"))?;
                    r?;
                    timed.push((t, d));
                }
                Ok::<_, String>(wall_and_latencies(timed))
            })?;
            Stampede {
                wall,
                latencies,
                requests: requests_after(&server, before, stale),
            }
        }
    };
    Ok(result)
}

/// The token requests the run made: with a stale token the one refresh runs in the
/// background and may reach the server after the last caller returned, so it is waited for
/// (up to 2 s, then 0.3 s more for any second request that should not exist).
fn requests_after(server: &TokenServer, before: u64, stale: bool) -> u64 {
    let count = || server.requests() as u64 - before;
    if stale {
        let deadline = Instant::now() + Duration::from_secs(2);
        while count() == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    count()
}

/// A thousand threads, a thousand calls: the blocking flavour's stampede with the caller's
/// timing, the start and finish lines of [`Gate`]. Returns the wall (first start to last
/// end) and each caller's latency.
fn thread_stampede(
    name: &str,
    call: impl Fn() -> bool + Clone + Send + 'static,
) -> Result<(Duration, Vec<Duration>), String> {
    // Threads wait at the start line, and again after timing themselves, so that no
    // thread's exit (a stack to unmap, on a VM a TLB shootdown) competes with the callers
    // still being timed.
    let (gate, finish) = (Arc::new(Gate::default()), Arc::new(Gate::default()));
    let handles: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (call, gate, finish) = (call.clone(), Arc::clone(&gate), Arc::clone(&finish));
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    gate.wait();
                    let t = Instant::now();
                    let ok = call();
                    let timed = (t, t.elapsed(), ok);
                    finish.wait();
                    timed
                })
        })
        .collect::<Result<_, _>>()
        .map_err(|e| format!("spawn: {e}"))?;
    gate.open(CALLERS);
    finish.open(CALLERS);
    let mut timed = Vec::with_capacity(CALLERS);
    for h in handles {
        let (t, d, ok) = h.join().map_err(|_| "a caller panicked".to_string())?;
        if !ok {
            return Err(format!("{name}: a caller got an error"));
        }
        timed.push((t, d));
    }
    Ok(wall_and_latencies(timed))
}

/// The wall (first caller's start to last caller's end) and each caller's latency, from
/// each caller's start and latency.
fn wall_and_latencies(timed: Vec<(Instant, Duration)>) -> (Duration, Vec<Duration>) {
    let start = timed.iter().map(|(t, _)| *t).min();
    let end = timed.iter().map(|(t, d)| *t + *d).max();
    let wall = match (start, end) {
        (Some(s), Some(e)) => e.saturating_duration_since(s),
        _ => Duration::ZERO,
    };
    (wall, timed.into_iter().map(|(_, d)| d).collect())
}

/// The raw limit of the blocking stampede: threads, one signature, one request with a bare
/// ureq agent and one `OnceLock`; no library.
const RAW_THREADS: &str = "raw: threads, ring + ureq, OnceLock";

/// gauth's async flavour on the authorized user google-cloud-auth is measured with (a
/// refresh-token grant: no assertion to sign), like for like.
const ASYNC_USER: &str = "gauth (async, authorized user)";

/// A line the blocking stampede's threads wait at. A `std::sync::Barrier` releases its
/// waiters through a mutex that each retakes on waking: on 2 cores a thousand threads
/// passed it over about 50 ms, which the wall then measured. Here the waiters sleep on a
/// `OnceLock` (one futex wake for all, nothing to retake), opened once all are waiting.
#[derive(Default)]
struct Gate {
    arrived: std::sync::atomic::AtomicUsize,
    open: std::sync::OnceLock<()>,
}

impl Gate {
    fn wait(&self) {
        self.arrived
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.open.wait();
    }

    /// Opens the gate once `n` threads arrived (and had a moment to fall asleep on it).
    fn open(&self, n: usize) {
        while self.arrived.load(std::sync::atomic::Ordering::Acquire) < n {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(20));
        let _ = self.open.set(());
    }
}

/// An async caller of either kind.
#[derive(Clone)]
enum Caller {
    Gauth(oauth_core::Credentials),
    Peer(PeerCreds),
}

impl Caller {
    async fn token(&self) -> Result<(), String> {
        match self {
            Caller::Gauth(c) => c.token().await.map(drop).map_err(|e| e.to_string()),
            Caller::Peer(p) => p.token().await,
        }
    }
}

/// Case 3: constructing the credential from its file plus the first token (server delay 0).
pub fn cold_start(ctx: &Ctx) -> Result<Vec<Record>, String> {
    const CASE: &str = "3 cold start: construct + first token";
    let (server, uri) = server(TokenServerConfig::default())?;
    let key = fixtures::write_key_file(&ctx.dir, &uri)?;
    let runs = if ctx.budget.quick { 7 } else { 31 };
    let mut out = Vec::new();
    let time_runs = |f: &mut dyn FnMut() -> Result<(), String>| -> Result<Stats, String> {
        f()?; // warm the process (first TLS root load, first connection)
        let mut d = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            f()?;
            d.push(t.elapsed());
        }
        Ok(Stats::of_durations(&d))
    };
    let requests = || server.requests() as u64;

    let r0 = requests();
    let s = time_runs(&mut || {
        let c = gauth_creds::blocking(&key)?;
        c.token().map(drop).map_err(|e| e.to_string())
    })?;
    out.push(Record::new(CASE, BLOCKING, s).requests((requests() - r0) / (runs as u64 + 1)));

    let r0 = requests();
    let s = time_runs(&mut || {
        ctx.rt.block_on(async {
            let c = gauth_creds::asynchronous(&key)?;
            c.token().await.map(drop).map_err(|e| e.to_string())
        })
    })?;
    out.push(Record::new(CASE, ASYNC, s).requests((requests() - r0) / (runs as u64 + 1)));

    for peer in Peer::ALL {
        let r0 = requests();
        let s = time_runs(&mut || {
            ctx.rt.block_on(async {
                let p = PeerCreds::build(peer, &key, &uri).await?;
                p.token().await
            })
        })?;
        out.push(
            Record::new(CASE, peer.name(), s)
                .requests((requests() - r0) / (runs as u64 + 1))
                .note(peer.credential_note()),
        );
    }
    Ok(out)
}
