//! The input files as one table: each file read once, spread over the engine's partitions,
//! and each row tagged with the `dt=` folder its file was delivered in.
//!
//! The engine's listing table cannot take a list of files and a per-file value together
//! (its partition columns come from paths below one root, and it lists the root itself, so
//! it would read files that the run skipped or left out). One listing table per day folder,
//! unioned, did that, but gave one partition per folder: every folder's reader was started
//! at once, each pushing batches ahead into the repartitioning, and at 30 days that held
//! half of a 512 MiB memory pool and three times the memory of a single scan.
//!
//! Text columns stored with small dictionaries (device, country, event name, user agent in
//! most event data) are read as dictionaries: each row is then a 4-byte key into values
//! decoded once per column chunk, and every filter, join, sort and copy of the run moves
//! the key rather than the text. Read as plain text, a 120-byte user agent was copied on
//! each of those steps, and decoding and copying text was a third of a run's time. Only
//! small dictionaries: the engine counts a batch's dictionary against the memory pool in
//! every batch that shares it, and merges dictionaries when it interleaves rows.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
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
use parquet::basic::Encoding;
use parquet::file::metadata::{ColumnChunkMetaData, ParquetMetaData};

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

/// The largest dictionary page (as stored, compressed) of a column chunk read as a
/// dictionary. Where a footer does not say how the data pages are encoded, a dictionary this
/// small is taken to mean that the writer never fell back to plain pages (writers do past
/// their own limit, 1 MiB by default). Taken wrongly, it costs time, not rows: the reader
/// builds the dictionary of plain pages itself.
const SMALL_DICTIONARY_BYTES: i64 = 32 * 1024;

/// The type a column read as a dictionary has.
pub fn dictionary_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// The file's top-level text columns whose every column chunk is dictionary-encoded with a
/// small dictionary (see the module's doc): the ones it can give as dictionaries cheaply.
pub fn small_dictionary_columns(metadata: &ParquetMetaData, schema: &Schema) -> Vec<String> {
    let text = schema
        .fields()
        .iter()
        .filter(|field| field.data_type() == &DataType::Utf8);
    columns_whose_chunks(metadata, text, has_small_dictionary)
}

/// The file's top-level columns whose every column chunk's statistics count no NULL: a
/// column without statistics is not counted as complete.
pub fn complete_columns(metadata: &ParquetMetaData, schema: &Schema) -> Vec<String> {
    columns_whose_chunks(metadata, schema.fields().iter(), |chunk| {
        chunk.statistics().and_then(|stats| stats.null_count_opt()) == Some(0)
    })
}

/// The names of `fields` (top-level columns of the file) whose column chunk passes `test`
/// in every row group.
fn columns_whose_chunks<'a>(
    metadata: &ParquetMetaData,
    fields: impl Iterator<Item = &'a FieldRef>,
    test: impl Fn(&ColumnChunkMetaData) -> bool,
) -> Vec<String> {
    let leaves = metadata.file_metadata().schema_descr();
    fields
        .filter_map(|field| {
            let leaf = (0..leaves.num_columns())
                .find(|&i| leaves.column(i).path().parts() == std::slice::from_ref(field.name()))?;
            metadata
                .row_groups()
                .iter()
                .all(|group| test(group.column(leaf)))
                .then(|| field.name().clone())
        })
        .collect()
}

fn has_small_dictionary(chunk: &ColumnChunkMetaData) -> bool {
    let Some(dictionary_at) = chunk.dictionary_page_offset() else {
        return false;
    };
    let dictionary_bytes = chunk.data_page_offset() - dictionary_at;
    let dictionary_encoding = |encoding: Encoding| {
        matches!(
            encoding,
            Encoding::PLAIN_DICTIONARY | Encoding::RLE_DICTIONARY
        )
    };
    // the data pages' encodings, where the footer lists them: dictionary ones only
    let data_pages_dictionary_encoded = match (
        chunk.page_encoding_stats_mask(),
        chunk.page_encoding_stats(),
    ) {
        (Some(mask), _) => mask.encodings().all(dictionary_encoding),
        (None, Some(stats)) => stats
            .iter()
            .filter(|page| page.page_type != parquet::basic::PageType::DICTIONARY_PAGE)
            .all(|page| dictionary_encoding(page.encoding)),
        (None, None) => true,
    };
    (1..=SMALL_DICTIONARY_BYTES).contains(&dictionary_bytes) && data_pages_dictionary_encoded
}

/// One file of the table: where it is, the day folder it came from, and the schema its
/// reader gives (its own, with the columns read as dictionaries changed to that type).
#[derive(Debug)]
struct TableFile {
    meta: ObjectMeta,
    day: Option<String>,
    reader_schema: SchemaRef,
}

/// A fixed list of Parquet files of one store, read with one schema.
#[derive(Debug)]
pub struct InputTable {
    store: ObjectStoreUrl,
    file_schema: SchemaRef,
    /// The file schema followed by [`DAY_COLUMN`].
    schema: SchemaRef,
    files: Vec<TableFile>,
}

