//! Arithmetic mod p = 2^255 - 19 on eight elements at once, five 52-bit limbs
//! per element (radix 2^52, so an IFMA multiply's high half lands exactly one
//! limb up).
//!
//! Invariant: every `Fe` this module returns has all five limbs below 2^52
//! (a value below 2^255 + 2^218, not necessarily reduced). That is what the
//! IFMA multiplier needs, since it reads only the low 52 bits of a factor.

use crate::lanes::{Lanes, MASK52};

const MASK47: u64 = (1 << 47) - 1;

/// 64p with every limb at least 2^53 - 1216 > 2^52: adding it before a
/// subtraction keeps every limb non-negative.
const P64: [u64; 5] = [
    (1 << 53) - 1216,
    (1 << 53) - 2,
    (1 << 53) - 2,
    (1 << 53) - 2,
    (1 << 53) - 2,
];

/// d = -121665/121666, the curve constant.
pub const D: [u64; 5] = [
    0xb4dca135978a3,
    0x4d4141d8ab75e,
    0x779e89800700a,
    0xfe738cc740797,
    0x52036cee2b6f,
];
/// 2d.
pub const D2: [u64; 5] = [
    0x69b9426b2f159,
    0x9a8283b156ebd,
    0xef3d13000e014,
    0xfce7198e80f2e,
    0x2406d9dc56df,
];
/// sqrt(-1) = 2^((p-1)/4).
pub const SQRT_M1: [u64; 5] = [
    0xe1b274a0ea0b0,
    0x6ad2fe478c4e,
    0xdfbd7a72f4318,
    0xdf0b2b4d00993,
    0x2b8324804fc1,
];

/// Eight field elements, limb-major: `self.0[k]` holds limb k of each lane.
#[derive(Clone, Copy)]
pub struct Fe<V>(pub [V; 5]);

/// A constant in every lane.
#[inline(always)]
pub fn constant<L: Lanes>(l: L, limbs: [u64; 5]) -> Fe<L::V> {
    let z = l.splat(0);
    let mut x = [z; 5];
    for k in 0..5 {
        x[k] = l.splat(limbs[k]);
    }
    Fe(x)
}

#[inline(always)]
pub fn zero<L: Lanes>(l: L) -> Fe<L::V> {
    constant(l, [0; 5])
}

#[inline(always)]
pub fn one<L: Lanes>(l: L) -> Fe<L::V> {
    constant(l, [1, 0, 0, 0, 0])
}

/// Brings limbs below 2^62 back under the invariant: folds bits from 2^255 up
/// into the bottom (2^255 = 19 mod p), then carries upwards once. The last
/// limb ends below 2^47 + 2^10, so nothing carries out.
#[inline(always)]
fn carry<L: Lanes>(l: L, mut x: [L::V; 5]) -> Fe<L::V> {
    let mask = l.splat(MASK52);
    let top = l.shr::<47>(x[4]);
    x[4] = l.and(x[4], l.splat(MASK47));
    x[0] = l.madd_lo(x[0], top, l.splat(19));
    for k in 0..4 {
        x[k + 1] = l.add(x[k + 1], l.shr::<52>(x[k]));
        x[k] = l.and(x[k], mask);
    }
    Fe(x)
}

#[inline(always)]
pub fn add<L: Lanes>(l: L, a: &Fe<L::V>, b: &Fe<L::V>) -> Fe<L::V> {
    let mut x = a.0;
    for (x, b) in x.iter_mut().zip(b.0) {
        *x = l.add(*x, b);
    }
    carry(l, x)
}

#[inline(always)]
pub fn sub<L: Lanes>(l: L, a: &Fe<L::V>, b: &Fe<L::V>) -> Fe<L::V> {
    let mut x = a.0;
    for k in 0..5 {
        x[k] = l.sub(l.add(x[k], l.splat(P64[k])), b.0[k]);
    }
    carry(l, x)
}

#[inline(always)]
pub fn neg<L: Lanes>(l: L, a: &Fe<L::V>) -> Fe<L::V> {
    sub(l, &zero(l), a)
}

