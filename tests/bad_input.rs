//! Bad input gets a clear answer. A file, a column or a config key that is wrong stops the
//! run with exit code 2 and a message that names it and says what was expected; unreadable
//! files can be skipped instead (exit code 3, listed in the run report); a row that cannot be
//! sessionized is counted by reason and kept, as it came, in the `rejects` table.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{Float64Type, TimestampMicrosecondType};
use parquet::file::reader::{FileReader, SerializedFileReader};

use crate::common::*;

/// (name, columns, what the message must say)
type Case<'a> = (&'a str, Vec<(&'a str, ArrayRef)>, Vec<&'a str>);

/// Two events of `user`, a minute apart, from 2026-11-10 12:00 UTC.
fn two_events(work: &Work, relative: &str, user: &str) -> PathBuf {
    let t = at("2026-11-10 12:00:00");
    let ids = [format!("{user}-1"), format!("{user}-2")];
    work.write_parquet(
        relative,
        vec![
            ("event_id", texts(&[ids[0].as_str(), ids[1].as_str()])),
            ("user_id", texts(&[user, user])),
            ("event_time", utc_micros(&[Some(t), Some(t + MINUTE)])),
        ],
    )
}

/// The path as the messages print it: absolute.
fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// Asserts the exit code and that stderr holds every one of `parts`.
#[track_caller]
fn assert_fails(outcome: &Outcome, code: i32, parts: &[&str]) {
    assert_eq!(
        outcome.code,
        Some(code),
        "exit code\nstdout:\n{}\nstderr:\n{}",
        outcome.stdout,
        outcome.stderr
    );
    for part in parts {
        assert!(
            outcome.stderr.contains(part),
            "stderr does not mention {part:?}:\n{}",
            outcome.stderr
        );
    }
}

/// `sessionize run --input in --output out`, and `extra`.
fn run_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", "--input", "in", "--output", "out"];
    args.extend_from_slice(extra);
    args
}

fn run(work: &Work, extra: &[&str]) -> Outcome {
    work.sessionize(&run_args(extra))
}

/// A run that must succeed (and account for every row: see `Work::sessionize_ok`).
fn run_ok(work: &Work, extra: &[&str]) -> Outcome {
    work.sessionize_ok(&run_args(extra))
}

// ---------------------------------------------------------------------------------------
// files

#[test]
fn a_missing_input_path() {
    let work = Work::new();
    let outcome = work.sessionize(&["run", "--input", "nowhere", "--output", "out"]);
    assert_fails(&outcome, 2, &["nowhere", "cannot read the input path"]);
}

#[test]
fn a_directory_without_parquet_files() {
    let work = Work::new();
    work.write(
        "in/events.csv",
        "user_id,event_time\nu,2026-11-10T12:00:00Z\n",
    );
    let outcome = run(&work, &[]);
    assert_fails(
        &outcome,
        2,
        &["in: no Parquet files (*.parquet) found there"],
    );
}

#[test]
fn a_file_that_is_not_parquet() {
    let work = Work::new();
    two_events(&work, "in/a.parquet", "a");
    let bad = work.write(
        "in/b.parquet",
        "user_id,event_time\nb,2026-11-10T12:00:00Z\n",
    );
    let outcome = run(&work, &[]);
    assert_fails(
        &outcome,
        2,
        &[
            &shown(&bad),
            "not a readable Parquet file",
            "truncated or corrupt",
        ],
    );
    assert_skipped(&work, &bad, "not a readable Parquet file");
}

#[test]
fn a_truncated_parquet_file() {
    let work = Work::new();
    let file = two_events(&work, "in/a.parquet", "a");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let outcome = run(&work, &[]);
    assert_fails(
        &outcome,
        2,
        &[
            &shown(&file),
            "not a readable Parquet file",
            "truncated or corrupt",
        ],
    );
}

#[test]
fn an_empty_file() {
    let work = Work::new();
    two_events(&work, "in/a.parquet", "a");
    let empty = work.write("in/b.parquet", "");
    let outcome = run(&work, &[]);
    assert_fails(&outcome, 2, &[&shown(&empty), "empty file (0 bytes)"]);
}

/// Overwrites every column chunk (page headers and data) with garbage, leaving the footer as
/// it was: the file lists and inspects fine, and fails only when its data is read.
fn overwrite_data_pages(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let footer_before = footer(&bytes).to_vec();
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut overwritten = 0;
    for row_group in reader.metadata().row_groups() {
        for column in row_group.columns() {
            let (start, length) = column.byte_range();
            let range = start as usize..(start + length) as usize;
            overwritten += range.len();
            bytes[range].fill(0xFF);
        }
    }
    assert!(overwritten > 0);
    assert_eq!(footer(&bytes), footer_before, "the footer is left intact");
    std::fs::write(path, bytes).unwrap();
}

/// The footer of a Parquet file: metadata, its length and the closing magic.
fn footer(bytes: &[u8]) -> &[u8] {
    let n = bytes.len();
    let length = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
    &bytes[n - 8 - length..]
}

#[test]
fn a_parquet_file_whose_data_pages_are_garbage() {
    let work = Work::new();
    two_events(&work, "in/a.parquet", "a");
    let bad = two_events(&work, "in/b.parquet", "b");
    overwrite_data_pages(&bad);
    let outcome = run(&work, &["--on-bad-file", "fail"]);
    assert_fails(&outcome, 2, &[&shown(&bad), "corrupt data in the file"]);
    assert!(
        !work.path("out/sessions").exists(),
        "a failed run writes no table"
    );
    assert_skipped(&work, &bad, "corrupt data in the file");
}

/// With `--on-bad-file skip`, `bad` is left out: exit code 3, the report lists it with a
/// reason, and a.parquet's two events (user a) make one session.
#[track_caller]
fn assert_skipped(work: &Work, bad: &Path, reason: &str) {
    let outcome = run(work, &["--on-bad-file", "skip"]);
    assert_eq!(
        outcome.code,
        Some(3),
        "stdout:\n{}\nstderr:\n{}",
        outcome.stdout,
        outcome.stderr
    );
    assert!(outcome.stdout.contains(&shown(bad)), "{}", outcome.stdout);
    let out = work.path("out");
    let report = report(&out, outcome.run_id());
    assert_eq!(report["status"], "ok_with_skipped_files");
    assert_eq!(report["exit_code"], 3);
    let skipped = report["skipped_files"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0]["path"].as_str(), Some(shown(bad).as_str()));
    let why = skipped[0]["reason"].as_str().unwrap();
    assert!(why.contains(reason), "{why}");
    assert_eq!(count_of(&report, "rows_read"), 2);
    assert_rows_accounted(&out, &report);
    let t = at("2026-11-10 12:00:00");
    assert_eq!(
        sessions(&out),
        vec![Session {
            user_id: "a".into(),
            start: t,
            end: t + MINUTE,
            events: 2
        }]
    );
}

