//! PNG: chunks streamed one by one; critical and pixel-related ancillary chunks are copied,
//! every other ancillary chunk is skipped unread (a chunk's length never becomes an
//! allocation), nothing after `IEND` is kept. CRCs come from `crc32fast`.

use std::io::Write;

use crate::error::{malformed, FormatError};
use crate::exif;
use crate::io::{copy_exact, read_array, read_capped, Source};
use crate::strip::StripReport;
use crate::Format;

/// PNG ancillary chunks about pixels, kept; every other ancillary chunk is removed.
const KEEP: &[&[u8; 4]] = &[
    b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB", b"cICP", b"mDCv", b"cLLi", b"bKGD",
    b"hIST", b"pHYs", b"sPLT", b"acTL", b"fcTL", b"fdAT",
];

/// The critical chunks of PNG; any other is refused.
const CRITICAL: &[&[u8; 4]] = &[b"IHDR", b"PLTE", b"IDAT", b"IEND"];

/// Strip `input` (a PNG) into `out`.
pub(crate) fn strip(
    input: &mut dyn Source,
    out: &mut dyn Write,
) -> Result<StripReport, FormatError> {
    let mut report = StripReport::new(Format::Png);
    let sig: [u8; 8] = read_array(input, "the PNG signature")?;
    out.write_all(&sig)?;
    loop {
        let header: [u8; 8] = read_array(input, "a PNG chunk header")?;
        let len = u64::from(u32::from_be_bytes([
            header[0], header[1], header[2], header[3],
        ]));
        if len > 0x7FFF_FFFF {
            return Err(malformed("a PNG chunk longer than 2^31"));
        }
        let kind: [u8; 4] = [header[4], header[5], header[6], header[7]];
        if &kind == b"eXIf" {
            // Data and CRC: the facts come from the first MiB, the rest is skipped.
            let data = read_capped(input, len + 4, exif::MAX_EXIF_READ, "a PNG chunk")?;
            let tiff = &data[..data.len().min(len as usize)];
            if len as usize == exif::MINIMAL_TIFF_LEN && exif::is_minimal(tiff) {
                // Our own orientation-only eXIf from an earlier pass.
                report.orientation = exif::facts(tiff).0;
                out.write_all(&header)?;
                out.write_all(&data)?;
                continue;
            }
            report.remove("eXIf");
            let (orientation, gps) = exif::facts(tiff);
            report.had_location |= gps;
            report.orientation = orientation;
            write_exif(out, orientation)?;
            continue;
        }
        let critical = kind[0].is_ascii_uppercase();
        if critical && !CRITICAL.contains(&&kind) {
            // A decoder must refuse it too; kept, it could carry anything.
            return Err(malformed(format!(
                "unknown critical PNG chunk {:?}",
                kind.escape_ascii()
            )));
        }
        if critical || KEEP.contains(&&kind) {
            out.write_all(&header)?;
            copy_exact(input, out, len + 4, "a PNG chunk")?;
            if &kind == b"IEND" {
                crate::strip::note_trailer(input, &mut report)?;
                return Ok(report);
            }
            continue;
        }
        if matches!(&kind, b"tEXt" | b"iTXt") {
            // XMP and text profiles: read (the first MiB) to see whether they hold a location.
            let text = read_capped(input, len + 4, exif::MAX_EXIF_READ, "a PNG chunk")?;
            report.had_location |= exif::mentions_gps(&text);
        } else {
            copy_exact(input, &mut std::io::sink(), len + 4, "a PNG chunk")?;
        }
        report.remove(&kind.escape_ascii().to_string());
    }
}

/// An orientation-only `eXIf` chunk (nothing when the orientation is the default).
fn write_exif(out: &mut dyn Write, orientation: u8) -> Result<(), FormatError> {
    if orientation == 1 {
        return Ok(());
    }
    let tiff = exif::minimal_tiff(orientation);
    out.write_all(&(tiff.len() as u32).to_be_bytes())?;
    let mut crc = crc32fast::Hasher::new();
    crc.update(b"eXIf");
    crc.update(&tiff);
    out.write_all(b"eXIf")?;
    out.write_all(&tiff)?;
    out.write_all(&crc.finalize().to_be_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        c.extend(crc.finalize().to_be_bytes());
        c
    }

    /// An unknown critical chunk is refused (a decoder must refuse it too), not kept with
    /// whatever it carries; an unknown ancillary one is dropped.
    #[test]
    fn unknown_chunks_are_dropped_or_refused() {
        let head = [
            b"\x89PNG\r\n\x1a\n".to_vec(),
            chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]),
        ]
        .concat();
        let tail = [chunk(b"IDAT", &[0x78, 0x01]), chunk(b"IEND", &[])].concat();
        let ancillary = [&head[..], &chunk(b"gpSx", b"home: 12 Av"), &tail].concat();
        let (report, cleaned) = crate::strip::strip_bytes(&ancillary).unwrap();
        assert_eq!(report.removed, vec!["gpSx"]);
        assert_eq!(cleaned, [&head[..], &tail].concat());
        let critical = [&head[..], &chunk(b"GPSX", b"home: 12 Av"), &tail].concat();
        let err = crate::strip::strip_bytes(&critical).unwrap_err();
        assert!(err.to_string().contains("unknown critical"), "{err}");
    }
}
