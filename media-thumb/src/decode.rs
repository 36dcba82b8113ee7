//! Decoding with limits checked from the header first, and shrink-on-load for JPEG.

use std::io::Cursor;

use image::ImageDecoder;

use crate::{jpeg_scaled, Pixels, ThumbError, ThumbnailOptions};

/// What the magic bytes say.
pub(crate) fn sniff(bytes: &[u8]) -> Result<&'static str, ThumbError> {
    use media_format::Format;
    match Format::sniff(bytes) {
        Some(f @ (Format::Jpeg | Format::Png | Format::Gif | Format::Webp)) => Ok(f.mime()),
        Some(f @ (Format::Heic | Format::Avif)) => Err(ThumbError::Unsupported(format!(
            "{} is decoded from a file, in a child process (make_thumbnails_from_file)",
            f.mime()
        ))),
        _ if bytes.is_empty() => Err(ThumbError::Corrupt("empty input".into())),
        _ => Err(ThumbError::Unsupported(
            "not a JPEG, PNG, WebP or GIF image".into(),
        )),
    }
}

pub(crate) fn check_size(
    width: u32,
    height: u32,
    options: &ThumbnailOptions,
) -> Result<(), ThumbError> {
    let too_large = |limit: String| ThumbError::TooLarge {
        width,
        height,
        limit,
    };
    if width == 0 || height == 0 {
        return Err(ThumbError::Corrupt(format!(
            "image of {width}×{height} pixels"
        )));
    }
    if width > options.max_dimension || height > options.max_dimension {
        return Err(too_large(format!(
            "{} pixels per side",
            options.max_dimension
        )));
    }
    if u64::from(width) * u64::from(height) > options.max_pixels {
        return Err(too_large(format!("{} pixels", options.max_pixels)));
    }
    Ok(())
}

pub(crate) fn decode(
    bytes: &[u8],
    target: u32,
    options: &ThumbnailOptions,
) -> Result<Pixels, ThumbError> {
    match sniff(bytes)? {
        "image/jpeg" => decode_jpeg(bytes, target, options),
        "image/png" => decode_png(bytes, target, options),
        mime => decode_other(bytes, mime, options),
    }
}

/// EXIF orientation (1–8) of a JPEG, 1 when absent or unreadable.
fn jpeg_orientation(bytes: &[u8]) -> u8 {
    orientation(exif::Reader::new().read_from_container(&mut Cursor::new(bytes)))
}

/// EXIF orientation (1–8) from a raw TIFF block (PNG `eXIf`), 1 when absent or unreadable.
fn tiff_orientation(tiff: &[u8]) -> u8 {
    orientation(exif::Reader::new().read_raw(tiff.to_vec()))
}

fn orientation(exif: Result<exif::Exif, exif::Error>) -> u8 {
    let Ok(exif) = exif else {
        return 1;
    };
    exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .and_then(|v| u8::try_from(v).ok())
        .filter(|v| (1..=8).contains(v))
        .unwrap_or(1)
}

