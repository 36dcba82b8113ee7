//! `cargo xtask test`: formatting, lints, each store feature alone, every test (with the
//! tools the interop tests need installed first), doc tests, and a bounded fuzz run of every
//! parser ([`crate::fuzz`]).

use crate::tools::{
    ensure_apt, ensure_libtorrent, ensure_node_tools, ensure_pdqhash, ensure_pillow_heif,
    ensure_seaweedfs, ensure_tuspy,
};
use crate::util::{cargo, have, run, Res};

pub(crate) fn test(args: &[String]) -> Res {
    let quick = args.iter().any(|a| a == "--quick");
    let weed = ensure_seaweedfs()?;
    let (npm_dir, node) = ensure_node_tools()?;
    let libtorrent = ensure_libtorrent()?;
    let pillow_heif = ensure_pillow_heif()?;
    let pdqhash = ensure_pdqhash()?;
    let tuspy = ensure_tuspy()?;
    ensure_apt(
        "exiftool",
        "-ver",
        "libimage-exiftool-perl",
        "the metadata-stripping tests",
    )?;
    ensure_apt("age", "--version", "age", "the encryption interop tests")?;
    ensure_apt("chromium", "--version", "chromium", "the browser tests")?;
    ensure_apt(
        "ffmpeg",
        "-version",
        "ffmpeg",
        "the browser and video tests",
    )?;
    ensure_apt(
        "heif-info",
        "--help",
        "libheif-examples",
        "the HEIC/AVIF tests (heif-info, heif-enc, and heif-convert, the decoder of previews)",
    )?;
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
        for features in [
            "", "cdn", "ipfs", "torrent", "thumb", "video", "blossom", "api",
        ] {
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
            // The addon is built and tested by `node_package::test` (napi build, node --test).
            .args([
                "test",
                "--workspace",
                "--exclude",
                "media-node",
                "--all-targets",
                "--all-features",
            ])
            .env("MEDIA_WEED_BIN", &weed)
            .env("MEDIA_REQUIRE_SEAWEEDFS", "1")
            .env("MEDIA_NODE_DIR", &npm_dir)
            .env("MEDIA_NODE_BIN", &node)
            .env("MEDIA_REQUIRE_NODE", "1")
            .env("MEDIA_PY_LIBTORRENT", &libtorrent)
            .env("MEDIA_PY_HEIF", &pillow_heif)
            .env("MEDIA_PY_PDQ", &pdqhash)
            .env("MEDIA_PY_TUS", &tuspy),
    )?;
    run(
        "doc tests",
        cargo().args([
            "test",
            "--workspace",
            "--exclude",
            "media-node",
            "--doc",
            "--all-features",
        ]),
    )?;
    // The npm package over the engine: built by napi, typed, and its tests over real stores.
    crate::node_package::test(&node)?;
    if !quick {
        // Every parser of strangers' bytes, under libFuzzer for a bounded time.
        crate::fuzz::fuzz(&[])?;
    }
    Ok(())
}
