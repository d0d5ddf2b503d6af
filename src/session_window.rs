//! `session_place`, the window function that assigns events to sessions in one pass,
//! `hash_bucket`, which spreads users (or event keys) over the few partitions that a window
//! runs in, and `key_hash`, by which repeated event keys are found.
//!
//! SQL window functions alone cannot express a session split by maximum duration: where the
//! next session starts depends on where the current one started, which depends on the split
//! before it. So the rule lives here, as a user-defined window function that the models call
//! like any other (`sql/sessionized_events.sql`):
//!
//! ```sql
//! session_place(user_id, event_us, timeout_us, max_duration_us, new_session_on_equal_gap,
//!               is_forced_start, campaign_key)
//!     over (partition by hash_bucket(user_id) order by user_id, event_time, event_key)
//! ```
//!
//! It gives two numbers packed in one, `session_index × 2³² + position`: the row's session,
//! and the row's place in its window partition (1, 2, 3, …, as `row_number` gives it), which
//! `place_session_index` and `place_event_seq` unpack (the layout is this module's). The
//! sessions aggregate orders each session's first and last values by the position; packed,
//! one window function does the work of two, as the engine's per-row bookkeeping for a
//! second one (`row_number`) cost nearly as much as this one.
//!
//! It numbers each user's sessions 1, 2, 3, … in row order. A row opens a session when it is
//! its user's first, when the gap since the previous row exceeds the timeout (or equals it,
//! with `new_session_on_equal_gap`), or when it comes `max_duration_us` or more after the
//! current session's first row (0: no maximum), when its `is_forced_start` is true (the
//! `universal` preset's midnight split, decided in SQL), or when it brings a `campaign_key`
//! other than the last one seen in the current session (the `universal` preset's campaign
//! split; NULL: the row brings none). The campaign is compared within the session only,
//! never with an earlier session's: so a session depends on nothing before its first row,
//! which is what lets a dated run continue a session from its first event.
//!
//! Why the window is partitioned by a bucket of users rather than by user: DataFusion's
//! streaming window does its bookkeeping per partition and per batch (a slice of every
//! column, the arguments evaluated again, an evaluator and its state created), and with a
//! user per partition that cost more than the pass itself. The pass restarts at each new
//! user instead, which the order by user within a bucket makes a single comparison.

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, PrimitiveArray};
use arrow::datatypes::{ArrowPrimitiveType, DataType, Field, FieldRef, Int32Type, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{
    ColumnarValue, PartitionEvaluator, ScalarUDF, Signature, Volatility, WindowUDF, WindowUDFImpl,
    create_udf,
};

pub const NAME: &str = "session_place";
pub const BUCKET_NAME: &str = "hash_bucket";
pub const KEY_HASH_NAME: &str = "key_hash";
pub const SESSION_INDEX_NAME: &str = "place_session_index";
pub const EVENT_SEQ_NAME: &str = "place_event_seq";

/// How many buckets `hash_bucket` spreads values over: enough that the engine's hash of the
/// bucket spreads them evenly over its partitions (one per core), few enough that the
/// window's bookkeeping per partition does not matter.
const BUCKETS: u64 = 256;

/// The function, ready to register on a session context.
pub fn udwf() -> WindowUDF {
    WindowUDF::from(SessionIndex {
        signature: Signature::exact(
            vec![
                DataType::Utf8,
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

/// `hash_bucket(text)`: the text's bucket, 0 to `BUCKETS` − 1, the same in every process (a
/// cluster's executors must agree). NULL for NULL.
pub fn bucket_udf() -> ScalarUDF {
    text_udf::<Int32Type>(BUCKET_NAME, bucket)
}

/// `key_hash(text)`: a 64-bit hash of the text, the same in every process. NULL for NULL.
/// For finding repeated event keys: a hash aggregate and joins on one integer cost far less
/// than on the keys' text, and the few keys whose hashes collide only bring their rows to
/// the copies' window, which keeps a key seen once as its own kept copy.
pub fn key_hash_udf() -> ScalarUDF {
    text_udf::<Int64Type>(KEY_HASH_NAME, |text| fixed_hash(text) as i64)
}

/// `place_session_index(place)` and `place_event_seq(place)`: the session index and the
/// position packed in a `session_place`, unpacked here, beside the packing, so that the SQL
/// need not know its layout. NULL for NULL.
pub fn unpack_udfs() -> [ScalarUDF; 2] {
    [
        place_udf(SESSION_INDEX_NAME, |place| place >> PLACE_BITS),
        place_udf(EVENT_SEQ_NAME, |place| place & POSITION_MASK),
    ]
}

fn place_udf(name: &str, unpack: fn(i64) -> i64) -> ScalarUDF {
    create_udf(
        name,
        vec![DataType::Int64],
        DataType::Int64,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let places = ColumnarValue::values_to_arrays(args)?;
            let values: Int64Array = places[0].as_primitive::<Int64Type>().unary(unpack);
            Ok(ColumnarValue::Array(Arc::new(values)))
        }),
    )
}

/// A function of one text, row by row, NULL for NULL.
fn text_udf<T: ArrowPrimitiveType>(name: &str, function: fn(&str) -> T::Native) -> ScalarUDF {
    create_udf(
        name,
        vec![DataType::Utf8],
        T::DATA_TYPE,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let texts = ColumnarValue::values_to_arrays(args)?;
            let values: PrimitiveArray<T> = texts[0]
                .as_string::<i32>()
                .iter()
                .map(|text| text.map(function))
                .collect();
            Ok(ColumnarValue::Array(Arc::new(values)))
        }),
    )
}

/// The user's (or key's) bucket.
fn bucket(user: &str) -> i32 {
    (fixed_hash(user) % BUCKETS) as i32
}

/// XXH3 (64 bits, seed 0): fixed by its specification, so the same in every process and on
/// every platform, and fast on short strings. FNV-1a, which it replaced, took a multiply per
/// byte in one chain: the pass of repeated_keys that hashes ten million UUID keys took 255 ms
/// of CPU with it and 123 ms with XXH3, and a run hashes every key three times.
fn fixed_hash(text: &str) -> u64 {
    twox_hash::XxHash3_64::oneshot(text.as_bytes())
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
        Ok(Box::<Evaluator>::default())
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(
            field_args.name(),
            DataType::Int64,
            false,
        )))
    }
}

