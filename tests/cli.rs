//! The command line as a user and cron meet it: help with an example and the exit codes on
//! every subcommand, the version, variables standing in for flags, `validate`, each
//! documented exit code, logs as text or JSON lines, and no progress bar off a terminal.
//! Input errors (exit code 2, naming the path, file, column or config key) are in
//! `bad_input.rs`.

use crate::common::*;

#[test]
fn help_and_version() {
    let work = Work::new();
    for command in ["run", "generate", "query", "tables", "validate"] {
        let help = work.sessionize_ok(&[command, "--help"]);
        assert!(
            help.stdout.contains("Example"),
            "{command} --help:\n{}",
            help.stdout
        );
        if command != "generate" {
            assert!(
                help.stdout.contains("Exit codes:"),
                "{command} --help:\n{}",
                help.stdout
            );
        }
    }
    let help = work.sessionize_ok(&["run", "--help"]);
    assert!(help.stdout.contains("--input"));
    let top = work.sessionize_ok(&["--help"]);
    assert!(top.stdout.contains("SESSIONIZE_OUTPUT") && top.stdout.contains("DATAFUSION_"));
    let version = work.sessionize_ok(&["--version"]);
    assert!(version.stdout.starts_with("sessionize "));
}

fn small_input(work: &Work) {
    work.sessionize_ok(&[
        "generate", "--events", "2000", "--days", "2", "--seed", "9", "--output", "events",
    ]);
}

/// The exit codes of the table in the README and `--help`, from the real binary (4, the
/// output's lock, is in `safe_outputs.rs`).
#[test]
fn exit_codes() {
    let work = Work::new();
    small_input(&work);
    // 0: finished
    assert_eq!(
        work.sessionize(&["run", "--input", "events", "--output", "out"])
            .code,
        Some(0)
    );
    // 2: usage, bad input, bad SQL
    assert_eq!(work.sessionize(&["run", "--no-such-flag"]).code, Some(2));
    assert_eq!(
        work.sessionize(&["run", "--input", "missing", "--output", "out"])
            .code,
        Some(2)
    );
    assert_eq!(
        work.sessionize(&["query", "--output", "out", "selec 1"])
            .code,
        Some(2)
    );
    // 3: finished, skipping an unreadable file
    work.write("events/dt=2026-11-01/broken.parquet", "not parquet");
    let skipped = work.sessionize(&[
        "run",
        "--input",
        "events",
        "--output",
        "out",
        "--on-bad-file",
        "skip",
    ]);
    assert_eq!(skipped.code, Some(3), "{}", skipped.stderr);
    std::fs::remove_file(work.path("events/dt=2026-11-01/broken.parquet")).unwrap();
    // 1: a failure of storage: an S3 endpoint where nothing listens (on this machine)
    work.write(
        "s3.toml",
        "[output]\npath = \"s3://bucket/out\"\n[s3]\nendpoint = \"http://127.0.0.1:9\"\n\
         allow_http = true\nregion = \"us-east-1\"\nmax_retries = 0\nretry_timeout = \"1s\"\n",
    );
    let unreachable = work
        .command(&["tables", "--config", "s3.toml"])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .unwrap();
    let unreachable = Outcome::of(unreachable);
    assert_eq!(unreachable.code, Some(1), "{}", unreachable.stderr);
    assert!(
        unreachable.stderr.contains("bucket/out"),
        "{}",
        unreachable.stderr
    );
}

#[test]
fn variables_stand_in_for_flags() {
    let work = Work::new();
    small_input(&work);
    let run = work
        .command(&["run"])
        .env("SESSIONIZE_INPUT", "events")
        .env("SESSIONIZE_OUTPUT", "out")
        .env("SESSIONIZE_TIMEOUT", "10m")
        .output()
        .unwrap();
    let run = Outcome::of(run);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let report = newest_report(&work.path("out"));
    assert_eq!(report["settings"]["sessions"]["timeout"], "10m");

    let query = work
        .command(&["query", "select count(*) as n from sessions"])
        .env("SESSIONIZE_OUTPUT", "out")
        .env("SESSIONIZE_FORMAT", "json")
        .output()
        .unwrap();
    let query = Outcome::of(query);
    let sessions = read_table(&work.path("out"), "sessions").len();
    assert_eq!(query.stdout.trim(), format!("{{\"n\":{sessions}}}"));

    // an engine setting from DATAFUSION_*: a bad value is refused by name
    let bad = work
        .command(&["query", "--output", "out", "select 1"])
        .env("DATAFUSION_EXECUTION_BATCH_SIZE", "lots")
        .output()
        .unwrap();
    let bad = Outcome::of(bad);
    assert_ne!(bad.code, Some(0));
    assert!(
        bad.stderr.contains("DATAFUSION_EXECUTION_BATCH_SIZE"),
        "{}",
        bad.stderr
    );
}