fn decode_jpeg(
    bytes: &[u8],
    target: u32,
    options: &ThumbnailOptions,
) -> Result<Pixels, ThumbError> {
    let corrupt = |e: jpeg_decoder::Error| ThumbError::Corrupt(e.to_string());
    let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    decoder.read_info().map_err(corrupt)?;
    let info = decoder
        .info()
        .ok_or_else(|| ThumbError::Corrupt("no JPEG header".into()))?;
    let (sw, sh) = (u32::from(info.width), u32::from(info.height));
    check_size(sw, sh, options)?;
    // Shrink on load: let the IDCT produce at least twice the target, not the full image.
    let want = u64::from(target) * 2;
    let long = u64::from(sw.max(sh));
    let mut block = 8;
    if long > want {
        let rw = (u64::from(sw) * want).div_ceil(long).max(1);
        let rh = (u64::from(sh) * want).div_ceil(long).max(1);
        block = [1u64, 2, 4, 8]
            .into_iter()
            .find(|&n| {
                (u64::from(sw) * n).div_ceil(8) >= rw && (u64::from(sh) * n).div_ceil(8) >= rh
            })
            .unwrap_or(8);
        decoder.scale(rw as u16, rh as u16).map_err(corrupt)?;
    }
    let orientation = jpeg_orientation(bytes);
    if block < 8 {
        match jpeg_scaled::decode(bytes, block as usize, options.max_alloc) {
            jpeg_scaled::Outcome::Decoded(scaled) => {
                return Ok(Pixels {
                    width: scaled.width,
                    height: scaled.height,
                    alpha: false,
                    data: scaled.rgb,
                    orientation,
                    source_width: sw,
                    source_height: sh,
                    source_mime: "image/jpeg",
                })
            }
            jpeg_scaled::Outcome::Declined(reason) => {
                tracing::debug!(%reason, "JPEG fast path declined; using jpeg-decoder");
            }
        }
    }
    // jpeg-decoder keeps every coefficient of a progressive JPEG at full size (2 bytes each:
    // 3 a pixel with 4:2:0 chroma, 6 with 4:4:4), whatever the scale of its output; its own
    // buffer limit sees only the output. Estimated here from the header, before.
    let coefficients = u64::from(sw) * u64::from(sh) * 3;
    if coefficients > options.max_alloc {
        return Err(ThumbError::TooLarge {
            width: sw,
            height: sh,
            limit: format!("{} bytes of JPEG coefficients", options.max_alloc),
        });
    }
    decoder.set_max_decoding_buffer_size(usize::try_from(options.max_alloc).unwrap_or(usize::MAX));
    let raw = decoder.decode().map_err(corrupt)?;
    let info = decoder
        .info()
        .ok_or_else(|| ThumbError::Corrupt("no JPEG header".into()))?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let n = (w as usize) * (h as usize);
    use jpeg_decoder::PixelFormat as P;
    let data = match info.pixel_format {
        P::RGB24 => raw,
        P::L8 => raw.iter().flat_map(|&l| [l, l, l]).collect(),
        P::L16 => raw
            .chunks_exact(2)
            .flat_map(|c| [c[0], c[0], c[0]])
            .collect(),
        // jpeg-decoder hands back ink amounts (0 none, 255 full), Adobe's inverted storage
        // already undone: white paper is (0, 0, 0, 0).
        P::CMYK32 => raw
            .chunks_exact(4)
            .flat_map(|c| {
                let k = 255 - u16::from(c[3]);
                let f = |v: u8| (((255 - u16::from(v)) * k) / 255) as u8;
                [f(c[0]), f(c[1]), f(c[2])]
            })
            .collect(),
    };
    if data.len() < n * 3 {
        return Err(ThumbError::Corrupt(
            "JPEG decoded to fewer pixels than its header says".into(),
        ));
    }
    Ok(Pixels {
        width: w,
        height: h,
        alpha: false,
        data,
        orientation,
        source_width: sw,
        source_height: sh,
        source_mime: "image/jpeg",
    })
}

