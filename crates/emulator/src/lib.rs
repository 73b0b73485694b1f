//! # gauth-emulator
//!
//! Local stand-ins for Google's endpoints, on loopback, so that gauth's demo, tests and
//! benchmarks run offline. Each server runs on its own runtime thread, so blocking and
//! async tests use it alike, and stops when its handle is dropped.
//!
//! - [`token_server::TokenServer`]: a token endpoint that counts what it receives, with a
//!   settable delay and lifetime, and refresh-token rotation with reuse detection (the
//!   grant is revoked when a rotated-away refresh token comes back, as strict providers
//!   do).

pub mod token_server;
