//! Every fuzz seed and past crash (`fuzz/seeds/`, `fuzz/regressions/`) through the thumbnail
//! fuzz harness, in the ordinary test run.

#[test]
fn every_seed_and_past_crash_decodes_without_a_panic() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut count = 0;
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let result = std::panic::catch_unwind(|| media_thumb::fuzz_thumbnail(&bytes));
            assert!(result.is_ok(), "{}", path.display());
            count += 1;
        }
    }
    assert!(count >= 6, "the seeds are missing");
}
