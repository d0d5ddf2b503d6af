//! Logging through `tracing`, to stderr: human-readable lines by default, one JSON object
//! per line with `--log-format json` for log shippers. The level comes from
//! `SESSIONIZE_LOG`, else `RUST_LOG` (`info`, `debug`, `sessionize=debug,datafusion=info`),
//! else from `-v`/`-q`. Lines are written around the progress bar, never through it.

use std::fmt;
use std::io::Write;

use anyhow::{Context, Result};
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context as LayerContext, Layer};
use tracing_subscriber::prelude::*;

use crate::progress;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Installs the global subscriber. `verbosity` is the number of `-v` minus the number of
/// `-q`: 0 logs sessionize's steps (info), 1 adds debug, 2 traces everything; -1 keeps
/// warnings and errors, -2 errors only.
pub fn init(format: LogFormat, verbosity: i8) -> Result<()> {
    let filter = match level_from_env() {
        Some((variable, text)) => text
            .parse::<Targets>()
            .with_context(|| format!("{variable}={text:?} is not a log filter like \"info\" or \"sessionize=debug,datafusion=info\""))
            .map_err(|e| crate::error::UserError::input(variable, format!("{e:#}")))?,
        None => default_filter(verbosity),
    };
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(Stderr)
                    .with_ansi(progress::stderr_is_terminal())
                    .with_target(false),
            )
            .try_init(),
        LogFormat::Json => registry.with(JsonLines).try_init(),
    };
    result.context("cannot install the logger")
}

fn level_from_env() -> Option<(&'static str, String)> {
    ["SESSIONIZE_LOG", "RUST_LOG"]
        .into_iter()
        .find_map(|variable| {
            std::env::var(variable)
                .ok()
                .filter(|text| !text.trim().is_empty())
                .map(|text| (variable, text))
        })
}

fn default_filter(verbosity: i8) -> Targets {
    let (ours, others) = match verbosity {
        i8::MIN..=-2 => (LevelFilter::ERROR, LevelFilter::ERROR),
        -1 => (LevelFilter::WARN, LevelFilter::WARN),
        0 => (LevelFilter::INFO, LevelFilter::WARN),
        1 => (LevelFilter::DEBUG, LevelFilter::WARN),
        2.. => (LevelFilter::TRACE, LevelFilter::DEBUG),
    };
    let mut targets = Targets::new()
        .with_default(others)
        .with_target(env!("CARGO_CRATE_NAME"), ours);
    // Ballista's scheduler prints each finished stage's plan with the metrics its tasks
    // reported, a debug line. When the executors' copy of a plan decodes with another
    // operator than the scheduler's (DataFusion adds a projection over a union's input whose
    // columns differ from the union's only in nullability), it cannot pair them and logs an
    // ERROR instead, on most runs, about nothing that affects the job.
    if cfg!(feature = "distributed") && verbosity < 2 {
        targets = targets.with_target("ballista_scheduler::display", LevelFilter::OFF);
    }
    targets
}

/// stderr, written around the progress bar so a log line never tears it.
struct Stderr;

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = Stderr;
    fn make_writer(&'a self) -> Self::Writer {
        Stderr
    }
}

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        progress::suspend(|| std::io::stderr().write(buf))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// One JSON object per event and line: `timestamp`, `level`, `target`, `message` and the
/// event's fields. Written here rather than with tracing-subscriber's `json` feature, which
/// would change the features of crates the engine is built with.
struct JsonLines;

impl<S: Subscriber> Layer<S> for JsonLines {
    fn on_event(&self, event: &Event<'_>, _: LayerContext<'_, S>) {
        let metadata = event.metadata();
        let mut fields = Map::new();
        fields.insert(
            "timestamp".into(),
            Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        fields.insert("level".into(), Value::String(metadata.level().to_string()));
        fields.insert(
            "target".into(),
            Value::String(metadata.target().to_string()),
        );
        event.record(&mut JsonFields(&mut fields));
        let mut line = Value::Object(fields).to_string();
        line.push('\n');
        let _ = Stderr.write_all(line.as_bytes());
    }
}

struct JsonFields<'a>(&'a mut Map<String, Value>);

impl Visit for JsonFields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().into(), Value::String(value.into()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
}
