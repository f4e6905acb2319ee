//! Phase 1: powers of tau, with α and β.

use ark_bn254::{Fr, G1Affine, G2Affine};
use ark_ec::{
    AffineRepr, CurveGroup,
    short_weierstrass::{Affine, Projective, SWCurveConfig},
};
use ark_std::rand::{CryptoRng, RngCore};
use zeroize::Zeroize;

use super::pok::{Coefficients, Pok, Secret, point_bytes, ratio_pair, same_ratio};
use super::{CeremonyError, no_identity};

/// One contributor's `τ'`, `α'`, `β'`.
pub(crate) struct Phase1Secrets {
    pub(crate) tau: Secret,
    pub(crate) alpha: Secret,
    pub(crate) beta: Secret,
}

impl Phase1Secrets {
    pub(crate) fn draw(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        Self {
            tau: Secret::draw(rng),
            alpha: Secret::draw(rng),
            beta: Secret::draw(rng),
        }
    }
}

/// One phase-1 contribution: the new `[τ]₁`, `[α]₁`, `[β]₁` and a proof of
/// knowledge of each factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Phase1Contribution {
    pub(crate) previous: [u8; 32],
    pub(crate) tau_g1: G1Affine,
    pub(crate) alpha_g1: G1Affine,
    pub(crate) beta_g1: G1Affine,
    pub(crate) tau: Pok,
    pub(crate) alpha: Pok,
    pub(crate) beta: Pok,
}

impl Phase1Contribution {
    /// The bytes its hash covers (the same as in the transcript file).
    pub(crate) fn record_bytes(&self) -> Vec<u8> {
        let mut out = self.previous.to_vec();
        for p in [self.tau_g1, self.alpha_g1, self.beta_g1] {
            out.extend(point_bytes(&p));
        }
        for pok in [self.tau, self.alpha, self.beta] {
            out.extend(point_bytes(&pok.s));
            out.extend(point_bytes(&pok.s_x));
            out.extend(point_bytes(&pok.r_x));
        }
        out
    }
}

/// The powers: `[τ^i]₁` (`i < 2n−1`), `[τ^i]₂`, `[ατ^i]₁`, `[βτ^i]₁`
/// (`i < n`) and `[β]₂`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Accumulator {
    pub(crate) tau_g1: Vec<G1Affine>,
    pub(crate) tau_g2: Vec<G2Affine>,
    pub(crate) alpha_g1: Vec<G1Affine>,
    pub(crate) beta_g1: Vec<G1Affine>,
    pub(crate) beta_g2: G2Affine,
}

/// `points[i] *= factor·x^i`.
fn scale_by_powers<P: SWCurveConfig<ScalarField = Fr>>(
    points: &mut [Affine<P>],
    x: &Secret,
    factor: &Secret,
) {
    let mut scalar = factor.0;
    let scaled: Vec<Projective<P>> = points
        .iter()
        .map(|p| {
            let q = *p * scalar;
            scalar *= x.0;
            q
        })
        .collect();
    scalar.zeroize();
    points.copy_from_slice(&Projective::<P>::normalize_batch(&scaled));
}

/// The values a chain of contributions leads to.
pub(crate) struct Running {
    pub(crate) tau_g1: G1Affine,
    pub(crate) alpha_g1: G1Affine,
    pub(crate) beta_g1: G1Affine,
}

impl Accumulator {
    /// Every secret 1.
    pub(crate) fn new(n: usize) -> Self {
        Self {
            tau_g1: vec![G1Affine::generator(); 2 * n - 1],
            tau_g2: vec![G2Affine::generator(); n],
            alpha_g1: vec![G1Affine::generator(); n],
            beta_g1: vec![G1Affine::generator(); n],
            beta_g2: G2Affine::generator(),
        }
    }

