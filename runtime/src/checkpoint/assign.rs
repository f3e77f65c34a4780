//! Redistribution of an operator's state to its subtasks on restore, by Flink's rules, so that
//! a job can restore at another parallelism than it had:
//! - keyed state moves by whole key groups: the new subtask `i` of `p` owns
//!   `KeyGroupRange::for_subtask(max_parallelism, p, i)` and reads those key groups from every
//!   old state file that holds some of them, and only those;
//! - operator list state: the entries of all old subtasks, in subtask order, are split into
//!   `p` contiguous parts whose sizes differ by at most one, earlier subtasks taking the extra
//!   entries (Flink's round-robin repartitioner). At unchanged parallelism every subtask keeps
//!   its own entries, as in Flink;
//! - operator union state: every subtask gets the entries of all old subtasks.

use std::path::Path;

use super::{CheckpointMetadata, CheckpointStorage, NativeRestore, OperatorRestore, OperatorState, SubtaskState};
use crate::error::{Error, Result};
use crate::state::KeyGroupRange;

/// The state subtask `subtask` of `parallelism` restores from operator `op` of the
/// checkpoint (or savepoint) in `dir`.
///
/// Fails when `op` has keyed state and `parallelism` exceeds its max parallelism, and when a
/// state file is missing or corrupt.
///
/// ```
/// use strom_runtime::checkpoint::{assign_state, CheckpointStorage, OperatorSnapshot, OperatorState, SubtaskState};
///
/// // Two subtasks, each with one list entry and one union entry, restored at parallelism 1.
/// let dir = tempfile::tempdir()?;
/// let mut subtasks = Vec::new();
/// for i in 0..2u32 {
///     let snapshot = OperatorSnapshot { list: vec![vec![i as u8]], union: vec![vec![10 + i as u8]], ..Default::default() };
///     let file = CheckpointStorage::write_subtask_state(dir.path(), "source", i, &snapshot)?;
///     subtasks.push(SubtaskState { subtask: i, key_groups: (i * 64, i * 64 + 63), file });
/// }
/// let op = OperatorState { uid: "source".into(), name: "Source".into(), parallelism: 2, max_parallelism: 128, subtasks };
/// let restore = assign_state(&op, dir.path(), 1, 0)?;
/// assert_eq!(restore.list, [vec![0], vec![1]]);
/// assert_eq!(restore.union, [vec![10], vec![11]]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn assign_state(op: &OperatorState, dir: &Path, parallelism: u32, subtask: u32) -> Result<OperatorRestore> {
    if subtask >= parallelism {
        return Err(Error::Internal(format!("restoring subtask {subtask} of parallelism {parallelism} of operator {}", op.uid)));
    }
    let mut old: Vec<&SubtaskState> = op.subtasks.iter().collect();
    old.sort_by_key(|s| s.subtask);
    let key_groups = owned_key_groups(op, dir, parallelism, subtask)?;
    let mut restore = OperatorRestore::default();
    let mut lists = Vec::with_capacity(old.len());
    for state in old {
        let Some(handle) = &state.file else {
            lists.push((state.subtask, Vec::new()));
            continue;
        };
        if let (Some(native), Some(range)) = (&handle.native, key_groups) {
            let old = state.key_group_range();
            if old.start <= range.end && range.start <= old.end {
                restore.native.push(NativeRestore { dir: dir.to_path_buf(), handle: native.clone(), key_groups: old });
            }
        }
        let snapshot = CheckpointStorage::read_subtask_state(dir, handle, key_groups)?;
        for (kg, block) in snapshot.keyed {
            if restore.keyed.insert(kg, block).is_some() {
                return Err(Error::CorruptCheckpoint {
                    path: dir.join(&handle.file),
                    problem: format!("key group {kg} of operator {} is also in the state of another subtask", op.uid),
                });
            }
        }
        lists.push((state.subtask, snapshot.list));
        restore.union.extend(snapshot.union);
    }
    restore.list = list_share(lists, op.parallelism, parallelism, subtask);
    Ok(restore)
}

