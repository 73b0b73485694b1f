//! The emulator's memory: grants and the tokens, codes and pending requests that lead to them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use ring::rand::{SecureRandom, SystemRandom};

use crate::config::EmulatorConfig;
use crate::keys::{SigningKey, b64url};
use crate::tasks::TaskData;

/// Entries kept per kind before expired ones are swept, so junk traffic cannot grow memory
/// without bound.
const SWEEP_AT: usize = 10_000;

/// Whom a grant speaks for.
#[derive(Debug, Clone)]
pub(crate) enum Subject {
    /// A user, by index into `config.users`.
    User(usize),
    /// A service account, by email (a delegated grant names the user in `delegated_sub`).
    ServiceAccount(String),
    /// A federated identity (workload or workforce pool), by its `principal://` name.
    Federated(String),
}

/// One consent (or service-account authorization) and everything issued under it.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub client_id: String,
    pub subject: Subject,
    /// Domain-wide delegation: the user a service account acts as.
    pub delegated_sub: Option<String>,
    pub scopes: Vec<String>,
    pub offline: bool,
    pub revoked: bool,
    pub nonce: Option<String>,
}

/// An issued access token.
#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    pub grant: u64,
    pub expires_at: u64,
    pub scopes: Vec<String>,
}

/// PKCE code-challenge method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PkceMethod {
    Plain,
    S256,
}

/// An authorization request waiting for Allow / Deny, or approved into a code.
#[derive(Debug, Clone)]
pub(crate) struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub challenge: Option<(String, PkceMethod)>,
    pub offline: bool,
    pub nonce: Option<String>,
    pub login_hint: Option<String>,
    pub expires_at: u64,
}

/// An issued authorization code.
#[derive(Debug, Clone)]
pub(crate) struct Code {
    pub request: AuthRequest,
    pub user: usize,
    pub expires_at: u64,
    /// The grant issued when it was redeemed (revoked if it comes back).
    pub redeemed: Option<u64>,
}

/// Where a device authorization stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeviceState {
    Pending,
    Approved(usize),
    Denied,
    /// Tokens were issued; the device code is spent.
    Done,
}

/// A device authorization (RFC 8628).
#[derive(Debug, Clone)]
pub(crate) struct Device {
    pub client_id: String,
    pub user_code: String,
    pub scopes: Vec<String>,
    pub expires_at: u64,
    pub interval: u64,
    pub last_poll: Option<u64>,
    pub state: DeviceState,
}

/// Everything mutable, behind one lock: the emulator is test infrastructure, and one lock
/// keeps every rule (single use, rotation, revocation) trivially atomic.
#[derive(Default)]
pub(crate) struct Store {
    next_grant: u64,
    pub grants: HashMap<u64, Grant>,
    pub access: HashMap<String, AccessToken>,
    pub refresh: HashMap<String, u64>,
    pub codes: HashMap<String, Code>,
    pub pending: HashMap<String, AuthRequest>,
    /// By device code.
    pub devices: HashMap<String, Device>,
    /// Task lists per subject email.
    pub tasks: HashMap<String, TaskData>,
    /// The AWS metadata stand-in's session tokens and role credentials.
    pub aws: crate::aws::AwsState,
}

impl Store {
    /// Stores a grant and returns its id.
    pub fn add_grant(&mut self, grant: Grant) -> u64 {
        self.next_grant += 1;
        self.grants.insert(self.next_grant, grant);
        self.next_grant
    }

    /// Drops expired short-lived entries once a map grows large.
    pub fn sweep(&mut self, now: u64) {
        if self.access.len() > SWEEP_AT {
            self.access.retain(|_, t| t.expires_at > now);
        }
        if self.codes.len() > SWEEP_AT {
            self.codes.retain(|_, c| c.expires_at > now);
        }
        if self.pending.len() > SWEEP_AT {
            self.pending.retain(|_, p| p.expires_at > now);
        }
        if self.devices.len() > SWEEP_AT {
            self.devices.retain(|_, d| d.expires_at > now);
        }
    }

    /// The live grant behind an access token, with the token.
    pub fn live_access(&self, token: &str, now: u64) -> Option<(AccessToken, Grant)> {
        let at = self.access.get(token)?;
        if at.expires_at <= now {
            return None;
        }
        let grant = self.grants.get(&at.grant)?;
        (!grant.revoked).then(|| (at.clone(), grant.clone()))
    }
}

/// What every handler shares.
pub(crate) struct Shared {
    pub config: EmulatorConfig,
    pub base_url: String,
    pub key: SigningKey,
    docs: crate::discovery::Documents,
    rng: SystemRandom,
    clock_offset: AtomicU64,
    store: Mutex<Store>,
    /// Drive's files, uploads, media faults and the media request log.
    pub media: crate::media::Media,
}

impl Shared {
    pub fn new(config: EmulatorConfig, base_url: String, key: SigningKey) -> Shared {
        Shared {
            docs: crate::discovery::Documents::load(&base_url),
            media: crate::media::Media::new(&config),
            config,
            base_url,
            key,
            rng: SystemRandom::new(),
            clock_offset: AtomicU64::new(0),
            store: Mutex::new(Store::default()),
        }
    }

