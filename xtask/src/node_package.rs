//! The `media-store` npm package (bindings/node): its dev tools installed from its lockfile,
//! the addon built by `napi build` (which also writes the `.d.ts` from the Rust
//! definitions), its TypeScript compiled to `dist/` and checked with `tsc --noEmit`, and its
//! tests run with `node --test` (one of them installs the packed package into an app).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{root, run, target_dir, Res};

/// The package's folder.
pub(crate) fn dir() -> PathBuf {
    root().join("bindings/node")
}

/// Install the package's dev dependencies (`npm ci`, no install scripts) and build the addon
/// with `napi build` (release for benchmarks), using `node` (≥ 22.18, which runs the
/// package's TypeScript as is).
pub(crate) fn build(node: &Path, release: bool) -> Res {
    let strips_types = Command::new(node)
        .args(["-e", "process.exit(process.features.typescript ? 0 : 1)"])
        .status()
        .is_ok_and(|s| s.success());
    if !strips_types {
        return Err(format!(
            "{} cannot run TypeScript as is: the npm package's tests need Node.js >= 22.18",
            node.display()
        ));
    }
    let dir = dir();
    let stamp = dir.join("node_modules/.package-lock.json");
    let lock = dir.join("package-lock.json");
    let fresh = match (std::fs::metadata(&stamp), std::fs::metadata(&lock)) {
        (Ok(s), Ok(l)) => s.modified().ok() >= l.modified().ok(),
        _ => false,
    };
    if !fresh {
        run(
            "install the npm package's tools (npm ci: @napi-rs/cli, typescript, @types/node)",
            Command::new("npm")
                .args([
                    "ci",
                    "--no-audit",
                    "--no-fund",
                    "--ignore-scripts",
                    "--loglevel=error",
                ])
                .current_dir(&dir),
        )?;
    }
    let mut napi = Command::new(node);
    napi.arg("node_modules/@napi-rs/cli/dist/cli.js")
        .args([
            "build",
            "--platform",
            "--manifest-path",
            "Cargo.toml",
            "--output-dir",
            "native",
            "--js",
            "index.cjs",
            "--dts",
            "index.d.cts",
            // String enums as union types: `'uploadProgress'` is a `MediaEventName`.
            "--no-const-enum",
        ])
        .env("CARGO_TARGET_DIR", target_dir())
        .current_dir(&dir);
    if release {
        napi.arg("--release");
    }
    run(
        "build the Node.js addon (napi build, .d.ts generated)",
        &mut napi,
    )?;
    run(
        "compile the npm package's TypeScript to dist/ (what `npm pack` ships)",
        Command::new(node)
            .args([
                "node_modules/typescript/bin/tsc",
                "-p",
                "tsconfig.build.json",
            ])
            .current_dir(&dir),
    )
}

/// Build the package, check its types (package, tests, example, benchmark against the
/// generated `.d.ts`) and run its tests against real stores on 127.0.0.1.
pub(crate) fn test(node: &Path) -> Res {
    build(node, false)?;
    let dir = dir();
    run(
        "typecheck the npm package (tsc --noEmit)",
        Command::new(node)
            .args(["node_modules/typescript/bin/tsc", "--noEmit", "-p", "."])
            .current_dir(&dir),
    )?;
    run(
        "the npm package's tests (node --test)",
        Command::new(node)
            .args([
                "--test",
                "--test-concurrency=1",
                "--test-timeout=300000",
                "test/*.test.ts",
            ])
            .current_dir(&dir),
    )
}
