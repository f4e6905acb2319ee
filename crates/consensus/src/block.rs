//! The block: consensus context, execution header and the ordered transactions.
//!
//! The digest commits to every header field and to the list of transaction ids
//! (`tx_root`), so two blocks with the same digest carry the same transactions.

use bytes::BufMut;
use commonware_codec::Buf;
use commonware_codec::{
    EncodeSize, Error as CodecError, FixedSize, MaxEncodeSize, Read, ReadExt, Write,
};
use commonware_consensus::{
    Block as ConsensusBlock, BoundedBlock, CertifiableBlock, Heightable,
    simplex::types::Context,
    types::{Epoch, Height, Round, View},
};
use commonware_cryptography::{Digest as _, Digestible, Hasher, Sha256, ed25519, sha256};
use commonware_storage::merkle::Location;
use commonware_utils::range::NonEmptyRange;
pub use lakh_execution::modules::stake::MAX_FINALIZATIONS_PER_BLOCK;
pub use lakh_rpc::finality::BlockFinalization;
use lakh_rpc::types::{BlockHeaderInfo, BlockInfo, CarriedEvidence, CarriedFinalization, Hash32};
use lakh_state::db::Family;
use lakh_types::committee::{Committee, MAX_COMMITTEE_SIZE};
use lakh_types::limits::{MAX_BLOCK_TX_BYTES, MAX_BLOCK_TXS};
use lakh_types::modules::bridge::{BridgeCommitment, L1Deposit, MAX_DEPOSITS_PER_BLOCK};
use lakh_types::{Address, SignedTransaction, fees, tx};

use crate::evidence::{
    Evidence, MAX_EVIDENCE_BYTES_PER_BLOCK, evidence_list_encode_size, read_evidence_list,
    write_evidence_list,
};

/// Most bytes of an encoded `Option<Committee>`: the option tag, the epoch,
/// the member count and, per member, identity (32), consensus key (48) and
/// socket address (at most 19 bytes: tag, 16-byte IPv6 address, port).
const MAX_COMMITTEE_ENCODE_BYTES: usize = 1 + 8 + 5 + MAX_COMMITTEE_SIZE * (32 + 48 + 19);

/// Most bytes of one finalization certificate: its proposal (round and
/// parent view as varints of at most 10 bytes each, the block digest), the
/// signer bitmap (length varint and one bit per possible member) and the
/// aggregate G2 signature.
const MAX_FINALIZATION_ENCODE_BYTES: usize = 3 * 10 + 32 + 10 + MAX_COMMITTEE_SIZE.div_ceil(8) + 96;
use std::sync::Arc;

/// A digest as the RPC writes it.
pub fn hash32(d: &sha256::Digest) -> Hash32 {
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    Hash32(out)
}

/// The consensus signing scheme: BLS multisignatures, attributable (a
/// certificate names its signers); see [`lakh_rpc::finality`].
pub type Scheme = lakh_rpc::finality::Scheme;

pub type BlockContext = Context<sha256::Digest, ed25519::PublicKey>;
pub type OpsRange = NonEmptyRange<Location<Family>>;

