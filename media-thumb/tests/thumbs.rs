//! Thumbnails of real encoded images: orientation, privacy, formats, bombs, corrupt input.

mod common;

use common::*;
use image::{DynamicImage, GenericImageView, ImageFormat, Rgba, RgbaImage};
use media_core::{ErrorKind, MediaError, Thumbnailer};
use media_thumb::{
    make_thumbnails, make_thumbnails_from_file, MediaThumbnailer, ThumbError, ThumbFormat,
    ThumbnailOptions,
};

fn opts(size: u32) -> ThumbnailOptions {
    ThumbnailOptions::default().with_sizes(&[size])
}

fn decode(bytes: &[u8]) -> DynamicImage {
    image::load_from_memory(bytes).expect("our thumbnail decodes")
}

fn is_webp(bytes: &[u8]) -> bool {
    bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP"
}

/// Which colour block a pixel belongs to (the JPEG round trips are lossy).
fn colour(img: &DynamicImage, x: u32, y: u32) -> char {
    let p = img.get_pixel(x, y).0;
    let (r, g, b) = (i32::from(p[0]), i32::from(p[1]), i32::from(p[2]));
    if r > 150 && g < 110 && b < 110 {
        'R'
    } else if g > 150 && r < 110 && b < 110 {
        'G'
    } else if b > 150 && r < 110 && g < 110 {
        'B'
    } else {
        '?'
    }
}

#[test]
fn every_exif_orientation_comes_out_the_right_way_up() {
    let shown = displayed();
    for orientation in 1..=8u8 {
        let stored = stored_for(&shown, orientation);
        let bytes = with_segments(
            &jpeg(&stored),
            &[exif_segment(u16::from(orientation), false)],
        );
        for format in [ThumbFormat::Webp, ThumbFormat::Jpeg] {
            let thumbs = make_thumbnails(&bytes, &opts(30).with_format(format))
                .unwrap_or_else(|e| panic!("orientation {orientation}: {e}"));
            assert_eq!(thumbs.orientation, orientation);
            assert_eq!(
                (thumbs.width, thumbs.height),
                (60, 40),
                "orientation {orientation}"
            );
            let v = &thumbs.variants[0];
            assert_eq!((v.width, v.height), (30, 20), "orientation {orientation}");
            let img = decode(&v.bytes);
            assert_eq!(img.dimensions(), (30, 20));
            let corners = [
                colour(&img, 3, 2),
                colour(&img, 27, 2),
                colour(&img, 15, 17),
                colour(&img, 3, 17),
            ];
            assert_eq!(
                corners,
                ['R', 'G', 'B', 'B'],
                "orientation {orientation}, {format:?}"
            );
        }
    }
}

#[test]
fn output_carries_no_exif_gps_or_xmp() {
    let bytes = with_segments(
        &jpeg(&photo(640, 480)),
        &[exif_segment(1, true), xmp_segment()],
    );
    // The input really carries what must not leak.
    for needle in [&b"Exif"[..], b"SECRETCAM", b"ns.adobe.com", b"GPSLatitude"] {
        assert!(contains(&bytes, needle));
    }
    for format in [ThumbFormat::Webp, ThumbFormat::Jpeg] {
        let thumbs = make_thumbnails(&bytes, &opts(128).with_format(format)).unwrap();
        let out = &thumbs.variants[0].bytes;
        for needle in [
            &b"Exif"[..],
            b"EXIF",
            b"SECRETCAM",
            b"ns.adobe.com",
            b"GPS",
            b"XMP",
            b"xmp",
        ] {
            assert!(
                !contains(out, needle),
                "{format:?} output contains {:?}",
                String::from_utf8_lossy(needle)
            );
        }
        match format {
            ThumbFormat::Webp => {
                assert!(is_webp(out));
                // Only image chunks: no EXIF, XMP or ICCP chunk.
                let mut at = 12;
                while at + 8 <= out.len() {
                    let fourcc = &out[at..at + 4];
                    assert!(
                        [&b"VP8 "[..], b"VP8L", b"VP8X", b"ALPH"].contains(&fourcc),
                        "unexpected WebP chunk {:?}",
                        String::from_utf8_lossy(fourcc)
                    );
                    let len = u32::from_le_bytes(out[at + 4..at + 8].try_into().unwrap()) as usize;
                    at += 8 + len + (len & 1);
                }
            }
            _ => {
                // Only the JFIF APP0 segment, no APP1..APP15.
                let mut at = 2;
                while at + 4 <= out.len() && out[at] == 0xFF && out[at + 1] != 0xDA {
                    let marker = out[at + 1];
                    assert!(
                        !(0xE1..=0xEF).contains(&marker),
                        "APP{} segment in the output",
                        marker - 0xE0
                    );
                    let len = u16::from_be_bytes([out[at + 2], out[at + 3]]) as usize;
                    at += 2 + len;
                }
            }
        }
    }
}

