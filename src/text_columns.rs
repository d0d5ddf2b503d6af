//! Two text columns of the sessions table, written straight into their arrays:
//!
//! ```sql
//! session_id(user_id, start_us)  -- md5(concat(user_id, chr(31), cast(start_us as varchar)))
//! day_text(day)                  -- cast(day as varchar), for a Date32
//! ```
//!
//! Each gives exactly what the engine's expression in the comment gives (the tests below
//! compare them row by row); they exist because that expression cost more than the digest
//! or the day itself. For `session_id`, the engine made the start's text, concatenated it
//! into a new string, hex-encoded each digest into a `String` of its own, collected those
//! into string views and cast them to text: 0.57 s of CPU for 2.6 million sessions, where
//! the digests alone take about a third of that. For `day_text`, the cast formats every
//! row's date through the calendar, where a month of sessions has some thirty days: here
//! each distinct day of a batch is formatted once (by that same cast) and copied.
//!
//! The session_id is a contract, not a detail: a day rewritten by a later run keeps its
//! sessions' ids, and users join on them, so the message digested (user, unit separator,
//! start in microseconds since the epoch, in decimal) must never change.

use std::io::Write;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Date32Type, Int64Type};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use md5::{Digest, Md5};

/// The functions, ready to register on a session.
pub fn udfs() -> Vec<ScalarUDF> {
    [Column::SessionId, Column::DayText]
        .into_iter()
        .map(|column| ScalarUDF::from(TextColumn::new(column)))
        .collect()
}

/// Which column a function writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Column {
    SessionId,
    DayText,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct TextColumn {
    column: Column,
    signature: Signature,
}

