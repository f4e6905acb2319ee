//! `sum(c_i * P_i)` over a large batch by the bucket method (Pippenger):
//! each scalar is cut into 32 signed 8-bit digits; per window, the points
//! whose digit has magnitude m are summed into bucket m, and a window's sum
//! is `sum m * bucket_m`. A point costs one addition per nonzero digit (32
//! for a full scalar, 16 or 17 for a 128-bit one) instead of Straus's one
//! per 4-bit window plus a table, and the buckets cost a fixed 256
//! additions per window, which a batch of a few hundred signatures repays.
//!
//! The lanes walk the batch's (point, digit) entries sorted by bucket, each
//! lane its own eighth of them, so every lane adds on every step: a lane
//! reaching the next bucket writes its sum out and starts again. A bucket
//! cut between two lanes' eighths is finished once the walk ends. The
//! buckets' sums then run with the windows in the lanes.

use crate::field::{self, Fe};
use crate::lanes::Lanes;
use crate::point::{self, Affine, Ext};

/// Bits per digit.
const DIGIT_BITS: usize = 8;
/// Digits per scalar: scalars are below 2^253, so the top digit is at most
/// 2^5 and never carries further.
const WINDOWS: usize = 32;
/// Digit magnitudes 1..=128: signed digits lie in [-128, 128).
const MAGNITUDES: usize = 1 << (DIGIT_BITS - 1);
const BUCKETS: usize = WINDOWS * MAGNITUDES;

/// A decompressed point as added: y+x, y-x and 2dxy, five limbs each.
type PointRow = [u64; 16];
/// A point in extended coordinates: x, y, z and t, five limbs each.
type ExtRow = [u64; 20];

/// Signed digits in [-128, 128) with `sum d_w 256^w` = `scalar` (< 2^253).
pub fn radix256(scalar: &[u8; 32]) -> [i8; WINDOWS] {
    let mut digits = [0i8; WINDOWS];
    let mut carry = 0u16;
    for (d, b) in digits.iter_mut().zip(scalar) {
        let v = u16::from(*b) + carry;
        carry = u16::from(v >= 128);
        *d = (i32::from(v) - (i32::from(carry) << 8)) as i8;
    }
    debug_assert_eq!(carry, 0, "a scalar at or above 2^255");
    digits
}

/// Whether `[8] * sum(scalars_i * points_i)` is the identity; scalars below
/// 2^253. `None` when an encoding does not decompress.
#[inline(always)]
pub fn is_small_order_sum<L: Lanes>(
    l: L,
    encodings: &[[u8; 32]],
    scalars: &[[u8; 32]],
) -> Option<bool> {
    assert!(
        encodings.len() < 1 << 31,
        "entries hold a point index in 31 bits"
    );
    let points = decompress_all(l, encodings)?;
    let (entries, starts) = sort_into_buckets(scalars);
    let buckets = fill_buckets(l, &points, &entries, &starts);
    let windows = window_sums(l, &buckets);
    let mut total = horner(l, &windows);
    for _ in 0..3 {
        total = point::double::<L, false>(l, &total);
    }
    Some(point::is_identity(l, &total) & 1 == 1)
}

/// Every encoding decompressed, as rows ready to be added.
#[inline(always)]
fn decompress_all<L: Lanes>(l: L, encodings: &[[u8; 32]]) -> Option<Vec<PointRow>> {
    let mut rows = vec![[0u64; 16]; encodings.len().next_multiple_of(8)];
    for (chunk, out) in encodings.chunks(8).zip(rows.chunks_mut(8)) {
        let mut eight = [crate::IDENTITY; 8];
        eight[..chunk.len()].copy_from_slice(chunk);
        let (ok, p) = point::decompress(l, &eight);
        if ok != u8::MAX {
            return None;
        }
        let a = point::to_affine(l, &p);
        for (at, fe) in [(0, &a.ypx), (5, &a.ymx), (10, &a.t2d)] {
            for (row, limbs) in out.iter_mut().zip(field::scatter(l, fe)) {
                row[at..at + 5].copy_from_slice(&limbs);
            }
        }
    }
    Some(rows)
}

