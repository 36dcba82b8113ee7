//! The privacy step of an upload, between ingest and the stores: metadata that tells where a
//! photo was taken or by what device is removed (or the upload refused) as the
//! [`MetadataPolicy`] says, before any store receives a byte.

use std::io::Write;
use std::path::PathBuf;

use media_core::{digest_copy, MediaError, Operation};
use media_privacy::strip::{inspect, strip_in_place};
use media_privacy::{MetadataPolicy, StripError};

use crate::upload::ingest::Ingested;

fn refused(e: StripError) -> MediaError {
    match e {
        StripError::Io(e) => MediaError::io(Operation::Ingest, "removing metadata", e),
        other => MediaError::invalid_input(Operation::Ingest, other.to_string()),
    }
}

/// Apply `policy` to the staged upload. When bytes change, the digests are computed again:
/// the id is the SHA-256 of what is stored. On error, the staged file's path comes back for
/// removal.
pub(crate) async fn apply(
    policy: MetadataPolicy,
    mut ingested: Ingested,
) -> Result<Ingested, (MediaError, PathBuf)> {
    let path = ingested.path.clone();
    let work = tokio::task::spawn_blocking(move || -> Result<_, MediaError> {
        let removed = match policy {
            MetadataPolicy::Keep => Vec::new(),
            MetadataPolicy::Reject => {
                let found = inspect(&path).map_err(refused)?;
                if found.had_location {
                    return Err(MediaError::invalid_input(
                        Operation::Ingest,
                        "the media carries a location (GPS) and the metadata policy is `reject`",
                    ));
                }
                Vec::new()
            }
            _ => {
                let report = strip_in_place(&path).map_err(refused)?;
                if report.changed() {
                    report.removed
                } else {
                    Vec::new()
                }
            }
        };
        // Video that starts at once: `moov` in front of the samples (lossless). `keep` stores
        // the bytes exactly as they came (Blossom's `/upload` needs its hash to hold).
        let remuxed = if policy == MetadataPolicy::Keep {
            None
        } else {
            faststart_hashed(&path)?
        };
        let remuxed_too = remuxed.is_some();
        let digests = match remuxed {
            Some(digests) => digests,
            None if removed.is_empty() => return Ok(None),
            None => {
                let file = std::fs::File::open(&path)
                    .map_err(|e| MediaError::io(Operation::Ingest, "re-reading", e))?;
                digest_copy(file, std::io::sink(), None)
                    .map_err(|e| MediaError::io(Operation::Ingest, "hashing the cleaned file", e))?
            }
        };
        Ok(Some((digests, removed, remuxed_too)))
    })
    .await;
    match work {
        Ok(Ok(Some((digests, removed, remuxed)))) => {
            tracing::info!(?removed, remuxed, "media rewritten before storing");
            if remuxed {
                ingested.remuxed_from = Some(ingested.digests.sha256);
            }
            ingested.digests = digests;
            ingested.metadata_removed = removed;
            Ok(ingested)
        }
        Ok(Ok(None)) => Ok(ingested),
        Ok(Err(e)) => Err((e, ingested.path)),
        Err(e) => Err((
            MediaError::internal(Operation::Ingest, format!("metadata task: {e}")),
            ingested.path,
        )),
    }
}

/// The stores (by name) that refuse an upload made under `applied`, each because its own
/// least policy in `rules` asks more than the staged bytes at `path` give, with the reason.
/// The bytes are inspected only when some store asks more than `applied` guarantees.
pub(crate) async fn stores_refusing(
    rules: &std::collections::BTreeMap<String, MetadataPolicy>,
    applied: MetadataPolicy,
    path: &std::path::Path,
) -> Vec<(String, &'static str)> {
    // What a policy guarantees: 2 = nothing removable left, 1 = no location, 0 = nothing.
    let strength = |p: MetadataPolicy| match p {
        MetadataPolicy::Keep => 0,
        MetadataPolicy::Reject => 1,
        _ => 2,
    };
    let stricter: Vec<(&String, MetadataPolicy)> = rules
        .iter()
        .filter(|(_, p)| strength(**p) > strength(applied))
        .map(|(name, p)| (name, *p))
        .collect();
    if stricter.is_empty() {
        return Vec::new();
    }
    let path = path.to_path_buf();
    let found = tokio::task::spawn_blocking(move || inspect(&path)).await;
    // Bytes that cannot be inspected (HEIC, a broken file) count as carrying everything.
    let (carries_metadata, carries_location) = match found {
        Ok(Ok(report)) => (report.changed(), report.had_location),
        _ => (true, true),
    };
    stricter
        .into_iter()
        .filter_map(|(name, p)| match p {
            MetadataPolicy::Reject if carries_location => Some((
                name.clone(),
                "it takes no media with a location (policy `reject`)",
            )),
            MetadataPolicy::Reject => None,
            _ if carries_metadata => Some((
                name.clone(),
                "it takes only media without metadata (policy `strip`)",
            )),
            _ => None,
        })
        .collect()
}

/// Remux the staged file at `path` to faststart if it needs it, hashing the new bytes as they
/// are written (through a pipe to [`digest_copy`], which writes the new file): its digests,
/// or `None` when the file was left as it is.
fn faststart_hashed(path: &std::path::Path) -> Result<Option<media_core::Digests>, MediaError> {
    let io = |what: &str, e| MediaError::io(Operation::Ingest, what, e);
    let tmp = path.with_extension("faststart");
    let (from_remux, to_hasher) = std::io::pipe().map_err(|e| io("a pipe", e))?;
    let out = std::fs::File::create(&tmp).map_err(|e| io("creating the remuxed file", e))?;
    let (remuxed, digests) = std::thread::scope(|scope| {
        let hasher = scope.spawn(move || digest_copy(from_remux, out, None));
        let remuxed = (|| {
            let mut pipe = std::io::BufWriter::with_capacity(1 << 20, to_hasher);
            let changed = media_privacy::faststart::faststart_to(path, &mut pipe)?;
            pipe.flush()?;
            Ok::<_, StripError>(changed)
        })();
        // The pipe's writing end is closed by now: the hasher sees the end.
        let digests = hasher
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the hashing thread panicked")));
        (remuxed, digests)
    });
    match remuxed {
        Ok(true) => {
            let digests = digests.map_err(|e| io("hashing the remuxed file", e))?;
            std::fs::rename(&tmp, path).map_err(|e| io("replacing the staged file", e))?;
            Ok(Some(digests))
        }
        Ok(false) => {
            let _ = std::fs::remove_file(&tmp);
            Ok(None)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(refused(e))
        }
    }
}