// ---------------------------------------------------------------------------------------
// columns

#[test]
fn a_required_column_missing_in_some_files() {
    let work = Work::new();
    two_events(&work, "in/a.parquet", "a");
    let t = at("2026-11-10 12:00:00");
    let without = work.write_parquet(
        "in/b.parquet",
        vec![
            ("event_id", texts(&["b-1"])),
            ("visitor", texts(&["b"])),
            ("event_time", utc_micros(&[Some(t)])),
        ],
    );
    let outcome = run(&work, &[]);
    assert_fails(
        &outcome,
        2,
        &[
            "required column \"user_id\"",
            "missing in 1 file(s)",
            &shown(&without),
        ],
    );
}

#[test]
fn a_mapped_column_with_different_types_in_two_files() {
    let work = Work::new();
    let t = at("2026-11-10 12:00:00");
    let millis = work.write_parquet(
        "in/a.parquet",
        vec![
            ("user_id", texts(&["a"])),
            ("event_time", ints(&[Some(t / 1000)])),
        ],
    );
    let timestamps = work.write_parquet(
        "in/b.parquet",
        vec![
            ("user_id", texts(&["b"])),
            ("event_time", utc_micros(&[Some(t)])),
        ],
    );
    let outcome = run(&work, &[]);
    assert_fails(
        &outcome,
        2,
        &[
            "column \"event_time\" has type Int64",
            "Timestamp",
            &shown(&millis),
            &shown(&timestamps),
        ],
    );
}

