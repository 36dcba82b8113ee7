//! Benchmark and fuzz helpers for `cargo xtask bench thumb`.
//!
//! - `thumb_lab photo OUT.jpg [WIDTH HEIGHT]`: writes a photo-like JPEG (default 4000×3000,
//!   12 MP) with EXIF orientation and GPS tags, the input of the thumbnail benchmark.
//! - `thumb_lab fuzz SECONDS`: mutates real images of every supported format for a bounded
//!   time and feeds them to `make_thumbnails`; fails if the decoder ever panicked.
//! - `thumb_lab bombs`: prints how long each decompression bomb takes to be refused.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use media_thumb::{make_thumbnails, ThumbError, ThumbnailOptions};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("photo") => photo(&args[1..]),
        Some("fuzz") => fuzz(&args[1..]),
        Some("bombs") => bombs(),
        _ => Err("usage: thumb_lab photo OUT [W H] | fuzz SECONDS | bombs".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("thumb_lab: {e}");
            ExitCode::FAILURE
        }
    }
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn photo(args: &[String]) -> Result<(), String> {
    let out = args.first().ok_or("photo needs an output path")?;
    let width: u32 = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(4000);
    let height: u32 = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(3000);
    // Gradients and rings plus sensor-like noise, so the JPEG is as dense as a real photo.
    let base = common::photo(width, height);
    let mut rng = XorShift(0x5EED_1234_ABCD_0001);
    let noisy = RgbImage::from_fn(width, height, |x, y| {
        let p = base.get_pixel(x, y).0;
        let n = (rng.next() % 24) as i16 - 12;
        Rgb(p.map(|c| (i16::from(c) + n).clamp(0, 255) as u8))
    });
    let jpeg = common::with_segments(&common::jpeg(&noisy), &[common::exif_segment(1, true)]);
    std::fs::write(out, &jpeg).map_err(|e| format!("{out}: {e}"))?;
    println!("{out}: {width}×{height} JPEG, {} bytes", jpeg.len());
    Ok(())
}

fn seeds() -> Vec<Vec<u8>> {
    let rgb = common::photo(96, 64);
    let shown = common::displayed();
    // Big enough for the shrink-on-load fast path at the fuzz's 32 px box, and one with
    // restart markers and 4:2:2 sampling.
    let big = common::photo(300, 200);
    let sampling = jpeg_encoder::SamplingFactor::F_2_1;
    vec![
        common::jpeg(&big),
        common::jpeg_layout(big.as_raw(), (300, 200, 3), sampling, 3, false),
        common::with_segments(&common::jpeg(&rgb), &[common::exif_segment(6, true)]),
        common::jpeg(&shown),
        common::encode(&DynamicImage::ImageRgb8(rgb.clone()), ImageFormat::Png),
        common::encode(&DynamicImage::ImageRgb8(rgb.clone()), ImageFormat::Gif),
        common::webp(&rgb),
        common::encode(&DynamicImage::ImageRgb8(rgb), ImageFormat::WebP),
    ]
}

fn fuzz(args: &[String]) -> Result<(), String> {
    let seconds: u64 = args.first().and_then(|v| v.parse().ok()).unwrap_or(30);
    let seeds = seeds();
    let options = ThumbnailOptions::default().with_sizes(&[32]);
    let mut rng = XorShift(0x00C0_FFEE_F00D_0001);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut runs, mut ok, mut corrupt, mut other, mut panics) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut slowest = Duration::ZERO;
    // The decoder's own panics are caught and counted; keep stderr readable.
    std::panic::set_hook(Box::new(|_| {}));
    while Instant::now() < deadline {
        let mut bytes = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(16) {
            let at = rng.below(bytes.len());
            match rng.below(4) {
                0 => bytes[at] = rng.next() as u8,
                1 => bytes[at] ^= 1 << rng.below(8),
                2 => bytes[at] = [0x00, 0xFF, 0x7F, 0x80][rng.below(4)],
                _ => {
                    let end = (at + 1 + rng.below(64)).min(bytes.len());
                    bytes.drain(at..end);
                }
            }
        }
        if rng.below(8) == 0 {
            let keep = rng.below(bytes.len());
            bytes.truncate(keep);
        }
        let started = Instant::now();
        match make_thumbnails(&bytes, &options) {
            Ok(_) => ok += 1,
            Err(ThumbError::Corrupt(msg)) if msg.contains("panicked") => panics += 1,
            Err(ThumbError::Corrupt(_)) => corrupt += 1,
            Err(_) => other += 1,
        }
        slowest = slowest.max(started.elapsed());
        runs += 1;
    }
    let _ = std::panic::take_hook();
    println!(
        "{{\"runs\":{runs},\"ok\":{ok},\"corrupt\":{corrupt},\"other_errors\":{other},\"panics\":{panics},\"slowest_ms\":{:.2}}}",
        slowest.as_secs_f64() * 1e3
    );
    if panics > 0 {
        return Err(format!("{panics} inputs made a decoder panic (caught)"));
    }
    Ok(())
}

fn bombs() -> Result<(), String> {
    let options = ThumbnailOptions::default();
    for (what, bytes) in [
        ("png_100k_x_100k", common::png_bomb(100_000, 100_000)),
        ("png_20k_x_20k", common::png_bomb(20_000, 20_000)),
        ("jpeg_65k_x_65k", common::jpeg_bomb(65_000, 65_000)),
    ] {
        let started = Instant::now();
        let result = make_thumbnails(&bytes, &options);
        let ms = started.elapsed().as_secs_f64() * 1e3;
        match result {
            Err(ThumbError::TooLarge { .. }) => {
                println!("{{\"bomb\":\"{what}\",\"refused_ms\":{ms:.3}}}")
            }
            other => return Err(format!("{what}: expected TooLarge, got {other:?}")),
        }
    }
    Ok(())
}
