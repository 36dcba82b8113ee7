//! [`Staged`]: an upload's file in the staging folder, removed when the guard is dropped
//! (an error, a dedup hit, a finished upload: whichever way the upload ends). The model is
//! iroh-blobs' `TempTag`: cleanup belongs to the value, not to every early return.
//!
//! [`Staged::rewrite`] is the one shape of every rewrite of an upload before the stores see
//! it (faststart remux, age encryption): the new bytes are written into a pipe by the step
//! and hashed on another thread as they are written to a file beside the staged one, which
//! then replaces it. Nothing is read back to be hashed.

use std::io::Write;
use std::path::{Path, PathBuf};

use media_core::{digest_copy, Digests, MediaError, Operation, Result};

#[derive(Debug)]
pub(crate) struct Staged {
    path: PathBuf,
}

impl Staged {
    /// Guard the file at `path` (it may not exist yet).
    pub fn new(path: PathBuf) -> Self {
        Staged { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Move the file to `to`; the guard follows it.
    pub fn rename(&mut self, to: PathBuf) -> std::io::Result<()> {
        std::fs::rename(&self.path, &to)?;
        self.path = to;
        Ok(())
    }

    /// Replace the file by what `write` makes of it. `write` reads the staged file (its
    /// path) and writes the new bytes to the sink, returning `false` when the file needs no
    /// change. The new bytes' digests, or `None` when nothing changed. On error the staged
    /// file is as it was and the partial output is gone.
    pub fn rewrite<E>(
        &mut self,
        tag: &str,
        write: impl FnOnce(&Path, &mut dyn Write) -> std::result::Result<bool, E>,
        error: impl FnOnce(E) -> MediaError,
    ) -> Result<Option<Digests>> {
        let io = |what: &str, e| MediaError::io(Operation::Ingest, what, e);
        let out_path = self.path.with_extension(tag);
        let output = Staged::new(out_path.clone());
        let (from_step, to_hasher) = std::io::pipe().map_err(|e| io("a pipe", e))?;
        let out = std::fs::File::create(output.path()).map_err(|e| io("creating a rewrite", e))?;
        let (written, digests) = std::thread::scope(|scope| {
            let hasher = scope.spawn(move || digest_copy(from_step, out, None));
            let written = {
                let mut pipe = std::io::BufWriter::with_capacity(1 << 20, to_hasher);
                let written = write(&self.path, &mut pipe);
                let flushed = pipe.flush();
                // The pipe's writing end closes here: the hasher sees the end.
                drop(pipe);
                written.map(|changed| (changed, flushed))
            };
            let digests = hasher
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("the hashing thread panicked")));
            (written, digests)
        });
        match written {
            Err(e) => Err(error(e)),
            Ok((false, _)) => Ok(None),
            Ok((true, flushed)) => {
                flushed.map_err(|e| io("writing a rewrite", e))?;
                let digests = digests.map_err(|e| io("hashing a rewrite", e))?;
                std::fs::rename(&out_path, &self.path)
                    .map_err(|e| io("replacing the staged file", e))?;
                std::mem::forget(output);
                Ok(Some(digests))
            }
        }
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_goes_with_the_guard_and_a_rewrite_replaces_it_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("1.part");
        std::fs::write(&path, b"plain").unwrap();
        let mut staged = Staged::new(path.clone());
        let digests = staged
            .rewrite(
                "upper",
                |input, out| {
                    let text = std::fs::read(input)?;
                    out.write_all(&text.to_ascii_uppercase())?;
                    Ok::<_, std::io::Error>(true)
                },
                |e| MediaError::io(Operation::Ingest, "test", e),
            )
            .unwrap()
            .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"PLAIN");
        assert_eq!(digests, Digests::of_bytes(b"PLAIN"));
        // A failing step leaves the file as it was and nothing beside it.
        let err = staged.rewrite(
            "broken",
            |_, out| {
                out.write_all(b"half")?;
                Err(std::io::Error::other("no"))
            },
            |e| MediaError::io(Operation::Ingest, "test", e),
        );
        assert!(err.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"PLAIN");
        assert!(!dir.path().join("1.broken").exists());
        staged.rename(dir.path().join("moved")).unwrap();
        drop(staged);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
