//! Payment channels: two participants lock an asset on chain, pay each other
//! off chain with co-signed states, and settle on chain once.
//!
//! The chain keeps one register per channel: the latest state it has seen.
//! A state only replaces it with a strictly higher version, so after a
//! unilateral `close` the other participant (or anyone holding a newer
//! co-signed state, such as a watchtower) has `challenge_blocks` to `dispute`
//! with it; `settle` pays the register out once the window is over. No
//! penalty is needed: the latest version wins.
//!
//! A [`ChannelState`] carries the deposits and withdrawals it knows of, the
//! two balances and the total held by hash locks, with
//! `Σ balances + locked == Σ deposits − Σ withdrawn`. Deposits the state has
//! not seen go back to their depositor; a state must have seen every
//! withdrawal the chain paid. States are signed under [`STATE_NAMESPACE`]
//! (withdrawals under [`WITHDRAW_NAMESPACE`]), never the transaction
//! namespace, and those signatures are checked at ingest in the same batch as
//! transaction signatures ([`ChannelAction::signature_claims`]).
//!
//! PayWord channels are one-way: the payer commits to the root of a hash
//! chain at open; payment `k` is the `k`-th preimage, checked off chain with
//! one sha256; the payee claims with the deepest preimage it holds.

use crate::codec::BoundedVec;
use crate::modules::shielded::FixedBytes;
use crate::{Address, AssetId, PrivateKey, PublicKey, Signature};
use commonware_codec::{DecodeExt, Encode};
use commonware_cryptography::{Hasher, Sha256, Signer};
use serde::{Deserialize, Serialize};

pub mod query;

/// A channel's id: see [`channel_id`].
pub type ChannelId = FixedBytes<32>;
/// A sha256 digest (hash locks, lock roots, PayWord roots and preimages).
pub type Hash32 = FixedBytes<32>;
/// An ed25519 signature's 64 bytes.
pub type Sig64 = FixedBytes<64>;

/// Namespace of off-chain state signatures.
pub const STATE_NAMESPACE: &[u8] = b"lakh/channel/state/v1";
/// Namespace of withdrawal authorisations.
pub const WITHDRAW_NAMESPACE: &[u8] = b"lakh/channel/withdraw/v1";
const ID_DOMAIN: &[u8] = b"lakh/channel/id/v1";
const LOCKS_DOMAIN: &[u8] = b"lakh/channel/locks/v1";

/// Shortest challenge window: an hour of one-second blocks. A window short
/// enough to censor a dispute through is the main attack on a channel.
pub const MIN_CHALLENGE_BLOCKS: u64 = 3_600;
/// Longest challenge window (about 11.5 days of one-second blocks).
pub const MAX_CHALLENGE_BLOCKS: u64 = 1_000_000;
/// Most hash locks one state holds.
pub const MAX_LOCKS: usize = 16;
/// Longest PayWord hash chain (payments per PayWord channel).
pub const MAX_PAYWORD_LENGTH: u32 = 1 << 16;
/// PayWord hashes checked on chain per fee unit.
pub const PAYWORD_HASHES_PER_UNIT: u32 = 32;

/// Serde of a pair of amounts as two decimal strings.
pub mod amount_pair {
    use serde::{Deserialize, Deserializer, Serializer, ser::SerializeTuple};

    /// Writes `[a, b]` as two decimal strings.
    pub fn serialize<S: Serializer>(v: &[u128; 2], s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&v[0].to_string())?;
        t.serialize_element(&v[1].to_string())?;
        t.end()
    }

    /// Reads two amounts (strings or integers).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u128; 2], D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(with = "crate::amount")] u128);
        let [a, b] = <[W; 2]>::deserialize(d)?;
        Ok([a.0, b.0])
    }
}

crate::codec_struct! {
    /// What every action on an existing channel names, so the keys it touches
    /// are known from its payload: a payload that disagrees with the stored
    /// channel fails with [`ChannelError::WrongChannel`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ChannelRef {
        /// The channel's id.
        pub id: ChannelId,
        /// The two participants (their addresses are their ed25519 keys).
        pub participants: [Address; 2],
        /// The asset the channel holds.
        pub asset: AssetId,
    }
}

impl ChannelRef {
    /// Index of `who` among the participants.
    pub fn index_of(&self, who: &Address) -> Option<usize> {
        self.participants.iter().position(|p| p == who)
    }
}

crate::codec_struct! {
    /// An off-chain state of a two-party channel, co-signed by both.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ChannelState {
        /// The channel (binds the chain, participants, asset and counter).
        pub channel: ChannelId,
        /// Strictly increasing with every new state; 0 is the opening state.
        pub version: u64,
        /// Each participant's deposits the state has seen (base units).
        #[serde(with = "amount_pair")]
        pub deposits: [u128; 2],
        /// Each participant's withdrawals the state includes (base units).
        #[serde(with = "amount_pair")]
        pub withdrawn: [u128; 2],
        /// What each participant owns outright (base units).
        #[serde(with = "amount_pair")]
        pub balances: [u128; 2],
        /// Total of the hash locks (base units).
        #[serde(with = "crate::amount")]
        pub locked: u128,
        /// [`locks_root`] of the hash locks (all zero without locks).
        pub locks_root: Hash32,
        /// A final state only closes the channel cooperatively.
        pub is_final: bool,
    }
}

