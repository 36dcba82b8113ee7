//! MP4/MOV metadata removal, in place, without moving a byte: metadata boxes become `free`
//! boxes of the same size with zeroed bodies, and the samples of timed-metadata tracks (GoPro
//! `gpmd` GPS, `camm` camera motion, Apple `mebx`, any `meta` track) are zeroed where they lie
//! in `mdat`. Every chunk offset stays valid; players skip `free` and zeroed metadata.
//!
//! The `moov` is read into memory (at most [`MAX_MOOV`]) and walked with [`walk`]; the
//! samples are read and zeroed 64 KiB at a time, never more bytes in all than the file has.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::{be32, be64, path, read_body, walk, BoxHeader, TopLevel, MAX_MOOV};
use crate::error::{malformed, FormatError};
use crate::strip::StripReport;
use crate::Format;

/// The XMP `uuid` box's extended type.
const XMP_UUID: [u8; 16] = [
    0xBE, 0x7A, 0xCF, 0xCB, 0x97, 0xA9, 0x42, 0xE8, 0x9C, 0x71, 0x99, 0x94, 0x91, 0xE3, 0xAF, 0xAC,
];

/// Largest metadata box outside `moov` read into memory to look for a location (a larger one
/// counts as having one, and is zeroed all the same).
const MAX_SCANNED_BOX: u64 = 16 << 20;

/// What in a metadata box says "location": QuickTime `©xyz`, the `mdta` key
/// `com.apple.quicktime.location.ISO6709`, exiftool's `GPSCoordinates`, XMP's `exif:GPSLatitude`,
/// NMEA sentences.
const LOCATION_MARKS: &[&[u8]] = &[
    b"\xA9xyz",
    b"location.ISO6709",
    b"GPSCoordinates",
    b"GPSLatitude",
    // NMEA sentences (dash-cams log them in `free`/`udat` boxes): `$GPRMC`, `$GNGGA`…
    b"$GP",
    b"$GN",
];

/// Containers inside `moov` gone through to reach tracks and their tables.
const CONTAINERS: &[&[u8; 4]] = &[b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"];

/// Sample entry types of timed metadata that carries where the camera was.
const LOCATION_ENTRIES: &[&[u8; 4]] = &[b"gpmd", b"camm"];
/// Handler types of timed-metadata tracks.
const METADATA_HANDLERS: &[&[u8; 4]] = &[b"meta", b"camm"];
/// Handler types of text tracks: drones and dash-cams write their GPS as subtitles. Their
/// samples are zeroed too (a phone's own video has none).
const TEXT_HANDLERS: &[&[u8; 4]] = &[b"text", b"sbtl", b"subt"];

/// Top-level boxes kept; any other (a dash-cam's `udat` NMEA log, a vendor's GPS box) becomes
/// `free`. `udta`, `meta` and XMP `uuid` are metadata and go too.
const KEEP_TOP: &[&[u8; 4]] = &[
    b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"moof", b"mfra", b"sidx", b"ssix",
    b"styp", b"prft", b"emsg", b"pdin",
];

/// Most chunks of metadata samples zeroed in one track (a two-hour GoPro video has 7 200).
const MAX_CHUNKS: u64 = 1 << 20;

/// Inspect (`write: false`) or scrub the MP4/MOV at `path`.
pub(crate) fn scrub(path: &Path, format: Format, write: bool) -> Result<StripReport, FormatError> {
    let mut file = if write {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)?
    } else {
        File::open(path)?
    };
    // No fsync, as for the rewriting strippers: the cleaned file is read back through the
    // page cache (the upload hashes it next), and a crash before it is stored loses only a
    // staged upload. An fsync here cost 2–3 ms a file, more than the cleaning itself.
    scrub_file(&mut file, format, write)
}

