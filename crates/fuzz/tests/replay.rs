//! Replays every committed corpus input through its target (what CI runs:
//! seconds). A crash found by the fuzzer is added to its corpus, fixed,
//! and stays here as a regression test.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use std::path::Path;

#[test]
fn every_corpus_input_replays_without_a_finding() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for (name, target) in lakh_fuzz::TARGETS {
        let dir = root.join(name);
        let mut inputs = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            target(&data);
            inputs += 1;
        }
        assert!(inputs > 0, "corpus {name} is empty");
    }
}

fn seed(target: &str, name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The seeds are valid inputs, so the fuzzer starts past every decoder's
/// first refusal.
#[test]
fn the_seeds_are_accepted_by_their_decoders() {
    use bytes::Bytes;
    use commonware_codec::DecodeExt;
    let tx = seed("transaction", "dex_add_liquidity");
    lakh_types::SignedTransaction::decode(Bytes::from(tx)).unwrap();
    let bulk = lakh_rpc::bulk::decode_bulk(&seed("bulk", "six"), 256).unwrap();
    assert_eq!(bulk.len(), 6);
    let gossip = lakh_node::gossip::decode_batch(Bytes::from(seed("gossip", "six"))).unwrap();
    assert_eq!(gossip, bulk);
    let block = lakh_consensus::block::Block::decode(Bytes::from(seed("block", "six_txs")));
    assert_eq!(block.unwrap().txs.len(), 6);
    let block = lakh_consensus::block::Block::decode(Bytes::from(seed("block", "evidence")));
    assert_eq!(block.unwrap().header.evidence.len(), 1);
    let state = lakh_types::modules::channel::SignedState::decode(Bytes::from(seed(
        "channel_state",
        "two_party",
    )))
    .unwrap();
    assert!(state.state.is_balanced());
    let session = seed("channel_msg", "session");
    let mut frames = 0;
    let mut rest = session.as_slice();
    while rest.len() >= 4 {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        lakh_channel_node::wire::Msg::decode_body(&rest[4..4 + len]).unwrap();
        rest = &rest[4 + len..];
        frames += 1;
    }
    assert_eq!(frames, 5);

    let genesis = lakh_types::Genesis::from_json(lakh_fuzz::FUZZ_GENESIS).unwrap();
    genesis.validate().unwrap();
    let committee = lakh_execution::modules::stake::genesis_committee(&genesis);
    let mut chain = lakh_consensus::light::CommitteeChain::from_genesis(&genesis, committee);
    let finality = |height: u64| {
        let text = seed("finality", &format!("height_{height}.json"));
        serde_json::from_slice::<lakh_rpc::types::FinalityInfo>(&text).unwrap()
    };
    chain.verify(&finality(1)).unwrap();
    chain.extend(&finality(19)).unwrap();
    assert_eq!(chain.latest_epoch(), 1);
    chain.verify(&finality(20)).unwrap();
}

/// The config, provenance and query seeds are accepted, so the fuzzer
/// starts inside each parser's valid inputs.
#[test]
fn the_file_and_query_seeds_are_accepted() {
    for name in ["validator.toml", "full_node.toml"] {
        let text = String::from_utf8(seed("node_config", name)).unwrap();
        lakh_node::config::NodeFile::parse(&text).unwrap();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for entry in std::fs::read_dir(root.join("provenance")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        lakh_types::modules::nft::provenance::ProvenanceFile::parse(&text).unwrap();
    }
    let state: std::collections::BTreeMap<_, _> = lakh_execution::apply_genesis(
        &lakh_types::Genesis::from_json(lakh_fuzz::FUZZ_GENESIS).unwrap(),
    )
    .into_iter()
    .collect();
    for entry in std::fs::read_dir(root.join("query")).unwrap() {
        let path = entry.unwrap().path();
        let call: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let answer = lakh_execution::modules::run_query(
            call["module"].as_str().unwrap(),
            call["method"].as_str().unwrap(),
            &call["params"],
            1,
            lakh_node::service::MAX_QUERY_READS,
            |key| Ok(state.get(key).cloned()),
        );
        match answer {
            Ok(_) | Err(lakh_execution::modules::QueryError::NotFound(_)) => {}
            Err(e) => panic!("{}: {e:?}", path.display()),
        }
    }
}

/// Each evidence seed is genuine: it decodes and proves an offense of its
/// kind against the fuzz committee, alone and in the seed list, so the
/// fuzzer starts past the decoder and the signature check.
#[test]
fn the_evidence_seeds_prove_their_offenses() {
    use bytes::Bytes;
    use commonware_codec::DecodeExt;
    use lakh_consensus::evidence::{Evidence, check_all, read_evidence_list};
    let ctx = lakh_fuzz::evidence_context();
    let mut pieces = Vec::new();
    for name in [
        "conflicting_notarize",
        "conflicting_finalize",
        "nullify_finalize",
    ] {
        let piece = Evidence::decode(Bytes::from(seed("evidence", name))).unwrap();
        let offenses = check_all(std::slice::from_ref(&piece), &ctx).unwrap();
        assert_eq!(
            lakh_consensus::evidence::fault_name(offenses[0].fault),
            name
        );
        pieces.push(piece);
    }
    let list = read_evidence_list(&mut Bytes::from(seed("evidence", "list_of_three"))).unwrap();
    assert_eq!(list, pieces);
    assert_eq!(check_all(&list, &ctx).unwrap().len(), 3);
}
