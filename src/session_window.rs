//! `session_index`, the window function that assigns events to sessions in one pass.
//!
//! SQL window functions alone cannot express a session split by maximum duration: where the
//! next session starts depends on where the current one started, which depends on the split
//! before it. So the rule lives here, as a user-defined window function that the models call
//! like any other (`sql/sessionized_events.sql`):
//!
//! ```sql
//! session_index(event_us, timeout_us, max_duration_us, new_session_on_equal_gap,
//!               is_forced_start, campaign_key)
//!     over (partition by user_id order by event_time, event_key)
//! ```
//!
//! It numbers the sessions of each partition 1, 2, 3, … in row order. A row opens a session
//! when it is the partition's first, when the gap since the previous row exceeds the timeout
//! (or equals it, with `new_session_on_equal_gap`), or when it comes `max_duration_us` or
//! more after the current session's first row (0: no maximum), when its `is_forced_start` is
//! true (the `universal` preset's midnight split, decided in SQL), or when it brings a
//! `campaign_key` other than the last one seen in the current session (the `universal`
//! preset's campaign split; NULL: the row brings none). The campaign is compared within the
//! session only, never with an earlier session's: so a session depends on nothing before its
//! first row, which is what lets a dated run continue a session from its first event.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array};
use arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{
    PartitionEvaluator, Signature, Volatility, WindowUDF, WindowUDFImpl,
};

pub const NAME: &str = "session_index";

/// The function, ready to register on a session context.
pub fn udwf() -> WindowUDF {
    WindowUDF::from(SessionIndex {
        signature: Signature::exact(
            vec![
                DataType::Int64,
                DataType::Int64,
                DataType::Int64,
                DataType::Boolean,
                DataType::Boolean,
                DataType::Utf8,
            ],
            Volatility::Immutable,
        ),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SessionIndex {
    signature: Signature,
}

impl WindowUDFImpl for SessionIndex {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn partition_evaluator(
        &self,
        _args: PartitionEvaluatorArgs,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(Evaluator))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(
            field_args.name(),
            DataType::Int64,
            false,
        )))
    }
}

#[derive(Debug)]
struct Evaluator;

/// The session rule's settings, read from the (constant) argument columns.
struct Rule {
    timeout_us: i64,
    max_duration_us: i64,
    new_on_equal: bool,
}

impl PartitionEvaluator for Evaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        if num_rows == 0 {
            return Ok(Arc::new(Int64Array::from(Vec::<i64>::new())));
        }
        let times = values[0].as_primitive::<Int64Type>();
        let constant = |i: usize| -> Result<i64> {
            let column = values[i].as_primitive::<Int64Type>();
            if column.is_null(0) {
                return exec_err!("{NAME}: argument {} must not be NULL", i + 1);
            }
            Ok(column.value(0))
        };
        let equal = values[3].as_boolean();
        if equal.is_null(0) {
            return exec_err!("{NAME}: argument 4 must not be NULL");
        }
        let rule = Rule {
            timeout_us: constant(1)?,
            max_duration_us: constant(2)?,
            new_on_equal: equal.value(0),
        };
        if times.null_count() > 0 {
            return exec_err!("{NAME}: event times must not be NULL");
        }
        let forced = values[4].as_boolean();
        if forced.null_count() > 0 {
            return exec_err!("{NAME}: argument 5 must not be NULL");
        }
        let forced: Vec<bool> = forced.values().iter().collect();
        let campaigns: Vec<Option<&str>> = values[5].as_string::<i32>().iter().collect();
        Ok(Arc::new(Int64Array::from(assign(
            times.values(),
            &forced,
            &campaigns,
            &rule,
        ))))
    }
}

/// The session index of each time, in order; `forced[row]` opens a session whatever the gap.
fn assign(times: &[i64], forced: &[bool], campaigns: &[Option<&str>], rule: &Rule) -> Vec<i64> {
    let mut indexes = Vec::with_capacity(times.len());
    let mut index = 0i64;
    let mut session_start = i64::MIN;
    let mut previous = i64::MIN;
    let mut session_campaign: Option<&str> = None;
    for (row, &time) in times.iter().enumerate() {
        let gap = time.saturating_sub(previous);
        let campaign = campaigns.get(row).copied().flatten();
        let opens = row == 0
            || gap > rule.timeout_us
            || (gap == rule.timeout_us && rule.new_on_equal)
            || forced[row]
            || campaign.is_some_and(|c| session_campaign != Some(c))
            || (rule.max_duration_us > 0
                && time.saturating_sub(session_start) >= rule.max_duration_us);
        if opens {
            index += 1;
            session_start = time;
            session_campaign = campaign;
        } else if campaign.is_some() {
            session_campaign = campaign;
        }
        previous = time;
        indexes.push(index);
    }
    indexes
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000_000;

    fn rule(max_minutes: i64, new_on_equal: bool) -> Rule {
        Rule {
            timeout_us: 30 * MINUTE,
            max_duration_us: max_minutes * MINUTE,
            new_on_equal,
        }
    }

    #[test]
    fn gaps_and_the_equal_gap_switch() {
        let times = [0, 30 * MINUTE, 60 * MINUTE + 1, 61 * MINUTE];
        assert_eq!(
            assign(&times, &[false; 10][..times.len()], &[], &rule(0, false)),
            [1, 1, 2, 2]
        );
        assert_eq!(
            assign(&times, &[false; 10][..times.len()], &[], &rule(0, true)),
            [1, 2, 3, 3]
        );
    }

    #[test]
    fn a_chain_longer_than_the_maximum_splits_from_each_new_start() {
        // an event every 20 minutes for 3 hours, maximum 60 minutes: sessions start at
        // 0, 60 and 120 minutes; each split counts from the session's own first event
        let times: Vec<i64> = (0..10).map(|i| i * 20 * MINUTE).collect();
        assert_eq!(
            assign(&times, &[false; 10][..times.len()], &[], &rule(60, false)),
            [1, 1, 1, 2, 2, 2, 3, 3, 3, 4]
        );
        // events every 25 minutes: 0, 25, 50 | 75, 100, 125 | 150 …
        let times: Vec<i64> = (0..7).map(|i| i * 25 * MINUTE).collect();
        assert_eq!(
            assign(&times, &[false; 10][..times.len()], &[], &rule(60, false)),
            [1, 1, 1, 2, 2, 2, 3]
        );
    }

    #[test]
    fn a_forced_start_opens_a_session_and_the_maximum_counts_from_it() {
        let times: Vec<i64> = (0..6).map(|i| i * 10 * MINUTE).collect();
        let forced = [false, false, true, false, false, false];
        // 0, 10 | 20 (forced), 30, 40, 50 | with a 30-minute maximum: 20, 30, 40 | 50
        assert_eq!(
            assign(&times, &forced, &[], &rule(0, false)),
            [1, 1, 2, 2, 2, 2]
        );
        assert_eq!(
            assign(&times, &forced, &[], &rule(30, false)),
            [1, 1, 2, 2, 2, 3]
        );
    }

    #[test]
    fn a_campaign_splits_only_against_its_own_session() {
        let m = |minutes: i64| minutes * MINUTE;
        let times = [m(0), m(1), m(2), m(3), m(4), m(40), m(41)];
        let campaigns = [
            Some("a"),
            None,
            Some("a"),
            Some("b"),
            None,
            None,
            // b again, after a timeout: the new session has seen no campaign, so b is new
            // to it, whatever the session before it brought
            Some("b"),
        ];
        assert_eq!(
            assign(&times, &[false; 7], &campaigns, &rule(0, false)),
            [1, 1, 1, 2, 2, 3, 4]
        );
    }
}