impl InputTable {
    /// `files` (each with the day folder it came from and its own schema) are read with
    /// `file_schema` (columns a file lacks are null, narrower types are cast), the
    /// `dictionaries` columns as [`dictionary_type`]: each file that stores one as text gives
    /// it as a dictionary straight from its dictionary pages.
    pub fn new(
        store: ObjectStoreUrl,
        file_schema: &Schema,
        files: Vec<(ObjectMeta, Option<String>, SchemaRef)>,
        dictionaries: &[String],
    ) -> Self {
        let as_dictionaries = |schema: &Schema| {
            let fields = schema.fields().iter().map(|field| {
                if field.data_type() == &DataType::Utf8 && dictionaries.contains(field.name()) {
                    Arc::new(field.as_ref().clone().with_data_type(dictionary_type()))
                } else {
                    field.clone()
                }
            });
            Arc::new(Schema::new_with_metadata(
                fields.collect::<Vec<_>>(),
                schema.metadata().clone(),
            ))
        };
        let file_schema = as_dictionaries(file_schema);
        InputTable {
            store,
            schema: table_schema(&file_schema).table_schema().clone(),
            file_schema,
            files: files
                .into_iter()
                .map(|(meta, day, own)| TableFile {
                    meta,
                    day,
                    reader_schema: as_dictionaries(&own),
                })
                .collect(),
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
            .map(|file| {
                PartitionedFile::from(file.meta.clone())
                    .with_partition_values(vec![day_value(file.day.as_deref())])
                    .with_arrow_schema(file.reader_schema.clone())
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::file::properties::WriterProperties;
    use parquet::schema::types::ColumnPath;

    /// The columns a file written with `properties` (5 row groups of 2,000 rows) offers as
    /// dictionaries.
    fn offered(properties: WriterProperties) -> Vec<String> {
        let rows = 10_000;
        let columns: Vec<(&str, ArrayRef)> = vec![
            // three values: a dictionary page of a few bytes
            (
                "few",
                Arc::new(StringArray::from_iter_values(
                    (0..rows).map(|i| ["mobile", "desktop", "tablet"][i % 3]),
                )),
            ),
            // as few, but the writer is told not to use a dictionary for it
            (
                "undictionaried",
                Arc::new(StringArray::from_iter_values(
                    (0..rows).map(|i| ["a", "b"][i % 2]),
                )),
            ),
            // every value distinct: 2,000 per row group of 40 bytes, an 80 KB dictionary
            (
                "distinct",
                Arc::new(StringArray::from_iter_values(
                    (0..rows).map(|i| format!("https://example.com/page/{i:015}")),
                )),
            ),
            (
                "number",
                Arc::new(Int64Array::from_iter_values(0..rows as i64)),
            ),
        ];
        let reader = written(columns, properties);
        assert_eq!(reader.metadata().num_row_groups(), 5);
        small_dictionary_columns(reader.metadata(), reader.schema())
    }

    /// A file of `columns` written with `properties`, opened to read its footer.
    fn written(
        columns: Vec<(&str, ArrayRef)>,
        properties: WriterProperties,
    ) -> ParquetRecordBatchReaderBuilder<std::fs::File> {
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        let mut file = tempfile::tempfile().unwrap();
        let mut writer = ArrowWriter::try_new(&mut file, batch.schema(), Some(properties)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        ParquetRecordBatchReaderBuilder::try_new(file).unwrap()
    }

    fn properties() -> parquet::file::properties::WriterPropertiesBuilder {
        WriterProperties::builder()
            .set_max_row_group_row_count(Some(2_000))
            .set_column_dictionary_enabled(ColumnPath::from("undictionaried"), false)
    }

    #[test]
    fn only_text_columns_with_small_dictionaries_are_offered() {
        assert_eq!(offered(properties().build()), ["few"]);
    }

    /// A column is complete when every row group's statistics count no NULL: one NULL in
    /// the last row group, or no statistics, and it is not.
    #[test]
    fn complete_columns_are_those_whose_statistics_count_no_null() {
        let rows = 4_000;
        let columns: Vec<(&str, ArrayRef)> = vec![
            (
                "full",
                Arc::new(StringArray::from_iter_values(
                    (0..rows).map(|i| format!("e{i}")),
                )),
            ),
            (
                "one_null_at_the_end",
                Arc::new(StringArray::from_iter(
                    (0..rows).map(|i| (i + 1 < rows).then(|| format!("e{i}"))),
                )),
            ),
            (
                "full_without_statistics",
                Arc::new(StringArray::from_iter_values(
                    (0..rows).map(|i| format!("e{i}")),
                )),
            ),
            (
                "number",
                Arc::new(Int64Array::from_iter_values(0..rows as i64)),
            ),
        ];
        let properties = WriterProperties::builder()
            .set_max_row_group_row_count(Some(1_000))
            .set_column_statistics_enabled(
                ColumnPath::from("full_without_statistics"),
                parquet::file::properties::EnabledStatistics::None,
            )
            .build();
        let reader = written(columns, properties);
        assert_eq!(reader.metadata().num_row_groups(), 4);
        assert_eq!(
            complete_columns(reader.metadata(), reader.schema()),
            ["full", "number"]
        );
    }

    #[test]
    fn a_column_whose_writer_fell_back_to_plain_pages_is_not_offered() {
        // past a 1 KB dictionary the writer falls back to plain pages: `distinct` then has a
        // small dictionary page, but plain data pages after it
        let fell_back = properties()
            .set_dictionary_page_size_limit(1024)
            .set_data_page_row_count_limit(100)
            .set_write_batch_size(100)
            .build();
        assert_eq!(offered(fell_back), ["few"]);
    }
}
