//! Groth16 over BN254: setup, proving, verification (single and batched)
//! and checked (de)serialization of proofs and keys.

use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::{
    AffineRepr, CurveGroup, PrimeGroup, VariableBaseMSM,
    pairing::{Pairing, PairingOutput},
    short_weierstrass::{Affine, SWCurveConfig},
};
use ark_ff::{UniformRand, Zero};
use ark_groth16::{Groth16, PreparedVerifyingKey, prepare_verifying_key};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use ark_std::rand::{CryptoRng, RngCore, SeedableRng};
use rand_chacha_ark::ChaCha20Rng;

use crate::circuit::{NUM_PUBLIC_INPUTS, PublicInputs, TransferCircuit};
use crate::field;
use crate::transfer::{BuildError, Statement, StatementError, TransferWitness};

/// Bytes of an encoded proof: `A` (G1, 32) ‖ `B` (G2, 64) ‖ `C` (G1, 32),
/// each point compressed as arkworks does.
pub const PROOF_BYTES: usize = 128;

const DEVNET_DOMAIN: &str = "lakh-shielded 2026 v1 devnet setup";

/// A Groth16 proof of a [`Statement`].
///
/// Groth16 proofs are malleable: anyone can re-randomise a valid proof into
/// another valid proof of the same statement, so proof bytes must never
/// identify a spend. The nullifiers do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Proof {
    pub(crate) a: G1Affine,
    pub(crate) b: G2Affine,
    pub(crate) c: G1Affine,
}

/// One of a proof's three points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofPoint {
    /// `A`, in G1.
    A,
    /// `B`, in G2.
    B,
    /// `C`, in G1.
    C,
}

/// Why bytes are not a proof.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofDecodeError {
    /// Not 128 bytes.
    #[error("a proof is {PROOF_BYTES} bytes, got {0}")]
    Length(usize),
    /// The point's encoding is invalid: bad flags, a coordinate `>= q`, or an
    /// `x` with no point on the curve.
    #[error("proof point {0:?}: not a curve point ({1})")]
    NotOnCurve(ProofPoint, String),
    /// On the curve but outside the prime-order subgroup (possible for `B`:
    /// BN254's G2 has a cofactor).
    #[error("proof point {0:?}: not in the prime-order subgroup")]
    NotInSubgroup(ProofPoint),
    /// The point at infinity (never part of an honest proof).
    #[error("proof point {0:?}: the point at infinity")]
    Identity(ProofPoint),
}

fn decode_point<C: SWCurveConfig>(
    bytes: &[u8],
    point: ProofPoint,
) -> Result<Affine<C>, ProofDecodeError> {
    let p = Affine::<C>::deserialize_with_mode(bytes, Compress::Yes, Validate::No)
        .map_err(|e| ProofDecodeError::NotOnCurve(point, e.to_string()))?;
    check_point(
        p.is_zero(),
        p.is_on_curve(),
        p.is_in_correct_subgroup_assuming_on_curve(),
        point,
    )?;
    Ok(p)
}

fn check_point(
    identity: bool,
    on_curve: bool,
    in_subgroup: bool,
    point: ProofPoint,
) -> Result<(), ProofDecodeError> {
    if identity {
        return Err(ProofDecodeError::Identity(point));
    }
    if !on_curve {
        return Err(ProofDecodeError::NotOnCurve(
            point,
            "fails the curve equation".into(),
        ));
    }
    if !in_subgroup {
        return Err(ProofDecodeError::NotInSubgroup(point));
    }
    Ok(())
}

impl Proof {
    pub(crate) fn from_ark(p: ark_groth16::Proof<Bn254>) -> Self {
        Self {
            a: p.a,
            b: p.b,
            c: p.c,
        }
    }

    pub(crate) fn ark(&self) -> ark_groth16::Proof<Bn254> {
        ark_groth16::Proof {
            a: self.a,
            b: self.b,
            c: self.c,
        }
    }

