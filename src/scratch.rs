//! The tables a run builds for itself on the way to its outputs: a model that several later
//! models read (computed once, not once per reader) and the small lookup tables made in
//! Rust (event-name lists, channel rules, parsed user agents).
//!
//! Under `--memory-limit` a model is materialised as Parquet in a temporary directory, not
//! held in memory: at a hundred million events the sessions alone outgrow any memory limit.
//! The directory is removed when the run ends, however it ends. Without a limit, the run has
//! asked for speed over a bounded footprint (its sort holds every event in memory anyway), and
//! a model is held in memory: writing the sessions to Parquet and decoding them again for
//! each reader cost about a tenth of the run's CPU at ten million events.
//!
//! On a Ballista cluster (`--engine ballista*`) the executors read these tables and cannot
//! be sent one held in memory: every table, the small ones too, is a Parquet folder under
//! the run's staging on the output (`<output>/_staging/<run_id>/_scratch/<n>/<table>/`),
//! which every executor reaches, and it goes with the staging when the run commits (or, if
//! the run dies, when the next one cleans up after it).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::common::DFSchema;
use datafusion::config::TableParquetOptions;
use datafusion::datasource::MemTable;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::logical_expr::{EmptyRelation, LogicalPlan};
use datafusion::prelude::{DataFrame, SessionContext};

use crate::storage::OutputRoot;
use crate::write;

pub struct Scratch {
    place: Place,
}

enum Place {
    /// A temporary directory of this machine, for models under a memory limit; small
    /// tables, and every model without a limit, stay in memory.
    Local(tempfile::TempDir),
    /// A folder under the output's staging, relative to the output.
    Staging { root: OutputRoot, dir: String },
}

/// Each attempt at a run gets its own folder under the staging: a retried attempt never
/// reads a half-written table of the one before.
static ATTEMPTS: AtomicUsize = AtomicUsize::new(0);

impl Scratch {
    /// A new, empty scratch directory in the run's temporary directory (or the system's).
    pub fn create() -> Result<Self> {
        let parent = crate::engine::temp_dir();
        let dir = tempfile::Builder::new()
            .prefix("scratch-")
            .tempdir_in(&parent)
            .with_context(|| format!("creating a scratch directory in {}", parent.display()))?;
        Ok(Scratch {
            place: Place::Local(dir),
        })
    }

    /// For a distributed engine: a folder under the run's staging on the output, where
    /// every executor reads and writes, and where nothing is held in memory.
    pub fn in_staging(root: &OutputRoot, run_id: &str) -> Self {
        let attempt = ATTEMPTS.fetch_add(1, Ordering::Relaxed);
        Scratch {
            place: Place::Staging {
                root: root.clone(),
                dir: format!("{}/_scratch/{attempt}", root.staging(run_id)),
            },
        }
    }

