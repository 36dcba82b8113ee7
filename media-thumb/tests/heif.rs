//! HEIC/AVIF previews and HEVC posters through decoders in child processes: upright, bounded
//! before the decoder starts, and a decoder that crashes, hangs or eats memory costs one
//! preview, never the process.

use std::path::{Path, PathBuf};
use std::process::Command;

use media_thumb::{make_heif_previews, make_poster_from_file, ChildDecoders, ThumbError};
use media_thumb::{ThumbFormat, ThumbnailOptions};

use media_core::testing::{heif_enc, pillow_heif_path as python};

/// A 320×240 HEIC, red with a blue square at the top left, whose EXIF says "rotate 90° clockwise"
/// (pillow-heif turns that into an `irot` property): upright it is 240×320 with the square
/// at the top right.
fn rotated_heic(pythonpath: &Path, out: &Path) {
    let script = r#"
import sys, pillow_heif, PIL.Image as I
im = I.new('RGB', (320, 240), (200, 10, 10))
for x in range(60):
    for y in range(60):
        im.putpixel((x, y), (0, 0, 255))
ex = I.Exif(); ex[0x0112] = 6
h = pillow_heif.from_pillow(im); h.info['exif'] = ex.tobytes()
h.save(sys.argv[1], quality=90)
"#;
    let status = Command::new("python3")
        .env("PYTHONPATH", pythonpath)
        .args(["-c", script])
        .arg(out)
        .status()
        .unwrap();
    assert!(status.success());
    assert!(std::fs::read(out).unwrap().windows(4).any(|w| w == b"irot"));
}

fn pixel(jpeg: &[u8], x: u32, y: u32) -> [u8; 3] {
    let img = image::load_from_memory(jpeg).unwrap().to_rgb8();
    img.get_pixel(x.min(img.width() - 1), y.min(img.height() - 1))
        .0
}

fn is_blue(p: [u8; 3]) -> bool {
    p[2] > 180 && p[0] < 80
}

#[test]
fn a_rotated_heic_gets_upright_thumbnails_a_blurhash_and_a_jpeg_rendition() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rotated.heic");
    rotated_heic(&py, &file);
    let options = ThumbnailOptions::default()
        .with_sizes(&[64])
        .with_format(ThumbFormat::Jpeg);
    let made = make_heif_previews(&file, &options, true, &ChildDecoders::default()).unwrap();
    let t = &made.thumbnails;
    assert_eq!((t.width, t.height), (240, 320), "source size as displayed");
    let v = &t.variants[0];
    assert_eq!((v.width, v.height), (48, 64));
    assert!(
        is_blue(pixel(&v.bytes, 47, 0)),
        "{:?}",
        pixel(&v.bytes, 47, 0)
    );
    assert!(!is_blue(pixel(&v.bytes, 0, 0)));
    assert!(t.blurhash.is_some());
    let r = made.rendition.expect("a HEIC gets a rendition");
    assert_eq!((r.mime, r.width, r.height), ("image/jpeg", 240, 320));
    assert!(is_blue(pixel(&r.bytes, 239, 0)));
    // The rendition carries no EXIF (no orientation to apply twice, nothing to leak).
    assert!(!r.bytes.windows(6).any(|w| w == b"Exif\0\0"));
}

#[test]
fn an_avif_from_heif_enc_gets_a_thumbnail() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("in.png");
    image::RgbImage::from_fn(160, 90, |x, y| image::Rgb([x as u8, y as u8 * 2, 90]))
        .save(&png)
        .unwrap();
    let file = dir.path().join("photo.avif");
    heif_enc(&png, &file, 70, true);
    let options = ThumbnailOptions::default().with_sizes(&[32]);
    let made = make_heif_previews(&file, &options, false, &ChildDecoders::default()).unwrap();
    assert_eq!((made.thumbnails.width, made.thumbnails.height), (160, 90));
    assert_eq!(made.thumbnails.variants[0].width, 32);
    assert!(made.rendition.is_none());
}

/// A real HEIC whose `ispe` is rewritten to claim `w`×`h`.
fn claiming(dir: &Path, w: u32, h: u32) -> PathBuf {
    let png = dir.join("small.png");
    image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8, y as u8, 0]))
        .save(&png)
        .unwrap();
    let file = dir.join("claims.heic");
    heif_enc(&png, &file, 50, false);
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.windows(4).position(|w| w == b"ispe").unwrap() + 8;
    bytes[at..at + 4].copy_from_slice(&w.to_be_bytes());
    bytes[at + 4..at + 8].copy_from_slice(&h.to_be_bytes());
    std::fs::write(&file, bytes).unwrap();
    file
}