/// What `write` does to a file: nothing (inspect) or the patches.
pub(crate) fn scrub_file<F: Read + Write + Seek>(
    file: &mut F,
    format: Format,
    write: bool,
) -> Result<StripReport, FormatError> {
    let mut report = StripReport::new(format);
    let heif = matches!(format, Format::Heic | Format::Avif);
    let len = file.seek(SeekFrom::End(0))?;
    // Where samples may lie: the bodies of the `mdat` boxes, in file order.
    let mut mdats = Vec::new();
    let mut tops = Vec::new();
    let mut top = TopLevel::new(len);
    while let Some(header) = top.next(file)? {
        if &header.kind == b"mdat" {
            mdats.push(header.body());
        }
        tops.push(header);
    }
    // A HEIF file's first top-level `meta` is its picture index, not metadata.
    let heif_index = tops
        .iter()
        .find(|h| heif && &h.kind == b"meta")
        .map(|h| h.offset);
    for header in tops.iter().copied() {
        if Some(header.offset) == heif_index {
            super::heif::clean_meta(file, &header, &tops, write, &mut report)?;
        } else if !kept_at_top(heif, &header.kind) || is_metadata_box(file, &header)? {
            let body = header.body();
            if body.end - body.start <= MAX_SCANNED_BOX {
                let data = read_body(file, &header, MAX_SCANNED_BOX)?;
                report.had_location |= tells_location(&data);
            } else {
                report.had_location = true;
            }
            report.remove(&metadata_name(&header));
            if write {
                file.seek(SeekFrom::Start(header.offset + 4))?;
                file.write_all(b"free")?;
                zero(file, body.start, body.end - body.start)?;
            }
        } else if matches!(&header.kind, b"free" | b"skip") {
            // Padding that holds something (a dash-cam's NMEA log, a vendor's serial): zeroed.
            blank_padding(file, &header, write, &mut report)?;
        } else if &header.kind == b"moov" {
            let mut moov = read_body(file, &header, MAX_MOOV)?;
            if scrub_moov(&mut moov, &mdats, file, len, write, &mut report)? && write {
                file.seek(SeekFrom::Start(header.body().start))?;
                file.write_all(&moov)?;
            }
        }
    }
    Ok(report)
}

/// Whether a top-level box of this type stays: MP4's structural boxes, or for HEIF only the
/// boxes an image file has (`moof` and the other fragment boxes have no place in one).
fn kept_at_top(heif: bool, kind: &[u8; 4]) -> bool {
    if heif {
        matches!(kind, b"ftyp" | b"mdat" | b"free" | b"skip" | b"moov")
    } else {
        KEEP_TOP.contains(&kind)
    }
}

/// Zero the body of a `free`/`skip` box that is not all zeros, streamed.
fn blank_padding<F: Read + Write + Seek>(
    file: &mut F,
    header: &BoxHeader,
    write: bool,
    report: &mut StripReport,
) -> Result<(), FormatError> {
    let body = header.body();
    file.seek(SeekFrom::Start(body.start))?;
    let mut left = body.end - body.start;
    let mut buf = vec![0u8; 64 * 1024];
    let mut first = true;
    let mut content = false;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        crate::io::fill(file, &mut buf[..n], "a free box")?;
        if buf[..n].iter().any(|&b| b != 0) {
            content = true;
            // What a location looks like, in the first chunk; past it, assume one.
            report.had_location |= !first || tells_location(&buf[..n]);
        }
        first = false;
        left -= n as u64;
    }
    if content {
        report.remove("free data");
        if write {
            zero(file, body.start, body.end - body.start)?;
        }
    }
    Ok(())
}

/// `udta`, `meta` or an XMP `uuid` box (at the top level, in `moov` or in a track).
fn is_metadata_box<F: Read + Seek + ?Sized>(
    file: &mut F,
    header: &BoxHeader,
) -> Result<bool, FormatError> {
    Ok(match &header.kind {
        b"udta" | b"meta" => true,
        b"uuid" => {
            let mut ext = [0u8; 16];
            file.seek(SeekFrom::Start(header.body().start))?;
            crate::io::read_up_to(file, &mut ext)? == 16 && ext == XMP_UUID
        }
        _ => false,
    })
}

