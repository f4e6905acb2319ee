//! SHA-512 (FIPS 180-4) of eight messages at a time, one per 64-bit lane:
//! the batch's challenges, which cost about a tenth of a verification when
//! hashed one message after another.
//!
//! Messages are padded into one buffer; those with the same number of
//! blocks share a run of the lanes, and a run with fewer than eight fills
//! its spare lanes with a copy of its last message, whose digest is
//! dropped.

use crate::lanes::Lanes;

const ROUND_CONSTANTS: [u64; 80] = [
    0x428a2f98d728ae22,
    0x7137449123ef65cd,
    0xb5c0fbcfec4d3b2f,
    0xe9b5dba58189dbbc,
    0x3956c25bf348b538,
    0x59f111f1b605d019,
    0x923f82a4af194f9b,
    0xab1c5ed5da6d8118,
    0xd807aa98a3030242,
    0x12835b0145706fbe,
    0x243185be4ee4b28c,
    0x550c7dc3d5ffb4e2,
    0x72be5d74f27b896f,
    0x80deb1fe3b1696b1,
    0x9bdc06a725c71235,
    0xc19bf174cf692694,
    0xe49b69c19ef14ad2,
    0xefbe4786384f25e3,
    0x0fc19dc68b8cd5b5,
    0x240ca1cc77ac9c65,
    0x2de92c6f592b0275,
    0x4a7484aa6ea6e483,
    0x5cb0a9dcbd41fbd4,
    0x76f988da831153b5,
    0x983e5152ee66dfab,
    0xa831c66d2db43210,
    0xb00327c898fb213f,
    0xbf597fc7beef0ee4,
    0xc6e00bf33da88fc2,
    0xd5a79147930aa725,
    0x06ca6351e003826f,
    0x142929670a0e6e70,
    0x27b70a8546d22ffc,
    0x2e1b21385c26c926,
    0x4d2c6dfc5ac42aed,
    0x53380d139d95b3df,
    0x650a73548baf63de,
    0x766a0abb3c77b2a8,
    0x81c2c92e47edaee6,
    0x92722c851482353b,
    0xa2bfe8a14cf10364,
    0xa81a664bbc423001,
    0xc24b8b70d0f89791,
    0xc76c51a30654be30,
    0xd192e819d6ef5218,
    0xd69906245565a910,
    0xf40e35855771202a,
    0x106aa07032bbd1b8,
    0x19a4c116b8d2d0c8,
    0x1e376c085141ab53,
    0x2748774cdf8eeb99,
    0x34b0bcb5e19b48a8,
    0x391c0cb3c5c95a63,
    0x4ed8aa4ae3418acb,
    0x5b9cca4f7763e373,
    0x682e6ff3d6b2b8a3,
    0x748f82ee5defb2fc,
    0x78a5636f43172f60,
    0x84c87814a1f0ab72,
    0x8cc702081a6439ec,
    0x90befffa23631e28,
    0xa4506cebde82bde9,
    0xbef9a3f7b2c67915,
    0xc67178f2e372532b,
    0xca273eceea26619c,
    0xd186b8c721c0c207,
    0xeada7dd6cde0eb1e,
    0xf57d4f7fee6ed178,
    0x06f067aa72176fba,
    0x0a637dc5a2c898a6,
    0x113f9804bef90dae,
    0x1b710b35131c471b,
    0x28db77f523047d84,
    0x32caab7b40c72493,
    0x3c9ebe0a15c9bebc,
    0x431d67c49c100d4c,
    0x4cc5d4becb3e42b6,
    0x597f299cfc657e2a,
    0x5fcb6fab3ad6faec,
    0x6c44198c4a475817,
];

const INITIAL_STATE: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

const BLOCK_BYTES: usize = 128;

/// Messages padded for SHA-512, back to back in one buffer.
#[derive(Default)]
pub struct Padded {
    bytes: Vec<u8>,
    /// Each message's first byte in `bytes` and its number of blocks.
    spans: Vec<(usize, usize)>,
}

impl Padded {
    /// Room for `messages` messages of about `message_len` bytes each.
    pub fn with_capacity(messages: usize, message_len: usize) -> Padded {
        Padded {
            bytes: Vec::with_capacity(messages * padded_len(message_len)),
            spans: Vec::with_capacity(messages),
        }
    }

    /// Appends the message that is `parts` joined, padded.
    pub fn push(&mut self, parts: &[&[u8]]) {
        let start = self.bytes.len();
        let len: usize = parts.iter().map(|p| p.len()).sum();
        for part in parts {
            self.bytes.extend_from_slice(part);
        }
        self.bytes.push(0x80);
        let padded = padded_len(len);
        self.bytes.resize(start + padded - 16, 0);
        self.bytes
            .extend_from_slice(&((len as u128) * 8).to_be_bytes());
        self.spans.push((start, padded / BLOCK_BYTES));
    }
}

/// A `len`-byte message's length once padded: its bytes, 0x80, zeros, and
/// its bit length in 16 bytes, to a whole number of blocks.
fn padded_len(len: usize) -> usize {
    (len + 1 + 16).next_multiple_of(BLOCK_BYTES)
}

