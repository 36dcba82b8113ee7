//! What the Helia interop tests share: finding Node and the npm folder `cargo xtask test`
//! installed, and running one of our scripts from it.

use std::path::{Path, PathBuf};

/// The npm folder (holding `node_modules/{package}`) and the Node ≥ 22 binary, from
/// `MEDIA_NODE_DIR` / `MEDIA_NODE_BIN`. Their absence fails the test with the install hint,
/// unless `MEDIA_SKIP_INTEROP` is set.
pub fn helia(package: &str) -> Option<(PathBuf, PathBuf)> {
    let dir = std::env::var_os("MEDIA_NODE_DIR").map(PathBuf::from);
    let node = std::env::var_os("MEDIA_NODE_BIN").map(PathBuf::from);
    match (dir, node) {
        (Some(dir), Some(node)) if dir.join("node_modules").join(package).is_dir() => {
            Some((dir, node))
        }
        // Skipping is a decision someone makes, never a silent default.
        _ if std::env::var_os("MEDIA_SKIP_INTEROP").is_some() => None,
        _ => panic!("Helia is required: run the tests with `cargo xtask test` (it installs helia and node@22 with npm), set MEDIA_NODE_DIR and MEDIA_NODE_BIN, or set MEDIA_SKIP_INTEROP=1 to skip the interop tests on purpose"),
    }
}

/// Copy `tests/js/{script}` into the npm folder (ESM resolves packages next to the script)
/// and return its path there.
pub fn script(npm_dir: &Path, script: &str) -> PathBuf {
    let target = npm_dir.join(script);
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/js")
            .join(script),
        &target,
    )
    .unwrap();
    target
}
