//! The distributed engines (built with `--features distributed`): the same job on Apache
//! DataFusion Ballista gives the tables of the local engine, row for row. The in-process
//! cluster (`--engine ballista-standalone`) and a real one (`sessionize scheduler` and
//! `sessionize executor` as separate processes, `--engine ballista`) read from and write to
//! the S3 server `make test` starts; a cluster is refused a local output before anything
//! runs.

use std::net::TcpListener;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::incremental::{assert_same_tables, folder_days, generate};
use crate::s3::{S3, s3, unique};

/// Generated events over several days (late events, bots), run by the local engine into
/// `local`, and uploaded to a fresh prefix of the bucket. Returns the prefix.
fn local_reference(work: &Work, s3: &S3, seed: u64) -> String {
    generate(work, seed, "in");
    work.sessionize_ok(&["run", "--input", "in", "--output", "local"]);
    assert!(read_table(&work.path("local"), "sessions").len() > 500);
    let prefix = unique("ballista");
    s3.upload(&work.path("in"), &format!("{prefix}/in"));
    prefix
}

/// Downloads a run's output (`<prefix>/out`) into `name` and compares it with the local
/// engine's, table by table and row for row.
fn assert_like_local(s3: &S3, work: &Work, prefix: &str, name: &str, what: &str) {
    s3.download(&format!("{prefix}/out"), &work.path(name));
    assert_same_tables(&work.path(name), &work.path("local"), what);
}

#[test]
fn standalone_engine_on_s3_gives_the_local_engines_tables() {
    let s3 = s3();
    let work = Work::new();
    let prefix = local_reference(&work, &s3, 31);
    let input = s3.url(&format!("{prefix}/in"));
    let output = s3.url(&format!("{prefix}/out"));
    let run = ["run", "--input", &input, "--output", &output];

    s3.sessionize_ok(
        &work,
        &[&run[..], &["--engine", "ballista-standalone"]].concat(),
    );
    assert_like_local(
        &s3,
        &work,
        &prefix,
        "standalone",
        "ballista-standalone, S3 in and out",
    );
    // what the run built for the executors went with its staging
    let objects = s3.objects(&format!("{prefix}/out"));
    assert!(!objects.iter().any(|(key, _)| key.starts_with("_staging/")));

    // local paths are fine on one machine
    work.sessionize_ok(&[
        "run",
        "--input",
        "in",
        "--output",
        "standalone-local",
        "--engine",
        "ballista-standalone",
    ]);
    assert_same_tables(
        &work.path("standalone-local"),
        &work.path("local"),
        "ballista-standalone, local in and out",
    );
}

/// The nightly way, on the in-process cluster against S3: the input's days run one by one
/// and then as a range, each run continuing from what the earlier ones wrote (their
/// sessions, users, and open sessions across midnight), give the local engine's tables.
/// Such runs hung in Ballista's scheduler once (a task status it refused); the job timeout
/// makes a regression fail here instead of hanging the suite.
#[test]
fn standalone_engine_day_by_day_on_s3_gives_the_local_engines_tables() {
    let s3 = s3();
    let work = Work::new();
    let prefix = local_reference(&work, &s3, 34);
    let input = s3.url(&format!("{prefix}/in"));
    let output = s3.url(&format!("{prefix}/out"));
    let days = folder_days(&work.path("in"));
    assert!(days.len() >= 4, "{days:?}");
    let run = [
        "run",
        "--input",
        &input,
        "--output",
        &output,
        "--engine",
        "ballista-standalone",
        "--job-timeout",
        "10m",
    ];
    for day in &days[..2] {
        s3.sessionize_ok(&work, &[&run[..], &["--date", day]].concat());
    }
    let (from, to) = (&days[2], &days[days.len() - 1]);
    s3.sessionize_ok(&work, &[&run[..], &["--from", from, "--to", to]].concat());
    assert_like_local(
        &s3,
        &work,
        &prefix,
        "standalone",
        "ballista-standalone, day by day on S3",
    );
}

