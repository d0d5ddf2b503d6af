//! The progress line of a long run, on stderr when stderr is a terminal: the stage, the
//! input files and rows read, and the time since the start. Nothing of it is drawn when
//! stderr is a file or a pipe (cron, CI, a log shipper), nor with `-q` or JSON logs.
//!
//! The pipeline reports with plain calls ([`stage`], [`input`]); they do nothing until
//! [`enable`] was called.

use std::io::IsTerminal;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

static BAR: OnceLock<ProgressBar> = OnceLock::new();
/// What is known about the input, kept to be shown beside each stage.
static INPUT: Mutex<String> = Mutex::new(String::new());

pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// Shows the progress line from now on, if stderr is a terminal.
pub fn enable() {
    if !stderr_is_terminal() {
        return;
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] stage {pos}: {msg}")
            .expect("a valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let _ = BAR.set(bar);
}

/// A new stage of the run begins (`reading input`, `writing sessions`, …).
pub fn stage(name: &str) {
    if let Some(bar) = BAR.get() {
        bar.inc(1);
        let input = INPUT.lock().map(|i| i.clone()).unwrap_or_default();
        bar.set_message(format!("{name}{input}"));
    }
}

/// The input has been listed: how many files and rows it holds.
pub fn input(files: usize, rows: u64) {
    if let Ok(mut input) = INPUT.lock() {
        *input = format!(" ({files} files, {rows} rows read)");
    }
}

/// Removes the progress line, before the summary is printed.
pub fn finish() {
    if let Some(bar) = BAR.get() {
        bar.finish_and_clear();
    }
}

/// Runs `write` with the progress line taken off the screen, so what it prints is not
/// drawn over.
pub fn suspend<R>(write: impl FnOnce() -> R) -> R {
    match BAR.get() {
        Some(bar) if !bar.is_finished() => bar.suspend(write),
        _ => write(),
    }
}
