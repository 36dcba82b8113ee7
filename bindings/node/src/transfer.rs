//! Streams in both directions. An upload from a JavaScript stream writes its chunks into a
//! bounded channel the engine reads as its input (so a slow store slows the writer, and a
//! video is never held whole); a download hands out the engine's verified stream a piece at
//! a time (at most [`READ_PIECE`] per call), so the package can wrap it in a `Readable`.
//!
//! Every transfer belongs to its manager: closing the manager cancels it (a pending `read()`
//! or `write()` ends with a `cancelled` error and the engine's stream is dropped, so the
//! stores' connections and the data directory are free again). An upload's input ends only
//! through `finish()`: a channel dropped without it, a caller gone quiet for the idle
//! timeout, or a cancellation fail the upload instead of storing a shorter file.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use media_facade::media_core::{ErrorKind, MediaError, Operation};
use media_facade::UploadHandle;
use napi::bindgen_prelude::Buffer;
use tokio::sync::{mpsc, Mutex};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::errors::{js_error, IntoJs};
use crate::shapes::MediaFile;

/// The most one `read()` hands to JavaScript: large enough that a 256 MiB read is a few
/// hundred promise settlements, small enough that no single one holds the event loop.
pub const READ_PIECE: usize = 1 << 20;

/// Chunks a writer may have in flight before `write()` waits for the engine.
pub const WRITE_QUEUE: usize = 8;

/// How long a stream upload may wait for its next chunk unless told otherwise.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

type Chunk = std::io::Result<Bytes>;
type Verified = BoxStream<'static, Result<Bytes, MediaError>>;

fn cancelled(op: Operation) -> napi::Error {
    js_error(
        ErrorKind::Cancelled,
        op,
        "cancelled: the manager was destroyed or the transfer cancelled",
    )
}

/// The receiving end of an upload's channel; dropping it (the input ended, failed, or the
/// engine stopped reading) tells the writer through `ended`.
struct Inbox {
    rx: mpsc::Receiver<Chunk>,
    ended: CancellationToken,
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.ended.cancel();
    }
}

/// The engine's input for an upload written from JavaScript, and what ends it.
pub(crate) struct ChannelInput {
    pub tx: mpsc::Sender<Chunk>,
    pub finished: Arc<AtomicBool>,
    pub ended: CancellationToken,
}

pub(crate) fn channel_input(
    token: CancellationToken,
    idle: Duration,
) -> (ChannelInput, impl tokio::io::AsyncRead + Send) {
    let (tx, rx) = mpsc::channel::<Chunk>(WRITE_QUEUE);
    let finished = Arc::new(AtomicBool::new(false));
    let ended = CancellationToken::new();
    let inbox = Inbox {
        rx,
        ended: ended.clone(),
    };
    let done = Arc::clone(&finished);
    let stream = futures::stream::unfold(Some(inbox), move |inbox| {
        let token = token.clone();
        let done = Arc::clone(&done);
        async move {
            let mut inbox = inbox?;
            let failure = |kind, text: String| Some((Err(std::io::Error::new(kind, text)), None));
            tokio::select! {
                biased;
                _ = token.cancelled() => failure(
                    std::io::ErrorKind::ConnectionAborted,
                    "the manager was destroyed during the upload".into(),
                ),
                next = tokio::time::timeout(idle, inbox.rx.recv()) => match next {
                    Ok(Some(chunk)) => Some((chunk, Some(inbox))),
                    // The end of the input, but only if `finish()` said so.
                    Ok(None) if done.load(Ordering::Acquire) => None,
                    Ok(None) => failure(
                        std::io::ErrorKind::ConnectionAborted,
                        "the upload was dropped before finish()".into(),
                    ),
                    Err(_) => failure(
                        std::io::ErrorKind::TimedOut,
                        format!("no bytes for {} s: the upload timed out", idle.as_secs()),
                    ),
                },
            }
        }
    });
    let input = ChannelInput {
        tx,
        finished,
        ended,
    };
    (input, tokio_util::io::StreamReader::new(Box::pin(stream)))
}

/// An upload being written from JavaScript: `write()` each chunk (it waits while the engine
/// is behind), then `finish()` for the stored file, or `abort()`.
#[napi]
pub struct MediaUpload {
    tx: Mutex<Option<mpsc::Sender<Chunk>>>,
    finished: Arc<AtomicBool>,
    ended: CancellationToken,
    handle: Mutex<Option<UploadHandle>>,
    token: CancellationToken,
    operation: u32,
}

impl MediaUpload {
    pub(crate) fn new(input: ChannelInput, handle: UploadHandle, token: CancellationToken) -> Self {
        MediaUpload {
            operation: handle.operation().0 as u32,
            tx: Mutex::new(Some(input.tx)),
            finished: input.finished,
            ended: input.ended,
            handle: Mutex::new(Some(handle)),
            token,
        }
    }

    fn already_ended() -> napi::Error {
        js_error(
            ErrorKind::InvalidInput,
            Operation::Upload,
            "this upload was already finished or aborted",
        )
    }

    async fn outcome(&self) -> napi::Result<MediaFile> {
        let handle = self
            .handle
            .lock()
            .await
            .take()
            .ok_or_else(Self::already_ended)?;
        handle.await.map(|f| MediaFile::from(&f)).js()
    }
}

#[napi]
impl MediaUpload {
    /// The engine's operation id (events of this upload carry it).
    #[napi(getter)]
    pub fn operation(&self) -> u32 {
        self.operation
    }

