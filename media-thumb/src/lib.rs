//! # media-thumb
//!
//! Thumbnails for a social app's photos: fast, safe with hostile input, and private.
//!
//! - **Fast**: JPEGs are decoded at reduced scale in the DCT domain (to at least twice the
//!   target box, the trick `vipsthumbnail` uses), then resized with `fast_image_resize`. The
//!   common camera JPEG (baseline, one interleaved scan) goes through a decoder of our own
//!   that only reads what the reduced IDCT needs; anything else goes to `jpeg-decoder`.
//! - **Safe**: dimensions and allocation limits are checked from the header before any large
//!   allocation (decompression bombs are refused in microseconds); corrupt and truncated input
//!   gives a typed [`ThumbError`], never a panic.
//! - **Private**: EXIF orientation is applied to the small image, and the output is encoded
//!   from pixels, so it carries no EXIF, GPS or XMP metadata.
//!
//! Inputs: JPEG, PNG, WebP and GIF (first frame) in memory; HEIC/HEIF and AVIF from a file
//! ([`make_heif_previews`]): libheif decodes them in a child process with a memory limit and a
//! deadline ([`ChildDecoders`]), after the size their index declares passed the limits, and
//! a HEIC also gets a display JPEG for browsers. Outputs: WebP (default, lossy) or JPEG, one or more sizes from
//! one decode, plus the source dimensions and a BlurHash placeholder.
//!
//! Videos: [`make_poster_from_file`] reads an MP4/MOV's index (`media_format::isobmff::track`) for the codec, size,
//! rotation and duration, and with the feature `video` decodes the first H.264 key frame
//! (OpenH264) into the same thumbnails, upright. HEVC and other codecs get their first frame
//! from `ffmpeg` in a bounded child process, or a reason when it is not installed.
//!
//! ```
//! use media_thumb::{make_thumbnails, ThumbnailOptions};
//! // A 64×32 PNG made on the spot.
//! let mut png = Vec::new();
//! let img = image::RgbImage::from_fn(64, 32, |x, y| image::Rgb([x as u8 * 4, y as u8 * 8, 128]));
//! img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
//!
//! let thumbs = make_thumbnails(&png, &ThumbnailOptions::default().with_sizes(&[16])).unwrap();
//! assert_eq!((thumbs.width, thumbs.height), (64, 32));
//! assert_eq!((thumbs.variants[0].width, thumbs.variants[0].height), (16, 8));
//! assert_eq!(thumbs.variants[0].mime, "image/webp");
//! assert!(thumbs.blurhash.is_some());
//! ```

#![warn(missing_docs)]

mod decode;
mod error;
mod external;
mod heif;
mod jpeg_scaled;
mod pdq;
mod thumbnailer;
mod video;

pub use error::ThumbError;
pub use external::ChildDecoders;
pub use heif::{make_heif_previews, HeifPreviews, RENDITION_LONG_SIDE};
pub use media_format::isobmff::track::VideoTrack;
pub use thumbnailer::MediaThumbnailer;
pub use video::{make_poster_from_file, make_poster_with, VideoPoster};

use fast_image_resize as fr;
use image::{DynamicImage, RgbImage, RgbaImage};

/// Long side of the image a BlurHash is computed from.
const BLURHASH_SOURCE: u32 = 32;

/// Output encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ThumbFormat {
    /// Lossy WebP (default).
    Webp,
    /// Baseline JPEG.
    Jpeg,
}

impl ThumbFormat {
    /// MIME type of this format.
    pub fn mime(self) -> &'static str {
        match self {
            ThumbFormat::Webp => "image/webp",
            ThumbFormat::Jpeg => "image/jpeg",
        }
    }
}

impl std::str::FromStr for ThumbFormat {
    type Err = ThumbError;
    fn from_str(s: &str) -> Result<Self, ThumbError> {
        match s.to_ascii_lowercase().as_str() {
            "webp" => Ok(ThumbFormat::Webp),
            "jpeg" | "jpg" => Ok(ThumbFormat::Jpeg),
            other => Err(ThumbError::InvalidOptions(format!(
                "unknown format {other:?} (webp or jpeg)"
            ))),
        }
    }
}