/// One window partition's pass (a bucket of users, ordered by user), starting again at each
/// user. The engine's streaming window calls `evaluate` row by row, and so holds only the
/// rows not yet evaluated; `evaluate_all`, over a whole partition at once, is what an
/// unbounded window would call.
#[derive(Debug, Default)]
struct Evaluator {
    pass: Option<Pass>,
    /// The user of the pass (the rows arrive ordered by user).
    user: String,
    /// The rows of the window partition seen so far.
    rows: u64,
}

/// The largest position and session index that fit the packing, each: `u32::MAX`
/// positions (a bucket of 4 billion events) and `i32::MAX` sessions of one user.
const PLACE_BITS: u32 = 32;
const POSITION_MASK: i64 = (1 << PLACE_BITS) - 1;

/// `session_index × 2³² + position`, or an error where either does not fit.
fn pack(index: i64, position: u64) -> Result<i64> {
    if position > u64::from(u32::MAX) {
        return exec_err!(
            "{NAME}: more than {} events in one bucket of users; run over fewer days at once",
            u32::MAX
        );
    }
    if index > i64::from(i32::MAX) {
        return exec_err!("{NAME}: a user with more than {} sessions", i32::MAX);
    }
    Ok((index << PLACE_BITS) | position as i64)
}

/// The session rule's settings, read from the (constant) argument columns.
#[derive(Debug, Clone, Copy)]
struct Rule {
    timeout_us: i64,
    max_duration_us: i64,
    new_on_equal: bool,
}

