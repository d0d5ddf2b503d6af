//! A real tracker's export: the Snowplow example (examples/snowplow: dbt-snowplow-web's
//! integration-test events, Apache-2.0) run with its example config. The run must be clean
//! (every row accounted for, the NULL domain_userid rejected), and its sessions' devices and
//! channels must be what the events say, judged by hand from the user agents and by a small
//! independent reading of each event's marketing columns and referrer.
//!
//! The export's YAUAA context file is not used as the truth for devices: its device classes do
//! not match the events' user agents (an iPhone labelled Desktop), as test data written by hand.

use std::collections::{BTreeMap, BTreeSet};

use arrow::array::AsArray;

use crate::common::*;

fn example(file: &str) -> String {
    repo_file(&format!("examples/snowplow/{file}"))
        .display()
        .to_string()
}

/// Columns of the example's input, as text (every column of the export is text).
fn input_columns(names: &[&str]) -> Vec<Vec<Option<String>>> {
    let mut columns: Vec<Vec<Option<String>>> = vec![Vec::new(); names.len()];
    for batch in read_parquet(std::path::Path::new(&example("events.parquet"))) {
        for (i, name) in names.iter().enumerate() {
            let column = batch.column_by_name(name).unwrap().as_string::<i32>();
            columns[i].extend(column.iter().map(|v| v.map(String::from)));
        }
    }
    columns
}

/// A URL's host, lower-case, without port; "" for none.
fn host(url: &str) -> String {
    let rest = url.split_once("//").map_or("", |(_, rest)| rest);
    rest.split(['/', '?', '#', ':'])
        .next()
        .unwrap_or("")
        .to_lowercase()
}

/// The device class of each user agent of the export, labelled by hand.
fn device_of(user_agent: &str) -> &'static str {
    if user_agent.contains("iPhone") || user_agent.contains("Android") {
        "mobile"
    } else if user_agent.contains("Macintosh") || user_agent.contains("X11") {
        "desktop"
    } else {
        panic!("unlabelled user agent {user_agent}")
    }
}

/// The channel a session starting with this event would have: Google's rules, applied by
/// hand to the few values the export holds.
fn channel_of(medium: Option<&str>, referrer: Option<&str>, page_url: &str) -> &'static str {
    match medium {
        Some("display") => return "Display",
        // google-ad is not on Google's list of search engines: a paid medium alone
        Some("ppc") => return "Paid Other",
        Some(other) => panic!("unexpected mkt_medium {other}"),
        None => {}
    }
    let referrer_host = referrer.map(host).unwrap_or_default();
    if referrer_host.is_empty() || referrer_host == host(page_url) {
        "Direct"
    } else if referrer_host.starts_with("www.google.") {
        "Organic Search"
    } else {
        "Referral"
    }
}

#[test]
fn the_snowplow_example_runs_cleanly_with_sensible_sessions() {
    let work = Work::new();
    work.sessionize_ok(&[
        "run",
        "--config",
        &example("sessionize.toml"),
        "--input",
        &example("events.parquet"),
        "--output",
        "out",
    ]);
    let report = newest_report(&work.path("out"));
    assert_rows_accounted(&work.path("out"), &report);

    let columns = input_columns(&[
        "domain_userid",
        "useragent",
        "mkt_medium",
        "page_referrer",
        "page_url",
    ]);
    let null_users = columns[0].iter().filter(|u| u.is_none()).count();
    assert_eq!(null_users, 1);
    assert_eq!(rejected_of(&report).get("missing user_id"), Some(&1));

    // what each user's events allow: one device, and the channels a session could start with
    let mut devices: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    let mut channels: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for (i, user) in columns[0].iter().enumerate() {
        let Some(user) = user.clone() else {
            continue;
        };
        let user_agent = columns[1][i]
            .as_deref()
            .expect("every event has a user agent");
        devices
            .entry(user.clone())
            .or_default()
            .insert(device_of(user_agent));
        channels.entry(user).or_default().insert(channel_of(
            columns[2][i].as_deref(),
            columns[3][i].as_deref(),
            columns[4][i].as_deref().unwrap_or(""),
        ));
    }

    let sessions = session_rows(&work.path("out"));
    assert_eq!(
        sessions
            .iter()
            .map(|s| s["user_id"].text().unwrap())
            .collect::<BTreeSet<_>>()
            .len(),
        devices.len(),
        "every user with an id has sessions"
    );
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for session in &sessions {
        let user = session["user_id"].text().unwrap();
        let device = session["device"].text().unwrap();
        assert_eq!(devices[user], BTreeSet::from([device]), "device of {user}");
        let channel = session["channel"].text().unwrap();
        assert!(
            channels[user].contains(channel),
            "{user}: {channel} is not among {:?}",
            channels[user]
        );
        seen.insert(channel.to_string());
        assert!(!session["is_bot"].bool());
    }
    let all: BTreeSet<&str> = channels.values().flatten().copied().collect();
    assert_eq!(
        seen.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        all,
        "every channel the events bring is some session's"
    );
}
