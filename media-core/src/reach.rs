//! [`Reach`]: where a node may connect when a stranger's record, magnet, ticket or URL names
//! an address.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use crate::error::{ErrorKind, MediaError, Operation, Result};

/// Which addresses a node contacts on the word of untrusted input. Public addresses are
/// allowed; loopback, private, link-local, shared (CGNAT) and unspecified ones only when
/// configured — all of them ([`Reach::allow_private`]) or one by one ([`Reach::allow_addr`],
/// [`Reach::allow_host`]; a node allows its own services this way). Configured endpoints
/// (an S3 endpoint, gateways, trackers in the configuration) are trusted and not checked.
///
/// ```
/// use media_core::Reach;
/// let reach = Reach::public_only().allow_addr("127.0.0.1:9000".parse().unwrap());
/// assert!(reach.check_url("https://cdn.example.com/media/ab").is_ok());
/// assert!(reach.check_url("http://127.0.0.1:9000/media/ab").is_ok());
/// assert!(reach.check_url("http://127.0.0.1:22/").is_err());
/// assert!(reach.check_url("http://[::1]:9000/").is_err());
/// assert!(reach.check_url("http://192.168.1.1/admin").is_err());
/// assert!(reach.check_url("http://localhost:9000/").is_err());
/// assert!(reach.check_url("file:///etc/passwd").is_err());
/// assert!(Reach::public_only().allow_private(true).check_url("http://10.0.0.1/").is_ok());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    allow_private: bool,
    addrs: BTreeSet<SocketAddr>,
    hosts: BTreeSet<String>,
}

impl Reach {
    /// Public addresses only (the default).
    pub fn public_only() -> Self {
        Reach::default()
    }

    /// Allow loopback and private ranges too (local development, a LAN deployment, tests).
    #[must_use]
    pub fn allow_private(mut self, yes: bool) -> Self {
        self.allow_private = yes;
        self
    }

    /// Allow this address even if it is not public (a node's own services).
    #[must_use]
    pub fn allow_addr(mut self, addr: SocketAddr) -> Self {
        self.addrs.insert(addr);
        self
    }

    /// Allow this host name (lowercase, with or without `:port`), e.g. a LAN CDN.
    #[must_use]
    pub fn allow_host(mut self, host: impl Into<String>) -> Self {
        self.hosts.insert(host.into().to_ascii_lowercase());
        self
    }

    /// Whether private ranges are allowed.
    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// Whether a host name resolved to `ip` may be contacted: for resolvers, so that a public
    /// name pointing at a private address (DNS rebinding) is refused unless the name itself
    /// was allowed with [`Reach::allow_host`].
    pub fn check_resolved(&self, name: &str, ip: IpAddr) -> Result<()> {
        let name = name.to_ascii_lowercase();
        let named = self.hosts.contains(&name)
            || self
                .hosts
                .iter()
                .any(|h| h.rsplit_once(':').is_some_and(|(host, _)| host == name));
        if self.allow_private || named || Self::is_public(ip) {
            Ok(())
        } else {
            Err(refused(format!(
                "{name} resolves to {ip}, a loopback or private address this node is not configured to reach"
            )))
        }
    }

    /// The ports on which the configuration trusts the host name `name`: `None` for a name
    /// allowed on every port (`allow_host("nas.lan")`), `Some(port)` for one allowed on that
    /// port only (`allow_host("nas.lan:9000")`). Empty when the name is not allowed.
    pub fn named_ports(&self, name: &str) -> Vec<Option<u16>> {
        let name = name.to_ascii_lowercase();
        let name = name.trim_end_matches('.');
        self.hosts
            .iter()
            .filter_map(|h| {
                if h == name {
                    return Some(None);
                }
                let (host, port) = h.rsplit_once(':')?;
                (host == name)
                    .then(|| port.parse().ok())
                    .flatten()
                    .map(Some)
            })
            .collect()
    }

    /// Like [`Reach::check_resolved`] for a connection to `port`: a name the configuration
    /// allows on another port only is treated as any public name.
    pub fn check_resolved_at(&self, name: &str, port: u16, ip: IpAddr) -> Result<()> {
        let named = self
            .named_ports(name)
            .iter()
            .any(|p| p.is_none_or(|p| p == port));
        if self.allow_private || named || Self::is_public(ip) {
            Ok(())
        } else {
            Err(refused(format!(
                "{name}:{port} resolves to {ip}, a loopback or private address this node is not configured to reach"
            )))
        }
    }

