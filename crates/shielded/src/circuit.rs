//! The transfer circuit: two notes in, two notes out, one asset.
//!
//! Statement (public inputs, in this order; see [`PublicInputs`]):
//!
//! | # | input | meaning |
//! |---|---|---|
//! | 0 | `anchor` | a recent root of the note commitment tree |
//! | 1, 2 | `nf_1, nf_2` | nullifiers of the two input notes |
//! | 3, 4 | `cm_1, cm_2` | commitments of the two output notes |
//! | 5 | `fee` | value leaving the pool as the fee |
//! | 6 | `public_value` | value leaving the pool to a public address (unshield), else 0 |
//! | 7 | `revealed_asset` | `asset + 1` when `fee + public_value > 0`, else 0 |
//! | 8 | `context` | hash of chain id, action, recipient, amount and bound data |
//!
//! Witness: the asset `a`; per input `nk, v, rcm`, position bits and
//! siblings; per output `v, apk, rcm`.
//!
//! Constraints:
//! 1. every value (`v_in`, `v_out`, `fee`, `public_value`) and the asset is
//!    a sum of 64 bits, so lies in `[0, 2^64)`; hence the balance below, at
//!    most `4·2^64 ≪ r`, cannot wrap around the field, and `a + 2^64·v`
//!    determines `(a, v)`;
//! 2. for each input: `apk = H_apk(nk)`,
//!    `cm = H_cm(a + 2^64·v, H_owner(apk, rcm))`, the path
//!    from `cm` with the position bits gives `root`, and
//!    `(root − anchor)·v = 0` (membership, waived for zero-value dummies),
//!    `nf = H_nf(nk, Σ bits·2^i)` equals the public nullifier;
//! 3. for each output: `H_cm(a + 2^64·v, H_owner(apk, rcm))` equals the
//!    public commitment;
//! 4. `v_in1 + v_in2 = v_out1 + v_out2 + fee + public_value`;
//! 5. `(fee + public_value)·(a + 1 − revealed_asset) = 0`: whatever leaves
//!    the pool leaves in a named asset (so per-asset custody stays exact);
//! 6. `context² ` is computed (binding the input by a constraint, Tornado's
//!    habit; arkworks' QAP reduction binds every public input anyway).
//!
//! One asset witness is used in all four commitments: a transfer moves one
//! asset, which stays private unless value leaves the pool.

use ark_bn254::Fr;
use ark_ff::{AdditiveGroup, One, PrimeField, Zero};
use ark_r1cs_std::{
    GR1CSVar,
    alloc::AllocVar,
    boolean::Boolean,
    eq::EqGadget,
    fields::{FieldVar, fp::FpVar},
};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};

use crate::poseidon::{self, Domain};

/// Number of public inputs.
pub const NUM_PUBLIC_INPUTS: usize = 9;

/// The public inputs as field elements, in circuit order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicInputs {
    /// Tree root the inputs are members of.
    pub anchor: Fr,
    /// Input nullifiers.
    pub nullifiers: [Fr; 2],
    /// Output commitments.
    pub commitments: [Fr; 2],
    /// Fee (a u64).
    pub fee: Fr,
    /// Value leaving to a public address (a u64).
    pub public_value: Fr,
    /// `asset + 1`, or 0 when nothing leaves the pool.
    pub revealed_asset: Fr,
    /// Binding context.
    pub context: Fr,
}

impl PublicInputs {
    /// The vector the verifier uses.
    pub fn to_vec(&self) -> Vec<Fr> {
        vec![
            self.anchor,
            self.nullifiers[0],
            self.nullifiers[1],
            self.commitments[0],
            self.commitments[1],
            self.fee,
            self.public_value,
            self.revealed_asset,
            self.context,
        ]
    }

    fn zero() -> Self {
        Self {
            anchor: Fr::zero(),
            nullifiers: [Fr::zero(); 2],
            commitments: [Fr::zero(); 2],
            fee: Fr::zero(),
            public_value: Fr::zero(),
            revealed_asset: Fr::zero(),
            context: Fr::zero(),
        }
    }
}

