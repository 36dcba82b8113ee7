//! The little of EXIF the strippers need: the orientation to keep, whether a GPS block was
//! there, and the orientation-only EXIF they write back.

/// Largest EXIF block read to look for the orientation and GPS pointer (the IFD0 of a camera
/// file is within the first few KiB); the rest of a longer block is skipped unread.
pub(crate) const MAX_EXIF_READ: usize = 1 << 20;

/// Orientation and whether a GPS IFD exists, from a TIFF structure (EXIF without its
/// `Exif\0\0` prefix). Anything that does not parse counts as "no orientation, no GPS": the
/// block is removed either way.
pub(crate) fn facts(tiff: &[u8]) -> (u8, bool) {
    let tiff = tiff.strip_prefix(b"Exif\0\0").unwrap_or(tiff);
    if tiff.len() < 8 {
        return (1, false);
    }
    let big = match &tiff[..2] {
        b"MM" => true,
        b"II" => false,
        _ => return (1, false),
    };
    let r16 = |o: usize| -> Option<u16> {
        let b: [u8; 2] = tiff.get(o..o.checked_add(2)?)?.try_into().ok()?;
        Some(if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    };
    let r32 = |o: usize| -> Option<u32> {
        let b: [u8; 4] = tiff.get(o..o.checked_add(4)?)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
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

/// Whether text metadata (XMP, a PNG text chunk) names a GPS field: under `reject` it counts
/// as a location (a false alarm refuses an upload; a miss would store a home address).
pub(crate) fn mentions_gps(data: &[u8]) -> bool {
    memchr::memmem::find(data, b"GPS").is_some()
}

/// Length of [`minimal_tiff`]'s output.
pub(crate) const MINIMAL_TIFF_LEN: usize = 26;

/// Whether `tiff` is exactly an orientation-only TIFF as [`minimal_tiff`] writes.
pub(crate) fn is_minimal(tiff: &[u8]) -> bool {
    tiff.len() == MINIMAL_TIFF_LEN && (1..=8).any(|o| minimal_tiff(o).as_slice() == tiff)
}

/// A TIFF structure with one IFD0 entry: Orientation.
pub(crate) fn minimal_tiff(orientation: u8) -> Vec<u8> {
    let mut t = Vec::with_capacity(MINIMAL_TIFF_LEN);
    t.extend_from_slice(b"MM\0\x2a\0\0\0\x08"); // big-endian, IFD0 at 8
    t.extend_from_slice(&1u16.to_be_bytes()); // one entry
    t.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    t.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    t.extend_from_slice(&1u32.to_be_bytes()); // count 1
    t.extend_from_slice(&[0, orientation, 0, 0]); // value, left-justified
    t.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_read_orientation_and_gps_in_both_byte_orders() {
        let mut be = minimal_tiff(6);
        assert_eq!(facts(&be), (6, false));
        assert!(is_minimal(&be));
        // Add a GPS pointer entry (big-endian).
        be[9] = 2;
        be.truncate(22);
        be.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0]);
        be.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(facts(&be), (6, true));
        let le = [
            b'I', b'I', 0x2a, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0,
            0, 0,
        ];
        assert_eq!(facts(&le), (8, false));
        assert_eq!(facts(b"junk"), (1, false));
        // An IFD offset near usize::MAX does not overflow.
        assert_eq!(facts(b"MM\0\x2a\xff\xff\xff\xff"), (1, false));
    }
}
