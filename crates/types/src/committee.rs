//! Epochs and the consensus committee elected by stake.
//!
//! Epochs have a fixed length of `epoch_blocks` heights, as commonware's
//! `FixedEpocher::new(epoch_blocks)` counts them: epoch `e` covers heights
//! `[e * epoch_blocks, (e + 1) * epoch_blocks - 1]`, the genesis block being
//! height 0 of epoch 0. The block at [`last_height`]`(e)` elects the
//! committee of epoch `e + 1` ([`Committee`]); consensus commits its
//! [`Committee::digest`] in that block's header.

use crate::{
    Address,
    codec::BoundedVec,
    consensus_key::{CONSENSUS_KEY_BYTES, POP_BYTES},
};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// Fewest heights in an epoch (commonware's epocher and the boundary
/// handover need at least 3).
pub const MIN_EPOCH_BLOCKS: u64 = 3;
/// Default epoch length: an hour of idle blocks at the default 1 s
/// heartbeat (less under load). Each epoch starts new consensus engines and
/// updates the peer set, so epochs should not be short; stake changes take
/// effect at the next boundary, so they should not be very long either.
pub const DEFAULT_EPOCH_BLOCKS: u64 = 3_600;
/// Longest epoch (about a month at one block per second).
pub const MAX_EPOCH_BLOCKS: u64 = 2_592_000;
/// Most members of a committee: votes are counted per member and a
/// multisignature certificate carries a bitmap of the signers, so the
/// committee stays small.
pub const MAX_COMMITTEE_SIZE: usize = 100;
/// Default committee size (the maximum).
pub const DEFAULT_COMMITTEE_SIZE: usize = MAX_COMMITTEE_SIZE;
/// Default minimum self-bond (native base units): any positive bond, so
/// existing genesis files stay valid; a network should set a real price.
pub const DEFAULT_MIN_SELF_BOND: u128 = 1;

/// Staking parameters of the network (the genesis `staking` section).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StakingParams {
    /// Heights per epoch (at least [`MIN_EPOCH_BLOCKS`]).
    #[serde(default = "default_epoch_blocks")]
    pub epoch_blocks: u64,
    /// Most validators elected into a committee (1..=[`MAX_COMMITTEE_SIZE`]).
    #[serde(default = "default_committee_size")]
    pub committee_size: usize,
    /// Smallest self-bond (the validator's own delegation to itself, native
    /// base units) that keeps a validator a candidate for election; at least 1.
    #[serde(with = "crate::amount", default = "default_min_self_bond")]
    pub min_self_bond: u128,
    /// Penalties for faults and downtime (the genesis `staking.slashing`
    /// section; defaults when absent).
    #[serde(default)]
    pub slashing: SlashingParams,
}

/// Default share of bonded stake burned for a double sign: 5%, as Cosmos.
pub const DEFAULT_DOUBLE_SIGN_SLASH_BPS: u16 = 500;
/// Default share of bonded stake burned for downtime: 1%, the Cosmos SDK
/// default (the Cosmos Hub burns 0.01%).
pub const DEFAULT_DOWNTIME_SLASH_BPS: u16 = 100;
/// Default downtime window: carried finalization rounds of the validator's
/// committees (about one per block under load).
pub const DEFAULT_SIGNED_WINDOW_ROUNDS: u64 = 1_000;
/// Default share of a window's rounds a validator must sign: 50%, which
/// Byzantine proposers (under a third of the committee, choosing which
/// late votes to carry) cannot push an honest validator below.
pub const DEFAULT_MIN_SIGNED_BPS: u16 = 5_000;
/// Default time a downtime jail lasts before `unjail` is accepted: an hour
/// of idle blocks at the 1 s heartbeat.
pub const DEFAULT_JAIL_BLOCKS: u64 = 3_600;
/// Highest slash for one fault (50%): a single penalty never wipes out a
/// validator's stake, which keeps the stake factor above zero.
pub const MAX_SLASH_BPS: u16 = 5_000;

