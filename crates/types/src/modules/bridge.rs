//! The Ethereum bridge's shared encodings: an L1 deposit and the running hash
//! deposits form, a withdrawal leaf and the withdrawal tree's nodes, and the
//! commitment every header carries so a finalize certificate covers it.
//!
//! The L1 contracts (`contracts/`) compute the same bytes with Solidity's
//! `keccak256` and `abi.encode`: every word below is a 32-byte big-endian
//! ABI word, addresses left-padded, lakh addresses as `bytes32`.
//!
//! - Deposit running hash: `h_0 = 0`,
//!   `h_n = keccak256(h_{n-1} ‖ abi.encode(uint64 n, address token,
//!   address l1_sender, bytes32 recipient, uint256 amount))`.
//! - Withdrawal leaf: `keccak256(0x00 ‖ abi.encode(uint64 lakh_chain_id,
//!   uint64 l1_chain_id, address bridge, uint64 index, bytes32 lakh_sender,
//!   address l1_recipient, address token, uint256 amount))`.
//! - Tree node: `keccak256(0x01 ‖ left ‖ right)`; an empty leaf is 32 zero
//!   bytes; the tree is append-only with [`WITHDRAWAL_TREE_DEPTH`] levels, as
//!   the Ethereum deposit contract's. The distinct prefixes keep a leaf from
//!   ever being taken for an internal node.

use crate::committee::FixedBytes;
use crate::{Address, AssetId, Symbol};
use bytes::BufMut;
use commonware_codec::{Buf, Error as CodecError, FixedSize, Read, ReadExt, Write};
use serde::{Deserialize, Serialize};
use sha3::{Digest as _, Keccak256};

pub mod query;

/// Levels of the withdrawal tree: room for 2^32 withdrawals.
pub const WITHDRAWAL_TREE_DEPTH: usize = 32;
/// Most L1 deposits one block applies.
pub const MAX_DEPOSITS_PER_BLOCK: usize = 256;

/// An Ethereum address.
pub type L1Address = FixedBytes<20>;
/// A keccak-256 digest.
pub type Keccak = FixedBytes<32>;

/// The L1 token address that stands for ether itself.
pub const ETHER: L1Address = FixedBytes([0u8; 20]);

/// keccak-256 over the concatenation of `parts`.
pub fn keccak(parts: &[&[u8]]) -> Keccak {
    let mut hasher = Keccak256::new();
    for part in parts {
        hasher.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(&hasher.finalize());
    FixedBytes(out)
}

/// A 32-byte ABI word holding `value` big-endian.
fn word_u128(value: u128) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[16..].copy_from_slice(&value.to_be_bytes());
    out
}

/// A 32-byte ABI word holding an address, left-padded.
fn word_address(address: &L1Address) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[12..].copy_from_slice(&address.0);
    out
}

/// One deposit the L1 bridge escrowed, numbered from 1 in L1 order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct L1Deposit {
    /// Position in the L1 bridge's deposit sequence (the first is 1).
    pub count: u64,
    /// The L1 token escrowed ([`ETHER`] for ether).
    pub token: L1Address,
    /// Who deposited on L1.
    pub l1_sender: L1Address,
    /// Who receives the wrapped asset on lakh.
    pub recipient: Address,
    /// Base units of the L1 token escrowed (what the bridge measured it received).
    pub amount: u128,
}

impl L1Deposit {
    /// The running hash after this deposit, given the one before it.
    pub fn chain(&self, previous: &Keccak) -> Keccak {
        keccak(&[
            &previous.0,
            &word_u128(u128::from(self.count)),
            &word_address(&self.token),
            &word_address(&self.l1_sender),
            &self.recipient.0,
            &word_u128(self.amount),
        ])
    }
}

impl Write for L1Deposit {
    fn write(&self, buf: &mut impl BufMut) {
        self.count.write(buf);
        self.token.write(buf);
        self.l1_sender.write(buf);
        self.recipient.write(buf);
        self.amount.write(buf);
    }
}
impl FixedSize for L1Deposit {
    const SIZE: usize = 8 + 20 + 20 + 32 + 16;
}
impl Read for L1Deposit {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(L1Deposit {
            count: u64::read(buf)?,
            token: L1Address::read(buf)?,
            l1_sender: L1Address::read(buf)?,
            recipient: Address::read(buf)?,
            amount: u128::read(buf)?,
        })
    }
}