/// Reduces ten columns of weight 2^(52k), each below 2^57, to an `Fe`.
/// 2^260 = 32 * 2^255 = 608 mod p folds the upper five columns down.
#[inline(always)]
fn reduce_wide<L: Lanes>(l: L, mut c: [L::V; 10]) -> Fe<L::V> {
    let mask = l.splat(MASK52);
    for k in 5..9 {
        c[k + 1] = l.add(c[k + 1], l.shr::<52>(c[k]));
        c[k] = l.and(c[k], mask);
    }
    let c10 = l.shr::<52>(c[9]);
    c[9] = l.and(c[9], mask);
    let k608 = l.splat(608);
    let mut r = [c[0], c[1], c[2], c[3], c[4], l.splat(0)];
    for i in 0..5 {
        r[i] = l.madd_lo(r[i], c[i + 5], k608);
        r[i + 1] = l.madd_hi(r[i + 1], c[i + 5], k608);
    }
    // c10 weighs 2^520 = 608 * 2^260; r[5] weighs 2^260 = 608.
    r[5] = l.madd_lo(r[5], c10, k608);
    r[0] = l.madd_lo(r[0], r[5], k608);
    carry(l, [r[0], r[1], r[2], r[3], r[4]])
}

#[inline(always)]
pub fn mul<L: Lanes>(l: L, a: &Fe<L::V>, b: &Fe<L::V>) -> Fe<L::V> {
    let z = l.splat(0);
    // Low and high halves accumulate apart: two short dependency chains per
    // column instead of one long one.
    let mut lo = [z; 10];
    let mut hi = [z; 10];
    for i in 0..5 {
        for j in 0..5 {
            lo[i + j] = l.madd_lo(lo[i + j], a.0[i], b.0[j]);
            hi[i + j + 1] = l.madd_hi(hi[i + j + 1], a.0[i], b.0[j]);
        }
    }
    for k in 0..10 {
        lo[k] = l.add(lo[k], hi[k]);
    }
    reduce_wide(l, lo)
}

#[inline(always)]
pub fn square<L: Lanes>(l: L, a: &Fe<L::V>) -> Fe<L::V> {
    let z = l.splat(0);
    let mut lo = [z; 10];
    let mut hi = [z; 10];
    for i in 0..5 {
        for j in i + 1..5 {
            lo[i + j] = l.madd_lo(lo[i + j], a.0[i], a.0[j]);
            hi[i + j + 1] = l.madd_hi(hi[i + j + 1], a.0[i], a.0[j]);
        }
    }
    let mut c = lo;
    for k in 0..10 {
        c[k] = l.shl::<1>(l.add(lo[k], hi[k]));
    }
    for i in 0..5 {
        c[2 * i] = l.madd_lo(c[2 * i], a.0[i], a.0[i]);
        c[2 * i + 1] = l.madd_hi(c[2 * i + 1], a.0[i], a.0[i]);
    }
    reduce_wide(l, c)
}

/// `a^(2^k)`.
#[inline(always)]
pub fn square_n<L: Lanes>(l: L, a: &Fe<L::V>, k: u32) -> Fe<L::V> {
    let mut x = square(l, a);
    for _ in 1..k {
        x = square(l, &x);
    }
    x
}

/// `a^((p-5)/8)`, by the usual chain of 2^k - 1 exponents.
#[inline(always)]
pub fn pow_p58<L: Lanes>(l: L, a: &Fe<L::V>) -> Fe<L::V> {
    let t0 = square(l, a); // 2
    let t1 = square_n(l, &t0, 2); // 8
    let t2 = mul(l, a, &t1); // 9
    let t3 = mul(l, &t0, &t2); // 11
    let t4 = square(l, &t3); // 22
    let t5 = mul(l, &t2, &t4); // 31 = 2^5 - 1
    let t7 = mul(l, &square_n(l, &t5, 5), &t5); // 2^10 - 1
    let t9 = mul(l, &square_n(l, &t7, 10), &t7); // 2^20 - 1
    let t11 = mul(l, &square_n(l, &t9, 20), &t9); // 2^40 - 1
    let t13 = mul(l, &square_n(l, &t11, 10), &t7); // 2^50 - 1
    let t15 = mul(l, &square_n(l, &t13, 50), &t13); // 2^100 - 1
    let t17 = mul(l, &square_n(l, &t15, 100), &t15); // 2^200 - 1
    let t19 = mul(l, &square_n(l, &t17, 50), &t13); // 2^250 - 1
    mul(l, &square_n(l, &t19, 2), a) // 2^252 - 3
}

