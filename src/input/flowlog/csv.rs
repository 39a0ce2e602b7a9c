//! CSV records as OSS shipping writes them: a header row naming the fields (in the order the
//! user chose), then one record per line, delimited by `,`, `|`, tab or space. Quoted fields
//! (`"` quotes, doubled to escape) go through the csv crate; plain rows are split in one pass.

use super::{Field, RawRecord, RecordError, Value};

/// Where each field sits in a row, read from the header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvLayout {
    pub delimiter: u8,
    /// Per column: the field it holds, if sgsim reads it.
    pub columns: Vec<Option<Field>>,
}

const DELIMITERS: [u8; 4] = [b',', b'|', b'\t', b' '];

impl CsvLayout {
    /// Reads the header: the delimiter is the one that splits it into the most field names
    /// sgsim knows. The header must name at least `eni-id`, `direction`, `protocol`,
    /// `srcaddr` and `dstaddr`.
    pub fn from_header(header: &str) -> Result<CsvLayout, String> {
        let header = header
            .trim_start_matches('\u{feff}')
            .trim_end_matches(['\r', '\n']);
        let layout = DELIMITERS
            .iter()
            .map(|&delimiter| CsvLayout {
                delimiter,
                columns: split_plain(header.as_bytes(), delimiter)
                    .map(|name| {
                        let name = name.trim_ascii();
                        let name = name
                            .strip_prefix(b"\"")
                            .and_then(|n| n.strip_suffix(b"\""))
                            .unwrap_or(name);
                        Field::of_key(name)
                    })
                    .collect(),
            })
            .max_by_key(|layout| layout.columns.iter().flatten().count())
            .expect("there are delimiters");
        let required = [
            Field::EniId,
            Field::Direction,
            Field::Protocol,
            Field::SrcAddr,
            Field::DstAddr,
        ];
        let missing: Vec<&str> = required
            .iter()
            .filter(|field| !layout.columns.contains(&Some(**field)))
            .map(|field| field.key())
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "header {header:?}: expected a header row naming the flow-log fields, delimited by ',', '|', tab or space; missing {}",
                missing.join(", ")
            ));
        }
        Ok(layout)
    }

    /// Reads one row. `owned` keeps the fields of a quoted row alive for the record.
    pub fn parse_line<'a>(
        &self,
        line: &'a [u8],
        owned: &'a mut Vec<String>,
    ) -> Result<RawRecord<'a>, RecordError> {
        let text = std::str::from_utf8(line).map_err(|_| {
            RecordError::record(String::from_utf8_lossy(line), "a row of UTF-8 text")
        })?;
        let mut record = RawRecord::default();
        let mut count = 0;
        if memchr::memchr(b'"', line).is_none() {
            for (column, value) in split_plain(line, self.delimiter).enumerate() {
                if let Some(Some(field)) = self.columns.get(column) {
                    // Split at ASCII bytes of UTF-8 text, so still UTF-8.
                    let value = std::str::from_utf8(value).unwrap_or_default();
                    record.set(*field, Value::text(value));
                }
                count += 1;
            }
        } else {
            let mut reader = ::csv::ReaderBuilder::new()
                .has_headers(false)
                .delimiter(self.delimiter)
                .from_reader(line);
            let row = match reader.records().next() {
                Some(Ok(row)) => row,
                Some(Err(err)) => {
                    return Err(RecordError::record(text, format!("a CSV row ({err})")))
                }
                None => csv::StringRecord::new(),
            };
            *owned = row.iter().map(str::to_string).collect();
            count = owned.len();
            for (column, value) in owned.iter().enumerate() {
                if let Some(Some(field)) = self.columns.get(column) {
                    record.set(*field, Value::text(value));
                }
            }
        }
        if count != self.columns.len() {
            return Err(RecordError::record(
                text,
                format!(
                    "{} fields as the header names ({count} found)",
                    self.columns.len()
                ),
            ));
        }
        Ok(record)
    }
}

fn split_plain(line: &[u8], delimiter: u8) -> impl Iterator<Item = &[u8]> {
    line.split(move |&b| b == delimiter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delimiter_is_found_from_the_header() {
        for delimiter in [",", "|", "\t", " "] {
            let header = [
                "eni-id",
                "direction",
                "protocol",
                "srcaddr",
                "dstaddr",
                "vm-id",
            ]
            .join(delimiter);
            let layout = CsvLayout::from_header(&header).unwrap();
            assert_eq!(layout.delimiter, delimiter.as_bytes()[0]);
            assert_eq!(layout.columns.len(), 6);
            let row = ["eni-1", "in", "6", "10.0.0.1", "10.0.0.2", "i-1"].join(delimiter);
            let mut owned = Vec::new();
            let record = layout.parse_line(row.as_bytes(), &mut owned).unwrap();
            assert_eq!(record.get(Field::SrcAddr), Value::Text("10.0.0.1"));
        }
    }

    #[test]
    fn quoted_rows_and_ragged_rows() {
        let layout = CsvLayout::from_header("eni-id,direction,protocol,srcaddr,dstaddr").unwrap();
        let mut owned = Vec::new();
        let record = layout
            .parse_line(br#""eni-1",in,6,"10.0.0.1",10.0.0.2"#, &mut owned)
            .unwrap();
        assert_eq!(record.get(Field::EniId), Value::Text("eni-1"));
        let err = layout
            .parse_line(b"eni-1,in,6", &mut Vec::new())
            .unwrap_err();
        assert_eq!(
            err.expected, "5 fields as the header names (3 found)",
            "{err}"
        );
        let err = CsvLayout::from_header("a,b,c").unwrap_err();
        assert!(err.contains("missing eni-id"), "{err}");
    }
}
