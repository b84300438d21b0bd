//! Typed, by-name access to the evidence columns of a record batch.
//!
//! Rules read columns by their names in `docs/schema.md`. A column that the batch lacks (an
//! older file, a scan with `--checks`, a check not written yet) reads as null, which the rules
//! treat as unknown evidence. Integer and string columns are cast once per batch to one type
//! each, so files written by other tools (DuckDB writes `Utf8View`, signed integers) read the
//! same way.

use std::collections::HashMap;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, ListArray, RecordBatch, StringArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Int64Type, TimeUnit};
use std::sync::Arc;

/// The columns of one batch, cast to the types the rules read.
pub struct Evidence {
    columns: HashMap<String, ArrayRef>,
    rows: usize,
}

/// Returns the type a column is read as, or `None` for a column the rules never read.
fn canonical_type(data_type: &DataType) -> Option<DataType> {
    let item = |data_type: DataType| DataType::List(Arc::new(Field::new("item", data_type, true)));
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(DataType::Utf8),
        DataType::Boolean => Some(DataType::Boolean),
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => Some(DataType::Int64),
        DataType::Float32 | DataType::Float64 => Some(DataType::Float64),
        DataType::Timestamp(_, _) => Some(DataType::Timestamp(TimeUnit::Millisecond, None)),
        DataType::List(field) | DataType::LargeList(field) => match field.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(item(DataType::Utf8)),
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64 => Some(item(DataType::Int64)),
            _ => None,
        },
        _ => None,
    }
}

impl Evidence {
    /// Casts the batch's columns. A column that cannot be cast is left out, and so reads as
    /// unknown.
    pub fn new(batch: &RecordBatch) -> Self {
        let mut columns = HashMap::new();
        for (field, array) in batch.schema().fields().iter().zip(batch.columns()) {
            let Some(target) = canonical_type(field.data_type()) else {
                continue;
            };
            match cast(array, &target) {
                Ok(array) => {
                    columns.insert(field.name().clone(), array);
                }
                Err(error) => {
                    tracing::debug!(column = %field.name(), %error, "column not read as evidence");
                }
            }
        }
        Self {
            columns,
            rows: batch.num_rows(),
        }
    }

    pub fn num_rows(&self) -> usize {
        self.rows
    }

    /// Returns true when the batch has the column, whatever its values.
    pub fn has_column(&self, name: &str) -> bool {
        self.columns.contains_key(name)
    }

    /// Returns one row's view of the columns.
    pub fn row(&self, index: usize) -> RowEvidence<'_> {
        RowEvidence {
            evidence: self,
            index,
        }
    }

    fn array(&self, name: &str, index: usize) -> Option<&ArrayRef> {
        self.columns.get(name).filter(|array| array.is_valid(index))
    }
}

/// The evidence of one row. Every accessor returns `None` for a null value or a missing column.
#[derive(Clone, Copy)]
pub struct RowEvidence<'a> {
    evidence: &'a Evidence,
    index: usize,
}

impl<'a> RowEvidence<'a> {
    pub fn text(&self, name: &str) -> Option<&'a str> {
        let array = self.evidence.array(name, self.index)?;
        let strings: &StringArray = array.as_string_opt()?;
        Some(strings.value(self.index))
    }

    pub fn flag(&self, name: &str) -> Option<bool> {
        let array = self.evidence.array(name, self.index)?;
        let flags: &BooleanArray = array.as_boolean_opt()?;
        Some(flags.value(self.index))
    }

    pub fn number(&self, name: &str) -> Option<i64> {
        let array = self.evidence.array(name, self.index)?;
        let numbers: &Int64Array = array.as_primitive_opt::<Int64Type>()?;
        Some(numbers.value(self.index))
    }

    pub fn real(&self, name: &str) -> Option<f64> {
        let array = self.evidence.array(name, self.index)?;
        let numbers = array.as_primitive_opt::<arrow::datatypes::Float64Type>()?;
        Some(numbers.value(self.index))
    }

    /// Returns a timestamp as milliseconds since the Unix epoch.
    pub fn timestamp_ms(&self, name: &str) -> Option<i64> {
        let array = self.evidence.array(name, self.index)?;
        let times = array.as_primitive_opt::<arrow::datatypes::TimestampMillisecondType>()?;
        Some(times.value(self.index))
    }

    pub fn texts(&self, name: &str) -> Option<Vec<&'a str>> {
        let (values, range) = self.list(name)?;
        let strings: &StringArray = values.as_string_opt()?;
        Some(
            range
                .filter(|&item| strings.is_valid(item))
                .map(|item| strings.value(item))
                .collect(),
        )
    }

    pub fn numbers(&self, name: &str) -> Option<Vec<i64>> {
        let (values, range) = self.list(name)?;
        let numbers: &Int64Array = values.as_primitive_opt::<Int64Type>()?;
        Some(
            range
                .filter(|&item| numbers.is_valid(item))
                .map(|item| numbers.value(item))
                .collect(),
        )
    }

    /// Returns a list column's values array and the range of this row's items in it.
    fn list(&self, name: &str) -> Option<(&'a ArrayRef, std::ops::Range<usize>)> {
        let array = self.evidence.array(name, self.index)?;
        let lists: &ListArray = array.as_list_opt::<i32>()?;
        let offsets = lists.value_offsets();
        let start = offsets[self.index] as usize;
        let end = offsets[self.index + 1] as usize;
        Some((lists.values(), start..end))
    }
}
