//! `sessionize query` and `sessionize tables`: ad hoc SQL over a run's outputs.
//!
//! Every table folder under the output (`sessions`, `rejects`, `metrics_*`,
//! `data_quality`, `users`, and any table a later version adds) is registered under its
//! folder's name; a table in `dt=` folders has `dt` as a partition column, so that a filter
//! on it reads only the days it names (`users`, written whole, has none). When an input is configured, `events` is the input as the run reads it:
//! mapped onto the canonical columns. Statements are read-only: no `insert`, no `copy`.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::DataFusionError;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig};
use datafusion::functions_aggregate::expr_fn::count;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::*;
use datafusion::scalar::ScalarValue;
use datafusion::sql::parser::DFParser;

use crate::config::ReadSettings;
use crate::error::UserError;
use crate::events::{self, OnBadFile};
use crate::results::{Format, Results};
use crate::storage::OutputRoot;
use crate::write::PARTITION_COLUMN;
use crate::{engine, models, storage};

/// The input, as the models see it.
pub const EVENTS_TABLE: &str = "events";

/// Where the statements of `sessionize query` come from.
#[derive(Debug, Clone)]
pub enum Statements {
    Text(String),
    File(PathBuf),
    /// One of the example queries of `sql/examples/`.
    Example(String),
    /// The SQL given on stdin, or an interactive prompt when stdin is a terminal.
    StdinOrPrompt,
}

/// What `sessionize query` was asked to do.
#[derive(Debug, Clone)]
pub struct QueryRequest {
    pub statements: Statements,
    pub format: Option<Format>,
    pub out: Option<PathBuf>,
    pub explain: bool,
}

/// The output's tables, registered in a session ready for SQL.
pub struct Catalog {
    ctx: SessionContext,
    tables: Vec<String>,
    /// The tables written whole (like `users`), without `dt` folders.
    whole: Vec<String>,
    root: OutputRoot,
}

/// `sessionize query`.
pub async fn query(settings: &ReadSettings, request: &QueryRequest) -> Result<()> {
    let sql = match &request.statements {
        Statements::Text(sql) => sql.clone(),
        Statements::File(path) => std::fs::read_to_string(path).map_err(|e| {
            UserError::input(
                path.display().to_string(),
                format!("cannot read the SQL file: {e}"),
            )
        })?,
        Statements::Example(name) => example(name)?.to_string(),
        Statements::StdinOrPrompt if std::io::stdin().is_terminal() => {
            let catalog = Catalog::open(settings).await?;
            return crate::prompt::interactive(&catalog).await;
        }
        Statements::StdinOrPrompt => {
            let mut sql = String::new();
            std::io::stdin()
                .read_to_string(&mut sql)
                .context("cannot read SQL from stdin")?;
            sql
        }
    };
    if sql.trim().trim_matches(';').trim().is_empty() {
        return Err(UserError::input("SQL", "no statement to run").into());
    }
    let catalog = Catalog::open(settings).await?;
    let results = catalog.run(&sql, request.explain).await?;
    let format = Format::choose(request.format, request.out.as_deref());
    crate::results::write_all(&results, format, request.out.as_deref())
}

/// `sessionize tables`: every table, its days and their rows.
pub async fn tables(settings: &ReadSettings, format: Option<Format>) -> Result<()> {
    let catalog = Catalog::open(settings).await?;
    let listing = catalog.partitions().await?;
    crate::results::write_all(&[listing], Format::choose(format, None), None)
}

/// The example query `name`, or an error listing the examples.
fn example(name: &str) -> Result<&'static str, UserError> {
    models::example(name).map(|model| model.sql).ok_or_else(|| {
        let names: Vec<&str> = models::EXAMPLES.iter().map(|m| m.name).collect();
        UserError::input(
            "--example",
            format!(
                "no example named {name:?}; the examples are {}",
                names.join(", ")
            ),
        )
    })
}

/// The examples, one line each: name and what it shows (its SQL's first comment).
pub fn list_examples() -> String {
    models::EXAMPLES
        .iter()
        .map(|model| format!("{:<24}{}\n", model.name, models::summary(model)))
        .collect()
}

