//! `first_by(value, seq)` and `last_by(value, seq)`: the aggregates that give a session its
//! first and last values (landing page, exit page, the first event's URL, referrer, UTM
//! values, user agent, device, country) in `sql/sessions.sql`.
//!
//! `first_by` is the text `value` of the row with the smallest `seq` in the group, `last_by`
//! that of the row with the largest; NULL `value`s count like any other, rows whose `seq` is
//! NULL or that the aggregate's FILTER drops do not count, and a group with no row that
//! counts gives NULL. They mean what `first_value(value order by seq)` and
//! `last_value(value order by seq)` mean when `seq` is unique in the group, as the models'
//! event sequence is (on equal `seq`, the row seen first wins).
//!
//! Why not those: DataFusion 55's ordered `first_value` keeps, for every group, its ordering
//! as a vector of `ScalarValue`s, allocated when the group is created and compared value by
//! value, and it walks buffers as long as every open group on each batch. Ten of them over
//! every event of a run were the largest cost of the sessions aggregate. Here a group is an
//! integer and a place in one byte buffer per aggregate; per batch, each group's best row is
//! found first and only that row's text is copied.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBufferBuilder, Int32Array, Int64Array,
    StringArray,
};
use arrow::buffer::{Buffer, NullBuffer, OffsetBuffer};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, FieldRef, Int32Type, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

use crate::input_table::dictionary_type;

pub const FIRST_NAME: &str = "first_by";
pub const LAST_NAME: &str = "last_by";

/// Both functions, ready to register on a session context.
pub fn udafs() -> [AggregateUDF; 2] {
    [
        AggregateUDF::from(ValueBy::new(Pick::First)),
        AggregateUDF::from(ValueBy::new(Pick::Last)),
    ]
}

/// Which end of the sequence a function keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Pick {
    First,
    Last,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ValueBy {
    pick: Pick,
    signature: Signature,
}

impl ValueBy {
    fn new(pick: Pick) -> Self {
        Self {
            pick,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for ValueBy {
    fn name(&self) -> &str {
        match self.pick {
            Pick::First => FIRST_NAME,
            Pick::Last => LAST_NAME,
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Any text and any integer: the value is read as Utf8 (a dictionary of Utf8 with Int32
    /// keys as it is: the input's low-cardinality columns arrive so, and unpacking them would
    /// copy every row's text), the sequence as Int64.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let value = match arg_types {
            [value, seq] if seq.is_integer() || seq == &DataType::Null => match value {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
                    Some(DataType::Utf8)
                }
                DataType::Dictionary(_, inner)
                    if matches!(
                        **inner,
                        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                    ) =>
                {
                    Some(dictionary_type())
                }
                _ => None,
            },
            _ => None,
        };
        match value {
            Some(value) => Ok(vec![value, DataType::Int64]),
            None => plan_err!(
                "{}(value, seq) takes a text value and an integer sequence, not {arg_types:?}",
                self.name()
            ),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "value"),
                DataType::Utf8,
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "seq"),
                DataType::Int64,
                true,
            )),
        ])
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(RowAccumulator {
            group: ValuesByGroup::new(self.pick),
        }))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(ValuesByGroup::new(self.pick)))
    }
}

/// A value column: plain text, or a dictionary of text (each row a key into its values).
enum Texts<'a> {
    Plain(&'a StringArray),
    Dictionary(&'a Int32Array, &'a StringArray),
}

impl Texts<'_> {
    fn get(&self, row: usize) -> Option<&str> {
        match self {
            Texts::Plain(texts) => texts.is_valid(row).then(|| texts.value(row)),
            Texts::Dictionary(keys, values) => {
                let key = keys.is_valid(row).then(|| keys.value(row) as usize)?;
                values.is_valid(key).then(|| values.value(key))
            }
        }
    }
}