#[test]
fn several_sizes_from_one_decode_with_blurhash_and_source_dimensions() {
    let bytes = jpeg(&photo(1600, 1200));
    let thumbs = make_thumbnails(
        &bytes,
        &ThumbnailOptions::default().with_sizes(&[256, 128, 64]),
    )
    .unwrap();
    assert_eq!((thumbs.width, thumbs.height), (1600, 1200));
    assert_eq!(thumbs.source_mime, "image/jpeg");
    let dims: Vec<_> = thumbs
        .variants
        .iter()
        .map(|v| (v.width, v.height))
        .collect();
    assert_eq!(dims, [(256, 192), (128, 96), (64, 48)]);
    for v in &thumbs.variants {
        assert!(is_webp(&v.bytes));
        assert_eq!(decode(&v.bytes).dimensions(), (v.width, v.height));
    }
    let hash = thumbs.blurhash.expect("blurhash on by default");
    // 4×3 components: 1 size byte, 1 max-AC byte, 4 DC bytes, 2 bytes per AC component.
    assert_eq!(hash.len(), 1 + 1 + 4 + 2 * (4 * 3 - 1));
}

#[test]
fn small_images_are_not_enlarged() {
    let bytes = jpeg(&photo(100, 50));
    let thumbs = make_thumbnails(&bytes, &opts(256)).unwrap();
    assert_eq!(
        (thumbs.variants[0].width, thumbs.variants[0].height),
        (100, 50)
    );
}

#[test]
fn every_supported_input_format() {
    let rgb = photo(300, 200);
    let rgba = RgbaImage::from_fn(300, 200, |x, y| {
        Rgba([x as u8, y as u8, 90, (x % 256) as u8])
    });
    let grey = DynamicImage::ImageRgb8(rgb.clone()).grayscale();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("image/jpeg", jpeg(&rgb)),
        ("image/jpeg", encode(&grey, ImageFormat::Jpeg)),
        (
            "image/png",
            encode(&DynamicImage::ImageRgb8(rgb.clone()), ImageFormat::Png),
        ),
        ("image/png", png_rgba(&rgba)),
        (
            "image/gif",
            encode(&DynamicImage::ImageRgba8(rgba.clone()), ImageFormat::Gif),
        ),
        ("image/webp", webp(&rgb)),
        (
            "image/webp",
            encode(&DynamicImage::ImageRgba8(rgba), ImageFormat::WebP),
        ),
    ];
    for (mime, bytes) in cases {
        for format in [ThumbFormat::Webp, ThumbFormat::Jpeg] {
            let thumbs = make_thumbnails(&bytes, &opts(150).with_format(format))
                .unwrap_or_else(|e| panic!("{mime} → {format:?}: {e}"));
            assert_eq!(thumbs.source_mime, mime);
            assert_eq!((thumbs.width, thumbs.height), (300, 200));
            let v = &thumbs.variants[0];
            assert_eq!((v.width, v.height), (150, 100), "{mime}");
            assert_eq!(v.mime, format.mime());
            let img = decode(&v.bytes);
            assert_eq!(img.dimensions(), (150, 100));
            let expected = match format {
                ThumbFormat::Webp => ImageFormat::WebP,
                _ => ImageFormat::Jpeg,
            };
            assert_eq!(image::guess_format(&v.bytes).unwrap(), expected);
        }
    }
}

/// PNGs are scaled on load (rows box-averaged as they are decoded): the result matches the
/// image crate's full decode resized, in size, colour and alpha.
#[test]
fn png_scaled_on_load_matches_a_full_decode() {
    let rgba = RgbaImage::from_fn(1000, 700, |x, y| {
        Rgba([
            (x / 4) as u8,
            (y / 3) as u8,
            ((x + y) / 7) as u8,
            255 - (y / 3) as u8,
        ])
    });
    let bytes = png_rgba(&rgba);
    let thumbs = make_thumbnails(&bytes, &opts(100)).unwrap();
    assert_eq!((thumbs.width, thumbs.height), (1000, 700));
    let ours = decode(&thumbs.variants[0].bytes).to_rgba8();
    assert_eq!(ours.dimensions(), (100, 70));
    let reference = DynamicImage::ImageRgba8(rgba)
        .resize_exact(100, 70, image::imageops::FilterType::Triangle)
        .to_rgba8();
    let diff: u64 = ours
        .as_raw()
        .iter()
        .zip(reference.as_raw())
        .map(|(a, b)| u64::from(a.abs_diff(*b)))
        .sum();
    let mean = diff as f64 / ours.as_raw().len() as f64;
    assert!(mean < 6.0, "mean difference {mean:.2} per channel");
}

