//! The benchmark programs `cargo xtask bench` builds in release mode and times side by side
//! with an established tool on the same input. Each is a binary in `src/bin/` that prints one
//! JSON line of figures; xtask turns them into ratios (see BENCHMARKS.md).

pub mod throttle;

use std::process::Command;
use std::time::Instant;

/// The median of `v` (NaN when empty).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// `curl -sS -f -o /dev/null ARGS…`: the seconds it took, or why it failed.
pub fn curl(args: &[&str]) -> Result<f64, Box<dyn std::error::Error>> {
    let t = Instant::now();
    let status = Command::new("curl")
        .args(["-sS", "-f", "-o", "/dev/null"])
        .args(args)
        .status()?;
    if !status.success() {
        return Err(format!("curl {args:?} failed").into());
    }
    Ok(t.elapsed().as_secs_f64())
}

/// A phone-sized (4032×3024) picture with detail like a photo's (a smooth scene plus
/// sensor-like noise), so that each encoded file is megabytes as a phone's 12 MP photos are;
/// `seed` makes each one different.
pub fn phone_photo(seed: u32) -> image::RgbImage {
    let mut state = 0x9E37_79B9u32.wrapping_mul(seed + 1);
    image::RgbImage::from_fn(4032, 3024, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let noise = (state & 0x0F) as u8;
        image::Rgb([
            ((x / 16 + seed * 40) as u8).wrapping_add(noise),
            ((y / 12) as u8).wrapping_add(noise / 2),
            (((x ^ y) >> 3) as u8).wrapping_add(noise / 3),
        ])
    })
}
