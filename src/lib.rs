//! sessionize: raw web and app events in, visitor sessions and marketing metrics out.
//!
//! The whole `run` pipeline, top to bottom, is [`run`], [`compute`] and `compute_once`: take
//! the output's lock and clean up after killed runs → decide the days to compute (all, or
//! a dated run's, widened as `scope` explains) → read the input around them and map its
//! columns → register the earlier runs' state and the SQL models → write `sessions`, then
//! `users`, `rejects`, the metrics and `data_quality` from what was written → check that
//! every input row is accounted for → move every written partition into place → write the
//! run report.

pub mod channels;
pub mod cli;
#[cfg(feature = "distributed")]
pub mod cluster;
pub mod config;
pub mod engine;
pub mod error;
pub mod event_sort;
pub mod events;
pub mod generate;
pub mod history;
pub mod input_table;
pub mod local_day;
pub mod logging;
pub mod memory_pool;
pub mod models;
pub mod ordered_values;
pub mod progress;
pub mod prompt;
pub mod query;
pub mod report;
pub mod results;
pub mod scope;
pub mod scratch;
pub mod session_window;
pub mod storage;
pub mod text_columns;
pub mod url_functions;
pub mod user_agents;
pub mod validate;
pub mod write;

/// What the unit tests of several modules share.
#[cfg(test)]
pub(crate) mod test_support {
    /// A fixed pseudo-random sequence (a linear congruential generator): each call gives a
    /// number below its bound, the same numbers on every machine.
    pub fn pseudo_random(seed: u64) -> impl FnMut(u64) -> u64 {
        let mut state = seed;
        move |bound| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % bound
        }
    }
}

use std::time::{Duration, Instant};

use anyhow::Result;
use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use datafusion::functions_aggregate::expr_fn::{count, sum};
use datafusion::prelude::*;

use crate::config::RunSettings;
use crate::error::exit;
use crate::events::{BadFile, OnBadFile};
use crate::report::{DryRun, MemoryUse, RowCounts, RunReport, Status};
use crate::scope::{DayRange, DayRequest, Window};
use crate::scratch::Scratch;
use crate::storage::OutputRoot;
use crate::write::{Staging, TableWrite, Written};

/// How a run behaves, beyond what it computes.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `--memory-limit` and `--temp-dir`.
    pub resources: engine::Resources,
    pub on_bad_file: OnBadFile,
    /// How long to wait for another run on the same output to finish.
    pub wait_for_lock: Duration,
    /// `--date`, `--from`/`--to`: none for a full run.
    pub days: DayRequest,
}

/// What a finished run computed.
struct Computed {
    input_files: Vec<events::InputFile>,
    skipped_files: Vec<BadFile>,
    counts: RowCounts,
    tables: Vec<TableWrite>,
    notes: Vec<String>,
    window: Window,
}

/// The run's identity and clock, fixed at its start.
struct RunClock {
    run_id: String,
    started_at: chrono::DateTime<chrono::Utc>,
    /// Today in the reporting time zone.
    today: chrono::NaiveDate,
}

impl RunClock {
    fn start(settings: &RunSettings) -> Result<Self> {
        let started_at = chrono::Utc::now();
        let run_id = format!(
            "{}-{}",
            started_at.format("%Y%m%dT%H%M%S%.3fZ"),
            std::process::id()
        );
        let today = config::local_day(started_at, &settings.sessions.timezone)?.parse()?;
        Ok(RunClock {
            run_id,
            started_at,
            today,
        })
    }
}

