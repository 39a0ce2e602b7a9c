//! `Engine.evaluate`: Arrow record batches in, verdict columns out, on rayon's threads.
//!
//! Each row's seven fields go through `sgsim::eval::bulk::FieldReader`, which reads them as
//! `sgsim eval` reads a CSV row, so verdicts and error messages are the command's; rows then go
//! through `Engine::check_batch` a chunk at a time. No Python object is made per row.

use arrow_array::builder::StringBuilder;
use arrow_array::{new_null_array, Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use rayon::prelude::*;
use sgsim::eval::bulk::FieldReader;
use sgsim::input::flows::INPUT_COLUMNS;
use sgsim::model::{Reason, Verdict};
use sgsim::Engine;
use std::sync::Arc;

/// Rows per task: big enough that a task's set-up is noise, small enough that every thread
/// gets several tasks of a large batch.
const MIN_CHUNK_ROWS: usize = 4096;
const MAX_CHUNK_ROWS: usize = 65_536;

/// Why a whole input was refused (a bad row never refuses it: it gets the verdict "error").
#[derive(Debug)]
pub enum EvalError {
    /// A missing column or one of a type that is neither strings nor integers.
    Column { column: String, message: String },
    /// The thread pool could not be built.
    Threads(String),
}

/// verdict, reason, security_group_id, rule_id, error: `sgsim eval`'s appended columns, with
/// null for its empty fields, and the message of a row that could not be evaluated.
pub fn output_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("verdict", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, true),
        Field::new("security_group_id", DataType::Utf8, true),
        Field::new("rule_id", DataType::Utf8, true),
        Field::new("error", DataType::Utf8, true),
    ]))
}

/// Evaluates every row of `batches` in order; the output batches line up with the input rows
/// (a large input batch comes back as several).
pub fn evaluate(
    engine: &Engine,
    batches: &[RecordBatch],
    threads: Option<usize>,
) -> Result<Vec<RecordBatch>, EvalError> {
    // Check every batch's columns before evaluating anything.
    let inputs = batches
        .iter()
        .map(FlowColumns::of)
        .collect::<Result<Vec<_>, _>>()?;
    let widths = IdWidths::of(engine);
    let run = || {
        let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
        let chunk_rows =
            (total / (4 * rayon::current_num_threads())).clamp(MIN_CHUNK_ROWS, MAX_CHUNK_ROWS);
        let tasks: Vec<(&FlowColumns, usize, usize)> = inputs
            .iter()
            .flat_map(|columns| {
                (0..columns.rows)
                    .step_by(chunk_rows)
                    .map(move |start| (columns, start, chunk_rows.min(columns.rows - start)))
            })
            .collect();
        tasks
            .into_par_iter()
            .map(|(columns, start, rows)| evaluate_chunk(engine, columns, start, rows, widths))
            .collect()
    };
    match threads {
        None => Ok(run()),
        Some(threads) => rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map(|pool| pool.install(run))
            .map_err(|err| EvalError::Threads(format!("threads={threads}: {err}"))),
    }
}

/// The seven input columns of one batch, as strings (other accepted types cast once).
struct FlowColumns {
    columns: [StringArray; 7],
    rows: usize,
}

impl FlowColumns {
    fn of(batch: &RecordBatch) -> Result<FlowColumns, EvalError> {
        let mut columns = Vec::with_capacity(INPUT_COLUMNS.len());
        for name in INPUT_COLUMNS {
            columns.push(text_column(batch, name)?);
        }
        let columns: [StringArray; 7] = columns
            .try_into()
            .unwrap_or_else(|_| unreachable!("one column per input column name"));
        Ok(FlowColumns {
            columns,
            rows: batch.num_rows(),
        })
    }

    /// The row's fields as the CSV would hold them: null is the empty field.
    #[inline]
    fn row(&self, row: usize) -> [&str; 7] {
        #[inline(always)]
        fn field(column: &StringArray, row: usize) -> &str {
            if column.is_null(row) {
                ""
            } else {
                column.value(row)
            }
        }
        let [nic, direction, protocol, src_ip, src_port, dst_ip, dst_port] = &self.columns;
        [
            field(nic, row),
            field(direction, row),
            field(protocol, row),
            field(src_ip, row),
            field(src_port, row),
            field(dst_ip, row),
            field(dst_port, row),
        ]
    }
}

fn text_column(batch: &RecordBatch, name: &str) -> Result<StringArray, EvalError> {
    let Some(array) = batch.column_by_name(name) else {
        let found: Vec<&str> = batch
            .schema_ref()
            .fields()
            .iter()
            .map(|field| field.name().as_str())
            .collect();
        return Err(EvalError::Column {
            column: name.to_string(),
            message: format!(
                "column {name:?} is missing: expected the columns {} (found {})",
                INPUT_COLUMNS.join(", "),
                if found.is_empty() {
                    "none".to_string()
                } else {
                    found.join(", ")
                }
            ),
        });
    };
    match array.data_type() {
        DataType::Utf8 => Ok(downcast::<StringArray>(array)),
        data_type if castable_to_text(data_type) => {
            let cast =
                arrow_cast::cast(array, &DataType::Utf8).map_err(|err| EvalError::Column {
                    column: name.to_string(),
                    message: format!(
                        "column {name:?} ({data_type}): cannot be read as text: {err}"
                    ),
                })?;
            Ok(downcast::<StringArray>(&cast))
        }
        data_type => Err(EvalError::Column {
            column: name.to_string(),
            message: format!(
                "column {name:?} has type {data_type}: expected strings or integers \
                 (null where the CSV field would be empty)"
            ),
        }),
    }
}