#[test]
fn a_heic_declaring_a_giant_canvas_is_refused_before_any_decoder_starts() {
    let dir = tempfile::tempdir().unwrap();
    let file = claiming(dir.path(), 60_000, 60_000);
    // Were a decoder started, this one would fail with "not installed".
    let mut none = ChildDecoders::default();
    none.heif_convert = PathBuf::from("/nonexistent/heif-convert");
    let err = make_heif_previews(&file, &ThumbnailOptions::default(), true, &none).unwrap_err();
    assert!(matches!(err, ThumbError::TooLarge { .. }), "{err}");
    // Within the thumbnail limits but past what a child decodes (the review's grid of one
    // tile repeated into 191 Mpx): refused the same way.
    let file = claiming(dir.path(), 13_824, 13_824);
    let err = make_heif_previews(&file, &ThumbnailOptions::default(), true, &none).unwrap_err();
    assert!(matches!(err, ThumbError::TooLarge { .. }), "{err}");
}

/// A stand-in decoder: a shell script.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn a_decoder_that_crashes_hangs_or_grabs_memory_costs_one_preview_not_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let file = claiming(dir.path(), 64, 64);
    let options = ThumbnailOptions::default();
    let mut decoders = ChildDecoders::default();

    decoders.heif_convert = script(dir.path(), "segv", "kill -SEGV $$");
    let err = make_heif_previews(&file, &options, false, &decoders).unwrap_err();
    assert!(err.to_string().contains("signal 11"), "{err}");

    decoders.heif_convert = script(dir.path(), "abort", "kill -ABRT $$");
    let err = make_heif_previews(&file, &options, false, &decoders).unwrap_err();
    assert!(err.to_string().contains("signal 6"), "{err}");

    decoders.heif_convert = script(dir.path(), "hang", "exec sleep 30");
    decoders.deadline = std::time::Duration::from_millis(300);
    let started = std::time::Instant::now();
    let err = make_heif_previews(&file, &options, false, &decoders).unwrap_err();
    assert!(err.to_string().contains("was stopped"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));

    // 512 MiB asked under a 256 MiB address-space limit: the child fails, we do not.
    decoders.deadline = std::time::Duration::from_secs(20);
    decoders.memory = 256 << 20;
    decoders.heif_convert = script(
        dir.path(),
        "greedy",
        "exec python3 -c 'x = bytearray(512 << 20); open(__import__(\"sys\").argv[-1], \"wb\").write(b\"x\")' \"$@\"",
    );
    let err = make_heif_previews(&file, &options, false, &decoders).unwrap_err();
    assert!(err.to_string().contains("could not decode"), "{err}");
}

#[test]
fn an_hevc_mov_gets_an_upright_poster_from_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.mov");
    let ffmpeg = |args: &[&str]| {
        let out = Command::new("ffmpeg")
            .args(["-v", "error", "-y"])
            .args(args)
            .output()
            .expect("ffmpeg is required: run the tests with `cargo xtask test` (Debian ffmpeg)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // 320×240 HEVC, red with a blue square at the top left…
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=red:s=320x240:d=1,drawbox=x=0:y=0:w=60:h=60:c=blue:t=fill",
        "-c:v",
        "libx265",
        "-x265-params",
        "log-level=error",
        "-tag:v",
        "hvc1",
        plain.to_str().unwrap(),
    ]);
    // …with a display matrix turning it a quarter (as a phone held upright writes): players
    // show it 240×320 with the square at the bottom left.
    let mov = dir.path().join("clip.mov");
    ffmpeg(&[
        "-i",
        plain.to_str().unwrap(),
        "-c",
        "copy",
        "-metadata:s:v:0",
        "rotate=90",
        mov.to_str().unwrap(),
    ]);
    let options = ThumbnailOptions::default()
        .with_sizes(&[64])
        .with_format(ThumbFormat::Jpeg);
    let poster = make_poster_from_file(&mov, &options).unwrap().unwrap();
    assert_eq!(poster.track.codec, "hvc1");
    assert_eq!(poster.no_poster, None);
    let thumbs = poster.thumbnails.expect("an HEVC poster");
    let v = &thumbs.variants[0];
    assert_eq!((v.width, v.height), (48, 64), "upright");
    assert!(
        is_blue(pixel(&v.bytes, 0, 63)),
        "{:?}",
        pixel(&v.bytes, 0, 63)
    );
    assert!(!is_blue(pixel(&v.bytes, 0, 0)));
    assert_eq!(
        (poster.track.display_width(), poster.track.display_height()),
        (240, 320),
        "the index agrees"
    );
}
