//! The in-memory view of state a block executes against.
//!
//! The node reads every key of [`access_set`](crate::access_set) in one batch
//! and hands the values to [`Overlay::new`]. Execution then never does I/O: each
//! key has a slot (a `Vec` entry found through a `HashMap`) holding the value
//! read and the current value. Writes are journaled so a failed action can be
//! undone without touching the transaction's nonce and fee. After the block,
//! [`Overlay::changes`] lists the keys whose value differs from what was read.
//!
//! Values equal to their default (a zero account, a zero balance) are held as
//! absent, so writing one over an absent key is no change and writing one over a
//! present key is a delete.
//!
//! For parallel execution the overlay is split: each lane takes the values of
//! the keys it owns into a [`LaneView`], reads shared read-only keys in place,
//! and gives the values back when joined. Execution reaches state through the
//! [`View`] trait, so the same code runs on the whole overlay or on a lane.

use lakh_state::{AccountState, AssetInfo, StateKey, StateValue};
use lakh_types::map::{FastMap, fast_map};
use lakh_types::{Address, AssetId, Symbol};

/// Execution touched state it cannot see. Either the caller did not prefetch
/// the block's access set, or the database holds a value of the wrong kind
/// under a key. Neither is the block's fault; the block must not be committed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("state key {0:?} was not prefetched (access set and execution disagree)")]
    NotPrefetched(StateKey),
    #[error("state key {0:?} holds a value of another kind (corrupt state)")]
    WrongKind(StateKey),
    /// A module object under this key does not decode (corrupt state).
    #[error("state key {0:?} holds an object that does not decode: {1}")]
    BadObject(StateKey, String),
    /// Parallel execution only: a transaction wrote a key it declared read-only.
    #[error(
        "state key {0:?} was written but declared read-only (access set and execution disagree)"
    )]
    WrittenReadOnly(StateKey),
}

/// Handle of a key's slot, valid for the overlay that issued it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SlotId(pub(crate) u32);

#[derive(Debug)]
struct Slot {
    key: StateKey,
    original: Option<StateValue>,
    current: Option<StateValue>,
    written: bool,
}

/// Prefetched state plus the block's pending writes.
#[derive(Debug, Default)]
pub struct Overlay {
    index: FastMap<StateKey, SlotId>,
    slots: Vec<Slot>,
    /// Previous values of the slots written since the last `clear_journal`, oldest first.
    journal: Vec<(SlotId, Option<StateValue>)>,
}

/// A position in the journal to roll back to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Checkpoint(usize);

fn normalize(value: Option<StateValue>) -> Option<StateValue> {
    value.filter(|v| !v.is_default())
}

