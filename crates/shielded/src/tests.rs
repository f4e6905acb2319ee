//! End-to-end tests of the cryptographic core: build, prove, verify, attack.
//!
//! Most use a depth-4 tree (same circuit shape, fewer Merkle levels); one
//! test proves at the production depth 32.

use std::sync::OnceLock;

use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::{AffineRepr, CurveGroup, PrimeGroup};
use ark_ff::{Field, One, PrimeField, UniformRand, Zero};
use ark_groth16::Groth16;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
use ark_serialize::CanonicalSerialize;
use ark_std::rand::SeedableRng;
use lakh_types::{Address, AssetId};
use rand_chacha_ark::ChaCha20Rng;

use crate::circuit::TransferCircuit;
use crate::proof::{KeyDecodeError, ProofPoint, devnet_rng, devnet_trapdoor};
use crate::*;

const D: usize = 4;
const CHAIN: u64 = 7;
const USDC: AssetId = AssetId(42);
const SEED: &[u8] = b"lakh devnet shielded setup";

fn params() -> &'static Parameters<D> {
    static PARAMS: OnceLock<Parameters<D>> = OnceLock::new();
    PARAMS.get_or_init(|| Parameters::devnet_setup(SEED).expect("setup"))
}

/// A tree holding `notes` (plus some strangers' notes), and a spend input
/// for each of `notes` against the final root.
fn tree_with<const N: usize>(
    notes: [(Note, NullifierKey); N],
    rng: &mut ChaCha20Rng,
) -> (FullTree<D>, [SpendInput<D>; N]) {
    let mut tree = FullTree::<D>::new();
    let stranger = SpendingKey::random(rng).address().paying_key;
    let mut positions = [0u64; N];
    for (i, (note, _)) in notes.iter().enumerate() {
        tree.append_batch(&[Note::new(USDC, 3, stranger, rng).commitment()])
            .unwrap();
        positions[i] = tree.len();
        tree.append_batch(&[note.commitment()]).unwrap();
    }
    let inputs = core::array::from_fn(|i| SpendInput {
        note: notes[i].0,
        nk: notes[i].1,
        path: tree.path(positions[i]).unwrap(),
    });
    (tree, inputs)
}

struct Payment {
    witness: TransferWitness<D>,
    statement: Statement,
    proof: Proof,
}

/// Alice (holding one 100-USDC note) pays bob 40 privately, change 60.
fn alice_pays_bob(rng: &mut ChaCha20Rng, fee: u64, action: Action) -> Payment {
    let alice = SpendingKey::random(rng);
    let bob = SpendingKey::random(rng).address();
    let note = Note::new(USDC, 100, alice.address().paying_key, rng);
    let (tree, [input]) = tree_with([(note, alice.nullifier_key())], rng);
    let to_bob = Note::new(USDC, 40, bob.paying_key, rng);
    let change = 60 - fee - action.public_value();
    let witness = TransferWitness {
        inputs: [input, SpendInput::dummy(USDC, rng)],
        outputs: [
            to_bob,
            Note::new(USDC, change, alice.address().paying_key, rng),
        ],
    };
    let statement = witness
        .statement(CHAIN, tree.root(), fee, action, [9; 32])
        .unwrap();
    let proof = params().prove(&witness, &statement, rng).unwrap();
    Payment {
        witness,
        statement,
        proof,
    }
}

#[test]
fn transfer_and_unshield_prove_and_verify() {
    let mut rng = ChaCha20Rng::seed_from_u64(100);
    let vk = params().verifying_key();
    let p = alice_pays_bob(&mut rng, 0, Action::Transfer);
    assert_eq!(vk.verify(&p.statement, &p.proof), Ok(()));
    // Nothing leaves the pool: the asset stays private.
    assert_eq!(p.statement.revealed_asset, None);
    assert_eq!(p.statement.nullifiers[0], p.witness.inputs[0].nullifier());
    assert_eq!(
        p.statement.commitments[1],
        p.witness.outputs[1].commitment()
    );

    let recipient = Address([5; 32]);
    let u = alice_pays_bob(
        &mut rng,
        2,
        Action::Unshield {
            recipient,
            amount: 10,
        },
    );
    assert_eq!(u.statement.revealed_asset, Some(USDC));
    assert_eq!(vk.verify(&u.statement, &u.proof), Ok(()));
    assert_eq!(PROOF_BYTES, u.proof.to_bytes().len());
    assert_eq!(Proof::from_bytes(&u.proof.to_bytes()), Ok(u.proof));
}

