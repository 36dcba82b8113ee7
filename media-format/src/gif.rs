//! GIF: blocks streamed; comment and application extensions other than looping are skipped,
//! nothing after the trailer is kept. Memory: one sub-block (at most 255 bytes).

use std::io::Write;

use crate::error::{malformed, FormatError};
use crate::io::{copy_exact, fill, read_array, read_u8, Source};
use crate::strip::StripReport;
use crate::Format;

/// Strip `input` (a GIF) into `out`.
pub(crate) fn strip(
    input: &mut dyn Source,
    out: &mut dyn Write,
) -> Result<StripReport, FormatError> {
    let mut report = StripReport::new(Format::Gif);
    let header: [u8; 13] = read_array(input, "the GIF header")?;
    out.write_all(&header)?;
    if header[10] & 0x80 != 0 {
        let table = 3 * (1u64 << ((header[10] & 0x07) + 1));
        copy_exact(input, out, table, "the GIF colour table")?;
    }
    loop {
        let block = read_u8(input, "a GIF block")?;
        match block {
            0x3B => {
                out.write_all(&[block])?;
                crate::strip::note_trailer(input, &mut report)?;
                return Ok(report);
            }
            0x2C => {
                let descriptor: [u8; 9] = read_array(input, "a GIF image descriptor")?;
                out.write_all(&[block])?;
                out.write_all(&descriptor)?;
                if descriptor[8] & 0x80 != 0 {
                    let table = 3 * (1u64 << ((descriptor[8] & 0x07) + 1));
                    copy_exact(input, out, table, "a GIF colour table")?;
                }
                copy_exact(input, out, 1, "the LZW code size")?;
                sub_blocks(input, Some(out))?;
            }
            0x21 => {
                let label = read_u8(input, "a GIF extension")?;
                match label {
                    // Graphic control, plain text: about the pixels.
                    0xF9 | 0x01 => {
                        out.write_all(&[0x21, label])?;
                        sub_blocks(input, Some(out))?;
                    }
                    0xFF => {
                        // Application extension: keep looping (NETSCAPE2.0 / ANIMEXTS1.0) only.
                        let size = read_u8(input, "a GIF application block")?;
                        let mut id = vec![0u8; usize::from(size)];
                        fill(input, &mut id, "a GIF application id")?;
                        if id.starts_with(b"NETSCAPE2.0") || id.starts_with(b"ANIMEXTS1.0") {
                            // Only the loop count (sub-block 1, three bytes) is kept.
                            out.write_all(&[0x21, 0xFF, size])?;
                            out.write_all(&id)?;
                            if looping(input, out)? {
                                report.remove("application");
                            }
                        } else if id.starts_with(b"XMP Data") {
                            report.remove("XMP");
                            let mut xmp = Capped(Vec::new());
                            sub_blocks(input, Some(&mut xmp))?;
                            report.had_location |= crate::exif::mentions_gps(&xmp.0);
                        } else {
                            report.remove("application");
                            sub_blocks(input, None)?;
                        }
                    }
                    _ => {
                        report.remove("comment");
                        sub_blocks(input, None)?;
                    }
                }
            }
            other => return Err(malformed(format!("unknown GIF block 0x{other:02X}"))),
        }
    }
}

/// A sink keeping the first MiB written to it.
struct Capped(Vec<u8>);

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = crate::exif::MAX_EXIF_READ.saturating_sub(self.0.len());
        self.0.extend_from_slice(&buf[..buf.len().min(room)]);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The sub-blocks of a looping extension: the loop-count one copied, any other dropped (the
/// terminator written). Whether something was dropped.
fn looping(input: &mut dyn Source, out: &mut dyn Write) -> Result<bool, FormatError> {
    let mut data = [0u8; 255];
    let mut dropped = false;
    loop {
        let size = read_u8(input, "a GIF sub-block")?;
        let data = &mut data[..usize::from(size)];
        fill(input, data, "a GIF sub-block")?;
        match size {
            0 => {
                out.write_all(&[0])?;
                return Ok(dropped);
            }
            3 if data[0] == 1 => {
                out.write_all(&[size])?;
                out.write_all(data)?;
            }
            _ => dropped = true,
        }
    }
}

/// GIF data sub-blocks up to the zero-length terminator, copied to `out` or skipped.
fn sub_blocks(input: &mut dyn Source, mut out: Option<&mut dyn Write>) -> Result<(), FormatError> {
    let mut data = [0u8; 255];
    loop {
        let size = read_u8(input, "a GIF sub-block")?;
        let data = &mut data[..usize::from(size)];
        fill(input, data, "a GIF sub-block")?;
        if let Some(out) = out.as_deref_mut() {
            out.write_all(&[size])?;
            out.write_all(data)?;
        }
        if size == 0 {
            return Ok(());
        }
    }
}
