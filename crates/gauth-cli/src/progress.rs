//! The transfer progress bar of `gauth call --media/--output`: on stderr, and only when
//! stderr is a terminal (nothing at all otherwise, so scripts and logs see no bar).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar on stderr; cheap to clone (the clones share it).
#[derive(Clone)]
pub struct Bar(ProgressBar);

impl Bar {
    /// A bar for `total` bytes (unknown: a spinner with a count), or `None` when stderr is
    /// not a terminal.
    pub fn new(total: Option<u64>) -> Option<Bar> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
        let template = if total.is_some() {
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
        } else {
            "{spinner} {bytes} {bytes_per_sec}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        Some(Bar(bar))
    }

    /// Bytes done, and the total once known.
    pub fn update(&self, done: u64, total: Option<u64>) {
        if let Some(t) = total
            && self.0.length() != Some(t)
        {
            self.0.set_length(t);
        }
        self.0.set_position(done);
    }

    /// Clears the bar.
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}
