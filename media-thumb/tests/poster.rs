//! Video posters against `ffmpeg`: clips it writes (H.264 with B-frames, `moov` at the end as
//! phones write them, a portrait clip whose track is rotated, HEVC, fragmented MP4) give the
//! codec, duration and displayed size, and for H.264 a poster that matches the frame `ffmpeg`
//! itself decodes and turns upright.

#![cfg(feature = "video")]

use std::path::{Path, PathBuf};

use media_core::testing::{ffmpeg, have_ffmpeg};
use media_thumb::{
    make_poster_from_file, make_poster_with, ChildDecoders, ThumbFormat, ThumbnailOptions,
};

/// A 2 s 640×360 test pattern clip encoded with `codec`, plus `extra` output options.
fn clip(dir: &Path, name: &str, codec: &str, extra: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=25:duration=2",
        "-c:v",
        codec,
        "-pix_fmt",
        "yuv420p",
    ];
    args.extend_from_slice(extra);
    args.push(path.to_str().unwrap());
    ffmpeg(&args);
    path
}

/// The first frame as `ffmpeg` shows it (turned upright), as `w`×`h` RGB.
fn ffmpeg_frame(path: &Path, w: u32, h: u32) -> Vec<u8> {
    ffmpeg(&[
        "-i",
        path.to_str().unwrap(),
        "-frames:v",
        "1",
        "-vf",
        &format!("scale={w}:{h}"),
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-",
    ])
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let sum: u64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| u64::from(x.abs_diff(y)))
        .sum();
    sum as f64 / a.len() as f64
}

fn options() -> ThumbnailOptions {
    ThumbnailOptions::default()
        .with_sizes(&[256])
        .with_format(ThumbFormat::Jpeg)
        .with_quality(95)
}

#[test]
fn an_h264_clip_with_its_index_last_gets_a_poster_like_ffmpegs_first_frame() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = clip(dir.path(), "clip.mp4", "libx264", &[]);
    let poster = make_poster_from_file(&path, &options()).unwrap().unwrap();
    assert_eq!(poster.track.codec, "avc1");
    assert_eq!((poster.track.width, poster.track.height), (640, 360));
    assert_eq!(poster.track.orientation, 1);
    assert!(
        (1900..=2100).contains(&poster.track.duration_ms),
        "{}",
        poster.track.duration_ms
    );
    assert_eq!(poster.no_poster, None);
    let thumbs = poster.thumbnails.unwrap();
    assert_eq!((thumbs.width, thumbs.height), (640, 360));
    let variant = &thumbs.variants[0];
    assert_eq!((variant.width, variant.height), (256, 144));
    assert!(thumbs.blurhash.is_some());

    let ours = image::load_from_memory(&variant.bytes).unwrap().to_rgb8();
    let theirs = ffmpeg_frame(&path, 256, 144);
    let diff = mean_abs_diff(ours.as_raw(), &theirs);
    assert!(
        diff < 12.0,
        "poster differs from ffmpeg's first frame by {diff}"
    );
    // The second half of the clip looks different: the comparison can fail.
    let later = ffmpeg(&[
        "-ss",
        "1.5",
        "-i",
        path.to_str().unwrap(),
        "-frames:v",
        "1",
        "-vf",
        "scale=256:144,hflip",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-",
    ]);
    assert!(mean_abs_diff(ours.as_raw(), &later) > diff * 2.0);
}

#[test]
fn a_portrait_phone_clip_gets_an_upright_portrait_poster() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let landscape = clip(dir.path(), "landscape.mp4", "libx264", &[]);
    let portrait = dir.path().join("portrait.mp4");
    // What a phone held upright writes: landscape samples and a track rotated by 90°.
    ffmpeg(&[
        "-i",
        landscape.to_str().unwrap(),
        "-c",
        "copy",
        "-metadata:s:v:0",
        "rotate=90",
        portrait.to_str().unwrap(),
    ]);
    let poster = make_poster_from_file(&portrait, &options())
        .unwrap()
        .unwrap();
    assert_eq!((poster.track.width, poster.track.height), (640, 360));
    assert_eq!(
        (poster.track.display_width(), poster.track.display_height()),
        (360, 640)
    );
    let thumbs = poster.thumbnails.unwrap();
    assert_eq!((thumbs.width, thumbs.height), (360, 640));
    let variant = &thumbs.variants[0];
    assert_eq!((variant.width, variant.height), (144, 256));

    let ours = image::load_from_memory(&variant.bytes).unwrap().to_rgb8();
    let upright = ffmpeg_frame(&portrait, 144, 256);
    let diff = mean_abs_diff(ours.as_raw(), &upright);
    assert!(
        diff < 12.0,
        "poster differs from ffmpeg's upright frame by {diff}"
    );
    // Turned the other way, it would not match.
    let wrong_way = image::imageops::rotate180(&ours);
    assert!(mean_abs_diff(wrong_way.as_raw(), &upright) > diff * 2.0);
}