    /// `A ‖ B ‖ C`, compressed.
    pub fn to_bytes(&self) -> [u8; PROOF_BYTES] {
        let mut out = [0u8; PROOF_BYTES];
        let mut cursor = &mut out[..];
        // Writing fixed-size points into a buffer of exactly their size.
        self.a
            .serialize_compressed(&mut cursor)
            .expect("32 bytes fit");
        self.b
            .serialize_compressed(&mut cursor)
            .expect("64 bytes fit");
        self.c
            .serialize_compressed(&mut cursor)
            .expect("32 bytes fit");
        out
    }

    /// Decodes [`Proof::to_bytes`], refusing with a reason any point that is
    /// malformed, off the curve, outside the subgroup or at infinity.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProofDecodeError> {
        if bytes.len() != PROOF_BYTES {
            return Err(ProofDecodeError::Length(bytes.len()));
        }
        Ok(Self {
            a: decode_point(&bytes[..32], ProofPoint::A)?,
            b: decode_point(&bytes[32..96], ProofPoint::B)?,
            c: decode_point(&bytes[96..], ProofPoint::C)?,
        })
    }
}

/// Why a key does not decode.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyDecodeError {
    /// Malformed, off-curve or off-subgroup points, or trailing bytes.
    #[error("malformed key: {0}")]
    Malformed(String),
    /// A proving key for another circuit (e.g. another tree depth).
    #[error("proving key has {got} witness variables, the circuit at this depth has {expected}")]
    Shape {
        /// Witness variables the key was made for.
        got: usize,
        /// Witness variables of this circuit.
        expected: usize,
    },
    /// A key for a circuit with another number of public inputs.
    #[error("key has {got} public inputs, the transfer circuit has {NUM_PUBLIC_INPUTS}")]
    InputCount {
        /// Public inputs of the key's circuit.
        got: usize,
    },
}

impl KeyDecodeError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed_key",
            Self::Shape { .. } => "wrong_shape",
            Self::InputCount { .. } => "wrong_input_count",
        }
    }
}

fn decode_checked<T: CanonicalDeserialize>(bytes: &[u8]) -> Result<T, KeyDecodeError> {
    decode_with(bytes, Compress::Yes, Validate::Yes)
}

/// Decodes `bytes` entirely. `Validate::Yes` checks every point on the curve
/// and in the subgroup; `Validate::No` is only for bytes whose integrity the
/// caller established itself.
pub(crate) fn decode_with<T: CanonicalDeserialize>(
    bytes: &[u8],
    compress: Compress,
    validate: Validate,
) -> Result<T, KeyDecodeError> {
    let mut reader = bytes;
    let value = T::deserialize_with_mode(&mut reader, compress, validate)
        .map_err(|e| KeyDecodeError::Malformed(e.to_string()))?;
    if !reader.is_empty() {
        return Err(KeyDecodeError::Malformed(format!(
            "{} trailing bytes",
            reader.len()
        )));
    }
    Ok(value)
}

fn encode<T: CanonicalSerialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.compressed_size());
    value
        .serialize_compressed(&mut out)
        .expect("writing to a Vec cannot fail");
    out
}

/// [`VerifyingKey::digest`] of a key encoded as `bytes` (its
/// [`VerifyingKey::to_bytes`]), without decoding it.
pub fn verifying_key_digest(bytes: &[u8]) -> [u8; 32] {
    *blake3::Hasher::new_derive_key("lakh-shielded 2026 v1 verifying key digest")
        .update(bytes)
        .finalize()
        .as_bytes()
}

/// The verifying key, prepared for pairing checks.
#[derive(Clone, Debug)]
pub struct VerifyingKey {
    pvk: PreparedVerifyingKey<Bn254>,
    beta_prepared: <Bn254 as Pairing>::G2Prepared,
}

/// Why a proof was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The statement breaks its own rules.
    #[error(transparent)]
    Statement(#[from] StatementError),
    /// The pairing check failed: not a proof of this statement.
    #[error("invalid proof for this statement")]
    Invalid,
}

