//! Poseidon over the BN254 scalar field, natively and as an R1CS gadget.
//!
//! Parameters: width 3 (rate 2, capacity 1), S-box `x^5`, 8 full and 57
//! partial rounds, round constants and MDS matrix from arkworks'
//! `find_poseidon_ark_and_mds(254, 2, 8, 57, 0)` (the Grain LFSR of the
//! Poseidon paper).
//!
//! Every use is *domain separated*: the capacity element of the sponge state
//! starts at a tag naming the use ([`Domain`]) instead of zero. The tag is a
//! constant, so in the circuit it costs nothing, and two uses can never
//! collide even when their inputs coincide (without it, `H(nk)` would equal
//! `H(nk, 0)`, since the sponge does not pad). Within one domain the number of
//! inputs is fixed.

use std::sync::OnceLock;

use ark_bn254::Fr;
use ark_crypto_primitives::sponge::{
    constraints::CryptographicSpongeVar,
    poseidon::{PoseidonConfig, constraints::PoseidonSpongeVar, find_poseidon_ark_and_mds},
};
use ark_ff::{Field, Zero};
use ark_r1cs_std::fields::fp::FpVar;
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

/// Full rounds.
pub const FULL_ROUNDS: usize = 8;
/// Partial rounds.
pub const PARTIAL_ROUNDS: usize = 57;
/// S-box exponent.
pub const ALPHA: u64 = 5;
/// Rate (field elements absorbed per permutation).
pub const RATE: usize = 2;
/// Capacity.
pub const CAPACITY: usize = 1;

/// What a hash is used for; its tag initialises the capacity element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// `apk = H(nk)`: the paying key of an address, from its nullifier key.
    PayingKey,
    /// `oc = H(apk, rcm)`: the hiding commitment to a note's owner.
    NoteOwner,
    /// `cm = H(asset + 2^64·value, oc)`: a note commitment.
    NoteCommitment,
    /// `nf = H(nk, position)`: a nullifier.
    Nullifier,
    /// `node = H(left, right)` at the given level (0 = just above the leaves).
    Merkle(u8),
}

impl Domain {
    /// The domain tag as a field element.
    pub fn tag(self) -> Fr {
        Fr::from(match self {
            Domain::PayingKey => 1u64,
            Domain::NoteCommitment => 2,
            Domain::Nullifier => 3,
            Domain::NoteOwner => 4,
            Domain::Merkle(level) => 0x100 + level as u64,
        })
    }
}

/// The Poseidon parameters (computed once).
pub fn config() -> &'static PoseidonConfig<Fr> {
    static CONFIG: OnceLock<PoseidonConfig<Fr>> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let (ark, mds) = find_poseidon_ark_and_mds::<Fr>(
            254,
            RATE,
            FULL_ROUNDS as u64,
            PARTIAL_ROUNDS as u64,
            0,
        );
        PoseidonConfig::new(FULL_ROUNDS, PARTIAL_ROUNDS, ALPHA, mds, ark, RATE, CAPACITY)
    })
}

/// The round constants and MDS matrix as fixed-size arrays, for the native
/// permutation (no allocation per hash).
struct Tables {
    ark: Vec<[Fr; 3]>,
    mds: [[Fr; 3]; 3],
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let c = config();
        let row = |v: &Vec<Fr>| [v[0], v[1], v[2]];
        Tables {
            ark: c.ark.iter().map(row).collect(),
            mds: [row(&c.mds[0]), row(&c.mds[1]), row(&c.mds[2])],
        }
    })
}

fn sbox(x: &mut Fr) {
    let x2 = x.square();
    *x *= x2.square();
}

/// The Poseidon permutation, with the same round structure as arkworks'
/// `PoseidonSponge` (half the full rounds, the partial rounds, the other
/// half; each round: constants, S-boxes, MDS).
fn permute(state: &mut [Fr; 3]) {
    let t = tables();
    let half = FULL_ROUNDS / 2;
    for (round, constants) in t.ark.iter().enumerate() {
        for (s, c) in state.iter_mut().zip(constants) {
            *s += c;
        }
        if round < half || round >= half + PARTIAL_ROUNDS {
            state.iter_mut().for_each(sbox);
        } else {
            sbox(&mut state[0]);
        }
        let old = *state;
        for (s, row) in state.iter_mut().zip(&t.mds) {
            *s = old[0] * row[0] + old[1] * row[1] + old[2] * row[2];
        }
    }
}

