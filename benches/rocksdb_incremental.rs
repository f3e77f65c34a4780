//! Incremental RocksDB checkpoints of a large state: a keyed job writes `STATE_BYTES` of
//! values (default 1 GiB: 100-byte incompressible values), waits until a checkpoint covers
//! them, then changes `CHANGED_PERCENT` (default 1) of the keys and waits for the next
//! checkpoint. Checkpoints are incremental (`state.backend.incremental: true`) every second.
//!
//! ```text
//! cargo bench -p strom-examples --bench rocksdb_incremental
//! STATE_BYTES=268435456 CHANGED_PERCENT=1 cargo bench -p strom-examples --bench rocksdb_incremental
//! ```
//!
//! Prints one line per checkpoint and then the two that matter:
//!
//! ```text
//! checkpoint=7 phase=after-load duration_ms=D state_bytes=S checkpointed_bytes=C
//! checkpoint=9 phase=after-change duration_ms=D state_bytes=S checkpointed_bytes=C changed_keys=N
//! ```

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use strom::connectors::BlackholeSink;
use strom::operators::{Collector, FnResult, KeyedContext, KeyedProcessFunction, OperatorContext, Source, SourceStatus};
use strom::state::ValueState;
use strom::{checkpoint::CheckpointId, Result, StreamEnv};

const VALUE_BYTES: usize = 100;
/// Records per poll of the source.
const BATCH: u64 = 1024;

/// What the source has done, shared with `main` (the source is cloned into the job).
#[derive(Debug, Default)]
struct Progress {
    /// Checkpoint id -> the phase the source was in when its barrier passed.
    phase_at: Vec<(u64, Phase)>,
    /// Completed checkpoints.
    completed: Vec<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Loading,
    Loaded,
    Changing,
    Changed,
}

#[derive(Clone)]
struct LoadThenChange {
    keys: u64,
    changes: u64,
    next: u64,
    phase: Phase,
    progress: Arc<Mutex<Progress>>,
}

impl LoadThenChange {
    /// Whether a checkpoint taken in `phase` has completed.
    fn covered(&self, phase: Phase) -> bool {
        let p = self.progress.lock().expect("progress lock");
        p.phase_at.iter().any(|(id, at)| *at == phase && p.completed.contains(id))
    }
}

impl Source for LoadThenChange {
    type Out = (u64, u64);

    fn poll_next(&mut self, out: &mut Collector<(u64, u64)>, _: &mut OperatorContext<'_>) -> Result<SourceStatus> {
        match self.phase {
            Phase::Loading => {
                let end = (self.next + BATCH).min(self.keys);
                for key in self.next..end {
                    out.collect((key, 0));
                }
                self.next = end;
                if end == self.keys {
                    self.phase = Phase::Loaded;
                }
                Ok(SourceStatus::MoreAvailable)
            }
            Phase::Loaded if self.covered(Phase::Loaded) => {
                self.phase = Phase::Changing;
                self.next = 0;
                Ok(SourceStatus::MoreAvailable)
            }
            Phase::Changing => {
                let end = (self.next + BATCH).min(self.changes);
                for i in self.next..end {
                    // Spread over the whole key space (a multiplicative hash of i).
                    out.collect((i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % self.keys, 1));
                }
                self.next = end;
                if end == self.changes {
                    self.phase = Phase::Changed;
                }
                Ok(SourceStatus::MoreAvailable)
            }
            Phase::Changed if self.covered(Phase::Changed) => Ok(SourceStatus::Finished),
            Phase::Loaded | Phase::Changed => Ok(SourceStatus::Wait(Duration::from_millis(20))),
        }
    }

    fn snapshot_state(&mut self, id: CheckpointId) -> Result<strom::checkpoint::OperatorSnapshot> {
        self.progress.lock().expect("progress lock").phase_at.push((id.0, self.phase));
        Ok(Default::default())
    }

    fn notify_checkpoint_complete(&mut self, id: CheckpointId) -> Result<()> {
        self.progress.lock().expect("progress lock").completed.push(id.0);
        Ok(())
    }
}

/// Stores a 100-byte value per key, derived from the key and its version.
#[derive(Clone)]
struct Store {
    value: ValueState<Vec<u8>>,
}

impl KeyedProcessFunction<u64, (u64, u64), ()> for Store {
    fn process_element(&mut self, (key, version): (u64, u64), ctx: &mut KeyedContext<'_, u64>, _: &mut Collector<()>) -> FnResult {
        let mut x = key.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ version.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut bytes = Vec::with_capacity(VALUE_BYTES);
        while bytes.len() < VALUE_BYTES {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            bytes.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        }
        bytes.truncate(VALUE_BYTES);
        self.value.update(ctx, bytes);
        Ok(())
    }
}

fn env_u64(name: &str, default: u64) -> std::result::Result<u64, String> {
    match std::env::var(name) {
        Ok(v) => v.parse().map_err(|e| format!("{name}={v}: {e}")),
        Err(_) => Ok(default),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rocksdb_incremental: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> std::result::Result<(), String> {
    let state_bytes = env_u64("STATE_BYTES", 1 << 30)?;
    let percent = env_u64("CHANGED_PERCENT", 1)?;
    let keys = state_bytes / VALUE_BYTES as u64;
    let changes = keys * percent / 100;
    let work = std::env::temp_dir().join(format!("strom-bench-incremental-{}", std::process::id()));
    let env = StreamEnv::new();
    env.set_parallelism(1);
    env.set_config("state.backend.type", "rocksdb")
        .set_config("state.backend.incremental", "true")
        .set_config("io.tmp.dirs", &work.join("local").display().to_string())
        .set_config("state.checkpoints.dir", &work.join("checkpoints").display().to_string())
        .set_config("execution.checkpointing.interval", "1 s");
    let progress = Arc::new(Mutex::new(Progress::default()));
    let source = LoadThenChange { keys, changes, next: 0, phase: Phase::Loading, progress: progress.clone() };
    eprintln!("loading {keys} keys ({state_bytes} bytes of values), then changing {changes} of them");
    env.add_source("load-then-change", source)
        .uid("source")
        .key_by(|r: &(u64, u64)| r.0)
        .process(Store { value: ValueState::new("value") })
        .uid("store")
        .sink(BlackholeSink::new())
        .uid("sink");
    let result = env.execute("rocksdb incremental checkpoints");
    let _ = std::fs::remove_dir_all(&work);
    let result = result.map_err(|e| e.report())?;
    let progress = progress.lock().expect("progress lock");
    let first_in =
        |phase: Phase| progress.phase_at.iter().find(|(id, at)| *at == phase && progress.completed.contains(id)).map(|(id, _)| *id);
    let (loaded, changed) = (first_in(Phase::Loaded), first_in(Phase::Changed));
    for c in result.checkpoints.iter().filter(|c| c.status == "COMPLETED") {
        let phase = match Some(c.id) {
            id if id == loaded => " phase=after-load",
            id if id == changed => " phase=after-change",
            _ => "",
        };
        let extra = if Some(c.id) == changed { format!(" changed_keys={changes}") } else { String::new() };
        println!(
            "checkpoint={}{phase} duration_ms={} state_bytes={} checkpointed_bytes={}{extra}",
            c.id, c.duration_ms, c.state_size, c.checkpointed_size
        );
    }
    Ok(())
}
