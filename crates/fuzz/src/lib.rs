//! The bodies of lakh's fuzz targets, one per decoder that reads bytes from
//! outside the node: signed transactions (every module's actions inside),
//! bulk submission bodies, gossip batches, blocks, genesis files and
//! finality answers checked by a light client, evidence of consensus
//! faults (alone and as a header's evidence list), RPC parameter lists,
//! node config files, NFT provenance files, module queries and co-signed
//! off-chain channel states. Each body decodes, and on
//! success checks what must then hold (canonical re-encoding, validation
//! without panics); a panic is a finding. `fuzz/` runs them under
//! libFuzzer; `tests/replay.rs` replays the committed corpora in CI.

use bytes::Bytes;
use commonware_codec::{DecodeExt, Encode};
use lakh_consensus::{block::Block, light::CommitteeChain};
use lakh_rpc::types::FinalityInfo;
use lakh_types::{Genesis, SignedTransaction};
use std::sync::OnceLock;

/// A fuzz target's body: it takes any bytes, and panics only on a finding.
pub type Target = fn(&[u8]);

/// Every target by name, as the corpus directories are named.
pub const TARGETS: &[(&str, Target)] = &[
    ("transaction", transaction),
    ("bulk", bulk),
    ("gossip", gossip),
    ("block", block),
    ("evidence", evidence),
    ("genesis", genesis),
    ("finality", finality),
    ("rpc_params", rpc_params),
    ("node_config", node_config),
    ("provenance", provenance),
    ("query", query),
    ("channel_state", channel_state),
    ("channel_msg", channel_msg),
];

/// A decoded transaction re-encodes to exactly its input: one transaction
/// has one encoding, hence one id (no malleable ids).
pub fn transaction(data: &[u8]) {
    let Ok(tx) = SignedTransaction::decode(Bytes::copy_from_slice(data)) else {
        return;
    };
    assert_eq!(
        tx.tx.encode().as_ref(),
        tx.body_bytes(),
        "non-canonical body"
    );
    assert_eq!(tx.raw().as_ref(), data);
    let _ = tx.verify_signature();
}

/// A bulk body splits into records within its bounds; each record is then
/// a transaction input.
pub fn bulk(data: &[u8]) {
    const MAX_TXS: usize = 256;
    if let Ok(records) = lakh_rpc::bulk::decode_bulk(data, MAX_TXS) {
        assert!(records.len() <= MAX_TXS);
        for record in records {
            transaction(&record);
        }
    }
}

/// A gossip batch splits into records within the transaction size bound.
pub fn gossip(data: &[u8]) {
    if let Some(records) = lakh_node::gossip::decode_batch(Bytes::copy_from_slice(data)) {
        for record in records {
            assert!(record.len() <= lakh_types::limits::MAX_TX_BYTES);
            transaction(&record);
        }
    }
}

/// A co-signed off-chain channel state, as a counterparty or a watchtower
/// receives it: it decodes canonically (one state, one signed message),
/// its balance check never overflows, and the bytes its signatures cover
/// decode back to the same state.
pub fn channel_state(data: &[u8]) {
    use lakh_types::modules::channel::{ChannelState, SignedState};
    let Ok(signed) = SignedState::decode(Bytes::copy_from_slice(data)) else {
        return;
    };
    assert_eq!(signed.encode().as_ref(), data, "non-canonical state");
    let _ = signed.state.is_balanced();
    let signed_bytes = Bytes::from(signed.state.message());
    let back = ChannelState::decode(signed_bytes).expect("a state's signed bytes decode");
    assert_eq!(back, signed.state, "the signed bytes name another state");
}

