//! Metadata written by `exiftool` (GPS, camera make/model/serial, XMP, comments) into JPEG,
//! PNG, WebP, GIF and MP4 files is gone after `strip_in_place`, as `exiftool` itself reads the
//! result; pixels decode identically and the orientation survives.

use std::path::{Path, PathBuf};
use std::process::Command;

use media_format::strip::{inspect, strip_in_place};

/// `exiftool`, or the install hint (unless skipping was chosen with MEDIA_SKIP_INTEROP).
fn exiftool() -> Option<PathBuf> {
    let found = Command::new("exiftool")
        .arg("-ver")
        .output()
        .is_ok_and(|o| o.status.success());
    match found {
        true => Some(PathBuf::from("exiftool")),
        false if std::env::var_os("MEDIA_SKIP_INTEROP").is_some() => None,
        false => panic!("exiftool is required: run the tests with `cargo xtask test` (it installs Debian's libimage-exiftool-perl), install it yourself, or set MEDIA_SKIP_INTEROP=1 to skip on purpose"),
    }
}

fn run(tool: &Path, args: &[&str], file: &Path) {
    let out = Command::new(tool).args(args).arg(file).output().unwrap();
    assert!(
        out.status.success(),
        "exiftool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every tag exiftool reads, as `group:name` → value.
fn tags(tool: &Path, file: &Path) -> serde_json::Map<String, serde_json::Value> {
    let out = Command::new(tool)
        .args(["-j", "-G", "-n", "-a"])
        .arg(file)
        .output()
        .unwrap();
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    list[0].as_object().unwrap().clone()
}

/// Tags that give away a place, a device or a person.
fn revealing(tags: &serde_json::Map<String, serde_json::Value>) -> Vec<String> {
    tags.keys()
        .filter(|k| {
            let name = k.rsplit(':').next().unwrap_or(k);
            name.starts_with("GPS")
                || [
                    "Make",
                    "Model",
                    "SerialNumber",
                    "Comment",
                    "UserComment",
                    "Artist",
                    "Creator",
                    "Description",
                    "Title",
                ]
                .contains(&name)
                || k.starts_with("XMP")
        })
        .cloned()
        .collect()
}

fn image_file(dir: &Path, name: &str, format: image::ImageFormat) -> PathBuf {
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, ((x * y) % 255) as u8])
    });
    let path = dir.join(name);
    image::DynamicImage::ImageRgb8(img)
        .save_with_format(&path, format)
        .unwrap();
    path
}

const PERSONAL: &[&str] = &[
    "-overwrite_original",
    "-GPSLatitude=48.8584",
    "-GPSLatitudeRef=N",
    "-GPSLongitude=2.2945",
    "-GPSLongitudeRef=E",
    "-Make=PhoneMaker",
    "-Model=Phone 15",
    "-SerialNumber=SN-0042",
    "-XMP-dc:Creator=Jane Doe",
    "-XMP-dc:Description=our new flat",
];

fn check_image(tool: &Path, path: &Path, extra: &[&str], orientation: Option<u8>) {
    let before_pixels = image::open(path).unwrap().to_rgb8();
    let mut args = PERSONAL.to_vec();
    args.extend_from_slice(extra);
    run(tool, &args, path);
    let before = tags(tool, path);
    assert!(
        revealing(&before).len() >= 5,
        "exiftool wrote too little to test: {before:?}"
    );
    let found = inspect(path).unwrap();
    assert!(
        found.had_location || path.extension().unwrap() == "gif",
        "{found:?}"
    );
    let report = strip_in_place(path).unwrap();
    assert!(report.changed(), "{report:?}");
    let after = tags(tool, path);
    assert!(
        revealing(&after).is_empty(),
        "left: {:?}",
        revealing(&after)
    );
    assert!(
        !inspect(path).unwrap().changed(),
        "a second pass found more"
    );
    let after_pixels = image::open(path).unwrap().to_rgb8();
    assert_eq!(before_pixels, after_pixels, "pixels changed");
    if let Some(o) = orientation {
        let kept = after
            .iter()
            .find(|(k, _)| k.ends_with(":Orientation"))
            .map(|(_, v)| v.as_u64().unwrap());
        assert_eq!(kept, Some(u64::from(o)), "{after:?}");
        assert_eq!(report.orientation, o);
    }
}

