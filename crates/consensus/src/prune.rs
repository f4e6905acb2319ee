//! Pruning the state's history behind the finalized chain.
//!
//! QMDB appends every update to its operation log and keeps every operation
//! until it is pruned, so without pruning the state's files grow with every
//! block, empty or not. Lakh reads and proves only the current state, whose
//! operations all sit at or above the inactivity floor: what lies below a
//! durable block's floor is history nothing reads. The glue's own pruning
//! (`prune_config`) would prune marshal's archive of finalized blocks with
//! it, which a joining node replays from genesis (there is no state sync), so
//! the state is pruned here, alone.
//!
//! The target is the state of the block [`StateHistory::retained_blocks`]
//! below the newest finalized one. Marshal hands a block to the application
//! only once all but its last few (`max_pending_acks`) predecessors are
//! durable and recorded as processed, so that block's state is durable and a
//! restart, which reopens the state at the processed block, never reopens
//! below it. No speculative branch reads that far back either. QMDB removes
//! whole files, so a prune runs only once the target's floor has entered a
//! file the previous prune did not reach.

use crate::{
    app::Databases,
    metrics::{Stage, gauge_value},
    shared::NodeShared,
};
use commonware_cryptography::sha256;
use commonware_glue::stateful::db::DatabaseSet as _;
use commonware_runtime::{Spawner, Supervisor};
use commonware_storage::{Context as StorageContext, qmdb::sync::Target};
use lakh_state::db::{Family, StateIo};
use std::{
    collections::VecDeque,
    num::NonZeroU64,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};
use tracing::{info, warn};

/// A block's state: its root and the range of operations it covers.
pub type StateTarget = Target<Family, sha256::Digest>;

/// Fewest finalized blocks of state history kept: more than marshal's
/// pending acknowledgements (4), so the pruned-to block is always durable.
pub const MIN_RETAINED_BLOCKS: u64 = 8;

/// How the state database lays out its history and how much it keeps.
#[derive(Clone, Copy, Debug)]
pub struct StateHistory {
    /// Finalized blocks whose state history is kept below the newest one.
    pub retained_blocks: u64,
    /// Operations per file of the state's log and Merkle journal: pruning
    /// removes whole files. Fixed for the life of a data directory.
    pub items_per_section: NonZeroU64,
    /// Fewest finalized blocks between two prunes. Each prune holds the
    /// state's write lock while QMDB syncs (about 20 ms) and removes files
    /// (a few ms each), so under load one prune removes many files rather
    /// than one each; an idle chain fills a file only every few thousand
    /// blocks.
    pub prune_interval_blocks: u64,
    /// Whether the history is pruned at all: off keeps every operation, as
    /// before pruning existed (to measure what pruning costs).
    pub prune: bool,
}

impl Default for StateHistory {
    fn default() -> Self {
        StateHistory {
            retained_blocks: 32,
            items_per_section: StateIo::default().items_per_section,
            prune_interval_blocks: 64,
            prune: true,
        }
    }
}

impl StateHistory {
    /// The defaults, with `LAKH_STATE_PRUNE=off` (keep every operation) and
    /// `LAKH_STATE_PRUNE_INTERVAL_BLOCKS=N` read from the environment: the
    /// switches docs/PERFORMANCE.md measures pruning with.
    pub fn from_env() -> Self {
        let mut history = StateHistory::default();
        match std::env::var("LAKH_STATE_PRUNE").as_deref() {
            Ok("off") => history.prune = false,
            Ok("on") | Err(_) => {}
            Ok(other) => warn!(value = other, "LAKH_STATE_PRUNE is `on` or `off`; ignored"),
        }
        if let Ok(value) = std::env::var("LAKH_STATE_PRUNE_INTERVAL_BLOCKS") {
            match value.parse() {
                Ok(blocks) => history.prune_interval_blocks = blocks,
                Err(_) => warn!(
                    value,
                    "LAKH_STATE_PRUNE_INTERVAL_BLOCKS is not a block count; ignored"
                ),
            }
        }
        history
    }
}

/// Which finalized block's state to prune to, and when.
#[derive(Debug)]
pub struct PruneSchedule {
    history: StateHistory,
    /// Finalized blocks not yet `retained_blocks` below the newest, oldest
    /// first.
    recent: VecDeque<(u64, StateTarget)>,
    /// The file holding the floor the last prune was asked for.
    pruned_section: u64,
    /// When the last prune was asked for.
    pruned_height: Option<u64>,
}

impl PruneSchedule {
    pub fn new(history: StateHistory) -> Self {
        assert!(
            history.retained_blocks >= MIN_RETAINED_BLOCKS,
            "the state must keep at least {MIN_RETAINED_BLOCKS} blocks of history"
        );
        PruneSchedule {
            history,
            recent: VecDeque::new(),
            pruned_section: 0,
            pruned_height: None,
        }
    }

    /// Records finalized block `height`'s state; returns the state to prune
    /// to when one is due: its floor is in a file the last prune did not
    /// reach, and `prune_interval_blocks` have passed since it.
    pub fn observe(&mut self, height: u64, target: StateTarget) -> Option<StateTarget> {
        if !self.history.prune {
            return None;
        }
        self.recent.push_back((height, target));
        let mut due = None;
        while let Some((oldest, _)) = self.recent.front()
            && oldest + self.history.retained_blocks <= height
        {
            due = self.recent.pop_front().map(|(_, target)| target);
        }
        let target = due?;
        let section = target.range.start().as_u64() / self.history.items_per_section.get();
        let rested = self
            .pruned_height
            .is_none_or(|last| last + self.history.prune_interval_blocks <= height);
        if section <= self.pruned_section || !rested {
            return None;
        }
        self.pruned_section = section;
        self.pruned_height = Some(height);
        Some(target)
    }
}

