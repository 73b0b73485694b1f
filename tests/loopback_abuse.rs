//! The loopback redirect server under abuse: slow clients holding connections, a thousand
//! junk connections, oversized request lines and headers, all while the real redirect
//! arrives. The sign-in still completes, memory stays bounded, and the success page
//! neither echoes the code nor lets it be cached or sent on as a referrer.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gauth_emulator::{ClientKind, Emulator, EmulatorConfig};
use oauth_flow::LocalServerOptions;
use oauth_flow::blocking::InstalledAppFlow;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn connect(addr: SocketAddr) -> Option<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(2))).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    Some(s)
}

/// Every kind of junk, round-robin; returns how many connections were made.
fn junk(addr: SocketAddr, n: usize) -> usize {
    let mut made = 0;
    let big_line = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(64 * 1024));
    let mut big_headers = String::from("GET / HTTP/1.1\r\n");
    for i in 0..200 {
        big_headers.push_str(&format!("X-Junk-{i}: {}\r\n", "b".repeat(100)));
    }
    big_headers.push_str("\r\n");
    for i in 0..n {
        let Some(mut s) = connect(addr) else { continue };
        made += 1;
        let payload: &[u8] = match i % 6 {
            0 => b"",                                         // connect and close
            1 => b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03", // a TLS hello
            2 => big_line.as_bytes(),
            3 => big_headers.as_bytes(),
            4 => b"GET /?code=forged&state=wrong HTTP/1.1\r\n\r\n",
            _ => b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
        };
        let _ = s.write_all(payload);
        drop(s);
    }
    made
}

type Page = Arc<Mutex<Option<(String, String)>>>;
type Report = Arc<Mutex<Option<(usize, usize)>>>;

/// Loopback-server options whose "browser" first floods the server with slow clients and
/// junk, then delivers the real redirect, and records what it saw.
fn abusive_browser(page: &Page, report: &Report) -> LocalServerOptions {
    LocalServerOptions::default()
        .open_browser(false)
        .timeout(Duration::from_secs(120))
        .on_url({
            let page = page.clone();
            let report = report.clone();
            move |url| {
                let url = url.to_string();
                let (page, report) = (page.clone(), report.clone());
                std::thread::spawn(move || {
                    let redirect = url::Url::parse(&url).unwrap();
                    let redirect_uri = redirect
                        .query_pairs()
                        .find(|(k, _)| k == "redirect_uri")
                        .map(|(_, v)| v.into_owned())
                        .unwrap();
                    let addr: SocketAddr = url::Url::parse(&redirect_uri)
                        .unwrap()
                        .socket_addrs(|| None)
                        .unwrap()[0];
                    // Slow clients: more than the server's connection limit, each sending a
                    // byte now and then, held open while everything else happens.
                    let mut slow = Vec::new();
                    for _ in 0..64 {
                        if let Some(mut s) = connect(addr) {
                            let _ = s.write_all(b"GET /?st");
                            slow.push(s);
                        }
                    }
                    let made = junk(addr, 1000);
                    // The browser: the emulator approves at once and redirects here.
                    let agent = ureq::Agent::config_builder()
                        .max_redirects(0)
                        .http_status_as_error(false)
                        .build()
                        .new_agent();
                    let answer = agent.get(&url).call().unwrap();
                    let location = answer.headers()["location"].to_str().unwrap().to_owned();
                    let code = url::Url::parse(&location)
                        .unwrap()
                        .query_pairs()
                        .find(|(k, _)| k == "code")
                        .map(|(_, v)| v.into_owned())
                        .unwrap();
                    let target = &location
                        [location.find(&format!("{addr}")).unwrap() + addr.to_string().len()..];
                    let mut s = connect(addr).expect("the redirect connects");
                    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    write!(s, "GET {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
                    let mut response = String::new();
                    let _ = s.read_to_string(&mut response);
                    *page.lock().unwrap() = Some((response, code));
                    // More junk after the redirect, and the slow ones finally give up.
                    let after = junk(addr, 50);
                    for mut s in slow {
                        let _ = s.write_all(b"ate=x");
                    }
                    *report.lock().unwrap() = Some((made + after, 64));
                });
            }
        })
}

/// What both flavours must show: the sign-in went through and the page is safe.
fn check(page: &Page, report: &Report, before: u64) {
    // Let the helper thread record its figures.
    for _ in 0..200 {
        if report.lock().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (response, code) = page.lock().unwrap().clone().expect("the page was read");
    let head = response
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .to_ascii_lowercase();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(head.contains("cache-control: no-store"), "{head}");
    assert!(head.contains("referrer-policy: no-referrer"), "{head}");
    assert!(!response.contains(&code), "the page echoes the code");
    let grown = rss_kib().saturating_sub(before);
    let (junk_made, slow) = report.lock().unwrap().unwrap_or((0, 0));
    eprintln!(
        "loopback abuse: {junk_made} junk connections, {slow} slow clients; RSS grew {grown} KiB"
    );
    assert!(junk_made >= 1000, "{junk_made}");
    // Bounded: the junk (over 13 MiB of oversized lines and headers) is not kept.
    assert!(grown < 64 * 1024, "RSS grew {grown} KiB");
}

#[test]
fn the_sign_in_completes_under_abuse_and_the_page_is_safe() {
    let emu = Emulator::start(EmulatorConfig::default().auto_approve(true)).unwrap();
    let secrets = emu.client_secrets(ClientKind::Installed).unwrap();
    let secrets =
        gauth::ClientSecrets::from_value_with(&secrets, "emu", &Default::default()).unwrap();
    let mut flow = InstalledAppFlow::from_client_secrets(secrets, ["openid", "email"]);
    let (page, report): (Page, Report) = Default::default();
    let before = rss_kib();
    let user = flow
        .run_local_server(abusive_browser(&page, &report))
        .expect("the sign-in completes despite the abuse");
    assert!(user.refresh_token().is_some());
    check(&page, &report, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_async_sign_in_completes_under_abuse_and_the_page_is_safe() {
    let emu = Emulator::start(EmulatorConfig::default().auto_approve(true)).unwrap();
    let secrets = emu.client_secrets(ClientKind::Installed).unwrap();
    let secrets =
        gauth::ClientSecrets::from_value_with(&secrets, "emu", &Default::default()).unwrap();
    let mut flow = oauth_flow::InstalledAppFlow::from_client_secrets(secrets, ["openid", "email"]);
    let (page, report): (Page, Report) = Default::default();
    let before = rss_kib();
    let user = flow
        .run_local_server(abusive_browser(&page, &report))
        .await
        .expect("the sign-in completes despite the abuse");
    assert!(user.refresh_token().is_some());
    check(&page, &report, before);
}
