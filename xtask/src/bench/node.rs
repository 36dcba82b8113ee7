//! `cargo xtask bench node`: the npm package against the `media` CLI, same file, same run.

use crate::util::*;

/// Upload and download of a `mib` MiB file through the package (a path and a stream each
/// way) against `media put` / `media get`, alternating, median of 3; and the longest the
/// event loop was blocked during the package's transfers.
pub(crate) fn bench(mib: u64) -> Res {
    let (_, node) = crate::tools::ensure_node_tools()?;
    crate::node_package::build(&node, true)?;
    let media = release_media()?;
    let file = bench_file(mib)?;
    settle_page_cache();
    let (_, out, _) = timed(
        std::process::Command::new(&node)
            .arg("bench/transfer.ts")
            .arg(&media)
            .arg(&file)
            .arg("3")
            .current_dir(crate::node_package::dir()),
    )?;
    let line = out.lines().last().unwrap_or_default();
    let field =
        |f: &str| json_field(line, f).ok_or(format!("bench/transfer.ts printed no {f}: {line}"));
    let mb = (mib << 20) as f64 / 1e6;
    let (cli_put, cli_get) = (field("cli_put_s")?, field("cli_get_s")?);
    println!("\nnpm package benchmark, {mib} MiB, embedded stack (CDN, IPFS, BitTorrent) on loopback, median of 3, alternating; each figure starts and stops the node");
    let row = |name: &str, secs: f64, against: f64| {
        println!(
            "  {name:<44} {secs:7.3} s  {:8.1} MB/s   speed vs CLI: {:.2}x (goal >= 0.9x)",
            mb / secs,
            against / secs
        )
    };
    println!(
        "  {:<44} {cli_put:7.3} s  {:8.1} MB/s",
        "media put (CLI)",
        mb / cli_put
    );
    row("uploadMedia(path)", field("package_put_path_s")?, cli_put);
    row(
        "uploadMedia(fs.createReadStream)",
        field("package_put_stream_s")?,
        cli_put,
    );
    println!(
        "  {:<44} {cli_get:7.3} s  {:8.1} MB/s",
        "media get (CLI)",
        mb / cli_get
    );
    row("downloadToFile", field("package_get_file_s")?, cli_get);
    row(
        "createReadStream piped to a file",
        field("package_get_stream_s")?,
        cli_get,
    );
    println!(
        "  event loop delay, max (monitorEventLoopDelay, 1 ms): {:.2} ms during the package's transfers (goal <= 10 ms); {:.2} ms in the same script idle while the CLI moves the bytes (the machine's baseline)",
        field("max_event_loop_delay_ms")?,
        field("max_delay_cli_idle_ms")?
    );
    println!(
        "  event loop busy running JavaScript (eventLoopUtilization): {:.1}% put(path), {:.1}% put(stream), {:.1}% downloadToFile, {:.1}% createReadStream",
        100.0 * field("loop_busy_put_path")?,
        100.0 * field("loop_busy_put_stream")?,
        100.0 * field("loop_busy_get_file")?,
        100.0 * field("loop_busy_get_stream")?
    );
    println!("  ({line})");
    Ok(())
}
