//! Validated settings for a run: the TOML config file, overridden by command-line flags,
//! over built-in defaults. Nothing here knows clap; `cli.rs` hands over plain values.
//!
//! Validation happens once, here, so the pipeline never meets a half-checked value: a bad
//! duration, an unknown time zone or an unknown key is an error naming the file and the key.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::UserError;

/// The canonical fields the pipeline knows, in the order the models see them.
/// `(field, required)`: required fields must exist in the data.
pub const CANONICAL_FIELDS: &[(&str, bool)] = &[
    ("event_id", false),
    ("user_id", true),
    ("event_time", true),
    ("event_name", false),
    ("page_url", false),
    ("referrer", false),
    ("utm_source", false),
    ("utm_medium", false),
    ("utm_campaign", false),
    ("device", false),
    ("user_agent", false),
    ("country", false),
    ("revenue", false),
];

/// The config file as written by the user; every key optional, unknown keys rejected.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub input: InputSection,
    #[serde(default)]
    pub output: OutputSection,
    #[serde(default)]
    pub columns: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub sessions: SessionsSection,
    #[serde(default)]
    pub s3: S3Section,
    #[serde(default)]
    pub channels: ChannelsSection,
    #[serde(default)]
    pub landing_pages: LandingPagesSection,
    #[serde(default)]
    pub engine: EngineSection,
}

/// Where the job runs: on this machine, or on a Ballista cluster.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSection {
    /// "local", "ballista" or "ballista-standalone".
    pub kind: Option<String>,
    /// The Ballista scheduler, `df://host:50050`.
    pub scheduler: Option<String>,
    /// How long one Ballista job (one query of the run) may take, like "2h".
    pub job_timeout: Option<String>,
}

/// How sessions are grouped into channels (GA4's default channel group).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelsSection {
    /// A CSV file `source,source_category` replacing the built-in GA4 list.
    pub source_categories: Option<String>,
    /// The user's own rules, tried in order before GA4's.
    #[serde(default)]
    pub rules: Vec<ChannelRule>,
}

/// One rule: every condition given must hold (compared lower-case, after normalisation).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelRule {
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
    pub channel: String,
}

/// How a URL becomes a landing or exit page.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LandingPagesSection {
    /// "/pricing/" and "/pricing" are one page.
    #[serde(default)]
    pub strip_trailing_slash: bool,
    /// "/Pricing" and "/pricing" are one page.
    #[serde(default)]
    pub lowercase: bool,
    /// Query parameters kept in the page (in the URL's order); all others are dropped.
    #[serde(default)]
    pub keep_query_parameters: Vec<String>,
}

/// S3 (or an S3-compatible store). Credentials never go here: they come from the usual
/// AWS variables (AWS_ACCESS_KEY_ID, …) or the instance's role.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Section {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub allow_http: Option<bool>,
    pub max_retries: Option<usize>,
    pub retry_timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSection {
    pub path: Option<String>,
    /// Events before this instant are rejected (clock errors, epoch zero).
    pub earliest_event_time: Option<String>,
    /// Events later than the run's start plus this are rejected.
    pub future_tolerance: Option<String>,
    /// Rows with a longer string in any mapped field are rejected.
    pub max_string_bytes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    pub path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsSection {
    pub timeout: Option<String>,
    pub gap_equal_to_timeout: Option<String>,
    pub max_session_duration: Option<String>,
    pub page_view_events: Option<Vec<String>>,
    pub conversion_events: Option<Vec<String>>,
    pub timezone: Option<String>,
    /// "ga4" (inactivity only) or "universal" (also midnight and a change of campaign).
    pub preset: Option<String>,
    /// A session this long or longer is engaged (GA4: 10 s).
    pub engagement_threshold: Option<String>,
    /// Keep sessions of known bots and crawlers in `sessions` and the metrics.
    pub include_bots: Option<bool>,
}

/// What the user typed on the command line for `run`, before validation.
#[derive(Debug, Default, Clone)]
pub struct RunOverrides {
    pub input: Option<String>,
    pub output: Option<String>,
    pub config: Option<PathBuf>,
    pub timeout: Option<String>,
    pub engine: Option<String>,
    pub scheduler: Option<String>,
    pub job_timeout: Option<String>,
}

/// Which engine runs the job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Engine {
    /// DataFusion in this process.
    #[default]
    Local,
    /// A Ballista cluster: its scheduler plans, its executors read and write.
    Ballista {
        /// `df://host:port`.
        scheduler: String,
    },
    /// A Ballista scheduler and executors started in this process.
    BallistaStandalone,
}

