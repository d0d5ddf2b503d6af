//! No run ever damages its outputs: a run gives the same tables every time, replaces only the
//! days it computed, waits for (or refuses to disturb) another run on the same output, and a
//! run killed at any moment leaves every partition whole: the previous run's, byte for byte,
//! or the new run's, complete.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::*;

/// The partitions of an output's tables, `<table>/dt=…`, each with its files (name → bytes).
/// `_runs`, `_lock` and `_staging` are the runs' own, not tables. Anything in a table folder
/// other than a partition of plain files fails the test.
type Partitions = BTreeMap<String, BTreeMap<String, Vec<u8>>>;

fn partitions(output: &Path) -> Partitions {
    let mut partitions = BTreeMap::new();
    for table in entries(output) {
        if table.starts_with('_') {
            continue;
        }
        let table_dir = output.join(&table);
        assert!(table_dir.is_dir(), "{} is not a table", table_dir.display());
        if table == "users" {
            // not partitioned: replaced whole
            let files = entries(&table_dir)
                .into_iter()
                .map(|name| {
                    let contents = std::fs::read(table_dir.join(&name)).unwrap();
                    (name, contents)
                })
                .collect();
            partitions.insert(table, files);
            continue;
        }
        for partition in entries(&table_dir) {
            let dir = table_dir.join(&partition);
            assert!(
                partition.starts_with("dt=") && dir.is_dir(),
                "a stray entry in a table folder: {}",
                dir.display()
            );
            let mut files = BTreeMap::new();
            for name in entries(&dir) {
                let path = dir.join(&name);
                assert!(path.is_file(), "not a plain file: {}", path.display());
                files.insert(name, std::fs::read(&path).unwrap());
            }
            partitions.insert(format!("{table}/{partition}"), files);
        }
    }
    partitions
}

/// The names in a directory, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A row of an output table, without `run_id` (a column of data_quality: it names the run
/// that wrote the row, and differs between two runs of the same input).
type Row = BTreeMap<String, Value>;

