//! The resource manager: registered TaskManagers, their slots and heartbeats.
//!
//! A job needs one slot per parallel instance of its widest vertex (slot sharing: subtask `i`
//! of every vertex shares slot `i`). Slots are spread over the TaskManagers with the most free
//! slots first, so that a job uses as many TaskManagers as it can (Flink's
//! `cluster.evenly-spread-out-slots`).

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime};

use strom_runtime::cluster::ToTaskManager;
use tokio::sync::mpsc::UnboundedSender;

/// A registered TaskManager.
#[derive(Debug)]
pub(crate) struct TaskManager {
    pub(crate) id: String,
    pub(crate) host: String,
    pub(crate) pid: u32,
    pub(crate) slots: u32,
    /// Slots taken, per job.
    pub(crate) used: BTreeMap<String, u32>,
    pub(crate) last_heartbeat: Instant,
    pub(crate) last_heartbeat_ms: i64,
    pub(crate) registered_ms: i64,
    /// Its connection's session (a reconnect gets a new one).
    pub(crate) session: u64,
    pub(crate) tx: UnboundedSender<ToTaskManager>,
}

impl TaskManager {
    pub(crate) fn free(&self) -> u32 {
        self.slots.saturating_sub(self.used.values().sum())
    }
}

/// All TaskManagers.
#[derive(Debug, Default)]
pub(crate) struct Resources {
    pub(crate) tms: BTreeMap<String, TaskManager>,
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

impl Resources {
    pub(crate) fn total_slots(&self) -> u32 {
        self.tms.values().map(|t| t.slots).sum()
    }

    pub(crate) fn free_slots(&self) -> u32 {
        self.tms.values().map(TaskManager::free).sum()
    }

    /// Takes `n` slots for `job`, spread over the TaskManagers: returns the TaskManager of each
    /// slot, or `None` (taking nothing) when fewer than `n` are free.
    pub(crate) fn allocate(&mut self, job: &str, n: u32) -> Option<Vec<String>> {
        if self.free_slots() < n {
            return None;
        }
        let mut free: Vec<(String, u32)> = self.tms.values().map(|t| (t.id.clone(), t.free())).filter(|(_, f)| *f > 0).collect();
        let mut placement = Vec::with_capacity(n as usize);
        while placement.len() < n as usize {
            // Round-robin over TaskManagers, most free slots first.
            free.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let (id, left) = free.iter_mut().find(|(_, f)| *f > 0)?;
            *left -= 1;
            placement.push(id.clone());
        }
        for id in &placement {
            *self.tms.get_mut(id).expect("allocated from registered TaskManagers").used.entry(job.to_string()).or_default() += 1;
        }
        Some(placement)
    }

    /// Gives back every slot of `job`.
    pub(crate) fn release(&mut self, job: &str) {
        for tm in self.tms.values_mut() {
            tm.used.remove(job);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tm(id: &str, slots: u32) -> TaskManager {
        let (tx, _) = tokio::sync::mpsc::unbounded_channel();
        TaskManager {
            id: id.into(),
            host: "h".into(),
            pid: 1,
            slots,
            used: BTreeMap::new(),
            last_heartbeat: Instant::now(),
            last_heartbeat_ms: 0,
            registered_ms: 0,
            session: 0,
            tx,
        }
    }

    #[test]
    fn slots_spread_over_task_managers_and_are_released() {
        let mut r = Resources::default();
        r.tms.insert("a".into(), tm("a", 4));
        r.tms.insert("b".into(), tm("b", 4));
        let p = r.allocate("j1", 4).unwrap();
        assert_eq!(p.iter().filter(|t| *t == "a").count(), 2, "{p:?}");
        assert_eq!(p.iter().filter(|t| *t == "b").count(), 2, "{p:?}");
        assert_eq!(r.free_slots(), 4);
        assert!(r.allocate("j2", 5).is_none());
        assert_eq!(r.free_slots(), 4, "a failed allocation takes nothing");
        r.release("j1");
        assert_eq!(r.free_slots(), 8);
    }
}
