//! MP4/MOV faststart: a file whose `moov` box (the index) follows its `mdat` (the samples),
//! as phones write them, cannot start playing until all of it has arrived.
//! [`faststart_in_place`] moves `moov` in front of the media data losslessly: the samples are
//! copied byte for byte and only the chunk offsets in `stco`/`co64` change. Fragmented MP4
//! (`moof`) and files already in order are left as they are.
//!
//! This is a delivery rewrite, not a privacy one: it has its own error and its own switch on
//! the upload, apart from the metadata policy.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::{be32, read_body, walk, BoxHeader, TopLevel, MAX_MOOV};
use crate::FormatError;

/// Why a file could not be remuxed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FaststartError {
    /// The boxes do not parse, or go past a bound no real file reaches.
    #[error("the video cannot be remuxed to faststart: {0}")]
    Format(FormatError),
    /// Reading or writing failed.
    #[error("faststart: {0}")]
    Io(#[from] std::io::Error),
}

impl From<FormatError> for FaststartError {
    fn from(e: FormatError) -> Self {
        match e {
            FormatError::Io(e) => FaststartError::Io(e),
            other => FaststartError::Format(other),
        }
    }
}

/// Containers on the way from `moov` to the chunk offset tables.
const CONTAINERS: &[&[u8; 4]] = &[b"trak", b"mdia", b"minf", b"stbl", b"edts"];

/// Move `moov` in front of the first `mdat` if it comes after it. Returns whether the file
/// changed. Not an MP4, fragmented, already faststart, or a `moov` over [`MAX_MOOV`]:
/// unchanged.
pub fn faststart_in_place(path: &Path) -> Result<bool, FaststartError> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".faststart")
        .tempfile_in(path.parent().unwrap_or(Path::new(".")))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
    let changed = faststart_to(path, &mut out)?;
    out.flush()?;
    drop(out);
    if changed {
        tmp.persist(path).map_err(|e| FaststartError::Io(e.error))?;
    }
    Ok(changed)
}

/// Write the file at `path` remuxed to faststart into `out` (a file, or a pipe to a hasher),
/// and return `true`; or write nothing and return `false` when it needs no remux (see
/// [`faststart_in_place`]).
pub fn faststart_to(path: &Path, out: &mut dyn Write) -> Result<bool, FaststartError> {
    faststart_reader(&mut File::open(path)?, out)
}

/// [`faststart_to`] for any seekable input (the file, or bytes in memory).
pub fn faststart_reader<R: Read + Seek>(
    file: &mut R,
    out: &mut dyn Write,
) -> Result<bool, FaststartError> {
    let len = file.seek(SeekFrom::End(0))?;
    let mut head = [0u8; crate::SNIFF_LEN];
    file.seek(SeekFrom::Start(0))?;
    let n = crate::io::read_up_to(file, &mut head)?;
    if !matches!(
        crate::Format::sniff(&head[..n]),
        Some(crate::Format::Mp4 | crate::Format::QuickTime)
    ) {
        return Ok(false);
    }
    let Some(plan) = plan(file, len)? else {
        return Ok(false);
    };
    let mut index = read_body(file, &plan.moov, MAX_MOOV)?;
    // Every byte between the first mdat and the old moov moves up by moov's size; a byte of
    // the moov itself (a chunk a crafted file keeps there) moves with it to `insert_at`.
    let (insert_at, moov_at, moov_size) = (plan.insert_at, plan.moov.offset, plan.moov.size);
    let shift = |offset: u64| -> Option<u64> {
        if offset >= insert_at && offset < moov_at {
            offset.checked_add(moov_size)
        } else if offset >= moov_at && offset < moov_at + moov_size {
            Some(insert_at + (offset - moov_at))
        } else {
            Some(offset)
        }
    };
    if !rewrite_offsets(&mut index, &shift)? {
        // An offset would no longer fit in 32 bits: leave the file as it is.
        return Ok(false);
    }
    let mut copy = |from: u64, n: u64, out: &mut dyn Write| -> Result<(), FaststartError> {
        file.seek(SeekFrom::Start(from))?;
        let copied = std::io::copy(&mut (&mut *file).take(n), out)?;
        if copied == n {
            Ok(())
        } else {
            Err(FaststartError::Format(FormatError::Malformed(
                "the MP4 file changed while it was remuxed".into(),
            )))
        }
    };
    copy(0, insert_at, out)?;
    // The moov's header with its size written out (a size 0, "to the end of the file", would
    // swallow what now follows it), then its rewritten body.
    if plan.moov.header_len == 16 {
        copy(moov_at, 16, out)?;
    } else {
        let size = u32::try_from(moov_size).map_err(|_| {
            FaststartError::Format(FormatError::TooLarge("a moov over 4 GiB".into()))
        })?;
        out.write_all(&size.to_be_bytes())?;
        out.write_all(b"moov")?;
    }
    out.write_all(&index)?;
    copy(insert_at, moov_at - insert_at, out)?;
    copy(plan.moov.end(), len - plan.moov.end(), out)?;
    Ok(true)
}

