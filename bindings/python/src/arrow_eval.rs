//! `Engine.evaluate`: Arrow record batches in, verdict columns out, on rayon's threads.
//!
//! Each row's seven fields go through `sgsim::eval::bulk::parse_fields`, the parsing `sgsim eval`
//! gives a CSV row, so verdicts and error messages are the command's; rows then go through
//! `Engine::check_batch` a chunk at a time. No Python object is made per row.

use arrow_array::builder::StringBuilder;
use arrow_array::{Array, ArrayRef, LargeStringArray, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use rayon::prelude::*;
use sgsim::eval::bulk::parse_fields;
use sgsim::input::flows::INPUT_COLUMNS;
use sgsim::model::{Action, Reason, Verdict};
use sgsim::{Engine, Query};
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
            .map(|(columns, start, rows)| evaluate_chunk(engine, columns, start, rows))
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

/// One input column as text: strings as they are, other accepted types cast to strings once.
enum TextColumn {
    Utf8(StringArray),
    LargeUtf8(LargeStringArray),
}

impl TextColumn {
    /// The field as the CSV would hold it: null is the empty field.
    #[inline]
    fn field(&self, row: usize) -> &str {
        match self {
            TextColumn::Utf8(array) if array.is_valid(row) => array.value(row),
            TextColumn::LargeUtf8(array) if array.is_valid(row) => array.value(row),
            _ => "",
        }
    }
}

/// The seven input columns of one batch.
struct FlowColumns {
    columns: [TextColumn; 7],
    rows: usize,
}

impl FlowColumns {
    fn of(batch: &RecordBatch) -> Result<FlowColumns, EvalError> {
        let mut columns = Vec::with_capacity(INPUT_COLUMNS.len());
        for name in INPUT_COLUMNS {
            columns.push(text_column(batch, name)?);
        }
        let columns: [TextColumn; 7] = columns
            .try_into()
            .unwrap_or_else(|_| unreachable!("one column per input column name"));
        Ok(FlowColumns {
            columns,
            rows: batch.num_rows(),
        })
    }

    #[inline]
    fn row(&self, row: usize) -> [&str; 7] {
        std::array::from_fn(|column| self.columns[column].field(row))
    }
}

fn text_column(batch: &RecordBatch, name: &str) -> Result<TextColumn, EvalError> {
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
        DataType::Utf8 => Ok(TextColumn::Utf8(downcast::<StringArray>(array))),
        DataType::LargeUtf8 => Ok(TextColumn::LargeUtf8(downcast::<LargeStringArray>(array))),
        data_type if castable_to_text(data_type) => {
            let cast =
                arrow_cast::cast(array, &DataType::Utf8).map_err(|err| EvalError::Column {
                    column: name.to_string(),
                    message: format!(
                        "column {name:?} ({data_type}): cannot be read as text: {err}"
                    ),
                })?;
            Ok(TextColumn::Utf8(downcast::<StringArray>(&cast)))
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
        DataType::Utf8View | DataType::Null => true,
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

/// Evaluates rows `start..start + rows` of one batch.
fn evaluate_chunk(
    engine: &Engine,
    columns: &FlowColumns,
    start: usize,
    rows: usize,
) -> RecordBatch {
    let mut queries = Vec::with_capacity(rows);
    // Per row: the index of its query, or the message `sgsim eval` reports for it.
    let mut parsed: Vec<Result<usize, String>> = Vec::with_capacity(rows);
    let mut last_target = None;
    for row in start..start + rows {
        match parse_fields(engine, columns.row(row), &mut last_target) {
            Ok((target, flow)) => {
                parsed.push(Ok(queries.len()));
                queries.push(Query { target, flow });
            }
            Err(message) => parsed.push(Err(message)),
        }
    }
    let placeholder = Verdict {
        action: Action::Drop,
        reason: Reason::Default,
    };
    let mut verdicts = vec![placeholder; queries.len()];
    engine.check_batch(&queries, &mut verdicts);

    let mut verdict = StringBuilder::with_capacity(rows, rows * 6);
    let mut reason = StringBuilder::with_capacity(rows, rows * 7);
    let mut group = StringBuilder::with_capacity(rows, rows * 12);
    let mut rule = StringBuilder::with_capacity(rows, rows * 16);
    let mut error = StringBuilder::new();
    for row in &parsed {
        match row {
            Ok(index) => {
                let answer = &verdicts[*index];
                verdict.append_value(answer.action.as_str());
                reason.append_value(answer.reason.as_str());
                match answer.reason {
                    Reason::Rule(rule_ref) => {
                        let (deciding_group, deciding_rule) = engine.rule(rule_ref);
                        group.append_value(&deciding_group.id);
                        rule.append_value(&deciding_rule.id);
                    }
                    _ => {
                        group.append_null();
                        rule.append_null();
                    }
                }
                error.append_null();
            }
            Err(message) => {
                verdict.append_value("error");
                reason.append_null();
                group.append_null();
                rule.append_null();
                error.append_value(message);
            }
        }
    }
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(verdict.finish()),
        Arc::new(reason.finish()),
        Arc::new(group.finish()),
        Arc::new(rule.finish()),
        Arc::new(error.finish()),
    ];
    RecordBatch::try_new(output_schema(), arrays)
        .unwrap_or_else(|err| unreachable!("the columns match the schema: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_columns_are_the_csv_header() {
        assert_eq!(INPUT_COLUMNS.join(","), sgsim::eval::bulk::INPUT_HEADER);
    }
}
