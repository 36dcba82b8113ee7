//! UnixFS files as Helia's `@helia/unixfs` `addBytes` builds them with default options:
//! CIDv1, raw leaves of 1 MiB, a balanced DAG of at most 1024 links per node, a single chunk
//! as its own root, sha2-256, canonical dag-pb.
//!
//! The leaves' CIDs are the SHA-256 digests of the chunks, which ingest has already computed
//! ([`media_core::Digests::chunks`]); building the DAG only hashes the few dag-pb nodes.

use std::io::Read;

use cid::multihash::Multihash;
use cid::Cid;
use media_core::{Digest32, CHUNK_SIZE};
use sha2::{Digest as _, Sha256};

use crate::error::IpfsError;

/// Multicodec of raw blocks.
pub const RAW: u64 = 0x55;
/// Multicodec of dag-pb blocks.
pub const DAG_PB: u64 = 0x70;
/// Multihash code of sha2-256.
pub const SHA2_256: u64 = 0x12;
/// Multihash code of the identity "hash".
pub const IDENTITY: u64 = 0x00;
/// Helia's default chunk size (and ours).
pub const CHUNK: u64 = CHUNK_SIZE;
/// Helia's default maximum number of links per node.
pub const MAX_LINKS: usize = 1024;
/// Largest block we accept from anyone (the block broker's limit is 2 MiB).
pub const MAX_BLOCK: usize = 2 << 20;

/// The CIDv1 of a block with codec `codec` whose SHA-256 is `digest`.
pub fn cid_v1(codec: u64, digest: &[u8; 32]) -> Cid {
    // A 32-byte digest always fits a 64-byte multihash.
    let hash = Multihash::<64>::wrap(SHA2_256, digest).unwrap_or_default();
    Cid::new_v1(codec, hash)
}

/// The raw-leaf CID of a chunk with this SHA-256.
pub fn raw_cid(sha256: &Digest32) -> Cid {
    cid_v1(RAW, sha256.as_bytes())
}

/// One dag-pb node of a file DAG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DagNode {
    /// The node's CID (dag-pb, sha2-256).
    pub cid: Cid,
    /// The canonical dag-pb encoding.
    pub bytes: Vec<u8>,
    /// UnixFS file size below this node.
    pub file_size: u64,
}

/// The DAG of one file: its root and the dag-pb nodes above the raw leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDag {
    /// The root CID (a raw leaf when the file has one chunk).
    pub root: Cid,
    /// Every dag-pb node, children before parents; empty for single-chunk files.
    pub nodes: Vec<DagNode>,
    /// File size in bytes.
    pub size: u64,
    /// Raw-leaf CIDs in file order.
    pub leaves: Vec<Cid>,
}

/// What a child contributes to its parent.
#[derive(Clone)]
struct Child {
    cid: Cid,
    /// Cumulative size of the child's DAG (the link's Tsize).
    tsize: u64,
    /// UnixFS bytes of file content below the child (the parent's blocksize entry).
    file_size: u64,
}

impl FileDag {
    /// The DAG of a file of `size` bytes whose 1 MiB chunks have these SHA-256 digests.
    pub fn from_chunk_digests(chunks: &[Digest32], size: u64) -> Result<Self, IpfsError> {
        let expected = size.div_ceil(CHUNK).max(1);
        if chunks.len() as u64 != expected {
            return Err(IpfsError::InvalidInput(format!(
                "a file of {size} bytes has {expected} chunks, got {} digests",
                chunks.len()
            )));
        }
        let leaves: Vec<Cid> = chunks.iter().map(raw_cid).collect();
        if leaves.len() == 1 {
            return Ok(FileDag {
                root: leaves[0],
                nodes: Vec::new(),
                size,
                leaves,
            });
        }
        let mut level: Vec<Child> = leaves
            .iter()
            .enumerate()
            .map(|(i, cid)| {
                let len = (size - i as u64 * CHUNK).min(CHUNK);
                Child {
                    cid: *cid,
                    tsize: len,
                    file_size: len,
                }
            })
            .collect();
        let mut nodes = Vec::new();
        // Balanced layout: batches of MAX_LINKS become parents until one root is left.
        loop {
            let mut parents = Vec::with_capacity(level.len().div_ceil(MAX_LINKS));
            for batch in level.chunks(MAX_LINKS) {
                let node = encode_file_node(batch);
                let tsize = node.bytes.len() as u64 + batch.iter().map(|c| c.tsize).sum::<u64>();
                parents.push(Child {
                    cid: node.cid,
                    tsize,
                    file_size: node.file_size,
                });
                nodes.push(node);
            }
            if parents.len() == 1 {
                return Ok(FileDag {
                    root: parents[0].cid,
                    nodes,
                    size,
                    leaves,
                });
            }
            level = parents;
        }
    }

