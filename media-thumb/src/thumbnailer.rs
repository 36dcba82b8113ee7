//! The [`media_core::Thumbnailer`] the media store calls at upload.

use std::path::Path;

use media_core::{MediaError, Operation, Thumbnail, Thumbnailer};

use crate::{make_thumbnails, ThumbnailOptions};

/// Makes the inline thumbnail of uploaded images (the first size of the options).
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
        let Some(first) = thumbs.variants.into_iter().next() else {
            return Ok(None);
        };
        let mut t = Thumbnail::new(first.mime, first.width, first.height, first.bytes);
        t.blurhash = thumbs.blurhash;
        t.source_width = Some(thumbs.width);
        t.source_height = Some(thumbs.height);
        Ok(Some(t))
    }
}
