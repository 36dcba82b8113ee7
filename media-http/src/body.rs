//! [`Body`]: a request body as every server of the node receives it — one upload slot of its
//! peer held while it arrives, and a minimum rate it must keep.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use crate::peers::PeerSlot;

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// The connection failed or the client sent something that is not HTTP.
    #[error("reading the request body: {0}")]
    Http(#[from] hyper::Error),
    /// The client sent fewer than `min` bytes in `window` of waiting for it.
    #[error("the request body arrived at {got} bytes in {window:?}, below the server's minimum of {min} bytes/s")]
    TooSlow {
        /// Bytes received in the window.
        got: u64,
        /// The window.
        window: Duration,
        /// The minimum rate, bytes per second.
        min: u64,
    },
}

/// A request body, as [`crate::serve`] hands it to services: the body hyper read, holding
/// its peer's upload slot until it ends or is dropped, and failing with
/// [`BodyError::TooSlow`] when the client keeps the server waiting for less than the
/// minimum rate (counted only while the server waits for the client, so a server that reads
/// slowly does not fail its own uploads).
pub struct Body {
    inner: Incoming,
    rate: Option<Rate>,
    slot: Option<PeerSlot>,
    /// Set when the body failed for being too slow: `serve` answers 408 whatever the service
    /// made of the error.
    too_slow: Arc<AtomicBool>,
}

struct Rate {
    min: u64,
    window: Duration,
    /// Bytes received and time spent waiting, in the current window.
    got: u64,
    waited: Duration,
    waiting_since: Option<Instant>,
    alarm: Pin<Box<Sleep>>,
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body")
            .field("min_rate", &self.rate.as_ref().map(|r| r.min))
            .finish_non_exhaustive()
    }
}

impl Body {
    pub(crate) fn new(
        inner: Incoming,
        min_rate: u64,
        window: Duration,
        slot: Option<PeerSlot>,
        too_slow: Arc<AtomicBool>,
    ) -> Self {
        let rate = (min_rate > 0 && !http_body::Body::is_end_stream(&inner)).then(|| Rate {
            min: min_rate,
            window,
            got: 0,
            waited: Duration::ZERO,
            waiting_since: None,
            alarm: Box::pin(tokio::time::sleep(window)),
        });
        Body {
            inner,
            rate,
            slot,
            too_slow,
        }
    }
}

impl Rate {
    fn needed(&self) -> u64 {
        (self.min as f64 * self.window.as_secs_f64()) as u64
    }

    /// A window has been waited out: enough bytes, or the body fails.
    fn settle(&mut self) -> Result<(), BodyError> {
        if self.got < self.needed() {
            return Err(BodyError::TooSlow {
                got: self.got,
                window: self.window,
                min: self.min,
            });
        }
        self.got = 0;
        self.waited = Duration::ZERO;
        Ok(())
    }

    fn stop_waiting(&mut self) {
        if let Some(since) = self.waiting_since.take() {
            self.waited += since.elapsed();
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(rate) = this.rate.as_mut() {
                    rate.stop_waiting();
                    if let Some(data) = frame.data_ref() {
                        rate.got += data.len() as u64;
                    }
                    if rate.waited >= rate.window {
                        if let Err(e) = rate.settle() {
                            this.slot = None;
                            this.too_slow.store(true, Ordering::Relaxed);
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.slot = None;
                Poll::Ready(Some(Err(BodyError::Http(e))))
            }
            Poll::Ready(None) => {
                // The upload has arrived: its slot is free for the peer's next one.
                this.slot = None;
                this.rate = None;
                Poll::Ready(None)
            }
            Poll::Pending => {
                let Some(rate) = this.rate.as_mut() else {
                    return Poll::Pending;
                };
                loop {
                    let since = *rate.waiting_since.get_or_insert_with(Instant::now);
                    let due = since + rate.window.saturating_sub(rate.waited);
                    // Reset the timer only when the deadline moved (each wait has one).
                    if rate.alarm.deadline() != due {
                        rate.alarm.as_mut().reset(due);
                    }
                    if rate.alarm.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    rate.stop_waiting();
                    if let Err(e) = rate.settle() {
                        this.slot = None;
                        this.too_slow.store(true, Ordering::Relaxed);
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