/// PNG, scaled on load: rows are decoded one at a time and box-averaged straight into an
/// image of at most twice the target size, so memory is a row plus the small image whatever
/// the PNG's size (a 14 000² PNG of a few hundred KB once took about 1 GB here). Interlaced
/// PNGs (rare for photos) go through the full decoder under [`ThumbnailOptions::max_alloc`].
fn decode_png(bytes: &[u8], target: u32, options: &ThumbnailOptions) -> Result<Pixels, ThumbError> {
    let corrupt = |e: png::DecodingError| match e {
        png::DecodingError::LimitsExceeded => ThumbError::TooLarge {
            width: 0,
            height: 0,
            limit: format!("{} bytes of decoder memory", options.max_alloc),
        },
        other => ThumbError::Corrupt(other.to_string()),
    };
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    decoder.set_limits(png::Limits {
        bytes: usize::try_from(options.max_alloc).unwrap_or(usize::MAX),
    });
    let mut reader = decoder.read_info().map_err(corrupt)?;
    let info = reader.info();
    let (sw, sh) = (info.width, info.height);
    check_size(sw, sh, options)?;
    if info.interlaced {
        return decode_other(bytes, "image/png", options);
    }
    let orientation = info.exif_metadata.as_deref().map_or(1, tiff_orientation);
    let channels = match reader.output_color_type().0 {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb | png::ColorType::Indexed => 3,
        png::ColorType::Rgba => 4,
    };
    let alpha = channels % 2 == 0;
    let out_channels = if alpha { 4 } else { 3 };
    // The decoded image: the source when it is small, else at most twice the target.
    let want = u64::from(target) * 2;
    let long = u64::from(sw.max(sh));
    let (dw, dh) = if long > want {
        (
            ((u64::from(sw) * want) / long).max(1) as u32,
            ((u64::from(sh) * want) / long).max(1) as u32,
        )
    } else {
        (sw, sh)
    };
    let (dwu, dhu) = (dw as usize, dh as usize);
    let cell_x: Vec<usize> = (0..u64::from(sw))
        .map(|x| (x * u64::from(dw) / u64::from(sw)) as usize)
        .collect();
    let mut sums = vec![0u64; dwu * dhu * out_channels];
    let mut row_count = vec![0u64; dhu];
    let mut y = 0u64;
    while let Some(row) = reader.next_row().map_err(corrupt)? {
        if y >= u64::from(sh) {
            break;
        }
        let cy = (y * u64::from(dh) / u64::from(sh)) as usize;
        row_count[cy] += 1;
        let line = &mut sums[cy * dwu * out_channels..(cy + 1) * dwu * out_channels];
        for (x, px) in row
            .data()
            .chunks_exact(channels)
            .take(sw as usize)
            .enumerate()
        {
            let cell = &mut line[cell_x[x] * out_channels..(cell_x[x] + 1) * out_channels];
            let (rgb, a) = match channels {
                1 => ([px[0]; 3], 255),
                2 => ([px[0]; 3], px[1]),
                3 => ([px[0], px[1], px[2]], 255),
                _ => ([px[0], px[1], px[2]], px[3]),
            };
            for c in 0..3 {
                cell[c] += u64::from(rgb[c]);
            }
            if alpha {
                cell[3] += u64::from(a);
            }
        }
        y += 1;
    }
    if y < u64::from(sh) {
        return Err(ThumbError::Corrupt(format!(
            "PNG ends after {y} of its {sh} rows"
        )));
    }
    let mut col_count = vec![0u64; dwu];
    for &cx in &cell_x {
        col_count[cx] += 1;
    }
    let mut data = Vec::with_capacity(dwu * dhu * out_channels);
    for (cy, rows) in row_count.iter().enumerate() {
        for (cx, cols) in col_count.iter().enumerate() {
            let n = (rows * cols).max(1);
            let at = (cy * dwu + cx) * out_channels;
            data.extend(
                sums[at..at + out_channels]
                    .iter()
                    .map(|&v| ((v + n / 2) / n) as u8),
            );
        }
    }
    Ok(Pixels {
        width: dw,
        height: dh,
        alpha,
        data,
        orientation,
        source_width: sw,
        source_height: sh,
        source_mime: "image/png",
    })
}

