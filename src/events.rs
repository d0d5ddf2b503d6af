//! Reads the input files and maps their columns onto the canonical event fields the SQL
//! models use (`[columns]` in the config), converting each to one type: strings to Utf8 (or,
//! for a column every file stores with a small dictionary, a dictionary of Utf8: see
//! `input_table`), event_time to microseconds in the reporting time zone, revenue to double.
//!
//! Every file's footer is read first, so a file that is not Parquet, is truncated or empty,
//! or whose columns conflict with the other files' is reported by name before any work
//! starts. The models never see the input's own names or types, except through `input_row`,
//! a struct of the row's original columns that the rejects table is written from.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use datafusion::functions::core::expr_fn::{get_field, named_struct};
use datafusion::prelude::*;
use datafusion::scalar::ScalarValue;
use futures::{StreamExt, TryStreamExt};
use object_store::{ObjectMeta, ObjectStore};
use serde::Serialize;

use chrono::NaiveDate;

use crate::config::{ColumnSource, RunSettings};
use crate::error::UserError;
use crate::input_table::{
    DAY_COLUMN, InputTable, complete_columns, day_value, dictionary_type, small_dictionary_columns,
};
use crate::scope::DayRange;
use crate::storage::{self, InputLocation};

/// The view the first model reads.
pub const INPUT_VIEW: &str = "input_events";

/// How many footers are read at once.
const CONCURRENT_FOOTERS: usize = 16;

/// What to do with a file that cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnBadFile {
    #[default]
    Fail,
    /// Leave it out, list it in the run report, and exit with code 3.
    Skip,
}

/// One input file as listed and inspected.
#[derive(Debug, Clone, Serialize)]
pub struct InputFile {
    pub path: String,
    pub bytes: u64,
    pub rows: u64,
    /// The `dt=` folder the file sits in, when every input file sits in one.
    pub input_day: Option<String>,
    #[serde(skip)]
    url: String,
}

/// A file left out of the run.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BadFile {
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct Input {
    pub files: Vec<InputFile>,
    pub skipped: Vec<BadFile>,
    /// Whether the data has an event_name column (else every event is a page view).
    pub has_event_name: bool,
    /// Whether every file's event_id column holds a value in every row, as its statistics
    /// say: the event's key is then its event_id, and the rest of the row need not be read
    /// to make one.
    pub has_complete_event_id: bool,
    /// The input's own columns, as carried in `input_row` for the rejects table.
    pub original_columns: Vec<String>,
    /// Those of them read as dictionaries (`input_table`), though the files store text.
    pub dictionary_columns: Vec<String>,
    /// Things the user should know that are not errors (columns missing in some files, …).
    pub notes: Vec<String>,
}

impl Input {
    pub fn rows(&self) -> u64 {
        self.files.iter().map(|f| f.rows).sum()
    }
}

