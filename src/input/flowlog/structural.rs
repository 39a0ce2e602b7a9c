//! The structural pass of the SLS JSON fast path: where a line's quotes are, provided it is the
//! common kind of line — all ASCII, with no backslash and no control byte.
//!
//! On such a line every quote opens or closes a string, and the quotes alone delimit every key
//! and string value: no escape search per string and no UTF-8 check are needed. Any other line
//! (an escape, a tab, a non-ASCII byte, …) gets `None` and goes to the byte-wise scanner.
//!
//! PERF: 16 bytes at a time into a bitmap of the quotes (the simdjson idea, without its tape),
//! with SSE2 on x86_64, which the x86_64 baseline includes (no run-time detection); elsewhere a
//! portable byte loop builds the same masks. A string's end is then the next set bit: a few
//! instructions, where the byte-wise scanner checks every byte of it. Why no crate does this:
//! `docs/flowlogs.md`.

// The SSE2 loads, and the line as text without a second UTF-8 check; each block says why it
// is sound.
#![allow(unsafe_code)]

/// Lines up to this many bytes take the plain path (exported records are ~400–900 bytes);
/// longer ones take the byte-wise scanner.
pub(crate) const MAX_LINE: usize = 64 * WORDS;
const WORDS: usize = 32;

/// Room for the quote bitmap of one line, kept from line to line.
pub(crate) type Bitmap = [u64; WORDS];

/// A bitmap to start from.
pub(crate) const EMPTY_BITMAP: Bitmap = [0; WORDS];

/// A line that is all ASCII, with no backslash and no control byte, and where its quotes are.
pub(crate) struct PlainLine<'a, 'q> {
    /// The line.
    pub text: &'a str,
    /// Bit `i % 64` of word `i / 64`: byte `i` is a quote.
    quotes: &'q [u64],
}

impl<'a, 'q> PlainLine<'a, 'q> {
    /// The line, when it is all ASCII without a backslash or a control byte (bytes below 0x20,
    /// tabs and line ends included) and at most [`MAX_LINE`] bytes long; `None` otherwise.
    /// `room` holds the bitmap.
    #[inline(always)]
    pub fn new(line: &'a [u8], room: &'q mut Bitmap) -> Option<PlainLine<'a, 'q>> {
        if line.len() > MAX_LINE {
            return None;
        }
        let mut bad = false;
        let mut used = 0;
        let mut chunks = line.chunks_exact(64);
        for (word, chunk) in room.iter_mut().zip(&mut chunks) {
            let (quotes, refused) = masks64(chunk.try_into().expect("64 bytes"));
            *word = quotes;
            bad |= refused;
            used += 1;
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let (quotes, refused) = if let Some(start) = line.len().checked_sub(64) {
                // PERF: the line's last 64 bytes, shifted past the bytes already in a word,
                // rather than a padded copy (a `memset` and a `memcpy` a line). The bytes
                // read twice were already checked, so `refused` is unchanged by them.
                let last = line[start..].try_into().expect("64 bytes");
                let (quotes, refused) = masks64(last);
                (quotes >> (64 - rest.len()), refused)
            } else {
                // Padding with spaces: neither a quote nor a refused byte.
                let mut last = [b' '; 64];
                last[..rest.len()].copy_from_slice(rest);
                masks64(&last)
            };
            *room.get_mut(used)? = quotes;
            bad |= refused;
            used += 1;
        }
        if bad {
            return None;
        }
        // SAFETY: every byte of the line was checked above to be below 0x80 (a signed compare
        // flags 0x80..=0xff as below 0x20), so the line is ASCII, and ASCII is valid UTF-8.
        let text = unsafe { std::str::from_utf8_unchecked(line) };
        Some(PlainLine {
            text,
            quotes: &room[..used],
        })
    }

    /// The position of the first quote at or after `from`.
    #[inline(always)]
    pub fn next_quote(&self, from: usize) -> Option<usize> {
        let mut word = from / 64;
        let mut bits = *self.quotes.get(word)? & (u64::MAX << (from % 64));
        while bits == 0 {
            word += 1;
            bits = *self.quotes.get(word)?;
        }
        Some(word * 64 + bits.trailing_zeros() as usize)
    }

    /// `text[from..to]`, without `str`'s check that both ends fall between characters (every
    /// byte is one).
    #[inline(always)]
    pub fn slice(&self, from: usize, to: usize) -> Option<&'a str> {
        let bytes = self.text.as_bytes().get(from..to)?;
        // SAFETY: the line is ASCII (see `new`), so any run of its bytes is valid UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    }
}