#[test]
fn hevc_and_fragmented_clips_get_posters_from_ffmpeg_or_a_reason_without_it() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let hevc = clip(
        dir.path(),
        "hevc.mp4",
        "libx265",
        &["-tag:v", "hvc1", "-x265-params", "log-level=error"],
    );
    let fragmented = clip(
        dir.path(),
        "fragmented.mp4",
        "libx264",
        &["-movflags", "frag_keyframe+empty_moov"],
    );
    for (path, codec) in [(&hevc, "hvc1"), (&fragmented, "avc1")] {
        let poster = make_poster_from_file(path, &options()).unwrap().unwrap();
        assert_eq!(poster.track.codec, codec);
        assert_eq!((poster.track.width, poster.track.height), (640, 360));
        assert_eq!(poster.no_poster, None, "{codec}");
        let variant = &poster.thumbnails.expect("a poster").variants[0];
        assert_eq!((variant.width, variant.height), (256, 144));
        let ours = image::load_from_memory(&variant.bytes).unwrap().to_rgb8();
        let diff = mean_abs_diff(ours.as_raw(), &ffmpeg_frame(path, 256, 144));
        assert!(
            diff < 12.0,
            "{codec}: poster differs from ffmpeg's frame by {diff}"
        );
    }
    assert!(
        make_poster_from_file(&fragmented, &options())
            .unwrap()
            .unwrap()
            .track
            .fragmented
    );

    // Without a decoder for it: the facts, and a reason instead of a poster.
    let mut none = ChildDecoders::default();
    none.ffmpeg = PathBuf::from("/nonexistent/ffmpeg");
    let poster = make_poster_with(&hevc, &options(), &none).unwrap().unwrap();
    assert_eq!(poster.track.codec, "hvc1");
    assert!(poster.thumbnails.is_none());
    let reason = poster.no_poster.unwrap();
    assert!(
        reason.contains("hvc1") && reason.contains("not installed"),
        "{reason}"
    );
}

#[test]
fn broken_clips_give_typed_errors_or_a_reason_never_a_panic() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = clip(
        dir.path(),
        "clip.mp4",
        "libx264",
        &["-movflags", "+faststart"],
    );
    let bytes = std::fs::read(&path).unwrap();
    // Top-level boxes: (type, offset, size).
    let mut boxes = Vec::new();
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        boxes.push((bytes[at + 4..at + 8].to_vec(), at, size));
        at += size;
    }
    let (_, moov_at, moov_size) = boxes.iter().find(|b| b.0 == b"moov").unwrap().clone();
    let (_, mdat_at, _) = boxes.iter().find(|b| b.0 == b"mdat").unwrap().clone();
    assert!(moov_at < mdat_at, "asked for faststart");
    let moov_end = moov_at + moov_size;

    // The index cut in half: a typed error.
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..moov_end / 2]).unwrap();
    assert!(make_poster_from_file(&cut, &options()).is_err());

    // Every byte of the samples replaced (the mdat header kept): the index still reads; the
    // frame does not decode.
    let mut garbage = bytes.clone();
    for (i, b) in garbage[mdat_at + 8..].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37) ^ 0x5a;
    }
    let noise = dir.path().join("noise.mp4");
    std::fs::write(&noise, &garbage).unwrap();
    match make_poster_from_file(&noise, &options()) {
        Ok(Some(poster)) => assert!(poster.thumbnails.is_none() && poster.no_poster.is_some()),
        Ok(None) => panic!("the index is intact: the track should be found"),
        Err(e) => panic!("a bad frame is a reason, not an error: {e}"),
    }

    // Not an MP4 at all.
    let text = dir.path().join("notes.mp4");
    std::fs::write(&text, b"hello, this is not a video").unwrap();
    assert!(make_poster_from_file(&text, &options()).unwrap().is_none());
}
