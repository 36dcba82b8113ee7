//! Lossless removal of metadata that tells where a photo was taken, with what device, or by
//! whom — before anything leaves the node.
//!
//! | format | removed | kept |
//! |---|---|---|
//! | JPEG | APP1 EXIF/XMP, APP3–APP13 (IPTC/Photoshop…), APP15, COM, MPF and anything after EOI (embedded second images carry their own EXIF) | entropy-coded data byte for byte, JFIF, ICC, Adobe; the EXIF Orientation as a minimal EXIF |
//! | PNG | `eXIf`, `tEXt`, `iTXt`, `zTXt`, `tIME` and every ancillary chunk not known to be about pixels | critical chunks, colour and animation chunks; the Orientation as a minimal `eXIf` |
//! | WebP | `EXIF`, `XMP ` and unknown chunks (VP8X flags and RIFF size fixed) | image, alpha, ICC, animation; the Orientation as a minimal `EXIF` |
//! | GIF | comment extensions, application extensions other than looping (XMP) | frames, colour tables, looping |
//! | MP4/MOV | `udta`, `meta` and XMP `uuid` boxes in the movie and its tracks: turned into `free` boxes of the same size with their bytes zeroed, so no sample offset moves | every sample byte |
//!
//! HEIC and AVIF are refused ([`StripError::Unsupported`]): they cannot be cleaned yet.
//! Files are processed in a streaming way (a 2 GiB video is never in memory).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// What to do with metadata in an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum MetadataPolicy {
    /// Remove it losslessly (default).
    #[default]
    Strip,
    /// Refuse media that carries a location.
    Reject,
    /// Store the bytes exactly as they are (an explicit opt-out): no metadata removed, no
    /// faststart remux of MP4/MOV.
    Keep,
}

impl std::str::FromStr for MetadataPolicy {
    type Err = StripError;
    fn from_str(s: &str) -> Result<Self, StripError> {
        match s.to_ascii_lowercase().as_str() {
            "strip" => Ok(MetadataPolicy::Strip),
            "reject" => Ok(MetadataPolicy::Reject),
            "keep" => Ok(MetadataPolicy::Keep),
            other => Err(StripError::Malformed(format!(
                "unknown metadata policy {other:?} (strip, reject or keep)"
            ))),
        }
    }
}

/// Why a file could not be inspected or cleaned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StripError {
    /// A format whose metadata cannot be removed yet (HEIC, AVIF).
    #[error("{0} cannot be cleaned of metadata yet; upload a JPEG/PNG/WebP, or choose the `keep` policy")]
    Unsupported(&'static str),
    /// The file does not parse as the format its first bytes announce.
    #[error("malformed file: {0}")]
    Malformed(String),
    /// Reading or writing failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What [`inspect`] found or [`strip_in_place`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StripReport {
    /// The format recognized (`jpeg`, `png`, `webp`, `gif`, `mp4`), or `None` for formats that
    /// carry no metadata we know of (left as they are).
    pub format: Option<&'static str>,
    /// What was (or would be) removed, e.g. `EXIF`, `XMP`, `COM`, `tEXt`, `udta`.
    pub removed: Vec<String>,
    /// Whether a location (EXIF GPS, QuickTime `©xyz`/ISO 6709) was present.
    pub had_location: bool,
    /// EXIF orientation kept (1–8; 1 when absent).
    pub orientation: u8,
}

impl StripReport {
    /// Whether anything was (or would be) removed.
    pub fn changed(&self) -> bool {
        !self.removed.is_empty()
    }
}

/// Find the metadata in the file at `path` without changing it.
pub fn inspect(path: &Path) -> Result<StripReport, StripError> {
    process(path, false)
}

/// Remove the metadata from the file at `path`. Images are rewritten beside it and renamed
/// over it (only when something is removed); MP4/MOV are patched in place.
pub fn strip_in_place(path: &Path) -> Result<StripReport, StripError> {
    process(path, true)
}

