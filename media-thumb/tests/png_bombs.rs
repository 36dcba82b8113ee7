//! The security review's finding 8: a 14 100² 16-bit grey PNG of a few hundred KB decoded to
//! about 1 GB in the node. PNGs are now scaled on load, row by row: this one (its own test
//! binary, so the process's peak memory is its own) is thumbnailed correctly while the peak
//! resident memory grows by far less than one full-size copy would take.

use media_thumb::{make_thumbnails, ThumbnailOptions};

/// Peak resident memory of this process, in KiB (Linux `VmHWM`).
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

#[test]
fn a_png_that_decodes_to_a_gigabyte_is_thumbnailed_from_its_rows() {
    let bytes = media_core::testing::png_bomb(14_100, true);
    assert!(
        bytes.len() < 4 << 20,
        "the bomb is small: {} bytes",
        bytes.len()
    );
    let before = peak_rss_kib();
    let thumbs = make_thumbnails(&bytes, &ThumbnailOptions::default().with_sizes(&[64]))
        .expect("a PNG within the pixel limit is thumbnailed");
    let grown_mib = (peak_rss_kib().saturating_sub(before)) / 1024;
    assert_eq!((thumbs.width, thumbs.height), (14_100, 14_100));
    let v = &thumbs.variants[0];
    assert_eq!((v.width, v.height), (64, 64));
    let img = image::load_from_memory(&v.bytes).unwrap().to_luma8();
    assert!(img.get_pixel(8, 8).0[0] > 200, "top-left is white");
    assert!(img.get_pixel(56, 56).0[0] < 50, "bottom-right is black");
    assert!(img.get_pixel(56, 8).0[0] < 50, "top-right is black");
    // A full-size 8-bit RGB copy alone would be 596 MB.
    assert!(grown_mib < 64, "peak memory grew by {grown_mib} MiB");
}

/// The attacker review's 34-byte lossless WebP (16 383 × 12 000) and 35-byte GIF (a 30 000 ×
/// 6 666 screen) took 1.3 and 1.6 GB: formats decoded whole are refused from their header
/// when the whole image would pass the decoder limit.
#[test]
fn tiny_files_naming_huge_images_are_refused_before_decoding() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
    for name in ["review-bigll.webp", "review-biggif.gif"] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let err = make_thumbnails(&bytes, &ThumbnailOptions::default()).unwrap_err();
        assert!(
            matches!(err, media_thumb::ThumbError::TooLarge { .. }),
            "{name}: {err}"
        );
    }
}