/// The slashing parameters of the network (the genesis `staking.slashing`
/// section). Shares are basis points of 10,000.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlashingParams {
    /// Share of bonded stake (delegations included) and of unbonding
    /// stake that backed the fault, burned for signing conflicting votes;
    /// the validator is then tombstoned.
    pub double_sign_slash_bps: u16,
    /// Share burned when a validator misses too many rounds of a window;
    /// it is then jailed for `jail_blocks`.
    pub downtime_slash_bps: u16,
    /// Rounds (carried finalizations of its committees) per downtime window.
    pub signed_window_rounds: u64,
    /// Share of a window's rounds a validator must sign.
    pub min_signed_bps: u16,
    /// Heights a downtime jail lasts before `unjail` is accepted.
    pub jail_blocks: u64,
}

impl Default for SlashingParams {
    fn default() -> Self {
        SlashingParams {
            double_sign_slash_bps: DEFAULT_DOUBLE_SIGN_SLASH_BPS,
            downtime_slash_bps: DEFAULT_DOWNTIME_SLASH_BPS,
            signed_window_rounds: DEFAULT_SIGNED_WINDOW_ROUNDS,
            min_signed_bps: DEFAULT_MIN_SIGNED_BPS,
            jail_blocks: DEFAULT_JAIL_BLOCKS,
        }
    }
}

impl SlashingParams {
    /// Most rounds of one window a validator may miss before it is jailed:
    /// the window less the rounds it must sign (rounded up).
    pub fn max_missed_rounds(&self) -> u64 {
        let window = u128::from(self.signed_window_rounds);
        let must_sign = (window * u128::from(self.min_signed_bps)).div_ceil(10_000);
        u64::try_from(window - must_sign.min(window)).unwrap_or(u64::MAX)
    }

    /// Checks the bounds; the error says which value is wrong and why.
    pub fn validate(&self) -> Result<(), String> {
        for (name, bps) in [
            ("double_sign_slash_bps", self.double_sign_slash_bps),
            ("downtime_slash_bps", self.downtime_slash_bps),
        ] {
            if bps > MAX_SLASH_BPS {
                return Err(format!(
                    "staking.slashing.{name} must be at most {MAX_SLASH_BPS} (50%), not {bps}"
                ));
            }
        }
        if self.min_signed_bps > 10_000 {
            return Err(format!(
                "staking.slashing.min_signed_bps must be at most 10000 (100%), not {}",
                self.min_signed_bps
            ));
        }
        if self.signed_window_rounds == 0 || self.jail_blocks == 0 {
            return Err(
                "staking.slashing.signed_window_rounds and jail_blocks must be at least 1".into(),
            );
        }
        Ok(())
    }
}

fn default_epoch_blocks() -> u64 {
    DEFAULT_EPOCH_BLOCKS
}
fn default_committee_size() -> usize {
    DEFAULT_COMMITTEE_SIZE
}
fn default_min_self_bond() -> u128 {
    DEFAULT_MIN_SELF_BOND
}

impl Default for StakingParams {
    fn default() -> Self {
        StakingParams {
            epoch_blocks: DEFAULT_EPOCH_BLOCKS,
            committee_size: DEFAULT_COMMITTEE_SIZE,
            min_self_bond: DEFAULT_MIN_SELF_BOND,
            slashing: SlashingParams::default(),
        }
    }
}

impl StakingParams {
    /// Whether these are the defaults (the genesis then omits the section).
    pub fn is_default(&self) -> bool {
        *self == StakingParams::default()
    }

