//! A multi-party setup ceremony for Groth16 parameters, after Bowe, Gabizon
//! and Miers, "Scalable Multi-party Computation for zk-SNARK Parameters in
//! the Random Beacon Model" (2017).
//!
//! * **Phase 1** (powers of tau, independent of the circuit up to a domain
//!   size `n = 2^log_domain`): `[τ^i]₁` for `i < 2n−1`, `[τ^i]₂`, `[ατ^i]₁`,
//!   `[βτ^i]₁` for `i < n`, `[β]₂`. Each contributor multiplies everything by
//!   fresh `τ', α', β'`.
//! * **Transition** ([`Transcript::begin_phase2`]): the circuit's QAP at `τ`,
//!   through the Lagrange basis of its domain (an inverse FFT over group
//!   elements): `[a_i(τ)]₁`, `[b_i(τ)]₁`, `[b_i(τ)]₂`, the public inputs'
//!   `[βa_i + αb_i + c_i](τ)]₁` (with γ = 1), and the start of phase 2.
//! * **Phase 2**: each contributor multiplies `δ` by a fresh `δ'` and divides
//!   the `L` terms `[(βa_i + αb_i + c_i)(τ)/δ]₁` of the witness variables and
//!   the `H` terms `[τ^i·Z(τ)/δ]₁` by it.
//!
//! Every contribution proves knowledge of its secrets ([`pok`]) bound to the
//! transcript so far, and is chained by hash. [`Transcript::verify`]
//! re-checks the whole chain from the generators, then that the current
//! state is exactly the one the chain's secrets determine: batched
//! same-ratio checks for the powers and a random linear combination per
//! query checked against the phase-1 powers and the circuit. The parameters
//! are secure if at least one contributor of each phase drew its secrets
//! honestly and destroyed them. See `docs/modules/shielded.md`, "Ceremony".

mod codec;
mod phase1;
mod phase2;
mod pok;
mod qap;
#[cfg(test)]
mod tests;

use ark_bn254::{Bn254, G2Affine};
use ark_ec::AffineRepr;
use ark_std::rand::{CryptoRng, RngCore, SeedableRng};
use rand_chacha_ark::ChaCha20Rng;

pub use codec::{MAX_CONTRIBUTIONS, MAX_LOG_DOMAIN, MAX_VARIABLES, TRANSCRIPT_VERSION};
pub use qap::CircuitShape;

use phase1::{Accumulator, Phase1Contribution, Phase1Secrets};
use phase2::{Phase2, Phase2Secret};

const PHASE1_START_DOMAIN: &str = "lakh-shielded 2026 v1 ceremony phase 1 start";
const PHASE2_START_DOMAIN: &str = "lakh-shielded 2026 v1 ceremony phase 2 start";
const CONTRIBUTION_DOMAIN: &str = "lakh-shielded 2026 v1 ceremony contribution";
const ENTROPY_DOMAIN: &str = "lakh-shielded 2026 v1 ceremony contribution entropy";

