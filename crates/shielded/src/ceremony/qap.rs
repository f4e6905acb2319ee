//! The circuit's side: its R1CS matrices, the QAP at `τ` computed from the
//! phase-1 powers (what `ark_groth16`'s generator computes from `τ` itself,
//! with its `LibsnarkReduction`), and the verifier's check of it.
//!
//! As in arkworks: the domain is the radix-2 domain of size at least
//! `constraints + instance variables`; `a_i` gets, besides its column of
//! `A`, the Lagrange polynomial of row `constraints + i` for each instance
//! variable `i` (this binds the public inputs); the `H` query is
//! `[τ^i·Z(τ)/δ]₁` for `i < n−1`, `Z(x) = x^n − 1`.

use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::{
    AffineRepr, CurveGroup,
    short_weierstrass::{Affine, Projective, SWCurveConfig},
};
use ark_ff::{One, Zero};
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use ark_relations::gr1cs::{ConstraintSynthesizer, Matrix, R1CS_PREDICATE_LABEL};

use super::phase1::Accumulator;
use super::pok::{Coefficients, msm, same_ratio};
use super::{CeremonyError, codec};
use crate::circuit::TransferCircuit;

const CIRCUIT_DOMAIN: &str = "lakh-shielded 2026 v1 ceremony circuit digest";

/// A circuit's constraint matrices and sizes, as the Groth16 setup sees
/// them (synthesized in setup mode, optimized for constraints).
#[derive(Clone, Debug)]
pub struct CircuitShape {
    pub(crate) num_instance: usize,
    pub(crate) num_witness: usize,
    pub(crate) num_constraints: usize,
    a: Matrix<Fr>,
    b: Matrix<Fr>,
    c: Matrix<Fr>,
    pub(crate) domain: Radix2EvaluationDomain<Fr>,
    digest: [u8; 32],
}

fn synthesis(e: impl ToString) -> CeremonyError {
    CeremonyError::Synthesis(e.to_string())
}

impl CircuitShape {
    /// The shape of `circuit` (its witness values are not used).
    pub fn of<C: ConstraintSynthesizer<Fr>>(circuit: C) -> Result<Self, CeremonyError> {
        let cs = crate::proof::setup_constraint_system(circuit).map_err(synthesis)?;
        let mut matrices = cs.to_matrices().map_err(synthesis)?;
        let mut r1cs = matrices
            .remove(R1CS_PREDICATE_LABEL)
            .ok_or_else(|| synthesis("the circuit has no R1CS constraints"))?
            .into_iter();
        let (Some(a), Some(b), Some(c)) = (r1cs.next(), r1cs.next(), r1cs.next()) else {
            return Err(synthesis("R1CS needs three matrices"));
        };
        let (num_instance, num_witness) = (cs.num_instance_variables(), cs.num_witness_variables());
        let num_constraints = cs.num_constraints();
        if num_instance + num_witness > codec::MAX_VARIABLES {
            return Err(CeremonyError::OutOfBounds {
                what: "circuit variables",
                value: (num_instance + num_witness) as u64,
                allowed: "at most MAX_VARIABLES",
            });
        }
        let domain = Radix2EvaluationDomain::new(num_constraints + num_instance)
            .ok_or_else(|| synthesis("the circuit is too large for a radix-2 domain"))?;
        let mut shape = Self {
            num_instance,
            num_witness,
            num_constraints,
            a,
            b,
            c,
            domain,
            digest: [0; 32],
        };
        shape.digest = shape.compute_digest();
        Ok(shape)
    }

    /// The shielded transfer circuit at tree depth `D`.
    pub fn transfer<const D: usize>() -> Result<Self, CeremonyError> {
        Self::of(TransferCircuit::<D>::blank())
    }

    /// Size of the circuit's QAP domain (a power of two).
    pub fn domain_size(&self) -> usize {
        self.domain.size()
    }

    /// `log2` of [`CircuitShape::domain_size`]: the least phase-1
    /// `log_domain` that serves this circuit.
    pub fn log_domain(&self) -> u8 {
        self.domain.log_size_of_group as u8
    }

    /// Number of constraints.
    pub fn constraints(&self) -> usize {
        self.num_constraints
    }

