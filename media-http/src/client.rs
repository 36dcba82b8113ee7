//! [`Client`]: the one outbound HTTP client a node uses on a stranger's word (record URLs,
//! Blossom server hints, `/mirror`, IPFS gateways, tracker hosts), and the only place the
//! HTTP client's resolver and connector are set up.
//!
//! Three checks, each of every request, so that no spelling of an address gets past them:
//!
//! 1. [`Client::request`] parses the URL with the parser the client itself uses (WHATWG, the
//!    `url` crate), so `127.1`, `0x7f.0.0.1`, `2130706433` and `[::ffff:127.0.0.1]` are the
//!    loopback addresses they are, and checks it against the node's [`Reach`];
//! 2. names are resolved by a resolver that keeps only the addresses within reach (a public
//!    name pointing at 127.0.0.1 — DNS rebinding — resolves to nothing), with a deadline;
//! 3. the connector checks the address it actually connected to before a byte is written,
//!    whatever the URL said and whichever path led there.
//!
//! Redirects are never followed (a record's server could send the node anywhere), no proxy
//! from the environment is used (it would make the connector's address the proxy's), and
//! every phase has a deadline: connect, the response's headers and each read of its body.

use std::collections::HashSet;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::client::legacy::connect::{Connection, HttpInfo};
use media_core::{ErrorKind, MediaError, Operation, Reach, Result};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// At most this many private addresses are remembered as reached through a trusted name.
const MAX_APPROVED: usize = 1024;

/// How the node's outbound client behaves: whom it may reach and how long it waits.
///
/// ```
/// use std::time::Duration;
/// use media_core::Reach;
/// use media_http::ClientOptions;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let client = ClientOptions::new(Reach::public_only())
///     .trust_url("http://127.0.0.1:9000") // a configured endpoint
///     .with_connect_timeout(Duration::from_secs(5))
///     .build()
///     .unwrap();
/// assert!(client.get("http://127.1:22/").is_err());
/// assert!(client.get("http://0x7f.0.0.1/").is_err());
/// assert!(client.get("http://127.0.0.1:9000/bucket/key").is_ok());
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientOptions {
    /// Where the client may connect.
    pub reach: Reach,
    /// Longest wait for a TCP (and TLS) connection (default 10 s).
    pub connect_timeout: Duration,
    /// Longest wait for the response's headers (counted from the start of the request, so it
    /// includes sending the body) and then for each read of the response's body (default
    /// 30 s). Clients that upload large bodies set `None` and a total deadline instead.
    pub read_timeout: Option<Duration>,
    /// Longest a whole request may take, body included (default none: a large file takes as
    /// long as it takes while bytes keep coming).
    pub total_timeout: Option<Duration>,
    /// Longest wait for a name to resolve (default 5 s).
    pub resolve_timeout: Duration,
}

impl ClientOptions {
    /// Defaults: 10 s to connect, 30 s per read, 5 s to resolve, no total deadline.
    pub fn new(reach: Reach) -> Self {
        ClientOptions {
            reach,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Some(Duration::from_secs(30)),
            total_timeout: None,
            resolve_timeout: Duration::from_secs(5),
        }
    }

    /// Trust the host (and port) of a URL the configuration names, such as an S3 endpoint
    /// or a configured gateway: it is reached even when it is loopback or private, and a
    /// name is reached whatever it resolves to.
    #[must_use]
    pub fn trust_url(mut self, url: &str) -> Self {
        if let Ok((host, port)) = Reach::url_host_port(url) {
            self.reach = self.reach.allow_host(format!("{host}:{port}"));
            if let Ok(ip) = host.parse::<IpAddr>() {
                self.reach = self.reach.allow_addr(SocketAddr::new(ip, port));
            }
        }
        self
    }

