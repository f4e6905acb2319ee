//! What a validator checks of the L1 deposits a block carries: a proposer
//! carries the next finalized deposits its own [`L1View`] knows; a verifier
//! asks its own view for the same counts and accepts only equal answers.
//! A view that has not seen a deposit yet is asked again for a bounded time
//! (L1 views of honest validators lag each other by a few seconds), then the
//! block is refused: a validator never accepts a deposit it cannot see.

use commonware_runtime::Clock;
use lakh_types::modules::bridge::{L1Deposit, L1View, MAX_DEPOSITS_PER_BLOCK};
use std::{sync::Arc, time::Duration};

/// How long a verifier waits for its view to see the deposits a block carries.
pub const DEPOSIT_WAIT: Duration = Duration::from_secs(2);
/// How often it asks again meanwhile.
const DEPOSIT_POLL: Duration = Duration::from_millis(100);

/// The deposits a proposer carries: the finalized ones after
/// `deposit_count` (the count applied so far), as many as a block takes.
pub fn to_carry(view: Option<&Arc<dyn L1View>>, deposit_count: u64) -> Vec<L1Deposit> {
    let Some(view) = view else {
        return Vec::new();
    };
    let Some(first) = deposit_count.checked_add(1) else {
        return Vec::new();
    };
    let mut deposits = view.finalized_deposits(first, MAX_DEPOSITS_PER_BLOCK);
    deposits.truncate(MAX_DEPOSITS_PER_BLOCK);
    // Only the consecutive prefix from `first`: a view answers in count order,
    // but a proposer must not trust that with its block.
    let consecutive = deposits
        .iter()
        .zip(first..)
        .take_while(|(d, count)| d.count == *count)
        .count();
    deposits.truncate(consecutive);
    deposits
}

/// Why a block's deposits are refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DepositCheckError {
    /// This node has no L1 view (the chain has no bridge).
    #[error("the block carries {0} deposits but this chain has no bridge")]
    NoBridge(usize),
    /// The carried counts do not follow each other.
    #[error("carried deposit {index} has count {got}, expected {expected}")]
    NotConsecutive {
        index: usize,
        expected: u64,
        got: u64,
    },
    /// More than a block may carry.
    #[error("the block carries {0} deposits, more than {MAX_DEPOSITS_PER_BLOCK}")]
    TooMany(usize),
    /// The view answers something else for this count.
    #[error("carried deposit {count} differs from this node's L1 view")]
    Differs { count: u64 },
    /// The view had not seen this count by the deadline.
    #[error("this node's L1 view has not seen deposit {count} finalized after {waited:?}")]
    Unseen { count: u64, waited: Duration },
}

/// Checks `carried` against `view`: every deposit must equal the view's
/// answer for its count. Asks again every 100 ms while the view lags, up to
/// `wait`.
pub async fn check_carried(
    clock: &impl Clock,
    view: Option<&Arc<dyn L1View>>,
    carried: &[L1Deposit],
    wait: Duration,
) -> Result<(), DepositCheckError> {
    let Some(first) = carried.first() else {
        return Ok(());
    };
    let Some(view) = view else {
        return Err(DepositCheckError::NoBridge(carried.len()));
    };
    if carried.len() > MAX_DEPOSITS_PER_BLOCK {
        return Err(DepositCheckError::TooMany(carried.len()));
    }
    for (index, (d, expected)) in carried.iter().zip(first.count..).enumerate() {
        if d.count != expected {
            return Err(DepositCheckError::NotConsecutive {
                index,
                expected,
                got: d.count,
            });
        }
    }
    let started = clock.current();
    let mut seen = 0;
    loop {
        let answer = view.finalized_deposits(first.count + seen as u64, carried.len() - seen);
        for (got, want) in answer.iter().zip(&carried[seen..]) {
            if got != want {
                return Err(DepositCheckError::Differs { count: want.count });
            }
            seen += 1;
        }
        if seen == carried.len() {
            return Ok(());
        }
        let waited = clock
            .current()
            .duration_since(started)
            .unwrap_or(Duration::ZERO);
        if waited >= wait {
            return Err(DepositCheckError::Unseen {
                count: carried[seen].count,
                waited,
            });
        }
        clock.sleep(DEPOSIT_POLL).await;
    }
}

/// An [`L1View`] held in memory: what tests and devnets without an L1 use.
/// Deposits are added in count order; [`MemoryL1View::set_visible`] hides
/// the later ones, as a lagging L1 client would.
#[derive(Default)]
pub struct MemoryL1View {
    inner: std::sync::RwLock<(Vec<L1Deposit>, Option<usize>)>,
}

impl MemoryL1View {
    /// Appends `deposit` (its count must be the next).
    pub fn push(&self, deposit: L1Deposit) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.0.push(deposit);
    }

    /// Shows only the first `visible` deposits (`None`: all of them).
    pub fn set_visible(&self, visible: Option<usize>) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.1 = visible;
    }
}

impl L1View for MemoryL1View {
    fn finalized_deposits(&self, first_count: u64, max: usize) -> Vec<L1Deposit> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let visible = inner.1.unwrap_or(inner.0.len()).min(inner.0.len());
        inner.0[..visible]
            .iter()
            .filter(|d| d.count >= first_count)
            .take(max)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use commonware_runtime::{Runner as _, Spawner as _, Supervisor as _, deterministic};
    use lakh_types::Address;
    use lakh_types::committee::FixedBytes;

    fn d(count: u64) -> L1Deposit {
        L1Deposit {
            count,
            token: FixedBytes([0; 20]),
            l1_sender: FixedBytes([1; 20]),
            recipient: Address([2; 32]),
            amount: 10 * u128::from(count),
        }
    }

    #[test]
    fn a_lagging_view_is_waited_for_a_lying_block_is_refused() {
        deterministic::Runner::default().start(|context| async move {
            let memory = Arc::new(MemoryL1View::default());
            for c in 1..=3 {
                memory.push(d(c));
            }
            let view: Arc<dyn L1View> = memory.clone();
            assert_eq!(to_carry(Some(&view), 1), vec![d(2), d(3)]);
            assert!(to_carry(None, 0).is_empty());
            assert!(
                check_carried(&context, Some(&view), &[d(2), d(3)], DEPOSIT_WAIT)
                    .await
                    .is_ok()
            );
            let mut lie = d(3);
            lie.amount += 1;
            assert_eq!(
                check_carried(&context, Some(&view), &[d(2), lie], DEPOSIT_WAIT).await,
                Err(DepositCheckError::Differs { count: 3 })
            );
            assert_eq!(
                check_carried(&context, None, &[d(1)], DEPOSIT_WAIT).await,
                Err(DepositCheckError::NoBridge(1))
            );
            assert!(matches!(
                check_carried(&context, Some(&view), &[d(4)], DEPOSIT_WAIT).await,
                Err(DepositCheckError::Unseen { count: 4, .. })
            ));
            // The view catches up while the verifier waits.
            memory.set_visible(Some(1));
            let later = memory.clone();
            context.child("catch_up").spawn(move |ctx| async move {
                ctx.sleep(Duration::from_millis(500)).await;
                later.set_visible(None);
            });
            assert!(
                check_carried(&context, Some(&view), &[d(2), d(3)], DEPOSIT_WAIT)
                    .await
                    .is_ok()
            );
        });
    }
}