/// Where `moov` goes: in front of the first `mdat`.
struct Plan {
    moov: BoxHeader,
    insert_at: u64,
}

/// The plan for a file, or `None` when it needs none (no `moov` after an `mdat`, fragments,
/// an index over [`MAX_MOOV`]). Keeps two headers, whatever the number of boxes.
fn plan<R: Read + Seek>(file: &mut R, len: u64) -> Result<Option<Plan>, FaststartError> {
    let mut top = TopLevel::new(len);
    let mut first_mdat = None;
    let mut moov = None;
    while let Some(header) = top.next(file)? {
        match &header.kind {
            b"moof" => return Ok(None),
            b"mdat" if first_mdat.is_none() => first_mdat = Some(header.offset),
            b"moov" if moov.is_none() => moov = Some(header),
            _ => {}
        }
    }
    match (moov, first_mdat) {
        (Some(moov), Some(insert_at)) if moov.offset > insert_at && moov.size <= MAX_MOOV => {
            Ok(Some(Plan { moov, insert_at }))
        }
        _ => Ok(None),
    }
}

/// Apply `shift` to every `stco`/`co64` entry under `moov` (its body). `false` if a shifted
/// `stco` offset no longer fits in 32 bits.
fn rewrite_offsets(
    moov: &mut [u8],
    shift: &dyn Fn(u64) -> Option<u64>,
) -> Result<bool, FormatError> {
    let tables = walk(moov, |k| CONTAINERS.contains(&k))?;
    for (_, header) in tables {
        let wide = match &header.kind {
            b"stco" => false,
            b"co64" => true,
            _ => continue,
        };
        let body = &mut moov[header.body().start as usize..header.end() as usize];
        let width = if wide { 8 } else { 4 };
        let count = be32(body, 4)? as usize;
        if body.len() < count.saturating_mul(width).saturating_add(8) {
            return Err(crate::error::malformed("a chunk offset table is cut short"));
        }
        for entry in body[8..8 + count * width].chunks_exact_mut(width) {
            let old = if wide {
                u64::from_be_bytes(
                    entry
                        .try_into()
                        .map_err(|_| crate::error::malformed("co64"))?,
                )
            } else {
                u64::from(u32::from_be_bytes(
                    entry
                        .try_into()
                        .map_err(|_| crate::error::malformed("stco"))?,
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
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::super::bx;
    use super::*;

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
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// The security review's finding 7: moov after mdat with 300 000 nested `trak`s (2.4 MB)
    /// overflowed the stack and aborted the node. Now: refused, nothing else.
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

    /// A 64-bit size on a box inside `moov` (once "malformed" here) is read like any other.
    #[test]
    fn a_64_bit_box_inside_moov_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wide.mp4");
        let ftyp = bx(b"ftyp", b"isom\0\0\0\0isom");
        let mdat = bx(b"mdat", b"SAMPLE");
        let first = (ftyp.len() + 8) as u32;
        let mut stco = vec![0, 0, 0, 0, 0, 0, 0, 1];
        stco.extend_from_slice(&first.to_be_bytes());
        let stbl = bx(b"stbl", &bx(b"stco", &stco));
        let mut wide_trak = vec![0, 0, 0, 1];
        wide_trak.extend_from_slice(b"trak");
        let mdia = bx(b"mdia", &bx(b"minf", &stbl));
        wide_trak.extend_from_slice(&((16 + mdia.len()) as u64).to_be_bytes());
        wide_trak.extend_from_slice(&mdia);
        let index = bx(b"moov", &wide_trak);
        std::fs::write(&path, [ftyp.clone(), mdat, index.clone()].concat()).unwrap();
        assert!(faststart_in_place(&path).unwrap());
        let out = std::fs::read(&path).unwrap();
        let moved = first + index.len() as u32;
        let at = ftyp.len() + index.len() - 4;
        assert_eq!(&out[at..at + 4], &moved.to_be_bytes());
        assert_eq!(&out[moved as usize..moved as usize + 6], b"SAMPLE");
    }
}