/// A batch in which some proofs failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} of the batch's proofs failed (first: #{})", .failing.len(), .failing.first().map(|f| f.0).unwrap_or_default())]
pub struct BatchError {
    /// Index in the batch and reason, for every failing member.
    pub failing: Vec<(usize, VerifyError)>,
}

impl VerifyingKey {
    pub(crate) fn new(vk: ark_groth16::VerifyingKey<Bn254>) -> Result<Self, KeyDecodeError> {
        let inputs = vk.gamma_abc_g1.len().saturating_sub(1);
        if inputs != NUM_PUBLIC_INPUTS {
            return Err(KeyDecodeError::InputCount { got: inputs });
        }
        Ok(Self {
            beta_prepared: vk.beta_g2.into(),
            pvk: prepare_verifying_key(&vk),
        })
    }

    /// Compressed arkworks encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(&self.pvk.vk)
    }

    /// BLAKE3 of [`VerifyingKey::to_bytes`]: what a parameters file and a
    /// chain are compared by.
    pub fn digest(&self) -> [u8; 32] {
        verifying_key_digest(&self.to_bytes())
    }

    /// Decodes [`VerifyingKey::to_bytes`], checking every point is on the
    /// curve and in the subgroup, and the public-input count.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyDecodeError> {
        Self::new(decode_checked(bytes)?)
    }

    /// Verifies one proof of `statement`.
    pub fn verify(&self, statement: &Statement, proof: &Proof) -> Result<(), VerifyError> {
        let inputs = statement.public_inputs()?;
        if self.verify_inputs(&inputs, proof) {
            Ok(())
        } else {
            Err(VerifyError::Invalid)
        }
    }

    /// The Groth16 check, with `acc = IC_0 + Σ x_j·IC_j` as one
    /// multi-scalar multiplication (arkworks' `prepare_inputs` does one
    /// scalar multiplication per input).
    fn verify_inputs(&self, inputs: &PublicInputs, proof: &Proof) -> bool {
        let ic = &self.pvk.vk.gamma_abc_g1;
        let acc = ic[0]
            + G1Projective::msm(&ic[1..], &inputs.to_vec()).expect("lengths checked at key load");
        matches!(
            Groth16::<Bn254>::verify_proof_with_prepared_inputs(&self.pvk, &proof.ark(), &acc),
            Ok(true)
        )
    }

    /// Verifies many proofs at once: one random linear combination of their
    /// pairing equations (`n + 3` Miller loops, one final exponentiation),
    /// with 128-bit coefficients derived from a hash of the whole batch
    /// (Fiat–Shamir: fixed after the proofs, so a forger cannot cancel a bad
    /// proof against another). If the combination fails, every member is
    /// checked alone and all failing ones are reported.
    pub fn batch_verify(&self, batch: &[(Statement, Proof)]) -> Result<(), BatchError> {
        let mut failing = Vec::new();
        let mut members = Vec::with_capacity(batch.len());
        for (index, (statement, proof)) in batch.iter().enumerate() {
            match statement.public_inputs() {
                Ok(inputs) => members.push((index, inputs, proof)),
                Err(e) => failing.push((index, VerifyError::Statement(e))),
            }
        }
        if !members.is_empty() && !self.combined_check(&members) {
            for (index, inputs, proof) in &members {
                if !self.verify_inputs(inputs, proof) {
                    failing.push((*index, VerifyError::Invalid));
                }
            }
            failing.sort_by_key(|f| f.0);
        }
        if failing.is_empty() {
            Ok(())
        } else {
            Err(BatchError { failing })
        }
    }

    /// `Σ e(r_i·A_i, B_i) + e(Σ r_i·acc_i, −γ) + e(Σ r_i·C_i, −δ) + e(−(Σ r_i)·α, β) = 0`
    /// where `acc_i = IC_0 + Σ_j x_ij·IC_j`.
    fn combined_check(&self, members: &[(usize, PublicInputs, &Proof)]) -> bool {
        if members.len() == 1 {
            let (_, inputs, proof) = &members[0];
            return self.verify_inputs(inputs, proof);
        }
        let coefficients = batch_coefficients(members);
        let vk = &self.pvk.vk;
        let mut r_sum = Fr::zero();
        // Scalars of IC_0..IC_9 in Σ r_i·acc_i.
        let mut ic_scalars = vec![Fr::zero(); NUM_PUBLIC_INPUTS + 1];
        for ((_, inputs, _), r) in members.iter().zip(&coefficients) {
            r_sum += r;
            ic_scalars[0] += r;
            for (s, x) in ic_scalars[1..].iter_mut().zip(inputs.to_vec()) {
                *s += *r * x;
            }
        }
        let acc =
            G1Projective::msm(&vk.gamma_abc_g1, &ic_scalars).expect("lengths checked at key load");
        let cs: Vec<G1Affine> = members.iter().map(|m| m.2.c).collect();
        let c_sum = G1Projective::msm(&cs, &coefficients).expect("one coefficient per proof");
        let scaled_a: Vec<G1Projective> = members
            .iter()
            .zip(&coefficients)
            .map(|(m, r)| m.2.a * r)
            .collect();
        let mut g1: Vec<G1Affine> = G1Projective::normalize_batch(&scaled_a);
        g1.extend(G1Projective::normalize_batch(&[
            acc,
            c_sum,
            -(vk.alpha_g1 * r_sum),
        ]));
        let mut g2: Vec<<Bn254 as Pairing>::G2Prepared> =
            members.iter().map(|m| m.2.b.into()).collect();
        g2.push(self.pvk.gamma_g2_neg_pc.clone());
        g2.push(self.pvk.delta_g2_neg_pc.clone());
        g2.push(self.beta_prepared.clone());
        let g1: Vec<<Bn254 as Pairing>::G1Prepared> = g1.into_iter().map(Into::into).collect();
        let miller = Bn254::multi_miller_loop(g1, g2);
        Bn254::final_exponentiation(miller).is_some_and(|out| out == PairingOutput::zero())
    }
}

