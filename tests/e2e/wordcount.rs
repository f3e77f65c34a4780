//! `wordcount --input PATH --output DIR` at parallelism 1 and 4.

use std::collections::BTreeMap;

use crate::support::{output_lines, pseudo_random, run_err, run_ok};

const BIN: &str = env!("CARGO_BIN_EXE_wordcount");

/// Text with mixed case, punctuation, digits, underscores and non-ASCII letters.
pub(crate) fn corpus() -> String {
    let words = ["Strom", "flink", "STATE", "e2e_test", "naïve", "x9", "don't", "co-op", "ÜBER", "a__b", "", "42"];
    let seps = [" ", ", ", "\t", "!!", " -- ", "\n", "\r\n", "…", "(", ")"];
    let mut text = String::new();
    for (i, r) in pseudo_random(17).take(30_000).enumerate() {
        text.push_str(words[(r % words.len() as u64) as usize]);
        text.push_str(seps[((r >> 16) % seps.len() as u64) as usize]);
        if i % 13 == 0 {
            text.push('\n');
        }
    }
    text
}

/// The counts as the issue defines them: lowercase, split on every run of characters other
/// than [a-z0-9_], drop empty tokens.
pub(crate) fn expected(text: &str) -> Vec<String> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let lower = text.to_lowercase();
    let mut word = String::new();
    for c in lower.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            word.push(c);
        } else if !word.is_empty() {
            *counts.entry(std::mem::take(&mut word)).or_default() += 1;
        }
    }
    let mut lines: Vec<String> = counts.into_iter().map(|(w, n)| format!("{w},{n}")).collect();
    lines.sort();
    lines
}

#[test]
fn counts_every_word_of_a_file_and_of_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let text = corpus();
    let input = dir.path().join("input.txt");
    std::fs::write(&input, &text).unwrap();
    let want = expected(&text);
    assert!(want.len() > 10);
    for p in ["1", "4"] {
        let out = dir.path().join(format!("out-file-{p}"));
        run_ok(BIN, &["--input", input.to_str().unwrap(), "--output", out.to_str().unwrap(), "-p", p]);
        assert_eq!(output_lines(&out), want, "single file, p={p}");
    }
    // The same text split over several files of a directory.
    let in_dir = dir.path().join("in");
    std::fs::create_dir(&in_dir).unwrap();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    for (i, chunk) in lines.chunks(lines.len() / 5 + 1).enumerate() {
        std::fs::write(in_dir.join(format!("part{i}.txt")), chunk.concat()).unwrap();
    }
    for p in ["1", "4"] {
        let out = dir.path().join(format!("out-dir-{p}"));
        run_ok(BIN, &["--input", in_dir.to_str().unwrap(), "--output", out.to_str().unwrap(), "-p", p]);
        assert_eq!(output_lines(&out), want, "directory, p={p}");
    }
}

#[test]
fn bad_arguments_exit_with_code_2_and_say_what_is_wrong() {
    let err = run_err(BIN, &["--output", "/tmp/x"], 2);
    assert!(err.contains("--input"), "{err}");
    let err = run_err(BIN, &["--input", "a", "--output", "b", "--bogus", "1"], 2);
    assert!(err.contains("--bogus"), "{err}");
    let err = run_err(BIN, &["--input", "a", "--output", "b", "-p", "0"], 2);
    assert!(err.contains("parallelism"), "{err}");
}
