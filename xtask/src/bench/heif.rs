//! `cargo xtask bench heif`.

use crate::tools::ensure_apt;
use crate::util::*;

/// HEIC cleaning by `media_format` against `exiftool -all= -overwrite_original` on the same
/// 50 phone-sized HEICs (goal ≤ 0.1× its time); a 256-pixel HEIC thumbnail against
/// `heif-thumbnailer -s 256` and an HEVC poster against `ffmpeg -ss 0 -frames:v 1` (goals
/// ≤ 1.0× their time), side by side in one run.
pub(crate) fn bench() -> Res {
    ensure_apt(
        "exiftool",
        "-ver",
        "libimage-exiftool-perl",
        "the HEIF benchmark",
    )?;
    ensure_apt("ffmpeg", "-version", "ffmpeg", "the HEIF benchmark")?;
    ensure_apt(
        "heif-enc",
        "--help",
        "libheif-examples",
        "the HEIF benchmark",
    )?;
    ensure_apt(
        "heif-thumbnailer",
        "",
        "heif-thumbnailer",
        "the HEIF benchmark",
    )?;
    let exe = release_bench("heif_bench")?;
    let dir = bench_dir()?.join("heif");
    let (_, out, _) = timed(std::process::Command::new(&exe).arg(&dir))?;
    let line = out.lines().last().unwrap_or_default();
    let f =
        |name: &str| json_field(line, name).ok_or(format!("heif_bench printed no {name}: {line}"));
    let (so, se) = (f("strip_ours_s")?, f("strip_exiftool_s")?);
    let (to, tt) = (f("thumb_ours_s")?, f("thumb_heif_thumbnailer_s")?);
    let (po, pt) = (f("poster_ours_s")?, f("poster_ffmpeg_s")?);
    println!(
        "\nHEIF benchmark ({:.0} MB of HEIC inputs; medians, alternating which runs first)",
        f("input_mb")?
    );
    println!("  50 HEICs 4032x3024: ours {so:.3} s, exiftool -all= {se:.3} s: {:.3}x its time (goal <= 0.1x)", so / se);
    println!("  HEIC thumbnail 256 px: ours {to:.3} s, heif-thumbnailer -s 256 {tt:.3} s: {:.2}x (goal <= 1.0x)", to / tt);
    println!("  HEVC 1080p poster: ours {po:.3} s, ffmpeg -ss 0 -frames:v 1 {pt:.3} s: {:.2}x (goal <= 1.0x)", po / pt);
    Ok(())
}
