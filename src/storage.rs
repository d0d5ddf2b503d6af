//! Where the data lives. The only module that knows local disk from any other store: it
//! turns what the user typed (a path, a directory, a glob) into table URLs the engine reads,
//! and it owns the file-system steps of replacing output partitions.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use datafusion::datasource::listing::ListingTableUrl;

use crate::error::UserError;

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
        self.root.join("_staging").join(run_id)
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
