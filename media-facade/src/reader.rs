//! [`MediaReader`]: the verified byte stream a download hands its caller.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use media_core::{ErrorKind, MediaError, Operation, OperationId, Result};
use tokio::sync::mpsc;

/// A stream of verified bytes. Every item was checked against the chunk digests before it was
/// released; an `Err` item ends the stream. A stream that ends before [`MediaReader::len`]
/// bytes (the download task died or was aborted) ends with an error, never quietly short.
pub struct MediaReader {
    op: OperationId,
    len: u64,
    delivered: u64,
    finished: bool,
    rx: mpsc::Receiver<Result<Bytes>>,
}

impl std::fmt::Debug for MediaReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaReader")
            .field("op", &self.op)
            .field("len", &self.len)
            .field("delivered", &self.delivered)
            .finish()
    }
}

impl MediaReader {
    pub(crate) fn new(op: OperationId, len: u64, rx: mpsc::Receiver<Result<Bytes>>) -> Self {
        MediaReader {
            op,
            len,
            delivered: 0,
            finished: false,
            rx,
        }
    }

    /// The download's operation id (events carry it).
    pub fn operation(&self) -> OperationId {
        self.op
    }

    /// Number of bytes this reader yields when it succeeds.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the reader yields no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Collect everything (for small media; large media should be streamed).
    pub async fn read_to_end(mut self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len.min(64 << 20) as usize);
        while let Some(piece) = self.next().await {
            out.extend_from_slice(&piece?);
        }
        Ok(out)
    }

    /// Write everything to `path` through a temporary file renamed at the end (see
    /// [`crate::write_file`]: a failed download leaves nothing at `path`, and only a regular
    /// file there is replaced).
    pub async fn write_to(self, path: &std::path::Path) -> Result<u64> {
        crate::output::write_file(path, self, None).await
    }
}

impl Stream for MediaReader {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(piece))) => {
                self.delivered += piece.len() as u64;
                Poll::Ready(Some(Ok(piece)))
            }
            Poll::Ready(Some(Err(e))) => {
                self.finished = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                self.finished = true;
                if self.delivered == self.len {
                    Poll::Ready(None)
                } else {
                    Poll::Ready(Some(Err(MediaError::new(
                        ErrorKind::Unavailable,
                        Operation::Download,
                        format!(
                            "the download ended after {} of {} bytes without an error (its task stopped)",
                            self.delivered, self.len
                        ),
                    )
                    .with_retryable(true))))
                }
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_short_stream_is_an_error_not_a_success() {
        let (tx, rx) = mpsc::channel(4);
        tx.send(Ok(Bytes::from_static(b"abc"))).await.unwrap();
        drop(tx); // the task died after 3 of 10 bytes
        let err = MediaReader::new(OperationId(1), 10, rx)
            .read_to_end()
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unavailable);
        assert!(err.to_string().contains("3 of 10"), "{err}");

        let (tx, rx) = mpsc::channel(4);
        tx.send(Ok(Bytes::from_static(b"abc"))).await.unwrap();
        drop(tx);
        let all = MediaReader::new(OperationId(2), 3, rx).read_to_end().await;
        assert_eq!(all.unwrap(), b"abc");
    }
}
