//! `sessionize query` and `sessionize tables` over a generated run: every answer is checked
//! against values computed here from the `sessions` files themselves (read with the parquet
//! crate), every output format is parsed back, SQL errors point at their position, and the
//! interactive prompt is driven through a real terminal (tmux).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;

/// Nine days from Sunday 2026-11-01: parts of three Monday-based weeks.
fn generated_run(work: &Work) {
    work.sessionize_ok(&[
        "generate",
        "--events",
        "6000",
        "--days",
        "9",
        "--seed",
        "5",
        "--start",
        "2026-11-01",
        "--output",
        "events",
    ]);
    work.sessionize_ok(&["run", "--input", "events", "--output", "out"]);
}

/// A CSV text as rows of fields (quotes as RFC 4180 writes them), header first.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                ('"', _) => quoted = !quoted,
                (',', false) => fields.push(std::mem::take(&mut field)),
                (c, _) => field.push(c),
            }
        }
        fields.push(field);
        rows.push(fields);
    }
    rows
}

fn query_csv(work: &Work, args: &[&str]) -> Vec<Vec<String>> {
    let mut all = vec!["query", "--output", "out", "--format", "csv"];
    all.extend_from_slice(args);
    parse_csv(&work.sessionize_ok(&all).stdout)
}

/// The sessions, as (dt, the row) pairs, from the Parquet files.
fn sessions_of(output: &Path) -> Vec<BTreeMap<String, Value>> {
    let rows = read_table(output, "sessions");
    assert!(rows.len() > 500, "too few sessions to mean much");
    rows
}

fn label(row: &BTreeMap<String, Value>, column: &str) -> String {
    row[column].text().unwrap_or("(not set)").to_string()
}

/// Per group: (sessions, bounces, converted sessions, revenue).
fn totals_by(
    rows: &[BTreeMap<String, Value>],
    key: impl Fn(&BTreeMap<String, Value>) -> String,
) -> BTreeMap<String, (i64, i64, i64, f64)> {
    let mut totals: BTreeMap<String, (i64, i64, i64, f64)> = BTreeMap::new();
    for row in rows {
        let entry = totals.entry(key(row)).or_default();
        entry.0 += 1;
        entry.1 += i64::from(row["is_bounce"].bool());
        entry.2 += i64::from(row["conversion_count"].int() > 0);
        entry.3 += row["revenue"].float();
    }
    totals
}

/// Groups in the order the examples sort them: most sessions first, then by name.
fn ranked(totals: &BTreeMap<String, (i64, i64, i64, f64)>) -> Vec<(String, (i64, i64, i64, f64))> {
    let mut ranked: Vec<_> = totals.iter().map(|(k, v)| (k.clone(), *v)).collect();
    ranked.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(&b.0)));
    ranked
}

fn assert_close(found: &str, expected: f64, what: &str) {
    let found: f64 = found
        .parse()
        .unwrap_or_else(|e| panic!("{what}: {found:?}: {e}"));
    assert!(
        (found - expected).abs() <= 1e-9 * expected.abs().max(1.0),
        "{what}: {found} but expected {expected}"
    );
}

