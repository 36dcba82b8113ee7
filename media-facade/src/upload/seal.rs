//! Private media at upload: the staged plaintext replaced by its age encryption to the
//! recipients (hashed as it is written), and the age header the record carries. Reading it
//! back with an identity is `read/private.rs`.

use std::io::{Read, Write};
use std::path::PathBuf;

use media_core::{digest_copy, MediaError, MediaFile, Operation};
use media_privacy::seal::{encrypt_to_writer, AgeLayout, Recipient};
use media_privacy::SealError;

use crate::upload::ingest::Ingested;

/// The `encryption` of age-encrypted records.
pub(crate) const AGE: &str = "age";

/// An age error as the media error of `op`.
pub(crate) fn sealed(e: SealError, op: Operation) -> MediaError {
    match e {
        SealError::Io(e) => MediaError::io(op, "age", e),
        SealError::BadKey(m) => MediaError::invalid_input(op, m),
        SealError::Decrypt(m) => MediaError::new(media_core::ErrorKind::PermissionDenied, op, m),
        other => MediaError::internal(op, other.to_string()),
    }
}

/// Replace the staged plaintext by its age encryption to `recipients`; the digests become
/// the ciphertext's. On error, the path to remove comes back.
pub(crate) async fn encrypt(
    mut ingested: Ingested,
    recipients: Vec<Recipient>,
) -> std::result::Result<Ingested, (MediaError, PathBuf)> {
    let plain = ingested.path.clone();
    let sealed_path = plain.with_extension("age");
    let target = sealed_path.clone();
    let work = tokio::task::spawn_blocking(move || -> Result<_> {
        // Encryption on one thread, hashing and writing on the others, through a pipe: the
        // ciphertext is hashed as it is made, never read back.
        let io = |what: &str, e| MediaError::io(Operation::Ingest, what, e);
        let (from_sealer, to_hasher) = std::io::pipe().map_err(|e| io("a pipe", e))?;
        let out = std::fs::File::create(&target).map_err(|e| io("creating the ciphertext", e))?;
        std::thread::scope(|scope| {
            let sealer = scope.spawn(move || encrypt_to_writer(&plain, to_hasher, &recipients));
            // Returns at the end of the ciphertext, or early on an error (which drops the
            // pipe's reading end, so the sealer stops too).
            let digests = digest_copy(from_sealer, out, None);
            let sealed_ok = sealer.join().unwrap_or_else(|_| {
                Err(SealError::Io(std::io::Error::other(
                    "the encryption thread panicked",
                )))
            });
            sealed_ok.map_err(|e| sealed(e, Operation::Ingest))?;
            digests.map_err(|e| io("hashing the ciphertext", e))
        })
    })
    .await;
    let digests = match work {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => {
            let _ = std::fs::remove_file(&sealed_path);
            return Err((e, ingested.path));
        }
        Err(e) => {
            let _ = std::fs::remove_file(&sealed_path);
            return Err((
                MediaError::internal(Operation::Ingest, format!("encryption task: {e}")),
                ingested.path,
            ));
        }
    };
    // The plaintext never stays on disk longer than its encryption took.
    let _ = std::fs::remove_file(&ingested.path);
    ingested.path = sealed_path;
    ingested.digests = digests;
    ingested.sniffed_mime = "application/age";
    Ok(ingested)
}

/// The age header at the start of the staged ciphertext at `path`, for the record (empty if
/// it is armored or longer than a record may carry).
pub(crate) fn header_of(path: &std::path::Path) -> Vec<u8> {
    let mut prefix = Vec::new();
    let read = std::fs::File::open(path).and_then(|f| {
        f.take(MediaFile::MAX_AGE_HEADER as u64)
            .read_to_end(&mut prefix)
    });
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    match (read, AgeLayout::parse(&prefix, len)) {
        (Ok(_), Some(layout)) => {
            prefix.truncate(layout.payload_start as usize);
            prefix
        }
        _ => Vec::new(),
    }
}
