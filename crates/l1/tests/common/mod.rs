//! What the L1 tests share: a committee signing with lakh's own key
//! derivation, header cores encoded to the spec of
//! `lakh_consensus::block::header_core`, and a deployed anvil.
#![allow(clippy::unwrap_used, dead_code)]

use alloy::primitives::{Address as L1Addr, B256, U256};
use alloy::providers::Provider;
use bytes::BufMut;
use commonware_codec::{Encode, Write, varint::UInt};
use commonware_consensus::simplex::types::{
    Finalization, Finalize, Notarization, Notarize, Nullification, Nullify, Proposal,
};
use commonware_consensus::types::{Epoch, Round, View};
use commonware_cryptography::{Hasher, Sha256, Signer, ed25519, sha256};
use commonware_parallel::Sequential;
use commonware_utils::{non_empty, ordered::BiMap};
use lakh_l1::anvil::Anvil;
use lakh_l1::contracts::{LakhBridge, LakhLightClient};
use lakh_l1::relay::{CertifiedHeader, Posted};
use lakh_l1::{BridgeParams, Deployment, GenesisMember, L1Provider};
use lakh_rpc::finality::{BlockFinalization, Scheme};
use lakh_types::committee::{Committee, CommitteeMember, FixedBytes};
use lakh_types::consensus_key::{
    CONSENSUS_NAMESPACE, ConsensusPublicKey, consensus_public_key, derive_consensus_key,
    prove_possession,
};
use lakh_types::modules::bridge::BridgeCommitment;

pub const LAKH_CHAIN_ID: u64 = 7;
pub const EPOCH_BLOCKS: u64 = 10;
pub const CHALLENGE_SECONDS: u64 = 3_600;
pub const RECLAIM_SECONDS: u64 = 86_400;

pub struct Validator {
    pub identity: ed25519::PrivateKey,
    pub key: ConsensusPublicKey,
    pub scheme: Scheme,
}

/// A committee in lakh's order (ascending identity), one signer each.
pub struct TestCommittee {
    pub epoch: u64,
    pub validators: Vec<Validator>,
}

impl TestCommittee {
    pub fn new(epoch: u64, seeds: std::ops::Range<u64>) -> Self {
        let mut identities: Vec<_> = seeds.map(ed25519::PrivateKey::from_seed).collect();
        identities.sort_by_key(|k| k.public_key());
        let members: Vec<(ed25519::PublicKey, ConsensusPublicKey)> = identities
            .iter()
            .map(|k| {
                (
                    k.public_key(),
                    consensus_public_key(&derive_consensus_key(k)),
                )
            })
            .collect();
        let map = BiMap::try_from(members.clone()).unwrap();
        let validators = identities
            .into_iter()
            .zip(members)
            .map(|(identity, (_, key))| {
                let scheme = Scheme::signer(
                    CONSENSUS_NAMESPACE,
                    map.clone(),
                    derive_consensus_key(&identity),
                )
                .unwrap();
                Validator {
                    identity,
                    key,
                    scheme,
                }
            })
            .collect();
        TestCommittee { epoch, validators }
    }

    pub fn len(&self) -> usize {
        self.validators.len()
    }

    pub fn keys(&self) -> Vec<ConsensusPublicKey> {
        self.validators.iter().map(|v| v.key).collect()
    }

    pub fn genesis_members(&self) -> Vec<GenesisMember> {
        self.validators
            .iter()
            .map(|v| GenesisMember {
                identity: identity_bytes(&v.identity),
                key: v.key,
                pop: prove_possession(&derive_consensus_key(&v.identity), &v.identity.public_key()),
            })
            .collect()
    }

    /// The committee as a header's `next_committee` carries it.
    pub fn as_committee(&self) -> Committee {
        let members = self
            .validators
            .iter()
            .enumerate()
            .map(|(i, v)| CommitteeMember {
                identity: lakh_types::Address(identity_bytes(&v.identity)),
                consensus_key: FixedBytes::of(&v.key).unwrap(),
                p2p_address: format!("127.0.0.1:{}", 9000 + i).parse().unwrap(),
            })
            .collect();
        Committee::new(self.epoch, members).unwrap()
    }