/// Runs the job once and writes its report, whether it succeeds or not. Returns the report
/// of a run that finished; the error of one that did not.
pub async fn run(settings: &RunSettings, options: &RunOptions) -> Result<RunReport> {
    let started = Instant::now();
    // removed, with every spill and scratch file, when the run returns
    let _temp_area = engine::configure(options.resources.clone())?;
    if matches!(settings.engine, config::Engine::Ballista { .. })
        && options.resources.memory_limit.is_some()
    {
        tracing::warn!(
            "--memory-limit bounds this process only: the cluster's executors run the queries \
             with the memory their own machines have"
        );
    }
    let clock = RunClock::start(settings)?;
    // bad days are the user's to fix before anything is touched
    let requested_days = scope::requested_days(&options.days, clock.today)?;
    let stores = engine::context()?;
    storage::register_stores(&stores, settings)?;
    let root = OutputRoot::new(&settings.output, &stores)?;

    // one run at a time per output; what a killed run left is finished or removed
    let lock = root.lock(options.wait_for_lock).await?;
    let recovered = root.recover().await?;
    tracing::info!(run_id = %clock.run_id, input = %settings.input, output = %settings.output, "run started");

    let result = compute(settings, options, &root, &clock).await;
    let mut report = RunReport {
        run_id: clock.run_id.clone(),
        started_at: clock.started_at.to_rfc3339(),
        finished_at: chrono::Utc::now().to_rfc3339(),
        seconds: started.elapsed().as_secs_f64(),
        status: Status::Failed,
        exit_code: exit::FAILURE,
        error: None,
        settings: settings.clone(),
        requested_days,
        days: None,
        input_files: Vec::new(),
        skipped_files: Vec::new(),
        counts: RowCounts::default(),
        tables: Vec::new(),
        partitions_replaced: Vec::new(),
        memory: MemoryUse::measure(options.resources.memory_limit),
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
                .flat_map(|t| {
                    let whole = t.partitions.is_empty().then(|| t.table.clone());
                    t.partitions
                        .iter()
                        .map(move |p| format!("{}/{p}", t.table))
                        .chain(whole)
                })
                .collect();
            report.days = computed.window.days;
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

/// `--dry-run`: what a run would read and replace, found without writing anything.
pub async fn dry_run(settings: &RunSettings, options: &RunOptions) -> Result<DryRun> {
    let clock = RunClock::start(settings)?;
    scope::requested_days(&options.days, clock.today)?;
    let ctx = engine::context()?;
    storage::register_stores(&ctx, settings)?;
    let root = OutputRoot::new(&settings.output, &ctx)?;
    let mut files = Vec::new();
    let plan = plan(settings, options, &root, &clock, &[], &mut files).await?;
    let input = events::register(
        &ctx,
        settings,
        options.on_bad_file,
        &[],
        plan.window.folders,
        false,
    )
    .await?;
    let mut partitions = Vec::new();
    let days = plan.window.day_labels();
    if plan.window.days.is_some() {
        let facts = run_facts(&clock, &input, &plan.window)?;
        let parameters = models::Parameters::new(settings, &facts);
        history::register(&ctx, &root, &plan.window).await?;
        models::register(&ctx, &[models::SESSION_ANCHORS], &parameters).await?;
        let anchor_days = ctx
            .sql("select distinct anchor_dt from session_anchors order by 1")
            .await?
            .collect()
            .await?;
        let mut all_days: Vec<String> = strings(&anchor_days);
        all_days.extend(days.iter().cloned());
        // the sessions tables and the metrics (read from them) also rewrite the earlier days
        // of the sessions the run extends; the others only the run's own days
        let shared = [models::SESSIONS_TABLE, models::BOT_SESSIONS_TABLE]
            .into_iter()
            .chain(models::metric_tables());
        let own = [models::REJECTS_TABLE, models::DATA_QUALITY_TABLE];
        let tables = shared
            .map(|t| (t, &all_days))
            .chain(own.into_iter().map(|t| (t, &days)));
        for (table, table_days) in tables {
            for day in table_days {
                partitions.push(format!("{table}/dt={day}"));
            }
        }
        partitions.push(models::USERS_TABLE.to_string());
    } else {
        partitions.push("every day the input has, in every table".to_string());
    }
    Ok(DryRun {
        requested: plan.requested,
        days: plan.window.days,
        notes: plan.notes,
        input_files: input.files.iter().map(|f| f.path.clone()).collect(),
        partitions,
    })
}

/// What a dated run will compute.
struct Plan {
    requested: Option<DayRange>,
    window: Window,
    notes: Vec<String>,
}

/// The days the run computes: those asked for, widened by what the output and the late
/// events in the requested folders require (see `scope`).
async fn plan(
    settings: &RunSettings,
    options: &RunOptions,
    root: &OutputRoot,
    clock: &RunClock,
    unreadable: &[BadFile],
    files_in_play: &mut Vec<events::InputFile>,
) -> Result<Plan> {
    let Some(requested) = scope::requested_days(&options.days, clock.today)? else {
        return Ok(Plan {
            requested: None,
            window: Window::full(),
            notes: Vec::new(),
        });
    };
    let existing = history::existing_days(root).await?;
    let extension = scope::extend_for_output(requested, &existing);
    let mut notes = extension.notes;
    let mut days = extension.days.unwrap_or(requested);

    // late events: only the requested folders' (the others' were their own runs' business)
    let ctx = engine::context()?;
    storage::register_stores(&ctx, settings)?;
    let requested_window = Window::for_days(requested, &settings.sessions)?;
    let input = events::register(
        &ctx,
        settings,
        options.on_bad_file,
        unreadable,
        Some(requested),
        false,
    )
    .await?;
    *files_in_play = input.files.clone();
    let in_folders = !input.files.is_empty() && input.files.iter().all(|f| f.input_day.is_some());
    if in_folders {
        let facts = run_facts(clock, &input, &requested_window)?;
        let parameters = models::Parameters::new(settings, &facts);
        models::register(&ctx, &[models::STG_EVENTS], &parameters).await?;
        models::register(&ctx, models::LATE_MODELS, &parameters).await?;
        let late = ctx.table(models::LATE_DAYS_MODEL).await?.collect().await?;
        // a scan of the requested folders, not written anywhere: copy_to_parquet's trim
        // does not see it
        engine::release_freed_memory();
        let earliest = strings(&late).first().and_then(|d| d.parse().ok());
        let (grown, note) = scope::extend_for_late_events(days, earliest);
        days = grown;
        notes.extend(note);
    }
    Ok(Plan {
        requested: Some(requested),
        window: Window::for_days(days, &settings.sessions)?,
        notes,
    })
}

fn run_facts<'a>(
    clock: &'a RunClock,
    input: &events::Input,
    window: &'a Window,
) -> Result<models::RunFacts<'a>> {
    Ok(models::RunFacts {
        run_id: &clock.run_id,
        started_us: clock.started_at.timestamp_micros(),
        run_day: clock.today.to_string(),
        has_event_name: input.has_event_name,
        has_complete_event_id: input.has_complete_event_id,
        window,
    })
}

