//! Faststart against `ffmpeg`: clips it writes with `moov` at the end (what phones do) come
//! out of `faststart_in_place` with `moov` in front, and `ffmpeg` reads the very same packets
//! and decodes the very same frames (`-f framemd5`) before and after; a portrait clip keeps its
//! rotation.

use std::path::Path;
use std::process::Command;

use media_core::testing::have_ffmpeg;
use media_format::faststart_in_place;

fn ffmpeg(args: &[&str]) -> String {
    String::from_utf8_lossy(&media_core::testing::ffmpeg(args)).into_owned()
}

/// The video stream's display rotation as `ffprobe` reads it (empty: none).
fn rotation(path: &Path) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args([
            "stream_side_data=rotation:stream_tags=rotate",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Top-level box types in order.
fn top_level(path: &Path) -> Vec<String> {
    let data = std::fs::read(path).unwrap();
    let mut at = 0usize;
    let mut kinds = Vec::new();
    while at + 8 <= data.len() {
        let size = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        kinds.push(String::from_utf8_lossy(&data[at + 4..at + 8]).into_owned());
        assert!(size >= 8);
        at += size;
    }
    kinds
}

/// Packet checksums (stream copy) and decoded-frame checksums, without the header lines
/// that name the file.
fn fingerprints(path: &Path) -> (String, String) {
    let p = path.to_str().unwrap();
    let strip = |s: String| {
        s.lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    (
        strip(ffmpeg(&[
            "-i", p, "-map", "0", "-c", "copy", "-f", "framemd5", "-",
        ])),
        strip(ffmpeg(&["-i", p, "-map", "0", "-f", "framemd5", "-"])),
    )
}

#[test]
fn clips_with_moov_at_the_end_come_out_faststart_and_identical() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "landscape.mp4",
        // A phone held upright: display matrix rotated 90 degrees.
        "portrait.mp4",
        "clip.mov",
    ] {
        let path = dir.path().join(name);
        let mut args: Vec<&str> = vec!["-y"];
        args.extend([
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440",
            "-t",
            "3",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        ]);
        args.push(path.to_str().unwrap());
        ffmpeg(&args);
        if name == "portrait.mp4" {
            // A phone held upright: the rotation is a tag on the video stream, set on a copy.
            let upright = dir.path().join("upright.mp4");
            ffmpeg(&[
                "-y",
                "-i",
                path.to_str().unwrap(),
                "-map",
                "0",
                "-c",
                "copy",
                "-metadata:s:v:0",
                "rotate=90",
                upright.to_str().unwrap(),
            ]);
            std::fs::rename(&upright, &path).unwrap();
        }
        let before = top_level(&path);
        let moov = before.iter().position(|k| k == "moov").unwrap();
        let mdat = before.iter().position(|k| k == "mdat").unwrap();
        assert!(moov > mdat, "{name}: ffmpeg wrote {before:?}");
        let original = fingerprints(&path);
        let rotation = rotation(&path);
        if name == "portrait.mp4" {
            assert!(rotation.contains("90"), "{name}: rotation {rotation:?}");
        }

        assert!(faststart_in_place(&path).unwrap(), "{name}");
        let after = top_level(&path);
        assert!(
            after.iter().position(|k| k == "moov") < after.iter().position(|k| k == "mdat"),
            "{name}: {after:?}"
        );
        assert_eq!(fingerprints(&path), original, "{name}: streams differ");
        assert_eq!(self::rotation(&path), rotation, "{name}");
        // Twice is once.
        assert!(!faststart_in_place(&path).unwrap());
    }
}
