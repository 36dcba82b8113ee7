//! [`Server`]: an accept loop with connection limits (global and per peer), header and idle
//! timeouts, per-peer upload slots and a minimum body rate.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tracing::debug;

use crate::body::Body;
use crate::peers::{Connections, Peer, PeerCounts};

/// The limits of one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeLimits {
    /// Connections served at once (default 512). When full, a new connection takes the place
    /// of the oldest one of the peer holding the most (if it holds more than one); when every
    /// peer holds one, it is closed.
    pub max_connections: usize,
    /// Connections one peer (an IPv4 address, or an IPv6 /64) may hold at once (default 64);
    /// more are closed at once.
    pub max_connections_per_peer: usize,
    /// Requests with a body one peer may have arriving at once (default 8); more are
    /// answered `429 Too Many Requests`. A slot is held until the body has arrived.
    pub max_uploads_per_peer: usize,
    /// Longest time a request's headers may take to arrive (default 10 s).
    pub header_timeout: Duration,
    /// A connection that moves no byte either way for this long is closed (default 60 s).
    pub idle_timeout: Duration,
    /// The slowest a request body may arrive, in bytes per second, averaged over
    /// [`ServeLimits::body_rate_window`] of waiting for the client (default 1024; 0: none).
    pub min_body_rate: u64,
    /// See [`ServeLimits::min_body_rate`] (default 10 s).
    pub body_rate_window: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            max_connections: 512,
            max_connections_per_peer: 64,
            max_uploads_per_peer: 8,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            min_body_rate: 1024,
            body_rate_window: Duration::from_secs(10),
        }
    }
}

impl ServeLimits {
    /// The defaults with these values (at least one connection; timeouts of at least 10 ms).
    pub fn new(max_connections: usize, header_timeout: Duration, idle_timeout: Duration) -> Self {
        let floor = Duration::from_millis(10);
        ServeLimits {
            max_connections: max_connections.max(1),
            header_timeout: header_timeout.max(floor),
            idle_timeout: idle_timeout.max(floor),
            ..ServeLimits::default()
        }
    }

    /// Per-peer caps: connections, and bodies arriving at once (each at least 1).
    #[must_use]
    pub fn with_per_peer(mut self, connections: usize, uploads: usize) -> Self {
        self.max_connections_per_peer = connections.max(1);
        self.max_uploads_per_peer = uploads.max(1);
        self
    }