/// The pipeline proper. When the engine meets a file whose data does not decode, the file
/// is found and named; with `--on-bad-file skip` the pipeline starts again without it.
async fn compute(
    settings: &RunSettings,
    options: &RunOptions,
    root: &OutputRoot,
    clock: &RunClock,
) -> Result<Computed> {
    let mut unreadable: Vec<BadFile> = Vec::new();
    let engine = engine::JobEngine::start(settings).await?;
    loop {
        let mut files_in_play = Vec::new();
        let attempt = async {
            let plan = plan(
                settings,
                options,
                root,
                clock,
                &unreadable,
                &mut files_in_play,
            )
            .await?;
            let ctx = engine.context(settings).await?;
            let listing = progress::stage("reading input");
            let input = events::register(
                &ctx,
                settings,
                options.on_bad_file,
                &unreadable,
                plan.window.folders,
                engine.is_distributed(),
            )
            .await?;
            progress::input(input.files.len(), input.rows());
            drop(listing);
            tracing::info!(
                files = input.files.len(),
                rows = input.rows(),
                "input listed"
            );
            files_in_play = input.files.clone();
            let (counts, tables, mut notes) = compute_once(
                &ctx,
                settings,
                root,
                clock,
                &input,
                &plan.window,
                engine.is_distributed(),
            )
            .await?;
            notes.splice(0..0, plan.notes);
            notes.extend(input.notes);
            Ok::<_, anyhow::Error>(Computed {
                input_files: input.files,
                skipped_files: input.skipped,
                counts,
                tables,
                notes,
                window: plan.window,
            })
        }
        .await;
        match attempt {
            Ok(computed) => return Ok(computed),
            Err(error) => {
                let ctx = engine::context()?;
                storage::register_stores(&ctx, settings)?;
                let Some(bad) = find_unreadable_file(&ctx, &files_in_play).await else {
                    return Err(error);
                };
                if options.on_bad_file == OnBadFile::Fail {
                    return Err(error::UserError::input(bad.path, bad.reason).into());
                }
                tracing::warn!(file = %bad.path, reason = %bad.reason, "skipping an unreadable file and starting again");
                unreadable.push(bad);
            }
        }
    }
}

