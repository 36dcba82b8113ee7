//! The upload pipeline: ingest (stage + digests, [`ingest`]) → rewrites before any store
//! sees a byte (metadata stripping and faststart, [`rewrite`]; age encryption, [`seal`]) →
//! dedup → thumbnail and every store of the upload plan in parallel → placements in the
//! ownership index → record in the catalog(s) → events.

pub(crate) mod ingest;
pub(crate) mod rewrite;
pub(crate) mod seal;
pub(crate) mod sessions;
pub(crate) mod staged;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use media_core::{
    Backend, ErrorKind, Location, MediaError, MediaEvent, MediaFile, MediaId, Operation,
    OperationId, Preview, Progress, Result, StagedBlob, Timestamp,
};
use tracing::{debug, info, warn};

use crate::state::inflight::Joined;
use crate::state::ownership::Owner;
use crate::state::Inner;
use crate::upload::ingest::{clean_name, ingest, Ingested, UploadRequest};

/// Emit an upload progress event at most every this many bytes per backend.
const PROGRESS_STEP: u64 = 4 << 20;

/// One upload, start to finish. Boxed with a named type: an upload may store a rendition
/// derived from it through this same pipeline.
pub(crate) fn run(
    inner: Arc<Inner>,
    op: OperationId,
    request: UploadRequest,
) -> futures::future::BoxFuture<'static, Result<MediaFile>> {
    Box::pin(async move {
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
    })
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
    let limit = match (inner.settings.max_size, request.max_size) {
        (Some(store), Some(asked)) => Some(store.min(asked)),
        (store, asked) => store.or(asked),
    };
    // The body is staged (and hashed as it arrives) before a slot is taken: a client that
    // trickles its body holds nothing but its own connection, never another upload's turn.
    let ingested = ingest(request.input, &name, part, limit).await?;
    // At most a few uploads rewrite, clean and encrypt at once: each keeps both cores busy.
    // (Every early return below drops `ingested`, and the staged file with it.)
    let slot = inner
        .ingest_slots
        .acquire()
        .await
        .map_err(|_| MediaError::internal(Operation::Upload, "the store is shutting down"))?;
    let id = ingested.digests.id();
    if let Some(expected) = request.expected.filter(|e| *e != id) {
        return Err(MediaError::new(
            ErrorKind::Integrity,
            Operation::Upload,
            format!("the bytes' SHA-256 is {id}, not the expected {expected}"),
        ));
    }
    // Before any store sees a byte: metadata removed (or refused) as the policy says. The id
    // is then the SHA-256 of the cleaned bytes, the ones actually stored.
    let (policy, faststart) = if request.already_age {
        (media_privacy::MetadataPolicy::Keep, false)
    } else {
        (
            request.metadata.unwrap_or(inner.settings.metadata_policy),
            request.faststart.unwrap_or(inner.settings.faststart),
        )
    };
    let mut ingested = crate::upload::rewrite::apply(policy, faststart, ingested).await?;
    let private = request.already_age || !request.recipients.is_empty();
    let preview = gate(
        inner,
        request.already_age,
        request.mime.as_deref(),
        &ingested,
        id,
    )
    .await?;
    // What the picture is, for this node's own index (private media's too).
    let picture = Picture {
        source: id,
        pdq: preview.pdq,
        variants: preview.pdq_variants.clone(),
    };
    // Nothing of a private upload's content goes in its record.
    let preview = if private { Preview::default() } else { preview };
    // Stores that ask more than this upload did; private media is ciphertext, which carries
    // nothing to find.
    let refusing = if private {
        Vec::new()
    } else {
        crate::upload::rewrite::stores_refusing(
            &inner.settings.store_metadata,
            policy,
            ingested.staged.path(),
        )
        .await
    };
    if !refusing.is_empty() {
        let takers = inner
            .backends
            .iter()
            .filter(|b| !refusing.iter().any(|(name, _)| name == b.name()))
            .count();
        if takers == 0 {
            let why: Vec<String> = refusing
                .iter()
                .map(|(name, reason)| format!("{name}: {reason}"))
                .collect();
            return Err(MediaError::invalid_input(
                Operation::Upload,
                format!(
                    "no store takes this upload as it is ({}); upload it with the metadata policy `strip`",
                    why.join("; ")
                ),
            ));
        }
        for (name, reason) in &refusing {
            info!(store = %name, reason, "store skipped for this upload");
        }
    }
    if !request.recipients.is_empty() {
        ingested = crate::upload::seal::encrypt(ingested, request.recipients).await?;
    }
    // Nothing in a private record names or describes its content.
    let name = if private { "private".to_owned() } else { name };
    drop(slot);
    let id = ingested.digests.id();
    inner.emit(MediaEvent::Ingested {
        op,
        id,
        size: ingested.digests.size,
    });
    info!(%id, size = ingested.digests.size, %name, "ingested");

    let mime = if private {
        "application/age".to_owned()
    } else {
        request
            .mime
            .unwrap_or_else(|| ingested.sniffed_mime.to_owned())
    };
    let dedup_inner = Arc::clone(inner);
    // Only a record whose chunk list this node verified answers a later upload: a stranger's
    // record with the same id (and forged chunks) is replaced by this upload's.
    // It must also be held by this node's own stores: an anchored record that only names
    // someone else's locations is not a copy this node keeps.
    let existing = async move {
        Ok(dedup_inner.catalog.get(&id).await?.filter(|f| {
            !f.is_expired_at(Timestamp::now())
                && dedup_inner.anchors.trust(f) == crate::state::anchors::Trust::Anchored
                && !dedup_inner.ownership.get(&id).placements.is_empty()
        }))
    };
    let store_inner = Arc::clone(inner);
    let expires_at = request.expires_at;
    let asked = (name.clone(), mime.clone());
    let share = inner.settings.p2p == crate::P2pMode::On && request.share_p2p.unwrap_or(!private);
    let describe = Describe {
        name,
        mime,
        expires_at,
        private,
        share,
        refusing: refusing.into_iter().map(|(name, _)| name).collect(),
        owner: request.owner,
        preview,
        picture,
    };
    let start = async move { store_everywhere(&store_inner, op, ingested, describe).await };
    // When another upload of the same bytes leads (or the media is already here), `start`
    // is dropped unrun and the staged file with it.
    let (result, joined) = inner.uploads.run(id, existing, start).await;
    let mut file = result?;
    // The owner's upload of media a Blossom signer stored first makes it the owner's: the
    // record says what the owner said (name, type, expiry), not what the stranger did.
    let owner_takes_over = request.owner == Owner::Node
        && joined != Joined::Led
        && !inner.ownership.owned_by(&id, Owner::Node);
    if owner_takes_over {
        (file.name, file.mime) = asked;
        file.expires_at = expires_at;
        inner.catalog.put(&file).await?;
    }
    // Whoever uploaded it wants it kept, a dedup hit included; a Blossom signer's claim
    // never makes the node's own media deletable through Blossom (see ownership.rs).
    inner.ownership.claim(&id, request.owner)?;
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