/// Why a transcript was refused, or an operation is not possible on it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CeremonyError {
    /// The file does not start with the transcript magic bytes.
    #[error("not a ceremony transcript (bad magic bytes)")]
    BadMagic,
    /// A format version this build does not read.
    #[error("transcript format version {got}, this build reads version {TRANSCRIPT_VERSION}")]
    UnsupportedVersion {
        /// The file's version.
        got: u16,
    },
    /// The bytes end before the structure does.
    #[error("the transcript ends inside {what}")]
    Truncated {
        /// The part being read.
        what: &'static str,
    },
    /// Bytes after the end of the structure.
    #[error("{count} bytes after the end of the transcript")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// A size or count above its limit (or an invalid flag).
    #[error("{what} is {value}, allowed: {allowed}")]
    OutOfBounds {
        /// What was out of bounds.
        what: &'static str,
        /// Its value.
        value: u64,
        /// What is allowed.
        allowed: &'static str,
    },
    /// Not the encoding of a curve point in the prime-order subgroup.
    #[error("{what} #{index} is not a point of the prime-order subgroup")]
    InvalidPoint {
        /// The vector or field it belongs to.
        what: &'static str,
        /// Its index there.
        index: usize,
    },
    /// The point at infinity where a secret would be zero.
    #[error("{what} #{index} is the point at infinity")]
    IdentityPoint {
        /// The vector or field it belongs to.
        what: &'static str,
        /// Its index there.
        index: usize,
    },
    /// A contribution whose recorded previous hash is not the transcript's
    /// hash before it: skipped, reordered or from another transcript.
    #[error(
        "phase {phase} contribution #{index} does not follow the transcript before it (skipped, reordered or foreign)"
    )]
    OutOfOrder {
        /// 1 or 2.
        phase: u8,
        /// Position in its phase, from 0.
        index: usize,
    },
    /// A proof of knowledge that does not verify.
    #[error(
        "phase {phase} contribution #{index}: its proof of knowledge of {secret} does not verify"
    )]
    InvalidProofOfKnowledge {
        /// 1 or 2.
        phase: u8,
        /// Position in its phase, from 0.
        index: usize,
        /// `tau`, `alpha`, `beta` or `delta`.
        secret: &'static str,
    },
    /// A contribution's new value is not the previous one times the secret
    /// its proof of knowledge is about.
    #[error(
        "phase {phase} contribution #{index}: its {secret} is not the previous one times the secret it proves knowledge of"
    )]
    InconsistentUpdate {
        /// 1 or 2.
        phase: u8,
        /// Position in its phase, from 0.
        index: usize,
        /// `tau`, `alpha`, `beta` or `delta`.
        secret: &'static str,
    },
    /// The current state does not carry the last contribution's values.
    #[error("phase {phase}: {what} is not the value the contributions lead to")]
    StateMismatch {
        /// 1 or 2.
        phase: u8,
        /// Which value.
        what: &'static str,
    },
    /// Phase 1's vectors are not consecutive powers of one τ (times α, β).
    #[error("phase 1: {what} are not consistent powers of tau")]
    InconsistentPowers {
        /// Which vector.
        what: &'static str,
    },
    /// A phase-2 query is not what the circuit and the phase-1 powers give.
    #[error("phase 2: {what} does not match the circuit and the phase-1 powers")]
    InconsistentQuery {
        /// Which query.
        what: &'static str,
    },
    /// Phase 2 was started for another circuit.
    #[error("the transcript's phase 2 is for circuit {transcript}, this circuit is {expected}")]
    WrongCircuit {
        /// Hex digest in the transcript.
        transcript: String,
        /// Hex digest of the circuit given.
        expected: String,
    },
    /// The circuit needs a larger domain than phase 1 has.
    #[error("the circuit needs a domain of {needed}, phase 1 provides {available}")]
    DomainTooSmall {
        /// The circuit's QAP domain size.
        needed: usize,
        /// Phase 1's `n`.
        available: usize,
    },
    /// The operation does not fit the transcript's phase.
    #[error("{0}")]
    WrongPhase(&'static str),
    /// A phase that must have contributions has none.
    #[error("phase {phase} has no contribution yet")]
    NoContributions {
        /// 1 or 2.
        phase: u8,
    },
    /// The circuit could not be synthesized.
    #[error("circuit synthesis: {0}")]
    Synthesis(String),
}

impl CeremonyError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadMagic => "bad_magic",
            Self::UnsupportedVersion { .. } => "unsupported_version",
            Self::Truncated { .. } => "truncated",
            Self::TrailingBytes { .. } => "trailing_bytes",
            Self::OutOfBounds { .. } => "out_of_bounds",
            Self::InvalidPoint { .. } => "invalid_point",
            Self::IdentityPoint { .. } => "identity_point",
            Self::OutOfOrder { .. } => "out_of_order",
            Self::InvalidProofOfKnowledge { .. } => "invalid_proof_of_knowledge",
            Self::InconsistentUpdate { .. } => "inconsistent_update",
            Self::StateMismatch { .. } => "state_mismatch",
            Self::InconsistentPowers { .. } => "inconsistent_powers",
            Self::InconsistentQuery { .. } => "inconsistent_query",
            Self::WrongCircuit { .. } => "wrong_circuit",
            Self::DomainTooSmall { .. } => "domain_too_small",
            Self::WrongPhase(_) => "wrong_phase",
            Self::NoContributions { .. } => "no_contributions",
            Self::Synthesis(_) => "synthesis",
        }
    }
}

/// What a contributor publishes: where its contribution sits and its hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// 1 or 2.
    pub phase: u8,
    /// Position in its phase, from 0.
    pub index: usize,
    /// Hash of the transcript up to and including this contribution.
    pub hash: [u8; 32],
}

/// What a successful [`Transcript::verify`] checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Phase 1's `log2(n)`.
    pub log_domain: u8,
    /// Every contribution, in order, with its hash.
    pub contributions: Vec<Receipt>,
    /// The circuit's digest, once phase 2 has begun.
    pub circuit: Option<[u8; 32]>,
}

/// A ceremony's whole record: every contribution of both phases and the
/// current state. See the module docs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transcript {
    log_domain: u8,
    phase1: Vec<Phase1Contribution>,
    accumulator: Accumulator,
    phase2: Option<Phase2>,
}