fn metadata_name(header: &BoxHeader) -> String {
    match &header.kind {
        b"uuid" => "XMP".to_owned(),
        b"udta" | b"meta" => header.name(),
        other => other.escape_ascii().to_string(),
    }
}

/// Whether metadata about to be dropped tells a location: a QuickTime/XMP mark, a GPS name
/// in text (UTF-8 or UTF-16), or an embedded EXIF (a TIFF header anywhere) with a GPS IFD.
/// Under `reject` a false alarm refuses an upload; a miss would store a home address.
pub(crate) fn tells_location(data: &[u8]) -> bool {
    has_location_mark(data)
        || crate::exif::mentions_gps(data)
        || memchr::memmem::find_iter(data, b"MM\0\x2a")
            .chain(memchr::memmem::find_iter(data, b"II\x2a\0"))
            .take(64)
            .any(|at| crate::exif::facts(&data[at..]).1)
}

pub(crate) fn has_location_mark(data: &[u8]) -> bool {
    LOCATION_MARKS
        .iter()
        .any(|mark| data.windows(mark.len()).any(|w| w == *mark))
}

/// Blank the metadata boxes of `moov` (its body, in memory) and zero the samples of its
/// timed-metadata tracks in `file`. Whether `moov` changed.
fn scrub_moov<F: Read + Write + Seek>(
    moov: &mut [u8],
    mdats: &[std::ops::Range<u64>],
    file: &mut F,
    len: u64,
    write: bool,
    report: &mut StripReport,
) -> Result<bool, FormatError> {
    let boxes = walk(moov, |k| CONTAINERS.contains(&k))?;
    let mut changed = false;
    // At any depth of the walk (movie, track, media, tables); the walk does not enter sample
    // entries, whose `meta` boxes describe the samples.
    for (_, header) in &boxes {
        let metadata = match &header.kind {
            b"udta" | b"meta" => true,
            b"uuid" => moov
                .get(header.body().start as usize..)
                .is_some_and(|b| b.starts_with(&XMP_UUID)),
            _ => false,
        };
        if !metadata {
            continue;
        }
        let body = header.body().start as usize..header.end() as usize;
        report.had_location |= has_location_mark(&moov[body.clone()]);
        report.remove(&metadata_name(header));
        let at = header.offset as usize;
        moov[at + 4..at + 8].copy_from_slice(b"free");
        moov[body].fill(0);
        changed = true;
    }
    for (depth, header) in &boxes {
        if *depth == 0 && &header.kind == b"trak" {
            let trak = &moov[header.body().start as usize..header.end() as usize];
            timed_metadata(trak, mdats, file, len, write, report)?;
        }
    }
    Ok(changed)
}