impl ChannelState {
    /// The state a channel opens with: `deposit` owned by `opener`.
    pub fn opening(channel: ChannelId, opener: usize, deposit: u128) -> ChannelState {
        let mut amounts = [0; 2];
        amounts[opener] = deposit;
        ChannelState {
            channel,
            version: 0,
            deposits: amounts,
            withdrawn: [0; 2],
            balances: amounts,
            locked: 0,
            locks_root: FixedBytes([0; 32]),
            is_final: false,
        }
    }

    /// `Σ deposits − Σ withdrawn`, in u128 (`None`: withdrawals exceed deposits).
    pub fn held(&self) -> Option<u128> {
        let deposits = self.deposits[0].checked_add(self.deposits[1])?;
        let withdrawn = self.withdrawn[0].checked_add(self.withdrawn[1])?;
        deposits.checked_sub(withdrawn)
    }

    /// Whether `Σ balances + locked == Σ deposits − Σ withdrawn` holds.
    pub fn is_balanced(&self) -> bool {
        let owned = self.balances[0]
            .checked_add(self.balances[1])
            .and_then(|b| b.checked_add(self.locked));
        owned.is_some() && owned == self.held()
    }

    /// The bytes signed for this state under [`STATE_NAMESPACE`].
    pub fn message(&self) -> Vec<u8> {
        self.encode().to_vec()
    }

    /// The bytes signed to let this state withdraw until `expiry_height`,
    /// under [`WITHDRAW_NAMESPACE`].
    pub fn withdraw_message(&self, expiry_height: u64) -> Vec<u8> {
        let mut msg = self.message();
        msg.extend_from_slice(&expiry_height.to_be_bytes());
        msg
    }

    /// Signs the state with `key` (one of the two signatures it needs).
    pub fn sign(&self, key: &PrivateKey) -> Sig64 {
        sig64(&key.sign(STATE_NAMESPACE, &self.message()))
    }

    /// Signs a withdrawal of this state valid until `expiry_height`.
    pub fn sign_withdraw(&self, key: &PrivateKey, expiry_height: u64) -> Sig64 {
        sig64(&key.sign(WITHDRAW_NAMESPACE, &self.withdraw_message(expiry_height)))
    }
}

fn sig64(sig: &Signature) -> Sig64 {
    let mut out = [0u8; 64];
    out.copy_from_slice(sig.as_ref());
    FixedBytes(out)
}

crate::codec_struct! {
    /// A state with both participants' signatures, in participant order.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct SignedState {
        /// The state.
        pub state: ChannelState,
        /// `signatures[i]` is participant `i`'s over [`STATE_NAMESPACE`].
        pub signatures: [Sig64; 2],
    }
}

crate::codec_struct! {
    /// A conditional payment: `amount` goes from participant `payer` to the
    /// other if the preimage of `hash_lock` is revealed on chain by
    /// `expiry_height`, and back to `payer` otherwise.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Lock {
        /// Index of the paying participant (0 or 1).
        pub payer: u8,
        /// Amount locked (base units).
        #[serde(with = "crate::amount")]
        pub amount: u128,
        /// sha256 of the secret.
        pub hash_lock: Hash32,
        /// Last height at which a reveal still pays.
        pub expiry_height: u64,
    }
}

/// The root a state commits its locks with: sha256 over a domain, the
/// channel and the encoded locks; all zero for no locks.
pub fn locks_root(channel: &ChannelId, locks: &[Lock]) -> Hash32 {
    if locks.is_empty() {
        return FixedBytes([0; 32]);
    }
    let encoded: Vec<u8> = locks.iter().flat_map(|l| l.encode().to_vec()).collect();
    FixedBytes(Sha256::hash(&[LOCKS_DOMAIN, &channel.0, &encoded]).0)
}

/// sha256 over `parts` concatenated.
pub fn digest(parts: &[&[u8]]) -> Hash32 {
    FixedBytes(Sha256::hash(parts).0)
}

/// sha256 of 32 bytes: the hash lock of a secret, one PayWord step.
pub fn hash32(bytes: &Hash32) -> Hash32 {
    FixedBytes(Sha256::hash(&[&bytes.0]).0)
}

/// The id of a channel: sha256 over a domain, the chain, both participants
/// in order, the asset, the pair's counter and the challenge window. The
/// counter grows with every channel the pair opens, so a reopened channel
/// has a new id and never accepts a state signed for an old one.
pub fn channel_id(
    chain_id: u64,
    participants: &[Address; 2],
    asset: AssetId,
    counter: u64,
    challenge_blocks: u64,
) -> ChannelId {
    let digest = Sha256::hash(&[
        ID_DOMAIN,
        &chain_id.to_be_bytes(),
        participants[0].as_bytes(),
        participants[1].as_bytes(),
        &asset.0.to_be_bytes(),
        &counter.to_be_bytes(),
        &challenge_blocks.to_be_bytes(),
    ]);
    FixedBytes(digest.0)
}

/// The PayWord root of a chain of `length` payments from `seed`:
/// `sha256^length(seed)`; payment `k` is `sha256^(length−k)(seed)`.
pub fn payword_root(seed: &Hash32, length: u32) -> Hash32 {
    payword_word(seed, length, 0)
}

/// Payment `k` (1-based) of the chain from `seed` of `length` payments
/// (`k = 0` is the root).
pub fn payword_word(seed: &Hash32, length: u32, k: u32) -> Hash32 {
    let mut word = *seed;
    for _ in 0..length.saturating_sub(k) {
        word = hash32(&word);
    }
    word
}

