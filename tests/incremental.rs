//! Dated runs (`--date`, `--from/--to`): the nightly way to run the job. The property that
//! proves them: on generated data with sessions across midnight, users returning across
//! days, bots active for days and events delivered days late, computing the days one by
//! one gives every table equal, row for row, to one full run over all days; so does a rerun
//! after late events arrive. The full run is the reference: it sees every event at once and
//! needs no state from earlier runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::common::*;

const TABLES: &[&str] = &[
    "sessions",
    "bot_sessions",
    "users",
    "rejects",
    "metrics_daily",
    "metrics_by_source",
    "metrics_by_device",
    "metrics_by_landing_page",
    "metrics_by_country",
    "metrics_by_exit_page",
    "data_quality",
];

pub(crate) fn assert_same_tables(found: &Path, expected: &Path, what: &str) {
    // the list is the spec; a table the run writes that is not on it fails here, so the
    // property cannot silently skip a new table
    for output in [found, expected] {
        let written = table_names(output);
        let mut listed: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
        listed.sort();
        assert_eq!(
            written,
            listed,
            "{what}: the tables in {}",
            output.display()
        );
    }
    for table in TABLES {
        let found_rows = sorted_rows(found, table);
        let expected_rows = sorted_rows(expected, table);
        if found_rows != expected_rows {
            let found_set: BTreeSet<&String> = found_rows.iter().collect();
            let expected_set: BTreeSet<&String> = expected_rows.iter().collect();
            let missing: Vec<_> = expected_set.difference(&found_set).take(3).collect();
            let extra: Vec<_> = found_set.difference(&expected_set).take(3).collect();
            panic!(
                "{what}: table {table} differs from the full run ({} rows, expected {}).\n\
                 missing, e.g.: {missing:#?}\nextra, e.g.: {extra:#?}",
                found_rows.len(),
                expected_rows.len()
            );
        }
    }
}

/// The input's `dt=` folders, in order: the days a nightly cron would run.
pub(crate) fn folder_days(input: &Path) -> Vec<String> {
    let mut days: Vec<String> = std::fs::read_dir(input)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_prefix("dt=").map(String::from)
        })
        .collect();
    days.sort();
    days
}

/// `sessionize run --date day`, from `in` into `output`.
fn run_day(work: &Work, output: &str, day: &str) -> Outcome {
    work.sessionize_ok(&["run", "--input", "in", "--output", output, "--date", day])
}

pub(crate) fn generate(work: &Work, seed: u64, output: &str) {
    work.sessionize_ok(&[
        "generate",
        "--events",
        "6000",
        "--days",
        "4",
        "--seed",
        &seed.to_string(),
        "--late-share",
        "0.03",
        "--bots",
        "2",
        "--output",
        output,
    ]);
}

/// The session rules a run can be given: the default, and every non-default rule at once
/// (Paris days, the universal preset's midnight and campaign splits, a gap equal to the
/// timeout starting a session, a 6-hour maximum).
const CONFIGS: &[&str] = &[
    "",
    "[sessions]\ntimezone = \"Europe/Paris\"\npreset = \"universal\"\n\
     gap_equal_to_timeout = \"new-session\"\nmax_session_duration = \"6h\"\n",
];