/// The (point, sign) entries of every nonzero digit, sorted by bucket
/// (window-major, then magnitude), each as `point << 1 | negative`; and
/// where each bucket starts (`starts[b]..starts[b + 1]`).
fn sort_into_buckets(scalars: &[[u8; 32]]) -> (Vec<u32>, Vec<usize>) {
    let digits: Vec<[i8; WINDOWS]> = scalars.iter().map(radix256).collect();
    let bucket = |w: usize, d: i8| w * MAGNITUDES + usize::from(d.unsigned_abs()) - 1;
    let mut starts = vec![0usize; BUCKETS + 1];
    for ds in &digits {
        for (w, &d) in ds.iter().enumerate().filter(|(_, d)| **d != 0) {
            starts[bucket(w, d) + 1] += 1;
        }
    }
    for b in 0..BUCKETS {
        starts[b + 1] += starts[b];
    }
    let mut next = starts.clone();
    let mut entries = vec![0u32; starts[BUCKETS]];
    // Window by window: the writes then go to a window's 128 buckets at a
    // time rather than to all 4,096.
    for w in 0..WINDOWS {
        for (j, ds) in digits.iter().enumerate() {
            let d = ds[w];
            if d != 0 {
                let at = &mut next[bucket(w, d)];
                entries[*at] = (j as u32) << 1 | u32::from(d < 0);
                *at += 1;
            }
        }
    }
    (entries, starts)
}

/// A lane's walk through its eighth of the entries.
#[derive(Clone, Copy, Default)]
struct Walk {
    first: usize,
    end: usize,
    bucket: usize,
}

/// What the eight walks do at one step, as lane masks.
#[derive(Default)]
struct Step {
    /// Each lane's point.
    at: [u32; 8],
    /// Lanes with an entry at this step.
    active: u8,
    /// Lanes whose entry starts a bucket sum afresh.
    fresh: u8,
    /// Lanes that finished their bucket `finished[i]` at the step before.
    done: u8,
    finished: [usize; 8],
    /// Lanes whose entry is subtracted.
    negative: u8,
}

/// The sorted entries split into eight walks, and the bucket sums they
/// write out.
struct Walks<'a> {
    entries: &'a [u32],
    starts: &'a [usize],
    walks: [Walk; 8],
    per_lane: usize,
    buckets: Vec<ExtRow>,
    /// Sums of buckets cut between walks, added to their bucket at the end.
    pieces: Vec<(usize, ExtRow)>,
}

impl<'a> Walks<'a> {
    fn new(entries: &'a [u32], starts: &'a [usize]) -> Walks<'a> {
        let per_lane = entries.len().div_ceil(8);
        let mut walks = [Walk::default(); 8];
        for (i, walk) in walks.iter_mut().enumerate() {
            walk.first = (i * per_lane).min(entries.len());
            walk.end = ((i + 1) * per_lane).min(entries.len());
            walk.bucket = starts
                .partition_point(|&s| s <= walk.first)
                .saturating_sub(1);
        }
        Walks {
            entries,
            starts,
            walks,
            per_lane,
            buckets: vec![identity_row(); BUCKETS],
            pieces: Vec::new(),
        }
    }

    /// Moves every walk to its entry at `step`.
    fn step(&mut self, step: usize) -> Step {
        let mut out = Step::default();
        for (i, walk) in self.walks.iter_mut().enumerate() {
            let e = walk.first + step;
            if e >= walk.end {
                continue;
            }
            out.active |= 1 << i;
            if step == 0 {
                out.fresh |= 1 << i;
            } else if e == self.starts[walk.bucket + 1] {
                out.done |= 1 << i;
                out.fresh |= 1 << i;
                out.finished[i] = walk.bucket;
                walk.bucket += 1;
                while self.starts[walk.bucket + 1] <= e {
                    walk.bucket += 1;
                }
            }
            out.at[i] = self.entries[e] >> 1;
            out.negative |= ((self.entries[e] & 1) as u8) << i;
        }
        out
    }

    /// The bucket each walk is in at its end, for the walks that have one.
    fn last(&self) -> (u8, [usize; 8]) {
        let mut mask = 0u8;
        let mut finished = [0usize; 8];
        for (i, walk) in self.walks.iter().enumerate() {
            if walk.first < walk.end {
                mask |= 1 << i;
                finished[i] = walk.bucket;
            }
        }
        (mask, finished)
    }

    /// Writes the sums of the lanes in `mask` to their `finished` buckets:
    /// the lane that holds a bucket's first entry owns it, any other holds
    /// a piece.
    #[inline(always)]
    fn write_out<L: Lanes>(&mut self, l: L, acc: &Ext<L::V>, mask: u8, finished: &[usize; 8]) {
        let rows = ext_rows(l, acc);
        for (i, row) in rows.into_iter().enumerate() {
            if mask >> i & 1 == 0 {
                continue;
            }
            let b = finished[i];
            if self.starts[b] >= self.walks[i].first {
                self.buckets[b] = row;
            } else {
                self.pieces.push((b, row));
            }
        }
    }

    /// The buckets, with the pieces added in.
    #[inline(always)]
    fn finish<L: Lanes>(mut self, l: L) -> Vec<ExtRow> {
        for (b, piece) in std::mem::take(&mut self.pieces) {
            let sum = point::add(
                l,
                &broadcast(l, &self.buckets, b),
                &point::to_cached(l, &broadcast(l, std::slice::from_ref(&piece), 0)),
            );
            self.buckets[b] = lane_row(l, &sum, 0);
        }
        self.buckets
    }
}