/// A withdrawal as the L1 bridge pays it: the leaf's fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithdrawalLeaf {
    /// The lakh chain the withdrawal left.
    pub lakh_chain_id: u64,
    /// The L1 chain that pays it.
    pub l1_chain_id: u64,
    /// The L1 bridge contract that pays it.
    pub bridge: L1Address,
    /// Position in the withdrawal tree (the first is 0).
    pub index: u64,
    /// Who burned the wrapped asset on lakh.
    pub lakh_sender: Address,
    /// Who is paid on L1.
    pub l1_recipient: L1Address,
    /// The L1 token paid ([`ETHER`] for ether).
    pub token: L1Address,
    /// Base units of the L1 token paid.
    pub amount: u128,
}

impl WithdrawalLeaf {
    /// The leaf's value in the withdrawal tree.
    pub fn hash(&self) -> Keccak {
        keccak(&[
            &[0x00],
            &word_u128(u128::from(self.lakh_chain_id)),
            &word_u128(u128::from(self.l1_chain_id)),
            &word_address(&self.bridge),
            &word_u128(u128::from(self.index)),
            &self.lakh_sender.0,
            &word_address(&self.l1_recipient),
            &word_address(&self.token),
            &word_u128(self.amount),
        ])
    }
}

/// An internal node of the withdrawal tree.
pub fn node_hash(left: &Keccak, right: &Keccak) -> Keccak {
    keccak(&[&[0x01], &left.0, &right.0])
}

/// The root of an empty subtree of each height, 0 (an empty leaf) through
/// [`WITHDRAWAL_TREE_DEPTH`] (the empty tree). Computed once per process:
/// every block header starts from the empty tree's root.
pub fn empty_subtree_roots() -> &'static [Keccak; WITHDRAWAL_TREE_DEPTH + 1] {
    static ROOTS: std::sync::OnceLock<[Keccak; WITHDRAWAL_TREE_DEPTH + 1]> =
        std::sync::OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = [FixedBytes([0u8; 32]); WITHDRAWAL_TREE_DEPTH + 1];
        for height in 1..=WITHDRAWAL_TREE_DEPTH {
            roots[height] = node_hash(&roots[height - 1], &roots[height - 1]);
        }
        roots
    })
}

/// Checks that `leaf` sits at `index` under `root`, given its siblings from
/// the leaf level up.
pub fn verify_withdrawal_proof(
    leaf: &Keccak,
    index: u64,
    siblings: &[Keccak; WITHDRAWAL_TREE_DEPTH],
    root: &Keccak,
) -> bool {
    let mut node = *leaf;
    for (height, sibling) in siblings.iter().enumerate() {
        node = if (index >> height) & 1 == 0 {
            node_hash(&node, sibling)
        } else {
            node_hash(sibling, &node)
        };
    }
    index < (1u64 << WITHDRAWAL_TREE_DEPTH) && node == *root
}

/// What a header commits to about the bridge ([`BridgeCommitment::empty`]
/// on a chain without one).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeCommitment {
    /// The lakh chain the header belongs to, so no other chain's header
    /// passes the L1 light client.
    pub chain_id: u64,
    /// Root of the withdrawal tree after the block.
    pub withdrawal_root: Keccak,
    /// Withdrawals appended so far (the next leaf's index).
    pub withdrawal_count: u64,
    /// L1 deposits applied so far.
    pub deposit_count: u64,
    /// The deposit running hash after the last applied deposit.
    pub deposit_hash: Keccak,
}

impl BridgeCommitment {
    /// The commitment of `chain_id` before any deposit or withdrawal: the
    /// empty withdrawal tree's root, nothing counted.
    pub fn empty(chain_id: u64) -> Self {
        BridgeCommitment {
            chain_id,
            withdrawal_root: empty_subtree_roots()[WITHDRAWAL_TREE_DEPTH],
            ..BridgeCommitment::default()
        }
    }
}

