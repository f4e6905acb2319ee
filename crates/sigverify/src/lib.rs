//! Batch verification of ed25519 signatures under the ZIP-215 rules that
//! commonware's verifier (a vendored ed25519-consensus) applies, bit for bit:
//!
//! - A and R decode as curve25519-dalek's `decompress` does: y is read mod p
//!   (non-canonical encodings accepted) and x = 0 with the sign bit is
//!   accepted;
//! - s must be canonical (below the group order);
//! - k = SHA-512(R || A as sent || varint(namespace length) || namespace ||
//!   message), reduced mod the group order;
//! - the check is cofactored:
//!   `[8]([-sum z_i s_i]B + sum [z_i]R_i + sum [z_i k_i]A_i) = 0` with random
//!   128-bit z_i.
//!
//! Why lakh has its own: every transaction pays two point decompressions
//! (its sender's key and its R), each a 255-bit exponentiation that
//! curve25519-dalek runs serially. Here they run eight lanes at a time on
//! AVX-512 IFMA, and so does the multiscalar multiplication, since dalek
//! offers no way to hand it points decoded elsewhere: by Straus's method for
//! small batches, by Pippenger's buckets from [`Method::BUCKETS_FROM`]
//! signatures up. The challenges' SHA-512 runs eight messages at a time in
//! the same lanes.
//!
//! A batch that fails says only that some signature is bad; callers find
//! which one with a single verification.

mod buckets;
mod field;
mod lanes;
mod msm;
mod point;
mod sha512;

use commonware_codec::{EncodeSize, Write, varint::UInt};
use curve25519_dalek::Scalar;
use rand::Rng;
use std::collections::HashMap;

pub use lanes::{Lanes, Portable};

/// The identity's encoding (y = 1): pads a row's unused lanes.
const IDENTITY: [u8; 32] = {
    let mut e = [0u8; 32];
    e[0] = 1;
    e
};

/// The basepoint's encoding (y = 4/5).
const BASEPOINT: [u8; 32] = [
    0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
    0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
];

/// One signature to check: `signature` by `public_key` over `message` in
/// `namespace`.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    pub public_key: &'a [u8; 32],
    pub signature: &'a [u8; 64],
    pub namespace: &'a [u8],
    pub message: &'a [u8],
}

/// Whether this CPU runs the lanes in hardware (AVX-512 IFMA).
pub fn has_lanes() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        lanes::Ifma::detect().is_some()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// How the batch equation's sum is computed. Both give the same verdict;
/// they differ in speed by batch size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Straus: shared doublings, a 4-bit window table per point.
    Straus,
    /// Pippenger's buckets over 8-bit digits.
    Buckets,
}

impl Method {
    /// Batches of at least this many signatures use the buckets.
    pub const BUCKETS_FROM: usize = 256;

    /// The faster method for a batch of `signatures`.
    pub fn for_batch(signatures: usize) -> Method {
        if signatures >= Method::BUCKETS_FROM {
            Method::Buckets
        } else {
            Method::Straus
        }
    }
}

/// Whether every signature in `entries` is valid (an empty batch is), on
/// AVX-512 IFMA. `None` when the CPU lacks it: the caller keeps its own
/// verifier then, since the portable lanes compute the same answer but more
/// slowly than dalek's serial code.
pub fn verify_batch(entries: &[Entry]) -> Option<bool> {
    verify_batch_by(Method::for_batch(entries.len()), entries)
}

/// [`verify_batch`] with the sum computed by `method`.
pub fn verify_batch_by(method: Method, entries: &[Entry]) -> Option<bool> {
    #[cfg(target_arch = "x86_64")]
    if let Some(l) = lanes::Ifma::detect() {
        // Sound: `l` exists only where CPUID reported AVX-512F and IFMA.
        #[allow(unsafe_code)]
        return Some(unsafe { verify_ifma(l, method, entries) });
    }
    let _ = (method, entries);
    None
}