/// The uids of the operators with state in `metadata` that are not among `uids` (the job's):
/// state that would not be restored.
///
/// ```
/// use strom_runtime::checkpoint::{unmatched_operators, CheckpointId, CheckpointMetadata};
/// let metadata = CheckpointMetadata { job_id: "job".into(), checkpoint_id: CheckpointId(1), timestamp: 0, savepoint: true, operators: vec![] };
/// assert!(unmatched_operators(&metadata, &["source", "count"]).is_empty());
/// ```
pub fn unmatched_operators(metadata: &CheckpointMetadata, uids: &[&str]) -> Vec<String> {
    metadata
        .operators
        .iter()
        .filter(|op| op.subtasks.iter().any(|s| s.file.is_some()) && !uids.contains(&op.uid.as_str()))
        .map(|op| op.uid.clone())
        .collect()
}

/// The key groups the new subtask owns, or `None` when `op` has no keyed state. Checks that
/// the parallelism fits the max parallelism and that every stored key group exists.
fn owned_key_groups(op: &OperatorState, dir: &Path, parallelism: u32, subtask: u32) -> Result<Option<KeyGroupRange>> {
    let files = || op.subtasks.iter().filter_map(|s| s.file.as_ref());
    let native = op.subtasks.iter().filter(|s| s.file.as_ref().is_some_and(|f| f.native.is_some())).map(|s| s.key_groups.1).max();
    let Some(max_stored) = files().flat_map(|f| f.key_groups.iter().map(|&(kg, ..)| kg)).chain(native).max() else {
        return Ok(None);
    };
    if parallelism > op.max_parallelism {
        return Err(Error::Graph(format!(
            "operator '{}' (uid {}) has keyed state with max parallelism {}, so it cannot be restored at parallelism {parallelism}: \
             at most {} is possible",
            op.name, op.uid, op.max_parallelism, op.max_parallelism
        )));
    }
    if max_stored >= op.max_parallelism {
        return Err(Error::CorruptCheckpoint {
            path: dir.join("_metadata"),
            problem: format!("operator {} has state in key group {max_stored} but max parallelism {}", op.uid, op.max_parallelism),
        });
    }
    Ok(Some(KeyGroupRange::for_subtask(op.max_parallelism, parallelism, subtask)))
}

/// The new subtask's list entries, from the old subtasks' `(subtask, entries)` in order.
fn list_share(lists: Vec<(u32, Vec<Vec<u8>>)>, old_parallelism: u32, parallelism: u32, subtask: u32) -> Vec<Vec<u8>> {
    if parallelism == old_parallelism {
        return lists.into_iter().find(|(old, _)| *old == subtask).map(|(_, entries)| entries).unwrap_or_default();
    }
    let all: Vec<Vec<u8>> = lists.into_iter().flat_map(|(_, entries)| entries).collect();
    let (start, len) = share(all.len(), parallelism, subtask);
    all.into_iter().skip(start).take(len).collect()
}

