//! The SQL models of `sql/`, embedded in the binary, in the order they build on each other.
//! The only module that knows `sql/`: it registers each model as a view named after its file,
//! with the run's parameters bound as values (`$timeout_us`, …), never spliced into the text.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::{RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::common::ParamValues;
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

use crate::config::{EqualGap, RunSettings, SplitPreset};
use crate::scope::Window;
use crate::scratch::Scratch;

/// One model: a `select` in `sql/<name>.sql`.
pub struct Model {
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! model {
    ($name:literal) => {
        Model {
            name: $name,
            sql: include_str!(concat!("../sql/", $name, ".sql")),
        }
    };
}

macro_rules! example {
    ($name:literal) => {
        Model {
            name: $name,
            sql: include_str!(concat!("../sql/examples/", $name, ".sql")),
        }
    };
}

/// From the input events to the keys they repeat (`REPEATED_KEYS_MODEL`) and the page of
/// each URL viewed (`PAGE_PATHS_MODEL`), each materialised first: the pages join every
/// event, a small table the engine has counted, so joined without repartitioning them.
pub const DEDUPE_MODELS: &[Model] = &[
    model!("stg_events"),
    model!("repeated_keys"),
    model!("page_paths"),
];
pub const REPEATED_KEYS_MODEL: &str = "repeated_keys";
pub const PAGE_PATHS_MODEL: &str = "page_paths";

/// Models whose hash aggregates hold about one group per row they read: `repeated_keys`
/// (one per event: 10 million at 10 million events) and `metrics_base` (one per user and
/// day, per dimension value: 1.8 to 2.5 million there). Computed with more partitions than
/// cores when there is no memory limit (`engine::widened`).
pub const MANY_GROUPS_MODELS: &[&str] = &[REPEATED_KEYS_MODEL, METRICS_BASE_MODEL];

/// The keys set aside (the repeated keys, and NULL for every rejected row) and the rows
/// that carry them (the rejected rows, the copies of repeated keys), found in one scan once
/// the repeated keys are materialised; the rows are materialised.
pub const SET_ASIDE_MODELS: &[Model] = &[model!("keys_set_aside"), model!("rows_set_aside")];
pub const SET_ASIDE_MODEL: &str = "rows_set_aside";

/// The copies of repeated events ranked, materialised after the rows set aside: the events,
/// the rejects, the counts of other days' rows and `data_quality` read them.
pub const COPIES_MODELS: &[Model] = &[model!("ranked_copies")];
pub const RANKED_COPIES_MODEL: &str = "ranked_copies";

/// From the input's events to this run's sessions.
pub const SESSION_MODELS: &[Model] = &[
    model!("events_deduplicated"),
    model!("session_anchors"),
    model!("sessions_before"),
    model!("sessionized_events"),
    model!("sessions"),
    model!("rejected_events"),
];

/// The sessions table as written: this run's sessions and the earlier runs' sessions of the
/// days they share. Registered once `prior_sessions` has its columns.
pub const SESSIONS_OUTPUT_MODELS: &[Model] = &[
    model!("touched_earlier_days"),
    model!("kept_earlier_sessions"),
    model!("sessions_output"),
    model!("bot_sessions_output"),
];

/// From the written sessions to the users table.
pub const USER_MODELS: &[Model] = &[model!("run_sessions"), model!("users")];

/// The first model alone: what a dated run reads to find late events, and what the dry run
/// reads to find the sessions a run would extend.
pub const STG_EVENTS: Model = model!("stg_events");
pub const SESSION_ANCHORS: Model = model!("session_anchors");

/// Before a dated run: late events in the requested folders.
pub const LATE_MODELS: &[Model] = &[model!("late_days")];

/// After a dated run: the rows it read for other days.
pub const ELSEWHERE_MODELS: &[Model] = &[model!("rows_elsewhere")];

/// Each distinct raw attribution of the sessions, normalised: materialised once the
/// `sessions` model is (`SESSION_SOURCES_MODEL`), as `traffic_channels` and
/// `classified_sessions` read it, and every table of sessions reads `classified_sessions`.
pub const SOURCE_MODELS: &[Model] = &[model!("session_sources")];
pub const SESSION_SOURCES_MODEL: &str = "session_sources";

/// The sessions with their channel, device and bot flag; registered once the `sessions`
/// model and the sources are materialised, as the `sessions` and `bot_sessions` tables and
/// the exit pages (`agent_sessions`, without the channel) all read them.
pub const CLASSIFY_MODELS: &[Model] = &[
    model!("traffic_channels"),
    model!("agent_sessions"),
    model!("classified_sessions"),
    model!("reported_sessions"),
    model!("bot_sessions"),
];

/// Materialised once, between [`SESSION_MODELS`] and [`SOURCE_MODELS`].
pub const SESSIONS_MODEL: &str = "sessions";
/// The model the `sessions` table is written from.
pub const REPORTED_SESSIONS_MODEL: &str = "reported_sessions";
pub const BOT_SESSIONS_TABLE: &str = "bot_sessions";
pub const BOT_SESSIONS_OUTPUT_MODEL: &str = "bot_sessions_output";

/// What every metrics table is selected from, computed once (materialised) from the written
/// sessions.
pub const METRICS_BASE_MODELS: &[Model] = &[model!("metrics_base")];
pub const METRICS_BASE_MODEL: &str = "metrics_base";

/// The metrics tables from the materialised `metrics_base`.
pub const METRIC_MODELS: &[Model] = &[
    model!("metrics_daily"),
    model!("metrics_by_source"),
    model!("metrics_by_device"),
    model!("metrics_by_landing_page"),
    model!("metrics_by_country"),
];

/// The exit pages, which count each page a session viewed, from `agent_sessions`.
pub const EXIT_PAGE_MODELS: &[Model] = &[model!("metrics_by_exit_page")];
pub const EXIT_PAGE_TABLE: &str = "metrics_by_exit_page";

/// Counts per day, from the input and the written sessions and rejects.
pub const QUALITY_MODELS: &[Model] = &[model!("data_quality")];

/// The output tables, in the order they are written; `sessions` first, as the metrics are
/// computed from what was written rather than by sessionizing again.
pub const SESSIONS_TABLE: &str = "sessions";
pub const SESSIONS_OUTPUT_MODEL: &str = "sessions_output";
/// Not partitioned: one row per user, replaced whole by every run.
pub const USERS_TABLE: &str = "users";
pub const LATE_DAYS_MODEL: &str = "late_days";
/// The sessions this run computed, among those written.
pub const RUN_SESSIONS: &str = "run_sessions";
pub const ELSEWHERE_MODEL: &str = "rows_elsewhere";
/// The earlier runs' output, as the models read it.
pub const PRIOR_SESSIONS: &str = "prior_sessions";
pub const PRIOR_BOT_SESSIONS: &str = "prior_bot_sessions";
pub const PRIOR_SESSION_BOUNDS: &str = "prior_session_bounds";
pub const PRIOR_USERS: &str = "prior_users";
/// Written from the `rejected_events` model, with the input's own columns.
pub const REJECTS_TABLE: &str = "rejects";
pub const REJECTS_MODEL: &str = "rejected_events";
pub const DATA_QUALITY_TABLE: &str = "data_quality";

/// Every metrics table, in the report's order: each is its model's name.
pub fn metric_tables() -> impl Iterator<Item = &'static str> {
    METRIC_MODELS
        .iter()
        .chain(EXIT_PAGE_MODELS)
        .map(|model| model.name)
}

