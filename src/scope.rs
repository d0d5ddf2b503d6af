//! Which days a run computes, and how far around them it must read.
//!
//! A full run computes every day its input has. A dated run (`--date`, `--from/--to`)
//! computes a range of days T in the reporting time zone, and must give exactly what a full
//! run gives for them. Its range grows, and the run says why in its report, when:
//! - the output's latest day is older than the day before T: the days in between are
//!   computed too (a cron run that failed last night is caught up);
//! - the output already has days after T: those follow T, as a user's session numbers and
//!   new-user flags depend on every earlier day;
//! - T's `dt=` folders hold late events of an earlier day: that day is computed again.
//!
//! Around T it reads `timeout + max_session_duration` before (the sessions an earlier run
//! left open at T's start began no earlier) and as much after (T's last sessions end no
//! later), plus a day each side for time zones: input `dt=` folders outside that are not
//! read at all.

use std::collections::BTreeSet;

use anyhow::Result;
use chrono::{Days, NaiveDate, TimeZone};
use serde::Serialize;

use crate::config::SessionRules;
use crate::error::UserError;

/// Bounds for an unbounded side: far from i64's ends, so adding a timeout cannot overflow.
const UNBOUNDED_START_US: i64 = -(1 << 62);
const UNBOUNDED_END_US: i64 = 1 << 62;
/// Day labels that sort before and after every real day.
const FIRST_LABEL: &str = "0000-01-01";
const LAST_LABEL: &str = "9999-12-31";

/// The days a run was asked for, as typed: `2026-11-21`, `yesterday` or `today`.
#[derive(Debug, Clone, Default)]
pub struct DayRequest {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// An inclusive range of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DayRange {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl DayRange {
    pub fn days(&self) -> Vec<NaiveDate> {
        self.first
            .iter_days()
            .take_while(|d| *d <= self.last)
            .collect()
    }

    pub fn contains(&self, day: NaiveDate) -> bool {
        self.first <= day && day <= self.last
    }
}

/// Resolves `--date`/`--from`/`--to` against today in the reporting time zone.
pub fn requested_days(
    request: &DayRequest,
    today: NaiveDate,
) -> Result<Option<DayRange>, UserError> {
    let parse = |flag: &str, text: &str| -> Result<NaiveDate, UserError> {
        match text.trim() {
            "today" => Ok(today),
            "yesterday" => Ok(today - Days::new(1)),
            day => NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| {
                UserError::Usage(format!(
                    "{flag} {text:?} is not a day: write it like 2026-11-21, or \"yesterday\" or \"today\""
                ))
            }),
        }
    };
    let range = match (&request.from, &request.to) {
        (None, None) => return Ok(None),
        (Some(from), None) => {
            let day = parse("--from", from)?;
            DayRange {
                first: day,
                last: day,
            }
        }
        (None, Some(to)) => {
            let day = parse("--to", to)?;
            DayRange {
                first: day,
                last: day,
            }
        }
        (Some(from), Some(to)) => DayRange {
            first: parse("--from", from)?,
            last: parse("--to", to)?,
        },
    };
    if range.first > range.last {
        return Err(UserError::Usage(format!(
            "--from {} is after --to {}",
            range.first, range.last
        )));
    }
    Ok(Some(range))
}

/// What the run computes and reads, in the units the models and the input listing use.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    /// None for a full run.
    pub days: Option<DayRange>,
    pub first_day: String,
    pub last_day: String,
    /// The earliest day a session still open at `first_day` can have started on.
    pub anchor_first_day: String,
    pub days_start_us: i64,
    pub days_end_us: i64,
    pub read_end_us: i64,
    /// The input `dt=` folders read; None: every file.
    pub folders: Option<DayRange>,
}

impl Window {
    pub fn full() -> Self {
        Window {
            days: None,
            first_day: FIRST_LABEL.into(),
            last_day: LAST_LABEL.into(),
            anchor_first_day: FIRST_LABEL.into(),
            days_start_us: UNBOUNDED_START_US,
            days_end_us: UNBOUNDED_END_US,
            read_end_us: UNBOUNDED_END_US,
            folders: None,
        }
    }

