//! lakh-sigverify against the verifier it must agree with bit for bit:
//! commonware-cryptography's ed25519 (ZIP-215).
//!
//! Every case compares five verdicts on the same batch: by each method
//! (Straus and the buckets) the IFMA lanes (`verify_batch_by`, falling back
//! to the portable lanes on CPUs without IFMA) and the portable lanes, and
//! commonware's (its batch verifier with the
//! `Sequential` strategy, as `lakh_types::tx` calls it, checked against its
//! single verification of each entry). Commonware is the oracle: apart from
//! valid signatures and the sanity checks on constructed ones, no expected
//! answer is written down here.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use std::fmt;

use commonware_codec::{DecodeExt as _, Encode as _};
use commonware_cryptography::{
    BatchEntry, BatchVerifier as _, Signer as _, Verifier as _,
    ed25519::{PrivateKey, PublicKey, Signature},
};
use commonware_parallel::Sequential;
use curve25519_dalek::{
    EdwardsPoint, Scalar,
    constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION},
    edwards::CompressedEdwardsY,
};
use lakh_sigverify::{Entry, Method, verify_batch_by, verify_batch_portable};
use proptest::prelude::*;
use rand::{SeedableRng as _, rngs::StdRng};
use ruint::aliases::U256;
use sha2::{Digest as _, Sha512};

/// The batch sizes around the lanes' row width of eight.
const SIZES: [usize; 9] = [1, 2, 7, 8, 9, 63, 64, 65, 200];

/// Namespace lengths on either side of the varint prefix's one-byte limit.
const NAMESPACE_LENS: [usize; 5] = [0, 1, 127, 128, 300];

/// One signature to check, owning its bytes.
#[derive(Clone)]
struct Case {
    key: [u8; 32],
    /// R || s.
    signature: [u8; 64],
    namespace: Vec<u8>,
    message: Vec<u8>,
}

/// A part of a case to damage.
#[derive(Clone, Copy, Debug)]
enum Part {
    Message,
    R,
    S,
    Key,
    /// Moves the message's first byte to the end of the namespace: the same
    /// bytes, framed differently by the namespace's length prefix.
    Boundary,
}

impl Part {
    const ALL: [Part; 5] = [Part::Message, Part::R, Part::S, Part::Key, Part::Boundary];
}

impl Case {
    fn entry(&self) -> Entry<'_> {
        Entry {
            public_key: &self.key,
            signature: &self.signature,
            namespace: &self.namespace,
            message: &self.message,
        }
    }

    /// Damages `part`, flipping the bit `bit` selects (modulo its length).
    /// The message must not be empty.
    fn mutate(&mut self, part: Part, bit: usize) {
        let (bytes, bit) = match part {
            Part::Message => {
                let bits = self.message.len() * 8;
                (&mut self.message[..], bit % bits)
            }
            Part::R => (&mut self.signature[..], bit % 256),
            Part::S => (&mut self.signature[..], 256 + bit % 256),
            Part::Key => (&mut self.key[..], bit % 256),
            Part::Boundary => {
                let first = self.message.remove(0);
                self.namespace.push(first);
                return;
            }
        };
        bytes[bit / 8] ^= 1 << (bit % 8);
    }
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: [(&str, &[u8]); 5] = [
            ("key", &self.key),
            ("R", &self.signature[..32]),
            ("s", &self.signature[32..]),
            ("namespace", &self.namespace),
            ("message", &self.message),
        ];
        for (name, bytes) in fields {
            write!(f, " {name}=")?;
            for b in bytes {
                write!(f, "{b:02x}")?;
            }
        }
        Ok(())
    }
}

/// The verdicts on one batch: ours by each method (Straus, buckets) in the
/// IFMA lanes (the portable ones on a CPU without them) and in the portable
/// lanes, and commonware's.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Verdicts {
    lanes: [bool; 2],
    portable: [bool; 2],
    reference: bool,
}

