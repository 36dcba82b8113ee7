//! Benchmark helper for `cargo xtask bench strip`: metadata removal from 50 phone-sized JPEGs
//! (4032×3024, EXIF with GPS, XMP, comments written by `exiftool`) and 10 MP4s (`ffmpeg`
//! clips with QuickTime GPS keys and a GoPro `gpmd` GPS track), by `media_format` and by
//! `exiftool -all= -overwrite_original` on identical copies, alternating which runs first,
//! median of 3. Also writes the security review's bombs (for the peak-memory half of the
//! benchmark) into DIR. Prints one JSON line.
//!
//! Usage: `strip_bench DIR`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use media_bench::median;

fn run(cmd: &mut Command) -> Result<(), Box<dyn std::error::Error>> {
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(())
}

/// 50 JPEGs and 10 MP4s with metadata, made once into `dir/inputs`.
fn inputs(dir: &Path) -> Result<Vec<PathBuf>, Box<dyn std::error::Error>> {
    let inputs = dir.join("inputs");
    let done = inputs.join(".done-v3");
    std::fs::create_dir_all(&inputs)?;
    let mut files = Vec::new();
    for i in 0..50 {
        files.push(inputs.join(format!("photo{i:02}.jpg")));
    }
    for i in 0..10 {
        files.push(inputs.join(format!("clip{i:02}.mp4")));
    }
    if done.exists() {
        return Ok(files);
    }
    for i in 0..5u32 {
        // Detail like a photo's (a smooth scene plus sensor-like noise), so that each JPEG is
        // megabytes as a phone's 12 MP photos are, not a few hundred KB.
        let img = media_bench::phone_photo(i);
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85).encode_image(&img)?;
        for copy in 0..10 {
            std::fs::write(&files[(i * 10 + copy) as usize], &jpeg)?;
        }
    }
    let mut exif = Command::new("exiftool");
    exif.args([
        "-q",
        "-overwrite_original",
        "-GPSLatitude=48.8584",
        "-GPSLatitudeRef=N",
        "-GPSLongitude=2.2945",
        "-GPSLongitudeRef=E",
        "-Make=PhoneMaker",
        "-Model=Phone 15",
        "-SerialNumber=SN123456",
        "-XMP:Creator=Someone",
        "-Comment=home",
    ]);
    run(exif.args(&files[..50]))?;
    let gpmd = dir.join("gpmd.mp4");
    std::fs::write(&gpmd, media_core::testing::gopro_mp4(60))?;
    let plain = dir.join("plain.mp4");
    run(Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=1280x720:rate=30:duration=10",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(&plain))?;
    for clip in &files[50..] {
        run(Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i"])
            .arg(&plain)
            .arg("-i")
            .arg(&gpmd)
            .args(["-map", "0:v", "-map", "1:d", "-c", "copy", "-tag:d", "gpmd"])
            .arg(clip))?;
    }
    let mut keys = Command::new("exiftool");
    keys.args([
        "-q",
        "-overwrite_original",
        "-Keys:GPSCoordinates=48.8584, 2.2945",
        "-UserData:GPSCoordinates=48.8584, 2.2945",
        "-Keys:Make=PhoneMaker",
    ]);
    run(keys.args(&files[50..]))?;
    std::fs::write(&done, b"")?;
    Ok(files)
}

/// Fresh copies of `files` in `dir/name`.
fn copies(
    dir: &Path,
    name: &str,
    files: &[PathBuf],
) -> Result<Vec<PathBuf>, Box<dyn std::error::Error>> {
    let to = dir.join(name);
    let _ = std::fs::remove_dir_all(&to);
    std::fs::create_dir_all(&to)?;
    let mut out = Vec::new();
    for f in files {
        let path = to.join(f.file_name().ok_or("no name")?);
        std::fs::copy(f, &path)?;
        out.push(path);
    }
    Ok(out)
}

fn ours(files: &[PathBuf]) -> Result<f64, Box<dyn std::error::Error>> {
    let t = Instant::now();
    for f in files {
        let report = media_format::strip_in_place(f)?;
        if !report.changed() {
            return Err(format!("{}: nothing removed", f.display()).into());
        }
    }
    Ok(t.elapsed().as_secs_f64())
}

fn exiftool(files: &[PathBuf]) -> Result<f64, Box<dyn std::error::Error>> {
    let t = Instant::now();
    run(Command::new("exiftool")
        .args(["-q", "-q", "-all=", "-overwrite_original"])
        .args(files))?;
    Ok(t.elapsed().as_secs_f64())
}

/// The review's bombs, written into `dir` for `media --local put` under `/usr/bin/time`.
fn bombs(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use media_core::testing::{nested_boxes_mp4, png_bomb, tiny_boxes_mp4};
    std::fs::write(dir.join("bomb.png"), png_bomb(14_000, false))?;
    std::fs::write(dir.join("bomb16.png"), png_bomb(14_100, true))?;
    std::fs::write(dir.join("nested.mp4"), nested_boxes_mp4(300_000))?;
    std::fs::write(dir.join("tinyboxes.mp4"), tiny_boxes_mp4(64))?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: strip_bench DIR")?);
    std::fs::create_dir_all(&dir)?;
    let files = inputs(&dir)?;
    let (mut jpeg_ours, mut jpeg_exif, mut mp4_ours, mut mp4_exif) =
        (vec![], vec![], vec![], vec![]);
    for round in 0..3 {
        let a = copies(&dir, "ours", &files)?;
        let b = copies(&dir, "exiftool", &files)?;
        let mut measure = |first_ours: bool| -> Result<(), Box<dyn std::error::Error>> {
            if first_ours {
                jpeg_ours.push(ours(&a[..50])?);
                mp4_ours.push(ours(&a[50..])?);
                jpeg_exif.push(exiftool(&b[..50])?);
                mp4_exif.push(exiftool(&b[50..])?);
            } else {
                jpeg_exif.push(exiftool(&b[..50])?);
                mp4_exif.push(exiftool(&b[50..])?);
                jpeg_ours.push(ours(&a[..50])?);
                mp4_ours.push(ours(&a[50..])?);
            }
            Ok(())
        };
        measure(round % 2 == 0)?;
    }
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    bombs(&dir)?;
    println!(
        "{{\"jpeg_ours_s\":{},\"jpeg_exiftool_s\":{},\"mp4_ours_s\":{},\"mp4_exiftool_s\":{},\"input_mb\":{}}}",
        median(jpeg_ours),
        median(jpeg_exif),
        median(mp4_ours),
        median(mp4_exif),
        bytes as f64 / 1e6
    );
    Ok(())
}