#[test]
fn two_real_inputs_merge() {
    let mut rng = ChaCha20Rng::seed_from_u64(101);
    let alice = SpendingKey::random(&mut rng);
    let apk = alice.address().paying_key;
    let nk = alice.nullifier_key();
    let a = Note::new(USDC, u64::MAX, apk, &mut rng);
    let b = Note::new(USDC, 5, apk, &mut rng);
    let (tree, inputs) = tree_with([(a, nk), (b, nk)], &mut rng);
    // u64::MAX + 5 in, split into two outputs near the top of the range.
    let witness = TransferWitness {
        inputs,
        outputs: [
            Note::new(USDC, u64::MAX - 1, apk, &mut rng),
            Note::new(USDC, 5, apk, &mut rng),
        ],
    };
    let statement = witness
        .statement(CHAIN, tree.root(), 1, Action::Transfer, [0; 32])
        .unwrap();
    let proof = params().prove(&witness, &statement, &mut rng).unwrap();
    assert_eq!(params().verifying_key().verify(&statement, &proof), Ok(()));
}

#[test]
fn replay_with_other_recipient_fee_chain_or_data_fails() {
    let mut rng = ChaCha20Rng::seed_from_u64(102);
    let vk = params().verifying_key();
    let recipient = Address([5; 32]);
    let u = alice_pays_bob(
        &mut rng,
        2,
        Action::Unshield {
            recipient,
            amount: 10,
        },
    );
    let s = u.statement;
    let replays = [
        Statement {
            chain_id: CHAIN + 1,
            ..s
        },
        Statement {
            action: Action::Unshield {
                recipient: Address([6; 32]),
                amount: 10,
            },
            ..s
        },
        Statement {
            action: Action::Unshield {
                recipient,
                amount: 11,
            },
            ..s
        },
        Statement { fee: 3, ..s },
        Statement { fee: 0, ..s },
        Statement {
            bound_data: [8; 32],
            ..s
        },
        Statement {
            revealed_asset: Some(AssetId::NATIVE),
            ..s
        },
        Statement {
            anchor: MerkleRoot::from_field(Fr::from(1u64)),
            ..s
        },
        Statement {
            commitments: [s.commitments[1], s.commitments[0]],
            ..s
        },
        Statement {
            nullifiers: [s.nullifiers[1], s.nullifiers[0]],
            ..s
        },
    ];
    for (i, replay) in replays.iter().enumerate() {
        assert_eq!(
            vk.verify(replay, &u.proof),
            Err(VerifyError::Invalid),
            "replay {i}"
        );
    }
    // A transfer proof replayed as an unshield (value out of thin air).
    let t = alice_pays_bob(&mut rng, 0, Action::Transfer);
    let as_unshield = Statement {
        action: Action::Unshield {
            recipient,
            amount: 1,
        },
        revealed_asset: Some(USDC),
        ..t.statement
    };
    assert_eq!(vk.verify(&as_unshield, &t.proof), Err(VerifyError::Invalid));
    // Statements that break their own rules are refused before any pairing.
    let hidden_unshield = Statement {
        revealed_asset: None,
        ..s
    };
    assert_eq!(
        vk.verify(&hidden_unshield, &u.proof),
        Err(VerifyError::Statement(StatementError::RevealedAsset))
    );
}

#[test]
fn rerandomised_proof_verifies_so_the_nullifier_is_the_id() {
    let mut rng = ChaCha20Rng::seed_from_u64(103);
    let p = alice_pays_bob(&mut rng, 0, Action::Transfer);
    let vk = params().verifying_key();
    let ark_vk = &params().pk.vk;
    let again = Proof::from_ark(Groth16::<Bn254>::rerandomize_proof(
        ark_vk,
        &p.proof.ark(),
        &mut rng,
    ));
    assert_ne!(again.to_bytes(), p.proof.to_bytes(), "different bytes");
    assert_eq!(
        vk.verify(&p.statement, &again),
        Ok(()),
        "same statement, still valid"
    );
    // Both would spend the same nullifiers: that is what the chain refuses.
    let both = [p.statement, p.statement];
    let double = find_double_spend(&both).unwrap();
    assert_eq!((double.first, double.second), (0, 1));
    assert_eq!(double.nullifier, p.statement.nullifiers[0]);
}

