//! Sessions computed by hand: the gap rule at its edges, ties, order, users, midnight,
//! page views and attribution. Duplicates and rows that cannot be sessionized are in
//! `bad_input.rs`.

use crate::common::*;

/// The times of [`gap_edges`]: user a at t0..t3, user b at b0, b1.
struct Edges {
    t: [i64; 4],
    b: [i64; 2],
}

/// user a: gaps of 30 min − 1 µs (same session), exactly 30 min (same by default, new with
/// `new-session`), and 30 min + 1 µs (new); user b: a gap of 1800.4 s, which rounding to whole
/// seconds would wrongly call "exactly 30 minutes".
fn gap_edges(work: &Work) -> Edges {
    let t0 = at("2026-11-01 10:00:00");
    let t1 = t0 + 30 * MINUTE - 1;
    let t2 = t1 + 30 * MINUTE;
    let t3 = t2 + 30 * MINUTE + 1;
    let b0 = at("2026-11-01 12:00:00");
    let b1 = b0 + 1_800_400_000;
    work.write_parquet(
        "in/events.parquet",
        vec![
            ("event_id", texts(&["a0", "a1", "a2", "a3", "b0", "b1"])),
            ("user_id", texts(&["a", "a", "a", "a", "b", "b"])),
            (
                "event_time",
                utc_micros(&[Some(t0), Some(t1), Some(t2), Some(t3), Some(b0), Some(b1)]),
            ),
        ],
    );
    Edges {
        t: [t0, t1, t2, t3],
        b: [b0, b1],
    }
}

fn session(user: &str, start: i64, end: i64, events: i64) -> Session {
    Session {
        user_id: user.into(),
        start,
        end,
        events,
    }
}

#[test]
fn a_gap_equal_to_the_timeout_stays_in_the_session_by_default() {
    let work = Work::new();
    let Edges { t, b } = gap_edges(&work);
    work.sessionize_ok(&["run", "--input", "in", "--output", "out"]);
    assert_eq!(
        sessions(&work.path("out")),
        vec![
            session("a", t[0], t[2], 3),
            session("a", t[3], t[3], 1),
            session("b", b[0], b[0], 1),
            session("b", b[1], b[1], 1),
        ]
    );
}

#[test]
fn a_gap_equal_to_the_timeout_starts_a_session_with_new_session() {
    let work = Work::new();
    let Edges { t, b } = gap_edges(&work);
    work.write(
        "cfg.toml",
        "[sessions]\ngap_equal_to_timeout = \"new-session\"\n",
    );
    work.sessionize_ok(&[
        "run", "--input", "in", "--output", "out", "--config", "cfg.toml",
    ]);
    assert_eq!(
        sessions(&work.path("out")),
        vec![
            session("a", t[0], t[1], 2),
            session("a", t[2], t[2], 1),
            session("a", t[3], t[3], 1),
            session("b", b[0], b[0], 1),
            session("b", b[1], b[1], 1),
        ]
    );
}

#[test]
fn the_timeout_flag_overrides_the_config_file() {
    let work = Work::new();
    gap_edges(&work);
    work.write("cfg.toml", "[sessions]\ntimeout = \"5m\"\n");
    // with 31 minutes every gap above is inside the timeout: one session per user
    work.sessionize_ok(&[
        "run",
        "--input",
        "in",
        "--output",
        "out",
        "--config",
        "cfg.toml",
        "--timeout",
        "31m",
    ]);
    let found = sessions(&work.path("out"));
    assert_eq!(
        found.iter().map(|s| s.events).collect::<Vec<_>>(),
        vec![4, 2]
    );
}