    pub(crate) fn contribute(
        &mut self,
        previous: [u8; 32],
        secrets: &Phase1Secrets,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Phase1Contribution {
        let one = Secret(Fr::from(1u64));
        scale_by_powers(&mut self.tau_g1, &secrets.tau, &one);
        scale_by_powers(&mut self.tau_g2, &secrets.tau, &one);
        scale_by_powers(&mut self.alpha_g1, &secrets.tau, &secrets.alpha);
        scale_by_powers(&mut self.beta_g1, &secrets.tau, &secrets.beta);
        self.beta_g2 = (self.beta_g2 * secrets.beta.0).into_affine();
        Phase1Contribution {
            previous,
            tau_g1: self.tau_g1[1],
            alpha_g1: self.alpha_g1[0],
            beta_g1: self.beta_g1[0],
            tau: Pok::prove(&secrets.tau, &previous, "tau", rng),
            alpha: Pok::prove(&secrets.alpha, &previous, "alpha", rng),
            beta: Pok::prove(&secrets.beta, &previous, "beta", rng),
        }
    }

    /// The powers are consistent and carry the chain's last values.
    pub(crate) fn check(&self, running: &Running, seed: &[u8; 32]) -> Result<(), CeremonyError> {
        no_identity(&self.tau_g1, "tau_g1")?;
        no_identity(&self.tau_g2, "tau_g2")?;
        no_identity(&self.alpha_g1, "alpha_g1")?;
        no_identity(&self.beta_g1, "beta_g1")?;
        no_identity(&[self.beta_g2], "beta_g2")?;
        let (g1, g2) = (G1Affine::generator(), G2Affine::generator());
        if self.tau_g1[0] != g1 || self.tau_g2[0] != g2 {
            return Err(CeremonyError::InconsistentPowers {
                what: "the zeroth powers (not the generators)",
            });
        }
        let mismatch = |what| CeremonyError::StateMismatch { phase: 1, what };
        if self.tau_g1[1] != running.tau_g1 {
            return Err(mismatch("tau_g1[1]"));
        }
        if self.alpha_g1[0] != running.alpha_g1 {
            return Err(mismatch("alpha_g1[0]"));
        }
        if self.beta_g1[0] != running.beta_g1 {
            return Err(mismatch("beta_g1[0]"));
        }
        let tau_g2 = (g2, self.tau_g2[1]);
        let mut coefficients = Coefficients::new(seed, "phase 1 powers");
        let r = coefficients.take(self.tau_g1.len());
        for (points, what) in [
            (&self.tau_g1, "tau_g1"),
            (&self.alpha_g1, "alpha_g1"),
            (&self.beta_g1, "beta_g1"),
        ] {
            if !same_ratio(ratio_pair(points, &r), tau_g2) {
                return Err(CeremonyError::InconsistentPowers { what });
            }
        }
        if !same_ratio((g1, self.tau_g1[1]), ratio_pair(&self.tau_g2, &r)) {
            return Err(CeremonyError::InconsistentPowers { what: "tau_g2" });
        }
        if !same_ratio((g1, self.beta_g1[0]), (g2, self.beta_g2)) {
            return Err(mismatch("beta_g2"));
        }
        Ok(())
    }
}

/// Checks every contribution against the one before (from the generators)
/// and `hashes` (the start, then one per contribution); returns where the
/// chain ends.
pub(crate) fn check_chain(
    contributions: &[Phase1Contribution],
    hashes: &[[u8; 32]],
) -> Result<Running, CeremonyError> {
    let g1 = G1Affine::generator();
    let mut running = Running {
        tau_g1: g1,
        alpha_g1: g1,
        beta_g1: g1,
    };
    for (index, (c, previous)) in contributions.iter().zip(hashes).enumerate() {
        if c.previous != *previous {
            return Err(CeremonyError::OutOfOrder { phase: 1, index });
        }
        for (label, pok, old, new) in [
            ("tau", &c.tau, running.tau_g1, c.tau_g1),
            ("alpha", &c.alpha, running.alpha_g1, c.alpha_g1),
            ("beta", &c.beta, running.beta_g1, c.beta_g1),
        ] {
            check_update(pok, previous, label, (old, new), 1, index)?;
        }
        running = Running {
            tau_g1: c.tau_g1,
            alpha_g1: c.alpha_g1,
            beta_g1: c.beta_g1,
        };
    }
    Ok(running)
}

/// The proof of knowledge of `label`'s factor verifies and `new = x·old`.
pub(crate) fn check_update(
    pok: &Pok,
    previous: &[u8; 32],
    label: &'static str,
    (old, new): (G1Affine, G1Affine),
    phase: u8,
    index: usize,
) -> Result<(), CeremonyError> {
    if new.is_zero() {
        return Err(CeremonyError::IdentityPoint {
            what: "contribution value",
            index,
        });
    }
    let r = pok.verify(previous, label, phase, index)?;
    if same_ratio((old, new), (r, pok.r_x)) {
        Ok(())
    } else {
        Err(CeremonyError::InconsistentUpdate {
            phase,
            index,
            secret: label,
        })
    }
}