    /// Whether `ip` is a public unicast address.
    pub fn is_public(ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                !(v4.is_loopback()
                    || v4.is_private()
                    || v4.is_link_local()
                    || v4.is_unspecified()
                    || v4.is_broadcast()
                    || v4.is_multicast()
                    || v4.is_documentation()
                    || o[0] == 0
                    || (o[0] == 100 && (o[1] & 0xC0) == 64)
                    || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                    || o[0] >= 240)
            }
            IpAddr::V6(v6) => {
                let seg = v6.segments();
                // IPv6 forms that carry an IPv4 address a host or a gateway may turn back
                // into it: mapped (`::ffff:a.b.c.d`), compatible (`::a.b.c.d`, deprecated),
                // NAT64 (`64:ff9b::a.b.c.d`) and 6to4 (`2002:aabb:ccdd::`).
                let embedded = |hi: u16, lo: u16| {
                    let [a, b] = hi.to_be_bytes();
                    let [c, d] = lo.to_be_bytes();
                    IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d))
                };
                if let Some(v4) = v6.to_ipv4_mapped() {
                    return Self::is_public(IpAddr::V4(v4));
                }
                if seg[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified() {
                    return Self::is_public(embedded(seg[6], seg[7]));
                }
                if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                    return Self::is_public(embedded(seg[6], seg[7]));
                }
                if seg[0] == 0x2002 {
                    return Self::is_public(embedded(seg[1], seg[2]));
                }
                !(v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || (seg[0] & 0xfe00) == 0xfc00
                    || (seg[0] & 0xffc0) == 0xfe80
                    || (seg[0] & 0xffc0) == 0xfec0)
            }
        }
    }

    /// May the node connect to `addr`?
    pub fn check_addr(&self, addr: SocketAddr) -> Result<()> {
        if self.allow_private || Self::is_public(addr.ip()) || self.addrs.contains(&addr) {
            Ok(())
        } else {
            Err(refused(format!(
                "{addr} is a loopback or private address this node is not configured to reach"
            )))
        }
    }

    /// May the node fetch `url` (http or https)?
    pub fn check_url(&self, url: &str) -> Result<()> {
        let (host, port) = Self::url_host_port(url)?;
        let host = host.as_str();
        // `localhost.` is `localhost`: the resolver ignores one trailing dot.
        let host_lc = host.to_ascii_lowercase().trim_end_matches('.').to_owned();
        if self.hosts.contains(&host_lc) || self.hosts.contains(&format!("{host_lc}:{port}")) {
            return Ok(());
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.check_addr(SocketAddr::new(ip, port));
        }
        if host_lc == "localhost" || host_lc.ends_with(".localhost") || !host_lc.contains('.') {
            // Names that resolve locally (localhost, single-label LAN names).
            return if self.allow_private {
                Ok(())
            } else {
                Err(refused(format!(
                    "{host} names a local host this node is not configured to reach"
                )))
            };
        }
        Ok(())
    }

    /// The host (without IPv6 brackets) and port an `http(s)` URL points at, parsed as the
    /// HTTP client parses it (the WHATWG URL rules of the `url` crate, which `reqwest` uses):
    /// every IPv4 spelling the client would connect to directly (`127.1`, `0x7f.0.0.1`,
    /// `017700000001`, `2130706433`, `0.0`) comes back as its canonical address, so a check
    /// of the host is a check of what will be connected to. User info and other schemes are
    /// refused.
    pub fn url_host_port(url: &str) -> Result<(String, u16)> {
        let parsed = url::Url::parse(url.trim())
            .map_err(|e| refused(format!("{:?} is not a usable URL: {e}", short(url))))?;
        let default_port = match parsed.scheme() {
            "http" => 80,
            "https" => 443,
            other => {
                return Err(refused(format!(
                    "the scheme {:?} is not fetched (http and https only)",
                    short(other)
                )))
            }
        };
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(refused("URLs with user info are not fetched".to_owned()));
        }
        let host = match parsed.host() {
            Some(url::Host::Ipv4(v4)) => v4.to_string(),
            Some(url::Host::Ipv6(v6)) => v6.to_string(),
            Some(url::Host::Domain(name)) if !name.is_empty() => name.to_owned(),
            _ => return Err(refused(format!("{:?} has no usable host", short(url)))),
        };
        Ok((host, parsed.port().unwrap_or(default_port)))
    }
}

