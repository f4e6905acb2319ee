//! `sum(c_i * P_i)` over many points, eight lanes at a time: each lane runs
//! its own Straus sum (shared doublings, signed radix-16 digits, a table of
//! 1P..8P per point) and the eight lane sums are added at the end.

use crate::field;
use crate::lanes::{Lanes, Portable};
use crate::point::{self, Cached, Ext};

/// Rows of the same scalar length go through the windows together.
pub struct Row {
    /// Eight point encodings (lanes past the end of the input hold the
    /// identity's encoding).
    pub encodings: [[u8; 32]; 8],
    /// The lanes' scalars, little-endian, below 2^255.
    pub scalars: [[u8; 32]; 8],
    /// Windows above this one are zero in every lane of the row.
    pub top_window: usize,
}

/// Rows whose tables are held at once; each group pays its own doublings.
const ROWS_PER_GROUP: usize = 32;
const WINDOWS: usize = 64;

/// Signed radix-16 digits in [-8, 8) with sum d_i 16^i = the scalar; the top
/// digit may be 8 (the scalar is below 2^255).
pub fn radix16(scalar: &[u8; 32]) -> [i8; WINDOWS] {
    let mut d = [0i8; WINDOWS];
    for (i, b) in scalar.iter().enumerate() {
        d[2 * i] = (b & 15) as i8;
        d[2 * i + 1] = (b >> 4) as i8;
    }
    for i in 0..WINDOWS - 1 {
        let carry = (d[i] + 8) >> 4;
        d[i] -= carry << 4;
        d[i + 1] += carry;
    }
    d
}

/// One row decompressed and ready: 1P..8P, and per window each lane's
/// digit as a magnitude and a sign mask.
struct Prepared<V> {
    table: [Cached<V>; 8],
    magnitudes: [[u64; 8]; WINDOWS],
    negative: [u8; WINDOWS],
    top_window: usize,
}

impl<V: Copy> Prepared<V> {
    /// A slot to prepare rows into (its contents are overwritten).
    #[inline(always)]
    fn empty<L: Lanes<V = V>>(l: L) -> Prepared<V> {
        Prepared {
            table: [point::identity_cached(l); 8],
            magnitudes: [[0; 8]; WINDOWS],
            negative: [0; WINDOWS],
            top_window: 0,
        }
    }
}

/// Decompresses `row` into `out` (about 14 KiB, written in place rather than
/// moved). False when an encoding does not decompress.
#[inline(always)]
fn prepare_into<L: Lanes>(l: L, row: &Row, out: &mut Prepared<L::V>) -> bool {
    let (ok, p) = point::decompress(l, &row.encodings);
    if ok != u8::MAX {
        return false;
    }
    let p1 = point::to_cached(l, &p);
    out.table[0] = p1;
    let mut acc = point::double::<L, true>(l, &p);
    for entry in out.table.iter_mut().skip(1) {
        *entry = point::to_cached(l, &acc);
        acc = point::add(l, &acc, &p1);
    }
    let digits = row.scalars.map(|s| radix16(&s));
    for w in 0..WINDOWS {
        let mut negative = 0u8;
        for (lane, d) in digits.iter().enumerate() {
            out.magnitudes[w][lane] = u64::from(d[w].unsigned_abs());
            negative |= u8::from(d[w] < 0) << lane;
        }
        out.negative[w] = negative;
    }
    out.top_window = row.top_window;
    true
}

#[inline(always)]
fn lookup<L: Lanes>(l: L, row: &Prepared<L::V>, window: usize) -> Cached<L::V> {
    let magnitude = l.load(row.magnitudes[window]);
    let mut out = point::identity_cached(l);
    for (k, entry) in row.table.iter().enumerate() {
        let m = l.eq(magnitude, l.splat(k as u64 + 1));
        out = Cached {
            ypx: field::select(l, m, &entry.ypx, &out.ypx),
            ymx: field::select(l, m, &entry.ymx, &out.ymx),
            z2: field::select(l, m, &entry.z2, &out.z2),
            t2d: field::select(l, m, &entry.t2d, &out.t2d),
        };
    }
    point::negate_where(l, row.negative[window], &out)
}

/// The sum over one group of rows, still split across the eight lanes.
#[inline(always)]
fn group_sum<L: Lanes>(l: L, rows: &[Prepared<L::V>]) -> Ext<L::V> {
    let top = rows.iter().map(|r| r.top_window).max().unwrap_or(0);
    let mut acc = point::identity(l);
    for w in (0..=top).rev() {
        if w != top {
            for _ in 0..3 {
                acc = point::double::<L, false>(l, &acc);
            }
            acc = point::double::<L, true>(l, &acc);
        }
        for row in rows.iter().filter(|r| r.top_window >= w) {
            acc = point::add(l, &acc, &lookup(l, row, w));
        }
    }
    acc
}

