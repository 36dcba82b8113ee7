//! JPEG: a marker walk over the whole file. Segments before the first scan and between the
//! scans of a progressive JPEG pass the same rules; entropy-coded data is copied byte for byte;
//! nothing after EOI is kept. Memory: one segment (at most 64 KiB) and the reader's buffer.

use std::io::Write;

use crate::error::{malformed, FormatError};
use crate::exif;
use crate::io::{fill, read_array, read_u8, Source};
use crate::strip::StripReport;
use crate::Format;

/// Strip `input` (a JPEG) into `out`.
pub(crate) fn strip(
    input: &mut dyn Source,
    out: &mut dyn Write,
) -> Result<StripReport, FormatError> {
    let mut report = StripReport::new(Format::Jpeg);
    let soi: [u8; 2] = read_array(input, "the JPEG header")?;
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
                let mut byte = read_u8(input, "a JPEG marker")?;
                if byte != 0xFF {
                    return Err(malformed("a JPEG segment does not start with a marker"));
                }
                while byte == 0xFF {
                    byte = read_u8(input, "a JPEG marker")?;
                }
                byte
            }
        };
        if code == 0xD9 {
            out.write_all(&[0xFF, code])?;
            crate::strip::note_trailer(input, &mut report)?;
            return Ok(report);
        }
        if matches!(code, 0x01 | 0xD0..=0xD7) {
            out.write_all(&[0xFF, code])?;
            continue;
        }
        if matches!(code, 0x00 | 0xD8) {
            // Neither has a length; read as a segment they would hide the next one (an
            // EXIF, say) inside a "length" that readers do not see.
            return Err(malformed(format!(
                "JPEG marker 0x{code:02X} outside a scan"
            )));
        }
        let len = u16::from_be_bytes(read_array(input, "a JPEG segment length")?) as usize;
        if len < 2 {
            return Err(malformed("a JPEG segment length below 2"));
        }
        let mut payload = vec![0u8; len - 2];
        fill(input, &mut payload, "a JPEG segment")?;
        let drop: Option<&str> = match code {
            0xE1 if payload
                .strip_prefix(b"Exif\0\0")
                .is_some_and(exif::is_minimal) =>
            {
                // Our own orientation-only EXIF from an earlier pass.
                report.orientation = exif::facts(&payload).0;
                kept_orientation = true;
                None
            }
            0xE1 if payload.starts_with(b"Exif\0\0") => {
                let (orientation, gps) = exif::facts(&payload);
                report.had_location |= gps;
                if orientation != 1 {
                    report.orientation = orientation;
                }
                Some("EXIF")
            }
            0xE1 if payload.starts_with(b"http://ns.adobe.com/") => {
                report.had_location |= exif::mentions_gps(&payload);
                Some("XMP")
            }
            0xE1 => Some("APP1"),
            0xE2 if payload.starts_with(b"MPF\0") => Some("MPF"),
            0xED => Some("IPTC"),
            // Application segments are kept only when they are about the pixels (an
            // allowlist, as for PNG): JFIF (without a JFXX thumbnail), ICC, Adobe.
            0xE0 if payload.starts_with(b"JFIF\0") => None,
            0xE2 if payload.starts_with(b"ICC_PROFILE\0") => None,
            0xEE if payload.starts_with(b"Adobe") => None,
            0xE0..=0xEF => Some("APPn"),
            0xFE => Some("COM"),
            _ => None,
        };
        if let Some(what) = drop {
            report.remove(what);
            // The orientation is re-written only where readers look for it: before the image.
            if what == "EXIF" && report.orientation != 1 && !kept_orientation && !scanned {
                let mut exif = b"Exif\0\0".to_vec();
                exif.extend(exif::minimal_tiff(report.orientation));
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
                        report.remove("trailer");
                        report.had_location = true;
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
fn copy_scan(input: &mut dyn Source, out: &mut dyn Write) -> Result<ScanEnd, FormatError> {
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
                    let trailer = crate::io::has_more(input)?;
                    return Ok(ScanEnd::Eoi { trailer });
                }
                code => return Ok(ScanEnd::Marker(code)),
            }
            continue;
        }
        let n = buf.len();
        let mut at = 0;
        let mut end = None;
        while let Some(ff) = memchr::memchr(0xFF, &buf[at..]).map(|p| at + p) {
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
                let trailer = crate::io::has_more(input)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Cursor};

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
                let mut reader = BufReader::with_capacity(capacity, Cursor::new(&input[..]));
                let mut out = Vec::new();
                let got = copy_scan(&mut reader, &mut out).unwrap();
                assert_eq!(got, end, "{input:02x?} read {capacity} at a time");
                assert_eq!(out, want, "{input:02x?} read {capacity} at a time");
            }
        }
    }

    fn segment(code: u8, payload: &[u8]) -> Vec<u8> {
        let mut s = vec![0xFF, code];
        s.extend(((payload.len() + 2) as u16).to_be_bytes());
        s.extend_from_slice(payload);
        s
    }

    /// Application segments are an allowlist: JFIF, ICC and Adobe stay; a JFXX thumbnail, a
    /// vendor APP0, FlashPix in APP2 and any other APPn go, whatever their place.
    #[test]
    fn only_pixel_segments_stay() {
        let kept = [
            segment(0xE0, b"JFIF\0\x01\x02\0\0\x01\0\x01\0\0"),
            segment(0xE2, b"ICC_PROFILE\0\x01\x01profile"),
            segment(0xEE, b"Adobe\0\x64\0\0\0\0\x01"),
        ];
        let dropped = [
            segment(0xE0, b"JFXX\0\x10thumbnail"),
            segment(0xE0, b"AVI1\0home: 12 Av"),
            segment(0xE2, b"FPXR\0\0home: 12 Av"),
            segment(0xE4, b"vendor home: 12 Av"),
        ];
        let scan = [
            segment(0xDA, &[1, 1, 0, 0, 0x3F, 0]),
            vec![0x12, 0x34, 0xFF, 0xD9],
        ]
        .concat();
        let mut file = vec![0xFF, 0xD8];
        for (k, d) in kept.iter().zip(&dropped) {
            file.extend_from_slice(k);
            file.extend_from_slice(d);
        }
        file.extend_from_slice(&dropped[3]);
        file.extend_from_slice(&scan);
        let (report, cleaned) = crate::strip::strip_bytes(&file).unwrap();
        assert_eq!(report.removed, vec!["APPn"]);
        assert_eq!(cleaned, [&[0xFF, 0xD8][..], &kept.concat(), &scan].concat());
    }
}