/// The safety gate, on the plaintext as it will be stored, before any store or the
/// encryption sees it: the upload's ids (as sent, as cleaned) and its picture's PDQ hashes.
/// The preview (thumbnail, poster, hashes) is made from what the bytes are, whatever type the
/// uploader declared; an upload of bytes this node already holds reuses their record's.
async fn gate(
    inner: &Arc<Inner>,
    already_age: bool,
    declared: Option<&str>,
    ingested: &Ingested,
    original: MediaId,
) -> Result<Preview> {
    let cleaned = ingested.digests.id();
    let sniffed = ingested.sniffed_mime;
    let declared = declared.unwrap_or(sniffed);
    // A picture by its bytes or by what its uploader says it is (a browser shows a BMP
    // served as image/bmp): with PDQ entries to match, one that cannot be hashed is refused.
    let picture = !already_age && (sniffed.starts_with("image/") || declared.starts_with("image/"));
    let preview = if already_age {
        Preview::default()
    } else if let Some(known) = held_already(inner, &cleaned, picture).await? {
        known
    } else {
        let mime = if sniffed.starts_with("image/") || sniffed.starts_with("video/") {
            sniffed
        } else {
            declared
        };
        make_preview(inner, ingested.staged.path(), mime).await
    };
    let mut hashes: Vec<media_core::PdqHash> = preview.pdq.iter().map(|p| p.hash).collect();
    hashes.extend(preview.pdq_variants.iter().copied());
    inner
        .safety
        .check_upload(&[original, cleaned], &hashes, picture)?;
    Ok(preview)
}

