//! Where a stored blob lives: a store kind and a URI.
//!
//! Kinds are open: a backend declares its kind as data ([`BackendKind::new`]), so a fourth
//! store (a Blossom server, a plain folder, a second bucket) needs no change here. The three
//! built-in kinds have constants and typed accessors on [`Location`].

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The kind of store a backend is: a short lowercase name such as `cdn`, `ipfs`, `torrent`
/// or `blossom`. A backend reads the [`Location`]s of its own kind.
///
/// ```
/// use media_core::BackendKind;
/// let blossom = BackendKind::new("blossom").unwrap();
/// assert_eq!(blossom.as_str(), "blossom");
/// assert_eq!(BackendKind::CDN.to_string(), "cdn");
/// assert!(BackendKind::new("Not A Kind").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BackendKind(Cow<'static, str>);

impl BackendKind {
    /// An S3 bucket behind a CDN.
    pub const CDN: BackendKind = BackendKind(Cow::Borrowed("cdn"));
    /// IPFS (Helia-compatible CIDs, iroh transport, trustless gateway).
    pub const IPFS: BackendKind = BackendKind(Cow::Borrowed("ipfs"));
    /// BitTorrent (WebTorrent-compatible swarm).
    pub const TORRENT: BackendKind = BackendKind(Cow::Borrowed("torrent"));

    /// Longest kind name accepted.
    pub const MAX_LEN: usize = 32;