/// Whether `sha256^depth(preimage) == root`.
pub fn payword_verify(root: &Hash32, preimage: &Hash32, depth: u32) -> bool {
    let mut word = *preimage;
    for _ in 0..depth {
        word = hash32(&word);
    }
    word == *root
}

crate::tagged_enum! {
    /// What a `channel` transaction does.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "op", rename_all = "snake_case")]
    pub enum ChannelAction {
        /// Opens channel `channel.id` (which must be [`channel_id`] of the
        /// payload and the chain) with the sender's `deposit`. `counter` is
        /// the pair's next counter.
        0x01 => Open {
            /// The channel to open.
            channel: ChannelRef,
            /// The pair's counter (the `pair` query's `next_counter`).
            counter: u64,
            /// Length of the challenge window (blocks).
            challenge_blocks: u64,
            /// The sender's deposit (base units).
            #[serde(with = "crate::amount")]
            deposit: u128,
        },
        /// Adds to the sender's deposit while the channel is open.
        0x02 => Deposit {
            /// The channel.
            channel: ChannelRef,
            /// Amount added (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
        },
        /// Pays out what `state.withdrawn` adds to the chain's withdrawals,
        /// by both participants' authorisation valid until `expiry_height`,
        /// and registers the state.
        0x03 => Withdraw {
            /// The channel.
            channel: ChannelRef,
            /// The state after the withdrawal.
            state: ChannelState,
            /// Last height the authorisation is good for.
            expiry_height: u64,
            /// Both participants' signatures under [`WITHDRAW_NAMESPACE`].
            signatures: [Sig64; 2],
        },
        /// Closes at once with a final state.
        0x04 => CoopClose {
            /// The channel.
            channel: ChannelRef,
            /// The final state, co-signed.
            state: SignedState,
        },
        /// A participant closes alone with its latest state (or the one the
        /// chain holds), starting the challenge window.
        0x05 => Close {
            /// The channel.
            channel: ChannelRef,
            /// A newer state than the chain's, if any.
            state: Option<SignedState>,
        },
        /// Anyone replaces the closing state by a strictly newer one within
        /// the challenge window.
        0x06 => Dispute {
            /// The channel.
            channel: ChannelRef,
            /// The newer state, co-signed.
            state: SignedState,
        },
        /// Anyone pays out the registered state once the window is over.
        0x07 => Settle {
            /// The channel.
            channel: ChannelRef,
        },
        /// Anyone records the height at which `secret` became public.
        0x08 => RevealSecret {
            /// The preimage of a hash lock.
            secret: Hash32,
        },
        /// Anyone pays out a settled channel's locks: each to its payee if
        /// its secret was revealed by its expiry, back to its payer otherwise.
        0x09 => Unlock {
            /// The channel.
            channel: ChannelRef,
            /// The locks of the settled state, in the order it committed them.
            locks: BoundedVec<Lock, MAX_LOCKS>,
        },
        /// Opens a one-way PayWord channel from the sender (participant 0)
        /// to participant 1, depositing `length × unit_amount`.
        0x0a => PaywordOpen {
            /// The channel to open.
            channel: ChannelRef,
            /// The pair's counter.
            counter: u64,
            /// Length of the payer's refund window (blocks).
            challenge_blocks: u64,
            /// `sha256^length` of the payer's secret seed.
            root: Hash32,
            /// Payments the chain covers.
            length: u32,
            /// Value of one payment (base units).
            #[serde(with = "crate::amount")]
            unit_amount: u128,
        },
        /// Anyone closes a PayWord channel with the payee's deepest preimage:
        /// `depth × unit_amount` to the payee, the rest back to the payer.
        0x0b => PaywordClaim {
            /// The channel.
            channel: ChannelRef,
            /// Payment `depth` of the hash chain.
            preimage: Hash32,
            /// How many payments it proves.
            depth: u32,
        },
    }
}

/// One ed25519 signature an action carries beside its transaction's: ingest
/// verifies it in the transaction batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureClaim {
    /// Namespace signed under.
    pub namespace: &'static [u8],
    /// The signed bytes.
    pub message: Vec<u8>,
    /// The signer's address (its public key's bytes).
    pub signer: Address,
    /// The signature.
    pub signature: Sig64,
}

impl SignatureClaim {
    /// The signer's key and the signature, decoded (`None`: not a valid key
    /// or signature encoding, so the claim is false).
    pub fn decoded(&self) -> Option<(PublicKey, Signature)> {
        let key = PublicKey::decode(bytes::Bytes::copy_from_slice(self.signer.as_bytes())).ok()?;
        let signature = Signature::decode(bytes::Bytes::copy_from_slice(&self.signature.0)).ok()?;
        Some((key, signature))
    }

    /// Verifies the claim alone.
    pub fn verify(&self) -> bool {
        use commonware_cryptography::Verifier;
        self.decoded()
            .is_some_and(|(key, sig)| key.verify(self.namespace, &self.message, &sig))
    }
}

impl ChannelAction {
    /// The off-chain signatures the action carries, each with its signer.
    pub fn signature_claims(&self) -> Vec<SignatureClaim> {
        match self {
            ChannelAction::Withdraw {
                channel,
                state,
                expiry_height,
                signatures,
            } => claims(
                channel,
                WITHDRAW_NAMESPACE,
                state.withdraw_message(*expiry_height),
                signatures,
            ),
            ChannelAction::CoopClose { channel, state }
            | ChannelAction::Dispute { channel, state }
            | ChannelAction::Close {
                channel,
                state: Some(state),
            } => claims(
                channel,
                STATE_NAMESPACE,
                state.state.message(),
                &state.signatures,
            ),
            _ => Vec::new(),
        }
    }

