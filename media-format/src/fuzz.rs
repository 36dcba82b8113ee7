//! Fuzz harnesses: what each `cargo fuzz` target in `fuzz/` runs, and what the corpus test
//! (`tests/corpus.rs`) runs on every seed and every input a fuzzer once crashed on. Each one
//! panics when a parser panics or a property fails; errors on bad input are fine.

use std::io::Cursor;

use crate::isobmff::track::{annex_b, first_video_track};
use crate::strip::strip_bytes;
use crate::{faststart_reader, Format, SNIFF_LEN};

/// The sniffer looks at [`SNIFF_LEN`] bytes only, and agrees with the extension table on
/// every format's own name.
pub fn sniff(data: &[u8]) {
    let format = Format::sniff(data);
    assert_eq!(Format::sniff(&data[..data.len().min(SNIFF_LEN)]), format);
    if let Some(f) = format {
        assert!(Format::ALL.contains(&f));
        assert!(!f.mime().is_empty());
    }
}

/// Stripping never panics; what it writes strips again to itself, with nothing left to
/// remove and no location; when nothing was removed the bytes are the input's; a HEIF's
/// picture items keep every byte and the primary image its size.
pub fn strip(data: &[u8]) {
    let Ok((report, cleaned)) = strip_bytes(data) else {
        return;
    };
    if !report.changed() {
        assert_eq!(cleaned, data, "unchanged yet rewritten: {report:?}");
        return;
    }
    if matches!(Format::sniff(data), Some(Format::Heic | Format::Avif)) {
        // Pictures untouched: their bytes, and the size the index gives the primary image.
        for r in crate::isobmff::heif::picture_ranges(data) {
            let r = r.start as usize..r.end as usize;
            assert_eq!(cleaned.get(r.clone()), data.get(r), "picture bytes changed");
        }
        let size = |b: &[u8]| crate::isobmff::heif::primary_size(&mut Cursor::new(b)).ok();
        assert_eq!(
            size(&cleaned),
            size(data),
            "the primary image's size changed"
        );
    }
    let (again, twice) = strip_bytes(&cleaned)
        .unwrap_or_else(|e| panic!("the cleaned file does not strip again ({report:?}): {e}"));
    assert!(
        !again.changed(),
        "second strip removed {again:?} after {report:?}"
    );
    assert!(!again.had_location, "a location survived: {report:?}");
    assert_eq!(twice, cleaned);
}

/// Faststart never panics; a remux keeps the length and needs no second remux.
pub fn faststart(data: &[u8]) {
    let mut out = Vec::new();
    match faststart_reader(&mut Cursor::new(data), &mut out) {
        Ok(true) => {
            assert_eq!(out.len(), data.len(), "a remux changed the length");
            let mut again = Vec::new();
            let second = faststart_reader(&mut Cursor::new(&out), &mut again);
            assert!(matches!(second, Ok(false)), "remuxed twice: {second:?}");
        }
        Ok(false) => assert!(out.is_empty(), "wrote bytes without a remux"),
        Err(_) => {}
    }
}

/// The poster demuxer never panics, and a key frame it finds lies in the file.
pub fn track(data: &[u8]) {
    if let Ok(Some(track)) = first_video_track(&mut Cursor::new(data)) {
        if let Some(frame) = &track.avc {
            if let Ok(stream) = annex_b(&mut Cursor::new(data), frame) {
                // Start codes replace length prefixes of at least one byte: at most 4× the input.
                assert!(stream.len() <= 4 * (frame.size as usize + data.len()) + 64);
            }
        }
    }
}
