//! Private media: encrypted with age to its recipients before any store sees a byte, read
//! back (ranges included) only with an identity, and interoperable with the stock `age` tool
//! both ways.

mod common;

use std::process::Command;

use common::*;
use futures::StreamExt;
use media_core::{ByteRange, ErrorKind, MediaId, PreferP2p};
use media_facade::media_privacy::{Identity, Recipient};
use media_facade::{ReadOptions, UploadRequest};

async fn collect(stream: media_core::ByteStream) -> Result<Vec<u8>, media_core::MediaError> {
    let mut out = Vec::new();
    let mut stream = stream;
    while let Some(piece) = stream.next().await {
        out.extend_from_slice(&piece?);
    }
    Ok(out)
}

/// `age` and `age-keygen`, or the install hint (unless MEDIA_SKIP_INTEROP is set).
fn age_tool() -> bool {
    let found = Command::new("age")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found && std::env::var_os("MEDIA_SKIP_INTEROP").is_none() {
        panic!("the age tool is required: run the tests with `cargo xtask test` (it installs Debian's `age`), install it yourself, or set MEDIA_SKIP_INTEROP=1 to skip on purpose");
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_media_is_ciphertext_everywhere_and_reads_only_with_an_identity() {
    let f = fixture(PreferP2p).await;
    let alice = Identity::generate();
    let bob = Identity::generate();
    let photo = media_core::sample_bytes(3 * 1024 * 1024 + 777, 9);
    let file = f
        .store
        .upload(
            UploadRequest::bytes("beach-with-kids.jpg", photo.clone())
                .with_mime("image/jpeg")
                .encrypt_to(vec![alice.recipient(), bob.recipient()]),
        )
        .await
        .unwrap();
    // The record names nothing of the content.
    assert_eq!(file.encryption.as_deref(), Some("age"));
    assert_eq!(file.name, "private");
    assert_eq!(file.mime, "application/age");
    assert!(file.thumbnail.is_none());
    assert_ne!(file.id, MediaId::for_bytes(&photo));
    let json = serde_json::to_string(&file).unwrap();
    assert!(
        !json.contains("beach") && !json.contains("image/jpeg"),
        "{json}"
    );

    // Plain reads are refused; the stores' bytes are an age file.
    let err = f.store.read_all(&file.id).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err}");
    let cipher = f
        .store
        .open_with(&file.id, ReadOptions::new().ciphertext())
        .await
        .unwrap()
        .read_to_end()
        .await
        .unwrap();
    assert!(cipher.starts_with(b"age-encryption.org/v1\n"));
    assert!(!cipher.windows(256).any(|w| w == &photo[500_000..500_256]));

    // Each recipient reads it whole and by range; a stranger cannot.
    for who in [&alice, &bob] {
        let whole = collect(
            f.store
                .open_private(&file.id, ByteRange::full(), who)
                .await
                .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(whole, photo);
    }
    let tail = ByteRange::new(photo.len() as u64 - 1_048_576, photo.len() as u64);
    let all = [&f.cdn, &f.ipfs, &f.torrent];
    let before: u64 = gets(&all).iter().sum();
    let got = collect(f.store.open_private(&file.id, tail, &bob).await.unwrap())
        .await
        .unwrap();
    assert_eq!(got, photo[photo.len() - 1_048_576..]);
    // The record carries the age header, so the range costs one store read: its own span.
    assert!(!file.age_header.is_empty() && cipher.starts_with(&file.age_header));
    assert_eq!(gets(&all).iter().sum::<u64>() - before, 1);

    // A record without the header (older, or an armored file) still reads: the first chunk
    // is fetched for it. One whose header was tampered with decrypts nothing.
    let mut bare = file.clone();
    bare.age_header.clear();
    let mut forged = file.clone();
    let at = forged.age_header.len() / 2;
    forged.age_header[at] ^= 0x01;
    for (record, reads) in [(bare, true), (forged, false)] {
        let dir = tempfile::tempdir().unwrap();
        let other = builder_with(&dir, &[f.cdn.clone(), f.ipfs.clone(), f.torrent.clone()])
            .build()
            .await
            .unwrap();
        other.import_ref(&record, &file.reference()).await.unwrap();
        let before: u64 = gets(&all).iter().sum();
        let got = match other.open_private(&record.id, tail, &bob).await {
            Ok(stream) => collect(stream).await,
            Err(e) => Err(e),
        };
        if reads {
            assert_eq!(got.unwrap(), photo[photo.len() - 1_048_576..]);
            assert_eq!(gets(&all).iter().sum::<u64>() - before, 2);
        } else {
            assert!(got.is_err(), "a tampered header decrypted");
        }
    }
    let stranger = Identity::generate();
    let Err(err) = f
        .store
        .open_private(&file.id, ByteRange::full(), &stranger)
        .await
    else {
        panic!("a stranger's identity opened it")
    };
    assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err}");

    // The same photo encrypted again: another object (no convergent encryption).
    let again = f
        .store
        .upload(UploadRequest::bytes("x", photo.clone()).encrypt_to(vec![alice.recipient()]))
        .await
        .unwrap();
    assert_ne!(again.id, file.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_age_tool_decrypts_what_we_store_and_we_read_what_it_encrypts() {
    if !age_tool() {
        return;
    }
    let f = fixture(PreferP2p).await;
    let dir = tempfile::tempdir().unwrap();
    let identity = Identity::generate();
    let key_file = dir.path().join("key.txt");
    std::fs::write(&key_file, format!("{}\n", identity.to_secret_string())).unwrap();
    let plain = media_core::sample_bytes(2 * 1024 * 1024 + 3, 10);

    // Ours -> age -d.
    let file = f
        .store
        .upload(UploadRequest::bytes("p", plain.clone()).encrypt_to(vec![identity.recipient()]))
        .await
        .unwrap();
    let cipher = f
        .store
        .open_with(&file.id, ReadOptions::new().ciphertext())
        .await
        .unwrap()
        .read_to_end()
        .await
        .unwrap();
    let sealed = dir.path().join("ours.age");
    std::fs::write(&sealed, &cipher).unwrap();
    let out = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&key_file)
        .arg(&sealed)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, plain);

    // age -r -> ours.
    let keygen = Command::new("age-keygen").output().unwrap();
    let theirs_key = String::from_utf8(keygen.stdout).unwrap();
    let theirs = Identity::from_file_text(&theirs_key).unwrap();
    let recipient: Recipient = theirs.recipient().to_string().parse().unwrap();
    let input = dir.path().join("plain.bin");
    std::fs::write(&input, &plain).unwrap();
    let encrypted = dir.path().join("theirs.age");
    let status = Command::new("age")
        .arg("-r")
        .arg(recipient.to_string())
        .arg("-o")
        .arg(&encrypted)
        .arg(&input)
        .status()
        .unwrap();
    assert!(status.success());
    let stored = f
        .store
        .upload(UploadRequest::path(&encrypted).age_ciphertext())
        .await
        .unwrap();
    assert_eq!(
        stored.id,
        MediaId::for_bytes(&std::fs::read(&encrypted).unwrap())
    );
    let got = collect(
        f.store
            .open_private(&stored.id, ByteRange::new(1_000_000, 1_500_000), &theirs)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(got, plain[1_000_000..1_500_000]);
}