/// A Ballista job that does not finish in its time fails the run, naming the job and the
/// engine, and leaves the previous output as it was. A job cannot be made to hang on
/// purpose, so the timeout is made shorter than any job.
#[test]
fn a_ballista_job_past_its_timeout_fails_the_run_and_keeps_the_output() {
    let work = Work::new();
    generate(&work, 35, "in");
    work.sessionize_ok(&["run", "--input", "in", "--output", "out"]);
    work.sessionize_ok(&["run", "--input", "in", "--output", "reference"]);
    work.write("short.toml", "[engine]\njob_timeout = \"1ms\"\n");
    for timeout in [
        &["--job-timeout", "1ms"][..],
        &["--config", "short.toml"][..],
    ] {
        let outcome = work.sessionize(
            &[
                &["run", "--input", "in", "--output", "out"][..],
                &["--engine", "ballista-standalone"][..],
                timeout,
            ]
            .concat(),
        );
        assert_eq!(outcome.code, Some(1), "{timeout:?}: {}", outcome.stderr);
        assert!(
            outcome.stderr.contains("Ballista job")
                && outcome.stderr.contains("did not finish within 1ms")
                && outcome.stderr.contains("ballista-standalone engine"),
            "{timeout:?}: {}",
            outcome.stderr
        );
        assert_same_tables(
            &work.path("out"),
            &work.path("reference"),
            "the output after a job timed out",
        );
    }
    let bad = work.sessionize(&[
        "run",
        "--input",
        "in",
        "--output",
        "out",
        "--job-timeout",
        "soon",
    ]);
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    assert!(bad.stderr.contains("--job-timeout"), "{}", bad.stderr);
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_port(port: u16, server: &mut Server, what: &str) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            server.0.try_wait().unwrap().is_none(),
            "{what} exited before listening on {port}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what} does not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A cluster of separate processes, as on real machines: `sessionize scheduler`, and
/// `sessionize executor` with the S3 credentials in its own environment. The run sends only
/// the endpoint settings (here from its config file) with each job.
#[test]
fn a_cluster_of_sessionize_scheduler_and_executor_gives_the_local_engines_tables() {
    let s3 = s3();
    let work = Work::new();
    let prefix = local_reference(&work, &s3, 32);

    // each server with the S3 credentials in its own environment (the scheduler lists the
    // files it plans over)
    let spawn = |args: &[&str]| {
        Server(
            work.command(args)
                .env("AWS_ACCESS_KEY_ID", &s3.key)
                .env("AWS_SECRET_ACCESS_KEY", &s3.secret)
                .env("AWS_REGION", "us-east-1")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let scheduler_port = free_port().to_string();
    let mut scheduler = spawn(&["scheduler", "--port", &scheduler_port]);
    wait_for_port(
        scheduler_port.parse().unwrap(),
        &mut scheduler,
        "the scheduler",
    );
    let (flight_port, grpc_port) = (free_port(), free_port());
    let executor_dir = work.path("executor");
    std::fs::create_dir_all(&executor_dir).unwrap();
    let mut executor = spawn(&[
        "executor",
        "--scheduler-port",
        &scheduler_port,
        "--port",
        &flight_port.to_string(),
        "--grpc-port",
        &grpc_port.to_string(),
        "--vcores",
        "2",
        "--work-dir",
        &executor_dir.to_string_lossy(),
    ]);
    wait_for_port(flight_port, &mut executor, "the executor");

    work.write(
        "cluster.toml",
        &format!(
            "[s3]\nendpoint = \"{}\"\nallow_http = true\nregion = \"us-east-1\"\n\n\
             [engine]\nkind = \"ballista\"\nscheduler = \"df://127.0.0.1:{scheduler_port}\"\n",
            s3.endpoint
        ),
    );
    let input = s3.url(&format!("{prefix}/in"));
    let output = s3.url(&format!("{prefix}/out"));
    s3.sessionize_ok(
        &work,
        &[
            "run",
            "--config",
            "cluster.toml",
            "--input",
            &input,
            "--output",
            &output,
        ],
    );
    assert_like_local(
        &s3,
        &work,
        &prefix,
        "cluster",
        "sessionize scheduler and executor, S3 in and out",
    );
    // the executor ran the job's tasks: their shuffle files (Arrow IPC, `….arrow`) are under
    // its work directory (a run that quietly ran in its own process would leave none)
    let shuffled = arrow_files_under(&executor_dir);
    assert!(
        shuffled > 0,
        "no shuffle file under {}",
        executor_dir.display()
    );
}

/// How many Arrow IPC files there are under `dir`, at any depth.
fn arrow_files_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .map(|path| {
            if path.is_dir() {
                arrow_files_under(&path)
            } else {
                usize::from(path.extension().is_some_and(|e| e == "arrow"))
            }
        })
        .sum()
}

#[test]
fn a_cluster_engine_refuses_a_local_output_before_anything_runs() {
    let work = Work::new();
    generate(&work, 33, "in");
    let message = "the ballista engine cannot write to the local path";
    work.write(
        "cluster.toml",
        "[engine]\nkind = \"ballista\"\nscheduler = \"df://127.0.0.1:1\"\n",
    );
    for args in [
        &["--engine", "ballista", "--scheduler", "df://127.0.0.1:1"][..],
        &["--config", "cluster.toml"][..],
    ] {
        let outcome =
            work.sessionize(&[&["run", "--input", "in", "--output", "out"][..], args].concat());
        assert_eq!(outcome.code, Some(2), "{args:?}: {}", outcome.stderr);
        assert!(
            outcome.stderr.contains(message) && outcome.stderr.contains("s3://"),
            "{args:?}: {}",
            outcome.stderr
        );
        // refused before the output was touched (no lock, no run report)
        assert!(!work.path("out").exists(), "{args:?}");
    }
    // the variables do the same
    let outcome = Outcome::of(
        work.command(&["validate", "--input", "in", "--output", "out"])
            .env("SESSIONIZE_ENGINE", "ballista")
            .env("SESSIONIZE_SCHEDULER", "df://127.0.0.1:1")
            .output()
            .unwrap(),
    );
    assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
    assert!(outcome.stderr.contains(message), "{}", outcome.stderr);
}
