//! Images made on the spot for the thumbnail tests: no fixtures of unknown origin.

#![allow(dead_code)]

use image::{DynamicImage, ImageFormat, Rgb, RgbImage, RgbaImage};

/// A 60×40 image as it should be *displayed*: a red block in the top-left corner, a green
/// block in the top-right corner, blue elsewhere. Any rotation or flip moves the blocks.
pub fn displayed() -> RgbImage {
    RgbImage::from_fn(60, 40, |x, y| {
        if y < 15 && x < 20 {
            Rgb([230, 20, 20])
        } else if y < 15 && x >= 40 {
            Rgb([20, 220, 20])
        } else {
            Rgb([20, 20, 230])
        }
    })
}

/// A smooth, detailed photo-like image (gradients and rings) of any size.
pub fn photo(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
        let ring = (((fx - 0.5).powi(2) + (fy - 0.5).powi(2)).sqrt() * 40.0).sin();
        Rgb([
            (fx * 255.0) as u8,
            (fy * 255.0) as u8,
            ((ring * 0.5 + 0.5) * 255.0) as u8,
        ])
    })
}

pub fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), format)
        .expect("encoding a test image");
    out
}

pub fn jpeg(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92)
        .encode_image(img)
        .expect("encoding a test JPEG");
    out
}

/// The layouts other encoders write: chroma sampling, restart markers, progressive scans
/// (through jpeg-encoder). `channels` is 1 (grey) or 3 (RGB) bytes a pixel in `pixels`.
pub fn jpeg_layout(
    pixels: &[u8],
    (width, height, channels): (u16, u16, u8),
    sampling: jpeg_encoder::SamplingFactor,
    restart_interval: u16,
    progressive: bool,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 88);
    encoder.set_sampling_factor(sampling);
    if restart_interval > 0 {
        encoder.set_restart_interval(restart_interval);
    }
    encoder.set_progressive(progressive);
    let colour = if channels == 1 {
        jpeg_encoder::ColorType::Luma
    } else {
        jpeg_encoder::ColorType::Rgb
    };
    encoder
        .encode(pixels, width, height, colour)
        .expect("encoding a test JPEG");
    out
}

/// Overwrites bytes at the drawn places, then cuts the end off where `cut` says.
pub fn mutate(
    bytes: &mut Vec<u8>,
    flips: &[(proptest::sample::Index, u8)],
    cut: Option<proptest::sample::Index>,
) {
    for (at, value) in flips {
        let i = at.index(bytes.len());
        bytes[i] = *value;
    }
    if let Some(cut) = cut {
        let keep = cut.index(bytes.len());
        bytes.truncate(keep);
    }
}

pub fn png_rgba(img: &RgbaImage) -> Vec<u8> {
    encode(&DynamicImage::ImageRgba8(img.clone()), ImageFormat::Png)
}

/// A lossy WebP through libwebp.
pub fn webp(img: &RgbImage) -> Vec<u8> {
    webp::Encoder::from_rgb(img.as_raw(), img.width(), img.height())
        .encode(90.0)
        .to_vec()
}

/// One EXIF entry: (tag, type, count, 4-byte value or offset), big-endian TIFF.
type Entry = (u16, u16, u32, [u8; 4]);

fn ifd(entries: &[Entry], out: &mut Vec<u8>) {
    out.extend_from_slice(&(entries.len() as u16).to_be_bytes());
    for (tag, ty, count, value) in entries {
        out.extend_from_slice(&tag.to_be_bytes());
        out.extend_from_slice(&ty.to_be_bytes());
        out.extend_from_slice(&count.to_be_bytes());
        out.extend_from_slice(value);
    }
    out.extend_from_slice(&0u32.to_be_bytes());
}

/// An APP1 EXIF segment with an orientation and, optionally, a GPS position and a camera
/// make that must not survive into a thumbnail.
pub fn exif_segment(orientation: u16, with_gps: bool) -> Vec<u8> {
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    let mut ifd0: Vec<Entry> = Vec::new();
    let o = orientation.to_be_bytes();
    // Make: ASCII "SECRETCAM\0" stored after the IFDs.
    let entries0 = if with_gps { 3 } else { 2 };
    let ifd0_len = 2 + 12 * entries0 + 4;
    let make_at = 8 + ifd0_len as u32;
    let make = b"SECRETCAM\0";
    let gps_at = make_at + make.len() as u32;
    ifd0.push((0x010F, 2, make.len() as u32, make_at.to_be_bytes()));
    ifd0.push((0x0112, 3, 1, [o[0], o[1], 0, 0]));
    if with_gps {
        ifd0.push((0x8825, 4, 1, gps_at.to_be_bytes()));
    }
    ifd(&ifd0, &mut tiff);
    tiff.extend_from_slice(make);
    if with_gps {
        // Latitude 52°31'12" N, longitude 13°24'36" E as rationals after the GPS IFD.
        let gps_len = 2 + 12 * 4 + 4;
        let lat_at = gps_at + gps_len;
        let lon_at = lat_at + 24;
        let gps: Vec<Entry> = vec![
            (0x0001, 2, 2, *b"N\0\0\0"),
            (0x0002, 5, 3, lat_at.to_be_bytes()),
            (0x0003, 2, 2, *b"E\0\0\0"),
            (0x0004, 5, 3, lon_at.to_be_bytes()),
        ];
        ifd(&gps, &mut tiff);
        for v in [52u32, 1, 31, 1, 12, 1, 13, 1, 24, 1, 36, 1] {
            tiff.extend_from_slice(&v.to_be_bytes());
        }
    }
    let mut seg = vec![0xFF, 0xE1];
    let len = (2 + 6 + tiff.len()) as u16;
    seg.extend_from_slice(&len.to_be_bytes());
    seg.extend_from_slice(b"Exif\0\0");
    seg.extend_from_slice(&tiff);
    seg
}

/// An XMP APP1 segment carrying a location.
pub fn xmp_segment() -> Vec<u8> {
    let body = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta><exif:GPSLatitude>52,31.2N</exif:GPSLatitude></x:xmpmeta>";
    let mut seg = vec![0xFF, 0xE1];
    seg.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    seg.extend_from_slice(body);
    seg
}

/// `jpeg` with `segments` inserted right after SOI.
pub fn with_segments(jpeg: &[u8], segments: &[Vec<u8>]) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    for s in segments {
        out.extend_from_slice(s);
    }
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// The stored pixels that, displayed with EXIF `orientation`, look like `shown`.
pub fn stored_for(shown: &RgbImage, orientation: u8) -> RgbImage {
    // Orientations 6 and 8 are each other's inverse; the rest are their own.
    let inverse = match orientation {
        6 => 8,
        8 => 6,
        o => o,
    };
    let mut img = DynamicImage::ImageRgb8(shown.clone());
    img.apply_orientation(image::metadata::Orientation::from_exif(inverse).expect("1..=8"));
    img.into_rgb8()
}

/// Byte-level search.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// CRC-32 (IEEE) for hand-made PNG chunks.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG whose header claims `width`×`height` pixels, followed by a tiny IDAT: a
/// decompression bomb as far as the header is concerned.
pub fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let chunk = |kind: &[u8], data: &[u8], out: &mut Vec<u8>| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr, &mut out);
    chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
        &mut out,
    );
    chunk(b"IEND", &[], &mut out);
    out
}

/// A real JPEG whose SOF header is patched to claim `width`×`height`.
pub fn jpeg_bomb(width: u16, height: u16) -> Vec<u8> {
    let mut bytes = jpeg(&photo(16, 16));
    let sof = bytes
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("baseline JPEG has SOF0");
    bytes[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    bytes
}