fn process(path: &Path, write: bool) -> Result<StripReport, StripError> {
    let mut head = [0u8; 32];
    let n = read_up_to(&mut File::open(path)?, &mut head)?;
    let head = &head[..n];
    match sniff(head) {
        Some(Format::Jpeg) => rewrite(path, write, jpeg),
        Some(Format::Png) => rewrite(path, write, png),
        Some(Format::Webp) => rewrite(path, write, webp),
        Some(Format::Gif) => rewrite(path, write, gif),
        Some(Format::Mp4) => mp4(path, write),
        Some(Format::Heif(name)) => Err(StripError::Unsupported(name)),
        None => Ok(StripReport {
            orientation: 1,
            ..Default::default()
        }),
    }
}

enum Format {
    Jpeg,
    Png,
    Webp,
    Gif,
    Mp4,
    Heif(&'static str),
}

fn sniff(head: &[u8]) -> Option<Format> {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(Format::Jpeg);
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(Format::Png);
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Some(Format::Webp);
    }
    if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        return Some(Format::Gif);
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        let brand = &head[8..12];
        return Some(match brand {
            b"heic" | b"heix" | b"hevc" | b"heim" | b"heis" | b"hevx" | b"mif1" | b"msf1" => {
                Format::Heif("HEIC")
            }
            b"avif" | b"avis" => Format::Heif("AVIF"),
            _ => Format::Mp4,
        });
    }
    if head.len() >= 8 && matches!(&head[4..8], b"moov" | b"mdat" | b"wide" | b"free") {
        return Some(Format::Mp4);
    }
    None
}

pub(crate) fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn malformed(what: impl Into<String>) -> StripError {
    StripError::Malformed(what.into())
}