#[test]
fn batch_verify_finds_the_bad_member() {
    let mut rng = ChaCha20Rng::seed_from_u64(104);
    let vk = params().verifying_key();
    let a = alice_pays_bob(&mut rng, 0, Action::Transfer);
    let b = alice_pays_bob(
        &mut rng,
        1,
        Action::Unshield {
            recipient: Address([1; 32]),
            amount: 9,
        },
    );
    // Re-randomised copies are distinct valid proofs: a batch of 6.
    let ark_vk = &params().pk.vk;
    let mut batch: Vec<(Statement, Proof)> = Vec::new();
    for p in [&a, &b, &a, &b, &a, &b] {
        batch.push((
            p.statement,
            Proof::from_ark(Groth16::<Bn254>::rerandomize_proof(
                ark_vk,
                &p.proof.ark(),
                &mut rng,
            )),
        ));
    }
    assert_eq!(vk.batch_verify(&batch), Ok(()));
    assert_eq!(vk.batch_verify(&batch[..1]), Ok(()));
    assert_eq!(vk.batch_verify(&[]), Ok(()));

    // One member's proof is for another statement.
    let mut bad = batch.clone();
    bad[3].1 = batch[0].1;
    assert_eq!(
        vk.batch_verify(&bad),
        Err(BatchError {
            failing: vec![(3, VerifyError::Invalid)]
        })
    );
    // Two bad members, one of them malformed as a statement.
    let mut bad = batch.clone();
    bad[1].0.fee += 1;
    bad[5].0.nullifiers[1] = bad[5].0.nullifiers[0];
    assert_eq!(
        vk.batch_verify(&bad),
        Err(BatchError {
            failing: vec![
                (1, VerifyError::Invalid),
                (
                    5,
                    VerifyError::Statement(StatementError::DuplicateNullifier)
                ),
            ]
        })
    );
    // A lone bad member.
    assert!(vk.batch_verify(&bad[1..2]).is_err());
}

#[test]
fn double_spend_detected() {
    let mut rng = ChaCha20Rng::seed_from_u64(105);
    let alice = SpendingKey::random(&mut rng);
    let apk = alice.address().paying_key;
    let note = Note::new(USDC, 50, apk, &mut rng);
    let (tree, [input]) = tree_with([(note, alice.nullifier_key())], &mut rng);
    // The same note as both inputs: refused when building and when checking.
    let twice = TransferWitness {
        inputs: [input, input],
        outputs: [
            Note::new(USDC, 100, apk, &mut rng),
            Note::new(USDC, 0, apk, &mut rng),
        ],
    };
    assert_eq!(
        twice.statement(CHAIN, tree.root(), 0, Action::Transfer, [0; 32]),
        Err(BuildError::Statement(StatementError::DuplicateNullifier))
    );
    // Two transactions spending the same note to different people: each is
    // individually valid; the shared nullifier gives the double spend away.
    let spend = |to: PayingKey, rng: &mut ChaCha20Rng| {
        let w = TransferWitness {
            inputs: [input, SpendInput::dummy(USDC, rng)],
            outputs: [Note::new(USDC, 50, to, rng), Note::new(USDC, 0, apk, rng)],
        };
        w.statement(CHAIN, tree.root(), 0, Action::Transfer, [0; 32])
            .unwrap()
    };
    let mut block = vec![];
    for _ in 0..3 {
        let other = SpendingKey::random(&mut rng).address().paying_key;
        block.push(spend(other, &mut rng));
    }
    let first = find_double_spend(&block).unwrap();
    assert_eq!((first.first, first.second), (0, 1));
    assert_eq!(first.nullifier, input.nullifier());
    assert_eq!(find_double_spend(&block[2..]), None);
}

