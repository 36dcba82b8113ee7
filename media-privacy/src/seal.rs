//! Private media encrypted to its recipients with [age](https://age-encryption.org/v1)
//! (X25519 `age1…` recipients, the `age` crate): files are encrypted and decrypted as
//! streams, and a decrypting reader seeks by 64 KiB age chunks, so a range of a large video
//! costs its chunks, not the file.
//!
//! Every encryption uses a fresh file key: the same photo encrypted twice gives two unrelated
//! objects (no convergent encryption), so stores and dedup learn nothing from equal
//! plaintexts.

use std::fmt;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::Path;
use std::str::FromStr;

/// Why sealing or opening failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// A recipient or identity that does not parse (the key itself is never in the message).
    #[error("{0}")]
    BadKey(String),
    /// None of the identities can open the file, or it is not an age file.
    #[error("cannot decrypt: {0}")]
    Decrypt(String),
    /// Reading or writing failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// An age recipient (`age1…`, X25519).
#[derive(Clone)]
pub struct Recipient(age::x25519::Recipient);

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recipient({})", self.0)
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Recipient {
    type Err = SealError;
    fn from_str(s: &str) -> Result<Self, SealError> {
        age::x25519::Recipient::from_str(s.trim())
            .map(Recipient)
            .map_err(|e| SealError::BadKey(format!("not an age1… X25519 recipient: {e}")))
    }
}

/// An age identity (`AGE-SECRET-KEY-1…`). Never printed.
#[derive(Clone)]
pub struct Identity(age::x25519::Identity);

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity(recipient {})", self.0.to_public())
    }
}

impl Identity {
    /// A fresh identity.
    pub fn generate() -> Self {
        Identity(age::x25519::Identity::generate())
    }

    /// Its recipient, to share.
    pub fn recipient(&self) -> Recipient {
        Recipient(self.0.to_public())
    }

    /// The secret key text (`AGE-SECRET-KEY-1…`), to save; keep it out of logs.
    pub fn to_secret_string(&self) -> String {
        use age::secrecy::ExposeSecret;
        self.0.to_string().expose_secret().to_owned()
    }

    /// The first identity in an identity file's text (as `age-keygen` writes it: `#`
    /// comments, one `AGE-SECRET-KEY-1…` per line).
    pub fn from_file_text(text: &str) -> Result<Self, SealError> {
        text.lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .ok_or_else(|| SealError::BadKey("the identity file holds no key".into()))
            .and_then(|line| {
                age::x25519::Identity::from_str(line)
                    .map(Identity)
                    .map_err(|_| SealError::BadKey("not an AGE-SECRET-KEY-1… identity".into()))
            })
    }

    /// Read an identity file.
    pub fn from_file(path: &Path) -> Result<Self, SealError> {
        Self::from_file_text(&std::fs::read_to_string(path)?)
    }
}

/// Encrypt the file at `input` to `recipients` into `output`, streaming.
pub fn encrypt_file(
    input: &Path,
    output: &Path,
    recipients: &[Recipient],
) -> Result<(), SealError> {
    let sink = BufWriter::with_capacity(256 * 1024, File::create(output)?);
    encrypt_to_writer(input, sink, recipients)
}

/// Encrypt the file at `input` to `recipients` into `sink` (a file, a pipe to a hasher),
/// streaming.
pub fn encrypt_to_writer(
    input: &Path,
    sink: impl Write,
    recipients: &[Recipient],
) -> Result<(), SealError> {
    if recipients.is_empty() {
        return Err(SealError::BadKey(
            "encrypting needs at least one recipient".into(),
        ));
    }
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| &r.0 as &dyn age::Recipient))
            .map_err(|e| SealError::BadKey(e.to_string()))?;
    let mut source = BufReader::with_capacity(256 * 1024, File::open(input)?);
    let mut writer = encryptor.wrap_output(sink)?;
    std::io::copy(&mut source, &mut writer)?;
    // No fsync: the ciphertext is a staged file; stores keep their own durable copies.
    writer.finish()?.flush()?;
    Ok(())
}

/// The plaintext `range` of an age file read through `ciphertext` (which seeks): only the
/// age chunks that hold the range are read and authenticated.
pub fn read_range<R: Read + Seek>(
    ciphertext: R,
    identity: &Identity,
    start: u64,
    len: u64,
    out: &mut impl Write,
) -> Result<u64, SealError> {
    read_resolved(
        ciphertext,
        identity,
        |_| Ok::<_, SealError>((start, len)),
        out,
    )
}

