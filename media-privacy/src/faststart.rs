//! MP4/MOV faststart: a file whose `moov` box (the index) follows its `mdat` (the samples) —
//! what phones write — cannot start playing until all of it has arrived. [`faststart_in_place`]
//! moves `moov` in front of the media data losslessly: the samples are copied byte for byte and
//! only the chunk offsets in `stco`/`co64` change. Fragmented MP4 (`moof`) and files already in
//! order are left as they are.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::StripError;

/// Largest `moov` moved (it is rewritten in memory).
pub const MAX_MOOV: u64 = 64 << 20;

/// A top-level box: type, offset, size.
struct TopBox {
    kind: [u8; 4],
    at: u64,
    size: u64,
}

fn malformed(what: impl Into<String>) -> StripError {
    StripError::Malformed(what.into())
}

fn top_level(file: &mut File, len: u64) -> Result<Vec<TopBox>, StripError> {
    let mut boxes = Vec::new();
    let mut at = 0u64;
    while at + 8 <= len {
        file.seek(SeekFrom::Start(at))?;
        let mut head = [0u8; 16];
        let n = crate::strip::read_up_to(file, &mut head)?;
        let mut size = u64::from(u32::from_be_bytes([head[0], head[1], head[2], head[3]]));
        let kind = [head[4], head[5], head[6], head[7]];
        if size == 1 {
            if n < 16 {
                return Err(malformed("an MP4 box's 64-bit size is cut short"));
            }
            size = u64::from_be_bytes([
                head[8], head[9], head[10], head[11], head[12], head[13], head[14], head[15],
            ]);
        } else if size == 0 {
            size = len - at;
        }
        if size < 8 || at + size > len {
            return Err(malformed(format!(
                "MP4 box {} at {at} overruns the file",
                String::from_utf8_lossy(&kind)
            )));
        }
        boxes.push(TopBox { kind, at, size });
        at += size;
    }
    Ok(boxes)
}

/// Move `moov` in front of the first `mdat` if it comes after it. Returns whether the file
/// changed. Not an MP4, fragmented, already faststart, or a `moov` over [`MAX_MOOV`]: unchanged.
pub fn faststart_in_place(path: &Path) -> Result<bool, StripError> {
    let tmp = path.with_extension("faststart");
    let result = (|| -> Result<bool, StripError> {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        let changed = faststart_to(path, &mut out)?;
        out.flush()?;
        Ok(changed)
    })();
    match result {
        Ok(true) => {
            std::fs::rename(&tmp, path)?;
            Ok(true)
        }
        other => {
            let _ = std::fs::remove_file(&tmp);
            other
        }
    }
}