/// The canonical representative (below p) of each lane.
#[inline(always)]
pub fn freeze<L: Lanes>(l: L, a: &Fe<L::V>) -> Fe<L::V> {
    let mask = l.splat(MASK52);
    // a < 2p, so a >= p exactly when a + 19 reaches 2^255.
    let mut q = l.add(a.0[0], l.splat(19));
    for k in 1..5 {
        q = l.add(a.0[k], l.shr::<52>(q));
    }
    let q = l.shr::<47>(q);
    let mut x = a.0;
    x[0] = l.madd_lo(x[0], q, l.splat(19));
    for k in 0..4 {
        x[k + 1] = l.add(x[k + 1], l.shr::<52>(x[k]));
        x[k] = l.and(x[k], mask);
    }
    x[4] = l.and(x[4], l.splat(MASK47));
    Fe(x)
}

/// Lanes where `a == b` mod p.
#[inline(always)]
pub fn equal<L: Lanes>(l: L, a: &Fe<L::V>, b: &Fe<L::V>) -> u8 {
    let d = freeze(l, &sub(l, a, b));
    let mut any = d.0[0];
    for k in 1..5 {
        any = l.or(any, d.0[k]);
    }
    l.eq(any, l.splat(0))
}

/// Lanes whose canonical value is odd (dalek's "negative").
#[inline(always)]
pub fn is_negative<L: Lanes>(l: L, a: &Fe<L::V>) -> u8 {
    let low = l.and(freeze(l, a).0[0], l.splat(1));
    l.eq(low, l.splat(1))
}

#[inline(always)]
pub fn select<L: Lanes>(l: L, mask: u8, yes: &Fe<L::V>, no: &Fe<L::V>) -> Fe<L::V> {
    let mut x = no.0;
    for (x, yes) in x.iter_mut().zip(yes.0) {
        *x = l.select(mask, yes, *x);
    }
    Fe(x)
}

/// Limbs of 32 little-endian bytes with bit 255 dropped: a value below 2^255,
/// possibly at or above p (ZIP-215 accepts such encodings, reduced).
pub fn limbs_from_bytes(bytes: &[u8; 32]) -> [u64; 5] {
    let mut words = [0u64; 4];
    for (w, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *w = u64::from_le_bytes(b);
    }
    words[3] &= (1 << 63) - 1;
    [
        words[0] & MASK52,
        (words[0] >> 52 | words[1] << 12) & MASK52,
        (words[1] >> 40 | words[2] << 24) & MASK52,
        (words[2] >> 28 | words[3] << 36) & MASK52,
        words[3] >> 16,
    ]
}