/// Like [`read_range`], choosing the range once the plaintext size is known: `choose` gets
/// the size and returns `(start, len)`. One header read serves both.
pub fn read_resolved<R: Read + Seek, E: Into<SealError>>(
    ciphertext: R,
    identity: &Identity,
    choose: impl FnOnce(u64) -> Result<(u64, u64), E>,
    out: &mut impl Write,
) -> Result<u64, SealError> {
    read_resolved_sized(ciphertext, identity, None, choose, out)
}

/// Like [`read_resolved`], with the plaintext size already known (from [`AgeLayout`]): the
/// final chunk is then read only if the range reaches it.
pub fn read_resolved_sized<R: Read + Seek, E: Into<SealError>>(
    ciphertext: R,
    identity: &Identity,
    plaintext_len: Option<u64>,
    choose: impl FnOnce(u64) -> Result<(u64, u64), E>,
    out: &mut impl Write,
) -> Result<u64, SealError> {
    let decryptor =
        age::Decryptor::new(ciphertext).map_err(|e| SealError::Decrypt(e.to_string()))?;
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity.0 as &dyn age::Identity))
        .map_err(|e| SealError::Decrypt(e.to_string()))?;
    let size = match plaintext_len {
        Some(size) => size,
        None => reader.seek(std::io::SeekFrom::End(0))?,
    };
    let (start, len) = choose(size).map_err(Into::into)?;
    if len == 0 {
        return Ok(0);
    }
    if plaintext_len.is_some() && start > 0 && start.is_multiple_of(AgeLayout::CHUNK) {
        // A seek to a chunk boundary makes the age reader read the final chunk to learn the
        // size. Landing one byte in (which decrypts the range's first chunk) and stepping
        // back inside that chunk avoids the probe and reads nothing outside the range.
        reader.seek(std::io::SeekFrom::Start(start + 1))?;
    }
    reader.seek(std::io::SeekFrom::Start(start))?;
    let copied = std::io::copy(&mut reader.take(len), out)?;
    Ok(copied)
}

/// Where things are in a binary age file: the header (up to and including the payload's
/// nonce), then 64 KiB plaintext chunks of 64 KiB + 16 bytes each, the last one shorter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgeLayout {
    /// Bytes before the first chunk: the header and the 16-byte nonce.
    pub payload_start: u64,
    /// Size of the whole age file.
    pub file_len: u64,
}

impl AgeLayout {
    /// Plaintext bytes per chunk.
    pub const CHUNK: u64 = 64 * 1024;
    /// Ciphertext bytes per full chunk.
    pub const SEALED_CHUNK: u64 = Self::CHUNK + 16;

    /// The layout of an age file of `file_len` bytes whose first bytes are `prefix` (the
    /// header must be whole in it). `None` for an armored or malformed header.
    pub fn parse(prefix: &[u8], file_len: u64) -> Option<AgeLayout> {
        const VERSION: &[u8] = b"age-encryption.org/v1\n";
        if !prefix.starts_with(VERSION) {
            return None;
        }
        // The MAC line is the only header line that starts with "--- ".
        let mac = prefix.windows(5).position(|w| w == b"\n--- ")? + 1;
        let end = mac + prefix[mac..].iter().position(|&b| b == b'\n')? + 1;
        let payload_start = end as u64 + 16;
        (payload_start <= file_len).then_some(AgeLayout {
            payload_start,
            file_len,
        })
    }

    /// The plaintext size, from the sizes alone (the final chunk authenticates it when read).
    pub fn plaintext_len(&self) -> Option<u64> {
        let sealed = self.file_len - self.payload_start;
        let chunks = sealed.div_ceil(Self::SEALED_CHUNK);
        if chunks == 0 {
            return None;
        }
        // A last chunk of only its tag is allowed for an empty file alone.
        let plain = sealed - 16 * chunks;
        (plain > 0 || chunks == 1).then_some(plain)
    }

    /// The ciphertext bytes that hold plaintext `start..start + len`, as
    /// [`read_resolved_sized`] reads them.
    pub fn span(&self, start: u64, len: u64) -> std::ops::Range<u64> {
        let first = start / Self::CHUNK;
        let last = (start + len.max(1) - 1) / Self::CHUNK;
        let at = |chunk: u64| {
            self.payload_start
                .saturating_add(chunk.saturating_mul(Self::SEALED_CHUNK))
                .min(self.file_len)
        };
        at(first)..at(last + 1)
    }
}