/// When `trak` is a timed-metadata track, zero its samples in `file`.
fn timed_metadata<F: Read + Write + Seek>(
    trak: &[u8],
    mdats: &[std::ops::Range<u64>],
    file: &mut F,
    len: u64,
    write: bool,
    report: &mut StripReport,
) -> Result<(), FormatError> {
    let handler = path(trak, &[b"mdia", b"hdlr"])?
        .and_then(|h| h.get(8..12))
        .and_then(|h| <[u8; 4]>::try_from(h).ok());
    let Some(stbl) = path(trak, &[b"mdia", b"minf", b"stbl"])? else {
        return Ok(());
    };
    let stsd = super::find(stbl, b"stsd")?;
    let entry = stsd
        .and_then(|s| s.get(8..))
        .map(|s| super::boxes(s).next())
        .and_then(|e| e.and_then(Result::ok))
        .map(|e| e.header.kind);
    let by_entry = entry.is_some_and(|e| LOCATION_ENTRIES.contains(&&e) || &e == b"mebx");
    let by_handler = handler.is_some_and(|h| METADATA_HANDLERS.contains(&&h));
    let text = handler.is_some_and(|h| TEXT_HANDLERS.contains(&&h));
    if !by_entry && !by_handler && !text {
        return Ok(());
    }
    let name = match entry {
        _ if text => "subtitles".to_owned(),
        Some(e) => e.escape_ascii().to_string().trim_end().to_owned(),
        None => "timed metadata".to_owned(),
    };
    // GPS and camera motion always tell where; Apple's `mebx` when its keys name a location;
    // any other metadata track counts as telling, to be safe under `reject`.
    let location = match entry {
        _ if text => false,
        Some(e) if &e == b"mebx" => contains(stsd, b"location"),
        _ => true,
    };
    // The table is checked whole before a byte is written: a file refused half-way would
    // otherwise be left half-scrubbed. Samples must lie in an `mdat` (zeroed in the index or
    // over another box's header, they would come back when those are written).
    let mut count = 0u64;
    for chunk in chunks(stbl, len)? {
        let (offset, size) = chunk?;
        count += 1;
        if count > MAX_CHUNKS {
            return Err(crate::error::too_large(format!(
                "more than {MAX_CHUNKS} chunks in a metadata track"
            )));
        }
        if size > 0 && !in_mdat(mdats, offset, size) {
            return Err(malformed("metadata samples outside the media data"));
        }
    }
    // Adjacent chunks are zeroed as one range, through one buffer.
    let mut buf = vec![0u8; 64 * 1024];
    let mut found = false;
    let mut run: Option<(u64, u64)> = None;
    for chunk in chunks(stbl, len)? {
        let (offset, size) = chunk?;
        if size == 0 {
            continue;
        }
        run = match run {
            Some((start, end)) if end == offset => Some((start, end + size)),
            Some((start, end)) => {
                found |= zero_if_set(file, start, end - start, write, &mut buf)?;
                Some((offset, offset + size))
            }
            None => Some((offset, offset + size)),
        };
    }
    if let Some((start, end)) = run {
        found |= zero_if_set(file, start, end - start, write, &mut buf)?;
    }
    if found {
        report.had_location |= location;
        report.remove(&name);
    }
    Ok(())
}

/// The chunks of every track of a `moov` (its body), added to `used` as file ranges: the
/// bytes an image sequence's tracks read from `mdat`.
pub(crate) fn track_samples(
    moov: &[u8],
    len: u64,
    used: &mut Vec<std::ops::Range<u64>>,
) -> Result<(), FormatError> {
    for trak in super::boxes(moov) {
        let trak = trak?;
        if &trak.header.kind != b"trak" {
            continue;
        }
        if let Some(stbl) = path(trak.body, &[b"mdia", b"minf", b"stbl"])? {
            for chunk in chunks(stbl, len)? {
                let (offset, size) = chunk?;
                used.push(offset..offset + size);
            }
        }
    }
    Ok(())
}

/// Whether `offset..offset + size` lies within one of `mdats` (sorted, not overlapping).
fn in_mdat(mdats: &[std::ops::Range<u64>], offset: u64, size: u64) -> bool {
    let i = mdats.partition_point(|m| m.end <= offset);
    mdats
        .get(i)
        .is_some_and(|m| m.start <= offset && offset + size <= m.end)
}

fn contains(data: Option<&[u8]>, needle: &[u8]) -> bool {
    data.is_some_and(|d| d.windows(needle.len()).any(|w| w == needle))
}

