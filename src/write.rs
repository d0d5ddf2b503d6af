//! Parquet output. Every table of a run is first written under the run's staging directory
//! (`<output>/_staging/<run_id>/<table>/dt=…/`); only when all of them are written does each
//! partition replace its predecessor, in one step per partition, with `_SUCCESS` inside it.
//! A run that fails before that leaves the previous output as it was.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::{Array, RecordBatch, UInt64Array};
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::config::{MaxRowGroupBytes, ParquetColumnOptions, TableParquetOptions};
use datafusion::datasource::file_format::format_as_file_type;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::parquet::ParquetFormatFactory;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::logical_expr::LogicalPlanBuilder;
use datafusion::prelude::{DataFrame, SessionContext};
use serde::Serialize;

use crate::storage::{OutputRoot, SUCCESS_FILE};

/// The partition column of every table.
pub const PARTITION_COLUMN: &str = "dt";

/// What writing one table produced.
#[derive(Debug, Clone, Serialize)]
pub struct TableWrite {
    pub table: String,
    pub rows: u64,
    pub files: usize,
    /// `dt=YYYY-MM-DD` folders written; empty for a table written whole (users).
    pub partitions: Vec<String>,
    /// Days this run writes that have no rows in the table: their partitions hold an
    /// empty file, so a reader sees the day as empty rather than missing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub empty_partitions: Vec<String>,
    #[serde(skip)]
    partitioned: bool,
}

/// A table written under the staging directory, not yet counted among the run's tables
/// (`Staging::record`).
pub struct Written {
    write: TableWrite,
    schema: SchemaRef,
}

/// A run's output on its way to the output directory.
pub struct Staging {
    root: OutputRoot,
    run_id: String,
    /// `_staging/<run_id>`, under the output.
    dir: String,
    written: Vec<TableWrite>,
}

impl Staging {
    pub fn create(root: OutputRoot, run_id: &str) -> Result<Self> {
        let dir = root.staging(run_id);
        Ok(Staging {
            root,
            run_id: run_id.to_string(),
            dir,
            written: Vec::new(),
        })
    }

    /// Writes `frame` as the table `table`, partitioned by `dt`, without counting it among
    /// the run's tables yet (`record` does): it borrows the staging only to read it, so the
    /// write can run beside another step of the run.
    pub async fn write(&self, table: &str, frame: DataFrame) -> Result<Written> {
        let dir = format!("{}/{table}", self.dir);
        let schema = frame.schema().as_arrow().clone();
        let rows = self
            .write_parquet(table, &dir, frame, vec![PARTITION_COLUMN.into()])
            .await?;
        let (partitions, files) = self.root.partitions(&dir).await?;
        Ok(Written {
            write: TableWrite {
                table: table.to_string(),
                rows,
                files,
                partitions,
                empty_partitions: Vec::new(),
                partitioned: true,
            },
            schema: Arc::new(schema),
        })
    }

    /// Counts a written table among the run's tables, in the order the report lists them,
    /// first giving each of `days` it has no rows for an empty partition (a table written
    /// whole has no partitions to give).
    pub async fn record(&mut self, written: Written, days: &[String]) -> Result<&TableWrite> {
        let Written { mut write, schema } = written;
        if write.partitioned {
            let schema = file_schema(&schema);
            for day in days {
                let partition = format!("{PARTITION_COLUMN}={day}");
                if write.partitions.contains(&partition) {
                    continue;
                }
                // named for the run, like every data file: a day empty in two runs
                // (bot_sessions often is) still gets a new file, never the old one's name
                self.root
                    .put(
                        &format!(
                            "{}/{}/{partition}/part-0-{}.parquet",
                            self.dir, write.table, self.run_id
                        ),
                        empty_parquet(&schema)?,
                    )
                    .await?;
                write.files += 1;
                write.empty_partitions.push(day.clone());
                write.partitions.push(partition);
            }
            write.partitions.sort();
        }
        self.written.push(write);
        Ok(self.written.last().expect("just pushed"))
    }