impl Engine {
    pub fn is_distributed(&self) -> bool {
        !matches!(self, Engine::Local)
    }
}

/// The engine names `--engine` and `[engine] kind` accept.
pub const ENGINES: &[&str] = &["local", "ballista", "ballista-standalone"];

/// Whether this binary has the Ballista engines (`--features distributed`).
pub const DISTRIBUTED_BUILD: bool = cfg!(feature = "distributed");

/// One canonical field's source column in the input files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnSource {
    pub field: &'static str,
    pub column: String,
    /// Named in the config file: then it must exist, a typo is not silently a NULL column.
    pub explicit: bool,
    pub required: bool,
}

/// Which events start a new session, beyond the inactivity timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SplitPreset {
    /// GA4: inactivity only.
    Ga4,
    /// Universal Analytics: also at midnight (reporting time zone) and when the campaign or
    /// source changes mid-session.
    Universal,
}

/// How a gap exactly equal to the timeout is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EqualGap {
    SameSession,
    NewSession,
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionRules {
    #[serde(serialize_with = "as_text")]
    pub timeout: Duration,
    pub equal_gap: EqualGap,
    /// A session never lasts this long: the first event at or after its start plus this
    /// opens a new one. Zero: no maximum.
    #[serde(serialize_with = "as_text")]
    pub max_duration: Duration,
    pub page_view_events: Vec<String>,
    pub conversion_events: Vec<String>,
    /// IANA name or fixed offset; decides the day (`dt`) a session belongs to.
    pub timezone: String,
    pub preset: SplitPreset,
    #[serde(serialize_with = "as_text")]
    pub engagement_threshold: Duration,
    pub include_bots: bool,
}

/// Channel grouping beyond GA4's defaults.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelSettings {
    /// The user's source-category CSV, if any (else the built-in GA4 list).
    pub source_categories: Option<String>,
    pub rules: Vec<ChannelRule>,
}

/// What makes an input row unusable, beyond missing keys.
#[derive(Debug, Clone, Serialize)]
pub struct Validity {
    /// Microseconds since the epoch.
    pub earliest_event_us: i64,
    #[serde(serialize_with = "as_text")]
    pub future_tolerance: Duration,
    pub max_string_bytes: u64,
}

/// How to reach S3; `None` fields fall back to the AWS_* environment variables.
#[derive(Debug, Clone, Serialize)]
pub struct S3Settings {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub allow_http: Option<bool>,
    pub max_retries: usize,
    #[serde(serialize_with = "as_text")]
    pub retry_timeout: Duration,
}

/// Everything `run` needs, validated.
#[derive(Debug, Clone, Serialize)]
pub struct RunSettings {
    pub input: String,
    pub output: String,
    pub columns: Vec<ColumnSource>,
    pub sessions: SessionRules,
    pub validity: Validity,
    pub s3: S3Settings,
    pub channels: ChannelSettings,
    pub landing_pages: LandingPagesSection,
    pub engine: Engine,
    /// On a distributed engine, how long one Ballista job (one query of the run) may take
    /// before the run fails: a job the cluster never finishes must not hold the run forever.
    #[serde(serialize_with = "as_text")]
    pub job_timeout: Duration,
}

/// `[engine] job_timeout` when not set: far more than any query of a nightly run needs,
/// short of keeping a stuck run past the next night's.
pub const DEFAULT_JOB_TIMEOUT: &str = "2h";

fn as_text<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&humantime::format_duration(*duration).to_string())
}