/// Example queries over the outputs (`sessionize query --example NAME`), from
/// `sql/examples/`. Each opens with a comment line saying what it shows.
pub const EXAMPLES: &[Model] = &[
    example!("top_landing_pages"),
    example!("conversion_by_channel"),
    example!("bounce_by_device"),
    example!("week_over_week"),
];

pub fn example(name: &str) -> Option<&'static Model> {
    EXAMPLES.iter().find(|model| model.name == name)
}

/// What a model shows: its first comment line.
pub fn summary(model: &Model) -> &'static str {
    model
        .sql
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("--"))
        .unwrap_or_default()
        .trim()
}

/// The values bound to the models' `$name` placeholders.
pub struct Parameters {
    values: HashMap<String, ScalarValue>,
}

/// Facts about one run that the models need.
pub struct RunFacts<'a> {
    pub run_id: &'a str,
    /// Microseconds since the epoch when the run started.
    pub started_us: i64,
    /// The day the run started, in the reporting time zone.
    pub run_day: String,
    pub has_event_name: bool,
    /// Every row has an event_id (`events::Input::has_complete_event_id`).
    pub has_complete_event_id: bool,
    pub window: &'a Window,
}

impl Parameters {
    pub fn new(settings: &RunSettings, run: &RunFacts) -> Self {
        let rules = &settings.sessions;
        let validity = &settings.validity;
        let pages = &settings.landing_pages;
        let micros = |d: std::time::Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        let timeout_us = micros(rules.timeout);
        let has_event_name = run.has_event_name;
        let window = run.window;
        let int = |v: i64| ScalarValue::Int64(Some(v));
        let text = |v: &str| ScalarValue::Utf8(Some(v.to_string()));
        let values = HashMap::from([
            (
                "earliest_event_us".to_string(),
                int(validity.earliest_event_us),
            ),
            (
                "latest_event_us".to_string(),
                int(run
                    .started_us
                    .saturating_add(micros(validity.future_tolerance))),
            ),
            (
                "max_string_bytes".to_string(),
                int(i64::try_from(validity.max_string_bytes).unwrap_or(i64::MAX)),
            ),
            ("run_id".to_string(), text(run.run_id)),
            (
                "page_view_events".to_string(),
                name_list(&rules.page_view_events),
            ),
            (
                "conversion_events".to_string(),
                name_list(&rules.conversion_events),
            ),
            ("run_day".to_string(), text(&run.run_day)),
            (
                "timeout_us".to_string(),
                ScalarValue::Int64(Some(timeout_us)),
            ),
            (
                "new_session_on_equal_gap".to_string(),
                ScalarValue::Boolean(Some(rules.equal_gap == EqualGap::NewSession)),
            ),
            (
                "engagement_threshold_us".to_string(),
                int(micros(rules.engagement_threshold)),
            ),
            (
                "split_at_midnight".to_string(),
                ScalarValue::Boolean(Some(rules.preset == SplitPreset::Universal)),
            ),
            (
                "split_on_campaign".to_string(),
                ScalarValue::Boolean(Some(rules.preset == SplitPreset::Universal)),
            ),
            (
                "include_bots".to_string(),
                ScalarValue::Boolean(Some(rules.include_bots)),
            ),
            (
                "strip_trailing_slash".to_string(),
                ScalarValue::Boolean(Some(pages.strip_trailing_slash)),
            ),
            (
                "keep_query".to_string(),
                ScalarValue::Boolean(Some(!pages.keep_query_parameters.is_empty())),
            ),
            (
                "kept_query_pattern".to_string(),
                text(&kept_query_pattern(&pages.keep_query_parameters)),
            ),
            (
                "lowercase_pages".to_string(),
                ScalarValue::Boolean(Some(pages.lowercase)),
            ),
            (
                "has_event_name".to_string(),
                ScalarValue::Boolean(Some(has_event_name)),
            ),
            (
                "event_id_complete".to_string(),
                ScalarValue::Boolean(Some(run.has_complete_event_id)),
            ),
            (
                "max_duration_us".to_string(),
                int(micros(rules.max_duration)),
            ),
            // a full run: every day is the run's, and the models' filters on a day range,
            // which compare text on every session, fold away
            (
                "all_days".to_string(),
                ScalarValue::Boolean(Some(window.days.is_none())),
            ),
            ("first_day".to_string(), text(&window.first_day)),
            ("last_day".to_string(), text(&window.last_day)),
            (
                "anchor_first_day".to_string(),
                text(&window.anchor_first_day),
            ),
            ("days_start_us".to_string(), int(window.days_start_us)),
            ("days_end_us".to_string(), int(window.days_end_us)),
            ("read_end_us".to_string(), int(window.read_end_us)),
        ]);
        Parameters { values }
    }
}

