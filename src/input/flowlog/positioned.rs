//! A Parquet file read by position, for the `parquet` crate's readers.
//!
//! PERF: the crate reads a `File` by duplicating its descriptor, seeking and reading through a
//! new 8 KiB buffer for every page header and every page, then closing the copy: on the
//! README's 10 M-record file, ~14 000 each of `dup` (`fcntl`), `lseek` and `close`, and ~22 000
//! `read`s, all on the one thread that decodes while the others wait for its block. Reading by
//! position (`pread`) on the one descriptor takes one call per header and per page.

use bytes::Bytes;
use parquet::errors::{ParquetError, Result};
use parquet::file::reader::{ChunkReader, Length};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// A file and its length when opened.
pub(super) struct PositionedFile {
    file: Arc<File>,
    len: u64,
}

impl PositionedFile {
    pub(super) fn new(file: File) -> io::Result<PositionedFile> {
        let len = file.metadata()?.len();
        Ok(PositionedFile {
            file: Arc::new(file),
            len,
        })
    }
}

impl Length for PositionedFile {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for PositionedFile {
    type T = BufReader<ReaderAt>;

    fn get_read(&self, start: u64) -> Result<Self::T> {
        Ok(BufReader::new(ReaderAt {
            file: Arc::clone(&self.file),
            position: start,
        }))
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes> {
        let mut buffer = vec![0; length];
        match self.file.read_exact_at(&mut buffer, start) {
            Ok(()) => Ok(buffer.into()),
            Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => Err(ParquetError::EOF(
                format!("expected {length} bytes at offset {start}, the file ends before"),
            )),
            Err(err) => Err(err.into()),
        }
    }
}

/// Reads a file from a position on, leaving the descriptor's own offset alone.
pub(super) struct ReaderAt {
    file: Arc<File>,
    position: u64,
}

impl Read for ReaderAt {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.file.read_at(buf, self.position)?;
        self.position += read as u64;
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn ranges_and_readers_give_the_file_s_bytes() {
        let bytes: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&bytes).unwrap();
        let positioned = PositionedFile::new(file).unwrap();
        assert_eq!(Length::len(&positioned), bytes.len() as u64);
        for (start, length) in [(0, 0), (0, 10), (8_191, 3), (12_345, 7_655), (19_999, 1)] {
            let got = positioned.get_bytes(start as u64, length).unwrap();
            assert_eq!(&got[..], &bytes[start..start + length]);
            let mut read = Vec::new();
            positioned
                .get_read(start as u64)
                .unwrap()
                .read_to_end(&mut read)
                .unwrap();
            assert_eq!(read, &bytes[start..]);
        }
        let past_the_end = positioned.get_bytes(19_990, 11).unwrap_err();
        assert!(
            past_the_end.to_string().contains("ends before"),
            "{past_the_end}"
        );
    }
}