    /// The minimum body rate (bytes per second, 0 for none) over `window` (at least 10 ms).
    #[must_use]
    pub fn with_min_body_rate(mut self, bytes_per_second: u64, window: Duration) -> Self {
        self.min_body_rate = bytes_per_second;
        self.body_rate_window = window.max(Duration::from_millis(10));
        self
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A server started by [`Server::start`]: its address, and the task serving it, aborted (with
/// every open connection) by [`Server::shutdown`] or on drop. The handle every server of the
/// node (S3, gateway, Blossom, API) keeps.
#[derive(Debug)]
pub struct Server {
    addr: std::net::SocketAddr,
    task: JoinHandle<()>,
}

impl Server {
    /// Serve `service` on `listener` (HTTP/1.1) within `limits` until [`Server::shutdown`] or
    /// drop, which close every open connection too. `name` is for logs.
    ///
    /// `service` is a `tower` service (an axum `Router`, a `tower-http` stack) of requests
    /// whose body is a [`Body`]: the peer's upload slot rides with it, and it fails when the
    /// client sends slower than [`ServeLimits::min_body_rate`].
    pub fn start<S, B>(
        listener: TcpListener,
        service: S,
        limits: ServeLimits,
        name: &'static str,
    ) -> std::io::Result<Server>
    where
        S: tower_service::Service<Request<Body>, Response = Response<B>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: hyper::body::Body + Default + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let held = Connections::new(limits.max_connections, limits.max_connections_per_peer);
            let uploads_of = PeerCounts::new(limits.max_uploads_per_peer);
            let mut connections = JoinSet::new();
            loop {
                let (socket, addr) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        debug!(server = name, error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let peer = Peer::of(addr.ip());
                let Some(admitted) = held.admit(peer) else {
                    debug!(server = name, peer = %addr.ip(), "no room for this peer's connection; closed");
                    continue;
                };
                let service = service.clone();
                let uploads_of = uploads_of.clone();
                let slot = Arc::new(std::sync::Mutex::new(None::<crate::peers::Admitted>));
                let own = Arc::clone(&slot);
                let handle = connections.spawn(async move {
                    // Given back when the connection ends or is evicted (the task is dropped).
                    let _held = own;
                    let informational = Informational::default();
                    let early = informational.clone();
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        let service = service.clone();
                        let uploads_of = uploads_of.clone();
                        let early = early.clone();
                        handle(service, request, peer, uploads_of, limits, early)
                    });
                    serve_one(socket, service, limits, name, informational).await;
                });
                admitted.serving(handle);
                if let Ok(mut slot) = slot.lock() {
                    *slot = Some(admitted);
                }
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(Server { addr, task })
    }

    /// The address it listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop serving: open connections are closed.
    pub fn shutdown(&self) {
        self.task.abort();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One request: its peer's upload slot when it has a body (or a 429), then the service.
async fn handle<S, B>(
    mut service: S,
    request: Request<Incoming>,
    peer: Peer,
    uploads_of: PeerCounts,
    limits: ServeLimits,
    informational: Informational,
) -> Result<Response<B>, BoxError>
where
    S: tower_service::Service<Request<Body>, Response = Response<B>>,
    S::Error: Into<BoxError>,
    B: Default,
{
    let slot = if hyper::body::Body::is_end_stream(request.body()) {
        None
    } else {
        match uploads_of.try_take(peer) {
            Some(slot) => Some(slot),
            None => {
                let mut busy = Response::new(B::default());
                *busy.status_mut() = http::StatusCode::TOO_MANY_REQUESTS;
                let headers = busy.headers_mut();
                headers.insert(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from_static("5"),
                );
                headers.insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
                return Ok(busy);
            }
        }
    };
    let too_slow = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Handlers that bound something per peer (Blossom reports) see it as the limits do.
    let mut request = request;
    request.extensions_mut().insert(peer);
    if request.version() == http::Version::HTTP_11 {
        request.extensions_mut().insert(informational);
    }
    let request = request.map(|body| {
        Body::new(
            body,
            limits.min_body_rate,
            limits.body_rate_window,
            slot,
            Arc::clone(&too_slow),
        )
    });
    std::future::poll_fn(|cx| service.poll_ready(cx))
        .await
        .map_err(Into::into)?;
    let mut response = service.call(request).await.map_err(Into::into)?;
    if too_slow.load(Ordering::Relaxed) {
        // Whatever the service made of the failed body, the client was too slow: 408, and
        // the connection goes.
        *response.status_mut() = http::StatusCode::REQUEST_TIMEOUT;
        response.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
    }
    Ok(response)
}

async fn serve_one<S, B>(
    socket: tokio::net::TcpStream,
    service: S,
    limits: ServeLimits,
    name: &str,
    informational: Informational,
) where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let epoch = Instant::now();
    let last = Arc::new(AtomicU64::new(0));
    let io = Tracked {
        inner: socket,
        last: Arc::clone(&last),
        epoch,
        informational,
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    let idle = async {
        loop {
            let quiet_since = epoch + Duration::from_millis(last.load(Ordering::Relaxed));
            let deadline = quiet_since + limits.idle_timeout;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    };
    tokio::select! {
        result = conn => {
            if let Err(e) = result {
                debug!(server = name, error = %e, "connection ended");
            }
        }
        () = idle => debug!(server = name, "closing a connection idle for {:?}", limits.idle_timeout),
    }
}

/// Interim (1xx) responses a handler sends before its final one, such as the IETF resumable
/// upload draft's `104 Upload Resumption Supported`, which hyper has no way to send. The
/// server puts one in every HTTP/1.1 request's extensions; the bytes go out on the
/// connection before anything hyper writes next (and while hyper reads the request's body).
#[derive(Clone, Default)]
pub struct Informational {
    pending: Arc<std::sync::Mutex<Vec<u8>>>,
}

impl std::fmt::Debug for Informational {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Informational")
    }
}

impl Informational {
    /// Queue an interim response: `status` must be 102–199 (not 101), header names tokens and
    /// values visible ASCII; `false` (nothing queued) otherwise.
    pub fn send(&self, status: http::StatusCode, headers: &http::HeaderMap) -> bool {
        let code = status.as_u16();
        if !(102..200).contains(&code) {
            return false;
        }
        let reason = match code {
            103 => "Early Hints",
            104 => "Upload Resumption Supported",
            _ => status.canonical_reason().unwrap_or("Informational"),
        };
        let mut head = format!("HTTP/1.1 {code} {reason}\r\n");
        for (name, value) in headers {
            let Ok(value) = value.to_str() else {
                return false;
            };
            if value.bytes().any(|b| b == b'\r' || b == b'\n') {
                return false;
            }
            head.push_str(&format!("{}: {value}\r\n", name.as_str()));
        }
        head.push_str("\r\n");
        match self.pending.lock() {
            Ok(mut pending) => {
                pending.extend_from_slice(head.as_bytes());
                true
            }
            Err(_) => false,
        }
    }
}

/// A socket that remembers when it last moved a byte, and writes queued interim responses
/// before anything else.
struct Tracked {
    inner: tokio::net::TcpStream,
    last: Arc<AtomicU64>,
    epoch: Instant,
    informational: Informational,
}

impl Tracked {
    fn touch(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.last.store(ms, Ordering::Relaxed);
    }

    /// Write what interim responses are queued; ready when none is left.
    fn poll_interim(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let pending = Arc::clone(&self.informational.pending);
        let Ok(mut pending) = pending.lock() else {
            return Poll::Ready(Ok(()));
        };
        while !pending.is_empty() {
            match Pin::new(&mut self.inner).poll_write(cx, &pending) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => {
                    pending.drain(..n);
                    self.touch();
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        // hyper reads a request's body while the handler runs: that is when a queued interim
        // response can go out. Not written yet (a full send buffer) is fine: the waker is set
        // and reading goes on.
        if let Poll::Ready(Err(e)) = self.poll_interim(cx) {
            return Poll::Ready(Err(e));
        }
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        poll
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        std::task::ready!(self.poll_interim(cx))?;
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        std::task::ready!(self.poll_interim(cx))?;
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        std::task::ready!(self.poll_interim(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