impl Rule {
    fn from_arguments(values: &[ArrayRef], row: usize) -> Result<Self> {
        let constant = |i: usize| -> Result<i64> {
            let column = values[i].as_primitive::<Int64Type>();
            if column.is_null(row) {
                return exec_err!("{NAME}: argument {} must not be NULL", i + 1);
            }
            Ok(column.value(row))
        };
        let equal = values[4].as_boolean();
        if equal.is_null(row) {
            return exec_err!("{NAME}: argument 5 must not be NULL");
        }
        Ok(Rule {
            timeout_us: constant(2)?,
            max_duration_us: constant(3)?,
            new_on_equal: equal.value(row),
        })
    }
}

/// The current session of a pass over one user's rows, in order.
#[derive(Debug)]
struct Pass {
    rule: Rule,
    index: i64,
    session_start: i64,
    previous: Option<i64>,
    session_campaign: Option<String>,
}

impl Pass {
    fn new(rule: Rule) -> Self {
        Pass {
            rule,
            index: 0,
            session_start: i64::MIN,
            previous: None,
            session_campaign: None,
        }
    }

    /// The session index of the next row; `forced` opens a session whatever the gap.
    fn next(&mut self, time: i64, forced: bool, campaign: Option<&str>) -> i64 {
        let rule = &self.rule;
        let opens = match self.previous {
            None => true,
            Some(previous) => {
                let gap = time.saturating_sub(previous);
                gap > rule.timeout_us
                    || (gap == rule.timeout_us && rule.new_on_equal)
                    || forced
                    || campaign.is_some_and(|c| self.session_campaign.as_deref() != Some(c))
                    || (rule.max_duration_us > 0
                        && time.saturating_sub(self.session_start) >= rule.max_duration_us)
            }
        };
        if opens {
            self.index += 1;
            self.session_start = time;
            self.session_campaign = campaign.map(str::to_string);
        } else if let Some(campaign) = campaign
            && self.session_campaign.as_deref() != Some(campaign)
        {
            self.session_campaign = Some(campaign.to_string());
        }
        self.previous = Some(time);
        self.index
    }
}

/// The arguments of one row, checked.
struct RowArguments<'a> {
    user: &'a str,
    time: i64,
    forced: bool,
    campaign: Option<&'a str>,
}

fn row_arguments(values: &[ArrayRef], row: usize) -> Result<RowArguments<'_>> {
    let users = values[0].as_string::<i32>();
    if users.is_null(row) {
        return exec_err!("{NAME}: users must not be NULL");
    }
    let times = values[1].as_primitive::<Int64Type>();
    if times.is_null(row) {
        return exec_err!("{NAME}: event times must not be NULL");
    }
    let forced = values[5].as_boolean();
    if forced.is_null(row) {
        return exec_err!("{NAME}: argument 6 must not be NULL");
    }
    let campaigns = values[6].as_string::<i32>();
    let campaign = (!campaigns.is_null(row)).then(|| campaigns.value(row));
    Ok(RowArguments {
        user: users.value(row),
        time: times.value(row),
        forced: forced.value(row),
        campaign,
    })
}

impl PartitionEvaluator for Evaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let mut indexes = Vec::with_capacity(num_rows);
        for row in 0..num_rows {
            indexes.push(self.step(values, row)?);
        }
        Ok(Arc::new(Int64Array::from(indexes)))
    }

    fn evaluate(&mut self, values: &[ArrayRef], range: &Range<usize>) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(Some(self.step(values, range.start)?)))
    }

    fn supports_bounded_execution(&self) -> bool {
        true
    }

    /// Each row's index depends on the rows before it only.
    fn is_causal(&self) -> bool {
        true
    }
}