/// Every bucket's sum, by summing the sorted entries eight walks at a time.
#[inline(always)]
fn fill_buckets<L: Lanes>(
    l: L,
    points: &[PointRow],
    entries: &[u32],
    starts: &[usize],
) -> Vec<ExtRow> {
    let mut walks = Walks::new(entries, starts);
    let mut acc = point::identity(l);
    for step in 0..walks.per_lane {
        let s = walks.step(step);
        if s.done != 0 {
            walks.write_out(l, &acc, s.done, &s.finished);
        }
        let p = gather_point(l, points, &s.at);
        let p = point::negate_affine_where(l, s.negative, &p);
        let start = point::select(l, s.fresh, &point::identity(l), &acc);
        acc = point::select(l, s.active, &point::add_affine(l, &start, &p), &acc);
    }
    let (mask, finished) = walks.last();
    walks.write_out(l, &acc, mask, &finished);
    walks.finish(l)
}

/// `sum m * bucket_m` per window, the windows eight at a time in the lanes.
#[inline(always)]
fn window_sums<L: Lanes>(l: L, buckets: &[ExtRow]) -> Vec<ExtRow> {
    let mut sums = Vec::with_capacity(WINDOWS);
    for first in (0..WINDOWS).step_by(8) {
        let mut running = point::identity(l);
        let mut sum = point::identity(l);
        for m in (0..MAGNITUDES).rev() {
            let at: [u32; 8] = std::array::from_fn(|i| ((first + i) * MAGNITUDES + m) as u32);
            let bucket = gather_ext(l, buckets, &at);
            running = point::add(l, &running, &point::to_cached(l, &bucket));
            sum = point::add(l, &sum, &point::to_cached(l, &running));
        }
        sums.extend(ext_rows(l, &sum));
    }
    sums
}

/// `sum 256^w * windows[w]`, in every lane.
#[inline(always)]
fn horner<L: Lanes>(l: L, windows: &[ExtRow]) -> Ext<L::V> {
    let mut total = point::identity(l);
    for w in (0..windows.len()).rev() {
        for _ in 0..DIGIT_BITS - 1 {
            total = point::double::<L, false>(l, &total);
        }
        total = point::double::<L, true>(l, &total);
        total = point::add(l, &total, &point::to_cached(l, &broadcast(l, windows, w)));
    }
    total
}

fn identity_row() -> ExtRow {
    let mut row = [0u64; 20];
    row[5] = 1;
    row[10] = 1;
    row
}

#[inline(always)]
fn gather_point<L: Lanes>(l: L, points: &[PointRow], at: &[u32; 8]) -> Affine<L::V> {
    let v: [L::V; 15] = l.gather_rows(points, at);
    Affine {
        ypx: Fe([v[0], v[1], v[2], v[3], v[4]]),
        ymx: Fe([v[5], v[6], v[7], v[8], v[9]]),
        t2d: Fe([v[10], v[11], v[12], v[13], v[14]]),
    }
}

#[inline(always)]
fn gather_ext<L: Lanes>(l: L, rows: &[ExtRow], at: &[u32; 8]) -> Ext<L::V> {
    let v: [L::V; 20] = l.gather_rows(rows, at);
    Ext {
        x: Fe([v[0], v[1], v[2], v[3], v[4]]),
        y: Fe([v[5], v[6], v[7], v[8], v[9]]),
        z: Fe([v[10], v[11], v[12], v[13], v[14]]),
        t: Fe([v[15], v[16], v[17], v[18], v[19]]),
    }
}

