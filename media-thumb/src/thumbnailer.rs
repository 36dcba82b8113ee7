//! The [`media_core::Thumbnailer`] the media store calls at upload.

use std::path::Path;

use media_core::{MediaError, Operation, Preview, Thumbnail, Thumbnailer, VideoInfo};

use crate::{make_poster_from_file, make_thumbnails, ThumbnailOptions, Thumbnails};

/// Makes the inline thumbnail of uploaded images (the first size of the options), and of
/// MP4/MOV videos a poster from the first H.264 key frame (feature `video`) with the
/// video's codec, duration and displayed size.
///
/// Larger inputs than `max_input_bytes` (default 64 MiB) get no thumbnail rather than being
/// read whole into memory.
#[derive(Debug, Clone)]
pub struct MediaThumbnailer {
    options: ThumbnailOptions,
    max_input_bytes: u64,
}

impl Default for MediaThumbnailer {
    fn default() -> Self {
        MediaThumbnailer {
            options: ThumbnailOptions::default(),
            max_input_bytes: 64 << 20,
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

impl Thumbnailer for MediaThumbnailer {
    fn thumbnail(&self, path: &Path, mime: &str) -> media_core::Result<Option<Thumbnail>> {
        if !mime.starts_with("image/") {
            return Ok(None);
        }
        let size = std::fs::metadata(path)
            .map_err(|e| MediaError::io(Operation::Thumbnail, "reading image", e))?
            .len();
        if size > self.max_input_bytes {
            return Ok(None);
        }
        let bytes = std::fs::read(path)
            .map_err(|e| MediaError::io(Operation::Thumbnail, "reading image", e))?;
        let thumbs = make_thumbnails(&bytes, &self.options)?;
        Ok(inline(thumbs))
    }

    fn preview(&self, path: &Path, mime: &str) -> media_core::Result<Preview> {
        if !matches!(mime, "video/mp4" | "video/quicktime") {
            return self.thumbnail(path, mime).map(Preview::thumbnail);
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
        let mut preview = Preview::thumbnail(poster.thumbnails.and_then(inline));
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