/// A rewriting pass: `f` reads the original and writes the cleaned file (to a sink when only
/// inspecting). The result replaces the original only when something was removed.
fn rewrite(
    path: &Path,
    write: bool,
    f: fn(&mut dyn BufRead, &mut dyn Write) -> Result<StripReport, StripError>,
) -> Result<StripReport, StripError> {
    let mut input = BufReader::with_capacity(256 * 1024, File::open(path)?);
    if !write {
        return f(&mut input, &mut std::io::sink());
    }
    let tmp = path.with_extension("strip.tmp");
    let result = (|| {
        let mut out = BufWriter::with_capacity(256 * 1024, File::create(&tmp)?);
        let report = f(&mut input, &mut out)?;
        out.flush()?;
        Ok::<_, StripError>(report)
    })();
    match result {
        Ok(report) if report.changed() => {
            std::fs::rename(&tmp, path)?;
            Ok(report)
        }
        Ok(report) => {
            let _ = std::fs::remove_file(&tmp);
            Ok(report)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn read_exact(r: &mut dyn Read, n: usize, what: &str) -> Result<Vec<u8>, StripError> {
    let mut buf = vec![0u8; n];
    r.read_exact(&mut buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            malformed(format!("{what} is cut short"))
        } else {
            StripError::Io(e)
        }
    })?;
    Ok(buf)
}

fn u16_be(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn u32_be(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn u32_le(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Orientation and whether a GPS IFD exists, from a TIFF structure (EXIF without its
/// `Exif\0\0` prefix). Anything that does not parse counts as "no orientation, no GPS" — the
/// block is removed either way.
fn exif_facts(tiff: &[u8]) -> (u8, bool) {
    if tiff.len() < 8 {
        return (1, false);
    }
    let big = match &tiff[..2] {
        b"MM" => true,
        b"II" => false,
        _ => return (1, false),
    };
    let r16 = |o: usize| -> Option<u16> {
        let b = tiff.get(o..o + 2)?;
        Some(if big {
            u16::from_be_bytes([b[0], b[1]])
        } else {
            u16::from_le_bytes([b[0], b[1]])
        })
    };
    let r32 = |o: usize| -> Option<u32> {
        let b = tiff.get(o..o + 4)?;
        Some(if big {
            u32::from_be_bytes([b[0], b[1], b[2], b[3]])
        } else {
            u32::from_le_bytes([b[0], b[1], b[2], b[3]])
        })
    };
    let Some(ifd) = r32(4).map(|o| o as usize) else {
        return (1, false);
    };
    let count = r16(ifd).unwrap_or(0) as usize;
    let (mut orientation, mut gps) = (1u8, false);
    for i in 0..count.min(512) {
        let entry = ifd + 2 + i * 12;
        match r16(entry) {
            Some(0x0112) => {
                let v = r16(entry + 8).unwrap_or(1);
                if (1..=8).contains(&v) {
                    orientation = v as u8;
                }
            }
            Some(0x8825) => gps = true,
            None => break,
            _ => {}
        }
    }
    (orientation, gps)
}

/// Length of [`minimal_tiff`]'s output.
const MINIMAL_TIFF_LEN: usize = 26;

/// Whether `tiff` is exactly an orientation-only TIFF as [`minimal_tiff`] writes.
fn is_minimal(tiff: Option<&[u8]>) -> bool {
    tiff.is_some_and(|t| {
        t.len() == MINIMAL_TIFF_LEN && (1..=8).any(|o| minimal_tiff(o).as_slice() == t)
    })
}

/// A TIFF structure with one IFD0 entry: Orientation.
fn minimal_tiff(orientation: u8) -> Vec<u8> {
    let mut t = Vec::with_capacity(26);
    t.extend_from_slice(b"MM\0\x2a\0\0\0\x08"); // big-endian, IFD0 at 8
    t.extend_from_slice(&1u16.to_be_bytes()); // one entry
    t.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    t.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    t.extend_from_slice(&1u32.to_be_bytes()); // count 1
    t.extend_from_slice(&[0, orientation, 0, 0]); // value, left-justified
    t.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    t
}

fn jpeg(input: &mut dyn BufRead, out: &mut dyn Write) -> Result<StripReport, StripError> {
    let mut report = StripReport {
        format: Some("jpeg"),
        orientation: 1,
        ..Default::default()
    };
    let soi = read_exact(input, 2, "the JPEG header")?;
    out.write_all(&soi)?;
    let mut kept_orientation = false;
    // The marker that ended a scan of a progressive JPEG: the walk goes on from it, so that
    // segments between scans pass the same rules as those before the first.
    let mut after_scan: Option<u8> = None;
    let mut scanned = false;
    loop {
        let code = match after_scan.take() {
            Some(code) => code,
            None => {
                // A marker: 0xFF (fill bytes allowed), then its code.
                let mut byte = read_exact(input, 1, "a JPEG marker")?[0];
                if byte != 0xFF {
                    return Err(malformed("a JPEG segment does not start with a marker"));
                }
                while byte == 0xFF {
                    byte = read_exact(input, 1, "a JPEG marker")?[0];
                }
                byte
            }
        };
        if code == 0xD9 {
            out.write_all(&[0xFF, code])?;
            return Ok(report);
        }
        if matches!(code, 0x01 | 0xD0..=0xD7) {
            out.write_all(&[0xFF, code])?;
            continue;
        }
        let len = u16_be(&read_exact(input, 2, "a JPEG segment length")?) as usize;
        if len < 2 {
            return Err(malformed("a JPEG segment length below 2"));
        }
        let payload = read_exact(input, len - 2, "a JPEG segment")?;
        let drop: Option<&str> = match code {
            0xE1 if is_minimal(payload.strip_prefix(b"Exif\0\0")) => {
                // Our own orientation-only EXIF from an earlier pass.
                report.orientation = exif_facts(&payload[6..]).0;
                kept_orientation = true;
                None
            }
            0xE1 if payload.starts_with(b"Exif\0\0") => {
                let (orientation, gps) = exif_facts(&payload[6..]);
                report.had_location |= gps;
                if orientation != 1 {
                    report.orientation = orientation;
                }
                Some("EXIF")
            }
            0xE1 if payload.starts_with(b"http://ns.adobe.com/") => Some("XMP"),
            0xE1 => Some("APP1"),
            0xE2 if payload.starts_with(b"MPF\0") => Some("MPF"),
            0xED => Some("IPTC"),
            0xE3..=0xEC | 0xEF => Some("APPn"),
            0xFE => Some("COM"),
            _ => None,
        };
        if let Some(what) = drop {
            if !report.removed.iter().any(|r| r == what) {
                report.removed.push(what.to_owned());
            }
            // The orientation is re-written only where readers look for it: before the image.
            if what == "EXIF" && report.orientation != 1 && !kept_orientation && !scanned {
                let mut exif = b"Exif\0\0".to_vec();
                exif.extend(minimal_tiff(report.orientation));
                out.write_all(&[0xFF, 0xE1])?;
                out.write_all(&((exif.len() + 2) as u16).to_be_bytes())?;
                out.write_all(&exif)?;
                kept_orientation = true;
            }
            continue;
        }
        out.write_all(&[0xFF, code])?;
        out.write_all(&(len as u16).to_be_bytes())?;
        out.write_all(&payload)?;
        if code == 0xDA {
            // Entropy-coded data: copied byte for byte up to the next marker. EOI ends the
            // file, and anything after it (a second image with its own EXIF, a vendor
            // trailer) is dropped; any other marker starts a segment between scans.
            scanned = true;
            match copy_scan(input, out)? {
                ScanEnd::Eoi { trailer } => {
                    if trailer {
                        report.removed.push("trailer".to_owned());
                    }
                    return Ok(report);
                }
                ScanEnd::Marker(next) => after_scan = Some(next),
            }
        }
    }
}

/// How a JPEG scan ended.
#[derive(Debug, PartialEq, Eq)]
enum ScanEnd {
    /// At EOI (or the end of a truncated file); `trailer`: bytes followed it.
    Eoi { trailer: bool },
    /// At a marker that starts a segment (tables, another scan, or metadata between the
    /// scans of a progressive JPEG); its `0xFF` and code have been read, not written.
    Marker(u8),
}

/// Copy entropy-coded data up to the next marker that is not part of it (byte stuffing
/// `FF 00`, restart markers and fill bytes are). Streams: memory is the reader's buffer.
fn copy_scan(input: &mut dyn BufRead, out: &mut dyn Write) -> Result<ScanEnd, StripError> {
    // An 0xFF at the end of the previous buffer, not written yet: what follows decides.
    let mut held_ff = false;
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            // No EOI: a truncated file; what there was is kept as is.
            if held_ff {
                out.write_all(&[0xFF])?;
            }
            return Ok(ScanEnd::Eoi { trailer: false });
        }
        if held_ff {
            let code = buf[0];
            input.consume(1);
            match code {
                0x00 | 0xD0..=0xD7 => {
                    out.write_all(&[0xFF, code])?;
                    held_ff = false;
                }
                // A fill byte: the marker is still to come.
                0xFF => {}
                0xD9 => {
                    out.write_all(&[0xFF, 0xD9])?;
                    let trailer = !input.fill_buf()?.is_empty();
                    return Ok(ScanEnd::Eoi { trailer });
                }
                code => return Ok(ScanEnd::Marker(code)),
            }
            continue;
        }
        let n = buf.len();
        let mut at = 0;
        let mut end = None;
        while let Some(ff) = buf[at..].iter().position(|&b| b == 0xFF).map(|p| at + p) {
            match buf.get(ff + 1) {
                None => {
                    end = Some((ff, 1, None));
                    break;
                }
                Some(0x00 | 0xD0..=0xD7) => at = ff + 2,
                Some(&code) => {
                    end = Some((ff, 2, Some(code)));
                    break;
                }
            }
        }
        match end {
            None => {
                out.write_all(buf)?;
                input.consume(n);
            }
            // The buffer ends on 0xFF: hold it.
            Some((ff, _, None)) => {
                out.write_all(&buf[..ff])?;
                input.consume(ff + 1);
                held_ff = true;
            }
            Some((ff, _, Some(0xFF))) => {
                // Fill bytes before a marker.
                out.write_all(&buf[..ff])?;
                input.consume(ff + 2);
                held_ff = true;
            }
            Some((ff, len, Some(0xD9))) => {
                out.write_all(&buf[..ff + len])?;
                input.consume(ff + len);
                let trailer = !input.fill_buf()?.is_empty();
                return Ok(ScanEnd::Eoi { trailer });
            }
            Some((ff, len, Some(code))) => {
                out.write_all(&buf[..ff])?;
                input.consume(ff + len);
                return Ok(ScanEnd::Marker(code));
            }
        }
    }
}

/// PNG ancillary chunks about pixels, kept; every other ancillary chunk is removed.
const PNG_KEEP: &[&[u8; 4]] = &[
    b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB", b"cICP", b"mDCv", b"cLLi", b"bKGD",
    b"hIST", b"pHYs", b"sPLT", b"acTL", b"fcTL", b"fdAT",
];

fn png(input: &mut dyn BufRead, out: &mut dyn Write) -> Result<StripReport, StripError> {
    let mut report = StripReport {
        format: Some("png"),
        orientation: 1,
        ..Default::default()
    };
    let sig = read_exact(input, 8, "the PNG signature")?;
    out.write_all(&sig)?;
    loop {
        let header = read_exact(input, 8, "a PNG chunk header")?;
        let len = u32_be(&header[..4]) as usize;
        if len > 0x7FFF_FFFF {
            return Err(malformed("a PNG chunk longer than 2^31"));
        }
        let kind: [u8; 4] = [header[4], header[5], header[6], header[7]];
        let critical = kind[0].is_ascii_uppercase();
        let keep =
            critical || PNG_KEEP.contains(&&kind) || (&kind == b"eXIf" && len == MINIMAL_TIFF_LEN);
        if &kind == b"eXIf" && keep {
            // Possibly our own orientation-only eXIf: check it really is.
            let data = read_exact(input, len + 4, "a PNG chunk")?;
            if is_minimal(Some(&data[..len])) {
                report.orientation = exif_facts(&data[..len]).0;
                out.write_all(&header)?;
                out.write_all(&data)?;
                continue;
            }
            report.removed.push("eXIf".to_owned());
            let (orientation, gps) = exif_facts(&data[..len]);
            report.had_location |= gps;
            report.orientation = orientation;
            write_png_exif(out, orientation)?;
            continue;
        }
        if keep {
            out.write_all(&header)?;
            copy_exact(input, out, len as u64 + 4, "a PNG chunk")?;
            if &kind == b"IEND" {
                note_trailer(input, &mut report)?;
                return Ok(report);
            }
            continue;
        }
        let data = read_exact(input, len + 4, "a PNG chunk")?;
        let name = String::from_utf8_lossy(&kind).into_owned();
        if &kind == b"eXIf" {
            let (orientation, gps) = exif_facts(&data[..len]);
            report.had_location |= gps;
            report.orientation = orientation;
            write_png_exif(out, orientation)?;
        }
        if !report.removed.contains(&name) {
            report.removed.push(name);
        }
    }
}

/// An orientation-only `eXIf` chunk (nothing when the orientation is the default).
fn write_png_exif(out: &mut dyn Write, orientation: u8) -> Result<(), StripError> {
    if orientation == 1 {
        return Ok(());
    }
    let tiff = minimal_tiff(orientation);
    out.write_all(&(tiff.len() as u32).to_be_bytes())?;
    let mut crc_input = b"eXIf".to_vec();
    crc_input.extend_from_slice(&tiff);
    out.write_all(&crc_input)?;
    out.write_all(&crc32(&crc_input).to_be_bytes())?;
    Ok(())
}

fn copy_exact(
    input: &mut dyn Read,
    out: &mut dyn Write,
    n: u64,
    what: &str,
) -> Result<(), StripError> {
    let copied = std::io::copy(&mut input.take(n), out)?;
    if copied != n {
        return Err(malformed(format!("{what} is cut short")));
    }
    Ok(())
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// WebP chunks kept; others (EXIF, XMP, unknown) are removed.
const WEBP_KEEP: &[&[u8; 4]] = &[
    b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP",
];

fn webp(input: &mut dyn BufRead, out: &mut dyn Write) -> Result<StripReport, StripError> {
    let mut report = StripReport {
        format: Some("webp"),
        orientation: 1,
        ..Default::default()
    };
    let header = read_exact(input, 12, "the WebP header")?;
    let riff_size = u32_le(&header[4..8]) as u64;
    // Chunks are read into memory one at a time (WebP images are at most 16383² pixels); the
    // RIFF size in the header must be known before the first byte is written.
    let mut chunks: Vec<([u8; 4], usize, Vec<u8>)> = Vec::new();
    let mut read = 4u64;
    while read + 8 <= riff_size {
        let head = read_exact(input, 8, "a WebP chunk header")?;
        let kind: [u8; 4] = [head[0], head[1], head[2], head[3]];
        let len = u32_le(&head[4..8]) as usize;
        let padded = len + (len & 1);
        read += 8 + padded as u64;
        let data = read_exact(input, padded, "a WebP chunk")?;
        if WEBP_KEEP.contains(&&kind) {
            chunks.push((kind, len, data));
            continue;
        }
        if &kind == b"EXIF" && is_minimal(Some(&data[..len])) {
            report.orientation = exif_facts(&data[..len]).0;
            continue; // re-added below, unchanged
        }
        if &kind == b"EXIF" {
            let exif = &data[..len];
            let (orientation, gps) = exif_facts(exif.strip_prefix(b"Exif\0\0").unwrap_or(exif));
            report.had_location |= gps;
            report.orientation = orientation;
        }
        let name = String::from_utf8_lossy(&kind).trim_end().to_owned();
        if !report.removed.contains(&name) {
            report.removed.push(name);
        }
    }
    let extended = chunks.iter().any(|(k, _, _)| k == b"VP8X");
    if report.orientation != 1 && extended {
        let tiff = minimal_tiff(report.orientation);
        chunks.push((*b"EXIF", tiff.len(), tiff));
    }
    for (kind, _, data) in &mut chunks {
        if kind == b"VP8X" && !data.is_empty() {
            data[0] &= !(0x08 | 0x04); // EXIF and XMP flags
            if report.orientation != 1 {
                data[0] |= 0x08;
            }
        }
    }
    let body: u64 = chunks.iter().map(|(_, _, d)| 8 + d.len() as u64).sum();
    out.write_all(b"RIFF")?;
    out.write_all(&((4 + body) as u32).to_le_bytes())?;
    out.write_all(b"WEBP")?;
    for (kind, len, data) in &chunks {
        out.write_all(kind)?;
        out.write_all(&(*len as u32).to_le_bytes())?;
        out.write_all(data)?;
    }
    note_trailer(input, &mut report)?;
    Ok(report)
}

/// Bytes after an image's logical end (PNG `IEND`, the GIF trailer, the RIFF size of a WebP)
/// are not written: the report says so, so that the rewritten file replaces the original
/// even when nothing else was removed (a trailer can be a whole second file, EXIF and all).
fn note_trailer(input: &mut dyn BufRead, report: &mut StripReport) -> Result<(), StripError> {
    if !input.fill_buf()?.is_empty() && !report.removed.iter().any(|r| r == "trailer") {
        report.removed.push("trailer".to_owned());
    }
    Ok(())
}

fn gif(input: &mut dyn BufRead, out: &mut dyn Write) -> Result<StripReport, StripError> {
    let mut report = StripReport {
        format: Some("gif"),
        orientation: 1,
        ..Default::default()
    };
    let header = read_exact(input, 13, "the GIF header")?;
    out.write_all(&header)?;
    if header[10] & 0x80 != 0 {
        let table = 3 * (1usize << ((header[10] & 0x07) + 1));
        copy_exact(input, out, table as u64, "the GIF colour table")?;
    }
    loop {
        let block = read_exact(input, 1, "a GIF block")?[0];
        match block {
            0x3B => {
                out.write_all(&[block])?;
                note_trailer(input, &mut report)?;
                return Ok(report);
            }
            0x2C => {
                let descriptor = read_exact(input, 9, "a GIF image descriptor")?;
                out.write_all(&[block])?;
                out.write_all(&descriptor)?;
                if descriptor[8] & 0x80 != 0 {
                    let table = 3 * (1usize << ((descriptor[8] & 0x07) + 1));
                    copy_exact(input, out, table as u64, "a GIF colour table")?;
                }
                copy_exact(input, out, 1, "the LZW code size")?;
                sub_blocks(input, Some(out))?;
            }
            0x21 => {
                let label = read_exact(input, 1, "a GIF extension")?[0];
                let keep = match label {
                    0xF9 | 0x01 => true,
                    0xFF => {
                        // Application extension: keep looping (NETSCAPE2.0 / ANIMEXTS1.0) only.
                        let size = read_exact(input, 1, "a GIF application block")?[0] as usize;
                        let id = read_exact(input, size, "a GIF application id")?;
                        let looping =
                            id.starts_with(b"NETSCAPE2.0") || id.starts_with(b"ANIMEXTS1.0");
                        if looping {
                            out.write_all(&[0x21, 0xFF, size as u8])?;
                            out.write_all(&id)?;
                            sub_blocks(input, Some(out))?;
                        } else {
                            let name = if id.starts_with(b"XMP Data") {
                                "XMP"
                            } else {
                                "application"
                            };
                            if !report.removed.iter().any(|r| r == name) {
                                report.removed.push(name.to_owned());
                            }
                            sub_blocks(input, None)?;
                        }
                        continue;
                    }
                    _ => false,
                };
                if keep {
                    out.write_all(&[0x21, label])?;
                    sub_blocks(input, Some(out))?;
                } else {
                    if !report.removed.iter().any(|r| r == "comment") {
                        report.removed.push("comment".to_owned());
                    }
                    sub_blocks(input, None)?;
                }
            }
            other => return Err(malformed(format!("unknown GIF block 0x{other:02X}"))),
        }
    }
}

/// GIF data sub-blocks up to the zero-length terminator, copied to `out` or skipped.
fn sub_blocks(input: &mut dyn Read, mut out: Option<&mut dyn Write>) -> Result<(), StripError> {
    loop {
        let size = read_exact(input, 1, "a GIF sub-block")?[0];
        let data = read_exact(input, size as usize, "a GIF sub-block")?;
        if let Some(out) = out.as_deref_mut() {
            out.write_all(&[size])?;
            out.write_all(&data)?;
        }
        if size == 0 {
            return Ok(());
        }
    }
}

/// The XMP `uuid` box's extended type.
const XMP_UUID: [u8; 16] = [
    0xBE, 0x7A, 0xCF, 0xCB, 0x97, 0xA9, 0x42, 0xE8, 0x9C, 0x71, 0x99, 0x94, 0x91, 0xE3, 0xAF, 0xAC,
];

/// Largest metadata box read into memory to look for a location (the rest is zeroed unread).
const MAX_SCANNED_BOX: u64 = 16 << 20;

fn mp4(path: &Path, write: bool) -> Result<StripReport, StripError> {
    let mut report = StripReport {
        format: Some("mp4"),
        orientation: 1,
        ..Default::default()
    };
    let mut file = if write {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)?
    } else {
        File::open(path)?
    };
    let size = file.metadata()?.len();
    mp4_boxes(&mut file, 0, size, 0, write, &mut report)?;
    if write {
        file.sync_all()?;
    }
    Ok(report)
}

/// Walk the boxes in `start..end` at `depth` (0: top level); metadata boxes become `free`.
fn mp4_boxes(
    file: &mut File,
    start: u64,
    end: u64,
    depth: u32,
    write: bool,
    report: &mut StripReport,
) -> Result<(), StripError> {
    let mut at = start;
    while at + 8 <= end {
        file.seek(SeekFrom::Start(at))?;
        let mut head = [0u8; 16];
        let n = read_up_to(file, &mut head)?;
        if n < 8 {
            break;
        }
        let mut size = u32_be(&head[..4]) as u64;
        let kind: [u8; 4] = [head[4], head[5], head[6], head[7]];
        let mut header = 8u64;
        if size == 1 {
            if n < 16 {
                return Err(malformed("an MP4 box's 64-bit size is cut short"));
            }
            size = u64::from_be_bytes([
                head[8], head[9], head[10], head[11], head[12], head[13], head[14], head[15],
            ]);
            header = 16;
        } else if size == 0 {
            size = end - at;
        }
        if size < header || at + size > end {
            return Err(malformed(format!(
                "MP4 box {} at {at} overruns its container",
                String::from_utf8_lossy(&kind)
            )));
        }
        let metadata = match &kind {
            b"udta" | b"meta" => depth <= 2,
            b"uuid" => {
                let mut ext = [0u8; 16];
                file.seek(SeekFrom::Start(at + header))?;
                read_up_to(file, &mut ext)? == 16 && ext == XMP_UUID
            }
            _ => false,
        };
        if metadata {
            let name = if &kind == b"uuid" {
                "XMP".to_owned()
            } else {
                String::from_utf8_lossy(&kind).into_owned()
            };
            let payload = size - header;
            if payload <= MAX_SCANNED_BOX {
                file.seek(SeekFrom::Start(at + header))?;
                let mut data = vec![0u8; payload as usize];
                file.read_exact(&mut data)?;
                report.had_location |= contains(&data, b"\xA9xyz")
                    || contains(&data, b"location.ISO6709")
                    || contains(&data, b"GPSCoordinates");
            }
            if !report.removed.contains(&name) {
                report.removed.push(name);
            }
            if write {
                // Same size, type `free`, payload zeroed: no offset in the file moves.
                file.seek(SeekFrom::Start(at + 4))?;
                file.write_all(b"free")?;
                file.seek(SeekFrom::Start(at + header))?;
                let zeros = vec![0u8; 64 * 1024];
                let mut left = payload;
                while left > 0 {
                    let k = left.min(zeros.len() as u64) as usize;
                    file.write_all(&zeros[..k])?;
                    left -= k as u64;
                }
            }
        } else if matches!(&kind, b"moov" | b"trak") && depth < 2 {
            mp4_boxes(file, at + header, at + size, depth + 1, write, report)?;
        }
        at += size;
    }
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever the reader's buffer size (markers split across reads included), a scan is
    /// copied up to its end marker with stuffing, restarts and fill bytes understood.
    #[test]
    fn scans_end_at_the_right_marker_whatever_the_buffers() {
        let scan = [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56, 0xFF, 0x00];
        let cases: Vec<(Vec<u8>, Vec<u8>, ScanEnd)> = vec![
            (
                [&scan[..], &[0xFF, 0xD9]].concat(),
                [&scan[..], &[0xFF, 0xD9]].concat(),
                ScanEnd::Eoi { trailer: false },
            ),
            (
                [&scan[..], &[0xFF, 0xD9, 0x01]].concat(),
                [&scan[..], &[0xFF, 0xD9]].concat(),
                ScanEnd::Eoi { trailer: true },
            ),
            (
                [&scan[..], &[0xFF, 0xFF, 0xFF, 0xE1, 0x00, 0x04]].concat(),
                scan.to_vec(),
                ScanEnd::Marker(0xE1),
            ),
            (
                [&scan[..], &[0xFF, 0xC4]].concat(),
                scan.to_vec(),
                ScanEnd::Marker(0xC4),
            ),
            (
                scan.to_vec(),
                scan.to_vec(),
                ScanEnd::Eoi { trailer: false },
            ),
        ];
        for (input, want, end) in cases {
            for capacity in 1..=input.len() {
                let mut reader = BufReader::with_capacity(capacity, &input[..]);
                let mut out = Vec::new();
                let got = copy_scan(&mut reader, &mut out).unwrap();
                assert_eq!(got, end, "{input:02x?} read {capacity} at a time");
                assert_eq!(out, want, "{input:02x?} read {capacity} at a time");
            }
        }
    }

    #[test]
    fn png_crc_matches_the_reference_value() {
        // CRC-32 of "IEND" (every PNG ends with it): AE 42 60 82.
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }

    #[test]
    fn exif_facts_read_orientation_and_gps_in_both_byte_orders() {
        let mut be = minimal_tiff(6);
        assert_eq!(exif_facts(&be), (6, false));
        // Add a GPS pointer entry (big-endian).
        be[9] = 2;
        be.truncate(22);
        be.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0]);
        be.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(exif_facts(&be), (6, true));
        let le = [
            b'I', b'I', 0x2a, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0,
            0, 0,
        ];
        assert_eq!(exif_facts(&le), (8, false));
        assert_eq!(exif_facts(b"junk"), (1, false));
    }
}