impl RunSettings {
    pub fn column(&self, field: &str) -> &ColumnSource {
        self.columns
            .iter()
            .find(|c| c.field == field)
            .expect("every canonical field has a source")
    }
}

/// Reads the config file (if any) and applies the flags on top of it.
pub fn resolve(overrides: &RunOverrides) -> Result<RunSettings, UserError> {
    let (file, origin) = match &overrides.config {
        Some(path) => (read_config_file(path)?, path.display().to_string()),
        None => (ConfigFile::default(), "defaults".to_string()),
    };
    let bad = |key: &str, message: String| UserError::Config {
        origin: origin.clone(),
        key: key.to_string(),
        message,
    };

    let input = overrides
        .input
        .clone()
        .or(file.input.path.clone())
        .ok_or_else(|| {
            bad(
                "input.path",
                "no input: pass --input or set [input] path".into(),
            )
        })?;
    let output = overrides
        .output
        .clone()
        .or(file.output.path.clone())
        .ok_or_else(|| {
            bad(
                "output.path",
                "no output: pass --output or set [output] path".into(),
            )
        })?;

    for key in file.columns.keys() {
        if !CANONICAL_FIELDS.iter().any(|(field, _)| field == key) {
            let known: Vec<&str> = CANONICAL_FIELDS.iter().map(|(f, _)| *f).collect();
            return Err(bad(
                &format!("columns.{key}"),
                format!("unknown field; the fields are {}", known.join(", ")),
            ));
        }
    }
    let columns = CANONICAL_FIELDS
        .iter()
        .map(|&(field, required)| match file.columns.get(field) {
            Some(column) if column.trim().is_empty() => {
                Err(bad(&format!("columns.{field}"), "empty column name".into()))
            }
            Some(column) => Ok(ColumnSource {
                field,
                column: column.clone(),
                explicit: true,
                required,
            }),
            None => Ok(ColumnSource {
                field,
                column: field.to_string(),
                explicit: false,
                required,
            }),
        })
        .collect::<Result<Vec<_>, _>>()?;

    let s = &file.sessions;
    // a flag's value is the command line's to fix, not the config file's
    let timeout = match (&overrides.timeout, &s.timeout) {
        (Some(t), _) => parse_duration(t).map_err(|m| UserError::flag("--timeout", m))?,
        (None, t) => {
            parse_duration(t.as_deref().unwrap_or("30m")).map_err(|m| bad("sessions.timeout", m))?
        }
    };

    let equal_gap = match s.gap_equal_to_timeout.as_deref() {
        None | Some("same-session") => EqualGap::SameSession,
        Some("new-session") => EqualGap::NewSession,
        Some(other) => {
            return Err(bad(
                "sessions.gap_equal_to_timeout",
                format!("{other:?} is not one of \"same-session\", \"new-session\""),
            ));
        }
    };
    let max_duration = match s.max_session_duration.as_deref() {
        None => Duration::from_secs(24 * 3600),
        Some(text) => {
            parse_duration_or_zero(text).map_err(|m| bad("sessions.max_session_duration", m))?
        }
    };
    if !max_duration.is_zero() && max_duration <= timeout {
        // blame the value the user wrote: the maximum if they set it, else the timeout
        let shorter = || {
            format!(
                "must be shorter than the longest session, sessions.max_session_duration \
                 ({} by default); set it longer, or \"0s\" for no maximum",
                humantime::format_duration(max_duration)
            )
        };
        return Err(match (&s.max_session_duration, &overrides.timeout) {
            (Some(_), _) => bad(
                "sessions.max_session_duration",
                format!(
                    "must be longer than the timeout ({}), or \"0s\" for no maximum",
                    humantime::format_duration(timeout)
                ),
            ),
            (None, Some(_)) => UserError::flag("--timeout", shorter()),
            (None, None) => bad("sessions.timeout", shorter()),
        });
    }
    let timezone = s.timezone.clone().unwrap_or_else(|| "UTC".to_string());
    if arrow::array::timezone::Tz::from_str(&timezone).is_err() {
        return Err(bad(
            "sessions.timezone",
            format!(
                "{timezone:?} is not an IANA time zone (like \"Europe/Paris\") or an offset (like \"+02:00\")"
            ),
        ));
    }

    let preset = match s.preset.as_deref() {
        None | Some("ga4") => SplitPreset::Ga4,
        Some("universal") => SplitPreset::Universal,
        Some(other) => {
            return Err(bad(
                "sessions.preset",
                format!("{other:?} is not one of \"ga4\", \"universal\""),
            ));
        }
    };
    let engagement_threshold = parse_duration(s.engagement_threshold.as_deref().unwrap_or("10s"))
        .map_err(|m| bad("sessions.engagement_threshold", m))?;
    for (i, rule) in file.channels.rules.iter().enumerate() {
        if rule.channel.trim().is_empty() {
            return Err(bad(&format!("channels.rules[{i}].channel"), "empty".into()));
        }
        if rule.source.is_none() && rule.medium.is_none() && rule.campaign.is_none() {
            return Err(bad(
                &format!("channels.rules[{i}]"),
                "a rule needs at least one of source, medium, campaign".into(),
            ));
        }
    }

    let earliest_text = file
        .input
        .earliest_event_time
        .clone()
        .unwrap_or_else(|| "1990-01-01".into());
    let earliest_event_us =
        parse_instant(&earliest_text).map_err(|m| bad("input.earliest_event_time", m))?;
    let future_tolerance = parse_duration(file.input.future_tolerance.as_deref().unwrap_or("1d"))
        .map_err(|m| bad("input.future_tolerance", m))?;
    let max_string_bytes = file.input.max_string_bytes.unwrap_or(8192);
    if max_string_bytes == 0 {
        return Err(bad(
            "input.max_string_bytes",
            "must be more than zero".into(),
        ));
    }

    let s3 = s3_settings(&file.s3).map_err(|(key, m)| bad(key, m))?;
    let engine = engine(overrides, &file.engine, &output, DISTRIBUTED_BUILD).map_err(
        |(flag, key, message)| {
            // a value from a flag (or its variable) is the command line's to fix
            let from_flag = match key {
                "engine.kind" => overrides.engine.is_some(),
                _ => overrides.scheduler.is_some(),
            };
            if from_flag {
                UserError::flag(flag, message)
            } else {
                bad(key, message)
            }
        },
    )?;

    let job_timeout = match &overrides.job_timeout {
        Some(text) => parse_duration(text).map_err(|m| UserError::flag("--job-timeout", m))?,
        None => parse_duration(
            file.engine
                .job_timeout
                .as_deref()
                .unwrap_or(DEFAULT_JOB_TIMEOUT),
        )
        .map_err(|m| bad("engine.job_timeout", m))?,
    };

    Ok(RunSettings {
        input,
        output,
        columns,
        s3,
        engine,
        job_timeout,
        channels: ChannelSettings {
            source_categories: file.channels.source_categories.clone(),
            rules: file.channels.rules.clone(),
        },
        landing_pages: file.landing_pages.clone(),
        validity: Validity {
            earliest_event_us,
            future_tolerance,
            max_string_bytes,
        },
        sessions: SessionRules {
            timeout,
            equal_gap,
            max_duration,
            page_view_events: s
                .page_view_events
                .clone()
                .unwrap_or_else(|| vec!["page_view".to_string()]),
            conversion_events: s
                .conversion_events
                .clone()
                .unwrap_or_else(|| vec!["purchase".to_string()]),
            timezone,
            preset,
            engagement_threshold,
            include_bots: s.include_bots.unwrap_or(false),
        },
    })
}

