//! An idle chain rests: a leader with no transaction to include waits before
//! it builds, until one arrives or the genesis heartbeat has passed since its
//! parent's timestamp.
//!
//! [`Resting`] wraps the stateful actor's consensus application (what
//! marshal's `Deferred` calls to build and verify). The wait happens in the
//! propose task marshal spawns for the leader, before the build request
//! reaches the stateful actor: the actor keeps verifying and finalizing
//! blocks meanwhile, and consensus, which holds only the proposal's
//! receiver, keeps voting. Dropping the receiver (the view ended) cancels
//! the wait with the build.
//!
//! Liveness: simplex nullifies a view whose leader has not proposed within
//! the leader timeout. The wait ends at the heartbeat after the parent's
//! timestamp, and never later than `max_wait` after the request, which the
//! engine sets to at most half the leader timeout; so an honest leader always
//! proposes in time, and a view is never nullified for lack of transactions.

use crate::{
    block::{Block, BlockContext},
    shared::NodeShared,
};
use commonware_consensus::{
    Application as ConsensusApplication, Handoff, marshal::ancestry::Ancestry,
};
use commonware_cryptography::{Digested, Digestible};
use commonware_runtime::Clock;
use futures::{FutureExt as _, select_biased};
use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use tracing::debug;

/// The consensus application `A`, whose proposals wait while the chain is idle.
#[derive(Clone)]
pub struct Resting<A> {
    inner: A,
    shared: Arc<NodeShared>,
    /// Longest one proposal waits, whatever the heartbeat.
    max_wait: Duration,
}

impl<A> Resting<A> {
    /// Wraps `inner`; a proposal waits at most `max_wait` (keep it well
    /// inside the leader timeout).
    pub fn new(inner: A, shared: Arc<NodeShared>, max_wait: Duration) -> Self {
        Resting {
            inner,
            shared,
            max_wait,
        }
    }

    /// The proposer's pause for a block on `parent`.
    fn pause(&self) -> Pause {
        Pause {
            shared: self.shared.clone(),
            max_wait: self.max_wait,
        }
    }
}

/// What one proposal's wait needs (owned, so the wait holds no borrow of
/// the wrapped application).
struct Pause {
    shared: Arc<NodeShared>,
    max_wait: Duration,
}

impl Pause {
    /// Returns once a transaction waits for a block on `parent`, or at the
    /// heartbeat.
    async fn rest<E: Clock>(&self, clock: &E, parent: &Block) {
        let heartbeat = Duration::from_millis(self.shared.genesis.block.heartbeat_ms);
        let Some(deadline) = deadline(
            heartbeat,
            self.max_wait,
            parent.header.timestamp_ms,
            clock.current(),
        ) else {
            return;
        };
        let digest = parent.digest();
        let base_fee = parent.next_base_fee(&self.shared.genesis.fees);
        let pool = &self.shared.pool;
        let started = clock.current();
        select_biased! {
            _ = pool.wait_until(|p| p.has_ready_for(&digest, base_fee)).fuse() => {
                debug!(
                    height = parent.height_u64() + 1,
                    waited_ms = waited_ms(clock, started),
                    "transactions arrived, proposing"
                );
            },
            _ = clock.sleep_until(deadline).fuse() => {
                debug!(
                    height = parent.height_u64() + 1,
                    waited_ms = waited_ms(clock, started),
                    "heartbeat, proposing an empty block"
                );
            },
        }
    }
}

/// When an empty block on a parent stamped `parent_ms` is due, asked at
/// `now`: `heartbeat` after the parent, but never more than `max_wait` from
/// now (`None`: at once).
fn deadline(
    heartbeat: Duration,
    max_wait: Duration,
    parent_ms: u64,
    now: SystemTime,
) -> Option<SystemTime> {
    let wait = heartbeat.min(max_wait);
    if wait.is_zero() {
        return None;
    }
    let due = UNIX_EPOCH + Duration::from_millis(parent_ms) + heartbeat;
    let deadline = due.min(now + wait);
    (deadline > now).then_some(deadline)
}

fn waited_ms<E: Clock>(clock: &E, since: SystemTime) -> u64 {
    clock
        .current()
        .duration_since(since)
        .map_or(0, |d| d.as_millis() as u64)
}

impl<E, A> ConsensusApplication<E> for Resting<A>
where
    E: Clock + Send + Sync + 'static,
    A: ConsensusApplication<E, Context = BlockContext, Block = Block, Input = ()>,
{
    type SigningScheme = A::SigningScheme;
    type Context = BlockContext;
    type Block = Block;
    type Input = ();

    async fn prepare(
        &mut self,
        context: (E, BlockContext),
        ancestry: impl Ancestry<Block>,
        input: (),
    ) -> Handoff<Digested<Block>> {
        self.inner.prepare(context, ancestry, input).await
    }

    async fn propose(
        &mut self,
        context: (E, BlockContext),
        ancestry: impl Ancestry<Block>,
        input: (),
    ) -> Option<Digested<Block>> {
        // The ancestry starts with the parent, already fetched by marshal.
        if let Some(parent) = ancestry.peek() {
            let parent = parent.inner().clone();
            self.pause().rest(&context.0, &parent).await;
        }
        self.inner.propose(context, ancestry, input).await
    }

    async fn verify(&mut self, context: (E, BlockContext), ancestry: impl Ancestry<Block>) -> bool {
        self.inner.verify(context, ancestry).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn an_empty_block_is_due_a_heartbeat_after_its_parent() {
        // Asked 30 ms after the parent: due 970 ms later.
        assert_eq!(
            deadline(SECOND, SECOND, 10_000, at(10_030)),
            Some(at(11_000))
        );
        // Asked after the heartbeat passed (a slow round, the genesis parent
        // stamped 0): at once.
        assert_eq!(deadline(SECOND, SECOND, 10_000, at(11_000)), None);
        assert_eq!(deadline(SECOND, SECOND, 0, at(1_700_000_000_000)), None);
    }

    #[test]
    fn the_wait_stays_inside_the_leader_timeout_and_zero_never_waits() {
        // A parent stamped in the future (clock skew) cannot hold the leader
        // past max_wait.
        let max_wait = Duration::from_millis(400);
        assert_eq!(
            deadline(SECOND, max_wait, 20_000, at(10_000)),
            Some(at(10_400))
        );
        assert_eq!(deadline(Duration::ZERO, SECOND, 10_000, at(10_000)), None);
        assert_eq!(deadline(SECOND, Duration::ZERO, 10_000, at(10_000)), None);
    }
}
