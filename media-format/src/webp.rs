//! WebP: two passes over the RIFF chunks. The first reads only chunk headers (and the first
//! MiB of an `EXIF` chunk, for the orientation and GPS) to learn the new RIFF size; the second
//! streams the kept chunks. Memory does not grow with the file; nothing after the RIFF size is
//! kept.

use std::io::{SeekFrom, Write};

use crate::error::{malformed, FormatError};
use crate::exif;
use crate::io::{copy_exact, read_array, read_capped, u32_le, Source};
use crate::strip::StripReport;
use crate::Format;

/// WebP chunks kept; others (EXIF, XMP, unknown) are removed.
const KEEP: &[&[u8; 4]] = &[
    b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP",
];

/// VP8X flags: EXIF and XMP present.
const FLAG_EXIF: u8 = 0x08;
const FLAG_XMP: u8 = 0x04;

/// Strip `input` (a WebP) into `out`.
pub(crate) fn strip(
    input: &mut dyn Source,
    out: &mut dyn Write,
) -> Result<StripReport, FormatError> {
    let mut report = StripReport::new(Format::Webp);
    let start = input.stream_position()?;
    let header: [u8; 12] = read_array(input, "the WebP header")?;
    let riff_size = u64::from(u32_le(&header[4..8]));

    // Pass 1: which chunks stay, and how long the result is.
    let mut kept_body = 0u64;
    let mut extended = false;
    let mut read = 4u64;
    while read + 8 <= riff_size {
        let (_, kind, len, padded) = chunk_header(input)?;
        read += 8 + padded;
        if KEEP.contains(&&kind) {
            extended |= &kind == b"VP8X";
            kept_body += 8 + padded;
            skip(input, padded)?;
            continue;
        }
        if &kind == b"EXIF" {
            let data = read_capped(input, padded, exif::MAX_EXIF_READ, "a WebP chunk")?;
            let data = &data[..data.len().min(len as usize)];
            if len as usize == exif::MINIMAL_TIFF_LEN && exif::is_minimal(data) {
                // Our own orientation-only EXIF: written again below, unchanged.
                report.orientation = exif::facts(data).0;
                continue;
            }
            let (orientation, gps) = exif::facts(data);
            report.had_location |= gps;
            report.orientation = orientation;
        } else if &kind == b"XMP " {
            let xmp = read_capped(input, padded, exif::MAX_EXIF_READ, "a WebP chunk")?;
            report.had_location |= exif::mentions_gps(&xmp);
        } else {
            skip(input, padded)?;
        }
        report.remove(kind.escape_ascii().to_string().trim_end());
    }
    crate::strip::note_trailer(input, &mut report)?;
    let orientation =
        (report.orientation != 1 && extended).then(|| exif::minimal_tiff(report.orientation));
    if let Some(tiff) = &orientation {
        kept_body += 8 + tiff.len() as u64;
    }
    let riff = u32::try_from(4 + kept_body).map_err(|_| malformed("a WebP over 4 GiB"))?;

    // Pass 2: write them.
    input.seek(SeekFrom::Start(start + 12))?;
    out.write_all(b"RIFF")?;
    out.write_all(&riff.to_le_bytes())?;
    out.write_all(b"WEBP")?;
    let mut read = 4u64;
    while read + 8 <= riff_size {
        let (head, kind, _, padded) = chunk_header(input)?;
        read += 8 + padded;
        if !KEEP.contains(&&kind) {
            skip(input, padded)?;
            continue;
        }
        out.write_all(&head)?;
        if &kind == b"VP8X" && padded > 0 {
            let mut flags = crate::io::read_u8(input, "the VP8X flags")?;
            flags &= !(FLAG_EXIF | FLAG_XMP);
            if orientation.is_some() {
                flags |= FLAG_EXIF;
            }
            out.write_all(&[flags])?;
            copy_exact(input, out, padded - 1, "a WebP chunk")?;
        } else {
            copy_exact(input, out, padded, "a WebP chunk")?;
        }
    }
    if let Some(tiff) = orientation {
        out.write_all(b"EXIF")?;
        out.write_all(&(tiff.len() as u32).to_le_bytes())?;
        out.write_all(&tiff)?;
    }
    Ok(report)
}

/// A chunk's header, type, length and length padded to even.
fn chunk_header(input: &mut dyn Source) -> Result<([u8; 8], [u8; 4], u64, u64), FormatError> {
    let head: [u8; 8] = read_array(input, "a WebP chunk header")?;
    let kind: [u8; 4] = [head[0], head[1], head[2], head[3]];
    let len = u64::from(u32_le(&head[4..8]));
    Ok((head, kind, len, len + (len & 1)))
}

fn skip(input: &mut dyn Source, n: u64) -> Result<(), FormatError> {
    copy_exact(input, &mut std::io::sink(), n, "a WebP chunk")
}