/// `--engine` and `--scheduler` over `[engine]`, checked before anything runs: the engine
/// must be built in, a cluster needs its scheduler and an output its executors can reach.
/// An error is `(flag, config key, message)`.
fn engine(
    overrides: &RunOverrides,
    section: &EngineSection,
    output: &str,
    distributed_build: bool,
) -> Result<Engine, (&'static str, &'static str, String)> {
    let kind = overrides
        .engine
        .as_deref()
        .or(section.kind.as_deref())
        .unwrap_or("local");
    let scheduler = overrides.scheduler.clone().or(section.scheduler.clone());
    let engine = match kind {
        "local" => Engine::Local,
        "ballista-standalone" => Engine::BallistaStandalone,
        "ballista" => {
            let scheduler = scheduler.ok_or((
                "--scheduler",
                "engine.scheduler",
                "the ballista engine needs its scheduler: pass --scheduler df://host:50050 or \
                 set [engine] scheduler"
                    .to_string(),
            ))?;
            check_scheduler(&scheduler).map_err(|m| ("--scheduler", "engine.scheduler", m))?;
            Engine::Ballista { scheduler }
        }
        other => {
            return Err((
                "--engine",
                "engine.kind",
                format!("{other:?} is not one of {}", quoted(ENGINES)),
            ));
        }
    };
    if engine.is_distributed() && !distributed_build {
        return Err((
            "--engine",
            "engine.kind",
            format!(
                "this sessionize was built without the distributed engine, so {kind:?} is not \
                 available; build it with `cargo build --release --features distributed`"
            ),
        ));
    }
    if matches!(engine, Engine::Ballista { .. })
        && !crate::storage::is_shared(output)
            .map_err(|e| ("--output", "output.path", e.to_string()))?
    {
        return Err((
            "--engine",
            "engine.kind",
            format!(
                "the ballista engine cannot write to the local path {output:?}: the cluster's \
                 executors write the files, so the output must be on storage they share \
                 (--output s3://bucket/prefix); use --engine ballista-standalone to run on this \
                 machine"
            ),
        ));
    }
    Ok(engine)
}