    /// A finalization of `proposal` signed by the members `who`.
    pub fn finalize(
        &self,
        proposal: &Proposal<sha256::Digest>,
        who: &[usize],
    ) -> BlockFinalization {
        let votes: Vec<_> = who
            .iter()
            .map(|i| Finalize::sign(&self.validators[*i].scheme, proposal.clone()).unwrap())
            .collect();
        Finalization::from_finalizes(
            &self.validators[0].scheme,
            non_empty![@votes.iter()],
            &Sequential,
        )
        .unwrap()
    }

    /// A finalization certificate claiming the signers `bitmap` but
    /// aggregating the finalize votes of `who` (commonware itself refuses to
    /// assemble one below quorum).
    pub fn forge(
        &self,
        proposal: &Proposal<sha256::Digest>,
        who: &[usize],
        bitmap: &[u32],
    ) -> BlockFinalization {
        use commonware_cryptography::bls12381::{
            certificate::multisig::Certificate, primitives::ops::aggregate::combine_signatures,
            primitives::variant::MinPk,
        };
        use commonware_cryptography::certificate::Signers;
        let votes: Vec<_> = who
            .iter()
            .map(|i| Finalize::sign(&self.validators[*i].scheme, proposal.clone()).unwrap())
            .collect();
        let signatures: Vec<_> = votes
            .iter()
            .map(|v| *v.attestation.signature.get().unwrap())
            .collect();
        let certificate = Certificate {
            signers: Signers::new(
                self.len() as u32,
                bitmap
                    .iter()
                    .map(|i| commonware_utils::Participant::new(*i)),
            )
            .unwrap(),
            signature: combine_signatures::<MinPk, _>(non_empty![@signatures.iter()]).into(),
        };
        Finalization {
            proposal: proposal.clone(),
            certificate,
        }
    }

    /// A notarization of `proposal`, dressed as a finalization.
    pub fn notarize(
        &self,
        proposal: &Proposal<sha256::Digest>,
        who: &[usize],
    ) -> BlockFinalization {
        let votes: Vec<_> = who
            .iter()
            .map(|i| Notarize::sign(&self.validators[*i].scheme, proposal.clone()).unwrap())
            .collect();
        let n = Notarization::from_notarizes(
            &self.validators[0].scheme,
            non_empty![@votes.iter()],
            &Sequential,
        )
        .unwrap();
        Finalization {
            proposal: proposal.clone(),
            certificate: n.certificate,
        }
    }

    /// A nullification of `proposal`'s round, dressed as a finalization.
    pub fn nullify(&self, proposal: &Proposal<sha256::Digest>, who: &[usize]) -> BlockFinalization {
        let votes: Vec<_> = who
            .iter()
            .map(|i| {
                Nullify::sign::<sha256::Digest>(&self.validators[*i].scheme, proposal.round)
                    .unwrap()
            })
            .collect();
        let n = Nullification::from_nullifies(
            &self.validators[0].scheme,
            non_empty![@votes.iter()],
            &Sequential,
        )
        .unwrap();
        Finalization {
            proposal: proposal.clone(),
            certificate: n.certificate,
        }
    }
}

pub fn identity_bytes(key: &ed25519::PrivateKey) -> [u8; 32] {
    key.public_key().encode().as_ref().try_into().unwrap()
}

/// The header fields the light client reads, encoded as
/// `lakh_consensus::block::header_core` does.
#[derive(Clone, Debug)]
pub struct Core {
    pub epoch: u64,
    pub view: u64,
    pub parent_view: u64,
    pub height: u64,
    pub state_root: [u8; 32],
    pub bridge: BridgeCommitment,
    pub next_committee: Option<Committee>,
}

