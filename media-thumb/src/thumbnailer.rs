//! The [`media_core::Thumbnailer`] the media store calls at upload.

use std::path::Path;

use media_core::{MediaError, Operation, Preview, Rendition, Thumbnail, Thumbnailer, VideoInfo};

use crate::{
    make_heif_previews, make_poster_from_file, make_thumbnails, ChildDecoders, ThumbError,
    ThumbnailOptions, Thumbnails,
};

/// Image types decoded by libheif in a child process.
fn is_heif(mime: &str) -> bool {
    matches!(mime, "image/heic" | "image/heif" | "image/avif")
}

/// Makes the inline thumbnail of uploaded images (the first size of the options), and of
/// MP4/MOV videos a poster from the first key frame (H.264 with OpenH264, feature `video`;
/// HEVC and others with ffmpeg in a child process) with the video's codec, duration and
/// displayed size. HEIC/HEIF/AVIF photos are decoded by libheif in a child process; a HEIC
/// also gets a display rendition (a JPEG) for browsers.
///
/// Larger inputs than `max_input_bytes` (default 64 MiB) get no thumbnail rather than being
/// read whole into memory.
#[derive(Debug, Clone)]
pub struct MediaThumbnailer {
    options: ThumbnailOptions,
    max_input_bytes: u64,
    limits: ChildDecoders,
}

impl Default for MediaThumbnailer {
    fn default() -> Self {
        MediaThumbnailer {
            options: ThumbnailOptions::default(),
            max_input_bytes: 64 << 20,
            limits: ChildDecoders::default(),
        }
    }
}

impl MediaThumbnailer {
    /// A thumbnailer with these options.
    pub fn new(options: ThumbnailOptions) -> Self {
        MediaThumbnailer {
            options,
            ..Self::default()
        }
    }
}

impl MediaThumbnailer {
    /// A photo's thumbnail with its PDQ hash.
    fn image_preview(&self, path: &Path, mime: &str) -> media_core::Result<Preview> {
        let Some(thumbs) = self.image_thumbnails(path, mime)? else {
            return Ok(Preview::default());
        };
        let (pdq, variants) = (thumbs.pdq, thumbs.pdq_variants.clone());
        let mut preview = Preview::thumbnail(inline(thumbs));
        preview.pdq = pdq;
        preview.pdq_variants = variants;
        Ok(preview)
    }

    fn image_thumbnails(&self, path: &Path, mime: &str) -> media_core::Result<Option<Thumbnails>> {
        if !mime.starts_with("image/") {
            return Ok(None);
        }
        let size = std::fs::metadata(path)
            .map_err(|e| MediaError::io(Operation::Thumbnail, "reading image", e))?
            .len();
        if size > self.max_input_bytes {
            return Ok(None);
        }
        if is_heif(mime) {
            let made = make_heif_previews(path, &self.options, false, &self.limits)?;
            return Ok(Some(made.thumbnails));
        }
        let bytes = std::fs::read(path)
            .map_err(|e| MediaError::io(Operation::Thumbnail, "reading image", e))?;
        match make_thumbnails(&bytes, &self.options) {
            Ok(thumbs) => Ok(Some(thumbs)),
            // What our decoders do not take (BMP, ICO, TIFF: unsupported; a progressive JPEG
            // past the in-process allocation bound): ffmpeg's picture, decoded in a bounded child, so
            // that it is previewed and hashed like any photo rather than stored unchecked.
            // Not for a picture past the child's own pixel bound: a bomb is refused at once.
            Err(ThumbError::TooLarge { width, height, .. })
                if u64::from(width) * u64::from(height) > self.limits.max_pixels =>
            {
                Err(ThumbError::TooLarge {
                    width,
                    height,
                    limit: format!("{} pixels", self.limits.max_pixels),
                }
                .into())
            }
            // A broken file of a format we read stays without a preview.
            Err(ours @ (ThumbError::Corrupt(_) | ThumbError::Io(_))) => Err(ours.into()),
            Err(ours) => {
                let jpeg = crate::external::video_frame_to_jpeg(
                    path,
                    crate::RENDITION_LONG_SIDE,
                    &self.limits,
                )
                .map_err(|_| ours)?;
                Ok(Some(make_thumbnails(&jpeg, &self.options)?))
            }
        }
    }
}

impl Thumbnailer for MediaThumbnailer {
    fn thumbnail(&self, path: &Path, mime: &str) -> media_core::Result<Option<Thumbnail>> {
        Ok(self.image_thumbnails(path, mime)?.and_then(inline))
    }

    fn preview(&self, path: &Path, mime: &str) -> media_core::Result<Preview> {
        if is_heif(mime) {
            let size = std::fs::metadata(path)
                .map_err(|e| MediaError::io(Operation::Thumbnail, "reading image", e))?
                .len();
            if size > self.max_input_bytes {
                return Ok(Preview::default());
            }
            // Browsers show AVIF as it is; a HEIC needs a JPEG beside it.
            let wants_rendition = mime != "image/avif";
            let made = make_heif_previews(path, &self.options, wants_rendition, &self.limits)?;
            let (pdq, variants) = (made.thumbnails.pdq, made.thumbnails.pdq_variants.clone());
            let mut preview = Preview::thumbnail(inline(made.thumbnails));
            preview.pdq = pdq;
            preview.pdq_variants = variants;
            preview.rendition = made
                .rendition
                .map(|v| Rendition::new(v.mime, v.width, v.height, v.bytes));
            return Ok(preview);
        }
        if !matches!(mime, "video/mp4" | "video/quicktime") {
            return self.image_preview(path, mime);
        }
        let Some(poster) = make_poster_from_file(path, &self.options)? else {
            return Ok(Preview::default());
        };
        let track = &poster.track;
        let mut video = VideoInfo::new(
            track.codec.clone(),
            track.duration_ms,
            track.display_width(),
            track.display_height(),
        );
        video.no_poster = poster.no_poster;
        let pdq = poster.thumbnails.as_ref().and_then(|t| t.pdq);
        let variants = poster
            .thumbnails
            .as_ref()
            .map(|t| t.pdq_variants.clone())
            .unwrap_or_default();
        let mut preview = Preview::thumbnail(poster.thumbnails.and_then(inline));
        preview.pdq = pdq;
        preview.pdq_variants = variants;
        preview.video = Some(video);
        Ok(preview)
    }
}

/// The record's thumbnail: the first variant, with the BlurHash and the source size.
fn inline(thumbs: Thumbnails) -> Option<Thumbnail> {
    let first = thumbs.variants.into_iter().next()?;
    let mut t = Thumbnail::new(first.mime, first.width, first.height, first.bytes);
    t.blurhash = thumbs.blurhash;
    t.source_width = Some(thumbs.width);
    t.source_height = Some(thumbs.height);
    Some(t)
}