impl TextColumn {
    fn new(column: Column) -> Self {
        let arguments = match column {
            Column::SessionId => vec![DataType::Utf8, DataType::Int64],
            Column::DayText => vec![DataType::Date32],
        };
        TextColumn {
            column,
            signature: Signature::exact(arguments, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for TextColumn {
    fn name(&self) -> &str {
        match self.column {
            Column::SessionId => "session_id",
            Column::DayText => "day_text",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    /// Scalars come as one-row arrays, and the engine takes a one-row answer to scalars
    /// for a scalar.
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let texts = match (self.column, arrays.as_slice()) {
            (Column::SessionId, [users, starts]) => session_ids(users, starts)?,
            (Column::DayText, [days]) => day_texts(days)?,
            (Column::SessionId, _) => {
                return exec_err!("session_id takes a user_id and a start in microseconds");
            }
            (Column::DayText, _) => return exec_err!("day_text takes one date"),
        };
        Ok(ColumnarValue::Array(texts))
    }
}

/// The session_id of each (user, start in microseconds).
fn session_ids(users: &ArrayRef, starts: &ArrayRef) -> Result<ArrayRef> {
    let (users, starts) = (users.as_string::<i32>(), starts.as_primitive::<Int64Type>());
    let mut ids = StringBuilder::with_capacity(users.len(), users.len() * 32);
    let mut message = Vec::with_capacity(64);
    let mut hex = [0u8; 32];
    for row in 0..users.len() {
        // as concat does: a NULL part is an empty one
        message.clear();
        if users.is_valid(row) {
            message.extend_from_slice(users.value(row).as_bytes());
        }
        message.push(0x1f);
        if starts.is_valid(row) {
            write!(message, "{}", starts.value(row))?;
        }
        for (pair, byte) in hex.chunks_exact_mut(2).zip(Md5::digest(&message)) {
            pair[0] = HEX_DIGITS[usize::from(byte >> 4)];
            pair[1] = HEX_DIGITS[usize::from(byte & 0x0f)];
        }
        // the digits are ASCII
        ids.append_value(std::str::from_utf8(&hex).expect("hex digits"));
    }
    Ok(Arc::new(ids.finish()))
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `cast(days as Utf8)`, each day from the batch's first to its last formatted once (by
/// that cast), and copied to its rows. A batch whose days span more days than it has rows
/// is cast row by row: the table would format more than the cast does.
fn day_texts(days: &ArrayRef) -> Result<ArrayRef> {
    let values = days.as_primitive::<Date32Type>();
    let (Some(first), Some(last)) = (arrow::compute::min(values), arrow::compute::max(values))
    else {
        // no day at all (empty, or every row NULL)
        return Ok(cast(days, &DataType::Utf8)?);
    };
    let span = i64::from(last) - i64::from(first) + 1;
    if span > values.len() as i64 {
        return Ok(cast(days, &DataType::Utf8)?);
    }
    let every_day: ArrayRef = Arc::new(arrow::array::Date32Array::from_iter_values(
        (0..span as i32).map(|offset| first + offset),
    ));
    let texts = cast(&every_day, &DataType::Utf8)?;
    let texts = texts.as_string::<i32>();
    let mut out = StringBuilder::with_capacity(values.len(), values.len() * 10);
    for day in values.iter() {
        match day {
            Some(day) => out.append_value(texts.value((day - first) as usize)),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use arrow::array::{Date32Array, Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::{Field, Schema};
    use datafusion::prelude::SessionContext;

    use super::*;

    /// A context with the functions and a table `t` of the given columns.
    fn context(columns: Vec<(&str, ArrayRef)>) -> SessionContext {
        let ctx = SessionContext::new();
        for function in udfs() {
            ctx.register_udf(function);
        }
        let schema = Schema::new(
            columns
                .iter()
                .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
                .collect::<Vec<_>>(),
        );
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            columns.into_iter().map(|(_, array)| array).collect(),
        )
        .unwrap();
        ctx.register_batch("t", batch).unwrap();
        ctx
    }

    /// The two columns of the query's first batch, as text.
    async fn pairs(ctx: &SessionContext, sql: &str) -> Vec<(Option<String>, Option<String>)> {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let mut pairs = Vec::new();
        for batch in batches {
            let (ours, engines) = (batch.column(0), batch.column(1));
            let ours = cast(ours, &DataType::Utf8).unwrap();
            let engines = cast(engines, &DataType::Utf8).unwrap();
            let (ours, engines) = (ours.as_string::<i32>(), engines.as_string::<i32>());
            for row in 0..batch.num_rows() {
                let text = |a: &arrow::array::StringArray| {
                    a.is_valid(row).then(|| a.value(row).to_string())
                };
                pairs.push((text(ours), text(engines)));
            }
        }
        pairs
    }

    /// Against the engine's own md5 and concat, including NULLs, an empty user, multi-byte
    /// text, negative and extreme starts.
    #[tokio::test]
    async fn session_ids_are_the_engines_md5_of_user_and_start() {
        let ctx = context(vec![
            (
                "user_id",
                Arc::new(StringArray::from(vec![
                    Some("u1"),
                    Some(""),
                    None,
                    Some("Zoë 🙂"),
                    Some("u1"),
                    Some("a-much-longer-user-id-that-takes-the-message-past-one-block-of-64"),
                ])) as ArrayRef,
            ),
            (
                "start_us",
                Arc::new(Int64Array::from(vec![
                    Some(1_767_225_600_000_000),
                    Some(0),
                    Some(5),
                    Some(-1),
                    None,
                    Some(i64::MIN),
                ])) as ArrayRef,
            ),
        ]);
        let pairs = pairs(
            &ctx,
            "select session_id(user_id, start_us), \
             md5(concat(user_id, chr(31), cast(start_us as varchar))) from t",
        )
        .await;
        assert_eq!(pairs.len(), 6);
        for (ours, engines) in pairs {
            assert!(ours.is_some());
            assert_eq!(ours, engines);
        }
    }

    /// A digest worked out apart from the engine (`printf 'u1\x1f1767225600000000' | md5sum`).
    #[tokio::test]
    async fn a_session_id_by_hand() {
        let ctx = context(vec![
            (
                "user_id",
                Arc::new(StringArray::from(vec!["u1"])) as ArrayRef,
            ),
            (
                "start_us",
                Arc::new(Int64Array::from(vec![1_767_225_600_000_000])) as ArrayRef,
            ),
        ]);
        let pairs = pairs(&ctx, "select session_id(user_id, start_us), 1 from t").await;
        assert_eq!(
            pairs[0].0.as_deref(),
            Some("77c9e6e295d2fd5f94f5f64cbcbcf6b0")
        );
    }

    /// Days worked out by hand (`date -d @0`, and 20,454 days on: 2026-01-01), apart from
    /// the cast the function itself formats with.
    #[tokio::test]
    async fn days_by_hand() {
        let ctx = context(vec![(
            "day",
            Arc::new(Date32Array::from(vec![
                Some(20_454),
                Some(-1),
                None,
                Some(0),
            ])) as ArrayRef,
        )]);
        let days: Vec<Option<String>> = pairs(&ctx, "select day_text(day), 1 from t")
            .await
            .into_iter()
            .map(|(ours, _)| ours)
            .collect();
        let expected = [
            Some("2026-01-01"),
            Some("1969-12-31"),
            None,
            Some("1970-01-01"),
        ];
        assert_eq!(days, expected.map(|d| d.map(String::from)));
        // a constant: a scalar argument, answered for every row
        let constant = pairs(&ctx, "select day_text(date '2026-01-01'), 1 from t").await;
        assert_eq!(constant.len(), 4);
        for (ours, _) in constant {
            assert_eq!(ours.as_deref(), Some("2026-01-01"));
        }
    }

    /// Against the engine's cast: batches whose days span more than their rows (cast row by
    /// row: around the epoch and 2026-01-01, 20,454; far apart), batches of fewer days than
    /// rows (each day formatted once), NULLs.
    #[tokio::test]
    async fn day_texts_are_the_engines_cast() {
        for days in [
            vec![
                Some(20_454),
                None,
                Some(20_440),
                Some(20_454),
                Some(-1),
                Some(0),
            ],
            // more rows than days: each day formatted once and copied
            vec![
                Some(20_454),
                None,
                Some(20_452),
                Some(20_454),
                Some(20_453),
                Some(20_452),
            ],
            vec![Some(7), Some(7)],
            vec![None, None],
            vec![Some(-700_000), Some(2_900_000), Some(20_454)],
        ] {
            let n = days.len();
            let ctx = context(vec![(
                "day",
                Arc::new(Date32Array::from(days.clone())) as ArrayRef,
            )]);
            let pairs = pairs(&ctx, "select day_text(day), cast(day as varchar) from t").await;
            assert_eq!(pairs.len(), n);
            for ((ours, engines), day) in pairs.into_iter().zip(&days) {
                assert_eq!(ours.is_some(), day.is_some());
                assert_eq!(ours, engines);
            }
        }
    }
}