    /// The channel the action is about, if any.
    pub fn channel(&self) -> Option<&ChannelRef> {
        match self {
            ChannelAction::RevealSecret { .. } => None,
            ChannelAction::Open { channel, .. }
            | ChannelAction::Deposit { channel, .. }
            | ChannelAction::Withdraw { channel, .. }
            | ChannelAction::CoopClose { channel, .. }
            | ChannelAction::Close { channel, .. }
            | ChannelAction::Dispute { channel, .. }
            | ChannelAction::Settle { channel }
            | ChannelAction::Unlock { channel, .. }
            | ChannelAction::PaywordOpen { channel, .. }
            | ChannelAction::PaywordClaim { channel, .. } => Some(channel),
        }
    }
}

fn claims(
    channel: &ChannelRef,
    namespace: &'static [u8],
    message: Vec<u8>,
    signatures: &[Sig64; 2],
) -> Vec<SignatureClaim> {
    (0..2)
        .map(|i| SignatureClaim {
            namespace,
            message: message.clone(),
            signer: channel.participants[i],
            signature: signatures[i],
        })
        .collect()
}

crate::tagged_enum! {
    /// Where a channel is in its life.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "status", rename_all = "snake_case")]
    pub enum ChannelStatus {
        /// Payments flow; deposits and withdrawals are possible.
        0x01 => Open {},
        /// A participant closed it; disputes are taken until `deadline_height`.
        0x02 => Closing {
            /// Who closed it.
            closed_by: Address,
            /// Last height a dispute is taken at; settle from the next one.
            deadline_height: u64,
        },
        /// Balances paid; the locks wait for `unlock`.
        0x03 => Settled {},
    }
}

crate::codec_struct! {
    /// A PayWord channel's terms.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Payword {
        /// `sha256^length` of the payer's seed.
        pub root: Hash32,
        /// Payments covered.
        pub length: u32,
        /// Value of one payment (base units).
        #[serde(with = "crate::amount")]
        pub unit_amount: u128,
    }
}

crate::codec_struct! {
    /// A channel as the chain keeps it. Removed once everything is paid out.
    ///
    /// Custody (`Address::module("channel", id)`) holds exactly
    /// `Σ deposits − Σ withdrawn` of `asset` until settlement, then the locks.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Channel {
        /// The channel's id.
        pub id: ChannelId,
        /// The two participants (the PayWord payer first).
        pub participants: [Address; 2],
        /// The asset held.
        pub asset: AssetId,
        /// The pair's counter it was opened with.
        pub counter: u64,
        /// Length of the challenge window (blocks).
        pub challenge_blocks: u64,
        /// Each participant's deposits (base units).
        #[serde(with = "amount_pair")]
        pub deposits: [u128; 2],
        /// Each participant's withdrawals (base units).
        #[serde(with = "amount_pair")]
        pub withdrawn: [u128; 2],
        /// The latest state registered (version 0: the opening state).
        pub state: ChannelState,
        /// Where the channel is in its life.
        pub status: ChannelStatus,
        /// PayWord terms; `None` for a two-party channel.
        pub payword: Option<Payword>,
    }
}

impl Channel {
    /// What the payload names about this channel.
    pub fn reference(&self) -> ChannelRef {
        ChannelRef {
            id: self.id,
            participants: self.participants,
            asset: self.asset,
        }
    }
}

crate::tagged_enum! {
    /// Something a `channel` action did, recorded in its receipt.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum ChannelEvent {
        /// A channel was opened and funded.
        0x01 => Opened {
            /// The channel.
            channel: ChannelId,
            /// The participant that opened and funded it.
            opener: Address,
            /// The other participant.
            peer: Address,
            /// The asset held.
            asset: AssetId,
            /// The opener's deposit (base units).
            #[serde(with = "crate::amount")]
            deposit: u128,
            /// Length of the challenge window (blocks).
            challenge_blocks: u64,
        },
        /// A participant added to its deposit.
        0x02 => Deposited {
            /// The channel.
            channel: ChannelId,
            /// The depositor.
            participant: Address,
            /// Amount added (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
        },
        /// Both participants' authorisation paid out withdrawals.
        0x03 => Withdrawn {
            /// The channel.
            channel: ChannelId,
            /// The state registered with it.
            version: u64,
            /// Paid to each participant (base units).
            #[serde(with = "amount_pair")]
            amounts: [u128; 2],
        },
        /// A participant closed the channel alone; the window runs.
        0x04 => Closing {
            /// The channel.
            channel: ChannelId,
            /// Who closed it.
            closed_by: Address,
            /// The version it closed with.
            version: u64,
            /// Last height a dispute is taken at.
            deadline_height: u64,
        },
        /// A newer state replaced the closing one.
        0x05 => Disputed {
            /// The channel.
            channel: ChannelId,
            /// Who submitted it.
            by: Address,
            /// The version now registered.
            version: u64,
        },
        /// Balances were paid out (cooperatively or after the window).
        0x06 => Settled {
            /// The channel.
            channel: ChannelId,
            /// The version paid out.
            version: u64,
            /// Paid to each participant (base units).
            #[serde(with = "amount_pair")]
            payouts: [u128; 2],
            /// Left in custody for the locks (base units).
            #[serde(with = "crate::amount")]
            locked: u128,
        },
        /// A secret was revealed.
        0x07 => SecretRevealed {
            /// sha256 of the secret: the hash lock it opens.
            hash_lock: Hash32,
            /// The secret.
            secret: Hash32,
        },
        /// A settled channel's locks were paid out; the channel is gone.
        0x08 => Unlocked {
            /// The channel.
            channel: ChannelId,
            /// Received by each participant (base units).
            #[serde(with = "amount_pair")]
            amounts: [u128; 2],
        },
        /// A PayWord channel was opened.
        0x09 => PaywordOpened {
            /// The channel.
            channel: ChannelId,
            /// Who pays.
            payer: Address,
            /// Who is paid.
            payee: Address,
            /// The asset.
            asset: AssetId,
            /// Payments covered.
            length: u32,
            /// Value of one payment (base units).
            #[serde(with = "crate::amount")]
            unit_amount: u128,
        },
        /// A PayWord channel was closed with a preimage.
        0x0a => PaywordClaimed {
            /// The channel.
            channel: ChannelId,
            /// Payments proven.
            depth: u32,
            /// Paid to the payee (base units).
            #[serde(with = "crate::amount")]
            paid: u128,
            /// Returned to the payer (base units).
            #[serde(with = "crate::amount")]
            refunded: u128,
        },
    }
}