/// A column no field is mapped to may disagree between files: it is only left out of the
/// rejects table, and the report says so.
#[test]
fn an_unmapped_column_with_conflicting_types_does_not_fail_the_run() {
    let work = Work::new();
    let t = at("2026-11-10 12:00:00");
    work.write_parquet(
        "in/a.parquet",
        vec![
            ("user_id", strings(&[Some("a"), None])),
            ("event_time", utc_micros(&[Some(t), Some(t)])),
            ("campaign_code", ints(&[Some(7), Some(8)])),
        ],
    );
    work.write_parquet(
        "in/b.parquet",
        vec![
            ("user_id", texts(&["b"])),
            ("event_time", utc_micros(&[Some(t)])),
            ("campaign_code", texts(&["seven"])),
        ],
    );
    let outcome = run_ok(&work, &[]);
    let out = work.path("out");
    let report = report(&out, outcome.run_id());
    let notes = notes_of(&report);
    assert!(
        notes
            .iter()
            .any(|n| n.contains("\"campaign_code\"")
                && n.contains("not carried into the rejects table")),
        "{notes:?}"
    );
    assert_eq!(
        sessions(&out)
            .iter()
            .map(|s| &s.user_id)
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    let rejects = read_table(&out, "rejects");
    assert_eq!(rejects.len(), 1);
    assert_eq!(
        rejects[0].keys().collect::<Vec<_>>(),
        ["dt", "event_time", "reject_reason", "user_id"]
    );
}

fn notes_of(report: &serde_json::Value) -> Vec<String> {
    report["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

/// country is in a.parquet only: b's events read it as NULL, and the report says so.
#[test]
fn an_optional_mapped_column_missing_in_some_files_is_read_as_null() {
    let work = Work::new();
    let t = at("2026-11-10 12:00:00");
    work.write_parquet(
        "in/a.parquet",
        vec![
            ("user_id", texts(&["a"])),
            ("event_time", utc_micros(&[Some(t)])),
            ("country", texts(&["FR"])),
        ],
    );
    let without = two_events(&work, "in/b.parquet", "b");
    let outcome = run_ok(&work, &[]);
    let report = report(&work.path("out"), outcome.run_id());
    let notes = notes_of(&report);
    assert!(
        notes.iter().any(|n| n.contains("\"country\"")
            && n.contains("missing in 1 file(s)")
            && n.contains(&shown(&without))
            && n.contains("read as NULL")),
        "{notes:?}"
    );
    let rows = session_rows(&work.path("out"));
    let countries: Vec<(Option<&str>, Option<&str>)> = rows
        .iter()
        .map(|r| (r["user_id"].text(), r["country"].text()))
        .collect();
    assert_eq!(countries, [(Some("a"), Some("FR")), (Some("b"), None)]);
    assert_eq!(rows[1]["event_count"].int(), 2);
}

/// A required field with no column, by its default name or by the name the config gives.
#[test]
fn a_required_column_missing_everywhere() {
    let work = Work::new();
    work.write_parquet(
        "in/events.parquet",
        vec![("uid", texts(&["a"])), ("ts", utc_micros(&[Some(0)]))],
    );
    let outcome = run(&work, &[]);
    assert_fails(
        &outcome,
        2,
        &[
            "column \"user_id\" (required field user_id) is not in the input",
            "its columns are: uid, ts",
        ],
    );

    work.write(
        "map.toml",
        "[columns]\nuser_id = \"uid\"\nevent_time = \"time\"\n",
    );
    let outcome = run(&work, &["--config", "map.toml"]);
    assert_fails(
        &outcome,
        2,
        &[
            "column \"time\" ([columns] event_time = \"time\" in the config) is not in the input",
            "its columns are: uid, ts",
        ],
    );

    // an optional field named in the config must exist too: a typo is not a NULL column
    work.write(
        "geo.toml",
        "[columns]\nuser_id = \"uid\"\nevent_time = \"ts\"\ncountry = \"geo\"\n",
    );
    let outcome = run(&work, &["--config", "geo.toml"]);
    assert_fails(
        &outcome,
        2,
        &["column \"geo\" ([columns] country = \"geo\" in the config) is not in the input"],
    );
}

#[test]
fn a_column_of_a_type_that_cannot_be_its_field() {
    let t = at("2026-11-10 12:00:00");
    let cases: Vec<Case> = vec![
        (
            "event_time as a double",
            vec![
                ("user_id", texts(&["a"])),
                ("event_time", floats(&[Some(1.0)])),
            ],
            vec![
                "column \"event_time\" (mapped to event_time) has type Float64",
                "expected a timestamp",
            ],
        ),
        (
            "user_id as a boolean",
            vec![
                ("user_id", bools(&[Some(true)])),
                ("event_time", utc_micros(&[Some(t)])),
            ],
            vec![
                "column \"user_id\" (mapped to user_id) has type Boolean",
                "expected a string (or an integer)",
            ],
        ),
        (
            "revenue as a string",
            vec![
                ("user_id", texts(&["a"])),
                ("event_time", utc_micros(&[Some(t)])),
                ("revenue", texts(&["12.50 EUR"])),
            ],
            vec![
                "column \"revenue\" (mapped to revenue) has type Utf8",
                "expected a number",
            ],
        ),
    ];
    for (case, columns, expected) in cases {
        let work = Work::new();
        work.write_parquet("in/events.parquet", columns);
        let outcome = run(&work, &[]);
        assert_eq!(outcome.code, Some(2), "{case}: {}", outcome.stderr);
        for part in expected {
            assert!(
                outcome.stderr.contains(part),
                "{case}: stderr does not mention {part:?}:\n{}",
                outcome.stderr
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// configuration

#[test]
fn an_unknown_key_in_the_config() {
    let work = Work::new();
    two_events(&work, "in/a.parquet", "a");
    for (text, named) in [
        ("[sesions]\ntimeout = \"30m\"\n", "sesions"),
        ("[input]\nmax_string_byte = 100\n", "max_string_byte"),
        (
            "[columns]\nuserid = \"uid\"\n",
            "columns.userid: unknown field",
        ),
    ] {
        work.write("cfg.toml", text);
        let outcome = run(&work, &["--config", "cfg.toml"]);
        assert_fails(&outcome, 2, &["cfg.toml", named]);
    }
}

#[test]
fn a_bad_value_in_the_config() {
    let work = Work::new();
    two_events(&work, "in/a.parquet", "a");
    for (text, named) in [
        (
            "[sessions]\ntimeout = \"thirty\"\n",
            &["sessions.timeout", "\"thirty\" is not a duration"][..],
        ),
        (
            "[sessions]\ntimezone = \"Mars/Olympus\"\n",
            &["sessions.timezone", "Mars/Olympus"][..],
        ),
        (
            "[input]\nearliest_event_time = \"long ago\"\n",
            &["input.earliest_event_time", "long ago"][..],
        ),
    ] {
        work.write("cfg.toml", text);
        let outcome = run(&work, &["--config", "cfg.toml"]);
        let mut parts = vec!["cfg.toml"];
        parts.extend_from_slice(named);
        assert_fails(&outcome, 2, &parts);
    }
}

/// A bad `--timeout` is the command line's to fix, whatever the config file says; a
/// timeout longer than the default longest session blames the value the user wrote.
#[test]
fn a_bad_timeout_is_blamed_where_it_was_written() {
    let work = Work::new();
    two_events(&work, "in/a.parquet", "a");
    work.write("cfg.toml", "[sessions]\ntimeout = \"30m\"\n");
    let cases: [(&[&str], &[&str]); 4] = [
        (
            &["--config", "cfg.toml", "--timeout", "0s"],
            &["command line: --timeout:", "more than zero"],
        ),
        (
            &["--timeout", "2d"],
            &[
                "command line: --timeout:",
                "sessions.max_session_duration",
                "1day",
            ],
        ),
        (
            &["--config", "long.toml"],
            &["long.toml: sessions.timeout:", "1day"],
        ),
        (
            &["--config", "max.toml", "--timeout", "2h"],
            &[
                "max.toml: sessions.max_session_duration:",
                "longer than the timeout (2h)",
            ],
        ),
    ];
    work.write("long.toml", "[sessions]\ntimeout = \"25h\"\n");
    work.write("max.toml", "[sessions]\nmax_session_duration = \"1h\"\n");
    for (args, parts) in cases {
        let outcome = run(&work, args);
        assert_fails(&outcome, 2, parts);
        assert!(
            !outcome.stderr.contains("cfg.toml") && !outcome.stderr.contains("defaults"),
            "{args:?} blames another source:\n{}",
            outcome.stderr
        );
    }
}

// ---------------------------------------------------------------------------------------
// rows

/// Fourteen rows, each one a case. The user is in a column `visitor` (mapped to user_id by
/// the config), times are ISO strings, and `note` is a column no field is mapped to. All
/// rows are on 2026-11-05 (UTC) unless said otherwise.
///
/// | event_id | visitor     | event_time          | what it is                                |
/// |----------|-------------|---------------------|-------------------------------------------|
/// | h1       | h           | 07:00               | kept                                      |
/// | h1       | h           | 07:00               | an exact copy: a duplicate                |
/// | h2       | h           | 07:01               | kept, the earliest copy of h2             |
/// | h2       | h           | 07:03               | h2 with another payload: rejected         |
/// | NULL     | h           | 07:02 (purchase)    | kept (no id: keyed by its content)        |
/// | NULL     | h           | 07:02 (purchase)    | the identical row: a duplicate            |
/// | n1       | NULL        | 07:00               | missing user_id                           |
/// | n2       | ""          | 07:00               | empty user_id                             |
/// | n3       | "   "       | 07:00               | empty user_id                             |
/// | n4       | h           | NULL                | missing event_time                        |
/// | n5       | h           | "yesterday at noon" | unparsable event_time                     |
/// | n6       | h           | 1985-06-01          | before 1990-01-01 (earliest_event_time)   |
/// | n7       | h           | 2099-01-01          | more than a day in the future             |
/// | n8       | 10 KB of x  | 07:00               | user_id too long (over 8192 bytes)        |
fn rejects_fixture(work: &Work) -> String {
    let long_user = "x".repeat(10 * 1024);
    let day = "2026-11-05T";
    let time = |hm: &str| format!("{day}{hm}:00Z");
    let (t0, t1, t2, t3) = (time("07:00"), time("07:01"), time("07:02"), time("07:03"));
    work.write_parquet(
        "in/events.parquet",
        vec![
            (
                "event_id",
                strings(&[
                    Some("h1"),
                    Some("h1"),
                    Some("h2"),
                    Some("h2"),
                    None,
                    None,
                    Some("n1"),
                    Some("n2"),
                    Some("n3"),
                    Some("n4"),
                    Some("n5"),
                    Some("n6"),
                    Some("n7"),
                    Some("n8"),
                ]),
            ),
            (
                "visitor",
                strings(&[
                    Some("h"),
                    Some("h"),
                    Some("h"),
                    Some("h"),
                    Some("h"),
                    Some("h"),
                    None,
                    Some(""),
                    Some("   "),
                    Some("h"),
                    Some("h"),
                    Some("h"),
                    Some("h"),
                    Some(&long_user),
                ]),
            ),
            (
                "event_time",
                strings(&[
                    Some(&t0),
                    Some(&t0),
                    Some(&t1),
                    Some(&t3),
                    Some(&t2),
                    Some(&t2),
                    Some(&t0),
                    Some(&t0),
                    Some(&t0),
                    None,
                    Some("yesterday at noon"),
                    Some("1985-06-01T00:00:00Z"),
                    Some("2099-01-01T00:00:00Z"),
                    Some(&t0),
                ]),
            ),
            (
                "event_name",
                texts(&[
                    "page_view",
                    "page_view",
                    "page_view",
                    "page_view",
                    "purchase",
                    "purchase",
                    "page_view",
                    "page_view",
                    "page_view",
                    "page_view",
                    "page_view",
                    "page_view",
                    "page_view",
                    "page_view",
                ]),
            ),
            (
                "revenue",
                floats(&[
                    Some(10.0),
                    Some(10.0),
                    None,
                    None,
                    Some(1.5),
                    Some(1.5),
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                ]),
            ),
            (
                "note",
                texts(&[
                    "first view",
                    "first view",
                    "second view",
                    "second view, resent",
                    "order",
                    "order",
                    "no user",
                    "empty user",
                    "blank user",
                    "no time",
                    "bad time",
                    "old time",
                    "future time",
                    "long user",
                ]),
            ),
        ],
    );
    work.write("cfg.toml", "[columns]\nuser_id = \"visitor\"\n");
    long_user
}

/// The report's counts: rows read, duplicates, events sessionized, rejected rows by reason.
#[track_caller]
fn assert_counts(
    report: &serde_json::Value,
    rows_read: u64,
    duplicates: u64,
    sessionized: u64,
    rejected: &[(&str, u64)],
) {
    assert_eq!(count_of(report, "rows_read"), rows_read);
    assert_eq!(count_of(report, "duplicates"), duplicates);
    assert_eq!(count_of(report, "events_sessionized"), sessionized);
    let rejected: BTreeMap<String, u64> =
        rejected.iter().map(|(r, n)| (r.to_string(), *n)).collect();
    assert_eq!(rejected_of(report), rejected);
}

#[test]
fn rows_that_cannot_be_sessionized_are_counted_and_kept_in_the_rejects_table() {
    let work = Work::new();
    let long_user = rejects_fixture(&work);
    let outcome = run_ok(&work, &["--config", "cfg.toml"]);
    let out = work.path("out");
    let report = report(&out, outcome.run_id());
    assert_counts(
        &report,
        14,
        2,
        3,
        &[
            ("missing user_id", 1),
            ("empty user_id", 2),
            ("missing event_time", 1),
            ("unparsable event_time", 1),
            ("event_time before earliest_event_time", 1),
            ("event_time in the future", 1),
            ("user_id too long", 1),
            ("duplicate event_id with a different payload", 1),
        ],
    );
    assert_eq!(count_of(&report, "sessions"), 1);
    // the summary says the same
    assert_eq!(outcome.count("not sessionizable"), 9);
    assert_eq!(outcome.count("user_id too long"), 1);

    // h1 once, h2's earliest copy, and the row without an id once: one session
    let rows = session_rows(&out);
    assert_eq!(rows.len(), 1);
    let h = &rows[0];
    assert_eq!(h["user_id"].text(), Some("h"));
    assert_eq!(h["session_start"].time(), at("2026-11-05 07:00:00"));
    assert_eq!(h["session_end"].time(), at("2026-11-05 07:02:00"));
    assert_eq!(h["event_count"].int(), 3);
    assert_eq!(h["page_view_count"].int(), 2);
    assert_eq!(h["conversion_count"].int(), 1);
    assert_eq!(h["revenue"].float(), 11.5);

    // the rejects table: the rows as they came, under their own column names (visitor, not
    // user_id; event_time as the string it was; note, which no field is mapped to), the
    // reason, and the day of the event (the run's day when the time is unknown)
    let run_day = &report["started_at"].as_str().unwrap()[..10];
    let rejects = read_table(&out, "rejects");
    for row in &rejects {
        assert_eq!(
            row.keys().map(String::as_str).collect::<Vec<_>>(),
            [
                "dt",
                "event_id",
                "event_name",
                "event_time",
                "note",
                "reject_reason",
                "revenue",
                "visitor"
            ]
        );
    }
    let mut found: Vec<[Option<String>; 5]> = rejects
        .iter()
        .map(|row| {
            ["event_id", "visitor", "event_time", "note", "reject_reason"]
                .map(|c| row[c].text().map(String::from))
        })
        .collect();
    found.sort();
    let dt_of: HashMap<&str, &str> = rejects
        .iter()
        .map(|row| (row["note"].text().unwrap(), row["dt"].text().unwrap()))
        .collect();
    let row = |id: &str, visitor: Option<&str>, time: Option<&str>, note: &str, reason: &str| {
        [
            Some(id.to_string()),
            visitor.map(String::from),
            time.map(String::from),
            Some(note.to_string()),
            Some(reason.to_string()),
        ]
    };
    let t0 = "2026-11-05T07:00:00Z";
    let mut expected = vec![
        row(
            "h2",
            Some("h"),
            Some("2026-11-05T07:03:00Z"),
            "second view, resent",
            "duplicate event_id with a different payload",
        ),
        row("n1", None, Some(t0), "no user", "missing user_id"),
        row("n2", Some(""), Some(t0), "empty user", "empty user_id"),
        row("n3", Some("   "), Some(t0), "blank user", "empty user_id"),
        row("n4", Some("h"), None, "no time", "missing event_time"),
        row(
            "n5",
            Some("h"),
            Some("yesterday at noon"),
            "bad time",
            "unparsable event_time",
        ),
        row(
            "n6",
            Some("h"),
            Some("1985-06-01T00:00:00Z"),
            "old time",
            "event_time before earliest_event_time",
        ),
        row(
            "n7",
            Some("h"),
            Some("2099-01-01T00:00:00Z"),
            "future time",
            "event_time in the future",
        ),
        row(
            "n8",
            Some(&long_user),
            Some(t0),
            "long user",
            "user_id too long",
        ),
    ];
    expected.sort();
    assert_eq!(found, expected);
    let dt = |note: &str| dt_of[note];
    for note in [
        "second view, resent",
        "no user",
        "empty user",
        "blank user",
        "long user",
    ] {
        assert_eq!(dt(note), "2026-11-05", "{note}");
    }
    // a time that is missing or implausible says nothing of the row's day: with no dt=
    // folder to go by, the row is kept under the day of the run
    for note in ["no time", "bad time", "old time", "future time"] {
        assert_eq!(dt(note), run_day, "{note}");
    }
}

/// A rejected row found by its key: rows_set_aside picks out the rejected rows and the copies
/// of repeated keys in one join, each rejected row by the NULL key that stands for them all.
/// A rejected row that repeats a good row's event_id, and a rejected row sent twice, are each
/// rejected once, and take nothing from the good row.
#[test]
fn rejected_rows_that_repeat_an_event_id_are_each_rejected_once() {
    let work = Work::new();
    let t0 = "2026-11-05T07:00:00Z";
    work.write_parquet(
        "in/events.parquet",
        vec![
            (
                "event_id",
                strings(&[Some("d1"), Some("d1"), Some("d2"), Some("d2")]),
            ),
            ("visitor", strings(&[Some("h"), None, Some(""), Some("")])),
            (
                "event_time",
                strings(&[Some(t0), Some(t0), Some(t0), Some(t0)]),
            ),
            ("event_name", texts(&["page_view"; 4])),
            (
                "note",
                texts(&["good", "no user", "empty user", "empty user again"]),
            ),
        ],
    );
    work.write("cfg.toml", "[columns]\nuser_id = \"visitor\"\n");
    let outcome = run_ok(&work, &["--config", "cfg.toml"]);
    let out = work.path("out");
    let report = report(&out, outcome.run_id());
    assert_counts(
        &report,
        4,
        0,
        1,
        &[("missing user_id", 1), ("empty user_id", 2)],
    );
    let rows = session_rows(&out);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["user_id"].text(), Some("h"));
    assert_eq!(rows[0]["event_count"].int(), 1);
    let mut notes: Vec<String> = read_table(&out, "rejects")
        .iter()
        .map(|row| row["note"].text().unwrap().to_string())
        .collect();
    notes.sort();
    assert_eq!(notes, ["empty user", "empty user again", "no user"]);
}

/// Rows of the three required columns, delivered in the folder of 2026-11-05; the report of
/// the run over them, which must succeed.
fn run_over_one_folder(
    work: &Work,
    ids: &[&str],
    users: &[Option<&str>],
    times: &[Option<i64>],
) -> serde_json::Value {
    work.write_parquet(
        "in/dt=2026-11-05/events.parquet",
        vec![
            ("event_id", texts(ids)),
            ("user_id", strings(users)),
            ("event_time", utc_micros(times)),
        ],
    );
    let outcome = run_ok(work, &[]);
    report(&work.path("out"), outcome.run_id())
}

/// A row that fails on its user and has no plausible time either is rejected for its user,
/// and its time says nothing of its day: it is kept under the dt= folder it came in. (These
/// rows once got no day at all, fell out of the rejects table, and failed the run's count.)
#[test]
fn a_row_without_user_or_plausible_time_is_rejected_under_its_folders_day() {
    let work = Work::new();
    let t = at("2026-11-05 07:00:00");
    let report = run_over_one_folder(
        &work,
        &["ok", "no-user-no-time", "no-user-old-time", "blank-future"],
        &[Some("u"), None, None, Some(" ")],
        &[
            Some(t),
            None,
            Some(at("1985-06-01 00:00:00")),
            Some(at("2099-01-01 00:00:00")),
        ],
    );
    let out = work.path("out");
    assert_counts(
        &report,
        4,
        0,
        1,
        &[("missing user_id", 2), ("empty user_id", 1)],
    );
    let mut rejects: Vec<(String, String, String)> = read_table(&out, "rejects")
        .iter()
        .map(|row| {
            let text = |c: &str| row[c].text().unwrap().to_string();
            (text("event_id"), text("reject_reason"), text("dt"))
        })
        .collect();
    rejects.sort();
    let row = |id: &str, reason: &str| (id.to_string(), reason.to_string(), "2026-11-05".into());
    assert_eq!(
        rejects,
        [
            row("blank-future", "empty user_id"),
            row("no-user-no-time", "missing user_id"),
            row("no-user-old-time", "missing user_id"),
        ]
    );
}

/// Only a user_id that is all spaces is blank: one that starts with a space and goes on is a
/// user, kept as it came (not trimmed, so not merged with the user without the space).
#[test]
fn a_user_id_that_starts_with_a_space_is_a_user_of_its_own() {
    let work = Work::new();
    let t = at("2026-11-05 07:00:00");
    let report = run_over_one_folder(
        &work,
        &["plain", "padded", "blank"],
        &[Some("u"), Some(" u"), Some("  ")],
        &[Some(t), Some(t), Some(t)],
    );
    assert_counts(&report, 3, 0, 2, &[("empty user_id", 1)]);
    let users: Vec<String> = session_rows(&work.path("out"))
        .iter()
        .map(|row| row["user_id"].text().unwrap().to_string())
        .collect();
    assert_eq!(users, [" u", "u"]);
}

/// A rejected row whose time is plausible is counted on its own day, not its folder's: here
/// a row without a user from late on the 4th, delivered in the 5th's folder.
#[test]
fn a_rejected_row_with_a_plausible_time_is_rejected_on_its_own_day() {
    let work = Work::new();
    let t = at("2026-11-05 07:00:00");
    run_over_one_folder(
        &work,
        &["ok", "no-user"],
        &[Some("u"), None],
        &[Some(t), Some(at("2026-11-04 23:30:00"))],
    );
    let rejects = read_table(&work.path("out"), "rejects");
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0]["event_id"].text(), Some("no-user"));
    assert_eq!(rejects[0]["reject_reason"].text(), Some("missing user_id"));
    assert_eq!(rejects[0]["dt"].text(), Some("2026-11-04"));
}

/// An event id that a rejected row shares with rows that can be sessionized: the rejected
/// row is rejected for what it lacks, and the others are deduplicated among themselves as if
/// it were not there (one kept and one duplicate for `twice`, the one row of `once` kept).
#[test]
fn an_event_id_shared_with_a_rejected_row_is_deduplicated_without_it() {
    let work = Work::new();
    let t = at("2026-11-05 07:00:00");
    let (one, two) = (Some(t), Some(t + MINUTE));
    // the rejected copies come first in time: were they ranked with the others, they would
    // be the kept copies
    let early = Some(t - MINUTE);
    let report = run_over_one_folder(
        &work,
        &["once", "once", "twice", "twice", "twice", "never", "never"],
        &[Some("u"), None, Some("u"), Some("u"), None, None, Some("")],
        &[one, early, two, two, early, one, one],
    );
    let out = work.path("out");
    assert_counts(
        &report,
        7,
        1,
        2,
        &[("missing user_id", 3), ("empty user_id", 1)],
    );
    let rows = session_rows(&out);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["event_count"].int(), 2);
    assert_eq!(rows[0]["session_start"].time(), t);
    assert_eq!(rows[0]["session_end"].time(), t + MINUTE);
}

/// Every row of one file has an event_id, and a row of the other has none: the run cannot
/// key events by their ids alone, and the two identical rows without an id are one event
/// and a duplicate (keyed by their content), not two events. Were the first file's
/// completeness taken for the whole input's, both would be sessionized.
#[test]
fn an_event_id_missing_in_one_file_only_still_keys_that_files_rows_by_content() {
    let work = Work::new();
    let t = at("2026-11-05 07:00:00");
    work.write_parquet(
        "in/dt=2026-11-05/complete.parquet",
        vec![
            ("event_id", texts(&["a1", "a2"])),
            ("user_id", texts(&["a", "a"])),
            ("event_time", utc_micros(&[Some(t), Some(t + MINUTE)])),
        ],
    );
    work.write_parquet(
        "in/dt=2026-11-05/partial.parquet",
        vec![
            ("event_id", strings(&[Some("b1"), None, None])),
            ("user_id", texts(&["b", "b", "b"])),
            (
                "event_time",
                utc_micros(&[Some(t), Some(t + MINUTE), Some(t + MINUTE)]),
            ),
        ],
    );
    let outcome = run_ok(&work, &[]);
    let report = report(&work.path("out"), outcome.run_id());
    assert_counts(&report, 5, 1, 4, &[]);
    let mut events: Vec<(String, i64)> = session_rows(&work.path("out"))
        .iter()
        .map(|row| {
            (
                row["user_id"].text().unwrap().to_string(),
                row["event_count"].int(),
            )
        })
        .collect();
    events.sort();
    assert_eq!(events, [("a".to_string(), 2), ("b".to_string(), 2)]);
}

/// Four copies of one event_id: the earliest twice, then a later payload twice. The
/// earliest is kept and its twin is a duplicate; the later pair are both conflicting rows,
/// though each is an exact copy of the other (they differ from the kept copy, which is what
/// counts). Worked out by hand from the rule in `ranked_copies.sql`.
#[test]
fn copies_of_a_conflicting_row_are_rejected_not_counted_as_duplicates() {
    let work = Work::new();
    let t = at("2026-11-05 07:00:00");
    let later = Some(t + MINUTE);
    let report = run_over_one_folder(
        &work,
        &["k", "k", "k", "k", "other"],
        &[Some("u"); 5],
        &[later, Some(t), later, Some(t), Some(t + 2 * MINUTE)],
    );
    assert_counts(
        &report,
        5,
        1,
        2,
        &[("duplicate event_id with a different payload", 2)],
    );
    // the two rejected are the later pair, each with its own row
    let rejects = read_table(&work.path("out"), "rejects");
    assert_eq!(rejects.len(), 2);
    for row in &rejects {
        assert_eq!(row["event_id"].text(), Some("k"));
        assert_eq!(
            row["reject_reason"].text(),
            Some("duplicate event_id with a different payload")
        );
        assert_eq!(row["event_time"].time(), t + MINUTE);
    }
    let rows = session_rows(&work.path("out"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["event_count"].int(), 2);
    assert_eq!(rows[0]["session_start"].time(), t);
    assert_eq!(rows[0]["session_end"].time(), t + 2 * MINUTE);
}

/// `[input] earliest_event_time` and `max_string_bytes` move the limits: the 1985 event and
/// the 10 KB user id are then sessionized, each in a session of its own.
#[test]
fn the_limits_on_old_times_and_long_strings_are_configurable() {
    let work = Work::new();
    let long_user = rejects_fixture(&work);
    work.write(
        "relaxed.toml",
        "[input]\nearliest_event_time = \"1960-01-01\"\nmax_string_bytes = 100000\n\n\
         [columns]\nuser_id = \"visitor\"\n",
    );
    let outcome = run_ok(&work, &["--config", "relaxed.toml"]);
    let out = work.path("out");
    let report = report(&out, outcome.run_id());
    // the old event and the long user id are no longer rejected
    assert_counts(
        &report,
        14,
        2,
        5,
        &[
            ("missing user_id", 1),
            ("empty user_id", 2),
            ("missing event_time", 1),
            ("unparsable event_time", 1),
            ("event_time in the future", 1),
            ("duplicate event_id with a different payload", 1),
        ],
    );
    assert_eq!(count_of(&report, "sessions"), 3);
    let old = at("1985-06-01 00:00:00");
    let t0 = at("2026-11-05 07:00:00");
    let mut expected = vec![
        Session {
            user_id: "h".into(),
            start: old,
            end: old,
            events: 1,
        },
        Session {
            user_id: "h".into(),
            start: t0,
            end: t0 + 2 * MINUTE,
            events: 3,
        },
        Session {
            user_id: long_user,
            start: t0,
            end: t0,
            events: 1,
        },
    ];
    expected.sort();
    assert_eq!(sessions(&out), expected);
    let old_session = read_table(&out, "sessions")
        .into_iter()
        .find(|r| r["session_start"].time() == old)
        .unwrap();
    assert_eq!(old_session["dt"].text(), Some("1985-06-01"));
}

// ---------------------------------------------------------------------------------------
// the row invariant on generated data with injected faults

/// One input row, as the test reads it back with the parquet crate.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    event_id: String,
    user_id: Option<String>,
    time: Option<i64>,
    event_name: String,
    page_url: String,
    referrer: Option<String>,
    device: String,
    user_agent: String,
    country: String,
    revenue: Option<f64>,
    /// The day of the `dt=` folder the row was delivered in.
    folder_day: String,
}

fn read_rows(dir: &Path) -> Vec<Row> {
    let mut rows = Vec::new();
    for path in parquet_files_under(dir) {
        let folder = path
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy();
        let folder_day = folder.strip_prefix("dt=").unwrap().to_string();
        for batch in read_parquet(&path) {
            let text = |name: &str| {
                batch
                    .column_by_name(name)
                    .unwrap()
                    .as_string::<i32>()
                    .clone()
            };
            let (ids, users, names, urls, referrers, devices, agents, countries) = (
                text("event_id"),
                text("user_id"),
                text("event_name"),
                text("page_url"),
                text("referrer"),
                text("device"),
                text("user_agent"),
                text("country"),
            );
            let times = batch.column_by_name("event_time").unwrap();
            let times = times.as_primitive::<TimestampMicrosecondType>();
            let revenues = batch.column_by_name("revenue").unwrap();
            let revenues = revenues.as_primitive::<Float64Type>();
            let optional =
                |a: &StringArray, i: usize| (!a.is_null(i)).then(|| a.value(i).to_string());
            for i in 0..batch.num_rows() {
                rows.push(Row {
                    event_id: ids.value(i).to_string(),
                    user_id: optional(&users, i),
                    time: (!times.is_null(i)).then(|| times.value(i)),
                    event_name: names.value(i).to_string(),
                    page_url: urls.value(i).to_string(),
                    referrer: optional(&referrers, i),
                    device: devices.value(i).to_string(),
                    user_agent: agents.value(i).to_string(),
                    country: countries.value(i).to_string(),
                    revenue: (!revenues.is_null(i)).then(|| revenues.value(i)),
                    folder_day: folder_day.clone(),
                });
            }
        }
    }
    rows
}

fn write_rows(path: &Path, rows: &[Row]) {
    let text = |f: fn(&Row) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
    };
    let optional = |f: fn(&Row) -> Option<&str>| -> ArrayRef {
        Arc::new(StringArray::from_iter(rows.iter().map(f)))
    };
    write_parquet(
        path,
        vec![
            ("event_id", text(|r| &r.event_id)),
            ("user_id", optional(|r| r.user_id.as_deref())),
            (
                "event_time",
                Arc::new(
                    TimestampMicrosecondArray::from_iter(rows.iter().map(|r| r.time))
                        .with_timezone("UTC"),
                ),
            ),
            ("event_name", text(|r| &r.event_name)),
            ("page_url", text(|r| &r.page_url)),
            ("referrer", optional(|r| r.referrer.as_deref())),
            ("device", text(|r| &r.device)),
            ("user_agent", text(|r| &r.user_agent)),
            ("country", text(|r| &r.country)),
            (
                "revenue",
                Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.revenue))),
            ),
        ],
    );
}