/// The preview of media this node already stored (the upload will be deduplicated), when its
/// record has what the gate needs (the picture's hash, for a picture): no second decode.
async fn held_already(inner: &Inner, id: &MediaId, picture: bool) -> Result<Option<Preview>> {
    let Some(file) = inner.catalog.get(id).await? else {
        return Ok(None);
    };
    let ours = inner.anchors.trust(&file) == crate::state::anchors::Trust::Anchored
        && !inner.ownership.get(id).placements.is_empty();
    if !ours || (picture && file.pdq.is_none()) {
        return Ok(None);
    }
    let mut preview = Preview::thumbnail(file.thumbnail);
    preview.video = file.video;
    preview.pdq = file.pdq;
    preview.pdq_variants = inner.ownership.get(id).pdq_variants;
    Ok(Some(preview))
}

/// What the record of an upload says, and where it may go.
struct Describe {
    name: String,
    mime: String,
    expires_at: Option<Timestamp>,
    private: bool,
    /// On peer-to-peer stores and in the shared catalog.
    share: bool,
    /// Stores whose metadata policy this upload does not meet.
    refusing: Vec<String>,
    /// Who asked (a derived rendition belongs to the same).
    owner: Owner,
    /// The thumbnail, video facts, rendition and PDQ hash, made before the safety gate.
    preview: Preview,
    /// The upload's id as sent and its picture's hashes, for the node's own index.
    picture: Picture,
}

/// What the safety gate saw of an upload, kept in the ownership index.
struct Picture {
    source: MediaId,
    pdq: Option<media_core::Pdq>,
    variants: Vec<media_core::PdqHash>,
}