#[test]
fn witness_builder_refuses_bad_transfers() {
    let mut rng = ChaCha20Rng::seed_from_u64(106);
    let alice = SpendingKey::random(&mut rng);
    let apk = alice.address().paying_key;
    let note = Note::new(USDC, 50, apk, &mut rng);
    let (tree, [input]) = tree_with([(note, alice.nullifier_key())], &mut rng);
    let root = tree.root();
    let ok = TransferWitness {
        inputs: [input, SpendInput::dummy(USDC, &mut rng)],
        outputs: [
            Note::new(USDC, 45, apk, &mut rng),
            Note::new(USDC, 5, apk, &mut rng),
        ],
    };
    let statement = ok
        .statement(CHAIN, root, 0, Action::Transfer, [0; 32])
        .unwrap();
    let build =
        |w: &TransferWitness<D>, fee| w.statement(CHAIN, root, fee, Action::Transfer, [0; 32]);
    assert_eq!(
        build(&ok, 1),
        Err(BuildError::Imbalance {
            inputs: 50,
            outputs: 51
        })
    );
    let mut other_asset = ok;
    other_asset.outputs[1].asset = AssetId(43);
    assert_eq!(build(&other_asset, 0), Err(BuildError::AssetMismatch));
    let mut thief = ok;
    thief.inputs[0].nk = SpendingKey::random(&mut rng).nullifier_key();
    assert_eq!(build(&thief, 0), Err(BuildError::NotOwner(0)));
    assert_eq!(
        ok.statement(
            CHAIN,
            MerkleRoot::from_field(Fr::from(3u64)),
            0,
            Action::Transfer,
            [0; 32]
        ),
        Err(BuildError::AnchorMismatch(0))
    );
    let mut far = ok;
    far.inputs[1].path.position = 1 << D;
    assert_eq!(build(&far, 0), Err(BuildError::Position(1)));
    let zero_unshield = Action::Unshield {
        recipient: Address([1; 32]),
        amount: 0,
    };
    assert_eq!(
        ok.statement(CHAIN, root, 0, zero_unshield, [0; 32]),
        Err(BuildError::Statement(StatementError::ZeroUnshield))
    );
    // Proving a statement the witness does not make is refused.
    let other = Statement {
        chain_id: CHAIN + 1,
        ..statement
    };
    assert!(matches!(
        params().prove(
            &ok,
            &Statement {
                fee: 1,
                ..statement
            },
            &mut rng
        ),
        Err(proof::ProveError::Build(BuildError::Imbalance { .. }))
    ));
    assert!(
        ok.circuit(&other).is_ok(),
        "another chain is another valid statement"
    );
    let mut forged = statement;
    forged.commitments[0] = NoteCommitment::from_field(Fr::from(1u64));
    assert_eq!(
        ok.circuit(&forged).err(),
        Some(BuildError::StatementMismatch)
    );
}

/// The circuit refuses values ≥ 2^64 and sums that wrap around the field,
/// even though such witnesses balance modulo r.
#[test]
fn values_at_or_above_2_64_and_field_wraparound_are_refused() {
    let mut rng = ChaCha20Rng::seed_from_u64(107);
    let alice = SpendingKey::random(&mut rng);
    let apk = alice.address().paying_key;
    let note = Note::new(USDC, 10, apk, &mut rng);
    let (tree, [input]) = tree_with([(note, alice.nullifier_key())], &mut rng);
    let witness = TransferWitness {
        inputs: [input, SpendInput::dummy(USDC, &mut rng)],
        outputs: [
            Note::new(USDC, 10, apk, &mut rng),
            Note::new(USDC, 0, apk, &mut rng),
        ],
    };
    let statement = witness
        .statement(CHAIN, tree.root(), 0, Action::Transfer, [0; 32])
        .unwrap();
    let honest = witness.circuit(&statement).unwrap();
    let satisfied = |c: TransferCircuit<D>| {
        let cs = ConstraintSystem::<Fr>::new_ref();
        c.generate_constraints(cs.clone()).unwrap();
        cs.is_satisfied().unwrap()
    };
    assert!(satisfied(honest.clone()));

    // Create value: outputs 10 + 2^64 and -2^64 (= r - 2^64), which sum to 10 mod r.
    let two_64 = Fr::from(2u64).pow([64]);
    let mut c = honest.clone();
    for (i, v) in [(0, Fr::from(10u64) + two_64), (1, -two_64)] {
        let owner = c.outputs[i].owner;
        let rcm = c.outputs[i].rcm;
        c.outputs[i].value = v;
        let oc = poseidon::hash2(poseidon::Domain::NoteOwner, owner, rcm);
        c.public.commitments[i] = poseidon::hash2(
            poseidon::Domain::NoteCommitment,
            Fr::from(USDC.0) + v * note::two_64(),
            oc,
        );
    }
    assert!(!satisfied(c.clone()), "values >= 2^64 / wraparound refused");
    // Exactly 2^64 in one output (and the input raised to match) is refused too.
    let mut c = honest.clone();
    c.outputs[0].value = two_64;
    c.inputs[0].value = two_64;
    assert!(!satisfied(c), "2^64 is out of range");
    // A fee of 2^64 - 1 is in range (the check is exact, not conservative),
    // but only balances with matching inputs.
    let mut c = honest;
    c.public.fee = Fr::from(u64::MAX);
    assert!(!satisfied(c));
}