/// `H_domain(inputs)`, natively: the sponge with the capacity element set to
/// the domain tag, inputs added to the rate two at a time with a permutation
/// between blocks, then one permutation and the first rate element out
/// (exactly what the arkworks sponge and its gadget compute).
pub fn hash(domain: Domain, inputs: &[Fr]) -> Fr {
    #[cfg(test)]
    HASHES.with(|h| h.set(h.get() + 1));
    let mut state = [domain.tag(), Fr::zero(), Fr::zero()];
    for (i, block) in inputs.chunks(RATE).enumerate() {
        if i > 0 {
            permute(&mut state);
        }
        for (s, x) in state[CAPACITY..].iter_mut().zip(block) {
            *s += x;
        }
    }
    permute(&mut state);
    state[CAPACITY]
}

#[cfg(test)]
thread_local! {
    static HASHES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Native hashes computed so far on this thread (tests count costs with it).
#[cfg(test)]
pub(crate) fn hash_count() -> u64 {
    HASHES.with(|h| h.get())
}

/// `H_domain(left, right)`, natively.
pub fn hash2(domain: Domain, left: Fr, right: Fr) -> Fr {
    hash(domain, &[left, right])
}

/// `H_domain(inputs)` inside a constraint system.
pub fn hash_var(
    cs: ConstraintSystemRef<Fr>,
    domain: Domain,
    inputs: &[FpVar<Fr>],
) -> Result<FpVar<Fr>, SynthesisError> {
    let mut sponge = PoseidonSpongeVar::new(cs, config());
    sponge.state[0] = FpVar::Constant(domain.tag());
    sponge.absorb(&inputs)?;
    let mut out = sponge.squeeze_field_elements(1)?;
    out.pop().ok_or(SynthesisError::Unsatisfiable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_r1cs_std::{GR1CSVar, alloc::AllocVar};
    use ark_relations::gr1cs::ConstraintSystem;

    /// The native permutation equals arkworks' sponge (with the same tag).
    #[test]
    fn native_matches_arkworks_sponge() {
        use ark_crypto_primitives::sponge::{
            CryptographicSponge, FieldBasedCryptographicSponge, poseidon::PoseidonSponge,
        };
        for len in 0..6u64 {
            let inputs: Vec<Fr> = (0..len).map(|i| Fr::from(i * 1_000_003 + 17)).collect();
            for domain in [Domain::NoteCommitment, Domain::Merkle(31)] {
                let mut sponge = PoseidonSponge::new(config());
                sponge.state[0] = domain.tag();
                sponge.absorb(&inputs);
                let expected = sponge.squeeze_native_field_elements(1)[0];
                assert_eq!(hash(domain, &inputs), expected, "{len} inputs");
            }
        }
    }

    #[test]
    fn gadget_matches_native_and_domains_separate() {
        let a = Fr::from(7u64);
        let b = Fr::from(11u64);
        let cs = ConstraintSystem::<Fr>::new_ref();
        let av = FpVar::new_witness(cs.clone(), || Ok(a)).unwrap();
        let bv = FpVar::new_witness(cs.clone(), || Ok(b)).unwrap();
        for (domain, inputs, vars) in [
            (Domain::Merkle(3), vec![a, b], vec![av.clone(), bv.clone()]),
            (Domain::PayingKey, vec![a], vec![av.clone()]),
            (
                Domain::NoteCommitment,
                vec![a, b, a, b],
                vec![av.clone(), bv.clone(), av.clone(), bv.clone()],
            ),
        ] {
            let native = hash(domain, &inputs);
            let gadget = hash_var(cs.clone(), domain, &vars).unwrap();
            assert_eq!(gadget.value().unwrap(), native);
        }
        assert!(cs.is_satisfied().unwrap());
        // Without the tag, H(a) and H(a, 0) would coincide; with it, domains differ.
        assert_ne!(
            hash(Domain::PayingKey, &[a]),
            hash(Domain::Nullifier, &[a, Fr::from(0u64)])
        );
        assert_ne!(
            hash2(Domain::Merkle(0), a, b),
            hash2(Domain::Merkle(1), a, b)
        );
        assert_ne!(
            hash2(Domain::Merkle(0), a, b),
            hash2(Domain::Merkle(0), b, a)
        );
    }
}