    /// Writes `frame` as the table `table`, whole: not partitioned, replaced as one. Like
    /// `write`, counted among the run's tables by `record`.
    pub async fn write_whole(&self, table: &str, frame: DataFrame) -> Result<Written> {
        let dir = format!("{}/{table}", self.dir);
        let schema = Arc::new(frame.schema().as_arrow().clone());
        let rows = self.write_parquet(table, &dir, frame, Vec::new()).await?;
        let mut files = self.root.parquet_files(&dir).await?;
        if files == 0 {
            self.root
                .put(&format!("{dir}/part-0.parquet"), empty_parquet(&schema)?)
                .await?;
            files = 1;
        }
        Ok(Written {
            write: TableWrite {
                table: table.to_string(),
                rows,
                files,
                partitions: Vec::new(),
                empty_partitions: Vec::new(),
                partitioned: false,
            },
            schema,
        })
    }

    /// Runs `frame` into Parquet files under `dir`; returns the rows written.
    async fn write_parquet(
        &self,
        table: &str,
        dir: &str,
        frame: DataFrame,
        partition_by: Vec<String>,
    ) -> Result<u64> {
        let _stage = crate::progress::stage(&format!("writing {table}"));
        explain_if_asked(table, &frame).await?;
        let url = self.root.url_of(dir)?;
        let rows = copy_to_parquet(frame, url.as_str(), partition_by, parquet_options()?)
            .await
            .with_context(|| format!("writing table {table}"))?;
        tracing::info!(table, rows, "table written");
        Ok(rows)
    }

    /// Makes what was written for a table readable under its name, so later models read
    /// the written rows instead of computing them again.
    pub fn register(&self, ctx: &SessionContext, written: &Written) -> Result<()> {
        let table = &written.write.table;
        let url = self.root.url_of(&format!("{}/{table}", self.dir))?;
        ctx.deregister_table(table)?;
        ctx.register_table(table, listing_table(url, &written.schema, true)?)?;
        Ok(())
    }

    /// Moves every written partition into place, `_SUCCESS` (holding the run id) inside.
    /// The list of partitions is journaled first, so that if the run is killed half-way the
    /// next run finishes the job ([`storage::OutputRoot::recover`]) instead of leaving some
    /// days old and some new. The staging directory, which by then holds the replaced
    /// partitions, is removed last.
    pub async fn commit(self) -> Result<Vec<TableWrite>> {
        let mut swaps = Vec::new();
        for written in &self.written {
            let targets: Vec<String> = if written.partitioned {
                written
                    .partitions
                    .iter()
                    .map(|partition| format!("{}/{partition}", written.table))
                    .collect()
            } else {
                vec![written.table.clone()]
            };
            for target in targets {
                let staged = format!("{}/{target}", self.dir);
                self.root
                    .put(
                        &format!("{staged}/{SUCCESS_FILE}"),
                        self.run_id.clone().into_bytes(),
                    )
                    .await?;
                swaps.push(target);
            }
        }
        self.root.commit(&self.run_id, &swaps).await?;
        Ok(self.written)
    }
}

/// Runs `frame` into Parquet files under `url`, as `DataFrame::write_parquet` does, but
/// keeps the executed plan to add what its operators spilled to the run's total, and hands
/// what the query freed back to the system (`engine::release_freed_memory`). Returns the
/// rows written.
pub async fn copy_to_parquet(
    frame: DataFrame,
    url: &str,
    partition_by: Vec<String>,
    parquet: TableParquetOptions,
) -> Result<u64> {
    let (state, plan) = frame.into_parts();
    let file_type = format_as_file_type(Arc::new(ParquetFormatFactory::new_with_options(parquet)));
    let plan = LogicalPlanBuilder::copy_to(
        plan,
        url.to_string(),
        file_type,
        HashMap::new(),
        partition_by,
    )?
    .build()?;
    let physical = state.create_physical_plan(&plan).await?;
    let result = datafusion::physical_plan::collect(physical.clone(), state.task_ctx()).await;
    crate::engine::record_spills(physical.as_ref());
    crate::engine::release_freed_memory();
    Ok(result?
        .iter()
        .filter_map(|batch| batch.column(0).as_any().downcast_ref::<UInt64Array>())
        .flat_map(|counts| counts.iter().flatten())
        .sum())
}

