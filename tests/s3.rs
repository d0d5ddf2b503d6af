//! S3 in and out, against a real S3-compatible server on 127.0.0.1 (moto's server with
//! authentication on, started by `make test` through tests/s3/server.sh; never a mock):
//! the same tables as on local disk, wrong credentials, a missing bucket, and a server that
//! goes away mid-run.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::common::*;

pub(crate) struct S3 {
    pub(crate) endpoint: String,
    bucket: String,
    pub(crate) key: String,
    pub(crate) secret: String,
}

pub(crate) fn s3() -> S3 {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run the tests with `make test`, which starts the S3 server")
        })
    };
    S3 {
        endpoint: var("SESSIONIZE_TEST_S3_ENDPOINT"),
        bucket: var("SESSIONIZE_TEST_S3_BUCKET"),
        key: var("SESSIONIZE_TEST_S3_ACCESS_KEY_ID"),
        secret: var("SESSIONIZE_TEST_S3_SECRET_ACCESS_KEY"),
    }
}

/// A prefix no other test uses.
pub(crate) fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}-{nanos}")
}

impl S3 {
    fn store(&self) -> AmazonS3 {
        AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_bucket_name(&self.bucket)
            .with_access_key_id(&self.key)
            .with_secret_access_key(&self.secret)
            .with_region("us-east-1")
            .with_allow_http(true)
            .build()
            .unwrap()
    }