fn decode_other(
    bytes: &[u8],
    mime: &'static str,
    options: &ThumbnailOptions,
) -> Result<Pixels, ThumbError> {
    let corrupt = |e: image::ImageError| match e {
        image::ImageError::Limits(l) => ThumbError::TooLarge {
            width: 0,
            height: 0,
            limit: l.to_string(),
        },
        image::ImageError::Unsupported(u) => ThumbError::Unsupported(u.to_string()),
        other => ThumbError::Corrupt(other.to_string()),
    };
    let format = match mime {
        "image/png" => image::ImageFormat::Png,
        "image/gif" => image::ImageFormat::Gif,
        _ => image::ImageFormat::WebP,
    };
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(options.max_dimension);
    limits.max_image_height = Some(options.max_dimension);
    limits.max_alloc = Some(options.max_alloc);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let (sw, sh) = decoder.dimensions();
    check_size(sw, sh, options)?;
    // The decoder allocates the whole image at once (image's own `max_alloc` does not stop
    // that): a 34-byte WebP or GIF can name 16 383 × 12 000 pixels. Checked here, before.
    let whole = decoder.total_bytes();
    if whole > options.max_alloc {
        return Err(ThumbError::TooLarge {
            width: sw,
            height: sh,
            limit: format!("{} bytes of decoded pixels", options.max_alloc),
        });
    }
    let orientation = decoder.orientation().ok().map(|o| o.to_exif()).unwrap_or(1);
    // GIF: the first frame.
    let img = image::DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    let alpha = img.color().has_alpha();
    let data = if alpha {
        img.into_rgba8().into_raw()
    } else {
        img.into_rgb8().into_raw()
    };
    Ok(Pixels {
        width: sw,
        height: sh,
        alpha,
        data,
        orientation,
        source_width: sw,
        source_height: sh,
        source_mime: mime,
    })
}

/// Frames of an animation (GIF, animated WebP, APNG) read after the first.
pub(crate) const MAX_FRAMES: usize = 64;

/// Call `each` with every frame after the first of an animated GIF, WebP or PNG (at most
/// [`MAX_FRAMES`], one frame in memory at a time, each the whole canvas), so that what a
/// viewer sees later is checked like the first frame. Nothing for stills and other formats;
/// a frame that does not decode ends the walk.
pub(crate) fn for_each_later_frame(
    bytes: &[u8],
    options: &ThumbnailOptions,
    mut each: impl FnMut(Pixels),
) -> Result<(), ThumbError> {
    use image::AnimationDecoder;
    let mime = sniff(bytes)?;
    let frames: image::Frames<'_> = match mime {
        "image/gif" => {
            let decoder = image::codecs::gif::GifDecoder::new(Cursor::new(bytes))
                .map_err(|e| ThumbError::Corrupt(e.to_string()))?;
            check_canvas(image::ImageDecoder::dimensions(&decoder), options)?;
            decoder.into_frames()
        }
        "image/webp" => {
            let decoder = image::codecs::webp::WebPDecoder::new(Cursor::new(bytes))
                .map_err(|e| ThumbError::Corrupt(e.to_string()))?;
            if !decoder.has_animation() {
                return Ok(());
            }
            check_canvas(image::ImageDecoder::dimensions(&decoder), options)?;
            decoder.into_frames()
        }
        "image/png" => {
            let decoder = image::codecs::png::PngDecoder::new(Cursor::new(bytes))
                .map_err(|e| ThumbError::Corrupt(e.to_string()))?;
            if !decoder.is_apng().unwrap_or(false) {
                return Ok(());
            }
            check_canvas(image::ImageDecoder::dimensions(&decoder), options)?;
            decoder
                .apng()
                .map_err(|e| ThumbError::Corrupt(e.to_string()))?
                .into_frames()
        }
        _ => return Ok(()),
    };
    for frame in frames.skip(1).take(MAX_FRAMES) {
        let Ok(frame) = frame else { break };
        let buffer = frame.into_buffer();
        let (w, h) = buffer.dimensions();
        each(Pixels {
            width: w,
            height: h,
            alpha: true,
            data: buffer.into_raw(),
            orientation: 1,
            source_width: w,
            source_height: h,
            source_mime: mime,
        });
    }
    Ok(())
}

/// An animation's canvas (RGBA, whole) within the size and allocation limits.
fn check_canvas((w, h): (u32, u32), options: &ThumbnailOptions) -> Result<(), ThumbError> {
    check_size(w, h, options)?;
    if u64::from(w) * u64::from(h) * 4 > options.max_alloc {
        return Err(ThumbError::TooLarge {
            width: w,
            height: h,
            limit: format!("{} bytes of decoded pixels", options.max_alloc),
        });
    }
    Ok(())
}