#[test]
fn queries_and_examples_agree_with_the_sessions_files() {
    let work = Work::new();
    generated_run(&work);
    let sessions = sessions_of(&work.path("out"));

    // the issue's own query, with a dt filter
    let rows = query_csv(
        &work,
        &[
            "select landing_page, sum(sessions) as sessions from metrics_by_landing_page \
           where dt >= '2026-11-04' group by 1 order by 2 desc, 1 limit 10",
        ],
    );
    let later: Vec<_> = sessions
        .iter()
        .filter(|r| r["dt"].text().unwrap() >= "2026-11-04")
        .cloned()
        .collect();
    let expected = ranked(&totals_by(&later, |r| label(r, "landing_page")));
    assert_eq!(rows[0], ["landing_page", "sessions"]);
    assert_eq!(rows.len(), 11, "a header and ten rows");
    for (row, (page, totals)) in rows[1..].iter().zip(&expected) {
        assert_eq!(row, &[page.clone(), totals.0.to_string()]);
    }

    // top landing pages: sessions, bounce and conversion rates over every day
    let rows = query_csv(&work, &["--example", "top_landing_pages"]);
    assert_eq!(
        rows[0],
        [
            "landing_page",
            "sessions",
            "bounce_rate",
            "conversion_rate",
            "revenue"
        ]
    );
    let expected = ranked(&totals_by(&sessions, |r| label(r, "landing_page")));
    assert_eq!(rows.len(), 11);
    for (row, (page, (n, bounces, converted, revenue))) in rows[1..].iter().zip(&expected) {
        assert_eq!((&row[0], &row[1]), (page, &n.to_string()));
        assert_close(&row[2], *bounces as f64 / *n as f64, "bounce_rate");
        assert_close(&row[3], *converted as f64 / *n as f64, "conversion_rate");
        assert_close(&row[4], *revenue, "revenue");
    }

    // conversion by channel
    let rows = query_csv(&work, &["--example", "conversion_by_channel"]);
    let expected = ranked(&totals_by(&sessions, |r| label(r, "channel")));
    assert_eq!(rows.len(), expected.len() + 1);
    for (row, (channel, (n, _, converted, revenue))) in rows[1..].iter().zip(&expected) {
        assert_eq!(row[0], *channel);
        assert_eq!(
            (row[1].as_str(), row[2].as_str()),
            (n.to_string().as_str(), converted.to_string().as_str())
        );
        assert_close(&row[3], *converted as f64 / *n as f64, "conversion_rate");
        assert_close(&row[5], *revenue, "revenue");
    }

    // bounce by device
    let rows = query_csv(&work, &["--example", "bounce_by_device"]);
    let expected = ranked(&totals_by(&sessions, |r| label(r, "device")));
    assert_eq!(rows.len(), expected.len() + 1);
    for (row, (device, (n, bounces, _, _))) in rows[1..].iter().zip(&expected) {
        assert_eq!(
            row[..3],
            [device.clone(), n.to_string(), bounces.to_string()]
        );
        assert_close(&row[3], *bounces as f64 / *n as f64, "bounce_rate");
    }

    // week over week: weeks from Monday, each against the one before
    let rows = query_csv(&work, &["--example", "week_over_week"]);
    let weekly = totals_by(&sessions, |r| {
        let day = chrono::NaiveDate::parse_from_str(r["dt"].text().unwrap(), "%Y-%m-%d").unwrap();
        let monday = day
            - chrono::Duration::days(i64::from(
                day.format("%u").to_string().parse::<u8>().unwrap() - 1,
            ));
        monday.to_string()
    });
    assert_eq!(
        weekly.keys().collect::<Vec<_>>(),
        ["2026-10-26", "2026-11-02", "2026-11-09"]
    );
    assert_eq!(rows.len(), 4);
    let mut previous: Option<i64> = None;
    for (row, (week, (n, ..))) in rows[1..].iter().zip(&weekly) {
        assert_eq!((&row[0], &row[1]), (week, &n.to_string()));
        match previous {
            None => assert_eq!((row[2].as_str(), row[3].as_str()), ("", "")),
            Some(before) => {
                assert_eq!(row[2], before.to_string());
                assert_close(
                    &row[3],
                    (*n - before) as f64 / before as f64,
                    "sessions_change",
                );
            }
        }
        previous = Some(*n);
    }

    // the input, as `events`: every row of the files
    let rows = query_csv(
        &work,
        &["--input", "events", "select count(*) as n from events"],
    );
    let rows_in_files: u64 = parquet_files_under(&work.path("events"))
        .iter()
        .map(|f| row_count(f))
        .sum();
    assert_eq!(rows[1], [rows_in_files.to_string()]);
}

#[test]
fn every_output_format_parses_back() {
    let work = Work::new();
    generated_run(&work);
    let mut expected: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for row in sessions_of(&work.path("out")) {
        let day = expected
            .entry(row["dt"].text().unwrap().to_string())
            .or_default();
        day.0 += 1;
        day.1 += row["event_count"].int();
    }
    let expected: Vec<(String, i64, i64)> = expected
        .into_iter()
        .map(|(dt, (s, e))| (dt, s, e))
        .collect();
    let sql = "select dt, count(*) as sessions, sum(event_count) as events from sessions group by dt order by dt";

    let csv = query_csv(&work, &[sql]);
    let from_csv: Vec<(String, i64, i64)> = csv[1..]
        .iter()
        .map(|r| (r[0].clone(), r[1].parse().unwrap(), r[2].parse().unwrap()))
        .collect();
    assert_eq!(csv[0], ["dt", "sessions", "events"]);
    assert_eq!(from_csv, expected, "csv");

    let json = work.sessionize_ok(&["query", "--output", "out", "--format", "json", sql]);
    let from_json: Vec<(String, i64, i64)> = json
        .stdout
        .lines()
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                row["dt"].as_str().unwrap().to_string(),
                row["sessions"].as_i64().unwrap(),
                row["events"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(from_json, expected, "json");

    // --out picks the format from the extension
    work.sessionize_ok(&["query", "--output", "out", "--out", "days.parquet", sql]);
    let mut from_parquet = Vec::new();
    for batch in read_parquet(&work.path("days.parquet")) {
        let dt = batch
            .column(0)
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .unwrap();
        let sessions = batch
            .column(1)
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .unwrap();
        let events = batch
            .column(2)
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .unwrap();
        for i in 0..batch.num_rows() {
            from_parquet.push((dt.value(i).to_string(), sessions.value(i), events.value(i)));
        }
    }
    assert_eq!(from_parquet, expected, "parquet");

    let table = work.sessionize_ok(&["query", "--output", "out", "--format", "table", sql]);
    let from_table: Vec<(String, i64, i64)> = table
        .stdout
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            (cells.len() == 5 && cells[1].starts_with("20")).then(|| {
                (
                    cells[1].to_string(),
                    cells[2].parse().unwrap(),
                    cells[3].parse().unwrap(),
                )
            })
        })
        .collect();
    assert_eq!(from_table, expected, "table:\n{}", table.stdout);
    assert!(table.stdout.contains(&format!("({} rows)", expected.len())));

    // piped without --format: csv
    let piped = work.sessionize_ok(&["query", "--output", "out", sql]);
    assert_eq!(
        piped.stdout,
        work.sessionize_ok(&["query", "--output", "out", "--format", "csv", sql])
            .stdout
    );
}

