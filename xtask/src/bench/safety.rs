//! `cargo xtask bench safety`.

use crate::tools::{ensure_pdqhash, ensure_pillow_heif};
use crate::util::*;

/// PDQ at ingest against Meta's reference (`pdqhash` from PyPI) on pictures Pillow makes:
/// recall over transformed copies (goal ≥ 0.95 within 31), false matches among all pairs of
/// 1,000 distinct photos (goal 0), the hash's cost on a 12 MP JPEG (goal ≤ 15 ms, or ≤ 0.5×
/// pdqhash's time), and a lookup in a 1,000,000-entry list (goal ≤ 1 ms).
pub(crate) fn bench() -> Res {
    let heif = ensure_pillow_heif()?;
    let pdq = ensure_pdqhash()?;
    let pythonpath = std::env::join_paths([heif, pdq]).map_err(|e| e.to_string())?;
    let exe = release_bench("safety_bench")?;
    let dir = bench_dir()?.join("safety");
    let (_, out, _) = timed(std::process::Command::new(&exe).arg(&dir).arg(&pythonpath))?;
    print!("{out}");
    let line = out.lines().last().unwrap_or_default();
    let f = |name: &str| {
        json_field(line, name).ok_or(format!("safety_bench printed no {name}: {line}"))
    };
    println!(
        "\nSafety benchmark: recall {:.3} (goal ≥ 0.95), {} false matches among {} pairs (goal 0), \
         PDQ {:.2} ms of a {:.1} ms 12 MP ingest thumbnail vs pdqhash {:.1} ms (goal ≤ 15 ms), \
         lookup {:.1} µs in 1,000,000 (goal ≤ 1000 µs; linear {:.0} µs)",
        f("recall")?,
        f("false_matches")?,
        f("pairs")?,
        f("pdq_alone_s")? * 1e3,
        f("ingest_with_pdq_s")? * 1e3,
        f("pdqhash_big_s")? * 1e3,
        f("lookup_mih_s")? * 1e6,
        f("lookup_linear_s")? * 1e6,
    );
    Ok(())
}