impl Overlay {
    /// Builds the overlay from the values read for the block's keys (`None`
    /// when absent). Slots keep the iteration order, which
    /// [`Overlay::changed_slots`] reports; a repeated key keeps its first slot
    /// and its last value.
    pub fn new(prefetched: impl IntoIterator<Item = (StateKey, Option<StateValue>)>) -> Overlay {
        let prefetched = prefetched.into_iter();
        let capacity = prefetched.size_hint().0;
        let mut overlay = Overlay {
            index: fast_map(capacity),
            slots: Vec::with_capacity(capacity),
            journal: Vec::new(),
        };
        for (key, value) in prefetched {
            let value = normalize(value);
            // One probe per key: the block's keys are a table's worth of misses.
            match overlay.index.entry(key) {
                std::collections::hash_map::Entry::Occupied(found) => {
                    let slot = &mut overlay.slots[found.get().0 as usize];
                    slot.original = value.clone();
                    slot.current = value;
                }
                std::collections::hash_map::Entry::Vacant(vacant) => {
                    let id = SlotId(overlay.slots.len() as u32);
                    overlay.slots.push(Slot {
                        key: vacant.key().clone(),
                        current: value.clone(),
                        original: value,
                        written: false,
                    });
                    vacant.insert(id);
                }
            }
        }
        overlay
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The current value of `key` (`None` when absent or default).
    pub fn get(&self, key: &StateKey) -> Result<Option<&StateValue>, StateError> {
        let id = self.slot(key)?;
        Ok(self.slots[id.0 as usize].current.as_ref())
    }

    /// An account's current state (default when absent).
    pub fn account(&self, address: &Address) -> Result<AccountState, StateError> {
        self.account_at(self.slot(&StateKey::Account(*address))?)
    }

    /// A non-native balance (zero when absent).
    pub fn balance(&self, address: &Address, asset: AssetId) -> Result<u128, StateError> {
        self.balance_at(self.slot(&StateKey::Balance(*address, asset))?)
    }

    /// An asset's metadata, if it exists.
    pub fn asset(&self, asset: AssetId) -> Result<Option<&AssetInfo>, StateError> {
        self.asset_at(self.slot(&StateKey::Asset(asset))?)
    }

    /// The asset a symbol belongs to, if any.
    pub fn symbol(&self, symbol: &Symbol) -> Result<Option<AssetId>, StateError> {
        self.symbol_at(self.slot(&StateKey::Symbol(symbol.clone()))?)
    }

    /// Keys whose value differs from what was read, with the value to store
    /// (`None` = delete), in slot order.
    pub fn changes(&self) -> impl Iterator<Item = (&StateKey, Option<&StateValue>)> {
        self.slots
            .iter()
            .filter(|s| s.written && s.current != s.original)
            .map(|s| (&s.key, s.current.as_ref()))
    }

    /// Like [`Overlay::changes`], by value.
    pub fn into_changes(self) -> impl Iterator<Item = (StateKey, Option<StateValue>)> {
        self.slots
            .into_iter()
            .filter(|s| s.written && s.current != s.original)
            .map(|s| (s.key, s.current))
    }

    /// Positions (in [`Overlay::new`]'s input order) of the changed keys, for a
    /// caller that kept the digests it computed to read them.
    pub fn changed_slots(&self) -> impl Iterator<Item = usize> {
        self.changed_values().map(|(i, _)| i)
    }

    /// [`Overlay::changed_slots`] with each new value.
    pub fn changed_values(&self) -> impl Iterator<Item = (usize, Option<&StateValue>)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.written && s.current != s.original)
            .map(|(i, s)| (i, s.current.as_ref()))
    }

    /// Sum of the native balances held, `None` if it exceeds `u128`. Fees and
    /// transfers only move native between these accounts, so a block's fees
    /// never exceed it.
    pub(crate) fn native_sum(&self) -> Option<u128> {
        self.slots
            .iter()
            .try_fold(0u128, |sum, slot| match &slot.current {
                Some(StateValue::Account(account)) => sum.checked_add(account.native_balance),
                _ => Some(sum),
            })
    }

    /// The slot of `key`, looked for first among `hint` (slots the current
    /// transaction declared, top bit ignored), which is cheaper than hashing.
    fn hinted_slot(&self, key: &StateKey, hint: &[u32]) -> Result<SlotId, StateError> {
        if hint.len() <= MAX_HINT_SCAN {
            for &id in hint {
                let id = id & !FLAG_BIT;
                if self.slots.get(id as usize).is_some_and(|s| s.key == *key) {
                    return Ok(SlotId(id));
                }
            }
        }
        self.slot(key)
    }

    /// The whole overlay as a view that looks keys up among hints first.
    pub(crate) fn hinted(&mut self) -> Hinted<'_, '_> {
        Hinted {
            overlay: self,
            hint: &[],
        }
    }

    /// Moves the value of every slot owned by a lane into that lane's slots.
    /// Returns them with, per overlay slot, its position in its lane.
    pub(crate) fn split(&mut self, owner: &[Owner], lanes: usize) -> (Vec<LaneSlots>, Vec<u32>) {
        debug_assert_eq!(owner.len(), self.slots.len());
        let mut counts = vec![0usize; lanes];
        for owner in owner {
            if let Owner::Lane(lane) = *owner {
                counts[lane as usize] += 1;
            }
        }
        let mut split: Vec<LaneSlots> = counts
            .into_iter()
            .map(|count| LaneSlots(Vec::with_capacity(count)))
            .collect();
        let mut local = vec![0u32; self.slots.len()];
        for (i, (slot, owner)) in self.slots.iter_mut().zip(owner).enumerate() {
            if let Owner::Lane(lane) = *owner {
                let slots = &mut split[lane as usize].0;
                local[i] = slots.len() as u32;
                slots.push(LaneSlot {
                    main: i as u32,
                    current: slot.current.take(),
                    written: false,
                });
            }
        }
        (split, local)
    }

    /// A view for lane `lane` over `slots` (from [`Overlay::split`]): the keys
    /// it owns plus read-only access to the shared ones.
    pub(crate) fn lane<'a>(
        &'a self,
        owner: &'a [Owner],
        local: &'a [u32],
        lane: u32,
        slots: LaneSlots,
    ) -> LaneView<'a> {
        LaneView {
            main: self,
            owner,
            local,
            lane,
            slots: slots.0,
            journal: Vec::new(),
            fault: None,
            hint: &[],
        }
    }

    /// Puts the lanes' values back (the inverse of [`Overlay::split`]).
    pub(crate) fn join(&mut self, lanes: impl IntoIterator<Item = LaneSlots>) {
        for lane in lanes {
            for slot in lane.0 {
                let main = &mut self.slots[slot.main as usize];
                main.current = slot.current;
                main.written |= slot.written;
            }
        }
    }

    /// Debug check of the block-level invariants over the touched keys: the
    /// native total is unchanged (fees only move to the fee pot and its payees) and, per
    /// asset, balances moved exactly as much as supply. Sums wrap on purpose:
    /// equality modulo 2^128 of exact integers is exact for these differences.
    #[cfg(debug_assertions)]
    pub(crate) fn assert_conservation(&self) {
        let mut native_before = 0u128;
        let mut native_after = 0u128;
        // asset -> (balances before + supply after, balances after + supply before)
        let mut assets: std::collections::HashMap<AssetId, (u128, u128)> =
            std::collections::HashMap::new();
        for slot in self.slots.iter().filter(|s| s.written) {
            match (&slot.key, &slot.original, &slot.current) {
                (StateKey::Account(_), before, after) => {
                    let native = |v: &Option<StateValue>| match v {
                        Some(StateValue::Account(a)) => a.native_balance,
                        _ => 0,
                    };
                    native_before = native_before.wrapping_add(native(before));
                    native_after = native_after.wrapping_add(native(after));
                }
                (StateKey::Balance(_, asset), before, after) => {
                    let amount = |v: &Option<StateValue>| match v {
                        Some(StateValue::Balance(b)) => *b,
                        _ => 0,
                    };
                    let entry = assets.entry(*asset).or_default();
                    entry.0 = entry.0.wrapping_add(amount(before));
                    entry.1 = entry.1.wrapping_add(amount(after));
                }
                (StateKey::Asset(asset), before, after) => {
                    let supply = |v: &Option<StateValue>| match v {
                        Some(StateValue::Asset(info)) => info.supply,
                        _ => 0,
                    };
                    let entry = assets.entry(*asset).or_default();
                    entry.0 = entry.0.wrapping_add(supply(after));
                    entry.1 = entry.1.wrapping_add(supply(before));
                }
                (StateKey::Symbol(_) | StateKey::Object(_), ..) => {}
            }
        }
        debug_assert_eq!(native_before, native_after, "native supply changed");
        for (asset, (left, right)) in assets {
            debug_assert_eq!(left, right, "asset {asset} balances and supply diverged");
        }
    }
}

