//! The sort that puts each user's events in order for the session window
//! (`sql/sessionized_events.sql`: by bucket, user, time, event key), done as its keys allow
//! rather than as a general sort.
//!
//! DataFusion 55 sorts rows on several keys by sorting each incoming batch with a comparator
//! that calls through every key column per comparison, then merging the sorted batches by
//! comparing each row's keys re-encoded as bytes. On this job's keys that was more than a
//! third of the sessions stage's time (perf, 10 million events). Here each (bucket, user) is
//! looked up once in a hash table and replaced by its rank among the partition's users, so
//! the rows sort on one integer made of the rank and the time; only rows that tie on both
//! (the same user at the same microsecond) compare their event keys. The result is the same
//! order as the engine's sort, exactly: rank order is (bucket, user) order.
//!
//! Only where the whole partition may be held in memory (no `--memory-limit`): this sort
//! cannot spill, and the engine's can. Rows that tie on all four keys (none, once events are
//! deduplicated) keep their arrival order.

use std::fmt;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, DictionaryArray, Int32Array, Int64Array, RecordBatch,
    StringArray, StringBuilder, UInt32Array,
};
use arrow::buffer::{BooleanBuffer, NullBuffer};
use arrow::compute::{cast, interleave, take_record_batch};
use arrow::datatypes::{DataType, Int32Type, Int64Type};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{HashMap, Result, internal_err};
use datafusion::config::ConfigOptions;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::expressions::Column;
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, ReplaceChildrenOptions,
};
use futures::{StreamExt, TryStreamExt};

/// Replaces each sort this module can do (see [`EventSortExec::try_new`]) by its own.
#[derive(Debug)]
pub struct EventSortRule;

impl PhysicalOptimizerRule for EventSortRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let replacement = node
                .downcast_ref::<SortExec>()
                .and_then(EventSortExec::try_new);
            Ok(match replacement {
                Some(exec) => Transformed::yes(Arc::new(exec) as Arc<dyn ExecutionPlan>),
                None => Transformed::no(node),
            })
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &str {
        "event_sort"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// A sort of each partition by (Int32, Utf8, timestamp or Int64, Utf8) columns, all
/// ascending with NULLs last: the engine's `SortExec` it replaces, with the same input,
/// expressions and so the same output ordering and partitioning.
#[derive(Debug)]
pub struct EventSortExec {
    sort: SortExec,
    /// The four key columns' indices in the input.
    keys: [usize; 4],
    metrics: ExecutionPlanMetricsSet,
}

impl EventSortExec {
    /// The replacement of `sort`, if it sorts each partition on its own (not into one), has no
    /// limit, and sorts on four plain columns of the types and directions this sort handles.
    pub fn try_new(sort: &SortExec) -> Option<Self> {
        if !sort.preserve_partitioning() || sort.fetch().is_some() || sort.expr().len() != 4 {
            return None;
        }
        let schema = sort.input().schema();
        let mut keys = [0; 4];
        for (place, key) in sort.expr().iter().enumerate() {
            let column = key.expr.downcast_ref::<Column>()?;
            if key.options.descending || key.options.nulls_first {
                return None;
            }
            let wanted = matches!(
                (place, schema.field(column.index()).data_type()),
                (0, DataType::Int32)
                    | (1 | 3, DataType::Utf8)
                    | (2, DataType::Int64 | DataType::Timestamp(_, _))
            );
            if !wanted {
                return None;
            }
            keys[place] = column.index();
        }
        Some(Self {
            sort: sort.clone(),
            keys,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    fn input(&self) -> &Arc<dyn ExecutionPlan> {
        self.sort.input()
    }
}

impl DisplayAs for EventSortExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "EventSortExec: expr=[{}]", self.sort.expr())
    }
}

impl ExecutionPlan for EventSortExec {
    fn name(&self) -> &'static str {
        "EventSortExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.sort.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![self.input()]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.sort.apply_expressions(f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [input] = <[_; 1]>::try_from(children)
            .map_err(|_| datafusion::error::DataFusionError::Internal("one input".into()))?;
        let sort = SortExec::new(self.sort.expr().clone(), input)
            .with_preserve_partitioning(self.sort.preserve_partitioning());
        match Self::try_new(&sort) {
            Some(exec) => Ok(Arc::new(exec)),
            None => Ok(Arc::new(sort)),
        }
    }

    #[allow(deprecated)]
    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(
                datafusion::physical_plan::ChildrenPropertiesMode::Recompute,
            ),
        )
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input().execute(partition, Arc::clone(&context))?;
        let batch_size = context.session_config().batch_size();
        let keys = self.keys;
        let metrics = BaselineMetrics::new(&self.metrics, partition);
        let mut reservation = MemoryConsumer::new(format!("EventSortExec[{partition}]"))
            .register(context.memory_pool());
        let sorted = futures::stream::once(async move {
            let batches = hold(input, &mut reservation).await?;
            let timer = metrics.elapsed_compute().timer();
            let batches = share_dictionaries(batches)?;
            let order = sorted_rows(&batches, keys)?;
            let (runs, order) = runs_in_order(batches, &order)?;
            timer.done();
            // the output in batches of the session's size, each gathered from the runs as it
            // is asked for; the runs go (and their memory with them) after the last
            let starts = (0..order.len()).step_by(batch_size);
            let output = futures::stream::iter(starts).map(move |start| {
                let timer = metrics.elapsed_compute().timer();
                let end = (start + batch_size).min(order.len());
                let batch = gather(&runs, &order[start..end])?;
                timer.done();
                metrics.record_output(batch.num_rows());
                if end == order.len() {
                    reservation.free();
                }
                Ok(batch)
            });
            Ok::<_, datafusion::error::DataFusionError>(output)
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            sorted,
        )))
    }
}