#[test]
fn tables_lists_every_table_with_its_days_and_rows() {
    let work = Work::new();
    generated_run(&work);
    let out = work.path("out");
    let mut expected = Vec::new();
    let mut tables: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('_'))
        .collect();
    tables.sort();
    for table in ["metrics_daily", "rejects", "sessions", "users"] {
        assert!(tables.contains(&table.to_string()), "{tables:?}");
    }
    for table in &tables {
        let dir = out.join(table);
        let whole: u64 = parquet_files(&dir).iter().map(|f| row_count(f)).sum();
        if !parquet_files(&dir).is_empty() {
            // a table written whole (users): one line, without a day
            expected.push(vec![table.clone(), String::new(), whole.to_string()]);
            continue;
        }
        let mut days: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        days.sort();
        for day in days {
            let rows: u64 = parquet_files(&day).iter().map(|f| row_count(f)).sum();
            let dt = day
                .file_name()
                .unwrap()
                .to_string_lossy()
                .trim_start_matches("dt=")
                .to_string();
            expected.push(vec![table.clone(), dt, rows.to_string()]);
        }
    }
    let listed = parse_csv(
        &work
            .sessionize_ok(&["tables", "--output", "out", "--format", "csv"])
            .stdout,
    );
    assert_eq!(listed[0], ["table", "dt", "rows"]);
    assert_eq!(listed[1..], expected[..]);
}

#[test]
fn statements_from_a_file_and_explain() {
    let work = Work::new();
    generated_run(&work);
    work.write(
        "report.sql",
        "-- a view, then two queries over it\n\
         create view engaged as select * from sessions where is_engaged;\n\
         select count(*) as n from engaged;\n\
         select count(*) as n from sessions where not is_engaged;\n",
    );
    let engaged = sessions_of(&work.path("out"))
        .iter()
        .filter(|r| r["is_engaged"].bool())
        .count();
    let all = sessions_of(&work.path("out")).len();
    let outcome = work.sessionize_ok(&[
        "query",
        "--output",
        "out",
        "--format",
        "csv",
        "-f",
        "report.sql",
    ]);
    assert_eq!(
        outcome.stdout,
        format!("n\n{engaged}\n\nn\n{}\n", all - engaged)
    );

    // a Parquet file holds one result
    let parquet = work.sessionize(&[
        "query",
        "--output",
        "out",
        "-f",
        "report.sql",
        "--out",
        "x.parquet",
    ]);
    assert_eq!(parquet.code, Some(2), "{}", parquet.stderr);

    let plan = work.sessionize_ok(&[
        "query",
        "--output",
        "out",
        "--explain",
        "--format",
        "csv",
        "select count(*) from sessions where dt = '2026-11-03'",
    ]);
    assert!(plan.stdout.contains("logical_plan"), "{}", plan.stdout);
    assert!(plan.stdout.contains("physical_plan"), "{}", plan.stdout);
}

