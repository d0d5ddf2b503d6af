//! Helpers shared by the tests: a scratch directory, Parquet fixtures written column by
//! column, the real binary, and the output tables read back with the parquet crate.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{
    DataType, Field, Float64Type, Int64Type, Schema, TimeUnit, TimestampMicrosecondType,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};

/// A file of the repository (`relative` to its root). The root is read when the test runs,
/// not when it is built: a test binary that cargo reuses from a build of another checkout
/// (the cached target directory is shared) must still read this checkout's fixtures.
pub fn repo_file(relative: &str) -> PathBuf {
    let root = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    root.join(relative)
}

/// The text of a file of the repository; a missing fixture fails naming its path.
pub fn repo_text(relative: &str) -> String {
    let path = repo_file(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A fresh directory for one test, removed when dropped.
pub struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    pub fn new() -> Self {
        Work {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Writes a Parquet file from named columns (parent folders created).
    pub fn write_parquet(&self, relative: &str, columns: Vec<(&str, ArrayRef)>) -> PathBuf {
        let path = self.path(relative);
        write_parquet(&path, columns);
        path
    }

    pub fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The `sessionize` command with `args`, to run in this directory, with none of the
    /// variables that stand in for flags.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sessionize"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("SESSIONIZE_INPUT")
            .env_remove("SESSIONIZE_OUTPUT")
            .env_remove("SESSIONIZE_CONFIG")
            .env_remove("SESSIONIZE_ON_BAD_FILE")
            .env_remove("SESSIONIZE_WAIT_FOR_LOCK")
            .env_remove("SESSIONIZE_FAILPOINT")
            .env_remove("SESSIONIZE_TIMEOUT")
            .env_remove("SESSIONIZE_FORMAT")
            .env_remove("SESSIONIZE_ENGINE")
            .env_remove("SESSIONIZE_SCHEDULER")
            .env_remove("SESSIONIZE_JOB_TIMEOUT")
            .env_remove("SESSIONIZE_LOG")
            .env_remove("SESSIONIZE_LOG_FORMAT")
            .env_remove("SESSIONIZE_MEMORY_LIMIT")
            .env_remove("SESSIONIZE_TEMP_DIR")
            .env_remove("SESSIONIZE_EXPLAIN_ANALYZE")
            .env_remove("RUST_LOG")
            .env("SESSIONIZE_HISTORY", self.dir.path().join(".history"));
        command
    }

    /// Runs `sessionize` with `args`, in this directory.
    pub fn sessionize(&self, args: &[&str]) -> Outcome {
        Outcome::of(
            self.command(args)
                .output()
                .expect("the sessionize binary runs"),
        )
    }

    /// Starts `sessionize` with `args` and returns at once; stdout and stderr are piped.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the sessionize binary starts")
    }

    /// Runs `sessionize` and insists that it succeeds. After a `run`, checks that the run's
    /// report accounts for every row read, and that the tables it wrote agree with it.
    pub fn sessionize_ok(&self, args: &[&str]) -> Outcome {
        let outcome = self.sessionize(args);
        assert_eq!(
            outcome.code,
            Some(0),
            "sessionize {args:?} failed\nstdout:\n{}\nstderr:\n{}",
            outcome.stdout,
            outcome.stderr
        );
        // help and dry runs write no report
        let help = args
            .iter()
            .any(|arg| matches!(*arg, "--help" | "-h" | "--dry-run"));
        if args.first() == Some(&"run") && !help {
            let output = output_arg(args)
                .unwrap_or_else(|| panic!("sessionize {args:?}: the tests always pass --output"));
            if !output.contains("://") {
                let output = self.path(output);
                let report = newest_report(&output);
                assert_eq!(
                    report["run_id"].as_str(),
                    Some(outcome.run_id()),
                    "the newest report in {} is not this run's",
                    output.display()
                );
                assert_rows_accounted(&output, &report);
            }
        }
        outcome
    }
}

/// The value of `--output` (or `--output=…`) in `args`.
fn output_arg<'a>(args: &[&'a str]) -> Option<&'a str> {
    args.iter().enumerate().find_map(|(i, arg)| match *arg {
        "--output" => args.get(i + 1).copied(),
        _ => arg.strip_prefix("--output="),
    })
}