/// Every batch of the input, counted against the memory pool.
async fn hold(
    mut input: SendableRecordBatchStream,
    reservation: &mut MemoryReservation,
) -> Result<Vec<RecordBatch>> {
    let mut batches = Vec::new();
    while let Some(batch) = input.next().await {
        let batch = batch?;
        if batch.num_rows() > 0 {
            reservation.try_grow(batch.get_array_memory_size())?;
            batches.push(batch);
        }
    }
    Ok(batches)
}

/// A key column of every held batch, as the arrays it is read from.
struct KeyColumns {
    buckets: Vec<Int32Array>,
    users: Vec<StringArray>,
    times: Vec<Int64Array>,
    event_keys: Vec<StringArray>,
}

impl KeyColumns {
    fn of(batches: &[RecordBatch], keys: [usize; 4]) -> Result<Self> {
        let mut columns = Self {
            buckets: Vec::with_capacity(batches.len()),
            users: Vec::with_capacity(batches.len()),
            times: Vec::with_capacity(batches.len()),
            event_keys: Vec::with_capacity(batches.len()),
        };
        for batch in batches {
            let (Some(bucket), Some(user), Some(event_key)) = (
                batch.column(keys[0]).as_primitive_opt::<Int32Type>(),
                batch.column(keys[1]).as_string_opt::<i32>(),
                batch.column(keys[3]).as_string_opt::<i32>(),
            ) else {
                return internal_err!("EventSortExec: a key column changed type");
            };
            // a timestamp's values are its microseconds (or other unit) as Int64: no copy
            let time = cast(batch.column(keys[2]), &DataType::Int64)?;
            columns.buckets.push(bucket.clone());
            columns.users.push(user.clone());
            columns.times.push(time.as_primitive::<Int64Type>().clone());
            columns.event_keys.push(event_key.clone());
        }
        Ok(columns)
    }
}

/// A value's place with NULLs last: (is null, value).
fn nulls_last<T: Default>(value: Option<T>) -> (bool, T) {
    match value {
        Some(value) => (false, value),
        None => (true, T::default()),
    }
}

/// A (bucket, user) pair with NULLs last, and its slot.
type UserSlot<'a> = ((bool, i32), (bool, &'a str), u32);

