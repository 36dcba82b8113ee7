//! Writing verified bytes to a file the caller names: one place, for the library
//! ([`crate::MediaReader::write_to`]) and the `media` command line.

use std::path::Path;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use media_core::{MediaError, MediaId, Operation, Result};
use sha2::Digest;
use tokio::io::AsyncWriteExt;

/// Write `stream` to `path` through a temporary file renamed at the end, so a failed
/// download never leaves a partial file at `path`; with `expect`, the whole file must also
/// hash to that id. Only a regular file at `path` is replaced (never a link, a directory or
/// a device), and the temporary file is a new one (`.<name>.<random>.part` beside it, opened
/// with `O_EXCL`), never a file or a link that was already there. Returns the bytes written.
pub async fn write_file(
    path: &Path,
    mut stream: impl Stream<Item = Result<Bytes>> + Unpin,
    expect: Option<&MediaId>,
) -> Result<u64> {
    let op = Operation::Download;
    let io = |e| MediaError::io(op, format!("writing {}", path.display()), e);
    if let Ok(meta) = tokio::fs::symlink_metadata(path).await {
        if !meta.file_type().is_file() {
            return Err(MediaError::invalid_input(
                op,
                format!("{} exists and is not a regular file", path.display()),
            ));
        }
    }
    let name = path.file_name().ok_or_else(|| {
        MediaError::invalid_input(op, format!("{} names no file", path.display()))
    })?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|e| MediaError::internal(op, e.to_string()))?;
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = dir.join(format!(".{}.{suffix}.part", name.to_string_lossy()));
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .await
        .map_err(io)?;
    let mut check = sha2::Sha256::new();
    let mut written = 0u64;
    let result: Result<()> = async {
        while let Some(piece) = stream.next().await {
            let piece = piece?;
            if expect.is_some() {
                check.update(&piece);
            }
            file.write_all(&piece).await.map_err(io)?;
            written += piece.len() as u64;
        }
        if let Some(id) = expect {
            if MediaId::from_sha256(media_core::Digest32(check.finalize().into())) != *id {
                return Err(MediaError::integrity(
                    op,
                    format!("the bytes received do not hash to {id}"),
                ));
            }
        }
        file.sync_all().await.map_err(io)
    }
    .await;
    match result {
        Ok(()) => {
            tokio::fs::rename(&tmp, path).await.map_err(io)?;
            Ok(written)
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            Err(e)
        }
    }
}
