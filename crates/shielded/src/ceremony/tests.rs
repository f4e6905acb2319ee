#![allow(clippy::unwrap_used)]

use ark_bn254::{Bn254, Fr, G1Affine, G2Affine};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{Field, One, UniformRand};
use ark_groth16::Groth16;
use ark_groth16::r1cs_to_qap::{LibsnarkReduction, R1CSToQAP};
use ark_poly::GeneralEvaluationDomain;
use ark_r1cs_std::{
    alloc::AllocVar,
    eq::EqGadget,
    fields::{FieldVar, fp::FpVar},
};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use ark_std::rand::SeedableRng;
use lakh_types::AssetId;
use rand_chacha_ark::ChaCha20Rng;
use std::time::Instant;

use super::phase1::Phase1Secrets;
use super::phase2::Phase2Secret;
use super::pok::Secret;
use super::*;
use crate::{
    Action, FullTree, Note, Parameters, SpendInput, SpendingKey, Statement, TransferWitness,
};

/// `x³ + x + k = y` and `x·y = z`, with `y`, `z` public: a circuit small
/// enough for debug builds (domain 8), and `k` makes other circuits.
#[derive(Clone, Copy)]
struct Cubic {
    k: u64,
    x: Option<Fr>,
}

impl Cubic {
    fn blank(k: u64) -> Self {
        Self { k, x: None }
    }

    fn public_inputs(&self) -> [Fr; 2] {
        let x = self.x.unwrap();
        let y = x * x * x + x + Fr::from(self.k);
        [y, x * y]
    }
}

impl ConstraintSynthesizer<Fr> for Cubic {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let missing = || SynthesisError::AssignmentMissing;
        let x_value = self.x;
        let values = x_value.map(|_| self.public_inputs());
        let x = FpVar::new_witness(cs.clone(), || x_value.ok_or_else(missing))?;
        let y = FpVar::new_input(cs.clone(), || values.map(|v| v[0]).ok_or_else(missing))?;
        let z = FpVar::new_input(cs, || values.map(|v| v[1]).ok_or_else(missing))?;
        let cube = &x * &x * &x;
        (cube + &x + FpVar::constant(Fr::from(self.k))).enforce_equal(&y)?;
        (&x * &y).enforce_equal(&z)
    }
}

fn shape() -> CircuitShape {
    CircuitShape::of(Cubic::blank(5)).unwrap()
}

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// A phase 1 of domain 16 with `p1` contributions, then `p2` in phase 2.
fn ceremony(p1: usize, p2: usize) -> Transcript {
    let mut rng = rng(1);
    let mut t = Transcript::new(4).unwrap();
    for _ in 0..p1 {
        t.contribute(&mut rng).unwrap();
    }
    t.begin_phase2(&shape()).unwrap();
    for _ in 0..p2 {
        t.contribute(&mut rng).unwrap();
    }
    t
}

