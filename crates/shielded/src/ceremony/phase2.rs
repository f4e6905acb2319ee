//! Phase 2: the circuit's queries and the chain of δ.

use ark_bn254::{G1Affine, G1Projective, G2Affine};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::Field;
use ark_std::rand::{CryptoRng, RngCore};

use super::phase1::{Accumulator, check_update};
use super::pok::{Pok, Secret, point_bytes, same_ratio};
use super::qap::{CircuitShape, Claimed};
use super::{CeremonyError, no_identity};

/// One contributor's `δ'`.
pub(crate) struct Phase2Secret(pub(crate) Secret);

impl Phase2Secret {
    pub(crate) fn draw(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        Self(Secret::draw(rng))
    }
}

/// One phase-2 contribution: the new `[δ]₁` and a proof of knowledge of
/// the factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Phase2Contribution {
    pub(crate) previous: [u8; 32],
    pub(crate) delta_g1: G1Affine,
    pub(crate) delta: Pok,
}

impl Phase2Contribution {
    pub(crate) fn record_bytes(&self) -> Vec<u8> {
        let mut out = self.previous.to_vec();
        out.extend(point_bytes(&self.delta_g1));
        out.extend(point_bytes(&self.delta.s));
        out.extend(point_bytes(&self.delta.s_x));
        out.extend(point_bytes(&self.delta.r_x));
        out
    }
}

/// Phase 2: the fixed queries of the transition, the contributions, and
/// the current `δ`, `L`, `H`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Phase2 {
    pub(crate) digest: [u8; 32],
    pub(crate) num_instance: usize,
    pub(crate) log_domain: u8,
    pub(crate) a_g1: Vec<G1Affine>,
    pub(crate) b_g1: Vec<G1Affine>,
    pub(crate) b_g2: Vec<G2Affine>,
    pub(crate) ic_g1: Vec<G1Affine>,
    pub(crate) contributions: Vec<Phase2Contribution>,
    pub(crate) delta_g1: G1Affine,
    pub(crate) delta_g2: G2Affine,
    pub(crate) l_g1: Vec<G1Affine>,
    pub(crate) h_g1: Vec<G1Affine>,
}

impl Phase2 {
    pub(crate) fn begin(circuit: &CircuitShape, acc: &Accumulator) -> Self {
        let q = circuit.queries(acc);
        Self {
            digest: circuit.digest(),
            num_instance: circuit.num_instance,
            log_domain: circuit.log_domain(),
            a_g1: q.a_g1,
            b_g1: q.b_g1,
            b_g2: q.b_g2,
            ic_g1: q.ic_g1,
            contributions: Vec::new(),
            delta_g1: G1Affine::generator(),
            delta_g2: G2Affine::generator(),
            l_g1: q.l_g1,
            h_g1: q.h_g1,
        }
    }

    /// What phase 2's start hash covers: the circuit and the fixed queries.
    pub(crate) fn header_bytes(&self) -> Vec<u8> {
        let mut out = self.digest.to_vec();
        out.extend((self.num_instance as u64).to_le_bytes());
        out.push(self.log_domain);
        for p in self.a_g1.iter().chain(&self.b_g1).chain(&self.ic_g1) {
            out.extend(point_bytes(p));
        }
        for p in &self.b_g2 {
            out.extend(point_bytes(p));
        }
        out
    }

    pub(crate) fn contribute(
        &mut self,
        previous: [u8; 32],
        secret: &Phase2Secret,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Phase2Contribution {
        let delta = &secret.0;
        let inverse = Secret(delta.0.inverse().unwrap_or_default());
        let divide = |points: &[G1Affine]| {
            let scaled: Vec<G1Projective> = points.iter().map(|p| *p * inverse.0).collect();
            G1Projective::normalize_batch(&scaled)
        };
        self.l_g1 = divide(&self.l_g1);
        self.h_g1 = divide(&self.h_g1);
        self.delta_g1 = (self.delta_g1 * delta.0).into_affine();
        self.delta_g2 = (self.delta_g2 * delta.0).into_affine();
        Phase2Contribution {
            previous,
            delta_g1: self.delta_g1,
            delta: Pok::prove(delta, &previous, "delta", rng),
        }
    }

    /// The chain of δ from 1, then the current state against the circuit
    /// and the powers. `hashes`: phase 2's start, then one per contribution.
    pub(crate) fn check(
        &self,
        circuit: &CircuitShape,
        acc: &Accumulator,
        hashes: &[[u8; 32]],
        seed: &[u8; 32],
    ) -> Result<(), CeremonyError> {
        self.check_sizes(circuit)?;
        let mut delta = G1Affine::generator();
        for (index, (c, previous)) in self.contributions.iter().zip(hashes).enumerate() {
            if c.previous != *previous {
                return Err(CeremonyError::OutOfOrder { phase: 2, index });
            }
            check_update(&c.delta, previous, "delta", (delta, c.delta_g1), 2, index)?;
            delta = c.delta_g1;
        }
        no_identity(&[self.delta_g1], "delta_g1")?;
        no_identity(&[self.delta_g2], "delta_g2")?;
        let mismatch = |what| CeremonyError::StateMismatch { phase: 2, what };
        if self.delta_g1 != delta {
            return Err(mismatch("delta_g1"));
        }
        let (g1, g2) = (G1Affine::generator(), G2Affine::generator());
        if !same_ratio((g1, self.delta_g1), (g2, self.delta_g2)) {
            return Err(mismatch("delta_g2"));
        }
        let claimed = Claimed {
            a_g1: &self.a_g1,
            b_g1: &self.b_g1,
            b_g2: &self.b_g2,
            ic_g1: &self.ic_g1,
            l_g1: &self.l_g1,
            h_g1: &self.h_g1,
            delta_g2: self.delta_g2,
        };
        circuit.check_queries(acc, &claimed, seed)
    }

    /// The vectors have the circuit's sizes (the digest already matched).
    fn check_sizes(&self, circuit: &CircuitShape) -> Result<(), CeremonyError> {
        let m = circuit.num_variables();
        let sizes_match = self.num_instance == circuit.num_instance
            && self.log_domain == circuit.log_domain()
            && self.a_g1.len() == m
            && self.b_g1.len() == m
            && self.b_g2.len() == m
            && self.ic_g1.len() == circuit.num_instance
            && self.l_g1.len() == circuit.num_witness
            && self.h_g1.len() == circuit.domain_size() - 1;
        if sizes_match {
            Ok(())
        } else {
            Err(CeremonyError::WrongCircuit {
                transcript: "(other sizes)".into(),
                expected: "this circuit's sizes".into(),
            })
        }
    }
}
