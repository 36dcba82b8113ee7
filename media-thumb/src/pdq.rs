//! Meta's PDQ perceptual hash (the reference is `facebook/ThreatExchange` `pdq/cpp`), computed
//! from the pixels the thumbnailer already decoded, as displayed (EXIF orientation applied).
//!
//! The steps are the reference's, in the same order and the same `f32` arithmetic: luma
//! (BT.601), two passes of a Jarosz box filter along rows and columns (windows from the size
//! over 128), decimation to 64×64 at the cell centres, the quality score from the 64×64
//! gradients, a 16×16 DCT (rows 1–16 of the 64-point DCT-II), and one bit per coefficient
//! above the median (Torben's selection).

use media_core::{Pdq, PdqHash};

use crate::Pixels;

/// Smaller pictures get no hash (the reference's `MIN_HASHABLE_DIM`).
const MIN_DIMENSION: usize = 5;
const PASSES: usize = 2;

/// The PDQ hash and quality of decoded pixels, upright. `None` below 5×5.
pub(crate) fn of_pixels(px: &Pixels) -> Option<Pdq> {
    let channels = if px.alpha { 4 } else { 3 };
    let (w, h) = (px.width as usize, px.height as usize);
    if px.data.len() < w * h * channels {
        return None;
    }
    let luma = luma(&px.data[..w * h * channels], channels);
    let (luma, cols, rows) = orient(luma, w, h, px.orientation);
    of_luma(luma, rows, cols)
}

/// BT.601 luma of interleaved 8-bit RGB(A) pixels, as the reference computes it.
pub(crate) fn luma(data: &[u8], channels: usize) -> Vec<f32> {
    data.chunks_exact(channels)
        .map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]))
        .collect()
}

/// The PDQ hash of a row-major luma buffer of `rows × cols`.
pub(crate) fn of_luma(mut luma: Vec<f32>, rows: usize, cols: usize) -> Option<Pdq> {
    if rows < MIN_DIMENSION || cols < MIN_DIMENSION || luma.len() != rows * cols {
        return None;
    }
    let mut scratch = vec![0f32; rows * cols];
    let along_rows = window(cols);
    let along_cols = window(rows);
    for _ in 0..PASSES {
        for r in 0..rows {
            box_1d(
                &luma[r * cols..],
                &mut scratch[r * cols..],
                cols,
                1,
                along_rows,
            );
        }
        for c in 0..cols {
            box_1d(&scratch[c..], &mut luma[c..], rows, cols, along_cols);
        }
    }
    let mut small = [[0f32; 64]; 64];
    for (i, row) in small.iter_mut().enumerate() {
        let ii = ((i as f64 + 0.5) * rows as f64 / 64.0) as usize;
        for (j, v) in row.iter_mut().enumerate() {
            let jj = ((j as f64 + 0.5) * cols as f64 / 64.0) as usize;
            *v = luma[ii * cols + jj];
        }
    }
    let quality = quality(&small);
    let dct = dct_64_to_16(&small);
    let median = torben(&dct);
    let mut hash = PdqHash::default();
    for (k, v) in dct.iter().enumerate() {
        if *v > median {
            hash.set_bit(k);
        }
    }
    Some(Pdq::new(hash, quality))
}

/// The luma of the picture as displayed: EXIF orientation 2–8 applied. Returns the buffer
/// with its width and height.
fn orient(luma: Vec<f32>, w: usize, h: usize, orientation: u8) -> (Vec<f32>, usize, usize) {
    if !(2..=8).contains(&orientation) {
        return (luma, w, h);
    }
    let swaps = orientation >= 5;
    let (ow, oh) = if swaps { (h, w) } else { (w, h) };
    let mut out = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            // Where the source pixel (x, y) lands in the displayed picture.
            let (dx, dy) = match orientation {
                2 => (w - 1 - x, y),
                3 => (w - 1 - x, h - 1 - y),
                4 => (x, h - 1 - y),
                5 => (y, x),
                6 => (h - 1 - y, x),
                7 => (h - 1 - y, w - 1 - x),
                _ => (y, w - 1 - x),
            };
            out[dy * ow + dx] = luma[y * w + x];
        }
    }
    (out, ow, oh)
}

fn window(dimension: usize) -> usize {
    dimension.div_ceil(2 * 64)
}

/// The reference's `box1DFloat`: a running mean over `window` samples, centred, with the
/// window shrinking at both ends.
fn box_1d(input: &[f32], output: &mut [f32], len: usize, stride: usize, window: usize) {
    let half = (window + 2) / 2;
    let phase1 = half - 1;
    let phase2 = window - half + 1;
    let phase3 = len.saturating_sub(window);
    let phase4 = half - 1;
    let (mut li, mut ri, mut oi) = (0usize, 0usize, 0usize);
    let mut sum = 0f32;
    let mut current = 0f32;
    for _ in 0..phase1 {
        sum += input[ri];
        current += 1.0;
        ri += stride;
    }
    for _ in 0..phase2 {
        sum += input[ri];
        current += 1.0;
        output[oi] = sum / current;
        ri += stride;
        oi += stride;
    }
    for _ in 0..phase3 {
        sum += input[ri];
        sum -= input[li];
        output[oi] = sum / current;
        li += stride;
        ri += stride;
        oi += stride;
    }
    for _ in 0..phase4 {
        sum -= input[li];
        current -= 1.0;
        output[oi] = sum / current;
        li += stride;
        oi += stride;
    }
}

