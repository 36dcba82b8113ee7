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

/// A picture's hashes: the PDQ hash (and quality) of it as displayed, and its variants.
pub(crate) struct Hashes {
    pub pdq: Pdq,
    /// The seven mirrored and rotated forms (from the same transform, as the reference's
    /// dihedral hashes), and for a transparent picture its hash over black (and that one's
    /// seven forms): what the same picture hashes to as others may show it.
    pub variants: Vec<PdqHash>,
}

/// The PDQ hashes of decoded pixels, upright. A transparent picture is hashed as shown over
/// white, and over black as a variant. `None` below 5×5.
pub(crate) fn of_pixels(px: &Pixels) -> Option<Hashes> {
    let channels = if px.alpha { 4 } else { 3 };
    let (w, h) = (px.width as usize, px.height as usize);
    if px.data.len() < w * h * channels {
        return None;
    }
    let data = &px.data[..w * h * channels];
    let backgrounds: &[f32] = if px.alpha { &[255.0, 0.0] } else { &[255.0] };
    let mut out: Option<Hashes> = None;
    for &background in backgrounds {
        let luma = if px.alpha {
            luma_over(data, background)
        } else {
            luma(data, channels)
        };
        let (luma, cols, rows) = orient(luma, w, h, px.orientation);
        let (dct, quality) = transform(luma, rows, cols)?;
        let forms = dihedral(&dct);
        match &mut out {
            None => {
                out = Some(Hashes {
                    pdq: Pdq::new(bits(&dct), quality),
                    variants: forms.iter().map(bits).collect(),
                })
            }
            Some(found) => {
                found.variants.push(bits(&dct));
                found.variants.extend(forms.iter().map(bits));
            }
        }
    }
    out
}

/// BT.601 luma of RGBA pixels composited over a grey `background` (0 black, 255 white).
fn luma_over(data: &[u8], background: f32) -> Vec<f32> {
    data.chunks_exact(4)
        .map(|p| {
            let a = f32::from(p[3]) / 255.0;
            let y = 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]);
            y * a + background * (1.0 - a)
        })
        .collect()
}

/// BT.601 luma of interleaved 8-bit RGB(A) pixels, as the reference computes it.
pub(crate) fn luma(data: &[u8], channels: usize) -> Vec<f32> {
    data.chunks_exact(channels)
        .map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]))
        .collect()
}

/// The PDQ hash of a row-major luma buffer of `rows × cols`.
pub(crate) fn of_luma(luma: Vec<f32>, rows: usize, cols: usize) -> Option<Pdq> {
    let (dct, quality) = transform(luma, rows, cols)?;
    Some(Pdq::new(bits(&dct), quality))
}

/// The 16×16 DCT coefficients (row-major) and the quality of a luma buffer.
fn transform(mut luma: Vec<f32>, rows: usize, cols: usize) -> Option<([f32; 256], u8)> {
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
    Some((dct_64_to_16(&small), quality))
}

/// One bit per coefficient above the median.
fn bits(dct: &[f32; 256]) -> PdqHash {
    let median = torben(dct);
    let mut hash = PdqHash::default();
    for (k, v) in dct.iter().enumerate() {
        if *v > median {
            hash.set_bit(k);
        }
    }
    hash
}

/// The DCT of the picture rotated by 90°, 180°, 270°, and mirrored about each axis and
/// diagonal, from its own DCT (the reference's `dct16OriginalTo*`: transposes and sign
/// flips of odd rows or columns).
fn dihedral(a: &[f32; 256]) -> [[f32; 256]; 7] {
    let at = |i: usize, j: usize| a[i * 16 + j];
    let mut out = [[0f32; 256]; 7];
    for i in 0..16 {
        for j in 0..16 {
            let v = at(i, j);
            let odd_i = i % 2 == 1;
            let odd_j = j % 2 == 1;
            let odd_sum = (i + j) % 2 == 1;
            out[0][j * 16 + i] = if odd_j { v } else { -v }; // rotate 90
            out[1][i * 16 + j] = if odd_sum { -v } else { v }; // rotate 180
            out[2][j * 16 + i] = if odd_i { v } else { -v }; // rotate 270
            out[3][i * 16 + j] = if odd_i { v } else { -v }; // flip x
            out[4][i * 16 + j] = if odd_j { v } else { -v }; // flip y
            out[5][j * 16 + i] = v; // transpose
            out[6][j * 16 + i] = if odd_sum { -v } else { v }; // anti-transpose
        }
    }
    out
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
        assert!(p.pdq.quality > 50, "{}", p.pdq.quality);
        assert_eq!(p.variants.len(), 7);
    }

    #[test]
    fn orientation_is_undone_before_hashing() {
        let upright = picture(120, 90);
        let expected = of_pixels(&upright).unwrap().pdq.hash;
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
        assert_eq!(of_pixels(&stored).unwrap().pdq.hash, expected);
    }
}