    /// The discovery documents, pointed at this emulator.
    pub fn documents(&self) -> &crate::discovery::Documents {
        &self.docs
    }

    /// The store; a poisoned lock is taken over (no handler leaves it half-updated).
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seconds since the epoch, moved forward by [`Shared::advance`].
    pub fn now(&self) -> u64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        real.saturating_add(self.clock_offset.load(Ordering::SeqCst))
    }

    /// Moves the emulator's clock forward.
    pub fn advance(&self, secs: u64) {
        self.clock_offset.fetch_add(secs, Ordering::SeqCst);
    }

    /// `n` random bytes, base64url.
    pub fn random(&self, n: usize) -> String {
        let mut buf = vec![0u8; n];
        // SystemRandom fails only without an OS random source; the emulator is loopback
        // test infrastructure, so it carries on rather than panicking.
        let _ = self.rng.fill(&mut buf);
        b64url(&buf)
    }

    /// A user code such as `WDJB-MJHT`, from an alphabet without look-alikes.
    pub fn user_code(&self) -> String {
        const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
        let mut buf = [0u8; 8];
        let _ = self.rng.fill(&mut buf);
        let chars: String = buf
            .iter()
            .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
            .collect();
        format!("{}-{}", &chars[..4], &chars[4..])
    }

    /// The `(sub, email)` a grant's tokens speak for.
    pub fn identity(&self, grant: &Grant) -> (String, String) {
        match &grant.subject {
            Subject::User(i) => self
                .config
                .users
                .get(*i)
                .map(|u| (u.sub.clone(), u.email.clone()))
                .unwrap_or_default(),
            Subject::ServiceAccount(email) => {
                if let Some(sub) = &grant.delegated_sub {
                    let user = self.config.users.iter().find(|u| &u.email == sub);
                    return match user {
                        Some(u) => (u.sub.clone(), u.email.clone()),
                        None => (sub.clone(), sub.clone()),
                    };
                }
                let id = self
                    .config
                    .service_accounts
                    .iter()
                    .find(|s| &s.email == email)
                    .map(|s| s.unique_id.clone())
                    .unwrap_or_else(|| email.clone());
                (id, email.clone())
            }
            Subject::Federated(principal) => (principal.clone(), String::new()),
        }
    }

    /// Issues an access token under `grant`.
    pub fn issue_access(&self, store: &mut Store, grant: u64, scopes: &[String]) -> String {
        let token = format!("ya29.emu-{}", self.random(32));
        let now = self.now();
        store.sweep(now);
        store.access.insert(
            token.clone(),
            AccessToken {
                grant,
                expires_at: now + self.config.access_token_lifetime.as_secs(),
                scopes: scopes.to_vec(),
            },
        );
        token
    }

    /// Issues a refresh token for `grant`.
    pub fn issue_refresh(&self, store: &mut Store, grant: u64) -> String {
        let token = format!("1//emu-{}", self.random(32));
        store.refresh.insert(token.clone(), grant);
        token
    }

    /// Signs an ID token for `grant` with audience `aud`.
    pub fn id_token(
        &self,
        grant: &Grant,
        aud: &str,
        access_token: Option<&str>,
        include_email: bool,
    ) -> Option<String> {
        let (sub, email) = self.identity(grant);
        let now = self.now();
        let mut claims = serde_json::json!({
            "iss": self.config.issuer,
            "azp": grant.client_id,
            "aud": aud,
            "sub": sub,
            "iat": now,
            "exp": now + self.config.access_token_lifetime.as_secs(),
        });
        if include_email {
            claims["email"] = email.into();
            claims["email_verified"] = true.into();
        }
        if let Some(nonce) = &grant.nonce {
            claims["nonce"] = nonce.clone().into();
        }
        if let Some(at) = access_token {
            let digest = ring::digest::digest(&ring::digest::SHA256, at.as_bytes());
            claims["at_hash"] = b64url(&digest.as_ref()[..16]).into();
        }
        if let Subject::User(i) = grant.subject
            && has_profile_scope(&grant.scopes)
            && let Some(u) = self.config.users.get(i)
        {
            claims["name"] = u.name.clone().into();
            claims["given_name"] = u.given_name.clone().into();
            claims["family_name"] = u.family_name.clone().into();
            claims["picture"] = u.picture.clone().into();
        }
        self.key.sign_jwt(&claims)
    }
}

/// Whether the scopes grant the email address.
pub(crate) fn has_email_scope(scopes: &[String]) -> bool {
    scopes
        .iter()
        .any(|s| s == "email" || s == "https://www.googleapis.com/auth/userinfo.email")
}

/// Whether the scopes grant the profile.
pub(crate) fn has_profile_scope(scopes: &[String]) -> bool {
    scopes
        .iter()
        .any(|s| s == "profile" || s == "https://www.googleapis.com/auth/userinfo.profile")
}

/// Splits a space-separated scope string.
pub(crate) fn split_scopes(s: &str) -> Vec<String> {
    s.split([' ', ',', '+'])
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}