/// Frames of the channel node's peer protocol, as a connection delivers
/// them (`lakh_channel_node::wire`): each frame within the size bound
/// decodes to a message or is refused, and a decoded message re-encodes to
/// exactly its frame.
pub fn channel_msg(data: &[u8]) {
    use lakh_channel_node::wire::{MAX_FRAME_BYTES, Msg};
    let mut rest = data;
    while rest.len() >= 4 {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len > MAX_FRAME_BYTES || rest.len() < 4 + len {
            return;
        }
        let body = &rest[4..4 + len];
        if let Ok(msg) = Msg::decode_body(body) {
            assert_eq!(msg.frame(), rest[..4 + len], "non-canonical message");
        }
        rest = &rest[4 + len..];
    }
}

/// A decoded block re-encodes to its input, so its digest names one block.
pub fn block(data: &[u8]) {
    let Ok(block) = Block::decode(Bytes::copy_from_slice(data)) else {
        return;
    };
    assert_eq!(block.encode().as_ref(), data, "non-canonical block");
}

/// Evidence of a consensus fault, as a block header carries it: a decoded
/// piece re-encodes to exactly its input (one fault, one encoding, one
/// key) within its size bound, and checking it against a fixed committee
/// proves an offense of the member it names or is refused with a reason.
/// The same bytes are also read as a header's evidence list.
pub fn evidence(data: &[u8]) {
    use lakh_consensus::evidence::{Evidence, MAX_EVIDENCE_ENCODE_BYTES};
    evidence_list(data);
    let Ok(piece) = Evidence::decode(Bytes::copy_from_slice(data)) else {
        return;
    };
    assert_eq!(piece.encode().as_ref(), data, "non-canonical evidence");
    assert!(
        data.len() <= MAX_EVIDENCE_ENCODE_BYTES,
        "evidence of {} bytes",
        data.len()
    );
    let key = piece.key();
    let ctx = evidence_context();
    if let Ok(offense) = lakh_consensus::evidence::check(&piece, &ctx) {
        let member = &ctx.committees[&key.epoch].members[key.signer as usize];
        assert_eq!(
            offense.offender, member.identity,
            "the offense names another validator"
        );
        assert_eq!(
            (offense.epoch, offense.view, offense.fault),
            (key.epoch, key.view, key.fault)
        );
    }
}

/// A header's evidence list (read from the start of `data`, as the header
/// decoder reads it) holds at most a block's pieces and bytes, its bytes
/// are its canonical encoding, and checking it never panics.
fn evidence_list(data: &[u8]) {
    use lakh_consensus::evidence::{
        MAX_EVIDENCE_BYTES_PER_BLOCK, check_all, read_evidence_list, write_evidence_list,
    };
    let mut buf = Bytes::copy_from_slice(data);
    let Ok(list) = read_evidence_list(&mut buf) else {
        return;
    };
    let read_bytes = data.len() - buf.len();
    assert!(list.len() <= lakh_execution::modules::stake::MAX_OFFENSES_PER_BLOCK);
    assert!(
        read_bytes - 1 <= MAX_EVIDENCE_BYTES_PER_BLOCK,
        "{read_bytes} bytes of evidence"
    );
    let mut written = Vec::new();
    write_evidence_list(&list, &mut written);
    assert_eq!(written, data[..read_bytes], "non-canonical evidence list");
    let _ = check_all(&list, &evidence_context());
}

/// Seeds of the ed25519 keys of [`evidence_committee`]'s members (the seed
/// writer signs the evidence seeds with them).
pub const EVIDENCE_COMMITTEE_SEEDS: std::ops::RangeInclusive<u64> = 1..=4;

/// The round of the block said to carry fuzzed evidence: state holds the
/// committee of epoch 0 only, so evidence of epoch 1 is of an unknown
/// epoch and evidence past this round is from the future.
pub const EVIDENCE_BLOCK_ROUND: (u64, u64) = (1, 64);

/// What fuzzed evidence is checked against, built once.
struct EvidenceFixture {
    committees: std::collections::BTreeMap<u64, lakh_types::committee::Committee>,
    verifiers: lakh_consensus::participation::Verifiers,
}

