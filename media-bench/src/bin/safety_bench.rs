//! `cargo xtask bench safety`: PDQ at ingest against Meta's reference and the denylist lookup.
//!
//! argv: a folder, and the `PYTHONPATH` of Pillow + pdqhash. `py/pdq_corpus.py` makes the
//! pictures (Pillow) and times pdqhash on a 12 MP JPEG; this program hashes every picture as
//! an upload does (`make_thumbnails`: the thumbnailer's decode, EXIF orientation applied),
//! then reports: recall of the transformed copies at distance ≤ 31, false matches among all
//! pairs of the distinct photos, our time on the 12 MP JPEG with and without the hash, and
//! lookups in a 1,000,000-entry list by multi-index hashing against a linear scan.
//! Last line: one JSON object.

use std::time::Instant;

use media_core::PdqHash;
use media_safety::PdqIndex;
use media_thumb::{make_thumbnails, ThumbnailOptions};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn random_hash(seed: &mut u64) -> PdqHash {
    let mut h = [0u8; 32];
    for b in &mut h {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *b = *seed as u8;
    }
    PdqHash(h)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (dir, pythonpath) = (std::path::PathBuf::from(&args[1]), &args[2]);
    std::fs::create_dir_all(&dir).expect("bench folder");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/py/pdq_corpus.py");
    let out = std::process::Command::new("python3")
        .args([script, dir.to_str().expect("utf-8 path"), "100", "1000"])
        .env("PYTHONPATH", pythonpath)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let options = ThumbnailOptions::default();
    let mut originals = std::collections::HashMap::new();
    let mut copies = Vec::new();
    let mut distinct = Vec::new();
    let mut big = None;
    let mut pdqhash_big_s = 0.0;
    for l in &lines {
        if let Some(s) = l["pdqhash_big_s"].as_f64() {
            pdqhash_big_s = s;
            continue;
        }
        let file = l["file"].as_str().expect("file");
        let transform = l["transform"].as_str().expect("transform").to_owned();
        let group = l["group"].as_i64().expect("group");
        if transform == "big" {
            big = Some(std::fs::read(file).expect("big.jpg"));
            continue;
        }
        let bytes = std::fs::read(file).expect("read");
        let hash = make_thumbnails(&bytes, &options)
            .expect("thumbnail")
            .pdq
            .expect("a hash")
            .hash;
        match transform.as_str() {
            "original" => {
                originals.insert(group, hash);
            }
            "distinct" => distinct.push(hash),
            _ => copies.push((group, transform, hash)),
        }
    }
    // Recall per transform, at the default distance of 31.
    let mut per: std::collections::BTreeMap<String, (u32, u32, u32)> = Default::default();
    for (group, transform, hash) in &copies {
        let d = originals[group].distance(hash);
        let e = per.entry(transform.clone()).or_default();
        e.0 += 1;
        e.1 += u32::from(d <= 31);
        e.2 = e.2.max(d);
    }
    let matched: u32 = per.values().map(|e| e.1).sum();
    let recall = f64::from(matched) / copies.len() as f64;
    for (t, (n, m, worst)) in &per {
        println!("{t:>14}: {m}/{n} within 31 (largest distance {worst})");
    }
    let mut false_matches = 0u64;
    let mut closest = 256;
    for i in 0..distinct.len() {
        for j in i + 1..distinct.len() {
            let d = distinct[i].distance(&distinct[j]);
            closest = closest.min(d);
            false_matches += u64::from(d <= 31);
        }
    }
    let pairs = distinct.len() * (distinct.len() - 1) / 2;
    println!("distinct: {false_matches} matches among {pairs} pairs (closest {closest} bits)");

    // A 12 MP JPEG at ingest: the thumbnailer with the hash, and the hash alone on the same
    // decode (`pdq_of_rgb` over the decoded pixels the thumbnailer would hold).
    let big = big.expect("big.jpg");
    let mut with = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let made = make_thumbnails(&big, &options).expect("thumbnail");
        with.push(t.elapsed().as_secs_f64());
        assert!(made.pdq.is_some());
    }
    let decoded = image::load_from_memory(&big).expect("decode").to_rgb8();
    let small = image::imageops::thumbnail(&decoded, 504, 378);
    let mut alone = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        media_thumb::pdq_of_rgb(small.width(), small.height(), small.as_raw()).expect("hash");
        alone.push(t.elapsed().as_secs_f64());
    }
    let (with, alone) = (median(with), median(alone));
    println!(
        "12 MP JPEG: thumbnail + PDQ {:.1} ms (PDQ itself {:.2} ms on the 504x378 decode); pdqhash {:.1} ms",
        with * 1e3,
        alone * 1e3,
        pdqhash_big_s * 1e3
    );

    // A million-entry list: build, then 10,000 lookups (half near a listed hash).
    let mut seed = 0x2545_f491_4f6c_dd1d;
    let listed: Vec<PdqHash> = (0..1_000_000).map(|_| random_hash(&mut seed)).collect();
    let t = Instant::now();
    let index = PdqIndex::new(listed.clone());
    let build = t.elapsed().as_secs_f64();
    let queries: Vec<PdqHash> = (0..10_000)
        .map(|i| {
            if i % 2 == 0 {
                let mut q = listed[(i * 97) % listed.len()];
                for k in 0..20 {
                    let bit = (k * 13 + i) % 256;
                    q.0[31 - bit / 8] ^= 1 << (bit % 8);
                }
                q
            } else {
                random_hash(&mut seed)
            }
        })
        .collect();
    let t = Instant::now();
    let found = queries
        .iter()
        .filter(|q| index.nearest(q, 31).is_some())
        .count();
    let mih = t.elapsed().as_secs_f64() / queries.len() as f64;
    let t = Instant::now();
    let linear_found = queries[..100]
        .iter()
        .filter(|q| index.nearest_linear(q, 31).is_some())
        .count();
    let linear = t.elapsed().as_secs_f64() / 100.0;
    assert_eq!(
        linear_found,
        queries[..100]
            .iter()
            .filter(|q| index.nearest(q, 31).is_some())
            .count()
    );
    println!(
        "1,000,000 hashes: built in {build:.2} s; lookup {:.1} µs (MIH), {:.1} µs (linear); {found} of 10000 found",
        mih * 1e6,
        linear * 1e6
    );
    println!(
        "{}",
        serde_json::json!({
            "recall": recall, "copies": copies.len(), "false_matches": false_matches,
            "pairs": pairs, "closest": closest, "ingest_with_pdq_s": with,
            "pdq_alone_s": alone, "pdqhash_big_s": pdqhash_big_s,
            "lookup_mih_s": mih, "lookup_linear_s": linear, "build_s": build,
        })
    );
}