impl Write for BridgeCommitment {
    fn write(&self, buf: &mut impl BufMut) {
        self.chain_id.write(buf);
        self.withdrawal_root.write(buf);
        self.withdrawal_count.write(buf);
        self.deposit_count.write(buf);
        self.deposit_hash.write(buf);
    }
}
impl FixedSize for BridgeCommitment {
    const SIZE: usize = 8 + 32 + 8 + 8 + 32;
}
impl Read for BridgeCommitment {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(BridgeCommitment {
            chain_id: u64::read(buf)?,
            withdrawal_root: Keccak::read(buf)?,
            withdrawal_count: u64::read(buf)?,
            deposit_count: u64::read(buf)?,
            deposit_hash: Keccak::read(buf)?,
        })
    }
}

/// A validator's own view of L1: the deposits the bridge contract emitted in
/// L1 blocks at or below L1's finalized block. Answers from what it already
/// fetched, never blocks and never guesses: a deposit it has not seen
/// finalized is simply not in the answer.
pub trait L1View: Send + Sync + 'static {
    /// The finalized deposits numbered `first_count..first_count + max`, in
    /// count order, stopping at the first one not yet seen finalized.
    fn finalized_deposits(&self, first_count: u64, max: usize) -> Vec<L1Deposit>;
}

const _: () = assert!(MAX_DEPOSITS_PER_BLOCK * L1Deposit::SIZE <= 64 * 1024);

/// Leaves the withdrawal tree holds: one short of 2^depth, as the deposit
/// contract's, so a full tree's count still fits the frontier's bits.
pub const WITHDRAWAL_TREE_CAPACITY: u64 = (1 << WITHDRAWAL_TREE_DEPTH) - 1;

impl Write for WithdrawalLeaf {
    fn write(&self, buf: &mut impl BufMut) {
        self.lakh_chain_id.write(buf);
        self.l1_chain_id.write(buf);
        self.bridge.write(buf);
        self.index.write(buf);
        self.lakh_sender.write(buf);
        self.l1_recipient.write(buf);
        self.token.write(buf);
        self.amount.write(buf);
    }
}
impl FixedSize for WithdrawalLeaf {
    const SIZE: usize = 8 + 8 + 20 + 8 + 32 + 20 + 20 + 16;
}
impl Read for WithdrawalLeaf {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(WithdrawalLeaf {
            lakh_chain_id: u64::read(buf)?,
            l1_chain_id: u64::read(buf)?,
            bridge: L1Address::read(buf)?,
            index: u64::read(buf)?,
            lakh_sender: Address::read(buf)?,
            l1_recipient: L1Address::read(buf)?,
            token: L1Address::read(buf)?,
            amount: u128::read(buf)?,
        })
    }
}

/// The lakh asset that wraps the L1 `token`: derived from the module and the
/// token alone, so a wallet knows it without asking and no two tokens share
/// one (barring a 64-bit collision, which genesis validation refuses).
pub fn wrapped_asset_id(token: &L1Address) -> AssetId {
    AssetId::derive(Address::module("bridge", &token.0).as_bytes(), 0)
}

/// The issuer recorded for every wrapped asset: an address nobody holds the
/// key of, so the bank's `mint` can never create wrapped units.
pub fn wrapped_issuer() -> Address {
    Address::module("bridge", b"issuer")
}

/// The genesis section of a chain bridged to an L1 (absent: no bridge).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeGenesis {
    /// The L1's chain id (EIP-155); never 0.
    pub l1_chain_id: u64,
    /// The L1 bridge contract every withdrawal leaf names.
    pub bridge_address: L1Address,
    /// The L1 tokens the bridge wraps; each gets a lakh asset with supply 0.
    pub tokens: Vec<BridgeToken>,
}

/// One bridged L1 token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeToken {
    /// Its L1 address ([`ETHER`] for ether).
    pub l1_token: L1Address,
    /// The symbol of its wrapped asset on lakh.
    pub symbol: Symbol,
    /// Decimals of the wrapped asset (the L1 token's, so base units match 1:1).
    pub decimals: u8,
}

/// Most tokens a bridge section may list.
pub const MAX_BRIDGE_TOKENS: usize = 64;