/// The query parameters a page keeps, as a regular-expression alternation of their names
/// (a value bound to `$kept_query_pattern`; names are escaped, never read as patterns).
fn kept_query_pattern(names: &[String]) -> String {
    if names.is_empty() {
        // matches no name: nothing is kept
        return "[^\\s\\S]".to_string();
    }
    names
        .iter()
        .map(|name| regex::escape(name))
        .collect::<Vec<_>>()
        .join("|")
}

/// An event-name list as the `$page_view_events` parameter: a list of text, which
/// `array_has` on a known list turns into a comparison with each name.
fn name_list(names: &[String]) -> ScalarValue {
    let names: Vec<ScalarValue> = names
        .iter()
        .map(|name| ScalarValue::Utf8(Some(name.clone())))
        .collect();
    ScalarValue::List(ScalarValue::new_list_nullable(&names, &DataType::Utf8))
}

/// The days a run writes, as the table `run_days` (dt): each gets its partitions, rows or not.
pub async fn register_days(ctx: &SessionContext, scratch: &Scratch, days: &[String]) -> Result<()> {
    let schema = Arc::new(Schema::new(vec![Field::new("dt", DataType::Utf8, false)]));
    let batch = RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(days.to_vec()))])?;
    scratch.register_batch(ctx, "run_days", batch).await?;
    Ok(())
}