    /// The DAG of bytes in memory.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        let chunks: Vec<Digest32> = if bytes.is_empty() {
            vec![Digest32::sha256(&[])]
        } else {
            bytes.chunks(CHUNK as usize).map(Digest32::sha256).collect()
        };
        // The chunk count matches by construction.
        Self::from_chunk_digests(&chunks, bytes.len() as u64).unwrap_or_else(|_| FileDag {
            root: raw_cid(&chunks[0]),
            nodes: Vec::new(),
            size: bytes.len() as u64,
            leaves: Vec::new(),
        })
    }

    /// The DAG of everything `reader` yields, read 1 MiB at a time.
    pub fn of_reader(mut reader: impl Read) -> Result<Self, IpfsError> {
        let mut chunks = Vec::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; CHUNK as usize];
        loop {
            let mut filled = 0;
            while filled < buf.len() {
                match reader.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(IpfsError::Io(e)),
                }
            }
            if filled == 0 && !chunks.is_empty() {
                break;
            }
            chunks.push(Digest32(Sha256::digest(&buf[..filled]).into()));
            size += filled as u64;
            if filled < buf.len() {
                break;
            }
        }
        Self::from_chunk_digests(&chunks, size)
    }
}

/// Append `v` as an unsigned LEB128 varint (protobuf, multiformats and CAR all use it).
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes_field(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A UnixFS `file` node linking `children`, encoded as canonical dag-pb: Links before Data;
/// each link with Hash, an explicit empty Name and Tsize; Data = {Type=File, filesize,
/// blocksizes...} with fields in tag order.
fn encode_file_node(children: &[Child]) -> DagNode {
    let file_size: u64 = children.iter().map(|c| c.file_size).sum();
    let mut data = vec![0x08, 0x02, 0x18];
    put_varint(&mut data, file_size);
    for c in children {
        data.push(0x20);
        put_varint(&mut data, c.file_size);
    }
    let mut bytes = Vec::with_capacity(children.len() * 44 + data.len() + 4);
    let mut link = Vec::with_capacity(48);
    for c in children {
        link.clear();
        put_bytes_field(&mut link, 0x0a, &c.cid.to_bytes());
        link.extend_from_slice(&[0x12, 0x00]);
        link.push(0x18);
        put_varint(&mut link, c.tsize);
        put_bytes_field(&mut bytes, 0x12, &link);
    }
    put_bytes_field(&mut bytes, 0x0a, &data);
    let digest: [u8; 32] = Sha256::digest(&bytes).into();
    DagNode {
        cid: cid_v1(DAG_PB, &digest),
        bytes,
        file_size,
    }
}

/// A link of a decoded dag-pb node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PbLink {
    /// Target CID.
    pub cid: Cid,
    /// Cumulative DAG size, if present.
    pub tsize: Option<u64>,
}

/// A decoded dag-pb node holding a UnixFS file (or raw data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileNode {
    /// Links in order.
    pub links: Vec<PbLink>,
    /// UnixFS blocksizes, one per link.
    pub blocksizes: Vec<u64>,
    /// Inline file data of the node (usually empty with raw leaves).
    pub data: Vec<u8>,
    /// UnixFS filesize, if present.
    pub file_size: Option<u64>,
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn done(&self) -> bool {
        self.at >= self.buf.len()
    }

    fn varint(&mut self) -> Result<u64, IpfsError> {
        read_varint(self.buf, &mut self.at).map_err(malformed)
    }

    fn bytes(&mut self) -> Result<&'a [u8], IpfsError> {
        let len = usize::try_from(self.varint()?).map_err(|_| malformed("length overflow"))?;
        let end = self
            .at
            .checked_add(len)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| malformed("length beyond the block"))?;
        let out = &self.buf[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn skip(&mut self, wire: u64) -> Result<(), IpfsError> {
        match wire {
            0 => self.varint().map(drop),
            2 => self.bytes().map(drop),
            1 => self.advance(8),
            5 => self.advance(4),
            _ => Err(malformed("unknown protobuf wire type")),
        }
    }

    fn advance(&mut self, n: usize) -> Result<(), IpfsError> {
        if self.at + n > self.buf.len() {
            return Err(malformed("truncated field"));
        }
        self.at += n;
        Ok(())
    }
}