crate::tagged_enum! {
    /// Why a `channel` action failed (or was refused at ingest).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
    #[serde(tag = "code", rename_all = "snake_case")]
    pub enum ChannelError {
        /// A deposit, unit or PayWord length of zero.
        #[error("amount must be positive")]
        0x01 => ZeroAmount {},
        /// Both participants are the same account.
        #[error("a channel needs two different participants")]
        0x02 => SameParticipant {},
        /// The challenge window is outside the allowed range.
        #[error("challenge window of {challenge_blocks} blocks is outside {min}..={max}")]
        0x03 => ChallengeOutOfRange {
            /// The window asked for.
            challenge_blocks: u64,
            /// Shortest allowed.
            min: u64,
            /// Longest allowed.
            max: u64,
        },
        /// The id named is not the one the payload derives on this chain.
        #[error("channel id {got} does not match the derived {expected}")]
        0x04 => WrongChannelId {
            /// The id the payload derives.
            expected: ChannelId,
            /// The id named.
            got: ChannelId,
        },
        /// The counter is not the pair's next one.
        #[error("the pair's next channel counter is {expected}, not {got}")]
        0x05 => WrongCounter {
            /// The pair's next counter.
            expected: u64,
            /// The counter named.
            got: u64,
        },
        /// A channel with this id exists already.
        #[error("channel {channel} already exists")]
        0x06 => ChannelExists {
            /// The channel.
            channel: ChannelId,
        },
        /// No channel has this id (never opened, or closed and paid out).
        #[error("no channel {channel}")]
        0x07 => UnknownChannel {
            /// The channel.
            channel: ChannelId,
        },
        /// The payload's participants or asset are not the channel's.
        #[error("the payload's participants or asset differ from channel {channel}'s")]
        0x08 => WrongChannel {
            /// The channel.
            channel: ChannelId,
        },
        /// The sender is not a participant (or not the one the action needs).
        #[error("{sender} may not do this on channel {channel}")]
        0x09 => NotParticipant {
            /// The channel.
            channel: ChannelId,
            /// The sender.
            sender: Address,
        },
        /// The channel is not open.
        #[error("channel {channel} is not open")]
        0x0a => NotOpen {
            /// The channel.
            channel: ChannelId,
        },
        /// The channel is not closing.
        #[error("channel {channel} is not closing")]
        0x0b => NotClosing {
            /// The channel.
            channel: ChannelId,
        },
        /// The challenge window is over.
        #[error("channel {channel}'s challenge window ended at {deadline_height} (now {height})")]
        0x0c => ChallengeOver {
            /// The channel.
            channel: ChannelId,
            /// Last height of the window.
            deadline_height: u64,
            /// Height of the executing block.
            height: u64,
        },
        /// The challenge window is still running.
        #[error("channel {channel}'s challenge window runs until {deadline_height} (now {height})")]
        0x0d => ChallengeRunning {
            /// The channel.
            channel: ChannelId,
            /// Last height of the window.
            deadline_height: u64,
            /// Height of the executing block.
            height: u64,
        },
        /// The channel is not settled (its locks cannot be paid yet).
        #[error("channel {channel} is not settled")]
        0x0e => NotSettled {
            /// The channel.
            channel: ChannelId,
        },
        /// A state not newer than the registered one.
        #[error("state version {version} is not newer than the registered {registered}")]
        0x0f => StaleVersion {
            /// The version submitted.
            version: u64,
            /// The version the chain holds.
            registered: u64,
        },
        /// A state for another channel.
        #[error("the state is for channel {state_channel}, not {channel}")]
        0x10 => StateChannel {
            /// The channel acted on.
            channel: ChannelId,
            /// The channel the state names.
            state_channel: ChannelId,
        },
        /// `Σ balances + locked != Σ deposits − Σ withdrawn` in the state.
        #[error("the state's balances and locks do not add up to its deposits less withdrawals")]
        0x11 => Unbalanced {},
        /// The state counts deposits the chain has not seen.
        #[error("the state counts deposits channel {channel} has not received")]
        0x12 => DepositsAhead {
            /// The channel.
            channel: ChannelId,
        },
        /// The state's withdrawals are not the chain's.
        #[error("the state's withdrawals differ from channel {channel}'s")]
        0x13 => WithdrawnMismatch {
            /// The channel.
            channel: ChannelId,
        },
        /// A cooperative close with a non-final state.
        #[error("a cooperative close needs a final state")]
        0x14 => NotFinal {},
        /// A final state with locks, or a lock total without a root (or the reverse).
        #[error("locked total and locks root disagree (a final state has no locks)")]
        0x15 => BadLocks {},
        /// A withdrawal authorisation past its expiry.
        #[error("the withdrawal expired at {expiry_height} (now {height})")]
        0x16 => Expired {
            /// Last height it was good for.
            expiry_height: u64,
            /// Height of the executing block.
            height: u64,
        },
        /// A withdrawal state that withdraws nothing new.
        #[error("the state withdraws nothing beyond channel {channel}'s withdrawals")]
        0x17 => NothingToWithdraw {
            /// The channel.
            channel: ChannelId,
        },
        /// The secret was revealed before.
        #[error("the secret of hash lock {hash_lock} is already revealed")]
        0x18 => SecretKnown {
            /// Its hash lock.
            hash_lock: Hash32,
        },
        /// The locks given are not the settled state's.
        #[error("the locks do not match channel {channel}'s locks root and total")]
        0x19 => LocksMismatch {
            /// The channel.
            channel: ChannelId,
        },
        /// A lock is neither revealed nor expired yet.
        #[error("lock {hash_lock} is undecided until height {expiry_height} (now {height})")]
        0x1a => LockPending {
            /// The lock's hash.
            hash_lock: Hash32,
            /// Its expiry.
            expiry_height: u64,
            /// Height of the executing block.
            height: u64,
        },
        /// An unlock without locks, or a lock with a payer index above 1.
        #[error("unlock needs 1 to {max} locks, each paid by participant 0 or 1")]
        0x1b => BadLockList {
            /// Most locks a state holds.
            max: u32,
        },
        /// A PayWord length or depth outside the allowed range.
        #[error("PayWord depth {depth} is outside 1..={length}")]
        0x1c => PaywordDepth {
            /// The depth or length named.
            depth: u32,
            /// Largest allowed.
            length: u32,
        },
        /// The preimage does not hash to the channel's root at that depth.
        #[error("the preimage does not hash to channel {channel}'s root in {depth} steps")]
        0x1d => BadPreimage {
            /// The channel.
            channel: ChannelId,
            /// Steps tried.
            depth: u32,
        },
        /// A two-party action on a PayWord channel or the reverse.
        #[error("channel {channel} is not of the kind this action needs")]
        0x1e => WrongKind {
            /// The channel.
            channel: ChannelId,
        },
    }
}