/// A contributor's generator: a BLAKE3 hash of 32 bytes from the operating
/// system and whatever the contributor types (optional), so either alone is
/// enough if the other is weak.
pub fn contribution_rng(os_entropy: [u8; 32], user_entropy: &[u8]) -> ChaCha20Rng {
    let mut hasher = blake3::Hasher::new_derive_key(ENTROPY_DOMAIN);
    hasher.update(&os_entropy);
    hasher.update(user_entropy);
    ChaCha20Rng::from_seed(*hasher.finalize().as_bytes())
}

fn contribution_hash(record: &[u8]) -> [u8; 32] {
    *blake3::Hasher::new_derive_key(CONTRIBUTION_DOMAIN)
        .update(record)
        .finalize()
        .as_bytes()
}

impl Transcript {
    /// A fresh phase 1 of domain `2^log_domain`, no contribution yet (every
    /// secret 1: the generators).
    pub fn new(log_domain: u8) -> Result<Self, CeremonyError> {
        codec::check_log_domain(log_domain)?;
        Ok(Self {
            log_domain,
            phase1: Vec::new(),
            accumulator: Accumulator::new(1 << log_domain),
            phase2: None,
        })
    }

    /// Phase 1's `log2(n)`.
    pub fn log_domain(&self) -> u8 {
        self.log_domain
    }

    /// 1 until [`Transcript::begin_phase2`], then 2.
    pub fn phase(&self) -> u8 {
        if self.phase2.is_some() { 2 } else { 1 }
    }

    /// Contributions so far in the current phase.
    pub fn contributions_in_phase(&self) -> usize {
        match &self.phase2 {
            Some(p2) => p2.contributions.len(),
            None => self.phase1.len(),
        }
    }