impl Verdicts {
    fn of(cases: &[Case]) -> Verdicts {
        let entries: Vec<Entry> = cases.iter().map(Case::entry).collect();
        let methods = [Method::Straus, Method::Buckets];
        Verdicts {
            lanes: methods.map(|m| {
                verify_batch_by(m, &entries).unwrap_or_else(|| verify_batch_portable(m, &entries))
            }),
            portable: methods.map(|m| verify_batch_portable(m, &entries)),
            reference: reference(cases),
        }
    }

    fn agree(self) -> bool {
        self.lanes
            .iter()
            .chain(&self.portable)
            .all(|v| *v == self.reference)
    }
}

/// Commonware's verdict on `cases` as one batch (false when a key does not
/// decode), after checking that it matches its single verification of each.
fn reference(cases: &[Case]) -> bool {
    let singles = cases.iter().all(reference_single);
    let decoded: Option<Vec<(PublicKey, Signature, &Case)>> = cases
        .iter()
        .map(|c| {
            let key = PublicKey::decode(c.key.to_vec()).ok()?;
            Some((key, Signature::decode(c.signature.to_vec()).unwrap(), c))
        })
        .collect();
    let batch = decoded.is_some_and(|decoded| {
        PublicKey::verify_batch(
            &mut rand::rng(),
            &decoded,
            |_, (public_key, signature, case)| BatchEntry {
                namespace: &case.namespace,
                message: &case.message,
                public_key,
                signature,
            },
            &Sequential,
        )
    });
    assert_eq!(
        batch,
        singles,
        "commonware's batch and single verification disagree on{}",
        describe(cases)
    );
    batch
}

/// Commonware's single verification of `case`.
fn reference_single(case: &Case) -> bool {
    let signature = Signature::decode(case.signature.to_vec()).unwrap();
    PublicKey::decode(case.key.to_vec())
        .is_ok_and(|key| key.verify(&case.namespace, &case.message, &signature))
}

/// `cases` for a report: all of them when few, else those commonware rejects
/// on their own (the batch's culprits).
fn describe(cases: &[Case]) -> String {
    let shown: Vec<String> = cases
        .iter()
        .enumerate()
        .filter(|(_, c)| cases.len() <= 8 || !reference_single(c))
        .map(|(i, c)| format!("\n  [{i}] single verdict {}:{c}", reference_single(c)))
        .collect();
    format!(" {} entries{}", cases.len(), shown.concat())
}

/// Collects disagreements, so one run reports all of them.
#[derive(Default)]
struct Disagreements(Vec<String>);

impl Disagreements {
    /// Compares the verdicts on `cases`; returns commonware's.
    fn check(&mut self, label: impl fmt::Display, cases: &[Case]) -> bool {
        let verdicts = Verdicts::of(cases);
        if !verdicts.agree() {
            self.0
                .push(format!("{label}: {verdicts:?}\n{}", describe(cases)));
        }
        verdicts.reference
    }