/// The state fuzzed evidence is checked in: [`evidence_committee`] in
/// epoch 0, and a block of round [`EVIDENCE_BLOCK_ROUND`].
pub fn evidence_context() -> lakh_consensus::evidence::EvidenceContext<'static> {
    static FIXTURE: OnceLock<EvidenceFixture> = OnceLock::new();
    let fixture = FIXTURE.get_or_init(|| EvidenceFixture {
        committees: [(0, evidence_committee())].into(),
        verifiers: Default::default(),
    });
    lakh_consensus::evidence::EvidenceContext {
        committees: &fixture.committees,
        block_epoch: EVIDENCE_BLOCK_ROUND.0,
        block_view: EVIDENCE_BLOCK_ROUND.1,
        verifiers: &fixture.verifiers,
    }
}

/// The committee of epoch 0 whose members have the keys of
/// [`EVIDENCE_COMMITTEE_SEEDS`], in committee (signer index) order.
pub fn evidence_committee() -> lakh_types::committee::Committee {
    use commonware_cryptography::Signer;
    use lakh_types::committee::{Committee, CommitteeMember, ConsensusKeyBytes};
    use lakh_types::consensus_key::{consensus_public_key, derive_consensus_key};
    let members = EVIDENCE_COMMITTEE_SEEDS
        .map(|seed| {
            let key = lakh_types::PrivateKey::from_seed(seed);
            let consensus_key = consensus_public_key(&derive_consensus_key(&key));
            CommitteeMember {
                identity: lakh_types::Address::from(&key.public_key()),
                consensus_key: ConsensusKeyBytes::of(&consensus_key).expect("a 48-byte key"),
                p2p_address: std::net::SocketAddr::from(([127, 0, 0, 1], 1)),
            }
        })
        .collect();
    Committee::new(0, members).expect("four members fit a committee")
}

/// A genesis file parses and validates, or is refused with a reason.
pub fn genesis(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(genesis) = Genesis::from_json(text) {
        let _ = lakh_execution::check_genesis(&genesis);
        let _ = lakh_execution::modules::stake::genesis_committee(&genesis);
    }
}

/// A light client given any finality answer refuses it or accepts it;
/// nothing it reads makes it panic. The committee is fixed (the corpus
/// genesis), so a forged answer exercises every check.
pub fn finality(data: &[u8]) {
    let Ok(info) = serde_json::from_slice::<FinalityInfo>(data) else {
        return;
    };
    let mut chain = fuzz_chain().clone();
    let _ = chain.verify(&info);
    let _ = chain.extend(&info);
}

/// The chain of committees of [`FUZZ_GENESIS`].
fn fuzz_chain() -> &'static CommitteeChain {
    static CHAIN: OnceLock<CommitteeChain> = OnceLock::new();
    CHAIN.get_or_init(|| {
        let genesis = Genesis::from_json(FUZZ_GENESIS).expect("the fuzz genesis parses");
        let committee = lakh_execution::modules::stake::genesis_committee(&genesis);
        CommitteeChain::from_genesis(&genesis, committee)
    })
}

/// The genesis the finality target checks against (also a seed of the
/// genesis corpus).
pub const FUZZ_GENESIS: &str = include_str!("../corpus/genesis/devnet.json");

/// The parameter checks of the RPC: the first byte picks a method, the rest
/// is its parameter list as JSON. The shape check refuses or rewrites it
/// positionally, and every parameter type parses what the shape check let
/// through, or refuses it.
pub fn rpc_params(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(json) = std::str::from_utf8(rest) else {
        return;
    };
    let methods: Vec<&str> = lakh_rpc::checked_methods().collect();
    let method = methods[usize::from(pick) % methods.len()];
    let Ok(positional) = lakh_rpc::positional_params(method, json) else {
        return;
    };
    let Ok(values) = serde_json::from_str::<Vec<serde_json::Value>>(&positional) else {
        return;
    };
    for value in values {
        parse_every_param(&value);
    }
}