/// Put the staged blob on every backend of the upload plan, then record it.
///
/// Each put has a deadline and a stall timeout ([`PutLimits`]). Once the plan's `required`
/// stores succeeded, the upload waits at most `late_grace` for the others, then returns; a
/// store finishing later still reports `Stored`/`StoreFailed` and has its location added to
/// the catalogued record. The staged file is removed when the last put returned.
async fn store_everywhere(
    inner: &Arc<Inner>,
    op: OperationId,
    ingested: Ingested,
    describe: Describe,
) -> Result<MediaFile> {
    let Describe {
        name,
        mime,
        expires_at,
        private,
        share,
        refusing,
        owner,
        preview,
        picture,
    } = describe;
    let metadata_removed = ingested.metadata_removed;
    let remuxed_from = ingested.remuxed_from;
    let digests = Arc::new(ingested.digests);
    let id = digests.id();
    let staged_path = inner.staging.join(id.to_string());
    // The guard goes with the file: dropped when this returns, or when the late stores are
    // done with it.
    let mut staged = ingested.staged;
    staged
        .rename(staged_path.clone())
        .map_err(|e| MediaError::io(Operation::Upload, "moving staged file", e))?;
    let blob = Arc::new(StagedBlob::new(
        &staged_path,
        &name,
        &mime,
        Arc::clone(&digests),
    ));

    // Without consent, peer-to-peer stores get nothing: no peer learns of this media.
    let all: Vec<usize> = (0..inner.backends.len())
        .filter(|&i| share || !inner.backends[i].capabilities().peer_to_peer)
        .filter(|&i| !refusing.iter().any(|name| name == inner.backends[i].name()))
        .collect();
    let plan = inner.settings.upload_policy.plan(&inner.candidates(&all));
    // The plan's targets index the candidates it was given, not the node's backends.
    let mut puts: FuturesUnordered<_> = plan
        .targets
        .iter()
        .filter_map(|&t| all.get(t).copied())
        .map(|i| {
            let backend = Arc::clone(&inner.backends[i]);
            let put = put_one(Arc::clone(inner), op, backend, Arc::clone(&blob));
            tokio::spawn(async move { (i, put.await) })
        })
        .collect();
    let mut failures = Vec::new();
    let mut stored: Vec<(usize, Arc<dyn Backend>, Location)> = Vec::new();
    let mut grace: Option<tokio::time::Instant> = None;
    loop {
        let next = match grace {
            Some(until) => match tokio::time::timeout_at(until, puts.next()).await {
                Ok(next) => next,
                Err(_) => break,
            },
            None => puts.next().await,
        };
        let Some(joined) = next else { break };
        match joined {
            Ok((i, (backend, Ok(location)))) => stored.push((i, backend, location)),
            Ok((_, (_, Err(e)))) => failures.push(e),
            Err(e) => failures.push(MediaError::internal(
                Operation::Put,
                format!("a store's put task failed: {e}"),
            )),
        }
        if stored.len() >= plan.required && grace.is_none() {
            grace = Some(tokio::time::Instant::now() + inner.settings.put_limits.late_grace);
        }
    }

    let mut record = MediaFile::new(&name, &mime, &digests, Timestamp::now());
    // A private record says nothing of its content, not even what was cleaned from it.
    record.metadata_removed = if private {
        Vec::new()
    } else {
        metadata_removed
    };
    record.remuxed_from = remuxed_from.filter(|_| !private);
    record.encryption = private.then(|| crate::upload::seal::AGE.to_owned());
    if private {
        // A few hundred bytes per recipient: range reads then skip fetching the first chunk.
        record.age_header = crate::upload::seal::header_of(&staged_path);
    }
    record.expires_at = expires_at;
    record.thumbnail = preview.thumbnail;
    record.video = preview.video;
    record.pdq = preview.pdq;
    // Locations in the order the stores are registered, whichever finished first.
    stored.sort_by_key(|(i, _, _)| *i);
    for (_, _, location) in &stored {
        record.add_location(location.clone());
    }

    if stored.len() < plan.required {
        // Every put has returned (the grace only starts once the policy is satisfied).
        let detail: Vec<String> = failures.iter().map(ToString::to_string).collect();
        // Undo partial stores so a failed upload leaves nothing behind.
        for (_, backend, location) in &stored {
            if backend.capabilities().delete {
                let _ = backend.delete(location).await;
            }
        }
        let retryable = failures.iter().any(MediaError::is_retryable);
        return Err(MediaError::new(
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
        .with_retryable(retryable));
    }
    // Only once the media itself is stored: its display rendition, as media of its own.
    if let Some(rendition) = preview.rendition {
        let derived = Derived {
            name: &name,
            expires_at,
            share,
            owner,
        };
        record.display = store_rendition(inner, rendition, derived).await;
    }
    // What a delete of this id will remove: exactly what these puts stored, and what this
    // upload derived from it.
    for (_, backend, location) in &stored {
        inner.ownership.placed(&id, backend.name(), location)?;
    }
    if let Some(display) = &record.display {
        inner.ownership.derived(&id, &display.id)?;
    }
    inner
        .ownership
        .describe(&id, picture.source, picture.pdq, &picture.variants)?;
    // This node computed the digests: the record is anchored.
    inner.anchors.set(&record)?;
    let outcome = inner.catalog.put(&record).await.map(|()| record.clone());
    // Taken down or listed while the stores were busy (the gate ran before them): the
    // takedown or the list's sweep may have missed these copies, so they go now (and the late
    // stores, finding no record, remove theirs).
    let mut hashes: Vec<media_core::PdqHash> = picture.pdq.iter().map(|p| p.hash).collect();
    hashes.extend(picture.variants.iter().copied());
    let refused = inner
        .safety
        .check_upload(&[picture.source, id], &hashes, false)
        .err();
    if let Some(refused) = &refused {
        let store = crate::MediaStore::from_inner(Arc::clone(inner));
        if let Err(e) = store.takedown(&id, "listed while uploading").await {
            warn!(%id, error = %e, "could not take down an upload refused while it was stored");
        }
        info!(%id, why = %refused, "refused while it was stored: taken down");
    } else if share {
        publish(inner, &record).await;
    }
    if !puts.is_empty() {
        debug!(%id, late = puts.len(), "upload returns; late stores finish in the background");
        tokio::spawn(finish_late_stores(
            Arc::clone(inner),
            id,
            puts,
            staged,
            share,
        ));
    }
    if let Some(refused) = refused {
        return Err(refused);
    }
    outcome
}

/// What a derived upload takes over from the upload it comes from.
struct Derived<'a> {
    name: &'a str,
    expires_at: Option<Timestamp>,
    share: bool,
    owner: Owner,
}