/// Whoever knows the devnet seed knows the Groth16 trapdoor and can "prove"
/// anything: here, an unshield of a million from notes that never existed.
#[test]
fn devnet_seed_forges_proofs() {
    let mut rng = ChaCha20Rng::seed_from_u64(108);
    let t = devnet_trapdoor(&mut devnet_rng(SEED));
    let vk = params().verifying_key();
    let ark_vk = &params().pk.vk;
    assert_eq!(
        ark_vk.alpha_g1,
        (G1Projective::generator() * t.alpha).into_affine()
    );

    let statement = Statement {
        chain_id: CHAIN,
        anchor: NoteTree::<D>::new(1).root(),
        nullifiers: [
            Nullifier::from_field(Fr::rand(&mut rng)),
            Nullifier::from_field(Fr::rand(&mut rng)),
        ],
        commitments: [
            NoteCommitment::from_field(Fr::rand(&mut rng)),
            NoteCommitment::from_field(Fr::rand(&mut rng)),
        ],
        fee: 0,
        revealed_asset: Some(USDC),
        action: Action::Unshield {
            recipient: Address([0xee; 32]),
            amount: 1_000_000,
        },
        bound_data: [0; 32],
    };
    // With (α, β, γ, δ): pick A = a·G1, B = b·G2 and solve the verification
    // equation  ab = αβ + γ·acc(x) + δ·c  for C, using γ·IC_j = (βu_j + αv_j + w_j)·G1.
    let inputs = statement.public_inputs().unwrap().to_vec();
    let mut acc = ark_vk.gamma_abc_g1[0].into_group();
    for (x, ic) in inputs.iter().zip(&ark_vk.gamma_abc_g1[1..]) {
        acc += *ic * x;
    }
    let (a, b) = (Fr::rand(&mut rng), Fr::rand(&mut rng));
    let g1 = G1Projective::generator();
    let c = (g1 * (a * b - t.alpha * t.beta) - acc * t.gamma) * t.delta.inverse().unwrap();
    let forged = Proof {
        a: (g1 * a).into_affine(),
        b: (ark_bn254::G2Projective::generator() * b).into_affine(),
        c: c.into_affine(),
    };
    assert_eq!(
        vk.verify(&statement, &forged),
        Ok(()),
        "forged from the public seed"
    );
    // A different seed gives a setup this forgery does not fool.
    assert_ne!(
        devnet_trapdoor(&mut devnet_rng(b"another seed")).alpha,
        t.alpha
    );
}

