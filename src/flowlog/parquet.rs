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
        let mut columns = Vec::new();
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
            columns.push((field, index));
        }
        for required in [
            Field::EniId,
            Field::Direction,
            Field::Protocol,
            Field::SrcAddr,
            Field::DstAddr,
        ] {
            if !columns.iter().any(|(field, _)| *field == required) {
                return Err(format!(
                    "no column {:?}: expected columns named like the flow-log fields (eni-id, direction, protocol, srcaddr, dstaddr, …)",
                    required.key()
                ));
            }
        }
        let reader = builder
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

/// A column's value at a row as a [`Value`].
fn value_at(array: &dyn Array, row: usize) -> Value<'_> {
    if array.is_null(row) {
        return Value::Absent;
    }
    match array.data_type() {
        DataType::Utf8 => Value::text(array.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => Value::text(array.as_string::<i64>().value(row)),
        DataType::Utf8View => Value::text(array.as_string_view().value(row)),
        DataType::Int8 => Value::Int(array.as_primitive::<Int8Type>().value(row).into()),
        DataType::Int16 => Value::Int(array.as_primitive::<Int16Type>().value(row).into()),
        DataType::Int32 => Value::Int(array.as_primitive::<Int32Type>().value(row).into()),
        DataType::Int64 => Value::Int(array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => Value::Int(array.as_primitive::<UInt8Type>().value(row).into()),
        DataType::UInt16 => Value::Int(array.as_primitive::<UInt16Type>().value(row).into()),
        DataType::UInt32 => Value::Int(array.as_primitive::<UInt32Type>().value(row).into()),
        // Beyond i64 no count or port is valid anyway: saturate, and the range check reports it.
        DataType::UInt64 => Value::Int(
            i64::try_from(array.as_primitive::<UInt64Type>().value(row)).unwrap_or(i64::MAX),
        ),
        _ => Value::Absent,
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
        let arrays: Vec<(Field, &dyn Array)> = self
            .columns
            .iter()
            .map(|&(field, index)| (field, self.batch.column(index).as_ref()))
            .collect();
        for row in range {
            let mut record = RawRecord::default();
            for &(field, array) in &arrays {
                record.set(field, value_at(array, row));
            }
            each(self.first_row + row as u64, Ok(record));
        }
    }
}
