//! Our own torrent and magnet building: a correct info dict for every size (no spurious last
//! piece hash when the size is a multiple of the piece length), piece lengths aligned with the
//! 1 MiB chunks, `url-list` web seeds outside the info dict, and magnets carrying `xt`, `dn`,
//! `xl`, `tr`, `ws` and `x.pe`, percent-encoded.

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;

use sha1::{Digest, Sha1};

use crate::error::TorrentError;

/// The media store's chunk size; piece lengths are multiples of it.
pub const CHUNK: u64 = 1 << 20;

/// Piece length for a file of `size` bytes: 1 MiB (one piece per verification chunk) up to
/// 2 GiB, then doubled so a torrent keeps at most ~2048 pieces. Always a multiple of 1 MiB.
pub fn piece_length_for(size: u64) -> u64 {
    let mut piece = CHUNK;
    while size.div_ceil(piece) > 2048 {
        piece *= 2;
    }
    piece
}

/// A single-file torrent's metainfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metainfo {
    /// The file name (the info dict's `name`).
    pub name: String,
    /// File size in bytes.
    pub length: u64,
    /// Piece length in bytes.
    pub piece_length: u64,
    /// SHA-1 of every piece, in order: exactly `ceil(length / piece_length)` of them.
    pub pieces: Vec<[u8; 20]>,
    /// Tracker announce URLs.
    pub trackers: Vec<String>,
    /// BEP 19 web seeds (HTTP URLs serving the whole file).
    pub web_seeds: Vec<String>,
}

/// Bencode writer for the few shapes we need.
struct Bencode(Vec<u8>);

impl Bencode {
    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b.len().to_string().as_bytes());
        self.0.push(b':');
        self.0.extend_from_slice(b);
        self
    }
    fn int(&mut self, v: u64) -> &mut Self {
        self.0.push(b'i');
        self.0.extend_from_slice(v.to_string().as_bytes());
        self.0.push(b'e');
        self
    }
    fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }
}

impl Metainfo {
    /// Hash the file at `path` into a metainfo named `name` (pieces are read one at a time).
    pub fn from_file(path: &Path, name: &str) -> Result<Self, TorrentError> {
        let mut file = std::fs::File::open(path).map_err(TorrentError::Io)?;
        let length = file.metadata().map_err(TorrentError::Io)?.len();
        Self::from_reader(&mut file, length, name)
    }