    /// A kind named `name`: 1 to 32 characters of `a-z`, `0-9`, `-` and `_`.
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidKind> {
        let name = name.into();
        let ok = !name.is_empty()
            && name.len() <= Self::MAX_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(BackendKind(Cow::Owned(name)))
        } else {
            Err(InvalidKind(name.chars().take(40).collect()))
        }
    }

    /// A kind from a static name, for adapter crates' constants. The name is not checked
    /// here; use names [`BackendKind::new`] accepts.
    pub const fn from_static(name: &'static str) -> Self {
        BackendKind(Cow::Borrowed(name))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BackendKind({})", self.0)
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for BackendKind {
    type Error = InvalidKind;
    fn try_from(s: String) -> Result<Self, InvalidKind> {
        match s.as_str() {
            "cdn" => Ok(Self::CDN),
            "ipfs" => Ok(Self::IPFS),
            "torrent" => Ok(Self::TORRENT),
            _ => Self::new(s),
        }
    }
}

impl From<BackendKind> for String {
    fn from(k: BackendKind) -> String {
        k.0.into_owned()
    }
}

/// A store kind name that is not 1–32 characters of `a-z0-9-_`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a store kind (1-32 characters of a-z, 0-9, '-', '_')")]
pub struct InvalidKind(String);

/// The address of a blob on one store: its kind, a URI, and optional hints.
///
/// A node holding a [`crate::MediaFile`] can fetch the blob through any backend of the
/// location's kind, not only the one that stored it. A record keeps every location, including
/// two of the same kind (two buckets are real redundancy: reads try both).
///
/// | kind | `uri` | hints |
/// |---|---|---|
/// | `cdn` | the object's HTTP(S) URL | `key`: object key |
/// | `ipfs` | `ipfs://<cid>` | `ticket`: an iroh blob ticket |
/// | `torrent` | the magnet link | `info_hash`: hex v1 info hash |
///
/// Records written before kinds were open (`{"type":"cdn","url":…}`) still load.
///
/// ```
/// use media_core::{BackendKind, Location};
/// let loc = Location::ipfs("bafkqaaa").with_hint("ticket", "blobabc");
/// assert_eq!(loc.cid(), Some("bafkqaaa"));
/// assert_eq!(loc.ticket(), Some("blobabc"));
/// let old: Location = serde_json::from_str(r#"{"type":"cdn","url":"http://x/k","key":"k"}"#).unwrap();
/// assert_eq!(old, Location::cdn("http://x/k", "k"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "LocationWire")]
pub struct Location {
    /// The kind of store.
    pub kind: BackendKind,
    /// Where the blob is, in the kind's URI form.
    pub uri: String,
    /// Extra facts a reader may use (object key, ticket, info hash).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hints: BTreeMap<String, String>,
}

const IPFS_SCHEME: &str = "ipfs://";

impl Location {
    /// A location of any kind.
    pub fn new(kind: BackendKind, uri: impl Into<String>) -> Self {
        Location {
            kind,
            uri: uri.into(),
            hints: BTreeMap::new(),
        }
    }

    /// Add a hint.
    #[must_use]
    pub fn with_hint(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.hints.insert(name.into(), value.into());
        self
    }

    /// An object in an S3 bucket, readable at `url` (a CDN or presigned URL), stored under
    /// `key`.
    pub fn cdn(url: impl Into<String>, key: impl Into<String>) -> Self {
        Location::new(BackendKind::CDN, url).with_hint("key", key)
    }

    /// An IPFS UnixFS file with root `cid`.
    pub fn ipfs(cid: impl AsRef<str>) -> Self {
        Location::new(BackendKind::IPFS, format!("{IPFS_SCHEME}{}", cid.as_ref()))
    }

    /// A single-file torrent.
    pub fn torrent(magnet: impl Into<String>, info_hash: impl Into<String>) -> Self {
        Location::new(BackendKind::TORRENT, magnet).with_hint("info_hash", info_hash)
    }

    /// The kind of store this location belongs to.
    pub fn kind(&self) -> &BackendKind {
        &self.kind
    }

    /// A hint by name.
    pub fn hint(&self, name: &str) -> Option<&str> {
        self.hints.get(name).map(String::as_str)
    }

    fn of_kind(&self, kind: &BackendKind) -> Option<&Self> {
        (self.kind == *kind).then_some(self)
    }

    /// The HTTP URL of a CDN location.
    pub fn cdn_url(&self) -> Option<&str> {
        self.of_kind(&BackendKind::CDN).map(|l| l.uri.as_str())
    }

    /// The object key of a CDN location.
    pub fn key(&self) -> Option<&str> {
        self.of_kind(&BackendKind::CDN)?.hint("key")
    }

    /// The CID of an IPFS location.
    pub fn cid(&self) -> Option<&str> {
        let uri = &self.of_kind(&BackendKind::IPFS)?.uri;
        Some(uri.strip_prefix(IPFS_SCHEME).unwrap_or(uri))
    }

    /// The iroh ticket of an IPFS location, if it has one.
    pub fn ticket(&self) -> Option<&str> {
        self.of_kind(&BackendKind::IPFS)?.hint("ticket")
    }

    /// The magnet link of a torrent location.
    pub fn magnet(&self) -> Option<&str> {
        self.of_kind(&BackendKind::TORRENT).map(|l| l.uri.as_str())
    }

    /// The hex info hash of a torrent location.
    pub fn info_hash(&self) -> Option<&str> {
        self.of_kind(&BackendKind::TORRENT)?.hint("info_hash")
    }

    /// The string that identifies the blob within its store: CID, info hash, or the URI.
    pub fn address(&self) -> &str {
        self.cid().or_else(|| self.info_hash()).unwrap_or(&self.uri)
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A presigned URL's query is a credential: never in Debug output.
        f.debug_struct("Location")
            .field("kind", &self.kind.as_str())
            .field("uri", &redact_query(&self.uri))
            .field("hints", &self.hints.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cid() {
            Some(cid) => write!(f, "ipfs:{cid}"),
            None => write!(f, "{}:{}", self.kind, redact_query(&self.uri)),
        }
    }
}

/// `uri` with an HTTP query (which may hold a signature) replaced by `?…`; magnets and other
/// URIs are returned whole.
pub(crate) fn redact_query(uri: &str) -> Cow<'_, str> {
    let is_http = uri.starts_with("http://") || uri.starts_with("https://");
    match uri.split_once('?') {
        Some((base, query)) if is_http && query.contains("Signature") => {
            Cow::Owned(format!("{base}?…"))
        }
        _ => Cow::Borrowed(uri),
    }
}

/// The JSON forms a location may arrive in: today's, or the closed-enum form of older records.
#[derive(Deserialize)]
#[serde(untagged)]
enum LocationWire {
    Current {
        kind: BackendKind,
        uri: String,
        #[serde(default)]
        hints: BTreeMap<String, String>,
    },
    Legacy(LegacyLocation),
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum LegacyLocation {
    Cdn {
        url: String,
        key: String,
    },
    Ipfs {
        cid: String,
        #[serde(default)]
        ticket: Option<String>,
    },
    Torrent {
        magnet: String,
        info_hash: String,
    },
}

impl From<LocationWire> for Location {
    fn from(wire: LocationWire) -> Self {
        match wire {
            LocationWire::Current { kind, uri, hints } => Location { kind, uri, hints },
            LocationWire::Legacy(LegacyLocation::Cdn { url, key }) => Location::cdn(url, key),
            LocationWire::Legacy(LegacyLocation::Ipfs { cid, ticket }) => {
                let loc = Location::ipfs(cid);
                match ticket {
                    Some(t) => loc.with_hint("ticket", t),
                    None => loc,
                }
            }
            LocationWire::Legacy(LegacyLocation::Torrent { magnet, info_hash }) => {
                Location::torrent(magnet, info_hash)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_json_loads_and_new_json_roundtrips() {
        let legacy = [
            (
                r#"{"type":"cdn","url":"http://127.0.0.1:1/media/ab","key":"media/ab"}"#,
                Location::cdn("http://127.0.0.1:1/media/ab", "media/ab"),
            ),
            (
                r#"{"type":"ipfs","cid":"bafkqaaa","ticket":"blobxyz"}"#,
                Location::ipfs("bafkqaaa").with_hint("ticket", "blobxyz"),
            ),
            (
                r#"{"type":"ipfs","cid":"bafkqaaa"}"#,
                Location::ipfs("bafkqaaa"),
            ),
            (
                r#"{"type":"torrent","magnet":"magnet:?xt=urn:btih:00","info_hash":"00"}"#,
                Location::torrent("magnet:?xt=urn:btih:00", "00"),
            ),
        ];
        for (json, want) in legacy {
            let got: Location = serde_json::from_str(json).unwrap();
            assert_eq!(got, want, "{json}");
            let again: Location =
                serde_json::from_str(&serde_json::to_string(&got).unwrap()).unwrap();
            assert_eq!(again, want);
        }
        let blossom = Location::new(
            BackendKind::new("blossom").unwrap(),
            "blossom:ab.jpg?xs=cdn.example",
        );
        let json = serde_json::to_string(&blossom).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"blossom","uri":"blossom:ab.jpg?xs=cdn.example"}"#
        );
        assert_eq!(serde_json::from_str::<Location>(&json).unwrap(), blossom);
        assert_eq!(blossom.cid(), None);
        assert_eq!(blossom.cdn_url(), None);
    }

    #[test]
    fn bad_kinds_and_shapes_are_refused() {
        for bad in [
            r#"{"kind":"CDN","uri":"x"}"#,
            r#"{"kind":"","uri":"x"}"#,
            r#"{"type":"folder","path":"/etc"}"#,
            r#"{"kind":"cdn"}"#,
        ] {
            assert!(serde_json::from_str::<Location>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn presigned_queries_stay_out_of_debug_and_display() {
        let loc = Location::cdn(
            "http://s3/media/ab?X-Amz-Signature=deadbeef&X-Amz-Credential=AK",
            "media/ab",
        );
        assert!(!format!("{loc:?}").contains("deadbeef"));
        assert!(!loc.to_string().contains("deadbeef"));
        assert_eq!(loc.cdn_url().map(|u| u.contains("deadbeef")), Some(true));
    }
}