/// 32 little-endian bytes of canonical limbs (the output of `freeze`).
#[cfg(test)]
pub fn bytes_from_limbs(x: [u64; 5]) -> [u8; 32] {
    let words = [
        x[0] | x[1] << 52,
        x[1] >> 12 | x[2] << 40,
        x[2] >> 24 | x[3] << 28,
        x[3] >> 36 | x[4] << 16,
    ];
    let mut out = [0u8; 32];
    for (chunk, w) in out.chunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// Eight elements from per-lane limbs.
#[inline(always)]
pub fn gather<L: Lanes>(l: L, lanes: &[[u64; 5]; 8]) -> Fe<L::V> {
    let z = l.splat(0);
    let mut x = [z; 5];
    for k in 0..5 {
        let mut limb = [0u64; 8];
        for i in 0..8 {
            limb[i] = lanes[i][k];
        }
        x[k] = l.load(limb);
    }
    Fe(x)
}

/// Per-lane limbs of eight elements.
#[inline(always)]
pub fn scatter<L: Lanes>(l: L, a: &Fe<L::V>) -> [[u64; 5]; 8] {
    let mut out = [[0u64; 5]; 8];
    for k in 0..5 {
        let limb = l.store(a.0[k]);
        for (lane, x) in out.iter_mut().zip(limb) {
            lane[k] = x;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lanes::Portable;
    use proptest::prelude::*;
    use ruint::aliases::U256;

    fn p() -> U256 {
        (U256::from(1u8) << 255) - U256::from(19u8)
    }

    fn to_u256(limbs: [u64; 5]) -> U256 {
        U256::from_le_bytes(bytes_from_limbs(limbs))
    }

    /// Lane values of an `Fe` (canonical), as integers.
    fn values(a: &Fe<[u64; 8]>) -> Vec<U256> {
        scatter(Portable, &freeze(Portable, a))
            .iter()
            .map(|x| to_u256(*x))
            .collect()
    }

    fn fe(bytes: &[[u8; 32]; 8]) -> Fe<[u64; 8]> {
        gather(Portable, &bytes.map(|b| limbs_from_bytes(&b)))
    }

    fn below_2_255(bytes: &[[u8; 32]; 8]) -> Vec<U256> {
        bytes
            .iter()
            .map(|b| {
                let mut b = *b;
                b[31] &= 0x7f;
                U256::from_le_bytes(b) % p()
            })
            .collect()
    }

    fn lanes() -> impl Strategy<Value = [[u8; 32]; 8]> {
        // Bias towards the edges: all ones, p itself and its neighbours.
        let edge = prop_oneof![
            Just([0xff; 32]),
            Just([0u8; 32]),
            Just({
                let mut b = [0xffu8; 32];
                b[0] = 0xed;
                b[31] = 0x7f;
                b
            }),
            Just({
                let mut b = [0xffu8; 32];
                b[0] = 0xec;
                b[31] = 0x7f;
                b
            }),
            any::<[u8; 32]>(),
        ];
        proptest::array::uniform8(prop_oneof![edge, any::<[u8; 32]>()])
    }

    #[test]
    fn constants_are_what_they_claim() {
        let p = p();
        let d = to_u256(D);
        let minus = (p - U256::from(121665u32)) % p;
        assert_eq!(d.mul_mod(U256::from(121666u32), p), minus);
        assert_eq!(to_u256(D2), d.add_mod(d, p));
        let i = to_u256(SQRT_M1);
        assert_eq!(i.mul_mod(i, p), p - U256::from(1u8));
    }

    proptest! {
        #[test]
        fn arithmetic_matches_big_integers(a in lanes(), b in lanes()) {
            let (x, y) = (fe(&a), fe(&b));
            let (xa, ya) = (below_2_255(&a), below_2_255(&b));
            let p = p();
            let l = Portable;
            let sums = values(&add(l, &x, &y));
            let diffs = values(&sub(l, &x, &y));
            let prods = values(&mul(l, &x, &y));
            let squares = values(&square(l, &x));
            let negs = values(&neg(l, &x));
            for i in 0..8 {
                prop_assert_eq!(sums[i], xa[i].add_mod(ya[i], p));
                prop_assert_eq!(diffs[i], xa[i].add_mod(p - ya[i], p));
                prop_assert_eq!(prods[i], xa[i].mul_mod(ya[i], p));
                prop_assert_eq!(squares[i], xa[i].mul_mod(xa[i], p));
                prop_assert_eq!(negs[i], (p - xa[i]) % p);
            }
        }

        #[test]
        fn chained_products_stay_exact(a in lanes(), b in lanes()) {
            // Outputs feed inputs: the limb bounds must hold through chains.
            let l = Portable;
            let p = p();
            let (mut x, y) = (fe(&a), fe(&b));
            let (mut xa, ya) = (below_2_255(&a), below_2_255(&b));
            for _ in 0..20 {
                x = sub(l, &square(l, &mul(l, &x, &y)), &add(l, &x, &y));
                xa = xa.iter().zip(&ya).map(|(x, y)| {
                    let m = x.mul_mod(*y, p);
                    m.mul_mod(m, p).add_mod(p - x.add_mod(*y, p), p)
                }).collect();
            }
            prop_assert_eq!(values(&x), xa);
        }

        #[test]
        fn power_matches_big_integers(a in lanes()) {
            let p = p();
            let e = (p - U256::from(5u8)) >> 3;
            let got = values(&pow_p58(Portable, &fe(&a)));
            for (g, x) in got.iter().zip(below_2_255(&a)) {
                prop_assert_eq!(*g, x.pow_mod(e, p));
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    proptest! {
        #[test]
        fn ifma_lanes_compute_the_portable_bits(a in lanes(), b in lanes()) {
            let Some(l) = crate::lanes::Ifma::detect() else { return Ok(()) };
            let run = |x: &[[u8; 32]; 8], y: &[[u8; 32]; 8]| {
                let (x, y) = (gather(l, &x.map(|b| limbs_from_bytes(&b))), gather(l, &y.map(|b| limbs_from_bytes(&b))));
                scatter(l, &sub(l, &mul(l, &square(l, &x), &y), &add(l, &x, &y)))
            };
            let (x, y) = (fe(&a), fe(&b));
            let want = scatter(Portable, &sub(Portable, &mul(Portable, &square(Portable, &x), &y), &add(Portable, &x, &y)));
            prop_assert_eq!(run(&a, &b), want);
        }
    }
}
