//! Where the data lives. The only module that knows local disk from S3: it turns what the
//! user typed (a path, a directory, a glob, an `s3://bucket/prefix`) into URLs the engine
//! reads and writes, registers the S3 stores, and owns how a run's output replaces the
//! previous one.
//!
//! Replacing output. A run writes every table under `<output>/_staging/<run_id>/`, then
//! journals the list of partitions it will replace (`COMMIT`), then swaps them in:
//! - on local disk each partition directory is exchanged with its predecessor in one step
//!   (`renameat2(RENAME_EXCHANGE)`): a reader sees the old partition or the new one;
//! - on S3, which has no rename, the staged files are copied into the partition, then
//!   `_SUCCESS` (listing the run's files) is written, then the replaced files are deleted. A
//!   reader that lists a partition during those seconds can see old and new files together;
//!   one that reads the files `_SUCCESS` lists never does.
//!
//! A run killed before its journal is written leaves the previous output untouched; one
//! killed after it is finished by the next run ([`OutputRoot::recover`]), since its staged
//! data was complete. One run at a time holds an output's lock.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::prelude::SessionContext;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, RetryConfig};
use url::Url;

use crate::config::{RunSettings, S3Settings};
use crate::error::{OutputBusy, UserError};

const JOURNAL_FILE: &str = "COMMIT";
const LOCK_FILE: &str = "_lock";
const STAGING_DIR: &str = "_staging";
/// Marks a complete partition; its first line is the id of the run that wrote it.
pub const SUCCESS_FILE: &str = "_SUCCESS";
/// An S3 lock not refreshed for this long belongs to a dead run.
const REMOTE_LOCK_STALE: Duration = Duration::from_secs(300);
const REMOTE_LOCK_HEARTBEAT: Duration = Duration::from_secs(60);

/// Registers a store for every S3 bucket the run reads or writes.
pub fn register_stores(ctx: &SessionContext, settings: &RunSettings) -> Result<()> {
    for location in [&settings.input, &settings.output] {
        register_store(ctx, location, &settings.s3)?;
    }
    Ok(())
}

/// Registers the store of one location, when it is on S3 (a local path needs none).
pub fn register_store(ctx: &SessionContext, location: &str, s3: &S3Settings) -> Result<()> {
    if let Some(url) = remote_url(location)? {
        let store = s3_store(&url, s3)?;
        let bucket_url = Url::parse(&format!("s3://{}", url.host_str().unwrap_or_default()))?;
        ctx.register_object_store(&bucket_url, store);
    }
    Ok(())
}

/// Whether `location` is on storage other machines can reach (S3), not a local path.
pub fn is_shared(location: &str) -> Result<bool, UserError> {
    Ok(remote_url(location)?.is_some())
}

/// `Some(url)` for an `s3://` (or `s3a://`) location, `None` for a local path.
fn remote_url(location: &str) -> Result<Option<Url>, UserError> {
    if !location.contains("://") {
        return Ok(None);
    }
    let url =
        Url::parse(location).map_err(|e| UserError::input(location, format!("not a URL: {e}")))?;
    match url.scheme() {
        "s3" | "s3a" if url.host_str().is_some_and(|h| !h.is_empty()) => {
            let normalized = location.replacen("s3a://", "s3://", 1);
            Ok(Some(Url::parse(&normalized).expect("parsed above")))
        }
        "s3" | "s3a" => Err(UserError::input(
            location,
            "an S3 URL needs a bucket: s3://bucket/prefix",
        )),
        "file" => Ok(None),
        other => Err(UserError::input(
            location,
            format!(
                "the {other}:// scheme is not supported; use a local path or s3://bucket/prefix"
            ),
        )),
    }
}