/// The chunks of a sample table as `(offset, size)` in the file, from `stsc`, `stsz` and
/// `stco`/`co64`; each checked to lie in a file of `len` bytes, and all together no longer
/// than the file (overlapping chunks are refused: they would make the work grow past the
/// input). Lazy: nothing is collected.
fn chunks(
    stbl: &[u8],
    len: u64,
) -> Result<impl Iterator<Item = Result<(u64, u64), FormatError>> + '_, FormatError> {
    let stsc = super::find(stbl, b"stsc")?.ok_or_else(|| malformed("a track without stsc"))?;
    let stsz = super::find(stbl, b"stsz")?.ok_or_else(|| malformed("a track without stsz"))?;
    let (offsets, wide) = match (super::find(stbl, b"stco")?, super::find(stbl, b"co64")?) {
        (Some(t), _) => (t, false),
        (None, Some(t)) => (t, true),
        (None, None) => return Err(malformed("a track without stco or co64")),
    };
    let chunk_count = u64::from(be32(offsets, 4)?);
    let runs = u64::from(be32(stsc, 4)?);
    let fixed = u64::from(be32(stsz, 4)?);
    let samples = u64::from(be32(stsz, 8)?);
    let mut chunk = 0u64;
    let mut run = 0u64;
    let mut sample = 0u64;
    let mut total = 0u64;
    Ok(std::iter::from_fn(move || {
        if chunk >= chunk_count {
            return None;
        }
        let step = (|| {
            // The run this chunk (1-based `chunk + 1`) falls in.
            while run + 1 < runs && u64::from(be32(stsc, 8 + 12 * (run as usize + 1))?) <= chunk + 1
            {
                run += 1;
            }
            let per_chunk = u64::from(be32(stsc, 12 + 12 * run as usize)?);
            let offset = if wide {
                be64(offsets, 8 + 8 * chunk as usize)?
            } else {
                u64::from(be32(offsets, 8 + 4 * chunk as usize)?)
            };
            if sample.saturating_add(per_chunk) > samples {
                return Err(malformed("a sample table lists more samples than stsz"));
            }
            let size = if fixed != 0 {
                fixed.saturating_mul(per_chunk)
            } else {
                let mut size = 0u64;
                for s in sample..sample + per_chunk {
                    size += u64::from(be32(stsz, 12 + 4 * s as usize)?);
                }
                size
            };
            sample += per_chunk;
            total = total.saturating_add(size);
            if offset.checked_add(size).is_none_or(|end| end > len) || total > len {
                return Err(malformed("a chunk of samples lies outside the file"));
            }
            chunk += 1;
            Ok((offset, size))
        })();
        if step.is_err() {
            chunk = chunk_count;
        }
        Some(step)
    }))
}

/// Whether `offset..offset + size` holds a byte other than zero; if so and `write`, zero it.
fn zero_if_set<F: Read + Write + Seek>(
    file: &mut F,
    offset: u64,
    size: u64,
    write: bool,
    buf: &mut [u8],
) -> Result<bool, FormatError> {
    let mut at = offset;
    let end = offset + size;
    let mut set = false;
    while at < end {
        let k = (end - at).min(buf.len() as u64) as usize;
        file.seek(SeekFrom::Start(at))?;
        crate::io::fill(file, &mut buf[..k], "a metadata sample")?;
        if buf[..k].iter().any(|&b| b != 0) {
            set = true;
            break;
        }
        at += k as u64;
    }
    if set && write {
        zero(file, offset, size)?;
    }
    Ok(set)
}