/// Read and write access to the keys of a block during execution: the whole
/// [`Overlay`], or one parallel lane's share of it ([`LaneView`]).
pub(crate) trait View {
    fn slot(&self, key: &StateKey) -> Result<SlotId, StateError>;
    fn value_at(&self, id: SlotId) -> &Option<StateValue>;
    fn key_at(&self, id: SlotId) -> &StateKey;
    fn write(&mut self, id: SlotId, value: StateValue);
    fn checkpoint(&self) -> Checkpoint;
    /// Undoes every write made since `checkpoint`.
    fn rollback(&mut self, checkpoint: Checkpoint);
    /// Makes the writes so far permanent (called between transactions so the
    /// journal stays as small as one transaction's writes).
    fn clear_journal(&mut self);
    /// A write the view refused since the last call (it cannot return an error
    /// from `write` without burdening every action).
    fn take_fault(&mut self) -> Option<StateError> {
        None
    }

    fn wrong_kind(&self, id: SlotId) -> StateError {
        StateError::WrongKind(self.key_at(id).clone())
    }

    fn account_at(&self, id: SlotId) -> Result<AccountState, StateError> {
        match self.value_at(id) {
            None => Ok(AccountState::default()),
            Some(StateValue::Account(account)) => Ok(*account),
            Some(_) => Err(self.wrong_kind(id)),
        }
    }

