//! Edwards points of ed25519 (-x^2 + y^2 = 1 + d x^2 y^2), eight at a time:
//! decompression with curve25519-dalek's exact rules, and the complete
//! extended-coordinate formulas (Hisil-Wong-Carter-Dawson) for addition and
//! doubling, which hold for every pair of points, small-order ones included.

use crate::field::{self, D, D2, Fe, SQRT_M1};
use crate::lanes::Lanes;

/// Extended coordinates: x = X/Z, y = Y/Z, xy = T/Z.
#[derive(Clone, Copy)]
pub struct Ext<V> {
    pub x: Fe<V>,
    pub y: Fe<V>,
    pub z: Fe<V>,
    pub t: Fe<V>,
}

/// A point ready to be added: (Y+X, Y-X, 2Z, 2dT).
#[derive(Clone, Copy)]
pub struct Cached<V> {
    pub ypx: Fe<V>,
    pub ymx: Fe<V>,
    pub z2: Fe<V>,
    pub t2d: Fe<V>,
}

#[inline(always)]
pub fn identity<L: Lanes>(l: L) -> Ext<L::V> {
    Ext {
        x: field::zero(l),
        y: field::one(l),
        z: field::one(l),
        t: field::zero(l),
    }
}

#[inline(always)]
pub fn identity_cached<L: Lanes>(l: L) -> Cached<L::V> {
    Cached {
        ypx: field::one(l),
        ymx: field::one(l),
        z2: field::constant(l, [2, 0, 0, 0, 0]),
        t2d: field::zero(l),
    }
}

/// `sqrt(u/v)` where it exists, as dalek's `sqrt_ratio_i`: the mask of lanes
/// where u/v is a square (u = 0 included, v = 0 with u != 0 excluded), and the
/// non-negative root (in the other lanes, a root of i*u/v).
#[inline(always)]
fn sqrt_ratio_i<L: Lanes>(l: L, u: &Fe<L::V>, v: &Fe<L::V>) -> (u8, Fe<L::V>) {
    let v3 = field::mul(l, &field::square(l, v), v);
    let v7 = field::mul(l, &field::square(l, &v3), v);
    let pow = field::pow_p58(l, &field::mul(l, u, &v7));
    let r = field::mul(l, &field::mul(l, u, &v3), &pow);
    let check = field::mul(l, v, &field::square(l, &r));
    let i = field::constant(l, SQRT_M1);
    let neg_u = field::neg(l, u);
    let correct = field::equal(l, &check, u);
    let flipped = field::equal(l, &check, &neg_u);
    let flipped_i = field::equal(l, &check, &field::mul(l, &neg_u, &i));
    let r = field::select(l, flipped | flipped_i, &field::mul(l, &i, &r), &r);
    let r = field::select(l, field::is_negative(l, &r), &field::neg(l, &r), &r);
    (correct | flipped, r)
}

/// Decompresses eight encodings as dalek's `CompressedEdwardsY::decompress`
/// does (y taken mod p, so y >= p is accepted; x = 0 with the sign bit set is
/// accepted). Returns the mask of lanes that decoded, and the points (lanes
/// that did not decode hold garbage).
#[inline(always)]
pub fn decompress<L: Lanes>(l: L, encodings: &[[u8; 32]; 8]) -> (u8, Ext<L::V>) {
    let y = field::gather(l, &encodings.map(|e| field::limbs_from_bytes(&e)));
    let sign = encodings
        .iter()
        .enumerate()
        .fold(0u8, |m, (i, e)| m | (e[31] >> 7) << i);
    let one = field::one(l);
    let yy = field::square(l, &y);
    let u = field::sub(l, &yy, &one);
    let v = field::add(l, &field::mul(l, &yy, &field::constant(l, D)), &one);
    let (ok, x) = sqrt_ratio_i(l, &u, &v);
    let x = field::select(l, sign, &field::neg(l, &x), &x);
    let t = field::mul(l, &x, &y);
    (ok, Ext { x, y, z: one, t })
}

#[inline(always)]
pub fn to_cached<L: Lanes>(l: L, p: &Ext<L::V>) -> Cached<L::V> {
    Cached {
        ypx: field::add(l, &p.y, &p.x),
        ymx: field::sub(l, &p.y, &p.x),
        z2: field::add(l, &p.z, &p.z),
        t2d: field::mul(l, &p.t, &field::constant(l, D2)),
    }
}

/// `-q` in the lanes of `mask`.
#[inline(always)]
pub fn negate_where<L: Lanes>(l: L, mask: u8, q: &Cached<L::V>) -> Cached<L::V> {
    Cached {
        ypx: field::select(l, mask, &q.ymx, &q.ypx),
        ymx: field::select(l, mask, &q.ypx, &q.ymx),
        z2: q.z2,
        t2d: field::select(l, mask, &field::neg(l, &q.t2d), &q.t2d),
    }
}