/// Store a display rendition (a JPEG of a HEIC photo) as media of its own, through the same
/// pipeline (stripped, verified, on the same stores), and say where it is. A rendition that
/// cannot be stored leaves the record without one; the upload itself goes on.
async fn store_rendition(
    inner: &Arc<Inner>,
    rendition: media_core::Rendition,
    from: Derived<'_>,
) -> Option<media_core::DisplayRendition> {
    let stem = from.name.rsplit_once('.').map_or(from.name, |(s, _)| s);
    let mut request = UploadRequest::bytes(format!("{stem}.display.jpg"), rendition.bytes)
        .with_mime(rendition.mime.clone())
        .share_p2p(from.share);
    request.owner = from.owner;
    if let Some(at) = from.expires_at {
        request = request.expires_at(at);
    }
    // An operation of its own: its events name the rendition, not the photo's upload.
    match run(Arc::clone(inner), inner.next_op(), request).await {
        Ok(file) => Some(media_core::DisplayRendition::new(
            file.id,
            rendition.mime,
            rendition.width,
            rendition.height,
        )),
        Err(e) => {
            warn!(error = %e, "the display rendition was not stored");
            None
        }
    }
}

type PutResult = (Arc<dyn Backend>, Result<Location>);

/// Wait for the stores still busy after an upload returned; add each one's location to the
/// record, then remove the staged file.
async fn finish_late_stores(
    inner: Arc<Inner>,
    id: MediaId,
    mut puts: FuturesUnordered<tokio::task::JoinHandle<(usize, PutResult)>>,
    staged: crate::upload::staged::Staged,
    share: bool,
) {
    while let Some(joined) = puts.next().await {
        let Ok((_, (backend, Ok(location)))) = joined else {
            continue;
        };
        let mut record = match inner.catalog.get(&id).await {
            Ok(Some(record)) => record,
            // Deleted while this store was still busy: its copy goes too, nothing is indexed.
            Ok(None) => {
                debug!(%id, store = backend.name(), "deleted before a late store finished: its copy is removed");
                if backend.capabilities().delete {
                    if let Err(e) = backend.delete(&location).await {
                        warn!(%id, store = backend.name(), error = %e, "could not remove a late copy of deleted media");
                    }
                }
                continue;
            }
            Err(e) => {
                warn!(%id, error = %e, "could not add a late store's location");
                continue;
            }
        };
        if let Err(e) = inner.ownership.placed(&id, backend.name(), &location) {
            warn!(%id, error = %e, "could not index a late store's location");
        }
        record.add_location(location);
        if let Err(e) = inner.catalog.put(&record).await {
            warn!(%id, error = %e, "could not add a late store's location");
        }
        if share {
            publish(&inner, &record).await;
        }
    }
    drop(staged);
}