    fn balance_at(&self, id: SlotId) -> Result<u128, StateError> {
        match self.value_at(id) {
            None => Ok(0),
            Some(StateValue::Balance(amount)) => Ok(*amount),
            Some(_) => Err(self.wrong_kind(id)),
        }
    }

    fn asset_at(&self, id: SlotId) -> Result<Option<&AssetInfo>, StateError> {
        match self.value_at(id) {
            None => Ok(None),
            Some(StateValue::Asset(info)) => Ok(Some(info)),
            Some(_) => Err(self.wrong_kind(id)),
        }
    }

    fn symbol_at(&self, id: SlotId) -> Result<Option<AssetId>, StateError> {
        match self.value_at(id) {
            None => Ok(None),
            Some(StateValue::Symbol(asset)) => Ok(Some(*asset)),
            Some(_) => Err(self.wrong_kind(id)),
        }
    }

    fn object_at(&self, id: SlotId) -> Result<Option<&bytes::Bytes>, StateError> {
        match self.value_at(id) {
            None => Ok(None),
            Some(StateValue::Object(bytes)) => Ok(Some(bytes)),
            Some(_) => Err(self.wrong_kind(id)),
        }
    }

    /// Stores a module object's encoding; empty bytes delete it.
    fn set_object_at(&mut self, id: SlotId, bytes: bytes::Bytes) {
        self.write(id, StateValue::Object(bytes));
    }

    fn set_account_at(&mut self, id: SlotId, account: AccountState) {
        self.write(id, StateValue::Account(account));
    }

    fn set_balance_at(&mut self, id: SlotId, amount: u128) {
        self.write(id, StateValue::Balance(amount));
    }

    fn set_asset_at(&mut self, id: SlotId, info: AssetInfo) {
        self.write(id, StateValue::Asset(Box::new(info)));
    }

    fn set_symbol_at(&mut self, id: SlotId, asset: AssetId) {
        self.write(id, StateValue::Symbol(asset));
    }
}

impl View for Overlay {
    fn slot(&self, key: &StateKey) -> Result<SlotId, StateError> {
        self.index
            .get(key)
            .copied()
            .ok_or_else(|| StateError::NotPrefetched(key.clone()))
    }

    fn value_at(&self, id: SlotId) -> &Option<StateValue> {
        &self.slots[id.0 as usize].current
    }

    fn key_at(&self, id: SlotId) -> &StateKey {
        &self.slots[id.0 as usize].key
    }

    fn write(&mut self, id: SlotId, value: StateValue) {
        let slot = &mut self.slots[id.0 as usize];
        debug_assert!(
            value.matches(&slot.key),
            "{value:?} written under {:?}",
            slot.key
        );
        let previous = std::mem::replace(&mut slot.current, normalize(Some(value)));
        slot.written = true;
        self.journal.push((id, previous));
    }

    fn checkpoint(&self) -> Checkpoint {
        Checkpoint(self.journal.len())
    }

    fn rollback(&mut self, checkpoint: Checkpoint) {
        debug_assert!(checkpoint.0 <= self.journal.len());
        while self.journal.len() > checkpoint.0 {
            if let Some((SlotId(i), previous)) = self.journal.pop() {
                self.slots[i as usize].current = previous;
            }
        }
    }

    fn clear_journal(&mut self) {
        self.journal.clear();
    }
}

/// [`Overlay`] with the current transaction's declared slots as lookup hints.
pub(crate) struct Hinted<'o, 'h> {
    overlay: &'o mut Overlay,
    hint: &'h [u32],
}

impl<'h> Hinted<'_, 'h> {
    /// Sets the overlay slots of the keys the next transaction declared.
    pub(crate) fn set_hint(&mut self, slots: &'h [u32]) {
        self.hint = slots;
    }
}

impl View for Hinted<'_, '_> {
    fn slot(&self, key: &StateKey) -> Result<SlotId, StateError> {
        self.overlay.hinted_slot(key, self.hint)
    }

    fn value_at(&self, id: SlotId) -> &Option<StateValue> {
        self.overlay.value_at(id)
    }

    fn key_at(&self, id: SlotId) -> &StateKey {
        self.overlay.key_at(id)
    }

    fn write(&mut self, id: SlotId, value: StateValue) {
        self.overlay.write(id, value);
    }