fn s3_store(url: &Url, s3: &S3Settings) -> Result<Arc<dyn ObjectStore>> {
    let bucket = url.host_str().unwrap_or_default();
    // AWS_* variables first (credentials, AWS_ENDPOINT_URL, AWS_REGION, AWS_ALLOW_HTTP), then
    // what the config file says
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(endpoint) = &s3.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(region) = &s3.region {
        builder = builder.with_region(region);
    }
    if let Some(allow_http) = s3.allow_http {
        builder = builder.with_allow_http(allow_http);
    }
    let retry = RetryConfig {
        max_retries: s3.max_retries,
        retry_timeout: s3.retry_timeout,
        ..RetryConfig::default()
    };
    let store = builder
        .with_retry(retry)
        .build()
        .with_context(|| format!("cannot set up S3 access to bucket {bucket}"))?;
    Ok(Arc::new(store))
}

/// The input as the engine will list it.
#[derive(Debug, Clone)]
pub struct InputLocation {
    /// The file, or the directory or prefix listed (recursively).
    pub url: ListingTableUrl,
    /// For a glob input: the pattern that files under `url` must match, as paths relative
    /// to it (`dt=*/part-*.parquet`).
    pub glob: Option<glob::Pattern>,
    /// What the user typed, for messages.
    pub display: String,
}

impl InputLocation {
    /// Whether a listed file belongs to the input.
    pub fn matches(&self, file: &ObjectPath) -> bool {
        let Some(glob) = &self.glob else {
            return true;
        };
        let Some(parts) = self.url.strip_prefix(file) else {
            return false;
        };
        glob.matches(&parts.collect::<Vec<_>>().join("/"))
    }
}