/// The two argument (or state) columns, checked.
fn arguments(values: &[ArrayRef]) -> Result<(Texts<'_>, &Int64Array)> {
    match values {
        [value, seq] => match (texts(value), seq.as_primitive_opt::<Int64Type>()) {
            (Some(value), Some(seq)) => Ok((value, seq)),
            _ => exec_err!(
                "first_by/last_by: expected Utf8 and Int64, got {} and {}",
                value.data_type(),
                seq.data_type()
            ),
        },
        _ => exec_err!(
            "first_by/last_by: expected 2 arguments, got {}",
            values.len()
        ),
    }
}

fn texts(value: &ArrayRef) -> Option<Texts<'_>> {
    if let Some(texts) = value.as_string_opt::<i32>() {
        return Some(Texts::Plain(texts));
    }
    let dictionary = value.as_dictionary_opt::<Int32Type>()?;
    Some(Texts::Dictionary(
        dictionary.keys(),
        dictionary.values().as_string_opt::<i32>()?,
    ))
}

/// Whether row `row` passes the aggregate's FILTER (a NULL condition does not).
fn passes(filter: Option<&BooleanArray>, row: usize) -> bool {
    filter.is_none_or(|f| f.is_valid(row) && f.value(row))
}

/// One batch's pass over its counted rows, keeping each group's best row and sequence. A
/// loop of its own, generic over the rows' iterator, rather than a closure called per row:
/// ten of these aggregates read every event, and the call per row (its captured state
/// loaded again each time) was half their cost.
struct BestRows<'a> {
    pick: Pick,
    group_indices: &'a [usize],
    seq_values: &'a [i64],
    seqs: &'a mut Vec<Option<i64>>,
    best_rows: &'a mut Vec<usize>,
    touched: &'a mut Vec<usize>,
}

impl BestRows<'_> {
    /// A row replaces the kept one when its sequence is smaller (first) or larger (last):
    /// on equal sequences, the row seen first stays.
    fn consider(&mut self, rows: impl Iterator<Item = usize>) {
        match self.pick {
            Pick::First => self.consider_picking(rows, |candidate, kept| candidate < kept),
            Pick::Last => self.consider_picking(rows, |candidate, kept| candidate > kept),
        }
    }

    #[inline(always)]
    fn consider_picking(
        &mut self,
        rows: impl Iterator<Item = usize>,
        beats: impl Fn(i64, i64) -> bool,
    ) {
        for row in rows {
            let group = self.group_indices[row];
            let seq = self.seq_values[row];
            if self.seqs[group].is_some_and(|kept| !beats(seq, kept)) {
                continue;
            }
            if self.best_rows[group] == usize::MAX {
                self.touched.push(group);
            }
            self.seqs[group] = Some(seq);
            self.best_rows[group] = row;
        }
    }
}

/// The state of every group, as the grouped aggregate asks for it: a group is an index.
/// The kept texts live in one buffer; a group's replaced text stays there as garbage until
/// the buffer is compacted (at each emit, and when garbage outweighs what is kept).
#[derive(Debug)]
struct ValuesByGroup {
    pick: Pick,
    /// Per group: the kept row's sequence; `None` while no row has counted.
    seqs: Vec<Option<i64>>,
    /// Per group: where its text is in `bytes` (start, length); `None` for a NULL text.
    spans: Vec<Option<(usize, usize)>>,
    bytes: Vec<u8>,
    /// How many bytes of `bytes` some group still refers to.
    live_bytes: usize,
    /// Per batch: each group's best row so far, and the groups a batch touched.
    best_rows: Vec<usize>,
    touched: Vec<usize>,
}

impl ValuesByGroup {
    fn new(pick: Pick) -> Self {
        Self {
            pick,
            seqs: Vec::new(),
            spans: Vec::new(),
            bytes: Vec::new(),
            live_bytes: 0,
            best_rows: Vec::new(),
            touched: Vec::new(),
        }
    }

