//! The DataFusion session every run uses: our defaults, then any `DATAFUSION_*` environment
//! variable on top (`DATAFUSION_EXECUTION_TARGET_PARTITIONS=4`, …), as datafusion-cli does,
//! and our functions the engine does not have (`session_place`, `url_host`,
//! `url_parameter`). Also the resources every session of the process shares: the memory
//! limit, where spills and scratch files go, and what was spilled. And where a run's job
//! runs: in this process, or on a Ballista cluster (`cluster.rs`, `--features distributed`).

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result};
use datafusion::config::{ConfigNonZeroUsize, ConfigOptions, SpillCompression};
use datafusion::execution::FunctionRegistry;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{MemoryLimit, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};

use crate::config::{Engine, RunSettings};
use crate::error::UserError;
use crate::memory_pool::SharedPool;

/// How much of the process's memory a run may use, and where its temporary files go.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    /// `--memory-limit`: the process's whole footprint should stay under it.
    pub memory_limit: Option<u64>,
    /// `--temp-dir`: spill files and the run's scratch tables (default: the system's).
    pub temp_dir: Option<PathBuf>,
}

/// The share of `--memory-limit` given to DataFusion's memory pool. The pool counts what
/// sorts, aggregates and joins hold; the rest of the process (Parquet buffers being
/// decoded and encoded, batches in flight between operators, the allocator's own slack)
/// is not counted, and measured at about as much again on this job.
const POOL_SHARE: f64 = 0.5;

/// The process's engine runtime and the directory its temporary files go in.
static SHARED: OnceLock<(PathBuf, Arc<RuntimeEnv>)> = OnceLock::new();
static SPILLED_BYTES: AtomicU64 = AtomicU64::new(0);

/// A run's temporary directory (`sessionize-…` under `--temp-dir`): spill files and scratch
/// tables go in it, and dropping it, at the end of the run, removes it with all it holds.
/// The engine itself lives in a static, which is never dropped (the binary ends with
/// `process::exit`), so the engine's own clean-up of its spill directory would never run.
pub struct TempArea {
    _dir: tempfile::TempDir,
}

/// Sets the process's resources; to be called once, before the first session. Keep the
/// returned area until the run ends.
pub fn configure(resources: Resources) -> Result<TempArea> {
    let parent = resources.temp_dir.unwrap_or_else(std::env::temp_dir);
    remove_abandoned_areas(&parent);
    let dir = tempfile::Builder::new()
        .prefix(&format!("{AREA_PREFIX}{}-", std::process::id()))
        .tempdir_in(&parent)
        .map_err(|e| {
            let message = format!("cannot create a directory in {}: {e}", parent.display());
            UserError::flag("--temp-dir", message)
        })?;
    let runtime = runtime_for(resources.memory_limit, Some(dir.path().to_path_buf()))?;
    SHARED
        .set((dir.path().to_path_buf(), runtime))
        .map_err(|_| anyhow::anyhow!("internal error: engine resources configured twice"))?;
    Ok(TempArea { _dir: dir })
}

const AREA_PREFIX: &str = "sessionize-";

/// Removes the areas of runs that were killed (their process is gone): a run killed by the
/// OOM killer or a timeout would otherwise leave its spill files behind, night after night.
fn remove_abandoned_areas(parent: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(AREA_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        // SAFETY: signal 0 only asks whether the process exists
        let gone = unsafe { libc::kill(pid, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone && std::fs::remove_dir_all(entry.path()).is_ok() {
            tracing::info!(path = %entry.path().display(), "removed a killed run's temporary files");
        }
    }
}

/// What `configure` set, or for commands other than `run`, the defaults.
fn shared() -> &'static (PathBuf, Arc<RuntimeEnv>) {
    SHARED.get_or_init(|| {
        let runtime = runtime_for(None, None).expect("the default runtime builds");
        (std::env::temp_dir(), runtime)
    })
}

fn runtime_for(memory_limit: Option<u64>, spill_dir: Option<PathBuf>) -> Result<Arc<RuntimeEnv>> {
    let mut builder = RuntimeEnvBuilder::new();
    if let Some(dir) = spill_dir {
        builder = builder.with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Directories(vec![dir])),
        );
    }
    if let Some(limit) = memory_limit {
        let pool = SharedPool::new((limit as f64 * POOL_SHARE) as usize);
        // an operator that cannot get memory then names the biggest holders
        let top = NonZeroUsize::new(5).expect("5 is not zero");
        builder = builder.with_memory_pool(Arc::new(TrackConsumersPool::new(pool, top)));
    }
    Ok(builder.build_arc()?)
}

