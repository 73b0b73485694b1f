//! A real `redis-server` for the suites of the Redis token store: started by the test itself
//! on a free loopback port, in a temporary directory, with no persistence (`--save ''`,
//! no append-only file), stopped when dropped. It can be killed (SIGKILL) and restarted
//! on the same port, to play an outage.
//!
//! Missing `redis-server` follows [`require_tool`](crate::require_tool): one line and a skip
//! locally, a failure with `CI=true`.
//!
//! ```no_run
//! let Some(redis) = gauth_tests::redis_server::RedisServer::start() else { return };
//! let url = redis.url();
//! # let _ = url;
//! ```

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::tools::REDIS_SERVER;

/// How long a starting server may take to answer PING.
const STARTUP: Duration = Duration::from_secs(20);

/// A running `redis-server` on 127.0.0.1.
#[derive(Debug)]
pub struct RedisServer {
    program: PathBuf,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port; `None` (after one line saying so) when there is no
    /// `redis-server` on this machine and this is not CI.
    pub fn start() -> Option<RedisServer> {
        let program = crate::require_tool(&REDIS_SERVER)?;
        let dir = tempfile::tempdir().expect("a temporary directory for redis-server");
        let mut server = RedisServer {
            program,
            port: free_port(),
            dir,
            child: None,
        };
        server.spawn();
        Some(server)
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills the server with SIGKILL (nothing is saved: it comes back empty).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (after [`RedisServer::kill`]).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// A connection for inspecting and changing what the server holds.
    pub fn connection(&self) -> redis::Connection {
        let client = redis::Client::open(self.url()).expect("the server's URL");
        client
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("a connection to the test's redis-server")
    }

    /// Every key with its value (raw bytes; lists of bytes for other types are not
    /// expected) and its remaining time to live in milliseconds (-1: none).
    pub fn dump(&self) -> Vec<(String, Vec<u8>, i64)> {
        let mut conn = self.connection();
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut conn).expect("KEYS");
        keys.into_iter()
            .filter_map(|k| {
                let value: Option<Vec<u8>> = redis::cmd("GET").arg(&k).query(&mut conn).ok()?;
                let ttl: i64 = redis::cmd("PTTL").arg(&k).query(&mut conn).ok()?;
                Some((k, value?, ttl))
            })
            .collect()
    }

    /// Empties the server (FLUSHALL).
    pub fn flush_all(&self) {
        let mut conn = self.connection();
        let _: () = redis::cmd("FLUSHALL").query(&mut conn).expect("FLUSHALL");
    }

    fn spawn(&mut self) {
        let child = Command::new(&self.program)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--protected-mode", "no"])
            .args(["--daemonize", "no"])
            .args(["--loglevel", "warning"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.program.display()));
        self.child = Some(child);
        let deadline = Instant::now() + STARTUP;
        while !pong(self.port) {
            if Instant::now() >= deadline {
                self.kill();
                panic!("redis-server on port {} did not answer PING", self.port);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port nobody listens on now (the kernel's choice).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Whether a server on `port` answers PING (inline command, no client library).
fn pong(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// The service account of the Redis suites' key files.
pub const SA_EMAIL: &str = "fleet@gauth-tests.iam.gserviceaccount.com";
/// The scope they ask for.
pub const SA_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// A service-account key file's JSON for [`SA_EMAIL`] with one of two test-only private
/// keys (`0` or `1`): the same account and scopes, different secrets.
pub fn service_account_json(token_uri: &str, key: u8) -> serde_json::Value {
    let pem = if key == 0 {
        include_str!("../../crates/oauth-sa/testdata/rsa_pkcs8.pem").to_owned()
    } else {
        let emulator: serde_json::Value = serde_json::from_str(include_str!(
            "../../crates/emulator/keys/test-only-service-account.json"
        ))
        .expect("the emulator's test key file");
        emulator["private_key"]
            .as_str()
            .expect("a private key")
            .to_owned()
    };
    serde_json::json!({
        "type": "service_account",
        "project_id": "gauth-tests",
        "private_key_id": format!("test-key-{key}"),
        "private_key": pem,
        "client_email": SA_EMAIL,
        "client_id": "100000000000000000002",
        "token_uri": token_uri,
    })
}
