//! event_time may be a Parquet timestamp of any unit, with or without a time zone (naive
//! means UTC), an int64 of epoch milliseconds, or an ISO-8601 string: the same two instants
//! written each way give the same session. (A string that does not parse is a rejected row:
//! `bad_input.rs`.)

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Int64Array, StringArray, TimestampMillisecondArray, TimestampNanosecondArray,
    TimestampSecondArray,
};

use crate::common::*;

fn session_from(event_time: ArrayRef) -> Vec<Session> {
    let work = Work::new();
    work.write_parquet(
        "in/events.parquet",
        vec![("user_id", texts(&["u", "u"])), ("event_time", event_time)],
    );
    work.sessionize_ok(&["run", "--input", "in", "--output", "out"]);
    sessions(&work.path("out"))
}

#[test]
fn every_event_time_type_gives_the_same_session() {
    // 2026-11-01 10:00:00 UTC and 10:05:30.5 UTC
    let start = at("2026-11-01 10:00:00");
    let end = at("2026-11-01 10:05:30.5");
    let expected = vec![Session {
        user_id: "u".into(),
        start,
        end,
        events: 2,
    }];
    let millis = [start / 1000, end / 1000];

    let cases: Vec<(&str, ArrayRef)> = vec![
        ("timestamp[us, UTC]", utc_micros(&[Some(start), Some(end)])),
        (
            "timestamp[ns] naive",
            Arc::new(TimestampNanosecondArray::from(vec![
                start * 1000,
                end * 1000,
            ])),
        ),
        (
            "timestamp[ms, +02:00]",
            Arc::new(TimestampMillisecondArray::from(millis.to_vec()).with_timezone("+02:00")),
        ),
        (
            "int64 epoch ms",
            Arc::new(Int64Array::from(millis.to_vec())),
        ),
        (
            "ISO-8601 strings",
            Arc::new(StringArray::from(vec![
                "2026-11-01T10:00:00Z",
                "2026-11-01T12:05:30.5+02:00",
            ])),
        ),
        (
            "naive ISO-8601 strings",
            Arc::new(StringArray::from(vec![
                "2026-11-01 10:00:00",
                "2026-11-01T10:05:30.500",
            ])),
        ),
    ];
    for (name, column) in cases {
        assert_eq!(session_from(column), expected, "event_time as {name}");
    }

    // whole seconds lose the half second
    let seconds = Arc::new(TimestampSecondArray::from(vec![
        start / 1_000_000,
        end / 1_000_000,
    ]));
    assert_eq!(
        session_from(seconds),
        vec![Session {
            user_id: "u".into(),
            start,
            end: end - 500_000,
            events: 2
        }]
    );
}