/// `rows[at]` in every lane.
#[inline(always)]
fn broadcast<L: Lanes>(l: L, rows: &[ExtRow], at: usize) -> Ext<L::V> {
    gather_ext(l, rows, &[at as u32; 8])
}

/// Each lane's point as a row.
#[inline(always)]
fn ext_rows<L: Lanes>(l: L, p: &Ext<L::V>) -> [ExtRow; 8] {
    let mut rows = [[0u64; 20]; 8];
    for (at, fe) in [(0, &p.x), (5, &p.y), (10, &p.z), (15, &p.t)] {
        for (row, limbs) in rows.iter_mut().zip(field::scatter(l, fe)) {
            row[at..at + 5].copy_from_slice(&limbs);
        }
    }
    rows
}

#[inline(always)]
fn lane_row<L: Lanes>(l: L, p: &Ext<L::V>, lane: usize) -> ExtRow {
    ext_rows(l, p)[lane]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lanes::Portable;
    use curve25519_dalek::traits::{Identity, VartimeMultiscalarMul};
    use curve25519_dalek::{EdwardsPoint, Scalar, constants::EIGHT_TORSION};
    use proptest::prelude::*;

    #[test]
    fn digits_recompose() {
        for bytes in [[0xff; 32], [0x80; 32], [0x7f; 32], [0x12; 32]] {
            let s = Scalar::from_bytes_mod_order(bytes);
            let mut acc = Scalar::ZERO;
            for d in radix256(&s.to_bytes()).iter().rev() {
                let magnitude = Scalar::from(d.unsigned_abs());
                acc = acc * Scalar::from(256u16) + if *d < 0 { -magnitude } else { magnitude };
            }
            assert_eq!(acc, s);
        }
    }

    /// Whether `[8] sum` is the identity, by dalek.
    fn reference(points: &[EdwardsPoint], scalars: &[Scalar]) -> bool {
        EdwardsPoint::vartime_multiscalar_mul(scalars, points)
            .mul_by_cofactor()
            .eq(&EdwardsPoint::identity())
    }

    fn ours(points: &[EdwardsPoint], scalars: &[Scalar]) -> bool {
        let encodings: Vec<[u8; 32]> = points.iter().map(|p| p.compress().to_bytes()).collect();
        let scalars: Vec<[u8; 32]> = scalars.iter().map(Scalar::to_bytes).collect();
        is_small_order_sum(Portable, &encodings, &scalars).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]
        /// A sum that cancels to a torsion point is accepted and one nudged
        /// off it is refused, as dalek says, for batches large and small
        /// (buckets cut between lanes, empty windows, repeated points).
        #[test]
        fn matches_dalek(seed in any::<u64>(), len in 1usize..300, torsion in 0usize..8) {
            let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
            let mut points = Vec::new();
            let mut logs = Vec::new();
            let mut scalars = Vec::new();
            let mut sum = Scalar::ZERO;
            for i in 0..len {
                // Every seventh point repeats the first.
                let x = if i % 7 == 6 { logs[0] } else { Scalar::from(rand::Rng::next_u64(&mut rng) | 1) };
                let t = if i % 7 == 6 { 0 } else { i % 8 };
                let c = if i % 3 == 0 {
                    Scalar::from(u128::from(rand::Rng::next_u64(&mut rng)) << 64)
                } else {
                    let mut wide = [0u8; 64];
                    rand::Rng::fill_bytes(&mut rng, &mut wide);
                    Scalar::from_bytes_mod_order_wide(&wide)
                };
                points.push(EdwardsPoint::mul_base(&x) + EIGHT_TORSION[t]);
                logs.push(x);
                scalars.push(c);
                sum += c * x;
            }
            // The basepoint with -sum cancels every multiple of B; torsion
            // points are killed by the cofactor.
            points.push(EdwardsPoint::mul_base(&Scalar::ONE) + EIGHT_TORSION[torsion]);
            scalars.push(-sum);
            prop_assert!(reference(&points, &scalars));
            prop_assert_eq!(ours(&points, &scalars), reference(&points, &scalars));
            scalars[0] += Scalar::ONE;
            prop_assert_eq!(ours(&points, &scalars), reference(&points, &scalars));
        }
    }
}