#[inline(always)]
pub fn add<L: Lanes>(l: L, p: &Ext<L::V>, q: &Cached<L::V>) -> Ext<L::V> {
    let d = field::mul(l, &p.z, &q.z2);
    add_parts(l, p, [&q.ypx, &q.ymx, &q.t2d], &d)
}

/// `p + q` from q's (Y+X, Y-X, 2dT) and `d` = 2 Z_p Z_q.
#[inline(always)]
fn add_parts<L: Lanes>(l: L, p: &Ext<L::V>, q: [&Fe<L::V>; 3], d: &Fe<L::V>) -> Ext<L::V> {
    let [ypx, ymx, t2d] = q;
    let a = field::mul(l, &field::sub(l, &p.y, &p.x), ymx);
    let b = field::mul(l, &field::add(l, &p.y, &p.x), ypx);
    let c = field::mul(l, &p.t, t2d);
    let e = field::sub(l, &b, &a);
    let f = field::sub(l, d, &c);
    let g = field::add(l, d, &c);
    let h = field::add(l, &b, &a);
    Ext {
        x: field::mul(l, &e, &f),
        y: field::mul(l, &g, &h),
        z: field::mul(l, &f, &g),
        t: field::mul(l, &e, &h),
    }
}

/// A point with Z = 1 ready to be added: (y+x, y-x, 2dxy). A decompressed
/// point has Z = 1, so its sums skip one multiplication.
#[derive(Clone, Copy)]
pub struct Affine<V> {
    pub ypx: Fe<V>,
    pub ymx: Fe<V>,
    pub t2d: Fe<V>,
}

/// `p` (with Z = 1) ready to be added.
#[inline(always)]
pub fn to_affine<L: Lanes>(l: L, p: &Ext<L::V>) -> Affine<L::V> {
    Affine {
        ypx: field::add(l, &p.y, &p.x),
        ymx: field::sub(l, &p.y, &p.x),
        t2d: field::mul(l, &p.t, &field::constant(l, D2)),
    }
}

/// `-q` in the lanes of `mask`.
#[inline(always)]
pub fn negate_affine_where<L: Lanes>(l: L, mask: u8, q: &Affine<L::V>) -> Affine<L::V> {
    Affine {
        ypx: field::select(l, mask, &q.ymx, &q.ypx),
        ymx: field::select(l, mask, &q.ypx, &q.ymx),
        t2d: field::select(l, mask, &field::neg(l, &q.t2d), &q.t2d),
    }
}

/// `p + q` for a `q` with Z = 1: [`add`] with 2 Z1 Z2 as Z1 + Z1.
#[inline(always)]
pub fn add_affine<L: Lanes>(l: L, p: &Ext<L::V>, q: &Affine<L::V>) -> Ext<L::V> {
    let d = field::add(l, &p.z, &p.z);
    add_parts(l, p, [&q.ypx, &q.ymx, &q.t2d], &d)
}

/// Lane `i` from `yes` when bit `i` of `mask` is set, else from `no`.
#[inline(always)]
pub fn select<L: Lanes>(l: L, mask: u8, yes: &Ext<L::V>, no: &Ext<L::V>) -> Ext<L::V> {
    Ext {
        x: field::select(l, mask, &yes.x, &no.x),
        y: field::select(l, mask, &yes.y, &no.y),
        z: field::select(l, mask, &yes.z, &no.z),
        t: field::select(l, mask, &yes.t, &no.t),
    }
}

/// `2p`. Without `WITH_T` the result's `t` is left stale: fine as the input
/// of another doubling, which does not read it.
#[inline(always)]
pub fn double<L: Lanes, const WITH_T: bool>(l: L, p: &Ext<L::V>) -> Ext<L::V> {
    let xx = field::square(l, &p.x);
    let yy = field::square(l, &p.y);
    let zz = field::square(l, &p.z);
    let zz2 = field::add(l, &zz, &zz);
    let xy2 = field::square(l, &field::add(l, &p.x, &p.y));
    let yy_plus_xx = field::add(l, &yy, &xx);
    let yy_minus_xx = field::sub(l, &yy, &xx);
    // The doubled point in completed coordinates ((X:Z), (Y:T)).
    let cx = field::sub(l, &xy2, &yy_plus_xx);
    let cy = yy_plus_xx;
    let cz = yy_minus_xx;
    let ct = field::sub(l, &zz2, &yy_minus_xx);
    Ext {
        x: field::mul(l, &cx, &ct),
        y: field::mul(l, &cy, &cz),
        z: field::mul(l, &cz, &ct),
        t: if WITH_T { field::mul(l, &cx, &cy) } else { p.t },
    }
}