/// A row of held batches: (batch, row).
type Place = (usize, usize);

/// The held rows, as (batch, row), in key order.
fn sorted_rows(batches: &[RecordBatch], keys: [usize; 4]) -> Result<Vec<Place>> {
    let columns = KeyColumns::of(batches, keys)?;
    // each (bucket, user) once, in the order first met; then its rank in key order
    let mut slots: HashMap<(Option<i32>, Option<&str>), u32> = HashMap::default();
    let mut row_slots: Vec<Vec<u32>> = Vec::with_capacity(batches.len());
    for (buckets, users) in columns.buckets.iter().zip(&columns.users) {
        let mut of_rows = Vec::with_capacity(buckets.len());
        for row in 0..buckets.len() {
            let bucket = buckets.is_valid(row).then(|| buckets.value(row));
            let user = users.is_valid(row).then(|| users.value(row));
            let next = slots.len() as u32;
            of_rows.push(*slots.entry((bucket, user)).or_insert(next));
        }
        row_slots.push(of_rows);
    }
    let mut by_key: Vec<UserSlot> = slots
        .iter()
        .map(|(&(bucket, user), &slot)| (nulls_last(bucket), nulls_last(user), slot))
        .collect();
    by_key.sort_unstable();
    let mut rank_of_slot = vec![0_u32; by_key.len()];
    for (rank, &(_, _, slot)) in by_key.iter().enumerate() {
        rank_of_slot[slot as usize] = rank as u32;
    }
    drop(by_key);

    // one integer per row, (rank, time is null, time), ordered as the three keys are: in 64
    // bits when the ranks and the span of times fit (a month of microseconds takes 42 bits),
    // as a sort moves half the bytes; else in 128
    let event_keys = &columns.event_keys;
    let mut span = None::<(i64, i64)>;
    for times in &columns.times {
        for time in times.iter().flatten() {
            span = Some(span.map_or((time, time), |(low, high)| (low.min(time), high.max(time))));
        }
    }
    let (low, high) = span.unwrap_or((0, 0));
    // offsets 0..=high-low, and one more for a NULL time
    let time_bits = bits_for(u128::from(high.abs_diff(low)) + 2);
    let rank_bits = bits_for(rank_of_slot.len() as u128);
    let places = if rank_bits + time_bits <= 64 {
        sorted_places(&row_slots, &columns.times, event_keys, |slot, time| {
            let offset = time.map_or(high.abs_diff(low) + 1, |time| time.abs_diff(low));
            // (no rank bits at all when there is one user: a shift by 64 would overflow)
            let rank = u64::from(rank_of_slot[slot as usize]);
            rank.checked_shl(time_bits).unwrap_or(0) | offset
        })
    } else {
        sorted_places(&row_slots, &columns.times, event_keys, |slot, time| {
            let (time_is_null, time) = nulls_last(time);
            // flipping the sign bit orders i64 values as unsigned ones
            (u128::from(rank_of_slot[slot as usize]) << 65)
                | (u128::from(time_is_null) << 64)
                | u128::from((time as u64) ^ (1 << 63))
        })
    };
    Ok(places)
}

/// How many bits hold the numbers below `count`.
fn bits_for(count: u128) -> u32 {
    u128::BITS - count.saturating_sub(1).leading_zeros()
}