    /// See [`ClientOptions::connect_timeout`].
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// See [`ClientOptions::read_timeout`].
    #[must_use]
    pub fn with_read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// See [`ClientOptions::total_timeout`].
    #[must_use]
    pub fn with_total_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.total_timeout = timeout;
        self
    }

    /// See [`ClientOptions::resolve_timeout`].
    #[must_use]
    pub fn with_resolve_timeout(mut self, timeout: Duration) -> Self {
        self.resolve_timeout = timeout;
        self
    }

    /// The client.
    pub fn build(&self) -> Result<Client> {
        let guard = Arc::new(Guard {
            reach: self.reach.clone(),
            resolve_timeout: self.resolve_timeout,
            approved: Mutex::new(HashSet::new()),
        });
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.connect_timeout)
            .dns_resolver(Arc::new(CheckedResolver(Arc::clone(&guard))))
            .connector_layer(CheckPeerLayer(Arc::clone(&guard)));
        if let Some(timeout) = self.read_timeout {
            builder = builder.read_timeout(timeout);
        }
        if let Some(timeout) = self.total_timeout {
            builder = builder.timeout(timeout);
        }
        let http = builder
            .build()
            .map_err(|e| MediaError::internal(Operation::Configure, format!("HTTP client: {e}")))?;
        Ok(Client { http, guard })
    }
}

/// The node's outbound HTTP client: see the [module](self) and [`ClientOptions`]. Cheap to
/// clone (connections are pooled and shared).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    guard: Arc<Guard>,
}

impl Client {
    /// A request to `url` if the node may reach it (see [`Reach::check_url`]); the resolver
    /// and the connector check again where it really goes.
    pub fn request(&self, method: reqwest::Method, url: &str) -> Result<reqwest::RequestBuilder> {
        self.guard.reach.check_url(url)?;
        Ok(self.http.request(method, url))
    }

    /// `GET url`: see [`Client::request`].
    pub fn get(&self, url: &str) -> Result<reqwest::RequestBuilder> {
        self.request(reqwest::Method::GET, url)
    }

    /// `HEAD url`: see [`Client::request`].
    pub fn head(&self, url: &str) -> Result<reqwest::RequestBuilder> {
        self.request(reqwest::Method::HEAD, url)
    }

    /// `PUT url`: see [`Client::request`].
    pub fn put(&self, url: &str) -> Result<reqwest::RequestBuilder> {
        self.request(reqwest::Method::PUT, url)
    }

    /// `POST url`: see [`Client::request`].
    pub fn post(&self, url: &str) -> Result<reqwest::RequestBuilder> {
        self.request(reqwest::Method::POST, url)
    }

    /// `DELETE url`: see [`Client::request`].
    pub fn delete(&self, url: &str) -> Result<reqwest::RequestBuilder> {
        self.request(reqwest::Method::DELETE, url)
    }

    /// Where this client may connect.
    pub fn reach(&self) -> &Reach {
        &self.guard.reach
    }

    /// Whether `url`'s host may be reached, resolving a name with the client's deadline: for
    /// a peer that connects by itself (a tracker), or to tell a refusal (403) from a failure
    /// (502) before a request. See [`check_host`].
    pub async fn check_host(&self, url: &str) -> Result<()> {
        check_host(&self.guard.reach, url, self.guard.resolve_timeout).await
    }
}

/// A client error as a [`MediaError`] of `operation`: `what` (the caller's words for the
/// request, with any URL already redacted), then every cause down the chain (reqwest's own
/// message stops at "error sending request"). The URL reqwest would print is left out: it
/// may carry a presigned signature. Refusals by the reach checks are `PermissionDenied`,
/// deadlines `Timeout`, anything else `Unavailable`.
pub fn client_error(operation: Operation, what: &str, err: reqwest::Error) -> MediaError {
    let err = err.without_url();
    let mut kind = if err.is_timeout() {
        ErrorKind::Timeout
    } else if err.is_builder() {
        ErrorKind::InvalidInput
    } else {
        ErrorKind::Unavailable
    };
    let mut message = format!("{what}: {err}");
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        if let Some(refusal) = cause.downcast_ref::<MediaError>() {
            if refusal.kind == ErrorKind::PermissionDenied {
                kind = ErrorKind::PermissionDenied;
            }
        }
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    MediaError::new(kind, operation, message).with_source(err)
}

/// Whether the host of `url` (`http`, `https`, or `udp` checked like `http`) may be reached:
/// an address is checked as it is; a name the configuration trusts (or any name, when private
/// ranges are allowed) is not resolved; any other name is resolved within `timeout` and
/// refused when any of its addresses is outside reach — which of its answers the other side
/// would use is not ours to pick (DNS rebinding).
pub async fn check_host(reach: &Reach, url: &str, timeout: Duration) -> Result<()> {
    let as_http = match url.strip_prefix("udp://") {
        Some(rest) => format!("http://{rest}"),
        None => url.to_owned(),
    };
    reach.check_url(&as_http)?;
    let (host, port) = Reach::url_host_port(&as_http)?;
    if host.parse::<IpAddr>().is_ok() || reach.check_resolved_at(&host, port, NOWHERE).is_ok() {
        return Ok(());
    }
    for addr in lookup(&host, port, timeout).await? {
        reach.check_resolved_at(&host, port, addr.ip())?;
    }
    Ok(())
}

