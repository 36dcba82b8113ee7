//! `cargo xtask bench strip`.

use crate::tools::ensure_apt;
use crate::util::*;

/// Metadata removal by `media_format` against `exiftool -all= -overwrite_original` on the same
/// 50 phone-sized JPEGs and 10 MP4s (goal ≤ 0.1× its time); then the peak memory of
/// `media --local put` of a normal photo and of each of the security review's bombs, the
/// review's own command (`/usr/bin/time`), goal ≤ 64 MiB over the normal upload.
pub(crate) fn bench() -> Res {
    ensure_apt(
        "exiftool",
        "-ver",
        "libimage-exiftool-perl",
        "the strip benchmark",
    )?;
    ensure_apt("ffmpeg", "-version", "ffmpeg", "the strip benchmark")?;
    let exe = release_bench("strip_bench")?;
    let dir = bench_dir()?.join("strip");
    let (_, out, _) = timed(std::process::Command::new(&exe).arg(&dir))?;
    let line = out.lines().last().unwrap_or_default();
    let f =
        |name: &str| json_field(line, name).ok_or(format!("strip_bench printed no {name}: {line}"));
    let (jo, je, mo, me) = (
        f("jpeg_ours_s")?,
        f("jpeg_exiftool_s")?,
        f("mp4_ours_s")?,
        f("mp4_exiftool_s")?,
    );
    println!(
        "\nStrip benchmark ({:.0} MB of inputs; median of 3, alternating which runs first)",
        f("input_mb")?
    );
    println!("  50 JPEGs 4032x3024: ours {:.3} s, exiftool -all= {:.3} s: {:.3}x its time (goal <= 0.1x)", jo, je, jo / je);
    println!("  10 MP4s (GPS keys + gpmd track): ours {:.3} s, exiftool -all= {:.3} s: {:.3}x its time (goal <= 0.1x)", mo, me, mo / me);

    let media = release_media()?;
    let rss = |file: &str| -> Res<(u64, f64)> {
        let data = dir.join("node");
        let _ = std::fs::remove_dir_all(&data);
        let path = if file == "photo" {
            dir.join("inputs/photo00.jpg")
        } else {
            dir.join(file)
        };
        let mut cmd = with_time_v(&media);
        cmd.arg("--data")
            .arg(&data)
            .args(["--local", "put"])
            .arg(&path);
        // A bomb may be refused (exit code 1): its memory is what is measured.
        let started = std::time::Instant::now();
        let out = cmd.output().map_err(|e| format!("running media: {e}"))?;
        let secs = started.elapsed().as_secs_f64();
        let err = String::from_utf8_lossy(&out.stderr);
        let kib = max_rss_kb(&err).ok_or(format!(
            "no peak memory for {file} (is /usr/bin/time installed?): {err}"
        ))?;
        Ok((kib, secs))
    };
    // The first `media --local put` on this machine pays a one-time start (about 10 s): warm up.
    rss("photo")?;
    let (normal, _) = rss("photo")?;
    println!(
        "  peak memory of `media --local put`: a 12 MP photo {} MiB",
        normal / 1024
    );
    for bomb in ["bomb.png", "bomb16.png", "nested.mp4", "tinyboxes.mp4"] {
        let (kib, secs) = rss(bomb)?;
        println!(
            "    {bomb}: {} MiB ({:+} MiB over the photo, goal <= +64), {secs:.1} s",
            kib / 1024,
            (kib as i64 - normal as i64) / 1024
        );
    }
    Ok(())
}