    /// The folder of the table `name`.
    fn url(&self, name: &str) -> Result<ListingTableUrl> {
        match &self.place {
            Place::Local(dir) => {
                let dir = dir.path().join(name);
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("creating scratch directory {}", dir.display()))?;
                Ok(ListingTableUrl::parse(format!("{}/", dir.display()))?)
            }
            Place::Staging { root, dir } => root.url_of(&format!("{dir}/{name}")),
        }
    }

    /// Computes `frame` once into the scratch directory and registers the result as
    /// `name`, in place of whatever had that name (the model's view, typically).
    pub async fn materialize(
        &self,
        ctx: &SessionContext,
        name: &str,
        frame: DataFrame,
    ) -> Result<()> {
        let _stage = crate::progress::stage(&format!("computing {name}"));
        crate::write::explain_if_asked(name, &frame).await?;
        let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
        if self.holds_models() {
            let partitions = collect_yielding(frame)
                .await
                .with_context(|| format!("computing {name}"))?;
            // the batches' own schema: the plan's may differ from the logical one in a
            // field's nullability or metadata, which MemTable refuses
            let schema = partitions
                .iter()
                .flatten()
                .next()
                .map_or(schema, |batch| batch.schema());
            tracing::debug!(
                model = name,
                rows = ?partitions
                    .iter()
                    .map(|p| p.iter().map(RecordBatch::num_rows).sum::<usize>())
                    .collect::<Vec<_>>(),
                "model held in memory"
            );
            let table = MemTable::try_new(schema, partitions)?;
            ctx.deregister_table(name)?;
            ctx.register_table(name, Arc::new(table))?;
            return Ok(());
        }
        let url = self.url(name)?;
        write::copy_to_parquet(frame, url.as_str(), Vec::new(), scratch_parquet_options()?)
            .await
            .with_context(|| format!("computing {name}"))?;
        ctx.deregister_table(name)?;
        ctx.register_table(name, write::listing_table(url, &schema, false)?)?;
        Ok(())
    }

    /// Whether models are held in memory: on this machine, without a memory limit.
    pub fn holds_models(&self) -> bool {
        matches!(self.place, Place::Local(_)) && !crate::engine::memory_limited()
    }

    /// Computes the registered model `name` once into memory, if models are held there,
    /// and says whether it did. A model that would otherwise be read once, or read from
    /// what the run writes of it, is kept only where keeping it costs no extra write.
    pub async fn hold(&self, ctx: &SessionContext, name: &str) -> Result<bool> {
        if !self.holds_models() {
            return Ok(false);
        }
        let frame = ctx.table(name).await?;
        self.materialize(ctx, name, frame).await?;
        Ok(true)
    }

    /// Registers a small table built in Rust.
    pub async fn register_batch(
        &self,
        ctx: &SessionContext,
        name: &str,
        batch: RecordBatch,
    ) -> Result<()> {
        ctx.deregister_table(name)?;
        match &self.place {
            Place::Local(_) => {
                ctx.register_batch(name, batch)?;
            }
            Place::Staging { root, dir } => {
                let schema = batch.schema();
                root.put(
                    &format!("{dir}/{name}/part-0.parquet"),
                    write::parquet_bytes(&schema, &[batch])?,
                )
                .await?;
                ctx.register_table(name, write::listing_table(self.url(name)?, &schema, false)?)?;
            }
        }
        Ok(())
    }
}

/// Makes the table `name` readable as `alias` too.
pub async fn alias(ctx: &SessionContext, name: &str, alias: &str) -> Result<()> {
    let provider = ctx.table_provider(name).await?;
    ctx.deregister_table(alias)?;
    ctx.register_table(alias, provider)?;
    Ok(())
}

/// Registers `name` as a table of `schema` with no rows: a view of an empty relation, not
/// an empty batch, so that the planner knows it is empty. A join with it then becomes a
/// projection with NULL columns: at a full run, where there is no earlier session to
/// continue, the join of every event with its user's anchor copied every column of every
/// event, and the sessions' join with the users' earlier counts every column of every
/// session.
pub fn register_empty(ctx: &SessionContext, name: &str, schema: SchemaRef) -> Result<()> {
    ctx.deregister_table(name)?;
    let empty = LogicalPlan::EmptyRelation(EmptyRelation {
        produce_one_row: false,
        schema: Arc::new(DFSchema::try_from(schema.as_ref().clone())?),
    });
    ctx.register_table(name, DataFrame::new(ctx.state(), empty).into_view())?;
    Ok(())
}

/// Written once and read back once or twice, then thrown away: fast compression only.
fn scratch_parquet_options() -> Result<TableParquetOptions> {
    let mut options = TableParquetOptions::default();
    options.global.compression = Some("snappy".into());
    write::bound_row_groups(&mut options)?;
    Ok(options)
}

/// Computes every partition of `frame` into memory, each in its own task, as DataFusion's
/// `collect_partitioned` does, but letting the task go after each batch. A task that wakes
/// another puts it in its worker thread's next-task slot, which no other worker may take
/// (tokio-rs/tokio#4941), and a partition read from memory never waits: it ran to its end
/// before the task it woke could start, and a stage ran on one core. The held sessions'
/// classification took 1.16 s on one core, 0.63 s on two, at ten million events.
async fn collect_yielding(frame: DataFrame) -> Result<Vec<Vec<RecordBatch>>> {
    use futures::StreamExt;
    let streams = frame.execute_stream_partitioned().await?;
    let mut tasks = tokio::task::JoinSet::new();
    for (index, mut stream) in streams.into_iter().enumerate() {
        tasks.spawn(async move {
            let mut batches = Vec::new();
            while let Some(batch) = stream.next().await {
                batches.push(batch?);
                tokio::task::yield_now().await;
            }
            Ok::<_, datafusion::error::DataFusionError>((index, batches))
        });
    }
    let mut partitions = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(partition) => partitions.push(partition?),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => return Err(e.into()),
        }
    }
    partitions.sort_by_key(|(index, _)| *index);
    Ok(partitions.into_iter().map(|(_, batches)| batches).collect())
}