#[cfg(test)]
mod dihedral_tests {
    use super::*;

    fn pixels(w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) -> Pixels {
        let mut data = Vec::new();
        for y in 0..h {
            for x in 0..w {
                data.extend_from_slice(&f(x, y));
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

    /// Shapes and gradients a photo might have (detail at the scale PDQ keeps).
    fn scene(x: u32, y: u32) -> [u8; 3] {
        let (fx, fy) = (x as f32, y as f32);
        let mut v = 60.0 + 40.0 * (fx / 23.0).sin() + 30.0 * (fy / 17.0).cos();
        for (cx, cy, r, add) in [
            (70.0, 50.0, 30.0, 90.0),
            (230.0, 160.0, 45.0, -50.0),
            (150.0, 200.0, 20.0, 120.0),
        ] {
            if (fx - cx) * (fx - cx) + (fy - cy) * (fy - cy) < r * r {
                v += add;
            }
        }
        let v = v.clamp(0.0, 255.0) as u8;
        [v, v / 2 + 60, 255 - v]
    }

    /// A mirrored or rotated copy's own hash is among the original's variants (within the
    /// few bits that decimation at other cell centres moves).
    #[test]
    fn mirrored_and_rotated_copies_match_a_variant() {
        let (w, h) = (320u32, 240u32);
        let original = of_pixels(&pixels(w, h, scene)).unwrap();
        let copies = [
            pixels(w, h, |x, y| scene(w - 1 - x, y)),
            pixels(w, h, |x, y| scene(x, h - 1 - y)),
            pixels(w, h, |x, y| scene(w - 1 - x, h - 1 - y)),
            pixels(h, w, |x, y| scene(y, h - 1 - x)),
            pixels(h, w, |x, y| scene(w - 1 - y, x)),
            pixels(h, w, |x, y| scene(y, x)),
        ];
        for (n, copy) in copies.iter().enumerate() {
            let hash = of_pixels(copy).unwrap().pdq.hash;
            let direct = hash.distance(&original.pdq.hash);
            let best = original
                .variants
                .iter()
                .map(|v| v.distance(&hash))
                .min()
                .unwrap();
            assert!(
                best <= 16 && direct > 60,
                "copy {n}: best variant {best}, direct {direct}"
            );
        }
    }

    #[test]
    fn a_transparent_picture_is_hashed_over_white_and_over_black() {
        // A mask: black pixels whose alpha carries the picture.
        let (w, h) = (120u32, 90u32);
        let mut data = Vec::new();
        for y in 0..h {
            for x in 0..w {
                let l = scene(x, y)[0];
                data.extend_from_slice(&[0, 0, 0, 255 - l]);
            }
        }
        let mask = Pixels {
            width: w,
            height: h,
            alpha: true,
            data,
            orientation: 1,
            source_width: w,
            source_height: h,
            source_mime: "image/png",
        };
        let grey = pixels(w, h, |x, y| {
            let l = scene(x, y)[0];
            [l, l, l]
        });
        let shown = of_pixels(&grey).unwrap().pdq.hash;
        let hashes = of_pixels(&mask).unwrap();
        assert_eq!(hashes.variants.len(), 15);
        let best = std::iter::once(hashes.pdq.hash)
            .chain(hashes.variants.iter().copied())
            .map(|v| v.distance(&shown))
            .min()
            .unwrap();
        assert!(best <= 8, "{best}");
    }
}