impl BridgeGenesis {
    /// Checks the section against the chain's other assets: `symbols` and
    /// `ids` are those already taken (native and genesis assets).
    pub fn validate(
        &self,
        symbols: &std::collections::BTreeSet<Symbol>,
        ids: &std::collections::BTreeSet<AssetId>,
    ) -> Result<(), String> {
        if self.l1_chain_id == 0 {
            return Err("bridge.l1_chain_id must not be 0".into());
        }
        if self.bridge_address == L1Address::default() {
            return Err("bridge.bridge_address must not be the zero address".into());
        }
        if self.tokens.len() > MAX_BRIDGE_TOKENS {
            return Err(format!(
                "bridge.tokens lists more than {MAX_BRIDGE_TOKENS} tokens"
            ));
        }
        let mut seen_tokens = std::collections::BTreeSet::new();
        let mut seen_symbols = std::collections::BTreeSet::new();
        let mut seen_ids = std::collections::BTreeSet::new();
        for t in &self.tokens {
            if !seen_tokens.insert(t.l1_token) {
                return Err(format!(
                    "bridge token 0x{} is listed twice",
                    t.l1_token.to_hex()
                ));
            }
            if symbols.contains(&t.symbol) || !seen_symbols.insert(t.symbol.clone()) {
                return Err(format!("bridge token symbol {} is already taken", t.symbol));
            }
            if t.decimals > crate::limits::MAX_DECIMALS {
                return Err(format!(
                    "bridge token {} has more than {} decimals",
                    t.symbol,
                    crate::limits::MAX_DECIMALS
                ));
            }
            let id = wrapped_asset_id(&t.l1_token);
            if ids.contains(&id) || !seen_ids.insert(id) {
                return Err(format!(
                    "the wrapped asset id {id} of bridge token {} collides with another asset",
                    t.symbol
                ));
            }
        }
        Ok(())
    }
}

crate::tagged_enum! {
    /// What a `bridge` transaction does. Deposits are not actions: blocks
    /// carry them (see the execution module).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "op", rename_all = "snake_case")]
    pub enum BridgeAction {
        /// Burns `amount` of the wrapped `asset` held by the sender and
        /// appends a leaf paying as much of its L1 token to `l1_recipient`.
        0x01 => Withdraw {
            /// A wrapped asset.
            asset: AssetId,
            /// Base units burned here and paid on L1.
            #[serde(with = "crate::amount")]
            amount: u128,
            /// Who the L1 bridge pays.
            l1_recipient: L1Address,
        },
    }
}

crate::tagged_enum! {
    /// Something the bridge did: a deposit applied at a block's start, a
    /// withdrawal requested by a transaction, a leaf appended at its end.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum BridgeEvent {
        /// An L1 deposit minted its wrapped asset to its recipient.
        0x01 => Deposited {
            /// The deposit's number on L1.
            count: u64,
            /// The L1 token escrowed.
            token: L1Address,
            /// Who deposited on L1.
            l1_sender: L1Address,
            /// Who received the wrapped asset.
            recipient: Address,
            /// The wrapped asset minted.
            asset: AssetId,
            /// Base units minted.
            #[serde(with = "crate::amount")]
            amount: u128,
        },
        /// An L1 deposit was applied (its count and hash advanced) but minted
        /// nothing, for `reason`; its funds stay escrowed on L1.
        0x02 => DepositUnminted {
            /// The deposit's number on L1.
            count: u64,
            /// The L1 token escrowed.
            token: L1Address,
            /// Who deposited on L1.
            l1_sender: L1Address,
            /// Who would have received the wrapped asset.
            recipient: Address,
            /// Base units escrowed on L1.
            #[serde(with = "crate::amount")]
            amount: u128,
            /// Why nothing was minted.
            reason: BridgeError,
        },
        /// A transaction handed `amount` of a wrapped asset to the bridge; the
        /// block's end burns it and appends its leaf
        /// ([`BridgeEvent::WithdrawalAppended`]).
        0x03 => WithdrawalRequested {
            /// Who withdraws.
            sender: Address,
            /// The wrapped asset.
            asset: AssetId,
            /// Its L1 token.
            token: L1Address,
            /// Base units.
            #[serde(with = "crate::amount")]
            amount: u128,
            /// Who the L1 bridge pays.
            l1_recipient: L1Address,
        },
        /// A withdrawal's leaf was appended to the tree at `index`: the block's
        /// commitment covers it from this block on.
        0x04 => WithdrawalAppended {
            /// The leaf's position.
            index: u64,
            /// The leaf's value ([`WithdrawalLeaf::hash`]).
            leaf_hash: Keccak,
            /// Who withdrew.
            sender: Address,
            /// Who the L1 bridge pays.
            l1_recipient: L1Address,
            /// The L1 token paid.
            token: L1Address,
            /// Base units paid.
            #[serde(with = "crate::amount")]
            amount: u128,
        },
    }
}