#[test]
fn heic_avif_and_unknown_bytes_are_unsupported() {
    let mut heic = vec![0, 0, 0, 24];
    heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    let mut avif = vec![0, 0, 0, 24];
    avif.extend_from_slice(b"ftypavif\0\0\0\0mif1avif");
    for bytes in [heic, avif, b"just some text, not an image".to_vec()] {
        let err = make_thumbnails(&bytes, &opts(64)).unwrap_err();
        assert!(matches!(err, ThumbError::Unsupported(_)), "{err}");
        assert_eq!(MediaError::from(err).kind, ErrorKind::Unsupported);
    }
}

#[test]
fn decompression_bombs_are_refused_from_the_header() {
    let bombs = [
        ("png 100k×100k", png_bomb(100_000, 100_000)),
        ("png 20k×20k (400 MP)", png_bomb(20_000, 20_000)),
        ("jpeg 65k×65k", jpeg_bomb(65_000, 65_000)),
        ("jpeg 30k×20k (600 MP)", jpeg_bomb(29_000, 20_000)),
    ];
    for (what, bytes) in bombs {
        let err = make_thumbnails(&bytes, &opts(256)).unwrap_err();
        assert!(matches!(err, ThumbError::TooLarge { .. }), "{what}: {err}");
        assert_eq!(MediaError::from(err).kind, ErrorKind::InvalidInput);
    }
    // Tighter limits apply too.
    let bytes = jpeg(&photo(1200, 1000));
    let err = make_thumbnails(&bytes, &opts(64).with_limits(30_000, 1_000_000)).unwrap_err();
    assert!(
        matches!(
            err,
            ThumbError::TooLarge {
                width: 1200,
                height: 1000,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn corrupt_and_truncated_inputs_give_typed_errors() {
    let jpeg_bytes = jpeg(&photo(400, 300));
    let png_bytes = encode(&DynamicImage::ImageRgb8(photo(400, 300)), ImageFormat::Png);
    let webp_bytes = webp(&photo(400, 300));
    let mut cases: Vec<(String, Vec<u8>)> = vec![("empty".into(), Vec::new())];
    for (name, bytes) in [
        ("jpeg", &jpeg_bytes),
        ("png", &png_bytes),
        ("webp", &webp_bytes),
    ] {
        // Cuts inside the pixel data. (A PNG cut inside its final IEND chunk still holds
        // every pixel and is accepted, as browsers do.)
        for cut in [16, 40, 200, bytes.len() / 2, bytes.len() - 16] {
            cases.push((format!("{name} cut at {cut}"), bytes[..cut].to_vec()));
        }
    }
    // Garbage after a valid header.
    let mut garbled = jpeg_bytes.clone();
    let sos = garbled.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    for b in &mut garbled[sos + 20..] {
        *b = 0xFF;
    }
    cases.push(("jpeg scan data all 0xFF".into(), garbled));
    for (what, bytes) in cases {
        match make_thumbnails(&bytes, &opts(64)) {
            Err(ThumbError::Corrupt(_)) => {}
            Err(other) => panic!("{what}: expected Corrupt, got {other}"),
            Ok(_) => panic!("{what}: accepted"),
        }
    }
}

#[test]
fn invalid_options_are_refused() {
    let bytes = jpeg(&photo(64, 64));
    for options in [
        ThumbnailOptions::default().with_sizes(&[]),
        ThumbnailOptions::default().with_sizes(&[0]),
        ThumbnailOptions::default().with_quality(0),
    ] {
        assert!(matches!(
            make_thumbnails(&bytes, &options),
            Err(ThumbError::InvalidOptions(_))
        ));
    }
    assert!("gif".parse::<ThumbFormat>().is_err());
    assert_eq!("JPG".parse::<ThumbFormat>().unwrap(), ThumbFormat::Jpeg);
}

#[test]
fn media_thumbnailer_makes_an_inline_verified_thumbnail_for_images_only() {
    let dir = tempfile::tempdir().unwrap();
    let photo_path = dir.path().join("portrait.jpg");
    let stored = stored_for(&photo(300, 400), 6);
    std::fs::write(
        &photo_path,
        with_segments(&jpeg(&stored), &[exif_segment(6, true)]),
    )
    .unwrap();
    let t = MediaThumbnailer::default()
        .thumbnail(&photo_path, "image/jpeg")
        .unwrap()
        .expect("an image gets a thumbnail");
    assert!(t.verify());
    assert_eq!(t.mime, "image/webp");
    assert_eq!((t.width, t.height), (192, 256));
    assert_eq!((t.source_width, t.source_height), (Some(300), Some(400)));
    assert!(t.blurhash.is_some());
    assert!(!contains(&t.bytes, b"SECRETCAM"));

    let clip = dir.path().join("clip.mp4");
    std::fs::write(&clip, b"not an image").unwrap();
    assert!(MediaThumbnailer::default()
        .thumbnail(&clip, "video/mp4")
        .unwrap()
        .is_none());

    // A corrupt "image" is an error the caller can log; the file path API agrees.
    let broken = dir.path().join("broken.jpg");
    std::fs::write(&broken, &jpeg(&photo(64, 64))[..40]).unwrap();
    let err = MediaThumbnailer::default()
        .thumbnail(&broken, "image/jpeg")
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Integrity);
    assert!(matches!(
        make_thumbnails_from_file(&broken, &opts(64)),
        Err(ThumbError::Corrupt(_))
    ));
    assert!(matches!(
        make_thumbnails_from_file(&dir.path().join("missing.jpg"), &opts(64)),
        Err(ThumbError::Io(_))
    ));
}

mod mutated {
    use super::*;
    use proptest::prelude::*;

    fn seeds() -> Vec<Vec<u8>> {
        let rgb = photo(48, 32);
        vec![
            jpeg(&rgb),
            // Large enough for the shrink-on-load fast path (1/4 scale for a 24 px box).
            jpeg(&photo(200, 120)),
            encode(&DynamicImage::ImageRgb8(rgb.clone()), ImageFormat::Png),
            encode(&DynamicImage::ImageRgb8(rgb.clone()), ImageFormat::Gif),
            webp(&rgb),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Mutated real images never panic and never produce an out-of-box thumbnail.
        #[test]
        fn mutated_images_never_panic(
            seed in 0usize..5,
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..12),
            cut in any::<prop::sample::Index>(),
            truncate in any::<bool>(),
        ) {
            let mut bytes = seeds()[seed].clone();
            mutate(&mut bytes, &flips, truncate.then_some(cut));
            match make_thumbnails(&bytes, &opts(24)) {
                Ok(t) => {
                    for v in &t.variants {
                        prop_assert!(v.width <= 24 && v.height <= 24);
                        prop_assert!(!v.bytes.is_empty());
                    }
                }
                Err(ThumbError::Corrupt(msg)) => prop_assert!(!msg.contains("panicked"), "{}", msg),
                Err(_) => {}
            }
        }
    }
}

/// Camera-sized JPEGs of every layout take the shrink-on-load path (or fall back to
/// jpeg-decoder where it declines) and come out the same way up and the same colours.
#[test]
fn jpegs_of_every_layout_come_out_alike() {
    use jpeg_encoder::SamplingFactor;
    let shown = image::imageops::resize(&displayed(), 600, 400, image::imageops::Nearest);
    let encoded = |sampling: SamplingFactor, restart: u16, progressive: bool| {
        jpeg_layout(
            shown.as_raw(),
            (600, 400, 3),
            sampling,
            restart,
            progressive,
        )
    };
    let cases = [
        ("image crate, 4:2:0", jpeg(&shown)),
        (
            "4:4:4, restart every 5 MCUs",
            encoded(SamplingFactor::F_1_1, 5, false),
        ),
        ("4:2:2", encoded(SamplingFactor::F_2_1, 0, false)),
        (
            "4:4:0, restart every MCU",
            encoded(SamplingFactor::F_1_2, 1, false),
        ),
        ("progressive 4:2:0", encoded(SamplingFactor::F_2_2, 0, true)),
        (
            "one scan per component",
            encoded(SamplingFactor::F_4_1, 0, false),
        ),
    ];
    for (what, bytes) in cases {
        for size in [30, 80, 200] {
            let thumbs =
                make_thumbnails(&bytes, &opts(size)).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!((thumbs.width, thumbs.height), (600, 400), "{what}");
            let v = &thumbs.variants[0];
            let (w, h) = (size, size * 2 / 3);
            assert_eq!((v.width, v.height), (w, h), "{what} at {size}");
            let img = decode(&v.bytes);
            let corners = [
                colour(&img, w / 10, h / 10),
                colour(&img, w - w / 10, h / 10),
                colour(&img, w / 2, h - h / 10),
            ];
            assert_eq!(corners, ['R', 'G', 'B'], "{what} at {size}");
        }
    }
    // And turned by its EXIF orientation on the fast path too (6: stored rotated 90° left).
    let stored = stored_for(&shown, 6);
    let bytes = with_segments(&jpeg(&stored), &[exif_segment(6, false)]);
    let thumbs = make_thumbnails(&bytes, &opts(60)).expect("oriented");
    let img = decode(&thumbs.variants[0].bytes);
    assert_eq!(img.dimensions(), (60, 40));
    assert_eq!(
        [
            colour(&img, 6, 4),
            colour(&img, 54, 4),
            colour(&img, 30, 36)
        ],
        ['R', 'G', 'B']
    );
}
