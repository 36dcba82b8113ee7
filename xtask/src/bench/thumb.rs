//! `cargo xtask bench thumb`.

#[allow(unused_imports)]
use std::path::{Path, PathBuf};
#[allow(unused_imports)]
use std::process::{Command, Stdio};

#[allow(unused_imports)]
use crate::util::*;

/// Our `thumb` example against `vipsthumbnail -s 256` on the same generated 12 MP JPEG, then
/// bomb refusal times and a bounded fuzz run of the decoder entry point.
pub(crate) fn bench(fuzz_seconds: u64) -> Res {
    if !have("vipsthumbnail", "--version") {
        return Err(
            "the thumbnail benchmark compares against vipsthumbnail: install Debian's libvips-tools"
                .into(),
        );
    }
    let thumb = release_example("media-thumb", &[], "thumb")?;
    let lab = release_example("media-thumb", &[], "thumb_lab")?;
    let dir = bench_dir()?;
    let photo = dir.join("photo-12mp.jpg");
    if !photo.is_file() {
        timed(Command::new(&lab).arg("photo").arg(&photo))?;
    }
    let ours_jpeg = dir.join("ours-256.jpg");
    let ours_webp = dir.join("ours-256.webp");
    let vips_out = dir.join("vips-256.jpg");
    let ours = |out: &Path, format: &str| {
        let mut c = with_time_v(&thumb);
        c.arg(&photo)
            .arg(out)
            .args(["--size", "256", "--format", format]);
        c
    };
    let vips = || {
        let mut c = with_time_v(Path::new("/usr/bin/vipsthumbnail"));
        c.arg(&photo).args(["-s", "256", "-o"]).arg(&vips_out);
        c
    };
    // Warm the page cache and both programs.
    timed(&mut ours(&ours_jpeg, "jpeg"))?;
    timed(&mut vips())?;
    let (mut t_jpeg, mut t_webp, mut t_vips) = (Vec::new(), Vec::new(), Vec::new());
    let (mut r_jpeg, mut r_webp, mut r_vips) = (0u64, 0u64, 0u64);
    for _ in 0..7 {
        let (s, _, e) = timed(&mut ours(&ours_jpeg, "jpeg"))?;
        t_jpeg.push(s);
        r_jpeg = r_jpeg.max(max_rss_kb(&e).unwrap_or(0));
        let (s, _, e) = timed(&mut ours(&ours_webp, "webp"))?;
        t_webp.push(s);
        r_webp = r_webp.max(max_rss_kb(&e).unwrap_or(0));
        let (s, _, e) = timed(&mut vips())?;
        t_vips.push(s);
        r_vips = r_vips.max(max_rss_kb(&e).unwrap_or(0));
    }
    let (j, w, v) = (median(t_jpeg), median(t_webp), median(t_vips));
    let mib = |kb: u64| kb as f64 / 1024.0;
    println!("\nthumbnail benchmark, generated 4000×3000 JPEG → 256 px, median of 7, same run");
    println!(
        "  vipsthumbnail -s 256 -o out.jpg        {:7.1} ms  peak RSS {:5.1} MiB   1.00",
        v * 1e3,
        mib(r_vips)
    );
    println!(
        "  thumb IN out.jpg --format jpeg         {:7.1} ms  peak RSS {:5.1} MiB   {:.2}x vipsthumbnail's time",
        j * 1e3,
        mib(r_jpeg),
        j / v
    );
    println!(
        "  thumb IN out.webp (default format)     {:7.1} ms  peak RSS {:5.1} MiB   {:.2}x vipsthumbnail's time",
        w * 1e3,
        mib(r_webp),
        w / v
    );
    let (_, bombs, _) = timed(Command::new(&lab).arg("bombs"))?;
    println!("  decompression bombs refused:");
    for line in bombs.lines() {
        println!("    {line}");
    }
    eprintln!("==> fuzzing make_thumbnails for {fuzz_seconds} s");
    let (_, fuzz, _) = timed(Command::new(&lab).arg("fuzz").arg(fuzz_seconds.to_string()))?;
    println!(
        "  fuzz ({fuzz_seconds} s of mutated JPEG/PNG/GIF/WebP): {}",
        fuzz.trim()
    );
    Ok(())
}
