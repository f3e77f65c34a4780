//! Storage of uploaded job binaries behind Flink's `/jars` endpoints.
//!
//! Strom jobs are native executables, not jars, but the Flink endpoints and their words are
//! kept. An upload is streamed to a temporary file in the upload directory (never held in
//! memory), limited in size while it streams, made executable and renamed to
//! `<32 random hex chars>_<sanitized file name>`; that file name is the jar id, as in Flink.
//! The client's file name is untrusted: only its last path component survives, with every
//! character outside `[A-Za-z0-9._+-]` replaced and leading dots stripped, so a stored path
//! is always directly inside the upload directory. Jar ids from URLs are checked against the
//! same form before they touch the file system.

use std::io;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use axum::extract::multipart::{Field, MultipartError};
use axum::extract::Multipart;
use axum::http::StatusCode;
use tokio::io::{AsyncWriteExt, BufWriter};

use super::error::ApiError;

/// The multipart field Flink's `/jars/upload` reads.
const UPLOAD_FIELD: &str = "jarfile";
/// The longest file name kept from the client (the id adds 33 characters).
const MAX_NAME_LEN: usize = 128;
/// The name used when nothing of the client's file name survives sanitizing.
const FALLBACK_NAME: &str = "job";
/// Writes to disk in blocks of this size, not per network chunk.
const WRITE_BUFFER: usize = 1 << 20;

/// An uploaded binary, as `GET /jars` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JarFile {
    /// The jar id: the stored file's name.
    pub(crate) id: String,
    /// The client's (sanitized) file name.
    pub(crate) name: String,
    /// When it was uploaded (ms since epoch).
    pub(crate) uploaded: i64,
}

/// The upload directory and its size limit.
#[derive(Debug)]
pub(crate) struct JarStore {
    dir: PathBuf,
    max_bytes: u64,
}

impl JarStore {
    /// A store in `dir` (created on the first upload) accepting files up to `max_bytes`.
    pub(crate) fn new(dir: PathBuf, max_bytes: u64) -> Self {
        JarStore { dir, max_bytes }
    }

    /// Streams the single `jarfile` field of an upload to disk; returns the stored path.
    pub(crate) async fn store(&self, mut multipart: Multipart) -> Result<PathBuf, ApiError> {
        let mut stored: Option<(TempFile, String)> = None;
        let mut files = 0usize;
        while let Some(field) = multipart.next_field().await.map_err(|e| self.multipart_error(e))? {
            if field.name() != Some(UPLOAD_FIELD) {
                continue;
            }
            files += 1;
            if stored.is_some() {
                // Both temporary files are removed when dropped.
                return Err(exactly_one_file(files));
            }
            let name = sanitize_file_name(field.file_name().unwrap_or(""));
            let temp = self.receive(field).await?;
            stored = Some((temp, name));
        }
        let Some((temp, name)) = stored else {
            return Err(exactly_one_file(files));
        };
        let target = self.dir.join(format!("{}_{name}", strom_runtime::random_hex(32)));
        temp.persist(&target).await.map_err(|e| ApiError::internal(format!("could not store the uploaded file: {e}")))?;
        Ok(target)
    }

    /// Writes one field to a temporary file, enforcing the size limit as bytes arrive.
    async fn receive(&self, mut field: Field<'_>) -> Result<TempFile, ApiError> {
        let io_error = |e: io::Error| ApiError::internal(format!("could not store upload: {e}"));
        tokio::fs::create_dir_all(&self.dir).await.map_err(io_error)?;
        let mut temp = TempFile::create(&self.dir).await.map_err(io_error)?;
        let mut received: u64 = 0;
        while let Some(chunk) = field.chunk().await.map_err(|e| self.multipart_error(e))? {
            received += chunk.len() as u64;
            if received > self.max_bytes {
                return Err(self.too_large());
            }
            temp.file.write_all(&chunk).await.map_err(io_error)?;
        }
        temp.file.flush().await.map_err(io_error)?;
        Ok(temp)
    }

    /// Maps a multipart error to 413 (the body limit, which includes the multipart overhead,
    /// was hit) or 400 (malformed).
    fn multipart_error(&self, e: MultipartError) -> ApiError {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            self.too_large()
        } else {
            ApiError::bad_request(format!("Malformed multipart upload: {}", e.body_text()))
        }
    }

    /// The 413 answered for an upload over the limit.
    fn too_large(&self) -> ApiError {
        ApiError::payload_too_large(format!("The uploaded file is larger than the allowed {} bytes.", self.max_bytes))
    }

    /// The uploaded binaries, newest first (blocking: call from `spawn_blocking`).
    pub(crate) fn list(&self) -> io::Result<Vec<JarFile>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut jars = Vec::new();
        for entry in entries {
            let entry = entry?;
            let Some(id) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let Some(name) = jar_name(&id) else {
                continue;
            };
            let meta = entry.metadata()?;
            if !meta.is_file() {
                continue;
            }
            let uploaded = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            let name = name.to_owned();
            jars.push(JarFile { id, name, uploaded });
        }
        jars.sort_by(|a, b| b.uploaded.cmp(&a.uploaded).then_with(|| a.id.cmp(&b.id)));
        Ok(jars)
    }

    /// The path of an uploaded binary; 404 for ids not of the stored form or not stored
    /// (blocking: call from `spawn_blocking`).
    pub(crate) fn resolve(&self, id: &str) -> Result<PathBuf, ApiError> {
        let not_found = || ApiError::not_found(format!("Jar file {id} does not exist."));
        if jar_name(id).is_none() {
            return Err(not_found());
        }
        let path = self.dir.join(id);
        // symlink_metadata: a link planted in the directory is not followed.
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(path),
            _ => Err(not_found()),
        }
    }

    /// Removes an uploaded binary (blocking: call from `spawn_blocking`).
    pub(crate) fn delete(&self, id: &str) -> Result<(), ApiError> {
        let path = self.resolve(id)?;
        std::fs::remove_file(&path).map_err(|e| ApiError::internal(format!("could not delete jar {id}: {e}")))
    }
}