    /// Checks the bounds; the error says which value is wrong and why.
    pub fn validate(&self) -> Result<(), String> {
        if !(MIN_EPOCH_BLOCKS..=MAX_EPOCH_BLOCKS).contains(&self.epoch_blocks) {
            return Err(format!(
                "staking.epoch_blocks must be {MIN_EPOCH_BLOCKS}..={MAX_EPOCH_BLOCKS} \
                 (an epoch needs at least 3 heights), not {}",
                self.epoch_blocks
            ));
        }
        if self.committee_size == 0 || self.committee_size > MAX_COMMITTEE_SIZE {
            return Err(format!(
                "staking.committee_size must be 1..={MAX_COMMITTEE_SIZE}, not {}",
                self.committee_size
            ));
        }
        if self.min_self_bond == 0 {
            return Err("staking.min_self_bond must be at least 1 base unit".into());
        }
        self.slashing.validate()
    }

    /// [`epoch_of`] with this epoch length.
    pub fn epoch_of(&self, height: u64) -> u64 {
        epoch_of(self.epoch_blocks, height)
    }

    /// The first height of `epoch` (saturating at `u64::MAX`).
    pub fn first_height(&self, epoch: u64) -> u64 {
        epoch.saturating_mul(self.epoch_blocks.max(1))
    }

    /// [`last_height`] with this epoch length.
    pub fn last_height(&self, epoch: u64) -> u64 {
        last_height(self.epoch_blocks, epoch)
    }

    /// [`is_last_in_epoch`] with this epoch length.
    pub fn is_last_in_epoch(&self, height: u64) -> bool {
        is_last_in_epoch(self.epoch_blocks, height)
    }
}

/// The epoch of `height` (epochs of `epoch_blocks` heights from height 0;
/// a length of 0 counts as 1).
pub fn epoch_of(epoch_blocks: u64, height: u64) -> u64 {
    height / epoch_blocks.max(1)
}

/// The last height of `epoch` (saturating at `u64::MAX`).
pub fn last_height(epoch_blocks: u64, epoch: u64) -> u64 {
    epoch
        .saturating_add(1)
        .saturating_mul(epoch_blocks.max(1))
        .saturating_sub(1)
}

/// Whether `height` is the last of its epoch: its block elects the next
/// epoch's committee.
pub fn is_last_in_epoch(epoch_blocks: u64, height: u64) -> bool {
    last_height(epoch_blocks, epoch_of(epoch_blocks, height)) == height
}

/// `N` raw bytes with hex JSON and a fixed-size codec: how consensus keys
/// and proofs of possession are stored, sent and committed (checked as
/// curve points when a validator registers; kept as bytes so reading state
/// does not repeat the curve checks).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FixedBytes<const N: usize>(pub [u8; N]);

impl<const N: usize> Default for FixedBytes<N> {
    fn default() -> Self {
        FixedBytes([0u8; N])
    }
}

/// The 48 bytes of a BLS12-381 G1 consensus key ([`crate::consensus_key`]).
pub type ConsensusKeyBytes = FixedBytes<CONSENSUS_KEY_BYTES>;
/// The 96 bytes of a proof of possession (G2).
pub type PopBytes = FixedBytes<POP_BYTES>;

impl<const N: usize> FixedBytes<N> {
    /// The encoding of `value` when it is `N` bytes long.
    pub fn of(value: &impl commonware_codec::Encode) -> Option<Self> {
        let bytes = value.encode();
        Some(FixedBytes(bytes.as_ref().try_into().ok()?))
    }

    /// Lowercase hex, `2 * N` characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl ConsensusKeyBytes {
    /// The key as a curve point (fails on bytes that are not one).
    pub fn parse(&self) -> Result<crate::consensus_key::ConsensusPublicKey, String> {
        crate::consensus_key::parse_consensus_key(&self.to_hex())
    }
}

impl PopBytes {
    /// The proof as a curve point (fails on bytes that are not one).
    pub fn parse(&self) -> Result<crate::consensus_key::ProofOfPossession, String> {
        crate::consensus_key::parse_pop(&self.to_hex())
    }
}