/// Write the file at `path` remuxed to faststart into `out` (a file, or a pipe to a hasher),
/// and return `true`; or write nothing and return `false` when it needs no remux (see
/// [`faststart_in_place`]).
pub fn faststart_to(path: &Path, out: &mut dyn Write) -> Result<bool, StripError> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut head = [0u8; 8];
    if crate::strip::read_up_to(&mut file, &mut head)? < 8
        || !matches!(&head[4..8], b"ftyp" | b"moov" | b"mdat" | b"wide" | b"free")
    {
        return Ok(false);
    }
    let boxes = top_level(&mut file, len)?;
    if boxes.iter().any(|b| &b.kind == b"moof") {
        return Ok(false);
    }
    let (Some(moov), Some(first_mdat)) = (
        boxes.iter().position(|b| &b.kind == b"moov"),
        boxes.iter().position(|b| &b.kind == b"mdat"),
    ) else {
        return Ok(false);
    };
    if moov < first_mdat || boxes[moov].size > MAX_MOOV {
        return Ok(false);
    }
    let moov_box = &boxes[moov];
    let insert_at = boxes[first_mdat].at;
    let mut index = vec![0u8; moov_box.size as usize];
    file.seek(SeekFrom::Start(moov_box.at))?;
    file.read_exact(&mut index)?;
    // Every byte between the first mdat and the old moov moves up by moov's size.
    let shift = |offset: u64| -> Option<u64> {
        if offset >= insert_at && offset < moov_box.at {
            offset.checked_add(moov_box.size)
        } else {
            Some(offset)
        }
    };
    let header = if u32::from_be_bytes([index[0], index[1], index[2], index[3]]) == 1 {
        16
    } else {
        8
    };
    if !rewrite_offsets(&mut index[header..], &shift)? {
        // An offset would no longer fit in 32 bits: leave the file as it is.
        return Ok(false);
    }

    let copy = |file: &mut File, from: u64, n: u64, out: &mut dyn Write| {
        file.seek(SeekFrom::Start(from))?;
        let copied = std::io::copy(&mut file.take(n), out)?;
        if copied == n {
            Ok(())
        } else {
            Err(malformed("the MP4 file changed while it was remuxed"))
        }
    };
    copy(&mut file, 0, insert_at, out)?;
    out.write_all(&index)?;
    for b in boxes
        .iter()
        .skip(first_mdat)
        .filter(|b| b.at != moov_box.at)
    {
        copy(&mut file, b.at, b.size, out)?;
    }
    let tail = boxes.last().map_or(0, |b| b.at + b.size);
    copy(&mut file, tail, len - tail, out)?;
    Ok(true)
}

/// Containers on the way from `moov` to the chunk offset tables.
const CONTAINERS: [&[u8; 4]; 5] = [b"trak", b"mdia", b"minf", b"stbl", b"edts"];

/// Deepest container nesting under `moov` followed: a real file has `trak/mdia/minf/stbl`
/// (4); a file nesting deeper is refused rather than followed (a few hundred thousand
/// nested `trak`s once overflowed the stack and took the node down).
const MAX_DEPTH: usize = 8;

/// Apply `shift` to every `stco`/`co64` entry in the boxes of `data` (a container's payload).
/// `false` if a shifted `stco` offset no longer fits in 32 bits.
fn rewrite_offsets(
    data: &mut [u8],
    shift: &dyn Fn(u64) -> Option<u64>,
) -> Result<bool, StripError> {
    rewrite_offsets_at(data, shift, 1)
}