/// Every message's digest, in order.
#[inline(always)]
pub fn digests<L: Lanes>(l: L, padded: &Padded) -> Vec<[u8; 64]> {
    let mut out = vec![[0u8; 64]; padded.spans.len()];
    let mut order: Vec<usize> = (0..padded.spans.len()).collect();
    order.sort_unstable_by_key(|&i| padded.spans[i].1);
    for run in order.chunk_by(|&a, &b| padded.spans[a].1 == padded.spans[b].1) {
        for group in run.chunks(8) {
            let starts: [usize; 8] =
                std::array::from_fn(|lane| padded.spans[group[lane.min(group.len() - 1)]].0);
            let blocks = padded.spans[group[0]].1;
            let state = hash_lanes(l, &padded.bytes, starts, blocks);
            for (lane, &i) in group.iter().enumerate() {
                for (word, bytes) in state.iter().zip(out[i].chunks_exact_mut(8)) {
                    bytes.copy_from_slice(&word[lane].to_be_bytes());
                }
            }
        }
    }
    out
}

/// The final state words (word-major) of eight messages of `blocks` blocks
/// each, lane `i` starting at `starts[i]` in `bytes`.
#[inline(always)]
fn hash_lanes<L: Lanes>(l: L, bytes: &[u8], starts: [usize; 8], blocks: usize) -> [[u64; 8]; 8] {
    // Loops, not closures, around lane operations: closures would not
    // inherit the caller's target features.
    let mut state = [l.splat(0); 8];
    for (word, initial) in state.iter_mut().zip(INITIAL_STATE) {
        *word = l.splat(initial);
    }
    for block in 0..blocks {
        let mut w = [l.splat(0); 16];
        for (t, word) in w.iter_mut().enumerate() {
            *word = l.load(std::array::from_fn(|lane| {
                let at = starts[lane] + block * BLOCK_BYTES + 8 * t;
                let mut be = [0u8; 8];
                be.copy_from_slice(&bytes[at..at + 8]);
                u64::from_be_bytes(be)
            }));
        }
        state = compress(l, state, &mut w);
    }
    let mut out = [[0u64; 8]; 8];
    for (words, v) in out.iter_mut().zip(state) {
        *words = l.store(v);
    }
    out
}

#[inline(always)]
fn compress<L: Lanes>(l: L, state: [L::V; 8], w: &mut [L::V; 16]) -> [L::V; 8] {
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = state;
    for (t, k) in ROUND_CONSTANTS.iter().enumerate() {
        let word = if t < 16 {
            w[t]
        } else {
            let w15 = w[(t - 15) & 15];
            let w2 = w[(t - 2) & 15];
            let s0 = l.xor(l.xor(l.rotr::<1>(w15), l.rotr::<8>(w15)), l.shr::<7>(w15));
            let s1 = l.xor(l.xor(l.rotr::<19>(w2), l.rotr::<61>(w2)), l.shr::<6>(w2));
            let next = l.add(l.add(w[t & 15], s0), l.add(w[(t - 7) & 15], s1));
            w[t & 15] = next;
            next
        };
        let sum1 = l.xor(l.xor(l.rotr::<14>(e), l.rotr::<18>(e)), l.rotr::<41>(e));
        let choose = l.xor(g, l.and(e, l.xor(f, g)));
        let t1 = l.add(l.add(l.add(h, sum1), l.add(choose, l.splat(*k))), word);
        let sum0 = l.xor(l.xor(l.rotr::<28>(a), l.rotr::<34>(a)), l.rotr::<39>(a));
        let majority = l.or(l.and(a, b), l.and(c, l.or(a, b)));
        let t2 = l.add(sum0, majority);
        h = g;
        g = f;
        f = e;
        e = l.add(d, t1);
        d = c;
        c = b;
        b = a;
        a = l.add(t1, t2);
    }
    let mut next = [a, b, c, d, e, f, g, h];
    for (word, before) in next.iter_mut().zip(state) {
        *word = l.add(before, *word);
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lanes::Portable;
    use proptest::prelude::*;
    use sha2::{Digest, Sha512};

    fn reference(parts: &[Vec<u8>]) -> [u8; 64] {
        let mut hasher = Sha512::new();
        for part in parts {
            hasher.update(part);
        }
        hasher.finalize().into()
    }

    fn check<L: Lanes>(l: L, messages: &[Vec<Vec<u8>>]) {
        let mut padded = Padded::default();
        for parts in messages {
            let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            padded.push(&parts);
        }
        let got = digests(l, &padded);
        for (parts, digest) in messages.iter().zip(&got) {
            assert_eq!(*digest, reference(parts));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn digests_match_sha2(messages in proptest::collection::vec(
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..150), 0..4),
            0..20,
        )) {
            check(Portable, &messages);
            #[cfg(target_arch = "x86_64")]
            if let Some(l) = crate::lanes::Ifma::detect() {
                check_ifma(l, &messages);
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    fn check_ifma(l: crate::lanes::Ifma, messages: &[Vec<Vec<u8>>]) {
        // Sound: `l` exists only where CPUID reported AVX-512F and IFMA.
        #[allow(unsafe_code)]
        #[target_feature(enable = "avx512f,avx512ifma")]
        unsafe fn run(l: crate::lanes::Ifma, messages: &[Vec<Vec<u8>>]) {
            check(l, messages);
        }
        #[allow(unsafe_code)]
        unsafe {
            run(l, messages)
        };
    }

    /// Lengths around the padding's edges: 111 and 112 bytes need one and
    /// two blocks, 239 and 240 two and three.
    #[test]
    fn padding_edges_match_sha2() {
        let lens = [0usize, 1, 111, 112, 127, 128, 129, 239, 240, 256, 1000];
        let messages: Vec<Vec<Vec<u8>>> = lens
            .iter()
            .map(|&n| vec![(0..n).map(|i| i as u8).collect()])
            .collect();
        check(Portable, &messages);
    }
}
