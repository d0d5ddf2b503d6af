//! sessionize: raw web and app events in, visitor sessions and marketing metrics out.
//!
//! The whole `run` pipeline, top to bottom, is [`run`]: read the input and map its columns →
//! register the SQL models → write `sessions` → write the metrics tables from the written
//! sessions → move every written partition into place → report.

pub mod cli;
pub mod config;
pub mod engine;
pub mod error;
pub mod events;
pub mod generate;
pub mod models;
pub mod report;
pub mod storage;
pub mod write;

use std::time::Instant;

use anyhow::Result;
use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use datafusion::functions_aggregate::expr_fn::{count, sum};
use datafusion::prelude::*;

use crate::config::RunSettings;
use crate::report::RunSummary;
use crate::storage::OutputRoot;
use crate::write::Staging;

/// Runs the job once: every table is computed, staged, then swapped into place.
pub async fn run(settings: &RunSettings) -> Result<RunSummary> {
    let started = Instant::now();
    let run_id = run_id();
    let ctx = engine::context()?;

    // read: the input files, mapped onto canonical columns
    let input = events::register(&ctx, settings).await?;
    let rows_read = ctx.table(events::INPUT_VIEW).await?.count().await? as u64;

    // clean and sessionize: the SQL models
    let parameters = models::Parameters::new(&settings.sessions, input.has_event_name);
    models::register_event_lists(&ctx, &settings.sessions)?;
    models::register(&ctx, models::SESSION_MODELS, &parameters).await?;

    // write: sessions first; the metrics then read the written sessions
    let mut staging = Staging::create(OutputRoot::new(&settings.output)?, &run_id)?;
    staging.write(&ctx, models::SESSIONS_TABLE).await?;
    staging
        .register_written(&ctx, models::SESSIONS_TABLE)
        .await?;
    models::register(&ctx, models::METRIC_MODELS, &parameters).await?;
    for table in models::METRIC_TABLES {
        staging.write(&ctx, table).await?;
    }

    // count before committing, so a failure here leaves the previous output in place
    let rejected = rejects_by_reason(&ctx).await?;
    let (sessions, events_sessionized) = session_totals(&ctx).await?;
    let tables = staging.commit()?;

    let rejected_total: u64 = rejected.iter().map(|(_, n)| n).sum();
    Ok(RunSummary {
        run_id,
        input_files: input.files,
        rows_read,
        duplicates: rows_read - rejected_total - events_sessionized,
        rejected,
        events_sessionized,
        sessions,
        tables,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A sortable id, unique per run on one machine.
fn run_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}-{}", now.as_millis(), std::process::id())
}

async fn rejects_by_reason(ctx: &SessionContext) -> Result<Vec<(String, u64)>> {
    let batches = ctx
        .table("rejected_events")
        .await?
        .aggregate(
            vec![col("reject_reason")],
            vec![count(lit(1)).alias("rows")],
        )?
        .sort(vec![col("reject_reason").sort(true, true)])?
        .collect()
        .await?;
    let mut counts = Vec::new();
    for batch in &batches {
        let reasons = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8)?;
        let reasons = reasons.as_string::<i32>();
        let rows = batch.column(1).as_primitive::<Int64Type>();
        for i in 0..batch.num_rows() {
            counts.push((reasons.value(i).to_string(), rows.value(i) as u64));
        }
    }
    Ok(counts)
}

/// (sessions, events in them), from the written sessions table.
async fn session_totals(ctx: &SessionContext) -> Result<(u64, u64)> {
    let batches = ctx
        .table(models::SESSIONS_TABLE)
        .await?
        .aggregate(
            vec![],
            vec![
                count(lit(1)).alias("sessions"),
                sum(col("event_count")).alias("events"),
            ],
        )?
        .collect()
        .await?;
    let batch = &batches[0];
    let sessions = batch.column(0).as_primitive::<Int64Type>().value(0) as u64;
    let events = batch.column(1).as_primitive::<Int64Type>();
    let events = if events.is_null(0) {
        0
    } else {
        events.value(0) as u64
    };
    Ok((sessions, events))
}
