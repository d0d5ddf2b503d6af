//! What a run may use of the machine: `--memory-limit` and `--temp-dir`, and the memory the
//! run report records. A limit or a temporary directory changes how the engine works, never
//! what it writes, so the outputs are compared with an unlimited run's, table by table.

use std::path::Path;

use crate::common::*;

/// Every table of the output, each as its rows sorted as text, without `run_id`.
fn tables(output: &Path) -> Vec<(String, Vec<String>)> {
    let names = table_names(output);
    assert!(
        names.len() >= 11,
        "tables of {}: {names:?}",
        output.display()
    );
    names
        .into_iter()
        .map(|table| {
            let rows = sorted_rows(output, &table);
            (table, rows)
        })
        .collect()
}

#[test]
fn a_memory_limit_and_a_temp_dir_change_nothing_written() {
    let work = Work::new();
    work.sessionize_ok(&[
        "generate", "--events", "5000", "--days", "3", "--seed", "11", "--output", "in",
    ]);
    work.sessionize_ok(&["run", "--input", "in", "--output", "free"]);
    std::fs::create_dir(work.path("tmp")).unwrap();
    // what a killed run left (no process has pid 2^22 + 1 … a pid above the kernel's
    // maximum, 4194304, never exists), and what belongs to someone else
    let abandoned = work.path("tmp/sessionize-4194305-abcdef");
    std::fs::create_dir_all(abandoned.join("scratch-x")).unwrap();
    std::fs::write(abandoned.join("spill.arrow"), b"x").unwrap();
    std::fs::create_dir(work.path("tmp/not-ours")).unwrap();
    let limited = work.sessionize_ok(&[
        "run",
        "--input",
        "in",
        "--output",
        "limited",
        "--memory-limit",
        "256MiB",
        "--temp-dir",
        "tmp",
    ]);
    assert_eq!(tables(&work.path("free")), tables(&work.path("limited")));

    // the report and the summary say what was used, and the limit as given
    let report = newest_report(&work.path("limited"));
    let memory = &report["memory"];
    assert_eq!(memory["limit_bytes"].as_u64(), Some(256 * 1024 * 1024));
    assert!(memory["peak_bytes"].as_u64().unwrap() > 0, "{memory}");
    assert!(memory["spilled_bytes"].is_u64(), "{memory}");
    assert!(
        limited.stdout.contains("memory: peak") && limited.stdout.contains("(limit 0.27 GB)"),
        "{}",
        limited.stdout
    );
    let free = newest_report(&work.path("free"));
    assert!(
        free["memory"]["limit_bytes"].is_null(),
        "{}",
        free["memory"]
    );

    // the run's temporary directory, with its scratch tables, is gone with the run, and so
    // is the killed run's; nothing else was touched
    let left: Vec<String> = std::fs::read_dir(work.path("tmp"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["not-ours"]);
}

/// A limit far below what the sort of all events needs: the sorts, the repartitioning in
/// front of them and the session aggregate have to spill to disk, and what they spill comes
/// back complete and in order.
#[test]
fn a_run_that_must_spill_writes_what_an_unlimited_run_writes() {
    let work = Work::new();
    work.sessionize_ok(&[
        "generate", "--events", "200000", "--days", "2", "--seed", "5", "--output", "in",
    ]);
    work.sessionize_ok(&["run", "--input", "in", "--output", "free"]);
    work.sessionize_ok(&[
        "run",
        "--input",
        "in",
        "--output",
        "spilled",
        "--memory-limit",
        "64MiB",
    ]);
    assert_eq!(tables(&work.path("free")), tables(&work.path("spilled")));
    let report = newest_report(&work.path("spilled"));
    let spilled = report["memory"]["spilled_bytes"].as_u64().unwrap();
    // more than half the pool (32 MiB) went to disk: not a spill of a few stray batches (a
    // batch is under 2 MB). How much spills depends on when the pool's other consumers ask
    // for memory, and on how compact the events are in memory: 25-30 MB at these 200,000
    // events since the input's small-dictionary columns are read as dictionaries (80-90 MB
    // before, as text)
    assert!(spilled > 16 * 1024 * 1024, "{}", report["memory"]);
    let free = newest_report(&work.path("free"));
    assert_eq!(free["memory"]["spilled_bytes"].as_u64(), Some(0));
}

#[test]
fn a_temp_dir_that_cannot_be_used_is_refused_before_the_run() {
    let work = Work::new();
    work.sessionize_ok(&[
        "generate", "--events", "500", "--days", "1", "--seed", "2", "--output", "in",
    ]);
    let out = work.sessionize(&[
        "run",
        "--input",
        "in",
        "--output",
        "out",
        "--temp-dir",
        "no/such/dir",
    ]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("--temp-dir") && out.stderr.contains("no/such/dir"),
        "{}",
        out.stderr
    );
    assert!(!work.path("out").exists());
}

#[test]
fn a_bad_memory_limit_is_refused_before_the_run() {
    let work = Work::new();
    for (limit, says) in [
        ("lots", "expected a size"),
        ("2 parsecs", "unknown unit"),
        ("1MiB", "at least 64MiB"),
    ] {
        let out = work.sessionize(&[
            "run",
            "--input",
            "in",
            "--output",
            "out",
            "--memory-limit",
            limit,
        ]);
        assert_eq!(out.code, Some(2), "{limit}: {}", out.stderr);
        assert!(
            out.stderr.contains("--memory-limit") && out.stderr.contains(says),
            "{limit}: {}",
            out.stderr
        );
    }
    assert!(!work.path("out").exists());
}

#[test]
fn explain_analyze_prints_each_plan_and_writes_the_same_tables() {
    let work = Work::new();
    work.sessionize_ok(&[
        "generate", "--events", "2000", "--days", "2", "--seed", "4", "--output", "in",
    ]);
    work.sessionize_ok(&["run", "--input", "in", "--output", "plain"]);
    let mut command = work.command(&["run", "--input", "in", "--output", "explained"]);
    command.env("SESSIONIZE_EXPLAIN_ANALYZE", "1");
    let explained = Outcome::of(command.output().unwrap());
    assert_eq!(explained.code, Some(0), "{}", explained.stderr);
    for table in ["ranked_copies", "sessions", "metrics_daily", "data_quality"] {
        assert!(
            explained
                .stderr
                .contains(&format!("EXPLAIN ANALYZE of table {table}:")),
            "no plan of {table}"
        );
    }
    assert!(explained.stderr.contains("elapsed_compute"));
    assert_eq!(tables(&work.path("plain")), tables(&work.path("explained")));
}