/// `df://host:port` (the port may be left out: 50050).
fn check_scheduler(text: &str) -> Result<(), String> {
    let url = url::Url::parse(text)
        .map_err(|e| format!("{text:?} is not a scheduler URL like df://host:50050 ({e})"))?;
    if url.scheme() != "df" || url.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "{text:?} is not a scheduler URL like df://host:50050"
        ));
    }
    Ok(())
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `[s3]` settings, defaults filled in; an error names the key.
pub(crate) fn s3_settings(section: &S3Section) -> Result<S3Settings, (&'static str, String)> {
    let retry_timeout = parse_duration(section.retry_timeout.as_deref().unwrap_or("30s"))
        .map_err(|m| ("s3.retry_timeout", m))?;
    Ok(S3Settings {
        endpoint: section.endpoint.clone(),
        region: section.region.clone(),
        allow_http: section.allow_http,
        max_retries: section.max_retries.unwrap_or(5),
        retry_timeout,
    })
}

/// What reading a run's outputs needs (`sessionize query`, `sessionize tables`).
#[derive(Debug, Clone)]
pub struct ReadSettings {
    pub output: String,
    pub s3: S3Settings,
    /// The whole run's settings when an input is configured, so the input can be read
    /// as the run reads it.
    pub run: Option<RunSettings>,
}

/// Like [`resolve`], for reading the outputs: only the output is required.
pub fn resolve_for_reading(overrides: &RunOverrides) -> Result<ReadSettings, UserError> {
    let (file, origin) = match &overrides.config {
        Some(path) => (read_config_file(path)?, path.display().to_string()),
        None => (ConfigFile::default(), "defaults".to_string()),
    };
    if overrides.input.is_some() || file.input.path.is_some() {
        let run = resolve(overrides)?;
        return Ok(ReadSettings {
            output: run.output.clone(),
            s3: run.s3.clone(),
            run: Some(run),
        });
    }
    let bad = |key: &str, message: String| UserError::Config {
        origin: origin.clone(),
        key: key.to_string(),
        message,
    };
    let output = overrides
        .output
        .clone()
        .or(file.output.path.clone())
        .ok_or_else(|| {
            bad(
                "output.path",
                "no output: pass --output or set [output] path".into(),
            )
        })?;
    let s3 = s3_settings(&file.s3).map_err(|(key, m)| bad(key, m))?;
    Ok(ReadSettings {
        output,
        s3,
        run: None,
    })
}