/// The run report `<output>/_runs/<run_id>.json`.
pub fn report(output: &Path, run_id: &str) -> serde_json::Value {
    let path = output.join("_runs").join(format!("{run_id}.json"));
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The newest run report under `<output>/_runs` (run ids start with the run's start time, in
/// UTC, to the millisecond).
pub fn newest_report(output: &Path) -> serde_json::Value {
    let dir = output.join("_runs");
    let newest = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|name| name.strip_suffix(".json").map(String::from))
        .filter(|name| !name.starts_with('.'))
        .max()
        .unwrap_or_else(|| panic!("no run report in {}", dir.display()));
    report(output, &newest)
}

/// A count from a report's `counts`.
pub fn count_of(report: &serde_json::Value, name: &str) -> u64 {
    report["counts"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("no count {name:?} in the report: {}", report["counts"]))
}

/// A report's rejected rows, by reason.
pub fn rejected_of(report: &serde_json::Value) -> BTreeMap<String, u64> {
    report["counts"]["rejected"]
        .as_object()
        .unwrap_or_else(|| panic!("no rejected counts in the report: {}", report["counts"]))
        .iter()
        .map(|(reason, rows)| (reason.clone(), rows.as_u64().expect("a row count")))
        .collect()
}

/// The row invariant of a finished run: every row read is sessionized, a bot's event, a
/// duplicate, rejected, or (in a dated run) a row of another day; and, counted again from the
/// partitions the run wrote (not the whole table, which may hold days of earlier runs), the
/// sessions hold `events_sessionized` events, the bot sessions `bot_events` and the rejects
/// table the rejected rows. A dated run may also rewrite an earlier day whose open session it
/// extended; that day's partition holds earlier runs' sessions too, so it bounds the count
/// from above.
pub fn assert_rows_accounted(output: &Path, report: &serde_json::Value) {
    let rows_read = count_of(report, "rows_read");
    let sessionized = count_of(report, "events_sessionized");
    let bot_events = count_of(report, "bot_events");
    let duplicates = count_of(report, "duplicates");
    let other_days = count_of(report, "rows_of_other_days");
    let rejected: u64 = rejected_of(report).values().sum();
    assert_eq!(
        rows_read,
        sessionized + bot_events + duplicates + rejected + other_days,
        "rows read = sessionized + bot events + duplicates + rejected + rows of other days, in the report of {}: {}",
        output.display(),
        report["counts"]
    );
    let first_day = report["days"]["first"].as_str().unwrap_or("0000-01-01");
    let replaced: Vec<&str> = report["partitions_replaced"]
        .as_array()
        .expect("partitions_replaced")
        .iter()
        .map(|p| p.as_str().expect("a partition"))
        .collect();
    // per table: events in the run's own days, and in earlier days it shares
    let mut events: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let mut rows_in_rejects = 0u64;
    for partition in &replaced {
        let Some((table, dt)) = partition.split_once('/') else {
            continue; // a table written whole (users)
        };
        let files = parquet_files(&output.join(partition));
        match table {
            "sessions" | "bot_sessions" => {
                let sum: u64 = files.iter().map(|f| column_sum(f, "event_count")).sum();
                let entry = events.entry(table).or_default();
                if dt.trim_start_matches("dt=") < first_day {
                    entry.1 += sum;
                } else {
                    entry.0 += sum;
                }
            }
            "rejects" => {
                for file in files {
                    rows_in_rejects += row_count(&file);
                }
            }
            _ => {}
        }
    }
    for (table, counted) in [("sessions", sessionized), ("bot_sessions", bot_events)] {
        let (own, shared) = events.get(table).copied().unwrap_or_default();
        assert!(
            own <= counted && counted <= own + shared,
            "sum(event_count) in the {table} partitions this run wrote in {}: {own} in its \
             days and {shared} in earlier days it shares with earlier runs, but the report \
             counts {counted}",
            output.display()
        );
    }
    assert_eq!(
        rows_in_rejects,
        rejected,
        "rows in the rejects partitions this run wrote in {}",
        output.display()
    );
}

/// The `.parquet` files directly in `dir`, sorted.
pub fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    files
}