    fn checkpoint(&self) -> Checkpoint {
        self.overlay.checkpoint()
    }

    fn rollback(&mut self, checkpoint: Checkpoint) {
        self.overlay.rollback(checkpoint);
    }

    fn clear_journal(&mut self) {
        self.overlay.clear_journal();
    }
}

/// Who may touch an overlay slot while lanes execute in parallel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// No transaction declared it (the fee pot or a signer it pays, usually):
    /// only the end-of-block hooks touch it, after the lanes are joined.
    Nobody,
    /// Declared read-only by every transaction that declares it: every lane
    /// reads it in place and none may write it.
    Shared,
    /// Declared written by some transaction of this lane's conflict groups.
    Lane(u32),
}

/// Overlay slots are numbered below this when split, so an id can carry a flag.
pub(crate) const FLAG_BIT: u32 = 1 << 31;
pub(crate) const MAX_SPLIT_SLOTS: usize = FLAG_BIT as usize;

/// A lane slot id with this bit set names a shared overlay slot.
const SHARED_BIT: u32 = FLAG_BIT;

/// Hints longer than this are not scanned: hashing wins.
const MAX_HINT_SCAN: usize = 8;

#[derive(Debug)]
struct LaneSlot {
    /// The overlay slot the value came from.
    main: u32,
    current: Option<StateValue>,
    written: bool,
}

/// The values of the slots one lane owns, moved out of the overlay while it runs.
#[derive(Debug, Default)]
pub(crate) struct LaneSlots(Vec<LaneSlot>);

/// One lane's view of the overlay: the slots it owns (moved out, so lanes
/// never share a mutable value) and, read-only, the shared ones. Any other key
/// is refused, which makes an access the transaction did not declare an error
/// instead of a silent race.
pub(crate) struct LaneView<'a> {
    main: &'a Overlay,
    owner: &'a [Owner],
    local: &'a [u32],
    lane: u32,
    slots: Vec<LaneSlot>,
    journal: Vec<(u32, Option<StateValue>)>,
    fault: Option<StateError>,
    /// Overlay slots the current transaction declared (top bit ignored),
    /// looked through before hashing the key.
    hint: &'a [u32],
}

impl<'a> LaneView<'a> {
    /// The lane's values, for [`Overlay::join`].
    pub(crate) fn into_slots(self) -> LaneSlots {
        LaneSlots(self.slots)
    }

    /// Sets the overlay slots of the keys the next transaction declared.
    pub(crate) fn set_hint(&mut self, slots: &'a [u32]) {
        self.hint = slots;
    }
}