fn code<T>(result: Result<T, CeremonyError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

#[test]
fn two_contributions_per_phase_verify_and_prove() {
    let shape = shape();
    let t = ceremony(2, 2);
    let verified = t.verify(&shape).unwrap();
    let phases: Vec<u8> = verified.contributions.iter().map(|c| c.phase).collect();
    assert_eq!(phases, [1, 1, 2, 2]);
    assert_eq!(verified.circuit, Some(shape.digest()));
    assert_eq!(Transcript::from_bytes(&t.to_bytes()).unwrap(), t);

    let pk = t.finalize(&shape).unwrap();
    assert_eq!(t.finalize(&shape).unwrap(), pk, "deterministic");
    let circuit = Cubic {
        k: 5,
        x: Some(Fr::from(3u64)),
    };
    let inputs = circuit.public_inputs();
    let proof =
        Groth16::<Bn254>::create_random_proof_with_reduction(circuit, &pk, &mut rng(9)).unwrap();
    let pvk = ark_groth16::prepare_verifying_key(&pk.vk);
    assert!(Groth16::<Bn254>::verify_proof(&pvk, &proof, &inputs).unwrap());
    let wrong = [inputs[0], inputs[1] + Fr::one()];
    assert!(!Groth16::<Bn254>::verify_proof(&pvk, &proof, &wrong).unwrap());
}

#[test]
fn receipts_are_the_hashes_verify_reports() {
    let shape = shape();
    let mut rng = rng(3);
    let mut t = Transcript::new(3).unwrap();
    let first = t.contribute(&mut rng).unwrap();
    t.begin_phase2(&shape).unwrap();
    let second = t.contribute(&mut rng).unwrap();
    assert_eq!((first.phase, first.index), (1, 0));
    assert_eq!((second.phase, second.index), (2, 0));
    assert_eq!(t.verify(&shape).unwrap().contributions, [first, second]);
}

fn secret(x: Fr) -> Secret {
    Secret(x)
}

/// With known secrets, every element equals what arkworks' own reduction
/// gives at the same τ, α, β, δ (γ = 1).
#[test]
fn matches_the_qap_at_the_secrets() {
    let shape = shape();
    let mut rng = rng(4);
    let mut t = Transcript::new(4).unwrap();
    let (mut tau, mut alpha, mut beta, mut delta) = (Fr::one(), Fr::one(), Fr::one(), Fr::one());
    for _ in 0..2 {
        let s = [0; 3].map(|_| Fr::rand(&mut rng));
        (tau, alpha, beta) = (tau * s[0], alpha * s[1], beta * s[2]);
        let secrets = Phase1Secrets {
            tau: secret(s[0]),
            alpha: secret(s[1]),
            beta: secret(s[2]),
        };
        t.contribute_phase1(&secrets, &mut rng).unwrap();
    }
    t.begin_phase2(&shape).unwrap();
    for _ in 0..2 {
        let d = Fr::rand(&mut rng);
        delta *= d;
        t.contribute_phase2(&Phase2Secret(secret(d)), &mut rng)
            .unwrap();
    }
    let pk = t.finalize(&shape).unwrap();

    let cs = crate::proof::setup_constraint_system(Cubic::blank(5)).unwrap();
    let num_instance = cs.num_instance_variables();
    let (a, b, c, zt, _, n) = LibsnarkReduction::instance_map_with_evaluation::<
        Fr,
        GeneralEvaluationDomain<Fr>,
    >(cs, &tau)
    .unwrap();
    let g1 = |x: Fr| (G1Affine::generator() * x).into_affine();
    let g2 = |x: Fr| (G2Affine::generator() * x).into_affine();
    let delta_inverse = delta.inverse().unwrap();
    let q = |i: usize| beta * a[i] + alpha * b[i] + c[i];
    assert_eq!(pk.a_query, a.iter().map(|x| g1(*x)).collect::<Vec<_>>());
    assert_eq!(pk.b_g1_query, b.iter().map(|x| g1(*x)).collect::<Vec<_>>());
    assert_eq!(pk.b_g2_query, b.iter().map(|x| g2(*x)).collect::<Vec<_>>());
    let ic: Vec<G1Affine> = (0..num_instance).map(|i| g1(q(i))).collect();
    assert_eq!(pk.vk.gamma_abc_g1, ic);
    let l: Vec<G1Affine> = (num_instance..a.len())
        .map(|i| g1(q(i) * delta_inverse))
        .collect();
    assert_eq!(pk.l_query, l);
    let h: Vec<G1Affine> = (0..n - 1)
        .map(|i| g1(zt * tau.pow([i as u64]) * delta_inverse))
        .collect();
    assert_eq!(pk.h_query, h);
    assert_eq!(
        (pk.vk.alpha_g1, pk.beta_g1, pk.delta_g1),
        (g1(alpha), g1(beta), g1(delta))
    );
    assert_eq!(
        (pk.vk.beta_g2, pk.vk.gamma_g2, pk.vk.delta_g2),
        (g2(beta), G2Affine::generator(), g2(delta))
    );
}

fn p2(t: &mut Transcript) -> &mut phase2::Phase2 {
    t.phase2.as_mut().unwrap()
}

fn double<G: AffineRepr<ScalarField = Fr>>(p: G) -> G {
    (p * Fr::from(2u64)).into()
}

#[test]
fn tampered_transcripts_are_refused_with_their_code() {
    let shape = shape();
    let good = ceremony(2, 2);
    let check = |change: &dyn Fn(&mut Transcript)| {
        let mut t = good.clone();
        change(&mut t);
        code(t.verify(&shape))
    };
    assert_eq!(check(&|_| ()), "ok");
    // Phase 1's powers.
    let tampered = |t: &mut Transcript| t.accumulator.tau_g1[5] = double(t.accumulator.tau_g1[5]);
    assert_eq!(check(&tampered), "inconsistent_powers");
    let tampered = |t: &mut Transcript| t.accumulator.tau_g2[3] = double(t.accumulator.tau_g2[3]);
    assert_eq!(check(&tampered), "inconsistent_powers");
    let tampered =
        |t: &mut Transcript| t.accumulator.alpha_g1[2] = double(t.accumulator.alpha_g1[2]);
    assert_eq!(check(&tampered), "inconsistent_powers");
    let tampered = |t: &mut Transcript| t.accumulator.beta_g2 = double(t.accumulator.beta_g2);
    assert_eq!(check(&tampered), "state_mismatch");
    let tampered = |t: &mut Transcript| t.accumulator.beta_g1[3] = G1Affine::zero();
    assert_eq!(check(&tampered), "identity_point");
    // A whole other accumulator, consistent in itself.
    let other = Transcript::new(4).unwrap().accumulator;
    assert_eq!(
        check(&|t: &mut Transcript| t.accumulator = other.clone()),
        "state_mismatch"
    );
    // The chain of contributions.
    let wrong_pok = |t: &mut Transcript| t.phase1[1].alpha.r_x = double(t.phase1[1].alpha.r_x);
    assert_eq!(check(&wrong_pok), "invalid_proof_of_knowledge");
    let wrong_value = |t: &mut Transcript| t.phase1[1].tau_g1 = double(t.phase1[1].tau_g1);
    assert_eq!(check(&wrong_value), "inconsistent_update");
    let zero_value = |t: &mut Transcript| t.phase1[0].beta_g1 = G1Affine::zero();
    assert_eq!(check(&zero_value), "identity_point");
    assert_eq!(
        check(&|t: &mut Transcript| {
            t.phase1.remove(0);
        }),
        "out_of_order"
    );
    assert_eq!(
        check(&|t: &mut Transcript| t.phase1.swap(0, 1)),
        "out_of_order"
    );
    assert_eq!(
        check(&|t: &mut Transcript| {
            p2(t).contributions.remove(0);
        }),
        "out_of_order"
    );
    let wrong_pok = |t: &mut Transcript| {
        let c = &mut p2(t).contributions[1];
        c.delta.r_x = double(c.delta.r_x);
    };
    assert_eq!(check(&wrong_pok), "invalid_proof_of_knowledge");
    // Phase 2's state (variable 3 is the witness x, in A and B).
    let tampered = |t: &mut Transcript| {
        let p = p2(t);
        p.delta_g2 = double(p.delta_g2);
    };
    assert_eq!(check(&tampered), "state_mismatch");
    let tampered = |t: &mut Transcript| {
        let p = p2(t);
        p.l_g1[1] = double(p.l_g1[1]);
    };
    assert_eq!(check(&tampered), "inconsistent_query");
    let tampered = |t: &mut Transcript| {
        let p = p2(t);
        p.h_g1[0] = double(p.h_g1[0]);
    };
    assert_eq!(check(&tampered), "inconsistent_query");
    // The fixed queries: bound by phase 2's start hash, so changing them
    // breaks the chain; before any phase-2 contribution, the query check
    // finds them.
    let fresh = ceremony(2, 0);
    let fixed: [&dyn Fn(&mut Transcript); 3] = [
        &|t| {
            let p = p2(t);
            p.a_g1[3] = double(p.a_g1[3]);
        },
        &|t| {
            let p = p2(t);
            p.b_g2[3] = double(p.b_g2[3]);
        },
        &|t| {
            let p = p2(t);
            p.ic_g1[0] = double(p.ic_g1[0]);
        },
    ];
    for tampered in fixed {
        assert_eq!(check(tampered), "out_of_order");
        let mut t = fresh.clone();
        tampered(&mut t);
        assert_eq!(code(t.verify(&shape)), "inconsistent_query");
    }
    // Another circuit.
    let other = CircuitShape::of(Cubic::blank(6)).unwrap();
    assert_eq!(code(good.verify(&other)), "wrong_circuit");
}

#[test]
fn damaged_files_are_refused_with_their_code() {
    let bytes = ceremony(1, 1).to_bytes();
    let decode = |change: &dyn Fn(&mut Vec<u8>)| {
        let mut b = bytes.clone();
        change(&mut b);
        code(Transcript::from_bytes(&b))
    };
    assert_eq!(decode(&|_| ()), "ok");
    assert_eq!(decode(&|b| b.truncate(b.len() - 1)), "truncated");
    assert_eq!(decode(&|b| b.truncate(12)), "truncated");
    assert_eq!(decode(&|b| b.push(0)), "trailing_bytes");
    assert_eq!(decode(&|b| b[0] ^= 1), "bad_magic");
    assert_eq!(decode(&|b| b[8] = 2), "unsupported_version");
    assert_eq!(decode(&|b| b[10] = 40), "out_of_bounds");
    assert_eq!(decode(&|b| b[11..15].fill(0xff)), "out_of_bounds");
    // Inside the first contribution's [τ]₁: off the curve.
    assert_eq!(decode(&|b| b[15 + 32 + 3] ^= 1), "invalid_point");
}

#[test]
fn a_no_op_contribution_verifies() {
    let shape = shape();
    let mut rng = rng(5);
    let mut t = Transcript::new(4).unwrap();
    t.contribute(&mut rng).unwrap();
    let before = t.accumulator.clone();
    let one = || secret(Fr::one());
    let no_op = Phase1Secrets {
        tau: one(),
        alpha: one(),
        beta: one(),
    };
    t.contribute_phase1(&no_op, &mut rng).unwrap();
    assert_eq!(t.accumulator, before);
    t.begin_phase2(&shape).unwrap();
    t.contribute(&mut rng).unwrap();
    t.contribute_phase2(&Phase2Secret(one()), &mut rng).unwrap();
    assert_eq!(t.verify(&shape).unwrap().contributions.len(), 4);
}

#[test]
fn operations_out_of_phase_are_refused() {
    let shape = shape();
    let mut rng = rng(6);
    assert_eq!(code(Transcript::new(0)), "out_of_bounds");
    assert_eq!(code(Transcript::new(MAX_LOG_DOMAIN + 1)), "out_of_bounds");
    let mut small = Transcript::new(2).unwrap();
    small.contribute(&mut rng).unwrap();
    assert_eq!(code(small.begin_phase2(&shape)), "domain_too_small");

    let mut t = Transcript::new(3).unwrap();
    assert_eq!(code(t.begin_phase2(&shape)), "no_contributions");
    assert_eq!(code(t.finalize(&shape)), "wrong_phase");
    t.contribute(&mut rng).unwrap();
    t.begin_phase2(&shape).unwrap();
    assert_eq!(code(t.begin_phase2(&shape)), "wrong_phase");
    assert_eq!(code(t.finalize(&shape)), "no_contributions");
    let secrets = Phase1Secrets::draw(&mut rng);
    assert_eq!(code(t.contribute_phase1(&secrets, &mut rng)), "wrong_phase");
    assert_eq!(code(t.verify(&shape)), "ok");
}

/// A 40-in 2-out transfer at depth `D`, one real input.
fn transfer<const D: usize>(rng: &mut ChaCha20Rng) -> (TransferWitness<D>, Statement) {
    let asset = AssetId(1);
    let alice = SpendingKey::random(rng);
    let bob = SpendingKey::random(rng).address();
    let note = Note::new(asset, 100, alice.address().paying_key, rng);
    let mut tree = FullTree::<D>::new();
    tree.append_batch(&[note.commitment()]).unwrap();
    let input = SpendInput {
        note,
        nk: alice.nullifier_key(),
        path: tree.path(0).unwrap(),
    };
    let witness = TransferWitness {
        inputs: [input, SpendInput::dummy(asset, rng)],
        outputs: [
            Note::new(asset, 40, bob.paying_key, rng),
            Note::new(asset, 60, alice.address().paying_key, rng),
        ],
    };
    let statement = witness
        .statement(7, tree.root(), 0, Action::Transfer, [0; 32])
        .unwrap();
    (witness, statement)
}

/// The whole ceremony for the transfer circuit at depth `D`, then a
/// transfer proved and verified through the crate's own API. Prints the
/// time of each step.
fn transfer_ceremony<const D: usize>() {
    let timed = |what: &str, started: Instant| {
        eprintln!("depth {D}: {what} {} ms", started.elapsed().as_millis());
    };
    let shape = CircuitShape::transfer::<D>().unwrap();
    let mut rng = rng(7);
    let mut t = Transcript::new(shape.log_domain()).unwrap();
    let started = Instant::now();
    t.contribute(&mut rng).unwrap();
    timed("phase-1 contribute", started);
    let started = Instant::now();
    t.verify(&shape).unwrap();
    timed("phase-1 verify", started);
    let started = Instant::now();
    t.begin_phase2(&shape).unwrap();
    timed("transition", started);
    let started = Instant::now();
    t.contribute(&mut rng).unwrap();
    timed("phase-2 contribute", started);
    let started = Instant::now();
    let bytes = t.to_bytes();
    let t = Transcript::from_bytes(&bytes).unwrap();
    timed(&format!("encode + decode {} bytes", bytes.len()), started);
    let started = Instant::now();
    let pk = t.finalize(&shape).unwrap();
    timed("verify + finalize", started);
    let params = Parameters::<D>::from_proving_key(pk).unwrap();
    let (witness, statement) = transfer::<D>(&mut rng);
    let proof = params.prove(&witness, &statement, &mut rng).unwrap();
    params.verifying_key().verify(&statement, &proof).unwrap();
    let mut other = statement;
    other.fee += 1;
    assert!(params.verifying_key().verify(&other, &proof).is_err());
}

/// Over a minute in the debug test profile on this machine (domain 2^12,
/// group FFTs at opt-level 1), so not in the default run.
#[test]
#[ignore = "slow in debug: the whole ceremony for the transfer circuit at depth 1"]
fn transfer_circuit_at_depth_1() {
    transfer_ceremony::<1>();
}

/// The production circuit (domain 2^15), timed:
/// `cargo test --release -p lakh-shielded production_depth -- --ignored --nocapture`.
#[test]
#[ignore = "slow: the production-depth ceremony, run with --release"]
fn transfer_circuit_at_production_depth() {
    transfer_ceremony::<{ crate::TREE_DEPTH }>();
}
