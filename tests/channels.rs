//! Channel grouping: dbt-ga4's 30 (source, medium, campaign) → GA4 default channel group
//! cases, one assertion per row (tests/fixtures/channel-grouping, MIT), and hand-made cases
//! for what real UTM data looks like: case and spaces, aliases, search-engine referrers,
//! click ids, the user's own rules and category list.

use crate::common::*;

/// One user per case, one page view each, the case's values as UTM columns (an empty value
/// is a missing one, as in the source test).
fn run_cases(work: &Work, cases: &[[&str; 3]], config: Option<&str>) -> Vec<String> {
    let n = cases.len();
    let users: Vec<String> = (0..n).map(|i| format!("u{i:03}")).collect();
    let user_refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let value = |column: usize| -> Vec<Option<&str>> {
        cases
            .iter()
            .map(|case| Some(case[column]).filter(|v| !v.is_empty()))
            .collect()
    };
    let t = at("2026-03-02 10:00:00");
    work.write_parquet(
        "in/events.parquet",
        vec![
            ("user_id", texts(&user_refs)),
            ("event_time", utc_micros(&vec![Some(t); n])),
            ("page_url", texts(&vec!["https://shop.test/"; n])),
            ("utm_source", strings(&value(0))),
            ("utm_medium", strings(&value(1))),
            ("utm_campaign", strings(&value(2))),
        ],
    );
    let mut args = vec!["run", "--input", "in", "--output", "out"];
    if let Some(config) = config {
        work.write("cfg.toml", config);
        args.extend(["--config", "cfg.toml"]);
    }
    work.sessionize_ok(&args);
    let rows = session_rows(&work.path("out"));
    assert_eq!(rows.len(), n, "one session per case");
    rows.iter()
        .map(|r| r["channel"].text().unwrap().to_string())
        .collect()
}

#[test]
fn dbt_ga4_default_channel_grouping_cases() {
    let text = repo_text("tests/fixtures/channel-grouping/channel_grouping_cases.csv");
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|line| line.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 30);
    let cases: Vec<[&str; 3]> = rows.iter().map(|r| [r[0], r[1], r[2]]).collect();
    let work = Work::new();
    let channels = run_cases(&work, &cases, None);
    for (i, (row, channel)) in rows.iter().zip(&channels).enumerate() {
        let line = i + 2;
        if row[0] == "alibaba" && row[1].is_empty() {
            // The source list says "Paid Shopping", but Paid Shopping needs a paid medium
            // (^(.*cp.*|ppc|retargeting|paid.*)$) and this row has none: by Google's rules it
            // is Organic Shopping. The dbt-ga4 test compared sets, so the row was never
            // checked there (see the fixture's README).
            assert_eq!(
                row[3], "Paid Shopping",
                "the fixture's known wrong row moved"
            );
            assert_eq!(
                channel, "Organic Shopping",
                "line {line} {row:?}: by the rule, not the fixture's wrong label"
            );
        } else {
            assert_eq!(channel, row[3], "line {line} of the cases: {row:?}");
        }
    }
}

/// (utm_source, utm_medium, page_url, referrer, source, medium, channel)
type NormalisationCase = (
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static str,
    &'static str,
);