/// Write `n` zero bytes at `at`.
pub(crate) fn zero<F: Write + Seek + ?Sized>(
    file: &mut F,
    at: u64,
    n: u64,
) -> Result<(), FormatError> {
    file.seek(SeekFrom::Start(at))?;
    let zeros = [0u8; 64 * 1024];
    let mut left = n;
    while left > 0 {
        let k = left.min(zeros.len() as u64) as usize;
        file.write_all(&zeros[..k])?;
        left -= k as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::bx;
    use crate::strip::strip_bytes;

    fn full(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        bx(kind, &[&[0u8, 0, 0, 0][..], payload].concat())
    }

    fn be(values: &[u32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_be_bytes()).collect()
    }

    /// `ftyp`, an `mdat` of two samples, and a `moov` with one track of `handler` whose
    /// sample entry is `entry` (with `entry_body`); chunk offsets in `co64` when `wide`.
    fn clip(handler: &[u8; 4], entry: &[u8; 4], entry_body: &[u8], wide: bool) -> Vec<u8> {
        let ftyp = bx(b"ftyp", b"isom\0\0\0\0isom");
        let samples = [b"SAMPLE-ONE".to_vec(), b"SAMPLE-2".to_vec()];
        let first = (ftyp.len() + 8) as u32;
        let mdat = bx(b"mdat", &samples.concat());
        let hdlr = full(b"hdlr", &[&[0u8; 4][..], handler, &[0; 12], b"\0"].concat());
        let stsd = full(b"stsd", &[be(&[1]), bx(entry, entry_body)].concat());
        let stsc = full(b"stsc", &be(&[1, 1, 1, 1]));
        let stsz = full(b"stsz", &be(&[0, 2, 10, 8]));
        let offsets = if wide {
            full(b"co64", &[be(&[2, 0, first, 0, first + 10])].concat())
        } else {
            full(b"stco", &be(&[2, first, first + 10]))
        };
        let stbl = bx(b"stbl", &[stsd, stsc, stsz, offsets].concat());
        let trak = bx(b"trak", &bx(b"mdia", &[hdlr, bx(b"minf", &stbl)].concat()));
        [ftyp, mdat, bx(b"moov", &trak)].concat()
    }

    #[test]
    fn camera_motion_and_apple_location_tracks_are_zeroed_and_reported() {
        for (handler, entry, body, wide, location) in [
            (b"camm", b"camm", &b""[..], false, true),
            (
                b"meta",
                b"mebx",
                &b"keyd mdtacom.apple.quicktime.location.ISO6709"[..],
                true,
                true,
            ),
            (
                b"meta",
                b"mebx",
                &b"keyd mdtacom.apple.quicktime.live-photo.info"[..],
                false,
                false,
            ),
        ] {
            let original = clip(handler, entry, body, wide);
            let (report, cleaned) = strip_bytes(&original).unwrap();
            let name = String::from_utf8_lossy(entry).into_owned();
            assert_eq!(report.removed, vec![name.clone()], "{name}");
            assert_eq!(report.had_location, location, "{name}");
            assert_eq!(cleaned.len(), original.len());
            let at = original
                .windows(10)
                .position(|w| w == b"SAMPLE-ONE")
                .unwrap();
            assert!(cleaned[at..at + 18].iter().all(|&b| b == 0), "{name}");
            assert_eq!(cleaned[..at], original[..at]);
            assert_eq!(cleaned[at + 18..], original[at + 18..]);
            let (again, same) = strip_bytes(&cleaned).unwrap();
            assert!(!again.changed() && !again.had_location, "{name}: {again:?}");
            assert_eq!(same, cleaned);
        }
        // A video track is not metadata: nothing changes.
        let video = clip(b"vide", b"avc1", &[0; 78], false);
        let (report, same) = strip_bytes(&video).unwrap();
        assert!(!report.changed(), "{report:?}");
        assert_eq!(same, video);
    }

    #[test]
    fn chunks_that_overlap_past_the_file_size_are_refused_not_read_again_and_again() {
        // 1000 chunks all pointing at the same 100 000 sample bytes.
        let ftyp = bx(b"ftyp", b"isom\0\0\0\0isom");
        let first = (ftyp.len() + 8) as u32;
        let mdat = bx(b"mdat", &vec![7u8; 100_000]);
        let hdlr = full(b"hdlr", &[&[0u8; 4][..], b"meta", &[0; 12], b"\0"].concat());
        let stsd = full(b"stsd", &[be(&[1]), bx(b"gpmd", &[])].concat());
        let stsc = full(b"stsc", &be(&[1, 1, 1, 1]));
        let stsz = full(b"stsz", &be(&[100_000, 1000]));
        let mut stco = be(&[1000]);
        stco.extend(std::iter::repeat_n(first.to_be_bytes(), 1000).flatten());
        let stbl = bx(b"stbl", &[stsd, stsc, stsz, full(b"stco", &stco)].concat());
        let trak = bx(b"trak", &bx(b"mdia", &[hdlr, bx(b"minf", &stbl)].concat()));
        let file = [ftyp, mdat, bx(b"moov", &trak)].concat();
        let err = strip_bytes(&file).unwrap_err();
        assert!(err.to_string().contains("outside the file"), "{err}");
    }
}