/// Whether `--memory-limit` was given.
pub fn memory_limited() -> bool {
    matches!(
        shared().1.memory_pool.memory_limit(),
        MemoryLimit::Finite(_)
    )
}

/// Where scratch tables go: the run's temporary directory, else the system's.
pub fn temp_dir() -> PathBuf {
    shared().0.clone()
}

/// Adds what an executed plan's operators spilled to disk to the process's total.
pub fn record_spills(plan: &dyn ExecutionPlan) {
    let own = plan
        .metrics()
        .and_then(|metrics| metrics.spilled_bytes())
        .map_or(0, |bytes| bytes as u64);
    SPILLED_BYTES.fetch_add(own, Ordering::Relaxed);
    for child in plan.children() {
        record_spills(child.as_ref());
    }
}

/// Bytes spilled to disk so far by every plan this process ran.
pub fn spilled_bytes() -> u64 {
    SPILLED_BYTES.load(Ordering::Relaxed)
}

/// Hands what the last query freed back to the system. glibc keeps the memory a thread
/// frees in that thread's arena, for its own later allocations; over the job's stages, each
/// with buffers of other sizes, the process's resident memory only grew. At 100 million
/// events under a 2 GiB limit it sat at 1.86 GB between stages, and the metrics stage's
/// own peak came on top of it. Called after each query of a run (those `copy_to_parquet` runs,
/// and the scan for late events); it costs a few milliseconds. On a cluster it trims the
/// client only: the executors' memory is theirs.
///
/// Only under a memory limit: without one, the next stage's buffers reuse what the last one
/// freed, where handing it back cost the page faults of taking it again (at 10 million
/// events, 0.6 s of system time of 3.5 s, and 0.3 s of the run's wall time), and the run's
/// peak was the same either way (3.2 to 3.3 GB).
pub fn release_freed_memory() {
    if !memory_limited() {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's arenas to the system
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The process's peak resident memory so far, in bytes.
pub fn peak_memory_bytes() -> u64 {
    // SAFETY: getrusage only writes the struct it is given
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0;
    }
    // kilobytes on Linux
    usage.ru_maxrss.max(0) as u64 * 1024
}

/// The session of the job's own models. Their joins run as written, the small side on the
/// left, as the side a hash table is built from (README: architecture invariants): the
/// engine's estimates of derived tables (a distinct list of URLs, a user's resume points)
/// are often far off, and swapping on them once built a 600 MB hash table of every event to
/// look up a few hundred pages. With a memory limit, that is the difference between
/// finishing and failing, as hash joins cannot spill.
///
/// Without a memory limit, the sort under the session window is the job's own
/// (`event_sort.rs`), which cannot spill.
pub fn context() -> Result<SessionContext> {
    session(job_config()?, !memory_limited())
}

/// The settings of the job's models, in this process or on a cluster: ours, joins as
/// written, and the `DATAFUSION_*` variables over them.
pub fn job_config() -> Result<SessionConfig> {
    config_with(|options| options.optimizer.join_reordering = false)
}

/// Partitions of a plan that groups nearly every event by its own key ([`widened`]).
const WIDE_PARTITIONS: usize = 32;

/// `frame`, planned with at least [`WIDE_PARTITIONS`] partitions: for a query that groups
/// nearly every row by its own key, where a hash table per core of millions of keys missed
/// the processor's cache on every row. At 10 million events, `repeated_keys`' aggregate
/// (10 million keys) took 1.21 s of CPU in 2 partitions, 0.81 s in 8 and 0.39 s in 32 or 64
/// (`SESSIONIZE_EXPLAIN_ANALYZE=1`): a 32nd of the keys stays in cache. Only for such
/// queries: every partition is a stream, and the rest of the job has nothing to gain. Not
/// under a memory limit: each partition's batches in flight are outside the memory pool, and
/// at 100 million events in 2 GiB the 32 partitions took the run's peak from 2.17 GB to 3.48
/// GB.
pub fn widened(frame: DataFrame) -> DataFrame {
    if memory_limited() {
        return frame;
    }
    let (state, plan) = frame.into_parts();
    // the catalog is the context's, shared: a new default one would replace its tables
    let mut config = state
        .config()
        .clone()
        .with_create_default_catalog_and_schema(false);
    let options = config.options_mut();
    options.execution.target_partitions = options.execution.target_partitions.max(WIDE_PARTITIONS);
    let state = SessionStateBuilder::new_from_existing(state)
        .with_config(config)
        .build();
    DataFrame::new(state, plan)
}

/// The session for ad hoc SQL: the same engine, with the join order left to it (a user's
/// query was not written to our join rule), and the position of every name kept, so an
/// error in a user's query can point at it.
pub fn query_context() -> Result<SessionContext> {
    context_with(|options| options.sql_parser.collect_spans = true)
}

fn context_with(adjust: impl FnOnce(&mut ConfigOptions)) -> Result<SessionContext> {
    session(config_with(adjust)?, false)
}

/// A session of this process's engine with these settings, our functions registered, and
/// with `own_event_sort` the job's sort under the session window (`event_sort.rs`).
fn session(config: SessionConfig, own_event_sort: bool) -> Result<SessionContext> {
    let mut builder = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime())
        .with_default_features();
    if own_event_sort {
        builder = builder.with_physical_optimizer_rule(Arc::new(crate::event_sort::EventSortRule));
    }
    let mut ctx = SessionContext::new_with_state(builder.build());
    register_functions(&mut ctx)?;
    Ok(ctx)
}

