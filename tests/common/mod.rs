//! Helpers shared by the tests: a scratch directory, Parquet fixtures written column by
//! column, the real binary, and the output tables read back with the parquet crate.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{
    DataType, Field, Float64Type, Int64Type, Schema, TimeUnit, TimestampMicrosecondType,
};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

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

    /// Runs `sessionize` with `args`, in this directory.
    pub fn sessionize(&self, args: &[&str]) -> Outcome {
        let output = Command::new(env!("CARGO_BIN_EXE_sessionize"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("SESSIONIZE_INPUT")
            .env_remove("SESSIONIZE_OUTPUT")
            .env_remove("SESSIONIZE_CONFIG")
            .output()
            .expect("the sessionize binary runs");
        Outcome {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs `sessionize` and insists that it succeeds.
    pub fn sessionize_ok(&self, args: &[&str]) -> Outcome {
        let outcome = self.sessionize(args);
        assert_eq!(
            outcome.code,
            Some(0),
            "sessionize {args:?} failed\nstdout:\n{}\nstderr:\n{}",
            outcome.stdout,
            outcome.stderr
        );
        outcome
    }
}

pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
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
    let mut partitions: Vec<PathBuf> = partitions.map(|e| e.unwrap().path()).collect();
    partitions.sort();
    for partition in partitions {
        let name = partition
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let dt = name
            .strip_prefix("dt=")
            .expect("partition folders are dt=…")
            .to_string();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&partition)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .collect();
        files.sort();
        for file in files {
            for batch in read_parquet(&file) {
                for i in 0..batch.num_rows() {
                    let mut row = BTreeMap::new();
                    row.insert("dt".to_string(), Value::Text(dt.clone()));
                    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
                        row.insert(field.name().clone(), Value::of(field.name(), column, i));
                    }
                    rows.push(row);
                }
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