/// 128-bit non-zero coefficients from a BLAKE3 hash of every member.
fn batch_coefficients(members: &[(usize, PublicInputs, &Proof)]) -> Vec<Fr> {
    let mut hasher = blake3::Hasher::new_derive_key("lakh-shielded 2026 v1 batch verification");
    hasher.update(&(members.len() as u64).to_le_bytes());
    for (_, inputs, proof) in members {
        for x in inputs.to_vec() {
            hasher.update(&field::encode(&x));
        }
        hasher.update(&proof.to_bytes());
    }
    let mut xof = hasher.finalize_xof();
    members
        .iter()
        .map(|_| {
            let mut bytes = [0u8; 16];
            xof.fill(&mut bytes);
            Fr::from(u128::from_le_bytes(bytes).max(1))
        })
        .collect()
}

/// Why a proof could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProveError {
    /// The witness does not make the statement.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The prover failed.
    #[error("prover: {0}")]
    Prover(String),
}

/// Proving key (with its verifying key) for the transfer circuit at depth `D`.
#[derive(Clone, Debug)]
pub struct Parameters<const D: usize> {
    pub(crate) pk: ark_groth16::ProvingKey<Bn254>,
    pub(crate) vk: VerifyingKey,
}

/// `circuit`'s constraint system as the Groth16 setup builds it (setup
/// mode, optimized for constraints, linear combinations inlined).
pub(crate) fn setup_constraint_system<C: ark_relations::gr1cs::ConstraintSynthesizer<Fr>>(
    circuit: C,
) -> Result<ark_relations::gr1cs::ConstraintSystemRef<Fr>, ark_relations::gr1cs::SynthesisError> {
    use ark_relations::gr1cs::{ConstraintSystem, OptimizationGoal, SynthesisMode};
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Setup);
    circuit.generate_constraints(cs.clone())?;
    cs.finalize();
    Ok(cs)
}

