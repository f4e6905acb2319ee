//! Hash-locked payments routed through an intermediary: the expiry rule,
//! invoices, and the states that add or remove a lock.
//!
//! A lock's state is the base state with the lock's amount moved from its
//! payer's balance to `locked` and `locks_root` committing to the new list
//! ([`lakh_types::modules::channel::locks_root`], the module's own root), so
//! every state a node co-signs with locks is valid on chain and its `unlock`
//! pays each lock as the module decides.

use crate::wire::{sign, verify};
use lakh_types::modules::channel::{
    ChannelState, Hash32, Lock, MAX_LOCKS, Sig64, hash32, locks_root,
};
use lakh_types::{Address, PrivateKey};

/// Blocks between a hop's lock expiry and the expiry of the lock it is paid
/// by: the time an intermediary that learns the secret at its outgoing
/// lock's expiry has to get its incoming lock paid (off chain, or by
/// revealing the secret on chain). Expiries fall by this much per hop.
pub const EXPIRY_DELTA_BLOCKS: u64 = 144;
/// The floor: a node takes (or forwards) a lock only if its expiry is at
/// least this many blocks ahead, enough to reveal its secret on chain
/// (Lightning's lowest `cltv_expiry_delta`).
pub const MIN_EXPIRY_BLOCKS: u64 = 34;
/// How long before a lock's expiry a payee that holds its secret and is
/// still unpaid off chain reveals it on chain and closes the channel.
pub const REVEAL_MARGIN_BLOCKS: u64 = MIN_EXPIRY_BLOCKS / 2;
/// Invoices (secrets waiting for their lock) a node keeps at once.
pub const MAX_OPEN_INVOICES: usize = 1_024;
/// Namespace of invoice signatures: the payee's word that it made the hash.
pub const INVOICE_NAMESPACE: &[u8] = b"lakh/channel/invoice/v1";

/// Refusal codes of routed payments.
pub mod codes {
    /// The intermediary has no open, connected channel with the payee.
    pub const UNKNOWN_HOP: &str = "unknown_hop";
    /// A hop's balance does not cover the amount.
    pub const INSUFFICIENT: &str = "insufficient";
    /// A lock expires too soon to be safe (see [`super::MIN_EXPIRY_BLOCKS`]).
    pub const EXPIRY_TOO_CLOSE: &str = "expiry_too_close";
    /// The hash is already locked (a hash pays once).
    pub const DUPLICATE_HASH: &str = "duplicate_hash";
    /// The lock's amount is above its payer's balance.
    pub const LOCKS_ABOVE_BALANCE: &str = "locks_above_balance";
    /// The state already holds the most locks a state may.
    pub const TOO_MANY_LOCKS: &str = "too_many_locks";
    /// A payee asked to take a lock for a hash it did not make.
    pub const UNKNOWN_HASH: &str = "unknown_hash";
    /// A refund of a lock that is neither expired nor failed, or whose secret is known.
    pub const NOT_REFUNDABLE: &str = "not_refundable";
    /// An invoice not signed by the payee, or not for this payment.
    pub const BAD_INVOICE: &str = "bad_invoice";
}

lakh_types::codec_struct! {
    /// The payee's signed promise that `hash_lock` is its secret's hash, for
    /// `amount` from `payer`: the secret is then a receipt.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Invoice {
        pub hash_lock: Hash32,
        pub amount: u128,
        pub payer: Address,
        pub payee: Address,
        /// The payee's signature under [`INVOICE_NAMESPACE`].
        pub signature: Sig64,
    }
}

impl Invoice {
    fn message(hash_lock: &Hash32, amount: u128, payer: &Address, payee: &Address) -> Vec<u8> {
        let mut m = Vec::with_capacity(112);
        m.extend_from_slice(&hash_lock.0);
        m.extend_from_slice(&amount.to_be_bytes());
        m.extend_from_slice(payer.as_bytes());
        m.extend_from_slice(payee.as_bytes());
        m
    }

