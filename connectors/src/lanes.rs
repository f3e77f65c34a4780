//! Index sequences split over the subtasks of a generating source, and their state.
//!
//! [`DataGenSource`](crate::DataGenSource) and [`NexmarkSource`](crate::nexmark::NexmarkSource)
//! generate records as pure functions of an index. A fresh subtask `i` of `n` generates the
//! indices `i, i + n, i + 2n, ...`: one [`Lane`] `{ next: i, stride: n }`. Its read position is
//! the lane's `next`, so its state is its lanes.
//!
//! The state is union state, one entry per subtask holding its unfinished lanes (an empty
//! entry when it has none left), so that on restore every subtask sees every lane and all of
//! them compute the same assignment ([`assign`]): lanes ordered by stride and residue (at an
//! unchanged parallelism subtask `i` gets its own lane back), dealt round-robin. When there
//! are fewer lanes than subtasks, each lane is first split into as many lanes of a larger
//! stride as it takes for every subtask to get one (`{next, s}` into `{next + r*s, w*s}` for
//! `r < w`). The lanes always partition the indices not yet generated, so a restore at any
//! parallelism neither repeats nor skips an index. A subtask with several lanes generates
//! them merged in index order. With list state a subtask that gets no entry, which happens
//! whenever the parallelism grows, could not tell that from a start without state, and could
//! neither take over work nor fail clearly; union state avoids that.

use serde::{Deserialize, Serialize};
use strom_runtime::checkpoint::{OperatorRestore, OperatorSnapshot};
use strom_runtime::{Error, Result};

use crate::state::{decode_entries, encode_entry};

/// The indices `next, next + stride, next + 2 * stride, ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Lane {
    /// The next index to generate.
    pub(crate) next: u64,
    /// The distance between indices; at least 1.
    pub(crate) stride: u64,
}

impl Lane {
    /// The lane of a fresh subtask `subtask` of `parallelism`.
    pub(crate) fn fresh(subtask: u32, parallelism: u32) -> Self {
        Self { next: u64::from(subtask), stride: u64::from(parallelism.max(1)) }
    }

    /// The lane's residue class: `next % stride`.
    pub(crate) fn residue(self) -> u64 {
        self.next % self.stride
    }

    /// How many indices the lane has generated since its residue: `next / stride`.
    pub(crate) fn position(self) -> u64 {
        self.next / self.stride
    }

    /// The lane as `ways` lanes that together hold the same indices.
    fn split(self, ways: u64) -> Result<impl Iterator<Item = Lane>> {
        let stride = self.stride.checked_mul(ways).ok_or_else(|| too_fine(self.stride, ways))?;
        Ok((0..ways).filter_map(move |r| Some(Lane { next: self.next.checked_add(r.checked_mul(self.stride)?)?, stride })))
    }
}

fn too_fine(stride: u64, ways: u64) -> Error {
    Error::Usage(format!(
        "cannot resume the generating source: splitting its sequences (stride {stride}) {ways} ways overflows the index range; \
         restore it at a lower parallelism"
    ))
}

/// A subtask's lanes as its state: one union entry.
pub(crate) fn snapshot(lanes: impl IntoIterator<Item = Lane>, what: &str) -> Result<OperatorSnapshot> {
    let lanes: Vec<Lane> = lanes.into_iter().collect();
    let entry = encode_entry(&lanes).map_err(|e| Error::Serialization(format!("{what}: {e}")))?;
    Ok(OperatorSnapshot { union: vec![entry], ..OperatorSnapshot::default() })
}

/// The lanes of every subtask in a restored state, in their entries' order; `None` when the
/// state has no entry at all: the checkpoint holds no state for the source (every subtask of
/// a source that was checkpointed wrote one entry, empty if it had finished), which then
/// starts afresh.
pub(crate) fn restore(state: &OperatorRestore, what: &str) -> Result<Option<Vec<Lane>>> {
    if state.union.is_empty() && state.list.is_empty() {
        return Ok(None);
    }
    if !state.list.is_empty() {
        return Err(Error::Usage(format!(
            "cannot resume the {what}: the checkpoint holds list state for it, not the union state it writes \
             (is it another operator's state? give each operator a stable uid)"
        )));
    }
    let entries: Vec<Vec<Lane>> = decode_entries(&state.union, what)?;
    let lanes: Vec<Lane> = entries.into_iter().flatten().collect();
    if let Some(lane) = lanes.iter().find(|lane| lane.stride == 0) {
        return Err(Error::Serialization(format!("the {what} hold a sequence with stride 0 (next index {})", lane.next)));
    }
    Ok(Some(lanes))
}

