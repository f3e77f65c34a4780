//! Running example binaries and reading their output directories.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `binary` with `args`; panics with its stderr if it fails.
pub(crate) fn run_ok(binary: &str, args: &[&str]) -> Output {
    let out = Command::new(binary).args(args).output().expect("example binary starts");
    assert!(out.status.success(), "{binary} {args:?} failed ({}):\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    out
}

/// Runs `binary` expecting it to fail with `code`; returns its stderr.
pub(crate) fn run_err(binary: &str, args: &[&str], code: i32) -> String {
    let out = Command::new(binary).args(args).output().expect("example binary starts");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{binary} {args:?}: {stderr}");
    stderr
}

/// All lines of the visible part files in `dir`, sorted. Fails if hidden (in-progress or
/// pending) files remain after the job ended.
pub(crate) fn output_lines(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).expect("output directory exists") {
        let entry = entry.expect("directory entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with('.'), "hidden file {name} left in {}", dir.display());
        let text = std::fs::read_to_string(entry.path()).expect("part file is UTF-8 text");
        lines.extend(text.lines().map(str::to_string));
    }
    lines.sort();
    lines
}

/// A deterministic pseudo-random sequence (xorshift), independent of the code under test.
pub(crate) fn pseudo_random(seed: u64) -> impl Iterator<Item = u64> {
    let mut x = seed.max(1);
    std::iter::repeat_with(move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    })
}