/// `verify_batch_by` on the portable lanes, on any CPU: the reference the
/// tests hold the IFMA lanes to (slower than curve25519-dalek's serial code,
/// so the node does not use it).
pub fn verify_batch_portable(method: Method, entries: &[Entry]) -> bool {
    verify_with(Portable, method, entries)
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx512f,avx512ifma")]
unsafe fn verify_ifma(l: lanes::Ifma, method: Method, entries: &[Entry]) -> bool {
    verify_with(l, method, entries)
}

#[inline(always)]
fn verify_with<L: Lanes>(l: L, method: Method, entries: &[Entry]) -> bool {
    if entries.is_empty() {
        return true;
    }
    let Some(terms) = Terms::new(l, entries) else {
        return false;
    };
    match method {
        Method::Straus => msm::is_small_order_sum(l, &terms.rows()),
        Method::Buckets => {
            let (encodings, scalars) = terms.columns();
            buckets::is_small_order_sum(l, &encodings, &scalars)
        }
    }
    .unwrap_or(false)
}

/// The batch equation's points and scalars.
struct Terms {
    /// Full-length scalars: each distinct A with the sum of its z_i k_i, then
    /// B with -sum z_i s_i.
    long: Vec<([u8; 32], Scalar)>,
    /// 128-bit scalars: each R with z_i.
    short: Vec<([u8; 32], Scalar)>,
}

impl Terms {
    /// `None` when some s is not canonical (or a namespace is too long).
    #[inline(always)]
    fn new<L: Lanes>(l: L, entries: &[Entry]) -> Option<Terms> {
        let challenges = challenges(l, entries)?;
        let mut rng = rand::rng();
        let mut long: Vec<([u8; 32], Scalar)> = Vec::with_capacity(entries.len() + 1);
        // A key signing several entries enters once, with the sum of their
        // coefficients: one point fewer per repeat.
        let mut key_at: HashMap<&[u8; 32], usize> = HashMap::with_capacity(entries.len());
        let mut short = Vec::with_capacity(entries.len());
        let mut b_coeff = Scalar::ZERO;
        for (e, k) in entries.iter().zip(challenges) {
            let mut r_bytes = [0u8; 32];
            r_bytes.copy_from_slice(&e.signature[..32]);
            let mut s_bytes = [0u8; 32];
            s_bytes.copy_from_slice(&e.signature[32..]);
            let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))?;
            let z = Scalar::from(u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64()));
            b_coeff -= z * s;
            let at = *key_at.entry(e.public_key).or_insert_with(|| {
                long.push((*e.public_key, Scalar::ZERO));
                long.len() - 1
            });
            long[at].1 += z * k;
            short.push((r_bytes, z));
        }
        long.push((BASEPOINT, b_coeff));
        Some(Terms { long, short })
    }

    /// Every point's encoding and its scalar's bytes, in two columns.
    fn columns(&self) -> (Vec<[u8; 32]>, Vec<[u8; 32]>) {
        let all = self.long.iter().chain(&self.short);
        let encodings = all.clone().map(|(e, _)| *e).collect();
        let scalars = all.map(|(_, s)| s.to_bytes()).collect();
        (encodings, scalars)
    }

    fn rows(&self) -> Vec<msm::Row> {
        let mut rows =
            Vec::with_capacity(self.long.len().div_ceil(8) + self.short.len().div_ceil(8));
        // A z_i below 2^128 has radix-16 digits up to window 32 (a carry).
        for (terms, top_window) in [(&self.long, 63), (&self.short, 32)] {
            for chunk in terms.chunks(8) {
                let mut encodings = [IDENTITY; 8];
                let mut scalars = [[0u8; 32]; 8];
                for (i, (encoding, scalar)) in chunk.iter().enumerate() {
                    encodings[i] = *encoding;
                    scalars[i] = scalar.to_bytes();
                }
                rows.push(msm::Row {
                    encodings,
                    scalars,
                    top_window,
                });
            }
        }
        rows
    }
}

/// k = SHA-512(R || A || varint(len namespace) || namespace || message) mod l
/// for every entry, the prefix written by commonware's own `UInt`, hashed
/// eight at a time in the lanes. `None` for a namespace longer than
/// `u32::MAX` (commonware refuses it too).
#[inline(always)]
fn challenges<L: Lanes>(l: L, entries: &[Entry]) -> Option<Vec<Scalar>> {
    let typical = entries
        .first()
        .map_or(0, |e| 64 + 5 + e.namespace.len() + e.message.len());
    let mut padded = sha512::Padded::with_capacity(entries.len(), typical);
    for e in entries {
        let len = UInt(u32::try_from(e.namespace.len()).ok()?);
        let mut prefix = [0u8; 5];
        len.write(&mut prefix.as_mut_slice());
        padded.push(&[
            &e.signature[..32],
            e.public_key,
            &prefix[..len.encode_size()],
            e.namespace,
            e.message,
        ]);
    }
    let digests = sha512::digests(l, &padded);
    let mut out = Vec::with_capacity(digests.len());
    for digest in &digests {
        out.push(Scalar::from_bytes_mod_order_wide(digest));
    }
    Some(out)
}