/// Registers the functions the models call that the engine does not have: `session_place`,
/// `place_session_index`, `place_event_seq`, `hash_bucket` and `key_hash`
/// (`session_window.rs`), `local_day` (`local_day.rs`),
/// `first_by` and `last_by` (`ordered_values.rs`), `url_host` and `url_parameter`
/// (`url_functions.rs`), `session_id` and `day_text` (`text_columns.rs`). Every session
/// that plans or runs the models needs them: this process's, and on a cluster the
/// scheduler's and each executor's.
pub fn register_functions(registry: &mut dyn FunctionRegistry) -> datafusion::error::Result<()> {
    registry.register_udwf(Arc::new(crate::session_window::udwf()))?;
    registry.register_udf(Arc::new(crate::session_window::bucket_udf()))?;
    registry.register_udf(Arc::new(crate::session_window::key_hash_udf()))?;
    for function in crate::session_window::unpack_udfs() {
        registry.register_udf(Arc::new(function))?;
    }
    registry.register_udf(Arc::new(crate::local_day::udf()))?;
    for function in crate::ordered_values::udafs() {
        registry.register_udaf(Arc::new(function))?;
    }
    for function in crate::url_functions::udfs() {
        registry.register_udf(Arc::new(function))?;
    }
    for function in crate::text_columns::udfs() {
        registry.register_udf(Arc::new(function))?;
    }
    Ok(())
}

/// The runtime every session of the process shares (memory pool, spill directory, stores).
pub fn runtime() -> Arc<RuntimeEnv> {
    shared().1.clone()
}

fn config_with(adjust: impl FnOnce(&mut ConfigOptions)) -> Result<SessionConfig> {
    let mut options = ConfigOptions::new();
    adjust(&mut options);
    // Utf8View columns carried through the big sort make every later window and aggregate
    // several times slower on this workload (apache/datafusion PRs 14823 and 21325).
    options.execution.parquet.schema_force_view_types = false;
    options.sql_parser.map_string_types_to_utf8view = false;
    // Events arrive at the session aggregate already hashed by user: grouping by (user,
    // session) on that partitioning in one stage, with the events still in time order, is a
    // third of the time of the default two-stage plan, whose second hash and merge of ordered
    // first values dominated the run. DataFusion only does so from 4 partitions by default.
    options.optimizer.subset_repartition_threshold = 1;
    // A join whose small side the engine has counted (a materialised table: repeated keys,
    // pages) builds one hash table for every partition rather than repartitioning every
    // event to meet it: at 10 million events the repeated keys (4 MB) were over the default
    // 1 MiB, and the events were hashed and moved twice more. Hash joins cannot spill either
    // way, so this bound is about speed, not memory.
    options.optimizer.hash_join_single_partition_threshold = 64 * 1024 * 1024;
    options.optimizer.hash_join_single_partition_threshold_rows = 4 * 1024 * 1024;
    if !memory_limited() {
        // Batches of 65,536 rows rather than 8,192: a fifth less time at 10 million events
        // (47 s to 37 s at 32,768), chiefly in the big sort, which then merges fewer runs;
        // 65,536 took another 1 s off 21 s, and 131,072 gave it back with 0.5 GB more
        // memory. Under a memory limit they cost more than they save (more to spill, and a
        // batch is what each operator may always hold): 43 s to 48 s at 10 million events
        // in 1 GiB.
        options.execution.batch_size = ConfigNonZeroUsize::try_new(64 * 1024)?;
    } else {
        // A repartitioning that spills writes to one file per spilling input, and in
        // DataFusion 55 its reader can wait on a drained open file while the batch it needs
        // is in another (apache/datafusion#24883, fixed after 55): the run hangs. A file per
        // spilled batch is closed as soon as it is written, so there is no open file to
        // wait on.
        options.execution.max_spill_file_size_bytes = ConfigNonZeroUsize::try_new(1)?;
        // 100 million events spilled over 35 GB uncompressed before their sort was done
        options.execution.spill_compression = SpillCompression::Lz4Frame;
    }
    for entry in ConfigOptions::new().entries() {
        let variable = entry.key.to_uppercase().replace('.', "_");
        if let Some(value) = std::env::var_os(&variable) {
            options
                .set(&entry.key, &value.to_string_lossy())
                .with_context(|| format!("environment variable {variable}"))?;
        }
    }
    Ok(SessionConfig::from(options))
}

