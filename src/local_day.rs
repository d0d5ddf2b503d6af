//! `local_day`: the calendar day a timestamp falls on in its own time zone, as a date. The
//! models call it for every event's day (`sql/stg_events.sql`) and every session's `dt`
//! (`sql/sessions.sql`).
//!
//! ```sql
//! local_day(event_time)   -- event_time: Timestamp(µs, 'Europe/Berlin') → Date32
//! ```
//!
//! It is `cast(to_local_time(ts) as date)`, which it replaced: that looked up the zone's
//! offset for every row (a search of the zone's transitions and two calendar conversions),
//! and the events' days are worked out on every scan of the input, so at ten million events
//! it took about 3% of the run's CPU. The offset only changes at a zone's transitions,
//! months apart, so here it is looked up once per hour of UTC: an hour whose first and last
//! microsecond have the same offset has it throughout (a zone does not change and change
//! back within an hour); the rare hour with a transition in it is looked up row by row.
//! An instant beyond the calendar's range (some 262,000 years away) has no day: NULL, and its
//! row is rejected for its implausible time anyway.

use std::str::FromStr;
use std::sync::Arc;

use arrow::array::timezone::Tz;
use arrow::array::{Array, ArrayRef, AsArray, Date32Array};
use arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use chrono::{Offset, TimeZone};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// The function, ready to register on a session.
pub fn udf() -> ScalarUDF {
    ScalarUDF::from(LocalDay {
        signature: Signature::any(1, Volatility::Immutable),
    })
}

const MICROS_PER_HOUR: i64 = 3_600_000_000;
const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

#[derive(Debug, PartialEq, Eq, Hash)]
struct LocalDay {
    signature: Signature,
}

