//! Waiting for the fleet's lock, written once for both flavours: each poll tries to take
//! the lock and reads the entry; the flavour sends the poll and sleeps as told.

use std::time::{Duration, Instant};

/// What to do after a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// The lock is ours.
    Acquired,
    /// A new entry appeared while another process held the lock: its refresh is saved, so
    /// the handle loads it instead of refreshing. (An entry that vanished, wiped or
    /// expired, is no news: the wait goes on.)
    Changed,
    /// Poll again after this long.
    Sleep(Duration),
    /// The wait is over without the lock or a new entry: refresh alone.
    GiveUp,
}

/// The first pause between polls.
const FIRST_DELAY: Duration = Duration::from_millis(5);
/// The longest pause between polls.
const MAX_DELAY: Duration = Duration::from_millis(50);

/// One wait for one lock.
#[derive(Debug)]
pub(crate) struct LockWait {
    deadline: Option<Instant>,
    delay: Duration,
    /// The entry as the first poll saw it (`Some(None)`: there was none).
    seen: Option<Option<Vec<u8>>>,
    /// A small per-wait number that spreads the polls of many processes.
    jitter: u32,
}

impl LockWait {
    pub(crate) fn new(wait: Duration, jitter: u32) -> LockWait {
        LockWait {
            deadline: Instant::now().checked_add(wait),
            delay: FIRST_DELAY,
            seen: None,
            jitter,
        }
    }

    /// Decides after a poll: `acquired` when `SET NX` succeeded, `entry` the entry's bytes.
    pub(crate) fn next(&mut self, acquired: bool, entry: Option<Vec<u8>>) -> Next {
        if acquired {
            return Next::Acquired;
        }
        match &self.seen {
            Some(seen) if entry.is_some() && *seen != entry => return Next::Changed,
            _ => self.seen = Some(entry),
        }
        let now = Instant::now();
        let left = match self.deadline {
            Some(d) if now >= d => return Next::GiveUp,
            Some(d) => d - now,
            None => MAX_DELAY,
        };
        let spread = u64::from(self.jitter % 1000) * self.delay.as_micros() as u64 / 2000;
        let pause = (self.delay + Duration::from_micros(spread)).min(left);
        self.delay = (self.delay * 2).min(MAX_DELAY);
        Next::Sleep(pause)
    }
}

/// A per-process number for spreading polls.
pub(crate) fn jitter() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
        ^ std::process::id().rotate_left(16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_poll_records_the_entry_and_a_change_ends_the_wait() {
        let mut w = LockWait::new(Duration::from_secs(60), 7);
        assert!(matches!(
            w.next(false, Some(b"old".to_vec())),
            Next::Sleep(_)
        ));
        assert!(matches!(
            w.next(false, Some(b"old".to_vec())),
            Next::Sleep(_)
        ));
        assert_eq!(w.next(false, Some(b"new".to_vec())), Next::Changed);
        let mut w = LockWait::new(Duration::from_secs(60), 7);
        assert!(matches!(w.next(false, None), Next::Sleep(_)));
        assert_eq!(w.next(false, Some(b"new".to_vec())), Next::Changed);
        assert_eq!(w.next(true, None), Next::Acquired);
    }

    #[test]
    fn an_entry_that_vanishes_is_no_news_but_the_next_one_is() {
        let mut w = LockWait::new(Duration::from_secs(60), 7);
        assert!(matches!(
            w.next(false, Some(b"old".to_vec())),
            Next::Sleep(_)
        ));
        assert!(matches!(w.next(false, None), Next::Sleep(_)), "wiped");
        assert!(matches!(w.next(false, None), Next::Sleep(_)));
        assert_eq!(
            w.next(false, Some(b"old".to_vec())),
            Next::Changed,
            "saved again"
        );
    }

    #[test]
    fn pauses_grow_to_a_bound_and_the_wait_ends() {
        let mut w = LockWait::new(Duration::from_secs(60), 999);
        let mut last = Duration::ZERO;
        for _ in 0..20 {
            match w.next(false, None) {
                Next::Sleep(d) => {
                    assert!(d <= MAX_DELAY * 2, "{d:?}");
                    last = d;
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(last >= MAX_DELAY);
        let mut w = LockWait::new(Duration::ZERO, 0);
        w.next(false, None);
        assert_eq!(w.next(false, None), Next::GiveUp);
    }
}
