//! Regular input files mapped into memory, so that `sgsim eval` reads them where the kernel's
//! page cache holds them.
//!
//! PERF: reading a 517 MB flows file with `read` copied it out of the page cache, ~10 % of
//! `sgsim eval`'s CPU time on 10 M rows (`_copy_to_iter` in `perf`); mapped, its blocks are
//! evaluated in place.
//!
//! This is the command line's only `unsafe` code: mapping a file is `unsafe` because the
//! mapping's bytes change if another process writes the file meanwhile (what we read is then
//! whatever the file held when each page was read, as with `read`), and a process that
//! truncates the file makes our reads past its new end fault (SIGBUS). `sgsim eval` documents
//! that its input must not be truncated while it runs; stdin and pipes are read with `read`.
#![allow(unsafe_code)]

use memmap2::{Advice, Mmap, UncheckedAdvice};
use std::fs::File;
use std::ops::Range;

/// A file mapped read-only, whole.
pub struct MappedFile {
    map: Mmap,
}

impl MappedFile {
    /// Maps `file` if it is a regular, non-empty file (`None` otherwise, or when the system
    /// refuses: the caller then reads it).
    pub fn of(file: &File) -> Option<MappedFile> {
        let metadata = file.metadata().ok()?;
        if !metadata.is_file() || metadata.len() == 0 {
            return None;
        }
        // SAFETY: see the module's comment: the mapping is only read, as bytes.
        let map = unsafe { Mmap::map(file) }.ok()?;
        // Read front to back: the kernel may read ahead further and drop pages behind.
        let _ = map.advise(Advice::Sequential);
        Some(MappedFile { map })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Lets the pages of `bytes` go from this process's memory (they stay in the page cache),
    /// so that its resident memory stays flat over a long file; the page `bytes` ends in stays.
    /// The bytes remain readable (read again from the page cache if they are).
    pub fn release(&self, bytes: Range<usize>) {
        let start = bytes.start / PAGE * PAGE;
        let end = bytes.end.min(self.map.len()) / PAGE * PAGE;
        if start < end {
            // SAFETY: MADV_DONTNEED on a read-only shared file mapping drops only this
            // process's page table entries: a later read of those bytes faults the same file
            // contents back in, so no reference into the mapping ever sees other bytes.
            let _ = unsafe {
                self.map
                    .unchecked_advise_range(UncheckedAdvice::DontNeed, start, end - start)
            };
        }
    }
}

/// A multiple of the page size on every Linux configuration (4, 16 and 64 KiB pages), which is
/// all the offsets released need.
const PAGE: usize = 64 << 10;