/// Prunes a validator's state behind its finalized blocks.
pub struct StatePruner<E: StorageContext + Supervisor> {
    schedule: Mutex<PruneSchedule>,
    databases: Arc<OnceLock<Databases<E>>>,
    shared: Arc<NodeShared>,
    /// A prune is running: a due one is skipped, the next covers it.
    running: Arc<AtomicBool>,
}

impl<E: StorageContext + Supervisor + Spawner> StatePruner<E> {
    pub fn new(
        history: StateHistory,
        databases: Arc<OnceLock<Databases<E>>>,
        shared: Arc<NodeShared>,
    ) -> Self {
        StatePruner {
            schedule: Mutex::new(PruneSchedule::new(history)),
            databases,
            shared,
            running: Arc::default(),
        }
    }

    /// Block `height` was finalized and its state applied; prunes beside
    /// the chain when due.
    pub fn finalized(&self, context: &E, height: u64, target: StateTarget) {
        let due = self
            .schedule
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .observe(height, target);
        let (Some(target), Some(databases)) = (due, self.databases.get().cloned()) else {
            return;
        };
        if self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        let running = self.running.clone();
        let shared = self.shared.clone();
        context.child("state_prune").spawn(move |_| async move {
            let started = Instant::now();
            databases.prune(&target).await;
            let took = started.elapsed();
            let start = databases.read().await.bounds().start.as_u64();
            shared.metrics.time(Stage::PruneState, took);
            shared.metrics.state_log_start_ops.set(gauge_value(start));
            info!(
                floor = target.range.start().as_u64(),
                log_start = start,
                ms = took.as_millis() as u64,
                "pruned the state's history"
            );
            running.store(false, Ordering::Release);
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use commonware_storage::merkle::Location;
    use commonware_utils::non_empty_range;

    fn target(floor: u64) -> StateTarget {
        Target::new(
            sha256::Digest::from([floor as u8; 32]),
            non_empty_range!(Location::new(floor), Location::new(floor + 10)),
        )
    }

    fn schedule(retained_blocks: u64, items_per_section: u64) -> PruneSchedule {
        PruneSchedule::new(StateHistory {
            retained_blocks,
            items_per_section: NonZeroU64::new(items_per_section).unwrap(),
            prune_interval_blocks: 1,
            prune: true,
        })
    }

    #[test]
    fn a_history_kept_whole_is_never_pruned() {
        let mut s = PruneSchedule::new(StateHistory {
            prune: false,
            ..StateHistory::default()
        });
        let section = StateHistory::default().items_per_section.get();
        assert!((0..1_000).all(|h| s.observe(h, target(section * h)).is_none()));
        assert!(s.recent.is_empty());
    }

    #[test]
    fn prunes_to_the_block_retained_blocks_below_once_its_floor_enters_a_new_file() {
        let mut s = schedule(8, 100);
        // Floors 0, 30, 60, ...: block h's floor is 30 h.
        let due: Vec<(u64, u64)> = (0..40)
            .filter_map(|h| {
                s.observe(h, target(30 * h))
                    .map(|t| (h, t.range.start().as_u64()))
            })
            .collect();
        // Block 4 (floor 120) is the first in file 1, due at height 12;
        // block 7 (210) in file 2 at 15; then every third or fourth block.
        assert_eq!(
            due,
            vec![
                (12, 120),
                (15, 210),
                (18, 300),
                (22, 420),
                (25, 510),
                (28, 600),
                (32, 720),
                (35, 810),
                (38, 900),
            ]
        );
        assert!(s.recent.len() <= 8);
    }

    #[test]
    fn gaps_in_heights_prune_to_the_newest_block_old_enough() {
        let mut s = schedule(8, 100);
        assert!(s.observe(1, target(150)).is_none());
        assert!(s.observe(2, target(260)).is_none());
        // Both are old enough at 10: the newer one's floor is the target.
        let t = s.observe(10, target(400)).unwrap();
        assert_eq!(t.range.start().as_u64(), 260);
        assert!(s.observe(11, target(420)).is_none());
        // Blocks 10 and 11 become old enough together: 11's floor, file 4.
        let t = s.observe(19, target(480)).unwrap();
        assert_eq!(t.range.start().as_u64(), 420);
        // Block 19 is still in file 4: nothing new to remove.
        assert!(s.observe(27, target(700)).is_none());
    }

    #[test]
    fn prunes_at_most_once_per_interval_and_then_to_the_newest_floor() {
        let mut s = schedule(8, 100);
        s.history.prune_interval_blocks = 10;
        let due: Vec<(u64, u64)> = (0..40)
            .filter_map(|h| {
                s.observe(h, target(30 * h))
                    .map(|t| (h, t.range.start().as_u64()))
            })
            .collect();
        // As in the test above, but each prune waits ten blocks after the
        // last: by then the floor has moved several files on.
        assert_eq!(due, vec![(12, 120), (22, 420), (32, 720)]);
    }

    #[test]
    #[should_panic(expected = "at least 8 blocks")]
    fn too_short_a_history_is_refused() {
        schedule(4, 100);
    }
}