impl Core {
    pub fn new(height: u64, bridge: BridgeCommitment) -> Self {
        Core {
            epoch: height / EPOCH_BLOCKS,
            view: height + 3,
            parent_view: height + 2,
            height,
            state_root: [height as u8; 32],
            bridge,
            next_committee: None,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        UInt(self.epoch).write(&mut buf);
        UInt(self.view).write(&mut buf);
        buf.put_slice(&[0xAB; 32]); // leader
        UInt(self.parent_view).write(&mut buf);
        buf.put_slice(&[0xCD; 32]); // parent payload
        buf.put_slice(&[0xCD; 32]); // parent
        UInt(self.height).write(&mut buf);
        (1_700_000_000_000u64 + self.height).write(&mut buf); // timestamp_ms
        7u128.write(&mut buf); // base_fee
        21u64.write(&mut buf); // used_units
        (100 * self.height).write(&mut buf); // first_tx_seq
        buf.put_slice(&self.state_root);
        buf.put_slice(&[0x0F; 32]); // ops_root
        UInt(5 * self.height).write(&mut buf);
        UInt(5 * self.height + 5).write(&mut buf);
        self.bridge.write(&mut buf);
        self.next_committee.write(&mut buf);
        buf
    }

    pub fn proposal(&self, digest: [u8; 32]) -> Proposal<sha256::Digest> {
        Proposal::new(
            Round::new(Epoch::new(self.epoch), View::new(self.view)),
            View::new(self.parent_view),
            sha256::Digest::from(digest),
        )
    }
}

/// A certified header of `core`, signed by `who` of `committee`; below
/// quorum, a certificate assembled by hand.
pub fn certify(core: &Core, committee: &TestCommittee, who: &[usize]) -> CertifiedHeader {
    let bytes = core.encode();
    let carried_root: [u8; 32] = Sha256::hash(&[b"carried"]).as_ref().try_into().unwrap();
    let tx_root: [u8; 32] = Sha256::hash(&[b"txs"]).as_ref().try_into().unwrap();
    let digest = Sha256::hash(&[&bytes, &carried_root, &tx_root]);
    CertifiedHeader {
        core: bytes,
        carried_root,
        tx_root,
        finalization: {
            let proposal = core.proposal(digest.as_ref().try_into().unwrap());
            let quorum = committee.len() - (committee.len() - 1) / 3;
            if who.len() >= quorum {
                committee.finalize(&proposal, who)
            } else {
                let bitmap: Vec<u32> = who.iter().map(|i| *i as u32).collect();
                committee.forge(&proposal, who, &bitmap)
            }
        },
    }
}

pub struct Env {
    pub anvil: Anvil,
    pub provider: L1Provider,
    pub deployment: Deployment,
    pub committee: TestCommittee,
}

impl Env {
    pub async fn new(n: u64) -> Env {
        let anvil = Anvil::spawn().await.unwrap();
        let provider = anvil.provider(0).unwrap();
        let committee = TestCommittee::new(0, 1..1 + n);
        let guardian = provider.get_accounts().await.unwrap()[0];
        let deployment =
            lakh_l1::deploy(&provider, &params(guardian), &committee.genesis_members())
                .await
                .unwrap();
        Env {
            anvil,
            provider,
            deployment,
            committee,
        }
    }

    pub fn light_client(&self) -> LakhLightClient::LakhLightClientInstance<&L1Provider> {
        LakhLightClient::new(self.deployment.light_client, &self.provider)
    }

    pub fn bridge(&self) -> LakhBridge::LakhBridgeInstance<&L1Provider> {
        LakhBridge::new(self.deployment.bridge, &self.provider)
    }

    /// Posts `core` certified by `who` of the genesis committee.
    pub async fn post(&self, core: &Core, who: &[usize]) -> anyhow::Result<Posted> {
        let header = certify(core, &self.committee, who);
        lakh_l1::relay::post_checkpoint(
            &self.provider,
            self.deployment.light_client,
            &header,
            &self.committee.keys(),
            &[],
        )
        .await
    }

    /// Makes the next block's timestamp `timestamp_seconds`.
    pub async fn set_next_timestamp(&self, timestamp_seconds: u64) {
        let _: serde_json::Value = self
            .provider
            .raw_request("evm_setNextBlockTimestamp".into(), (timestamp_seconds,))
            .await
            .unwrap();
    }

    /// Mines an empty block at `timestamp_seconds`.
    pub async fn mine_at(&self, timestamp_seconds: u64) {
        self.set_next_timestamp(timestamp_seconds).await;
        self.mine(1).await;
    }

    pub async fn mine(&self, blocks: u64) {
        let _: serde_json::Value = self
            .provider
            .raw_request("anvil_mine".into(), (U256::from(blocks),))
            .await
            .unwrap();
    }