    /// Append `chunk`; resolves once the engine has room for more. Write one chunk at a
    /// time (await each): chunks written concurrently may be stored out of order.
    #[napi]
    pub async fn write(&self, chunk: Buffer) -> napi::Result<()> {
        let bytes = Bytes::copy_from_slice(&chunk);
        let tx = self
            .tx
            .lock()
            .await
            .clone()
            .ok_or_else(Self::already_ended)?;
        let sent = tokio::select! {
            biased;
            _ = self.token.cancelled() => return Err(cancelled(Operation::Upload)),
            sent = tx.send(Ok(bytes)) => sent,
        };
        if sent.is_err() {
            // The engine stopped reading: the upload failed, and its outcome says why.
            return self.outcome().await.map(|_| ());
        }
        Ok(())
    }

    /// Resolves once the engine has stopped reading this upload's input: after `finish()`,
    /// or when the input failed (idle timeout, cancellation, abort). The package races its
    /// source stream against it, so a source that never yields again cannot hold the upload.
    #[napi]
    pub async fn closed(&self) {
        self.ended.cancelled().await;
    }

    /// End the input and wait for the stored file.
    #[napi]
    pub async fn finish(&self) -> napi::Result<MediaFile> {
        self.finished.store(true, Ordering::Release);
        self.tx.lock().await.take();
        self.outcome().await
    }

    /// Abandon the upload: the engine sees its input fail and stores nothing.
    #[napi]
    pub async fn abort(&self, reason: Option<String>) -> napi::Result<()> {
        if let Some(tx) = self.tx.lock().await.take() {
            let reason = reason.unwrap_or_else(|| "aborted by the caller".to_owned());
            // Not `Interrupted`: readers retry that one and would take the end of the
            // channel for the end of the file. (A dropped channel fails too: see above.)
            let _ = tx.try_send(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                reason,
            )));
        }
        if let Some(handle) = self.handle.lock().await.take() {
            let _ = handle.await;
        }
        Ok(())
    }
}

/// The engine streams of a manager's open downloads, so closing it can drop them even when
/// no `read()` is pending.
#[derive(Default)]
pub(crate) struct OpenReads(std::sync::Mutex<Vec<Weak<Mutex<Option<Verified>>>>>);

impl OpenReads {
    fn add(&self, slot: &Arc<Mutex<Option<Verified>>>) {
        if let Ok(mut all) = self.0.lock() {
            all.retain(|w| w.strong_count() > 0);
            all.push(Arc::downgrade(slot));
        }
    }

    /// Drop every open read's stream (after their tokens were cancelled, so no `read()`
    /// holds a slot for long).
    pub(crate) async fn drop_all(&self) {
        let slots: Vec<_> = match self.0.lock() {
            Ok(mut all) => all.drain(..).filter_map(|w| w.upgrade()).collect(),
            Err(_) => return,
        };
        for slot in slots {
            slot.lock().await.take();
        }
    }
}

/// A verified download being read from JavaScript.
#[napi]
pub struct MediaDownload {
    stream: Arc<Mutex<Option<Verified>>>,
    // Set when the engine's stream ended: an emptied slot without it was cancelled, and a
    // read then fails rather than looking like the end of the file.
    completed: AtomicBool,
    length: Option<f64>,
    token: CancellationToken,
    deadline: Option<Instant>,
}

impl MediaDownload {
    pub(crate) fn new(
        stream: Verified,
        length: Option<u64>,
        token: CancellationToken,
        deadline: Option<Duration>,
        open: &OpenReads,
    ) -> Self {
        let stream = Arc::new(Mutex::new(Some(stream)));
        open.add(&stream);
        MediaDownload {
            stream,
            completed: AtomicBool::new(false),
            length: length.map(|l| l as f64),
            token,
            deadline: deadline.map(|d| Instant::now() + d),
        }
    }
}

#[napi]
impl MediaDownload {
    /// How many bytes the read yields, when known in advance.
    #[napi(getter)]
    pub fn length(&self) -> Option<f64> {
        self.length
    }

    /// The next verified bytes (at most 1 MiB), or `null` at the end. An error (a store that
    /// failed every policy step, bytes that did not verify, the deadline, a cancellation)
    /// ends the read.
    #[napi]
    pub async fn read(&self) -> napi::Result<Option<Buffer>> {
        let mut guard = self.stream.lock().await;
        let Some(stream) = guard.as_mut() else {
            return if self.completed.load(Ordering::Acquire) {
                Ok(None)
            } else {
                Err(cancelled(Operation::Download))
            };
        };
        let deadline = self.deadline;
        let mut out: Vec<u8> = Vec::new();
        while out.len() < READ_PIECE {
            let next = tokio::select! {
                biased;
                _ = self.token.cancelled() => Err(cancelled(Operation::Download)),
                _ = async {
                    match deadline {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => Err(js_error(
                    ErrorKind::Timeout,
                    Operation::Download,
                    "the read passed its deadline",
                )),
                next = stream.next() => Ok(next),
            };
            match next {
                Ok(Some(Ok(piece))) if out.is_empty() && piece.len() >= READ_PIECE / 2 => {
                    return Ok(Some(Vec::from(piece).into()));
                }
                Ok(Some(Ok(piece))) => {
                    if out.capacity() == 0 {
                        out.reserve(READ_PIECE.max(piece.len()));
                    }
                    out.extend_from_slice(&piece);
                }
                Ok(Some(Err(e))) => {
                    *guard = None;
                    return Err(crate::errors::to_js(e));
                }
                Ok(None) => {
                    self.completed.store(true, Ordering::Release);
                    *guard = None;
                    break;
                }
                Err(e) => {
                    *guard = None;
                    return Err(e);
                }
            }
        }
        Ok((!out.is_empty()).then(|| out.into()))
    }

    /// Stop reading: a pending `read()` ends with a `cancelled` error and the engine's read
    /// is dropped.
    #[napi]
    pub async fn cancel(&self) {
        self.token.cancel();
        self.stream.lock().await.take();
    }
}