    pub fn for_days(days: DayRange, rules: &SessionRules) -> Result<Self> {
        let days_start_us = midnight_us(days.first, &rules.timezone)?;
        let days_end_us = midnight_us(days.last + Days::new(1), &rules.timezone)?;
        let micros = |d: std::time::Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        // without a maximum duration an open session can reach back (and on) without limit
        let reach_us = if rules.max_duration.is_zero() {
            None
        } else {
            Some(micros(rules.timeout) + micros(rules.max_duration))
        };
        let (anchor_first, read_end_us, folders) = match reach_us {
            Some(reach) => {
                let earliest = day_of_us(days_start_us - reach, &rules.timezone)? - Days::new(1);
                let latest = day_of_us(days_end_us + reach, &rules.timezone)? + Days::new(1);
                (
                    earliest.to_string(),
                    days_end_us + reach,
                    Some(DayRange {
                        first: earliest,
                        last: latest,
                    }),
                )
            }
            None => (FIRST_LABEL.to_string(), UNBOUNDED_END_US, None),
        };
        Ok(Window {
            days: Some(days),
            first_day: days.first.to_string(),
            last_day: days.last.to_string(),
            anchor_first_day: anchor_first,
            days_start_us,
            days_end_us,
            read_end_us,
            folders,
        })
    }

    /// The days this run writes partitions for, when it is a dated run.
    pub fn day_labels(&self) -> Vec<String> {
        self.days
            .map(|d| d.days().iter().map(|d| d.to_string()).collect())
            .unwrap_or_default()
    }
}

/// How a requested range grew, and why.
#[derive(Debug, Default)]
pub struct Extension {
    pub days: Option<DayRange>,
    pub notes: Vec<String>,
}

/// Widens the requested days to what the output's state requires: the days between the
/// output's latest day and the request, and every existing day after the request.
pub fn extend_for_output(requested: DayRange, existing: &BTreeSet<NaiveDate>) -> Extension {
    let mut days = requested;
    let mut notes = Vec::new();
    if let Some(&latest) = existing.iter().next_back() {
        if latest + Days::new(1) < requested.first {
            days.first = latest + Days::new(1);
            notes.push(format!(
                "the output's latest day is {latest}: computing from {} to catch up",
                days.first
            ));
        }
        if latest > requested.last {
            days.last = latest;
            notes.push(format!(
                "the output has days up to {latest}: computing them again too, as session \
                 numbers and new-user flags depend on every earlier day"
            ));
        }
    }
    Extension {
        days: Some(days),
        notes,
    }
}

/// Widens the days back to the earliest day of late events found in the requested folders.
pub fn extend_for_late_events(
    days: DayRange,
    earliest_late_day: Option<NaiveDate>,
) -> (DayRange, Option<String>) {
    match earliest_late_day {
        Some(late) if late < days.first => (
            DayRange {
                first: late,
                last: days.last,
            },
            Some(format!(
                "late events of {late} arrived with the requested days: computing from {late}"
            )),
        ),
        _ => (days, None),
    }
}

/// The instant a day starts in the time zone, in microseconds since the epoch. Where the
/// zone skips midnight (a daylight-saving change), the day starts at its first instant.
pub fn midnight_us(day: NaiveDate, timezone: &str) -> Result<i64> {
    let zone: arrow::array::timezone::Tz = timezone.parse()?;
    let mut local = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    for _ in 0..4 {
        if let Some(instant) = zone.from_local_datetime(&local).earliest() {
            return Ok(instant.timestamp_micros());
        }
        local += chrono::Duration::minutes(30);
    }
    anyhow::bail!("{day} has no start in the time zone {timezone}")
}

/// The day an instant falls on in the time zone.
pub fn day_of_us(us: i64, timezone: &str) -> Result<NaiveDate> {
    let zone: arrow::array::timezone::Tz = timezone.parse()?;
    let instant = chrono::DateTime::from_timestamp_micros(us)
        .ok_or_else(|| anyhow::anyhow!("{us} µs is out of range"))?;
    Ok(instant.with_timezone(&zone).date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn catch_up_and_later_days() {
        let range = DayRange {
            first: day("2026-11-21"),
            last: day("2026-11-21"),
        };
        let existing: BTreeSet<NaiveDate> = [day("2026-11-18")].into();
        let grown = extend_for_output(range, &existing).days.unwrap();
        assert_eq!(grown.first, day("2026-11-19"));
        let existing: BTreeSet<NaiveDate> = [day("2026-11-20"), day("2026-11-23")].into();
        let grown = extend_for_output(range, &existing).days.unwrap();
        assert_eq!(
            (grown.first, grown.last),
            (day("2026-11-21"), day("2026-11-23"))
        );
    }

    #[test]
    fn midnight_in_a_zone() {
        // Paris is UTC+1 in November
        assert_eq!(
            midnight_us(day("2026-11-21"), "Europe/Paris").unwrap(),
            midnight_us(day("2026-11-21"), "UTC").unwrap() - 3_600_000_000
        );
    }
}