    /// Keeps, for each group, the best of its counted rows and the row it had.
    fn absorb(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let (texts, seqs) = arguments(values)?;
        self.seqs.resize(total_num_groups, None);
        self.spans.resize(total_num_groups, None);
        // usize::MAX: the group has no best row in this batch yet
        self.best_rows.resize(total_num_groups, usize::MAX);
        // first the best row of each group (its sequence kept at once, so later rows of the
        // batch compare with it), then one copy of its text
        self.touched.clear();
        let seq_values = seqs.values();
        // the rows that count, as one bitmap (FILTER and a non-NULL sequence), so the loop
        // over them checks nothing per row: ten of these aggregates read every event
        let counted = match (filter, seqs.nulls()) {
            (None, None) => None,
            (Some(f), nulls) => {
                let mut passing = f.values().clone();
                if let Some(f_nulls) = f.nulls() {
                    passing = &passing & f_nulls.inner();
                }
                if let Some(nulls) = nulls {
                    passing = &passing & nulls.inner();
                }
                Some(passing)
            }
            (None, Some(nulls)) => Some(nulls.inner().clone()),
        };
        let mut best = BestRows {
            pick: self.pick,
            group_indices,
            seq_values,
            seqs: &mut self.seqs,
            best_rows: &mut self.best_rows,
            touched: &mut self.touched,
        };
        match &counted {
            None => best.consider(0..group_indices.len()),
            Some(rows) => best.consider(rows.set_indices()),
        }
        for &group in &self.touched {
            let row = self.best_rows[group];
            if let Some((_, length)) = self.spans[group] {
                self.live_bytes -= length;
            }
            self.spans[group] = texts.get(row).map(|text| {
                self.bytes.extend_from_slice(text.as_bytes());
                (self.bytes.len() - text.len(), text.len())
            });
            if let Some((_, length)) = self.spans[group] {
                self.live_bytes += length;
            }
            self.best_rows[group] = usize::MAX;
        }
        if self.bytes.len() > 2 * self.live_bytes + (1 << 20) {
            self.compact();
        }
        Ok(())
    }

    /// Moves the texts still referred to to the front of the buffer, in place: the buffer
    /// keeps its capacity. The aggregate emits its finished groups after every batch of
    /// ordered input, and a new buffer (and new vectors of groups) at each emit had the
    /// allocator fault in fresh pages for every one of these aggregates per batch: 8-10% of
    /// the sessions stage's samples were the kernel zeroing them (perf, 10 million events).
    fn compact(&mut self) {
        // a text moves towards the front only, so in the order of where it is now
        let mut live: Vec<(usize, usize)> = self
            .spans
            .iter()
            .enumerate()
            .filter_map(|(group, span)| span.map(|(start, _)| (start, group)))
            .collect();
        live.sort_unstable();
        let mut end = 0;
        for (_, group) in live {
            if let Some((start, length)) = self.spans[group].as_mut() {
                self.bytes.copy_within(*start..*start + *length, end);
                *start = end;
                end += *length;
            }
        }
        self.bytes.truncate(end);
    }

    /// The text kept for `group` (NULL for a NULL text, or while no row has counted).
    fn text(&self, group: usize) -> Option<&str> {
        let (start, length) = self.spans.get(group).copied().flatten()?;
        // the buffer holds only whole texts copied from string arrays: valid UTF-8
        Some(
            std::str::from_utf8(&self.bytes[start..start + length]).expect("a copied UTF-8 string"),
        )
    }

    /// The texts of the first `count` groups, as one array: each text copied once into its
    /// values buffer (the kept bytes are whole texts copied from string arrays, so the
    /// buffer is checked as UTF-8 once, not text by text).
    fn texts_of_first(&self, count: usize) -> Result<StringArray> {
        let spans = &self.spans[..count];
        let length: usize = spans.iter().flatten().map(|(_, length)| length).sum();
        if i32::try_from(length).is_err() {
            return exec_err!(
                "first_by/last_by: {length} bytes of text in one output, over the 2 GiB a \
                 text column holds (--memory-limit makes the aggregate emit smaller outputs)"
            );
        }
        let mut values = Vec::with_capacity(length);
        let mut offsets = Vec::with_capacity(count + 1);
        offsets.push(0i32);
        let mut valid = BooleanBufferBuilder::new(count);
        for span in spans {
            if let Some((start, length)) = *span {
                values.extend_from_slice(&self.bytes[start..start + length]);
            }
            valid.append(span.is_some());
            // within i32: the total was checked above
            offsets.push(values.len() as i32);
        }
        Ok(StringArray::try_new(
            OffsetBuffer::new(offsets.into()),
            Buffer::from_vec(values),
            Some(NullBuffer::new(valid.finish())),
        )?)
    }

