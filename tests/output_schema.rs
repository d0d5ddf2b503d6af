//! The output contract, read back with the parquet crate: table layout, column names and
//! types, timestamps as UTC microseconds, strings as plain UTF-8, `_SUCCESS` in each partition.

use std::path::{Path, PathBuf};

use arrow::datatypes::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::common::*;

/// The first Parquet file of a table's first `dt=` partition, which must hold `_SUCCESS`.
fn first_file(table_dir: &Path) -> PathBuf {
    let partition = std::fs::read_dir(table_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(
        partition
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("dt=")
    );
    assert!(
        partition.join("_SUCCESS").exists(),
        "{} has no _SUCCESS",
        partition.display()
    );
    std::fs::read_dir(&partition)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .unwrap()
}

/// A reader of that file.
fn first_reader(table_dir: &Path) -> ParquetRecordBatchReaderBuilder<std::fs::File> {
    ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(first_file(table_dir)).unwrap())
        .unwrap()
}

/// Runs sessionize on 3,000 generated events over `days` days, into `out`.
fn run_on_generated(work: &Work, days: &str) {
    work.sessionize_ok(&[
        "generate", "--events", "3000", "--days", days, "--seed", "5", "--output", "events",
    ]);
    work.sessionize_ok(&["run", "--input", "events", "--output", "out"]);
}

fn schema_of(table_dir: &Path) -> Vec<(String, DataType)> {
    first_reader(table_dir)
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect()
}

#[test]
fn tables_columns_and_types() {
    let work = Work::new();
    run_on_generated(&work, "2");
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let text = DataType::Utf8;
    let int = DataType::Int64;
    let float = DataType::Float64;
    let flag = DataType::Boolean;
    let sessions: Vec<(&str, DataType)> = vec![
        ("session_id", text.clone()),
        ("user_id", text.clone()),
        ("session_number", int.clone()),
        ("session_start", utc.clone()),
        ("session_end", utc.clone()),
        ("duration_s", float.clone()),
        ("event_count", int.clone()),
        ("page_view_count", int.clone()),
        ("landing_page", text.clone()),
        ("exit_page", text.clone()),
        ("referrer", text.clone()),
        ("source", text.clone()),
        ("medium", text.clone()),
        ("campaign", text.clone()),
        ("channel", text.clone()),
        ("device", text.clone()),
        ("browser", text.clone()),
        ("os", text.clone()),
        ("country", text.clone()),
        ("is_bounce", flag.clone()),
        ("is_engaged", flag.clone()),
        ("conversion_count", int.clone()),
        ("revenue", float.clone()),
        ("is_new_user", flag.clone()),
        ("is_bot", flag.clone()),
    ];
    let expect = |table: &str, columns: &[(&str, DataType)]| {
        let found = schema_of(&work.path("out").join(table));
        let expected: Vec<(String, DataType)> = columns
            .iter()
            .map(|(n, t)| (n.to_string(), t.clone()))
            .collect();
        assert_eq!(found, expected, "columns of {table}");
    };
    expect("sessions", &sessions);

    let measures: Vec<(&str, DataType)> = vec![
        ("sessions", int.clone()),
        ("users", int.clone()),
        ("new_users", int.clone()),
        ("page_views", int.clone()),
        ("events", int.clone()),
        ("total_duration_s", float.clone()),
        ("bounces", int.clone()),
        ("engaged_sessions", int.clone()),
        ("conversions", int.clone()),
        ("converted_sessions", int.clone()),
        ("revenue", float.clone()),
        ("bounce_rate", float.clone()),
        ("engagement_rate", float.clone()),
        ("conversion_rate", float.clone()),
        ("avg_session_duration_s", float.clone()),
        ("pages_per_session", float.clone()),
    ];
    for (table, dimensions) in [
        ("metrics_daily", vec![]),
        ("metrics_by_source", vec!["channel", "source", "medium"]),
        ("metrics_by_device", vec!["device"]),
        ("metrics_by_landing_page", vec!["landing_page"]),
        ("metrics_by_country", vec!["country"]),
    ] {
        let mut columns: Vec<(&str, DataType)> =
            dimensions.iter().map(|d| (*d, text.clone())).collect();
        columns.extend(measures.iter().cloned());
        expect(table, &columns);
    }
    expect(
        "metrics_by_exit_page",
        &[
            ("exit_page", text.clone()),
            ("exits", int.clone()),
            ("page_views", int.clone()),
            ("exit_rate", float.clone()),
        ],
    );

    // every session is in exactly one partition, the day it started
    for row in read_table(&work.path("out"), "sessions") {
        let start = chrono::DateTime::from_timestamp_micros(row["session_start"].time()).unwrap();
        assert_eq!(
            row["dt"].text().unwrap(),
            start.format("%Y-%m-%d").to_string()
        );
    }
    assert!(
        !work
            .path("out/_staging")
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(false)
    );
}

/// The columns whose values rarely repeat are stored plain, the others with a dictionary
/// (`write::parquet_options`): the source, with a handful of values, as the control that the
/// check sees a dictionary where there is one.
#[test]
fn unique_columns_are_written_without_a_dictionary() {
    let work = Work::new();
    run_on_generated(&work, "1");
    let reader = first_reader(&work.path("out/sessions"));
    let metadata = reader.metadata();
    let has_dictionary = |name: &str| {
        let group = metadata.row_group(0);
        let column = (0..group.num_columns())
            .map(|i| group.column(i))
            .find(|c| c.column_path().string() == name)
            .unwrap_or_else(|| panic!("no column {name}"));
        column.dictionary_page_offset().is_some()
    };
    for unique in ["session_id", "user_id", "session_start", "session_end"] {
        assert!(!has_dictionary(unique), "{unique} has a dictionary");
    }
    assert!(has_dictionary("source"), "source has no dictionary");
}