    /// BLAKE3 of the sizes and the three matrices.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    pub(crate) fn num_variables(&self) -> usize {
        self.num_instance + self.num_witness
    }

    fn compute_digest(&self) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new_derive_key(CIRCUIT_DOMAIN);
        for size in [self.num_instance, self.num_witness, self.num_constraints] {
            hasher.update(&(size as u64).to_le_bytes());
        }
        for matrix in [&self.a, &self.b, &self.c] {
            hasher.update(&(matrix.len() as u64).to_le_bytes());
            for row in matrix {
                hasher.update(&(row.len() as u64).to_le_bytes());
                for (coeff, var) in row {
                    hasher.update(&(*var as u64).to_le_bytes());
                    hasher.update(&crate::field::encode(coeff));
                }
            }
        }
        *hasher.finalize().as_bytes()
    }

    pub(crate) fn check_digest(&self, transcript: &[u8; 32]) -> Result<(), CeremonyError> {
        if *transcript == self.digest {
            Ok(())
        } else {
            Err(CeremonyError::WrongCircuit {
                transcript: hex(transcript),
                expected: hex(&self.digest),
            })
        }
    }

    /// Phase 1 of `2^log_domain` is large enough.
    pub(crate) fn fits(&self, log_domain: u8) -> Result<(), CeremonyError> {
        let available = 1usize << log_domain;
        if self.domain_size() > available {
            return Err(CeremonyError::DomainTooSmall {
                needed: self.domain_size(),
                available,
            });
        }
        Ok(())
    }

    /// `Σ_var r[var]·M[row][var]` per row, plus, for `A`, `r[i]` at row
    /// `constraints + i` of each instance variable: the values on the
    /// domain of the polynomial `Σ r_k·m_k(x)`.
    fn combine(&self, matrix: &Matrix<Fr>, r: &[Fr], with_instance_rows: bool) -> Vec<Fr> {
        let mut out = vec![Fr::zero(); self.domain_size()];
        for (slot, row) in out.iter_mut().zip(matrix) {
            *slot = row
                .iter()
                .map(|(coeff, var)| r.get(*var).map_or(Fr::zero(), |r| *coeff * r))
                .sum();
        }
        if with_instance_rows {
            let rows = out[self.num_constraints..].iter_mut();
            for (slot, r) in rows.zip(&r[..self.num_instance]) {
                *slot += r;
            }
        }
        out
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The phase-1-determined queries and the starting `L`, `H` (δ = 1).
pub(crate) struct Queries {
    pub(crate) a_g1: Vec<G1Affine>,
    pub(crate) b_g1: Vec<G1Affine>,
    pub(crate) b_g2: Vec<G2Affine>,
    pub(crate) ic_g1: Vec<G1Affine>,
    pub(crate) l_g1: Vec<G1Affine>,
    pub(crate) h_g1: Vec<G1Affine>,
}

/// `[L_j(τ)]` for the domain's Lagrange polynomials: the inverse FFT of
/// the first `n` powers, over the group.
fn lagrange<P: SWCurveConfig<ScalarField = Fr>>(
    powers: &[Affine<P>],
    domain: &Radix2EvaluationDomain<Fr>,
) -> Vec<Projective<P>> {
    let mut points: Vec<Projective<P>> = powers[..domain.size()]
        .iter()
        .map(|p| p.into_group())
        .collect();
    domain.ifft_in_place(&mut points);
    points
}

/// `out[var] += Σ_row M[row][var]·basis[row]`.
fn accumulate<P: SWCurveConfig<ScalarField = Fr>>(
    matrix: &Matrix<Fr>,
    basis: &[Projective<P>],
    out: &mut [Projective<P>],
) {
    for (row, l) in matrix.iter().zip(basis) {
        for (coeff, var) in row {
            if let Some(slot) = out.get_mut(*var) {
                if coeff.is_one() {
                    *slot += l;
                } else {
                    *slot += *l * coeff;
                }
            }
        }
    }
}

impl CircuitShape {
    fn add_instance_rows<P: SWCurveConfig<ScalarField = Fr>>(
        &self,
        basis: &[Projective<P>],
        out: &mut [Projective<P>],
    ) {
        let rows = &basis[self.num_constraints..];
        for (slot, l) in out[..self.num_instance].iter_mut().zip(rows) {
            *slot += l;
        }
    }

    /// The transition: everything phase 2 starts from.
    pub(crate) fn queries(&self, acc: &Accumulator) -> Queries {
        let n = self.domain_size();
        let tau = lagrange(&acc.tau_g1, &self.domain);
        let alpha = lagrange(&acc.alpha_g1, &self.domain);
        let beta = lagrange(&acc.beta_g1, &self.domain);
        let tau_g2 = lagrange(&acc.tau_g2, &self.domain);
        let m = self.num_variables();
        let zero = G1Projective::zero();
        let (mut a, mut b, mut l) = (vec![zero; m], vec![zero; m], vec![zero; m]);
        let mut b2 = vec![Projective::zero(); m];
        accumulate(&self.a, &tau, &mut a);
        self.add_instance_rows(&tau, &mut a);
        accumulate(&self.b, &tau, &mut b);
        accumulate(&self.b, &tau_g2, &mut b2);
        accumulate(&self.a, &beta, &mut l);
        self.add_instance_rows(&beta, &mut l);
        accumulate(&self.b, &alpha, &mut l);
        accumulate(&self.c, &tau, &mut l);
        let h: Vec<G1Projective> = (0..n - 1)
            .map(|i| acc.tau_g1[i + n].into_group() - acc.tau_g1[i])
            .collect();
        let mut l = G1Projective::normalize_batch(&l);
        let l_g1 = l.split_off(self.num_instance);
        Queries {
            a_g1: G1Projective::normalize_batch(&a),
            b_g1: G1Projective::normalize_batch(&b),
            b_g2: Projective::normalize_batch(&b2),
            ic_g1: l,
            l_g1,
            h_g1: G1Projective::normalize_batch(&h),
        }
    }
}

/// The queries a transcript claims, and its current δ.
pub(crate) struct Claimed<'a> {
    pub(crate) a_g1: &'a [G1Affine],
    pub(crate) b_g1: &'a [G1Affine],
    pub(crate) b_g2: &'a [G2Affine],
    pub(crate) ic_g1: &'a [G1Affine],
    pub(crate) l_g1: &'a [G1Affine],
    pub(crate) h_g1: &'a [G1Affine],
    pub(crate) delta_g2: G2Affine,
}

