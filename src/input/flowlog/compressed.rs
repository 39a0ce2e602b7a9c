//! Compressed logs, recognised by their first bytes: what OSS shipping writes (its
//! `compress_type`: `gzip`, `zstd`, or `snappy`, a whole JSON or CSV object compressed as one
//! raw snappy block and named `….snappy`) and what logs are commonly compressed with by hand
//! (gzip, zstd, framed snappy).

use std::fmt;
use std::io::{self, BufRead, Read};

/// A compression a log can come in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Codec {
    /// One or more gzip members.
    Gzip,
    /// One or more zstd frames.
    Zstd,
    /// The snappy framing format (`.sz`): chunks that carry their own checksums.
    SnappyFramed,
    /// One raw snappy block, as OSS shipping compresses a whole object (and the `snappy`
    /// command does without `-f`): no magic number, only the uncompressed length.
    SnappyRaw,
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Codec::Gzip => "gzip",
            Codec::Zstd => "zstd",
            Codec::SnappyFramed => "framed snappy",
            Codec::SnappyRaw => "snappy",
        })
    }
}

/// A raw snappy block expands at most ~21 times (a 3-byte copy of 64 bytes): a length header
/// claiming more than this many times the block's size is not snappy.
const MAX_SNAPPY_RATIO: u64 = 24;

impl Codec {
    /// The compression `head` (a log's first bytes) is in, if any. Raw snappy, which has no
    /// magic number, is recognised by its length header followed by a literal that starts like
    /// a log (`{`, `[`, a letter, …), where plain text cannot start (the header's first byte is
    /// 128 or more in any block over 127 bytes); under a name ending in `.snappy`, any head
    /// that reads so.
    pub(super) fn detect(name: &str, head: &[u8]) -> Option<Codec> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Codec::Gzip)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Codec::Zstd)
        } else if head.starts_with(b"\xff\x06\x00\x00sNaPpY") {
            Some(Codec::SnappyFramed)
        } else {
            let named = name.to_ascii_lowercase().ends_with(".snappy");
            let text_like = head
                .first()
                .is_some_and(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace());
            ((named || !text_like) && raw_snappy_start(head)).then_some(Codec::SnappyRaw)
        }
    }

    /// `input`, decompressed. A raw snappy block is decompressed whole here (the format cannot
    /// be read in pieces): memory holds it and its text, at most the shipping job's object size
    /// (`buffer_size`, 5–256 MB uncompressed).
    pub(super) fn decode(self, input: Box<dyn BufRead + Send>) -> io::Result<Box<dyn Read + Send>> {
        let streaming: Box<dyn Read + Send> = match self {
            Codec::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
            Codec::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(input)?),
            Codec::SnappyFramed => Box::new(snap::read::FrameDecoder::new(input)),
            Codec::SnappyRaw => {
                let mut block = Vec::new();
                { input }.read_to_end(&mut block)?;
                let invalid = |message: String| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("{self}: {message}"))
                };
                let claimed = snap::raw::decompress_len(&block)
                    .map_err(|err| invalid(err.to_string()))? as u64;
                if claimed > MAX_SNAPPY_RATIO * block.len() as u64 + 64 {
                    return Err(invalid(format!(
                        "the block claims {claimed} bytes from {} compressed, more than snappy can expand to",
                        block.len()
                    )));
                }
                let text = snap::raw::Decoder::new()
                    .decompress_vec(&block)
                    .map_err(|err| invalid(err.to_string()))?;
                return Ok(Box::new(io::Cursor::new(text)));
            }
        };
        Ok(Box::new(Named {
            codec: self,
            inner: streaming,
        }))
    }
}

/// Whether `head` starts as a raw snappy block of a log: a length (a varint of at most five
/// bytes, not zero), then a literal whose first byte starts a JSON or CSV log.
fn raw_snappy_start(head: &[u8]) -> bool {
    let mut length: u64 = 0;
    let mut at = 0;
    loop {
        let Some(&byte) = head.get(at) else {
            return false;
        };
        length |= u64::from(byte & 0x7f) << (7 * at);
        at += 1;
        if byte & 0x80 == 0 {
            break;
        }
        if at == 5 {
            return false;
        }
    }
    let Some(&tag) = head.get(at) else {
        return false;
    };
    // A literal's length is in the tag's upper six bits, or (60–63) in the next 1–4 bytes.
    let literal = match tag >> 2 {
        0..=59 => at + 1,
        long => at + 1 + (long as usize - 59),
    };
    length > 0
        && tag & 0b11 == 0
        && head.get(literal).is_some_and(|&b| {
            matches!(b, b'{' | b'[' | b'"' | 0xef)
                || b.is_ascii_alphabetic()
                || b.is_ascii_whitespace()
        })
}

