//! PDQ against Meta's reference: `pdqhash` (PyPI, the C++ reference's bindings) hashes test
//! photos made by Pillow at test time; ours hashes the same pixels (`pdq_of_rgb`) and, as an
//! upload would, from the thumbnailer's own decode (`make_thumbnails`).

use std::process::Command;

use media_core::PdqHash;
use media_thumb::{make_thumbnails, pdq_of_rgb, ThumbnailOptions};

struct Reference {
    file: String,
    hash: PdqHash,
    quality: u8,
    width: u32,
    height: u32,
}

fn reference_photos(dir: &std::path::Path, count: usize) -> Option<Vec<Reference>> {
    let pythonpath = media_core::testing::pdqhash_path()?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pdq_reference.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(dir)
        .arg(count.to_string())
        .env("PYTHONPATH", pythonpath)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the reference script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = String::from_utf8(out.stdout).expect("utf-8");
    Some(
        lines
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("json");
                Reference {
                    file: v["file"].as_str().expect("file").to_owned(),
                    hash: v["hash"].as_str().expect("hash").parse().expect("hex"),
                    quality: v["quality"].as_u64().expect("quality") as u8,
                    width: v["width"].as_u64().expect("width") as u32,
                    height: v["height"].as_u64().expect("height") as u32,
                }
            })
            .collect(),
    )
}

#[test]
fn pdq_agrees_with_metas_reference() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(photos) = reference_photos(dir.path(), 18) else {
        eprintln!("MEDIA_SKIP_INTEROP set: PDQ agreement not checked");
        return;
    };
    assert_eq!(photos.len(), 36);
    let mut same_pixels = Vec::new();
    let mut ingest = Vec::new();
    for p in &photos {
        let bytes = std::fs::read(&p.file).expect("read");
        if p.file.ends_with(".png") {
            // The same pixels as Pillow's (PNG is lossless): the algorithm itself.
            let rgb = image::load_from_memory(&bytes).expect("decode").to_rgb8();
            let ours = pdq_of_rgb(rgb.width(), rgb.height(), rgb.as_raw()).expect("hash");
            let d = ours.hash.distance(&p.hash);
            same_pixels.push(d);
            assert!(d <= 2, "{}: {d} bits from the reference", p.file);
            assert!(
                ours.quality.abs_diff(p.quality) <= 2,
                "{}: quality {} vs {}",
                p.file,
                ours.quality,
                p.quality
            );
        }
        // What an upload records: the hash of the thumbnailer's decode (scaled on load for
        // large photos, so it may differ from a full-size hash by a few bits).
        let thumbs = make_thumbnails(&bytes, &ThumbnailOptions::default()).expect("thumbnail");
        let ours = thumbs.pdq.expect("an upload's photo gets a hash");
        let d = ours.hash.distance(&p.hash);
        eprintln!(
            "{} {}x{}: ingest hash {d} bits from the reference (quality {} vs {})",
            p.file, p.width, p.height, ours.quality, p.quality
        );
        ingest.push((p.file.clone(), p.width.max(p.height), d));
    }
    eprintln!("same pixels: distances {same_pixels:?}");
    // Decoded whole (long side ≤ 512, PNG): the reference's pixels, the reference's hash.
    for (file, long, d) in &ingest {
        if *long <= 512 && file.ends_with(".png") {
            assert!(*d <= 2, "{file}: ingest hash {d} bits from the reference");
        }
        // Any photo, any decoder: far inside the match distance of 31.
        assert!(*d <= 16, "{file}: ingest hash {d} bits from the reference");
    }
}

/// Pictures a naive hash misses (a CMYK JPEG, a picture carried by its alpha channel, a
/// second animation frame, a BMP our decoders do not read): each upload's hashes (the record's
/// and its variants, as the thumbnailer makes them) include one within a few bits of the
/// reference's hash of what a viewer sees.
#[test]
fn pictures_hidden_in_cmyk_alpha_later_frames_and_other_formats_are_hashed() {
    use media_core::Thumbnailer;
    let Some(pythonpath) = media_core::testing::pdqhash_path() else {
        eprintln!("MEDIA_SKIP_INTEROP set: not checked");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pdq_tricky.py"))
        .arg(dir.path())
        .env("PYTHONPATH", pythonpath)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let thumbnailer = media_thumb::MediaThumbnailer::default();
    let mut kinds = Vec::new();
    for line in String::from_utf8(out.stdout).expect("utf-8").lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        let (file, kind, mime) = (
            v["file"].as_str().expect("file"),
            v["kind"].as_str().expect("kind"),
            v["mime"].as_str().expect("mime"),
        );
        let reference: PdqHash = v["hash"].as_str().expect("hash").parse().expect("hex");
        let preview = thumbnailer
            .preview(std::path::Path::new(file), mime)
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let pdq = preview.pdq.unwrap_or_else(|| panic!("{kind}: no hash"));
        let best = std::iter::once(pdq.hash)
            .chain(preview.pdq_variants.iter().copied())
            .map(|h| h.distance(&reference))
            .min()
            .expect("a hash");
        eprintln!(
            "{kind}: nearest hash {best} bits from the reference (quality {})",
            pdq.quality
        );
        assert!(
            best <= 8,
            "{kind}: nearest hash {best} bits from what a viewer sees"
        );
        kinds.push(kind.to_owned());
    }
    assert_eq!(kinds.len(), 6, "{kinds:?}");
}