/// Fee units of an action (roughly the entries it writes, plus one per
/// off-chain signature and per [`PAYWORD_HASHES_PER_UNIT`] hashes).
pub fn units(action: &ChannelAction) -> u64 {
    let signatures = action.signature_claims().len() as u64;
    let writes = match action {
        // Channel, pair, two index heads, two index entries, two balances.
        ChannelAction::Open { .. } | ChannelAction::PaywordOpen { .. } => 8,
        ChannelAction::Deposit { .. } => 3,
        ChannelAction::Withdraw { .. } => 5,
        ChannelAction::CoopClose { .. } | ChannelAction::Settle { .. } => 4,
        ChannelAction::Close { .. } | ChannelAction::Dispute { .. } => 1,
        ChannelAction::RevealSecret { .. } => 1,
        ChannelAction::Unlock { locks, .. } => 4 + locks.len() as u64,
        ChannelAction::PaywordClaim { depth, .. } => {
            4 + u64::from(depth.div_ceil(PAYWORD_HASHES_PER_UNIT))
        }
    };
    writes + signatures
}

/// Checks that hold regardless of state; ingest refuses an action that fails
/// them with this reason.
pub fn check(action: &ChannelAction) -> Result<(), String> {
    check_typed(action).map_err(|e| e.to_string())
}

/// [`check`] with the typed reason (execution repeats these checks).
/// Signatures are not checked here: ingest verifies them in its batch.
pub fn check_typed(action: &ChannelAction) -> Result<(), ChannelError> {
    if let Some(channel) = action.channel()
        && channel.participants[0] == channel.participants[1]
    {
        return Err(ChannelError::SameParticipant {});
    }
    match action {
        ChannelAction::Open {
            challenge_blocks,
            deposit,
            ..
        } => {
            positive(*deposit)?;
            challenge_in_range(*challenge_blocks)
        }
        ChannelAction::Deposit { amount, .. } => positive(*amount),
        ChannelAction::Withdraw { channel, state, .. } => check_state(channel, state),
        ChannelAction::CoopClose { channel, state } => {
            if !state.state.is_final {
                return Err(ChannelError::NotFinal {});
            }
            check_state(channel, &state.state)
        }
        ChannelAction::Close { channel, state } => match state {
            Some(state) => check_state(channel, &state.state),
            None => Ok(()),
        },
        ChannelAction::Dispute { channel, state } => check_state(channel, &state.state),
        ChannelAction::Settle { .. } | ChannelAction::RevealSecret { .. } => Ok(()),
        ChannelAction::Unlock { locks, .. } => {
            if locks.is_empty() || locks.iter().any(|l| l.payer > 1) {
                return Err(ChannelError::BadLockList {
                    max: MAX_LOCKS as u32,
                });
            }
            Ok(())
        }
        ChannelAction::PaywordOpen {
            challenge_blocks,
            length,
            unit_amount,
            ..
        } => {
            positive(*unit_amount)?;
            if !(1..=MAX_PAYWORD_LENGTH).contains(length) {
                return Err(ChannelError::PaywordDepth {
                    depth: *length,
                    length: MAX_PAYWORD_LENGTH,
                });
            }
            challenge_in_range(*challenge_blocks)
        }
        ChannelAction::PaywordClaim { depth, .. } => {
            if !(1..=MAX_PAYWORD_LENGTH).contains(depth) {
                return Err(ChannelError::PaywordDepth {
                    depth: *depth,
                    length: MAX_PAYWORD_LENGTH,
                });
            }
            Ok(())
        }
    }
}