/// The lanes subtask `subtask` of `parallelism` generates, out of all restored `lanes`.
pub(crate) fn assign(mut lanes: Vec<Lane>, subtask: u32, parallelism: u32) -> Result<Vec<Lane>> {
    let parallelism = u64::from(parallelism.max(1));
    let count = lanes.len() as u64;
    if count > 0 && count < parallelism {
        let ways = parallelism.div_ceil(count);
        let mut split = Vec::new();
        for lane in lanes {
            split.extend(lane.split(ways)?);
        }
        lanes = split;
    }
    lanes.sort_by_key(|lane| (lane.stride, lane.residue()));
    Ok(lanes.into_iter().skip(subtask as usize).step_by(parallelism as usize).collect())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The indices below `end` that `lanes` will generate, with repetitions.
    fn indices(lanes: &[Lane], end: u64) -> Vec<u64> {
        let mut all: Vec<u64> = lanes.iter().flat_map(|l| (l.next..end).step_by(l.stride as usize)).collect();
        all.sort();
        all
    }

    /// Restores `lanes` at `parallelism`; returns each subtask's lanes.
    fn redistribute(lanes: &[Lane], parallelism: u32) -> Vec<Vec<Lane>> {
        (0..parallelism).map(|s| assign(lanes.to_vec(), s, parallelism).expect("assignable")).collect()
    }

    #[test]
    fn an_unchanged_parallelism_gives_every_subtask_its_own_lane() {
        // Subtasks 0, 1 and 2 of 3 stopped at 9, 13 and 20.
        let lanes = vec![Lane { next: 13, stride: 3 }, Lane { next: 20, stride: 3 }, Lane { next: 9, stride: 3 }];
        assert_eq!(redistribute(&lanes, 3), vec![vec![lanes[2]], vec![lanes[0]], vec![lanes[1]]]);
    }

    #[test]
    fn any_parallelism_generates_every_remaining_index_once() {
        // Two subtasks stopped at different points: everything below 40 from 7 and 10 on.
        let lanes = vec![Lane { next: 10, stride: 2 }, Lane { next: 7, stride: 2 }];
        let expected: Vec<u64> = (7..200).filter(|i| *i >= 10 || i % 2 == 1).collect();
        for parallelism in 1..=7 {
            let by_subtask = redistribute(&lanes, parallelism);
            assert!(by_subtask.iter().all(|l| !l.is_empty()), "parallelism {parallelism}: {by_subtask:?}");
            let all: Vec<Lane> = by_subtask.concat();
            assert_eq!(indices(&all, 200), expected, "parallelism {parallelism}");
            // And again from there, as after a second restore.
            for again in 1..=5 {
                let twice: Vec<Lane> = redistribute(&all, again).concat();
                assert_eq!(indices(&twice, 200), expected, "parallelism {parallelism} then {again}");
            }
        }
    }

    #[test]
    fn lanes_round_trip_through_state() -> Result<()> {
        let a = snapshot([Lane::fresh(0, 2)], "test lanes")?;
        let b = snapshot([], "test lanes")?;
        let state = OperatorRestore { union: [a.union, b.union].concat(), ..OperatorRestore::default() };
        assert_eq!(restore(&state, "test lanes")?, Some(vec![Lane { next: 0, stride: 2 }]));
        assert_eq!(restore(&OperatorRestore::default(), "test lanes")?, None);
        let list = OperatorRestore { list: state.union, ..OperatorRestore::default() };
        assert!(restore(&list, "test lanes").unwrap_err().to_string().contains("list state"));
        let residues: BTreeSet<u64> = Lane { next: 5, stride: 3 }.split(4)?.map(|l| l.residue()).collect();
        assert_eq!(residues, BTreeSet::from([5, 8, 11, 2]));
        Ok(())
    }

    #[test]
    fn splitting_beyond_the_index_range_fails_clearly() {
        let error = assign(vec![Lane { next: 0, stride: u64::MAX / 2 }], 0, 4).unwrap_err().to_string();
        assert!(error.contains("restore it at a lower parallelism"), "{error}");
    }
}