impl ScalarUDFImpl for LocalDay {
    fn name(&self) -> &str {
        "local_day"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match args {
            [DataType::Timestamp(TimeUnit::Microsecond, _)] => Ok(DataType::Date32),
            [other] => plan_err!(
                "local_day takes a timestamp in microseconds (with its time zone), not {other}"
            ),
            _ => plan_err!("local_day takes one timestamp"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [argument] = args.args.as_slice() else {
            return exec_err!("local_day takes one timestamp");
        };
        let zone = match argument.data_type() {
            DataType::Timestamp(TimeUnit::Microsecond, zone) => zone,
            other => return exec_err!("local_day takes a timestamp in microseconds, not {other}"),
        };
        // no zone: the timestamp is UTC's already
        let zone = Tz::from_str(zone.as_deref().unwrap_or("+00:00"))?;
        let mut days = Days::new(zone);
        Ok(match argument {
            ColumnarValue::Scalar(value) => {
                let micros = match value {
                    ScalarValue::TimestampMicrosecond(micros, _) => *micros,
                    _ => return exec_err!("local_day takes a timestamp in microseconds"),
                };
                ColumnarValue::Scalar(ScalarValue::Date32(micros.and_then(|m| days.of(m))))
            }
            ColumnarValue::Array(array) => {
                let times = array.as_primitive::<TimestampMicrosecondType>();
                let result: Date32Array = if times.null_count() == 0 {
                    times.values().iter().map(|&m| days.of(m)).collect()
                } else {
                    times.iter().map(|m| m.and_then(|m| days.of(m))).collect()
                };
                ColumnarValue::Array(Arc::new(result) as ArrayRef)
            }
        })
    }
}

/// One zone's days, with the offsets of the hours met so far. The events of a file come in
/// any order within their few days, so a small cache of hours, each in its own slot.
struct Days {
    zone: Tz,
    /// (hour since the epoch, its offset in microseconds): `None` for an hour with a
    /// transition in it, looked up row by row.
    hours: [(i64, Option<i64>); SLOTS],
}

const SLOTS: usize = 256;

impl Days {
    fn new(zone: Tz) -> Self {
        Days {
            zone,
            // no hour is i64::MIN: every slot starts empty
            hours: [(i64::MIN, None); SLOTS],
        }
    }

    /// The day of `micros` (since the epoch, UTC) in the zone, as days since the epoch; None
    /// when the instant is beyond the calendar's range.
    fn of(&mut self, micros: i64) -> Option<i32> {
        i32::try_from(self.local(micros)?.div_euclid(MICROS_PER_DAY)).ok()
    }

    /// `micros` as the zone's wall clock reads it (in microseconds since the epoch).
    fn local(&mut self, micros: i64) -> Option<i64> {
        let hour = micros.div_euclid(MICROS_PER_HOUR);
        let slot = hour.rem_euclid(SLOTS as i64) as usize;
        let offset = if self.hours[slot].0 == hour {
            self.hours[slot].1
        } else {
            let start = hour * MICROS_PER_HOUR;
            let first = self.offset(start)?;
            let last = self.offset(start + MICROS_PER_HOUR - 1)?;
            let whole_hour = (first == last).then_some(first);
            self.hours[slot] = (hour, whole_hour);
            whole_hour
        };
        let offset = match offset {
            Some(offset) => offset,
            None => self.offset(micros)?,
        };
        micros.checked_add(offset)
    }

    /// The zone's offset from UTC at `micros`, in microseconds.
    fn offset(&self, micros: i64) -> Option<i64> {
        let utc = chrono::DateTime::from_timestamp_micros(micros)?.naive_utc();
        let seconds = self
            .zone
            .offset_from_utc_datetime(&utc)
            .fix()
            .local_minus_utc();
        Some(i64::from(seconds) * 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    /// Days worked out by hand: around Berlin's spring and autumn changes of 2026 (29 March,
    /// 01:00 UTC; 25 October, 01:00 UTC), New York's of 1 November 2026 (06:00 UTC), Lord
    /// Howe's half-hour change (4 April 2026, 15:00 UTC: +11:00 → +10:30), Kathmandu's
    /// +05:45, a fixed offset and the day before the epoch.
    #[test]
    fn days_by_hand() {
        let cases: &[(&str, &str, &str)] = &[
            ("Europe/Berlin", "2026-03-28T22:59:59.999999Z", "2026-03-28"),
            ("Europe/Berlin", "2026-03-28T23:00:00Z", "2026-03-29"),
            ("Europe/Berlin", "2026-03-29T21:59:59.999999Z", "2026-03-29"),
            ("Europe/Berlin", "2026-03-29T22:00:00Z", "2026-03-30"),
            ("Europe/Berlin", "2026-10-24T21:59:59Z", "2026-10-24"),
            ("Europe/Berlin", "2026-10-24T22:00:00Z", "2026-10-25"),
            ("Europe/Berlin", "2026-10-25T22:59:59Z", "2026-10-25"),
            ("Europe/Berlin", "2026-10-25T23:00:00Z", "2026-10-26"),
            ("America/New_York", "2026-11-01T03:59:59Z", "2026-10-31"),
            ("America/New_York", "2026-11-01T04:00:00Z", "2026-11-01"),
            ("America/New_York", "2026-11-02T04:59:59Z", "2026-11-01"),
            ("America/New_York", "2026-11-02T05:00:00Z", "2026-11-02"),
            ("Australia/Lord_Howe", "2026-04-04T12:59:59Z", "2026-04-04"),
            ("Australia/Lord_Howe", "2026-04-04T13:00:00Z", "2026-04-05"),
            ("Australia/Lord_Howe", "2026-04-05T13:29:59Z", "2026-04-05"),
            ("Australia/Lord_Howe", "2026-04-05T13:30:00Z", "2026-04-06"),
            ("Asia/Kathmandu", "2026-06-30T18:14:59Z", "2026-06-30"),
            ("Asia/Kathmandu", "2026-06-30T18:15:00Z", "2026-07-01"),
            ("-03:30", "2026-01-01T03:29:59Z", "2025-12-31"),
            ("-03:30", "2026-01-01T03:30:00Z", "2026-01-01"),
            ("UTC", "1969-12-31T23:59:59.999999Z", "1969-12-31"),
            ("UTC", "1970-01-01T00:00:00Z", "1970-01-01"),
        ];
        for &(zone, instant, expected) in cases {
            let micros = chrono::DateTime::parse_from_rfc3339(instant)
                .unwrap()
                .timestamp_micros();
            let mut days = Days::new(Tz::from_str(zone).unwrap());
            let day = days.of(micros).unwrap();
            let date = chrono::NaiveDate::from_num_days_from_ce_opt(day + 719_163).unwrap();
            assert_eq!(date.to_string(), expected, "{instant} in {zone}");
        }
    }

    /// The function against the engine's own `cast(to_local_time(ts) as date)`, which it
    /// replaced, over every 7 minutes 13 seconds of 2024 to 2027 (every hour of the year
    /// meets every minute's phase, the changes' hours among them) and, in the cache's
    /// worst order, a stride that lands each instant in a slot another hour just left. The
    /// wall clock is compared too, not only the day: a change rarely falls near midnight, so
    /// an hour given the wrong offset would mostly still give the right day.
    #[tokio::test]
    async fn matches_to_local_time() {
        let start = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .timestamp_micros();
        let step = (7 * 60 + 13) * 1_000_000;
        let mut instants: Vec<Option<i64>> = (0..4 * 365 * 24 * 60 / 7)
            .map(|i| Some(start + i * step))
            .collect();
        let strided: Vec<Option<i64>> = (0..20_000)
            .map(|i| Some(start + (i * 257 % 20_000) * MICROS_PER_HOUR + i * 977))
            .collect();
        instants.extend(strided);
        instants.push(None);
        let ctx = SessionContext::new();
        ctx.register_udf(udf());
        for zone in [
            "Europe/Berlin",
            "America/New_York",
            "Australia/Lord_Howe",
            // changes at 16:30 and 17:30 UTC: hours with a change inside them
            "Australia/Adelaide",
            "America/St_Johns",
            "Asia/Kathmandu",
            "America/Sao_Paulo",
            "UTC",
            "+05:30",
        ] {
            let times =
                arrow::array::TimestampMicrosecondArray::from(instants.clone()).with_timezone(zone);
            let batch =
                arrow::array::RecordBatch::try_from_iter([("t", Arc::new(times) as ArrayRef)])
                    .unwrap();
            ctx.deregister_table("times").unwrap();
            ctx.register_batch("times", batch).unwrap();
            let clocks = ctx
                .sql("select arrow_cast(t, 'Int64'), arrow_cast(to_local_time(t), 'Int64') from times")
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            let mut days = Days::new(Tz::from_str(zone).unwrap());
            for batch in &clocks {
                let int64 = |i: usize| {
                    batch
                        .column(i)
                        .as_primitive::<arrow::datatypes::Int64Type>()
                };
                for (instant, clock) in int64(0).iter().zip(int64(1).iter()) {
                    let local = instant.and_then(|m| days.local(m));
                    assert_eq!(local, clock, "{instant:?} in {zone}");
                }
            }
            let differing = ctx
                .sql(
                    "select count(*) from times where local_day(t) is distinct from \
                     cast(to_local_time(t) as date)",
                )
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            let differing = differing[0]
                .column(0)
                .as_primitive::<arrow::datatypes::Int64Type>()
                .value(0);
            assert_eq!(differing, 0, "days that differ in {zone}");
        }
    }
}