/// Set, every table's query also runs once under EXPLAIN ANALYZE and its plan, with the time
/// and rows of each operator, goes to stderr: how the plans were profiled (bench/README.md).
/// The query then runs twice, so it is for profiling only.
const EXPLAIN_VARIABLE: &str = "SESSIONIZE_EXPLAIN_ANALYZE";

pub async fn explain_if_asked(table: &str, frame: &DataFrame) -> Result<()> {
    if std::env::var_os(EXPLAIN_VARIABLE).is_none() {
        return Ok(());
    }
    let batches = frame.clone().explain(false, true)?.collect().await?;
    let plans = arrow::util::pretty::pretty_format_batches(&batches)?;
    eprintln!("EXPLAIN ANALYZE of table {table}:\n{plans}");
    Ok(())
}

/// The Parquet files under `url` as a table of `schema`; `partitioned`: in `dt=` folders,
/// `dt` being the folder's.
pub fn listing_table(
    url: ListingTableUrl,
    schema: &SchemaRef,
    partitioned: bool,
) -> Result<Arc<ListingTable>> {
    let mut options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let mut file_schema = schema.clone();
    if partitioned {
        options =
            options.with_table_partition_cols(vec![(PARTITION_COLUMN.to_string(), DataType::Utf8)]);
        file_schema = self::file_schema(schema);
    }
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(file_schema);
    Ok(Arc::new(ListingTable::try_new(config)?))
}

/// The columns a table's files hold: all but the partition column, which is the folder.
fn file_schema(schema: &SchemaRef) -> SchemaRef {
    Arc::new(arrow::datatypes::Schema::new(
        schema
            .fields()
            .iter()
            .filter(|f| f.name() != PARTITION_COLUMN)
            .cloned()
            .collect::<Vec<_>>(),
    ))
}

/// A Parquet file with the columns and no rows.
fn empty_parquet(schema: &SchemaRef) -> Result<Vec<u8>> {
    parquet_bytes(schema, &[])
}

/// A Parquet file of `batches`, in memory.
pub fn parquet_bytes(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let mut writer = parquet::arrow::ArrowWriter::try_new(Vec::new(), schema.clone(), None)?;
    for batch in batches {
        writer.write(batch)?;
    }
    Ok(writer.into_inner()?)
}

/// Every file a run writes has row groups of at most 122,880 rows, as DuckDB writes them,
/// and at most 4 MiB as they are being written. A table written into `dt=` folders has a
/// file open per day until its query ends, each holding its unfinished row group in memory:
/// at the engine's default of a million rows, a month of a hundred million events' sessions
/// would be held whole, several gigabytes. A writer holds about twice the bound (the pages
/// of every column being filled besides the row group): at 8 MiB, the sessions table's 31
/// writers held 17.5 MB each, over the 0.54 GB pool of a 1 GiB limit at 10 million events.
/// The byte limit is kept only by the writer that encodes one column after another (with a
/// file per day written at once, the days are the parallelism; an unpartitioned table loses
/// its parallel column encoding).
pub fn bound_row_groups(options: &mut TableParquetOptions) -> Result<()> {
    options.global.max_row_group_size = 122_880;
    options.global.max_row_group_bytes = Some(MaxRowGroupBytes::try_new(4 * 1024 * 1024)?);
    options.global.allow_single_file_parallelism = false;
    Ok(())
}

/// Columns of the written tables whose values rarely repeat within a row group: a dictionary
/// would not shrink them, and building one cost the writer more than all else (perf, the
/// sessions table at 10 million events). Stored plain, as DuckDB stores them.
const UNIQUE_COLUMNS: [&str; 5] = [
    "session_id",
    "user_id",
    "session_start",
    "session_end",
    "event_id",
];

fn parquet_options() -> Result<TableParquetOptions> {
    let mut options = TableParquetOptions::default();
    options.global.compression = Some("zstd(1)".into());
    for column in UNIQUE_COLUMNS {
        options.column_specific_options.insert(
            column.to_string(),
            ParquetColumnOptions {
                dictionary_enabled: Some(false),
                ..Default::default()
            },
        );
    }
    bound_row_groups(&mut options)?;
    Ok(options)
}
