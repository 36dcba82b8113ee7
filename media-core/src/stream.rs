//! Streaming a byte range out of any seekable async reader, for adapters whose stores hand
//! out readers (iroh blobs, torrent files): one place for seek, piecewise reads, early end and
//! stalls, with the adapter deciding how each failure is classified.

use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeek, AsyncSeekExt};

use crate::{ByteStream, MediaError};

/// Why a ranged read stopped before its end.
#[derive(Debug)]
#[non_exhaustive]
pub enum RangeReadFailure {
    /// Seeking to the start of the range failed.
    Seek(std::io::Error),
    /// A read failed.
    Read(std::io::Error),
    /// No byte arrived for this long.
    Idle(Duration),
    /// The reader ended before the range did.
    EndedEarly,
}

/// Stream `range` of `reader` in pieces of at most `piece` bytes. With `idle`, a read that gets
/// no byte for that long ends the stream. Any failure ends it with `classify(failure)`.
pub fn range_stream<R, F>(
    reader: R,
    range: Range<u64>,
    piece: usize,
    idle: Option<Duration>,
    classify: F,
) -> ByteStream
where
    R: AsyncRead + AsyncSeek + Unpin + Send + 'static,
    F: Fn(RangeReadFailure) -> MediaError + Send + Sync + 'static,
{
    let classify = std::sync::Arc::new(classify);
    let state = (reader, range.start, range.end, false);
    futures::stream::unfold(state, move |(mut reader, at, end, mut sought)| {
        let classify = std::sync::Arc::clone(&classify);
        async move {
            if at >= end {
                return None;
            }
            let fail = |reader, failure| Some((Err(classify(failure)), (reader, end, end, true)));
            if !sought {
                if let Err(e) = reader.seek(std::io::SeekFrom::Start(at)).await {
                    return fail(reader, RangeReadFailure::Seek(e));
                }
                sought = true;
            }
            let want = usize::try_from(end - at).unwrap_or(piece).min(piece);
            let mut buf = vec![0u8; want];
            let read = reader.read(&mut buf);
            let n = match idle {
                Some(limit) => match tokio::time::timeout(limit, read).await {
                    Ok(r) => r,
                    Err(_) => return fail(reader, RangeReadFailure::Idle(limit)),
                },
                None => read.await,
            };
            match n {
                Ok(0) => fail(reader, RangeReadFailure::EndedEarly),
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), (reader, at + n as u64, end, sought)))
                }
                Err(e) => fail(reader, RangeReadFailure::Read(e)),
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorKind, Operation};

    fn classify(f: RangeReadFailure) -> MediaError {
        let kind = match f {
            RangeReadFailure::EndedEarly => ErrorKind::Unavailable,
            RangeReadFailure::Idle(_) => ErrorKind::Timeout,
            _ => ErrorKind::Io,
        };
        MediaError::new(kind, Operation::Get, format!("{f:?}"))
    }

    async fn collect(stream: ByteStream) -> (Vec<u8>, Option<MediaError>) {
        let mut stream = stream;
        let mut out = Vec::new();
        while let Some(piece) = stream.next().await {
            match piece {
                Ok(b) => out.extend_from_slice(&b),
                Err(e) => return (out, Some(e)),
            }
        }
        (out, None)
    }

    #[tokio::test]
    async fn streams_exactly_the_range_in_pieces() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let stream = range_stream(
            std::io::Cursor::new(data.clone()),
            1234..9876,
            1000,
            None,
            classify,
        );
        let (got, err) = collect(stream).await;
        assert!(err.is_none());
        assert_eq!(got, data[1234..9876]);
    }

    #[tokio::test]
    async fn a_short_reader_ends_with_the_classified_error() {
        let data = vec![7u8; 100];
        let stream = range_stream(std::io::Cursor::new(data), 50..500, 64, None, classify);
        let (got, err) = collect(stream).await;
        assert_eq!(got, vec![7u8; 50]);
        assert_eq!(err.map(|e| e.kind), Some(ErrorKind::Unavailable));
    }
}