/// Three events in the same microsecond: the order is (event_time, event_id), so the landing
/// page is c1's and the exit page c3's, whatever order the rows arrive in.
#[test]
fn ties_in_time_are_ordered_by_event_id() {
    let work = Work::new();
    let t = at("2026-11-01 09:00:00");
    work.write_parquet(
        "in/events.parquet",
        vec![
            ("event_id", texts(&["c3", "c1", "c2"])),
            ("user_id", texts(&["c", "c", "c"])),
            ("event_time", utc_micros(&[Some(t), Some(t), Some(t)])),
            (
                "event_name",
                texts(&["page_view", "page_view", "page_view"]),
            ),
            (
                "page_url",
                texts(&["https://x.test/three", "https://x.test/one?q=1", "/two"]),
            ),
        ],
    );
    work.sessionize_ok(&["run", "--input", "in", "--output", "out"]);
    let rows = session_rows(&work.path("out"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["landing_page"].text(), Some("/one"));
    assert_eq!(rows[0]["exit_page"].text(), Some("/three"));
    assert_eq!(rows[0]["page_view_count"].int(), 3);
    assert_eq!(rows[0]["duration_s"].float(), 0.0);
}

/// A session_id is the MD5, in hex, of the user, a unit separator (0x1f) and the session's
/// start in microseconds since the epoch: a contract (a day rewritten by a later run keeps
/// its ids, and users join on them), so checked against `md5sum` rather than any code of
/// ours. The start is 20:00:00.5 UTC, 05:00 of the next day in Tokyo, the reporting zone
/// here: the zone moves the dt, not the instant digested.
#[test]
fn a_session_id_is_the_md5_of_user_and_start() {
    use std::io::Write;
    let work = Work::new();
    let start = at("2026-11-01 20:00:00.5");
    work.write_parquet(
        "in/events.parquet",
        vec![
            ("event_id", texts(&["e1", "e2"])),
            ("user_id", texts(&["zoë", "zoë"])),
            (
                "event_time",
                utc_micros(&[Some(start), Some(start + MINUTE)]),
            ),
        ],
    );
    work.write("cfg.toml", "[sessions]\ntimezone = \"Asia/Tokyo\"\n");
    work.sessionize_ok(&[
        "run", "--config", "cfg.toml", "--input", "in", "--output", "out",
    ]);
    let mut md5sum = std::process::Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("md5sum");
    let message = format!("zoë\u{1f}{start}");
    md5sum
        .stdin
        .take()
        .unwrap()
        .write_all(message.as_bytes())
        .unwrap();
    let output = md5sum.wait_with_output().unwrap();
    let digest = String::from_utf8(output.stdout).unwrap();
    let digest = digest.split_whitespace().next().unwrap();
    assert_eq!(digest.len(), 32);
    let rows = session_rows(&work.path("out"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["session_id"].text(), Some(digest));
    assert_eq!(rows[0]["dt"].text(), Some("2026-11-02"));
}

/// One user's events spread over three files (two in a dt= folder), in no order.
#[test]
fn unsorted_input_across_files_gives_the_same_sessions() {
    let work = Work::new();
    let t = at("2026-11-02 08:00:00");
    let times = [0, 10, 50, 55, 100, 129, 170].map(|m| t + m * MINUTE);
    // sessions: [0,10] [50,55] [100,129] [170]
    work.write_parquet(
        "in/dt=2026-11-02/part-2.parquet",
        vec![
            ("event_id", texts(&["e6", "e2"])),
            ("user_id", texts(&["d", "d"])),
            ("event_time", utc_micros(&[Some(times[6]), Some(times[2])])),
        ],
    );
    work.write_parquet(
        "in/dt=2026-11-02/part-1.parquet",
        vec![
            ("event_id", texts(&["e4", "e0", "e5"])),
            ("user_id", texts(&["d", "d", "d"])),
            (
                "event_time",
                utc_micros(&[Some(times[4]), Some(times[0]), Some(times[5])]),
            ),
        ],
    );
    work.write_parquet(
        "in/late.parquet",
        vec![
            ("event_id", texts(&["e3", "e1"])),
            ("user_id", texts(&["d", "d"])),
            ("event_time", utc_micros(&[Some(times[3]), Some(times[1])])),
        ],
    );
    work.sessionize_ok(&["run", "--input", "in", "--output", "out"]);
    let expected = |a: usize, b: usize, n: i64| Session {
        user_id: "d".into(),
        start: times[a],
        end: times[b],
        events: n,
    };
    assert_eq!(
        sessions(&work.path("out")),
        vec![
            expected(0, 1, 2),
            expected(2, 3, 2),
            expected(4, 5, 2),
            expected(6, 6, 1)
        ]
    );
    let rows = session_rows(&work.path("out"));
    assert_eq!(
        rows.iter()
            .map(|r| r["session_number"].int())
            .collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(
        rows.iter()
            .map(|r| r["is_new_user"].bool())
            .collect::<Vec<_>>(),
        vec![true, false, false, false]
    );
}

/// Two users whose events interleave: merged they would make one session, apart they
/// make three.
#[test]
fn interleaved_users_do_not_affect_each_other() {
    let work = Work::new();
    let t = at("2026-11-03 18:00:00");
    work.write_parquet(
        "in/events.parquet",
        vec![
            ("event_id", texts(&["1", "2", "3", "4"])),
            ("user_id", texts(&["e", "f", "f", "e"])),
            (
                "event_time",
                utc_micros(&[
                    Some(t),
                    Some(t + 20 * MINUTE),
                    Some(t + 40 * MINUTE),
                    Some(t + 45 * MINUTE),
                ]),
            ),
        ],
    );
    work.sessionize_ok(&["run", "--input", "in", "--output", "out"]);
    assert_eq!(
        sessions(&work.path("out")),
        vec![
            Session {
                user_id: "e".into(),
                start: t,
                end: t,
                events: 1
            },
            Session {
                user_id: "e".into(),
                start: t + 45 * MINUTE,
                end: t + 45 * MINUTE,
                events: 1
            },
            Session {
                user_id: "f".into(),
                start: t + 20 * MINUTE,
                end: t + 40 * MINUTE,
                events: 2
            },
        ]
    );
}

/// 23:50 → 00:10 is one session of 20 minutes, on the day it started; in a reporting time
/// zone an hour ahead, the same session starts at 00:50 local and belongs to the next day.
#[test]
fn a_session_across_midnight_is_one_session_on_the_day_it_started() {
    let work = Work::new();
    let t = at("2026-11-04 23:50:00");
    work.write_parquet(
        "in/events.parquet",
        vec![
            ("event_id", texts(&["g1", "g2"])),
            ("user_id", texts(&["g", "g"])),
            ("event_time", utc_micros(&[Some(t), Some(t + 20 * MINUTE)])),
        ],
    );
    work.sessionize_ok(&["run", "--input", "in", "--output", "out"]);
    let rows = session_rows(&work.path("out"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["dt"].text(), Some("2026-11-04"));
    assert_eq!(rows[0]["duration_s"].float(), 1200.0);
    assert_eq!(rows[0]["session_start"].time(), t);

    work.write("paris.toml", "[sessions]\ntimezone = \"Europe/Paris\"\n");
    work.sessionize_ok(&[
        "run",
        "--input",
        "in",
        "--output",
        "out-paris",
        "--config",
        "paris.toml",
    ]);
    let rows = session_rows(&work.path("out-paris"));
    assert_eq!(rows[0]["dt"].text(), Some("2026-11-05"));
    // timestamps still leave as UTC
    assert_eq!(rows[0]["session_start"].time(), t);
}

/// Without an event_name column every event is a page view; with one, only the configured
/// names are, and conversions are counted by name.
#[test]
fn event_lists_match_whole_names_and_may_be_empty() {
    let work = Work::new();
    let t = at("2026-11-06 10:00:00");
    work.write_parquet(
        "in/events.parquet",
        vec![
            ("event_id", texts(&["1", "2", "3", "4"])),
            ("user_id", texts(&["p", "p", "p", "p"])),
            (
                "event_time",
                utc_micros(&[
                    Some(t),
                    Some(t + SECOND),
                    Some(t + 2 * SECOND),
                    Some(t + 3 * SECOND),
                ]),
            ),
            // a name that merely starts with a listed one, one with a comma, and no name
            (
                "event_name",
                strings(&[Some("view"), Some("view_2"), Some("a,b"), None]),
            ),
            ("page_url", texts(&["/a", "/b", "/c", "/d"])),
        ],
    );
    work.write(
        "lists.toml",
        "[sessions]\npage_view_events = [\"view\", \"a,b\"]\nconversion_events = [\"a\"]\n",
    );
    work.sessionize_ok(&[
        "run",
        "--input",
        "in",
        "--output",
        "out",
        "--config",
        "lists.toml",
    ]);
    let rows = session_rows(&work.path("out"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["page_view_count"].int(), 2);
    assert_eq!(rows[0]["exit_page"].text(), Some("/c"));
    assert_eq!(rows[0]["conversion_count"].int(), 0);

    work.write(
        "empty.toml",
        "[sessions]\npage_view_events = []\nconversion_events = []\n",
    );
    work.sessionize_ok(&[
        "run",
        "--input",
        "in",
        "--output",
        "out2",
        "--config",
        "empty.toml",
    ]);
    let rows = session_rows(&work.path("out2"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["event_count"].int(), 4);
    assert_eq!(rows[0]["page_view_count"].int(), 0);
    assert_eq!(rows[0]["landing_page"].text(), None);
    assert_eq!(rows[0]["conversion_count"].int(), 0);
}

#[test]
fn page_views_conversions_and_attribution() {
    let work = Work::new();
    let t = at("2026-11-06 10:00:00");
    work.write_parquet(
        "in/events.parquet",
        vec![
            ("event_id", texts(&["1", "2", "3", "4", "5", "6"])),
            ("user_id", texts(&["p", "p", "p", "q", "r", "r"])),
            ("event_time", utc_micros(&[Some(t), Some(t + SECOND), Some(t + 2 * SECOND), Some(t), Some(t), Some(t + 5 * SECOND)])),
            ("event_name", texts(&["page_view", "click", "order", "page_view", "screen", "page_view"])),
            ("page_url", strings(&[
                Some("https://shop.test/sale/?utm_source=newsletter&utm_medium=email&utm_campaign=nov#top"),
                Some("https://shop.test/sale/"),
                Some("https://shop.test/thanks"),
                Some("https://shop.test"),
                Some("https://shop.test/app"),
                Some("/about?x=1"),
            ])),
            ("referrer", strings(&[None, None, None, Some("https://www.Google.com/search?q=a"), Some("https://shop.test/"), Some("https://shop.test/")])),
            ("revenue", floats(&[None, None, Some(20.0), None, None, None])),
        ],
    );
    work.write("cfg.toml", "[sessions]\nconversion_events = [\"order\"]\n");
    work.sessionize_ok(&[
        "run", "--input", "in", "--output", "out", "--config", "cfg.toml",
    ]);
    let rows = session_rows(&work.path("out"));
    let p = &rows[0];
    assert_eq!(p["page_view_count"].int(), 1);
    assert_eq!(p["landing_page"].text(), Some("/sale/"));
    assert_eq!(p["exit_page"].text(), Some("/sale/"));
    assert_eq!(
        (p["source"].text(), p["medium"].text(), p["campaign"].text()),
        (Some("newsletter"), Some("email"), Some("nov"))
    );
    assert_eq!(p["conversion_count"].int(), 1);
    assert_eq!(p["revenue"].float(), 20.0);
    assert!(p["is_bounce"].bool());
    assert!(
        p["is_engaged"].bool(),
        "a conversion makes a session engaged"
    );
    let q = &rows[1];
    assert_eq!(q["landing_page"].text(), Some("/"));
    // a search engine's page as referrer is organic search, named as GA4 names it
    assert_eq!(
        (q["source"].text(), q["medium"].text(), q["campaign"].text()),
        (Some("google"), Some("organic"), Some("(organic)"))
    );
    assert_eq!(q["channel"].text(), Some("Organic Search"));
    assert_eq!(p["channel"].text(), Some("Email"));
    assert!(!q["is_engaged"].bool());
    let r = &rows[2];
    // an internal referrer is not a source: direct
    assert_eq!(
        (r["source"].text(), r["medium"].text()),
        (Some("(direct)"), Some("(none)"))
    );
    assert_eq!(r["landing_page"].text(), Some("/about"));
    assert_eq!(r["page_view_count"].int(), 1);
    assert_eq!(r["duration_s"].float(), 5.0);

    // the same file without event_name: every event is a page view
    let work = Work::new();
    work.write_parquet(
        "in/events.parquet",
        vec![
            ("user_id", texts(&["p", "p"])),
            ("event_time", utc_micros(&[Some(t), Some(t + 12 * SECOND)])),
            ("page_url", texts(&["/a", "/b"])),
        ],
    );
    work.sessionize_ok(&["run", "--input", "in", "--output", "out"]);
    let rows = session_rows(&work.path("out"));
    assert_eq!(rows[0]["page_view_count"].int(), 2);
    assert_eq!(rows[0]["exit_page"].text(), Some("/b"));
    assert!(!rows[0]["is_bounce"].bool());
    assert!(rows[0]["is_engaged"].bool());
}
