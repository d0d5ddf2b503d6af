//! Reads the input files and maps their columns onto the canonical event fields the SQL
//! models use (`[columns]` in the config), converting each to one type: strings to Utf8,
//! event_time to microseconds in the reporting time zone, revenue to double.
//!
//! The models never see the input's own names or types; everything about them is checked
//! here, so a wrong type is reported with the file, the column and what was expected.

use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::datatypes::{DataType, Schema, TimeUnit};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig};
use datafusion::prelude::*;
use datafusion::scalar::ScalarValue;
use futures::TryStreamExt;

use crate::config::{ColumnSource, RunSettings};
use crate::error::UserError;
use crate::storage::{self, InputLocation};

/// The view the first model reads.
pub const INPUT_VIEW: &str = "input_events";

/// One input file as listed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InputFile {
    pub path: String,
    pub bytes: u64,
}

#[derive(Debug, Clone)]
pub struct Input {
    pub files: Vec<InputFile>,
    /// Whether the data has an event_name column (else every event is a page view).
    pub has_event_name: bool,
}

/// Lists the input, checks the columns and registers [`INPUT_VIEW`].
pub async fn register(ctx: &SessionContext, settings: &RunSettings) -> Result<Input> {
    let location = storage::input_location(&settings.input)?;
    let files = list_files(ctx, &location).await?;
    if files.is_empty() {
        return Err(UserError::input(
            &location.display,
            "no Parquet files (*.parquet) found there",
        )
        .into());
    }

    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let schema = options
        .infer_schema(&ctx.state(), &location.url)
        .await
        .map_err(|e| {
            UserError::input(
                &location.display,
                format!("cannot read the Parquet schema: {e}"),
            )
        })?;
    let config = ListingTableConfig::new(location.url.clone())
        .with_listing_options(options)
        .with_schema(schema.clone());
    let table = ListingTable::try_new(config)?;
    let raw = ctx.read_table(Arc::new(table))?;

    let mut exprs = Vec::new();
    let mut has_event_name = false;
    for source in &settings.columns {
        let found = schema.field_with_name(&source.column).ok();
        if source.field == "event_name" {
            has_event_name = found.is_some();
        }
        let input_type = match found {
            Some(field) => Some(field.data_type().clone()),
            None if source.required || source.explicit => {
                return Err(missing_column(&location, source, &schema).into());
            }
            None => None,
        };
        exprs.extend(canonical_exprs(
            &location,
            source,
            input_type.as_ref(),
            settings,
        )?);
    }
    let events = raw.select(exprs)?;
    ctx.register_table(INPUT_VIEW, events.into_view())?;
    Ok(Input {
        files,
        has_event_name,
    })
}

async fn list_files(ctx: &SessionContext, location: &InputLocation) -> Result<Vec<InputFile>> {
    let state = ctx.state();
    let store = ctx.runtime_env().object_store(&location.url)?;
    let mut files: Vec<InputFile> = location
        .url
        .list_all_files(&state, store.as_ref(), ".parquet")
        .await
        .with_context(|| format!("cannot list the input {}", location.display))?
        .map_ok(|meta| InputFile {
            path: meta.location.to_string(),
            bytes: meta.size,
        })
        .try_collect()
        .await
        .with_context(|| format!("cannot list the input {}", location.display))?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
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
                // naive timestamps are UTC: label them so before any zone conversion
                Some(DataType::Timestamp(_, None))
                | Some(DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) => {
                    try_cast(column.clone(), utc)
                }
                Some(DataType::Timestamp(_, Some(_))) => try_cast(column.clone(), utc),
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
