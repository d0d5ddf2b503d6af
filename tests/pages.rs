//! Exit pages, countries, the engagement threshold and page normalisation, on hand-made
//! events whose metrics are counted by hand in the comments.

use std::collections::BTreeMap;

use crate::common::*;

/// p: /a /b /a (FR); q: /a /c (FR); r: /Shop/ then a click 8 s later (DE); all on one day.
fn write_events(work: &Work) {
    let t = at("2026-03-02 10:00:00");
    work.write_parquet(
        "in/events.parquet",
        vec![
            ("event_id", texts(&["1", "2", "3", "4", "5", "6", "7"])),
            ("user_id", texts(&["p", "p", "p", "q", "q", "r", "r"])),
            (
                "event_time",
                utc_micros(&[
                    Some(t),
                    Some(t + 4 * SECOND),
                    Some(t + 8 * SECOND),
                    Some(t),
                    Some(t + 20 * SECOND),
                    Some(t),
                    Some(t + 8 * SECOND),
                ]),
            ),
            (
                "event_name",
                texts(&[
                    "page_view",
                    "page_view",
                    "page_view",
                    "page_view",
                    "page_view",
                    "page_view",
                    "click",
                ]),
            ),
            (
                "page_url",
                texts(&[
                    "https://shop.test/a",
                    "https://shop.test/b?x=1",
                    "https://shop.test/a#top",
                    "/a",
                    "/c",
                    "https://shop.test/Shop/?utm_source=x",
                    "https://shop.test/Shop/",
                ]),
            ),
            (
                "country",
                texts(&["FR", "FR", "FR", "FR", "FR", "DE", "DE"]),
            ),
        ],
    );
}

fn exits(work: &Work) -> BTreeMap<String, (i64, i64, f64)> {
    read_table(&work.path("out"), "metrics_by_exit_page")
        .iter()
        .map(|r| {
            (
                r["exit_page"].text().unwrap().to_string(),
                (
                    r["exits"].int(),
                    r["page_views"].int(),
                    r["exit_rate"].float(),
                ),
            )
        })
        .collect()
}

#[test]
fn exit_pages_countries_and_the_engagement_threshold() {
    let work = Work::new();
    write_events(&work);
    work.sessionize_ok(&["run", "--input", "in", "--output", "out"]);
    // views: /a 3 (p twice, q once), /b 1, /c 1, /Shop/ 1; exits: p /a, q /c, r /Shop/
    assert_eq!(
        exits(&work),
        BTreeMap::from([
            ("/a".to_string(), (1, 3, 1.0 / 3.0)),
            ("/c".to_string(), (1, 1, 1.0)),
            ("/Shop/".to_string(), (1, 1, 1.0)),
        ])
    );
    let countries: BTreeMap<String, (i64, i64)> =
        read_table(&work.path("out"), "metrics_by_country")
            .iter()
            .map(|r| {
                (
                    r["country"].text().unwrap().to_string(),
                    (r["sessions"].int(), r["page_views"].int()),
                )
            })
            .collect();
    assert_eq!(
        countries,
        BTreeMap::from([("DE".to_string(), (1, 1)), ("FR".to_string(), (2, 5))])
    );
    // r: one page view, 8 s: not engaged at GA4's 10 s
    let rows = session_rows(&work.path("out"));
    assert_eq!(rows[2]["user_id"].text(), Some("r"));
    assert!(!rows[2]["is_engaged"].bool());

    let work = Work::new();
    write_events(&work);
    work.write("cfg.toml", "[sessions]\nengagement_threshold = \"5s\"\n");
    work.sessionize_ok(&[
        "run", "--input", "in", "--output", "out", "--config", "cfg.toml",
    ]);
    let rows = session_rows(&work.path("out"));
    assert!(
        rows[2]["is_engaged"].bool(),
        "8 s is engaged at a 5 s threshold"
    );
    let daily = read_table(&work.path("out"), "metrics_daily");
    assert_eq!(daily[0]["engaged_sessions"].int(), 3);
}

#[test]
fn pages_normalised_as_configured() {
    let work = Work::new();
    write_events(&work);
    work.write(
        "cfg.toml",
        "[landing_pages]\nstrip_trailing_slash = true\nlowercase = true\n",
    );
    work.sessionize_ok(&[
        "run", "--input", "in", "--output", "out", "--config", "cfg.toml",
    ]);
    let rows = session_rows(&work.path("out"));
    assert_eq!(rows[2]["landing_page"].text(), Some("/shop"));
    assert_eq!(rows[2]["exit_page"].text(), Some("/shop"));
    assert_eq!(
        exits(&work),
        BTreeMap::from([
            ("/a".to_string(), (1, 3, 1.0 / 3.0)),
            ("/c".to_string(), (1, 1, 1.0)),
            ("/shop".to_string(), (1, 1, 1.0)),
        ])
    );
    let mut landing: Vec<String> = read_table(&work.path("out"), "metrics_by_landing_page")
        .iter()
        .map(|r| r["landing_page"].text().unwrap().to_string())
        .collect();
    landing.sort();
    assert_eq!(landing, ["/a", "/shop"]);

    // listed query parameters stay in the page, the others go
    let work = Work::new();
    write_events(&work);
    work.write(
        "cfg.toml",
        "[landing_pages]\nstrip_trailing_slash = true\nlowercase = true\n\
         keep_query_parameters = [\"utm_source\", \"x\"]\n",
    );
    work.sessionize_ok(&[
        "run", "--input", "in", "--output", "out", "--config", "cfg.toml",
    ]);
    let rows = session_rows(&work.path("out"));
    assert_eq!(rows[2]["landing_page"].text(), Some("/shop?utm_source=x"));
    assert_eq!(rows[0]["landing_page"].text(), Some("/a"));
    assert_eq!(
        exits(&work),
        BTreeMap::from([
            ("/a".to_string(), (1, 3, 1.0 / 3.0)),
            ("/c".to_string(), (1, 1, 1.0)),
            ("/shop?utm_source=x".to_string(), (1, 1, 1.0)),
        ])
    );
    let mut views: Vec<String> = Vec::new();
    let by_landing = read_table(&work.path("out"), "metrics_by_landing_page");
    for row in &by_landing {
        views.push(row["landing_page"].text().unwrap().to_string());
    }
    views.sort();
    assert_eq!(views, ["/a", "/shop?utm_source=x"]);
}
