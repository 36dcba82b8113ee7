//! Resumable upload sessions: the state both tus 1.0 and the IETF *Resumable Uploads for
//! HTTP* draft keep on the node (the HTTP side is `node::api::resumable`).
//!
//! A session is two files under `<data>/uploads/`: `<id>.part`, the bytes received, and
//! `<id>.json`, what the client declared and a [`DigestCheckpoint`] (0600, in the 0700 data
//! directory). Bytes are hashed as they arrive ([`ResumableDigester`]: the whole SHA-256, each
//! 1 MiB chunk's SHA-256 and BLAKE3 subtree), so finishing a 200 MiB upload reads nothing
//! back. Every [`CHECKPOINT_EVERY`] bytes the data is synced and the checkpoint saved, so a
//! node that restarts resumes at the last checkpoint: a client re-sends at most that much.
//!
//! A finished session becomes an ordinary upload: the staged file and its digests go through
//! the same pipeline as `PUT /api/v1/media` (cleaning, faststart, encryption, the safety gate,
//! the declared SHA-256 checked before any store sees a byte).
//!
//! Bounds: at most `max_sessions` open sessions and `max_staged_bytes` staged (declared
//! lengths reserve their bytes at creation), a client cannot write past its declared length
//! or at any offset but the current one, a session with no byte for `idle_start` after its
//! creation is removed, any other after `expiry` without progress; a request that sends
//! nothing for `read_timeout` ends (its bytes so far are kept).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use media_core::{
    DigestCheckpoint, Digests, ErrorKind, MediaError, MediaFile, MediaId, Operation, Result,
    ResumableDigester, Timestamp, CHUNK_SIZE,
};
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

use crate::{MediaStore, UploadRequest};

/// Data is synced and the checkpoint saved after this many new bytes.
pub const CHECKPOINT_EVERY: u64 = 4 * CHUNK_SIZE;

/// Bytes written to the session's file (and hashed) at a time, off the async threads.
const WRITE_BATCH: usize = CHUNK_SIZE as usize;

/// Finished sessions kept to answer a client whose last response was lost.
const MAX_DONE: usize = 1024;

/// How long a new request waits for the one it replaces on the same session to let go.
const TAKEOVER_WAIT: Duration = Duration::from_secs(10);

/// The bounds of resumable uploads ([`crate::MediaStoreBuilder::resumable_limits`];
/// `[upload]` keys `sessions`, `session_staging`, `session_expiry_secs`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ResumableLimits {
    /// Open sessions at most (default 64).
    pub max_sessions: usize,
    /// Bytes staged by all sessions together, declared lengths reserved (default 16 GiB).
    pub max_staged_bytes: u64,
    /// A session without progress for this long is removed with its bytes (default 24 h).
    pub expiry: Duration,
    /// A session that received no byte this long after its creation is removed (default 10 min).
    pub idle_start: Duration,
    /// A request that sends no byte for this long ends, keeping what it sent (default 30 s).
    pub read_timeout: Duration,
}

impl Default for ResumableLimits {
    fn default() -> Self {
        ResumableLimits {
            max_sessions: 64,
            max_staged_bytes: 16 << 30,
            expiry: Duration::from_secs(24 * 3600),
            idle_start: Duration::from_secs(600),
            read_timeout: Duration::from_secs(30),
        }
    }
}

impl ResumableLimits {
    /// At most `sessions` open at once, `bytes` staged in all.
    #[must_use]
    pub fn new(sessions: usize, bytes: u64) -> Self {
        ResumableLimits {
            max_sessions: sessions,
            max_staged_bytes: bytes,
            ..Self::default()
        }
    }

    /// Sessions without progress for `expiry` are removed.
    #[must_use]
    pub fn with_expiry(mut self, expiry: Duration) -> Self {
        self.expiry = expiry;
        self
    }

    /// Requests silent for `timeout` end.
    #[must_use]
    pub fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }
}

/// What a client declares when it opens a session.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NewSession {
    /// The upload's length, when known (tus requires it; the IETF draft may send it last).
    pub length: Option<u64>,
    /// Display name.
    pub name: String,
    /// Declared type (else sniffed).
    pub mime: Option<String>,
    /// The SHA-256 the client says the bytes have: refused before any store if not.
    pub sha256: Option<MediaId>,
    /// Seconds until the media expires.
    pub expires_in: Option<u64>,
    /// age recipients: private media.
    pub private_to: Vec<String>,
}

impl NewSession {
    /// A session for `name`.
    pub fn named(name: impl Into<String>) -> Self {
        NewSession {
            name: name.into(),
            ..Self::default()
        }
    }

