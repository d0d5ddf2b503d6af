//! The input files as one table: each file read once, spread over the engine's partitions,
//! and each row tagged with the `dt=` folder its file was delivered in.
//!
//! The engine's listing table cannot take a list of files and a per-file value together
//! (its partition columns come from paths below one root, and it lists the root itself, so
//! it would read files that the run skipped or left out). One listing table per day folder,
//! unioned, did that, but gave one partition per folder: every folder's reader was started
//! at once, each pushing batches ahead into the repartitioning, and at 30 days that held
//! half of a 512 MiB memory pool and three times the memory of a single scan.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::datasource::TableProvider;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::object_store::ObjectStoreUrl;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::scalar::ScalarValue;
use object_store::ObjectMeta;

/// The column that holds each row's delivery folder (`2026-11-21`, as a date), or null for
/// files outside `dt=` folders.
pub const DAY_COLUMN: &str = "__input_day";

/// A delivery folder's day (`2026-11-21`, checked when the folder was listed) as the value
/// of [`DAY_COLUMN`]. A date rather than text: the models compare it with each row's day,
/// which a date does in one integer comparison, where text cost a string per row to make.
pub fn day_value(day: Option<&str>) -> ScalarValue {
    ScalarValue::Date32(
        day.and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .map(arrow::datatypes::Date32Type::from_naive_date),
    )
}

/// A fixed list of Parquet files of one store, read with one schema.
#[derive(Debug)]
pub struct InputTable {
    store: ObjectStoreUrl,
    file_schema: SchemaRef,
    /// The file schema followed by [`DAY_COLUMN`].
    schema: SchemaRef,
    files: Vec<(ObjectMeta, Option<String>)>,
}

impl InputTable {
    /// `files` are read with `file_schema` (columns a file lacks are null, narrower types
    /// are cast), each with the day folder it came from.
    pub fn new(
        store: ObjectStoreUrl,
        file_schema: SchemaRef,
        files: Vec<(ObjectMeta, Option<String>)>,
    ) -> Self {
        InputTable {
            store,
            schema: table_schema(&file_schema).table_schema().clone(),
            file_schema,
            files,
        }
    }
}

fn table_schema(file_schema: &SchemaRef) -> TableSchema {
    TableSchema::builder(file_schema.clone())
        .with_table_partition_cols(vec![Arc::new(Field::new(
            DAY_COLUMN,
            DataType::Date32,
            true,
        ))])
        .build()
}

#[async_trait]
impl TableProvider for InputTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if self.files.is_empty() {
            let schema = match projection {
                Some(columns) => Arc::new(self.schema.project(columns)?),
                None => self.schema.clone(),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        let files: Vec<PartitionedFile> = self
            .files
            .iter()
            .map(|(meta, day)| {
                PartitionedFile::from(meta.clone())
                    .with_partition_values(vec![day_value(day.as_deref())])
            })
            .collect();
        // as the listing table does: files split into one group per partition, by size
        let groups = FileGroup::new(files).split_files(state.config().target_partitions());
        let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
        let source = format.file_source(table_schema(&self.file_schema));
        let config = FileScanConfigBuilder::new(self.store.clone(), source)
            .with_file_groups(groups)
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        format.create_physical_plan(state, config).await
    }
}