/// The faults, made from generated rows (of users that have one) so that every kind meets
/// real data: rows without a user, with times before 1990, in 2099 or none, with a user id
/// or a page URL over 8192 bytes, an event_id reused a second later with another page
/// (the generated copy stays the earliest, so it is kept), and exact copies.
fn faults(generated: &[Row]) -> Vec<Row> {
    let with_user: Vec<&Row> = generated.iter().filter(|r| r.user_id.is_some()).collect();
    let mut pick = with_user
        .iter()
        .step_by(with_user.len() / 400)
        .map(|r| (*r).clone());
    let mut faults = Vec::new();
    let mut take = |n: usize, change: &dyn Fn(&mut Row, usize)| {
        for i in 0..n {
            let mut row = pick.next().expect("enough generated rows");
            change(&mut row, i);
            faults.push(row);
        }
    };
    let fault_id = |row: &mut Row, kind: &str, i: usize| row.event_id = format!("fault-{kind}-{i}");
    take(40, &|r, i| {
        fault_id(r, "no-user", i);
        r.user_id = None;
    });
    take(10, &|r, i| {
        fault_id(r, "empty-user", i);
        r.user_id = Some(String::new());
    });
    take(15, &|r, i| {
        fault_id(r, "epoch", i);
        r.time = Some(0);
    });
    take(15, &|r, i| {
        fault_id(r, "2099", i);
        r.time = Some(at("2099-03-01 12:00:00"));
    });
    take(10, &|r, i| {
        fault_id(r, "no-time", i);
        r.time = None;
    });
    take(12, &|r, i| {
        fault_id(r, "long-user", i);
        r.user_id = Some(format!("u{}", "9".repeat(9000 + i)));
    });
    take(12, &|r, i| {
        fault_id(r, "long-url", i);
        r.page_url = format!("https://shop.example.com/search?q={}", "shoes".repeat(2000));
    });
    // no user and a long URL: the first reason that applies is the one counted
    take(5, &|r, i| {
        fault_id(r, "no-user-long-url", i);
        r.user_id = None;
        r.page_url = "/".repeat(10_000);
    });
    // the same event_id, a second later, from another page
    take(30, &|r, _| {
        r.time = r.time.map(|t| t + SECOND);
        r.page_url.push_str("?resent=1");
    });
    // exact copies of generated events
    take(50, &|_, _| {});
    faults
}