/// The eight lanes' points in portable lanes (lane i = point i).
fn to_portable<L: Lanes>(l: L, p: &Ext<L::V>) -> Ext<[u64; 8]> {
    let move_fe = |fe: &field::Fe<L::V>| field::gather(Portable, &field::scatter(l, fe));
    Ext {
        x: move_fe(&p.x),
        y: move_fe(&p.y),
        z: move_fe(&p.z),
        t: move_fe(&p.t),
    }
}

/// Lane i of `p` moved to lane i - `by` (upper lanes become the identity).
fn shift_down(p: &Ext<[u64; 8]>, by: usize) -> Ext<[u64; 8]> {
    let id = point::identity(Portable);
    let shift = |fe: &field::Fe<[u64; 8]>, fill: &field::Fe<[u64; 8]>| {
        field::Fe(std::array::from_fn(|k| {
            std::array::from_fn(|i| {
                if i + by < 8 {
                    fe.0[k][i + by]
                } else {
                    fill.0[k][i]
                }
            })
        }))
    };
    Ext {
        x: shift(&p.x, &id.x),
        y: shift(&p.y, &id.y),
        z: shift(&p.z, &id.z),
        t: shift(&p.t, &id.t),
    }
}

/// Whether `[8] * sum(scalars_i * points_i)` is the identity. `None` when an
/// encoding does not decompress.
#[inline(always)]
pub fn is_small_order_sum<L: Lanes>(l: L, rows: &[Row]) -> Option<bool> {
    let mut total = sum(l, rows)?;
    for _ in 0..3 {
        total = point::double::<Portable, true>(Portable, &total);
    }
    Some(point::is_identity(Portable, &total) & 1 == 1)
}

/// `sum(scalars_i * points_i)`, in lane 0 of the result.
#[inline(always)]
fn sum<L: Lanes>(l: L, rows: &[Row]) -> Option<Ext<[u64; 8]>> {
    let mut total = point::identity(Portable);
    // One set of slots for every group: rows are prepared where they are
    // read, not built elsewhere and copied in.
    let mut prepared = Vec::with_capacity(rows.len().min(ROWS_PER_GROUP));
    for group in rows.chunks(ROWS_PER_GROUP) {
        // Loops, not iterator chains: closures would not inherit the
        // caller's target features.
        while prepared.len() < group.len() {
            prepared.push(Prepared::empty(l));
        }
        for (row, slot) in group.iter().zip(prepared.iter_mut()) {
            if !prepare_into(l, row, slot) {
                return None;
            }
        }
        let lanes = to_portable(l, &group_sum(l, &prepared[..group.len()]));
        total = point::add(Portable, &total, &point::to_cached(Portable, &lanes));
    }
    for by in [4, 2, 1] {
        let upper = shift_down(&total, by);
        total = point::add(Portable, &total, &point::to_cached(Portable, &upper));
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::point::tests::compress;
    use curve25519_dalek::traits::VartimeMultiscalarMul;
    use curve25519_dalek::{EdwardsPoint, Scalar};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn sums_match_dalek(seeds in proptest::collection::vec((any::<u64>(), any::<[u8; 32]>()), 1..20)) {
            let points: Vec<EdwardsPoint> = seeds.iter().map(|(s, _)| EdwardsPoint::mul_base(&Scalar::from(*s))).collect();
            let scalars: Vec<Scalar> = seeds.iter().map(|(_, b)| Scalar::from_bytes_mod_order(*b)).collect();
            let mut rows = Vec::new();
            for (ps, ss) in points.chunks(8).zip(scalars.chunks(8)) {
                let mut row = Row { encodings: [crate::IDENTITY; 8], scalars: [[0; 32]; 8], top_window: 63 };
                for i in 0..ps.len() {
                    row.encodings[i] = ps[i].compress().to_bytes();
                    row.scalars[i] = ss[i].to_bytes();
                }
                rows.push(row);
            }
            let got = compress(&sum(Portable, &rows).unwrap())[0];
            let want = EdwardsPoint::vartime_multiscalar_mul(&scalars, &points).compress().to_bytes();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn digits_recompose() {
        let s = Scalar::from_bytes_mod_order([0xab; 32]);
        let d = radix16(&s.to_bytes());
        let mut acc = Scalar::ZERO;
        for digit in d.iter().rev() {
            acc = acc * Scalar::from(16u8)
                + if *digit < 0 {
                    -Scalar::from(digit.unsigned_abs())
                } else {
                    Scalar::from(*digit as u8)
                };
        }
        assert_eq!(acc, s);
    }
}