/// Lanes where `p` is the identity (X = 0 and Y = Z).
#[inline(always)]
pub fn is_identity<L: Lanes>(l: L, p: &Ext<L::V>) -> u8 {
    field::equal(l, &p.x, &field::zero(l)) & field::equal(l, &p.y, &p.z)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::field::{bytes_from_limbs, freeze, scatter};
    use crate::lanes::Portable;
    use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
    use curve25519_dalek::{Scalar, constants};
    use proptest::prelude::*;

    type P = Ext<[u64; 8]>;

    fn invert(a: &Fe<[u64; 8]>) -> Fe<[u64; 8]> {
        // a^(p-2): p - 2 = 2^255 - 21 has every bit below 255 set but 2 and 4.
        let l = Portable;
        let mut acc = field::one(l);
        for bit in (0..255).rev() {
            acc = field::square(l, &acc);
            if !matches!(bit, 2 | 4) {
                acc = field::mul(l, &acc, a);
            }
        }
        acc
    }

    /// Each lane's point, encoded as dalek encodes.
    pub(crate) fn compress(p: &P) -> [[u8; 32]; 8] {
        let l = Portable;
        let zinv = invert(&p.z);
        let x = scatter(l, &freeze(l, &field::mul(l, &p.x, &zinv)));
        let y = scatter(l, &freeze(l, &field::mul(l, &p.y, &zinv)));
        std::array::from_fn(|i| {
            let mut e = bytes_from_limbs(y[i]);
            e[31] |= ((x[i][0] & 1) as u8) << 7;
            e
        })
    }

    fn points(scalars: [u64; 8]) -> [EdwardsPoint; 8] {
        scalars.map(|s| {
            EdwardsPoint::mul_base(&Scalar::from(s)) + constants::EIGHT_TORSION[(s % 8) as usize]
        })
    }

    fn ours(ps: &[EdwardsPoint; 8]) -> P {
        let (ok, p) = decompress(Portable, &ps.map(|p| p.compress().to_bytes()));
        assert_eq!(ok, u8::MAX);
        p
    }

    #[test]
    fn inversion_inverts() {
        let l = Portable;
        let x = field::constant(l, [3, 5, 7, 11, 13]);
        let one = field::freeze(l, &field::mul(l, &x, &invert(&x)));
        assert_eq!(scatter(l, &one), [[1, 0, 0, 0, 0]; 8]);
    }

    proptest! {
        #[test]
        fn decompression_matches_dalek(encodings in proptest::array::uniform8(any::<[u8; 32]>())) {
            let (ok, p) = decompress(Portable, &encodings);
            let back = compress(&p);
            for (i, e) in encodings.iter().enumerate() {
                let want = CompressedEdwardsY(*e).decompress();
                prop_assert_eq!(ok >> i & 1 == 1, want.is_some());
                if let Some(want) = want {
                    prop_assert_eq!(back[i], want.compress().to_bytes());
                }
            }
        }

        #[test]
        fn addition_and_doubling_match_dalek(a in any::<[u64; 8]>(), b in any::<[u64; 8]>()) {
            let (pa, pb) = (points(a), points(b));
            let l = Portable;
            let (x, y) = (ours(&pa), ours(&pb));
            let sum = compress(&add(l, &x, &to_cached(l, &y)));
            let diff = compress(&add(l, &x, &negate_where(l, 0b1010_1010, &to_cached(l, &y))));
            let twice = compress(&double::<Portable, true>(l, &double::<Portable, false>(l, &x)));
            for i in 0..8 {
                prop_assert_eq!(sum[i], (pa[i] + pb[i]).compress().to_bytes());
                let want = if i % 2 == 1 { pa[i] - pb[i] } else { pa[i] + pb[i] };
                prop_assert_eq!(diff[i], want.compress().to_bytes());
                prop_assert_eq!(twice[i], (pa[i] + pa[i] + pa[i] + pa[i]).compress().to_bytes());
            }
        }
    }

    #[test]
    fn small_order_points_decompress_as_dalek_does() {
        let p_bytes = {
            let mut b = [0xffu8; 32];
            b[0] = 0xed;
            b[31] = 0x7f;
            b
        };
        let mut cases: Vec<[u8; 32]> = constants::EIGHT_TORSION
            .iter()
            .map(|t| t.compress().to_bytes())
            .collect();
        for y in 0u8..19 {
            // y + p, still below 2^255, both signs.
            let mut e = p_bytes;
            e[0] = e[0].wrapping_add(y);
            cases.push(e);
            e[31] |= 0x80;
            cases.push(e);
        }
        for chunk in cases.chunks(8) {
            let mut lanes = [[0u8; 32]; 8];
            lanes[..chunk.len()].copy_from_slice(chunk);
            let (ok, p) = decompress(Portable, &lanes);
            let back = compress(&p);
            for (i, e) in chunk.iter().enumerate() {
                let want = CompressedEdwardsY(*e).decompress();
                assert_eq!(ok >> i & 1 == 1, want.is_some(), "{e:?}");
                if let Some(want) = want {
                    assert_eq!(back[i], want.compress().to_bytes());
                }
            }
        }
    }
}