/// The rows in the order of `key(slot, time)` (an integer ordered as the user's rank and the
/// time are), then of their event keys where those tie, then of arrival.
fn sorted_places<K: Ord + Copy>(
    row_slots: &[Vec<u32>],
    times: &[Int64Array],
    event_keys: &[StringArray],
    key: impl Fn(u32, Option<i64>) -> K,
) -> Vec<Place> {
    let mut rows: Vec<(K, u32, u32)> = Vec::with_capacity(row_slots.iter().map(Vec::len).sum());
    for (batch, (of_rows, times)) in row_slots.iter().zip(times).enumerate() {
        for (row, &slot) in of_rows.iter().enumerate() {
            let time = times.is_valid(row).then(|| times.value(row));
            rows.push((key(slot, time), batch as u32, row as u32));
        }
    }
    // (batch, row) in the sort as the last key: arrival order among rows that tie on all
    rows.sort_unstable();

    // rows that tie on (user, time): ordered by event key, then arrival (a stable sort)
    let event_key = |&(_, batch, row): &(K, u32, u32)| {
        let keys = &event_keys[batch as usize];
        let row = row as usize;
        nulls_last(keys.is_valid(row).then(|| keys.value(row)))
    };
    let mut start = 0;
    while start < rows.len() {
        let mut end = start + 1;
        while end < rows.len() && rows[end].0 == rows[start].0 {
            end += 1;
        }
        if end - start > 1 {
            rows[start..end].sort_by(|a, b| event_key(a).cmp(&event_key(b)));
        }
        start = end;
    }
    rows.into_iter()
        .map(|(_, batch, row)| (batch as usize, row as usize))
        .collect()
}

/// The batches with each dictionary column's values merged into one array that every batch
/// shares (their keys rewritten to it). A gather from batches whose dictionaries differ
/// merges them again for every output batch (arrow 59 `interleave`); from one shared
/// dictionary it moves only the keys (`gather`).
fn share_dictionaries(batches: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
    let Some(schema) = batches.first().map(RecordBatch::schema) else {
        return Ok(batches);
    };
    let mut columns: Vec<Vec<ArrayRef>> = batches.iter().map(|b| b.columns().to_vec()).collect();
    for (index, field) in schema.fields().iter().enumerate() {
        if field.data_type() != &crate::input_table::dictionary_type() {
            continue;
        }
        let mut merged: HashMap<&str, i32> = HashMap::default();
        let mut values = StringBuilder::new();
        let mut keys_by_batch = Vec::with_capacity(batches.len());
        for batch in &batches {
            let dictionary = batch.column(index).as_dictionary::<Int32Type>();
            let Some(old_values) = dictionary.values().as_string_opt::<i32>() else {
                return internal_err!(
                    "EventSortExec: a dictionary of {}",
                    dictionary.values().data_type()
                );
            };
            // each old value's new key (None: a NULL value, which becomes a NULL key)
            let new_keys: Vec<Option<i32>> = old_values
                .iter()
                .map(|value| {
                    value.map(|value| {
                        let next = merged.len() as i32;
                        *merged.entry(value).or_insert_with(|| {
                            values.append_value(value);
                            next
                        })
                    })
                })
                .collect();
            let keys: Int32Array = dictionary
                .keys()
                .iter()
                .map(|key| key.and_then(|key| new_keys.get(key as usize).copied().flatten()))
                .collect();
            keys_by_batch.push(keys);
        }
        let values: ArrayRef = Arc::new(values.finish());
        for (batch_columns, keys) in columns.iter_mut().zip(keys_by_batch) {
            batch_columns[index] = Arc::new(DictionaryArray::<Int32Type>::try_new(
                keys,
                Arc::clone(&values),
            )?);
        }
    }
    columns
        .into_iter()
        .map(|columns| Ok(RecordBatch::try_new(Arc::clone(&schema), columns)?))
        .collect()
}

