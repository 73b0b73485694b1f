//! `gauth demo`, the README's main command: it runs offline, walks every step, and prints no
//! token.

use std::process::Command;

#[test]
fn the_demo_walks_every_step_offline_and_prints_no_token() {
    let out = Command::new(env!("CARGO_BIN_EXE_gauth"))
        .arg("demo")
        .env("RUST_LOG", "trace")
        .output()
        .expect("gauth runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for step in [
        "[1/10] emulator",
        "[2/10] client secrets",
        "[3/10] sign in",
        "answered Allow as alice@example.com",
        "[4/10] userinfo",
        "alice@example.com",
        "[5/10] tasks",
        "[\"Run cargo xtask test\", \"Read the guide\"]",
        "[6/10] refresh",
        "[7/10] service account",
        "[8/10] ID token",
        "verified (RS256",
        "[9/10] federation",
        "SigV4-signed GetCallerIdentity",
        "[10/10] revoke",
        "invalid_grant",
        "nothing sent beyond 127.0.0.1",
    ] {
        assert!(stdout.contains(step), "missing `{step}` in:\n{stdout}");
    }
    // Tokens are shown by kind and length only; the emulator's tokens start `ya29.emu`.
    for text in [&stdout, &stderr] {
        assert!(!text.contains("ya29.emu"), "a token was printed:\n{text}");
        assert!(
            !text.contains("1//emu"),
            "a refresh token was printed:\n{text}"
        );
        assert!(
            !text.contains("emulator-installed-secret"),
            "the client secret was printed"
        );
    }
    assert!(
        stderr.contains("/o/oauth2/auth?"),
        "the authorization URL is always printed"
    );
}