    pub(crate) fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }

    /// Runs sessionize with credentials from the AWS variables, as a user would.
    pub(crate) fn sessionize(
        &self,
        work: &Work,
        args: &[&str],
        endpoint: &str,
        secret: &str,
    ) -> Outcome {
        let output = Command::new(env!("CARGO_BIN_EXE_sessionize"))
            .args(args)
            .current_dir(work.path(""))
            .env("AWS_ACCESS_KEY_ID", &self.key)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_REGION", "us-east-1")
            .output()
            .unwrap();
        Outcome {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    pub(crate) fn sessionize_ok(&self, work: &Work, args: &[&str]) -> Outcome {
        let outcome = self.sessionize(work, args, &self.endpoint, &self.secret);
        assert_eq!(
            outcome.code,
            Some(0),
            "{args:?}\n{}\n{}",
            outcome.stdout,
            outcome.stderr
        );
        outcome
    }

    pub(crate) fn upload(&self, local: &Path, prefix: &str) {
        let store = self.store();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let mut stack = vec![local.to_path_buf()];
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let relative = path
                .strip_prefix(local)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let bytes = std::fs::read(&path).unwrap();
            runtime
                .block_on(store.put(
                    &ObjectPath::from(format!("{prefix}/{relative}")),
                    bytes.into(),
                ))
                .unwrap();
        }
    }

    /// Every object under `prefix`, as (relative key, bytes), sorted.
    pub(crate) fn objects(&self, prefix: &str) -> Vec<(String, Vec<u8>)> {
        let store = self.store();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let listed: Vec<_> = store
                .list(Some(&ObjectPath::from(prefix)))
                .try_collect()
                .await
                .unwrap();
            let mut objects = Vec::new();
            for meta in listed {
                let bytes = store
                    .get(&meta.location)
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                let key = meta
                    .location
                    .as_ref()
                    .strip_prefix(&format!("{prefix}/"))
                    .unwrap()
                    .to_string();
                objects.push((key, bytes.to_vec()));
            }
            objects.sort();
            objects
        })
    }

    pub(crate) fn download(&self, prefix: &str, local: &Path) {
        for (key, bytes) in self.objects(prefix) {
            let path = local.join(&key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
    }
}

const TABLES: &[&str] = &[
    "sessions",
    "rejects",
    "metrics_daily",
    "metrics_by_source",
    "metrics_by_device",
    "metrics_by_landing_page",
];

/// Every table's rows, sorted, for comparing two outputs.
fn all_rows(output: &Path) -> Vec<(String, Vec<String>)> {
    TABLES
        .iter()
        .map(|table| {
            let mut rows: Vec<String> = read_table(output, table)
                .iter()
                .map(|row| format!("{row:?}"))
                .collect();
            rows.sort();
            (table.to_string(), rows)
        })
        .collect()
}

#[test]
fn s3_to_s3_and_mixed_runs_give_the_same_tables_as_local_disk() {
    let s3 = s3();
    let work = Work::new();
    work.sessionize_ok(&[
        "generate", "--events", "20000", "--days", "3", "--seed", "21", "--output", "events",
    ]);
    work.sessionize_ok(&["run", "--input", "events", "--output", "local-out"]);
    let expected = all_rows(&work.path("local-out"));
    assert!(expected[0].1.len() > 1000);

    let prefix = unique("s3-to-s3");
    s3.upload(&work.path("events"), &format!("{prefix}/events"));
    let input = s3.url(&format!("{prefix}/events"));
    let output = s3.url(&format!("{prefix}/out"));

    s3.sessionize_ok(&work, &["run", "--input", &input, "--output", &output]);
    s3.download(&format!("{prefix}/out"), &work.path("s3-out"));
    assert_eq!(all_rows(&work.path("s3-out")), expected, "S3 in, S3 out");
    // a partition on S3 has _SUCCESS naming its files, and the staging is gone
    let objects = s3.objects(&format!("{prefix}/out"));
    assert!(
        objects
            .iter()
            .any(|(k, _)| k.starts_with("sessions/dt=") && k.ends_with("/_SUCCESS"))
    );
    assert!(!objects.iter().any(|(k, _)| k.starts_with("_staging/")));
    assert!(objects.iter().any(|(k, _)| k.starts_with("_runs/")));

    // running again replaces, never appends
    s3.sessionize_ok(&work, &["run", "--input", &input, "--output", &output]);
    std::fs::remove_dir_all(work.path("s3-out")).unwrap();
    s3.download(&format!("{prefix}/out"), &work.path("s3-out"));
    assert_eq!(all_rows(&work.path("s3-out")), expected, "S3 rerun");

    s3.sessionize_ok(
        &work,
        &["run", "--input", &input, "--output", "mixed-local"],
    );
    assert_eq!(
        all_rows(&work.path("mixed-local")),
        expected,
        "S3 in, local out"
    );

    let output = s3.url(&format!("{prefix}/from-local"));
    s3.sessionize_ok(&work, &["run", "--input", "events", "--output", &output]);
    s3.download(&format!("{prefix}/from-local"), &work.path("mixed-s3"));
    assert_eq!(
        all_rows(&work.path("mixed-s3")),
        expected,
        "local in, S3 out"
    );

    // a glob on S3 reads the same files
    let glob = s3.url(&format!("{prefix}/events/dt=*/*.parquet"));
    s3.sessionize_ok(&work, &["run", "--input", &glob, "--output", "glob-local"]);
    assert_eq!(all_rows(&work.path("glob-local")), expected, "S3 glob in");
}

/// Dated runs on S3 read the earlier runs' sessions and users back from the bucket and
/// replace `users` (written whole, without dt= folders) there: day by day they give the
/// tables of one full run on local disk.
#[test]
fn dated_runs_on_s3_equal_a_full_run_on_local_disk() {
    let s3 = s3();
    let work = Work::new();
    work.sessionize_ok(&[
        "generate",
        "--events",
        "6000",
        "--days",
        "3",
        "--seed",
        "23",
        "--late-share",
        "0.03",
        "--bots",
        "1",
        "--output",
        "events",
    ]);
    work.sessionize_ok(&["run", "--input", "events", "--output", "local-out"]);
    let prefix = unique("s3-dated");
    s3.upload(&work.path("events"), &format!("{prefix}/events"));
    let input = s3.url(&format!("{prefix}/events"));
    let output = s3.url(&format!("{prefix}/out"));
    let mut days: Vec<String> = std::fs::read_dir(work.path("events"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|name| name.strip_prefix("dt=").map(String::from))
        .collect();
    days.sort();
    for day in &days {
        s3.sessionize_ok(
            &work,
            &["run", "--input", &input, "--output", &output, "--date", day],
        );
    }
    s3.download(&format!("{prefix}/out"), &work.path("s3-out"));
    for table in ["users", "bot_sessions"] {
        assert_eq!(
            sorted_rows(&work.path("s3-out"), table),
            sorted_rows(&work.path("local-out"), table),
            "{table}"
        );
    }
    assert_eq!(
        all_rows(&work.path("s3-out")),
        all_rows(&work.path("local-out"))
    );
    let objects = s3.objects(&format!("{prefix}/out"));
    assert!(objects.iter().any(|(k, _)| k == "users/_SUCCESS"));
    assert!(!objects.iter().any(|(k, _)| k.starts_with("_staging/")));
}

/// The authenticating server: only the IAM user's key and secret are accepted.
fn s3_with_auth() -> S3 {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run the tests with `make test`, which starts the S3 server")
        })
    };
    S3 {
        endpoint: var("SESSIONIZE_TEST_S3_AUTH_ENDPOINT"),
        bucket: var("SESSIONIZE_TEST_S3_BUCKET"),
        key: var("SESSIONIZE_TEST_S3_AUTH_ACCESS_KEY_ID"),
        secret: var("SESSIONIZE_TEST_S3_AUTH_SECRET_ACCESS_KEY"),
    }
}