/// Best effort: the media is stored; other nodes just cannot resolve it by id yet.
async fn publish(inner: &Inner, record: &MediaFile) {
    if let Some(shared) = &inner.shared_catalog {
        if let Err(e) = shared.put(record).await {
            warn!(id = %record.id, error = %e, "could not publish the record to the shared catalog");
        }
    }
}

/// One store's put under its deadline and stall timeout; its outcome is reported the moment
/// it is known, so a caller following events sees the fast stores land first.
async fn put_one(
    inner: Arc<Inner>,
    op: OperationId,
    backend: Arc<dyn Backend>,
    blob: Arc<StagedBlob>,
) -> PutResult {
    let id = blob.id();
    let bname = backend.name().to_owned();
    let limits = inner.settings.put_limits;
    let started = tokio::time::Instant::now();
    // Milliseconds since `started` of the last progress report.
    let last = Arc::new(AtomicU64::new(0));
    let events = progress_events(&inner, op, id, &bname, blob.size());
    let progress = {
        let last = Arc::clone(&last);
        Progress::new(move |bytes| {
            last.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
            events.report(bytes);
        })
    };
    let watchdog = async {
        loop {
            tokio::time::sleep(limits.stall / 4).await;
            let quiet = started
                .elapsed()
                .saturating_sub(Duration::from_millis(last.load(Ordering::Relaxed)));
            if quiet >= limits.stall {
                return MediaError::timeout(
                    Operation::Put,
                    format!("no progress for {} s", limits.stall.as_secs()),
                );
            }
        }
    };
    let result = tokio::select! {
        r = tokio::time::timeout(limits.deadline, backend.put(&blob, progress)) => match r {
            Ok(r) => r,
            Err(_) => Err(MediaError::timeout(
                Operation::Put,
                format!("not done after {} s", limits.deadline.as_secs()),
            )),
        },
        e = watchdog => Err(e),
    }
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

/// How long one store's put may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PutLimits {
    /// Longest a put may take in all (default 1 hour).
    pub deadline: Duration,
    /// Longest a put may go without reporting progress (default 5 minutes).
    pub stall: Duration,
    /// Once enough stores succeeded, how long the upload still waits for the others before
    /// it returns and lets them finish in the background (default 60 s).
    pub late_grace: Duration,
}

impl Default for PutLimits {
    fn default() -> Self {
        PutLimits {
            deadline: Duration::from_secs(3600),
            stall: Duration::from_secs(300),
            late_grace: Duration::from_secs(60),
        }
    }
}

impl PutLimits {
    /// Limits with these values.
    pub fn new(deadline: Duration, stall: Duration, late_grace: Duration) -> Self {
        PutLimits {
            deadline,
            stall: stall.max(Duration::from_millis(4)),
            late_grace,
        }
    }
}

/// The inline thumbnail (a photo's, or a video's poster) and a video's index facts, made on
/// a blocking thread while the stores upload. A preview that cannot be made never fails the
/// upload.
async fn make_preview(inner: &Inner, staged: &Path, mime: &str) -> Preview {
    let Some(thumbnailer) = inner.thumbnailer.as_ref().map(Arc::clone) else {
        return Preview::default();
    };
    // One decode at a time: a full PNG or WebP decode may take hundreds of MiB.
    let Ok(_slot) = inner.decode_slots.acquire().await else {
        return Preview::default();
    };
    let (path, mime) = (staged.to_path_buf(), mime.to_owned());
    let made = tokio::task::spawn_blocking(move || thumbnailer.preview(&path, &mime)).await;
    match made {
        Ok(Ok(preview)) => preview,
        Ok(Err(e)) => {
            warn!(path = %staged.display(), error = %e, "no thumbnail");
            Preview::default()
        }
        Err(e) => {
            warn!(error = %e, "thumbnail task failed");
            Preview::default()
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