/// Witness of one input note.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InputWitness<const D: usize> {
    pub(crate) nk: Fr,
    pub(crate) value: Fr,
    pub(crate) rcm: Fr,
    pub(crate) position: u64,
    pub(crate) siblings: [Fr; D],
}

/// Witness of one output note.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OutputWitness {
    pub(crate) value: Fr,
    pub(crate) owner: Fr,
    pub(crate) rcm: Fr,
}

/// The R1CS circuit of a transfer at tree depth `D`.
///
/// Built by [`crate::transfer::TransferWitness`] (or blank, for the setup).
/// Witness values are raw field elements so that tests can feed it values a
/// `u64` cannot express and watch the constraints refuse them.
#[derive(Clone, Debug)]
pub struct TransferCircuit<const D: usize> {
    pub(crate) public: PublicInputs,
    pub(crate) asset: Fr,
    pub(crate) inputs: [InputWitness<D>; 2],
    pub(crate) outputs: [OutputWitness; 2],
}

impl<const D: usize> TransferCircuit<D> {
    /// A circuit with all-zero values: same constraints, for the setup.
    pub fn blank() -> Self {
        let input = InputWitness {
            nk: Fr::zero(),
            value: Fr::zero(),
            rcm: Fr::zero(),
            position: 0,
            siblings: [Fr::zero(); D],
        };
        let output = OutputWitness {
            value: Fr::zero(),
            owner: Fr::zero(),
            rcm: Fr::zero(),
        };
        Self {
            public: PublicInputs::zero(),
            asset: Fr::zero(),
            inputs: [input; 2],
            outputs: [output; 2],
        }
    }

    /// The public inputs this circuit's witness is meant to satisfy.
    pub fn public_inputs(&self) -> &PublicInputs {
        &self.public
    }
}

/// Enforces `0 <= v < 2^64` by decomposing `v` into 64 witness bits.
pub(crate) fn enforce_u64(
    cs: ConstraintSystemRef<Fr>,
    v: &FpVar<Fr>,
) -> Result<(), SynthesisError> {
    // Bits of the low 64 bits of v's value: if v >= 2^64 they cannot sum to v.
    let low = |i: usize| -> Result<bool, SynthesisError> {
        let bits = v.value()?.into_bigint();
        Ok((bits.0[0] >> i) & 1 == 1)
    };
    let mut sum = FpVar::<Fr>::zero();
    let mut power = Fr::one();
    for i in 0..64 {
        let bit = Boolean::new_witness(cs.clone(), || low(i))?;
        sum += FpVar::from(bit) * power;
        power.double_in_place();
    }
    sum.enforce_equal(v)
}

/// `cm = H_cm(asset + 2^64·value, H_owner(apk, rcm))`, for range-checked
/// `asset` and `value` (see [`crate::note::Note::commitment`]).
fn note_commitment_var(
    cs: ConstraintSystemRef<Fr>,
    asset: &FpVar<Fr>,
    value: &FpVar<Fr>,
    apk: FpVar<Fr>,
    rcm: FpVar<Fr>,
) -> Result<FpVar<Fr>, SynthesisError> {
    let owner = poseidon::hash_var(cs.clone(), Domain::NoteOwner, &[apk, rcm])?;
    let packed = asset + value * crate::note::two_64();
    poseidon::hash_var(cs, Domain::NoteCommitment, &[packed, owner])
}

impl<const D: usize> ConstraintSynthesizer<Fr> for TransferCircuit<D> {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let public = |x: Fr| FpVar::new_input(cs.clone(), || Ok(x));
        let anchor = public(self.public.anchor)?;
        let nullifiers = [
            public(self.public.nullifiers[0])?,
            public(self.public.nullifiers[1])?,
        ];
        let commitments = [
            public(self.public.commitments[0])?,
            public(self.public.commitments[1])?,
        ];
        let fee = public(self.public.fee)?;
        let public_value = public(self.public.public_value)?;
        let revealed_asset = public(self.public.revealed_asset)?;
        let context = public(self.public.context)?;

        let witness = |x: Fr| FpVar::new_witness(cs.clone(), || Ok(x));
        let asset = witness(self.asset)?;