#[test]
fn days_one_by_one_equal_one_full_run() {
    for (seed, config) in [(11u64, CONFIGS[0]), (12, CONFIGS[0]), (13, CONFIGS[1])] {
        let work = Work::new();
        generate(&work, seed, "in");
        work.write("in.toml", &format!("[input]\npath = \"in\"\n{config}"));
        let run = |output: &str, days: &[&str]| {
            let args = [
                &["run", "--config", "in.toml", "--output", output][..],
                days,
            ]
            .concat();
            work.sessionize_ok(&args)
        };
        run("full", &[]);
        let sessions = read_table(&work.path("full"), "sessions");
        // the cases that make the property worth testing are in the data
        let crosses_midnight = sessions.iter().any(|s| {
            let start = s["session_start"].time().div_euclid(86_400_000_000);
            let end = s["session_end"].time().div_euclid(86_400_000_000);
            start != end
        });
        // (the universal preset splits at midnight)
        assert!(
            crosses_midnight || config.contains("universal"),
            "seed {seed}: no session crosses midnight"
        );
        // the generator's bots say so in their user agent: they are kept apart
        let bot_sessions = read_table(&work.path("full"), "bot_sessions");
        assert!(
            bot_sessions
                .iter()
                .all(|s| s["user_id"].text().unwrap().starts_with("bot"))
        );
        let bot_sessions = bot_sessions.len();
        assert!(
            bot_sessions >= 2 * 4,
            "seed {seed}: bots active for 4 days should be split at least daily"
        );
        let returning = sessions.iter().filter(|s| s["session_number"].int() > 1);
        assert!(returning.count() > 0, "seed {seed}: no returning user");

        let mut late_days_seen = 0;
        for day in folder_days(&work.path("in")) {
            let outcome = run("inc", &["--date", &day]);
            if outcome.stdout.contains("late events of") {
                late_days_seen += 1;
            }
        }
        assert!(late_days_seen > 0, "seed {seed}: no run met late events");
        assert_same_tables(
            &work.path("inc"),
            &work.path("full"),
            &format!("seed {seed}, day by day"),
        );

        // the same days again, as one range: the same tables, nothing more
        run("inc", &["--from", "2026-11-02", "--to", "2026-11-03"]);
        assert_same_tables(
            &work.path("inc"),
            &work.path("full"),
            &format!("seed {seed}, rerun of a range"),
        );
    }
}

/// Late events arrive after their days were computed: rerunning the first affected day
/// recomputes it and every later day (whose session numbers and new-user flags it changes).
#[test]
fn a_rerun_after_late_events_arrive_equals_a_full_run() {
    let work = Work::new();
    generate(&work, 21, "all");
    // the input as it was at first: no late deliveries yet
    let mut late_files = Vec::new();
    for day in folder_days(&work.path("all")) {
        let events = work.path(&format!("all/dt={day}/events.parquet"));
        if events.exists() {
            let target = work.path(&format!("in/dt={day}/events.parquet"));
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(&events, &target).unwrap();
        }
        let late = work.path(&format!("all/dt={day}/late.parquet"));
        if late.exists() {
            late_files.push((day.clone(), late));
        }
    }
    assert!(!late_files.is_empty());
    for day in folder_days(&work.path("in")) {
        run_day(&work, "inc", &day);
    }
    let before_late = sorted_rows(&work.path("inc"), "sessions");

    // the late files land, in the folders of the days they were delivered on
    for (day, late) in &late_files {
        let target = work.path(&format!("in/dt={day}/late.parquet"));
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(late, &target).unwrap();
    }
    let first_day = folder_days(&work.path("in"))[0].clone();
    let outcome = run_day(&work, "inc", &first_day);
    assert!(
        outcome.stdout.contains("computing them again too"),
        "{}",
        outcome.stdout
    );
    // the days the late files brought folders for, as the next nights' runs would
    let computed: BTreeSet<String> = read_table(&work.path("inc"), "metrics_daily")
        .iter()
        .map(|r| r["dt"].text().unwrap().to_string())
        .collect();
    for day in folder_days(&work.path("in")) {
        if !computed.contains(&day) {
            run_day(&work, "inc", &day);
        }
    }
    work.sessionize_ok(&["run", "--input", "in", "--output", "full"]);
    assert_ne!(
        before_late,
        sorted_rows(&work.path("full"), "sessions"),
        "the late events should change the sessions"
    );
    assert_same_tables(&work.path("inc"), &work.path("full"), "after late events");
}