/// Per matrix, the combined rows for the instance and the witness
/// variables, interpolated to monomial coefficients.
struct Combined {
    instance: Vec<Fr>,
    witness: Vec<Fr>,
    all: Vec<Fr>,
}

impl CircuitShape {
    fn combined(&self, matrix: &Matrix<Fr>, r: &[Fr], is_a: bool) -> Combined {
        let split = self.num_instance;
        let mut instance_r = r.to_vec();
        instance_r[split..].iter_mut().for_each(|x| *x = Fr::zero());
        let mut witness_r = r.to_vec();
        witness_r[..split].iter_mut().for_each(|x| *x = Fr::zero());
        let instance = self.domain.ifft(&self.combine(matrix, &instance_r, is_a));
        let witness = self.domain.ifft(&self.combine(matrix, &witness_r, false));
        let all = instance.iter().zip(&witness).map(|(x, y)| *x + y).collect();
        Combined {
            instance,
            witness,
            all,
        }
    }

    /// Each query equals what the circuit and the powers give, checked on a
    /// random linear combination: `Σ r_k·a_k(τ)` is a polynomial in `τ`
    /// whose coefficients the verifier computes in the field, so each check
    /// is one multi-scalar multiplication on each side (a pairing with δ
    /// for `L` and `H`).
    pub(crate) fn check_queries(
        &self,
        acc: &Accumulator,
        q: &Claimed<'_>,
        seed: &[u8; 32],
    ) -> Result<(), CeremonyError> {
        let n = self.domain_size();
        let wrong = |what| CeremonyError::InconsistentQuery { what };
        let r = Coefficients::new(seed, "phase 2 queries").take(self.num_variables());
        let a = self.combined(&self.a, &r, true);
        let b = self.combined(&self.b, &r, false);
        let c = self.combined(&self.c, &r, false);
        let (tau, tau_g2) = (&acc.tau_g1[..n], &acc.tau_g2[..n]);
        if msm(q.a_g1, &r) != msm(tau, &a.all) {
            return Err(wrong("a_query"));
        }
        if msm(q.b_g1, &r) != msm(tau, &b.all) {
            return Err(wrong("b_g1_query"));
        }
        if msm(q.b_g2, &r) != msm(tau_g2, &b.all) {
            return Err(wrong("b_g2_query"));
        }
        let l_of = |part: fn(&Combined) -> &Vec<Fr>| {
            (msm(&acc.beta_g1[..n], part(&a)).into_group()
                + msm(&acc.alpha_g1[..n], part(&b))
                + msm(tau, part(&c)))
            .into_affine()
        };
        if msm(q.ic_g1, &r[..self.num_instance]) != l_of(|x| &x.instance) {
            return Err(wrong("gamma_abc_g1"));
        }
        let g2 = G2Affine::generator();
        let l = msm(q.l_g1, &r[self.num_instance..]);
        if !same_ratio((l, l_of(|x| &x.witness)), (g2, q.delta_g2)) {
            return Err(wrong("l_query"));
        }
        let s = Coefficients::new(seed, "phase 2 h query").take(n - 1);
        let mut h_scalars = vec![Fr::zero(); 2 * n - 1];
        for (i, s) in s.iter().enumerate() {
            h_scalars[i] -= s;
            h_scalars[i + n] += s;
        }
        let h = msm(q.h_g1, &s);
        if !same_ratio((h, msm(&acc.tau_g1, &h_scalars)), (g2, q.delta_g2)) {
            return Err(wrong("h_query"));
        }
        Ok(())
    }
}
