//! Device, browser and OS from the user agent, and bots kept apart: uap-core's own
//! conformance cases (tests/fixtures/uap-core) run through the binary, and hand-labelled user
//! agents for the device class, the data's own device winning, and `include_bots`.

use std::collections::BTreeMap;

use crate::common::*;

#[derive(serde::Deserialize)]
struct Cases {
    test_cases: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    user_agent_string: String,
    family: String,
}

/// One user per user agent, one page view each; the sessions and bot sessions by user agent.
fn run_user_agents(
    work: &Work,
    user_agents: &[&str],
    devices: Option<Vec<Option<&str>>>,
    config: &str,
) -> BTreeMap<String, BTreeMap<String, Value>> {
    let n = user_agents.len();
    let users: Vec<String> = (0..n).map(|i| format!("u{i:05}")).collect();
    let user_refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let t = at("2026-03-02 10:00:00");
    let mut columns = vec![
        ("user_id", texts(&user_refs)),
        ("event_time", utc_micros(&vec![Some(t); n])),
        ("user_agent", texts(user_agents)),
    ];
    if let Some(devices) = devices {
        columns.push(("device", strings(&devices)));
    }
    work.write_parquet("in/events.parquet", columns);
    work.write("cfg.toml", config);
    work.sessionize_ok(&[
        "run", "--input", "in", "--output", "out", "--config", "cfg.toml",
    ]);
    let mut by_user = BTreeMap::new();
    for table in ["sessions", "bot_sessions"] {
        for row in read_table(&work.path("out"), table) {
            by_user.insert(row["user_id"].text().unwrap().to_string(), row);
        }
    }
    assert_eq!(
        by_user.len(),
        n,
        "every user agent's session is in one table"
    );
    by_user
        .into_values()
        .zip(user_agents)
        .map(|(row, ua)| (ua.to_string(), row))
        .collect()
}

fn fixture(name: &str) -> Vec<Case> {
    let text = repo_text(&format!("tests/fixtures/uap-core/{name}"));
    let cases: Cases = serde_yaml::from_str(&text).unwrap();
    cases.test_cases
}

/// uap-core's browser and OS families for its own test user agents: every case.
#[test]
fn uap_core_conformance_cases() {
    for (file, column) in [("test_ua.yaml", "browser"), ("test_os.yaml", "os")] {
        let cases = fixture(file);
        let mut expected: BTreeMap<&str, &str> = BTreeMap::new();
        for case in &cases {
            // a user agent listed twice with two answers cannot be one row of ours
            if let Some(other) = expected.insert(&case.user_agent_string, &case.family) {
                assert_eq!(other, case.family, "{file}: {:?}", case.user_agent_string);
            }
        }
        let user_agents: Vec<&str> = expected.keys().copied().collect();
        let work = Work::new();
        let rows = run_user_agents(
            &work,
            &user_agents,
            None,
            "[sessions]\ninclude_bots = true\n",
        );
        let wrong: Vec<String> = expected
            .iter()
            .filter(|(ua, family)| rows[**ua][column].text() != Some(**family))
            .map(|(ua, family)| format!("{ua:?}: expected {family:?}, got {:?}", rows[*ua][column]))
            .collect();
        assert!(
            wrong.is_empty(),
            "{file}: {} of {} cases differ:\n{}",
            wrong.len(),
            cases.len(),
            wrong.join("\n")
        );
        assert_rows_accounted(&work.path("out"), &newest_report(&work.path("out")));
    }
}

const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
const BINGBOT: &str = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
const IPAD: &str = "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1";
const WINDOWS_CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const MAC_FIREFOX: &str =
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0";
const ANDROID_PHONE: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36";
const ANDROID_TABLET: &str = "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const UBUNTU_FIREFOX: &str =
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";

