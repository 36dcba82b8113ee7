//! Benchmark helper for `cargo xtask bench privacy`: age encryption and decryption of FILE by
//! our streaming code and by the `age` CLI, side by side (alternating, median of 3); then a
//! 1 MiB range read from the end of FILE stored encrypted against the same read of FILE
//! stored plain, through `MediaStore` over a folder store. Prints one JSON line.

use media_bench::median;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use media_core::testing::DirBackend;
use media_core::{Backend, BackendKind, ByteRange};
use media_facade::media_privacy::seal::{encrypt_file, read_range};
use media_facade::media_privacy::{Identity, MetadataPolicy};
use media_facade::{MediaStore, UploadRequest};

fn age(args: &[&str]) -> Result<f64, Box<dyn std::error::Error>> {
    let t = Instant::now();
    let status = Command::new("age").args(args).status()?;
    if !status.success() {
        return Err(format!("age {args:?} failed").into());
    }
    Ok(t.elapsed().as_secs_f64())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let file = std::env::args().nth(1).ok_or("usage: privacy_bench FILE")?;
    let parent = std::path::Path::new(&file)
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .to_path_buf();
    let work = tempfile::tempdir_in(&parent)?;
    let identity = Identity::generate();
    let key = work.path().join("key.txt");
    std::fs::write(&key, format!("{}\n", identity.to_secret_string()))?;
    let recipient = identity.recipient().to_string();
    let (ours_age, theirs_age) = (work.path().join("ours.age"), work.path().join("theirs.age"));
    let size = std::fs::metadata(&file)?.len();

    let (mut enc_ours, mut enc_age, mut dec_ours, mut dec_age) = (vec![], vec![], vec![], vec![]);
    for round in 0..3 {
        let ours_enc = || -> Result<f64, Box<dyn std::error::Error>> {
            let t = Instant::now();
            encrypt_file(
                std::path::Path::new(&file),
                &ours_age,
                &[identity.recipient()],
            )?;
            Ok(t.elapsed().as_secs_f64())
        };
        let theirs_enc = || {
            age(&[
                "-r",
                &recipient,
                "-o",
                theirs_age.to_str().unwrap_or(""),
                &file,
            ])
        };
        if round % 2 == 0 {
            enc_ours.push(ours_enc()?);
            enc_age.push(theirs_enc()?);
        } else {
            enc_age.push(theirs_enc()?);
            enc_ours.push(ours_enc()?);
        }
        let ours_dec = || -> Result<f64, Box<dyn std::error::Error>> {
            let t = Instant::now();
            let n = read_range(
                std::fs::File::open(&ours_age)?,
                &identity,
                0,
                u64::MAX,
                &mut std::io::sink(),
            )?;
            if n != size {
                return Err("short decryption".into());
            }
            Ok(t.elapsed().as_secs_f64())
        };
        let theirs_dec = || {
            age(&[
                "-d",
                "-i",
                key.to_str().unwrap_or(""),
                "-o",
                "/dev/null",
                ours_age.to_str().unwrap_or(""),
            ])
        };
        if round % 2 == 0 {
            dec_ours.push(ours_dec()?);
            dec_age.push(theirs_dec()?);
        } else {
            dec_age.push(theirs_dec()?);
            dec_ours.push(ours_dec()?);
        }
    }

    // Range reads through the store: the same bytes stored plain and stored encrypted.
    let store = MediaStore::builder(work.path().join("node"))
        .backend(Arc::new(DirBackend::new(
            "dir",
            BackendKind::CDN,
            work.path().join("dir"),
        )?) as Arc<dyn Backend>)
        .build()
        .await?;
    let plain = store
        .upload(UploadRequest::path(&file).with_metadata_policy(MetadataPolicy::Keep))
        .await?;
    let sealed = store
        .upload(UploadRequest::path(&file).encrypt_to(vec![identity.recipient()]))
        .await?;
    let tail = ByteRange::new(size - (1 << 20), size);
    let (mut range_plain, mut range_sealed) = (vec![], vec![]);
    // Milliseconds each: 15 rounds steady the medians.
    for _ in 0..15 {
        let t = Instant::now();
        let got = store.open(&plain.id, tail).await?.read_to_end().await?;
        range_plain.push(t.elapsed().as_secs_f64());
        assert_eq!(got.len(), 1 << 20);
        let t = Instant::now();
        let mut stream = store.open_private(&sealed.id, tail, &identity).await?;
        let mut n = 0;
        while let Some(piece) = stream.next().await {
            n += piece?.len();
        }
        range_sealed.push(t.elapsed().as_secs_f64());
        assert_eq!(n, 1 << 20);
    }
    println!(
        "{{\"size\":{size},\"encrypt_ours_s\":{:.4},\"encrypt_age_s\":{:.4},\"decrypt_ours_s\":{:.4},\"decrypt_age_s\":{:.4},\"range_plain_s\":{:.5},\"range_sealed_s\":{:.5}}}",
        median(enc_ours),
        median(enc_age),
        median(dec_ours),
        median(dec_age),
        median(range_plain),
        median(range_sealed)
    );
    Ok(())
}