async fn compute_once(
    ctx: &SessionContext,
    settings: &RunSettings,
    root: &OutputRoot,
    clock: &RunClock,
    input: &events::Input,
    window: &Window,
    distributed: bool,
) -> Result<(RowCounts, Vec<TableWrite>, Vec<String>)> {
    // clean and sessionize: the SQL models, continuing from what earlier runs left
    let facts = run_facts(clock, input, window)?;
    let parameters = models::Parameters::new(settings, &facts);
    // a cluster's executors read the run's own tables too: they go where they can reach them
    let scratch = if distributed {
        Scratch::in_staging(root, &clock.run_id)
    } else {
        Scratch::create()?
    };
    channels::register(ctx, &scratch, &settings.channels).await?;
    history::register(ctx, root, window).await?;
    // Steps that read none of each other's results run side by side where the models are
    // held in memory: a query leaves a core idle while it starts and while its last
    // partition finishes, and the other fills it. Under a memory limit (or on a cluster)
    // they run one after the other, so that one query at a time has the memory pool.
    let side_by_side = scratch.holds_models();
    // each model computed once (materialised): a view read by several would be computed
    // by each, and a view is planned when it is registered, so a model is registered only
    // once the models it reads are materialised
    models::register(ctx, models::DEDUPE_MODELS, &parameters).await?;
    let copies = async {
        materialize(ctx, &scratch, models::REPEATED_KEYS_MODEL).await?;
        models::register(ctx, models::SET_ASIDE_MODELS, &parameters).await?;
        materialize(ctx, &scratch, models::SET_ASIDE_MODEL).await?;
        models::register(ctx, models::COPIES_MODELS, &parameters).await?;
        materialize(ctx, &scratch, models::RANKED_COPIES_MODEL).await
    };
    let pages = materialize(ctx, &scratch, models::PAGE_PATHS_MODEL);
    let agents = register_user_agents(ctx, &scratch);
    both(side_by_side, copies, both(side_by_side, pages, agents)).await?;

    // the sessions, and beside them the rejects (which read the copies and the input, not
    // the sessions): written now, counted among the tables after the sessions
    models::register(ctx, models::SESSION_MODELS, &parameters).await?;
    let mut staging = Staging::create(root.clone(), &clock.run_id)?;
    let rejects = events::with_original_columns(ctx.table(models::REJECTS_MODEL).await?, input)?;
    let ((), rejects) = both(
        side_by_side,
        materialize(ctx, &scratch, models::SESSIONS_MODEL),
        staging.write(models::REJECTS_TABLE, rejects),
    )
    .await?;
    models::register(ctx, models::SOURCE_MODELS, &parameters).await?;
    materialize(ctx, &scratch, models::SESSION_SOURCES_MODEL).await?;
    models::register(ctx, models::CLASSIFY_MODELS, &parameters).await?;
    for (prior, model) in [
        (models::PRIOR_SESSIONS, models::REPORTED_SESSIONS_MODEL),
        (models::PRIOR_BOT_SESSIONS, models::BOT_SESSIONS_TABLE),
    ] {
        let schema = ctx.table(model).await?.schema().inner().clone();
        history::register_if_missing(ctx, prior, schema)?;
    }
    models::register(ctx, models::SESSIONS_OUTPUT_MODELS, &parameters).await?;
    models::register(ctx, models::ELSEWHERE_MODELS, &parameters).await?;

    // write: the sessions, and the users, metrics and data quality that read them: beside
    // the sessions' write where the sessions are held in memory (they read them there),
    // else after it, from the written files
    let sessions_held = scratch.hold(ctx, models::SESSIONS_OUTPUT_MODEL).await?;
    let days = match window.days {
        Some(_) => window.day_labels(),
        // a full run: the days of the input's dt= folders, and any day between them (the
        // days of the data itself may be far apart: an event of 1985 is no reason to write
        // every day since)
        None => days_between(input.files.iter().filter_map(|f| f.input_day.as_deref()))?,
    };
    // the bot sessions and the rejects, small, first: the users and the counts read them
    let bot_sessions = ctx.table(models::BOT_SESSIONS_OUTPUT_MODEL).await?;
    let bot_sessions = staging
        .write(models::BOT_SESSIONS_TABLE, bot_sessions)
        .await?;
    staging.register(ctx, &bot_sessions)?;
    staging.register(ctx, &rejects)?;
    let sessions = ctx.table(models::SESSIONS_OUTPUT_MODEL).await?;
    if sessions_held {
        crate::scratch::alias(ctx, models::SESSIONS_OUTPUT_MODEL, models::SESSIONS_TABLE).await?;
    }
    let write_sessions = async {
        let written = staging.write(models::SESSIONS_TABLE, sessions).await?;
        if !sessions_held {
            staging.register(ctx, &written)?;
        }
        Ok(written)
    };
    // registered only once the sessions are (a view is planned when it is registered)
    let write_readers = async {
        models::register_days(ctx, &scratch, &days).await?;
        for stage in [
            models::USER_MODELS,
            models::METRICS_BASE_MODELS,
            models::EXIT_PAGE_MODELS,
            models::QUALITY_MODELS,
        ] {
            models::register(ctx, stage, &parameters).await?;
        }
        let users = async {
            let users = ctx.table(models::USERS_TABLE).await?;
            staging.write_whole(models::USERS_TABLE, users).await
        };
        let metrics = async {
            materialize(ctx, &scratch, models::METRICS_BASE_MODEL).await?;
            models::register(ctx, models::METRIC_MODELS, &parameters).await?;
            let mut written = Vec::new();
            for model in models::METRIC_MODELS {
                written.push(write_model(ctx, &staging, model.name).await?);
            }
            Ok(written)
        };
        let exit_pages = write_model(ctx, &staging, models::EXIT_PAGE_TABLE);
        let quality = write_model(ctx, &staging, models::DATA_QUALITY_TABLE);
        both(
            side_by_side,
            both(side_by_side, users, metrics),
            both(side_by_side, exit_pages, quality),
        )
        .await
    };
    // the readers run beside the sessions' write only where they read the held sessions,
    // not the files that write makes
    let (sessions, ((users, metrics), (exit_pages, quality))) =
        both(side_by_side && sessions_held, write_sessions, write_readers).await?;
    // counted in the report's order, each day without rows given its empty partition
    staging.register(ctx, &quality)?;
    for written in [sessions, bot_sessions, users, rejects]
        .into_iter()
        .chain(metrics)
        .chain([exit_pages, quality])
    {
        staging.record(written, &days).await?;
    }

    // every input row is accounted for, or nothing is committed
    let checking = progress::stage("checking row counts");
    let counts = count_rows(ctx, input, window.days.is_some()).await?;
    counts.check()?;
    drop(checking);
    let committing = progress::stage("committing");
    let tables = staging.commit().await?;
    drop(committing);
    let mut notes = Vec::new();
    if let Some(sessions) = tables.iter().find(|t| t.table == models::SESSIONS_TABLE) {
        let empty = sessions
            .empty_partitions
            .iter()
            .filter(|day| days.contains(day))
            .cloned()
            .collect::<Vec<_>>();
        if !empty.is_empty() {
            notes.push(format!(
                "no sessions on {}: empty partitions written",
                empty.join(", ")
            ));
        }
    }
    Ok((counts, tables, notes))
}

