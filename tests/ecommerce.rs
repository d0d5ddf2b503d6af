//! A public e-commerce clickstream (fixtures/ecommerce-clickstream, retentioneering `ecom`,
//! Apache-2.0) whose generator labelled every event with its session. Every session the job
//! finds must be exactly one labelled session: same user, same first and last event, same
//! number of events, and as many sessions as labels.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};

use crate::common::*;

struct Row {
    user_id: String,
    session_label: String,
    event: String,
    timestamp: String,
    platform: String,
}

fn load() -> Vec<Row> {
    let path = repo_file("tests/fixtures/ecommerce-clickstream/ecom.csv.gz");
    // gzip itself rather than a crate: a dev-only crate would change the features of
    // DataFusion's dependencies and make tests rebuild it
    let unzipped = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(&path)
        .output()
        .unwrap();
    assert!(unzipped.status.success(), "gzip -dc {}", path.display());
    let text = String::from_utf8(unzipped.stdout).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let index = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (user, session, event, timestamp, platform) = (
        index("user_id"),
        index("session_id"),
        index("event"),
        index("timestamp"),
        index("platform"),
    );
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            Row {
                user_id: cells[user].to_string(),
                session_label: cells[session].to_string(),
                event: cells[event].to_string(),
                timestamp: cells[timestamp].to_string(),
                platform: cells[platform].to_string(),
            }
        })
        .collect()
}

#[test]
fn every_session_found_is_one_labelled_session() {
    let rows = load();
    assert_eq!(rows.len(), 31_106);
    let work = Work::new();
    let column = |f: &dyn Fn(&Row) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
    };
    let ids: Vec<String> = (0..rows.len()).map(|i| i.to_string()).collect();
    work.write_parquet(
        "in/ecom.parquet",
        vec![
            (
                "event_id",
                Arc::new(StringArray::from_iter_values(ids.iter())) as ArrayRef,
            ),
            ("user_id", column(&|r| &r.user_id)),
            // naive ISO strings, whole seconds: read as UTC
            ("ts", column(&|r| &r.timestamp)),
            ("event", column(&|r| &r.event)),
            ("platform", column(&|r| &r.platform)),
        ],
    );
    work.write(
        "ecom.toml",
        "[columns]\nevent_time = \"ts\"\nevent_name = \"event\"\ndevice = \"platform\"\n\
         [sessions]\npage_view_events = [\"home\", \"catalog\", \"product_view\", \"cart\", \"promo_page\"]\n",
    );
    let outcome = work.sessionize_ok(&[
        "run",
        "--input",
        "in",
        "--output",
        "out",
        "--config",
        "ecom.toml",
    ]);

    // the labelled sessions: (user, first, last, events), computed from the CSV alone
    let mut labelled: BTreeMap<(String, String), (i64, i64, i64)> = BTreeMap::new();
    for row in &rows {
        let t = at(&row.timestamp);
        let entry = labelled
            .entry((row.user_id.clone(), row.session_label.clone()))
            .or_insert((t, t, 0));
        entry.0 = entry.0.min(t);
        entry.1 = entry.1.max(t);
        entry.2 += 1;
    }
    let mut expected: Vec<Session> = labelled
        .iter()
        .map(|((user, _), (start, end, events))| Session {
            user_id: user.clone(),
            start: *start,
            end: *end,
            events: *events,
        })
        .collect();
    expected.sort();

    let found = sessions(&work.path("out"));
    assert_eq!(found.len(), 3_605);
    assert_eq!(found, expected);
    assert_eq!(outcome.count("sessions"), 3_605);
    assert_eq!(outcome.count("duplicates removed"), 0);

    // and each found session holds one label's events only
    let mut by_user: HashMap<&str, Vec<(i64, &str)>> = HashMap::new();
    for row in &rows {
        by_user
            .entry(&row.user_id)
            .or_default()
            .push((at(&row.timestamp), &row.session_label));
    }
    for session in &found {
        let labels: std::collections::BTreeSet<&str> = by_user[session.user_id.as_str()]
            .iter()
            .filter(|(t, _)| *t >= session.start && *t <= session.end)
            .map(|(_, label)| *label)
            .collect();
        assert_eq!(
            labels.len(),
            1,
            "session {session:?} spans labels {labels:?}"
        );
    }

    // device comes from the mapped platform column
    let devices: std::collections::BTreeSet<String> = session_rows(&work.path("out"))
        .iter()
        .map(|r| r["device"].text().unwrap().to_string())
        .collect();
    assert_eq!(
        devices,
        ["desktop", "mobile", "tablet"]
            .map(String::from)
            .into_iter()
            .collect()
    );
}