#[test]
fn proof_decoding_refuses_malformed_and_off_subgroup_points() {
    let mut rng = ChaCha20Rng::seed_from_u64(109);
    let p = alice_pays_bob(&mut rng, 0, Action::Transfer);
    let good = p.proof.to_bytes();
    assert_eq!(
        Proof::from_bytes(&good[..127]),
        Err(ProofDecodeError::Length(127))
    );
    assert_eq!(
        Proof::from_bytes(&[good.as_slice(), &[0]].concat()),
        Err(ProofDecodeError::Length(129))
    );

    // Both flag bits set on A: not an encoding.
    let mut flags = good;
    flags[31] |= 0xc0;
    assert!(matches!(
        Proof::from_bytes(&flags),
        Err(ProofDecodeError::NotOnCurve(ProofPoint::A, _))
    ));
    // An x-coordinate with no point on the curve (for C).
    let mut off_curve = good;
    let mut x = 1u64;
    loop {
        let candidate = ark_bn254::Fq::from(x);
        if G1Affine::get_point_from_x_unchecked(candidate, true).is_none() {
            let mut bytes = Vec::new();
            candidate.serialize_compressed(&mut bytes).unwrap();
            off_curve[96..].copy_from_slice(&bytes);
            break;
        }
        x += 1;
    }
    assert!(matches!(
        Proof::from_bytes(&off_curve),
        Err(ProofDecodeError::NotOnCurve(ProofPoint::C, _))
    ));
    // A coordinate >= q.
    let mut big = good;
    big[..31].copy_from_slice(&[0xff; 31]);
    big[31] = 0x3f;
    assert!(matches!(
        Proof::from_bytes(&big),
        Err(ProofDecodeError::NotOnCurve(ProofPoint::A, _))
    ));

    // A point of G2 on the curve but outside the prime-order subgroup.
    let mut i = 1u64;
    let off_subgroup = loop {
        let x = ark_bn254::Fq2::new(ark_bn254::Fq::from(i), ark_bn254::Fq::one());
        if let Some(q) = G2Affine::get_point_from_x_unchecked(x, true)
            && !q.is_in_correct_subgroup_assuming_on_curve()
        {
            break q;
        }
        i += 1;
    };
    let mut bytes = good;
    let mut b = Vec::new();
    off_subgroup.serialize_compressed(&mut b).unwrap();
    bytes[32..96].copy_from_slice(&b);
    assert_eq!(
        Proof::from_bytes(&bytes),
        Err(ProofDecodeError::NotInSubgroup(ProofPoint::B))
    );

    // The point at infinity.
    let mut inf = good;
    let mut z = Vec::new();
    G1Affine::zero().serialize_compressed(&mut z).unwrap();
    inf[..32].copy_from_slice(&z);
    assert_eq!(
        Proof::from_bytes(&inf),
        Err(ProofDecodeError::Identity(ProofPoint::A))
    );
}

#[test]
fn keys_round_trip_and_refuse_tampering() {
    let params = params();
    let vk_bytes = params.verifying_key().to_bytes();
    let vk = VerifyingKey::from_bytes(&vk_bytes).unwrap();
    assert_eq!(vk.to_bytes(), vk_bytes);
    let pk_bytes = params.to_bytes();
    let again = Parameters::<D>::from_bytes(&pk_bytes).unwrap();
    assert_eq!(again.to_bytes(), pk_bytes);
    // A depth-4 key is not a depth-5 key.
    assert!(matches!(
        Parameters::<5>::from_bytes(&pk_bytes),
        Err(KeyDecodeError::Shape { .. })
    ));

    let mut tampered = vk_bytes.clone();
    tampered[40] ^= 0x01; // inside beta_g2
    assert!(matches!(
        VerifyingKey::from_bytes(&tampered),
        Err(KeyDecodeError::Malformed(_))
    ));
    assert!(matches!(
        VerifyingKey::from_bytes(&[vk_bytes.as_slice(), &[0]].concat()),
        Err(KeyDecodeError::Malformed(_))
    ));
    // A key for a circuit with fewer public inputs.
    let mut short = params.pk.vk.clone();
    short.gamma_abc_g1.pop();
    let mut short_bytes = Vec::new();
    short.serialize_compressed(&mut short_bytes).unwrap();
    assert_eq!(
        VerifyingKey::from_bytes(&short_bytes).err(),
        Some(KeyDecodeError::InputCount {
            got: NUM_PUBLIC_INPUTS - 1
        })
    );
}

#[test]
fn circuit_size_grows_by_one_hash_per_level_and_input() {
    let at = |d: usize| match d {
        4 => circuit::constraint_count::<4>().unwrap(),
        5 => circuit::constraint_count::<5>().unwrap(),
        _ => unreachable!(),
    };
    let (c4, c5) = (at(4), at(5));
    // Per level and input: one Poseidon permutation (8·3·3 + 57·3 = 243
    // S-box constraints, minus the 3 of the first round's S-box on the
    // capacity element, a constant domain tag), one select, one bit.
    assert_eq!(c5 - c4, 2 * (240 + 2), "{c4} -> {c5}");
}