#[test]
fn sql_errors_name_the_position_and_exit_2() {
    let work = Work::new();
    generated_run(&work);
    let unknown_column =
        work.sessionize(&["query", "--output", "out", "select nosuch from sessions"]);
    assert_eq!(unknown_column.code, Some(2), "{}", unknown_column.stderr);
    assert!(
        unknown_column.stderr.contains("line 1, column 8"),
        "{}",
        unknown_column.stderr
    );
    assert!(
        unknown_column
            .stderr
            .contains("  select nosuch from sessions\n         ^^^^^^"),
        "{}",
        unknown_column.stderr
    );

    let syntax = work.sessionize(&[
        "query",
        "--output",
        "out",
        "select count(*)\nfrom sessions\nwhere where",
    ]);
    assert_eq!(syntax.code, Some(2), "{}", syntax.stderr);
    assert!(
        syntax.stderr.contains("line 3, column 7"),
        "{}",
        syntax.stderr
    );

    let unknown_table = work.sessionize(&["query", "--output", "out", "select * from nosuch"]);
    assert_eq!(unknown_table.code, Some(2));
    assert!(
        unknown_table.stderr.contains("nosuch"),
        "{}",
        unknown_table.stderr
    );

    // read-only: the outputs are never written through a query
    let insert = work.sessionize(&[
        "query",
        "--output",
        "out",
        "insert into rejects select * from rejects",
    ]);
    assert_eq!(insert.code, Some(2), "{}", insert.stderr);

    let no_example = work.sessionize(&["query", "--output", "out", "--example", "nosuch"]);
    assert_eq!(no_example.code, Some(2));
    assert!(
        no_example.stderr.contains("top_landing_pages"),
        "{}",
        no_example.stderr
    );

    let no_output = work.sessionize(&["query", "--output", "nowhere", "select 1"]);
    assert_eq!(no_output.code, Some(2));
    assert!(no_output.stderr.contains("nowhere"), "{}", no_output.stderr);
}

/// A tmux server of its own, killed when dropped.
struct Terminal {
    socket: String,
}

impl Terminal {
    fn start(work: &Work, command: &str) -> Terminal {
        let socket = format!("sessionize-test-{}", std::process::id());
        let terminal = Terminal { socket };
        let status = terminal
            .tmux(&["new-session", "-d", "-x", "160", "-y", "50", "-c"])
            .arg(work.path(""))
            .arg(command)
            .status()
            .expect("tmux runs (.ci/run installs it)");
        assert!(status.success());
        terminal
    }

    fn tmux(&self, args: &[&str]) -> Command {
        let mut command = Command::new("tmux");
        command
            .args(["-L", &self.socket])
            .args(args)
            .env("TERM", "xterm-256color");
        command
    }

    fn screen(&self) -> String {
        let output = self
            .tmux(&["capture-pane", "-p", "-J", "-S", "-200"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn type_line(&self, text: &str) {
        // tmux reads an argument ending in `;` as the end of its command: escape it
        let text = match text.strip_suffix(';') {
            Some(start) => format!("{start}\\;"),
            None => text.to_string(),
        };
        assert!(
            self.tmux(&["send-keys", "-l", &text])
                .status()
                .unwrap()
                .success()
        );
        assert!(
            self.tmux(&["send-keys", "Enter"])
                .status()
                .unwrap()
                .success()
        );
    }

    fn key(&self, key: &str) {
        assert!(self.tmux(&["send-keys", key]).status().unwrap().success());
    }

    /// Waits until the screen shows `text` `times` times.
    fn wait_for(&self, text: &str, times: usize) -> String {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if screen.matches(text).count() >= times {
                return screen;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "waited for {text:?} ({times} times); the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]).status();
    }
}

#[test]
fn the_interactive_prompt_runs_sql_lists_tables_and_keeps_history() {
    let work = Work::new();
    generated_run(&work);
    let sessions = sessions_of(&work.path("out")).len();
    let history = work.path("history.txt");
    let command = format!(
        "SESSIONIZE_HISTORY={} {} query --output out; echo prompt-exited-$?; sleep 30",
        history.display(),
        env!("CARGO_BIN_EXE_sessionize")
    );
    let terminal = Terminal::start(&work, &command);
    terminal.wait_for("sql> ", 1);

    terminal.type_line("\\d");
    let screen = terminal.wait_for("session_id", 1);
    assert!(
        screen.contains("metrics_by_landing_page") && screen.contains("is_bounce"),
        "{screen}"
    );

    // a statement over two lines
    terminal.type_line("select count(*) as total");
    terminal.wait_for("...> ", 1);
    terminal.type_line("from sessions;");
    terminal.wait_for(&format!("| {sessions} "), 1);

    // the arrow key brings back the last line, and it runs again
    terminal.type_line("select 40 + 2 as answer;");
    terminal.wait_for("| 42 ", 1);
    terminal.key("Up");
    terminal.key("Enter");
    terminal.wait_for("| 42 ", 2);

    // an error is shown and the prompt carries on
    terminal.type_line("select nosuch from sessions;");
    terminal.wait_for("column 8", 1);

    terminal.type_line("\\q");
    terminal.wait_for("prompt-exited-0", 1);
    let saved = std::fs::read_to_string(&history).unwrap();
    assert!(
        saved.contains("select 40 + 2 as answer;") && saved.contains("\\d"),
        "{saved}"
    );
}
