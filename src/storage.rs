//! Where the data lives. The only module that knows local disk from any other store: it
//! turns what the user typed (a path, a directory, a glob) into table URLs the engine reads,
//! and it owns the file-system steps of replacing output partitions.

use std::path::{Path, PathBuf};

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use datafusion::datasource::listing::ListingTableUrl;

use crate::error::{OutputBusy, UserError};

/// The list of partitions a run is swapping in, written before the first swap.
const JOURNAL_FILE: &str = "COMMIT";
const LOCK_FILE: &str = "_lock";
const STAGING_DIR: &str = "_staging";
const SUCCESS_FILE: &str = "_SUCCESS";

/// The input as the engine will list it.
#[derive(Debug, Clone)]
pub struct InputLocation {
    pub url: ListingTableUrl,
    /// What the user typed, for messages.
    pub display: String,
}

/// Resolves `--input`: a Parquet file, a directory (read recursively, Hive `dt=` folders
/// included) or a glob such as `events/*/part-*.parquet`.
pub fn input_location(input: &str) -> Result<InputLocation, UserError> {
    let has_glob = input.contains(['*', '?', '[']);
    let url = if has_glob {
        let absolute = absolute(Path::new(input))?;
        ListingTableUrl::parse(absolute.to_string_lossy())
    } else {
        let path = Path::new(input);
        let metadata = std::fs::metadata(path)
            .map_err(|e| UserError::input(input, format!("cannot read the input path: {e}")))?;
        let absolute = absolute(path)?;
        let mut text = absolute.to_string_lossy().into_owned();
        if metadata.is_dir() && !text.ends_with('/') {
            // a trailing slash makes the engine list the directory rather than read one file
            text.push('/');
        }
        ListingTableUrl::parse(text)
    }
    .map_err(|e| UserError::input(input, format!("not a usable input path: {e}")))?;
    Ok(InputLocation {
        url,
        display: input.to_string(),
    })
}

fn absolute(path: &Path) -> Result<PathBuf, UserError> {
    std::path::absolute(path).map_err(|e| {
        UserError::input(
            path.display().to_string(),
            format!("cannot resolve the path: {e}"),
        )
    })
}

/// The root of the output: tables live in `<root>/<table>/dt=YYYY-MM-DD/`.
#[derive(Debug, Clone)]
pub struct OutputRoot {
    root: PathBuf,
}