/// A session that starts before midnight and goes on after it stays one session, in the
/// day it started, and the next day's run extends it there rather than starting another.
#[test]
fn a_session_across_midnight_is_extended_in_its_own_day() {
    let work = Work::new();
    let times = [
        "2026-11-01 23:40:00",
        "2026-11-01 23:55:00",
        "2026-11-02 00:10:00",
        "2026-11-02 00:20:00",
    ];
    let write_day = |day: &str, ids: &[&str], times: &[&str]| {
        let micros: Vec<Option<i64>> = times.iter().map(|t| Some(at(t))).collect();
        work.write_parquet(
            &format!("in/dt={day}/events.parquet"),
            vec![
                ("event_id", texts(ids)),
                ("user_id", texts(&vec!["u1"; ids.len()])),
                ("event_time", utc_micros(&micros)),
            ],
        );
    };
    write_day("2026-11-01", &["a", "b"], &times[..2]);
    // the first night's run sees only day 1: one session of two events
    run_day(&work, "out", "2026-11-01");
    let first = read_table(&work.path("out"), "sessions");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["event_count"].int(), 2);

    write_day("2026-11-02", &["c", "d"], &times[2..]);
    let outcome = run_day(&work, "out", "2026-11-02");
    let sessions = read_table(&work.path("out"), "sessions");
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let session = &sessions[0];
    assert_eq!(session["dt"].text(), Some("2026-11-01"));
    assert_eq!(session["event_count"].int(), 4);
    assert_eq!(session["session_number"].int(), 1);
    assert_eq!(session["session_start"].time(), at(times[0]));
    assert_eq!(session["session_end"].time(), at(times[3]));
    // day 2 has no session of its own: its partitions exist, empty, and the run says so
    let report = report(&work.path("out"), outcome.run_id());
    let replaced: Vec<&str> = report["partitions_replaced"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for partition in ["sessions/dt=2026-11-01", "sessions/dt=2026-11-02", "users"] {
        assert!(replaced.contains(&partition), "{replaced:?}");
    }
    assert!(
        outcome.stdout.contains("no sessions on 2026-11-02"),
        "{}",
        outcome.stdout
    );
    let daily: BTreeMap<String, i64> = read_table(&work.path("out"), "metrics_daily")
        .iter()
        .map(|r| (r["dt"].text().unwrap().to_string(), r["sessions"].int()))
        .collect();
    assert_eq!(
        daily,
        BTreeMap::from([("2026-11-01".into(), 1), ("2026-11-02".into(), 0)])
    );
    let users = read_table(&work.path("out"), "users");
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["session_count"].int(), 1);
    assert_eq!(users[0]["event_count"].int(), 4);
    assert_eq!(users[0]["last_seen_at"].time(), at(times[3]));
}

/// Session numbers and the new-user flag count the user's whole history, not the run's.
#[test]
fn session_numbers_continue_across_runs() {
    let work = Work::new();
    for (day, id, time) in [
        ("2026-11-01", "a", "2026-11-01 10:00:00"),
        ("2026-11-02", "b", "2026-11-02 10:00:00"),
        ("2026-11-03", "c", "2026-11-03 10:00:00"),
    ] {
        work.write_parquet(
            &format!("in/dt={day}/events.parquet"),
            vec![
                ("event_id", texts(&[id])),
                ("user_id", texts(&["u1"])),
                ("event_time", utc_micros(&[Some(at(time))])),
            ],
        );
        run_day(&work, "out", day);
    }
    let mut sessions = read_table(&work.path("out"), "sessions");
    sessions.sort_by_key(|s| s["session_start"].time());
    let numbers: Vec<(i64, bool)> = sessions
        .iter()
        .map(|s| (s["session_number"].int(), s["is_new_user"].bool()))
        .collect();
    assert_eq!(numbers, [(1, true), (2, false), (3, false)]);
    let users = read_table(&work.path("out"), "users");
    assert_eq!(users[0]["session_count"].int(), 3);
    assert_eq!(users[0]["first_seen_at"].time(), at("2026-11-01 10:00:00"));
}