/// Witness variables of the depth-`D` circuit, as the setup counts them.
fn witness_variables<const D: usize>() -> Result<usize, ark_relations::gr1cs::SynthesisError> {
    Ok(setup_constraint_system(TransferCircuit::<D>::blank())?.num_witness_variables())
}

/// The Groth16 trapdoor ("toxic waste") of a setup, minus `τ`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Trapdoor {
    pub(crate) alpha: Fr,
    pub(crate) beta: Fr,
    pub(crate) gamma: Fr,
    pub(crate) delta: Fr,
}

/// The generator a devnet setup draws everything from.
pub(crate) fn devnet_rng(seed: &[u8]) -> ChaCha20Rng {
    ChaCha20Rng::from_seed(blake3::derive_key(DEVNET_DOMAIN, seed))
}

/// The trapdoor a devnet setup from `rng` uses (its first four draws).
pub(crate) fn devnet_trapdoor(rng: &mut ChaCha20Rng) -> Trapdoor {
    Trapdoor {
        alpha: Fr::rand(rng),
        beta: Fr::rand(rng),
        gamma: Fr::rand(rng),
        delta: Fr::rand(rng),
    }
}

impl<const D: usize> Parameters<D> {
    /// **INSECURE — devnet only.** A setup whose every secret is derived from
    /// the public `seed` (a `ChaCha20Rng` seeded with a BLAKE3 hash of it).
    /// Anyone who knows the seed knows the trapdoor and can forge proofs of
    /// any statement, i.e. spend notes that do not exist. A network needs
    /// parameters from a multi-party ceremony instead.
    pub fn devnet_setup(seed: &[u8]) -> Result<Self, ProveError> {
        const { crate::tree::check_depth::<D>() };
        let mut rng = devnet_rng(seed);
        let t = devnet_trapdoor(&mut rng);
        let pk = Groth16::<Bn254>::generate_parameters_with_qap(
            TransferCircuit::<D>::blank(),
            t.alpha,
            t.beta,
            t.gamma,
            t.delta,
            G1Projective::generator(),
            G2Projective::generator(),
            &mut rng,
        )
        .map_err(|e| ProveError::Prover(e.to_string()))?;
        let vk = VerifyingKey::new(pk.vk.clone()).map_err(|e| ProveError::Prover(e.to_string()))?;
        Ok(Self { pk, vk })
    }

    /// The verifying key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.vk
    }

    /// Proves that `witness` makes `statement`.
    pub fn prove(
        &self,
        witness: &TransferWitness<D>,
        statement: &Statement,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Proof, ProveError> {
        let circuit = witness.circuit(statement)?;
        self.prove_circuit(circuit, rng)
    }

    /// Proves whatever the circuit's witness gives (tests use it to build
    /// proofs from witnesses the typed API refuses).
    pub(crate) fn prove_circuit(
        &self,
        circuit: TransferCircuit<D>,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Proof, ProveError> {
        Groth16::<Bn254>::create_random_proof_with_reduction(circuit, &self.pk, rng)
            .map(Proof::from_ark)
            .map_err(|e| ProveError::Prover(e.to_string()))
    }

    /// Compressed arkworks encoding of the proving key (it contains the
    /// verifying key).
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(&self.pk)
    }

    /// Decodes [`Parameters::to_bytes`], checking every point and that the
    /// key is for this circuit's shape at depth `D` (its number of witness
    /// variables).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyDecodeError> {
        Self::from_proving_key(decode_checked(bytes)?)
    }

    /// Wraps a proving key (e.g. a ceremony's), checking it is for this
    /// circuit's shape at depth `D`.
    pub fn from_proving_key(pk: ark_groth16::ProvingKey<Bn254>) -> Result<Self, KeyDecodeError> {
        let vk = VerifyingKey::new(pk.vk.clone())?;
        let expected =
            witness_variables::<D>().map_err(|e| KeyDecodeError::Malformed(e.to_string()))?;
        if pk.l_query.len() != expected {
            return Err(KeyDecodeError::Shape {
                got: pk.l_query.len(),
                expected,
            });
        }
        Ok(Self { pk, vk })
    }
}