impl<const N: usize> std::fmt::Debug for FixedBytes<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0x{}", self.to_hex())
    }
}

impl<const N: usize> std::fmt::Display for FixedBytes<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl<const N: usize> std::str::FromStr for FixedBytes<N> {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.strip_prefix("0x").unwrap_or(s);
        let bytes = hex::decode(s).map_err(|e| format!("not hex: {e}"))?;
        let len = bytes.len();
        Ok(FixedBytes(bytes.try_into().map_err(|_| {
            format!("expected {N} bytes ({} hex characters), got {len}", 2 * N)
        })?))
    }
}

impl<const N: usize> Serialize for FixedBytes<N> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de, const N: usize> Deserialize<'de> for FixedBytes<N> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl<const N: usize> commonware_codec::Write for FixedBytes<N> {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        buf.put_slice(&self.0);
    }
}

impl<const N: usize> commonware_codec::FixedSize for FixedBytes<N> {
    const SIZE: usize = N;
}

impl<const N: usize> commonware_codec::Read for FixedBytes<N> {
    type Cfg = ();
    fn read_cfg(
        buf: &mut impl commonware_codec::Buf,
        _: &(),
    ) -> Result<Self, commonware_codec::Error> {
        Ok(FixedBytes(<[u8; N]>::read_cfg(buf, &())?))
    }
}

crate::codec_struct! {
    /// One member of a committee.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct CommitteeMember {
        /// The validator's ed25519 identity (its account address).
        pub identity: Address,
        /// Its BLS consensus key.
        pub consensus_key: ConsensusKeyBytes,
        /// Where peers reach its p2p listener.
        pub p2p_address: SocketAddr,
    }
}

crate::codec_struct! {
    /// The validators that vote in `epoch`, one vote each, sorted by
    /// identity bytes (the order of commonware's ordered sets, so a
    /// member's index is its signer index) and without repeats.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Committee {
        /// The epoch it votes in.
        pub epoch: u64,
        /// Its members, ascending by identity.
        pub members: BoundedVec<CommitteeMember, MAX_COMMITTEE_SIZE>,
    }
}

impl Committee {
    /// The committee of `epoch` with `members` in canonical order (sorted
    /// by identity, repeats of an identity dropped); `None` when there are
    /// more than [`MAX_COMMITTEE_SIZE`].
    pub fn new(epoch: u64, mut members: Vec<CommitteeMember>) -> Option<Committee> {
        members.sort_by_key(|m| m.identity);
        members.dedup_by(|a, b| a.identity == b.identity);
        Some(Committee {
            epoch,
            members: BoundedVec::new(members)?,
        })
    }

    /// Sha256 of the canonical encoding: what a block header commits to.
    pub fn digest(&self) -> [u8; 32] {
        use commonware_codec::Encode;
        use commonware_cryptography::{Hasher, Sha256};
        let digest = Sha256::hash(&[self.encode().as_ref()]);
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        out
    }

    /// Each member's identity and consensus key, as consensus and a
    /// certificate check use them (fails on bytes that are not keys).
    pub fn keys(
        &self,
    ) -> Result<Vec<(crate::PublicKey, crate::consensus_key::ConsensusPublicKey)>, String> {
        self.members
            .iter()
            .map(|m| {
                let identity = crate::address::parse_public_key(&m.identity.to_hex())
                    .map_err(|e| format!("member {}: {e}", m.identity))?;
                let key = m
                    .consensus_key
                    .parse()
                    .map_err(|e| format!("member {}: {e}", m.identity))?;
                Ok((identity, key))
            })
            .collect()
    }

