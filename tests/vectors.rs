//! The session-window test vectors of Apache Spark and Apache Beam
//! (fixtures/session-window-vectors, values transcribed from the engines' own tests).
//! Both engines end a session window at last event + gap; ours ends at the last event.

use serde_json::Value as Json;

use crate::common::*;

fn load(name: &str) -> Json {
    let text = repo_text(&format!("tests/fixtures/session-window-vectors/{name}"));
    serde_json::from_str(&text).unwrap()
}

fn spark_time(text: &str) -> i64 {
    at(text)
}

#[test]
fn spark_session_window_cases() {
    let cases = load("spark_session_window_cases.json");
    for case in cases["cases"].as_array().unwrap() {
        let name = case["test"].as_str().unwrap();
        let gap_s = case["gap_s"].as_i64().unwrap();
        let by_key = case["group_by_key"].as_bool().unwrap();
        let events = case["events"].as_array().unwrap();
        let user = |e: &Json| -> String {
            if by_key {
                e[2].as_str().unwrap().to_string()
            } else {
                "all".to_string()
            }
        };
        let work = Work::new();
        let users: Vec<String> = events.iter().map(user).collect();
        let times: Vec<Option<i64>> = events
            .iter()
            .map(|e| e[0].as_str().map(spark_time))
            .collect();
        let values: Vec<Option<f64>> = events.iter().map(|e| e[1].as_f64()).collect();
        let ids: Vec<String> = (0..events.len()).map(|i| format!("{i}")).collect();
        work.write_parquet(
            "in/events.parquet",
            vec![
                (
                    "event_id",
                    texts(&ids.iter().map(String::as_str).collect::<Vec<_>>()),
                ),
                (
                    "user_id",
                    texts(&users.iter().map(String::as_str).collect::<Vec<_>>()),
                ),
                ("event_time", utc_micros(&times)),
                ("revenue", floats(&values)),
            ],
        );
        let timeout = format!("{gap_s}s");
        let outcome = work.sessionize_ok(&[
            "run",
            "--input",
            "in",
            "--output",
            "out",
            "--timeout",
            &timeout,
        ]);
        let rows = session_rows(&work.path("out"));
        let mut found: Vec<(i64, i64, i64, f64, String)> = rows
            .iter()
            .map(|r| {
                let user = r["user_id"].text().unwrap().to_string();
                (
                    r["session_start"].time(),
                    r["session_end"].time(),
                    r["event_count"].int(),
                    r["revenue"].float(),
                    user,
                )
            })
            .collect();
        found.sort_by_key(|f| f.0);

        if let Some(expected) = case["expected"].as_array() {
            let mut expected: Vec<(i64, i64, i64)> = expected
                .iter()
                .map(|e| {
                    let start = spark_time(e["start"].as_str().unwrap());
                    let end = spark_time(e["spark_end"].as_str().unwrap()) - gap_s * SECOND;
                    (start, end, e["count"].as_i64().unwrap())
                })
                .collect();
            expected.sort();
            let got: Vec<(i64, i64, i64)> = found.iter().map(|f| (f.0, f.1, f.2)).collect();
            assert_eq!(got, expected, "Spark case {name:?}");
            for e in case["expected"].as_array().unwrap() {
                if let Some(sum) = e["sum_value"].as_f64() {
                    let start = spark_time(e["start"].as_str().unwrap());
                    let key = e["key"].as_str().unwrap_or("all");
                    let row = found.iter().find(|f| f.0 == start && f.4 == key).unwrap();
                    assert_eq!(row.3, sum, "Spark case {name:?}: sum of values");
                }
            }
        }
        if let Some(counts) = case["expected_counts_in_start_order"].as_array() {
            let expected: Vec<i64> = counts.iter().map(|c| c.as_i64().unwrap()).collect();
            assert_eq!(
                found.iter().map(|f| f.2).collect::<Vec<_>>(),
                expected,
                "Spark case {name:?}"
            );
        }
        if let Some(kept) = case["expected_values_kept"].as_array() {
            let kept: f64 = kept.iter().map(|v| v.as_f64().unwrap()).sum();
            assert_eq!(
                found.iter().map(|f| f.3).sum::<f64>(),
                kept,
                "Spark case {name:?}"
            );
            let dropped =
                events.len() as u64 - case["expected_values_kept"].as_array().unwrap().len() as u64;
            assert_eq!(
                outcome.count("missing event_time"),
                dropped,
                "Spark case {name:?}"
            );
        }
    }
}

#[test]
fn beam_sessions_cases() {
    let cases = load("beam_sessions_cases.json");
    for case in cases["cases"].as_array().unwrap() {
        let name = case["test"].as_str().unwrap();
        let gap_ms = case["gap"].as_i64().unwrap();
        let events = case
            .get("events")
            .or_else(|| case.get("events_in_input_order"))
            .unwrap()
            .as_array()
            .unwrap();
        let millis: Vec<i64> = events.iter().map(|e| e.as_i64().unwrap()).collect();
        let base = at("2026-01-01 00:00:00");
        let work = Work::new();
        let ids: Vec<String> = (0..millis.len()).map(|i| format!("{i}")).collect();
        work.write_parquet(
            "in/events.parquet",
            vec![
                (
                    "event_id",
                    texts(&ids.iter().map(String::as_str).collect::<Vec<_>>()),
                ),
                ("user_id", texts(&vec!["k"; millis.len()])),
                (
                    "event_time",
                    utc_micros(
                        &millis
                            .iter()
                            .map(|m| Some(base + m * 1000))
                            .collect::<Vec<_>>(),
                    ),
                ),
            ],
        );
        // Beam's rule: windows that only touch are disjoint, so a gap equal to the timeout
        // starts a new session
        work.write(
            "cfg.toml",
            "[sessions]\ngap_equal_to_timeout = \"new-session\"\n",
        );
        let timeout = format!("{gap_ms}ms");
        work.sessionize_ok(&[
            "run",
            "--input",
            "in",
            "--output",
            "out",
            "--config",
            "cfg.toml",
            "--timeout",
            &timeout,
        ]);
        let found = sessions(&work.path("out"));
        let expected: Vec<Session> = case["expected_sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let window = s["beam_window"].as_array().unwrap();
                let first = window[0].as_i64().unwrap();
                let last = window[1].as_i64().unwrap() - gap_ms;
                Session {
                    user_id: "k".into(),
                    start: base + first * 1000,
                    end: base + last * 1000,
                    events: s["events"].as_array().unwrap().len() as i64,
                }
            })
            .collect();
        assert_eq!(found, expected, "Beam case {name:?}");
    }
}
