//! CAR v1: the header (`{roots: [cid], version: 1}` in dag-cbor) and length-prefixed blocks.

use cid::Cid;

use crate::error::IpfsError;
use crate::unixfs::{put_varint, read_varint, verify_block, MAX_BLOCK};

/// Media type of CAR v1 responses.
pub const CAR_CONTENT_TYPE: &str = "application/vnd.ipld.car; version=1";

/// The CAR v1 header with one root, length prefix included.
pub fn header(root: &Cid) -> Vec<u8> {
    let cid = root.to_bytes();
    // dag-cbor map, keys in canonical order (shorter first): "roots", then "version".
    let mut cbor = vec![0xa2, 0x65];
    cbor.extend_from_slice(b"roots");
    cbor.push(0x81);
    // Tag 42 (CID), byte string of the CID with the 0x00 multibase prefix.
    cbor.extend_from_slice(&[0xd8, 0x2a]);
    let len = cid.len() + 1;
    if len < 24 {
        cbor.push(0x40 | len as u8);
    } else {
        cbor.extend_from_slice(&[0x58, len as u8]);
    }
    cbor.push(0x00);
    cbor.extend_from_slice(&cid);
    cbor.push(0x67);
    cbor.extend_from_slice(b"version");
    cbor.push(0x01);
    let mut out = Vec::with_capacity(cbor.len() + 2);
    put_varint(&mut out, cbor.len() as u64);
    out.extend_from_slice(&cbor);
    out
}

/// The section prefix (length varint and CID) of one block; the block's bytes follow it.
pub fn block_prefix(cid: &Cid, block_len: usize) -> Vec<u8> {
    let cid = cid.to_bytes();
    let mut out = Vec::with_capacity(cid.len() + 10);
    put_varint(&mut out, (cid.len() + block_len) as u64);
    out.extend_from_slice(&cid);
    out
}

fn varint(buf: &[u8], at: &mut usize) -> Result<u64, IpfsError> {
    read_varint(buf, at).map_err(|why| IpfsError::Malformed(format!("CAR: {why}")))
}

/// A parsed CAR v1: its roots and blocks, every block checked against its CID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Car {
    /// Root CIDs from the header.
    pub roots: Vec<Cid>,
    /// Blocks in file order.
    pub blocks: Vec<(Cid, Vec<u8>)>,
}

/// Parse and verify a CAR v1 held in memory (small CARs: tests, single blocks, probes).
pub fn parse(bytes: &[u8]) -> Result<Car, IpfsError> {
    let mut at = 0;
    let header_len = usize::try_from(varint(bytes, &mut at)?)
        .map_err(|_| IpfsError::Malformed("CAR: header length".into()))?;
    let header = bytes
        .get(at..at.saturating_add(header_len))
        .ok_or_else(|| IpfsError::Malformed("CAR: truncated header".into()))?;
    at += header_len;
    let roots = parse_header(header)?;
    let mut blocks = Vec::new();
    while at < bytes.len() {
        let len = usize::try_from(varint(bytes, &mut at)?)
            .map_err(|_| IpfsError::Malformed("CAR: section length".into()))?;
        if len > MAX_BLOCK + 128 {
            return Err(IpfsError::TooLarge(format!("CAR section of {len} bytes")));
        }
        let section = bytes
            .get(at..at + len)
            .ok_or_else(|| IpfsError::Malformed("CAR: truncated block".into()))?;
        at += len;
        let mut cursor = std::io::Cursor::new(section);
        let cid = Cid::read_bytes(&mut cursor)
            .map_err(|e| IpfsError::Malformed(format!("CAR: block CID: {e}")))?;
        let data = section[cursor.position() as usize..].to_vec();
        verify_block(&cid, &data)?;
        blocks.push((cid, data));
    }
    Ok(Car { roots, blocks })
}

/// The roots of a CAR v1 header: finds every tag-42 CID in the small dag-cbor map and checks
/// `version: 1`.
pub(crate) fn parse_header(header: &[u8]) -> Result<Vec<Cid>, IpfsError> {
    let version_at = header
        .windows(8)
        .position(|w| w == b"\x67version")
        .ok_or_else(|| IpfsError::Malformed("CAR: header without version".into()))?;
    if header.get(version_at + 8) != Some(&0x01) {
        return Err(IpfsError::Unsupported("CAR: only version 1".into()));
    }
    let mut roots = Vec::new();
    let mut at = 0;
    while let Some(off) = header[at..].windows(2).position(|w| w == [0xd8, 0x2a]) {
        at += off + 2;
        let (len, skip) = match header.get(at) {
            Some(&b) if (0x40..0x58).contains(&b) => (usize::from(b - 0x40), 1),
            Some(0x58) => (usize::from(*header.get(at + 1).unwrap_or(&0)), 2),
            _ => {
                return Err(IpfsError::Malformed(
                    "CAR: root is not a byte string".into(),
                ))
            }
        };
        let body = header
            .get(at + skip..at + skip + len)
            .ok_or_else(|| IpfsError::Malformed("CAR: truncated root".into()))?;
        let cid = body
            .strip_prefix(&[0x00])
            .ok_or_else(|| IpfsError::Malformed("CAR: root without multibase prefix".into()))?;
        roots.push(
            Cid::try_from(cid).map_err(|e| IpfsError::Malformed(format!("CAR: root CID: {e}")))?,
        );
        at += skip + len;
    }
    if roots.is_empty() {
        return Err(IpfsError::Malformed("CAR: no roots".into()));
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FileDag;

    #[test]
    fn car_round_trip_and_truncation() {
        let dag = FileDag::of_bytes(b"hello world\n");
        let mut car = header(&dag.root);
        let header_len = car.len();
        car.extend(block_prefix(&dag.root, 12));
        car.extend_from_slice(b"hello world\n");
        let parsed = parse(&car).unwrap();
        assert_eq!(parsed.roots, vec![dag.root]);
        assert_eq!(parsed.blocks, vec![(dag.root, b"hello world\n".to_vec())]);
        // A CAR cut right after its header is a valid CAR without blocks.
        for cut in (1..car.len()).filter(|&c| c != header_len) {
            assert!(parse(&car[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad = car.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(matches!(parse(&bad), Err(IpfsError::Integrity(_))));
    }
}