/// Bit `i` of the mask: byte `i` is a quote; and whether any byte is a backslash, a control
/// byte (below 0x20) or not ASCII (0x80 and above).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn masks64(block: &[u8; 64]) -> (u64, bool) {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8, _mm_setzero_si128,
    };
    // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics exist on every x86_64
    // target; each unaligned load reads 16 of the 64 bytes of `block` (16 * i + 16 <= 64).
    unsafe {
        let mut quotes = 0u64;
        let mut refused = _mm_setzero_si128();
        for i in 0..4 {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * i).cast());
            let q = _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8)));
            quotes |= u64::from(q as u16) << (16 * i);
            // A signed compare: below 0x20 are the control bytes and, as negative numbers,
            // every byte from 0x80 up (not ASCII).
            refused = _mm_or_si128(
                refused,
                _mm_or_si128(
                    _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8)),
                    _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                ),
            );
        }
        (quotes, _mm_movemask_epi8(refused) != 0)
    }
}

/// The portable masks: what the SSE2 version computes, a byte at a time.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn masks64(block: &[u8; 64]) -> (u64, bool) {
    portable_masks64(block)
}

#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn portable_masks64(block: &[u8; 64]) -> (u64, bool) {
    let mut quotes = 0u64;
    let mut refused = false;
    for (i, &byte) in block.iter().enumerate() {
        quotes |= u64::from(byte == b'"') << i;
        refused |= byte == b'\\' || !(0x20..0x80).contains(&byte);
    }
    (quotes, refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quotes of a plain line, a byte at a time.
    fn expected(line: &[u8]) -> Option<Vec<usize>> {
        if line.len() > MAX_LINE
            || line
                .iter()
                .any(|&b| b == b'\\' || !(0x20..0x80).contains(&b))
        {
            return None;
        }
        Some((0..line.len()).filter(|&i| line[i] == b'"').collect())
    }

    /// The quotes as [`PlainLine::next_quote`] finds them, from every place.
    fn actual(line: &[u8]) -> Option<Vec<usize>> {
        let mut room = [u64::MAX; WORDS];
        let plain = PlainLine::new(line, &mut room)?;
        assert_eq!(plain.text.as_bytes(), line);
        let mut quotes = Vec::new();
        let mut from = 0;
        while let Some(at) = plain.next_quote(from) {
            assert!(at >= from);
            quotes.push(at);
            from = at + 1;
        }
        for from in 0..=line.len() + 70 {
            let next = quotes.iter().copied().find(|&q| q >= from);
            assert_eq!(plain.next_quote(from), next, "{from}");
        }
        Some(quotes)
    }

    #[test]
    fn every_refused_byte_at_every_place_around_chunk_boundaries() {
        for len in [0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 200] {
            let plain: Vec<u8> = (0..len).map(|i| b"ab\"c: ,{}"[i % 9]).collect();
            assert_eq!(actual(&plain), expected(&plain), "{len}");
            assert!(actual(&plain).is_some());
            for at in 0..len {
                for byte in [
                    b'\\', 0, b'\t', b'\n', b'\r', 0x1f, 0x7f, 0x80, 0xc3, 0xff, b'"',
                ] {
                    let mut line = plain.clone();
                    line[at] = byte;
                    assert_eq!(actual(&line), expected(&line), "{len} {at} {byte:#x}");
                }
            }
        }
    }

    #[test]
    fn long_lines_and_quotes_in_the_last_word() {
        let mut line = vec![b'a'; MAX_LINE];
        line[MAX_LINE - 1] = b'"';
        line[MAX_LINE - 64] = b'"';
        assert_eq!(actual(&line), Some(vec![MAX_LINE - 64, MAX_LINE - 1]));
        line.push(b'a');
        assert_eq!(actual(&line), None);
    }

    #[test]
    fn the_portable_masks_are_the_sse2_masks() {
        let mut block = [0u8; 64];
        for round in 0..256u32 {
            for (i, byte) in block.iter_mut().enumerate() {
                *byte = (i as u32 * 37 + round * 101) as u8 ^ (round as u8);
            }
            assert_eq!(masks64(&block), portable_masks64(&block));
        }
        for byte in 0..=255u8 {
            for at in [0, 15, 16, 47, 63] {
                let mut block = [b'a'; 64];
                block[at] = byte;
                assert_eq!(
                    masks64(&block),
                    portable_masks64(&block),
                    "{byte:#x} at {at}"
                );
            }
        }
    }
}
