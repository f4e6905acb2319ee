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