impl View for LaneView<'_> {
    fn slot(&self, key: &StateKey) -> Result<SlotId, StateError> {
        let SlotId(main) = self.main.hinted_slot(key, self.hint)?;
        match self.owner[main as usize] {
            Owner::Lane(lane) if lane == self.lane => Ok(SlotId(self.local[main as usize])),
            Owner::Shared => Ok(SlotId(main | SHARED_BIT)),
            // Undeclared by this transaction, or owned by another lane.
            Owner::Lane(_) | Owner::Nobody => Err(StateError::NotPrefetched(key.clone())),
        }
    }

    fn value_at(&self, id: SlotId) -> &Option<StateValue> {
        if id.0 & SHARED_BIT != 0 {
            &self.main.slots[(id.0 & !SHARED_BIT) as usize].current
        } else {
            &self.slots[id.0 as usize].current
        }
    }

    fn key_at(&self, id: SlotId) -> &StateKey {
        let main = if id.0 & SHARED_BIT != 0 {
            id.0 & !SHARED_BIT
        } else {
            self.slots[id.0 as usize].main
        };
        &self.main.slots[main as usize].key
    }

    fn write(&mut self, id: SlotId, value: StateValue) {
        if id.0 & SHARED_BIT != 0 {
            if self.fault.is_none() {
                self.fault = Some(StateError::WrittenReadOnly(self.key_at(id).clone()));
            }
            return;
        }
        debug_assert!(
            value.matches(self.key_at(id)),
            "{value:?} written under {:?}",
            self.key_at(id)
        );
        let slot = &mut self.slots[id.0 as usize];
        let previous = std::mem::replace(&mut slot.current, normalize(Some(value)));
        slot.written = true;
        self.journal.push((id.0, previous));
    }

    fn checkpoint(&self) -> Checkpoint {
        Checkpoint(self.journal.len())
    }

    fn rollback(&mut self, checkpoint: Checkpoint) {
        debug_assert!(checkpoint.0 <= self.journal.len());
        while self.journal.len() > checkpoint.0 {
            if let Some((i, previous)) = self.journal.pop() {
                self.slots[i as usize].current = previous;
            }
        }
    }

    fn clear_journal(&mut self) {
        self.journal.clear();
    }

    fn take_fault(&mut self) -> Option<StateError> {
        self.fault.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(n: u8) -> Address {
        Address([n; 32])
    }

    fn overlay() -> Overlay {
        Overlay::new([
            (
                StateKey::Account(a(1)),
                Some(StateValue::Account(AccountState {
                    nonce: 1,
                    native_balance: 5,
                })),
            ),
            (StateKey::Account(a(2)), None),
            (
                StateKey::Balance(a(1), AssetId(7)),
                Some(StateValue::Balance(3)),
            ),
            // Stored defaults read as absent.
            (
                StateKey::Balance(a(2), AssetId(7)),
                Some(StateValue::Balance(0)),
            ),
        ])
    }

    #[test]
    fn rollback_restores_values_and_leaves_no_change() {
        let mut o = overlay();
        let s1 = o.slot(&StateKey::Account(a(1))).expect("present");
        o.set_account_at(
            s1,
            AccountState {
                nonce: 2,
                native_balance: 4,
            },
        );
        o.clear_journal();
        let cp = o.checkpoint();
        o.set_account_at(
            s1,
            AccountState {
                nonce: 2,
                native_balance: 0,
            },
        );
        let b = o
            .slot(&StateKey::Balance(a(1), AssetId(7)))
            .expect("present");
        o.set_balance_at(b, 9);
        o.set_balance_at(b, 10);
        o.rollback(cp);
        assert_eq!(
            o.account(&a(1)),
            Ok(AccountState {
                nonce: 2,
                native_balance: 4
            })
        );
        assert_eq!(o.balance(&a(1), AssetId(7)), Ok(3));
        let changes: Vec<_> = o.changes().collect();
        assert_eq!(
            changes,
            vec![(
                &StateKey::Account(a(1)),
                Some(&StateValue::Account(AccountState {
                    nonce: 2,
                    native_balance: 4
                }))
            )]
        );
        assert_eq!(o.changed_slots().collect::<Vec<_>>(), vec![0]);
    }

    #[test]
    fn defaults_are_absent_and_zeroing_deletes() {
        let mut o = overlay();
        assert_eq!(o.get(&StateKey::Balance(a(2), AssetId(7))), Ok(None));
        let fresh = o.slot(&StateKey::Account(a(2))).expect("present");
        o.set_account_at(fresh, AccountState::default());
        let held = o
            .slot(&StateKey::Balance(a(1), AssetId(7)))
            .expect("present");
        o.set_balance_at(held, 0);
        let changes: Vec<_> = o.into_changes().collect();
        assert_eq!(changes, vec![(StateKey::Balance(a(1), AssetId(7)), None)]);
    }

    #[test]
    fn writing_back_the_original_value_is_no_change() {
        let mut o = overlay();
        let b = o
            .slot(&StateKey::Balance(a(1), AssetId(7)))
            .expect("present");
        o.set_balance_at(b, 1);
        o.set_balance_at(b, 3);
        assert_eq!(o.changes().count(), 0);
    }

    #[test]
    fn unknown_key_and_wrong_kind_are_errors() {
        let o = Overlay::new([(StateKey::Account(a(1)), Some(StateValue::Balance(1)))]);
        assert_eq!(
            o.account(&a(1)),
            Err(StateError::WrongKind(StateKey::Account(a(1))))
        );
        assert_eq!(
            o.account(&a(3)),
            Err(StateError::NotPrefetched(StateKey::Account(a(3))))
        );
    }

    #[test]
    fn repeated_key_keeps_last_value() {
        let o = Overlay::new([
            (
                StateKey::Balance(a(1), AssetId(7)),
                Some(StateValue::Balance(1)),
            ),
            (
                StateKey::Balance(a(1), AssetId(7)),
                Some(StateValue::Balance(2)),
            ),
        ]);
        assert_eq!(o.len(), 1);
        assert_eq!(o.balance(&a(1), AssetId(7)), Ok(2));
    }
}