#[test]
fn wrong_credentials_and_a_missing_bucket_are_named_and_fail_with_1() {
    let s3 = s3();
    let work = Work::new();
    work.sessionize_ok(&[
        "generate", "--events", "500", "--days", "1", "--seed", "2", "--output", "events",
    ]);
    let prefix = unique("credentials");
    s3.upload(&work.path("events"), &format!("{prefix}/events"));
    let input = s3.url(&format!("{prefix}/events"));

    let guarded = s3_with_auth();
    let input_guarded = guarded.url(&format!("{prefix}/events"));
    let wrong_secret = "not-the-secret-0123456789";
    let denied = guarded.sessionize(
        &work,
        &["run", "--input", &input_guarded, "--output", "out"],
        &guarded.endpoint,
        wrong_secret,
    );
    assert_eq!(denied.code, Some(1), "{}", denied.stderr);
    assert!(
        denied.stderr.contains(&guarded.bucket),
        "names the bucket: {}",
        denied.stderr
    );
    assert!(
        denied.stderr.contains("403"),
        "says access was refused: {}",
        denied.stderr
    );
    assert!(!denied.stderr.contains(wrong_secret) && !denied.stdout.contains(wrong_secret));
    assert!(
        !work.path("out/sessions").exists(),
        "nothing written after a refusal"
    );

    let missing = s3.sessionize(
        &work,
        &[
            "run",
            "--input",
            "s3://no-such-bucket-here/events",
            "--output",
            "out",
        ],
        &s3.endpoint,
        &s3.secret,
    );
    assert_eq!(missing.code, Some(1), "{}", missing.stderr);
    assert!(
        missing.stderr.contains("no-such-bucket-here"),
        "{}",
        missing.stderr
    );
    assert!(!missing.stderr.contains(&s3.secret));

    // the run report, wherever it lands, holds no secret
    let output = s3.url(&format!("{prefix}/out"));
    s3.sessionize_ok(&work, &["run", "--input", &input, "--output", &output]);
    for (key, bytes) in s3.objects(&format!("{prefix}/out/_runs")) {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&s3.secret), "{key} holds the secret");
        assert!(!text.contains(&s3.key), "{key} holds the access key id");
    }
}

/// A TCP relay to the S3 server that the test can cut, so the server "goes away" for the
/// program while its data stays for the test to inspect.
struct Relay {
    port: u16,
    open: Arc<AtomicBool>,
}

impl Relay {
    fn start(target: &str) -> Relay {
        let target = target.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(AtomicBool::new(true));
        let accepting = open.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                if !accepting.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let open = accepting.clone();
                    std::thread::spawn(move || {
                        let mut buffer = [0u8; 65536];
                        while open.load(Ordering::SeqCst) {
                            match from.read(&mut buffer) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    if to.write_all(&buffer[..n]).is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Both);
                        let _ = from.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Relay { port, open }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
    }
}

#[test]
fn a_server_that_goes_away_mid_run_leaves_the_previous_output_complete() {
    let s3 = s3();
    let work = Work::new();
    work.sessionize_ok(&[
        "generate", "--events", "20000", "--days", "3", "--seed", "4", "--output", "first",
    ]);
    work.sessionize_ok(&[
        "generate", "--events", "200000", "--days", "3", "--seed", "5", "--output", "second",
    ]);
    let prefix = unique("server-down");
    let output = s3.url(&format!("{prefix}/out"));
    s3.sessionize_ok(&work, &["run", "--input", "first", "--output", &output]);
    let before: Vec<(String, Vec<u8>)> = s3
        .objects(&format!("{prefix}/out"))
        .into_iter()
        .filter(|(k, _)| !k.starts_with("_runs/") && k != "_lock")
        .collect();

    let relay = Relay::start(&s3.endpoint);
    let endpoint = format!("http://127.0.0.1:{}", relay.port);
    let child = Command::new(env!("CARGO_BIN_EXE_sessionize"))
        .args(["run", "--input", "second", "--output", &output])
        .current_dir(work.path(""))
        .env("AWS_ACCESS_KEY_ID", &s3.key)
        .env("AWS_SECRET_ACCESS_KEY", &s3.secret)
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_REGION", "us-east-1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // let it take the lock and start writing, then the server goes away
    std::thread::sleep(std::time::Duration::from_millis(700));
    relay.cut();
    let output_of_child = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output_of_child.stderr);
    assert_eq!(output_of_child.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&s3.bucket) || stderr.contains(&endpoint),
        "names where: {stderr}"
    );

    // every table and partition is as the first run left it
    let after: Vec<(String, Vec<u8>)> = s3
        .objects(&format!("{prefix}/out"))
        .into_iter()
        .filter(|(k, _)| !k.starts_with("_runs/") && k != "_lock" && !k.starts_with("_staging/"))
        .collect();
    assert_eq!(after.len(), before.len());
    assert!(after == before, "the previous output changed");

    // the failed run could not delete its lock from a server it could not reach; an
    // operator removes it (or the next run takes it over once stale), and the next run
    // cleans up the staging and succeeds
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(
            s3.store()
                .delete(&ObjectPath::from(format!("{prefix}/out/_lock"))),
        )
        .unwrap();
    s3.sessionize_ok(&work, &["run", "--input", "second", "--output", &output]);
    s3.download(&format!("{prefix}/out"), &work.path("after"));
    work.sessionize_ok(&["run", "--input", "second", "--output", "second-local"]);
    assert_eq!(
        all_rows(&work.path("after")),
        all_rows(&work.path("second-local"))
    );
    assert!(
        !s3.objects(&format!("{prefix}/out"))
            .iter()
            .any(|(k, _)| k.starts_with("_staging/"))
    );
}