    fn phase1_start(&self) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new_derive_key(PHASE1_START_DOMAIN);
        hasher.update(&TRANSCRIPT_VERSION.to_le_bytes());
        hasher.update(&[self.log_domain]);
        *hasher.finalize().as_bytes()
    }

    /// The hash after phase 1's last contribution (its start if none).
    fn phase1_hashes(&self) -> Vec<[u8; 32]> {
        let mut hashes = vec![self.phase1_start()];
        for c in &self.phase1 {
            hashes.push(contribution_hash(&c.record_bytes()));
        }
        hashes
    }

    fn phase2_hashes(&self, p2: &Phase2, phase1_end: &[u8; 32]) -> Vec<[u8; 32]> {
        let mut hasher = blake3::Hasher::new_derive_key(PHASE2_START_DOMAIN);
        hasher.update(phase1_end);
        hasher.update(&p2.header_bytes());
        let mut hashes = vec![*hasher.finalize().as_bytes()];
        for c in &p2.contributions {
            hashes.push(contribution_hash(&c.record_bytes()));
        }
        hashes
    }

    /// The hash the next contribution of the current phase must follow.
    fn current_hash(&self) -> [u8; 32] {
        let phase1 = self.phase1_hashes();
        let phase1_end = phase1[phase1.len() - 1];
        match &self.phase2 {
            Some(p2) => {
                let hashes = self.phase2_hashes(p2, &phase1_end);
                hashes[hashes.len() - 1]
            }
            None => phase1_end,
        }
    }

    /// Adds one contribution to the current phase with secrets drawn from
    /// `rng`; they are overwritten before this returns. The receipt's hash
    /// is what the contributor publishes.
    pub fn contribute(
        &mut self,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Receipt, CeremonyError> {
        if self.phase2.is_some() {
            let secret = Phase2Secret::draw(rng);
            self.contribute_phase2(&secret, rng)
        } else {
            let secrets = Phase1Secrets::draw(rng);
            self.contribute_phase1(&secrets, rng)
        }
    }

    pub(crate) fn contribute_phase1(
        &mut self,
        secrets: &Phase1Secrets,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Receipt, CeremonyError> {
        if self.phase2.is_some() {
            return Err(CeremonyError::WrongPhase(
                "phase 2 has begun: phase 1 takes no more contributions",
            ));
        }
        codec::check_count(self.phase1.len() + 1)?;
        let previous = self.current_hash();
        let record = self.accumulator.contribute(previous, secrets, rng);
        let hash = contribution_hash(&record.record_bytes());
        self.phase1.push(record);
        Ok(Receipt {
            phase: 1,
            index: self.phase1.len() - 1,
            hash,
        })
    }

    pub(crate) fn contribute_phase2(
        &mut self,
        secret: &Phase2Secret,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Receipt, CeremonyError> {
        let previous = self.current_hash();
        let Some(p2) = &mut self.phase2 else {
            return Err(CeremonyError::WrongPhase(
                "phase 2 has not begun: contribute to phase 1 or begin phase 2",
            ));
        };
        codec::check_count(p2.contributions.len() + 1)?;
        let record = p2.contribute(previous, secret, rng);
        let hash = contribution_hash(&record.record_bytes());
        p2.contributions.push(record);
        Ok(Receipt {
            phase: 2,
            index: p2.contributions.len() - 1,
            hash,
        })
    }

    /// Ends phase 1 and starts phase 2 for `circuit`: computes the circuit's
    /// queries from the powers (the expensive step: inverse FFTs over group
    /// elements). Phase 1 must have a contribution.
    pub fn begin_phase2(&mut self, circuit: &CircuitShape) -> Result<(), CeremonyError> {
        if self.phase2.is_some() {
            return Err(CeremonyError::WrongPhase("phase 2 has already begun"));
        }
        if self.phase1.is_empty() {
            return Err(CeremonyError::NoContributions { phase: 1 });
        }
        circuit.fits(self.log_domain)?;
        self.phase2 = Some(Phase2::begin(circuit, &self.accumulator));
        Ok(())
    }

    /// Re-checks everything from the start: every contribution's proofs of
    /// knowledge and place in the chain, and that the current state is what
    /// the contributions determine (for `circuit` once phase 2 has begun).
    pub fn verify(&self, circuit: &CircuitShape) -> Result<Verified, CeremonyError> {
        let seed = coefficient_seed(&self.to_bytes());
        let phase1 = self.phase1_hashes();
        let running = phase1::check_chain(&self.phase1, &phase1)?;
        self.accumulator.check(&running, &seed)?;
        let mut contributions: Vec<Receipt> = (1..phase1.len())
            .map(|i| Receipt {
                phase: 1,
                index: i - 1,
                hash: phase1[i],
            })
            .collect();
        let mut digest = None;
        if let Some(p2) = &self.phase2 {
            if self.phase1.is_empty() {
                return Err(CeremonyError::NoContributions { phase: 1 });
            }
            circuit.check_digest(&p2.digest)?;
            circuit.fits(self.log_domain)?;
            let hashes = self.phase2_hashes(p2, &phase1[phase1.len() - 1]);
            p2.check(circuit, &self.accumulator, &hashes, &seed)?;
            contributions.extend((1..hashes.len()).map(|i| Receipt {
                phase: 2,
                index: i - 1,
                hash: hashes[i],
            }));
            digest = Some(p2.digest);
        }
        Ok(Verified {
            log_domain: self.log_domain,
            contributions,
            circuit: digest,
        })
    }

    /// The Groth16 proving key (with its verifying key, γ = 1) of a
    /// verified transcript with at least one phase-2 contribution. The same
    /// transcript always gives the same key.
    pub fn finalize(
        &self,
        circuit: &CircuitShape,
    ) -> Result<ark_groth16::ProvingKey<Bn254>, CeremonyError> {
        let Some(p2) = &self.phase2 else {
            return Err(CeremonyError::WrongPhase(
                "phase 2 has not begun: nothing to finalize",
            ));
        };
        if p2.contributions.is_empty() {
            return Err(CeremonyError::NoContributions { phase: 2 });
        }
        self.verify(circuit)?;
        let acc = &self.accumulator;
        Ok(ark_groth16::ProvingKey {
            vk: ark_groth16::VerifyingKey {
                alpha_g1: acc.alpha_g1[0],
                beta_g2: acc.beta_g2,
                gamma_g2: G2Affine::generator(),
                delta_g2: p2.delta_g2,
                gamma_abc_g1: p2.ic_g1.clone(),
            },
            beta_g1: acc.beta_g1[0],
            delta_g1: p2.delta_g1,
            a_query: p2.a_g1.clone(),
            b_g1_query: p2.b_g1.clone(),
            b_g2_query: p2.b_g2.clone(),
            h_query: p2.h_g1.clone(),
            l_query: p2.l_g1.clone(),
        })
    }

    /// The transcript file (layout in `ceremony/codec.rs`).
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes [`Transcript::to_bytes`], refusing bad sizes, points off the
    /// curve or the subgroup, truncation and trailing bytes. Decoding checks
    /// the form only; [`Transcript::verify`] checks the content.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CeremonyError> {
        codec::decode(bytes)
    }
}

/// Fiat–Shamir seed of the verifier's random linear combinations: a hash of
/// the whole transcript, so they are fixed only after everything checked.
fn coefficient_seed(transcript: &[u8]) -> [u8; 32] {
    *blake3::Hasher::new_derive_key("lakh-shielded 2026 v1 ceremony verifier coefficients")
        .update(transcript)
        .finalize()
        .as_bytes()
}

/// Refuses the point at infinity in `points` (`what` names them).
fn no_identity<G: AffineRepr>(points: &[G], what: &'static str) -> Result<(), CeremonyError> {
    match points.iter().position(|p| p.is_zero()) {
        Some(index) => Err(CeremonyError::IdentityPoint { what, index }),
        None => Ok(()),
    }
}