/// Header fields a proposer computes by executing the block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub context: BlockContext,
    pub parent: sha256::Digest,
    pub height: Height,
    pub timestamp_ms: u64,
    /// Base fee per unit every transaction of this block pays.
    pub base_fee: u128,
    /// Fee units used by this block's transactions (steers the next base fee).
    pub used_units: u64,
    /// Global sequence number of this block's first transaction.
    pub first_tx_seq: u64,
    /// Canonical root of the state after this block (what proofs verify against).
    pub state_root: sha256::Digest,
    /// Operations root and range: what state sync checks peers' data against.
    pub ops_root: sha256::Digest,
    pub ops_range: OpsRange,
    /// What the block commits to about the Ethereum bridge (its chain id,
    /// withdrawal tree, L1 deposits applied): in the certified core, so the
    /// L1 light client reads it from a finalize certificate.
    pub bridge: BridgeCommitment,
    /// The last block of an epoch carries the committee its execution
    /// elected for the next epoch (`None` in every other block): the
    /// epochs actor starts the next engine from it, and a light client
    /// follows the chain of committees from the genesis through it.
    pub next_committee: Option<Committee>,
    /// Finalization certificates of earlier blocks, in ascending rounds
    /// after the last one state has paid (at most
    /// [`MAX_FINALIZATIONS_PER_BLOCK`]): their signers share the fee pot
    /// (`lakh_execution::modules::stake::rewards`).
    pub finalizations: Vec<BlockFinalization>,
    /// Evidence of consensus faults (at most
    /// `MAX_OFFENSES_PER_BLOCK` pieces and
    /// [`MAX_EVIDENCE_BYTES_PER_BLOCK`] bytes): each proves an offense
    /// that execution punishes ([`crate::evidence`]).
    pub evidence: Vec<Evidence>,
    /// L1 deposits this block applies, the next ones in count order (at most
    /// [`MAX_DEPOSITS_PER_BLOCK`]); every validator checks them against its
    /// own view of L1's finalized blocks.
    pub deposits: Vec<L1Deposit>,
}

#[derive(Clone, Debug)]
pub struct Block {
    pub header: Header,
    /// Shared, so cloning a block (marshal, the stateful actor, finalized-block
    /// notifications) never copies its transactions.
    pub txs: Arc<Vec<SignedTransaction>>,
    tx_root: sha256::Digest,
    digest: sha256::Digest,
}

impl PartialEq for Block {
    fn eq(&self, other: &Self) -> bool {
        self.digest == other.digest
    }
}
impl Eq for Block {}

/// A block's hash: `sha256(core ‖ carried_root ‖ tx_root)`. The core is
/// what the L1 light client parses (every field up to the next committee);
/// what a block carries for others (finalizations, evidence, deposits) is
/// committed by one hash so the light client never has to parse it.
pub fn header_digest(header: &Header, tx_root: &sha256::Digest) -> sha256::Digest {
    let core = header_core(header);
    let carried = carried_root(header);
    Sha256::hash(&[&core, carried.as_ref(), tx_root.as_ref()])
}

/// The codec encoding of the header's core: `context` through
/// `next_committee`, in field order.
pub fn header_core(header: &Header) -> Vec<u8> {
    let mut buf = Vec::with_capacity(core_encode_size(header));
    write_core(header, &mut buf);
    buf
}

/// sha256 over the encodings of the finalizations, evidence and deposits the
/// header carries, in that order.
pub fn carried_root(header: &Header) -> sha256::Digest {
    let mut buf = Vec::with_capacity(header.encode_size() - core_encode_size(header));
    write_carried(header, &mut buf);
    Sha256::hash(&[&buf])
}

fn write_core(h: &Header, buf: &mut impl BufMut) {
    h.context.write(buf);
    h.parent.write(buf);
    h.height.write(buf);
    h.timestamp_ms.write(buf);
    h.base_fee.write(buf);
    h.used_units.write(buf);
    h.first_tx_seq.write(buf);
    h.state_root.write(buf);
    h.ops_root.write(buf);
    h.ops_range.write(buf);
    h.bridge.write(buf);
    h.next_committee.write(buf);
}

fn write_carried(h: &Header, buf: &mut impl BufMut) {
    // Fits: at most MAX_FINALIZATIONS_PER_BLOCK.
    (h.finalizations.len() as u8).write(buf);
    for finalization in &h.finalizations {
        finalization.write(buf);
    }
    write_evidence_list(&h.evidence, buf);
    // Fits: at most MAX_DEPOSITS_PER_BLOCK.
    (h.deposits.len() as u16).write(buf);
    for deposit in &h.deposits {
        deposit.write(buf);
    }
}

fn core_encode_size(h: &Header) -> usize {
    h.context.encode_size()
        + sha256::Digest::SIZE
        + h.height.encode_size()
        + 8
        + 16
        + 8
        + 8
        + 2 * sha256::Digest::SIZE
        + h.ops_range.encode_size()
        + BridgeCommitment::SIZE
        + h.next_committee.encode_size()
}

