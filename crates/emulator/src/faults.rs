//! Faults the media endpoints inject on request: an error status, a connection cut in the
//! middle of a body, a stall, a forgotten upload session; on the Nth matching request, once,
//! a few times or every time. Armed through [`EmulatorConfig::media_fault`](crate::EmulatorConfig::media_fault),
//! [`Emulator::inject_media_fault`](crate::Emulator::inject_media_fault) or
//! `POST /emulator/v1/media/faults` (the same JSON as [`MediaFault`]'s serde form).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Which media requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaultTarget {
    /// The initiation of a resumable upload (`POST ...?uploadType=resumable`).
    Initiate,
    /// A `PUT` to an upload session that carries bytes (a chunk, or the whole content).
    Chunk,
    /// A `PUT` to an upload session asking where it stands (`Content-Range: bytes */...`).
    StatusQuery,
    /// A one-request upload: `uploadType=media` or `uploadType=multipart`.
    Upload,
    /// A media download (`GET ...?alt=media`).
    Download,
}

/// What a fault does to the request it hits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaultAction {
    /// Answers this status (503, 500, 429, ...) with Google's error body. An upload's body is
    /// read and discarded first: nothing of it is kept.
    Status(u16),
    /// Cuts the connection (a TCP reset) after `K` bytes of the body: for an upload, after
    /// reading K bytes of the request body (a session keeps the 256 KiB-aligned part of the
    /// chunk it received, as Google may); for a download, after sending K bytes of media (an
    /// answer of K bytes or fewer goes out whole). An upload whose body is shorter than K
    /// (a status query, say) is cut before any answer.
    DropAfter(u64),
    /// Hangs for `duration`. An upload request has `after` bytes of its body read and
    /// dropped, then nothing is read or answered until the connection is cut at the end: the
    /// session is left as it was and other requests to it are not held up, as when a server
    /// hangs and gives up. A download sends `after` bytes, pauses, then carries on if the
    /// client is still there.
    Stall {
        /// Bytes of the body (read or sent) before the stall.
        after: u64,
        /// How long it lasts.
        #[serde(with = "millis")]
        duration: Duration,
    },
    /// Forgets the upload session and answers this status (404 or 410); every later request
    /// to that session gets the same. On other requests it is a plain status.
    ForgetSession(u16),
}

/// How many times a fault fires once its Nth matching request has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Repeat {
    /// On the Nth matching request only.
    #[default]
    Once,
    /// On the Nth and the following matching requests, this many in all.
    Times(u32),
    /// On the Nth matching request and every one after it.
    Always,
}

/// A fault armed on the media endpoints.
///
/// ```
/// use gauth_emulator::{FaultAction, FaultTarget, MediaFault};
/// // The second chunk of any resumable upload is answered 503, once.
/// let f = MediaFault::new(FaultTarget::Chunk, FaultAction::Status(503)).nth(2);
/// assert_eq!(f.nth, 2);
/// let json = serde_json::to_value(&f).unwrap();
/// assert_eq!(json["target"], "chunk");
/// assert_eq!(json["action"]["status"], 503);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MediaFault {
    /// The requests it applies to.
    pub target: FaultTarget,
    /// What it does.
    pub action: FaultAction,
    /// The first matching request it fires on, counting from 1 when it is armed.
    #[serde(default = "one")]
    pub nth: u32,
    /// How often it fires from then on.
    #[serde(default)]
    pub repeat: Repeat,
}

fn one() -> u32 {
    1
}

impl MediaFault {
    /// A fault firing once, on the first matching request.
    ///
    /// ```
    /// use gauth_emulator::{FaultAction, FaultTarget, MediaFault, Repeat};
    /// let f = MediaFault::new(FaultTarget::Download, FaultAction::DropAfter(1000));
    /// assert_eq!((f.nth, f.repeat), (1, Repeat::Once));
    /// ```
    pub fn new(target: FaultTarget, action: FaultAction) -> MediaFault {
        MediaFault {
            target,
            action,
            nth: 1,
            repeat: Repeat::Once,
        }
    }

    /// Fires first on the `n`th matching request (0 is taken as 1).
    ///
    /// ```
    /// use gauth_emulator::{FaultAction, FaultTarget, MediaFault};
    /// assert_eq!(MediaFault::new(FaultTarget::Chunk, FaultAction::Status(500)).nth(3).nth, 3);
    /// ```
    pub fn nth(mut self, n: u32) -> MediaFault {
        self.nth = n.max(1);
        self
    }

    /// Sets how often it fires.
    ///
    /// ```
    /// use gauth_emulator::{FaultAction, FaultTarget, MediaFault, Repeat};
    /// let f = MediaFault::new(FaultTarget::Chunk, FaultAction::Status(503)).repeat(Repeat::Always);
    /// assert_eq!(f.repeat, Repeat::Always);
    /// ```
    pub fn repeat(mut self, repeat: Repeat) -> MediaFault {
        self.repeat = repeat;
        self
    }

