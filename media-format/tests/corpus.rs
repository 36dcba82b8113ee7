//! Every fuzz seed (`fuzz/seeds/`) and every input a fuzzer once crashed on
//! (`fuzz/regressions/`), run through each harness of `media_format::fuzz` in the ordinary
//! test run; `cargo xtask fuzz` runs the same harnesses under libFuzzer.

use std::path::PathBuf;

fn inputs() -> Vec<(PathBuf, Vec<u8>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut found = Vec::new();
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_file() {
                let bytes = std::fs::read(&path).unwrap();
                found.push((path, bytes));
            }
        }
    }
    found.sort();
    found
}

#[test]
fn every_seed_and_past_crash_passes_every_harness() {
    let inputs = inputs();
    assert!(inputs.len() >= 6, "the seeds are missing: {inputs:?}");
    for (path, bytes) in &inputs {
        for (name, harness) in [
            ("sniff", media_format::fuzz::sniff as fn(&[u8])),
            ("strip", media_format::fuzz::strip),
            ("faststart", media_format::fuzz::faststart),
            ("track", media_format::fuzz::track),
        ] {
            let result = std::panic::catch_unwind(|| harness(bytes));
            assert!(result.is_ok(), "{name} on {}", path.display());
        }
    }
}

/// Each seed is what it says: the sniffer names the format of its extension, and the
/// metadata the seeds carry (GPS, camera, comments, a `gpmd` track) is found.
#[test]
fn the_seeds_are_real_files_with_metadata_to_remove() {
    for (path, bytes) in inputs()
        .iter()
        .filter(|(p, _)| p.to_string_lossy().contains("seeds"))
    {
        let name = path.file_name().unwrap().to_string_lossy();
        let format = media_format::Format::sniff(bytes);
        assert_eq!(
            format,
            media_format::Format::from_extension(&name),
            "{name}"
        );
        let (report, cleaned) = media_format::strip::strip_bytes(bytes).unwrap();
        if name != "s.mp4" {
            assert!(report.changed(), "{name}: {report:?}");
        }
        // Lossless: an image decodes to the very same pixels after stripping.
        if format.is_some_and(|f| !f.is_isobmff()) {
            let before = image::load_from_memory(bytes).unwrap().to_rgba8();
            let after = image::load_from_memory(&cleaned).unwrap().to_rgba8();
            assert!(before == after, "{name}: the pixels changed");
        }
    }
}

/// The attacker review's files (`fuzz/regressions/review-*`): each gives what it should.
#[test]
fn the_reviews_crafted_files_are_cleaned_or_refused() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
    let read = |name: &str| std::fs::read(dir.join(format!("review-{name}"))).unwrap();
    // Markers without a length (SOI, FF 00) hid an EXIF inside a "length": refused.
    for name in ["d8trick.jpg", "ff00trick.jpg"] {
        assert!(
            media_format::strip::strip_bytes(&read(name)).is_err(),
            "{name}"
        );
    }
    // GPS samples kept inside the movie index: refused.
    for name in ["gpmd_in_moov.mp4", "gpmd_in_moov_front.mp4"] {
        assert!(
            media_format::strip::strip_bytes(&read(name)).is_err(),
            "{name}"
        );
    }
    // Location in udta under mdia, a top-level NMEA box, subtitles, a looping block's extra
    // data: removed, and nothing of it left.
    for (name, removed, mark) in [
        ("udta_mdia.mp4", "udta", &b"+48.8566"[..]),
        ("udat.mp4", "udat", b"$GPRMC"),
        ("sub.mp4", "subtitles", b"GPS ("),
        ("netscape_smuggle.gif", "application", b"48.8566"),
    ] {
        let original = read(name);
        assert!(
            memchr_find(&original, mark),
            "{name}: the mark is in the input"
        );
        let (report, cleaned) = media_format::strip::strip_bytes(&original).unwrap();
        assert!(
            report.removed.iter().any(|r| r == removed),
            "{name}: {report:?}"
        );
        assert!(!memchr_find(&cleaned, mark), "{name}: left in the output");
    }
}

fn memchr_find(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The attacker review's HEIF files (`fuzz/regressions/review-heif-*`, issue 27): a location
/// in any of them is seen by `inspect` (so `reject` refuses it), and after `strip` exiftool
/// finds none of it (or the file is refused); pictures are never zeroed (the harness checks
/// their bytes), and files that hide pictures where metadata goes are refused.
#[test]
fn the_reviews_heif_files_are_cleaned_or_refused_and_their_locations_seen() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
    let tmp = tempfile::tempdir().unwrap();
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(case) = name.strip_prefix("review-heif-") else {
            continue;
        };
        seen += 1;
        let bytes = std::fs::read(&path).unwrap();
        let leaks = ['L', 'M', 'O', 'R'].iter().any(|c| case.starts_with(*c));
        if leaks {
            let copy = tmp.path().join(&name);
            std::fs::write(&copy, &bytes).unwrap();
            // A file refused outright is refused under `reject` too.
            if let Ok(report) = media_format::inspect(&copy) {
                assert!(report.had_location, "{name}: reject would take it");
            }
        }
        match media_format::strip::strip_bytes(&bytes) {
            Err(e) => {
                assert!(
                    !case.starts_with('R'),
                    "{name}: a plain Exif/XMP variant is refused: {e}"
                );
            }
            Ok((_, cleaned)) => {
                let out = tmp.path().join(format!("clean-{name}"));
                std::fs::write(&out, &cleaned).unwrap();
                let tags = media_core::testing::exiftool(&["-a", "-G1", "-s", "-ee"], &out);
                let left: Vec<&str> = tags
                    .lines()
                    .filter(|l| {
                        l.contains("GPS")
                            || l.contains("SECRET")
                            || l.contains("Serial")
                            || l.contains("Canon")
                            || l.contains("Alice")
                    })
                    .collect();
                assert!(left.is_empty(), "{name} after strip: {left:#?}");
                for needle in [&b"EOS-SECRET"[..], b"48.8584", b"MOOF-HIDDEN"] {
                    assert!(
                        !cleaned.windows(needle.len()).any(|w| w == needle),
                        "{name}: {:?} still in the bytes",
                        String::from_utf8_lossy(needle)
                    );
                }
            }
        }
    }
    assert!(seen >= 21, "the review's HEIF files are missing ({seen})");
}
