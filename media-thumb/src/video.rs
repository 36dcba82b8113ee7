//! Video posters: the first key frame of an MP4/MOV's H.264 track, decoded with OpenH264
//! (feature `video`), turned upright by the track's rotation and made into thumbnails and a
//! BlurHash like a photo. Other codecs (HEVC from iPhones, VP9, AV1) get their first frame
//! from `ffmpeg` in a bounded child process (`crate::external`); without ffmpeg they get no
//! poster and a reason. Duration, size and rotation are always read from the index.

use std::fs::File;
use std::path::Path;

use crate::{ThumbError, ThumbnailOptions, Thumbnails};
use media_format::isobmff::track::{self, VideoTrack};

/// What [`make_poster_from_file`] learned about a video.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VideoPoster {
    /// The first video track: codec, size, rotation, duration.
    pub track: VideoTrack,
    /// The poster's thumbnails, when one could be made.
    pub thumbnails: Option<Thumbnails>,
    /// Why there is no poster, when there is none.
    pub no_poster: Option<String>,
}

/// The poster of the MP4/MOV file at `path`. `Ok(None)` when the file is not an MP4/MOV or
/// has no video track; an error when its index is corrupt. A frame that cannot be decoded
/// is not an error: the poster is left out with the reason.
pub fn make_poster_from_file(
    path: &Path,
    options: &ThumbnailOptions,
) -> Result<Option<VideoPoster>, ThumbError> {
    make_poster_with(path, options, &crate::ChildDecoders::default())
}

/// [`make_poster_from_file`] with these decoder programs and bounds (for codecs OpenH264
/// does not read).
pub fn make_poster_with(
    path: &Path,
    options: &ThumbnailOptions,
    decoders: &crate::ChildDecoders,
) -> Result<Option<VideoPoster>, ThumbError> {
    options.validate()?;
    let mut file = File::open(path).map_err(ThumbError::Io)?;
    let Some(track) = track::first_video_track(&mut file)? else {
        return Ok(None);
    };
    let (thumbnails, no_poster) = match poster(&mut file, path, &track, options, decoders) {
        Ok(t) => (Some(t), None),
        Err(reason) => (None, Some(reason)),
    };
    Ok(Some(VideoPoster {
        track,
        thumbnails,
        no_poster,
    }))
}

fn poster(
    file: &mut File,
    path: &Path,
    track: &VideoTrack,
    options: &ThumbnailOptions,
    decoders: &crate::ChildDecoders,
) -> Result<Thumbnails, String> {
    let (w, h) = (track.width, track.height);
    if w > options.max_dimension
        || h > options.max_dimension
        || u64::from(w) * u64::from(h) > options.max_pixels
    {
        return Err(format!(
            "video frame of {w}×{h} exceeds the thumbnail limits"
        ));
    }
    match &track.avc {
        Some(frame) if cfg!(feature = "video") => {
            let stream = track::annex_b(file, frame).map_err(|e| e.to_string())?;
            let px = decode_key_frame(&stream, track)?;
            // The decoder is C code fed hostile input; the Rust side of the pipeline still
            // must not take the upload down with a panic.
            std::panic::catch_unwind(|| crate::thumbnails_of_pixels(px, options))
                .unwrap_or_else(|_| Err(ThumbError::Corrupt("the resizer panicked".into())))
                .map_err(|e| e.to_string())
        }
        _ if track.codec == "encv" => Err("encrypted video track".to_owned()),
        // HEVC (an iPhone's default), VP9, AV1, or H.264 without OpenH264: the first frame
        // from ffmpeg in a bounded child process, upright.
        _ if u64::from(w) * u64::from(h) > decoders.max_pixels => Err(format!(
            "video frame of {w}×{h} exceeds the {} pixels decoded in a child process",
            decoders.max_pixels
        )),
        _ => {
            let largest = options.sizes.iter().copied().max().unwrap_or(256);
            crate::external::video_frame_to_jpeg(path, largest.saturating_mul(2), decoders)
                .and_then(|jpeg| crate::heif::upright_thumbnails(&jpeg, options))
                .map_err(|e| format!("{} video: {e}", track.codec))
        }
    }
}

#[cfg(feature = "video")]
fn decode_key_frame(stream: &[u8], track: &VideoTrack) -> Result<crate::Pixels, String> {
    use openh264::decoder::Decoder;
    use openh264::formats::YUVSource;

    let to_pixels = |yuv: &openh264::decoder::DecodedYUV<'_>| {
        let (w, h) = yuv.dimensions();
        let mut data = vec![0u8; w * h * 3];
        yuv.write_rgb8(&mut data);
        crate::Pixels {
            width: w as u32,
            height: h as u32,
            alpha: false,
            data,
            orientation: track.orientation,
            source_width: w as u32,
            source_height: h as u32,
            source_mime: "video/h264",
        }
    };
    let mut decoder = Decoder::new().map_err(|e| format!("OpenH264: {e}"))?;
    if let Some(yuv) = decoder
        .decode(stream)
        .map_err(|e| format!("H.264 key frame does not decode: {e}"))?
    {
        return Ok(to_pixels(&yuv));
    }
    let frames = decoder
        .flush_remaining()
        .map_err(|e| format!("H.264 key frame does not decode: {e}"))?;
    frames
        .first()
        .map(to_pixels)
        .ok_or_else(|| "the H.264 key frame gave no picture".to_owned())
}

#[cfg(not(feature = "video"))]
fn decode_key_frame(_stream: &[u8], _track: &VideoTrack) -> Result<crate::Pixels, String> {
    Err("built without H.264 decoding (media-thumb feature `video`)".to_owned())
}
