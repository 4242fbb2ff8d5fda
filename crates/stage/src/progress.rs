//! Progress on stderr: a spinner per phase of a stage when stderr is a terminal, and a log
//! line with the phase's duration always.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// A named phase of work: shows a spinner while it runs, logs its duration when done.
#[derive(Debug)]
pub struct Phase {
    name: String,
    started: Instant,
    spinner: ProgressBar,
}

impl Phase {
    /// Starts the phase `name`.
    pub fn start(name: impl Into<String>) -> Phase {
        let name = name.into();
        let spinner = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            let s = ProgressBar::new_spinner();
            s.set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"));
            s.set_message(name.clone());
            s.enable_steady_tick(Duration::from_millis(100));
            s
        } else {
            ProgressBar::hidden()
        };
        Phase { name, started: Instant::now(), spinner }
    }

    /// Ends the phase and returns its duration.
    pub fn finish(self) -> Duration {
        self.spinner.finish_and_clear();
        let took = self.started.elapsed();
        tracing::info!("{} ({:.2} s)", self.name, took.as_secs_f64());
        took
    }
}

/// A bar of counted steps (epochs, candidates) with an ETA, when stderr is a terminal.
#[derive(Debug)]
pub struct Steps {
    bar: ProgressBar,
}

impl Steps {
    /// A bar of `len` steps named `name`.
    pub fn new(len: u64, name: &str) -> Steps {
        let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            let b = ProgressBar::new(len);
            b.set_style(
                ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed} (eta {eta})")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            b.set_message(name.to_owned());
            b
        } else {
            ProgressBar::hidden()
        };
        Steps { bar }
    }

    /// One more step done; `note` replaces the message's detail.
    pub fn step(&self, note: impl Into<String>) {
        self.bar.set_message(note.into());
        self.bar.inc(1);
    }

    /// Removes the bar.
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}