/// Read an unsigned LEB128 varint at `*at`, advancing it; the error says what is wrong.
pub(crate) fn read_varint(buf: &[u8], at: &mut usize) -> Result<u64, &'static str> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*at).ok_or("truncated varint")?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("varint longer than 64 bits")
}

fn malformed(what: &str) -> IpfsError {
    IpfsError::Malformed(format!("dag-pb: {what}"))
}

/// Decode a dag-pb block holding a UnixFS file or raw node.
pub fn decode_file_node(block: &[u8]) -> Result<FileNode, IpfsError> {
    let mut r = Reader { buf: block, at: 0 };
    let mut links = Vec::new();
    let mut unixfs: Option<&[u8]> = None;
    while !r.done() {
        let key = r.varint()?;
        match (key >> 3, key & 7) {
            (2, 2) => {
                let mut l = Reader {
                    buf: r.bytes()?,
                    at: 0,
                };
                let (mut cid, mut tsize) = (None, None);
                while !l.done() {
                    let key = l.varint()?;
                    match (key >> 3, key & 7) {
                        (1, 2) => {
                            cid = Some(
                                Cid::try_from(l.bytes()?)
                                    .map_err(|e| IpfsError::Malformed(format!("link CID: {e}")))?,
                            )
                        }
                        (3, 0) => tsize = Some(l.varint()?),
                        (_, wire) => l.skip(wire)?,
                    }
                }
                links.push(PbLink {
                    cid: cid.ok_or_else(|| malformed("link without Hash"))?,
                    tsize,
                });
            }
            (1, 2) => unixfs = Some(r.bytes()?),
            (_, wire) => r.skip(wire)?,
        }
    }
    let mut node = FileNode {
        links,
        blocksizes: Vec::new(),
        data: Vec::new(),
        file_size: None,
    };
    let Some(unixfs) = unixfs else {
        return Err(malformed("node without UnixFS Data"));
    };
    let mut u = Reader { buf: unixfs, at: 0 };
    let mut kind = None;
    while !u.done() {
        let key = u.varint()?;
        match (key >> 3, key & 7) {
            (1, 0) => kind = Some(u.varint()?),
            (2, 2) => node.data = u.bytes()?.to_vec(),
            (3, 0) => node.file_size = Some(u.varint()?),
            (4, 0) => node.blocksizes.push(u.varint()?),
            (4, 2) => {
                let mut packed = Reader {
                    buf: u.bytes()?,
                    at: 0,
                };
                while !packed.done() {
                    node.blocksizes.push(packed.varint()?);
                }
            }
            (_, wire) => u.skip(wire)?,
        }
    }
    match kind {
        // Raw (0) and File (2) carry file bytes; directories and the rest are not files.
        Some(0) | Some(2) => {}
        Some(other) => {
            return Err(IpfsError::Unsupported(format!(
                "UnixFS node type {other} is not a file"
            )))
        }
        None => return Err(malformed("UnixFS Data without Type")),
    }
    if node.blocksizes.len() != node.links.len() {
        return Err(malformed("blocksizes do not match links"));
    }
    Ok(node)
}