/// The one production-depth proof of the default test run.
#[test]
fn production_depth_transfer() {
    let mut rng = ChaCha20Rng::seed_from_u64(110);
    let params = Parameters::<TREE_DEPTH>::devnet_setup(b"depth 32").unwrap();
    let alice = SpendingKey::random(&mut rng);
    let bob = SpendingKey::random(&mut rng);
    let mut tree = NoteTree::<TREE_DEPTH>::new(ANCHOR_WINDOW);
    let mut wallet = FullTree::<TREE_DEPTH>::new();
    let note = Note::new(USDC, 100, alice.address().paying_key, &mut rng);
    let block: Vec<_> = (0..5u64)
        .map(|i| {
            if i == 3 {
                note.commitment()
            } else {
                NoteCommitment::from_field(Fr::from(i))
            }
        })
        .collect();
    let root = tree.append_batch(&block).unwrap();
    assert_eq!(wallet.append_batch(&block).unwrap(), root);
    let input = SpendInput {
        note,
        nk: alice.nullifier_key(),
        path: wallet.path(3).unwrap(),
    };
    let out = Note::new(USDC, 100, bob.address().paying_key, &mut rng);
    let ct = encrypt_note(&out, &bob.address(), Some(&alice.viewing_key()), &mut rng).unwrap();
    let witness = TransferWitness {
        inputs: [input, SpendInput::dummy(USDC, &mut rng)],
        outputs: [
            out,
            Note::new(USDC, 0, alice.address().paying_key, &mut rng),
        ],
    };
    let bound = *blake3::hash(&ct.to_bytes()).as_bytes();
    let statement = witness
        .statement(CHAIN, root, 0, Action::Transfer, bound)
        .unwrap();
    assert!(tree.is_anchor(&statement.anchor));
    let proof = params.prove(&witness, &statement, &mut rng).unwrap();
    let vk = VerifyingKey::from_bytes(&params.verifying_key().to_bytes()).unwrap();
    assert_eq!(vk.verify(&statement, &proof), Ok(()));
    assert_eq!(
        bob.viewing_key()
            .decrypt_incoming(&statement.commitments[0], &ct),
        Some(out)
    );
    // The chain appends the outputs; bob can spend from the new root, with a
    // path from the full tree or from his own incremental witness.
    let mut bob_witness = IncrementalWitness::new(&tree, statement.commitments[0]).unwrap();
    bob_witness.append(statement.commitments[1]).unwrap();
    tree.append_batch(&statement.commitments).unwrap();
    assert_eq!(bob_witness.root(), tree.root());
    assert_eq!(bob_witness.position(), 5);
    wallet.append_batch(&statement.commitments).unwrap();
    assert_eq!(tree.root(), wallet.root());
    assert_eq!(wallet.path(5).unwrap().root(out.commitment()), tree.root());
    let _ = Fr::zero().into_bigint();
}

#[test]
fn devnet_verifying_key_digest_is_pinned() {
    assert_eq!(
        chain::devnet_verifying_key().digest(),
        chain::DEVNET_VERIFYING_KEY_DIGEST,
        "{:?}",
        chain::devnet_verifying_key().digest()
    );
}

#[test]
fn parameters_file_round_trips_and_refuses_with_its_code() {
    use crate::params::ParamsError;
    let key = params().verifying_key().digest();
    let bytes = params().to_file_bytes();
    let loaded = Parameters::<D>::from_file_bytes(&bytes, &key).unwrap();
    assert_eq!(loaded.to_file_bytes(), bytes);
    let code = |bytes: &[u8], key: &[u8; 32]| {
        Parameters::<D>::from_file_bytes(bytes, key)
            .err()
            .map(|e: ParamsError| e.code())
    };
    assert_eq!(code(&bytes, &[7; 32]), Some("wrong_verifying_key"));
    assert_eq!(code(&bytes[..20], &key), Some("not_parameters"));
    let mut other = bytes.clone();
    other[0] ^= 1;
    assert_eq!(code(&other, &key), Some("not_parameters"));
    let mut other = bytes.clone();
    other[8] = 9;
    assert_eq!(code(&other, &key), Some("unsupported_version"));
    let mut other = bytes.clone();
    other[10] = 5;
    assert_eq!(code(&other, &key), Some("wrong_depth"));
    assert_eq!(code(&bytes[..bytes.len() - 1], &key), Some("malformed_key"));
    // A byte of the last point's x coordinate: off the curve.
    let mut other = bytes.clone();
    let at = other.len() - 40;
    other[at] ^= 1;
    assert_eq!(code(&other, &key), Some("malformed_key"));
    // Another valid key of the same circuit under this key's digest.
    let foreign = Parameters::<D>::devnet_setup(b"another seed").unwrap();
    let mut spliced = foreign.to_file_bytes();
    spliced[11..43].copy_from_slice(&key);
    assert_eq!(code(&spliced, &key), Some("digest_mismatch"));
}

