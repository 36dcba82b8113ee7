//! `cargo xtask bench privacy`.

use crate::tools::ensure_apt;
use crate::util::*;

/// Our age encryption/decryption against the `age` CLI on the same file, and a 1 MiB range
/// read from the end of the file stored encrypted against the same read stored plain.
pub(crate) fn bench(mib: u64) -> Res {
    ensure_apt("age", "--version", "age", "the privacy benchmark")?;
    let exe = release_bench("privacy_bench")?;
    let file = bench_file(mib)?;
    let (_, out, _) = timed(std::process::Command::new(&exe).arg(&file))?;
    let line = out.lines().last().unwrap_or_default();
    let f = |name: &str| {
        json_field(line, name).ok_or(format!("privacy_bench printed no {name}: {line}"))
    };
    let mb = (mib << 20) as f64 / 1e6;
    let (eo, ea, d_o, da) = (
        f("encrypt_ours_s")?,
        f("encrypt_age_s")?,
        f("decrypt_ours_s")?,
        f("decrypt_age_s")?,
    );
    let (rp, rs) = (f("range_plain_s")?, f("range_sealed_s")?);
    println!("\nPrivacy benchmark, {mib} MiB file (median of 3, alternating which runs first)");
    println!("  encrypt: ours {eo:.3} s ({:.0} MB/s), age CLI {ea:.3} s ({:.0} MB/s): {:.2}x its speed (goal >= 1.0x)", mb / eo, mb / ea, ea / eo);
    println!("  decrypt: ours {d_o:.3} s ({:.0} MB/s), age CLI {da:.3} s ({:.0} MB/s): {:.2}x its speed (goal >= 1.0x)", mb / d_o, mb / da, da / d_o);
    println!("  1 MiB range from the end through MediaStore (median of 15): encrypted {:.1} ms, plain {:.1} ms: {:.2}x (goal <= 1.5x)", rs * 1e3, rp * 1e3, rs / rp);
    Ok(())
}
