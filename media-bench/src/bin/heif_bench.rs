//! Benchmark helper for `cargo xtask bench heif`, side by side in one run:
//!
//! - metadata removal from 50 phone-sized HEICs (4032×3024 from Debian's `heif-enc`, with GPS,
//!   camera, serial, date and XMP written by `exiftool`; five pictures, ten copies each) by
//!   `media_format` and by `exiftool -all= -overwrite_original` on identical copies;
//! - a 256-pixel thumbnail of one of them by `media_thumb` (libheif in a child process) and
//!   by `heif-thumbnailer -s 256`;
//! - a poster of a 1920×1080 HEVC `.mov` by `media_thumb` (ffmpeg in a child process) and by
//!   `ffmpeg -ss 0 -i FILE -frames:v 1 poster.jpg`.
//!
//! Alternating which runs first, median of 3 (5 for the single-file timings). Prints one
//! JSON line. Usage: `heif_bench DIR`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use media_bench::median;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn run(cmd: &mut Command) -> Res<()> {
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(())
}

/// 50 HEICs with metadata and one HEVC clip, made once into `dir/inputs`.
fn inputs(dir: &Path) -> Res<(Vec<PathBuf>, PathBuf)> {
    let inputs = dir.join("inputs");
    let done = inputs.join(".done-v1");
    std::fs::create_dir_all(&inputs)?;
    let files: Vec<PathBuf> = (0..50)
        .map(|i| inputs.join(format!("photo{i:02}.heic")))
        .collect();
    let clip = inputs.join("clip.mov");
    if done.exists() {
        return Ok((files, clip));
    }
    for i in 0..5u32 {
        let img = media_bench::phone_photo(i);
        let png = inputs.join(format!("source{i}.png"));
        img.save(&png)?;
        let first = &files[(i * 10) as usize];
        run(Command::new("heif-enc")
            .args(["-q", "60", "-o"])
            .arg(first)
            .arg(&png))?;
        std::fs::remove_file(&png)?;
        for copy in 1..10 {
            std::fs::copy(first, &files[(i * 10 + copy) as usize])?;
        }
    }
    run(Command::new("exiftool")
        .args([
            "-q",
            "-overwrite_original",
            "-GPSLatitude=48.8584",
            "-GPSLatitudeRef=N",
            "-GPSLongitude=2.2945",
            "-GPSLongitudeRef=E",
            "-Make=Apple",
            "-Model=iPhone 15 Pro",
            "-SerialNumber=SN123456",
            "-DateTimeOriginal=2026:06:01 20:15:00",
            "-XMP:Creator=Someone",
        ])
        .args(&files))?;
    run(Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=1920x1080:rate=30:duration=3")
        .args([
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-x265-params",
            "log-level=error",
        ])
        .args(["-tag:v", "hvc1", "-pix_fmt", "yuv420p"])
        .arg(&clip))?;
    std::fs::write(&done, b"")?;
    Ok((files, clip))
}

fn copies(dir: &Path, name: &str, files: &[PathBuf]) -> Res<Vec<PathBuf>> {
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

fn ours(files: &[PathBuf]) -> Res<f64> {
    let t = Instant::now();
    for f in files {
        let report = media_format::strip_in_place(f)?;
        if !report.had_location {
            return Err(format!("{}: no location found", f.display()).into());
        }
    }
    Ok(t.elapsed().as_secs_f64())
}

fn exiftool(files: &[PathBuf]) -> Res<f64> {
    let t = Instant::now();
    run(Command::new("exiftool")
        .args(["-q", "-q", "-all=", "-overwrite_original"])
        .args(files))?;
    Ok(t.elapsed().as_secs_f64())
}

fn timed(f: impl FnOnce() -> Res<()>) -> Res<f64> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed().as_secs_f64())
}

fn main() -> Res<()> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: heif_bench DIR")?);
    std::fs::create_dir_all(&dir)?;
    let (files, clip) = inputs(&dir)?;
    let (mut strip_ours, mut strip_exif) = (vec![], vec![]);
    for round in 0..3 {
        let a = copies(&dir, "ours", &files)?;
        let b = copies(&dir, "exiftool", &files)?;
        if round % 2 == 0 {
            strip_ours.push(ours(&a)?);
            strip_exif.push(exiftool(&b)?);
        } else {
            strip_exif.push(exiftool(&b)?);
            strip_ours.push(ours(&a)?);
        }
    }

    let photo = &files[0];
    let out = dir.join("out");
    std::fs::create_dir_all(&out)?;
    let options = media_thumb::ThumbnailOptions::default().with_sizes(&[256]);
    let decoders = media_thumb::ChildDecoders::default();
    let thumb_ours = || {
        timed(|| {
            let made = media_thumb::make_heif_previews(photo, &options, false, &decoders)?;
            if made.thumbnails.variants[0].width != 256 {
                return Err("no 256-pixel thumbnail".into());
            }
            Ok(())
        })
    };
    let thumb_theirs = || {
        timed(|| {
            run(Command::new("heif-thumbnailer")
                .args(["-s", "256"])
                .arg(photo)
                .arg(out.join("thumb.png")))
        })
    };
    let poster_ours = || {
        timed(|| {
            let poster =
                media_thumb::make_poster_from_file(&clip, &options)?.ok_or("no video track")?;
            poster
                .thumbnails
                .ok_or(format!("no poster: {:?}", poster.no_poster))?;
            Ok(())
        })
    };
    let poster_theirs = || {
        timed(|| {
            run(Command::new("ffmpeg")
                .args(["-v", "error", "-y", "-ss", "0", "-i"])
                .arg(&clip)
                .args(["-frames:v", "1"])
                .arg(out.join("poster.jpg")))
        })
    };
    let (mut to, mut tt, mut po, mut pt) = (vec![], vec![], vec![], vec![]);
    for round in 0..5 {
        if round % 2 == 0 {
            to.push(thumb_ours()?);
            tt.push(thumb_theirs()?);
            po.push(poster_ours()?);
            pt.push(poster_theirs()?);
        } else {
            tt.push(thumb_theirs()?);
            to.push(thumb_ours()?);
            pt.push(poster_theirs()?);
            po.push(poster_ours()?);
        }
    }
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    println!(
        "{{\"strip_ours_s\":{},\"strip_exiftool_s\":{},\"thumb_ours_s\":{},\"thumb_heif_thumbnailer_s\":{},\"poster_ours_s\":{},\"poster_ffmpeg_s\":{},\"input_mb\":{}}}",
        median(strip_ours),
        median(strip_exif),
        median(to),
        median(tt),
        median(po),
        median(pt),
        bytes as f64 / 1e6
    );
    Ok(())
}