    /// The first groups' values and sequences (NULL sequence: no row counted), removed. After
    /// some, the rest move down in the same vectors, which keep their capacity (`compact`).
    fn take(&mut self, emit_to: EmitTo) -> Result<(ArrayRef, ArrayRef)> {
        let count = match emit_to {
            EmitTo::All => self.spans.len(),
            EmitTo::First(n) => n,
        };
        let texts = self.texts_of_first(count)?;
        let seqs: Int64Array = self.seqs.drain(..count).collect();
        self.live_bytes -= self
            .spans
            .drain(..count)
            .flatten()
            .map(|(_, length)| length)
            .sum::<usize>();
        self.best_rows.drain(..count.min(self.best_rows.len()));
        match emit_to {
            // everything went: the memory goes back too, as after a spill the engine counts
            // what the accumulator still holds (its `size`) against the pool
            EmitTo::All => *self = Self::new(self.pick),
            EmitTo::First(_) => self.compact(),
        }
        Ok((Arc::new(texts), Arc::new(seqs)))
    }
}

impl GroupsAccumulator for ValuesByGroup {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.absorb(values, group_indices, opt_filter, total_num_groups)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        Ok(self.take(emit_to)?.0)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let (texts, seqs) = self.take(emit_to)?;
        Ok(vec![texts, seqs])
    }

    /// A state row is a (value, seq) row; a NULL seq is a group with no row, as in `take`.
    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.absorb(values, group_indices, None, total_num_groups)
    }

    /// Each row its own group: its value, and its seq unless the FILTER drops it.
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let (_, seqs) = arguments(values)?;
        let seqs: Int64Array = (0..seqs.len())
            .map(|row| (passes(opt_filter, row) && seqs.is_valid(row)).then(|| seqs.value(row)))
            .collect();
        // a state's value is plain text: a dictionary is unpacked (a key to a NULL value too)
        Ok(vec![cast(&values[0], &DataType::Utf8)?, Arc::new(seqs)])
    }

    fn size(&self) -> usize {
        self.seqs.capacity() * size_of::<Option<i64>>()
            + self.spans.capacity() * size_of::<Option<(usize, usize)>>()
            + self.bytes.capacity()
            + (self.best_rows.capacity() + self.touched.capacity()) * size_of::<usize>()
    }
}

/// The same for a single group (what the engine uses without GROUP BY, and in windows):
/// the grouped state with one group, so the rule is written once.
#[derive(Debug)]
struct RowAccumulator {
    group: ValuesByGroup,
}

