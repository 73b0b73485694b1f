//! Where credentials go: the origin (scheme, host, port) of an API's root URL, and the
//! check that a URL a call is sent to lies on it. The type is oauth-core's
//! [`ApiOrigin`](oauth_core::origin::ApiOrigin): every call declares the API's root origin
//! in its requests, and the runner that puts credentials on them checks it once more.
//!
//! ```
//! use discovery_client::origin::Origin;
//! let root = Origin::parse("https://www.googleapis.com/").unwrap();
//! assert!(root.admits("https://www.googleapis.com:443/drive/v3/files?alt=json").is_ok());
//! let other = root.admits("https://www.googleapis.com.attacker.example/x").unwrap_err();
//! assert_eq!(other.unwrap().host(), "www.googleapis.com.attacker.example");
//! assert!(root.admits("http://www.googleapis.com/drive/v3/files").is_err(), "another scheme");
//! assert_eq!(root.to_string(), "https://www.googleapis.com:443");
//! ```

pub use oauth_core::origin::ApiOrigin as Origin;