/// Computes the registered model `name` once, where later models read it (`Scratch`).
async fn materialize(ctx: &SessionContext, scratch: &Scratch, name: &str) -> Result<()> {
    let frame = model_frame(ctx, name).await?;
    scratch.materialize(ctx, name, frame).await
}

/// Writes the registered model `name` as the table of the same name, partitioned by `dt`.
async fn write_model(ctx: &SessionContext, staging: &Staging, name: &str) -> Result<Written> {
    staging.write(name, ctx.table(name).await?).await
}

/// Runs two steps of the run side by side, or `first` then `second`: the first error
/// stops both either way.
async fn both<A, B>(
    side_by_side: bool,
    first: impl Future<Output = Result<A>>,
    second: impl Future<Output = Result<B>>,
) -> Result<(A, B)> {
    if side_by_side {
        tokio::try_join!(first, second)
    } else {
        Ok((first.await?, second.await?))
    }
}

/// The registered model `name`, to be materialised: widened (`engine::widened`) when its
/// aggregates hold about a group per row they read.
async fn model_frame(ctx: &SessionContext, name: &str) -> Result<DataFrame> {
    let frame = ctx.table(name).await?;
    Ok(if models::MANY_GROUPS_MODELS.contains(&name) {
        engine::widened(frame)
    } else {
        frame
    })
}

