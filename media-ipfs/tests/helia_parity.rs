//! CID parity with Helia itself: `@helia/unixfs` (installed with npm by `cargo xtask test`)
//! computes the CID of files of many sizes, and ours must be identical — from a stream and
//! from the chunk digests that ingest computes.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use media_core::{Digester, CHUNK_SIZE};
use media_ipfs::FileDag;

const MIB: u64 = CHUNK_SIZE;

/// Writes `len` bytes whose 1 MiB chunks all differ.
fn write_file(path: &Path, len: u64, seed: u64) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ seed.wrapping_mul(0xA076_1D64_78BD_642F);
    let mut left = len;
    let mut block = vec![0u8; 1 << 16];
    while left > 0 {
        for word in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(block.len() as u64) as usize;
        out.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
    out.flush().unwrap();
}

fn helia_cids(dir: &Path, node: &Path, files: &[PathBuf]) -> Vec<String> {
    let script = common::script(dir, "helia_cids.mjs");
    let out = Command::new(node)
        .arg(&script)
        .args(files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "helia failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let cids: Vec<String> = text
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap().to_owned())
        .collect();
    assert_eq!(cids.len(), files.len(), "helia printed {text}");
    cids
}

fn ours_streaming(path: &Path) -> String {
    FileDag::of_reader(std::fs::File::open(path).unwrap())
        .unwrap()
        .root
        .to_string()
}

fn ours_from_ingest_digests(path: &Path) -> String {
    let mut digester = Digester::new();
    let mut file = std::fs::File::open(path).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut file, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        digester.update(&buf[..n]);
    }
    let digests = digester.finish();
    FileDag::from_chunk_digests(&digests.chunks, digests.size)
        .unwrap()
        .root
        .to_string()
}

#[test]
fn cids_match_helia_for_many_sizes() {
    let Some((npm_dir, node)) = common::helia("@helia/unixfs") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut sizes: Vec<u64> = vec![
        0,
        1,
        12,
        MIB - 1,
        MIB,
        MIB + 1,
        2 * MIB,
        3 * MIB + 7,
        5 * MIB - 1,
        8 * MIB,
    ];
    // Pseudo-random sizes (fixed seed, so a failure reproduces).
    let mut state = 0x1234_5678_9ABC_DEF1u64;
    for _ in 0..8 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        sizes.push(state % (40 * MIB));
    }
    let mut files = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let path = tmp.path().join(format!("f{i}-{size}.bin"));
        write_file(&path, size, i as u64);
        files.push(path);
    }
    // "hello world\n" as in the issue.
    std::fs::write(&files[2], b"hello world\n").unwrap();
    let theirs = helia_cids(&npm_dir, &node, &files);
    assert_eq!(
        theirs[2],
        "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"
    );
    assert_eq!(
        theirs[0],
        "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    );
    for (path, cid) in files.iter().zip(&theirs) {
        assert_eq!(&ours_streaming(path), cid, "{}", path.display());
        assert_eq!(&ours_from_ingest_digests(path), cid, "{}", path.display());
    }
}

#[test]
fn two_level_dag_matches_helia() {
    let Some((npm_dir, node)) = common::helia("@helia/unixfs") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // 1026 chunks: a root over a full node of 1024 leaves and a node of 2.
    let path = tmp.path().join("two-levels.bin");
    write_file(&path, 1025 * MIB + 12_345, 77);
    let theirs = helia_cids(&npm_dir, &node, std::slice::from_ref(&path));
    let ours = FileDag::of_reader(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(ours.nodes.len(), 3);
    assert_eq!(ours.root.to_string(), theirs[0]);
    assert_eq!(ours_from_ingest_digests(&path), theirs[0]);
}