    /// Escrow on L1 equals, per token, the deposits not reclaimed less the
    /// withdrawals paid.
    pub async fn check_escrow(&self, tokens: &[L1Addr]) {
        let bridge = self.bridge();
        let count = bridge.depositCount().call().await.unwrap();
        let filter = alloy::rpc::types::Filter::new()
            .address(self.deployment.bridge)
            .event_signature(<LakhBridge::Withdrawn as alloy::sol_types::SolEvent>::SIGNATURE_HASH)
            .from_block(0);
        let withdrawn = self.provider.get_logs(&filter).await.unwrap();
        for token in std::iter::once(L1Addr::ZERO).chain(tokens.iter().copied()) {
            let mut expected = U256::ZERO;
            for c in 1..=count {
                let d = bridge.deposits(c).call().await.unwrap();
                if d.token == token && !d.reclaimed {
                    expected += U256::from(d.amount);
                }
            }
            for log in &withdrawn {
                let w = log.log_decode::<LakhBridge::Withdrawn>().unwrap();
                if w.inner.data.token == token {
                    expected -= w.inner.data.amount;
                }
            }
            let held = if token == L1Addr::ZERO {
                self.provider
                    .get_balance(self.deployment.bridge)
                    .await
                    .unwrap()
            } else {
                lakh_l1::contracts::TestToken::new(token, &self.provider)
                    .balanceOf(self.deployment.bridge)
                    .call()
                    .await
                    .unwrap()
            };
            assert_eq!(held, expected, "escrow of {token}");
        }
    }
}

pub fn params(guardian: L1Addr) -> BridgeParams {
    BridgeParams {
        lakh_chain_id: LAKH_CHAIN_ID,
        epoch_blocks: EPOCH_BLOCKS,
        epoch: 0,
        challenge_seconds: CHALLENGE_SECONDS,
        reclaim_seconds: RECLAIM_SECONDS,
        guardian,
    }
}

pub fn b256(bytes: [u8; 32]) -> B256 {
    B256::from(bytes)
}

/// The custom error an `anyhow` error from lakh-l1 carries, or its text.
pub fn reason_of(error: &anyhow::Error) -> String {
    format!("{error:#}")
}

use lakh_types::modules::bridge::{
    Keccak, WITHDRAWAL_TREE_DEPTH, WithdrawalLeaf, empty_subtree_roots, node_hash,
    verify_withdrawal_proof,
};

/// The withdrawal tree over `leaves` (Rust's reference encodings): its root
/// and each leaf's siblings from the leaf up.
pub fn withdrawal_tree(leaves: &[Keccak]) -> (Keccak, Vec<[Keccak; WITHDRAWAL_TREE_DEPTH]>) {
    let empty = empty_subtree_roots();
    let mut proofs = vec![[FixedBytes([0u8; 32]); WITHDRAWAL_TREE_DEPTH]; leaves.len()];
    let mut level: Vec<Keccak> = leaves.to_vec();
    for height in 0..WITHDRAWAL_TREE_DEPTH {
        for (i, proof) in proofs.iter_mut().enumerate() {
            let at = i >> height;
            proof[height] = level.get(at ^ 1).copied().unwrap_or(empty[height]);
        }
        level = level
            .chunks(2)
            .map(|pair| node_hash(&pair[0], pair.get(1).unwrap_or(&empty[height])))
            .collect();
        if level.is_empty() {
            level.push(empty[height + 1]);
        }
    }
    let root = level[0];
    for (i, (leaf, proof)) in leaves.iter().zip(&proofs).enumerate() {
        assert!(verify_withdrawal_proof(leaf, i as u64, proof, &root));
    }
    (root, proofs)
}

/// A leaf in the contract's form.
pub fn leaf_struct(leaf: &WithdrawalLeaf) -> LakhBridge::Withdrawal {
    lakh_l1::contracts::withdrawal(leaf)
}

pub fn siblings(proof: &[Keccak; WITHDRAWAL_TREE_DEPTH]) -> [B256; WITHDRAWAL_TREE_DEPTH] {
    proof.map(|s| B256::from(s.0))
}
