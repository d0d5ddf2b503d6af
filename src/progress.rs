//! The progress line of a long run, on stderr when stderr is a terminal: the stage, the
//! input files and rows read, and the time since the start. Nothing of it is drawn when
//! stderr is a file or a pipe (cron, CI, a log shipper), nor with `-q` or JSON logs.
//!
//! The pipeline reports with plain calls ([`stage`], [`input`]); they draw nothing until
//! [`enable`] was called. Steps can run side by side, so the line names every stage under
//! way, not the last one started: a stage lasts as long as the guard [`stage`] returns.

use std::io::IsTerminal;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

static BAR: OnceLock<ProgressBar> = OnceLock::new();
/// What is known about the input, kept to be shown beside the stages.
static INPUT: Mutex<String> = Mutex::new(String::new());
static RUNNING: Mutex<Running> = Mutex::new(Running::new());

/// The stages under way, in the order they began.
struct Running {
    next_id: u64,
    stages: Vec<(u64, String)>,
}

impl Running {
    const fn new() -> Self {
        Running {
            next_id: 0,
            stages: Vec::new(),
        }
    }

    fn begin(&mut self, name: &str) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.stages.push((id, name.to_string()));
        id
    }

    fn end(&mut self, id: u64) {
        self.stages.retain(|(stage, _)| *stage != id);
    }

    /// The line's text; `None` between stages, when the last text stays up.
    fn message(&self, input: &str) -> Option<String> {
        if self.stages.is_empty() {
            return None;
        }
        // the rest would not fit on most terminals' line (`wide_msg` cuts what still does
        // not, as a wrapped line is drawn again below itself)
        const SHOWN: usize = 3;
        let names: Vec<&str> = self
            .stages
            .iter()
            .take(SHOWN)
            .map(|(_, name)| name.as_str())
            .collect();
        let more = match self.stages.len().saturating_sub(SHOWN) {
            0 => String::new(),
            more => format!(" and {more} more"),
        };
        Some(format!("{}{more}{input}", names.join(", ")))
    }
}

/// A stage under way; it ends when this is dropped.
#[must_use = "the stage ends when this guard is dropped"]
pub struct Stage {
    id: u64,
}

impl Drop for Stage {
    fn drop(&mut self) {
        let mut running = running();
        running.end(self.id);
        redraw(&running);
    }
}

/// The stages under way (a panic elsewhere while they were locked leaves them usable: the
/// line is only a display).
fn running() -> std::sync::MutexGuard<'static, Running> {
    RUNNING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn redraw(running: &Running) {
    if let Some(bar) = BAR.get() {
        let input = INPUT.lock().map(|i| i.clone()).unwrap_or_default();
        if let Some(message) = running.message(&input) {
            bar.set_message(message);
        }
    }
}

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
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_msg}")
            .expect("a valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let _ = BAR.set(bar);
}

/// A stage of the run begins (`reading input`, `writing sessions`, …); it lasts until the
/// returned guard is dropped.
pub fn stage(name: &str) -> Stage {
    let mut running = running();
    let id = running.begin(name);
    redraw(&running);
    Stage { id }
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

#[cfg(test)]
mod tests {
    use super::Running;

    #[test]
    fn names_every_stage_under_way_and_keeps_the_last_text_between_stages() {
        let mut running = Running::new();
        assert_eq!(running.message(" (2 files)"), None);
        let sessions = running.begin("computing sessions");
        let users = running.begin("writing users");
        let again = running.begin("writing users");
        assert_eq!(
            running.message(" (2 files)").as_deref(),
            Some("computing sessions, writing users, writing users (2 files)")
        );
        let days = running.begin("writing metrics_daily");
        let pages = running.begin("writing metrics_by_exit_page");
        assert_eq!(
            running.message("").as_deref(),
            Some("computing sessions, writing users, writing users and 2 more")
        );
        running.end(days);
        running.end(pages);
        running.end(sessions);
        running.end(again);
        assert_eq!(
            running.message("").as_deref(),
            Some("writing users"),
            "a stage's end takes out that stage alone, even beside one of the same name"
        );
        running.end(users);
        assert_eq!(running.message(""), None);
    }
}
