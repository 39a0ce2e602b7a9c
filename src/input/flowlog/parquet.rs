//! Parquet records as OSS shipping writes them: one column per chosen field, named like the
//! JSON keys, typed STRING or an integer type (a failed conversion is null, read as absent).

use super::{Block, Field, RawRecord, RecordError, Value};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use std::fs::File;
use std::ops::Range;

/// Rows per block.
const BATCH_ROWS: usize = 65536;

/// The record batches of one Parquet file.
pub struct ParquetBlocks {
    reader: ParquetRecordBatchReader,
    /// Per field sgsim reads: its column, if the file has one.
    columns: Vec<(Field, usize)>,
    next_row: u64,
}

impl ParquetBlocks {
    pub fn from_file(file: File) -> Result<ParquetBlocks, String> {
        Self::build(ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())?)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Result<ParquetBlocks, String> {
        Self::build(
            ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
                .map_err(|e| e.to_string())?,
        )
    }

    fn build<R: parquet::file::reader::ChunkReader + 'static>(
        builder: ParquetRecordBatchReaderBuilder<R>,
    ) -> Result<ParquetBlocks, String> {
        let schema = builder.schema().clone();
        let mut read = Vec::new();
        for (index, column) in schema.fields().iter().enumerate() {
            let Some(field) = Field::of_key(column.name().as_bytes()) else {
                continue;
            };
            if !readable(column.data_type()) {
                return Err(format!(
                    "column {:?} has type {}: expected a string or integer column",
                    column.name(),
                    column.data_type()
                ));
            }
            read.push((field, index));
        }
        for required in [
            Field::EniId,
            Field::Direction,
            Field::Protocol,
            Field::SrcAddr,
            Field::DstAddr,
        ] {
            if !read.iter().any(|(field, _)| *field == required) {
                return Err(format!(
                    "no column {:?}: expected columns named like the flow-log fields (eni-id, direction, protocol, srcaddr, dstaddr, …)",
                    required.key()
                ));
            }
        }
        // PERF: decode only the columns read (a shipped file may hold 20 or more).
        let mask = ProjectionMask::roots(
            builder.parquet_schema(),
            read.iter().map(|&(_, index)| index),
        );
        // In the projected batches, columns keep their order in the file.
        let mut by_position: Vec<usize> = read.iter().map(|&(_, index)| index).collect();
        by_position.sort_unstable();
        let columns = read
            .iter()
            .map(|&(field, index)| {
                let position = by_position.binary_search(&index).expect("projected");
                (field, position)
            })
            .collect();
        let reader = builder
            .with_projection(mask)
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(ParquetBlocks {
            reader,
            columns,
            next_row: 1,
        })
    }

    pub fn next_block(&mut self) -> Result<Option<Box<dyn Block>>, String> {
        match self.reader.next() {
            None => Ok(None),
            Some(Err(err)) => Err(format!("row {}: {err}", self.next_row)),
            Some(Ok(batch)) => {
                let first_row = self.next_row;
                self.next_row += batch.num_rows() as u64;
                Ok(Some(Box::new(BatchBlock {
                    batch,
                    columns: self.columns.clone(),
                    first_row,
                })))
            }
        }
    }
}

fn readable(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Null
    )
}

struct BatchBlock {
    batch: RecordBatch,
    columns: Vec<(Field, usize)>,
    first_row: u64,
}

/// A column, downcast once per block.
enum Column<'a> {
    Utf8(&'a arrow_array::StringArray),
    LargeUtf8(&'a arrow_array::LargeStringArray),
    Utf8View(&'a arrow_array::StringViewArray),
    Int64(&'a arrow_array::Int64Array),
    Int32(&'a arrow_array::Int32Array),
    Int(&'a dyn Array, fn(&dyn Array, usize) -> i64),
    Null,
}

impl<'a> Column<'a> {
    fn of(array: &'a dyn Array) -> Column<'a> {
        fn int<T>(array: &dyn Array, row: usize) -> i64
        where
            T: arrow_array::ArrowPrimitiveType,
            T::Native: TryInto<i64>,
        {
            // Beyond i64 no count or port is valid anyway: saturate, and the range check
            // reports it.
            array
                .as_primitive::<T>()
                .value(row)
                .try_into()
                .unwrap_or(i64::MAX)
        }
        match array.data_type() {
            DataType::Utf8 => Column::Utf8(array.as_string::<i32>()),
            DataType::LargeUtf8 => Column::LargeUtf8(array.as_string::<i64>()),
            DataType::Utf8View => Column::Utf8View(array.as_string_view()),
            DataType::Int8 => Column::Int(array, int::<Int8Type>),
            DataType::Int16 => Column::Int(array, int::<Int16Type>),
            DataType::Int32 => Column::Int32(array.as_primitive::<Int32Type>()),
            DataType::Int64 => Column::Int64(array.as_primitive::<Int64Type>()),
            DataType::UInt8 => Column::Int(array, int::<UInt8Type>),
            DataType::UInt16 => Column::Int(array, int::<UInt16Type>),
            DataType::UInt32 => Column::Int(array, int::<UInt32Type>),
            DataType::UInt64 => Column::Int(array, int::<UInt64Type>),
            _ => Column::Null,
        }
    }

    fn value(&self, row: usize) -> Value<'a> {
        match self {
            Column::Utf8(array) if array.is_valid(row) => Value::text(array.value(row)),
            Column::LargeUtf8(array) if array.is_valid(row) => Value::text(array.value(row)),
            Column::Utf8View(array) if array.is_valid(row) => Value::text(array.value(row)),
            Column::Int64(array) if array.is_valid(row) => Value::Int(array.value(row)),
            Column::Int32(array) if array.is_valid(row) => Value::Int(array.value(row).into()),
            Column::Int(array, value) if array.is_valid(row) => Value::Int(value(*array, row)),
            _ => Value::Absent,
        }
    }
}

impl Block for BatchBlock {
    fn len(&self) -> usize {
        self.batch.num_rows()
    }

    fn records(
        &self,
        range: Range<usize>,
        each: &mut dyn FnMut(u64, Result<RawRecord<'_>, RecordError>),
    ) {
        let columns: Vec<(Field, Column<'_>)> = self
            .columns
            .iter()
            .map(|&(field, index)| (field, Column::of(self.batch.column(index).as_ref())))
            .collect();
        for row in range {
            let mut record = RawRecord::default();
            for (field, column) in &columns {
                record.set(*field, column.value(row));
            }
            each(self.first_row + row as u64, Ok(record));
        }
    }
}