#[test]
fn jpeg_loses_gps_camera_xmp_and_comments_but_not_pixels_or_orientation() {
    let Some(tool) = exiftool() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = image_file(dir.path(), "photo.jpg", image::ImageFormat::Jpeg);
    check_image(
        &tool,
        &path,
        &["-Orientation#=6", "-Comment=home", "-IPTC:City=Paris"],
        Some(6),
    );
}

#[test]
fn png_loses_its_exif_and_text_chunks() {
    let Some(tool) = exiftool() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = image_file(dir.path(), "photo.png", image::ImageFormat::Png);
    check_image(
        &tool,
        &path,
        &["-PNG:Comment=home", "-Orientation#=6"],
        Some(6),
    );
}

#[test]
fn webp_loses_its_exif_and_xmp_chunks() {
    let Some(tool) = exiftool() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = image_file(dir.path(), "photo.webp", image::ImageFormat::WebP);
    check_image(&tool, &path, &["-Orientation#=6"], Some(6));
}

#[test]
fn gif_loses_comments_and_xmp() {
    let Some(tool) = exiftool() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = image_file(dir.path(), "anim.gif", image::ImageFormat::Gif);
    let before_pixels = image::open(&path).unwrap().to_rgb8();
    run(
        &tool,
        &[
            "-overwrite_original",
            "-Comment=home: 12 Example Street",
            "-XMP-dc:Creator=Jane Doe",
            "-XMP-exif:GPSLatitude=48.8584",
        ],
        &path,
    );
    assert!(!revealing(&tags(&tool, &path)).is_empty());
    assert!(strip_in_place(&path).unwrap().changed());
    assert!(
        revealing(&tags(&tool, &path)).is_empty(),
        "{:?}",
        tags(&tool, &path)
    );
    assert_eq!(image::open(&path).unwrap().to_rgb8(), before_pixels);
}

/// The smallest MP4 exiftool writes into: `ftyp`, `moov` with an `mvhd`, and an `mdat` whose
/// bytes stand for samples.
fn tiny_mp4(path: &Path) -> Vec<u8> {
    let mut file = Vec::new();
    let ftyp = [b"isom".as_slice(), &0x200u32.to_be_bytes(), b"isomiso2mp41"].concat();
    file.extend(mp4_box(b"ftyp", &ftyp));
    let mut mvhd = vec![0u8; 100];
    mvhd[12..16].copy_from_slice(&1000u32.to_be_bytes()); // timescale
    mvhd[20..24].copy_from_slice(&0x0001_0000u32.to_be_bytes()); // rate 1.0
    mvhd[24..26].copy_from_slice(&0x0100u16.to_be_bytes()); // volume 1.0
    for (i, v) in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000]
        .iter()
        .enumerate()
    {
        mvhd[36 + i * 4..40 + i * 4].copy_from_slice(&v.to_be_bytes());
    }
    mvhd[96..100].copy_from_slice(&2u32.to_be_bytes()); // next track id
    file.extend(mp4_box(b"moov", &mp4_box(b"mvhd", &mvhd)));
    let samples: Vec<u8> = (0..5000u32).map(|i| (i % 253) as u8).collect();
    file.extend(mp4_box(b"mdat", &samples));
    std::fs::write(path, &file).unwrap();
    samples
}

fn mp4_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut b = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    b.extend_from_slice(payload);
    b
}

#[test]
fn mp4_loses_location_and_device_without_moving_a_sample() {
    let Some(tool) = exiftool() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.mp4");
    let samples = tiny_mp4(&path);
    run(
        &tool,
        &[
            "-overwrite_original",
            "-Keys:GPSCoordinates=48.8584, 2.2945",
            "-UserData:GPSCoordinates=48.8584, 2.2945",
            "-Keys:Make=PhoneMaker",
            "-Keys:Model=Phone 15",
            "-UserData:Make=PhoneMaker",
        ],
        &path,
    );
    let before = tags(&tool, &path);
    assert!(revealing(&before).len() >= 3, "{before:?}");
    let size = std::fs::metadata(&path).unwrap().len();
    let found = inspect(&path).unwrap();
    assert!(found.had_location, "{found:?}");
    assert!(strip_in_place(&path).unwrap().changed());
    let after = tags(&tool, &path);
    assert!(
        revealing(&after).is_empty(),
        "left: {:?}",
        revealing(&after)
    );
    // Same size, and the sample bytes are where they were.
    assert_eq!(std::fs::metadata(&path).unwrap().len(), size);
    let bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(samples.len())
        .position(|w| w == samples.as_slice())
        .expect("samples intact");
    assert!(at > 0);
}

