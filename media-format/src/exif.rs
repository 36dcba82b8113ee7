//! The little of EXIF the strippers need: the orientation to keep, whether a GPS block was
//! there, and the orientation-only EXIF they write back.

/// Largest EXIF block read to look for the orientation and GPS pointer (the IFD0 of a camera
/// file is within the first few KiB); the rest of a longer block is skipped unread.
pub(crate) const MAX_EXIF_READ: usize = 1 << 20;

/// Most entries read from one IFD (a camera's IFD0 has a few dozen).
const MAX_IFD_ENTRIES: usize = 4096;
/// Most IFDs followed (IFD0, its Exif IFD, IFD1 and a few more).
const MAX_IFDS: usize = 8;

/// Orientation and whether a GPS IFD exists, from a TIFF structure (EXIF with or without its
/// `Exif\0\0` prefix; the TIFF header is looked for in the first 16 bytes, as writers
/// disagree on what comes before it). The GPS pointer counts wherever it stands: IFD0, the
/// Exif IFD, IFD1 or the IFDs chained after it. Anything that does not parse counts as "no
/// orientation, no GPS": the block is removed either way.
pub(crate) fn facts(tiff: &[u8]) -> (u8, bool) {
    let tiff = tiff.strip_prefix(b"Exif\0\0").unwrap_or(tiff);
    let head = tiff.get(..tiff.len().min(20)).unwrap_or_default();
    let Some(at) = head
        .windows(4)
        .position(|w| w == b"MM\0\x2a" || w == b"II\x2a\0")
    else {
        return (1, false);
    };
    let tiff = &tiff[at..];
    let big = tiff.starts_with(b"MM");
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
    let (mut orientation, mut gps) = (1u8, false);
    let mut todo: Vec<(usize, bool)> = r32(4).map(|o| (o as usize, true)).into_iter().collect();
    let mut seen = Vec::new();
    while let Some((ifd, primary)) = todo.pop() {
        if seen.contains(&ifd) || seen.len() >= MAX_IFDS || ifd < 8 {
            continue;
        }
        seen.push(ifd);
        let count = usize::from(r16(ifd).unwrap_or(0)).min(MAX_IFD_ENTRIES);
        for i in 0..count {
            let entry = ifd + 2 + i * 12;
            match r16(entry) {
                // The orientation of the main image only (IFD0), not of the thumbnail.
                Some(0x0112) if primary => {
                    let v = r16(entry + 8).unwrap_or(1);
                    if (1..=8).contains(&v) {
                        orientation = v as u8;
                    }
                }
                Some(0x8825) => gps = true,
                Some(0x8769) => {
                    if let Some(o) = r32(entry + 8) {
                        todo.push((o as usize, false));
                    }
                }
                None => break,
                _ => {}
            }
        }
        if let Some(next) = r32(ifd + 2 + count * 12).filter(|&n| n != 0) {
            todo.push((next as usize, false));
        }
    }
    (orientation, gps)
}

/// Whether text metadata (XMP, a PNG text chunk) names a GPS field: under `reject` it counts
/// as a location (a false alarm refuses an upload; a miss would store a home address).
pub(crate) fn mentions_gps(data: &[u8]) -> bool {
    // XMP may be UTF-16 (either byte order) as well as UTF-8.
    [&b"GPS"[..], b"G\0P\0S\0", b"\0G\0P\0S"]
        .iter()
        .any(|needle| memchr::memmem::find(data, needle).is_some())
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

    /// A big-endian TIFF whose IFD0 has `filler` empty entries, then `last`; IFD0's next
    /// pointer goes to `next`.
    fn tiff_with(filler: u16, last: [u8; 12], next: Option<[u8; 12]>) -> Vec<u8> {
        let mut t = b"MM\0\x2a\0\0\0\x08".to_vec();
        t.extend_from_slice(&(filler + 1).to_be_bytes());
        for _ in 0..filler {
            t.extend_from_slice(&[0x01, 0x31, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0]);
        }
        t.extend_from_slice(&last);
        let after = t.len() as u32 + 4;
        t.extend_from_slice(&(if next.is_some() { after } else { 0 }).to_be_bytes());
        if let Some(entry) = next {
            t.extend_from_slice(&[0, 1]);
            t.extend_from_slice(&entry);
            t.extend_from_slice(&[0; 4]);
        }
        t
    }

    #[test]
    fn a_gps_pointer_counts_wherever_it_stands_and_whatever_precedes_the_header() {
        let gps = [0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 8];
        let other = [0x01, 0x31, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0];
        // Entry 601 of IFD0.
        assert!(facts(&tiff_with(600, gps, None)).1);
        // In IFD1, after IFD0.
        assert!(facts(&tiff_with(1, other, Some(gps))).1);
        assert!(!facts(&tiff_with(1, other, Some(other))).1);
        // In the Exif IFD (IFD0's 0x8769 points at an IFD holding the GPS pointer).
        let mut t = b"MM\0\x2a\0\0\0\x08\0\x01".to_vec();
        t.extend_from_slice(&[0x87, 0x69, 0, 4, 0, 0, 0, 1, 0, 0, 0, 26]);
        t.extend_from_slice(&[0; 4]);
        t.extend_from_slice(&[0, 1]);
        t.extend_from_slice(&gps);
        t.extend_from_slice(&[0; 4]);
        assert!(facts(&t).1);
        // Behind `Exif\0\0`, behind a 4-byte offset word, or both.
        let plain = tiff_with(0, gps, None);
        for prefix in [&b"Exif\0\0"[..], &[0, 0, 0, 6], b"\0\0\0\x06Exif\0\0"] {
            assert!(facts(&[prefix, &plain].concat()).1, "{prefix:?}");
        }
        // An IFD chain that loops ends.
        let mut looped = tiff_with(0, other, None);
        let at = looped.len() - 4;
        looped[at..].copy_from_slice(&8u32.to_be_bytes());
        assert_eq!(facts(&looped), (1, false));
        assert!(mentions_gps(
            "exif:GPSLatitude"
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect::<Vec<u8>>()
                .as_slice()
        ));
    }
}