fn parse_every_param(value: &serde_json::Value) {
    use lakh_rpc::params::*;
    let _ = serde_json::from_value::<TxParam>(value.clone());
    let _ = serde_json::from_value::<TxListParam>(value.clone());
    let _ = serde_json::from_value::<TxIdParam>(value.clone());
    let _ = serde_json::from_value::<AddressParam>(value.clone());
    let _ = serde_json::from_value::<HeightParam>(value.clone());
    let _ = serde_json::from_value::<HashParam>(value.clone());
    let _ = serde_json::from_value::<AssetParam>(value.clone());
    let _ = serde_json::from_value::<CursorParam>(value.clone());
    let _ = serde_json::from_value::<LimitParam>(value.clone());
}

/// A node config parses within its bounds or is refused with a reason; an
/// accepted one writes back to TOML that reads as the same config.
pub fn node_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = lakh_node::config::NodeFile::parse(text) else {
        return;
    };
    let written = toml::to_string(&config).expect("an accepted config serializes");
    let again = lakh_node::config::NodeFile::parse(&written)
        .unwrap_or_else(|e| panic!("a config written back is refused: {e}\n{written}"));
    assert_eq!(again, config, "a config changes when written back");
}

/// A provenance file parses or is refused; an accepted one becomes the two
/// nft actions (or a reason), and those encode to bytes that decode back to
/// them.
pub fn provenance(data: &[u8]) {
    use lakh_types::modules::nft::{Hash32, provenance};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(file) = provenance::ProvenanceFile::parse(text) else {
        return;
    };
    // Contributors as the wallet resolves them: addresses given in hex, a
    // stand-in for a key name.
    let contributors = file
        .contributors
        .iter()
        .map(|c| c.parse().unwrap_or(lakh_types::Address([7; 32])))
        .collect();
    let creator = lakh_types::Address([1; 32]);
    let Ok(actions) = provenance::provenance_actions(
        &creator,
        9,
        Hash32([2; 32]),
        &file,
        contributors,
        Hash32([3; 32]),
    ) else {
        return;
    };
    for action in [actions.commit, actions.record] {
        let action = lakh_types::Action::Nft(Box::new(action));
        let bytes = action.encode();
        let decoded = lakh_types::Action::decode(bytes.clone()).expect("an action decodes");
        assert_eq!(decoded, action, "an action changes through its encoding");
    }
}

/// Most state entries a fuzzed query may read (the node's own bound).
const QUERY_MAX_READS: usize = lakh_node::service::MAX_QUERY_READS;

/// A module query, `{"module", "method", "params"}`, over the state of
/// [`FUZZ_GENESIS`]: it answers or refuses within its read bound, and an
/// answer is JSON.
pub fn query(data: &[u8]) {
    #[derive(serde::Deserialize)]
    struct Call {
        module: String,
        method: String,
        #[serde(default)]
        params: serde_json::Value,
    }
    let Ok(call) = serde_json::from_slice::<Call>(data) else {
        return;
    };
    let state = fuzz_state();
    let mut reads = 0usize;
    let answer = lakh_execution::modules::run_query(
        &call.module,
        &call.method,
        &call.params,
        1,
        QUERY_MAX_READS,
        |key| {
            reads += 1;
            Ok(state.get(key).cloned())
        },
    );
    assert!(reads <= QUERY_MAX_READS, "a query read {reads} entries");
    if let Ok(answer) = answer {
        serde_json::to_string(&answer).expect("an answer is JSON");
    }
}

/// The state [`FUZZ_GENESIS`] starts from.
fn fuzz_state() -> &'static std::collections::BTreeMap<lakh_state::StateKey, lakh_state::StateValue>
{
    static STATE: OnceLock<
        std::collections::BTreeMap<lakh_state::StateKey, lakh_state::StateValue>,
    > = OnceLock::new();
    STATE.get_or_init(|| {
        let genesis = Genesis::from_json(FUZZ_GENESIS).expect("the fuzz genesis parses");
        lakh_execution::apply_genesis(&genesis)
            .into_iter()
            .collect()
    })
}