impl Catalog {
    /// Registers every table of the output, and `events` when an input is configured.
    pub async fn open(settings: &ReadSettings) -> Result<Catalog> {
        let ctx = engine::query_context()?;
        storage::register_store(&ctx, &settings.output, &settings.s3)?;
        let root = OutputRoot::open(&settings.output, &ctx)?;
        let (mut tables, mut whole) = (Vec::new(), Vec::new());
        for table in root.tables().await? {
            match output_table(&ctx, &root, &table).await {
                Ok((provider, partitioned)) => {
                    ctx.register_table(table.as_str(), provider)?;
                    if !partitioned {
                        whole.push(table.clone());
                    }
                    tables.push(table);
                }
                Err(e) => tracing::warn!(table, error = %e, "table left out: it cannot be read"),
            }
        }
        if let Some(run) = &settings.run {
            storage::register_store(&ctx, &run.input, &run.s3)?;
            match events::register(&ctx, run, OnBadFile::Fail, &[], None, false).await {
                Ok(_) => {
                    let events = ctx
                        .table(events::INPUT_VIEW)
                        .await?
                        .drop_columns(&["input_row"])?;
                    ctx.register_table(EVENTS_TABLE, events.into_view())?;
                    tables.push(EVENTS_TABLE.to_string());
                }
                Err(e) => {
                    tracing::warn!(input = %run.input, error = %format!("{e:#}"), "events left out: the input cannot be read")
                }
            }
        }
        tracing::debug!(?tables, "tables registered");
        Ok(Catalog {
            ctx,
            tables,
            whole,
            root,
        })
    }

    pub fn tables(&self) -> &[String] {
        &self.tables
    }

    /// Runs the statements of `sql` in order; returns the result of each that returns
    /// rows (a `create view` does not). With `explain`, each query's plan instead.
    pub async fn run(&self, sql: &str, explain: bool) -> Result<Vec<Results>> {
        let statements = DFParser::parse_sql(sql).map_err(|e| sql_error(sql, e))?;
        let read_only = SQLOptions::new().with_allow_dml(false);
        let mut results = Vec::new();
        for statement in statements {
            let plan = self
                .ctx
                .state()
                .statement_to_plan(statement)
                .await
                .map_err(|e| sql_error(sql, e))?;
            read_only
                .verify_plan(&plan)
                .map_err(|e| sql_error(sql, e))?;
            let returns_rows = !matches!(plan, LogicalPlan::Ddl(_) | LogicalPlan::Statement(_));
            let mut frame = self.ctx.execute_logical_plan(plan).await?;
            if !returns_rows {
                frame.collect().await?;
                continue;
            }
            if explain {
                frame = frame.explain(false, false)?;
            }
            let schema = Arc::new(frame.schema().as_arrow().clone());
            let batches = frame.collect().await.context("running the query")?;
            results.push(Results { schema, batches });
        }
        Ok(results)
    }

    /// `\d`: every table's columns and types, or one table's (`\d sessions`).
    pub async fn describe(&self, table: Option<&str>) -> Result<Results> {
        let names: Vec<&String> = match table {
            Some(name) => {
                let found = self
                    .tables
                    .iter()
                    .find(|t| t.as_str() == name)
                    .ok_or_else(|| {
                        UserError::input(
                            name,
                            format!("no such table; the tables are {}", self.tables.join(", ")),
                        )
                    })?;
                vec![found]
            }
            None => self.tables.iter().collect(),
        };
        let (mut tables, mut columns, mut types) = (Vec::new(), Vec::new(), Vec::new());
        for name in names {
            let frame = self.ctx.table(name.as_str()).await?;
            for field in frame.schema().fields() {
                tables.push(name.clone());
                columns.push(field.name().clone());
                types.push(field.data_type().to_string());
            }
        }
        text_results(vec![
            ("table", Arc::new(StringArray::from(tables))),
            ("column", Arc::new(StringArray::from(columns))),
            ("type", Arc::new(StringArray::from(types))),
        ])
    }

