//! Proofs of knowledge of a contribution's secrets, pairing checks and the
//! verifier's random coefficients.
//!
//! For a secret `x` the contributor draws `s`, publishes `S = [s]₁`,
//! `S_x = [s·x]₁`, and `R_x = x·R` where `R ∈ G2` is a hash of the
//! transcript so far, the secret's label, `S` and `S_x` (try-and-increment
//! onto the curve, then the cofactor cleared: nobody knows `log R`). The
//! check `e(S, R_x) = e(S_x, R)` shows `R_x = x·R` with the same `x` as
//! `S_x = x·S`; producing `R_x` for a fresh random `R` needs `x` (knowledge
//! of exponent, in the random-oracle model). Then `e(old, R_x) = e(new, R)`
//! shows `new = x·old`. Binding `R` to the transcript hash stops anyone
//! from replaying an honest contributor's proof elsewhere.

use ark_bn254::{Bn254, Fr, G1Affine, G2Affine};
use ark_ec::{
    AffineRepr, CurveGroup, VariableBaseMSM,
    pairing::Pairing,
    short_weierstrass::{Affine, Projective, SWCurveConfig},
};
use ark_ff::{UniformRand, Zero};
use ark_serialize::CanonicalSerialize;
use ark_std::rand::{CryptoRng, RngCore, SeedableRng};
use rand_chacha_ark::ChaCha20Rng;
use zeroize::Zeroize;

use super::CeremonyError;

const POK_BASE_DOMAIN: &str = "lakh-shielded 2026 v1 ceremony proof-of-knowledge base";
const COEFFICIENTS_DOMAIN: &str = "lakh-shielded 2026 v1 ceremony coefficients";

/// A non-zero secret, overwritten when dropped.
pub(crate) struct Secret(pub(crate) Fr);

impl Secret {
    pub(crate) fn draw(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        loop {
            let x = Fr::rand(rng);
            if !x.is_zero() {
                return Self(x);
            }
        }
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// A proof of knowledge of one secret (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pok {
    pub(crate) s: G1Affine,
    pub(crate) s_x: G1Affine,
    pub(crate) r_x: G2Affine,
}

/// Uncompressed encoding of a point, for hashing.
pub(crate) fn point_bytes<P: CanonicalSerialize>(p: &P) -> Vec<u8> {
    let mut out = Vec::with_capacity(p.uncompressed_size());
    p.serialize_uncompressed(&mut out)
        .expect("writing to a Vec cannot fail");
    out
}

/// `R`: a point of G2 nobody knows the discrete log of, from the transcript
/// hash, the secret's label and `S`, `S_x`.
fn base(previous: &[u8; 32], label: &str, s: &G1Affine, s_x: &G1Affine) -> G2Affine {
    let mut hasher = blake3::Hasher::new_derive_key(POK_BASE_DOMAIN);
    hasher.update(previous);
    hasher.update(&(label.len() as u64).to_le_bytes());
    hasher.update(label.as_bytes());
    hasher.update(&point_bytes(s));
    hasher.update(&point_bytes(s_x));
    G2Affine::rand(&mut ChaCha20Rng::from_seed(*hasher.finalize().as_bytes()))
}

impl Pok {
    pub(crate) fn prove(
        x: &Secret,
        previous: &[u8; 32],
        label: &str,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Self {
        let s = Secret::draw(rng);
        let sx = Secret(s.0 * x.0);
        let s_g1 = (G1Affine::generator() * s.0).into_affine();
        let s_x = (G1Affine::generator() * sx.0).into_affine();
        let r = base(previous, label, &s_g1, &s_x);
        Self {
            s: s_g1,
            s_x,
            r_x: (r * x.0).into_affine(),
        }
    }

    /// Checks the proof and returns `R`, against which `R_x` is `x·R`.
    pub(crate) fn verify(
        &self,
        previous: &[u8; 32],
        label: &'static str,
        phase: u8,
        index: usize,
    ) -> Result<G2Affine, CeremonyError> {
        let invalid = CeremonyError::InvalidProofOfKnowledge {
            phase,
            index,
            secret: label,
        };
        if self.s.is_zero() || self.s_x.is_zero() || self.r_x.is_zero() {
            return Err(CeremonyError::IdentityPoint {
                what: "proof of knowledge",
                index,
            });
        }
        let r = base(previous, label, &self.s, &self.s_x);
        if same_ratio((self.s, self.s_x), (r, self.r_x)) {
            Ok(r)
        } else {
            Err(invalid)
        }
    }
}

/// `e(g1.0, g2.1) = e(g1.1, g2.0)`: `g1.1 = x·g1.0` and `g2.1 = x·g2.0` for
/// one `x`.
pub(crate) fn same_ratio(g1: (G1Affine, G1Affine), g2: (G2Affine, G2Affine)) -> bool {
    Bn254::multi_pairing([g1.0, -g1.1], [g2.1, g2.0]).is_zero()
}

/// `Σ scalars_i·bases_i` (over the shorter of the two).
pub(crate) fn msm<P: SWCurveConfig<ScalarField = Fr>>(
    bases: &[Affine<P>],
    scalars: &[Fr],
) -> Affine<P> {
    Projective::<P>::msm_unchecked(bases, scalars).into_affine()
}

/// `(Σ r_i·p_i, Σ r_i·p_{i+1})`: if every `p_{i+1} = x·p_i` the pair has
/// ratio `x`; if one does not, a random `r` breaks the ratio except with
/// probability about 2^-128.
pub(crate) fn ratio_pair<P: SWCurveConfig<ScalarField = Fr>>(
    points: &[Affine<P>],
    r: &[Fr],
) -> (Affine<P>, Affine<P>) {
    let last = points.len().saturating_sub(1);
    (msm(&points[..last], r), msm(&points[1..], r))
}

/// The verifier's 128-bit non-zero coefficients, drawn from a generator
/// seeded by the transcript's hash and the check's purpose.
pub(crate) struct Coefficients(ChaCha20Rng);

impl Coefficients {
    pub(crate) fn new(seed: &[u8; 32], purpose: &str) -> Self {
        let mut hasher = blake3::Hasher::new_derive_key(COEFFICIENTS_DOMAIN);
        hasher.update(seed);
        hasher.update(purpose.as_bytes());
        Self(ChaCha20Rng::from_seed(*hasher.finalize().as_bytes()))
    }

    pub(crate) fn take(&mut self, count: usize) -> Vec<Fr> {
        (0..count)
            .map(|_| {
                let mut bytes = [0u8; 16];
                self.0.fill_bytes(&mut bytes);
                Fr::from(u128::from_le_bytes(bytes).max(1))
            })
            .collect()
    }
}