/// Lists and inspects the input, checks the columns and registers [`INPUT_VIEW`].
/// Files in `exclude` (found unreadable by an earlier attempt) are left out as skipped.
/// `distributed`: the plan goes to a Ballista cluster, which can only be sent the engine's
/// own table kinds.
pub async fn register(
    ctx: &SessionContext,
    settings: &RunSettings,
    on_bad_file: OnBadFile,
    exclude: &[BadFile],
    folders: Option<DayRange>,
    distributed: bool,
) -> Result<Input> {
    let location = storage::input_location(&settings.input)?;
    let store = ctx.runtime_env().object_store(&location.url)?;
    let mut listed = list_files(ctx, &location, store.as_ref()).await?;
    if listed.is_empty() {
        return Err(UserError::input(
            &location.display,
            "no Parquet files (*.parquet) found there",
        )
        .into());
    }
    // a dated run reads only the dt= folders around its days (files outside dt= folders
    // say nothing of their days, so they are always read); with none left, one file still
    // gives the columns, and no rows are read
    let mut no_rows = false;
    if let Some(range) = folders {
        let selected: Vec<ObjectMeta> = listed
            .iter()
            .filter(|meta| folder_day(&location, meta).is_none_or(|day| range.contains(day)))
            .cloned()
            .collect();
        if selected.is_empty() {
            listed.truncate(1);
            no_rows = true;
        } else {
            listed = selected;
        }
    }

    // read every footer: schema and row count, or why the file cannot be read
    let inspected: Vec<(ObjectMeta, Footer)> = futures::stream::iter(listed)
        .map(|meta| {
            let store = store.clone();
            async move {
                let result = inspect(store, &meta).await;
                (meta, result)
            }
        })
        .buffered(CONCURRENT_FOOTERS)
        .collect()
        .await;
    let mut skipped: Vec<BadFile> = exclude.to_vec();
    let mut good = Vec::new();
    for (meta, result) in inspected {
        let path = display_path(&location, &meta);
        if exclude.iter().any(|bad| bad.path == path) {
            continue;
        }
        match result {
            Ok(facts) => good.push((meta, path, facts)),
            Err(reason) if on_bad_file == OnBadFile::Skip => skipped.push(BadFile { path, reason }),
            Err(reason) => return Err(UserError::input(path, reason).into()),
        }
    }
    if good.is_empty() {
        return Err(UserError::input(&location.display, "no readable Parquet file").into());
    }

    let (table_schema, original_columns, mut notes) = unify_schemas(
        &location,
        settings,
        &good
            .iter()
            .map(|(_, path, facts)| (path.as_str(), &facts.schema))
            .collect::<Vec<_>>(),
    )?;

    // files in dt= folders are tagged with their folder, so each row knows the day it was
    // delivered under (late events are counted against it)
    let days: Vec<Option<String>> = good
        .iter()
        .map(|(meta, ..)| input_day(&location, meta))
        .collect();
    let by_folder = days.iter().all(Option::is_some);
    let tagged: Vec<(ObjectMeta, Option<String>)> = good
        .iter()
        .zip(&days)
        .map(|((meta, ..), day)| (meta.clone(), day.clone().filter(|_| by_folder)))
        .collect();
    // a cluster reads the files with the engine's own tables, as text
    let dictionaries = if distributed {
        Vec::new()
    } else {
        dictionary_columns(settings, &good)
    };
    tracing::debug!(columns = ?dictionaries, "text columns read as dictionaries");
    let raw = if distributed {
        let raw = per_folder_tables(ctx, &location, &table_schema, &tagged)?;
        if no_rows {
            raw.filter(lit(false))?
        } else {
            raw
        }
    } else {
        let scanned = if no_rows {
            Vec::new()
        } else {
            tagged
                .into_iter()
                .zip(&good)
                .map(|((meta, day), (_, _, facts))| (meta, day, facts.schema.clone()))
                .collect()
        };
        ctx.read_table(Arc::new(InputTable::new(
            location.url.object_store(),
            &table_schema,
            scanned,
            &dictionaries,
        )))?
    };

    // each column's type as read: a column read as a dictionary is one here
    let read_schema = raw.schema().inner().clone();
    let mut exprs = Vec::new();
    let mut has_event_name = false;
    for source in &settings.columns {
        let input_type = read_schema
            .field_with_name(&source.column)
            .ok()
            .map(|f| f.data_type().clone());
        if source.field == "event_name" {
            has_event_name = input_type.is_some();
        }
        if input_type.is_none() && (source.required || source.explicit) {
            return Err(missing_column(&location, source, &table_schema).into());
        }
        exprs.extend(canonical_exprs(
            &location,
            source,
            input_type.as_ref(),
            dictionaries.contains(&source.column),
            settings,
        )?);
    }
    exprs.push(ident(DAY_COLUMN).alias("input_day"));
    let mut fields = Vec::new();
    for name in &original_columns {
        fields.push(lit(name.as_str()));
        fields.push(ident(name));
    }
    exprs.push(named_struct(fields).alias("input_row"));
    ctx.register_table(INPUT_VIEW, raw.select(exprs)?.into_view())?;

    let files = good
        .iter()
        .zip(days)
        .filter(|_| !no_rows)
        .map(|((meta, path, facts), day)| {
            Ok(InputFile {
                path: path.clone(),
                bytes: meta.size,
                rows: facts.rows,
                input_day: day,
                url: file_url(&location, meta)?.as_str().to_string(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if !skipped.is_empty() {
        notes.push(format!("{} bad file(s) skipped", skipped.len()));
    }
    let has_complete_event_id = settings
        .columns
        .iter()
        .find(|source| source.field == "event_id")
        .is_some_and(|source| {
            !no_rows
                && good
                    .iter()
                    .all(|(_, _, facts)| facts.complete.contains(&source.column))
        });
    Ok(Input {
        files,
        skipped,
        has_event_name,
        has_complete_event_id,
        original_columns,
        dictionary_columns: dictionaries,
        notes,
    })
}

/// The rejects as the user's own rows: `input_row` unpacked into the original columns,
/// followed by the rejects' other columns (`reject_reason`, `dt`).
pub fn with_original_columns(rejects: DataFrame, input: &Input) -> Result<DataFrame> {
    let mut exprs: Vec<Expr> = input
        .original_columns
        .iter()
        .map(|name| {
            let value = get_field(col("input_row"), name.as_str());
            // as the file stores it (cast here, for the few rejected rows only: in the view
            // every row paid for it)
            if input.dictionary_columns.contains(name) {
                cast(value, DataType::Utf8).alias(name)
            } else {
                value.alias(name)
            }
        })
        .collect();
    for field in rejects.schema().fields() {
        if field.name() != "input_row" && !input.original_columns.contains(field.name()) {
            exprs.push(ident(field.name()));
        }
    }
    Ok(rejects.select(exprs)?)
}

/// The text columns read as dictionaries: those every file stores with a small dictionary
/// and that feed a text field other than the user and event ids, which the run hashes,
/// sorts and compares as keys (and which are rarely few). A column that feeds no field is
/// only carried for the rejects table, and stays as it is.
fn dictionary_columns(
    settings: &RunSettings,
    files: &[(ObjectMeta, String, FileFacts)],
) -> Vec<String> {
    let Some((_, _, first)) = files.first() else {
        return Vec::new();
    };
    first
        .small_dictionaries
        .iter()
        .filter(|column| {
            let mut fields = settings
                .columns
                .iter()
                .filter(|source| &source.column == *column)
                .map(|source| source.field)
                .peekable();
            fields.peek().is_some()
                && fields
                    .all(|field| !["user_id", "event_id", "event_time", "revenue"].contains(&field))
        })
        .filter(|column| {
            files
                .iter()
                .all(|(_, _, facts)| facts.small_dictionaries.contains(column))
        })
        .cloned()
        .collect()
}

/// The input as one listing table per day folder, unioned, each tagged with its day: what a
/// Ballista cluster can be sent (its plans carry the engine's own table kinds only). It
/// reads every folder at once, which costs memory that a cluster's executors have.
fn per_folder_tables(
    ctx: &SessionContext,
    location: &InputLocation,
    schema: &SchemaRef,
    files: &[(ObjectMeta, Option<String>)],
) -> Result<DataFrame> {
    let mut groups: BTreeMap<Option<String>, Vec<&ObjectMeta>> = BTreeMap::new();
    for (meta, day) in files {
        groups.entry(day.clone()).or_default().push(meta);
    }
    let mut frames = Vec::new();
    for (day, metas) in groups {
        let urls = metas
            .iter()
            .map(|meta| file_url(location, meta))
            .collect::<Result<Vec<_>>>()?;
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(
                ListingOptions::new(Arc::new(ParquetFormat::default()))
                    .with_file_extension(".parquet"),
            )
            .with_schema(schema.clone());
        let frame = ctx.read_table(Arc::new(ListingTable::try_new(config)?))?;
        frames.push(frame.with_column(DAY_COLUMN, lit(day_value(day.as_deref())))?);
    }
    // the first file at least is always given: it holds the columns
    let mut table = frames.remove(0);
    for frame in frames {
        table = table.union(frame)?;
    }
    Ok(table)
}

/// Reads a file through, every column, to find out whether its data (not only its footer)
/// decodes.
pub async fn check_readable(ctx: &SessionContext, file: &InputFile) -> Result<(), String> {
    let frame = ctx
        .read_parquet(file.url.as_str(), ParquetReadOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let mut stream = frame.execute_stream().await.map_err(|e| e.to_string())?;
    while let Some(batch) = stream.next().await {
        batch.map_err(|e| format!("corrupt data in the file: {e}"))?;
    }
    Ok(())
}

async fn list_files(
    ctx: &SessionContext,
    location: &InputLocation,
    store: &dyn ObjectStore,
) -> Result<Vec<ObjectMeta>> {
    let state = ctx.state();
    let mut files: Vec<ObjectMeta> = location
        .url
        .list_all_files(&state, store, ".parquet")
        .await
        .with_context(|| format!("cannot list the input {}", location.display))?
        .try_filter(|meta| futures::future::ready(location.matches(&meta.location)))
        .try_collect()
        .await
        .with_context(|| format!("cannot list the input {}", location.display))?;
    files.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(files)
}

/// What a file's footer tells, or why the file cannot be read.
type Footer = Result<FileFacts, String>;

struct FileFacts {
    schema: SchemaRef,
    rows: u64,
    /// Its text columns stored with small dictionaries (see `input_table`).
    small_dictionaries: Vec<String>,
    /// Its columns whose statistics say they hold no NULL.
    complete: Vec<String>,
}

/// The footer of one file.
async fn inspect(store: Arc<dyn ObjectStore>, meta: &ObjectMeta) -> Footer {
    if meta.size == 0 {
        return Err("empty file (0 bytes), not a Parquet file".into());
    }
    let metadata = DFParquetMetadata::new(store.as_ref(), meta)
        .fetch_metadata()
        .await
        .map_err(|e| {
            format!(
                "not a readable Parquet file ({} bytes; truncated or corrupt?): {e}",
                meta.size
            )
        })?;
    let file = metadata.file_metadata();
    let schema =
        parquet::arrow::parquet_to_arrow_schema(file.schema_descr(), file.key_value_metadata())
            .map_err(|e| format!("a Parquet schema that Arrow cannot read: {e}"))?;
    Ok(FileFacts {
        small_dictionaries: small_dictionary_columns(&metadata, &schema),
        complete: complete_columns(&metadata, &schema),
        schema: Arc::new(schema),
        rows: u64::try_from(file.num_rows()).unwrap_or(0),
    })
}

/// The file as a URL of its store: `file:///…` or `s3://bucket/…`.
fn object_url(location: &InputLocation, meta: &ObjectMeta) -> String {
    format!("{}{}", location.url.object_store().as_str(), meta.location)
}

/// The path as the user would recognise it: absolute for local files, else the URL.
fn display_path(location: &InputLocation, meta: &ObjectMeta) -> String {
    if location.url.scheme() == "file" {
        format!("/{}", meta.location)
    } else {
        object_url(location, meta)
    }
}

fn file_url(location: &InputLocation, meta: &ObjectMeta) -> Result<ListingTableUrl> {
    Ok(ListingTableUrl::parse(object_url(location, meta))?)
}

/// `2026-11-21` when the file sits directly in a `dt=2026-11-21` folder under the input.
fn input_day(location: &InputLocation, meta: &ObjectMeta) -> Option<String> {
    folder_day(location, meta).map(|day| day.to_string())
}

fn folder_day(location: &InputLocation, meta: &ObjectMeta) -> Option<NaiveDate> {
    let mut parts = location.url.strip_prefix(&meta.location)?;
    let first = parts.next()?;
    let day = first.strip_prefix("dt=")?;
    let rest: Vec<&str> = parts.collect();
    if rest.len() != 1 {
        return None;
    }
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

/// One schema for all files. A mapped column must have one kind of type in every file
/// (string flavours, integer widths and timestamp units are unified); other columns are
/// carried into the rejects table when they agree, and noted when they do not.
fn unify_schemas(
    location: &InputLocation,
    settings: &RunSettings,
    files: &[(&str, &SchemaRef)],
) -> Result<(SchemaRef, Vec<String>, Vec<String>), UserError> {
    let mut columns: Vec<String> = Vec::new();
    let mut types: BTreeMap<String, Vec<(&str, DataType)>> = BTreeMap::new();
    for (path, schema) in files {
        for field in schema.fields() {
            if !types.contains_key(field.name()) {
                columns.push(field.name().clone());
            }
            types
                .entry(field.name().clone())
                .or_default()
                .push((path, field.data_type().clone()));
        }
    }
    let mut notes = Vec::new();
    let mut fields = Vec::new();
    let mut original = Vec::new();
    for name in &columns {
        let seen = &types[name];
        let mapped = settings.columns.iter().find(|c| &c.column == name);
        match unified_type(seen) {
            Ok(data_type) => {
                fields.push(Field::new(name, data_type, true));
                original.push(name.clone());
            }
            Err(((file_a, type_a), (file_b, type_b))) => {
                let message = format!(
                    "column {name:?} has type {type_a} in {file_a} but {type_b} in {file_b}"
                );
                if mapped.is_some() {
                    return Err(UserError::input(
                        &location.display,
                        format!("files disagree: {message}"),
                    ));
                }
                notes.push(format!("{message}: not carried into the rejects table"));
            }
        }
        if seen.len() < files.len() {
            let missing: Vec<&str> = files
                .iter()
                .map(|(path, _)| *path)
                .filter(|path| !seen.iter().any(|(p, _)| p == path))
                .collect();
            let example = missing
                .iter()
                .take(3)
                .copied()
                .collect::<Vec<_>>()
                .join(", ");
            match mapped {
                Some(source) if source.required => {
                    return Err(UserError::input(
                        &location.display,
                        format!(
                            "files disagree: required column {name:?} ({}) is missing in {} file(s), e.g. {example}",
                            source.field,
                            missing.len()
                        ),
                    ));
                }
                Some(source) => notes.push(format!(
                    "column {name:?} ({}) is missing in {} file(s), e.g. {example}: read as NULL there",
                    source.field,
                    missing.len()
                )),
                None => {}
            }
        }
    }
    Ok((Arc::new(Schema::new(fields)), original, notes))
}

type Conflict<'a> = ((&'a str, DataType), (&'a str, DataType));

fn unified_type<'a>(seen: &[(&'a str, DataType)]) -> Result<DataType, Conflict<'a>> {
    let first = &seen[0];
    if seen.iter().all(|(_, t)| t == &first.1) {
        return Ok(first.1.clone());
    }
    let kind = |t: &DataType| -> u8 {
        match t {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => 1,
            DataType::Dictionary(_, v)
                if matches!(
                    **v,
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                ) =>
            {
                1
            }
            t if t.is_integer() => 2,
            t if t.is_floating()
                || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..)) =>
            {
                3
            }
            DataType::Timestamp(_, Some(_)) => 4,
            DataType::Timestamp(_, None) => 5,
            _ => 0,
        }
    };
    let k = kind(&first.1);
    if let Some(other) = seen.iter().find(|(_, t)| k == 0 || kind(t) != k) {
        let other = if k == 0 {
            seen.iter().find(|(_, t)| t != &first.1).unwrap_or(other)
        } else {
            other
        };
        return Err(((first.0, first.1.clone()), (other.0, other.1.clone())));
    }
    Ok(match k {
        1 => DataType::Utf8,
        2 => DataType::Int64,
        3 => DataType::Float64,
        4 => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        _ => DataType::Timestamp(TimeUnit::Microsecond, None),
    })
}

fn missing_column(location: &InputLocation, source: &ColumnSource, schema: &Schema) -> UserError {
    let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let why = if source.explicit {
        format!(
            "[columns] {} = {:?} in the config",
            source.field, source.column
        )
    } else {
        format!("required field {}", source.field)
    };
    UserError::input(
        &location.display,
        format!(
            "column {:?} ({why}) is not in the input; its columns are: {}",
            source.column,
            columns.join(", ")
        ),
    )
}

/// The expressions that produce a canonical field (event_time brings a second one,
/// `has_event_time`, so the models can tell a missing time from an unparsable one).
fn canonical_exprs(
    location: &InputLocation,
    source: &ColumnSource,
    input_type: Option<&DataType>,
    read_as_dictionary: bool,
    settings: &RunSettings,
) -> Result<Vec<Expr>, UserError> {
    let name = source.field;
    let column = ident(&source.column);
    let wrong_type = |expected: &str| {
        UserError::input(
            &location.display,
            format!(
                "column {:?} (mapped to {name}) has type {}; expected {expected}",
                source.column,
                input_type.map(|t| t.to_string()).unwrap_or_default()
            ),
        )
    };
    let exprs = match name {
        "event_time" => {
            let reporting = DataType::Timestamp(
                TimeUnit::Microsecond,
                Some(settings.sessions.timezone.as_str().into()),
            );
            let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
            let parsed = match input_type {
                // naive timestamps and strings without an offset are UTC: label them so
                // before any zone conversion
                Some(
                    DataType::Timestamp(..)
                    | DataType::Utf8
                    | DataType::LargeUtf8
                    | DataType::Utf8View,
                ) => try_cast(column.clone(), utc),
                // integers are epoch milliseconds
                Some(DataType::Int64) => try_cast(
                    try_cast(
                        column.clone(),
                        DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                    ),
                    utc,
                ),
                _ => {
                    return Err(wrong_type(
                        "a timestamp (any unit, with or without a time zone), an int64 of epoch milliseconds or an ISO-8601 string",
                    ));
                }
            };
            vec![
                cast(parsed, reporting).alias("event_time"),
                column.is_not_null().alias("has_event_time"),
            ]
        }
        "revenue" => {
            let value = match input_type {
                None => lit(ScalarValue::Float64(None)),
                Some(t) if t.is_numeric() => cast(column, DataType::Float64),
                Some(_) => return Err(wrong_type("a number")),
            };
            vec![value.alias(name)]
        }
        _ => {
            let value = match input_type {
                None => lit(ScalarValue::Utf8(None)),
                // read as a dictionary (input_table): kept so, the models' functions and
                // comparisons take either
                _ if read_as_dictionary => cast(column, dictionary_type()),
                Some(DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) => {
                    cast(column, DataType::Utf8)
                }
                Some(DataType::Dictionary(_, value))
                    if matches!(
                        **value,
                        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                    ) =>
                {
                    cast(column, DataType::Utf8)
                }
                Some(t) if t.is_integer() => cast(column, DataType::Utf8),
                Some(_) => return Err(wrong_type("a string (or an integer)")),
            };
            vec![value.alias(name)]
        }
    };
    Ok(exprs)
}