    /// Hash `length` bytes from `reader`.
    pub fn from_reader(
        reader: &mut impl Read,
        length: u64,
        name: &str,
    ) -> Result<Self, TorrentError> {
        if length == 0 {
            return Err(TorrentError::InvalidInput(
                "BitTorrent cannot carry an empty file (it has no pieces)".into(),
            ));
        }
        let name = torrent_name(name);
        let piece_length = piece_length_for(length);
        let mut pieces = Vec::with_capacity(length.div_ceil(piece_length) as usize);
        let mut buf = vec![0u8; piece_length as usize];
        let mut left = length;
        while left > 0 {
            let n = left.min(piece_length) as usize;
            reader.read_exact(&mut buf[..n]).map_err(|e| {
                if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    TorrentError::InvalidInput("the file is shorter than its length".into())
                } else {
                    TorrentError::Io(e)
                }
            })?;
            pieces.push(Sha1::digest(&buf[..n]).into());
            left -= n as u64;
        }
        Ok(Metainfo {
            name,
            length,
            piece_length,
            pieces,
            trackers: Vec::new(),
            web_seeds: Vec::new(),
        })
    }

    /// Rebuild the metainfo of a file hashed before, from its piece hashes (hex, 40 digits
    /// each), without reading the file. The count must be the one `length` needs.
    pub fn from_piece_hashes(
        name: &str,
        length: u64,
        pieces_hex: &str,
    ) -> Result<Self, TorrentError> {
        let piece_length = piece_length_for(length);
        let expected = length.div_ceil(piece_length) as usize;
        if length == 0 || pieces_hex.len() != expected * 40 {
            return Err(TorrentError::InvalidInput(format!(
                "{} piece hashes for {length} bytes; expected {expected}",
                pieces_hex.len() / 40
            )));
        }
        let pieces = pieces_hex
            .as_bytes()
            .chunks(40)
            .map(|digits| {
                let mut piece = [0u8; 20];
                for (byte, pair) in piece.iter_mut().zip(digits.chunks(2)) {
                    let pair = std::str::from_utf8(pair).ok();
                    *byte = pair
                        .and_then(|p| u8::from_str_radix(p, 16).ok())
                        .ok_or_else(|| {
                            TorrentError::InvalidInput("piece hashes are not hex".into())
                        })?;
                }
                Ok(piece)
            })
            .collect::<Result<Vec<_>, TorrentError>>()?;
        Ok(Metainfo {
            name: torrent_name(name),
            length,
            piece_length,
            pieces,
            trackers: Vec::new(),
            web_seeds: Vec::new(),
        })
    }

    /// Hash a spread sample of pieces of `file` (the first, the last and up to eight between)
    /// against the piece hashes: a cheap check that a file hashed before is still the same.
    pub fn check_sample(&self, file: &Path) -> Result<(), TorrentError> {
        use std::io::{Seek, SeekFrom};
        let count = self.pieces.len();
        let mut sample: Vec<usize> = (0..=8).map(|k| count.saturating_sub(1) * k / 8).collect();
        sample.dedup();
        let mut reader = std::fs::File::open(file).map_err(TorrentError::Io)?;
        let mut buf = vec![0u8; self.piece_length as usize];
        for index in sample {
            let offset = index as u64 * self.piece_length;
            let n = (self.length - offset).min(self.piece_length) as usize;
            reader
                .seek(SeekFrom::Start(offset))
                .map_err(TorrentError::Io)?;
            reader.read_exact(&mut buf[..n]).map_err(TorrentError::Io)?;
            let digest: [u8; 20] = Sha1::digest(&buf[..n]).into();
            if digest != self.pieces[index] {
                return Err(TorrentError::Integrity(format!(
                    "piece {index} of {} no longer matches its hash",
                    file.display()
                )));
            }
        }
        Ok(())
    }

    /// The piece hashes as one hex string (what [`Metainfo::from_piece_hashes`] reads).
    pub fn piece_hashes_hex(&self) -> String {
        hex(&self.pieces.concat())
    }

    /// The bencoded info dict (keys sorted: length, name, piece length, pieces).
    pub fn info_bytes(&self) -> Vec<u8> {
        let mut b = Bencode(Vec::with_capacity(self.pieces.len() * 20 + 128));
        b.raw(b"d");
        b.bytes(b"length").int(self.length);
        b.bytes(b"name").bytes(self.name.as_bytes());
        b.bytes(b"piece length").int(self.piece_length);
        let flat: Vec<u8> = self.pieces.iter().flatten().copied().collect();
        b.bytes(b"pieces").bytes(&flat);
        b.raw(b"e");
        b.0
    }

    /// The v1 info hash: SHA-1 of the info dict.
    pub fn info_hash(&self) -> [u8; 20] {
        Sha1::digest(self.info_bytes()).into()
    }

    /// The info hash in lowercase hex.
    pub fn info_hash_hex(&self) -> String {
        hex(&self.info_hash())
    }

    /// The `.torrent` file: announce/announce-list, created by, info, url-list.
    pub fn to_torrent_bytes(&self) -> Vec<u8> {
        let mut b = Bencode(Vec::new());
        b.raw(b"d");
        if let Some(first) = self.trackers.first() {
            b.bytes(b"announce").bytes(first.as_bytes());
            b.bytes(b"announce-list").raw(b"l");
            for t in &self.trackers {
                b.raw(b"l").bytes(t.as_bytes()).raw(b"e");
            }
            b.raw(b"e");
        }
        b.bytes(b"created by").bytes(b"media-store");
        b.bytes(b"info").raw(&self.info_bytes());
        if !self.web_seeds.is_empty() {
            b.bytes(b"url-list").raw(b"l");
            for w in &self.web_seeds {
                b.bytes(w.as_bytes());
            }
            b.raw(b"e");
        }
        b.raw(b"e");
        b.0
    }

    /// A magnet link with `xt`, `dn`, `xl`, every tracker, every web seed and `peers`.
    pub fn magnet(&self, peers: &[SocketAddr]) -> String {
        let mut m = format!(
            "magnet:?xt=urn:btih:{}&dn={}&xl={}",
            self.info_hash_hex(),
            percent_encode(&self.name),
            self.length
        );
        for t in &self.trackers {
            m.push_str("&tr=");
            m.push_str(&percent_encode(t));
        }
        for w in &self.web_seeds {
            m.push_str("&ws=");
            m.push_str(&percent_encode(w));
        }
        for p in peers {
            // Not percent-encoded: WebTorrent's magnet parser reads x.pe verbatim.
            m.push_str("&x.pe=");
            m.push_str(&p.to_string());
        }
        m
    }
}

