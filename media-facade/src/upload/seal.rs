//! Private media at upload: the staged plaintext replaced by its age encryption to the
//! recipients (hashed as it is written), and the age header the record carries. Reading it
//! back with an identity is `read/private.rs`.

use std::io::Read;

use media_core::{MediaError, MediaFile, Operation, Result};
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

/// Replace the staged plaintext by its age encryption to `recipients` (encrypted on one
/// thread, hashed as it is made on another: [`crate::upload::staged::Staged::rewrite`]); the
/// digests become the ciphertext's. The plaintext never stays on disk longer than its
/// encryption took; on error it goes with `ingested`.
pub(crate) async fn encrypt(
    mut ingested: Ingested,
    recipients: Vec<Recipient>,
) -> Result<Ingested> {
    tokio::task::spawn_blocking(move || -> Result<Ingested> {
        let digests = ingested
            .staged
            .rewrite(
                "age",
                |plain, out| encrypt_to_writer(plain, out, &recipients).map(|()| true),
                |e| sealed(e, Operation::Ingest),
            )?
            .ok_or_else(|| MediaError::internal(Operation::Ingest, "encryption wrote nothing"))?;
        ingested.digests = digests;
        ingested.sniffed_mime = "application/age";
        Ok(ingested)
    })
    .await
    .map_err(|e| MediaError::internal(Operation::Ingest, format!("encryption task: {e}")))?
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
