//! sessionize: raw web and app events in, visitor sessions and marketing metrics out.
//!
//! The whole `run` pipeline, top to bottom, is [`run`] and [`compute`]: take the output's
//! lock and clean up after killed runs → read the input and map its columns → register the
//! SQL models → write `sessions`, then `rejects`, then the metrics and `data_quality` tables
//! from what was written → check that every input row is accounted for → move every written
//! partition into place → write the run report.

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

use std::time::{Duration, Instant};

use anyhow::Result;
use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use datafusion::functions_aggregate::expr_fn::{count, sum};
use datafusion::prelude::*;

use crate::config::RunSettings;
use crate::error::exit;
use crate::events::{BadFile, OnBadFile};
use crate::report::{RowCounts, RunReport, Status};
use crate::storage::OutputRoot;
use crate::write::{Staging, TableWrite};

/// How a run behaves, beyond what it computes.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub on_bad_file: OnBadFile,
    /// How long to wait for another run on the same output to finish.
    pub wait_for_lock: Duration,
}

/// What a finished run computed.
struct Computed {
    input_files: Vec<events::InputFile>,
    skipped_files: Vec<BadFile>,
    counts: RowCounts,
    tables: Vec<TableWrite>,
    notes: Vec<String>,
}

/// Runs the job once and writes its report, whether it succeeds or not. Returns the report
/// of a run that finished; the error of one that did not.
pub async fn run(settings: &RunSettings, options: &RunOptions) -> Result<RunReport> {
    let started = Instant::now();
    let started_at = chrono::Utc::now();
    let run_id = format!(
        "{}-{}",
        started_at.format("%Y%m%dT%H%M%S%.3fZ"),
        std::process::id()
    );
    let stores = engine::context()?;
    storage::register_stores(&stores, settings)?;
    let root = OutputRoot::new(&settings.output, &stores)?;

    // one run at a time per output; what a killed run left is finished or removed
    let lock = root.lock(options.wait_for_lock).await?;
    let recovered = root.recover().await?;

    let result = compute(settings, options, &root, &run_id, started_at).await;
    let mut report = RunReport {
        run_id,
        started_at: started_at.to_rfc3339(),
        finished_at: chrono::Utc::now().to_rfc3339(),
        seconds: started.elapsed().as_secs_f64(),
        status: Status::Failed,
        exit_code: exit::FAILURE,
        error: None,
        settings: settings.clone(),
        input_files: Vec::new(),
        skipped_files: Vec::new(),
        counts: RowCounts::default(),
        tables: Vec::new(),
        partitions_replaced: Vec::new(),
        notes: recovered,
    };
    match result {
        Ok(computed) => {
            let skipped = !computed.skipped_files.is_empty();
            report.status = if skipped {
                Status::OkWithSkippedFiles
            } else {
                Status::Ok
            };
            report.exit_code = if skipped {
                exit::SKIPPED_FILES
            } else {
                exit::OK
            };
            report.partitions_replaced = computed
                .tables
                .iter()
                .flat_map(|t| t.partitions.iter().map(move |p| format!("{}/{p}", t.table)))
                .collect();
            report.input_files = computed.input_files;
            report.skipped_files = computed.skipped_files;
            report.counts = computed.counts;
            report.tables = computed.tables;
            report.notes.extend(computed.notes);
            report.write(&root).await?;
            lock.release().await;
            Ok(report)
        }
        Err(error) => {
            report.exit_code = error::exit_code(&error);
            report.error = Some(format!("{error:#}"));
            // the report is a courtesy here: the run's own error is what matters
            let _ = report.write(&root).await;
            lock.release().await;
            Err(error)
        }
    }
}

/// The pipeline proper. When the engine meets a file whose data does not decode, the file
/// is found and named; with `--on-bad-file skip` the pipeline starts again without it.
async fn compute(
    settings: &RunSettings,
    options: &RunOptions,
    root: &OutputRoot,
    run_id: &str,
    started_at: chrono::DateTime<chrono::Utc>,
) -> Result<Computed> {
    let mut unreadable: Vec<BadFile> = Vec::new();
    loop {
        let ctx = engine::context()?;
        storage::register_stores(&ctx, settings)?;
        let input = events::register(&ctx, settings, options.on_bad_file, &unreadable).await?;
        match compute_once(&ctx, settings, root, run_id, started_at, &input).await {
            Ok((counts, tables)) => {
                return Ok(Computed {
                    input_files: input.files,
                    skipped_files: input.skipped,
                    counts,
                    tables,
                    notes: input.notes,
                });
            }
            Err(error) => {
                let Some(bad) = find_unreadable_file(&ctx, &input).await else {
                    return Err(error);
                };
                if options.on_bad_file == OnBadFile::Fail {
                    return Err(error::UserError::input(bad.path, bad.reason).into());
                }
                unreadable.push(bad);
            }
        }
    }
}