    /// With a known length.
    #[must_use]
    pub fn with_length(mut self, length: u64) -> Self {
        self.length = Some(length);
        self
    }
}

/// Where a session stands.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct SessionStatus {
    /// Bytes received (the next byte the client sends is this one).
    pub offset: u64,
    /// The declared length, when known.
    pub length: Option<u64>,
    /// When it is removed unless it progresses.
    pub expires_at: Timestamp,
    /// The record, once the upload finished.
    pub media: Option<MediaFile>,
}

/// The outcome of one append.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Appended {
    /// Bytes taken; the upload is not complete (or the request ended early).
    Partial {
        /// The offset now.
        offset: u64,
    },
    /// The upload is complete and stored.
    Done {
        /// The length.
        offset: u64,
        /// Its record.
        media: Box<MediaFile>,
    },
    /// The client's offset is not the session's: nothing was written.
    Conflict {
        /// The session's offset.
        offset: u64,
    },
}

/// One append request.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Append {
    /// Where the client says its bytes start.
    pub offset: u64,
    /// The client says these are the upload's last bytes (IETF `Upload-Complete: ?1`; tus:
    /// when the declared length is reached).
    pub complete: bool,
    /// The length, when the client declares it only now.
    pub length: Option<u64>,
    /// The SHA-256 of this request's bytes (tus `Upload-Checksum: sha256`): on mismatch the
    /// request's bytes are dropped.
    pub checksum: Option<[u8; 32]>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    new: NewSession,
    checkpoint: DigestCheckpoint,
    touched: Timestamp,
    #[serde(default)]
    done: Option<MediaFile>,
}

struct Live {
    digester: ResumableDigester,
    file: std::fs::File,
    /// Bytes covered by the saved checkpoint.
    saved: u64,
}

struct Session {
    id: String,
    new: Mutex<NewSession>,
    offset: AtomicU64,
    touched: AtomicU64,
    created_empty: bool,
    /// Bumped by a request that takes the session over from a stalled one.
    generation: AtomicU64,
    takeover: tokio::sync::Notify,
    live: tokio::sync::Mutex<Option<Live>>,
    done: Mutex<Option<MediaFile>>,
    /// The upload is complete and in the pipeline.
    finishing: std::sync::atomic::AtomicBool,
    /// Removed by a cancel: a request that held it saves nothing more.
    cancelled: std::sync::atomic::AtomicBool,
}

/// The open sessions of one store.
pub(crate) struct Sessions {
    dir: PathBuf,
    limits: ResumableLimits,
    table: Mutex<HashMap<String, Arc<Session>>>,
}

fn io_err(what: &str, e: std::io::Error) -> MediaError {
    MediaError::io(Operation::Upload, what, e)
}