fn read_deposits(buf: &mut impl Buf) -> Result<Vec<L1Deposit>, CodecError> {
    let count = usize::from(u16::read(buf)?);
    if count > MAX_DEPOSITS_PER_BLOCK {
        return Err(CodecError::Invalid(
            "Header",
            "more deposits than a block may carry",
        ));
    }
    (0..count).map(|_| L1Deposit::read(buf)).collect()
}

fn tx_root(txs: &[SignedTransaction]) -> sha256::Digest {
    let mut hasher = Sha256::default();
    for t in txs {
        hasher.update(&t.id().0);
    }
    hasher.finalize().1
}

/// What the RPC shows of a finalization a block carries.
fn carried(f: &BlockFinalization) -> CarriedFinalization {
    let round = f.proposal.round;
    CarriedFinalization {
        epoch: round.epoch().get(),
        view: round.view().get(),
        block_hash: hash32(&f.proposal.payload),
        signers: f.certificate.signers.iter().map(|p| p.get()).collect(),
    }
}

/// What the RPC shows of a piece of evidence a block carries.
fn carried_evidence(e: &Evidence) -> CarriedEvidence {
    CarriedEvidence {
        fault: crate::evidence::fault_name(e.fault()).to_string(),
        epoch: e.epoch(),
        view: e.view(),
        signer: e.signer(),
    }
}

impl Block {
    pub fn new(header: Header, txs: Vec<SignedTransaction>) -> Self {
        let tx_root = tx_root(&txs);
        let digest = header_digest(&header, &tx_root);
        Block {
            header,
            txs: Arc::new(txs),
            tx_root,
            digest,
        }
    }

    /// What the RPC shows of a block: its header and transaction ids.
    pub fn info(&self) -> BlockInfo {
        let h = &self.header;
        BlockInfo {
            header: BlockHeaderInfo {
                height: h.height.get(),
                hash: hash32(&self.digest),
                parent: hash32(&h.parent),
                state_root: hash32(&h.state_root),
                proposer: self.proposer(),
                view: h.context.round.view().get(),
                base_fee: h.base_fee,
                used_units: h.used_units,
                tx_count: self.txs.len() as u64,
                timestamp_ms: h.timestamp_ms,
                next_committee: h.next_committee.clone(),
                finalizations: h.finalizations.iter().map(carried).collect(),
                evidence: h.evidence.iter().map(carried_evidence).collect(),
            },
            tx_ids: self.txs.iter().map(|t| t.id()).collect(),
            block_events: Vec::new(),
        }
    }

    /// Base fee of the block built on this one.
    pub fn next_base_fee(&self, params: &fees::FeeParams) -> u128 {
        fees::base_fee_after(
            params,
            self.header.height.get(),
            self.header.base_fee,
            self.header.used_units,
        )
    }

    /// The genesis block of a chain: height 0 over the empty database (the
    /// genesis allocation is applied by block 1). Nothing has executed yet, so
    /// its `state_root` carries `chain_tag`, the hash of the genesis
    /// definition: every network gets a distinct genesis digest.
    pub fn genesis(
        chain_tag: sha256::Digest,
        ops_root: sha256::Digest,
        ops_range: OpsRange,
    ) -> Self {
        use commonware_cryptography::Signer;
        Block::new(
            Header {
                context: Context {
                    round: Round::new(Epoch::zero(), View::zero()),
                    leader: ed25519::PrivateKey::from_seed(0).public_key(),
                    parent: (View::zero(), sha256::Digest::EMPTY),
                },
                parent: sha256::Digest::EMPTY,
                height: Height::zero(),
                timestamp_ms: 0,
                base_fee: 0,
                used_units: 0,
                first_tx_seq: 0,
                state_root: chain_tag,
                ops_root,
                ops_range,
                bridge: BridgeCommitment::default(),
                next_committee: None,
                finalizations: Vec::new(),
                evidence: Vec::new(),
                deposits: Vec::new(),
            },
            Vec::new(),
        )
    }

    pub fn tx_root(&self) -> sha256::Digest {
        self.tx_root
    }

    pub fn proposer(&self) -> Address {
        Address::from(&self.header.context.leader)
    }

