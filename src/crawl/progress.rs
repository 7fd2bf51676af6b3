//! Progress on stderr: a bar on a terminal, plain lines otherwise, nothing when quiet.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressMode {
    /// An animated bar (stderr is a terminal).
    Bar,
    /// A plain line every few seconds (stderr is a file or a pipe: cron, CI).
    Lines,
    Quiet,
}

impl ProgressMode {
    /// The mode for this process: a bar when stderr is a terminal.
    pub fn detect(quiet: bool) -> Self {
        use std::io::IsTerminal;
        if quiet {
            ProgressMode::Quiet
        } else if std::io::stderr().is_terminal() {
            ProgressMode::Bar
        } else {
            ProgressMode::Lines
        }
    }
}

const LINE_EVERY: Duration = Duration::from_secs(5);

pub(crate) struct Progress {
    mode: ProgressMode,
    bar: Option<ProgressBar>,
    lines: Mutex<LineState>,
}

struct LineState {
    listed: u64,
    done: u64,
    last_line: Instant,
}

impl Progress {
    pub fn new(mode: ProgressMode) -> Self {
        let bar = (mode == ProgressMode::Bar).then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} auditing users {bar:30} {pos}/{len} ({per_sec}, {elapsed})",
                )
                .expect("valid template"),
            );
            bar
        });
        Progress {
            mode,
            bar,
            lines: Mutex::new(LineState {
                listed: 0,
                done: 0,
                last_line: Instant::now(),
            }),
        }
    }

    /// A ListUsers page arrived with `n` users.
    pub fn users_listed(&self, n: usize) {
        if let Some(bar) = &self.bar {
            bar.inc_length(n as u64);
        }
        self.lines.lock().expect("progress lock").listed += n as u64;
    }

    /// One user's keys and last-use data are collected.
    pub fn user_done(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        if self.mode == ProgressMode::Lines {
            let mut state = self.lines.lock().expect("progress lock");
            state.done += 1;
            if state.last_line.elapsed() >= LINE_EVERY {
                state.last_line = Instant::now();
                eprintln!(
                    "keyhygiene: audited {} of {} users listed so far",
                    state.done, state.listed
                );
            }
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