impl Session {
    /// The answer to an append once the upload has finished: its record when the client is
    /// where the upload ended (and says the same length), else the offset it ended at.
    fn finished(&self, append: &Append) -> Option<Appended> {
        let media = lock(&self.done).clone()?;
        let length = lock(&self.new).length.unwrap_or(media.size);
        let same_length = append.length.is_none_or(|l| l == length);
        Some(if append.offset == length && same_length {
            Appended::Done {
                offset: length,
                media: Box::new(media),
            }
        } else {
            Appended::Conflict { offset: length }
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn valid_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

impl Sessions {
    /// The sessions saved under `dir`: each `.part` cut back to its checkpoint; broken or
    /// expired ones removed.
    pub fn open(dir: PathBuf, limits: ResumableLimits) -> Result<Self> {
        media_core::create_private_dir(&dir)
            .map_err(|e| MediaError::io(Operation::Configure, "creating the uploads folder", e))?;
        let sessions = Sessions {
            dir,
            limits,
            table: Mutex::new(HashMap::new()),
        };
        let mut loaded = HashMap::new();
        let entries = std::fs::read_dir(&sessions.dir)
            .map_err(|e| MediaError::io(Operation::Configure, "reading the uploads folder", e))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
                continue;
            };
            if !valid_id(&stem) {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            match sessions.load(&stem) {
                Ok(session) => {
                    loaded.insert(stem, Arc::new(session));
                }
                Err(e) => {
                    warn!(session = %stem, error = %e, "dropping an upload session that cannot be resumed");
                    sessions.remove_files(&stem);
                }
            }
        }
        // `.part` files without a state file are leftovers of a crash during creation.
        if let Ok(entries) = std::fs::read_dir(&sessions.dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                if !loaded.contains_key(stem) {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        *lock(&sessions.table) = loaded;
        sessions.sweep();
        Ok(sessions)
    }

    fn part(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.part"))
    }

    fn state(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    fn remove_files(&self, id: &str) {
        let _ = std::fs::remove_file(self.part(id));
        let _ = std::fs::remove_file(self.state(id));
    }

    fn load(&self, id: &str) -> std::io::Result<Session> {
        let text = std::fs::read(self.state(id))?;
        let mut saved: Saved = serde_json::from_slice(&text).map_err(std::io::Error::other)?;
        ResumableDigester::resume(saved.checkpoint.clone()).map_err(std::io::Error::other)?;
        let offset = if saved.done.is_some() {
            saved.new.length.unwrap_or(0)
        } else {
            // The bytes after the checkpoint were never hashed into saved state: cut them.
            let file = match std::fs::OpenOptions::new().write(true).open(self.part(id)) {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    // The node stopped while the upload was being stored: its bytes had moved
                    // to the pipeline's staging, which start-up clears. The session starts
                    // over (a client resumes at 0; if the media was stored, the upload ends
                    // as a dedup of it).
                    warn!(session = %id, "an upload session stopped while being stored starts over");
                    drop(create_private_file(&self.part(id))?);
                    saved.checkpoint = ResumableDigester::new().checkpoint();
                    let text = serde_json::to_vec(&saved).map_err(std::io::Error::other)?;
                    media_core::write_private(&self.state(id), &text)?;
                    std::fs::OpenOptions::new()
                        .write(true)
                        .open(self.part(id))?
                }
                Err(e) => return Err(e),
            };
            if file.metadata()?.len() < saved.checkpoint.size {
                return Err(std::io::Error::other(
                    "the data is shorter than its checkpoint",
                ));
            }
            file.set_len(saved.checkpoint.size)?;
            saved.checkpoint.size
        };
        Ok(Session {
            id: id.to_owned(),
            new: Mutex::new(saved.new),
            offset: AtomicU64::new(offset),
            touched: AtomicU64::new(saved.touched.0),
            created_empty: false,
            generation: AtomicU64::new(0),
            takeover: tokio::sync::Notify::new(),
            live: tokio::sync::Mutex::new(None),
            done: Mutex::new(saved.done),
            finishing: Default::default(),
            cancelled: Default::default(),
        })
    }

    fn save(&self, session: &Session, checkpoint: DigestCheckpoint) -> std::io::Result<()> {
        let saved = Saved {
            new: lock(&session.new).clone(),
            checkpoint,
            touched: Timestamp(session.touched.load(Ordering::Relaxed)),
            done: lock(&session.done).clone(),
        };
        let text = serde_json::to_vec(&saved).map_err(std::io::Error::other)?;
        media_core::write_private(&self.state(&session.id), &text)
    }

    /// Where a session's state goes and what it says at `checkpoint`.
    fn state_text(
        &self,
        session: &Session,
        checkpoint: DigestCheckpoint,
    ) -> Result<(PathBuf, Vec<u8>)> {
        let saved = Saved {
            new: lock(&session.new).clone(),
            checkpoint,
            touched: Timestamp(session.touched.load(Ordering::Relaxed)),
            done: None,
        };
        let text = serde_json::to_vec(&saved)
            .map_err(|e| MediaError::internal(Operation::Upload, format!("session state: {e}")))?;
        Ok((self.state(&session.id), text))
    }

    fn expires_at(&self, session: &Session) -> Timestamp {
        let touched = Timestamp(session.touched.load(Ordering::Relaxed));
        let empty = session.offset.load(Ordering::Relaxed) == 0 && lock(&session.done).is_none();
        if empty && session.created_empty {
            touched.plus(self.limits.idle_start.min(self.limits.expiry))
        } else {
            touched.plus(self.limits.expiry)
        }
    }

    /// Remove expired sessions and their files; the number removed.
    pub fn sweep(&self) -> usize {
        let now = Timestamp::now();
        let expired: Vec<Arc<Session>> = lock(&self.table)
            .values()
            .filter(|s| self.expires_at(s) <= now)
            .cloned()
            .collect();
        for session in &expired {
            // A session a request is writing to is not idle.
            if let Ok(_guard) = session.live.try_lock() {
                lock(&self.table).remove(&session.id);
                self.remove_files(&session.id);
                debug!(session = %session.id, "upload session expired");
            }
        }
        expired.len()
    }

    fn get(&self, id: &str) -> Result<Arc<Session>> {
        let found = valid_id(id)
            .then(|| lock(&self.table).get(id).cloned())
            .flatten();
        let session = found.ok_or_else(|| {
            MediaError::not_found(
                Operation::Upload,
                "no such upload session (it may have expired)",
            )
        })?;
        if self.expires_at(&session) <= Timestamp::now() && session.live.try_lock().is_ok() {
            lock(&self.table).remove(id);
            self.remove_files(id);
            return Err(MediaError::new(
                ErrorKind::Expired,
                Operation::Upload,
                "this upload session expired",
            ));
        }
        Ok(session)
    }

    /// Bytes staged or reserved by every session but `except`.
    fn staged_except(&self, except: Option<&str>) -> u64 {
        lock(&self.table)
            .values()
            .filter(|s| lock(&s.done).is_none() && Some(s.id.as_str()) != except)
            .map(|s| {
                let offset = s.offset.load(Ordering::Relaxed);
                lock(&s.new).length.map_or(offset, |l| l.max(offset))
            })
            .fold(0u64, u64::saturating_add)
    }

    /// Bytes staged or reserved by every session.
    fn staged(&self) -> u64 {
        self.staged_except(None)
    }

    /// Finished sessions are kept (for a client whose last answer was lost) up to
    /// [`MAX_DONE`]; the oldest go first.
    fn prune_done(&self) {
        let mut done: Vec<(u64, String)> = lock(&self.table)
            .values()
            .filter(|s| lock(&s.done).is_some())
            .map(|s| (s.touched.load(Ordering::Relaxed), s.id.clone()))
            .collect();
        if done.len() <= MAX_DONE {
            return;
        }
        done.sort_unstable();
        for (_, id) in &done[..done.len() - MAX_DONE] {
            lock(&self.table).remove(id);
            self.remove_files(id);
        }
    }

    fn create(&self, new: NewSession, max_size: Option<u64>) -> Result<(String, SessionStatus)> {
        self.sweep();
        self.prune_done();
        if let (Some(length), Some(max)) = (new.length, max_size) {
            if length > max {
                return Err(MediaError::invalid_input(
                    Operation::Upload,
                    format!("the upload is {length} bytes, more than this node's limit of {max}"),
                ));
            }
        }
        // Finished sessions hold no slot: only uploads under way count.
        let open = lock(&self.table)
            .values()
            .filter(|s| lock(&s.done).is_none())
            .count();
        if open >= self.limits.max_sessions {
            return Err(MediaError::new(
                ErrorKind::Unavailable,
                Operation::Upload,
                format!(
                    "{} upload sessions are open, the most this node keeps; finish or cancel one",
                    self.limits.max_sessions
                ),
            ));
        }
        if self.staged().saturating_add(new.length.unwrap_or(0)) > self.limits.max_staged_bytes {
            return Err(MediaError::new(
                ErrorKind::Unavailable,
                Operation::Upload,
                "the node's staging space for resumable uploads is full",
            ));
        }
        let mut raw = [0u8; 16];
        getrandom::fill(&mut raw).map_err(|e| {
            MediaError::internal(Operation::Upload, format!("OS random source: {e}"))
        })?;
        let id: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let file = create_private_file(&self.part(&id))
            .map_err(|e| io_err("creating an upload session", e))?;
        drop(file);
        let session = Session {
            id: id.clone(),
            new: Mutex::new(new),
            offset: AtomicU64::new(0),
            touched: AtomicU64::new(Timestamp::now().0),
            created_empty: true,
            generation: AtomicU64::new(0),
            takeover: tokio::sync::Notify::new(),
            live: tokio::sync::Mutex::new(None),
            done: Mutex::new(None),
            finishing: Default::default(),
            cancelled: Default::default(),
        };
        if let Err(e) = self.save(&session, ResumableDigester::new().checkpoint()) {
            self.remove_files(&id);
            return Err(io_err("saving an upload session", e));
        }
        let status = self.status_of(&session);
        lock(&self.table).insert(id.clone(), Arc::new(session));
        info!(session = %id, "upload session opened");
        Ok((id, status))
    }

    fn status_of(&self, session: &Session) -> SessionStatus {
        SessionStatus {
            offset: session.offset.load(Ordering::Acquire),
            length: lock(&session.new).length,
            expires_at: self.expires_at(session),
            media: lock(&session.done).clone(),
        }
    }

    async fn cancel(&self, id: &str) -> Result<()> {
        let session = self.get(id)?;
        if session.finishing.load(Ordering::Acquire) {
            return Err(MediaError::new(
                ErrorKind::Unavailable,
                Operation::Upload,
                "this upload is complete and being stored; it can no longer be cancelled",
            ));
        }
        // A request writing to it stops first (keeping nothing: the files go below).
        session.generation.fetch_add(1, Ordering::AcqRel);
        session.takeover.notify_waiters();
        let _writing = tokio::time::timeout(TAKEOVER_WAIT, session.live.lock())
            .await
            .map_err(|_| {
                MediaError::new(
                    ErrorKind::Unavailable,
                    Operation::Upload,
                    "this upload session is busy (being stored); try again",
                )
            })?;
        session.cancelled.store(true, Ordering::Release);
        lock(&self.table).remove(id);
        self.remove_files(id);
        info!(session = %id, "upload session cancelled");
        Ok(())
    }
}

fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// The session's file and digests while a request writes: one batch written and hashed on a
/// blocking thread while the next one arrives, and a checkpoint (data synced, then the state
/// saved) in the background while both go on.
struct Writer {
    live: Option<Live>,
    writing: Option<tokio::task::JoinHandle<(Live, std::io::Result<()>)>>,
    saving: Option<(u64, tokio::task::JoinHandle<std::io::Result<()>>)>,
}

fn task_failed(e: tokio::task::JoinError) -> MediaError {
    MediaError::internal(Operation::Upload, format!("upload write task: {e}"))
}

impl Writer {
    fn new(live: Live) -> Self {
        Writer {
            live: Some(live),
            writing: None,
            saving: None,
        }
    }

    /// The batch being written is done: the file and digests are back here.
    async fn settle(&mut self) -> Result<&mut Live> {
        if let Some(task) = self.writing.take() {
            let (live, written) = task.await.map_err(task_failed)?;
            self.live = Some(live);
            written.map_err(|e| io_err("writing an upload session", e))?;
        }
        self.live
            .as_mut()
            .ok_or_else(|| MediaError::internal(Operation::Upload, "an upload write was lost"))
    }

    /// Hand `batch` to a blocking thread (after the previous one is done).
    async fn write(&mut self, batch: Vec<u8>) -> Result<()> {
        self.settle().await?;
        let Some(mut live) = self.live.take() else {
            return Err(MediaError::internal(
                Operation::Upload,
                "an upload write was lost",
            ));
        };
        self.writing = Some(tokio::task::spawn_blocking(move || {
            let written = live.file.write_all(&batch);
            if written.is_ok() {
                live.digester.update(&batch);
            }
            (live, written)
        }));
        Ok(())
    }

    /// Start saving a checkpoint in the background when [`CHECKPOINT_EVERY`] bytes were
    /// hashed since the last one and none is being saved (call after [`Self::settle`]).
    async fn checkpoint_behind(&mut self, sessions: &Sessions, session: &Session) -> Result<()> {
        if let Some((size, task)) = self.saving.take() {
            if !task.is_finished() {
                self.saving = Some((size, task));
                return Ok(());
            }
            task.await
                .map_err(task_failed)?
                .map_err(|e| io_err("saving an upload session", e))?;
            if let Some(live) = self.live.as_mut() {
                live.saved = size;
            }
        }
        let Some(live) = self.live.as_ref() else {
            return Ok(());
        };
        let cp = live.digester.checkpoint();
        if cp.size < live.saved + CHECKPOINT_EVERY {
            return Ok(());
        }
        let (path, text) = sessions.state_text(session, cp.clone())?;
        let data = live
            .file
            .try_clone()
            .map_err(|e| io_err("saving an upload session", e))?;
        self.saving = Some((
            cp.size,
            tokio::task::spawn_blocking(move || {
                data.sync_data()?;
                media_core::write_private(&path, &text)
            }),
        ));
        Ok(())
    }

    /// Every write and save done; the file and digests.
    async fn finish(mut self) -> Result<Live> {
        self.settle().await?;
        if let Some((size, task)) = self.saving.take() {
            task.await
                .map_err(task_failed)?
                .map_err(|e| io_err("saving an upload session", e))?;
            if let Some(live) = self.live.as_mut() {
                live.saved = size;
            }
        }
        self.live
            .take()
            .ok_or_else(|| MediaError::internal(Operation::Upload, "an upload write was lost"))
    }
}

/// Sync the data, then save the checkpoint: the saved state never claims bytes a crash lost.
async fn checkpoint(sessions: &Sessions, session: &Session, live: Live) -> Result<Live> {
    let cp = live.digester.checkpoint();
    let (path, text) = sessions.state_text(session, cp.clone())?;
    let (mut live, done) = tokio::task::spawn_blocking(move || {
        let done = live
            .file
            .sync_data()
            .and_then(|()| media_core::write_private(&path, &text));
        (live, done)
    })
    .await
    .map_err(|e| MediaError::internal(Operation::Upload, format!("checkpoint task: {e}")))?;
    done.map_err(|e| io_err("saving an upload session", e))?;
    live.saved = cp.size;
    Ok(live)
}

impl MediaStore {
    fn sessions(&self) -> &Sessions {
        &self.inner.sessions
    }

    /// Open a resumable upload session (tus `POST`, IETF draft `POST`); its id and status.
    pub fn create_session(&self, new: NewSession) -> Result<(String, SessionStatus)> {
        for r in &new.private_to {
            r.parse::<media_privacy::Recipient>().map_err(|e| {
                MediaError::invalid_input(Operation::Upload, format!("private_to: {e}"))
            })?;
        }
        self.sessions().create(new, self.inner.settings.max_size)
    }

    /// Where session `id` stands.
    pub fn session_status(&self, id: &str) -> Result<SessionStatus> {
        let sessions = self.sessions();
        Ok(sessions.status_of(sessions.get(id)?.as_ref()))
    }

    /// Cancel session `id` (tus termination, IETF `DELETE`): its bytes are removed.
    pub async fn cancel_session(&self, id: &str) -> Result<()> {
        self.sessions().cancel(id).await
    }

    /// Remove expired sessions; how many.
    pub fn sweep_sessions(&self) -> usize {
        self.sessions().sweep()
    }

    /// Append `body` to session `id` at `append.offset`. A request still writing to the same
    /// session (a client that reconnected before its old connection was seen to drop) is
    /// stopped first, keeping what it wrote. When the upload is complete it goes through the
    /// upload pipeline and the record is returned.
    pub async fn append_session<S, E>(&self, id: &str, append: Append, body: S) -> Result<Appended>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let sessions = self.sessions();
        let session = sessions.get(id)?;
        if let Some(answer) = session.finished(&append) {
            return Ok(answer);
        }
        // Take the session over from a request that may still hold it.
        let generation = session.generation.fetch_add(1, Ordering::AcqRel) + 1;
        session.takeover.notify_waiters();
        let mut guard = tokio::time::timeout(TAKEOVER_WAIT, session.live.lock())
            .await
            .map_err(|_| {
                MediaError::new(
                    ErrorKind::Unavailable,
                    Operation::Upload,
                    "another request is still writing to this upload session",
                )
            })?;
        // The session may have finished (or been cancelled) while this request waited.
        if let Some(answer) = session.finished(&append) {
            return Ok(answer);
        }
        if session.cancelled.load(Ordering::Acquire) {
            return Err(MediaError::not_found(
                Operation::Upload,
                "no such upload session (it was cancelled)",
            ));
        }
        let max = self.inner.settings.max_size.unwrap_or(u64::MAX);
        let live = match guard.take() {
            Some(live) => live,
            None => {
                let cp = {
                    let text = std::fs::read(sessions.state(id))
                        .map_err(|e| io_err("reading an upload session", e))?;
                    serde_json::from_slice::<Saved>(&text)
                        .map_err(|e| {
                            MediaError::internal(Operation::Upload, format!("session state: {e}"))
                        })?
                        .checkpoint
                };
                let digester = ResumableDigester::resume(cp.clone())
                    .map_err(|e| MediaError::internal(Operation::Upload, e.to_string()))?;
                // Bytes past the checkpoint (a request that failed midway) were never
                // hashed into saved state: cut them, and go on from the checkpoint.
                let file = std::fs::OpenOptions::new()
                    .append(true)
                    .open(sessions.part(id))
                    .and_then(|f| f.set_len(cp.size).map(|()| f))
                    .map_err(|e| io_err("opening an upload session", e))?;
                session.offset.store(cp.size, Ordering::Release);
                Live {
                    digester,
                    file,
                    saved: cp.size,
                }
            }
        };
        let offset = session.offset.load(Ordering::Acquire);
        if append.offset != offset {
            *guard = Some(live);
            return Ok(Appended::Conflict { offset });
        }
        let declared = {
            let mut new = lock(&session.new);
            match (new.length, append.length) {
                (Some(known), Some(said)) if known != said => {
                    Err(format!("the upload's length is {known}, not {said}"))
                }
                (None, Some(said)) if said < offset => {
                    Err("the declared length is below the bytes already sent".to_owned())
                }
                (None, Some(said)) if said > max => Err(format!(
                    "the upload is {said} bytes, more than this node's limit of {max}"
                )),
                (None, Some(said))
                    if sessions.staged_except(Some(id)).saturating_add(said)
                        > sessions.limits.max_staged_bytes =>
                {
                    Err("the node's staging space for resumable uploads is full".to_owned())
                }
                (None, Some(said)) => {
                    new.length = Some(said);
                    Ok(())
                }
                _ => Ok(()),
            }
        };
        if let Err(why) = declared {
            *guard = Some(live);
            return Err(MediaError::invalid_input(Operation::Upload, why));
        }
        let length = lock(&session.new).length;
        // A request with a checksum is all or nothing: it saves no checkpoint midway, and on a
        // mismatch the file and the digests go back to where it started.
        let before = append.checksum.map(|_| live.digester.clone());
        let mut request_sha = append
            .checksum
            .map(|_| <sha2::Sha256 as sha2::Digest>::new());
        let mut batch: Vec<u8> = Vec::with_capacity(WRITE_BATCH);
        let mut writer = Writer::new(live);
        let mut received = offset;
        let mut failure: Option<MediaError> = None;
        let mut ended = false;
        let body = body.fuse();
        futures::pin_mut!(body);
        loop {
            let takeover = session.takeover.notified();
            futures::pin_mut!(takeover);
            takeover.as_mut().enable();
            if session.generation.load(Ordering::Acquire) != generation {
                debug!(session = %id, "a newer request took this session over");
                break;
            }
            let next = tokio::select! {
                next = tokio::time::timeout(self.sessions().limits.read_timeout, body.next()) => next,
                () = &mut takeover => break,
            };
            let piece = match next {
                Err(_) => {
                    debug!(session = %id, "upload request stalled; keeping its bytes");
                    break;
                }
                Ok(None) => {
                    ended = true;
                    break;
                }
                Ok(Some(Err(e))) => {
                    debug!(session = %id, error = %e, "upload request broke off; keeping its bytes");
                    break;
                }
                Ok(Some(Ok(piece))) => piece,
            };
            let end = received + piece.len() as u64;
            if length.is_some_and(|l| end > l) || end > max {
                failure = Some(MediaError::invalid_input(
                    Operation::Upload,
                    "the bytes sent go past the upload's declared length or the node's limit",
                ));
                break;
            }
            // Without a declared length the staging bound is checked once per batch (it
            // locks every session): a session may pass it by at most one batch.
            if length.is_none()
                && batch.len() + piece.len() >= WRITE_BATCH
                && sessions
                    .staged()
                    .saturating_add((batch.len() + piece.len()) as u64)
                    > sessions.limits.max_staged_bytes
            {
                failure = Some(MediaError::new(
                    ErrorKind::Unavailable,
                    Operation::Upload,
                    "the node's staging space for resumable uploads is full",
                ));
                break;
            }
            received = end;
            if let Some(h) = request_sha.as_mut() {
                sha2::Digest::update(h, &piece);
            }
            batch.extend_from_slice(&piece);
            if batch.len() >= WRITE_BATCH {
                // The previous batch is hashed while this one arrived; this one is hashed
                // while the next arrives.
                let done = writer.settle().await?;
                session
                    .offset
                    .store(done.digester.size(), Ordering::Release);
                if before.is_none() {
                    writer.checkpoint_behind(sessions, &session).await?;
                }
                writer.write(std::mem::take(&mut batch)).await?;
                batch.reserve(WRITE_BATCH);
                session.touched.store(Timestamp::now().0, Ordering::Relaxed);
            }
        }
        if !batch.is_empty() {
            writer.write(batch).await?;
        }
        let mut live = writer.finish().await?;
        session.touched.store(Timestamp::now().0, Ordering::Relaxed);
        // The request's checksum decides whether its bytes stay.
        if let (Some(expected), Some(h), Some(before)) = (append.checksum, request_sha, before) {
            let got: [u8; 32] = sha2::Digest::finalize(h).into();
            if !ended || got != expected {
                let start = before.size();
                live.file
                    .set_len(start)
                    .map_err(|e| io_err("dropping a request's bytes", e))?;
                live.digester = before;
                session.offset.store(start, Ordering::Release);
                *guard = Some(live);
                return Err(MediaError::new(
                    ErrorKind::Integrity,
                    Operation::Upload,
                    if ended {
                        "the request's bytes do not match its Upload-Checksum; they were dropped"
                    } else {
                        "the request ended before its bytes could be checked against its Upload-Checksum; they were dropped"
                    },
                ));
            }
        }
        let offset = live.digester.size();
        session.offset.store(offset, Ordering::Release);
        if let Some(e) = failure {
            *guard = Some(live);
            return Err(e);
        }
        let complete = match length {
            Some(l) => offset == l,
            None => ended && append.complete,
        };
        if ended && append.complete && length.is_some_and(|l| offset != l) {
            *guard = Some(live);
            return Err(MediaError::invalid_input(
                Operation::Upload,
                "the upload was marked complete before its declared length was sent",
            ));
        }
        if !complete {
            if live.digester.checkpoint().size > live.saved {
                live = checkpoint(sessions, &session, live).await?;
            }
            *guard = Some(live);
            return Ok(Appended::Partial { offset });
        }
        lock(&session.new).length = Some(offset);
        let digests = tokio::task::spawn_blocking(move || live.digester.finish())
            .await
            .map_err(|e| MediaError::internal(Operation::Upload, format!("digest task: {e}")))?;
        session.finishing.store(true, Ordering::Release);
        let media = self.finish_session(&session, digests).await;
        session.finishing.store(false, Ordering::Release);
        match media {
            Ok(media) => {
                *lock(&session.done) = Some(media.clone());
                // The bytes now live in the stores; what stays is the answer for a client
                // whose last response was lost.
                let _ = std::fs::remove_file(sessions.part(id));
                if let Err(e) = sessions.save(&session, ResumableDigester::new().checkpoint()) {
                    warn!(session = %id, error = %e, "could not save a finished session");
                }
                Ok(Appended::Done {
                    offset,
                    media: Box::new(media),
                })
            }
            Err(e) if e.is_retryable() && std::fs::metadata(sessions.state(id)).is_ok() => {
                // A store was down: the session stays; its bytes went to the pipeline, so it
                // starts over at 0 and a client that sends again finishes (or dedups) then.
                session.offset.store(0, Ordering::Release);
                if let Err(e) = create_private_file(&sessions.part(id))
                    .and_then(|_| sessions.save(&session, ResumableDigester::new().checkpoint()))
                {
                    warn!(session = %id, error = %e, "could not reopen a session after a store failed");
                }
                Err(e)
            }
            Err(e) => {
                lock(&sessions.table).remove(id);
                sessions.remove_files(id);
                Err(e)
            }
        }
    }

    async fn finish_session(&self, session: &Session, digests: Digests) -> Result<MediaFile> {
        let new = lock(&session.new).clone();
        let staged = self
            .inner
            .staging
            .join(format!("session-{}.part", session.id));
        std::fs::rename(self.sessions().part(&session.id), &staged)
            .map_err(|e| io_err("handing a finished session to the pipeline", e))?;
        let mut request = UploadRequest::staged(new.name, staged, digests);
        if let Some(mime) = new.mime {
            request = request.with_mime(mime);
        }
        if let Some(id) = new.sha256 {
            request = request.expect_sha256(id);
        }
        if let Some(secs) = new.expires_in {
            request = request.expires_in(Duration::from_secs(secs));
        }
        if !new.private_to.is_empty() {
            let recipients = new
                .private_to
                .iter()
                .map(|r| {
                    r.parse().map_err(|e: media_privacy::SealError| {
                        MediaError::invalid_input(Operation::Upload, format!("private_to: {e}"))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            request = request.encrypt_to(recipients);
        }
        self.upload(request).await
    }
}

/// Remove expired sessions once a minute while the store lives.
pub(crate) fn spawn_session_sweeper(inner: std::sync::Weak<crate::state::Inner>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(inner) = inner.upgrade() else { return };
            inner.sessions.sweep();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_whose_bytes_went_to_the_pipeline_starts_over_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let uploads = dir.path().join("uploads");
        let sessions = Sessions::open(uploads.clone(), ResumableLimits::default()).unwrap();
        let (id, _) = sessions
            .create(NewSession::named("clip.mp4").with_length(10), None)
            .unwrap();
        // The node stopped while storing it: the staged bytes were cleared at start-up.
        std::fs::remove_file(sessions.part(&id)).unwrap();
        drop(sessions);
        let sessions = Sessions::open(uploads, ResumableLimits::default()).unwrap();
        let session = sessions.get(&id).expect("the session is still there");
        assert_eq!(sessions.status_of(&session).offset, 0);
        assert!(sessions.part(&id).exists());
    }

    #[test]
    fn sums_of_declared_lengths_saturate() {
        let dir = tempfile::tempdir().unwrap();
        let sessions = Sessions::open(dir.path().join("u"), ResumableLimits::default()).unwrap();
        let (_, _) = sessions.create(NewSession::named("a"), None).unwrap();
        if let Some(s) = lock(&sessions.table).values().next() {
            lock(&s.new).length = Some(u64::MAX);
        }
        assert_eq!(sessions.staged(), u64::MAX);
        let refused = sessions.create(NewSession::named("b").with_length(1), None);
        assert_eq!(refused.unwrap_err().kind, ErrorKind::Unavailable);
    }
}
