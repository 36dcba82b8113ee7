//! The upload pipeline: ingest (stage + digests) → dedup → thumbnail and every store of the
//! upload plan in parallel → record in the catalog(s) → events.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::future::join_all;
use media_core::{
    ErrorKind, MediaError, MediaEvent, MediaFile, MediaId, Operation, OperationId, Progress,
    Result, StagedBlob, Thumbnail, Timestamp,
};
use tracing::{info, warn};

use crate::inflight::Joined;
use crate::ingest::{clean_name, ingest, Ingested, UploadRequest};
use crate::state::Inner;

/// Emit an upload progress event at most every this many bytes per backend.
const PROGRESS_STEP: u64 = 4 << 20;

pub(crate) async fn run(
    inner: Arc<Inner>,
    op: OperationId,
    request: UploadRequest,
) -> Result<MediaFile> {
    let _active = inner.stats.active();
    inner.emit(MediaEvent::UploadStarted {
        op,
        name: clean_name(&request.name),
    });
    let result = upload_steps(&inner, op, request).await;
    if let Err(e) = &result {
        inner.emit(MediaEvent::UploadFailed {
            op,
            error: e.summary(),
        });
    }
    result
}

async fn upload_steps(
    inner: &Arc<Inner>,
    op: OperationId,
    request: UploadRequest,
) -> Result<MediaFile> {
    let name = clean_name(&request.name);
    if let Some(at) = request.expires_at {
        if at <= Timestamp::now() {
            return Err(MediaError::invalid_input(
                Operation::Upload,
                "expires_at is in the past",
            ));
        }
    }
    let part = inner.staging.join(format!("{}.part", op.0));
    let ingested = ingest(request.input, &name, part, inner.max_size).await?;
    let id = ingested.digests.id();
    inner.emit(MediaEvent::Ingested {
        op,
        id,
        size: ingested.digests.size,
    });
    info!(%id, size = ingested.digests.size, %name, "ingested");

    let mime = request
        .mime
        .unwrap_or_else(|| ingested.sniffed_mime.to_owned());
    let part_path = ingested.path.clone();
    let dedup_inner = Arc::clone(inner);
    // Only a record whose chunk list this node verified answers a later upload: a stranger's
    // record with the same id (and forged chunks) is replaced by this upload's.
    let existing = async move {
        Ok(dedup_inner.catalog.get(&id).await?.filter(|f| {
            !f.is_expired_at(Timestamp::now())
                && dedup_inner.anchors.trust(f) == crate::anchors::Trust::Anchored
        }))
    };
    let store_inner = Arc::clone(inner);
    let expires_at = request.expires_at;
    let start =
        async move { store_everywhere(&store_inner, op, ingested, name, mime, expires_at).await };
    let (result, joined) = inner.uploads.run(id, existing, start).await;
    if joined != Joined::Led {
        let _ = std::fs::remove_file(&part_path);
    }
    let file = result?;
    inner.emit(MediaEvent::UploadFinished {
        op,
        id,
        stored: backends_holding(inner, &file),
        deduplicated: joined != Joined::Led,
    });
    Ok(file)
}

fn backends_holding(inner: &Inner, file: &MediaFile) -> Vec<String> {
    inner
        .backends
        .iter()
        .filter(|b| file.location(&b.kind()).is_some())
        .map(|b| b.name().to_owned())
        .collect()
}