fn read_config_file(path: &Path) -> Result<ConfigFile, UserError> {
    let text = std::fs::read_to_string(path).map_err(|e| UserError::Config {
        origin: path.display().to_string(),
        key: String::new(),
        message: format!("cannot read the config file: {e}"),
    })?;
    toml::from_str(&text).map_err(|e| UserError::Config {
        origin: path.display().to_string(),
        key: String::new(),
        message: e.to_string(),
    })
}

/// "30m", "90s", "1h30m", "1500ms": a positive duration, exact to the microsecond.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration_or_zero(text)?;
    if duration.is_zero() {
        return Err(format!("{text:?}: the duration must be more than zero"));
    }
    Ok(duration)
}

/// Like [`parse_duration`], but "0s" (or "0") is allowed: "no waiting".
pub fn parse_duration_or_zero(text: &str) -> Result<Duration, String> {
    if text.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    let duration = humantime::parse_duration(text.trim()).map_err(|e| {
        format!("{text:?} is not a duration ({e}); write it like \"30m\", \"90s\" or \"1h30m\"")
    })?;
    if duration.subsec_nanos() % 1_000 != 0 {
        return Err(format!("{text:?}: the duration must be whole microseconds"));
    }
    Ok(duration)
}

/// "1990-01-01" or an RFC 3339 instant, as microseconds since the epoch.
fn parse_instant(text: &str) -> Result<i64, String> {
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_micros());
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_micros())
        .map_err(|e| format!("{text:?} is not a date (1990-01-01) or an RFC 3339 instant: {e}"))
}

/// The calendar day of `instant` in `timezone` (validated by [`resolve`]).
pub fn local_day(instant: chrono::DateTime<chrono::Utc>, timezone: &str) -> anyhow::Result<String> {
    let zone = arrow::array::timezone::Tz::from_str(timezone)?;
    Ok(instant.with_timezone(&zone).format("%Y-%m-%d").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(
            parse_duration("1500ms").unwrap(),
            Duration::from_millis(1500)
        );
        assert!(parse_duration("thirty").is_err());
        assert!(parse_duration("0s").is_err());
        assert_eq!(parse_duration_or_zero("0s").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration_or_zero("0").unwrap(), Duration::ZERO);
        assert!(parse_duration_or_zero("soon").is_err());
    }

    fn engine_of(
        engine: &str,
        scheduler: Option<&str>,
        output: &str,
        distributed_build: bool,
    ) -> Result<Engine, String> {
        let overrides = RunOverrides {
            engine: Some(engine.to_string()),
            scheduler: scheduler.map(String::from),
            ..RunOverrides::default()
        };
        super::engine(
            &overrides,
            &EngineSection::default(),
            output,
            distributed_build,
        )
        .map_err(|(_, _, message)| message)
    }

    #[test]
    fn engines() {
        assert_eq!(engine_of("local", None, "out", false), Ok(Engine::Local));
        assert_eq!(
            engine_of("ballista-standalone", None, "out", true),
            Ok(Engine::BallistaStandalone)
        );
        assert_eq!(
            engine_of("ballista", Some("df://scheduler:50050"), "s3://b/out", true),
            Ok(Engine::Ballista {
                scheduler: "df://scheduler:50050".into()
            })
        );
        let without = engine_of("ballista-standalone", None, "out", false).unwrap_err();
        assert!(
            without.contains("built without the distributed engine")
                && without.contains("--features distributed"),
            "{without}"
        );
        let local = engine_of("ballista", Some("df://scheduler:50050"), "out", true).unwrap_err();
        assert!(
            local.contains("cannot write to the local path") && local.contains("s3://"),
            "{local}"
        );
        assert!(
            engine_of("ballista", None, "s3://b/out", true)
                .unwrap_err()
                .contains("--scheduler")
        );
        assert!(engine_of("ballista", Some("http://x:1"), "s3://b/out", true).is_err());
        assert!(
            engine_of("spark", None, "out", true)
                .unwrap_err()
                .contains("\"ballista-standalone\"")
        );
    }
}
