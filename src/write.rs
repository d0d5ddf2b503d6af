//! Parquet output. Every table of a run is first written under the run's staging directory
//! (`<output>/_staging/<run_id>/<table>/dt=…/`); only when all of them are written does each
//! partition replace its predecessor, in one step per partition, with `_SUCCESS` inside it.
//! A run that fails before that leaves the previous output as it was.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::{Array, UInt64Array};
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::config::TableParquetOptions;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig};
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
    /// `dt=YYYY-MM-DD` folders written.
    pub partitions: Vec<String>,
}

/// A run's output on its way to the output directory.
pub struct Staging {
    root: OutputRoot,
    run_id: String,
    /// `_staging/<run_id>`, under the output.
    dir: String,
    written: Vec<TableWrite>,
    schemas: HashMap<String, SchemaRef>,
}

impl Staging {
    pub fn create(root: OutputRoot, run_id: &str) -> Result<Self> {
        let dir = root.staging(run_id);
        Ok(Staging {
            root,
            run_id: run_id.to_string(),
            dir,
            written: Vec::new(),
            schemas: HashMap::new(),
        })
    }

    /// Writes the registered table or view `table`, partitioned by `dt`.
    pub async fn write(&mut self, ctx: &SessionContext, table: &str) -> Result<&TableWrite> {
        let frame = ctx.table(table).await?;
        self.write_frame(table, frame).await
    }

    /// Writes `frame` as the table `table`, partitioned by `dt`.
    pub async fn write_frame(&mut self, table: &str, frame: DataFrame) -> Result<&TableWrite> {
        let dir = format!("{}/{table}", self.dir);
        let url = self.root.url_of(&dir)?;
        let schema = frame.schema().as_arrow().clone();
        let result = frame
            .write_parquet(
                url.as_str(),
                DataFrameWriteOptions::new().with_partition_by(vec![PARTITION_COLUMN.into()]),
                Some(parquet_options()),
            )
            .await
            .with_context(|| format!("writing table {table}"))?;
        let rows = result
            .iter()
            .filter_map(|batch| batch.column(0).as_any().downcast_ref::<UInt64Array>())
            .flat_map(|counts| counts.iter().flatten())
            .sum();
        let (partitions, files) = self.root.partitions(&dir).await?;
        self.written.push(TableWrite {
            table: table.to_string(),
            rows,
            files,
            partitions,
        });
        self.schemas.insert(table.to_string(), Arc::new(schema));
        Ok(self.written.last().expect("just pushed"))
    }

    /// Makes what was written for `table` readable under the same name, so later models
    /// read the written rows instead of computing them again.
    pub async fn register_written(&self, ctx: &SessionContext, table: &str) -> Result<()> {
        let url = self.root.url_of(&format!("{}/{table}", self.dir))?;
        let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(".parquet")
            .with_table_partition_cols(vec![(PARTITION_COLUMN.to_string(), DataType::Utf8)]);
        let schema = self
            .schemas
            .get(table)
            .with_context(|| format!("table {table} was not written"))?;
        // the files hold every column but the partition column
        let file_schema = Arc::new(arrow::datatypes::Schema::new(
            schema
                .fields()
                .iter()
                .filter(|f| f.name() != PARTITION_COLUMN)
                .cloned()
                .collect::<Vec<_>>(),
        ));
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(file_schema);
        ctx.deregister_table(table)?;
        ctx.register_table(table, Arc::new(ListingTable::try_new(config)?))?;
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
            for partition in &written.partitions {
                let staged = format!("{}/{}/{partition}", self.dir, written.table);
                self.root
                    .put(
                        &format!("{staged}/{SUCCESS_FILE}"),
                        self.run_id.clone().into_bytes(),
                    )
                    .await?;
                swaps.push(format!("{}/{partition}", written.table));
            }
        }
        self.root.commit(&self.run_id, &swaps).await?;
        Ok(self.written)
    }
}

fn parquet_options() -> TableParquetOptions {
    let mut options = TableParquetOptions::default();
    options.global.compression = Some("zstd(1)".into());
    options
}