/// The plaintext size of an age file whose ciphertext `reader` seeks over.
pub fn plaintext_len<R: Read + Seek>(ciphertext: R, identity: &Identity) -> Result<u64, SealError> {
    let decryptor =
        age::Decryptor::new(ciphertext).map_err(|e| SealError::Decrypt(e.to_string()))?;
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity.0 as &dyn age::Identity))
        .map_err(|e| SealError::Decrypt(e.to_string()))?;
    Ok(reader.seek(std::io::SeekFrom::End(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_gives_the_plaintext_size_and_the_span_of_any_range() {
        let dir = tempfile::tempdir().unwrap();
        let id = Identity::generate();
        for size in [0usize, 1, 65_535, 65_536, 65_537, 200_000, 3 * 65_536] {
            let plain: Vec<u8> = (0..size as u32).map(|i| (i * 7 % 251) as u8).collect();
            let (input, output) = (dir.path().join("p"), dir.path().join("c"));
            std::fs::write(&input, &plain).unwrap();
            encrypt_file(
                &input,
                &output,
                &[id.recipient(), Identity::generate().recipient()],
            )
            .unwrap();
            let cipher = std::fs::read(&output).unwrap();
            let layout = AgeLayout::parse(&cipher, cipher.len() as u64).unwrap();
            assert_eq!(layout.plaintext_len(), Some(size as u64), "size {size}");
            for (start, len) in [
                (0, size),
                (size / 2, size - size / 2),
                (65_536.min(size), 1),
            ] {
                let (start, len) = (
                    start as u64,
                    (len as u64).min(size as u64 - start.min(size) as u64),
                );
                if len == 0 {
                    continue;
                }
                // Only the span is readable: everything else is zeroed.
                let span = layout.span(start, len);
                let mut holed = vec![0u8; cipher.len()];
                let head = layout.payload_start as usize;
                holed[..head].copy_from_slice(&cipher[..head]);
                let r = span.start as usize..span.end as usize;
                holed[r.clone()].copy_from_slice(&cipher[r]);
                let mut out = Vec::new();
                read_resolved_sized(
                    std::io::Cursor::new(&holed),
                    &id,
                    Some(size as u64),
                    |_| Ok::<_, SealError>((start, len)),
                    &mut out,
                )
                .unwrap_or_else(|e| panic!("size {size} range {start}+{len}: {e}"));
                assert_eq!(out, plain[start as usize..(start + len) as usize]);
            }
        }
        assert_eq!(
            AgeLayout::parse(b"-----BEGIN AGE ENCRYPTED FILE-----", 100),
            None
        );
    }

    #[test]
    fn encrypt_then_read_ranges_and_refuse_the_wrong_identity() {
        let dir = tempfile::tempdir().unwrap();
        let plain: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (input, output) = (dir.path().join("p"), dir.path().join("c"));
        std::fs::write(&input, &plain).unwrap();
        let id = Identity::generate();
        encrypt_file(&input, &output, &[id.recipient()]).unwrap();
        let cipher = std::fs::read(&output).unwrap();
        assert!(cipher.starts_with(b"age-encryption.org/v1\n"));
        assert!(!cipher.windows(64).any(|w| w == &plain[1000..1064]));
        let mut out = Vec::new();
        read_range(
            std::io::Cursor::new(&cipher),
            &id,
            200_000,
            70_000,
            &mut out,
        )
        .unwrap();
        assert_eq!(out, plain[200_000..270_000]);
        assert_eq!(
            plaintext_len(std::io::Cursor::new(&cipher), &id).unwrap(),
            300_000
        );
        let other = Identity::generate();
        assert!(matches!(
            read_range(
                std::io::Cursor::new(&cipher),
                &other,
                0,
                10,
                &mut Vec::new()
            ),
            Err(SealError::Decrypt(_))
        ));
        // Twice the same plaintext: two different ciphertexts.
        let again = dir.path().join("c2");
        encrypt_file(&input, &again, &[id.recipient()]).unwrap();
        assert_ne!(std::fs::read(&again).unwrap(), cipher);
        // Keys stay out of Debug output and parse back.
        let secret = id.to_secret_string();
        assert!(!format!("{id:?}").contains(&secret));
        let text = format!(
            "# created: now\n# public key: {}\n{secret}\n",
            id.recipient()
        );
        assert_eq!(
            Identity::from_file_text(&text)
                .unwrap()
                .recipient()
                .to_string(),
            id.recipient().to_string()
        );
        assert!("age1nope".parse::<Recipient>().is_err());
    }
}