#[test]
fn real_utm_data_is_normalised() {
    let work = Work::new();
    let t = at("2026-03-02 10:00:00");
    // (utm_source, utm_medium, page_url, referrer) → (source, medium, channel), by hand
    let cases: &[NormalisationCase] = &[
        (
            Some(" Facebook "),
            Some("CPC"),
            "/",
            None,
            "facebook",
            "cpc",
            "Paid Social",
        ),
        (
            Some("fb"),
            Some("paid_social"),
            "/",
            None,
            "facebook",
            "paid_social",
            "Paid Social",
        ),
        (
            Some("m.facebook.com"),
            Some("social"),
            "/",
            None,
            "facebook",
            "social",
            "Organic Social",
        ),
        (
            None,
            None,
            "/",
            Some("https://m.facebook.com/"),
            "facebook",
            "referral",
            "Organic Social",
        ),
        (
            None,
            None,
            "/",
            Some("https://www.bing.com/search?q=x"),
            "bing",
            "organic",
            "Organic Search",
        ),
        (
            None,
            None,
            "/",
            Some("https://www.google.co.uk/"),
            "google",
            "organic",
            "Organic Search",
        ),
        (
            None,
            None,
            "/",
            Some("https://duckduckgo.com/"),
            "duckduckgo",
            "organic",
            "Organic Search",
        ),
        (
            None,
            None,
            "/?gclid=abc",
            None,
            "google",
            "cpc",
            "Paid Search",
        ),
        (
            None,
            None,
            "/p?x=1&msclkid=abc",
            Some("https://www.bing.com/"),
            "bing",
            "cpc",
            "Paid Search",
        ),
        (
            None,
            None,
            "/?fbclid=abc",
            None,
            "facebook",
            "referral",
            "Organic Social",
        ),
        // every click id of Google's: the three the gclid case does not cover
        (
            None,
            None,
            "/?gbraid=abc",
            None,
            "google",
            "cpc",
            "Paid Search",
        ),
        (
            None,
            None,
            "/p?x=1&wbraid=abc",
            None,
            "google",
            "cpc",
            "Paid Search",
        ),
        (
            None,
            None,
            "/?dclid=abc",
            None,
            "google",
            "cpc",
            "Paid Search",
        ),
        // an `id=` that is no click id: direct
        (
            None,
            None,
            "/item?id=7&sid=2",
            None,
            "(direct)",
            "(none)",
            "Direct",
        ),
        // UTM wins over a click id
        (
            Some("newsletter"),
            Some("email"),
            "/?gclid=abc",
            None,
            "newsletter",
            "email",
            "Email",
        ),
        (
            None,
            None,
            "/",
            Some("https://blog.example.org/post"),
            "blog.example.org",
            "referral",
            "Referral",
        ),
        (None, None, "/", None, "(direct)", "(none)", "Direct"),
    ];
    let n = cases.len();
    let users: Vec<String> = (0..n).map(|i| format!("u{i:03}")).collect();
    let user_refs: Vec<&str> = users.iter().map(String::as_str).collect();
    work.write_parquet(
        "in/events.parquet",
        vec![
            ("user_id", texts(&user_refs)),
            ("event_time", utc_micros(&vec![Some(t); n])),
            (
                "page_url",
                texts(&cases.iter().map(|c| c.2).collect::<Vec<_>>()),
            ),
            (
                "referrer",
                strings(&cases.iter().map(|c| c.3).collect::<Vec<_>>()),
            ),
            (
                "utm_source",
                strings(&cases.iter().map(|c| c.0).collect::<Vec<_>>()),
            ),
            (
                "utm_medium",
                strings(&cases.iter().map(|c| c.1).collect::<Vec<_>>()),
            ),
        ],
    );
    work.sessionize_ok(&["run", "--input", "in", "--output", "out"]);
    let rows = session_rows(&work.path("out"));
    for (case, row) in cases.iter().zip(&rows) {
        assert_eq!(
            (
                row["source"].text(),
                row["medium"].text(),
                row["channel"].text()
            ),
            (Some(case.4), Some(case.5), Some(case.6)),
            "{case:?}"
        );
    }
    // the channel is a dimension of metrics_by_source
    let by_source = read_table(&work.path("out"), "metrics_by_source");
    let facebook_cpc = by_source
        .iter()
        .find(|r| r["source"].text() == Some("facebook") && r["medium"].text() == Some("cpc"))
        .expect("facebook / cpc");
    assert_eq!(facebook_cpc["channel"].text(), Some("Paid Social"));
    assert_eq!(facebook_cpc["sessions"].int(), 1);
}

#[test]
fn the_users_rules_come_first_and_its_category_list_replaces_googles() {
    let work = Work::new();
    work.write(
        "categories.csv",
        "source,source_category\nexample-search,SOURCE_CATEGORY_SEARCH\n",
    );
    let cases = [
        ["mailchimp", "newsletter", ""],
        ["partner", "cpc", "spring"],
        ["example-search", "organic", ""],
        ["google", "cpc", ""],
        ["bing", "", ""],
    ];
    let channels = run_cases(
        &work,
        &cases,
        Some(
            "[channels]\nsource_categories = \"categories.csv\"\n\n\
             [[channels.rules]]\nmedium = \"newsletter\"\nchannel = \"Email\"\n\n\
             [[channels.rules]]\nsource = \"partner\"\ncampaign = \"spring\"\nchannel = \"Partners\"\n",
        ),
    );
    assert_eq!(
        channels[0], "Email",
        "medium = newsletter → Email, the user's rule"
    );
    assert_eq!(channels[1], "Partners", "the user's rule before Paid Other");
    assert_eq!(
        channels[2], "Organic Search",
        "a search engine of the user's list"
    );
    assert_eq!(
        channels[3], "Paid Other",
        "google is not in the user's list"
    );
    assert_eq!(channels[4], "Unassigned", "bing is not in the user's list");
}

#[test]
fn a_bad_category_file_or_rule_is_named() {
    let work = Work::new();
    work.write_parquet(
        "in/events.parquet",
        vec![
            ("user_id", texts(&["u"])),
            ("event_time", utc_micros(&[Some(at("2026-03-02 10:00:00"))])),
        ],
    );
    work.write("bad.csv", "name,kind\nx,y\n");
    work.write("cfg.toml", "[channels]\nsource_categories = \"bad.csv\"\n");
    let out = work.sessionize(&[
        "run", "--input", "in", "--output", "out", "--config", "cfg.toml",
    ]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("bad.csv"), "{}", out.stderr);
    work.write("cfg.toml", "[[channels.rules]]\nchannel = \"Email\"\n");
    let out = work.sessionize(&[
        "run", "--input", "in", "--output", "out", "--config", "cfg.toml",
    ]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("channels.rules[0]"), "{}", out.stderr);
}