crate::tagged_enum! {
    /// Why a bridge action failed, a carried deposit was refused, or a
    /// deposit minted nothing.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
    #[serde(tag = "code", rename_all = "snake_case")]
    pub enum BridgeError {
        /// Genesis configured no bridge.
        #[error("this chain has no bridge")]
        0x01 => NoBridge {},
        /// The asset is not a wrapped L1 token.
        #[error("asset {asset} is not a bridged asset")]
        0x02 => NotWrapped {
            /// The asset named.
            asset: AssetId,
        },
        /// A withdrawal of nothing.
        #[error("withdrawal amount must be positive")]
        0x03 => ZeroAmount {},
        /// A withdrawal to the zero address, which the L1 bridge cannot pay.
        #[error("l1_recipient must not be the zero address")]
        0x04 => ZeroRecipient {},
        /// The withdrawal tree has no room for the block's withdrawals.
        #[error("the withdrawal tree is full ({capacity} leaves)")]
        0x05 => TreeFull {
            /// Leaves the tree holds.
            capacity: u64,
        },
        /// A deposit of an L1 token genesis did not list.
        #[error("L1 token 0x{token} is not bridged")]
        0x06 => UnknownToken {
            /// The L1 token deposited.
            token: L1Address,
        },
        /// A carried deposit that is not the next one.
        #[error("deposit {got} is out of order: the next deposit is {expected}")]
        0x07 => DepositOutOfOrder {
            /// The count the chain expects next.
            expected: u64,
            /// The count carried.
            got: u64,
        },
        /// A block carrying more deposits than any block may.
        #[error("a block carries at most {max} deposits")]
        0x08 => TooManyDeposits {
            /// [`MAX_DEPOSITS_PER_BLOCK`].
            max: u32,
        },
        /// Minting the deposit would overflow the wrapped asset's supply.
        #[error("minting {amount} of asset {asset} overflows its supply")]
        0x09 => MintOverflow {
            /// The wrapped asset.
            asset: AssetId,
            /// Base units deposited.
            #[serde(with = "crate::amount")]
            amount: u128,
        },
    }
}

/// Fee units of an action (roughly the state entries it writes).
pub fn units(action: &BridgeAction) -> u64 {
    match action {
        // Two balances now, the supply and up to two tree nodes at the block's end.
        BridgeAction::Withdraw { .. } => 4,
    }
}

/// Checks that hold regardless of state; ingest refuses an action that fails
/// them, and execution fails it with the same reason.
pub fn check_typed(action: &BridgeAction) -> Result<(), BridgeError> {
    match action {
        BridgeAction::Withdraw {
            amount,
            l1_recipient,
            ..
        } => {
            if *amount == 0 {
                return Err(BridgeError::ZeroAmount {});
            }
            if *l1_recipient == L1Address::default() {
                return Err(BridgeError::ZeroRecipient {});
            }
            Ok(())
        }
    }
}

