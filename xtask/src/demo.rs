//! `cargo xtask demo`: the end-to-end demo on the embedded stack.

use crate::tools::ensure_apt;
use crate::util::{cargo, target_dir, Res};

/// Build the demo with cargo's own progress shown (a cold build takes minutes on two cores),
/// then run it.
pub(crate) fn run() -> Res {
    // The private-photo step checks the stored object with the stock `age` tool.
    ensure_apt("age", "--version", "age", "the demo's private-photo step")?;
    let built = target_dir().join("debug/examples/demo").is_file();
    if !built {
        eprintln!(
            "==> first build of the demo: librqbit, iroh and aws-sdk-s3 compile from source, \
             about 10-15 minutes on two cores; later runs start in seconds"
        );
    }
    crate::util::run(
        "build the demo",
        cargo().args(["build", "-p", "media-facade", "--example", "demo"]),
    )?;
    crate::util::run(
        "demo",
        cargo().args(["run", "--quiet", "-p", "media-facade", "--example", "demo"]),
    )
}