/// Where a run's job runs, set up once per run: the sessions of its attempts come from here.
pub enum JobEngine {
    Local,
    #[cfg(feature = "distributed")]
    Cluster(crate::cluster::Cluster),
}

impl JobEngine {
    /// Connects to the cluster the settings name, or starts one in this process; `config`
    /// refused a distributed engine in a build without one.
    pub async fn start(settings: &RunSettings) -> Result<Self> {
        match &settings.engine {
            Engine::Local => Ok(JobEngine::Local),
            #[cfg(feature = "distributed")]
            Engine::Ballista { scheduler } => Ok(JobEngine::Cluster(
                crate::cluster::Cluster::remote(scheduler),
            )),
            #[cfg(feature = "distributed")]
            Engine::BallistaStandalone => Ok(JobEngine::Cluster(
                crate::cluster::Cluster::standalone(settings).await?,
            )),
            #[cfg(not(feature = "distributed"))]
            other => anyhow::bail!("the {other:?} engine is not built in"),
        }
    }

    /// A fresh session for one attempt at the job, the run's stores registered.
    pub async fn context(&self, settings: &RunSettings) -> Result<SessionContext> {
        let ctx = match self {
            JobEngine::Local => context()?,
            #[cfg(feature = "distributed")]
            JobEngine::Cluster(cluster) => cluster.context(settings).await?,
        };
        crate::storage::register_stores(&ctx, settings)?;
        Ok(ctx)
    }

    /// Whether the job's files are read and written by other processes than this one.
    pub fn is_distributed(&self) -> bool {
        !matches!(self, JobEngine::Local)
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{AsArray, Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};

    use super::*;

    /// A widened frame plans its aggregate in 32 partitions, answers as the frame did, and
    /// leaves the context's tables in place (a new default catalog once replaced them, and
    /// every later query of the run failed with "table not found"). Not checked here: that a
    /// memory limit turns the widening off, as the limit is the process's (the 100 million
    /// event run in 2 GiB is what shows it, bench/README.md).
    #[tokio::test]
    async fn a_widened_aggregate_runs_in_wide_partitions_over_the_same_tables() {
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
        let keys = Int64Array::from_iter_values((0..1000).map(|i| i % 10));
        let schema = Schema::new(vec![Field::new("k", DataType::Int64, false)]);
        let batch = RecordBatch::try_new(Arc::new(schema), vec![Arc::new(keys)]).unwrap();
        ctx.register_batch("t", batch).unwrap();
        let query = "select k, count(*) as n from t group by k order by k";

        let frame = widened(ctx.sql(query).await.unwrap());
        let plan = frame.clone().create_physical_plan().await.unwrap();
        let text = datafusion::physical_plan::displayable(plan.as_ref())
            .indent(false)
            .to_string();
        assert!(
            text.contains(&format!("Hash([k@0], {WIDE_PARTITIONS})")),
            "{text}"
        );
        let counts = |batches: Vec<RecordBatch>| -> Vec<(i64, i64)> {
            batches
                .iter()
                .flat_map(|b| {
                    let k = b.column(0).as_primitive::<Int64Type>();
                    let n = b.column(1).as_primitive::<Int64Type>();
                    (0..b.num_rows())
                        .map(|r| (k.value(r), n.value(r)))
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let expected: Vec<(i64, i64)> = (0..10).map(|k| (k, 100)).collect();
        assert_eq!(counts(frame.collect().await.unwrap()), expected);
        // the context is as it was: its table is there, and its own plans stay narrow
        let again = ctx.sql(query).await.unwrap();
        assert_eq!(again.task_ctx().session_config().target_partitions(), 2);
        assert_eq!(counts(again.collect().await.unwrap()), expected);
    }
}
