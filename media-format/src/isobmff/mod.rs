//! ISO-BMFF (MP4, MOV, HEIF): one box header reader and bounded ways to go through
//! boxes. Nothing here recurses: containers are entered along fixed paths ([`path`]) or with
//! an explicit stack ([`walk`]) capped at [`MAX_DEPTH`], and every pass counts boxes against
//! [`MAX_BOXES`]. A real phone video has a few top-level boxes and a few hundred in its
//! `moov`; a file built to make a parser spin or overflow its stack is refused.
//!
//! - [`faststart`]: `moov` in front of the samples, for playback that starts at once;
//! - [`scrub`]: metadata boxes and timed-metadata samples removed in place;
//! - [`heif`]: the `Exif` and XMP items of HEIC/AVIF removed from the index, pictures untouched;
//! - [`track`]: the first video track and its first key frame, for posters.

use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;

use crate::error::{malformed, too_large, FormatError};

pub mod faststart;
pub mod heif;
pub mod scrub;
pub mod track;

/// Largest `moov` box read into memory (the index of a two-hour phone video is a few MiB).
pub const MAX_MOOV: u64 = 32 << 20;
/// Most boxes one pass goes through (top level of a file, or inside one `moov`). A
/// fragmented two-hour video with one-second fragments has about 15 000 top-level boxes.
pub const MAX_BOXES: usize = 1 << 17;
/// Deepest nesting [`walk`] follows; real files nest `moov/trak/mdia/minf/stbl/stsd` (6).
pub const MAX_DEPTH: usize = 16;

/// A box's header: its type, where it starts and how long it is, header included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BoxHeader {
    /// The four-character type, e.g. `moov`.
    pub kind: [u8; 4],
    /// Offset of the box's first byte (in the file, or in the buffer it was read from).
    pub offset: u64,
    /// Header length: 8, or 16 with a 64-bit size.
    pub header_len: u64,
    /// Size of the whole box, header included.
    pub size: u64,
}

impl BoxHeader {
    /// The header at `offset`, from `head` (the bytes there: 8, or 16 for a 64-bit size), in
    /// a parent that ends at `end`. Size 0 means "to the end of the parent"; size 1 means a
    /// 64-bit size follows. The box must fit in its parent.
    pub fn parse(head: &[u8], offset: u64, end: u64) -> Result<BoxHeader, FormatError> {
        let cut = || malformed(format!("an MP4 box header at {offset} is cut short"));
        let word: [u8; 4] = head
            .get(0..4)
            .ok_or_else(cut)?
            .try_into()
            .map_err(|_| cut())?;
        let kind: [u8; 4] = head
            .get(4..8)
            .ok_or_else(cut)?
            .try_into()
            .map_err(|_| cut())?;
        let (size, header_len) = match u32::from_be_bytes(word) {
            1 => {
                let wide: [u8; 8] = head
                    .get(8..16)
                    .ok_or_else(cut)?
                    .try_into()
                    .map_err(|_| cut())?;
                (u64::from_be_bytes(wide), 16)
            }
            0 => (end.saturating_sub(offset), 8),
            n => (u64::from(n), 8),
        };
        if size < header_len || offset.checked_add(size).is_none_or(|e| e > end) {
            return Err(malformed(format!(
                "MP4 box {} at {offset} overruns its container",
                kind.escape_ascii()
            )));
        }
        Ok(BoxHeader {
            kind,
            offset,
            header_len,
            size,
        })
    }

    /// Where the box ends.
    pub fn end(&self) -> u64 {
        self.offset + self.size
    }

    /// Where its body lies.
    pub fn body(&self) -> Range<u64> {
        self.offset + self.header_len..self.end()
    }

    /// Its type as text.
    pub fn name(&self) -> String {
        self.kind.escape_ascii().to_string()
    }
}

/// A box in memory: its header (offset relative to the buffer it was found in) and body.
#[derive(Debug, Clone, Copy)]
pub struct Child<'a> {
    /// The header.
    pub header: BoxHeader,
    /// The body.
    pub body: &'a [u8],
}

/// The boxes in a container's body, each checked to fit; at most [`MAX_BOXES`] of them.
pub fn boxes(data: &[u8]) -> Boxes<'_> {
    Boxes {
        data,
        at: 0,
        count: 0,
        done: false,
    }
}

/// Iterator returned by [`boxes`]; stops at the first error.
#[derive(Debug)]
pub struct Boxes<'a> {
    data: &'a [u8],
    at: usize,
    count: usize,
    done: bool,
}