async fn compute_once(
    ctx: &SessionContext,
    settings: &RunSettings,
    root: &OutputRoot,
    run_id: &str,
    started_at: chrono::DateTime<chrono::Utc>,
    input: &events::Input,
) -> Result<(RowCounts, Vec<TableWrite>)> {
    // clean and sessionize: the SQL models
    let facts = models::RunFacts {
        run_id,
        started_us: started_at.timestamp_micros(),
        run_day: config::local_day(started_at, &settings.sessions.timezone)?,
        has_event_name: input.has_event_name,
    };
    let parameters = models::Parameters::new(settings, &facts);
    models::register_event_lists(ctx, &settings.sessions)?;
    models::register(ctx, models::SESSION_MODELS, &parameters).await?;

    // write: sessions and rejects first; the metrics and counts then read what was written
    let mut staging = Staging::create(root.clone(), run_id)?;
    staging.write(ctx, models::SESSIONS_TABLE).await?;
    staging
        .register_written(ctx, models::SESSIONS_TABLE)
        .await?;
    let rejects = events::with_original_columns(
        ctx.table(models::REJECTS_MODEL).await?,
        &input.original_columns,
    )?;
    staging.write_frame(models::REJECTS_TABLE, rejects).await?;
    staging.register_written(ctx, models::REJECTS_TABLE).await?;
    models::register(ctx, models::METRIC_MODELS, &parameters).await?;
    for table in models::METRIC_TABLES {
        staging.write(ctx, table).await?;
    }
    models::register(ctx, models::QUALITY_MODELS, &parameters).await?;
    staging.write(ctx, models::DATA_QUALITY_TABLE).await?;
    staging
        .register_written(ctx, models::DATA_QUALITY_TABLE)
        .await?;

    // every input row is accounted for, or nothing is committed
    let counts = count_rows(ctx, input).await?;
    counts.check()?;
    let tables = staging.commit().await?;
    Ok((counts, tables))
}

/// After a failed attempt: the first input file whose data does not decode, if any.
async fn find_unreadable_file(ctx: &SessionContext, input: &events::Input) -> Option<BadFile> {
    for file in &input.files {
        if let Err(reason) = events::check_readable(ctx, file).await {
            return Some(BadFile {
                path: file.path.clone(),
                reason,
            });
        }
    }
    None
}

/// The run's counts, each from its own source: the files' footers, the written sessions,
/// the written rejects and the duplicates the models found.
async fn count_rows(ctx: &SessionContext, input: &events::Input) -> Result<RowCounts> {
    let mut counts = RowCounts {
        rows_read: input.rows(),
        ..RowCounts::default()
    };
    let sessions = ctx
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
    counts.sessions = int_at(sessions[0].column(0), 0);
    counts.events_sessionized = int_at(sessions[0].column(1), 0);

    let quality = ctx
        .table(models::DATA_QUALITY_TABLE)
        .await?
        .aggregate(
            vec![],
            vec![
                sum(col("duplicates")).alias("d"),
                sum(col("late_events")).alias("l"),
            ],
        )?
        .collect()
        .await?;
    counts.duplicates = int_at(quality[0].column(0), 0);
    counts.late_events = int_at(quality[0].column(1), 0);

    let rejects = ctx
        .table(models::REJECTS_TABLE)
        .await?
        .aggregate(
            vec![col("reject_reason")],
            vec![count(lit(1)).alias("rows")],
        )?
        .collect()
        .await?;
    for batch in &rejects {
        let reasons = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8)?;
        let reasons = reasons.as_string::<i32>();
        for i in 0..batch.num_rows() {
            counts
                .rejected
                .insert(reasons.value(i).to_string(), int_at(batch.column(1), i));
        }
    }
    Ok(counts)
}

fn int_at(column: &arrow::array::ArrayRef, i: usize) -> u64 {
    let values = column.as_primitive::<Int64Type>();
    if values.is_null(i) {
        0
    } else {
        values.value(i).max(0) as u64
    }
}
