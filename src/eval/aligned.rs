//! Output written in pieces that end on [`PIECE_BYTES`] boundaries of the output.
//!
//! PERF: the page cache takes writes of whole aligned pieces at less cost than writes of any
//! length at any offset: Linux (6.18 here, ext4) sizes the memory it caches a write in by the
//! write's length and the alignment of its offset. Writing 822 MB with `dd` took 0.25–0.29 s of
//! system time in 156 158-byte writes (the size of one `sgsim eval` task's output), 0.17–0.21 s
//! in 512 KiB or 1 MiB writes, and 1.0–1.9 s in 2 MiB or 4 MiB writes (large pages the kernel
//! has to assemble first). In `sgsim eval` on 10 M rows, pieces of 1 MiB took more system time
//! than task-sized writes (0.53–0.58 s against 0.29–0.35 s), pieces of 64 to 512 KiB less
//! (0.22–0.37 s) and alike, hence 128 KiB (`docs/engine.md`).

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};

/// The pieces' size and alignment.
const PIECE_BYTES: u64 = if cfg!(test) { 64 } else { 128 << 10 };

/// A writer that queues buffers and writes them in whole pieces; [`AlignedWrites::finish`]
/// writes the rest. Offsets count from where the output was when it was handed over, which is
/// the file's offset when the output is a file opened to be written from its start.
pub(crate) struct AlignedWrites<W> {
    output: W,
    /// Bytes written so far.
    position: u64,
    /// Buffers not yet written whole, in order; the front one from `front_written` on.
    pending: VecDeque<Vec<u8>>,
    front_written: usize,
    pending_bytes: u64,
}

impl<W: Write> AlignedWrites<W> {
    pub(crate) fn new(output: W) -> AlignedWrites<W> {
        AlignedWrites {
            output,
            position: 0,
            pending: VecDeque::new(),
            front_written: 0,
            pending_bytes: 0,
        }
    }

    /// Queues `bytes`, then writes every whole piece queued. Buffers written whole are handed
    /// back in `done`, cleared, for reuse.
    pub(crate) fn push(&mut self, bytes: Vec<u8>, done: &mut Vec<Vec<u8>>) -> io::Result<()> {
        self.pending_bytes += bytes.len() as u64;
        self.pending.push_back(bytes);
        let end = self.position + self.pending_bytes;
        self.write_up_to(end - end % PIECE_BYTES, done)
    }

    /// Writes what is queued and flushes the output.
    pub(crate) fn finish(mut self, done: &mut Vec<Vec<u8>>) -> io::Result<()> {
        self.write_up_to(self.position + self.pending_bytes, done)?;
        self.output.flush()
    }

    /// Writes the queued bytes up to offset `end`, one piece per write.
    fn write_up_to(&mut self, end: u64, done: &mut Vec<Vec<u8>>) -> io::Result<()> {
        while self.position < end {
            let piece_end = end.min((self.position / PIECE_BYTES + 1) * PIECE_BYTES);
            let mut wanted = (piece_end - self.position) as usize;
            let mut slices = Vec::with_capacity(self.pending.len());
            let mut skip = self.front_written;
            for buffer in &self.pending {
                let take = (buffer.len() - skip).min(wanted);
                if take > 0 {
                    slices.push(IoSlice::new(&buffer[skip..skip + take]));
                }
                wanted -= take;
                skip = 0;
                if wanted == 0 {
                    break;
                }
            }
            let written = match self.output.write_vectored(&slices) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(written) => written,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            self.consume(written, done);
        }
        Ok(())
    }

    /// Drops `count` written bytes from the front of the queue.
    fn consume(&mut self, mut count: usize, done: &mut Vec<Vec<u8>>) {
        self.position += count as u64;
        self.pending_bytes -= count as u64;
        while count > 0 {
            let front_left = self.pending[0].len() - self.front_written;
            if count < front_left {
                self.front_written += count;
                return;
            }
            count -= front_left;
            self.front_written = 0;
            let mut buffer = self.pending.pop_front().expect("counted bytes are queued");
            buffer.clear();
            done.push(buffer);
        }
        // Empty buffers at the front are written whole too.
        while self.pending.front().is_some_and(|buffer| buffer.is_empty()) {
            done.extend(self.pending.pop_front());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// Records every write's offset and length; takes at most `limit` bytes a call, as a
    /// pipe may.
    struct Recorder {
        bytes: Vec<u8>,
        writes: Vec<(usize, usize)>,
        limit: usize,
    }

    impl Write for Recorder {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.write_vectored(&[IoSlice::new(buf)])
        }
        fn write_vectored(&mut self, slices: &[IoSlice<'_>]) -> io::Result<usize> {
            let start = self.bytes.len();
            for slice in slices {
                let take = slice.len().min(self.limit - (self.bytes.len() - start));
                self.bytes.extend_from_slice(&slice[..take]);
            }
            self.writes.push((start, self.bytes.len() - start));
            Ok(self.bytes.len() - start)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_byte_is_written_in_order_and_every_write_but_the_last_ends_a_piece() {
        let mut rng = Rng::new(21);
        for case in 0..200 {
            let limit = if case % 2 == 0 {
                usize::MAX
            } else {
                1 + rng.below(100) as usize
            };
            let mut recorder = Recorder {
                bytes: Vec::new(),
                writes: Vec::new(),
                limit,
            };
            let mut expected = Vec::new();
            let mut done = Vec::new();
            let mut handed = 0;
            {
                let mut writes = AlignedWrites::new(&mut recorder);
                for _ in 0..rng.below(20) {
                    let len = rng.below(150) as usize;
                    let buffer: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
                    expected.extend_from_slice(&buffer);
                    handed += 1;
                    writes.push(buffer, &mut done).unwrap();
                    assert!(writes.pending_bytes < PIECE_BYTES, "whole pieces wait");
                }
                writes.finish(&mut done).unwrap();
            }
            assert_eq!(recorder.bytes, expected);
            assert_eq!(done.len(), handed, "every buffer comes back");
            assert!(done.iter().all(Vec::is_empty));
            let piece = PIECE_BYTES as usize;
            for (i, &(offset, len)) in recorder.writes.iter().enumerate() {
                let last = i + 1 == recorder.writes.len();
                assert!(
                    offset / piece == (offset + len - 1) / piece,
                    "within one piece"
                );
                if limit == usize::MAX && !last {
                    assert_eq!((offset + len) % piece, 0, "write {i} ends a piece");
                }
            }
        }
    }
}
