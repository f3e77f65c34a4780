//! `FileSink`: after the input ends, only visible part files remain and they hold exactly
//! the input.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use strom_connectors::{DataGenSource, DataStreamExt, FileSink};
use strom_runtime::prelude::*;

use crate::support::{file_names, sorted};

/// The parallelisms the sink tests run at.
const PARALLELISMS: [u32; 2] = [1, 4];

fn input(n: u64) -> Vec<String> {
    (0..n).map(|i| format!("record {i}")).collect()
}

/// Writes `n` records from one source subtask, rebalanced over `p` sink subtasks.
fn write(n: u64, p: u32, sink: FileSink<String>) {
    let env = StreamEnv::new();
    env.add_source("Records", DataGenSource::new(Some(n), |i| format!("record {i}"))).parallelism(1).sink(sink).parallelism(p);
    env.execute("write part files").expect("the job succeeds");
}

/// Every line of every file in `dir`, sorted.
fn all_lines(dir: &Path) -> Vec<String> {
    let lines = file_names(dir).into_iter().flat_map(|name| {
        let text = fs::read_to_string(dir.join(&name)).expect("reading a part file");
        text.lines().map(str::to_string).collect::<Vec<_>>()
    });
    sorted(lines.collect())
}

/// The (subtask, counter) of a visible part file's name.
fn part_of(name: &str) -> (u32, u64) {
    let parsed =
        name.strip_prefix("part-").and_then(|rest| rest.split_once('-')).and_then(|(i, n)| Some((i.parse().ok()?, n.parse().ok()?)));
    parsed.unwrap_or_else(|| panic!("'{name}' is not a visible part file"))
}

#[test]
fn finished_part_files_hold_exactly_the_input() {
    for p in PARALLELISMS {
        let dir = tempfile::tempdir().expect("temporary directory");
        let out = dir.path().join("missing/parents/out");
        write(10_000, p, FileSink::lines(&out));
        let expected_names: Vec<String> = (0..p).map(|i| format!("part-{i}-0")).collect();
        assert_eq!(file_names(&out), expected_names, "parallelism {p}");
        assert_eq!(all_lines(&out), sorted(input(10_000)), "parallelism {p}");
    }
}

#[test]
fn parts_roll_over_at_the_maximum_size() {
    const MAX: u64 = 1_000;
    for p in PARALLELISMS {
        let dir = tempfile::tempdir().expect("temporary directory");
        write(2_000, p, FileSink::lines(dir.path()).with_max_part_size(MAX));
        let names = file_names(dir.path());
        let mut parts: BTreeMap<u32, Vec<(u64, u64)>> = BTreeMap::new();
        for name in &names {
            let (subtask, counter) = part_of(name);
            let size = fs::metadata(dir.path().join(name)).expect("a part file's metadata").len();
            parts.entry(subtask).or_default().push((counter, size));
        }
        assert_eq!(parts.keys().copied().collect::<Vec<_>>(), (0..p).collect::<Vec<_>>(), "parallelism {p}: {names:?}");
        for (subtask, mut files) in parts {
            files.sort();
            let counters: Vec<u64> = files.iter().map(|(n, _)| *n).collect();
            assert_eq!(counters, (0..files.len() as u64).collect::<Vec<_>>(), "subtask {subtask} of {p}");
            let (last, full) = files.split_last().expect("at least one part");
            // A part rolls after the record that takes it to the maximum; records are < 20 bytes.
            assert!(full.iter().all(|(_, size)| (MAX..MAX + 20).contains(size)), "subtask {subtask} of {p}: {files:?}");
            assert!(last.1 > 0 && last.1 < MAX + 20, "subtask {subtask} of {p}: {files:?}");
        }
        assert_eq!(all_lines(dir.path()), sorted(input(2_000)), "parallelism {p}");
    }
}

#[test]
fn a_second_run_adds_parts_instead_of_overwriting() {
    let dir = tempfile::tempdir().expect("temporary directory");
    write(3, 1, FileSink::lines(dir.path()));
    write(3, 1, FileSink::lines(dir.path()));
    assert_eq!(file_names(dir.path()), vec!["part-0-0", "part-0-1"]);
    let twice = sorted(input(3).into_iter().chain(input(3)).collect());
    assert_eq!(all_lines(dir.path()), twice);
}

#[test]
fn a_subtask_without_records_writes_no_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    write(2, 4, FileSink::lines(dir.path()));
    assert_eq!(file_names(dir.path()).len(), 2);
    assert_eq!(all_lines(dir.path()), sorted(input(2)));
}

#[test]
fn write_as_text_writes_one_line_per_record() {
    for p in PARALLELISMS {
        let dir = tempfile::tempdir().expect("temporary directory");
        let env = StreamEnv::new();
        env.set_parallelism(p);
        env.add_source("Numbers", DataGenSource::new(Some(1_000), |i| i)).write_as_text(dir.path());
        env.execute("write as text").expect("the job succeeds");
        assert!(file_names(dir.path()).iter().all(|name| name.starts_with("part-")), "parallelism {p}");
        let expected = sorted((0..1_000u64).map(|i| i.to_string()).collect());
        assert_eq!(all_lines(dir.path()), expected, "parallelism {p}");
    }
}
