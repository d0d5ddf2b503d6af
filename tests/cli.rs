//! The command line as a user meets it: help, version, and errors with exit code 2 that
//! name what is wrong.

use crate::common::*;

#[test]
fn help_and_version() {
    let work = Work::new();
    let help = work.sessionize_ok(&["run", "--help"]);
    assert!(help.stdout.contains("--input"));
    assert!(help.stdout.contains("Example:"));
    let version = work.sessionize_ok(&["--version"]);
    assert!(version.stdout.starts_with("sessionize "));
}

#[test]
fn bad_input_and_config_exit_with_2_and_say_what_is_wrong() {
    let work = Work::new();
    let missing = work.sessionize(&["run", "--input", "nowhere", "--output", "out"]);
    assert_eq!(missing.code, Some(2));
    assert!(missing.stderr.contains("nowhere"), "{}", missing.stderr);

    work.write_parquet(
        "in/events.parquet",
        vec![
            ("uid", texts(&["a"])),
            ("event_time", utc_micros(&[Some(0)])),
        ],
    );
    let no_user = work.sessionize(&["run", "--input", "in", "--output", "out"]);
    assert_eq!(no_user.code, Some(2));
    assert!(
        no_user.stderr.contains("\"user_id\"") && no_user.stderr.contains("uid"),
        "{}",
        no_user.stderr
    );

    work.write("bad.toml", "[sessions]\ntimeout = \"thirty\"\n");
    let bad = work.sessionize(&[
        "run", "--input", "in", "--output", "out", "--config", "bad.toml",
    ]);
    assert_eq!(bad.code, Some(2));
    assert!(
        bad.stderr.contains("sessions.timeout") && bad.stderr.contains("thirty"),
        "{}",
        bad.stderr
    );

    work.write("typo.toml", "[sesions]\ntimeout = \"30m\"\n");
    let typo = work.sessionize(&[
        "run",
        "--input",
        "in",
        "--output",
        "out",
        "--config",
        "typo.toml",
    ]);
    assert_eq!(typo.code, Some(2));
    assert!(typo.stderr.contains("sesions"), "{}", typo.stderr);

    work.write(
        "map.toml",
        "[columns]\nuser_id = \"uid\"\ncountry = \"geo\"\n",
    );
    let mapped = work.sessionize(&[
        "run", "--input", "in", "--output", "out", "--config", "map.toml",
    ]);
    assert_eq!(mapped.code, Some(2));
    assert!(mapped.stderr.contains("geo"), "{}", mapped.stderr);

    work.write_parquet(
        "nested/events.parquet",
        vec![
            ("user_id", texts(&["a"])),
            ("event_time", floats(&[Some(1.0)])),
        ],
    );
    let wrong_type = work.sessionize(&["run", "--input", "nested", "--output", "out"]);
    assert_eq!(wrong_type.code, Some(2));
    assert!(
        wrong_type.stderr.contains("event_time") && wrong_type.stderr.contains("Float64"),
        "{}",
        wrong_type.stderr
    );
}
