//! The channel's books: what a registered state pays out, the invariant
//! `Σ payouts + locked == Σ deposits − Σ withdrawn` in u128, PayWord splits
//! and hash-lock outcomes.

use lakh_types::modules::channel::{Channel, ChannelState, Lock, Payword};

/// What custody holds for a channel not yet settled: `Σ deposits − Σ withdrawn`.
pub fn held(deposits: &[u128; 2], withdrawn: &[u128; 2]) -> Option<u128> {
    deposits[0]
        .checked_add(deposits[1])?
        .checked_sub(withdrawn[0].checked_add(withdrawn[1])?)
}

/// What settling `state` in a channel with these on-chain `deposits` pays
/// each participant: its balance plus its deposits the state has not seen.
/// `None` when the state counts deposits the chain does not have.
pub fn payouts(state: &ChannelState, deposits: &[u128; 2]) -> Option<[u128; 2]> {
    let mut out = [0; 2];
    for i in 0..2 {
        let unseen = deposits[i].checked_sub(state.deposits[i])?;
        out[i] = state.balances[i].checked_add(unseen)?;
    }
    Some(out)
}

/// Whether the channel's books balance: its registered state pays out
/// exactly what custody holds for it, less the locks.
pub fn books_balance(channel: &Channel) -> bool {
    let Some(paid) = payouts(&channel.state, &channel.deposits) else {
        return false;
    };
    let owed = paid[0]
        .checked_add(paid[1])
        .and_then(|p| p.checked_add(channel.state.locked));
    owed.is_some() && owed == held(&channel.deposits, &channel.withdrawn)
}

/// What a PayWord channel holds: `length × unit_amount`.
pub fn payword_deposit(terms: &Payword) -> Option<u128> {
    terms.unit_amount.checked_mul(u128::from(terms.length))
}

/// A PayWord claim of `depth` payments: (to the payee, back to the payer).
pub fn payword_split(terms: &Payword, depth: u32) -> Option<(u128, u128)> {
    let total = payword_deposit(terms)?;
    let paid = terms.unit_amount.checked_mul(u128::from(depth))?;
    Some((paid, total.checked_sub(paid)?))
}

/// What happens to a lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockOutcome {
    /// Its secret was revealed by its expiry: the payee is paid.
    Pay,
    /// It expired unrevealed: the payer gets it back.
    Refund,
    /// Unrevealed and not yet expired: a reveal could still pay it.
    Pending,
}

/// The fate of `lock` at `height`, its secret revealed at `revealed_height`.
pub fn lock_outcome(lock: &Lock, revealed_height: Option<u64>, height: u64) -> LockOutcome {
    match revealed_height {
        Some(at) if at <= lock.expiry_height => LockOutcome::Pay,
        _ if height > lock.expiry_height => LockOutcome::Refund,
        _ => LockOutcome::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakh_types::modules::shielded::FixedBytes;
    use proptest::prelude::*;

    fn state(deposits: [u128; 2], balances: [u128; 2], locked: u128) -> ChannelState {
        ChannelState {
            channel: FixedBytes([1; 32]),
            version: 1,
            deposits,
            withdrawn: [0; 2],
            balances,
            locked,
            locks_root: FixedBytes([0; 32]),
            is_final: false,
        }
    }

    #[test]
    fn unseen_deposits_go_back_to_their_depositor() {
        let s = state([100, 0], [60, 40], 0);
        assert_eq!(payouts(&s, &[100, 0]), Some([60, 40]));
        assert_eq!(payouts(&s, &[100, 25]), Some([60, 65]));
        assert_eq!(payouts(&s, &[99, 0]), None);
    }

    #[test]
    fn locks_pay_when_revealed_by_expiry_and_refund_after() {
        let lock = Lock {
            payer: 0,
            amount: 5,
            hash_lock: FixedBytes([2; 32]),
            expiry_height: 10,
        };
        assert_eq!(lock_outcome(&lock, Some(10), 50), LockOutcome::Pay);
        assert_eq!(lock_outcome(&lock, Some(11), 50), LockOutcome::Refund);
        assert_eq!(lock_outcome(&lock, None, 11), LockOutcome::Refund);
        assert_eq!(lock_outcome(&lock, None, 10), LockOutcome::Pending);
    }

    #[test]
    fn payword_splits_the_deposit() {
        let terms = Payword {
            root: FixedBytes([0; 32]),
            length: 10,
            unit_amount: 7,
        };
        assert_eq!(payword_split(&terms, 3), Some((21, 49)));
        assert_eq!(payword_split(&terms, 10), Some((70, 0)));
        assert_eq!(payword_split(&terms, 11), None);
    }

    proptest! {
        /// A balanced state in a channel whose deposits only grew since pays
        /// out exactly what custody holds, less the locks.
        #[test]
        fn balanced_states_pay_out_custody_exactly(
            seen in [0u128..1 << 100, 0u128..1 << 100],
            extra in [0u128..1 << 100, 0u128..1 << 100],
            share in 0u128..=1000,
            locked_share in 0u128..=1000,
        ) {
            let total = seen[0] + seen[1];
            let locked = total * locked_share / 1000 / 2;
            let a = (total - locked) * share / 1000;
            let s = state(seen, [a, total - locked - a], locked);
            prop_assert!(s.is_balanced());
            let deposits = [seen[0] + extra[0], seen[1] + extra[1]];
            let paid = payouts(&s, &deposits).unwrap();
            prop_assert_eq!(paid[0] + paid[1] + locked, held(&deposits, &[0, 0]).unwrap());
        }
    }
}