/// Flink's message when an upload has no or several `jarfile` fields.
fn exactly_one_file(got: usize) -> ApiError {
    ApiError::bad_request(format!("Exactly 1 file must be sent in the multipart field \"{UPLOAD_FIELD}\", but got: {got}"))
}

/// The original file name inside a jar id, if `id` has the stored form
/// `<32 lowercase hex>_<sanitized name>`.
pub(crate) fn jar_name(id: &str) -> Option<&str> {
    let (prefix, name) = id.split_at_checked(33)?;
    let hex = prefix.strip_suffix('_')?;
    let is_hex = hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    (is_hex && sanitize_file_name(name) == name).then_some(name)
}

/// Turns an untrusted file name into one that is safe as a single path component: the last
/// component after `/` or `\`, characters outside `[A-Za-z0-9._+-]` replaced by `_`, leading
/// dots stripped (no `.`, `..` or hidden files), at most 128 characters, never empty.
pub(crate) fn sanitize_file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let replaced: String =
        base.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+') { c } else { '_' }).collect();
    let mut name = replaced.trim_start_matches('.').to_string();
    name.truncate(MAX_NAME_LEN);
    if name.is_empty() {
        FALLBACK_NAME.to_string()
    } else {
        name
    }
}

/// A temporary upload file, removed when dropped unless persisted. Dropping also covers a
/// client that disconnects mid-upload: the handler's future is dropped with it.
struct TempFile {
    path: PathBuf,
    file: BufWriter<tokio::fs::File>,
    keep: bool,
}

impl TempFile {
    async fn create(dir: &Path) -> io::Result<Self> {
        // A leading dot keeps it out of the jar listing and out of valid jar ids.
        let path = dir.join(format!(".upload-{}.tmp", strom_runtime::random_hex(32)));
        let file = tokio::fs::OpenOptions::new().write(true).create_new(true).open(&path).await?;
        Ok(TempFile { path, file: BufWriter::with_capacity(WRITE_BUFFER, file), keep: false })
    }

    /// Syncs the file, makes it executable and moves it to `target`.
    async fn persist(mut self, target: &Path) -> io::Result<()> {
        self.file.flush().await?;
        self.file.get_mut().sync_all().await?;
        set_executable(&self.path).await?;
        tokio::fs::rename(&self.path, target).await?;
        self.keep = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            // Best effort: a leftover temporary file is hidden and harmless.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(unix)]
async fn set_executable(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).await
}

#[cfg(not(unix))]
async fn set_executable(_path: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_keeps_only_a_safe_last_component() {
        let cases = [
            ("my-job", "my-job"),
            ("word count v1.2+x", "word_count_v1.2+x"),
            ("../../etc/passwd", "passwd"),
            ("a/../../x", "x"),
            ("/abs/path/strom-job", "strom-job"),
            ("..\\..\\windows\\evil.exe", "evil.exe"),
            ("..", "job"),
            ("....", "job"),
            (".hidden", "hidden"),
            ("", "job"),
            ("dir/", "job"),
            ("nul\0byte", "nul_byte"),
            ("jöb", "j_b"),
        ];
        for (raw, expected) in cases {
            assert_eq!(sanitize_file_name(raw), expected, "raw name {raw:?}");
        }
        assert_eq!(sanitize_file_name(&"a".repeat(500)).len(), MAX_NAME_LEN);
    }

    #[test]
    fn jar_ids_must_have_the_stored_form() {
        let hex = "0123456789abcdef0123456789abcdef";
        assert_eq!(jar_name(&format!("{hex}_job")), Some("job"));
        assert_eq!(jar_name(&format!("{hex}_a.b-c+d_e")), Some("a.b-c+d_e"));
        for bad in [
            format!("{hex}_../x"),
            format!("{hex}_.."),
            format!("{hex}_"),
            format!("{hex}_a/b"),
            format!("{hex}_.hidden"),
            format!("{}_job", hex.to_uppercase()),
            format!("{hex}job"),
            "../../etc/passwd".to_string(),
            "short_job".to_string(),
            format!("{}_job", &hex[..31]),
            String::new(),
        ] {
            assert_eq!(jar_name(&bad), None, "id {bad:?}");
        }
    }
}