        // 1. Range checks of the asset (it is packed with values) and of the
        //    public amounts.
        enforce_u64(cs.clone(), &asset)?;
        enforce_u64(cs.clone(), &fee)?;
        enforce_u64(cs.clone(), &public_value)?;

        // 2. Inputs.
        let mut value_in = FpVar::<Fr>::zero();
        for (input, nullifier) in self.inputs.iter().zip(&nullifiers) {
            let nk = witness(input.nk)?;
            let value = witness(input.value)?;
            enforce_u64(cs.clone(), &value)?;
            let rcm = witness(input.rcm)?;
            let apk = poseidon::hash_var(cs.clone(), Domain::PayingKey, std::slice::from_ref(&nk))?;
            let cm = note_commitment_var(cs.clone(), &asset, &value, apk, rcm)?;
            let mut node = cm;
            let mut position = FpVar::<Fr>::zero();
            let mut power = Fr::one();
            for (level, sibling) in input.siblings.iter().enumerate() {
                let is_right =
                    Boolean::new_witness(cs.clone(), || Ok((input.position >> level) & 1 == 1))?;
                let sibling = witness(*sibling)?;
                // left = is_right ? sibling : node  (one constraint); right = the other.
                let left = is_right.select(&sibling, &node)?;
                let right = &node + &sibling - &left;
                node = poseidon::hash_var(cs.clone(), Domain::Merkle(level as u8), &[left, right])?;
                position += FpVar::from(is_right) * power;
                power.double_in_place();
            }
            // Membership unless the note is worth nothing.
            (node - &anchor).mul_equals(&value, &FpVar::zero())?;
            let nf = poseidon::hash_var(cs.clone(), Domain::Nullifier, &[nk, position])?;
            nf.enforce_equal(nullifier)?;
            value_in += value;
        }

        // 3. Outputs.
        let mut value_out = FpVar::<Fr>::zero();
        for (output, commitment) in self.outputs.iter().zip(&commitments) {
            let value = witness(output.value)?;
            enforce_u64(cs.clone(), &value)?;
            let owner = witness(output.owner)?;
            let rcm = witness(output.rcm)?;
            let cm = note_commitment_var(cs.clone(), &asset, &value, owner, rcm)?;
            cm.enforce_equal(commitment)?;
            value_out += value;
        }

        // 4. Balance.
        let leaving = &fee + &public_value;
        value_in.enforce_equal(&(value_out + &leaving))?;

        // 5. What leaves the pool names its asset.
        let asset_tag = asset + FpVar::Constant(Fr::one());
        (asset_tag - revealed_asset).mul_equals(&leaving, &FpVar::zero())?;

        // 6. Bind the context by a constraint.
        let _context_squared = context.square()?;
        Ok(())
    }
}

/// Number of R1CS constraints of the transfer circuit at depth `D`.
pub fn constraint_count<const D: usize>() -> Result<usize, SynthesisError> {
    use ark_relations::gr1cs::{ConstraintSystem, SynthesisMode};
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_mode(SynthesisMode::Setup);
    TransferCircuit::<D>::blank().generate_constraints(cs.clone())?;
    cs.finalize();
    Ok(cs.num_constraints())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_relations::gr1cs::ConstraintSystem;

    /// The 64-bit range check accepts exactly `[0, 2^64)`; it guards values
    /// and the asset, whose packing `a + 2^64·v` would otherwise let
    /// `(a + 2^64, v − 1)` pass for `(a, v)`.
    #[test]
    fn range_check_is_exact() {
        let two_64 = crate::note::two_64();
        for (x, ok) in [
            (Fr::zero(), true),
            (Fr::from(u64::MAX), true),
            (two_64, false),
            (two_64 + Fr::from(5u64), false),
            (-Fr::one(), false),
            (-two_64, false),
        ] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let v = FpVar::new_witness(cs.clone(), || Ok(x)).unwrap();
            enforce_u64(cs.clone(), &v).unwrap();
            assert_eq!(cs.is_satisfied().unwrap(), ok, "{x}");
        }
    }
}