/// `magnet` with an `xs=` exact source: an HTTP URL of the `.torrent` file, from which clients
/// that cannot reach any peer (browsers) get the metadata, then the bytes from the `ws=` web
/// seed.
pub fn with_exact_source(magnet: &str, torrent_url: &str) -> String {
    format!("{magnet}&xs={}", percent_encode(torrent_url))
}

/// A name safe as a single file name: no separators, no control characters, not `.`/`..`.
pub fn torrent_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let mut cleaned = cleaned.trim().to_owned();
    // File systems refuse names over 255 bytes: cut on a character boundary.
    if cleaned.len() > MAX_NAME_BYTES {
        let mut end = MAX_NAME_BYTES;
        while !cleaned.is_char_boundary(end) {
            end -= 1;
        }
        cleaned.truncate(end);
    }
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        "media".to_owned()
    } else {
        cleaned
    }
}

/// Longest torrent (and so file) name, in bytes.
const MAX_NAME_BYTES: usize = 255;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> Result<String, TorrentError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| TorrentError::InvalidInput(format!("bad escape in {s:?}")))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| TorrentError::InvalidInput(format!("{s:?} is not UTF-8")))
}

/// A parsed magnet link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MagnetLink {
    /// v1 info hash.
    pub info_hash: [u8; 20],
    /// `dn`.
    pub name: Option<String>,
    /// `xl`.
    pub length: Option<u64>,
    /// `tr`.
    pub trackers: Vec<String>,
    /// `ws`.
    pub web_seeds: Vec<String>,
    /// `x.pe`.
    pub peers: Vec<SocketAddr>,
    /// `xs`: where the `.torrent` file can be fetched.
    pub exact_sources: Vec<String>,
}

impl MagnetLink {
    /// Parse a `magnet:?` link with a v1 `urn:btih:` (40 hex or 32 base32 characters).
    pub fn parse(link: &str) -> Result<Self, TorrentError> {
        let bad = |why: &str| TorrentError::InvalidInput(format!("magnet link: {why}"));
        let query = link
            .strip_prefix("magnet:?")
            .ok_or_else(|| bad("must start with magnet:?"))?;
        let mut info_hash = None;
        let mut magnet = MagnetLink {
            info_hash: [0; 20],
            name: None,
            length: None,
            trackers: Vec::new(),
            web_seeds: Vec::new(),
            peers: Vec::new(),
            exact_sources: Vec::new(),
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| bad("parameter without '='"))?;
            let value = percent_decode(value)?;
            match key {
                "xt" => {
                    if let Some(h) = value.strip_prefix("urn:btih:") {
                        info_hash = Some(parse_btih(h).ok_or_else(|| bad("bad btih info hash"))?);
                    }
                }
                "dn" => magnet.name = Some(value),
                "xl" => magnet.length = Some(value.parse().map_err(|_| bad("bad xl"))?),
                "tr" => magnet.trackers.push(value),
                "ws" => magnet.web_seeds.push(value),
                "xs" => magnet.exact_sources.push(value),
                "x.pe" => magnet
                    .peers
                    .push(value.parse().map_err(|_| bad("x.pe must be IP:PORT"))?),
                _ => {}
            }
        }
        magnet.info_hash = info_hash.ok_or_else(|| bad("no xt=urn:btih:"))?;
        Ok(magnet)
    }

    /// The info hash in lowercase hex.
    pub fn info_hash_hex(&self) -> String {
        hex(&self.info_hash)
    }
}

