//! GPS in MP4/MOV timed-metadata tracks: a GoPro-style `gpmd` track muxed by `ffmpeg` next to
//! an H.264 video (its samples interleaved with the video's in `mdat`, as cameras write them)
//! comes out of `strip_in_place` with every metadata sample zeroed in place, `had_location`
//! reported before (so the `reject` policy refuses it), the video packets identical as
//! `ffmpeg` reads them, and a second strip changing nothing.

use std::path::Path;

use media_core::testing::{ffmpeg, gopro_mp4, gpmf_sample, have_ffmpeg};
use media_format::strip::{inspect, strip_in_place};

/// The metadata track's packets and the video's frame checksums, as `ffmpeg` reads them.
fn streams(path: &Path) -> (Vec<u8>, String) {
    let p = path.to_str().unwrap();
    let data = ffmpeg(&["-i", p, "-map", "0:d", "-c", "copy", "-f", "data", "-"]);
    let video = String::from_utf8_lossy(&ffmpeg(&[
        "-i", p, "-map", "0:v", "-c", "copy", "-f", "framemd5", "-",
    ]))
    .lines()
    .filter(|l| !l.starts_with('#'))
    .collect::<Vec<_>>()
    .join("\n");
    (data, video)
}

#[test]
fn gps_in_a_gpmd_track_muxed_by_ffmpeg_is_zeroed_in_place() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name);
    std::fs::write(d("gpmd.mp4"), gopro_mp4(20)).unwrap();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=96x64:rate=10:duration=2",
        "-c:v",
        "libx264",
        "-g",
        "5",
        "-pix_fmt",
        "yuv420p",
        d("video.mp4").to_str().unwrap(),
    ]);
    for (name, format) in [("gopro.mp4", "mp4"), ("gopro.mov", "mov")] {
        let path = d(name);
        ffmpeg(&[
            "-i",
            d("video.mp4").to_str().unwrap(),
            "-i",
            d("gpmd.mp4").to_str().unwrap(),
            "-map",
            "0:v",
            "-map",
            "1:d",
            "-c",
            "copy",
            "-tag:d",
            "gpmd",
            "-f",
            format,
            path.to_str().unwrap(),
        ]);
        let (data, video) = streams(&path);
        let gps: Vec<u8> = (0..20).flat_map(gpmf_sample).collect();
        assert_eq!(data, gps, "{name}: ffmpeg reads the GPS samples it muxed");
        let size = std::fs::metadata(&path).unwrap().len();

        let found = inspect(&path).unwrap();
        assert!(found.had_location, "{name}: {found:?}");
        assert!(
            found.removed.contains(&"gpmd".to_owned()),
            "{name}: {found:?}"
        );
        let report = strip_in_place(&path).unwrap();
        assert!(
            report.had_location && report.changed(),
            "{name}: {report:?}"
        );

        let (data_after, video_after) = streams(&path);
        assert_eq!(
            data_after.len(),
            gps.len(),
            "{name}: the track keeps its samples"
        );
        assert!(
            data_after.iter().all(|&b| b == 0),
            "{name}: GPS left in the samples"
        );
        assert_eq!(video_after, video, "{name}: the video packets changed");
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            size,
            "{name}: size"
        );
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(4).any(|w| w == b"GPS5"),
            "{name}: GPS5 still in the file"
        );

        // Stripping again changes nothing, and no location is left to refuse.
        let again = inspect(&path).unwrap();
        assert!(!again.changed() && !again.had_location, "{name}: {again:?}");
        let before = std::fs::read(&path).unwrap();
        assert!(!strip_in_place(&path).unwrap().changed());
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }
}