fn rewrite_offsets_at(
    data: &mut [u8],
    shift: &dyn Fn(u64) -> Option<u64>,
    depth: usize,
) -> Result<bool, StripError> {
    if depth > MAX_DEPTH {
        return Err(malformed(
            "boxes inside moov nest deeper than any real file",
        ));
    }
    let mut at = 0usize;
    while at + 8 <= data.len() {
        let size =
            u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]) as usize;
        let kind = [data[at + 4], data[at + 5], data[at + 6], data[at + 7]];
        if size < 8 || at + size > data.len() {
            return Err(malformed("a box inside moov overruns it"));
        }
        let body = &mut data[at + 8..at + size];
        if CONTAINERS.contains(&&kind) {
            if !rewrite_offsets_at(body, shift, depth + 1)? {
                return Ok(false);
            }
        } else if &kind == b"stco" || &kind == b"co64" {
            let wide = &kind == b"co64";
            let width = if wide { 8 } else { 4 };
            if body.len() < 8 {
                return Err(malformed("a chunk offset table is cut short"));
            }
            let count = u32::from_be_bytes([body[4], body[5], body[6], body[7]]) as usize;
            if body.len() < 8 + count.saturating_mul(width) {
                return Err(malformed("a chunk offset table is cut short"));
            }
            for i in 0..count {
                let p = 8 + i * width;
                let entry = &mut body[p..p + width];
                let old = if wide {
                    u64::from_be_bytes(entry.try_into().map_err(|_| malformed("co64 entry"))?)
                } else {
                    u64::from(u32::from_be_bytes(
                        entry.try_into().map_err(|_| malformed("stco entry"))?,
                    ))
                };
                let Some(new) = shift(old) else {
                    return Ok(false);
                };
                if wide {
                    entry.copy_from_slice(&new.to_be_bytes());
                } else {
                    let Ok(new) = u32::try_from(new) else {
                        return Ok(false);
                    };
                    entry.copy_from_slice(&new.to_be_bytes());
                }
            }
        }
        at += size;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A box of `kind` around `payload`.
    fn bx(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut b = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(payload);
        b
    }

    fn moov(offsets: &[u32]) -> Vec<u8> {
        let mut stco = vec![0, 0, 0, 0];
        stco.extend_from_slice(&(offsets.len() as u32).to_be_bytes());
        for o in offsets {
            stco.extend_from_slice(&o.to_be_bytes());
        }
        let stbl = bx(b"stbl", &bx(b"stco", &stco));
        let minf = bx(b"minf", &stbl);
        let mdia = bx(b"mdia", &minf);
        bx(b"moov", &bx(b"trak", &mdia))
    }

    #[test]
    fn moov_moves_in_front_and_chunk_offsets_follow_the_samples() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clip.mp4");
        let ftyp = bx(b"ftyp", b"isom\0\0\0\0isom");
        let samples = b"SAMPLE-ONE..SAMPLE-TWO";
        let mdat = bx(b"mdat", samples);
        let first = (ftyp.len() + 8) as u32;
        let second = first + 12;
        let index = moov(&[first, second]);
        let file: Vec<u8> = [ftyp.clone(), mdat.clone(), index.clone()].concat();
        std::fs::write(&path, &file).unwrap();

        assert!(faststart_in_place(&path).unwrap());
        let out = std::fs::read(&path).unwrap();
        assert_eq!(out.len(), file.len());
        assert_eq!(&out[ftyp.len() + 4..ftyp.len() + 8], b"moov");
        // The offsets in the new moov point at the same sample bytes.
        let moved = moov(&[first + index.len() as u32, second + index.len() as u32]);
        assert_eq!(&out[ftyp.len()..ftyp.len() + moved.len()], &moved[..]);
        let at = (first as usize) + index.len();
        assert_eq!(&out[at..at + 10], b"SAMPLE-ONE");
        // Already in order: nothing changes.
        assert!(!faststart_in_place(&path).unwrap());
        // Fragmented files and non-MP4 files pass through.
        let frag: Vec<u8> = [ftyp, bx(b"moof", b""), mdat, index].concat();
        std::fs::write(&path, &frag).unwrap();
        assert!(!faststart_in_place(&path).unwrap());
        std::fs::write(&path, b"not a video").unwrap();
        assert!(!faststart_in_place(&path).unwrap());
        // A box that claims more than the file holds is malformed.
        let mut bad = bx(b"ftyp", b"isom");
        bad.extend_from_slice(&[0, 0, 1, 0, b'm', b'd', b'a', b't']);
        std::fs::write(&path, &bad).unwrap();
        assert!(faststart_in_place(&path).is_err());
    }

    /// The security review's finding 7: moov after mdat with 300 000 nested `trak`s (2.4 MB)
    /// overflowed the stack and aborted the node. Now: refused as malformed, nothing else.
    #[test]
    fn deeply_nested_boxes_are_refused_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested.mp4");
        let levels = 300_000u32;
        let mut moov_body = Vec::with_capacity(levels as usize * 8);
        for n in (1..=levels).rev() {
            moov_body.extend_from_slice(&(8 * n).to_be_bytes());
            moov_body.extend_from_slice(b"trak");
        }
        let file: Vec<u8> = [
            bx(b"ftyp", b"isom\0\0\0\0isom"),
            bx(b"mdat", &[0u8; 64]),
            bx(b"moov", &moov_body),
        ]
        .concat();
        std::fs::write(&path, &file).unwrap();
        let err = faststart_in_place(&path).unwrap_err();
        assert!(err.to_string().contains("nest"), "{err}");
        // The original is left as it was.
        assert_eq!(std::fs::read(&path).unwrap(), file);
    }
}