/// Why a row cannot be sessionized, in the order of the README's rules, with the default
/// limits (1990-01-01 to a day after now, 8192 bytes).
fn reject_reason(row: &Row, latest: i64) -> Option<&'static str> {
    let too_long = |s: &str| s.len() > 8192;
    match (&row.user_id, row.time) {
        (None, _) => Some("missing user_id"),
        (Some(user), _) if user.trim().is_empty() => Some("empty user_id"),
        (_, None) => Some("missing event_time"),
        (_, Some(t)) if t < at("1990-01-01 00:00:00") => {
            Some("event_time before earliest_event_time")
        }
        (_, Some(t)) if t > latest => Some("event_time in the future"),
        (Some(user), _) if too_long(user) => Some("user_id too long"),
        _ if too_long(&row.event_id) => Some("event_id too long"),
        _ if too_long(&row.page_url) => Some("page_url too long"),
        _ => None,
    }
}

#[test]
fn every_row_of_generated_data_with_faults_is_accounted_for() {
    let work = Work::new();
    work.sessionize_ok(&[
        "generate", "--events", "50000", "--days", "3", "--seed", "9", "--output", "in/gen",
    ]);
    let generated = read_rows(&work.path("in/gen"));
    // delivered with the last day: copies of earlier events are late
    let mut faulty = faults(&generated);
    for row in &mut faulty {
        row.folder_day = "2026-11-03".into();
    }
    write_rows(&work.path("in/gen/dt=2026-11-03/faults.parquet"), &faulty);
    let before = chrono::Utc::now().timestamp_micros();
    let outcome = work.sessionize_ok(&["run", "--input", "in/gen", "--output", "out"]);
    let out = work.path("out");
    let report = report(&out, outcome.run_id());

    // the counts, computed here from the rows
    let rows: Vec<&Row> = generated.iter().chain(&faulty).collect();
    let latest = before + 86_400 * SECOND;
    let mut rejected: BTreeMap<String, u64> = BTreeMap::new();
    let mut copies: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for row in &rows {
        match reject_reason(row, latest) {
            Some(reason) => *rejected.entry(reason.to_string()).or_default() += 1,
            None => copies.entry(&row.event_id).or_default().push(row),
        }
    }
    let mut duplicates = 0u64;
    let mut kept: Vec<&Row> = Vec::new();
    for list in copies.values_mut() {
        // the earliest copy is kept (the generated and faulty copies never tie on time)
        list.sort_by_key(|r| r.time);
        let first = list[0];
        for copy in &list[1..] {
            let same = Row {
                folder_day: first.folder_day.clone(),
                ..(*copy).clone()
            };
            if same == *first {
                duplicates += 1;
            } else {
                *rejected
                    .entry("duplicate event_id with a different payload".into())
                    .or_default() += 1;
            }
        }
        kept.push(first);
    }
    let late = rows
        .iter()
        .filter(|r| r.time.is_some_and(|t| day_of(t) < r.folder_day))
        .count() as u64;
    let sessions = count_sessions(&kept);

    assert_eq!(count_of(&report, "rows_read"), rows.len() as u64);
    assert_eq!(count_of(&report, "duplicates"), duplicates);
    assert_eq!(rejected_of(&report), rejected);
    assert_eq!(count_of(&report, "events_sessionized"), kept.len() as u64);
    assert_eq!(count_of(&report, "sessions"), sessions);
    assert_eq!(count_of(&report, "late_events"), late);
    // every kind of fault was met
    for reason in [
        "missing user_id",
        "empty user_id",
        "missing event_time",
        "event_time before earliest_event_time",
        "event_time in the future",
        "user_id too long",
        "page_url too long",
        "duplicate event_id with a different payload",
    ] {
        assert!(
            rejected.contains_key(reason),
            "no {reason:?} in {rejected:?}"
        );
    }
    assert!(duplicates > 50 && late > 0, "{duplicates} {late}");
}