fn parse_btih(h: &str) -> Option<[u8; 20]> {
    let mut out = [0u8; 20];
    match h.len() {
        40 => {
            for (i, pair) in h.as_bytes().chunks(2).enumerate() {
                out[i] = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
            }
            Some(out)
        }
        32 => {
            // RFC 4648 base32, upper or lower case.
            let mut bits = 0u64;
            let mut nbits = 0;
            let mut at = 0;
            for c in h.bytes() {
                let v = match c.to_ascii_uppercase() {
                    c @ b'A'..=b'Z' => c - b'A',
                    c @ b'2'..=b'7' => c - b'2' + 26,
                    _ => return None,
                };
                bits = (bits << 5) | u64::from(v);
                nbits += 5;
                if nbits >= 8 {
                    nbits -= 8;
                    out[at] = (bits >> nbits) as u8;
                    at += 1;
                }
            }
            Some(out)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_cut_on_a_character_boundary() {
        let long = "é".repeat(200); // 400 bytes
        let name = torrent_name(&long);
        assert!(name.len() <= 255 && name.len() >= 253, "{}", name.len());
        assert!(name.chars().all(|c| c == 'é'));
        assert_eq!(torrent_name(&"a".repeat(300)).len(), 255);
    }

    fn meta(len: u64) -> Metainfo {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        Metainfo::from_reader(&mut data.as_slice(), len, "clip.mp4").unwrap()
    }

    #[test]
    fn stored_piece_hashes_rebuild_the_same_torrent_and_bad_ones_are_refused() {
        let original = meta(3 * CHUNK + 7);
        let hashes = original.piece_hashes_hex();
        let rebuilt = Metainfo::from_piece_hashes("clip.mp4", original.length, &hashes).unwrap();
        assert_eq!(rebuilt, original);
        assert_eq!(rebuilt.info_hash(), original.info_hash());
        // One piece short, not hex, or a size that needs another count: refused.
        assert!(Metainfo::from_piece_hashes("c", original.length, &hashes[40..]).is_err());
        let not_hex = format!("zz{}", &hashes[2..]);
        assert!(Metainfo::from_piece_hashes("c", original.length, &not_hex).is_err());
        assert!(Metainfo::from_piece_hashes("c", 5 * CHUNK, &hashes).is_err());
        assert!(Metainfo::from_piece_hashes("c", 0, "").is_err());
    }

    #[test]
    fn piece_counts_are_exact_for_every_size_class() {
        for len in [
            1,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            2 * CHUNK,
            3 * CHUNK,
            5 * CHUNK + 7,
        ] {
            let m = meta(len);
            assert_eq!(m.piece_length, CHUNK);
            assert_eq!(m.pieces.len() as u64, len.div_ceil(CHUNK), "len {len}");
        }
        assert_eq!(piece_length_for(2048 * CHUNK), CHUNK);
        assert_eq!(piece_length_for(2048 * CHUNK + 1), 2 * CHUNK);
        assert!(matches!(
            Metainfo::from_reader(&mut [].as_slice(), 0, "x"),
            Err(TorrentError::InvalidInput(_))
        ));
    }

    #[test]
    fn bencode_is_canonical_and_magnets_round_trip() {
        let mut m = meta(10);
        assert_eq!(
            &m.info_bytes()[..40],
            b"d6:lengthi10e4:name8:clip.mp412:piece le"
        );
        m.trackers = vec!["http://127.0.0.1:8000/announce".into()];
        m.web_seeds = vec!["http://127.0.0.1:9000/media/abc?x=1&y=2".into()];
        let peer: SocketAddr = "127.0.0.1:6881".parse().unwrap();
        let link = m.magnet(&[peer]);
        assert!(link.contains("&xl=10&"));
        assert!(link.ends_with("&x.pe=127.0.0.1:6881"));
        assert!(link.contains("ws=http%3A%2F%2F127.0.0.1%3A9000%2Fmedia%2Fabc%3Fx%3D1%26y%3D2"));
        let parsed = MagnetLink::parse(&link).unwrap();
        assert_eq!(parsed.info_hash, m.info_hash());
        assert_eq!(parsed.name.as_deref(), Some("clip.mp4"));
        assert_eq!(parsed.length, Some(10));
        assert_eq!(parsed.trackers, m.trackers);
        assert_eq!(parsed.web_seeds, m.web_seeds);
        assert_eq!(parsed.peers, vec![peer]);
        let torrent = m.to_torrent_bytes();
        assert!(torrent.windows(8).any(|w| w == b"url-list"));
        // The info dict sits verbatim inside the .torrent: same info hash with web seeds.
        let info = m.info_bytes();
        assert!(torrent.windows(info.len()).any(|w| w == info));
    }

    #[test]
    fn malformed_magnets_are_refused() {
        for bad in [
            "",
            "http://example.com",
            "magnet:?dn=x",
            "magnet:?xt=urn:btih:1234",
            "magnet:?xt=urn:btih:zz34567890123456789012345678901234567890",
            "magnet:?xt=urn:btih:0123456789012345678901234567890123456789&x.pe=nope",
            "magnet:?xt=urn:btih:0123456789012345678901234567890123456789&dn=%zz",
            "magnet:?xt",
        ] {
            assert!(MagnetLink::parse(bad).is_err(), "{bad:?}");
        }
        let b32 =
            MagnetLink::parse("magnet:?xt=urn:btih:AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQT").unwrap();
        assert_eq!(
            b32.info_hash_hex(),
            "000102030405060708090a0b0c0d0e0f10111213"
        );
    }

    #[test]
    fn names_are_single_safe_file_names() {
        assert_eq!(torrent_name("../../etc/passwd"), ".._.._etc_passwd");
        assert_eq!(torrent_name(".."), "media");
        assert_eq!(torrent_name("  "), "media");
        assert_eq!(torrent_name("été 🎉.jpg"), "été 🎉.jpg");
    }
}