impl Accumulator for RowAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let rows = values.first().map_or(0, |column| column.len());
        self.group.absorb(values, &vec![0; rows], None, 1)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Utf8(self.group.text(0).map(str::to_string)))
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.group.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            self.evaluate()?,
            ScalarValue::Int64(self.group.seqs.first().copied().flatten()),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.update_batch(states)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{StringArray, UInt32Array};
    use arrow::datatypes::Schema;
    use arrow::record_batch::RecordBatch;
    use datafusion::datasource::MemTable;
    use datafusion::prelude::{SessionConfig, SessionContext};

    fn texts(values: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(values.to_vec()))
    }

    fn seqs(values: &[Option<i64>]) -> ArrayRef {
        Arc::new(Int64Array::from(values.to_vec()))
    }

    fn strings(array: &ArrayRef) -> Vec<Option<String>> {
        array
            .as_string::<i32>()
            .iter()
            .map(|text| text.map(str::to_string))
            .collect()
    }

    fn owned(values: &[Option<&str>]) -> Vec<Option<String>> {
        values.iter().map(|v| v.map(str::to_string)).collect()
    }

    /// Rows in scattered order, several batches, NULL texts and a FILTER: each function
    /// against DataFusion's own ordered first_value / last_value, group by group.
    #[tokio::test]
    async fn agrees_with_ordered_first_and_last_value() {
        let mut next = crate::test_support::pseudo_random(0x2545_f491);
        let rows = 3000;
        // unique sequences in scattered order: a multiplicative permutation of 0..rows
        let seq: Vec<i64> = (0..rows).map(|i| (i * 1_237 % rows) as i64).collect();
        let group: Vec<u32> = (0..rows).map(|_| next(97) as u32).collect();
        let names = ["/", "/a", "/b", "/cart", "/checkout"];
        let value: Vec<Option<&str>> = (0..rows)
            .map(|_| match next(6) {
                5 => None,
                i => Some(names[i as usize]),
            })
            .collect();
        let flag: Vec<bool> = (0..rows).map(|_| next(3) > 0).collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("g", DataType::UInt32, false),
            Field::new("seq", DataType::Int64, false),
            Field::new("v", DataType::Utf8, true),
            Field::new("flag", DataType::Boolean, false),
            // the same texts as a dictionary, as the input's small-dictionary columns are
            // read: a NULL text is a NULL key or, every other time, a key to a NULL value
            Field::new("d", dictionary_type(), true),
        ]));
        let dictionary_values = Arc::new(StringArray::from(
            names
                .iter()
                .map(|name| Some(*name))
                .chain([None])
                .collect::<Vec<_>>(),
        ));
        let keys: Vec<Option<i32>> = value
            .iter()
            .enumerate()
            .map(|(row, text)| match text {
                Some(text) => names.iter().position(|name| name == text).map(|i| i as i32),
                None if row % 2 == 0 => None,
                None => Some(names.len() as i32),
            })
            .collect();
        let batches: Vec<RecordBatch> = (0..rows)
            .step_by(250)
            .map(|start| {
                let end = (start + 250).min(rows) as usize;
                let start = start as usize;
                RecordBatch::try_new(
                    schema.clone(),
                    vec![
                        Arc::new(UInt32Array::from(group[start..end].to_vec())),
                        Arc::new(Int64Array::from(seq[start..end].to_vec())),
                        Arc::new(StringArray::from(value[start..end].to_vec())),
                        Arc::new(BooleanArray::from(flag[start..end].to_vec())),
                        Arc::new(
                            arrow::array::DictionaryArray::<Int32Type>::try_new(
                                Int32Array::from(keys[start..end].to_vec()),
                                dictionary_values.clone(),
                            )
                            .unwrap(),
                        ),
                    ],
                )
                .unwrap()
            })
            .collect();
        let config = SessionConfig::new()
            .with_target_partitions(2)
            .with_batch_size(64);
        let ctx = SessionContext::new_with_config(config);
        for function in udafs() {
            ctx.register_udaf(function);
        }
        let table =
            MemTable::try_new(schema, vec![batches[..6].to_vec(), batches[6..].to_vec()]).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        let groups = group.iter().collect::<std::collections::HashSet<_>>().len();
        let by_group = [
            "select g, first_by(v, seq) as ours, \
                first_value(v order by seq) as theirs from t group by g",
            "select g, last_by(v, seq) as ours, \
                last_value(v order by seq) as theirs from t group by g",
            "select g, first_by(v, seq) filter (where flag) as ours, \
                first_value(v order by seq) filter (where flag) as theirs from t group by g",
            "select g, last_by(v, seq) filter (where flag) as ours, \
                last_value(v order by seq) filter (where flag) as theirs from t group by g",
            "select g, first_by(d, seq) as ours, \
                first_value(v order by seq) as theirs from t group by g",
            "select g, last_by(d, seq) filter (where flag) as ours, \
                last_value(v order by seq) filter (where flag) as theirs from t group by g",
        ];
        let whole_table = [
            "select 0 as g, first_by(v, seq) as ours, first_value(v order by seq) as theirs from t",
            "select 0 as g, last_by(v, seq) filter (where flag) as ours, \
                last_value(v order by seq) filter (where flag) as theirs from t",
            "select 0 as g, first_by(d, seq) as ours, first_value(v order by seq) as theirs from t",
        ];
        let queries = by_group
            .iter()
            .map(|query| (query, groups))
            .chain(whole_table.iter().map(|query| (query, 1)));
        for (query, expected_groups) in queries {
            let batches = ctx.sql(query).await.unwrap().collect().await.unwrap();
            let mut compared = 0;
            for batch in &batches {
                let ours = strings(batch.column(1));
                let theirs = strings(batch.column(2));
                assert_eq!(ours, theirs, "{query}");
                compared += batch.num_rows();
            }
            assert_eq!(compared, expected_groups, "{query}: groups compared");
        }
    }

    #[test]
    fn picks_by_sequence_not_by_arrival_and_skips_null_sequences() {
        let mut first = ValuesByGroup::new(Pick::First);
        let mut last = ValuesByGroup::new(Pick::Last);
        // group 0: seq 5 "b", 2 NULL text, 9 "c", NULL seq "x"; group 1: only a NULL seq
        let values = [
            texts(&[Some("b"), None, Some("c"), Some("x"), Some("y")]),
            seqs(&[Some(5), Some(2), Some(9), None, None]),
        ];
        let groups = [0, 0, 0, 0, 1];
        for accumulator in [&mut first, &mut last] {
            accumulator.update_batch(&values, &groups, None, 2).unwrap();
        }
        assert_eq!(
            strings(&first.evaluate(EmitTo::All).unwrap()),
            owned(&[None, None])
        );
        assert_eq!(
            strings(&last.evaluate(EmitTo::All).unwrap()),
            owned(&[Some("c"), None])
        );
        // a later batch with an earlier sequence replaces the kept text, a later one does not
        let mut first = ValuesByGroup::new(Pick::First);
        for (text, seq) in [("m", 7), ("e", 3), ("z", 8)] {
            first
                .update_batch(&[texts(&[Some(text)]), seqs(&[Some(seq)])], &[0], None, 1)
                .unwrap();
        }
        assert_eq!(
            strings(&first.evaluate(EmitTo::All).unwrap()),
            owned(&[Some("e")])
        );
    }

    /// The module's rule: on equal sequences, the row seen first stays, within a batch and
    /// across batches, for both ends.
    #[test]
    fn on_equal_sequences_the_row_seen_first_stays() {
        for pick in [Pick::First, Pick::Last] {
            let mut accumulator = ValuesByGroup::new(pick);
            let values = [texts(&[Some("a"), Some("b")]), seqs(&[Some(4), Some(4)])];
            accumulator.update_batch(&values, &[0, 0], None, 1).unwrap();
            accumulator
                .update_batch(&[texts(&[Some("c")]), seqs(&[Some(4)])], &[0], None, 1)
                .unwrap();
            assert_eq!(
                strings(&accumulator.evaluate(EmitTo::All).unwrap()),
                owned(&[Some("a")]),
                "{pick:?}"
            );
        }
    }

    #[test]
    fn emitting_the_first_groups_keeps_the_others() {
        let mut last = ValuesByGroup::new(Pick::Last);
        last.update_batch(
            &[
                texts(&[Some("a1"), Some("b1"), Some("c1")]),
                seqs(&[Some(1), Some(2), Some(3)]),
            ],
            &[0, 1, 2],
            None,
            3,
        )
        .unwrap();
        assert_eq!(
            strings(&last.evaluate(EmitTo::First(2)).unwrap()),
            owned(&[Some("a1"), Some("b1")])
        );
        // the old group 2 is now group 0; a new group 1 arrives
        last.update_batch(
            &[
                texts(&[Some("c2"), Some("d1"), Some("c0")]),
                seqs(&[Some(4), Some(5), Some(0)]),
            ],
            &[0, 1, 0],
            None,
            2,
        )
        .unwrap();
        assert_eq!(
            strings(&last.evaluate(EmitTo::All).unwrap()),
            owned(&[Some("c2"), Some("d1")])
        );
    }

    #[test]
    fn a_filter_and_converted_states_merge_like_rows() {
        let values = [
            texts(&[Some("early"), Some("kept"), Some("late")]),
            seqs(&[Some(1), Some(2), Some(3)]),
        ];
        // the FILTER drops the earliest row and the latest
        let filter = BooleanArray::from(vec![Some(false), Some(true), None]);
        let mut direct = ValuesByGroup::new(Pick::First);
        direct
            .update_batch(&values, &[0, 0, 0], Some(&filter), 1)
            .unwrap();
        let mut merged = ValuesByGroup::new(Pick::First);
        let states = direct.convert_to_state(&values, Some(&filter)).unwrap();
        merged.merge_batch(&states, &[0, 0, 0], 1).unwrap();
        // state, then merge: a group without a row stays without one
        let mut empty = ValuesByGroup::new(Pick::First);
        empty
            .update_batch(
                &values,
                &[0, 0, 0],
                Some(&BooleanArray::from(vec![false; 3])),
                2,
            )
            .unwrap();
        let empty_states = empty.state(EmitTo::All).unwrap();
        merged.merge_batch(&empty_states, &[0, 1], 2).unwrap();
        assert_eq!(
            strings(&direct.evaluate(EmitTo::All).unwrap()),
            owned(&[Some("kept")])
        );
        assert_eq!(
            strings(&merged.evaluate(EmitTo::All).unwrap()),
            owned(&[Some("kept"), None])
        );
    }

    #[test]
    fn a_dictionary_value_converts_to_a_plain_text_state() {
        // keys 1, NULL, 0, 2: "b", NULL (a NULL key), "a", NULL (a key to a NULL value)
        let dictionary = arrow::array::DictionaryArray::<Int32Type>::try_new(
            Int32Array::from(vec![Some(1), None, Some(0), Some(2)]),
            Arc::new(StringArray::from(vec![Some("a"), Some("b"), None])),
        )
        .unwrap();
        let values = [
            Arc::new(dictionary) as ArrayRef,
            seqs(&[Some(4), Some(1), Some(3), Some(2)]),
        ];
        let state = ValuesByGroup::new(Pick::First)
            .convert_to_state(&values, None)
            .unwrap();
        assert_eq!(state[0].data_type(), &DataType::Utf8);
        assert_eq!(
            strings(&state[0]),
            owned(&[Some("b"), None, Some("a"), None])
        );
        let mut last = ValuesByGroup::new(Pick::Last);
        last.update_batch(&values, &[0, 0, 1, 1], None, 2).unwrap();
        assert_eq!(
            strings(&last.evaluate(EmitTo::All).unwrap()),
            owned(&[Some("b"), Some("a")])
        );
    }

    #[test]
    fn replaced_texts_are_compacted_away() {
        let mut last = ValuesByGroup::new(Pick::Last);
        let text = "x".repeat(1000);
        for seq in 0..5000 {
            last.update_batch(&[texts(&[Some(&text)]), seqs(&[Some(seq)])], &[0], None, 1)
                .unwrap();
        }
        // 5 MB of replaced texts were written; what is held stays near one text plus the
        // compaction threshold
        assert!(
            last.bytes.len() < 2 * 1000 + (1 << 20) + 1000,
            "{}",
            last.bytes.len()
        );
        assert_eq!(
            strings(&last.evaluate(EmitTo::All).unwrap()),
            vec![Some(text)]
        );
    }
}
