//! Session split presets, on hand-made events: `ga4` (inactivity only, the default) and
//! `universal` (also at midnight in the reporting time zone and when an event brings another
//! campaign or source), each with both settings of the gap-equality switch.

use crate::common::*;

/// (user, time, utm_source, utm_medium, page_url, referrer)
type Event = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    Option<&'static str>,
);

const EVENTS: &[Event] = &[
    // a: across midnight, 20 minutes apart
    (
        "a",
        "2026-03-02 23:50:00",
        None,
        None,
        "https://shop.test/",
        None,
    ),
    (
        "a",
        "2026-03-03 00:10:00",
        None,
        None,
        "https://shop.test/p",
        None,
    ),
    // b: google / cpc, a page without UTM, then facebook / social mid-session
    (
        "b",
        "2026-03-02 10:00:00",
        Some("google"),
        Some("cpc"),
        "https://shop.test/",
        None,
    ),
    (
        "b",
        "2026-03-02 10:05:00",
        None,
        None,
        "https://shop.test/p",
        None,
    ),
    (
        "b",
        "2026-03-02 10:10:00",
        Some("facebook"),
        Some("social"),
        "https://shop.test/q",
        None,
    ),
    // c: the same campaign twice is one campaign
    (
        "c",
        "2026-03-02 10:00:00",
        Some("google"),
        Some("cpc"),
        "https://shop.test/",
        None,
    ),
    (
        "c",
        "2026-03-02 10:05:00",
        Some("google"),
        Some("cpc"),
        "https://shop.test/p",
        None,
    ),
    // d: direct, then arriving from a search engine, then an internal link
    (
        "d",
        "2026-03-02 10:00:00",
        None,
        None,
        "https://shop.test/",
        None,
    ),
    (
        "d",
        "2026-03-02 10:05:00",
        None,
        None,
        "https://shop.test/x",
        Some("https://www.bing.com/search?q=a"),
    ),
    (
        "d",
        "2026-03-02 10:06:00",
        None,
        None,
        "https://shop.test/y",
        Some("https://shop.test/x"),
    ),
    // e: a gap exactly equal to the timeout
    (
        "e",
        "2026-03-02 10:00:00",
        None,
        None,
        "https://shop.test/",
        None,
    ),
    (
        "e",
        "2026-03-02 10:30:00",
        None,
        None,
        "https://shop.test/p",
        None,
    ),
    // f: UTM in the landing URL's query, then another campaign's URL
    (
        "f",
        "2026-03-02 10:00:00",
        None,
        None,
        "https://shop.test/?utm_source=news&utm_medium=email",
        None,
    ),
    (
        "f",
        "2026-03-02 10:01:00",
        None,
        None,
        "https://shop.test/p",
        None,
    ),
    (
        "f",
        "2026-03-02 10:02:00",
        None,
        None,
        "https://shop.test/?utm_source=news&utm_medium=email&utm_campaign=b",
        None,
    ),
];

/// The sessions per user, as event counts in time order.
fn split(config: &str) -> Vec<(String, Vec<i64>)> {
    let work = Work::new();
    let column =
        |f: fn(&Event) -> Option<&'static str>| strings(&EVENTS.iter().map(f).collect::<Vec<_>>());
    work.write_parquet(
        "in/events.parquet",
        vec![
            ("user_id", column(|e| Some(e.0))),
            (
                "event_time",
                utc_micros(&EVENTS.iter().map(|e| Some(at(e.1))).collect::<Vec<_>>()),
            ),
            ("utm_source", column(|e| e.2)),
            ("utm_medium", column(|e| e.3)),
            ("page_url", column(|e| Some(e.4))),
            ("referrer", column(|e| e.5)),
        ],
    );
    work.write("cfg.toml", config);
    work.sessionize_ok(&[
        "run", "--input", "in", "--output", "out", "--config", "cfg.toml",
    ]);
    let mut per_user: Vec<(String, Vec<i64>)> = Vec::new();
    for session in sessions(&work.path("out")) {
        match per_user.last_mut() {
            Some((user, counts)) if *user == session.user_id => counts.push(session.events),
            _ => per_user.push((session.user_id.clone(), vec![session.events])),
        }
    }
    per_user
}

fn expect(pairs: &[(&str, &[i64])]) -> Vec<(String, Vec<i64>)> {
    pairs
        .iter()
        .map(|(u, c)| (u.to_string(), c.to_vec()))
        .collect()
}

#[test]
fn ga4_splits_on_inactivity_only() {
    let one_each = expect(&[
        ("a", &[2]),
        ("b", &[3]),
        ("c", &[2]),
        ("d", &[3]),
        ("e", &[2]),
        ("f", &[3]),
    ]);
    assert_eq!(split(""), one_each, "the default is ga4");
    assert_eq!(split("[sessions]\npreset = \"ga4\"\n"), one_each);
    assert_eq!(
        split("[sessions]\npreset = \"ga4\"\ngap_equal_to_timeout = \"new-session\"\n"),
        expect(&[
            ("a", &[2]),
            ("b", &[3]),
            ("c", &[2]),
            ("d", &[3]),
            ("e", &[1, 1]),
            ("f", &[3])
        ])
    );
}

#[test]
fn universal_also_splits_at_midnight_and_on_a_new_campaign() {
    let universal = expect(&[
        ("a", &[1, 1]),
        ("b", &[2, 1]),
        ("c", &[2]),
        ("d", &[1, 2]),
        ("e", &[2]),
        ("f", &[2, 1]),
    ]);
    assert_eq!(split("[sessions]\npreset = \"universal\"\n"), universal);
    let mut equal_gap_splits = universal.clone();
    equal_gap_splits[4].1 = vec![1, 1];
    assert_eq!(
        split("[sessions]\npreset = \"universal\"\ngap_equal_to_timeout = \"new-session\"\n"),
        equal_gap_splits
    );
    // midnight in the reporting time zone: 23:50 and 00:10 UTC are 01:50 and 02:10 in +02:00
    let shifted = split("[sessions]\npreset = \"universal\"\ntimezone = \"+02:00\"\n");
    assert_eq!(shifted[0], ("a".to_string(), vec![2]));
}

#[test]
fn an_unknown_preset_is_named() {
    let work = Work::new();
    work.write_parquet(
        "in/events.parquet",
        vec![
            ("user_id", texts(&["u"])),
            ("event_time", utc_micros(&[Some(at("2026-03-02 10:00:00"))])),
        ],
    );
    work.write("cfg.toml", "[sessions]\npreset = \"ua\"\n");
    let out = work.sessionize(&[
        "run", "--input", "in", "--output", "out", "--config", "cfg.toml",
    ]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("sessions.preset"), "{}", out.stderr);
}
