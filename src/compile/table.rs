//! Lookup tables in allocations of their own, the large ones in huge pages.
//!
//! A lookup reads a few entries of several tables at random. From about 1K rules those tables
//! reach megabytes, hundreds or thousands of 4 KiB pages: more than the processor's first TLB
//! maps, so lookups wait on TLB misses and page walks. A table in [`Pages::Huge`] is placed on
//! a 2 MiB boundary, its size rounded up to whole 2 MiB pages, and on Linux marked
//! `MADV_HUGEPAGE` before anything is written to it, so that the kernel backs it with 2 MiB
//! pages where transparent huge pages are enabled (`always`, or `madvise` as Debian and Ubuntu
//! ship it). Elsewhere, or if the kernel declines, the table works the same on small pages.
//!
//! PERF (`docs/engine.md`): the large tables and the front's chunk tables in huge pages ran
//! ipc1_10k's trace 1.06–1.08× and ipc1_1k's 1.05× faster on an AMD EPYC (Zen 3).
//!
//! `unsafe` here: the standard library has no safe way to allocate with a chosen alignment
//! and hand the memory out as a slice (`Box<[T], A>` with an allocator is unstable), and
//! `madvise` is a system call. Everything else in the engine uses [`Table`] as a `[T]`.
#![allow(unsafe_code)]

use std::alloc::{self, Layout};
use std::fmt;
use std::ops::Deref;
use std::ptr::NonNull;

/// The size of a huge page on x86-64 and most arm64 Linux kernels.
pub(crate) const HUGE_PAGE: usize = 2 << 20;

/// Where a [`Table`] goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pages {
    /// Huge pages if the table takes at least [`HUGE_PAGE`] bytes, else small ones: the padding
    /// to whole huge pages then costs at most half of the memory.
    BySize,
    /// Huge pages (whole ones), for a small table that every lookup reads.
    Huge,
}

/// An immutable array of `T`, read as a `[T]`, in pages chosen by [`Pages`].
pub(crate) struct Table<T: Copy> {
    start: NonNull<T>,
    len: usize,
    /// How `start` was allocated; `None` for a table of no bytes (nothing allocated).
    layout: Option<Layout>,
}

impl<T: Copy> Table<T> {
    /// A table holding a copy of `values`, in `pages`.
    pub(crate) fn new(values: &[T], pages: Pages) -> Table<T> {
        let bytes = std::mem::size_of_val(values);
        if bytes == 0 {
            return Table {
                start: NonNull::dangling(),
                len: values.len(),
                layout: None,
            };
        }
        let huge = pages == Pages::Huge || bytes >= HUGE_PAGE;
        let layout = if huge {
            Layout::from_size_align(bytes.next_multiple_of(HUGE_PAGE), HUGE_PAGE)
        } else {
            Layout::from_size_align(bytes, std::mem::align_of::<T>())
        }
        .expect("a table's size fits in isize");
        // SAFETY: `layout` has a non-zero size.
        let raw = unsafe { alloc::alloc(layout) };
        let Some(start) = NonNull::new(raw.cast::<T>()) else {
            alloc::handle_alloc_error(layout)
        };
        if huge {
            advise_huge_pages(raw, layout.size());
        }
        // SAFETY: `start` is a new allocation of at least `bytes` bytes aligned for `T`, so
        // valid for `values.len()` writes of `T`, and cannot overlap `values`.
        unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), start.as_ptr(), values.len()) };
        Table {
            start,
            len: values.len(),
            layout: Some(layout),
        }
    }

    /// Whether the table was placed in memory advised for huge pages.
    pub(crate) fn in_huge_pages(&self) -> bool {
        self.layout
            .is_some_and(|layout| layout.align() == HUGE_PAGE)
    }

    /// The bytes allocated: the values', rounded up to whole huge pages in huge pages.
    pub(crate) fn allocated_bytes(&self) -> usize {
        self.layout.map_or(0, |layout| layout.size())
    }
}

/// Asks the kernel to back `[start, start + bytes)` (2 MiB aligned) with huge pages.
#[cfg(target_os = "linux")]
fn advise_huge_pages(start: *mut u8, bytes: usize) {
    // A refusal (a kernel without transparent huge pages: `EINVAL`) leaves small pages, which
    // is only slower; there is nothing to report.
    // SAFETY: the range is one allocation of ours, page aligned; `MADV_HUGEPAGE` changes how
    // it is backed, never its contents.
    let _ = unsafe { libc::madvise(start.cast(), bytes, libc::MADV_HUGEPAGE) };
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_start: *mut u8, _bytes: usize) {}

impl<T: Copy> Drop for Table<T> {
    fn drop(&mut self) {
        if let Some(layout) = self.layout {
            // SAFETY: allocated in `new` with this layout, and dropped once.
            unsafe { alloc::dealloc(self.start.as_ptr().cast(), layout) };
        }
    }
}

impl<T: Copy> Deref for Table<T> {
    type Target = [T];

    #[inline(always)]
    fn deref(&self) -> &[T] {
        // SAFETY: `start` holds `len` initialized values (or is dangling with no bytes to
        // read), owned by this table for as long as the borrow.
        unsafe { std::slice::from_raw_parts(self.start.as_ptr(), self.len) }
    }
}

impl<T: Copy> From<Vec<T>> for Table<T> {
    /// The values in [`Pages::BySize`].
    fn from(values: Vec<T>) -> Table<T> {
        Table::new(&values, Pages::BySize)
    }
}

impl<T: Copy> Clone for Table<T> {
    fn clone(&self) -> Table<T> {
        let pages = if self.in_huge_pages() {
            Pages::Huge
        } else {
            Pages::BySize
        };
        Table::new(self, pages)
    }
}

impl<T: Copy + fmt::Debug> fmt::Debug for Table<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

// SAFETY: a `Table` owns its values as a `Box<[T]>` would and hands out only shared
// references to them.
unsafe impl<T: Copy + Send> Send for Table<T> {}
// SAFETY: as above.
unsafe impl<T: Copy + Sync> Sync for Table<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_hold_their_values() {
        for len in [
            0,
            1,
            3,
            1000,
            HUGE_PAGE / 4 - 1,
            HUGE_PAGE / 4,
            HUGE_PAGE / 4 * 3 + 5,
        ] {
            let values: Vec<u32> = (0..len as u32)
                .map(|i| i.wrapping_mul(2_654_435_761))
                .collect();
            for pages in [Pages::BySize, Pages::Huge] {
                let table = Table::new(&values, pages);
                let huge = len > 0 && (pages == Pages::Huge || len * 4 >= HUGE_PAGE);
                assert_eq!(&*table, values.as_slice(), "{len} values in {pages:?}");
                assert_eq!(table.in_huge_pages(), huge, "{len} values in {pages:?}");
                if huge {
                    assert_eq!(table.as_ptr() as usize % HUGE_PAGE, 0);
                    assert_eq!(
                        table.allocated_bytes(),
                        (len * 4).next_multiple_of(HUGE_PAGE)
                    );
                } else {
                    assert_eq!(table.allocated_bytes(), len * 4);
                }
                let copy = table.clone();
                drop(table);
                assert_eq!(&*copy, values.as_slice(), "a clone of {len} values");
                assert_eq!(copy.in_huge_pages(), huge, "a clone of {len} values");
            }
        }
        let narrow = Table::from(vec![7u16; 5]);
        assert_eq!(&*narrow, &[7u16; 5]);
        assert_eq!(format!("{narrow:?}"), "[7, 7, 7, 7, 7]");
    }
}
