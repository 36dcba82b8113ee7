//! Lossless removal of metadata that tells where a photo was taken, with what device, or by
//! whom: the dispatch on [`Format`] and the report.
//!
//! | format | removed | kept |
//! |---|---|---|
//! | JPEG (`jpeg.rs`) | APP1 EXIF/XMP, every other APPn but JFIF, ICC and Adobe (IPTC/Photoshop, MPF, FlashPix, JFXX…), COM, before the first scan and between the scans of a progressive file, and anything after EOI (embedded second images carry their own EXIF) | entropy-coded data byte for byte, JFIF, ICC, Adobe; the EXIF Orientation as a minimal EXIF |
//! | PNG (`png.rs`) | `eXIf`, `tEXt`, `iTXt`, `zTXt`, `tIME`, every ancillary chunk not known to be about pixels, anything after `IEND`; unknown critical chunks are refused | critical chunks, colour and animation chunks; the Orientation as a minimal `eXIf` |
//! | WebP (`webp.rs`) | `EXIF`, `XMP ` and unknown chunks (VP8X flags and RIFF size fixed), anything after the RIFF size | image, alpha, ICC, animation; the Orientation as a minimal `EXIF` |
//! | GIF (`gif.rs`) | comment extensions, application extensions other than looping (XMP), anything after the trailer | frames, colour tables, looping |
//! | MP4/MOV ([`crate::isobmff::scrub`]) | `udta`, `meta` and XMP `uuid` boxes (top level, movie, tracks) turned into `free` boxes of the same size, zeroed; the samples of timed-metadata tracks (GoPro `gpmd`, `camm`, Apple `mebx`, any `meta` track) zeroed in place | every other sample byte, every offset |
//!
//! | HEIC/HEIF/AVIF ([`crate::isobmff::heif`]) | the `Exif`, XMP (`mime`) and `uri ` items: out of `iinf`, `iloc`, `iref` (`cdsc`) and `ipma`, their bytes zeroed; the index rewritten in place with a `free` box after it; other top-level boxes as for MP4 | every picture item's coded bytes where `iloc` says, every property (`irot`, `imir`, `ispe`, colour, auxiliary depth and gain maps, thumbnails) |
//!
//! TIFF/DNG is refused ([`FormatError::Unsupported`]): it cannot be cleaned yet.
//! Files are streamed (a 2 GiB video is never in memory); what a length field claims never
//! decides how much memory is taken.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use crate::io::Source;
use crate::{isobmff, Format, FormatError};

/// What [`inspect`] found or [`strip_in_place`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StripReport {
    /// The format recognized (`jpeg`, `png`, `webp`, `gif`, `mp4`), or `None` for formats that
    /// carry no metadata we know of (left as they are).
    pub format: Option<&'static str>,
    /// What was (or would be) removed, e.g. `EXIF`, `XMP`, `COM`, `tEXt`, `udta`, `gpmd`,
    /// `trailer`; each once.
    pub removed: Vec<String>,
    /// Whether a location (EXIF GPS, QuickTime `©xyz`/ISO 6709, a GPS or camera-motion
    /// timed-metadata track) was present.
    pub had_location: bool,
    /// EXIF orientation kept (1–8; 1 when absent).
    pub orientation: u8,
}

impl StripReport {
    pub(crate) fn new(format: Format) -> StripReport {
        StripReport {
            format: Some(format.name()),
            orientation: 1,
            ..Default::default()
        }
    }

    /// Whether anything was (or would be) removed.
    pub fn changed(&self) -> bool {
        !self.removed.is_empty()
    }

    /// Note that `what` was removed (once).
    pub(crate) fn remove(&mut self, what: &str) {
        if !self.removed.iter().any(|r| r == what) {
            self.removed.push(what.to_owned());
        }
    }
}

/// Find the metadata in the file at `path` without changing it.
pub fn inspect(path: &Path) -> Result<StripReport, FormatError> {
    process(path, false)
}