    pub fn height_u64(&self) -> u64 {
        self.header.height.get()
    }
}

impl Write for Header {
    fn write(&self, buf: &mut impl BufMut) {
        write_core(self, buf);
        write_carried(self, buf);
    }
}
impl EncodeSize for Header {
    fn encode_size(&self) -> usize {
        core_encode_size(self)
            + 1
            + self
                .finalizations
                .iter()
                .map(EncodeSize::encode_size)
                .sum::<usize>()
            + evidence_list_encode_size(&self.evidence)
            + 2
            + self.deposits.len() * L1Deposit::SIZE
    }
}
impl Read for Header {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(Header {
            context: BlockContext::read(buf)?,
            parent: sha256::Digest::read(buf)?,
            height: Height::read(buf)?,
            timestamp_ms: u64::read(buf)?,
            base_fee: u128::read(buf)?,
            used_units: u64::read(buf)?,
            first_tx_seq: u64::read(buf)?,
            state_root: sha256::Digest::read(buf)?,
            ops_root: sha256::Digest::read(buf)?,
            ops_range: OpsRange::read(buf)?,
            bridge: BridgeCommitment::read(buf)?,
            next_committee: Option::<Committee>::read(buf)?,
            finalizations: read_finalizations(buf)?,
            evidence: read_evidence_list(buf)?,
            deposits: read_deposits(buf)?,
        })
    }
}

fn read_finalizations(buf: &mut impl Buf) -> Result<Vec<BlockFinalization>, CodecError> {
    let count = usize::from(u8::read(buf)?);
    if count > MAX_FINALIZATIONS_PER_BLOCK {
        return Err(CodecError::Invalid(
            "Header",
            "more finalizations than a block may carry",
        ));
    }
    (0..count)
        .map(|_| BlockFinalization::read_cfg(buf, &MAX_COMMITTEE_SIZE))
        .collect()
}

impl Write for Block {
    fn write(&self, buf: &mut impl BufMut) {
        self.header.write(buf);
        tx::write_tx_list(&self.txs, buf);
    }
}
impl EncodeSize for Block {
    fn encode_size(&self) -> usize {
        self.header.encode_size() + tx::tx_list_encode_size(&self.txs)
    }
}
impl Read for Block {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let header = Header::read(buf)?;
        let txs = tx::read_tx_list(buf, MAX_BLOCK_TXS)?;
        let bytes: usize = txs.iter().map(|t| t.encoded_len()).sum();
        if bytes > MAX_BLOCK_TX_BYTES {
            return Err(CodecError::Invalid(
                "Block",
                "transactions exceed the block byte limit",
            ));
        }
        Ok(Block::new(header, txs))
    }
}

impl Digestible for Block {
    type Digest = sha256::Digest;
    fn digest(&self) -> sha256::Digest {
        self.digest
    }
}
impl Heightable for Block {
    fn height(&self) -> Height {
        self.header.height
    }
}
impl ConsensusBlock for Block {
    fn parent(&self) -> sha256::Digest {
        self.header.parent
    }
}
impl CertifiableBlock for Block {
    type Context = BlockContext;
    fn context(&self) -> BlockContext {
        self.header.context.clone()
    }
}
impl BoundedBlock for Block {
    fn max_encode_size(_: &()) -> usize {
        BlockContext::MAX_ENCODE_SIZE
            + sha256::Digest::SIZE
            + Height::MAX_ENCODE_SIZE
            + 8
            + 16
            + 8
            + 8
            + 2 * sha256::Digest::SIZE
            + OpsRange::MAX_ENCODE_SIZE
            + BridgeCommitment::SIZE
            + MAX_COMMITTEE_ENCODE_BYTES
            + 1
            + MAX_FINALIZATIONS_PER_BLOCK * MAX_FINALIZATION_ENCODE_BYTES
            + 1
            + MAX_EVIDENCE_BYTES_PER_BLOCK
            + 2
            + MAX_DEPOSITS_PER_BLOCK * L1Deposit::SIZE
            + 10
            + MAX_BLOCK_TXS * 3
            + MAX_BLOCK_TX_BYTES
    }
}