/// A partition's rows, sorted by their columns other than floats (which, see [`Floats`], may
/// differ in their last bits between runs).
fn rows_of(partition: &Path) -> Vec<Row> {
    let mut rows: Vec<(String, Row)> = read_partition(partition)
        .into_iter()
        .map(|mut row| {
            row.remove("run_id");
            let key = row
                .iter()
                .filter(|(_, v)| !matches!(v, Value::Float(_)))
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect::<Vec<_>>()
                .join(",");
            (key, row)
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows.into_iter().map(|(_, row)| row).collect()
}

/// Every partition's rows.
fn all_rows(output: &Path) -> BTreeMap<String, Vec<Row>> {
    partitions(output)
        .into_keys()
        .map(|p| {
            let rows = rows_of(&output.join(&p));
            (p, rows)
        })
        .collect()
}

/// How floats are compared. The metrics tables sum doubles (durations, revenue) in an order
/// that varies from run to run, so the same rows can differ in their last bits: the tests
/// of whole partitions compare floats to 1e-9 (a partition of mixed or missing rows differs
/// far more); the test of idempotence compares them exactly.
#[derive(Clone, Copy, PartialEq)]
enum Floats {
    Exact,
    Close,
}

/// The first difference between two partitions' rows, if any.
fn difference(found: &[Row], expected: &[Row], floats: Floats) -> Option<String> {
    if found.len() != expected.len() {
        return Some(format!("{} rows, expected {}", found.len(), expected.len()));
    }
    for (i, (f, e)) in found.iter().zip(expected).enumerate() {
        if f.keys().ne(e.keys()) {
            return Some(format!(
                "row {i}: columns {:?}, expected {:?}",
                f.keys(),
                e.keys()
            ));
        }
        for (column, value) in f {
            let same = match (value, &e[column]) {
                (Value::Float(x), Value::Float(y)) if floats == Floats::Close => {
                    (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
                }
                (x, y) => x == y,
            };
            if !same {
                return Some(format!(
                    "row {i}: {column} = {value:?}, expected {:?}\n  row: {f:?}",
                    e[column]
                ));
            }
        }
    }
    None
}

/// Asserts that two outputs hold the same partitions with the same rows.
#[track_caller]
fn assert_same_tables(
    found: &BTreeMap<String, Vec<Row>>,
    expected: &BTreeMap<String, Vec<Row>>,
    floats: Floats,
    what: &str,
) {
    assert_eq!(
        found.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "{what}: partitions"
    );
    for (p, rows) in found {
        if let Some(difference) = difference(rows, &expected[p], floats) {
            panic!("{what}: {p}: {difference}");
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for name in entries(from) {
        let (source, target) = (from.join(&name), to.join(&name));
        if source.is_dir() {
            copy_dir(&source, &target);
        } else {
            std::fs::copy(&source, &target).unwrap();
        }
    }
}

fn generate(work: &Work, events: &str, days: &str, seed: &str, output: &str) {
    work.sessionize_ok(&[
        "generate", "--events", events, "--days", days, "--seed", seed, "--output", output,
    ]);
}

// ---------------------------------------------------------------------------------------
// (a) idempotence

#[test]
fn the_same_input_run_again_gives_the_same_tables_and_no_extra_files() {
    let work = Work::new();
    generate(&work, "3000", "2", "5", "in");
    let out = work.path("out");
    let run = ["run", "--input", "in", "--output", "out"];
    work.sessionize_ok(&run);
    let first = partitions(&out);
    let first_rows = all_rows(&out);
    // three runs rather than two: a difference that shows in some runs only is then far
    // likelier to show
    let mut again = Vec::new();
    for _ in 0..2 {
        work.sessionize_ok(&run);
        again.push(all_rows(&out));
    }
    let last_run = newest_report(&out)["run_id"].as_str().unwrap().to_string();
    let last = partitions(&out);

    // the same partitions, each with as many data files and a _SUCCESS naming the last run
    let shape = |partitions: &Partitions| -> BTreeMap<String, (usize, Vec<String>)> {
        partitions
            .iter()
            .map(|(p, files)| {
                let data = files.keys().filter(|f| f.ends_with(".parquet")).count();
                let other = files.keys().filter(|f| !f.ends_with(".parquet")).cloned();
                (p.clone(), (data, other.collect()))
            })
            .collect()
    };
    assert_eq!(shape(&last), shape(&first));
    for (p, files) in &last {
        assert_eq!(files["_SUCCESS"], last_run.as_bytes(), "{p}/_SUCCESS");
    }
    // at the top: the tables, the three reports and the lock; nothing left staged
    let tables: BTreeSet<String> = first
        .keys()
        .map(|p| p.split('/').next().unwrap().into())
        .collect();
    let mut expected: Vec<String> = tables.into_iter().collect();
    expected.extend(["_lock".to_string(), "_runs".to_string()]);
    expected.sort();
    assert_eq!(entries(&out), expected);
    assert_eq!(entries(&out.join("_runs")).len(), 3);

    for (rows, which) in again.iter().zip(["second", "third"]) {
        let what = format!("the {which} run of the same input, row for row");
        assert_same_tables(rows, &first_rows, Floats::Exact, &what);
    }
}

// ---------------------------------------------------------------------------------------
// (b) only the days a run computed are replaced

#[test]
fn a_run_replaces_only_the_days_it_computed() {
    let work = Work::new();
    generate(&work, "3000", "3", "6", "all");
    copy_dir(
        &work.path("all/dt=2026-11-03"),
        &work.path("day3/dt=2026-11-03"),
    );
    let out = work.path("out");
    work.sessionize_ok(&["run", "--input", "all", "--output", "out"]);
    let before = partitions(&out);
    for day in ["2026-11-01", "2026-11-02", "2026-11-03"] {
        for table in ["sessions", "metrics_daily", "data_quality"] {
            assert!(before.contains_key(&format!("{table}/dt={day}")));
        }
    }
    // what a run of day 3 alone writes, in an output of its own
    work.sessionize_ok(&["run", "--input", "day3", "--output", "out-day3"]);
    let day3 = all_rows(&work.path("out-day3"));
    assert!(
        day3.keys()
            .all(|p| p.ends_with("/dt=2026-11-03") || p == "users"),
        "{day3:?}"
    );

    let outcome = work.sessionize_ok(&["run", "--input", "day3", "--output", "out"]);
    let after = partitions(&out);
    let report = report(&out, outcome.run_id());
    let replaced: BTreeSet<String> = report["partitions_replaced"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    assert_eq!(replaced, day3.keys().cloned().collect::<BTreeSet<_>>());

    for (p, files) in &before {
        if replaced.contains(p) {
            continue;
        }
        let now = after.get(p).unwrap_or_else(|| panic!("{p} is gone"));
        assert_eq!(
            now.keys().collect::<Vec<_>>(),
            files.keys().collect::<Vec<_>>(),
            "{p}: file names"
        );
        assert!(now == files, "{p}: the bytes of its files changed");
    }
    for p in &replaced {
        if let Some(old) = before.get(p) {
            let old_data: BTreeSet<&String> =
                old.keys().filter(|f| f.ends_with(".parquet")).collect();
            assert!(
                after[p].keys().all(|f| !old_data.contains(f)),
                "{p}: the old data files are still there"
            );
        }
        assert_eq!(after[p]["_SUCCESS"], outcome.run_id().as_bytes(), "{p}");
        if let Some(difference) = difference(&rows_of(&out.join(p)), &day3[p], Floats::Close) {
            panic!("{p} is not what a run of day 3 writes: {difference}");
        }
    }
    let expected: BTreeSet<&String> = before.keys().chain(&replaced).collect();
    assert_eq!(after.keys().collect::<BTreeSet<_>>(), expected);
}

// ---------------------------------------------------------------------------------------
// (c) one run at a time

const HOLDER: &str = "held by the test binary";

/// Takes `<output>/_lock` as a run does (flock, exclusive), and says who holds it in it.
fn take_lock(output: &Path) -> File {
    std::fs::create_dir_all(output).unwrap();
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(output.join("_lock"))
        .unwrap();
    // SAFETY: the descriptor is open for the duration of the call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
    writeln!(file, "pid {} {HOLDER}", std::process::id()).unwrap();
    file
}

fn release_lock(file: File) {
    // SAFETY: the descriptor is open for the duration of the call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
    assert_eq!(rc, 0);
    drop(file);
}

#[test]
fn a_locked_output_is_refused_with_exit_code_4_or_waited_for() {
    let work = Work::new();
    generate(&work, "1000", "1", "7", "in");
    let out = work.path("out");
    let lock = take_lock(&out);
    let run = ["run", "--input", "in", "--output", "out"];
    let refused = work.sessionize(&run);
    assert_eq!(refused.code, Some(4), "{}", refused.stderr);
    let holder = format!("pid {} {HOLDER}", std::process::id());
    for part in [
        "another run is writing to this output",
        holder.as_str(),
        "out/_lock",
        "--wait-for-lock",
    ] {
        assert!(
            refused.stderr.contains(part),
            "stderr does not mention {part:?}:\n{}",
            refused.stderr
        );
    }
    assert_eq!(entries(&out), ["_lock"], "a refused run writes nothing");

    // with --wait-for-lock the run waits until the lock is released
    let started = Instant::now();
    let mut args = run.to_vec();
    args.extend(["--wait-for-lock", "10s"]);
    let mut waiting = work.spawn(&args);
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        waiting.try_wait().unwrap().is_none(),
        "the run did not wait for the lock"
    );
    release_lock(lock);
    let outcome = Outcome::of(waiting.wait_with_output().unwrap());
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_rows_accounted(&out, &report(&out, outcome.run_id()));
    assert!(!out.join("_staging").exists());
}

/// Two runs of different inputs on one output, started together: the lock puts one after
/// the other, so every partition is whole and is the last writer's.
#[test]
fn two_runs_started_at_once_on_one_output_both_end_well() {
    let work = Work::new();
    generate(&work, "3000", "2", "8", "in-a");
    generate(&work, "3000", "2", "9", "in-b");
    work.sessionize_ok(&["run", "--input", "in-a", "--output", "ref-a"]);
    work.sessionize_ok(&["run", "--input", "in-b", "--output", "ref-b"]);
    let reference = [all_rows(&work.path("ref-a")), all_rows(&work.path("ref-b"))];

    let impatient = work.spawn(&["run", "--input", "in-a", "--output", "out"]);
    let patient = work.spawn(&[
        "run",
        "--input",
        "in-b",
        "--output",
        "out",
        "--wait-for-lock",
        "60s",
    ]);
    let impatient = Outcome::of(impatient.wait_with_output().unwrap());
    let patient = Outcome::of(patient.wait_with_output().unwrap());
    assert_eq!(patient.code, Some(0), "{}", patient.stderr);
    // the run that does not wait either got the lock first or was refused at once
    match impatient.code {
        Some(0) => {}
        Some(4) => assert!(
            impatient
                .stderr
                .contains("another run is writing to this output"),
            "{}",
            impatient.stderr
        ),
        other => panic!("exit code {other:?}: {}", impatient.stderr),
    }

    // the runs that finished, in the order they committed
    let out = work.path("out");
    let mut finished: Vec<(String, &BTreeMap<String, Vec<Row>>)> = Vec::new();
    for (outcome, rows) in [(&impatient, &reference[0]), (&patient, &reference[1])] {
        if outcome.code == Some(0) {
            let report = report(&out, outcome.run_id());
            finished.push((report["finished_at"].as_str().unwrap().to_string(), rows));
        }
    }
    finished.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    for (_, rows) in &finished {
        expected.extend(rows.iter().map(|(p, r)| (p.clone(), r.clone())));
    }
    assert_same_tables(&all_rows(&out), &expected, Floats::Close, "the output");
    assert_rows_accounted(&out, &report(&out, patient.run_id()));
    assert!(!out.join("_staging").exists());
}

// ---------------------------------------------------------------------------------------
// (d) killed runs

/// Every partition of `output` is A's, byte for byte, or B's, row for row; none of A's is
/// missing. Returns how many are A's and how many B's.
#[track_caller]
fn assert_whole(
    output: &Path,
    a: &Partitions,
    b: &BTreeMap<String, Vec<Row>>,
    when: &str,
) -> (usize, usize) {
    let now = partitions(output);
    for p in a.keys() {
        assert!(now.contains_key(p), "{when}: {p} is missing");
    }
    let (mut from_a, mut from_b) = (0, 0);
    for (p, files) in &now {
        if a.get(p) == Some(files) {
            from_a += 1;
            continue;
        }
        let expected = b
            .get(p)
            .unwrap_or_else(|| panic!("{when}: {p} is not A's and B has no such partition"));
        let other: Vec<&String> = files.keys().filter(|f| !f.ends_with(".parquet")).collect();
        assert_eq!(other, ["_SUCCESS"], "{when}: {p}");
        if let Some(difference) = difference(&rows_of(&output.join(p)), expected, Floats::Close) {
            panic!(
                "{when}: {p} is neither A's (byte for byte) nor B's (row for row): {difference}"
            );
        }
        from_b += 1;
    }
    (from_a, from_b)
}

/// Puts the table folders back as they were in `state`.
fn restore(output: &Path, state: &Partitions) {
    for table in entries(output) {
        if !table.starts_with('_') {
            std::fs::remove_dir_all(output.join(table)).unwrap();
        }
    }
    for (partition, files) in state {
        let dir = output.join(partition);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in files {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    assert!(partitions(output) == *state);
}

/// The output equals B: B's partitions hold B's rows, and any other is still A's.
#[track_caller]
fn assert_equals_b(output: &Path, a: &Partitions, b: &BTreeMap<String, Vec<Row>>) {
    let (_, from_b) = assert_whole(output, a, b, "at the end");
    assert_eq!(from_b, b.len(), "every partition of B is B's");
}

/// Generates inputs `in-a` and `in-b` (3 days, one seed each). State A: a run of in-a into
/// `out`, as files. State B: the complete output of in-b, computed apart in `ref-b`, as
/// rows; and how long that run took, in seconds.
fn states_a_and_b(
    work: &Work,
    events: &str,
    seeds: [&str; 2],
) -> (Partitions, BTreeMap<String, Vec<Row>>, f64) {
    generate(work, events, "3", seeds[0], "in-a");
    generate(work, events, "3", seeds[1], "in-b");
    work.sessionize_ok(&["run", "--input", "in-a", "--output", "out"]);
    let a = partitions(&work.path("out"));
    let started = Instant::now();
    work.sessionize_ok(&["run", "--input", "in-b", "--output", "ref-b"]);
    let seconds = started.elapsed().as_secs_f64();
    let b = all_rows(&work.path("ref-b"));
    (a, b, seconds)
}

/// State A: one run into OUT. State B: the complete output of another input, computed apart.
/// A second run of B's input into OUT, killed with SIGKILL at moments spread over its
/// duration, must leave each partition A's or B's; a last run then brings OUT to B.
#[test]
fn a_run_killed_at_any_moment_leaves_every_partition_whole() {
    let work = Work::new();
    let (a, b, duration) = states_a_and_b(&work, "300000", ["11", "12"]);
    let out = work.path("out");
    let run_b = ["run", "--input", "in-b", "--output", "out"];
    // early, then spread over the run, the most towards its end, where it commits; a run
    // that ends before its kill shows the run is quicker than measured, and moves the later
    // points earlier
    let fractions = [0.25, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0];
    let mut duration = duration;
    let mut killed = 0;
    let mut seen = Vec::new();
    for i in 0..3 + fractions.len() {
        let point = [0.05, 0.2, 0.5]
            .get(i)
            .copied()
            .unwrap_or_else(|| fractions[i - 3] * duration);
        // each kill starts from A: put A's partitions back if the last run got further
        // (what a killed run left staged stays, for the next run to clean up)
        if partitions(&out) != a {
            restore(&out, &a);
        }
        let started = Instant::now();
        let mut child = work.spawn(&run_b);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                duration = duration.min(started.elapsed().as_secs_f64());
                break status;
            }
            if started.elapsed().as_secs_f64() >= point {
                child.kill().unwrap();
                break child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        if status.signal() == Some(libc::SIGKILL) {
            killed += 1;
        } else {
            assert!(status.success(), "a run ended with {status}");
        }
        let when = format!("killed after {point:.2} s (a run takes {duration:.2} s)");
        let (from_a, from_b) = assert_whole(&out, &a, &b, &when);
        seen.push(format!(
            "{point:.2} s: {status}, {from_a} of A, {from_b} of B"
        ));
    }
    assert!(
        killed >= 7,
        "too few runs were killed before they ended: {seen:#?}"
    );

    let outcome = work.sessionize_ok(&run_b);
    assert_equals_b(&out, &a, &b);
    assert!(!out.join("_staging").exists());
    let notes = report(&out, outcome.run_id())["notes"].to_string();
    eprintln!("kills: {seen:#?}\nnotes of the run after them: {notes}");
}

/// `SESSIONIZE_FAILPOINT=commit:3` aborts a run after it swapped three partitions in: the
/// output then holds three partitions of B and the rest of A, each whole. The next run
/// finishes the interrupted commit, says so in its report, and the output ends as B.
#[test]
fn a_commit_cut_short_is_finished_by_the_next_run() {
    let work = Work::new();
    let (a, b, _) = states_a_and_b(&work, "3000", ["13", "14"]);
    let out = work.path("out");
    let run_b = ["run", "--input", "in-b", "--output", "out"];

    let aborted = work
        .command(&run_b)
        .env("SESSIONIZE_FAILPOINT", "commit:3")
        .output()
        .unwrap();
    assert_eq!(
        aborted.status.signal(),
        Some(libc::SIGABRT),
        "{}",
        String::from_utf8_lossy(&aborted.stderr)
    );
    let (from_a, from_b) = assert_whole(&out, &a, &b, "after the abort");
    assert_eq!(from_b, 3, "three partitions were swapped in");
    assert!(from_a > 0);
    let staged = entries(&out.join("_staging"));
    assert_eq!(staged.len(), 1, "{staged:?}");
    let interrupted = &staged[0];
    assert!(
        out.join("_staging")
            .join(interrupted)
            .join("COMMIT")
            .exists()
    );

    let outcome = work.sessionize_ok(&run_b);
    assert_note(
        &out,
        outcome.run_id(),
        &format!("finished the commit of interrupted run {interrupted}"),
    );
    assert_equals_b(&out, &a, &b);
    assert!(!out.join("_staging").exists());
}

/// The run's report has `note` among its notes.
fn assert_note(output: &Path, run_id: &str, note: &str) {
    let notes = report(output, run_id)["notes"].clone();
    assert!(
        notes.as_array().unwrap().iter().any(|n| n == note),
        "{notes}"
    );
}

/// A run killed before it wrote any file leaves only folders in its staging; the next run
/// removes them with the rest, not only what a listing of files finds.
#[test]
fn a_run_killed_before_its_first_file_leaves_no_staging_behind() {
    let work = Work::new();
    let (a, b, _) = states_a_and_b(&work, "2000", ["13", "14"]);
    let out = work.path("out");
    let interrupted = "20260101T000000.000Z-1";
    let folders = out
        .join("_staging")
        .join(interrupted)
        .join("sessions")
        .join("dt=2026-03-13");
    std::fs::create_dir_all(&folders).unwrap();

    let outcome = work.sessionize_ok(&["run", "--input", "in-b", "--output", "out"]);
    assert_note(
        &out,
        outcome.run_id(),
        &format!("removed the staging of interrupted run {interrupted}"),
    );
    assert_equals_b(&out, &a, &b);
    assert!(!out.join("_staging").exists());
}