/// Where part `index` of `parts` contiguous parts of `total` items starts and how long it is:
/// sizes differ by at most one and the first `total % parts` parts are the longer ones.
fn share(total: usize, parts: u32, index: u32) -> (usize, usize) {
    let (parts, index) = (parts as usize, index as usize);
    let (base, extra) = (total / parts, total % parts);
    (index * base + index.min(extra), base + usize::from(index < extra))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::checkpoint::{CheckpointId, OperatorSnapshot};
    use crate::state::KeyGroup;

    /// Writes one state file per old subtask into `dir`; keyed state is taken from `keyed` by
    /// the subtask's key-group range.
    fn write_operator(
        dir: &Path,
        max_parallelism: u32,
        keyed: &BTreeMap<u32, Vec<u8>>,
        lists: &[Vec<Vec<u8>>],
        union: &[Vec<Vec<u8>>],
    ) -> OperatorState {
        let parallelism = lists.len() as u32;
        let subtasks = (0..parallelism)
            .map(|i| {
                let range = KeyGroupRange::for_subtask(max_parallelism, parallelism, i);
                let snapshot = OperatorSnapshot {
                    keyed: keyed.iter().filter(|(kg, _)| range.contains(KeyGroup(**kg))).map(|(kg, v)| (*kg, v.clone())).collect(),
                    list: lists[i as usize].clone(),
                    union: union[i as usize].clone(),
                    native: None,
                };
                let file = CheckpointStorage::write_subtask_state(dir, "count", i, &snapshot).expect("written");
                SubtaskState { subtask: i, key_groups: (range.start, range.end), file }
            })
            .collect();
        OperatorState { uid: "count".into(), name: "Count".into(), parallelism, max_parallelism, subtasks }
    }

    fn entries(names: &[&str]) -> Vec<Vec<u8>> {
        names.iter().map(|n| n.as_bytes().to_vec()).collect()
    }

    fn restore_all(op: &OperatorState, dir: &Path, parallelism: u32) -> Vec<OperatorRestore> {
        (0..parallelism).map(|i| assign_state(op, dir, parallelism, i).expect("assigned")).collect()
    }

    /// Keyed state in most, not all, key groups of `0..max_parallelism`.
    fn keyed_state(max_parallelism: u32) -> BTreeMap<u32, Vec<u8>> {
        (0..max_parallelism).filter(|kg| kg % 7 != 3).map(|kg| (kg, format!("state of key group {kg}").into_bytes())).collect()
    }

    #[test]
    fn keyed_state_is_redistributed_by_key_group() {
        for (max_parallelism, old, new) in [(16, 2, 1), (16, 2, 4), (16, 3, 2), (10, 3, 7), (128, 4, 3), (10, 1, 10)] {
            let dir = tempfile::tempdir().unwrap();
            let keyed = keyed_state(max_parallelism);
            let empty = vec![Vec::new(); old];
            let op = write_operator(dir.path(), max_parallelism, &keyed, &empty, &empty);
            let restored = restore_all(&op, dir.path(), new);
            let mut union = BTreeMap::new();
            for (i, restore) in restored.into_iter().enumerate() {
                // Exactly the key groups Flink's assignment gives this subtask, so each key
                // group lands in exactly one subtask.
                let owned: BTreeMap<u32, Vec<u8>> = keyed
                    .iter()
                    .filter(|(kg, _)| KeyGroup(**kg).subtask(max_parallelism, new) == i as u32)
                    .map(|(k, v)| (*k, v.clone()))
                    .collect();
                assert_eq!(
                    restore,
                    OperatorRestore { keyed: owned.clone(), ..Default::default() },
                    "m={max_parallelism} {old}->{new} subtask {i}"
                );
                union.extend(owned);
            }
            assert_eq!(union, keyed, "m={max_parallelism} {old}->{new}");
        }
    }

    #[test]
    fn list_state_is_split_evenly_in_subtask_order() {
        let dir = tempfile::tempdir().unwrap();
        let lists = [entries(&["a", "b"]), entries(&[]), entries(&["c", "d", "e", "f", "g"])];
        let op = write_operator(dir.path(), 128, &BTreeMap::new(), &lists, &[vec![], vec![], vec![]]);
        let lists_at = |p| restore_all(&op, dir.path(), p).into_iter().map(|r| r.list).collect::<Vec<_>>();
        assert_eq!(lists_at(1), [entries(&["a", "b", "c", "d", "e", "f", "g"])]);
        assert_eq!(lists_at(2), [entries(&["a", "b", "c", "d"]), entries(&["e", "f", "g"])]);
        assert_eq!(lists_at(4), [entries(&["a", "b"]), entries(&["c", "d"]), entries(&["e", "f"]), entries(&["g"])]);
        assert_eq!(lists_at(9), [&["a"][..], &["b"], &["c"], &["d"], &["e"], &["f"], &["g"], &[], &[]].map(entries));
        // At the same parallelism every subtask keeps its own entries (Flink does not
        // repartition then).
        assert_eq!(lists_at(3), lists);
    }

    #[test]
    fn split_sizes_differ_by_at_most_one_and_cover_everything() {
        for total in 0..20 {
            for parts in 1..8 {
                let shares: Vec<_> = (0..parts).map(|i| share(total, parts, i)).collect();
                let mut next = 0;
                for (i, &(start, len)) in shares.iter().enumerate() {
                    assert_eq!(start, next);
                    let expected = total / parts as usize + usize::from(i < total % parts as usize);
                    assert_eq!(len, expected, "total={total} parts={parts} i={i}");
                    next += len;
                }
                assert_eq!(next, total);
            }
        }
    }

    #[test]
    fn union_state_goes_to_every_subtask() {
        let dir = tempfile::tempdir().unwrap();
        let union = [entries(&["w0", "x0"]), entries(&["w1"])];
        let op = write_operator(dir.path(), 128, &BTreeMap::new(), &[vec![], vec![]], &union);
        for p in [1, 2, 3] {
            let expected = OperatorRestore { union: entries(&["w0", "x0", "w1"]), ..Default::default() };
            assert_eq!(restore_all(&op, dir.path(), p), vec![expected; p as usize]);
        }
    }

    #[test]
    fn all_kinds_together_with_a_subtask_without_state() {
        let dir = tempfile::tempdir().unwrap();
        let keyed: BTreeMap<u32, Vec<u8>> = [(1, b"one".to_vec()), (9, b"nine".to_vec())].into_iter().collect();
        let mut op = write_operator(dir.path(), 16, &keyed, &[entries(&["l0"]), entries(&["l1"])], &[entries(&["u0"]), vec![]]);
        let extra = CheckpointStorage::write_subtask_state(dir.path(), "count", 2, &OperatorSnapshot::default()).unwrap();
        op.subtasks.insert(0, SubtaskState { subtask: 2, key_groups: (16, 15), file: extra });
        op.parallelism = 3;
        let restored = restore_all(&op, dir.path(), 2);
        let expected = [
            OperatorRestore {
                keyed: [(1, b"one".to_vec())].into_iter().collect(),
                list: entries(&["l0"]),
                union: entries(&["u0"]),
                native: vec![],
            },
            OperatorRestore {
                keyed: [(9, b"nine".to_vec())].into_iter().collect(),
                list: entries(&["l1"]),
                union: entries(&["u0"]),
                native: vec![],
            },
        ];
        assert_eq!(restored, expected);
    }

    #[test]
    fn parallelism_above_max_parallelism_is_an_error_only_with_keyed_state() {
        let dir = tempfile::tempdir().unwrap();
        let keyed = keyed_state(4);
        let op = write_operator(dir.path(), 4, &keyed, &[vec![], vec![]], &[vec![], vec![]]);
        let e = assign_state(&op, dir.path(), 5, 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid job graph: operator 'Count' (uid count) has keyed state with max parallelism 4, so it cannot be restored at parallelism 5: \
             at most 4 is possible"
        );
        assert_eq!(e.fault(), crate::Fault::User);

        let other = tempfile::tempdir().unwrap();
        let op = write_operator(other.path(), 4, &BTreeMap::new(), &[entries(&["a"])], &[vec![]]);
        let lists: Vec<_> = restore_all(&op, other.path(), 5).into_iter().map(|r| r.list).collect();
        assert_eq!(lists, [entries(&["a"]), vec![], vec![], vec![], vec![]]);
    }

    #[test]
    fn a_corrupt_state_file_fails_the_restore() {
        let dir = tempfile::tempdir().unwrap();
        let op = write_operator(dir.path(), 16, &keyed_state(16), &[vec![], vec![]], &[vec![], vec![]]);
        let path = dir.path().join("count-1.state");
        std::fs::remove_file(&path).unwrap();
        let e = assign_state(&op, dir.path(), 1, 0).unwrap_err();
        assert_eq!(e.to_string(), format!("{}: missing (the checkpoint's _metadata references it)", path.display()));
    }

    #[test]
    fn unmatched_operators_are_those_with_state_missing_from_the_job() {
        let dir = tempfile::tempdir().unwrap();
        let with_state = |uid: &str| OperatorState {
            uid: uid.into(),
            ..write_operator(dir.path(), 16, &BTreeMap::new(), &[entries(&[uid])], &[vec![]])
        };
        let stateless = OperatorState {
            uid: "map".into(),
            name: "Map".into(),
            parallelism: 1,
            max_parallelism: 16,
            subtasks: vec![SubtaskState { subtask: 0, key_groups: (0, 15), file: None }],
        };
        let metadata = CheckpointMetadata {
            job_id: "job".into(),
            checkpoint_id: CheckpointId(1),
            timestamp: 0,
            savepoint: true,
            operators: vec![with_state("source"), stateless, with_state("count"), with_state("sink")],
        };
        assert_eq!(unmatched_operators(&metadata, &["source", "window"]), ["count", "sink"]);
        assert_eq!(unmatched_operators(&metadata, &["source", "count", "sink"]), Vec::<String>::new());
    }
}
