//! Reading helpers shared by every parser: reads that say what was cut short, and reads with a
//! cap, so a length field never decides how much memory is taken.

use std::io::{BufRead, Read, Seek, Write};

use crate::error::{malformed, FormatError};

/// What a stripper reads from: buffered and seekable (a second pass, or a skip, costs no
/// memory).
pub(crate) trait Source: BufRead + Seek {}
impl<T: BufRead + Seek> Source for T {}

/// Read until `buf` is full or the input ends; the number of bytes read.
pub(crate) fn read_up_to(r: &mut (impl Read + ?Sized), buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn cut_short(e: std::io::Error, what: &str) -> FormatError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        malformed(format!("{what} is cut short"))
    } else {
        FormatError::Io(e)
    }
}

/// Exactly `N` bytes (headers, fixed fields).
pub(crate) fn read_array<const N: usize>(
    r: &mut (impl Read + ?Sized),
    what: &str,
) -> Result<[u8; N], FormatError> {
    let mut buf = [0u8; N];
    r.read_exact(&mut buf).map_err(|e| cut_short(e, what))?;
    Ok(buf)
}

/// One byte.
pub(crate) fn read_u8(r: &mut (impl Read + ?Sized), what: &str) -> Result<u8, FormatError> {
    Ok(read_array::<1>(r, what)?[0])
}

/// The first `min(len, cap)` bytes of a field of `len` bytes, the rest skipped: memory is
/// bounded by `cap` whatever the length field says.
pub(crate) fn read_capped(
    r: &mut (impl Read + ?Sized),
    len: u64,
    cap: usize,
    what: &str,
) -> Result<Vec<u8>, FormatError> {
    let keep = len.min(cap as u64);
    let mut buf = Vec::with_capacity(keep as usize);
    let got = r.take(keep).read_to_end(&mut buf)?;
    if (got as u64) < keep {
        return Err(malformed(format!("{what} is cut short")));
    }
    copy_exact(r, &mut std::io::sink(), len - keep, what)?;
    Ok(buf)
}

/// Copy exactly `n` bytes, streamed.
pub(crate) fn copy_exact(
    input: &mut (impl Read + ?Sized),
    out: &mut (impl Write + ?Sized),
    n: u64,
    what: &str,
) -> Result<(), FormatError> {
    let copied = std::io::copy(&mut input.take(n), out)?;
    if copied != n {
        return Err(malformed(format!("{what} is cut short")));
    }
    Ok(())
}

/// Whether the input has bytes left.
pub(crate) fn has_more(input: &mut (impl BufRead + ?Sized)) -> std::io::Result<bool> {
    Ok(!input.fill_buf()?.is_empty())
}

pub(crate) fn u32_le(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Fill `buf` exactly.
pub(crate) fn fill(
    r: &mut (impl Read + ?Sized),
    buf: &mut [u8],
    what: &str,
) -> Result<(), FormatError> {
    r.read_exact(buf).map_err(|e| cut_short(e, what))
}
