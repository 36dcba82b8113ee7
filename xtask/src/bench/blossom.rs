//! `cargo xtask bench blossom`.

use crate::util::*;

/// The node's Blossom server: `curl -T` upload against the slowest store alone, and `curl`
/// GET of the blob against `curl` of the same bytes from the S3 URL.
pub(crate) fn bench(mib: u64) -> Res {
    if !have("curl", "--version") {
        return Err("the Blossom benchmark compares against curl: install curl".into());
    }
    let exe = release_bench("blossom_bench")?;
    let file = bench_file(mib)?;
    let (_, out, _) = timed(std::process::Command::new(&exe).arg(&file))?;
    let line = out.lines().last().unwrap_or_default();
    let field =
        |f: &str| json_field(line, f).ok_or(format!("blossom_bench printed no {f}: {line}"));
    let (up, slowest, get, s3) = (
        field("upload_s")?,
        field("slowest_store_s")?,
        field("get_s")?,
        field("curl_s3_s")?,
    );
    let mb = (mib << 20) as f64 / 1e6;
    println!("\nBlossom benchmark, {mib} MiB blob, embedded stack on loopback (GETs: median of 5, alternating)");
    println!("  curl -T to PUT /upload (all stores)     {up:7.3} s  {:8.1} MB/s   ratio vs slowest store alone: {:.2}x (goal <= 1.2x)", mb / up, up / slowest);
    println!("  slowest store alone                     {slowest:7.3} s   ({line})");
    println!("  curl GET /<sha256> (verified)           {get:7.3} s  {:8.1} MB/s   speed vs curl on the S3 URL: {:.2}x (goal >= 0.9x)", mb / get, s3 / get);
    println!(
        "  curl GET on the S3 URL                  {s3:7.3} s  {:8.1} MB/s",
        mb / s3
    );
    Ok(())
}
