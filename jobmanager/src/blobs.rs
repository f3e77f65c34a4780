//! The blob store: job binaries by sha256, so that TaskManagers fetch exactly what was
//! submitted and check it after download.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Job binaries under one directory, named by their sha256 (hex).
#[derive(Debug)]
pub(crate) struct BlobStore {
    dir: PathBuf,
}

impl BlobStore {
    /// The store in `dir`, created with the first binary put into it.
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub(crate) fn path(&self, hash: &str) -> Option<PathBuf> {
        let valid = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        valid.then(|| self.dir.join(hash)).filter(|p| p.is_file())
    }

    /// Copies `file` into the store (once per content) and returns its hash.
    pub(crate) fn put(&self, file: &Path) -> std::io::Result<String> {
        let hash = sha256_file(file)?;
        let target = self.dir.join(&hash);
        if !target.is_file() {
            std::fs::create_dir_all(&self.dir)?;
            // Two submissions of one binary may copy it at the same time: each into its own
            // file; the renames replace one identical content with another.
            let tmp = self.dir.join(format!(".{hash}.{}.tmp", strom_runtime::random_hex(16)));
            std::fs::copy(file, &tmp)?;
            std::fs::rename(&tmp, &target)?;
        }
        Ok(hash)
    }
}

/// The sha256 of a file's content, in lowercase hex.
pub(crate) fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_stored_once_by_content_and_hashes_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path().join("blobs"));
        let file = dir.path().join("job");
        std::fs::write(&file, b"abc").unwrap();
        let hash = store.put(&file).unwrap();
        // sha256("abc"), computed independently.
        assert_eq!(hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(store.put(&file).unwrap(), hash);
        assert_eq!(std::fs::read(store.path(&hash).unwrap()).unwrap(), b"abc");
        assert!(store.path("../../etc/passwd").is_none());
        assert!(store.path(&"0".repeat(64)).is_none());
    }
}