/// [`check_typed`] with the reason as text (what ingest reports).
pub fn check(action: &BridgeAction) -> Result<(), String> {
    check_typed(action).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keccak_of_nothing_is_the_known_constant() {
        assert_eq!(
            keccak(&[]).to_hex(),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
    }

    #[test]
    fn a_proof_of_a_leaf_in_a_small_tree_verifies_and_no_other() {
        let empty = empty_subtree_roots();
        let leaf = |i: u64| WithdrawalLeaf {
            lakh_chain_id: 7,
            l1_chain_id: 31337,
            bridge: FixedBytes([9; 20]),
            index: i,
            lakh_sender: Address([1; 32]),
            l1_recipient: FixedBytes([2; 20]),
            token: ETHER,
            amount: 1_000 + u128::from(i),
        };
        let (a, b) = (leaf(0).hash(), leaf(1).hash());
        let mut root = node_hash(&a, &b);
        let mut siblings = [FixedBytes([0u8; 32]); WITHDRAWAL_TREE_DEPTH];
        siblings[0] = a;
        for height in 1..WITHDRAWAL_TREE_DEPTH {
            siblings[height] = empty[height];
            root = node_hash(&root, &empty[height]);
        }
        assert!(verify_withdrawal_proof(&b, 1, &siblings, &root));
        assert!(!verify_withdrawal_proof(&b, 0, &siblings, &root));
        assert!(!verify_withdrawal_proof(&a, 1, &siblings, &root));
    }

    #[test]
    fn the_running_hash_depends_on_every_field_and_the_order() {
        let d = |count, amount| L1Deposit {
            count,
            token: ETHER,
            l1_sender: FixedBytes([3; 20]),
            recipient: Address([4; 32]),
            amount,
        };
        let zero = FixedBytes([0u8; 32]);
        let ab = d(2, 5).chain(&d(1, 5).chain(&zero));
        assert_ne!(ab, d(2, 6).chain(&d(1, 5).chain(&zero)));
        assert_ne!(ab, d(1, 5).chain(&d(2, 5).chain(&zero)));
        let bytes = commonware_codec::Encode::encode(&d(1, 5));
        let decoded: L1Deposit = commonware_codec::DecodeExt::decode(bytes).unwrap();
        assert_eq!(decoded, d(1, 5));
    }

    #[test]
    fn the_action_events_and_errors_round_trip_in_codec_and_json() {
        use commonware_codec::{DecodeExt, Encode};
        let action = crate::Action::Bridge(BridgeAction::Withdraw {
            asset: wrapped_asset_id(&ETHER),
            amount: u128::MAX,
            l1_recipient: FixedBytes([7; 20]),
        });
        let decoded: crate::Action = DecodeExt::decode(action.encode()).unwrap();
        assert_eq!(decoded, action);
        let json = serde_json::to_value(&action).unwrap();
        assert_eq!(json["type"], "bridge", "{json}");
        assert_eq!(json["op"], "withdraw", "{json}");
        assert_eq!(
            serde_json::from_value::<crate::Action>(json).unwrap(),
            action
        );

        let event = crate::Event::Bridge(BridgeEvent::DepositUnminted {
            count: 3,
            token: FixedBytes([2; 20]),
            l1_sender: FixedBytes([3; 20]),
            recipient: Address([4; 32]),
            amount: 9,
            reason: BridgeError::UnknownToken {
                token: FixedBytes([2; 20]),
            },
        });
        let decoded: crate::Event = DecodeExt::decode(event.encode()).unwrap();
        assert_eq!(decoded, event);
        assert_eq!(event.accounts(), vec![Address([4; 32])]);

        let failure = crate::FailureReason::from(BridgeError::NotWrapped { asset: AssetId(5) });
        let decoded: crate::FailureReason = DecodeExt::decode(failure.encode()).unwrap();
        assert_eq!(decoded, failure);
        let json = serde_json::to_value(&failure).unwrap();
        assert_eq!(json["code"], "not_wrapped", "{json}");
        assert_eq!(
            BridgeError::UnknownToken {
                token: FixedBytes([0xab; 20])
            }
            .to_string(),
            format!("L1 token 0x{} is not bridged", "ab".repeat(20))
        );
        let zero = BridgeAction::Withdraw {
            asset: AssetId(1),
            amount: 0,
            l1_recipient: FixedBytes([7; 20]),
        };
        assert_eq!(check_typed(&zero), Err(BridgeError::ZeroAmount {}));
    }

    #[test]
    fn wrapped_ids_differ_per_token_and_never_are_native() {
        let ether = wrapped_asset_id(&ETHER);
        let other = wrapped_asset_id(&FixedBytes([1; 20]));
        assert_ne!(ether, other);
        assert_ne!(ether, AssetId::NATIVE);
        assert_eq!(ether, wrapped_asset_id(&ETHER));
    }
}