#[test]
fn a_heic_whose_index_does_not_parse_is_refused_not_passed_through() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("photo.heic");
    let mut file = mp4_box(b"ftyp", b"heic\0\0\0\0mif1heic");
    // An `iinf` claiming 64 bytes inside a 32-byte `meta`.
    let mut meta = vec![0u8; 4];
    meta.extend_from_slice(&[0, 0, 0, 64]);
    meta.extend_from_slice(b"iinf");
    meta.resize(32, 0);
    file.extend(mp4_box(b"meta", &meta));
    std::fs::write(&path, &file).unwrap();
    let err = strip_in_place(&path).unwrap_err();
    assert!(
        matches!(err, media_format::FormatError::Malformed(_)),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), file, "left as it was");
}

#[test]
fn truncated_and_malformed_files_give_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.jpg");
    std::fs::write(&path, [0xFF, 0xD8, 0xFF, 0xE1, 0x10, 0x00, b'E', b'x']).unwrap();
    assert!(matches!(
        strip_in_place(&path),
        Err(media_format::FormatError::Malformed(_))
    ));
    // Unchanged on failure.
    assert_eq!(std::fs::read(&path).unwrap().len(), 8);
    let png = dir.path().join("cut.png");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR").unwrap();
    assert!(strip_in_place(&png).is_err());
    let gif = dir.path().join("bad.gif");
    std::fs::write(&gif, b"GIF89a\x01\x00\x01\x00\x00\x00\x00\x99").unwrap();
    assert!(strip_in_place(&gif).is_err());
}

/// The JPEG segments of `bytes` from SOI to the first SOS, as (offset, length with marker).
fn segments_before_scan(bytes: &[u8]) -> Vec<(usize, usize, u8)> {
    let mut out = Vec::new();
    let mut at = 2;
    while at + 4 <= bytes.len() && bytes[at] == 0xFF {
        let code = bytes[at + 1];
        let len = u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize;
        out.push((at, len + 2, code));
        if code == 0xDA {
            break;
        }
        at += len + 2;
    }
    out
}

/// Security review finding 9: EXIF/GPS placed after the first scan of a progressive JPEG was
/// copied through with the scans and the file reported clean. The stripper now walks the
/// segments between scans by the same rules as those before the first.
#[test]
fn a_progressive_jpeg_loses_metadata_placed_between_its_scans() {
    let Some(tool) = exiftool() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("progressive.jpg");
    let (w, h) = (96u16, 64u16);
    let pixels: Vec<u8> = (0..u32::from(w) * u32::from(h))
        .flat_map(|i| {
            let (x, y) = (i % u32::from(w), i / u32::from(w));
            [(x * 2) as u8, (y * 3) as u8, ((x ^ y) * 5) as u8]
        })
        .collect();
    let mut encoder = jpeg_encoder::Encoder::new_file(&path, 90).unwrap();
    encoder.set_progressive(true);
    encoder
        .encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    // exiftool writes GPS, camera and XMP in APP1 segments before the first scan…
    run(&tool, PERSONAL, &path);
    let written = std::fs::read(&path).unwrap();
    let before_pixels = image::load_from_memory(&written).unwrap().to_rgb8();
    // …which are moved to just before the second scan, where a hostile or odd encoder can
    // put them.
    let app1: Vec<(usize, usize, u8)> = segments_before_scan(&written)
        .into_iter()
        .filter(|s| s.2 == 0xE1)
        .collect();
    assert!(!app1.is_empty(), "exiftool wrote no APP1");
    let mut moved = written.clone();
    let mut taken = Vec::new();
    for (at, len, _) in app1.iter().rev() {
        taken.splice(0..0, moved.drain(*at..*at + *len));
    }
    let first_scan = segments_before_scan(&moved)
        .iter()
        .find(|s| s.2 == 0xDA)
        .map(|s| s.0)
        .unwrap();
    let second_scan = (first_scan + 2..moved.len() - 1)
        .find(|&i| moved[i] == 0xFF && moved[i + 1] == 0xDA)
        .expect("a progressive JPEG has a second scan");
    moved.splice(second_scan..second_scan, taken);
    std::fs::write(&path, &moved).unwrap();
    assert!(
        tags(&tool, &path).keys().any(|k| k.contains("GPS")) || {
            // exiftool may stop reading at the first scan; the bytes are there all the same.
            moved.windows(6).any(|w| w == b"Exif\0\0")
        }
    );
    assert_eq!(
        image::load_from_memory(&moved).unwrap().to_rgb8(),
        before_pixels,
        "the moved file does not decode to the same pixels"
    );

    let found = inspect(&path).unwrap();
    assert!(found.had_location, "{found:?}");
    let report = strip_in_place(&path).unwrap();
    assert!(report.changed(), "{report:?}");
    let after = std::fs::read(&path).unwrap();
    assert!(
        !after.windows(6).any(|w| w == b"Exif\0\0"),
        "EXIF left between the scans"
    );
    assert!(
        !after.windows(20).any(|w| w == b"http://ns.adobe.com/"),
        "XMP left between the scans"
    );
    assert!(revealing(&tags(&tool, &path)).is_empty());
    assert_eq!(
        image::load_from_memory(&after).unwrap().to_rgb8(),
        before_pixels
    );
    assert!(
        !inspect(&path).unwrap().changed(),
        "a second pass found more"
    );
}