/// Every day from the first to the last of `days`, so a full run gives a day without
/// sessions the same empty partitions a dated run would.
fn days_between<'a>(days: impl Iterator<Item = &'a str>) -> Result<Vec<String>> {
    let days: Vec<chrono::NaiveDate> = days.map(|d| d.parse()).collect::<Result<_, _>>()?;
    let (Some(first), Some(last)) = (days.iter().min(), days.iter().max()) else {
        return Ok(Vec::new());
    };
    Ok(DayRange {
        first: *first,
        last: *last,
    }
    .days()
    .iter()
    .map(|d| d.to_string())
    .collect())
}

/// The first column of a query's result, as text.
fn strings(batches: &[arrow::array::RecordBatch]) -> Vec<String> {
    let mut values = Vec::new();
    for batch in batches {
        let Ok(column) = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8)
        else {
            continue;
        };
        let column = column.as_string::<i32>();
        values.extend(column.iter().flatten().map(String::from));
    }
    values
}

/// Parses each distinct user agent of the input once, into the `user_agent_lookup` table.
async fn register_user_agents(ctx: &SessionContext, scratch: &Scratch) -> Result<()> {
    let distinct = ctx
        .table(events::INPUT_VIEW)
        .await?
        .select(vec![col("user_agent")])?
        .filter(col("user_agent").is_not_null())?
        .distinct()?
        .collect()
        .await?;
    let mut user_agents: Vec<String> = Vec::new();
    for batch in &distinct {
        let column = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8)?;
        user_agents.extend(column.as_string::<i32>().iter().flatten().map(String::from));
    }
    scratch
        .register_batch(
            ctx,
            "user_agent_lookup",
            user_agents::lookup_table(&user_agents)?,
        )
        .await?;
    Ok(())
}

/// After a failed attempt: the first input file whose data does not decode, if any.
async fn find_unreadable_file(
    ctx: &SessionContext,
    files: &[events::InputFile],
) -> Option<BadFile> {
    for file in files {
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
async fn count_rows(ctx: &SessionContext, input: &events::Input, dated: bool) -> Result<RowCounts> {
    let mut counts = RowCounts {
        rows_read: input.rows(),
        ..RowCounts::default()
    };
    // this run's sessions: those of bots kept apart, and the others
    let sessions = ctx
        .table(models::RUN_SESSIONS)
        .await?
        .aggregate(
            vec![col("kept_apart")],
            vec![
                count(lit(1)).alias("sessions"),
                sum(col("event_count")).alias("events"),
            ],
        )?
        .collect()
        .await?;
    for batch in &sessions {
        let kept_apart = batch.column(0).as_boolean();
        for i in 0..batch.num_rows() {
            let (sessions, events) = (int_at(batch.column(1), i), int_at(batch.column(2), i));
            if kept_apart.value(i) {
                counts.bot_sessions = sessions;
                counts.bot_events = events;
            } else {
                counts.sessions = sessions;
                counts.events_sessionized = events;
            }
        }
    }

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
    // a full run has no other days; a dated run reads around its own
    if dated {
        let elsewhere = ctx
            .table(models::ELSEWHERE_MODEL)
            .await?
            .aggregate(vec![], vec![sum(col("rows_")).alias("rows")])?
            .collect()
            .await?;
        counts.rows_of_other_days = int_at(elsewhere[0].column(0), 0);
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