/// A streaming decoder whose errors say which codec failed (`zstd: incomplete frame`).
struct Named {
    codec: Codec,
    inner: Box<dyn Read + Send>,
}

impl Read for Named {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .read(buf)
            .map_err(|err| io::Error::new(err.kind(), format!("{}: {err}", self.codec)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const LOG: &[u8] = b"{\"eni-id\":\"eni-1\",\"direction\":\"in\"}\n{\"eni-id\":\"eni-2\"}\n";

    fn compressed(codec: Codec, text: &[u8]) -> Vec<u8> {
        match codec {
            Codec::Gzip => {
                let mut out = flate2::write::GzEncoder::new(Vec::new(), Default::default());
                out.write_all(text).unwrap();
                out.finish().unwrap()
            }
            Codec::Zstd => zstd::encode_all(text, 1).unwrap(),
            Codec::SnappyFramed => {
                let mut out = snap::write::FrameEncoder::new(Vec::new());
                out.write_all(text).unwrap();
                out.into_inner().unwrap()
            }
            Codec::SnappyRaw => snap::raw::Encoder::new().compress_vec(text).unwrap(),
        }
    }

    fn decoded(codec: Codec, bytes: Vec<u8>) -> io::Result<Vec<u8>> {
        let mut text = Vec::new();
        codec
            .decode(Box::new(io::Cursor::new(bytes)))?
            .read_to_end(&mut text)?;
        Ok(text)
    }

    #[test]
    fn every_codec_is_detected_and_read_back() {
        // Short and long logs: a raw snappy length header of one byte and of several.
        let long: Vec<u8> = LOG.iter().copied().cycle().take(300_000).collect();
        for text in [LOG, &long[..]] {
            for codec in [
                Codec::Gzip,
                Codec::Zstd,
                Codec::SnappyFramed,
                Codec::SnappyRaw,
            ] {
                let bytes = compressed(codec, text);
                let name = if codec == Codec::SnappyRaw && text.len() < 128 {
                    // Its one-byte header may be printable: the OSS suffix says what it is.
                    "54_1453812893059571256_937.snappy"
                } else {
                    "log"
                };
                assert_eq!(Codec::detect(name, &bytes), Some(codec), "{codec}");
                assert_eq!(decoded(codec, bytes).unwrap(), text, "{codec}");
            }
        }
        // Plain logs are not compressed, whatever their name.
        for plain in [LOG, b"eni-id,direction\n", b"\xef\xbb\xbf{\"a\":1}\n"] {
            assert_eq!(Codec::detect("log", plain), None);
            assert_eq!(Codec::detect("x.snappy", plain), None, "{plain:?}");
        }
        assert_eq!(Codec::detect("log", b""), None);
        assert_eq!(Codec::detect("log", b"PAR1"), None);
    }

    #[test]
    fn damaged_input_is_an_error_that_names_the_codec() {
        for codec in [
            Codec::Gzip,
            Codec::Zstd,
            Codec::SnappyFramed,
            Codec::SnappyRaw,
        ] {
            let long: Vec<u8> = LOG.iter().copied().cycle().take(10_000).collect();
            let mut bytes = compressed(codec, &long);
            let cut = bytes.len() / 2;
            bytes.truncate(cut);
            let err = decoded(codec, bytes).unwrap_err();
            assert!(
                err.to_string().starts_with(&codec.to_string()),
                "{codec}: {err}"
            );
        }
        // A header claiming far more than the block can hold.
        let mut bytes = vec![0xff, 0xff, 0xff, 0xff, 0x0f];
        bytes.extend_from_slice(&[0x08, b'{', b'"', b'a']);
        let err = decoded(Codec::SnappyRaw, bytes).unwrap_err();
        assert!(
            err.to_string().contains("more than snappy can expand to"),
            "{err}"
        );
    }
}