/// The columns of the earlier runs' sessions that the models read to continue from them
/// (`prior_session_bounds`): a projection of the sessions table.
pub fn prior_session_bounds_schema() -> SchemaRef {
    let time = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Utf8, true),
        Field::new("session_start", time.clone(), true),
        Field::new("session_end", time, true),
        Field::new("session_number", DataType::Int64, true),
        Field::new("event_count", DataType::Int64, true),
        Field::new("page_view_count", DataType::Int64, true),
        Field::new("conversion_count", DataType::Int64, true),
        Field::new("dt", DataType::Utf8, true),
    ]))
}

/// The users table's columns, as `sql/users.sql` writes them.
pub fn users_schema() -> SchemaRef {
    let time = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Utf8, true),
        Field::new("first_seen_at", time.clone(), true),
        Field::new("last_seen_at", time, true),
        Field::new("session_count", DataType::Int64, true),
        Field::new("event_count", DataType::Int64, true),
        Field::new("page_view_count", DataType::Int64, true),
        Field::new("conversion_count", DataType::Int64, true),
    ]))
}

/// Registers `models` as views, in order.
pub async fn register(
    ctx: &SessionContext,
    models: &[Model],
    parameters: &Parameters,
) -> Result<()> {
    for model in models {
        let plan = ctx
            .sql(model.sql)
            .await
            .with_context(|| format!("in model sql/{}.sql", model.name))?;
        // bind only the placeholders this model uses
        let used = plan.logical_plan().get_parameter_types()?;
        let values: HashMap<String, ScalarValue> = parameters
            .values
            .iter()
            .filter(|(name, _)| used.contains_key(*name) || used.contains_key(&format!("${name}")))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let view = if values.is_empty() {
            plan
        } else {
            plan.with_param_values(ParamValues::Map(
                values.into_iter().map(|(k, v)| (k, v.into())).collect(),
            ))
            .with_context(|| format!("binding parameters of sql/{}.sql", model.name))?
        };
        ctx.register_table(model.name, view.into_view())?;
        tracing::debug!(model = model.name, "model registered");
    }
    Ok(())
}
