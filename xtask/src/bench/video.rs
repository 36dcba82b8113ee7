//! `cargo xtask bench video`.

use std::process::Command;

use crate::tools::{ensure_apt, ensure_node_tools};
use crate::util::*;

/// Make a 1080p H.264 clip of about `mib` MiB with its index last (what phones write), once.
fn clip(mib: u64) -> Res<std::path::PathBuf> {
    let path = bench_dir()?.join(format!("clip-1080p-{mib}mib-moov-last.mp4"));
    if path.is_file() {
        return Ok(path);
    }
    let seconds = 20u64;
    let kbit = mib * 1024 * 1024 * 8 / 1000 / seconds;
    let tmp = path.with_extension("tmp.mp4");
    run(
        "make the 1080p clip with ffmpeg",
        Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i"])
            .arg(format!(
                "testsrc2=size=1920x1080:rate=30:duration={seconds}"
            ))
            .args([
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
            ])
            .arg("-b:v")
            .arg(format!("{kbit}k"))
            .arg("-maxrate")
            .arg(format!("{kbit}k"))
            .arg("-bufsize")
            .arg(format!("{}k", kbit * 2))
            .args(["-g", "60"])
            .arg(&tmp),
    )?;
    std::fs::rename(&tmp, &path).map_err(|e| e.to_string())?;
    Ok(path)
}

/// Time to first frame in Chromium of a clip with `moov` last, stored faststart by our
/// upload vs stored as-is, both served by the same S3 server through a proxy capped at
/// `mb_per_s`; then the poster of the same 1080p clip vs `ffmpeg -ss 0 -frames:v 1`.
pub(crate) fn bench(mib: u64, mb_per_s: u64) -> Res {
    ensure_apt("ffmpeg", "-version", "ffmpeg", "the video benchmark")?;
    ensure_apt("chromium", "--version", "chromium", "the video benchmark")?;
    let (npm_dir, node) = ensure_node_tools()?;
    let exe = release_bench("video_bench")?;
    let thumb = release_example("media-thumb", &["video"], "thumb")?;
    let clip = clip(mib)?;
    let size = std::fs::metadata(&clip).map_err(|e| e.to_string())?.len();

    // ESM resolves playwright-core next to the script.
    let script = npm_dir.join("ttff.mjs");
    std::fs::copy(root().join("media-bench/js/ttff.mjs"), &script).map_err(|e| e.to_string())?;
    let runs = 5;
    println!(
        "\nVideo benchmark: {:.1} MiB 1080p H.264 clip, moov last; Chromium through a {mb_per_s} MB/s link; median of {runs}",
        size as f64 / (1 << 20) as f64
    );
    for rtt in [0u64, 100] {
        let (_, out, _) = timed(
            Command::new(&exe)
                .arg(&clip)
                .arg(&script)
                .arg((mb_per_s * 1_000_000).to_string())
                .arg(rtt.to_string())
                .arg(runs.to_string())
                .env("MEDIA_NODE_BIN", &node)
                .env("MEDIA_CHROMIUM", "/usr/bin/chromium"),
        )?;
        let line = out.lines().last().unwrap_or_default();
        let f = |name: &str| {
            json_field(line, name).ok_or(format!("video_bench printed no {name}: {line}"))
        };
        let (asis, fast) = (f("as_is_ms")?, f("faststart_ms")?);
        println!(
            "  {rtt} ms per request: time to first frame, faststart (ours) {fast:.0} ms, as-is {asis:.0} ms: {:.3}x its time (goal <= 0.2x)",
            fast / asis
        );
        println!(
            "    taken by the first frame: faststart {:.1} MB in {:.0} requests, as-is {:.1} MB in {:.0} requests",
            f("faststart_bytes")? / 1e6,
            f("faststart_requests")?,
            f("as_is_bytes")? / 1e6,
            f("as_is_requests")?,
        );
    }

    // Posters: our example at the upload's size and at full size, ffmpeg's first frame.
    let dir = bench_dir()?;
    let ours = |size: u32| {
        let mut c = Command::new(&thumb);
        c.arg(&clip)
            .arg(dir.join(format!("poster-{size}.jpg")))
            .args(["--size", &size.to_string(), "--format", "jpeg"]);
        c
    };
    let ffmpeg = || {
        let mut c = Command::new("ffmpeg");
        c.args(["-v", "error", "-nostdin", "-y", "-ss", "0", "-i"])
            .arg(&clip)
            .args(["-frames:v", "1"])
            .arg(dir.join("poster-ffmpeg.jpg"));
        c
    };
    timed(&mut ours(256))?;
    timed(&mut ffmpeg())?;
    let (mut small, mut full, mut theirs) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..7 {
        small.push(timed(&mut ours(256))?.0);
        full.push(timed(&mut ours(1920))?.0);
        theirs.push(timed(&mut ffmpeg())?.0);
    }
    let (s, fl, t) = (median(small), median(full), median(theirs));
    println!("  poster of the 1080p clip (process wall time, median of 7):");
    println!(
        "    ours, 256 px JPEG (what the upload makes) {:.1} ms; full-size 1920 px JPEG {:.1} ms",
        s * 1e3,
        fl * 1e3
    );
    println!(
        "    ffmpeg -ss 0 -i CLIP -frames:v 1 OUT.jpg (full size) {:.1} ms",
        t * 1e3
    );
    println!(
        "    ratio: {:.2}x its time at 256 px, {:.2}x at full size (goal <= 1.0x)",
        s / t,
        fl / t
    );
    Ok(())
}