/// A bot that never pauses is split every `max_session_duration` (here 1h), counted from
/// each session's own first event, the same in a dated run as in a full one.
#[test]
fn max_session_duration_splits_an_endless_chain() {
    let work = Work::new();
    // an event every 20 minutes from 22:00 to 02:00 across midnight
    let times: Vec<i64> = (0..13)
        .map(|i| at("2026-11-01 22:00:00") + i * 20 * 60_000_000)
        .collect();
    let (day1, day2): (Vec<i64>, Vec<i64>) =
        times.iter().partition(|t| **t < at("2026-11-02 00:00:00"));
    for (day, chunk) in [("2026-11-01", &day1), ("2026-11-02", &day2)] {
        let ids: Vec<String> = chunk.iter().map(|t| format!("e{t}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let micros: Vec<Option<i64>> = chunk.iter().map(|t| Some(*t)).collect();
        work.write_parquet(
            &format!("in/dt={day}/events.parquet"),
            vec![
                ("event_id", texts(&ids)),
                ("user_id", texts(&vec!["bot"; ids.len()])),
                ("event_time", utc_micros(&micros)),
            ],
        );
    }
    work.write("config.toml", "[sessions]\nmax_session_duration = \"1h\"\n");
    let config = ["--config", "config.toml"];
    let full = [&["run", "--input", "in", "--output", "full"][..], &config].concat();
    work.sessionize_ok(&full);
    for day in ["2026-11-01", "2026-11-02"] {
        let dated = [
            &["run", "--input", "in", "--output", "inc", "--date", day][..],
            &config,
        ]
        .concat();
        work.sessionize_ok(&dated);
    }
    // 22:00 22:20 22:40 | 23:00 23:20 23:40 | 00:00 00:20 00:40 | 01:00 01:20 01:40 | 02:00
    let starts: Vec<i64> = [0, 3, 6, 9, 12].iter().map(|i| times[*i]).collect();
    for output in ["full", "inc"] {
        let mut sessions = read_table(&work.path(output), "sessions");
        sessions.sort_by_key(|s| s["session_start"].time());
        let found: Vec<i64> = sessions.iter().map(|s| s["session_start"].time()).collect();
        assert_eq!(found, starts, "{output}");
        let numbers: Vec<i64> = sessions.iter().map(|s| s["session_number"].int()).collect();
        assert_eq!(numbers, [1, 2, 3, 4, 5], "{output}");
    }
}

/// `--dry-run` names the files a run would read and the partitions it would replace, and
/// writes nothing; bad days are refused with exit code 2.
#[test]
fn dry_run_and_bad_days() {
    let work = Work::new();
    work.sessionize_ok(&[
        "generate", "--events", "3000", "--days", "10", "--seed", "3", "--output", "in",
    ]);
    let outcome = work.sessionize_ok(&[
        "run",
        "--input",
        "in",
        "--output",
        "out",
        "--date",
        "2026-11-06",
        "--dry-run",
    ]);
    // 30m + 24h back and forth (a session open at the day's start began after 11-04
    // 23:30; the last session of the day ends before 11-08 00:30), and a day more each side
    // for folders kept in another time zone: folders 3 to 9
    for day in ["03", "04", "05", "06", "07", "08", "09"] {
        assert!(
            outcome
                .stdout
                .contains(&format!("dt=2026-11-{day}/events.parquet")),
            "{}",
            outcome.stdout
        );
    }
    for day in ["01", "02", "10"] {
        assert!(
            !outcome.stdout.contains(&format!("dt=2026-11-{day}/")),
            "{}",
            outcome.stdout
        );
    }
    for partition in [
        "sessions/dt=2026-11-06",
        "metrics_daily/dt=2026-11-06",
        "users",
    ] {
        assert!(outcome.stdout.contains(partition), "{}", outcome.stdout);
    }
    let written = parquet_files_under(&work.path("out"));
    assert!(written.is_empty(), "a dry run wrote {written:?}");

    for bad in [
        &["--date", "2026-13-01"][..],
        &["--date", "tomorrow"],
        &["--from", "2026-11-05", "--to", "2026-11-01"],
        &["--date", "2026-11-01", "--from", "2026-11-01"],
    ] {
        let args = [&["run", "--input", "in", "--output", "out"][..], bad].concat();
        let outcome = work.sessionize(&args);
        assert_eq!(outcome.code, Some(2), "{bad:?}: {}", outcome.stderr);
    }
}