#[test]
fn device_class_from_the_user_agent_and_bots_kept_apart() {
    let user_agents = [
        GOOGLEBOT,
        BINGBOT,
        IPHONE,
        IPAD,
        WINDOWS_CHROME,
        MAC_FIREFOX,
        ANDROID_PHONE,
        ANDROID_TABLET,
        UBUNTU_FIREFOX,
        WINDOWS_CHROME,
    ];
    // the data's own device wins; NULL or absent is filled in from the user agent
    let devices = vec![
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        Some("tv"),
    ];
    let work = Work::new();
    let n = user_agents.len();
    let users: Vec<String> = (0..n).map(|i| format!("u{i}")).collect();
    let user_refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let t = at("2026-03-02 10:00:00");
    // two page views each, a bot's included
    work.write_parquet(
        "in/events.parquet",
        vec![
            ("user_id", texts(&twice(&user_refs))),
            (
                "event_time",
                utc_micros(
                    &(0..2 * n)
                        .map(|i| Some(t + (i % 2) as i64 * SECOND))
                        .collect::<Vec<_>>(),
                ),
            ),
            ("user_agent", texts(&twice(&user_agents))),
            (
                "device",
                strings(&devices.iter().flat_map(|d| [*d, *d]).collect::<Vec<_>>()),
            ),
            ("country", texts(&vec!["FR"; 2 * n])),
        ],
    );
    let outcome = work.sessionize_ok(&["run", "--input", "in", "--output", "out"]);
    let sessions = session_rows(&work.path("out"));
    let bots = read_table(&work.path("out"), "bot_sessions");
    let expected = [
        ("u2", "mobile", "Mobile Safari", "iOS"),
        ("u3", "tablet", "Mobile Safari", "iOS"),
        ("u4", "desktop", "Chrome", "Windows"),
        ("u5", "desktop", "Firefox", "Mac OS X"),
        ("u6", "mobile", "Chrome Mobile", "Android"),
        ("u7", "tablet", "Chrome", "Android"),
        ("u8", "desktop", "Firefox", "Ubuntu"),
        ("u9", "tv", "Chrome", "Windows"),
    ];
    assert_eq!(sessions.len(), expected.len(), "bots are not in sessions");
    for ((user, device, browser, os), row) in expected.iter().zip(&sessions) {
        assert_eq!(
            (
                row["user_id"].text(),
                row["device"].text(),
                row["browser"].text(),
                row["os"].text(),
                row["is_bot"].bool()
            ),
            (Some(*user), Some(*device), Some(*browser), Some(*os), false)
        );
    }
    let mut bot_users: Vec<&str> = bots.iter().map(|r| r["user_id"].text().unwrap()).collect();
    bot_users.sort();
    assert_eq!(bot_users, ["u0", "u1"]);
    assert!(
        bots.iter()
            .all(|r| r["device"].text() == Some("bot") && r["is_bot"].bool())
    );

    // counted: in the summary, the report and data_quality; not in the metrics
    assert_eq!(outcome.count("bot sessions"), 2);
    let report = newest_report(&work.path("out"));
    assert_eq!(count_of(&report, "bot_sessions"), 2);
    assert_eq!(count_of(&report, "bot_events"), 4);
    assert_rows_accounted(&work.path("out"), &report);
    let quality = read_table(&work.path("out"), "data_quality");
    assert_eq!(quality[0]["bot_sessions"].int(), 2);
    assert_eq!(quality[0]["bot_events"].int(), 4);
    assert_eq!(quality[0]["sessions"].int(), 8);
    let daily = read_table(&work.path("out"), "metrics_daily");
    assert_eq!(daily[0]["sessions"].int(), 8);
    let by_device: BTreeMap<String, i64> = read_table(&work.path("out"), "metrics_by_device")
        .iter()
        .map(|r| (r["device"].text().unwrap().to_string(), r["sessions"].int()))
        .collect();
    assert_eq!(
        by_device,
        BTreeMap::from([
            ("desktop".to_string(), 3),
            ("mobile".to_string(), 2),
            ("tablet".to_string(), 2),
            ("tv".to_string(), 1)
        ])
    );

    // include_bots keeps them in sessions and the metrics; bot_sessions is then empty
    let work = Work::new();
    let rows = run_user_agents(
        &work,
        &[GOOGLEBOT, IPHONE],
        None,
        "[sessions]\ninclude_bots = true\n",
    );
    assert!(rows[GOOGLEBOT]["is_bot"].bool());
    assert_eq!(rows[GOOGLEBOT]["device"].text(), Some("bot"));
    assert_eq!(read_table(&work.path("out"), "sessions").len(), 2);
    assert!(read_table(&work.path("out"), "bot_sessions").is_empty());
    let daily = read_table(&work.path("out"), "metrics_daily");
    assert_eq!(daily[0]["sessions"].int(), 2);
}

/// The exit pages count a bot's page views and exits only under `include_bots`, as every
/// other metric does. Worked out by hand: the bot views /c then /a, the person /a then /c;
/// a page is listed where some session ended on it.
#[test]
fn exit_pages_leave_bots_out_unless_included() {
    let t = at("2026-03-02 10:00:00");
    let exit_pages = |config: &str| {
        let work = Work::new();
        work.write_parquet(
            "in/events.parquet",
            vec![
                ("user_id", texts(&["bot", "bot", "person", "person"])),
                (
                    "event_time",
                    utc_micros(&[Some(t), Some(t + SECOND), Some(t), Some(t + SECOND)]),
                ),
                (
                    "page_url",
                    texts(&[
                        "https://shop.example/c",
                        "https://shop.example/a",
                        "https://shop.example/a",
                        "https://shop.example/c",
                    ]),
                ),
                ("user_agent", texts(&[GOOGLEBOT, GOOGLEBOT, IPHONE, IPHONE])),
            ],
        );
        work.write("cfg.toml", config);
        work.sessionize_ok(&[
            "run", "--input", "in", "--output", "out", "--config", "cfg.toml",
        ]);
        read_table(&work.path("out"), "metrics_by_exit_page")
            .iter()
            .map(|r| {
                (
                    r["exit_page"].text().unwrap().to_string(),
                    (r["exits"].int(), r["page_views"].int()),
                )
            })
            .collect::<BTreeMap<_, _>>()
    };
    // the person's session alone: it ended on /c, and viewed /c once
    assert_eq!(exit_pages(""), BTreeMap::from([("/c".to_string(), (1, 1))]));
    // both: each ended on a page the other viewed too
    assert_eq!(
        exit_pages("[sessions]\ninclude_bots = true\n"),
        BTreeMap::from([("/a".to_string(), (1, 2)), ("/c".to_string(), (1, 2))])
    );
}

/// Every value twice in a row: two events per user.
fn twice<'a>(values: &[&'a str]) -> Vec<&'a str> {
    values.iter().flat_map(|x| [*x, *x]).collect()
}