#[test]
fn own_parameters_file_loads_unchecked_with_the_header_checks() {
    use crate::params::ParamsError;
    let key = params().verifying_key().digest();
    let bytes = params().to_file_bytes();
    let loaded = Parameters::<D>::from_own_file_bytes(&bytes, &key).unwrap();
    assert_eq!(loaded.to_file_bytes(), bytes);
    let code = |bytes: &[u8], key: &[u8; 32]| {
        Parameters::<D>::from_own_file_bytes(bytes, key)
            .err()
            .map(|e: ParamsError| e.code())
    };
    assert_eq!(code(&bytes, &[7; 32]), Some("wrong_verifying_key"));
    assert_eq!(code(&bytes[..20], &key), Some("not_parameters"));
    assert_eq!(code(&bytes[..bytes.len() - 1], &key), Some("malformed_key"));
    let foreign = Parameters::<D>::devnet_setup(b"another seed").unwrap();
    let mut spliced = foreign.to_file_bytes();
    spliced[11..43].copy_from_slice(&key);
    assert_eq!(code(&spliced, &key), Some("digest_mismatch"));
}

#[test]
fn genesis_key_decodes_checked_and_canonical_or_is_refused_with_its_code() {
    use crate::chain::ChainVerifyingKey;
    use lakh_types::modules::shielded::ShieldedGenesis;
    let from =
        |bytes: &[u8]| ChainVerifyingKey::from_genesis(Some(&ShieldedGenesis::with_key(bytes)));
    let code = |bytes: &[u8]| from(bytes).err().map(|e| e.code());
    let vk_bytes = params().verifying_key().to_bytes();
    let key = from(&vk_bytes).unwrap();
    assert!(!key.is_devnet());
    assert_eq!(key.digest(), params().verifying_key().digest());
    assert_eq!(key.digest(), crate::proof::verifying_key_digest(&vk_bytes));
    assert_eq!(key.key().to_bytes(), vk_bytes);
    let devnet = ChainVerifyingKey::from_genesis(None).unwrap();
    assert!(devnet.is_devnet());
    assert_eq!(devnet.digest(), chain::DEVNET_VERIFYING_KEY_DIGEST);

    assert_eq!(code(&vk_bytes[..vk_bytes.len() - 1]), Some("malformed_key"));
    let mut off_curve = vk_bytes.clone();
    off_curve[40] ^= 0x01; // inside beta_g2
    assert_eq!(code(&off_curve), Some("malformed_key"));
    let mut short = params().pk.vk.clone();
    short.gamma_abc_g1.pop();
    let mut short_bytes = Vec::new();
    short.serialize_compressed(&mut short_bytes).unwrap();
    assert_eq!(code(&short_bytes), Some("wrong_input_count"));
    // The last γ_abc point with the infinity flag over its nonzero x: it
    // decodes as the point at infinity, whose encoding has x = 0.
    let mut flagged = vk_bytes.clone();
    let last = flagged.len() - 1;
    flagged[last] = (flagged[last] & 0x3f) | 0x40;
    assert_eq!(code(&flagged), Some("non_canonical_key"));
    let not_hex = ShieldedGenesis {
        verifying_key: "zz".into(),
    };
    assert_eq!(
        ChainVerifyingKey::from_genesis(Some(&not_hex))
            .err()
            .map(|e| e.code()),
        Some("verifying_key_not_hex")
    );
}