/// Check that `block` hashes to `cid` (sha2-256 or identity) and has an accepted size.
pub fn verify_block(cid: &Cid, block: &[u8]) -> Result<(), IpfsError> {
    if block.len() > MAX_BLOCK {
        return Err(IpfsError::TooLarge(format!(
            "block {cid} is {} bytes, more than {MAX_BLOCK}",
            block.len()
        )));
    }
    let hash = cid.hash();
    match hash.code() {
        SHA2_256 => {
            let digest: [u8; 32] = Sha256::digest(block).into();
            if hash.digest() != digest {
                return Err(IpfsError::Integrity(format!(
                    "block for {cid} hashes to a different digest"
                )));
            }
        }
        IDENTITY => {
            if hash.digest() != block {
                return Err(IpfsError::Integrity(format!(
                    "identity block for {cid} differs"
                )));
            }
        }
        other => {
            return Err(IpfsError::Unsupported(format!(
                "multihash 0x{other:x} in {cid} (only sha2-256 and identity)"
            )))
        }
    }
    Ok(())
}

/// Parse a CID string, mapping errors to [`IpfsError::InvalidInput`].
pub fn parse_cid(s: &str) -> Result<Cid, IpfsError> {
    let cid = Cid::try_from(s).map_err(|e| IpfsError::InvalidInput(format!("CID {s:?}: {e}")))?;
    match cid.codec() {
        RAW | DAG_PB => Ok(cid),
        other => Err(IpfsError::Unsupported(format!(
            "codec 0x{other:x} of {s} (only raw and dag-pb)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_cids() {
        assert_eq!(
            FileDag::of_bytes(b"").root.to_string(),
            "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
        );
        assert_eq!(
            FileDag::of_bytes(b"hello world\n").root.to_string(),
            "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"
        );
    }

    #[test]
    fn nodes_round_trip_through_the_decoder() {
        let bytes: Vec<u8> = (0..(3 * CHUNK + 5)).map(|i| (i % 251) as u8).collect();
        let dag = FileDag::of_bytes(&bytes);
        assert_eq!(dag.nodes.len(), 1);
        let node = decode_file_node(&dag.nodes[0].bytes).unwrap();
        assert_eq!(node.links.len(), 4);
        assert_eq!(node.blocksizes, [CHUNK, CHUNK, CHUNK, 5]);
        assert_eq!(node.file_size, Some(bytes.len() as u64));
        assert_eq!(
            node.links.iter().map(|l| l.cid).collect::<Vec<_>>(),
            dag.leaves
        );
        assert_eq!(dag.root, dag.nodes[0].cid);
        verify_block(&dag.root, &dag.nodes[0].bytes).unwrap();
    }

    #[test]
    fn two_levels_start_at_1025_chunks() {
        let chunks: Vec<Digest32> = (0..1025u32)
            .map(|i| Digest32::sha256(&i.to_le_bytes()))
            .collect();
        let dag = FileDag::from_chunk_digests(&chunks, 1024 * CHUNK + 1).unwrap();
        assert_eq!(dag.nodes.len(), 3);
        let root = decode_file_node(&dag.nodes[2].bytes).unwrap();
        assert_eq!(root.blocksizes, [1024 * CHUNK, 1]);
        assert_eq!(root.file_size, Some(1024 * CHUNK + 1));
        let one = FileDag::from_chunk_digests(&chunks[..1024], 1024 * CHUNK).unwrap();
        assert_eq!(one.nodes.len(), 1);
        assert!(FileDag::from_chunk_digests(&chunks, 3).is_err());
    }

    #[test]
    fn malformed_blocks_are_refused() {
        assert!(decode_file_node(&[0x12, 0x05, 0x0a]).is_err());
        assert!(decode_file_node(&[0xff; 11]).is_err());
        assert!(decode_file_node(&[]).is_err());
        let cid = raw_cid(&Digest32::sha256(b"a"));
        assert!(matches!(
            verify_block(&cid, b"b"),
            Err(IpfsError::Integrity(_))
        ));
        assert!(matches!(
            verify_block(&cid, &vec![0u8; MAX_BLOCK + 1]),
            Err(IpfsError::TooLarge(_))
        ));
        assert!(parse_cid("bafy-not-a-cid").is_err());
        assert!(parse_cid("").is_err());
        // dag-cbor (0x71) is a valid CID but not a file codec here.
        let cbor = Cid::new_v1(0x71, Multihash::<64>::wrap(SHA2_256, &[0u8; 32]).unwrap());
        assert!(matches!(
            parse_cid(&cbor.to_string()),
            Err(IpfsError::Unsupported(_))
        ));
    }
}