/// Each batch's rows taken in output order (a take within one batch, which stays in the
/// processor's cache), and the output order as (batch, place in its run): the gather then
/// reads every run from its start to its end, rather than every row from anywhere.
fn runs_in_order(
    batches: Vec<RecordBatch>,
    order: &[Place],
) -> Result<(Vec<RecordBatch>, Vec<Place>)> {
    let mut rows_of: Vec<Vec<u32>> = batches
        .iter()
        .map(|b| Vec::with_capacity(b.num_rows()))
        .collect();
    let mut run_order = Vec::with_capacity(order.len());
    for &(batch, row) in order {
        run_order.push((batch, rows_of[batch].len()));
        rows_of[batch].push(row as u32);
    }
    // each batch let go once its run is taken: a partition is held once, plus one batch
    let runs = batches
        .into_iter()
        .zip(rows_of)
        .map(|(batch, rows)| take_record_batch(&batch, &UInt32Array::from(rows)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((runs, run_order))
}

/// The rows `indices` (batch, row) of `batches`, as one batch.
fn gather(batches: &[RecordBatch], indices: &[Place]) -> Result<RecordBatch> {
    let schema = batches[0].schema();
    let columns = (0..schema.fields().len())
        .map(|index| {
            let column: Vec<&dyn Array> =
                batches.iter().map(|b| b.column(index).as_ref()).collect();
            gather_column(&column, indices)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// One column's rows: booleans bit by bit and shared dictionaries by their keys, which
/// arrow 59's `interleave` does a value at a time through its generic path; the rest by
/// `interleave`.
fn gather_column(arrays: &[&dyn Array], indices: &[Place]) -> Result<ArrayRef> {
    let valid = |arrays: &[&dyn Array]| {
        arrays.iter().any(|a| a.null_count() > 0).then(|| {
            NullBuffer::new(BooleanBuffer::collect_bool(indices.len(), |i| {
                let (a, r) = indices[i];
                arrays[a].is_valid(r)
            }))
        })
    };
    match arrays[0].data_type() {
        DataType::Boolean => {
            let booleans: Vec<&BooleanArray> = arrays.iter().map(|a| a.as_boolean()).collect();
            let values = BooleanBuffer::collect_bool(indices.len(), |i| {
                let (a, r) = indices[i];
                booleans[a].value(r)
            });
            Ok(Arc::new(BooleanArray::new(values, valid(arrays))))
        }
        DataType::Dictionary(key, _) if **key == DataType::Int32 => {
            let dictionaries: Vec<&DictionaryArray<Int32Type>> = arrays
                .iter()
                .map(|a| a.as_dictionary::<Int32Type>())
                .collect();
            let values = dictionaries[0].values();
            if !dictionaries.iter().all(|d| Arc::ptr_eq(d.values(), values)) {
                return Ok(interleave(arrays, indices)?);
            }
            let keys: Vec<&dyn Array> = dictionaries
                .iter()
                .map(|d| d.keys() as &dyn Array)
                .collect();
            let keys = interleave(&keys, indices)?;
            Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(
                keys.as_primitive::<Int32Type>().clone(),
                Arc::clone(values),
            )?))
        }
        _ => Ok(interleave(arrays, indices)?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::TimestampMicrosecondArray;
    use arrow::datatypes::{Field, Schema, TimeUnit};
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::physical_expr::{LexOrdering, PhysicalSortExpr};
    use datafusion::physical_plan::collect_partitioned;
    use datafusion::prelude::{SessionConfig, SessionContext};

    /// One row as the test compares it: the four keys, then the payload (the row's number,
    /// a flag and a dictionary text).
    type Row = (
        Option<i32>,
        Option<String>,
        Option<i64>,
        Option<String>,
        i64,
        Option<bool>,
        Option<String>,
    );

    fn rows_of(batches: &[RecordBatch]) -> Vec<Row> {
        let mut rows = Vec::new();
        for batch in batches {
            let bucket = batch.column(0).as_primitive::<Int32Type>();
            let user = batch.column(1).as_string::<i32>();
            let time = cast(batch.column(2), &DataType::Int64).unwrap();
            let time = time.as_primitive::<Int64Type>();
            let key = batch.column(3).as_string::<i32>();
            let number = batch.column(4).as_primitive::<Int64Type>();
            let flag = batch.column(5).as_boolean();
            let text = cast(batch.column(6), &DataType::Utf8).unwrap();
            let text = text.as_string::<i32>();
            for r in 0..batch.num_rows() {
                rows.push((
                    bucket.is_valid(r).then(|| bucket.value(r)),
                    user.is_valid(r).then(|| user.value(r).to_string()),
                    time.is_valid(r).then(|| time.value(r)),
                    key.is_valid(r).then(|| key.value(r).to_string()),
                    number.value(r),
                    flag.is_valid(r).then(|| flag.value(r)),
                    text.is_valid(r).then(|| text.value(r).to_string()),
                ));
            }
        }
        rows
    }

    /// A key with NULLs last, as the reference sorts it.
    fn last<T: Ord + Clone>(value: &Option<T>) -> (bool, Option<T>) {
        (value.is_none(), value.clone())
    }

    /// Batches of scattered rows over two partitions: few buckets and users (so users
    /// repeat across batches and partitions), times that tie within a user, event keys that
    /// tie too, a NULL in every key, booleans, and each batch its own dictionary.
    fn partitions(times_span: TimesSpan) -> (Arc<Schema>, Vec<Vec<RecordBatch>>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("user_bucket", DataType::Int32, true),
            Field::new("user_id", DataType::Utf8, true),
            Field::new(
                "event_time",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                true,
            ),
            Field::new("event_key", DataType::Utf8, true),
            Field::new("number", DataType::Int64, false),
            Field::new("flag", DataType::Boolean, true),
            Field::new("page", crate::input_table::dictionary_type(), true),
        ]));
        let mut next = crate::test_support::pseudo_random(0x9e37_79b9);
        let mut number = 0;
        let mut partitions = vec![Vec::new(), Vec::new()];
        for batch_number in 0..12 {
            let rows = 50 + next(200) as usize;
            let mut buckets = Vec::new();
            let mut users = Vec::new();
            let mut times = Vec::new();
            let mut keys = Vec::new();
            let mut numbers = Vec::new();
            let mut flags = Vec::new();
            let mut pages = Vec::new();
            for _ in 0..rows {
                let user = next(40);
                buckets.push((next(30) > 0).then_some((user % 3) as i32 - 1));
                users.push((next(25) > 0).then(|| format!("user-{user}")));
                times.push((next(30) > 0).then(|| match times_span {
                    TimesSpan::Seconds => next(20) as i64 * 1_000_000 - 5_000_000,
                    // the ends of the range: no 64-bit key holds them with a user's rank
                    TimesSpan::Whole => [i64::MIN, -1, 0, 1, i64::MAX][next(5) as usize],
                }));
                keys.push((next(30) > 0).then(|| format!("k{}", next(8))));
                numbers.push(number);
                number += 1;
                flags.push(match next(3) {
                    0 => None,
                    n => Some(n == 1),
                });
                pages.push((next(10) > 0).then(|| format!("/p{}", next(6))));
            }
            // each batch its own dictionary, its values in an order of its own
            let page_values: Vec<&str> = if batch_number % 2 == 0 {
                vec!["/p0", "/p1", "/p2", "/p3", "/p4", "/p5"]
            } else {
                vec!["/p5", "/p3", "/p1", "/p0", "/p2", "/p4"]
            };
            let page_keys: Int32Array = pages
                .iter()
                .map(|p| {
                    p.as_ref()
                        .map(|p| page_values.iter().position(|v| v == p).unwrap() as i32)
                })
                .collect();
            let page = DictionaryArray::<Int32Type>::try_new(
                page_keys,
                Arc::new(StringArray::from(page_values)),
            )
            .unwrap();
            let batch = RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(Int32Array::from(buckets)),
                    Arc::new(StringArray::from(users)),
                    Arc::new(TimestampMicrosecondArray::from(times)),
                    Arc::new(StringArray::from(keys)),
                    Arc::new(Int64Array::from(numbers)),
                    Arc::new(BooleanArray::from(flags)),
                    Arc::new(page),
                ],
            )
            .unwrap();
            partitions[batch_number % 2].push(batch);
        }
        (schema, partitions)
    }

    /// The times the rows have: seconds apart (the sort's 64-bit keys) or anywhere in the
    /// range of Int64 (its 128-bit ones).
    #[derive(Clone, Copy)]
    enum TimesSpan {
        Seconds,
        Whole,
    }

    /// Each partition's rows as EventSortExec gives them: the rows of a reference sort of
    /// the same partition (Rust's stable sort of the rows on the four keys, NULLs last, so
    /// rows that tie on all four stay in arrival order), row for row, every column; and the
    /// same keys, row for row, as DataFusion's own sort, which it replaces.
    #[tokio::test]
    async fn sorts_each_partition_as_a_stable_sort_on_its_four_keys() {
        sorts_as_a_stable_sort(TimesSpan::Seconds).await;
        sorts_as_a_stable_sort(TimesSpan::Whole).await;
    }

    async fn sorts_as_a_stable_sort(times_span: TimesSpan) {
        let (schema, partitions) = partitions(times_span);
        let source =
            MemorySourceConfig::try_new_exec(&partitions, Arc::clone(&schema), None).unwrap();
        let ordering = LexOrdering::new((0..4).map(|i| {
            PhysicalSortExpr::new_default(Arc::new(Column::new(schema.field(i).name(), i)))
                .asc()
                .nulls_last()
        }))
        .unwrap();
        let sort = SortExec::new(ordering, source).with_preserve_partitioning(true);
        let ours = Arc::new(EventSortExec::try_new(&sort).expect("a sort it takes"));
        // batches of 97 rows out: each partition's output is gathered in many, from runs
        // of several input batches
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_batch_size(97));
        let ours = collect_partitioned(ours, ctx.task_ctx()).await.unwrap();
        let engine = collect_partitioned(Arc::new(sort), ctx.task_ctx())
            .await
            .unwrap();
        assert_eq!(ours.len(), 2);
        for (partition, input) in partitions.iter().enumerate() {
            let mut expected = rows_of(input);
            expected.sort_by(|a, b| {
                (last(&a.0), last(&a.1), last(&a.2), last(&a.3)).cmp(&(
                    last(&b.0),
                    last(&b.1),
                    last(&b.2),
                    last(&b.3),
                ))
            });
            assert!(
                ours[partition].len() > 5,
                "partition {partition}: one batch out"
            );
            assert!(ours[partition].iter().all(|b| b.num_rows() <= 97));
            let got = rows_of(&ours[partition]);
            assert_eq!(got, expected, "partition {partition}");
            let keys = |rows: Vec<Row>| -> Vec<_> {
                rows.into_iter().map(|r| (r.0, r.1, r.2, r.3)).collect()
            };
            assert_eq!(keys(got), keys(rows_of(&engine[partition])));
        }
    }

    /// Only sorts of this shape are taken: another type or direction stays the engine's.
    #[test]
    fn takes_only_ascending_sorts_on_its_key_types() {
        let (schema, partitions) = partitions(TimesSpan::Seconds);
        let source =
            MemorySourceConfig::try_new_exec(&partitions, Arc::clone(&schema), None).unwrap();
        let sort_on = |columns: &[usize], descending: bool| {
            let ordering = LexOrdering::new(columns.iter().map(|&i| {
                let expr =
                    PhysicalSortExpr::new_default(Arc::new(Column::new(schema.field(i).name(), i)));
                if descending { expr.desc() } else { expr.asc() }.nulls_last()
            }))
            .unwrap();
            SortExec::new(ordering, Arc::clone(&source) as _).with_preserve_partitioning(true)
        };
        assert!(EventSortExec::try_new(&sort_on(&[0, 1, 2, 3], false)).is_some());
        assert!(EventSortExec::try_new(&sort_on(&[0, 1, 2, 3], true)).is_none());
        assert!(EventSortExec::try_new(&sort_on(&[1, 0, 2, 3], false)).is_none());
        assert!(EventSortExec::try_new(&sort_on(&[0, 1, 2], false)).is_none());
        assert!(EventSortExec::try_new(&sort_on(&[0, 1, 4, 3], false)).is_some());
        let whole = SortExec::new(sort_on(&[0, 1, 2, 3], false).expr().clone(), source);
        assert!(EventSortExec::try_new(&whole).is_none());
    }
}