    /// A short description, as the request recording names it.
    pub(crate) fn describe(&self) -> String {
        let action = match &self.action {
            FaultAction::Status(s) => format!("status {s}"),
            FaultAction::DropAfter(k) => format!("drop after {k} bytes"),
            FaultAction::Stall { after, duration } => {
                format!("stall {} ms after {after} bytes", duration.as_millis())
            }
            FaultAction::ForgetSession(s) => format!("forget session ({s})"),
        };
        let target = match self.target {
            FaultTarget::Initiate => "initiate",
            FaultTarget::Chunk => "chunk",
            FaultTarget::StatusQuery => "status query",
            FaultTarget::Upload => "upload",
            FaultTarget::Download => "download",
        };
        format!("{action} on {target} #{}", self.nth)
    }
}

/// A fault and how far it has got.
#[derive(Debug, Clone)]
struct Armed {
    fault: MediaFault,
    seen: u32,
    fired: u32,
}

/// The armed faults, in the order they were armed.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    armed: Vec<Armed>,
}

impl Faults {
    /// Arms `fault`; its count starts now.
    pub(crate) fn arm(&mut self, fault: MediaFault) {
        self.armed.push(Armed {
            fault,
            seen: 0,
            fired: 0,
        });
    }

    /// Disarms every fault.
    pub(crate) fn clear(&mut self) {
        self.armed.clear();
    }

    /// Counts a request of kind `target` against every armed fault and returns the first that
    /// fires on it.
    pub(crate) fn next(&mut self, target: FaultTarget) -> Option<MediaFault> {
        let mut hit = None;
        for a in self.armed.iter_mut().filter(|a| a.fault.target == target) {
            a.seen = a.seen.saturating_add(1);
            let due = a.seen >= a.fault.nth;
            let left = match a.fault.repeat {
                Repeat::Once => a.fired < 1,
                Repeat::Times(n) => a.fired < n,
                Repeat::Always => true,
            };
            if hit.is_none() && due && left {
                a.fired = a.fired.saturating_add(1);
                hit = Some(a.fault.clone());
            }
        }
        hit
    }
}

/// Durations as whole milliseconds in JSON.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fired(f: &mut Faults, target: FaultTarget, n: usize) -> Vec<bool> {
        (0..n).map(|_| f.next(target).is_some()).collect()
    }

    #[test]
    fn a_once_fault_fires_on_the_nth_matching_request_only() {
        let mut f = Faults::default();
        f.arm(MediaFault::new(FaultTarget::Chunk, FaultAction::Status(503)).nth(2));
        assert_eq!(
            fired(&mut f, FaultTarget::Download, 3),
            [false, false, false]
        );
        assert_eq!(
            fired(&mut f, FaultTarget::Chunk, 4),
            [false, true, false, false]
        );
    }

    #[test]
    fn times_and_always_keep_firing_from_the_nth_request() {
        let mut f = Faults::default();
        f.arm(
            MediaFault::new(FaultTarget::Chunk, FaultAction::Status(503))
                .nth(2)
                .repeat(Repeat::Times(2)),
        );
        assert_eq!(
            fired(&mut f, FaultTarget::Chunk, 5),
            [false, true, true, false, false]
        );
        f.clear();
        f.arm(
            MediaFault::new(FaultTarget::Download, FaultAction::DropAfter(1))
                .repeat(Repeat::Always),
        );
        assert_eq!(fired(&mut f, FaultTarget::Download, 3), [true, true, true]);
    }

    #[test]
    fn the_first_armed_fault_wins_and_the_others_still_count() {
        let mut f = Faults::default();
        f.arm(MediaFault::new(
            FaultTarget::Chunk,
            FaultAction::Status(500),
        ));
        f.arm(MediaFault::new(
            FaultTarget::Chunk,
            FaultAction::Status(503),
        ));
        assert_eq!(
            f.next(FaultTarget::Chunk).map(|m| m.action),
            Some(FaultAction::Status(500))
        );
        // The second saw the first request too: it is past its nth and fires now.
        assert_eq!(
            f.next(FaultTarget::Chunk).map(|m| m.action),
            Some(FaultAction::Status(503))
        );
        assert!(f.next(FaultTarget::Chunk).is_none());
    }

    #[test]
    fn faults_read_from_json_with_defaults() {
        let f: MediaFault = serde_json::from_str(
            r#"{"target":"download","action":{"stall":{"after":10,"duration":1500}}}"#,
        )
        .unwrap();
        assert_eq!(f.nth, 1);
        assert_eq!(f.repeat, Repeat::Once);
        assert_eq!(
            f.action,
            FaultAction::Stall {
                after: 10,
                duration: Duration::from_millis(1500)
            }
        );
        let f: MediaFault = serde_json::from_str(
            r#"{"target":"chunk","action":{"forget_session":410},"nth":3,"repeat":{"times":2}}"#,
        )
        .unwrap();
        assert_eq!(f.repeat, Repeat::Times(2));
        assert!(serde_json::from_str::<MediaFault>(r#"{"target":"nope","action":"x"}"#).is_err());
    }
}