    fn finish(self) {
        assert!(
            self.0.is_empty(),
            "{} disagreement(s):\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

fn fresh_keys(rng: &mut StdRng, n: usize) -> Vec<PrivateKey> {
    (0..n)
        .map(|_| PrivateKey::from_seed(rng.random()))
        .collect()
}

fn random_bytes(rng: &mut StdRng, len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.random()).collect()
}

/// `size` valid signatures, entry i by `keys[i % keys.len()]` in a namespace
/// of length `NAMESPACE_LENS[i % 5]`, over a non-empty random message.
fn signed_batch(rng: &mut StdRng, keys: &[PrivateKey], size: usize) -> Vec<Case> {
    (0..size)
        .map(|i| {
            let key = &keys[i % keys.len()];
            let namespace = random_bytes(rng, NAMESPACE_LENS[i % NAMESPACE_LENS.len()]);
            let len = rng.random_range(1..=96);
            let message = random_bytes(rng, len);
            let signature = key.sign(&namespace, &message);
            Case {
                key: key.public_key().as_ref().try_into().unwrap(),
                signature: signature.as_ref().try_into().unwrap(),
                namespace,
                message,
            }
        })
        .collect()
}

/// Checks `batch` with one entry damaged in each way, and that entry alone.
fn check_mutations(out: &mut Disagreements, rng: &mut StdRng, label: &str, batch: &[Case]) {
    for part in Part::ALL {
        let index = rng.random_range(0..batch.len());
        let bit = rng.random_range(0..4096);
        let mut damaged = batch.to_vec();
        damaged[index].mutate(part, bit);
        let label = format!("{label}, {part:?} of entry {index} damaged (bit {bit})");
        out.check(&label, &damaged);
        out.check(format!("{label}, alone"), &damaged[index..=index]);
    }
}

#[test]
fn valid_batches_verify() {
    let mut rng = StdRng::seed_from_u64(1);
    let mut out = Disagreements::default();
    for size in SIZES {
        let keys = fresh_keys(&mut rng, size);
        let batch = signed_batch(&mut rng, &keys, size);
        assert!(
            out.check(format!("valid batch of {size}"), &batch),
            "commonware rejects a valid batch"
        );
    }
    out.finish();
}

#[test]
fn damaged_batches_agree() {
    let mut rng = StdRng::seed_from_u64(2);
    let mut out = Disagreements::default();
    for size in SIZES {
        let keys = fresh_keys(&mut rng, size);
        let batch = signed_batch(&mut rng, &keys, size);
        check_mutations(&mut out, &mut rng, &format!("batch of {size}"), &batch);
    }
    out.finish();
}

#[test]
fn shared_keys_agree() {
    let mut rng = StdRng::seed_from_u64(5);
    let mut out = Disagreements::default();
    for (signers, size) in [(1, 9), (2, 16), (3, 24), (5, 70)] {
        let keys = fresh_keys(&mut rng, signers);
        let mut batch = signed_batch(&mut rng, &keys, size);
        let label = format!("{size} entries by {signers} keys");
        out.check(&label, &batch);
        check_mutations(&mut out, &mut rng, &label, &batch);
        // The same signature twice.
        batch.push(batch[0].clone());
        out.check(format!("{label}, first entry repeated"), &batch);
    }
    out.finish();
}

/// y < 2^255 as an encoding, with `sign` for the sign of x.
fn encode(y: U256, sign: bool) -> [u8; 32] {
    let mut v = y;
    v.set_bit(255, sign);
    v.to_le_bytes()
}

/// The y an encoding carries (not reduced mod p).
fn y_of(encoding: [u8; 32]) -> U256 {
    let mut v = U256::from_le_bytes(encoding);
    v.set_bit(255, false);
    v
}

/// The encodings of small-order points ZIP-215 must accept, canonical or
/// not, and one that does not decode, each with a label.
fn small_order_encodings() -> Vec<(String, [u8; 32])> {
    let p = (U256::from(1) << 255) - U256::from(19);
    let mut out: Vec<(String, [u8; 32])> = Vec::new();
    let mut push = |label: String, encoding: [u8; 32]| {
        if out.iter().all(|(_, e)| *e != encoding) {
            out.push((label, encoding));
        }
    };
    for (i, t) in EIGHT_TORSION.iter().enumerate() {
        let encoding = t.compress().to_bytes();
        push(format!("T{i}"), encoding);
        let y = y_of(encoding);
        // y + p still fits below the sign bit.
        if y < U256::from(19) {
            for sign in [false, true] {
                push(format!("T{i} as y+p, sign {sign}"), encode(y + p, sign));
            }
        }
        // x = 0 (the identity and (0, -1)) with the sign bit set.
        if *t == -t {
            push(format!("T{i} with sign bit"), encode(y, true));
        }
    }
    let off_curve = (2u64..)
        .map(|y| encode(U256::from(y), false))
        .find(|e| CompressedEdwardsY(*e).decompress().is_none())
        .unwrap();
    push("off curve".into(), off_curve);
    out
}

#[test]
fn zip215_small_order_points_agree() {
    let l_minus_1 = (-Scalar::ONE).to_bytes();
    let l: [u8; 32] = (U256::from_le_bytes(l_minus_1) + U256::from(1)).to_le_bytes();
    let scalars = [("s = 0", [0u8; 32]), ("s = L-1", l_minus_1), ("s = L", l)];
    let encodings = small_order_encodings();
    let mut out = Disagreements::default();
    let mut by_s: Vec<Vec<Case>> = vec![Vec::new(); scalars.len()];
    let mut accepted = Vec::new();
    for (a_label, a) in &encodings {
        for (r_label, r) in &encodings {
            for ((s_label, s), cases) in scalars.iter().zip(&mut by_s) {
                let mut signature = [0u8; 64];
                signature[..32].copy_from_slice(r);
                signature[32..].copy_from_slice(s);
                let case = Case {
                    key: *a,
                    signature,
                    namespace: b"zip215".to_vec(),
                    message: b"small order".to_vec(),
                };
                let label = format!("A {a_label}, R {r_label}, {s_label}");
                if out.check(label, std::slice::from_ref(&case)) {
                    accepted.push(case.clone());
                }
                cases.push(case);
            }
        }
    }
    for ((s_label, _), cases) in scalars.iter().zip(&by_s) {
        out.check(format!("every A and R, {s_label}, as one batch"), cases);
    }
    out.check("every case as one batch", &by_s.concat());
    assert!(
        !accepted.is_empty(),
        "commonware accepts no small-order case"
    );
    out.check("the cases commonware accepts, as one batch", &accepted);
    out.finish();
}

/// A signature valid only under the cofactored equation: key aB + T_i and
/// R = rB + T_j for torsion points T_i, T_j, s = r + ka.
fn torsioned_case(rng: &mut StdRng, key_torsion: usize, r_torsion: usize) -> Case {
    let a = Scalar::from_bytes_mod_order(rng.random());
    let r = Scalar::from_bytes_mod_order(rng.random());
    let point = |x: Scalar, t: usize| -> [u8; 32] {
        let p: EdwardsPoint = ED25519_BASEPOINT_POINT * x + EIGHT_TORSION[t];
        p.compress().to_bytes()
    };
    let key = point(a, key_torsion);
    let r_bytes = point(r, r_torsion);
    let namespace = random_bytes(rng, 3);
    let message = random_bytes(rng, 20);
    let k = Scalar::from_hash(
        Sha512::new()
            .chain_update(r_bytes)
            .chain_update(key)
            .chain_update(namespace.len().encode())
            .chain_update(&namespace)
            .chain_update(&message),
    );
    let mut signature = [0u8; 64];
    signature[..32].copy_from_slice(&r_bytes);
    signature[32..].copy_from_slice(&(r + k * a).to_bytes());
    Case {
        key,
        signature,
        namespace,
        message,
    }
}

#[test]
fn zip215_torsion_components_agree() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut out = Disagreements::default();
    let mut batch = Vec::new();
    for key_torsion in 0..EIGHT_TORSION.len() {
        for r_torsion in 0..EIGHT_TORSION.len() {
            let case = torsioned_case(&mut rng, key_torsion, r_torsion);
            let label = format!("key aB + T{key_torsion}, R rB + T{r_torsion}");
            assert!(
                out.check(&label, std::slice::from_ref(&case)),
                "{label}: commonware rejects (construction bug?)"
            );
            batch.push(case);
        }
    }
    out.check("every torsion combination, as one batch", &batch);
    check_mutations(&mut out, &mut rng, "every torsion combination", &batch);
    out.finish();
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_batches_agree(
        seed in any::<u64>(),
        size in 1usize..40,
        signers in 1usize..40,
        mutation in proptest::option::of((
            any::<proptest::sample::Index>(),
            proptest::sample::select(Part::ALL.to_vec()),
            any::<usize>(),
        )),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let keys = fresh_keys(&mut rng, signers.min(size));
        let mut batch = signed_batch(&mut rng, &keys, size);
        if let Some((index, part, bit)) = mutation {
            batch[index.index(size)].mutate(part, bit);
        }
        let verdicts = Verdicts::of(&batch);
        prop_assert!(verdicts.agree(), "{verdicts:?}\n{}", describe(&batch));
        if mutation.is_none() {
            prop_assert!(verdicts.reference, "commonware rejects a valid batch");
        }
    }
}
