//! A deliberately simple reference sessionizer in plain Rust (no SQL, no engine): sort each
//! user's events, split on gaps over 30 minutes. Over generated data of many users it must
//! agree with the SQL pipeline session by session, and its daily sums with metrics_daily.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, TimestampMicrosecondType};

use crate::common::*;

#[derive(Debug, Clone)]
struct Event {
    event_id: String,
    user_id: Option<String>,
    time: i64,
    name: String,
    url: String,
    revenue: Option<f64>,
}

fn read_generated(dir: &Path) -> Vec<Event> {
    let mut events = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        for batch in read_parquet(&path) {
            let column = |name: &str| batch.column(batch.schema().index_of(name).unwrap()).clone();
            let ids = column("event_id");
            let users = column("user_id");
            let times = column("event_time");
            let names = column("event_name");
            let urls = column("page_url");
            let revenues = column("revenue");
            let (ids, users, names, urls) = (
                ids.as_string::<i32>(),
                users.as_string::<i32>(),
                names.as_string::<i32>(),
                urls.as_string::<i32>(),
            );
            let times = times.as_primitive::<TimestampMicrosecondType>();
            let revenues = revenues.as_primitive::<Float64Type>();
            for i in 0..batch.num_rows() {
                events.push(Event {
                    event_id: ids.value(i).to_string(),
                    user_id: (!users.is_null(i)).then(|| users.value(i).to_string()),
                    time: times.value(i),
                    name: names.value(i).to_string(),
                    url: urls.value(i).to_string(),
                    revenue: (!revenues.is_null(i)).then(|| revenues.value(i)),
                });
            }
        }
    }
    events
}

#[derive(Debug, Clone, PartialEq)]
struct RefSession {
    user_id: String,
    number: i64,
    start: i64,
    end: i64,
    events: i64,
    page_views: i64,
    landing_page: Option<String>,
    conversions: i64,
    revenue: f64,
}

fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let path = match rest.find('/') {
        Some(i) if url.contains("://") => &rest[i..],
        None if url.contains("://") => "",
        _ => rest,
    };
    let path = path.split(['?', '#']).next().unwrap();
    if path.is_empty() {
        "/".into()
    } else {
        path.into()
    }
}

fn reference_sessions(events: &[Event], timeout: i64) -> Vec<RefSession> {
    // one copy per event_id: generated duplicates are exact copies
    let mut unique: BTreeMap<&str, &Event> = BTreeMap::new();
    for e in events {
        if e.user_id.as_deref().is_none_or(|u| u.is_empty()) {
            continue;
        }
        unique.entry(&e.event_id).or_insert(e);
    }
    let mut by_user: HashMap<&str, Vec<&Event>> = HashMap::new();
    for e in unique.values() {
        by_user
            .entry(e.user_id.as_deref().unwrap())
            .or_default()
            .push(e);
    }
    let mut sessions = Vec::new();
    for (user, mut list) in by_user {
        list.sort_by(|a, b| (a.time, &a.event_id).cmp(&(b.time, &b.event_id)));
        let mut current: Option<RefSession> = None;
        let mut last_time = i64::MIN;
        for e in list {
            let starts = current.is_none() || e.time - last_time > timeout;
            if starts {
                let number = current.as_ref().map_or(1, |s| s.number + 1);
                if let Some(done) = current.take() {
                    sessions.push(done);
                }
                current = Some(RefSession {
                    user_id: user.to_string(),
                    number,
                    start: e.time,
                    end: e.time,
                    events: 0,
                    page_views: 0,
                    landing_page: None,
                    conversions: 0,
                    revenue: 0.0,
                });
            }
            let s = current.as_mut().unwrap();
            s.end = e.time;
            s.events += 1;
            if e.name == "page_view" {
                s.page_views += 1;
                if s.landing_page.is_none() {
                    s.landing_page = Some(path_of(&e.url));
                }
            }
            if e.name == "purchase" {
                s.conversions += 1;
            }
            s.revenue += e.revenue.unwrap_or(0.0);
            last_time = e.time;
        }
        sessions.extend(current);
    }
    sessions.sort_by(|a, b| (&a.user_id, a.start).cmp(&(&b.user_id, b.start)));
    sessions
}