/// The `.parquet` files anywhere under `dir`, sorted.
pub fn parquet_files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path.extension().is_some_and(|e| e == "parquet") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// Rows in a Parquet file, from its footer.
pub fn row_count(path: &Path) -> u64 {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    builder.metadata().file_metadata().num_rows() as u64
}

/// The sum of an int64 column of a Parquet file, reading that column only.
fn column_sum(path: &Path, column: &str) -> u64 {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let mask = ProjectionMask::columns(builder.parquet_schema(), [column]);
    let mut sum = 0i64;
    for batch in builder.with_projection(mask).build().unwrap() {
        let batch = batch.unwrap();
        let values = batch.column(0).as_primitive::<Int64Type>();
        sum += values.iter().flatten().sum::<i64>();
    }
    u64::try_from(sum).expect("a count is never negative")
}

pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn of(output: std::process::Output) -> Outcome {
        Outcome {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// The run id, from the summary's first line (`run <run_id>`).
    pub fn run_id(&self) -> &str {
        self.stdout
            .lines()
            .find_map(|line| line.strip_prefix("run "))
            .unwrap_or_else(|| panic!("no run id in the summary:\n{}", self.stdout))
            .trim()
    }

    /// A number from the run summary, by its label ("duplicates removed", "sessions", …).
    pub fn count(&self, label: &str) -> u64 {
        self.stdout
            .lines()
            .find_map(|line| {
                let line = line.trim();
                let rest = line.strip_prefix(label)?.trim_start_matches(':').trim();
                rest.split_whitespace().next()?.parse().ok()
            })
            .unwrap_or_else(|| panic!("no {label:?} in the summary:\n{}", self.stdout))
    }
}

pub fn write_parquet(path: &Path, columns: Vec<(&str, ArrayRef)>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .expect("columns of one length");
    let mut writer = ArrowWriter::try_new(File::create(path).unwrap(), schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

pub fn strings(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

pub fn texts(values: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

pub fn utc_micros(values: &[Option<i64>]) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(values.to_vec()).with_timezone("UTC"))
}

pub fn floats(values: &[Option<f64>]) -> ArrayRef {
    Arc::new(Float64Array::from(values.to_vec()))
}

/// "2026-11-01 10:00:00.25" (UTC) as epoch microseconds.
pub fn at(text: &str) -> i64 {
    let format = if text.contains('.') {
        "%Y-%m-%d %H:%M:%S%.f"
    } else {
        "%Y-%m-%d %H:%M:%S"
    };
    chrono::NaiveDateTime::parse_from_str(text, format)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .and_utc()
        .timestamp_micros()
}

pub const SECOND: i64 = 1_000_000;
pub const MINUTE: i64 = 60 * SECOND;

/// Every row of an output table, one map per row, with `dt` from the folder name.
pub fn read_table(output: &Path, table: &str) -> Vec<BTreeMap<String, Value>> {
    let mut rows = Vec::new();
    let dir = output.join(table);
    let Ok(partitions) = std::fs::read_dir(&dir) else {
        return rows;
    };
    let mut partitions: Vec<PathBuf> = partitions
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    partitions.sort();
    if partitions.is_empty() {
        // a table written whole (users): its files sit in its folder
        return read_partition(&dir);
    }
    for partition in partitions {
        rows.extend(read_partition(&partition));
    }
    rows
}

/// The tables an output holds: its folders, but for `_runs` and the like, sorted.
pub fn table_names(output: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(output)
        .unwrap_or_else(|e| panic!("{}: {e}", output.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('_'))
        .collect();
    names.sort();
    names
}

/// A table's rows as sorted text, without `run_id` (data_quality names the run that wrote
/// each row, which differs between any two runs): two outputs compared row for row.
pub fn sorted_rows(output: &Path, table: &str) -> Vec<String> {
    let mut rows: Vec<String> = read_table(output, table)
        .into_iter()
        .map(|mut row| {
            row.remove("run_id");
            format!("{row:?}")
        })
        .collect();
    rows.sort();
    rows
}

/// Every row of one partition folder (`<table>/dt=…`), with `dt` from the folder name; or
/// of a table written whole, whose folder has no `dt`.
pub fn read_partition(partition: &Path) -> Vec<BTreeMap<String, Value>> {
    let name = partition
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let dt = name.strip_prefix("dt=").map(String::from);
    let mut rows = Vec::new();
    for file in parquet_files(partition) {
        for batch in read_parquet(&file) {
            for i in 0..batch.num_rows() {
                let mut row = BTreeMap::new();
                if let Some(dt) = &dt {
                    row.insert("dt".to_string(), Value::Text(dt.clone()));
                }
                for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
                    row.insert(field.name().clone(), Value::of(field.name(), column, i));
                }
                rows.push(row);
            }
        }
    }
    rows
}

pub fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let file = File::open(path).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

/// One cell of an output table.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Microseconds since the epoch, UTC.
    Time(i64),
}

impl Value {
    fn of(name: &str, column: &ArrayRef, i: usize) -> Value {
        if column.is_null(i) {
            return Value::Null;
        }
        match column.data_type() {
            DataType::Utf8 => Value::Text(column.as_string::<i32>().value(i).to_string()),
            DataType::Int64 => Value::Int(column.as_primitive::<Int64Type>().value(i)),
            DataType::Float64 => Value::Float(column.as_primitive::<Float64Type>().value(i)),
            DataType::Boolean => Value::Bool(column.as_boolean().value(i)),
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                Value::Time(column.as_primitive::<TimestampMicrosecondType>().value(i))
            }
            other => panic!("column {name}: unexpected output type {other}"),
        }
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            Value::Null => None,
            other => panic!("{other:?} is not text"),
        }
    }
    pub fn int(&self) -> i64 {
        match self {
            Value::Int(v) => *v,
            other => panic!("{other:?} is not an integer"),
        }
    }
    pub fn float(&self) -> f64 {
        match self {
            Value::Float(v) => *v,
            other => panic!("{other:?} is not a float"),
        }
    }
    pub fn bool(&self) -> bool {
        match self {
            Value::Bool(v) => *v,
            other => panic!("{other:?} is not a boolean"),
        }
    }
    pub fn time(&self) -> i64 {
        match self {
            Value::Time(v) => *v,
            other => panic!("{other:?} is not a timestamp"),
        }
    }
}

/// The fields of a session that most tests compare.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Session {
    pub user_id: String,
    pub start: i64,
    pub end: i64,
    pub events: i64,
}

/// The sessions table, as (user, start, end, events), sorted.
pub fn sessions(output: &Path) -> Vec<Session> {
    let mut sessions: Vec<Session> = read_table(output, "sessions")
        .iter()
        .map(|row| Session {
            user_id: row["user_id"].text().unwrap().to_string(),
            start: row["session_start"].time(),
            end: row["session_end"].time(),
            events: row["event_count"].int(),
        })
        .collect();
    sessions.sort();
    sessions
}

/// The sessions table rows, sorted by user and start.
pub fn session_rows(output: &Path) -> Vec<BTreeMap<String, Value>> {
    let mut rows = read_table(output, "sessions");
    rows.sort_by_key(|r| {
        (
            r["user_id"].text().unwrap().to_string(),
            r["session_start"].time(),
        )
    });
    rows
}

pub fn ints(values: &[Option<i64>]) -> ArrayRef {
    Arc::new(Int64Array::from(values.to_vec()))
}

pub fn bools(values: &[Option<bool>]) -> ArrayRef {
    Arc::new(BooleanArray::from(values.to_vec()))
}