    /// Each output table's days and the rows in each (not `events`, which is the input);
    /// a table written whole has one line, without a day.
    pub async fn partitions(&self) -> Result<Results> {
        let (mut tables, mut days, mut rows) = (Vec::new(), Vec::new(), Vec::new());
        for table in self.tables.iter().filter(|t| t.as_str() != EVENTS_TABLE) {
            let day = if self.whole.contains(table) {
                lit(ScalarValue::Utf8(None))
            } else {
                col(PARTITION_COLUMN)
            };
            let counted = self
                .ctx
                .table(table.as_str())
                .await?
                .aggregate(
                    vec![day.alias(PARTITION_COLUMN)],
                    vec![count(lit(1)).alias("rows")],
                )?
                .collect()
                .await
                .with_context(|| format!("counting the rows of {table}"))?;
            // every day folder, the empty ones too (a day computed with nothing in it)
            let mut by_day: BTreeMap<Option<String>, i64> = BTreeMap::new();
            if self.whole.contains(table) {
                by_day.insert(None, 0);
            } else {
                for folder in self.root.partitions(table).await?.0 {
                    by_day.insert(Some(folder.trim_start_matches("dt=").to_string()), 0);
                }
            }
            for batch in &counted {
                let day = arrow::compute::cast(batch.column(0), &DataType::Utf8)?;
                let day = day
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .expect("cast to Utf8");
                let count = batch
                    .column(1)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .expect("count is Int64");
                for i in 0..batch.num_rows() {
                    by_day.insert(
                        day.is_valid(i).then(|| day.value(i).to_string()),
                        count.value(i),
                    );
                }
            }
            for (day, count) in by_day {
                tables.push(table.clone());
                days.push(day);
                rows.push(count);
            }
        }
        text_results(vec![
            ("table", Arc::new(StringArray::from(tables))),
            (PARTITION_COLUMN, Arc::new(StringArray::from(days))),
            ("rows", Arc::new(Int64Array::from(rows))),
        ])
    }
}

/// The table in `<output>/<table>/`: its Parquet files, with `dt` from their folders when
/// it is partitioned (and whether it is).
async fn output_table(
    ctx: &SessionContext,
    root: &OutputRoot,
    table: &str,
) -> Result<(Arc<ListingTable>, bool)> {
    let url = root.url_of(table)?;
    // strings as the run wrote them (Utf8), not as views
    let format = ParquetFormat::default().with_force_view_types(false);
    let mut options = ListingOptions::new(Arc::new(format)).with_file_extension(".parquet");
    let partitioned = options
        .infer_partitions(&ctx.state(), &url)
        .await?
        .iter()
        .any(|column| column == PARTITION_COLUMN);
    if partitioned {
        options =
            options.with_table_partition_cols(vec![(PARTITION_COLUMN.to_string(), DataType::Utf8)]);
    }
    let schema = options.infer_schema(&ctx.state(), &url).await?;
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(schema);
    Ok((Arc::new(ListingTable::try_new(config)?), partitioned))
}

fn text_results(columns: Vec<(&str, ArrayRef)>) -> Result<Results> {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, values)| Field::new(*name, values.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, v)| v).collect(),
    )?;
    Ok(Results {
        schema,
        batches: vec![batch],
    })
}

/// An error in the user's SQL, pointing at where it is when the engine says.
fn sql_error(sql: &str, error: DataFusionError) -> anyhow::Error {
    let message = error.strip_backtrace();
    let span = error
        .diagnostic()
        .and_then(|diagnostic| diagnostic.span)
        .map(|span| {
            let width = if span.end.line == span.start.line {
                span.end.column.saturating_sub(span.start.column)
            } else {
                1
            };
            (span.start.line, span.start.column, width)
        })
        .or_else(|| parser_position(&message).map(|(line, column)| (line, column, 1)));
    let Some((line, column, width)) = span.filter(|(line, column, _)| *line > 0 && *column > 0)
    else {
        return UserError::input("SQL", message).into();
    };
    let text = sql.lines().nth(line as usize - 1).unwrap_or_default();
    let marker = format!(
        "{}{}",
        " ".repeat(column as usize - 1),
        "^".repeat(width.max(1) as usize)
    );
    UserError::input(
        format!("SQL at line {line}, column {column}"),
        format!("{message}\n  {text}\n  {marker}"),
    )
    .into()
}

/// `… at Line: 1, Column: 8`, as the SQL parser words it.
fn parser_position(message: &str) -> Option<(u64, u64)> {
    let number_after = |label: &str| -> Option<u64> {
        let at = message.rfind(label)? + label.len();
        let digits: String = message[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    Some((number_after("Line: ")?, number_after("Column: ")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_positions() {
        assert_eq!(
            parser_position(
                "sql parser error: Expected: end of statement, found: x at Line: 2, Column: 15"
            ),
            Some((2, 15))
        );
        assert_eq!(parser_position("no position here"), None);
    }
}