    /// Whether `identity` is a member.
    pub fn contains(&self, identity: &Address) -> bool {
        self.members
            .binary_search_by(|m| m.identity.cmp(identity))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use commonware_codec::{Decode, Encode};

    #[test]
    fn epochs_follow_the_fixed_epocher() {
        // Epoch e covers [e*L, (e+1)*L - 1]; height 0 is in epoch 0.
        let l = 5;
        assert_eq!(epoch_of(l, 0), 0);
        assert_eq!(epoch_of(l, 4), 0);
        assert_eq!(epoch_of(l, 5), 1);
        assert_eq!(last_height(l, 0), 4);
        assert_eq!(last_height(l, 1), 9);
        let lasts: Vec<u64> = (0..16).filter(|h| is_last_in_epoch(l, *h)).collect();
        assert_eq!(lasts, vec![4, 9, 14]);
        for h in 0..100 {
            let e = epoch_of(l, h);
            assert!(last_height(l, e) >= h);
            assert!(e == 0 || last_height(l, e - 1) < h);
        }
        assert_eq!(last_height(l, u64::MAX), u64::MAX - 1);
        assert_eq!(epoch_of(0, 7), 7, "a zero length counts as 1");
    }

    #[test]
    fn params_are_bounded_with_reasons() {
        StakingParams::default().validate().unwrap();
        let bad = |p: StakingParams, word: &str| {
            let e = p.validate().unwrap_err();
            assert!(e.contains(word), "{e}");
        };
        let d = StakingParams::default();
        bad(
            StakingParams {
                epoch_blocks: 2,
                ..d
            },
            "epoch_blocks",
        );
        bad(
            StakingParams {
                committee_size: 0,
                ..d
            },
            "committee_size",
        );
        bad(
            StakingParams {
                committee_size: MAX_COMMITTEE_SIZE + 1,
                ..d
            },
            "committee_size",
        );
        bad(
            StakingParams {
                min_self_bond: 0,
                ..d
            },
            "min_self_bond",
        );
        let p: StakingParams = serde_json::from_str(r#"{"epoch_blocks": 30}"#).unwrap();
        assert_eq!(p.epoch_blocks, 30);
        assert_eq!(p.committee_size, DEFAULT_COMMITTEE_SIZE);
        assert!(serde_json::from_str::<StakingParams>(r#"{"epoch_block": 30}"#).is_err());
    }

    fn member(seed: u64, port: u16) -> CommitteeMember {
        use commonware_cryptography::Signer;
        let identity = crate::PrivateKey::from_seed(seed);
        let secret = crate::consensus_key::derive_consensus_key(&identity);
        CommitteeMember {
            identity: Address::from(&identity.public_key()),
            consensus_key: ConsensusKeyBytes::of(&crate::consensus_key::consensus_public_key(
                &secret,
            ))
            .unwrap(),
            p2p_address: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    #[test]
    fn committees_are_canonical_and_round_trip() {
        let members = vec![member(1, 1), member(2, 2), member(3, 3)];
        let a = Committee::new(4, members.clone()).unwrap();
        let mut reversed = members.clone();
        reversed.reverse();
        reversed.push(member(2, 2));
        let b = Committee::new(4, reversed).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.digest(), b.digest());
        assert!(a.members.windows(2).all(|w| w[0].identity < w[1].identity));
        assert!(a.contains(&members[1].identity));
        let bytes = a.encode();
        assert_eq!(Committee::decode_cfg(bytes, &()).unwrap(), a);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Committee>(&json).unwrap(), a);
        // The epoch is committed too.
        let c = Committee::new(5, members).unwrap();
        assert_ne!(c.digest(), a.digest());
        let many: Vec<_> = (0..=MAX_COMMITTEE_SIZE as u64)
            .map(|s| member(100 + s, 1))
            .collect();
        assert!(Committee::new(0, many).is_none());
        // The key bytes parse back into the curve point.
        let key = a.members[0].consensus_key;
        assert_eq!(ConsensusKeyBytes::of(&key.parse().unwrap()), Some(key));
        assert!("00".parse::<ConsensusKeyBytes>().is_err());
        assert_eq!(key.to_hex().parse::<ConsensusKeyBytes>(), Ok(key));
    }
}
