//! Streams in both directions. An upload from a JavaScript stream writes its chunks into a
//! bounded channel the engine reads as its input (so a slow store slows the writer, and a
//! video is never held whole); a download hands out the engine's verified stream a piece at
//! a time (at most [`READ_PIECE`] per call), so the package can wrap it in a `Readable`.

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use media_facade::media_core::{ErrorKind, MediaError, Operation};
use media_facade::UploadHandle;
use napi::bindgen_prelude::Buffer;
use tokio::sync::{mpsc, Mutex};

use crate::errors::{js_error, IntoJs};
use crate::shapes::MediaFile;

/// The most one `read()` hands to JavaScript: large enough that a 256 MiB read is a few
/// hundred promise settlements, small enough that no single one holds the event loop.
pub const READ_PIECE: usize = 1 << 20;

/// Chunks a writer may have in flight before `write()` waits for the engine.
pub const WRITE_QUEUE: usize = 8;

type Chunk = std::io::Result<Bytes>;

/// The engine's input for an upload written from JavaScript.
pub(crate) fn channel_input() -> (mpsc::Sender<Chunk>, impl tokio::io::AsyncRead + Send) {
    let (tx, rx) = mpsc::channel::<Chunk>(WRITE_QUEUE);
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    (tx, tokio_util::io::StreamReader::new(Box::pin(stream)))
}

/// An upload being written from JavaScript: `write()` each chunk (it waits while the engine
/// is behind), then `finish()` for the stored file, or `abort()`.
#[napi]
pub struct MediaUpload {
    tx: Mutex<Option<mpsc::Sender<Chunk>>>,
    handle: Mutex<Option<UploadHandle>>,
    operation: u32,
}

impl MediaUpload {
    pub(crate) fn new(tx: mpsc::Sender<Chunk>, handle: UploadHandle) -> Self {
        MediaUpload {
            operation: handle.operation().0 as u32,
            tx: Mutex::new(Some(tx)),
            handle: Mutex::new(Some(handle)),
        }
    }

    fn closed() -> napi::Error {
        js_error(
            ErrorKind::InvalidInput,
            Operation::Upload,
            "this upload was already finished or aborted",
        )
    }
}

#[napi]
impl MediaUpload {
    /// The engine's operation id (events of this upload carry it).
    #[napi(getter)]
    pub fn operation(&self) -> u32 {
        self.operation
    }

    /// Append `chunk`; resolves once the engine has room for more.
    #[napi]
    pub async fn write(&self, chunk: Buffer) -> napi::Result<()> {
        let bytes = Bytes::copy_from_slice(&chunk);
        let tx = self.tx.lock().await.clone().ok_or_else(Self::closed)?;
        if tx.send(Ok(bytes)).await.is_err() {
            // The engine stopped reading: the upload failed, and `finish()` says why.
            return self.finish_inner().await.map(|_| ());
        }
        Ok(())
    }

    /// End the input and wait for the stored file.
    #[napi]
    pub async fn finish(&self) -> napi::Result<MediaFile> {
        self.tx.lock().await.take();
        self.finish_inner().await
    }

    /// Abandon the upload: the engine sees its input fail and stores nothing.
    #[napi]
    pub async fn abort(&self, reason: Option<String>) -> napi::Result<()> {
        if let Some(tx) = self.tx.lock().await.take() {
            let reason = reason.unwrap_or_else(|| "aborted by the caller".to_owned());
            let _ = tx
                .send(Err(std::io::Error::new(
                    // Not `Interrupted`: readers retry that one and would take the
                    // end of the channel for the end of the file.
                    std::io::ErrorKind::ConnectionAborted,
                    reason,
                )))
                .await;
        }
        if let Some(handle) = self.handle.lock().await.take() {
            let _ = handle.await;
        }
        Ok(())
    }

    async fn finish_inner(&self) -> napi::Result<MediaFile> {
        let handle = self.handle.lock().await.take().ok_or_else(Self::closed)?;
        handle.await.map(|f| MediaFile::from(&f)).js()
    }
}

/// A verified download being read from JavaScript.
#[napi]
pub struct MediaDownload {
    stream: Mutex<Option<BoxStream<'static, Result<Bytes, MediaError>>>>,
    length: Option<f64>,
}

impl MediaDownload {
    pub(crate) fn new(
        stream: BoxStream<'static, Result<Bytes, MediaError>>,
        length: Option<u64>,
    ) -> Self {
        MediaDownload {
            stream: Mutex::new(Some(stream)),
            length: length.map(|l| l as f64),
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
    /// failed every policy step, bytes that did not verify) ends the read.
    #[napi]
    pub async fn read(&self) -> napi::Result<Option<Buffer>> {
        let mut guard = self.stream.lock().await;
        let Some(stream) = guard.as_mut() else {
            return Ok(None);
        };
        let mut out: Vec<u8> = Vec::new();
        while out.len() < READ_PIECE {
            match stream.next().await {
                Some(Ok(piece)) if out.is_empty() && piece.len() >= READ_PIECE / 2 => {
                    return Ok(Some(Vec::from(piece).into()));
                }
                Some(Ok(piece)) => {
                    if out.capacity() == 0 {
                        out.reserve(READ_PIECE.max(piece.len()));
                    }
                    out.extend_from_slice(&piece);
                }
                Some(Err(e)) => {
                    *guard = None;
                    return Err(crate::errors::to_js(e));
                }
                None => {
                    *guard = None;
                    break;
                }
            }
        }
        Ok((!out.is_empty()).then(|| out.into()))
    }

    /// Stop reading: the engine's read is dropped.
    #[napi]
    pub async fn cancel(&self) {
        self.stream.lock().await.take();
    }
}