/// An address no reach allows unless the name, or private ranges, are allowed as such.
const NOWHERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);

async fn lookup(host: &str, port: u16, timeout: Duration) -> Result<Vec<SocketAddr>> {
    let unavailable =
        |message: String| MediaError::new(ErrorKind::Unavailable, Operation::Get, message);
    let found = tokio::time::timeout(timeout, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| unavailable(format!("{host} did not resolve within {timeout:?}")))?
        .map_err(|e| unavailable(format!("{host} does not resolve: {e}")))?
        .collect::<Vec<_>>();
    if found.is_empty() {
        return Err(unavailable(format!("{host} resolves to no address")));
    }
    Ok(found)
}

/// What the resolver and the connector share: the reach, and the private addresses that
/// trusted names resolved to, with the ports the names are trusted on (`None`: any). The
/// connector allows those; nothing else outside reach.
#[derive(Debug)]
struct Guard {
    reach: Reach,
    resolve_timeout: Duration,
    approved: Mutex<HashSet<(IpAddr, Option<u16>)>>,
}

impl Guard {
    fn approve(&self, ip: IpAddr, ports: &[Option<u16>]) {
        if let Ok(mut approved) = self.approved.lock() {
            for port in ports {
                if approved.len() < MAX_APPROVED {
                    approved.insert((ip, *port));
                }
            }
        }
    }

    fn check_peer(&self, peer: SocketAddr) -> Result<()> {
        let peer = canonical(peer);
        if self.reach.check_addr(peer).is_ok() {
            return Ok(());
        }
        let approved = self
            .approved
            .lock()
            .map(|a| a.contains(&(peer.ip(), None)) || a.contains(&(peer.ip(), Some(peer.port()))))
            .unwrap_or(false);
        if approved {
            Ok(())
        } else {
            Err(MediaError::new(
                ErrorKind::PermissionDenied,
                Operation::Get,
                format!("connected to {peer}, an address this node is not configured to reach; closed before sending"),
            ))
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), addr.port()),
            None => addr,
        },
        IpAddr::V4(_) => addr,
    }
}