impl<'a> Iterator for Boxes<'a> {
    type Item = Result<Child<'a>, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.at + 8 > self.data.len() {
            return None;
        }
        let result = (|| {
            self.count += 1;
            if self.count > MAX_BOXES {
                return Err(too_large(format!(
                    "more than {MAX_BOXES} MP4 boxes in one container"
                )));
            }
            let rest = &self.data[self.at..];
            let header = BoxHeader::parse(rest, self.at as u64, self.data.len() as u64)?;
            let body = &self.data[header.body().start as usize..header.end() as usize];
            self.at = header.end() as usize;
            Ok(Child { header, body })
        })();
        self.done = result.is_err();
        Some(result)
    }
}

/// The body of the first box of `kind` in `data`.
pub fn find<'a>(data: &'a [u8], kind: &[u8; 4]) -> Result<Option<&'a [u8]>, FormatError> {
    for child in boxes(data) {
        let child = child?;
        if &child.header.kind == kind {
            return Ok(Some(child.body));
        }
    }
    Ok(None)
}

/// The body at the end of `path` from `data` (first box of each type), e.g.
/// `[mdia, minf, stbl]` from a `trak` body.
pub fn path<'a>(data: &'a [u8], path: &[&[u8; 4]]) -> Result<Option<&'a [u8]>, FormatError> {
    let mut body = data;
    for kind in path {
        match find(body, kind)? {
            Some(b) => body = b,
            None => return Ok(None),
        }
    }
    Ok(Some(body))
}

/// Every box in `data` and, for those `descend` names, in their bodies, depth first, with an
/// explicit stack: `(depth, header)` with offsets relative to `data`. Deeper than
/// [`MAX_DEPTH`] or more than [`MAX_BOXES`] boxes in all: refused.
pub fn walk(
    data: &[u8],
    descend: impl Fn(&[u8; 4]) -> bool,
) -> Result<Vec<(usize, BoxHeader)>, FormatError> {
    let mut found = Vec::new();
    // Containers being read: (where the next box starts, where the container ends).
    let mut stack: Vec<(u64, u64)> = vec![(0, data.len() as u64)];
    while let Some((at, end)) = stack.last().copied() {
        if at + 8 > end {
            stack.pop();
            continue;
        }
        if found.len() >= MAX_BOXES {
            return Err(too_large(format!("more than {MAX_BOXES} MP4 boxes")));
        }
        let header = BoxHeader::parse(&data[at as usize..end as usize], at, end)?;
        let depth = stack.len() - 1;
        if let Some(top) = stack.last_mut() {
            top.0 = header.end();
        }
        found.push((depth, header));
        if descend(&header.kind) {
            if stack.len() >= MAX_DEPTH {
                return Err(too_large(format!(
                    "MP4 boxes nest deeper than {MAX_DEPTH} levels, deeper than any real file"
                )));
            }
            stack.push((header.body().start, header.end()));
        }
    }
    Ok(found)
}

/// The top-level boxes of a file, one header read at a time: a cursor that the caller
/// advances with its reader (so it may write between steps). At most [`MAX_BOXES`].
#[derive(Debug)]
pub struct TopLevel {
    at: u64,
    len: u64,
    count: usize,
}

impl TopLevel {
    /// Boxes of a file of `len` bytes.
    pub fn new(len: u64) -> TopLevel {
        TopLevel {
            at: 0,
            len,
            count: 0,
        }
    }

    /// The next box's header, or `None` at the end (fewer than 8 bytes left).
    pub fn next<R: Read + Seek + ?Sized>(
        &mut self,
        reader: &mut R,
    ) -> Result<Option<BoxHeader>, FormatError> {
        if self.at + 8 > self.len {
            return Ok(None);
        }
        self.count += 1;
        if self.count > MAX_BOXES {
            return Err(too_large(format!(
                "more than {MAX_BOXES} top-level MP4 boxes"
            )));
        }
        reader.seek(SeekFrom::Start(self.at))?;
        let mut head = [0u8; 16];
        let n = crate::io::read_up_to(reader, &mut head)?;
        let header = BoxHeader::parse(&head[..n], self.at, self.len)?;
        self.at = header.end();
        Ok(Some(header))
    }

    /// Where the boxes read so far end.
    pub fn position(&self) -> u64 {
        self.at
    }
}