/// Resolves `--input`: a Parquet file, a directory or prefix (read recursively, Hive `dt=`
/// folders included) or a glob such as `events/dt=*/part-*.parquet`. Globs are matched
/// here, on the path below the last folder without a wildcard, as the engine's own glob
/// support skips `dt=` folders when it matches.
pub fn input_location(input: &str) -> Result<InputLocation, UserError> {
    let not_usable = |e: datafusion::error::DataFusionError| {
        UserError::input(input, format!("not a usable input path: {e}"))
    };
    let (text, is_remote) = match remote_url(input)? {
        Some(url) => (url.as_str().to_string(), true),
        None => (
            absolute(Path::new(input))?.to_string_lossy().into_owned(),
            false,
        ),
    };
    if let Some(glob_at) = text.find(['*', '?', '[']) {
        let base_end = text[..glob_at].rfind('/').map_or(0, |i| i + 1);
        let pattern = glob::Pattern::new(&text[base_end..])
            .map_err(|e| UserError::input(input, format!("not a valid glob: {e}")))?;
        return Ok(InputLocation {
            url: ListingTableUrl::parse(&text[..base_end]).map_err(not_usable)?,
            glob: Some(pattern),
            display: input.to_string(),
        });
    }
    let url = if is_remote {
        // a prefix unless it names a file
        if text.ends_with(".parquet") || text.ends_with('/') {
            ListingTableUrl::parse(&text).map_err(not_usable)?
        } else {
            ListingTableUrl::parse(format!("{text}/")).map_err(not_usable)?
        }
    } else {
        let metadata = std::fs::metadata(&text)
            .map_err(|e| UserError::input(input, format!("cannot read the input path: {e}")))?;
        let mut text = text;
        if metadata.is_dir() && !text.ends_with('/') {
            // a trailing slash makes the engine list the directory rather than read a file
            text.push('/');
        }
        ListingTableUrl::parse(text).map_err(not_usable)?
    };
    Ok(InputLocation {
        url,
        glob: None,
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
    /// What the user typed, for messages.
    display: String,
    /// `file:///abs/out/` or `s3://bucket/prefix/`.
    base: Url,
    store: Arc<dyn ObjectStore>,
    /// The root inside the store.
    prefix: ObjectPath,
    /// The directory, when the output is on local disk.
    local: Option<PathBuf>,
}

impl OutputRoot {
    /// The output named by `--output`; its store must be registered in `ctx`.
    pub fn new(output: &str, ctx: &SessionContext) -> Result<Self> {
        let (base, local) = match remote_url(output)? {
            Some(mut url) => {
                if !url.path().ends_with('/') {
                    url.set_path(&format!("{}/", url.path()));
                }
                (url, None)
            }
            None => {
                let root = absolute(Path::new(output))?;
                if root.exists() && !root.is_dir() {
                    return Err(UserError::input(
                        output,
                        "the output path exists and is not a directory",
                    )
                    .into());
                }
                std::fs::create_dir_all(&root).with_context(|| {
                    format!("cannot create the output directory {}", root.display())
                })?;
                let url = Url::from_directory_path(&root)
                    .map_err(|()| UserError::input(output, "not an absolute path"))?;
                (url, Some(root))
            }
        };
        let table_url = ListingTableUrl::parse(base.as_str())?;
        let store = ctx.runtime_env().object_store(&table_url)?;
        Ok(OutputRoot {
            display: output.to_string(),
            prefix: table_url.prefix().clone(),
            base,
            store,
            local,
        })
    }

    /// An output to read: unlike [`OutputRoot::new`], a local directory must already exist.
    pub fn open(output: &str, ctx: &SessionContext) -> Result<Self> {
        if remote_url(output)?.is_none() && !Path::new(output).is_dir() {
            return Err(UserError::input(output, "no output directory there").into());
        }
        Self::new(output, ctx)
    }

    /// The table folders of the output, sorted: every folder whose name does not start
    /// with `_` (`_runs`, `_staging`) or `.`.
    pub async fn tables(&self) -> Result<Vec<String>> {
        let mut tables = self.folders("").await?;
        tables.retain(|name| !name.starts_with('_') && !name.starts_with('.'));
        tables.sort();
        Ok(tables)
    }

    /// The names of the folders right under `relative` ("": the output's own; none when it
    /// is not there). On local disk a folder counts though it holds no file; on S3 a folder
    /// is a prefix of some object's name, so one without files is not there at all.
    async fn folders(&self, relative: &str) -> Result<Vec<String>> {
        let listed = self
            .store
            .list_with_delimiter(Some(&self.path(relative)))
            .await
            .with_context(|| match relative {
                "" => format!("cannot list the output {}", self.display),
                _ => format!("cannot list {}/{relative}", self.display),
            })?;
        Ok(listed
            .common_prefixes
            .iter()
            .filter_map(|folder| folder.filename().map(str::to_string))
            .collect())
    }

    fn path(&self, relative: &str) -> ObjectPath {
        relative
            .split('/')
            .filter(|part| !part.is_empty())
            .fold(self.prefix.clone(), |path, part| path.join(part))
    }

    /// The URL of a folder under the output, for the engine to write or read.
    pub fn url_of(&self, relative: &str) -> Result<ListingTableUrl> {
        let url = self
            .base
            .join(&format!("{}/", relative.trim_matches('/')))?;
        Ok(ListingTableUrl::parse(url.as_str())?)
    }

    pub fn staging(&self, run_id: &str) -> String {
        format!("{STAGING_DIR}/{run_id}")
    }

    /// Writes a small file under the output, whole or not at all.
    pub async fn put(&self, relative: &str, bytes: Vec<u8>) -> Result<()> {
        self.store
            .put(&self.path(relative), bytes.into())
            .await
            .with_context(|| format!("cannot write {} under {}", relative, self.display))?;
        Ok(())
    }

    /// The output as the user named it, for messages.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// How many Parquet files a folder of the output holds, at any depth.
    pub async fn parquet_files(&self, relative: &str) -> Result<usize> {
        let listed: Vec<_> = self
            .store
            .list(Some(&self.path(relative)))
            .try_collect()
            .await
            .with_context(|| format!("cannot list {relative} under {}", self.display))?;
        Ok(listed
            .iter()
            .filter(|o| {
                o.location
                    .filename()
                    .is_some_and(|f| f.ends_with(".parquet"))
            })
            .count())
    }

    /// The `dt=` folders under a folder of the output, sorted, and how many files they hold.
    pub async fn partitions(&self, relative: &str) -> Result<(Vec<String>, usize)> {
        let prefix = self.path(relative);
        let listed: Vec<_> = self
            .store
            .list(Some(&prefix))
            .try_collect()
            .await
            .with_context(|| format!("cannot list {relative} under {}", self.display))?;
        let mut partitions = std::collections::BTreeSet::new();
        let mut files = 0;
        for object in listed {
            let Some(mut parts) = object.location.prefix_match(&prefix) else {
                continue;
            };
            if let Some(first) = parts.next().filter(|p| p.as_ref().starts_with("dt=")) {
                partitions.insert(first.as_ref().to_string());
                files += 1;
            }
        }
        Ok((partitions.into_iter().collect(), files))
    }

    /// Takes the output's lock: one run at a time per output.
    pub async fn lock(&self, wait: Duration) -> Result<OutputLock> {
        let started = Instant::now();
        loop {
            let attempt = match &self.local {
                Some(root) => local_lock(root)?,
                None => self.remote_lock().await?,
            };
            match attempt {
                Ok(lock) => return Ok(lock),
                Err(holder) if started.elapsed() >= wait => {
                    let lock = match &self.local {
                        Some(root) => root.join(LOCK_FILE).display().to_string(),
                        None => format!("{}/{LOCK_FILE}", self.display.trim_end_matches('/')),
                    };
                    return Err(OutputBusy { lock, holder }.into());
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// On S3 a lock is an object created only if absent; its holder rewrites it every minute,
    /// and one left alone for five minutes belongs to a dead run and is taken over.
    async fn remote_lock(&self) -> Result<Result<OutputLock, String>> {
        let path = self.path(LOCK_FILE);
        let create = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        let body = holder_text();
        match self
            .store
            .put_opts(&path, body.clone().into_bytes().into(), create.clone())
            .await
        {
            Ok(_) => {}
            Err(object_store::Error::AlreadyExists { .. }) => {
                let existing = self.store.get(&path).await;
                let (holder, age) = match existing {
                    Ok(result) => {
                        let modified = result.meta.last_modified;
                        let text = result
                            .bytes()
                            .await
                            .map(|b| String::from_utf8_lossy(&b).into_owned());
                        (text.unwrap_or_default(), chrono::Utc::now() - modified)
                    }
                    Err(_) => (String::new(), chrono::TimeDelta::zero()),
                };
                if age.to_std().unwrap_or_default() < REMOTE_LOCK_STALE {
                    return Ok(Err(holder.trim().to_string()));
                }
                // a dead run's lock: take it over
                self.store.delete(&path).await.ok();
                if self
                    .store
                    .put_opts(&path, body.clone().into_bytes().into(), create)
                    .await
                    .is_err()
                {
                    return Ok(Err(holder.trim().to_string()));
                }
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot take the lock {}/{LOCK_FILE}", self.display));
            }
        }
        let store = self.store.clone();
        let heartbeat = tokio::spawn(async move {
            loop {
                tokio::time::sleep(REMOTE_LOCK_HEARTBEAT).await;
                let _ = store.put(&path, body.clone().into_bytes().into()).await;
            }
        });
        Ok(Ok(OutputLock {
            _file: None,
            heartbeat: Some(heartbeat),
            remote: Some((self.store.clone(), self.path(LOCK_FILE))),
        }))
    }

    /// Journals a commit and carries it out.
    pub async fn commit(&self, run_id: &str, swaps: &[String]) -> Result<()> {
        let journal = format!("{}/{JOURNAL_FILE}", self.staging(run_id));
        self.put(&journal, swaps.join("\n").into_bytes()).await?;
        self.finish_commit(run_id, swaps).await
    }

    /// Swaps each journaled partition into place unless it is there already (its
    /// `_SUCCESS` names this run), then removes the run's staging.
    async fn finish_commit(&self, run_id: &str, swaps: &[String]) -> Result<()> {
        let staging = self.staging(run_id);
        let crash_after = failpoint("commit");
        for (done, swap) in swaps.iter().enumerate() {
            if crash_after == Some(done) {
                // a test stands in for `kill -9` half-way through a commit
                std::process::abort();
            }
            let staged = format!("{staging}/{swap}");
            match &self.local {
                Some(root) => {
                    let staged = root.join(&staged);
                    let written_here = std::fs::read_to_string(staged.join(SUCCESS_FILE))
                        .is_ok_and(|holder| holder.lines().next() == Some(run_id));
                    if written_here {
                        swap_dir(&staged, &root.join(swap))?;
                    }
                }
                None => self.replace_remote_partition(run_id, &staged, swap).await?,
            }
        }
        match &self.local {
            Some(root) => {
                let dir = root.join(&staging);
                std::fs::remove_dir_all(&dir)
                    .with_context(|| format!("cannot remove {}", dir.display()))?;
                // the parent goes too when nothing else is staged, so readers see a clean output
                let _ = std::fs::remove_dir(root.join(STAGING_DIR));
            }
            None => self.delete_prefix(&staging).await?,
        }
        Ok(())
    }

    /// S3: copy the staged files in, write `_SUCCESS` naming them, delete the files they
    /// replace. Safe to repeat after a crash: the copies overwrite, the deletes skip.
    async fn replace_remote_partition(
        &self,
        run_id: &str,
        staged: &str,
        target: &str,
    ) -> Result<()> {
        let staged_prefix = self.path(staged);
        let staged_files: Vec<ObjectPath> = self
            .store
            .list(Some(&staged_prefix))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await?;
        let data_files: Vec<&ObjectPath> = staged_files
            .iter()
            .filter(|p| p.filename().is_some_and(|f| f.ends_with(".parquet")))
            .collect();
        if data_files.is_empty() {
            // copied already by a run that was then killed: nothing left to copy
            return Ok(());
        }
        let target_prefix = self.path(target);
        let mut names = Vec::new();
        for file in &data_files {
            let name = file.filename().unwrap_or_default().to_string();
            self.store
                .copy(file, &target_prefix.clone().join(name.as_str()))
                .await
                .with_context(|| format!("cannot copy {file} into {target_prefix}"))?;
            names.push(name);
        }
        let manifest = format!("{run_id}\n{}\n", names.join("\n"));
        self.store
            .put(
                &target_prefix.clone().join(SUCCESS_FILE),
                manifest.into_bytes().into(),
            )
            .await
            .with_context(|| format!("cannot write {target_prefix}/{SUCCESS_FILE}"))?;
        let existing: Vec<ObjectPath> = self
            .store
            .list(Some(&target_prefix))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await?;
        for old in existing {
            let name = old.filename().unwrap_or_default();
            if name != SUCCESS_FILE && !names.iter().any(|n| n == name) {
                self.store
                    .delete(&old)
                    .await
                    .with_context(|| format!("cannot delete {old}"))?;
            }
        }
        for file in staged_files {
            self.store.delete(&file).await.ok();
        }
        Ok(())
    }

    async fn delete_prefix(&self, relative: &str) -> Result<()> {
        let files: Vec<ObjectPath> = self
            .store
            .list(Some(&self.path(relative)))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await?;
        for file in files {
            self.store
                .delete(&file)
                .await
                .with_context(|| format!("cannot delete {file}"))?;
        }
        Ok(())
    }

    /// Cleans up after runs that were killed: a run that had journaled its commit is
    /// finished (its data was complete), any other leftover staging is removed. Returns
    /// what was done, for the run report. Call it holding the lock.
    pub async fn recover(&self) -> Result<Vec<String>> {
        // the run folders, not a listing of files: a run killed before it wrote a file
        // leaves only folders, which would keep `_staging` in the output for good
        let runs = self.folders(STAGING_DIR).await?;
        let mut done = Vec::new();
        for run_id in runs {
            let journal = self.path(&format!("{}/{JOURNAL_FILE}", self.staging(&run_id)));
            match self.store.get(&journal).await {
                Ok(result) => {
                    let text = String::from_utf8_lossy(&result.bytes().await?).into_owned();
                    let swaps: Vec<String> = text.lines().map(String::from).collect();
                    self.finish_commit(&run_id, &swaps).await?;
                    done.push(format!("finished the commit of interrupted run {run_id}"));
                }
                Err(object_store::Error::NotFound { .. }) => {
                    match &self.local {
                        Some(root) => {
                            let dir = root.join(self.staging(&run_id));
                            std::fs::remove_dir_all(&dir)
                                .with_context(|| format!("cannot remove {}", dir.display()))?;
                        }
                        None => self.delete_prefix(&self.staging(&run_id)).await?,
                    }
                    done.push(format!("removed the staging of interrupted run {run_id}"));
                }
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(root) = &self.local {
            let _ = std::fs::remove_dir(root.join(STAGING_DIR));
        }
        Ok(done)
    }
}

fn holder_text() -> String {
    format!(
        "pid {} on {} since {}",
        std::process::id(),
        std::fs::read_to_string("/etc/hostname")
            .unwrap_or_default()
            .trim(),
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

/// `SESSIONIZE_FAILPOINT=commit:N` makes a run abort after N partitions of its commit: the
/// tests use it to kill a run at the one moment a timed kill rarely hits.
fn failpoint(name: &str) -> Option<usize> {
    let spec = std::env::var("SESSIONIZE_FAILPOINT").ok()?;
    let (point, count) = spec.split_once(':')?;
    (point == name).then(|| count.parse().ok()).flatten()
}

/// Held for the whole run; dropping it releases the lock (so does the process dying, on
/// local disk; on S3 the lock then goes stale).
pub struct OutputLock {
    _file: Option<std::fs::File>,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
    remote: Option<(Arc<dyn ObjectStore>, ObjectPath)>,
}

impl OutputLock {
    /// Gives the lock back; on S3 the lock object is deleted.
    pub async fn release(mut self) {
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.abort();
        }
        if let Some((store, path)) = self.remote.take() {
            let _ = store.delete(&path).await;
        }
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.abort();
        }
    }
}

/// On local disk the lock is an advisory `flock` on `<output>/_lock`, released by the kernel
/// when the holder dies, so a lock left by a killed run is simply taken over. The file says
/// who holds it.
fn local_lock(root: &Path) -> Result<Result<OutputLock, String>> {
    let path = root.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is open for the duration of the call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            return Ok(Err(holder.trim().to_string()));
        }
        return Err(error).context("cannot lock the output");
    }
    file.set_len(0)?;
    writeln!(file, "{}", holder_text())?;
    Ok(Ok(OutputLock {
        _file: Some(file),
        heartbeat: None,
        remote: None,
    }))
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

/// S3 on a Ballista cluster (`--features distributed`). The scheduler (which lists the files
/// it plans over) and the executors (which read and write them) build their own stores: the
/// run's S3 settings travel to them in the session config, as `s3.endpoint`, `s3.region`,
/// `s3.allow_http`, `s3.max_retries` and `s3.retry_timeout`. Credentials never do: each
/// machine takes its own from its AWS_* variables or its instance role, so no secret crosses
/// the network or lands in Ballista's logs.
#[cfg(feature = "distributed")]
pub mod cluster {
    use std::any::Any;
    use std::sync::Arc;

    use datafusion::common::config_err;
    use datafusion::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
    use datafusion::error::{DataFusionError, Result};
    use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
    use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
    use datafusion::prelude::SessionConfig;
    use object_store::ObjectStore;
    use std::collections::HashMap;
    use std::sync::Mutex;
    use url::Url;

    use crate::config::S3Settings;

    /// The `s3.*` keys of a session config.
    #[derive(Debug, Clone, Default)]
    pub struct S3Options {
        endpoint: Option<String>,
        region: Option<String>,
        allow_http: Option<bool>,
        max_retries: Option<usize>,
        retry_timeout: Option<String>,
    }

    impl S3Options {
        /// What a run sends its cluster: its `[s3]` settings (the AWS_* variables are each
        /// machine's own).
        pub fn from_settings(s3: &S3Settings) -> Self {
            S3Options {
                endpoint: s3.endpoint.clone(),
                region: s3.region.clone(),
                allow_http: s3.allow_http,
                max_retries: Some(s3.max_retries),
                retry_timeout: Some(humantime::format_duration(s3.retry_timeout).to_string()),
            }
        }

        /// The settings, with the defaults a run's `[s3]` has (`config::s3_settings`).
        fn settings(&self) -> Result<S3Settings> {
            let section = crate::config::S3Section {
                endpoint: self.endpoint.clone(),
                region: self.region.clone(),
                allow_http: self.allow_http,
                max_retries: self.max_retries,
                retry_timeout: self.retry_timeout.clone(),
            };
            crate::config::s3_settings(&section)
                .map_err(|(key, m)| DataFusionError::Configuration(format!("{key}: {m}")))
        }
    }

    impl ConfigExtension for S3Options {
        const PREFIX: &'static str = "s3";
    }

    impl ExtensionOptions for S3Options {
        fn as_any(&self) -> &dyn Any {
            self
        }

        fn as_any_mut(&mut self) -> &mut dyn Any {
            self
        }

        fn cloned(&self) -> Box<dyn ExtensionOptions> {
            Box::new(self.clone())
        }

        fn set(&mut self, key: &str, value: &str) -> Result<()> {
            let bad = |what: &str| {
                DataFusionError::Configuration(format!("s3.{key}: {value:?} is not {what}"))
            };
            match key {
                "endpoint" => self.endpoint = Some(value.to_string()),
                "region" => self.region = Some(value.to_string()),
                "allow_http" => {
                    self.allow_http = Some(value.parse().map_err(|_| bad("true or false"))?)
                }
                "max_retries" => {
                    self.max_retries = Some(value.parse().map_err(|_| bad("a number"))?)
                }
                "retry_timeout" => self.retry_timeout = Some(value.to_string()),
                _ => return config_err!("s3.{key} is not a setting sessionize knows"),
            }
            Ok(())
        }

        // full keys (`s3.endpoint`): Ballista sends a session config as these pairs
        fn entries(&self) -> Vec<ConfigEntry> {
            let entry = |key: &str, value: Option<String>, description| ConfigEntry {
                key: format!("{}.{key}", Self::PREFIX),
                value,
                description,
            };
            vec![
                entry("endpoint", self.endpoint.clone(), "S3 endpoint URL"),
                entry("region", self.region.clone(), "S3 region"),
                entry(
                    "allow_http",
                    self.allow_http.map(|v| v.to_string()),
                    "S3 over plain HTTP",
                ),
                entry(
                    "max_retries",
                    self.max_retries.map(|v| v.to_string()),
                    "S3 retries",
                ),
                entry(
                    "retry_timeout",
                    self.retry_timeout.clone(),
                    "S3 retry timeout",
                ),
            ]
        }
    }

    /// The runtime of a scheduler's or an executor's session: S3 stores built, per bucket,
    /// from the session's `s3.*` settings, as a run builds its own; spills under
    /// `spill_dir`, else the system's temporary directory.
    pub fn runtime(config: &SessionConfig, spill_dir: Option<&str>) -> Result<Arc<RuntimeEnv>> {
        let options = config
            .options()
            .extensions
            .get::<S3Options>()
            .cloned()
            .unwrap_or_default();
        let registry = BucketStores {
            settings: options.settings()?,
            buckets: Mutex::default(),
            others: DefaultObjectStoreRegistry::new(),
        };
        let mut builder = RuntimeEnvBuilder::new().with_object_store_registry(Arc::new(registry));
        if let Some(dir) = spill_dir {
            builder = builder.with_temp_file_path(dir);
        }
        Ok(Arc::new(builder.build()?))
    }

    /// Local files as usual; an S3 bucket's store built the first time it is asked for.
    #[derive(Debug)]
    struct BucketStores {
        settings: S3Settings,
        buckets: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
        others: DefaultObjectStoreRegistry,
    }

    impl ObjectStoreRegistry for BucketStores {
        fn register_store(
            &self,
            url: &Url,
            store: Arc<dyn ObjectStore>,
        ) -> Option<Arc<dyn ObjectStore>> {
            self.others.register_store(url, store)
        }

        fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
            if !matches!(url.scheme(), "s3" | "s3a") {
                return self.others.get_store(url);
            }
            let bucket = url.host_str().unwrap_or_default().to_string();
            let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(store) = buckets.get(&bucket) {
                return Ok(store.clone());
            }
            let store = super::s3_store(url, &self.settings)
                .map_err(|e| DataFusionError::External(e.into()))?;
            buckets.insert(bucket, store.clone());
            Ok(store)
        }
    }
}
