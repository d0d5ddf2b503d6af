//! `sessionize validate`: checks a config and the input against it without running. The
//! config is resolved as `run` resolves it, every input file's footer is read, the columns
//! are mapped onto the canonical fields, and the first SQL model (`stg_events`, which every
//! other reads) is planned against the result, so what would stop a run at its start stops
//! here, with the same message.

use std::fmt;

use anyhow::Result;
use datafusion::arrow::datatypes::DataType;

use crate::config::RunSettings;
use crate::events::{self, OnBadFile};
use crate::scope::Window;
use crate::{config, engine, models, storage};

/// What was checked.
#[derive(Debug)]
pub struct Validation {
    pub input: String,
    pub output: String,
    pub files: usize,
    pub rows: u64,
    /// (canonical field, the input column read, its type as the models see it).
    pub columns: Vec<(String, String, DataType)>,
    pub notes: Vec<String>,
}

pub async fn validate(settings: &RunSettings) -> Result<Validation> {
    let ctx = engine::context()?;
    storage::register_stores(&ctx, settings)?;
    let input = events::register(&ctx, settings, OnBadFile::Fail, &[], None, false).await?;
    let window = Window::full();
    let now = chrono::Utc::now();
    let facts = models::RunFacts {
        run_id: "validate",
        started_us: now.timestamp_micros(),
        run_day: config::local_day(now, &settings.sessions.timezone)?,
        has_event_name: input.has_event_name,
        has_complete_event_id: input.has_complete_event_id,
        window: &window,
    };
    models::register(
        &ctx,
        &[models::STG_EVENTS],
        &models::Parameters::new(settings, &facts),
    )
    .await?;
    let canonical = ctx.table(events::INPUT_VIEW).await?;
    let columns = settings
        .columns
        .iter()
        .filter_map(|source| {
            let field = canonical
                .schema()
                .field_with_unqualified_name(source.field)
                .ok()?;
            let column = if input.original_columns.contains(&source.column) {
                source.column.clone()
            } else {
                "(not in the input: NULL)".to_string()
            };
            Some((source.field.to_string(), column, field.data_type().clone()))
        })
        .collect();
    Ok(Validation {
        input: settings.input.clone(),
        output: settings.output.clone(),
        files: input.files.len(),
        rows: input.rows(),
        columns,
        notes: input.notes.clone(),
    })
}

impl fmt::Display for Validation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "config and input are valid")?;
        writeln!(
            f,
            "input:  {} ({} files, {} rows)",
            self.input, self.files, self.rows
        )?;
        writeln!(f, "output: {}", self.output)?;
        writeln!(f, "columns (field <- input column: type):")?;
        for (field, column, data_type) in &self.columns {
            writeln!(f, "  {field:<14} <- {column}: {data_type}")?;
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        Ok(())
    }
}