#[derive(Default)]
struct DayTotals<'a> {
    sessions: i64,
    page_views: i64,
    revenue: f64,
    users: BTreeSet<&'a str>,
    bounces: i64,
    new_users: i64,
}

fn day_of(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string()
}

#[test]
fn the_sql_pipeline_agrees_with_a_plain_rust_sessionizer() {
    for seed in ["3", "11"] {
        let work = Work::new();
        let generated = work.sessionize_ok(&[
            "generate", "--events", "40000", "--days", "4", "--seed", seed, "--output", "events",
        ]);
        let events = read_generated(&work.path("events"));
        let outcome = work.sessionize_ok(&["run", "--input", "events", "--output", "out"]);
        let expected = reference_sessions(&events, 30 * MINUTE);
        assert!(
            expected.len() > 3_000,
            "seed {seed}: too few sessions to mean much"
        );

        let found: Vec<RefSession> = session_rows(&work.path("out"))
            .iter()
            .map(|r| RefSession {
                user_id: r["user_id"].text().unwrap().to_string(),
                number: r["session_number"].int(),
                start: r["session_start"].time(),
                end: r["session_end"].time(),
                events: r["event_count"].int(),
                page_views: r["page_view_count"].int(),
                landing_page: r["landing_page"].text().map(String::from),
                conversions: r["conversion_count"].int(),
                revenue: r["revenue"].float(),
            })
            .collect();
        assert_eq!(found.len(), expected.len(), "seed {seed}: session count");
        for (f, e) in found.iter().zip(&expected) {
            let same = f.user_id == e.user_id
                && f.number == e.number
                && f.start == e.start
                && f.end == e.end
                && f.events == e.events
                && f.page_views == e.page_views
                && f.landing_page == e.landing_page
                && f.conversions == e.conversions
                && (f.revenue - e.revenue).abs() < 1e-6;
            assert!(same, "seed {seed}: found {f:?}\nexpected {e:?}");
        }

        // the generator says how many deliveries it repeated; the rows with no user are
        // rejected, copies included, so they are not counted as duplicates
        let repeated: u64 = generated
            .stdout
            .split(": ")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let distinct_ids: BTreeSet<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(
            events.len() as u64 - distinct_ids.len() as u64,
            repeated,
            "seed {seed}"
        );
        let with_user: Vec<&Event> = events.iter().filter(|e| e.user_id.is_some()).collect();
        let distinct_with_user: BTreeSet<&str> =
            with_user.iter().map(|e| e.event_id.as_str()).collect();
        let duplicates = (with_user.len() - distinct_with_user.len()) as u64;
        assert_eq!(
            outcome.count("duplicates removed"),
            duplicates,
            "seed {seed}"
        );
        let null_users = events.iter().filter(|e| e.user_id.is_none()).count() as u64;
        assert_eq!(outcome.count("missing user_id"), null_users, "seed {seed}");
        assert_eq!(outcome.count("rows read"), events.len() as u64);

        // metrics_daily: the reference sessions summed per day they started
        let mut daily: BTreeMap<String, DayTotals> = BTreeMap::new();
        for s in &expected {
            let d = daily.entry(day_of(s.start)).or_default();
            d.sessions += 1;
            d.page_views += s.page_views;
            d.revenue += s.revenue;
            d.users.insert(&s.user_id);
            d.bounces += i64::from(s.page_views <= 1);
            d.new_users += i64::from(s.number == 1);
        }
        let metrics = read_table(&work.path("out"), "metrics_daily");
        assert_eq!(
            metrics.len(),
            daily.len(),
            "seed {seed}: one metrics row per day"
        );
        for row in &metrics {
            let d = &daily[row["dt"].text().unwrap()];
            assert_eq!(row["sessions"].int(), d.sessions);
            assert_eq!(row["page_views"].int(), d.page_views);
            assert!((row["revenue"].float() - d.revenue).abs() < 1e-6);
            assert_eq!(row["users"].int(), d.users.len() as i64);
            assert_eq!(row["bounces"].int(), d.bounces);
            assert_eq!(row["new_users"].int(), d.new_users);
            assert_eq!(
                row["bounce_rate"].float(),
                d.bounces as f64 / d.sessions as f64
            );
        }
    }
}