// Indexed as the reference is, so the two read side by side.
#[allow(clippy::needless_range_loop)]
fn quality(small: &[[f32; 64]; 64]) -> u8 {
    let step = |u: f32, v: f32| (((u - v) * 100.0) / 255.0) as i32;
    let mut sum: i64 = 0;
    for i in 0..63 {
        for j in 0..64 {
            sum += i64::from(step(small[i][j], small[i + 1][j]).abs());
        }
    }
    for row in small {
        for j in 0..63 {
            sum += i64::from(step(row[j], row[j + 1]).abs());
        }
    }
    (sum / 90).min(100) as u8
}

fn dct_matrix() -> &'static [[f32; 64]; 16] {
    static MATRIX: std::sync::OnceLock<[[f32; 64]; 16]> = std::sync::OnceLock::new();
    MATRIX.get_or_init(|| {
        let mut d = [[0f32; 64]; 16];
        let scale = (2.0f64 / 64.0).sqrt() as f32;
        for (i, row) in d.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = scale
                    * ((std::f64::consts::PI / 2.0 / 64.0)
                        * (i as f64 + 1.0)
                        * (2.0 * j as f64 + 1.0))
                        .cos() as f32;
            }
        }
        d
    })
}

/// `D · A · Dᵀ` for the 16×64 DCT matrix `D`: the 16×16 low frequencies but the DC term.
#[allow(clippy::needless_range_loop)]
fn dct_64_to_16(a: &[[f32; 64]; 64]) -> [f32; 256] {
    let d = dct_matrix();
    let mut t = [[0f32; 64]; 16];
    for i in 0..16 {
        for j in 0..64 {
            let mut sum = 0f32;
            for k in 0..64 {
                sum += d[i][k] * a[k][j];
            }
            t[i][j] = sum;
        }
    }
    let mut b = [0f32; 256];
    for i in 0..16 {
        for j in 0..16 {
            let mut sum = 0f32;
            for k in 0..64 {
                sum += t[i][k] * d[j][k];
            }
            b[i * 16 + j] = sum;
        }
    }
    b
}

/// The median as the reference's Torben selection returns it.
fn torben(m: &[f32]) -> f32 {
    let n = m.len();
    let (mut min, mut max) = m
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    // Each round narrows [min, max] to values of `m`; bounded so a NaN cannot spin it.
    for _ in 0..=n + 64 {
        let guess = (min + max) / 2.0;
        let (mut less, mut greater, mut equal) = (0, 0, 0);
        let (mut max_lt, mut min_gt) = (min, max);
        for &v in m {
            if v < guess {
                less += 1;
                if v > max_lt {
                    max_lt = v;
                }
            } else if v > guess {
                greater += 1;
                if v < min_gt {
                    min_gt = v;
                }
            } else {
                equal += 1;
            }
        }
        let half = n.div_ceil(2);
        if less <= half && greater <= half {
            return if less >= half {
                max_lt
            } else if less + equal >= half {
                guess
            } else {
                min_gt
            };
        } else if less > greater {
            max = max_lt;
        } else {
            min = min_gt;
        }
    }
    (min + max) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(w: u32, h: u32) -> Pixels {
        let mut data = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            for x in 0..w {
                let v = ((x * 7 + y * 3) % 256) as u8;
                let c = if (x / 16 + y / 24) % 2 == 0 { 40 } else { 220 };
                data.extend_from_slice(&[v, c, v / 2 + c / 2]);
            }
        }
        Pixels {
            width: w,
            height: h,
            alpha: false,
            data,
            orientation: 1,
            source_width: w,
            source_height: h,
            source_mime: "image/png",
        }
    }

    #[test]
    fn tiny_pictures_have_no_hash_and_flat_ones_no_quality() {
        assert!(of_pixels(&picture(4, 100)).is_none());
        let flat = of_luma(vec![128.0; 100 * 80], 80, 100).unwrap();
        assert_eq!(flat.quality, 0);
        let p = of_pixels(&picture(300, 200)).unwrap();
        assert!(p.quality > 50, "{}", p.quality);
    }

    #[test]
    fn orientation_is_undone_before_hashing() {
        let upright = picture(120, 90);
        let expected = of_pixels(&upright).unwrap().hash;
        // Rotate the pixels 90° counter-clockwise and say "rotate 90° clockwise to show"
        // (EXIF 6): the displayed picture, and so the hash, is the same.
        let (w, h) = (upright.width as usize, upright.height as usize);
        let mut data = vec![0u8; w * h * 3];
        for y in 0..h {
            for x in 0..w {
                // Stored (sx, sy) in an h-wide, w-tall picture; displayed = rotate CW.
                let (sx, sy) = (y, w - 1 - x);
                let from = (y * w + x) * 3;
                let to = (sy * h + sx) * 3;
                data[to..to + 3].copy_from_slice(&upright.data[from..from + 3]);
            }
        }
        let stored = Pixels {
            width: h as u32,
            height: w as u32,
            data,
            orientation: 6,
            ..upright
        };
        assert_eq!(of_pixels(&stored).unwrap().hash, expected);
    }
}
