//! A text log file (JSON lines or CSV) mapped into memory rather than read into buffers.
//!
//! PERF: reading a 4 GB JSON-lines file with `read()` copied every byte from the page cache
//! into the block (`rep_movs_alternative`, ~7 % of a 10 M-record replay, plus the page-cache
//! bookkeeping of the copy): a mapping hands the blocks the page cache's own pages. Each block
//! lets go of its pages when it is dropped (`MADV_DONTNEED`), so the resident memory stays that
//! of the blocks in flight, as with reading: a mapping's touched pages count in the RSS.
//!
//! This is the crate's third place of `unsafe` (with the JSON scanner's SSE2 pass and the
//! engine's vector kernels), through the `memmap2` crate: see the SAFETY notes below.
#![allow(unsafe_code)]

use memmap2::Mmap;
#[cfg(unix)]
use memmap2::{Advice, UncheckedAdvice};
use std::fs::File;
use std::ops::{Deref, Range};
use std::sync::Arc;

/// A whole file, mapped read-only.
pub(super) struct MappedFile(Mmap);

impl MappedFile {
    /// Maps `file` if it is a regular, non-empty file (pipes, devices and empty files are read
    /// as streams).
    pub(super) fn map(file: &File) -> Option<Arc<MappedFile>> {
        // Without `madvise` a block could not let its pages go, and memory would grow with the
        // file: elsewhere than on Unix text logs stream.
        if cfg!(not(unix)) {
            return None;
        }
        let metadata = file.metadata().ok()?;
        if !metadata.is_file() || metadata.len() == 0 {
            return None;
        }
        // SAFETY: the mapping is read-only and only ever read as bytes. What Rust cannot rule
        // out is another process changing the file while it is mapped: appending is harmless
        // (the mapping keeps its length), but truncating a log while `sgsim replay` reads it
        // ends the process with SIGBUS instead of an error (`docs/flowlogs.md` says so), the
        // trade every tool that maps its input makes (ripgrep, for one).
        let map = unsafe { Mmap::map(file) }.ok()?;
        // Only a hint for read-ahead: a failure changes nothing but speed.
        #[cfg(unix)]
        let _ = map.advise(Advice::Sequential);
        Some(Arc::new(MappedFile(map)))
    }

    pub(super) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// How far before a block its faults may map pages: fault-around stays within the 2 MiB of one
/// page-table page.
const FAULT_AROUND: usize = 2 << 20;

/// A range of a mapped file (a block's whole lines).
pub(super) struct MappedLines {
    file: Arc<MappedFile>,
    range: Range<usize>,
}

impl MappedLines {
    pub(super) fn new(file: Arc<MappedFile>, range: Range<usize>) -> MappedLines {
        MappedLines { file, range }
    }
}

impl Deref for MappedLines {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.file.bytes()[self.range.clone()]
    }
}

#[cfg(unix)]
impl Drop for MappedLines {
    fn drop(&mut self) {
        if self.range.is_empty() {
            return;
        }
        // The pages before the block too: a fault in this block maps the pages around it
        // ("fault-around", up to the 2 MiB boundary), the last block's included, after that
        // block let go of them. Kept, such pages added up to ~25 MiB over a 4 GB file, and
        // the partial pages at both ends of each block to ~60 MiB.
        let start = self.range.start.saturating_sub(FAULT_AROUND);
        // SAFETY: MADV_DONTNEED on a read-only shared file mapping only unmaps the pages: a
        // later read of them (by a block that shares a page with this one, on another thread)
        // faults them back in from the file with the same bytes, so no reference into the
        // mapping sees anything change. Only the resident memory changes; a failure leaves the
        // pages mapped, which costs memory, not correctness.
        let _ = unsafe {
            self.file.0.unchecked_advise_range(
                UncheckedAdvice::DontNeed,
                start,
                self.range.end - start,
            )
        };
    }
}