/// What to make and which limits protect the decoder.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ThumbnailOptions {
    /// Long-side sizes of the variants, in pixels (default `[256]`). Images are never enlarged.
    pub sizes: Vec<u32>,
    /// Output encoding (default WebP).
    pub format: ThumbFormat,
    /// Encoder quality 1–100 (default 80).
    pub quality: u8,
    /// Largest accepted width or height (default 30 000).
    pub max_dimension: u32,
    /// Largest accepted pixel count (default 200 megapixels).
    pub max_pixels: u64,
    /// Largest decoder allocation in bytes (default 64 MiB). JPEGs and PNGs are scaled on
    /// load and need a fraction of it; formats decoded whole (WebP, GIF, progressive JPEG,
    /// interlaced PNG) are refused above it (a 16-megapixel RGBA WebP fits).
    pub max_alloc: u64,
    /// Compute a BlurHash placeholder (default on).
    pub blurhash: bool,
}

impl Default for ThumbnailOptions {
    fn default() -> Self {
        ThumbnailOptions {
            sizes: vec![256],
            format: ThumbFormat::Webp,
            quality: 80,
            max_dimension: 30_000,
            max_pixels: 200_000_000,
            max_alloc: 64 << 20,
            blurhash: true,
        }
    }
}

impl ThumbnailOptions {
    /// Set the variant sizes (long side, pixels).
    #[must_use]
    pub fn with_sizes(mut self, sizes: &[u32]) -> Self {
        self.sizes = sizes.to_vec();
        self
    }

    /// Set the output format.
    #[must_use]
    pub fn with_format(mut self, format: ThumbFormat) -> Self {
        self.format = format;
        self
    }

    /// Set the encoder quality (1–100).
    #[must_use]
    pub fn with_quality(mut self, quality: u8) -> Self {
        self.quality = quality;
        self
    }

    /// Set the pixel and dimension limits.
    #[must_use]
    pub fn with_limits(mut self, max_dimension: u32, max_pixels: u64) -> Self {
        self.max_dimension = max_dimension;
        self.max_pixels = max_pixels;
        self
    }

    fn validate(&self) -> Result<(), ThumbError> {
        if self.sizes.is_empty() || self.sizes.iter().any(|&s| s == 0 || s > 8192) {
            return Err(ThumbError::InvalidOptions(
                "sizes must be 1..=8192 pixels, at least one".into(),
            ));
        }
        if !(1..=100).contains(&self.quality) {
            return Err(ThumbError::InvalidOptions("quality must be 1..=100".into()));
        }
        Ok(())
    }
}

/// One encoded thumbnail.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Variant {
    /// Width in pixels (after orientation).
    pub width: u32,
    /// Height in pixels (after orientation).
    pub height: u32,
    /// MIME type of `bytes`.
    pub mime: &'static str,
    /// The encoded image, without metadata.
    pub bytes: Vec<u8>,
}

/// The result of [`make_thumbnails`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Thumbnails {
    /// Source width as displayed (after EXIF orientation).
    pub width: u32,
    /// Source height as displayed (after EXIF orientation).
    pub height: u32,
    /// Source format, e.g. `image/jpeg`.
    pub source_mime: &'static str,
    /// EXIF orientation of the source (1–8; 1 when absent).
    pub orientation: u8,
    /// One variant per requested size, in the order asked.
    pub variants: Vec<Variant>,
    /// BlurHash (4×3 components) of the image, if asked.
    pub blurhash: Option<String>,
    /// The PDQ perceptual hash of the image as displayed, from the same decode (none below
    /// 5×5 pixels).
    pub pdq: Option<media_core::Pdq>,
    /// The hashes of the same picture mirrored, rotated, and (transparent pictures) shown
    /// over black: see [`media_core::Preview::pdq_variants`].
    pub pdq_variants: Vec<media_core::PdqHash>,
}

/// Decoded pixels before orientation: RGB or RGBA, 8 bits.
pub(crate) struct Pixels {
    pub width: u32,
    pub height: u32,
    pub alpha: bool,
    pub data: Vec<u8>,
    pub orientation: u8,
    pub source_width: u32,
    pub source_height: u32,
    pub source_mime: &'static str,
}