#[test]
fn logs_are_text_by_default_json_on_request_and_never_a_progress_bar_in_a_pipe() {
    let work = Work::new();
    small_input(&work);
    let text = work.sessionize_ok(&["run", "--input", "events", "--output", "out"]);
    assert!(
        text.stderr.contains("INFO") && text.stderr.contains("table written"),
        "{}",
        text.stderr
    );
    assert!(
        !text.stderr.contains('\r') && !text.stderr.contains("stage"),
        "{}",
        text.stderr
    );

    let quiet = work.sessionize_ok(&["run", "-q", "--input", "events", "--output", "out"]);
    assert_eq!(quiet.stderr, "");

    let verbose = work
        .command(&["run", "--input", "events", "--output", "out"])
        .env("SESSIONIZE_LOG", "debug")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&verbose.stderr).contains("DEBUG"));

    let json = work.sessionize_ok(&[
        "--log-format",
        "json",
        "run",
        "--input",
        "events",
        "--output",
        "out",
    ]);
    let lines: Vec<serde_json::Value> = json
        .stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect();
    let written: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["message"] == "table written")
        .collect();
    assert!(
        written
            .iter()
            .any(|l| l["table"] == "sessions" && l["rows"].as_u64() > Some(0)),
        "{}",
        json.stderr
    );
    assert!(
        lines
            .iter()
            .all(|l| l["level"].is_string() && l["timestamp"].is_string())
    );

    // a failure is a JSON line too, with its exit code
    let failed = work.sessionize(&[
        "run",
        "--log-format",
        "json",
        "--input",
        "missing",
        "--output",
        "out",
    ]);
    assert_eq!(failed.code, Some(2));
    let last: serde_json::Value =
        serde_json::from_str(failed.stderr.lines().last().unwrap()).unwrap();
    assert_eq!(
        (last["level"].as_str(), last["exit_code"].as_i64()),
        (Some("ERROR"), Some(2))
    );
    assert!(last["error"].as_str().unwrap().contains("missing"));
}

#[test]
fn validate_checks_the_config_and_the_input_without_running() {
    let work = Work::new();
    small_input(&work);
    work.write(
        "good.toml",
        "[input]\npath = \"events\"\n[output]\npath = \"out\"\n",
    );
    let good = work.sessionize_ok(&["validate", "--config", "good.toml"]);
    let rows: u64 = parquet_files_under(&work.path("events"))
        .iter()
        .map(|f| row_count(f))
        .sum();
    assert!(
        good.stdout.contains(&format!("{rows} rows")),
        "{}",
        good.stdout
    );
    assert!(good.stdout.contains("event_time"), "{}", good.stdout);
    assert!(!work.path("out").exists(), "validate writes nothing");

    work.write(
        "bad.toml",
        "[input]\npath = \"events\"\n[output]\npath = \"out\"\n[columns]\nuser_id = \"visitor\"\n",
    );
    let bad = work.sessionize(&["validate", "--config", "bad.toml"]);
    assert_eq!(bad.code, Some(2));
    assert!(bad.stderr.contains("visitor"), "{}", bad.stderr);

    work.write(
        "typo.toml",
        "[input]\npath = \"events\"\n[sessions]\ntimeout = \"thirty\"\n",
    );
    let typo = work.sessionize(&["validate", "--config", "typo.toml", "--output", "out"]);
    assert_eq!(typo.code, Some(2));
    assert!(typo.stderr.contains("sessions.timeout"), "{}", typo.stderr);
}