impl Evaluator {
    fn step(&mut self, values: &[ArrayRef], row: usize) -> Result<i64> {
        let arguments = row_arguments(values, row)?;
        self.rows += 1;
        let pass = match &mut self.pass {
            Some(pass) if self.user == arguments.user => pass,
            Some(pass) => {
                self.user.clear();
                self.user.push_str(arguments.user);
                *pass = Pass::new(pass.rule);
                pass
            }
            None => {
                self.user.push_str(arguments.user);
                self.pass
                    .insert(Pass::new(Rule::from_arguments(values, row)?))
            }
        };
        pack(
            pass.next(arguments.time, arguments.forced, arguments.campaign),
            self.rows,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000_000;

    /// (session index, position) of each packed place.
    fn unpack(places: &[i64]) -> Vec<(i64, i64)> {
        places.iter().map(|p| (p >> 32, p & 0xffff_ffff)).collect()
    }

    /// The places of a whole partition, as evaluated at once and row by row (which must
    /// agree), unpacked.
    fn places(values: &[ArrayRef], n: usize) -> Vec<(i64, i64)> {
        let whole = Evaluator::default().evaluate_all(values, n).unwrap();
        let mut streaming = Evaluator::default();
        let rows: Vec<i64> = (0..n)
            .map(
                |row| match streaming.evaluate(values, &(row..row + 1)).unwrap() {
                    ScalarValue::Int64(Some(place)) => place,
                    other => panic!("unexpected {other:?}"),
                },
            )
            .collect();
        assert_eq!(whole.as_primitive::<Int64Type>().values().to_vec(), rows);
        unpack(&rows)
    }

    /// The pass over one user's rows, as a list.
    fn assign(times: &[i64], forced: &[bool], campaigns: &[Option<&str>], rule: &Rule) -> Vec<i64> {
        let mut pass = Pass::new(*rule);
        times
            .iter()
            .enumerate()
            .map(|(row, &time)| pass.next(time, forced[row], campaigns.get(row).copied().flatten()))
            .collect()
    }

    #[test]
    fn row_by_row_and_whole_partition_agree() {
        let times: Vec<i64> = [0, 10, 50, 55, 200, 230, 231, 400]
            .iter()
            .map(|m| m * MINUTE)
            .collect();
        let campaigns = [
            None,
            Some("a"),
            None,
            Some("b"),
            None,
            None,
            Some("b"),
            None,
        ];
        let n = times.len();
        let values: Vec<ArrayRef> = vec![
            Arc::new(arrow::array::StringArray::from(vec!["u"; n])),
            Arc::new(Int64Array::from(times.clone())),
            Arc::new(Int64Array::from(vec![30 * MINUTE; n])),
            Arc::new(Int64Array::from(vec![120 * MINUTE; n])),
            Arc::new(arrow::array::BooleanArray::from(vec![false; n])),
            Arc::new(arrow::array::BooleanArray::from(vec![false; n])),
            Arc::new(arrow::array::StringArray::from(campaigns.to_vec())),
        ];
        // by hand: 0 | 10 brings campaign a | 50 after a 40-minute gap | 55 brings b |
        // 200 after a gap, 230 an equal gap (same session) | 231 brings b, which its session
        // has not seen | 400 after a gap; positions 1 to 8
        assert_eq!(
            places(&values, n),
            [
                (1, 1),
                (2, 2),
                (3, 3),
                (4, 4),
                (5, 5),
                (5, 6),
                (6, 7),
                (7, 8)
            ]
        );
    }

    #[test]
    fn each_user_starts_again_at_session_one() {
        // rows ordered by user, then time: b's first event comes before a's last, and c's
        // 14 minutes after b's last (within the timeout); each still opens its user's first
        // session, whether the rows come one at a time or all at once
        let users = ["a", "a", "a", "b", "b", "c"];
        let times = [0, 10, 50, 5, 6, 20].map(|m| m * MINUTE);
        let n = users.len();
        let values: Vec<ArrayRef> = vec![
            Arc::new(arrow::array::StringArray::from(users.to_vec())),
            Arc::new(Int64Array::from(times.to_vec())),
            Arc::new(Int64Array::from(vec![30 * MINUTE; n])),
            Arc::new(Int64Array::from(vec![0; n])),
            Arc::new(arrow::array::BooleanArray::from(vec![false; n])),
            Arc::new(arrow::array::BooleanArray::from(vec![false; n])),
            Arc::new(arrow::array::StringArray::from(vec![None::<&str>; n])),
        ];
        // the positions run on across users: they are the partition's, not the user's
        assert_eq!(
            places(&values, n),
            [(1, 1), (1, 2), (2, 3), (1, 4), (1, 5), (1, 6)]
        );
    }

    #[test]
    fn a_place_that_does_not_fit_is_an_error() {
        assert_eq!(pack(3, 7).unwrap(), (3 << 32) + 7);
        assert_eq!(
            unpack(&[pack(i64::from(i32::MAX), u64::from(u32::MAX)).unwrap()]),
            [(i64::from(i32::MAX), i64::from(u32::MAX))]
        );
        assert!(pack(1, u64::from(u32::MAX) + 1).is_err());
        assert!(pack(i64::from(i32::MAX) + 1, 1).is_err());
    }

    /// The SQL reads a place through the functions: they must give back what was packed,
    /// at the ends of both ranges, and NULL for NULL.
    #[tokio::test]
    async fn places_unpack_in_sql_to_what_was_packed() {
        let ctx = datafusion::prelude::SessionContext::new();
        for function in unpack_udfs() {
            ctx.register_udf(function);
        }
        let packed = [
            (1, 1),
            (3, 7),
            (1, u64::from(u32::MAX)),
            (i64::from(i32::MAX), 1),
            (i64::from(i32::MAX), u64::from(u32::MAX)),
        ];
        let values: Vec<String> = packed
            .iter()
            .map(|&(index, position)| format!("({})", pack(index, position).unwrap()))
            .chain(["(null)".to_string()])
            .collect();
        let sql = format!(
            "select place_session_index(p), place_event_seq(p) from (values {}) as t(p)",
            values.join(", ")
        );
        let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        let column = |i: usize| -> Vec<Option<i64>> {
            batches
                .iter()
                .flat_map(|b| {
                    b.column(i)
                        .as_primitive::<Int64Type>()
                        .iter()
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let expected = |pick: fn(&(i64, u64)) -> i64| -> Vec<Option<i64>> {
            packed.iter().map(|p| Some(pick(p))).chain([None]).collect()
        };
        assert_eq!(column(0), expected(|p| p.0));
        assert_eq!(column(1), expected(|p| p.1 as i64));
    }

    #[tokio::test]
    async fn key_hashes_are_fixed_and_null_for_null() {
        let ctx = datafusion::prelude::SessionContext::new();
        ctx.register_udf(key_hash_udf());
        let batches = ctx
            .sql("select key_hash(k) as h from (values ('a'), (null), ('')) as t(k)")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let hashes: Vec<Option<i64>> = batches
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_primitive::<Int64Type>()
                    .iter()
                    .collect::<Vec<_>>()
            })
            .collect();
        // XXH3-64 of "a" and of the empty string, from the reference implementation (the
        // xxhash package of PyPI: xxhash.xxh3_64_intdigest)
        assert_eq!(
            hashes,
            [
                Some(0xe6c6_32b6_1e96_4e1f_u64 as i64),
                None,
                Some(0x2d06_8005_38d3_94c2_u64 as i64)
            ]
        );
    }

    #[test]
    fn buckets_are_fixed_and_spread_users_evenly() {
        // fixed: a cluster's executors and a rerun must put a user in the same bucket
        assert_eq!(bucket(""), (0x2d06_8005_38d3_94c2_u64 % BUCKETS) as i32);
        assert_eq!(bucket("a"), (0xe6c6_32b6_1e96_4e1f_u64 % BUCKETS) as i32);
        // even: ids that differ only in their last digits, as generated ids do
        let mut counts = vec![0_u32; BUCKETS as usize];
        for i in 0..256_000 {
            counts[bucket(&format!("user_{i:07}")) as usize] += 1;
        }
        let (least, most) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(
            *least > 800 && *most < 1200,
            "buckets from {least} to {most} users"
        );
    }

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