    /// A fresh secret and the invoice for it, signed by `key` (the payee).
    pub fn create(key: &PrivateKey, amount: u128, payer: Address) -> (Hash32, Invoice) {
        use commonware_cryptography::Signer;
        let mut secret = [0u8; 32];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut secret);
        let secret = lakh_types::modules::shielded::FixedBytes(secret);
        let payee = Address::from(&key.public_key());
        let hash_lock = hash32(&secret);
        let signature = sign(
            key,
            INVOICE_NAMESPACE,
            &Invoice::message(&hash_lock, amount, &payer, &payee),
        );
        let invoice = Invoice {
            hash_lock,
            amount,
            payer,
            payee,
            signature,
        };
        (secret, invoice)
    }

    /// Whether the payee signed it for this payment.
    pub fn is_for(&self, amount: u128, payer: &Address, payee: &Address) -> bool {
        self.amount == amount
            && self.payer == *payer
            && self.payee == *payee
            && verify(
                payee,
                INVOICE_NAMESPACE,
                &Invoice::message(&self.hash_lock, amount, payer, payee),
                &self.signature,
            )
    }
}

/// Why a lock change cannot apply to a state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockRefusal {
    AboveBalance,
    TooMany,
    Duplicate,
    Unknown,
}

impl LockRefusal {
    /// Its stable code.
    pub fn code(self) -> &'static str {
        match self {
            LockRefusal::AboveBalance => codes::LOCKS_ABOVE_BALANCE,
            LockRefusal::TooMany => codes::TOO_MANY_LOCKS,
            LockRefusal::Duplicate => codes::DUPLICATE_HASH,
            LockRefusal::Unknown => codes::UNKNOWN_HASH,
        }
    }
}

/// `base` (holding `locks`) with `lock` added, and the new lock list.
pub fn with_lock(
    base: &ChannelState,
    locks: &[Lock],
    lock: &Lock,
) -> Result<(ChannelState, Vec<Lock>), LockRefusal> {
    let payer = usize::from(lock.payer);
    if payer > 1 || lock.amount == 0 {
        return Err(LockRefusal::Unknown);
    }
    if locks.iter().any(|l| l.hash_lock == lock.hash_lock) {
        return Err(LockRefusal::Duplicate);
    }
    if locks.len() >= MAX_LOCKS {
        return Err(LockRefusal::TooMany);
    }
    let mut state = base.clone();
    state.balances[payer] = state.balances[payer]
        .checked_sub(lock.amount)
        .ok_or(LockRefusal::AboveBalance)?;
    state.locked = state
        .locked
        .checked_add(lock.amount)
        .ok_or(LockRefusal::AboveBalance)?;
    let mut all = locks.to_vec();
    all.push(lock.clone());
    state.locks_root = locks_root(&state.channel, &all);
    Ok((state, all))
}

/// `base` with the lock of `hash_lock` removed: paid to its payee (`paid`)
/// or back to its payer; and the new lock list.
pub fn without_lock(
    base: &ChannelState,
    locks: &[Lock],
    hash_lock: &Hash32,
    paid: bool,
) -> Result<(ChannelState, Vec<Lock>), LockRefusal> {
    let at = locks
        .iter()
        .position(|l| l.hash_lock == *hash_lock)
        .ok_or(LockRefusal::Unknown)?;
    let lock = &locks[at];
    let payer = usize::from(lock.payer).min(1);
    let to = if paid { 1 - payer } else { payer };
    let mut state = base.clone();
    state.locked = state
        .locked
        .checked_sub(lock.amount)
        .ok_or(LockRefusal::Unknown)?;
    state.balances[to] = state.balances[to]
        .checked_add(lock.amount)
        .ok_or(LockRefusal::Unknown)?;
    let mut all = locks.to_vec();
    all.remove(at);
    state.locks_root = locks_root(&state.channel, &all);
    Ok((state, all))
}