/// Make thumbnails of an encoded image in memory.
pub fn make_thumbnails(bytes: &[u8], options: &ThumbnailOptions) -> Result<Thumbnails, ThumbError> {
    options.validate()?;
    // Decoders are third-party code fed hostile input: a panic becomes a typed error.
    let result = std::panic::catch_unwind(|| make_inner(bytes, options));
    result.unwrap_or_else(|_| Err(ThumbError::Corrupt("the decoder panicked".into())))
}

/// Make thumbnails of an image file.
pub fn make_thumbnails_from_file(
    path: &std::path::Path,
    options: &ThumbnailOptions,
) -> Result<Thumbnails, ThumbError> {
    if matches!(
        media_format::sniff_file(path).map_err(ThumbError::Io)?,
        Some(media_format::Format::Heic | media_format::Format::Avif)
    ) {
        return make_heif_previews(path, options, false, &ChildDecoders::default())
            .map(|p| p.thumbnails);
    }
    let bytes = std::fs::read(path).map_err(ThumbError::Io)?;
    make_thumbnails(&bytes, options)
}

fn swaps_axes(orientation: u8) -> bool {
    matches!(orientation, 5..=8)
}

/// Fit `w×h` into a `size` box on the long side, never enlarging.
fn fit(w: u32, h: u32, size: u32) -> (u32, u32) {
    let long = w.max(h);
    if long <= size {
        return (w.max(1), h.max(1));
    }
    let scale = f64::from(size) / f64::from(long);
    let fw = ((f64::from(w) * scale).round() as u32).clamp(1, size);
    let fh = ((f64::from(h) * scale).round() as u32).clamp(1, size);
    (fw, fh)
}

/// The fuzz target's entry: [`make_thumbnails`] at 64 pixels without the panic guard, so that
/// a fuzzer sees a decoder's panic as the crash it is.
#[doc(hidden)]
pub fn fuzz_thumbnail(bytes: &[u8]) {
    let _ = make_inner(bytes, &ThumbnailOptions::default().with_sizes(&[64]));
}

fn make_inner(bytes: &[u8], options: &ThumbnailOptions) -> Result<Thumbnails, ThumbError> {
    let largest = options.sizes.iter().copied().max().unwrap_or(256);
    let px = decode::decode(bytes, largest, options)?;
    let mut thumbs = thumbnails_of_pixels(px, options)?;
    // An animation shows more than its first frame: each later frame's hash is a variant.
    let variants = &mut thumbs.pdq_variants;
    let walked = decode::for_each_later_frame(bytes, options, |frame| {
        if let Some(h) = pdq::of_pixels(&frame) {
            variants.push(h.pdq.hash);
            variants.extend(h.variants.into_iter().skip(7).take(1));
        }
    });
    if let Err(e) = walked {
        tracing::debug!(error = %e, "the animation's later frames were not hashed");
    }
    Ok(thumbs)
}

