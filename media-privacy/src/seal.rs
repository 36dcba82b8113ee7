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
    if recipients.is_empty() {
        return Err(SealError::BadKey(
            "encrypting needs at least one recipient".into(),
        ));
    }
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| &r.0 as &dyn age::Recipient))
            .map_err(|e| SealError::BadKey(e.to_string()))?;
    let mut source = BufReader::with_capacity(256 * 1024, File::open(input)?);
    let sink = BufWriter::with_capacity(256 * 1024, File::create(output)?);
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
    let decryptor =
        age::Decryptor::new(ciphertext).map_err(|e| SealError::Decrypt(e.to_string()))?;
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity.0 as &dyn age::Identity))
        .map_err(|e| SealError::Decrypt(e.to_string()))?;
    let size = reader.seek(std::io::SeekFrom::End(0))?;
    let (start, len) = choose(size).map_err(Into::into)?;
    reader.seek(std::io::SeekFrom::Start(start))?;
    let copied = std::io::copy(&mut reader.take(len), out)?;
    Ok(copied)
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