impl OutputRoot {
    pub fn new(output: &str) -> Result<Self, UserError> {
        let root = absolute(Path::new(output))?;
        if root.exists() && !root.is_dir() {
            return Err(UserError::input(
                output,
                "the output path exists and is not a directory",
            ));
        }
        Ok(OutputRoot { root })
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    /// A directory on the same file system as the output, so a finished partition moves into
    /// place with a rename.
    pub fn staging_dir(&self, run_id: &str) -> PathBuf {
        self.root.join(STAGING_DIR).join(run_id)
    }

    /// Takes the output's lock: one run at a time per output. The lock is an advisory
    /// `flock` on `<output>/_lock`, released by the kernel when the holder dies, so a lock
    /// left by a killed run is simply taken over. The file says who holds it.
    pub fn lock(&self, wait: Duration) -> Result<OutputLock> {
        std::fs::create_dir_all(&self.root)
            .with_context(|| format!("cannot create the output directory {}", self.root.display()))?;
        let path = self.root.join(LOCK_FILE);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        let started = Instant::now();
        loop {
            if try_flock(&file)? {
                file.set_len(0)?;
                writeln!(
                    file,
                    "pid {} since {}",
                    std::process::id(),
                    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                )?;
                return Ok(OutputLock { _file: file });
            }
            if started.elapsed() >= wait {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                return Err(OutputBusy {
                    lock: path.display().to_string(),
                    holder: holder.trim().to_string(),
                }
                .into());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Writes the list of partitions a commit is about to swap in.
    pub fn journal_commit(&self, run_id: &str, swaps: &[String]) -> Result<()> {
        let dir = self.staging_dir(run_id);
        let temporary = dir.join(format!("{JOURNAL_FILE}.tmp"));
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(swaps.join("\n").as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, dir.join(JOURNAL_FILE))?;
        Ok(())
    }

    /// Swaps each journaled partition into place unless it is there already (its
    /// `_SUCCESS` names this run), then removes the run's staging directory.
    pub fn finish_commit(&self, run_id: &str, swaps: &[String]) -> Result<()> {
        let dir = self.staging_dir(run_id);
        let crash_after = failpoint("commit");
        for (done, swap) in swaps.iter().enumerate() {
            if crash_after == Some(done) {
                // a test stands in for `kill -9` half-way through a commit
                std::process::abort();
            }
            let staged = dir.join(swap);
            let written_here = std::fs::read_to_string(staged.join(SUCCESS_FILE))
                .is_ok_and(|holder| holder == run_id);
            if written_here {
                swap_dir(&staged, &self.root.join(swap))?;
            }
        }
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
        // the parent goes too when nothing else is staged, so readers see a clean output
        let _ = std::fs::remove_dir(self.root.join(STAGING_DIR));
        Ok(())
    }

    /// Cleans up after runs that were killed: a run that had journaled its commit is
    /// finished (its data was complete), any other leftover staging is removed. Returns
    /// what was done, for the run report. Call it holding the lock.
    pub fn recover(&self) -> Result<Vec<String>> {
        let staging = self.root.join(STAGING_DIR);
        let mut done = Vec::new();
        let Ok(entries) = std::fs::read_dir(&staging) else {
            return Ok(done);
        };
        for entry in entries {
            let dir = entry?.path();
            let run_id = dir.file_name().unwrap_or_default().to_string_lossy().into_owned();
            match std::fs::read_to_string(dir.join(JOURNAL_FILE)) {
                Ok(journal) => {
                    let swaps: Vec<String> = journal.lines().map(String::from).collect();
                    self.finish_commit(&run_id, &swaps)?;
                    done.push(format!("finished the commit of interrupted run {run_id}"));
                }
                Err(_) => {
                    std::fs::remove_dir_all(&dir)
                        .with_context(|| format!("cannot remove {}", dir.display()))?;
                    done.push(format!("removed the staging of interrupted run {run_id}"));
                }
            }
        }
        Ok(done)
    }

    pub fn table_dir(&self, table: &str) -> PathBuf {
        self.root.join(table)
    }

    /// A URL the engine writes to or reads from, for a directory under the output.
    pub fn url_of(&self, dir: &Path) -> Result<ListingTableUrl> {
        let mut text = dir.to_string_lossy().into_owned();
        if !text.ends_with('/') {
            text.push('/');
        }
        ListingTableUrl::parse(&text).with_context(|| format!("output path {text}"))
    }
}

/// `SESSIONIZE_FAILPOINT=commit:N` makes a run abort after N partitions of its commit: the
/// tests use it to kill a run at the one moment a timed kill rarely hits.
fn failpoint(name: &str) -> Option<usize> {
    let spec = std::env::var("SESSIONIZE_FAILPOINT").ok()?;
    let (point, count) = spec.split_once(':')?;
    (point == name).then(|| count.parse().ok()).flatten()
}

/// Held for the whole run; dropping it (or the process dying) releases the lock.
pub struct OutputLock {
    _file: std::fs::File,
}

fn try_flock(file: &std::fs::File) -> Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is open for the duration of the call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let error = std::io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
        return Ok(false);
    }
    Err(error).context("cannot lock the output")
}

/// Puts `new` where `current` is. When `current` exists the two directories are exchanged in
/// one step (Linux `renameat2(RENAME_EXCHANGE)`), so a reader sees the old partition or the new
/// one, never neither; the old one is then at `new`'s path for the caller to delete.
pub fn swap_dir(new: &Path, current: &Path) -> Result<()> {
    if let Some(parent) = current.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    if !current.exists() {
        return std::fs::rename(new, current)
            .with_context(|| format!("cannot move {} to {}", new.display(), current.display()));
    }
    exchange(new, current)
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let a_c = CString::new(a.as_os_str().as_bytes())?;
    let b_c = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both paths are valid NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a_c.as_ptr(),
            libc::AT_FDCWD,
            b_c.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let error = std::io::Error::last_os_error();
    if matches!(
        error.raw_os_error(),
        Some(libc::EINVAL) | Some(libc::ENOSYS)
    ) {
        // a file system without exchange: fall back to two renames
        return exchange_by_rename(a, b);
    }
    Err(error).with_context(|| format!("cannot exchange {} and {}", a.display(), b.display()))
}

#[cfg(not(target_os = "linux"))]
fn exchange(a: &Path, b: &Path) -> Result<()> {
    exchange_by_rename(a, b)
}

fn exchange_by_rename(a: &Path, b: &Path) -> Result<()> {
    let aside = a.with_extension("previous");
    std::fs::rename(b, &aside).with_context(|| format!("cannot move {} aside", b.display()))?;
    std::fs::rename(a, b).with_context(|| format!("cannot move {} into place", a.display()))?;
    std::fs::rename(&aside, a).with_context(|| format!("cannot move {} back", aside.display()))?;
    Ok(())
}