fn day_of(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string()
}

/// Sessions by the README's rule: per user, in (time, event_id) order, a new one after a gap
/// of more than 30 minutes.
fn count_sessions(events: &[&Row]) -> u64 {
    let mut by_user: HashMap<&str, Vec<(i64, &str)>> = HashMap::new();
    for e in events {
        by_user
            .entry(e.user_id.as_deref().unwrap())
            .or_default()
            .push((e.time.unwrap(), &e.event_id));
    }
    let mut sessions = 0;
    for list in by_user.values_mut() {
        list.sort();
        sessions += 1;
        for pair in list.windows(2) {
            if pair[1].0 - pair[0].0 > 30 * MINUTE {
                sessions += 1;
            }
        }
    }
    sessions
}

/// Text columns every file stores with a small dictionary, and that feed a text field other
/// than the ids, are read as dictionaries (the run logs which); the sessions and the rejects
/// hold their texts as text all the same, and the rejected row keeps its own columns' types.
#[test]
fn small_dictionary_columns_are_read_as_dictionaries_and_written_as_text() {
    let work = Work::new();
    let t = at("2026-11-07 09:00:00");
    work.write_parquet(
        "in/events.parquet",
        vec![
            ("event_id", texts(&["1", "2", "3"])),
            // the user id: few values, but a key, never a dictionary
            ("user_id", strings(&[Some("u"), Some("u"), None])),
            (
                "event_time",
                utc_micros(&[Some(t), Some(t + MINUTE), Some(t + 2 * MINUTE)]),
            ),
            (
                "event_name",
                texts(&["page_view", "page_view", "page_view"]),
            ),
            ("device", texts(&["tablet", "tablet", "tablet"])),
            // no field reads it: carried for the rejects only, as it is
            ("note", texts(&["x", "y", "z"])),
        ],
    );
    let run = work
        .command(&[
            "--log-format",
            "json",
            "run",
            "--input",
            "in",
            "--output",
            "out",
        ])
        .env("SESSIONIZE_LOG", "debug")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    let read_as: Vec<String> = stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["message"] == "text columns read as dictionaries")
        .map(|line| line["columns"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(read_as, [r#"["event_name", "device"]"#], "{stderr}");

    let sessions = session_rows(&work.path("out"));
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["device"].text(), Some("tablet"));
    assert_eq!(sessions[0]["page_view_count"].int(), 2);
    // read_table panics on any column that is not plain text, a number, a flag or a time
    let rejects = read_table(&work.path("out"), "rejects");
    assert_eq!(rejects.len(), 1);
    assert_eq!(
        ["event_name", "device", "note", "reject_reason"].map(|c| rejects[0][c].text()),
        [
            Some("page_view"),
            Some("tablet"),
            Some("z"),
            Some("missing user_id")
        ]
    );
}
