//! Progress on stderr for runs that take more than a second (`snapshot`, `fleet`): an
//! indicatif bar (or a spinner while the total is unknown), drawn only when stderr is a terminal
//! and the output is not `--json`, and only once the run has lasted [`SHOW_AFTER`].

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::mpsc;
use std::time::Duration;

/// How long a run goes before its progress is drawn.
pub const SHOW_AFTER: Duration = Duration::from_secs(1);

/// While the number of steps is unknown.
const SPINNER: &str = "{spinner} {msg} [{elapsed}]";
/// Once it is known.
const COUNTED: &str = "{spinner} {msg} {human_pos}/{human_len} [{elapsed}]";

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// Whether progress may be drawn: stderr is a terminal and the output is not JSON.
pub fn wanted(json: bool) -> bool {
    !json && std::io::stderr().is_terminal()
}

/// A progress indicator that stays hidden for its first [`SHOW_AFTER`] (and always when not
/// [`wanted`]). Finishing (or dropping) it clears it.
pub struct Progress {
    bar: ProgressBar,
    _stop: Option<mpsc::Sender<()>>,
}

impl Progress {
    /// A spinner saying `message`; drawn after [`SHOW_AFTER`] when `enabled`
    /// (usually `wanted(args.json)`).
    pub fn new(message: &str, enabled: bool) -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(style(SPINNER));
        bar.set_message(message.to_string());
        let stop = enabled.then(|| {
            let (tx, rx) = mpsc::channel::<()>();
            let shown = bar.clone();
            std::thread::spawn(move || {
                // Dropping the sender (finish) ends the wait early with Disconnected.
                if rx.recv_timeout(SHOW_AFTER) == Err(mpsc::RecvTimeoutError::Timeout) {
                    shown.set_draw_target(ProgressDrawTarget::stderr());
                    shown.enable_steady_tick(Duration::from_millis(120));
                }
            });
            tx
        });
        Progress { bar, _stop: stop }
    }

    /// `done` of `total` steps.
    pub fn update(&self, done: usize, total: usize) {
        if self.bar.length().is_none() {
            self.bar.set_style(style(COUNTED));
        }
        self.bar.set_length(total as u64);
        self.bar.set_position(done as u64);
    }

    /// Start a new stage: a new message, the count cleared (a spinner until [`Progress::update`]).
    pub fn stage(&self, message: &str) {
        self.bar.unset_length();
        self.bar.set_position(0);
        self.bar.set_style(style(SPINNER));
        self.bar.set_message(message.to_string());
    }

    /// Clear the indicator.
    pub fn finish(self) {}
}

impl Drop for Progress {
    fn drop(&mut self) {
        self._stop.take();
        self.bar.finish_and_clear();
    }
}
