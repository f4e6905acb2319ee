//! Measured figures, printed by an ignored test. Run in release:
//!
//! ```text
//! cargo test --release -p lakh-shielded bench -- --ignored --nocapture
//! ```

use std::time::{Duration, Instant};

use ark_bn254::Bn254;
use ark_groth16::Groth16;
use ark_std::rand::SeedableRng;
use lakh_types::AssetId;
use rand_chacha_ark::ChaCha20Rng;

use crate::*;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

#[test]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
fn bench() {
    const D: usize = TREE_DEPTH;
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    println!(
        "depth {D}: {} constraints",
        constraint_count::<D>().unwrap()
    );

    let (params, setup) = time(|| Parameters::<D>::devnet_setup(b"bench").unwrap());
    println!(
        "setup {:.2} s; proving key {} B, verifying key {} B (compressed)",
        setup.as_secs_f64(),
        params.to_bytes().len(),
        params.verifying_key().to_bytes().len()
    );

    // Native costs.
    let a = Fr::from(1u64);
    let (_, hashes) = time(|| {
        let mut x = a;
        for _ in 0..1000 {
            x = poseidon::hash2(poseidon::Domain::Merkle(0), x, a);
        }
        x
    });
    println!(
        "poseidon 2-to-1 (native): {:.1} µs",
        hashes.as_secs_f64() * 1e6 / 1000.0
    );
    let mut tree = NoteTree::<D>::new(ANCHOR_WINDOW);
    let block: Vec<_> = (0..64u64)
        .map(|i| NoteCommitment::from_field(Fr::from(i + 1)))
        .collect();
    let (_, append) = time(|| tree.append_batch(&block).unwrap());
    println!(
        "append a block of 64 notes (frontier + root): {:.2} ms",
        append.as_secs_f64() * 1e3
    );

    // A payment: alice spends one note (plus a dummy) to bob.
    let alice = SpendingKey::random(&mut rng);
    let bob = SpendingKey::random(&mut rng).address();
    let note = Note::new(AssetId(42), 100, alice.address().paying_key, &mut rng);
    let mut wallet = FullTree::<D>::new();
    wallet.append_batch(&[note.commitment()]).unwrap();
    let witness = TransferWitness {
        inputs: [
            SpendInput {
                note,
                nk: alice.nullifier_key(),
                path: wallet.path(0).unwrap(),
            },
            SpendInput::dummy(AssetId(42), &mut rng),
        ],
        outputs: [
            Note::new(AssetId(42), 40, bob.paying_key, &mut rng),
            Note::new(AssetId(42), 59, alice.address().paying_key, &mut rng),
        ],
    };
    let statement = witness
        .statement(7, wallet.root(), 1, Action::Transfer, [0; 32])
        .unwrap();
    let mut prove_times = Vec::new();
    let mut proof = None;
    for _ in 0..5 {
        let (p, t) = time(|| params.prove(&witness, &statement, &mut rng).unwrap());
        prove_times.push(t);
        proof = Some(p);
    }
    let proof = proof.unwrap();
    println!(
        "prove (median of 5, 1 thread): {:.0} ms",
        median(prove_times).as_secs_f64() * 1e3
    );

    let vk = params.verifying_key();
    let mut verify_times = Vec::new();
    for _ in 0..200 {
        let (r, t) = time(|| vk.verify(&statement, &proof));
        r.unwrap();
        verify_times.push(t);
    }
    println!(
        "verify (median of 200): {:.2} ms",
        median(verify_times).as_secs_f64() * 1e3
    );

    let batch: Vec<_> = (0..64)
        .map(|_| {
            let p = Groth16::<Bn254>::rerandomize_proof(&params.pk.vk, &proof.ark(), &mut rng);
            (statement, Proof::from_ark(p))
        })
        .collect();
    let mut batch_times = Vec::new();
    for _ in 0..10 {
        let (r, t) = time(|| vk.batch_verify(&batch));
        r.unwrap();
        batch_times.push(t);
    }
    let per = median(batch_times).as_secs_f64() * 1e6 / 64.0;
    println!("batch verify of 64 (median of 10): {per:.0} µs per proof");
    let mut bad = batch.clone();
    bad[17].0.fee += 1;
    let (r, t) = time(|| vk.batch_verify(&bad));
    assert_eq!(r.unwrap_err().failing.len(), 1);
    println!(
        "batch of 64 with one bad proof, culprit found: {:.1} ms",
        t.as_secs_f64() * 1e3
    );
}
