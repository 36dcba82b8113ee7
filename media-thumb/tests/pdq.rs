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