/// Put the staged blob on every backend of the upload plan, then record it.
async fn store_everywhere(
    inner: &Arc<Inner>,
    op: OperationId,
    ingested: Ingested,
    name: String,
    mime: String,
    expires_at: Option<Timestamp>,
) -> Result<MediaFile> {
    let digests = Arc::new(ingested.digests);
    let id = digests.id();
    let staged_path = inner.staging.join(id.to_string());
    std::fs::rename(&ingested.path, &staged_path)
        .map_err(|e| MediaError::io(Operation::Upload, "moving staged file", e))?;
    let blob = StagedBlob::new(&staged_path, &name, &mime, Arc::clone(&digests));

    let all: Vec<usize> = (0..inner.backends.len()).collect();
    let plan = inner.upload_policy.plan(&inner.candidates(&all));
    let puts = plan.targets.iter().map(|&i| {
        let backend = Arc::clone(&inner.backends[i]);
        let progress = progress_events(inner, op, id, backend.name(), digests.size);
        let blob = &blob;
        async move {
            // Each store's outcome is reported the moment it is known, not when the slowest
            // store is done, so a caller following events sees the fast stores land first.
            let bname = backend.name().to_owned();
            let result = backend
                .put(blob, progress)
                .await
                .map_err(|e| e.or_backend(&bname));
            let event = match &result {
                Ok(location) => MediaEvent::Stored {
                    op,
                    id,
                    backend: bname,
                    location: location.clone(),
                },
                Err(e) => {
                    warn!(%id, backend = %bname, error = %e, "store failed");
                    MediaEvent::StoreFailed {
                        op,
                        id,
                        backend: bname,
                        error: e.summary(),
                    }
                }
            };
            inner.emit(event);
            (backend, result)
        }
    });
    let (results, thumbnail) =
        futures::join!(join_all(puts), make_thumbnail(inner, &staged_path, &mime));

    let mut record = MediaFile::new(&name, &mime, &digests, Timestamp::now());
    record.expires_at = expires_at;
    record.thumbnail = thumbnail;
    let mut failures = Vec::new();
    let mut stored = Vec::new();
    for (backend, result) in results {
        match result {
            Ok(location) => {
                record.add_location(location.clone());
                stored.push((backend, location));
            }
            Err(e) => failures.push(e),
        }
    }

    let outcome = if stored.len() < plan.required {
        let detail: Vec<String> = failures.iter().map(ToString::to_string).collect();
        // Undo partial stores so a failed upload leaves nothing behind.
        for (backend, location) in &stored {
            if backend.capabilities().delete {
                let _ = backend.delete(location).await;
            }
        }
        let retryable = failures.iter().any(MediaError::is_retryable);
        Err(MediaError::new(
            ErrorKind::PolicyUnsatisfied,
            Operation::Upload,
            format!(
                "{} of {} stores succeeded, {} required: {}",
                stored.len(),
                plan.targets.len(),
                plan.required,
                detail.join("; ")
            ),
        )
        .with_retryable(retryable))
    } else {
        // This node computed the digests: the record is anchored.
        let stored = match inner.anchors.set(&record) {
            Ok(()) => inner.catalog.put(&record).await.map(|()| record),
            Err(e) => Err(e),
        };
        if let (Ok(record), Some(shared)) = (&stored, &inner.shared_catalog) {
            // Best effort: the media is stored; other nodes just cannot resolve it by id yet.
            if let Err(e) = shared.put(record).await {
                warn!(%id, error = %e, "could not publish the record to the shared catalog");
            }
        }
        stored
    };
    let _ = std::fs::remove_file(&staged_path);
    outcome
}

/// The inline thumbnail of a staged file, made on a blocking thread while the stores upload.
/// A thumbnail that cannot be made never fails the upload.
async fn make_thumbnail(inner: &Inner, staged: &Path, mime: &str) -> Option<Thumbnail> {
    let thumbnailer = Arc::clone(inner.thumbnailer.as_ref()?);
    let (path, mime) = (staged.to_path_buf(), mime.to_owned());
    let made = tokio::task::spawn_blocking(move || thumbnailer.thumbnail(&path, &mime)).await;
    match made {
        Ok(Ok(thumb)) => thumb,
        Ok(Err(e)) => {
            warn!(path = %staged.display(), error = %e, "no thumbnail");
            None
        }
        Err(e) => {
            warn!(error = %e, "thumbnail task failed");
            None
        }
    }
}

/// A progress sink that turns a backend's byte counts into throttled events.
fn progress_events(
    inner: &Arc<Inner>,
    op: OperationId,
    id: MediaId,
    backend: &str,
    total: u64,
) -> Progress {
    let inner = Arc::clone(inner);
    let backend = backend.to_owned();
    let last = AtomicU64::new(0);
    Progress::new(move |bytes| {
        let prev = last.load(Ordering::Relaxed);
        if bytes >= total || bytes >= prev + PROGRESS_STEP {
            last.store(bytes, Ordering::Relaxed);
            inner.emit(MediaEvent::UploadProgress {
                op,
                id,
                backend: backend.clone(),
                bytes,
                total,
            });
        }
    })
}