/// Security review finding 9: bytes after the logical end of a PNG, GIF or WebP (here a whole
/// JPEG with GPS, as some apps append) were kept when nothing else was removed.
#[test]
fn bytes_after_the_end_of_an_image_are_dropped() {
    let Some(tool) = exiftool() else { return };
    let dir = tempfile::tempdir().unwrap();
    let tail = image_file(dir.path(), "tail.jpg", image::ImageFormat::Jpeg);
    run(&tool, PERSONAL, &tail);
    let tail = std::fs::read(&tail).unwrap();
    for (name, format) in [
        ("a.png", image::ImageFormat::Png),
        ("a.gif", image::ImageFormat::Gif),
        ("a.webp", image::ImageFormat::WebP),
    ] {
        let path = image_file(dir.path(), name, format);
        let clean = std::fs::read(&path).unwrap();
        assert!(!inspect(&path).unwrap().changed(), "{name} starts clean");
        std::fs::write(&path, [&clean[..], &tail[..]].concat()).unwrap();
        let report = strip_in_place(&path).unwrap();
        assert!(
            report.removed.iter().any(|r| r == "trailer"),
            "{name}: {report:?}"
        );
        let after = std::fs::read(&path).unwrap();
        assert_eq!(
            after, clean,
            "{name}: the trailer is gone and nothing else changed"
        );
        assert!(!after.windows(6).any(|w| w == b"Exif\0\0"), "{name}");
    }
}

/// A location written only as XMP (no EXIF): `reject` sees it in every format, and `strip`
/// removes it.
#[test]
fn a_location_only_in_xmp_counts_under_reject() {
    let Some(tool) = exiftool() else { return };
    let dir = tempfile::tempdir().unwrap();
    let files = [
        image_file(dir.path(), "x.jpg", image::ImageFormat::Jpeg),
        image_file(dir.path(), "x.png", image::ImageFormat::Png),
        image_file(dir.path(), "x.webp", image::ImageFormat::WebP),
        image_file(dir.path(), "x.gif", image::ImageFormat::Gif),
    ];
    for path in &files {
        run(
            &tool,
            &[
                "-overwrite_original",
                "-XMP-exif:GPSLatitude=48.8584",
                "-XMP-exif:GPSLongitude=2.2945",
            ],
            path,
        );
        assert!(
            tags(&tool, path).keys().any(|k| k.contains("GPS")),
            "exiftool wrote no XMP GPS into {}",
            path.display()
        );
        let found = inspect(path).unwrap();
        assert!(found.had_location, "{}: {found:?}", path.display());
        strip_in_place(path).unwrap();
        let left: Vec<String> = tags(&tool, path)
            .keys()
            .filter(|k| k.contains("GPS"))
            .cloned()
            .collect();
        assert!(left.is_empty(), "{}: {left:?}", path.display());
    }
}