fn positive(amount: u128) -> Result<(), ChannelError> {
    if amount == 0 {
        return Err(ChannelError::ZeroAmount {});
    }
    Ok(())
}

fn challenge_in_range(challenge_blocks: u64) -> Result<(), ChannelError> {
    if !(MIN_CHALLENGE_BLOCKS..=MAX_CHALLENGE_BLOCKS).contains(&challenge_blocks) {
        return Err(ChannelError::ChallengeOutOfRange {
            challenge_blocks,
            min: MIN_CHALLENGE_BLOCKS,
            max: MAX_CHALLENGE_BLOCKS,
        });
    }
    Ok(())
}

/// What a state must satisfy on its own: it names the channel acted on,
/// adds up, has a version past the opening one, and its locks fields agree.
pub fn check_state(channel: &ChannelRef, state: &ChannelState) -> Result<(), ChannelError> {
    if state.channel != channel.id {
        return Err(ChannelError::StateChannel {
            channel: channel.id,
            state_channel: state.channel,
        });
    }
    if state.version == 0 {
        return Err(ChannelError::StaleVersion {
            version: 0,
            registered: 0,
        });
    }
    if !state.is_balanced() {
        return Err(ChannelError::Unbalanced {});
    }
    let no_root = state.locks_root.0 == [0; 32];
    if (state.locked == 0) != no_root || (state.is_final && state.locked > 0) {
        return Err(ChannelError::BadLocks {});
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::Decode;

    fn reference() -> ChannelRef {
        ChannelRef {
            id: FixedBytes([7; 32]),
            participants: [Address([1; 32]), Address([2; 32])],
            asset: AssetId(5),
        }
    }

    fn state(version: u64, balances: [u128; 2]) -> ChannelState {
        ChannelState {
            channel: FixedBytes([7; 32]),
            version,
            deposits: [100, 50],
            withdrawn: [0, 0],
            balances,
            locked: 0,
            locks_root: FixedBytes([0; 32]),
            is_final: false,
        }
    }

    fn signed(s: ChannelState) -> SignedState {
        SignedState {
            state: s,
            signatures: [FixedBytes([3; 64]), FixedBytes([4; 64])],
        }
    }

    #[test]
    fn actions_round_trip_in_binary_and_json() {
        let lock = Lock {
            payer: 1,
            amount: u128::MAX,
            hash_lock: FixedBytes([9; 32]),
            expiry_height: 77,
        };
        for a in [
            ChannelAction::Open {
                channel: reference(),
                counter: 3,
                challenge_blocks: MIN_CHALLENGE_BLOCKS,
                deposit: u128::MAX,
            },
            ChannelAction::Deposit {
                channel: reference(),
                amount: 1,
            },
            ChannelAction::Withdraw {
                channel: reference(),
                state: state(2, [90, 50]),
                expiry_height: 9,
                signatures: [FixedBytes([1; 64]), FixedBytes([2; 64])],
            },
            ChannelAction::Close {
                channel: reference(),
                state: None,
            },
            ChannelAction::Dispute {
                channel: reference(),
                state: signed(state(4, [75, 75])),
            },
            ChannelAction::Unlock {
                channel: reference(),
                locks: BoundedVec::new(vec![lock]).unwrap(),
            },
            ChannelAction::PaywordClaim {
                channel: reference(),
                preimage: FixedBytes([8; 32]),
                depth: 12,
            },
        ] {
            let bytes = a.encode();
            assert_eq!(ChannelAction::decode_cfg(bytes, &()).unwrap(), a);
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(serde_json::from_str::<ChannelAction>(&json).unwrap(), a);
        }
        let json = serde_json::to_value(state(1, [100, 50])).unwrap();
        assert_eq!(json["balances"], serde_json::json!(["100", "50"]));
    }

    #[test]
    fn states_must_add_up_and_name_the_channel() {
        let r = reference();
        assert_eq!(check_state(&r, &state(1, [100, 50])), Ok(()));
        assert_eq!(
            check_state(&r, &state(1, [100, 51])),
            Err(ChannelError::Unbalanced {})
        );
        let mut other = state(1, [100, 50]);
        other.channel = FixedBytes([8; 32]);
        assert!(matches!(
            check_state(&r, &other),
            Err(ChannelError::StateChannel { .. })
        ));
        let mut locked = state(1, [90, 50]);
        locked.locked = 10;
        assert_eq!(check_state(&r, &locked), Err(ChannelError::BadLocks {}));
        locked.locks_root = FixedBytes([1; 32]);
        assert_eq!(check_state(&r, &locked), Ok(()));
        locked.is_final = true;
        assert_eq!(check_state(&r, &locked), Err(ChannelError::BadLocks {}));
        let mut over = state(1, [u128::MAX, 1]);
        over.deposits = [u128::MAX, 1];
        assert_eq!(check_state(&r, &over), Err(ChannelError::Unbalanced {}));
        assert!(matches!(
            check_state(&r, &state(0, [100, 50])),
            Err(ChannelError::StaleVersion { .. })
        ));
    }

    #[test]
    fn stateless_checks_refuse_bad_payloads() {
        let mut same = reference();
        same.participants[1] = same.participants[0];
        assert_eq!(
            check_typed(&ChannelAction::Settle { channel: same }),
            Err(ChannelError::SameParticipant {})
        );
        let open = |deposit, challenge_blocks| ChannelAction::Open {
            channel: reference(),
            counter: 0,
            challenge_blocks,
            deposit,
        };
        assert_eq!(
            check_typed(&open(0, MIN_CHALLENGE_BLOCKS)),
            Err(ChannelError::ZeroAmount {})
        );
        assert!(matches!(
            check_typed(&open(1, MIN_CHALLENGE_BLOCKS - 1)),
            Err(ChannelError::ChallengeOutOfRange { .. })
        ));
        assert!(check(&open(1, MAX_CHALLENGE_BLOCKS + 1)).is_err());
        assert_eq!(check_typed(&open(1, MAX_CHALLENGE_BLOCKS)), Ok(()));
        let coop = ChannelAction::CoopClose {
            channel: reference(),
            state: signed(state(3, [100, 50])),
        };
        assert_eq!(check_typed(&coop), Err(ChannelError::NotFinal {}));
        let unlock = ChannelAction::Unlock {
            channel: reference(),
            locks: BoundedVec::empty(),
        };
        assert!(matches!(
            check_typed(&unlock),
            Err(ChannelError::BadLockList { .. })
        ));
        let claim = ChannelAction::PaywordClaim {
            channel: reference(),
            preimage: FixedBytes([0; 32]),
            depth: MAX_PAYWORD_LENGTH + 1,
        };
        assert!(matches!(
            check_typed(&claim),
            Err(ChannelError::PaywordDepth { .. })
        ));
    }

    #[test]
    fn ids_bind_every_parameter() {
        let p = [Address([1; 32]), Address([2; 32])];
        let base = channel_id(1, &p, AssetId(3), 0, 3_600);
        assert_ne!(base, channel_id(2, &p, AssetId(3), 0, 3_600));
        assert_ne!(base, channel_id(1, &[p[1], p[0]], AssetId(3), 0, 3_600));
        assert_ne!(base, channel_id(1, &p, AssetId(4), 0, 3_600));
        assert_ne!(base, channel_id(1, &p, AssetId(3), 1, 3_600));
        assert_ne!(base, channel_id(1, &p, AssetId(3), 0, 3_601));
    }

    #[test]
    fn signatures_verify_only_under_their_namespace() {
        let keys = [PrivateKey::from_seed(1), PrivateKey::from_seed(2)];
        let participants = [
            Address::from(&keys[0].public_key()),
            Address::from(&keys[1].public_key()),
        ];
        let channel = ChannelRef {
            participants,
            ..reference()
        };
        let s = state(1, [100, 50]);
        let action = ChannelAction::Dispute {
            channel,
            state: SignedState {
                signatures: [s.sign(&keys[0]), s.sign(&keys[1])],
                state: s.clone(),
            },
        };
        let claims = action.signature_claims();
        assert_eq!(claims.len(), 2);
        assert!(claims.iter().all(SignatureClaim::verify));
        let tx_sig = sig64(&keys[0].sign(crate::TX_NAMESPACE, &s.message()));
        let forged = SignatureClaim {
            signature: tx_sig,
            ..claims[0].clone()
        };
        assert!(!forged.verify());
        let swapped = ChannelAction::Dispute {
            channel,
            state: SignedState {
                signatures: [s.sign(&keys[1]), s.sign(&keys[0])],
                state: s,
            },
        };
        assert!(
            !swapped
                .signature_claims()
                .iter()
                .any(SignatureClaim::verify)
        );
    }

    #[test]
    fn payword_chains_verify_at_their_depth() {
        let seed = FixedBytes([5; 32]);
        let root = payword_root(&seed, 10);
        assert!(payword_verify(&root, &payword_word(&seed, 10, 3), 3));
        assert!(payword_verify(&root, &seed, 10));
        assert!(!payword_verify(&root, &payword_word(&seed, 10, 3), 4));
        // One hash per payment: word k hashes to word k - 1.
        assert_eq!(
            hash32(&payword_word(&seed, 10, 7)),
            payword_word(&seed, 10, 6)
        );
    }

    #[test]
    fn units_grow_with_signatures_locks_and_depth() {
        let close = |state| ChannelAction::Close {
            channel: reference(),
            state,
        };
        assert_eq!(
            units(&close(None)) + 2,
            units(&close(Some(signed(state(1, [100, 50])))))
        );
        let claim = |depth| ChannelAction::PaywordClaim {
            channel: reference(),
            preimage: FixedBytes([0; 32]),
            depth,
        };
        assert!(units(&claim(MAX_PAYWORD_LENGTH)) > 1_000 * units(&claim(1)) / 10);
    }
}
