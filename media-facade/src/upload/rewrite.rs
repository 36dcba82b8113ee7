//! The privacy step of an upload, between ingest and the stores: metadata that tells where a
//! photo was taken or by what device is removed (or the upload refused) as the
//! [`MetadataPolicy`] says, before any store receives a byte.

use media_core::{digest_copy, MediaError, Operation};
use media_format::strip::{inspect, strip_in_place};
use media_format::{FaststartError, FormatError};
use media_privacy::MetadataPolicy;

use crate::upload::ingest::Ingested;

fn refused(e: FormatError) -> MediaError {
    match e {
        FormatError::Io(e) => MediaError::io(Operation::Ingest, "removing metadata", e),
        other => MediaError::invalid_input(Operation::Ingest, other.to_string()),
    }
}

fn not_remuxed(e: FaststartError) -> MediaError {
    match e {
        FaststartError::Io(e) => MediaError::io(Operation::Ingest, "remuxing to faststart", e),
        other => MediaError::invalid_input(Operation::Ingest, other.to_string()),
    }
}

/// Apply `policy` to the staged upload. When bytes change, the digests are computed again:
/// the id is the SHA-256 of what is stored. On error the staged file goes with `ingested`.
pub(crate) async fn apply(
    policy: MetadataPolicy,
    faststart: bool,
    mut ingested: Ingested,
) -> Result<Ingested, MediaError> {
    tokio::task::spawn_blocking(move || -> Result<Ingested, MediaError> {
        let path = ingested.staged.path().to_path_buf();
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
        // Video that starts at once: `moov` in front of the samples (lossless). A delivery
        // rewrite with its own switch: off for bytes stored as given (Blossom's `/upload`
        // needs its hash to hold).
        // Best effort: a video that cannot be remuxed (a trailer of junk, more boxes than
        // the walk follows) is stored as it is rather than refused.
        let remuxed = if faststart {
            match ingested
                .staged
                .rewrite("faststart", media_format::faststart_to, not_remuxed)
            {
                Ok(remuxed) => remuxed,
                Err(e) => {
                    tracing::warn!(error = %e, "stored without the faststart remux");
                    None
                }
            }
        } else {
            None
        };
        let remuxed_too = remuxed.is_some();
        let digests = match remuxed {
            Some(digests) => digests,
            None if removed.is_empty() => return Ok(ingested),
            None => {
                let file = std::fs::File::open(&path)
                    .map_err(|e| MediaError::io(Operation::Ingest, "re-reading", e))?;
                digest_copy(file, std::io::sink(), None)
                    .map_err(|e| MediaError::io(Operation::Ingest, "hashing the cleaned file", e))?
            }
        };
        tracing::info!(
            ?removed,
            remuxed = remuxed_too,
            "media rewritten before storing"
        );
        if remuxed_too {
            ingested.remuxed_from = Some(ingested.digests.sha256);
        }
        ingested.digests = digests;
        ingested.metadata_removed = removed;
        Ok(ingested)
    })
    .await
    .map_err(|e| MediaError::internal(Operation::Ingest, format!("metadata task: {e}")))?
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
    // Bytes that cannot be inspected (a file that does not parse) count as carrying everything.
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