/// Resize, orient and encode decoded pixels into the asked variants and a BlurHash.
fn thumbnails_of_pixels(px: Pixels, options: &ThumbnailOptions) -> Result<Thumbnails, ThumbError> {
    let (pdq, pdq_variants) = match pdq::of_pixels(&px) {
        Some(h) => (Some(h.pdq), h.variants),
        None => (None, Vec::new()),
    };
    let pixel_type = if px.alpha {
        fr::PixelType::U8x4
    } else {
        fr::PixelType::U8x3
    };
    let src = fr::images::Image::from_vec_u8(px.width, px.height, px.data, pixel_type)
        .map_err(|e| ThumbError::Corrupt(format!("decoded buffer: {e}")))?;
    let mut resizer = fr::Resizer::new();
    let resize =
        fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::CatmullRom));

    let mut variants = Vec::with_capacity(options.sizes.len());
    let mut smallest: Option<DynamicImage> = None;
    for &size in &options.sizes {
        // The box applies to the image as displayed; decode space may be rotated.
        let (dw, dh) = if swaps_axes(px.orientation) {
            let (h, w) = fit(px.height, px.width, size);
            (w, h)
        } else {
            fit(px.width, px.height, size)
        };
        let mut dst = fr::images::Image::new(dw, dh, pixel_type);
        resizer
            .resize(&src, &mut dst, &resize)
            .map_err(|e| ThumbError::Corrupt(format!("resize: {e}")))?;
        let buf = dst.into_vec();
        let mut img = if px.alpha {
            DynamicImage::ImageRgba8(
                RgbaImage::from_raw(dw, dh, buf)
                    .ok_or_else(|| ThumbError::Corrupt("resized buffer size".into()))?,
            )
        } else {
            DynamicImage::ImageRgb8(
                RgbImage::from_raw(dw, dh, buf)
                    .ok_or_else(|| ThumbError::Corrupt("resized buffer size".into()))?,
            )
        };
        if let Some(o) = image::metadata::Orientation::from_exif(px.orientation) {
            img.apply_orientation(o);
        }
        let bytes = encode(&img, options)?;
        variants.push(Variant {
            width: img.width(),
            height: img.height(),
            mime: options.format.mime(),
            bytes,
        });
        if smallest.as_ref().is_none_or(|s| img.width() < s.width()) {
            smallest = Some(img);
        }
    }
    let blurhash = match (options.blurhash, smallest) {
        (true, Some(img)) => {
            // A BlurHash keeps only 4×3 low frequencies: 32 px are plenty, and its cosine
            // transform over a full 256 px thumbnail would cost more than the resize.
            let rgba = img.thumbnail(BLURHASH_SOURCE, BLURHASH_SOURCE).to_rgba8();
            blurhash::encode(4, 3, rgba.width(), rgba.height(), rgba.as_raw()).ok()
        }
        _ => None,
    };
    let (width, height) = if swaps_axes(px.orientation) {
        (px.source_height, px.source_width)
    } else {
        (px.source_width, px.source_height)
    };
    Ok(Thumbnails {
        width,
        height,
        source_mime: px.source_mime,
        orientation: px.orientation,
        variants,
        blurhash,
        pdq,
        pdq_variants,
    })
}

/// The PDQ hash and quality of an upright RGB picture (8 bits, row-major), as Meta's
/// reference computes it from the same pixels. Uploads get theirs from the thumbnailer's
/// decode ([`Thumbnails::pdq`]); this is for lists and tests. `None` below 5×5 or when
/// `rgb` is shorter than `width × height × 3`.
pub fn pdq_of_rgb(width: u32, height: u32, rgb: &[u8]) -> Option<media_core::Pdq> {
    let (w, h) = (width as usize, height as usize);
    let pixels = rgb.get(..w.checked_mul(h)?.checked_mul(3)?)?;
    pdq::of_luma(pdq::luma(pixels, 3), h, w)
}

/// Encode from pixels only: no metadata can leak into the output.
fn encode(img: &DynamicImage, options: &ThumbnailOptions) -> Result<Vec<u8>, ThumbError> {
    match options.format {
        ThumbFormat::Webp => {
            let memory = match img {
                DynamicImage::ImageRgba8(rgba) => {
                    webp::Encoder::from_rgba(rgba.as_raw(), rgba.width(), rgba.height())
                        .encode(f32::from(options.quality))
                }
                other => {
                    let rgb = other.to_rgb8();
                    webp::Encoder::from_rgb(rgb.as_raw(), rgb.width(), rgb.height())
                        .encode(f32::from(options.quality))
                }
            };
            Ok(memory.to_vec())
        }
        ThumbFormat::Jpeg => {
            // JPEG has no alpha: flatten onto white.
            let rgb = match img {
                DynamicImage::ImageRgba8(rgba) => flatten_on_white(rgba),
                other => other.to_rgb8(),
            };
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, options.quality)
                .encode(
                    rgb.as_raw(),
                    rgb.width(),
                    rgb.height(),
                    image::ExtendedColorType::Rgb8,
                )
                .map_err(|e| ThumbError::Encode(e.to_string()))?;
            Ok(out)
        }
    }
}

fn flatten_on_white(rgba: &RgbaImage) -> RgbImage {
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let p = rgba.get_pixel(x, y).0;
        let a = u16::from(p[3]);
        let mix = |c: u8| ((u16::from(c) * a + 255 * (255 - a)) / 255) as u8;
        image::Rgb([mix(p[0]), mix(p[1]), mix(p[2])])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_aspect_and_never_enlarges() {
        assert_eq!(fit(4000, 3000, 256), (256, 192));
        assert_eq!(fit(3000, 4000, 256), (192, 256));
        assert_eq!(fit(100, 50, 256), (100, 50));
        assert_eq!(fit(10000, 1, 256), (256, 1));
    }
}