/// Remove the metadata from the file at `path`. Images are rewritten beside it and renamed
/// over it (only when something is removed); MP4/MOV are patched in place.
pub fn strip_in_place(path: &Path) -> Result<StripReport, FormatError> {
    process(path, true)
}

/// A stripper for a format written as a rewrite: reads the original, writes the cleaned file.
type Rewrite = fn(&mut dyn Source, &mut dyn Write) -> Result<StripReport, FormatError>;

fn process(path: &Path, write: bool) -> Result<StripReport, FormatError> {
    let Some(format) = crate::sniff::sniff_file(path)? else {
        return Ok(StripReport {
            orientation: 1,
            ..Default::default()
        });
    };
    match format {
        Format::Jpeg => rewrite(path, write, crate::jpeg::strip),
        Format::Png => rewrite(path, write, crate::png::strip),
        Format::Webp => rewrite(path, write, crate::webp::strip),
        Format::Gif => rewrite(path, write, crate::gif::strip),
        Format::Mp4 | Format::QuickTime | Format::Heic | Format::Avif => {
            isobmff::scrub::scrub(path, format, write)
        }
        Format::Tiff => Err(FormatError::Unsupported("TIFF/DNG")),
        Format::Webm => Ok(StripReport {
            orientation: 1,
            ..Default::default()
        }),
    }
}

/// Strip bytes in memory (for tests and fuzzing): the report and the cleaned bytes (the
/// input itself when nothing was removed).
pub fn strip_bytes(bytes: &[u8]) -> Result<(StripReport, Vec<u8>), FormatError> {
    let f: Rewrite = match Format::sniff(bytes) {
        Some(Format::Jpeg) => crate::jpeg::strip,
        Some(Format::Png) => crate::png::strip,
        Some(Format::Webp) => crate::webp::strip,
        Some(Format::Gif) => crate::gif::strip,
        Some(format @ (Format::Mp4 | Format::QuickTime | Format::Heic | Format::Avif)) => {
            let mut file = std::io::Cursor::new(bytes.to_vec());
            let report = isobmff::scrub::scrub_file(&mut file, format, true)?;
            return Ok((report, file.into_inner()));
        }
        Some(Format::Tiff) => return Err(FormatError::Unsupported("TIFF/DNG")),
        _ => return Ok((StripReport::default(), bytes.to_vec())),
    };
    let mut out = Vec::new();
    let report = f(&mut std::io::Cursor::new(bytes), &mut out)?;
    if report.changed() {
        Ok((report, out))
    } else {
        Ok((report, bytes.to_vec()))
    }
}

/// A rewriting pass: `f` reads the original and writes the cleaned file (to a sink when only
/// inspecting). The result replaces the original only when something was removed.
fn rewrite(path: &Path, write: bool, f: Rewrite) -> Result<StripReport, FormatError> {
    let mut input = BufReader::with_capacity(256 * 1024, File::open(path)?);
    if !write {
        return f(&mut input, &mut std::io::sink());
    }
    let tmp = tempfile::Builder::new()
        .prefix(".strip")
        .tempfile_in(path.parent().unwrap_or(Path::new(".")))?;
    let mut out = BufWriter::with_capacity(256 * 1024, tmp.as_file());
    let report = f(&mut input, &mut out)?;
    out.flush()?;
    drop(out);
    if report.changed() {
        tmp.persist(path).map_err(|e| FormatError::Io(e.error))?;
    }
    Ok(report)
}

/// Bytes after an image's logical end (PNG `IEND`, the GIF trailer, the RIFF size of a WebP,
/// JPEG's EOI) are not written: the report says so, so that the rewritten file replaces the
/// original even when nothing else was removed (a trailer can be a whole second file, EXIF
/// and all).
pub(crate) fn note_trailer(
    input: &mut dyn Source,
    report: &mut StripReport,
) -> Result<(), FormatError> {
    if crate::io::has_more(input)? {
        report.remove("trailer");
        // Anything can follow an image's end (a whole second photo with its GPS): `reject`
        // counts it as a location.
        report.had_location = true;
    }
    Ok(())
}