/// Strings in other layouts, integers, all-null columns, and dictionaries of those.
fn castable_to_text(data_type: &DataType) -> bool {
    match data_type {
        DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => true,
        DataType::Dictionary(_, values) => {
            matches!(
                **values,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) || values.is_integer()
        }
        other => other.is_integer(),
    }
}

fn downcast<T: Array + Clone + 'static>(array: &ArrayRef) -> T {
    array
        .as_any()
        .downcast_ref::<T>()
        .unwrap_or_else(|| unreachable!("the data type was matched"))
        .clone()
}

/// Rows parsed and decided at a time inside a task, as `sgsim eval` does: their queries and
/// verdicts (~130 KiB) stay in the core's cache, where a whole 65 536-row task wrote 4 MiB.
const BATCH_ROWS: usize = 2048;

/// Evaluates rows `start..start + rows` of one batch into one output batch.
fn evaluate_chunk(
    engine: &Engine,
    columns: &FlowColumns,
    start: usize,
    rows: usize,
    widths: IdWidths,
) -> RecordBatch {
    let mut output = OutputColumns::with_capacity(rows, widths);
    let mut reader = FieldReader::new(engine);
    let mut queries = Vec::with_capacity(BATCH_ROWS.min(rows));
    // Per row: whether it became a query (queries keep the rows' order), or the message
    // `sgsim eval` reports for it.
    let mut parsed: Vec<Result<(), String>> = Vec::with_capacity(BATCH_ROWS.min(rows));
    let mut verdicts = Vec::with_capacity(BATCH_ROWS.min(rows));
    let end = start + rows;
    for batch_start in (start..end).step_by(BATCH_ROWS) {
        queries.clear();
        for row in batch_start..end.min(batch_start + BATCH_ROWS) {
            parsed.push(reader.read_into(columns.row(row), &mut queries));
        }
        engine.check_batch_into(&queries, &mut verdicts);
        let mut decided = verdicts.iter();
        for row in parsed.drain(..) {
            match row {
                Ok(()) => {
                    let verdict = decided.next().expect("one verdict per query");
                    output.push_verdict(engine, verdict);
                }
                Err(message) => output.push_error(message),
            }
        }
    }
    output.finish()
}

/// The longest group and rule ids of the snapshot: room for the output's id columns, so that
/// they never grow (and copy) while they are filled. Pages never written cost nothing.
#[derive(Clone, Copy)]
struct IdWidths {
    group: usize,
    rule: usize,
}

impl IdWidths {
    fn of(engine: &Engine) -> IdWidths {
        let groups = engine.snapshot().groups();
        IdWidths {
            group: groups.iter().map(|group| group.id.len()).max().unwrap_or(0),
            rule: groups
                .iter()
                .flat_map(|group| &group.rules)
                .map(|rule| rule.id.len())
                .max()
                .unwrap_or(0),
        }
    }
}

/// The output columns of one task, filled row by row.
struct OutputColumns {
    verdict: StringBuilder,
    reason: StringBuilder,
    group: StringBuilder,
    rule: StringBuilder,
    /// Each bad row's index in the task and message: the column is built at the end, all
    /// null without a bad row (PERF: one null per row was a builder call per row).
    errors: Vec<(usize, String)>,
    rows: usize,
}

impl OutputColumns {
    fn with_capacity(rows: usize, widths: IdWidths) -> OutputColumns {
        OutputColumns {
            verdict: StringBuilder::with_capacity(rows, rows * 6),
            reason: StringBuilder::with_capacity(rows, rows * 7),
            group: StringBuilder::with_capacity(rows, rows * widths.group),
            rule: StringBuilder::with_capacity(rows, rows * widths.rule),
            errors: Vec::new(),
            rows: 0,
        }
    }

    #[inline]
    fn push_verdict(&mut self, engine: &Engine, answer: &Verdict) {
        self.verdict.append_value(answer.action.as_str());
        self.reason.append_value(answer.reason.as_str());
        match answer.reason {
            Reason::Rule(rule_ref) => {
                let (deciding_group, deciding_rule) = engine.rule(rule_ref);
                self.group.append_value(&deciding_group.id);
                self.rule.append_value(&deciding_rule.id);
            }
            _ => {
                self.group.append_null();
                self.rule.append_null();
            }
        }
        self.rows += 1;
    }

    fn push_error(&mut self, message: String) {
        self.verdict.append_value("error");
        self.reason.append_null();
        self.group.append_null();
        self.rule.append_null();
        self.errors.push((self.rows, message));
        self.rows += 1;
    }

    fn error_column(&self) -> ArrayRef {
        if self.errors.is_empty() {
            return new_null_array(&DataType::Utf8, self.rows);
        }
        let mut column = StringBuilder::new();
        let mut next = 0;
        for (row, message) in &self.errors {
            column.append_nulls(row - next);
            column.append_value(message);
            next = row + 1;
        }
        column.append_nulls(self.rows - next);
        Arc::new(column.finish())
    }

    fn finish(mut self) -> RecordBatch {
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(self.verdict.finish()),
            Arc::new(self.reason.finish()),
            Arc::new(self.group.finish()),
            Arc::new(self.rule.finish()),
            self.error_column(),
        ];
        RecordBatch::try_new(output_schema(), arrays)
            .unwrap_or_else(|err| unreachable!("the columns match the schema: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_columns_are_the_csv_header() {
        assert_eq!(INPUT_COLUMNS.join(","), sgsim::eval::bulk::INPUT_HEADER);
    }
}