/// Whether `locks` are the ones `state` commits to.
pub fn locks_match(state: &ChannelState, locks: &[Lock]) -> bool {
    let total = locks
        .iter()
        .try_fold(0u128, |sum, l| sum.checked_add(l.amount));
    total == Some(state.locked) && locks_root(&state.channel, locks) == state.locks_root
}

/// The expiry of the lock an intermediary forwards, given the one it is
/// paid by, at `height`: `None` when it would be closer than the floor.
pub fn forward_expiry(incoming_expiry: u64, height: u64) -> Option<u64> {
    incoming_expiry
        .checked_sub(EXPIRY_DELTA_BLOCKS)
        .filter(|e| *e >= height.saturating_add(MIN_EXPIRY_BLOCKS))
}

/// The expiry a payer gives its lock at `height` when `hops` intermediaries
/// forward it: the payee's lock keeps a full delta above the floor.
pub fn first_expiry(height: u64, hops: u64) -> u64 {
    height
        .saturating_add(MIN_EXPIRY_BLOCKS)
        .saturating_add(EXPIRY_DELTA_BLOCKS.saturating_mul(hops + 1))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use lakh_types::modules::shielded::FixedBytes;

    fn lock(hash: u8, amount: u128, payer: u8) -> Lock {
        Lock {
            payer,
            amount,
            hash_lock: FixedBytes([hash; 32]),
            expiry_height: 500,
        }
    }

    #[test]
    fn locks_add_and_remove_keeping_the_books() {
        let base = ChannelState::opening(FixedBytes([1; 32]), 0, 100);
        let (s1, l1) = with_lock(&base, &[], &lock(7, 30, 0)).unwrap();
        assert_eq!((s1.balances, s1.locked), ([70, 0], 30));
        assert!(s1.is_balanced() && locks_match(&s1, &l1));
        assert_eq!(
            with_lock(&s1, &l1, &lock(7, 1, 0)),
            Err(LockRefusal::Duplicate)
        );
        assert_eq!(
            with_lock(&s1, &l1, &lock(8, 71, 0)),
            Err(LockRefusal::AboveBalance)
        );
        let (paid, l2) = without_lock(&s1, &l1, &FixedBytes([7; 32]), true).unwrap();
        assert_eq!((paid.balances, paid.locked, l2.len()), ([70, 30], 0, 0));
        assert_eq!(paid.locks_root, FixedBytes([0; 32]));
        let (refunded, _) = without_lock(&s1, &l1, &FixedBytes([7; 32]), false).unwrap();
        assert_eq!(refunded.balances, [100, 0]);
        let mut full = (base.clone(), Vec::new());
        for h in 0..MAX_LOCKS as u8 {
            full = with_lock(&full.0, &full.1, &lock(h + 10, 1, 0)).unwrap();
        }
        assert_eq!(
            with_lock(&full.0, &full.1, &lock(99, 1, 0)),
            Err(LockRefusal::TooMany)
        );
    }

    #[test]
    fn expiries_fall_per_hop_and_keep_the_floor() {
        let e1 = first_expiry(1_000, 1);
        let e2 = forward_expiry(e1, 1_000).unwrap();
        assert_eq!(e1 - e2, EXPIRY_DELTA_BLOCKS);
        assert!(e2 >= 1_000 + MIN_EXPIRY_BLOCKS + EXPIRY_DELTA_BLOCKS);
        assert_eq!(forward_expiry(e1, e2), None);
    }

    #[test]
    fn invoices_bind_the_payee_amount_and_payer() {
        use commonware_cryptography::Signer;
        let key = PrivateKey::from_seed(3);
        let payee = Address::from(&key.public_key());
        let payer = Address([4; 32]);
        let (secret, inv) = Invoice::create(&key, 50, payer);
        assert_eq!(hash32(&secret), inv.hash_lock);
        assert!(inv.is_for(50, &payer, &payee));
        assert!(!inv.is_for(51, &payer, &payee));
        assert!(!inv.is_for(50, &Address([5; 32]), &payee));
    }
}