/// The resolver: the system's, with a deadline, keeping only addresses within reach.
struct CheckedResolver(Arc<Guard>);

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = Arc::clone(&self.0);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = lookup(&host, 0, guard.resolve_timeout).await?;
            let mut allowed = Vec::with_capacity(found.len());
            // The resolver does not know the port: a name trusted on some ports resolves,
            // and the connector lets its private addresses through on those ports only.
            let ports = guard.reach.named_ports(&host);
            for addr in found {
                if guard.reach.check_resolved(&host, addr.ip()).is_ok() {
                    if !Reach::is_public(addr.ip()) && !guard.reach.allows_private() {
                        guard.approve(canonical(addr).ip(), &ports);
                    }
                    allowed.push(addr);
                }
            }
            if allowed.is_empty() {
                return Err(BoxError::from(MediaError::new(
                    ErrorKind::PermissionDenied,
                    Operation::Get,
                    format!(
                        "{host} resolves to no address this node may reach (loopback or private)"
                    ),
                )));
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// The connector layer: checks the peer of every new connection.
#[derive(Clone)]
struct CheckPeerLayer(Arc<Guard>);

impl<S> tower_layer::Layer<S> for CheckPeerLayer {
    type Service = CheckPeer<S>;

    fn layer(&self, inner: S) -> CheckPeer<S> {
        CheckPeer {
            inner,
            guard: Arc::clone(&self.0),
        }
    }
}

#[derive(Clone)]
struct CheckPeer<S> {
    inner: S,
    guard: Arc<Guard>,
}

impl<S, R> tower_service::Service<R> for CheckPeer<S>
where
    S: tower_service::Service<R, Error = BoxError>,
    S::Response: Connection + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = std::result::Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let connecting = self.inner.call(request);
        let guard = Arc::clone(&self.guard);
        Box::pin(async move {
            let connection = connecting.await?;
            let mut extensions = http::Extensions::new();
            connection.connected().get_extras(&mut extensions);
            let Some(info) = extensions.get::<HttpInfo>() else {
                // Every connection of this client is TCP; one we cannot see the peer of is
                // not used.
                return Err(BoxError::from(MediaError::internal(
                    Operation::Get,
                    "a connection without a peer address",
                )));
            };
            guard.check_peer(info.remote_addr())?;
            Ok(connection)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A loopback server that counts the bytes it was sent.
    async fn counting_server() -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let got = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&got);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = socket.read(&mut buf).await {
                        if n == 0 {
                            return;
                        }
                        counter.fetch_add(n, Ordering::SeqCst);
                        let _ = socket
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                            .await;
                    }
                });
            }
        });
        (addr, got)
    }

    #[tokio::test]
    async fn the_connector_refuses_a_loopback_peer_before_sending() {
        let (addr, got) = counting_server().await;
        let client = ClientOptions::new(Reach::public_only()).build().unwrap();
        let port = addr.port();
        // Past the URL check (as if it had been fooled): the connector still refuses.
        for url in [
            format!("http://127.0.0.1:{port}/"),
            format!("http://127.1:{port}/"),
            format!("http://0x7f.0.0.1:{port}/"),
            format!("http://2130706433:{port}/"),
            format!("http://[::ffff:127.0.0.1]:{port}/"),
        ] {
            let err = client.http.get(&url).send().await.unwrap_err();
            let chain = format!("{:?}", err);
            assert!(chain.contains("not configured to reach"), "{url}: {chain}");
        }
        assert_eq!(got.load(Ordering::SeqCst), 0, "the server was sent bytes");
        // The same server, trusted by configuration, is reached.
        let trusted = ClientOptions::new(Reach::public_only())
            .trust_url(&format!("http://127.0.0.1:{port}"))
            .build()
            .unwrap();
        let body = trusted
            .get(&format!("http://127.0.0.1:{port}/x"))
            .unwrap()
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(body, "ok");
        assert!(got.load(Ordering::SeqCst) > 0);
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused_unless_trusted() {
        let (addr, got) = counting_server().await;
        let port = addr.port();
        let url = format!("http://localhost.:{port}/");
        let strict = ClientOptions::new(Reach::public_only()).build().unwrap();
        assert!(strict.get(&url).is_err());
        // Past the URL check: the resolver keeps no address.
        assert!(strict.http.get(&url).send().await.is_err());
        assert!(strict.check_host(&url).await.is_err());
        assert_eq!(got.load(Ordering::SeqCst), 0);
        let trusted = ClientOptions::new(Reach::public_only())
            .trust_url(&format!("http://localhost:{port}"))
            .build()
            .unwrap();
        let ok = trusted
            .get(&format!("http://localhost:{port}/"))
            .unwrap()
            .send()
            .await
            .unwrap();
        assert!(ok.status().is_success());
    }

    #[tokio::test]
    async fn a_name_trusted_on_one_port_is_not_trusted_on_others() {
        let (addr, got) = counting_server().await;
        let port = addr.port();
        // `localhost` trusted on another port only: this port is refused at the connector.
        let other = ClientOptions::new(Reach::public_only())
            .trust_url(&format!("http://localhost:{}", port.wrapping_add(1)))
            .build()
            .unwrap();
        let err = other
            .http
            .get(format!("http://localhost:{port}/"))
            .send()
            .await
            .unwrap_err();
        assert!(
            format!("{err:?}").contains("not configured to reach"),
            "{err:?}"
        );
        assert!(other
            .check_host(&format!("http://localhost.:{port}/"))
            .await
            .is_err());
        assert_eq!(got.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            if let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = socket.read(&mut buf).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/\r\nContent-Length: 0\r\n\r\n")
                    .await;
            }
        });
        let client = ClientOptions::new(Reach::public_only().allow_private(true))
            .build()
            .unwrap();
        let answer = client
            .get(&format!("http://{addr}/"))
            .unwrap()
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 302);
    }

    #[tokio::test]
    async fn a_silent_server_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let client = ClientOptions::new(Reach::public_only().allow_private(true))
            .with_read_timeout(Some(Duration::from_millis(300)))
            .build()
            .unwrap();
        let started = std::time::Instant::now();
        let err = client
            .get(&format!("http://{addr}/"))
            .unwrap()
            .send()
            .await
            .unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