/// The body of `header` read into memory, refused over `cap` bytes.
pub fn read_body<R: Read + Seek + ?Sized>(
    reader: &mut R,
    header: &BoxHeader,
    cap: u64,
) -> Result<Vec<u8>, FormatError> {
    let body = header.body();
    let len = body.end - body.start;
    if len > cap {
        return Err(too_large(format!(
            "{} box of {len} bytes (at most {cap})",
            header.name()
        )));
    }
    reader.seek(SeekFrom::Start(body.start))?;
    let mut buf = vec![0u8; len as usize];
    crate::io::fill(reader, &mut buf, "an MP4 box")?;
    Ok(buf)
}

pub(crate) fn be16(b: &[u8], at: usize) -> Result<u16, FormatError> {
    b.get(at..at.saturating_add(2))
        .map(|s| u16::from_be_bytes([s[0], s[1]]))
        .ok_or_else(|| malformed("an MP4 box is cut short"))
}

pub(crate) fn be32(b: &[u8], at: usize) -> Result<u32, FormatError> {
    b.get(at..at.saturating_add(4))
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| malformed("an MP4 box is cut short"))
}

pub(crate) fn be64(b: &[u8], at: usize) -> Result<u64, FormatError> {
    b.get(at..at.saturating_add(8))
        .map(|s| u64::from_be_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]))
        .ok_or_else(|| malformed("an MP4 box is cut short"))
}

/// Test helper: a box of `kind` around `payload`.
#[cfg(test)]
pub(crate) fn bx(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut b = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    b.extend_from_slice(payload);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_zero_one_and_overruns_are_read_once_the_same_way() {
        let mut wide = vec![0, 0, 0, 1];
        wide.extend_from_slice(b"mdat");
        wide.extend_from_slice(&20u64.to_be_bytes());
        wide.extend_from_slice(&[7; 4]);
        let h = BoxHeader::parse(&wide, 0, 20).unwrap();
        assert_eq!((h.header_len, h.size, h.body()), (16, 20, 16..20));
        let to_end = BoxHeader::parse(b"\0\0\0\0mdat", 100, 150).unwrap();
        assert_eq!(to_end.size, 50);
        assert!(BoxHeader::parse(b"\0\0\0\x10free", 0, 12).is_err());
        assert!(BoxHeader::parse(b"\0\0\0\x04free", 0, 12).is_err());
        assert!(BoxHeader::parse(b"\0\0\0\x01free\0\0", 0, 12).is_err());
        // A 64-bit size near u64::MAX does not overflow.
        let mut huge = vec![0, 0, 0, 1];
        huge.extend_from_slice(b"mdat");
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        assert!(BoxHeader::parse(&huge, 8, u64::MAX).is_err());
    }

    #[test]
    fn a_box_larger_than_its_parent_is_an_error() {
        let mut buf = bx(b"trak", &[0; 8]);
        buf[3] = 100;
        assert!(matches!(
            boxes(&buf).next(),
            Some(Err(FormatError::Malformed(_)))
        ));
    }

    #[test]
    fn walk_follows_containers_without_recursion_and_stops_at_the_cap() {
        let stbl = bx(b"stbl", &bx(b"stco", &[0; 8]));
        let moov = bx(
            b"moov",
            &bx(
                b"trak",
                &[bx(b"tkhd", &[0; 4]), bx(b"mdia", &stbl)].concat(),
            ),
        );
        let found = walk(&moov, |k| {
            matches!(k, b"moov" | b"trak" | b"mdia" | b"stbl")
        })
        .unwrap();
        let names: Vec<(usize, String)> = found.iter().map(|(d, h)| (*d, h.name())).collect();
        assert_eq!(
            names,
            [
                (0, "moov"),
                (1, "trak"),
                (2, "tkhd"),
                (2, "mdia"),
                (3, "stbl"),
                (4, "stco")
            ]
            .map(|(d, n)| (d, n.to_owned()))
        );
        // 300 000 nested `trak`s (the review's finding 7): refused at the depth cap.
        let levels = 300_000u32;
        let mut nested = Vec::with_capacity(levels as usize * 8);
        for n in (1..=levels).rev() {
            nested.extend_from_slice(&(8 * n).to_be_bytes());
            nested.extend_from_slice(b"trak");
        }
        let err = walk(&nested, |k| k == b"trak").unwrap_err();
        assert!(matches!(err, FormatError::TooLarge(_)), "{err}");
        // A flat run of tiny boxes: refused at the count cap.
        let tiny = b"\0\0\0\x08free".repeat(MAX_BOXES + 1);
        assert!(matches!(
            walk(&tiny, |_| false),
            Err(FormatError::TooLarge(_))
        ));
        assert!(boxes(&tiny).any(|b| matches!(b, Err(FormatError::TooLarge(_)))));
    }
}
