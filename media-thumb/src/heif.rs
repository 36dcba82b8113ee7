//! HEIC/HEIF/AVIF previews: the index is read first (`media_format::isobmff::heif`) for the
//! size libheif would be asked to decode, checked against the limits; then libheif decodes
//! in a child process ([`crate::external`]) to an upright JPEG, from which the thumbnails, the
//! BlurHash and (for HEIC) a display rendition for browsers are made like any JPEG's.

use std::path::Path;

use crate::external::{self, ChildDecoders};
use crate::{decode, ThumbError, ThumbFormat, ThumbnailOptions, Thumbnails, Variant};

/// Long side of the display rendition of a HEIC photo (browsers show JPEG, not HEIC).
pub const RENDITION_LONG_SIDE: u32 = 2048;
/// JPEG quality of the display rendition.
const RENDITION_QUALITY: u8 = 85;

/// What [`make_heif_previews`] made.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HeifPreviews {
    /// Thumbnails and BlurHash of the primary image, upright.
    pub thumbnails: Thumbnails,
    /// A JPEG of the primary image (long side at most [`RENDITION_LONG_SIDE`]), when asked.
    pub rendition: Option<Variant>,
}

/// Thumbnails (and, if `rendition`, a display JPEG) of the HEIF/AVIF file at `path`.
pub fn make_heif_previews(
    path: &Path,
    options: &ThumbnailOptions,
    rendition: bool,
    limits: &ChildDecoders,
) -> Result<HeifPreviews, ThumbError> {
    options.validate()?;
    let mut file = std::fs::File::open(path).map_err(ThumbError::Io)?;
    let (w, h) = media_format::isobmff::heif::primary_size(&mut file)?
        .ok_or_else(|| ThumbError::Corrupt("a HEIF file whose index gives no image size".into()))?;
    decode::check_size(w, h, options)?;
    if u64::from(w) * u64::from(h) > limits.max_pixels {
        return Err(ThumbError::TooLarge {
            width: w,
            height: h,
            limit: format!("{} pixels decoded in a child process", limits.max_pixels),
        });
    }
    drop(file);
    // The decoder's JPEG is an intermediate: good enough for a 2048-pixel rendition when
    // one is made, cheaper to read back (fewer coefficients) when only thumbnails are.
    let quality = if rendition { 90 } else { 75 };
    let jpeg = external::heif_to_jpeg(path, quality, limits)?;
    let thumbnails = upright_thumbnails(&jpeg, options)?;
    let rendition = if rendition {
        let display = options
            .clone()
            .with_sizes(&[RENDITION_LONG_SIDE])
            .with_format(ThumbFormat::Jpeg)
            .with_quality(RENDITION_QUALITY);
        let mut made = upright_thumbnails(&jpeg, &display)?;
        made.blurhash = None;
        made.variants.pop()
    } else {
        None
    };
    Ok(HeifPreviews {
        thumbnails,
        rendition,
    })
}

/// Thumbnails of a decoder's JPEG output, whose pixels are already upright: any orientation
/// its EXIF may carry is not applied a second time.
pub(crate) fn upright_thumbnails(
    jpeg: &[u8],
    options: &ThumbnailOptions,
) -> Result<Thumbnails, ThumbError> {
    let largest = options.sizes.iter().copied().max().unwrap_or(256);
    let result = std::panic::catch_unwind(|| {
        let mut px = decode::decode(jpeg, largest, options)?;
        px.orientation = 1;
        crate::thumbnails_of_pixels(px, options)
    });
    result.unwrap_or_else(|_| Err(ThumbError::Corrupt("the decoder panicked".into())))
}