/// `url` with its query and fragment replaced by `?…`, for errors and logs: a presigned URL's
/// signature and credential are in its query, and a stranger's URL may carry anything there.
///
/// ```
/// let url = "http://127.0.0.1:9000/media/ab?X-Amz-Signature=46fa&X-Amz-Credential=k";
/// assert_eq!(media_core::redact_url(url), "http://127.0.0.1:9000/media/ab?…");
/// assert_eq!(media_core::redact_url("https://cdn.example.com/a"), "https://cdn.example.com/a");
/// ```
pub fn redact_url(url: &str) -> String {
    match url.find(['?', '#']) {
        Some(at) => format!("{}?…", &url[..at]),
        None => url.to_owned(),
    }
}

fn short(s: &str) -> String {
    s.chars().take(80).collect()
}

fn refused(message: String) -> MediaError {
    MediaError::new(ErrorKind::PermissionDenied, Operation::Get, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges_need_configuration() {
        let r = Reach::public_only();
        for bad in [
            "http://127.0.0.1/",
            "http://127.8.9.10:8080/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://localhost/",
            "http://router/",
            "http://a@b.example.com/",
            "gopher://example.com/",
            "example.com/x",
            "http://:80/",
            "http://example.com:99999/",
            // Every IPv4 spelling the HTTP client connects to directly.
            "http://127.1:18081/",
            "http://0x7f.0.0.1/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://2130706433/",
            "http://017700000001/",
            "http://0.0/",
            "http://0/",
            "http://169.254.43518/",
            "http://10.1/",
            "http://192.168.257/",
            "http://[::ffff:7f00:1]/",
            "http://[0:0:0:0:0:ffff:127.0.0.1]/",
            "http://[::127.0.0.1]/",
            "http://[::7f00:1]/",
            "http://[64:ff9b::127.0.0.1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:7f00:1::]/",
            "http://[2002:c0a8:101::1]/",
            "http://[::]/",
            "http://[0:0:0:0:0:0:0:1]/",
            "http://[fec0::1]/",
            "http://127.0.0.1.:80/",
            "HTTP://LOCALHOST./",
        ] {
            assert!(r.check_url(bad).is_err(), "{bad}");
        }
        for good in [
            "http://example.com/x",
            "https://cdn.example.com:8443/media/ab?X-Amz-Signature=1",
            "http://93.184.216.34/",
            "http://[2606:2800:220:1:248:1893:25c8:1946]/",
            "http://[64:ff9b::5db8:d822]/",
            "http://[2002:5db8:d822::1]/",
        ] {
            assert!(r.check_url(good).is_ok(), "{good}");
        }
        let rebind = Reach::public_only().allow_host("cdn.lan");
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(rebind.check_resolved("evil.example.com", loopback).is_err());
        assert!(rebind
            .check_resolved("evil.example.com", "93.184.216.34".parse().unwrap())
            .is_ok());
        assert!(rebind
            .check_resolved("CDN.lan", "10.0.0.5".parse().unwrap())
            .is_ok());
        let ten = "10.0.0.5".parse().unwrap();
        let nas = Reach::public_only().allow_host("nas.lan:9000");
        assert!(nas.check_resolved_at("nas.lan", 9000, ten).is_ok());
        assert!(nas.check_resolved_at("NAS.lan.", 9000, ten).is_ok());
        assert!(nas.check_resolved_at("nas.lan", 22, ten).is_err());
        assert_eq!(nas.named_ports("nas.lan"), vec![Some(9000)]);
        assert_eq!(
            Reach::public_only()
                .allow_host("nas.lan")
                .named_ports("nas.lan"),
            vec![None]
        );
        let lan = Reach::public_only()
            .allow_host("router")
            .allow_host("nas:9000");
        assert!(lan.check_url("http://router/").is_ok());
        assert!(lan.check_url("http://nas:9000/").is_ok());
        assert!(lan.check_url("http://nas:9001/").is_err());
        let err = r.check_url("http://127.0.0.1/").unwrap_err();
        assert_eq!(err.kind, ErrorKind::PermissionDenied);
    }
}
