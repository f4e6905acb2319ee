//! Eight 64-bit lanes and the few operations the field code needs, with two
//! implementations: AVX-512 IFMA registers, and plain arrays that compute the
//! same bits anywhere (the reference the IFMA code is tested against).

/// Low 52 bits.
pub const MASK52: u64 = (1 << 52) - 1;

/// Eight lanes of u64. `madd_lo`/`madd_hi` follow `vpmadd52luq`/`vpmadd52huq`:
/// only the low 52 bits of each factor take part.
pub trait Lanes: Copy {
    type V: Copy;
    fn splat(self, x: u64) -> Self::V;
    fn load(self, x: [u64; 8]) -> Self::V;
    fn store(self, v: Self::V) -> [u64; 8];
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    fn sub(self, a: Self::V, b: Self::V) -> Self::V;
    fn and(self, a: Self::V, b: Self::V) -> Self::V;
    fn or(self, a: Self::V, b: Self::V) -> Self::V;
    fn xor(self, a: Self::V, b: Self::V) -> Self::V;
    /// Each lane rotated right by `N` bits.
    fn rotr<const N: i32>(self, a: Self::V) -> Self::V;
    fn shr<const N: u32>(self, a: Self::V) -> Self::V;
    fn shl<const N: u32>(self, a: Self::V) -> Self::V;
    /// `acc + low52(b * c)` over the low 52 bits of `b` and `c`.
    fn madd_lo(self, acc: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `acc + high52(b * c)` (bits 52..104 of the product).
    fn madd_hi(self, acc: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// Bit `i` set when lane `i` of `a` equals lane `i` of `b`.
    fn eq(self, a: Self::V, b: Self::V) -> u8;
    /// Lane `i` from `yes` when bit `i` of `mask` is set, else from `no`.
    fn select(self, mask: u8, yes: Self::V, no: Self::V) -> Self::V;
    /// `out[k]` holds `rows[at[i]][k]` in lane `i`, for the first `M` words
    /// of each row. Panics when an `at[i]` is past the end of `rows`.
    fn gather_rows<const W: usize, const M: usize>(
        self,
        rows: &[[u64; W]],
        at: &[u32; 8],
    ) -> [Self::V; M];
}

/// The portable lanes: arrays, with the IFMA instructions' exact arithmetic.
#[derive(Clone, Copy, Debug, Default)]
pub struct Portable;

fn product(b: u64, c: u64) -> u128 {
    u128::from(b & MASK52) * u128::from(c & MASK52)
}

impl Lanes for Portable {
    type V = [u64; 8];

    #[inline(always)]
    fn splat(self, x: u64) -> [u64; 8] {
        [x; 8]
    }
    #[inline(always)]
    fn load(self, x: [u64; 8]) -> [u64; 8] {
        x
    }
    #[inline(always)]
    fn store(self, v: [u64; 8]) -> [u64; 8] {
        v
    }
    #[inline(always)]
    fn add(self, a: [u64; 8], b: [u64; 8]) -> [u64; 8] {
        std::array::from_fn(|i| a[i].wrapping_add(b[i]))
    }
    #[inline(always)]
    fn sub(self, a: [u64; 8], b: [u64; 8]) -> [u64; 8] {
        std::array::from_fn(|i| a[i].wrapping_sub(b[i]))
    }
    #[inline(always)]
    fn and(self, a: [u64; 8], b: [u64; 8]) -> [u64; 8] {
        std::array::from_fn(|i| a[i] & b[i])
    }
    #[inline(always)]
    fn or(self, a: [u64; 8], b: [u64; 8]) -> [u64; 8] {
        std::array::from_fn(|i| a[i] | b[i])
    }
    #[inline(always)]
    fn xor(self, a: [u64; 8], b: [u64; 8]) -> [u64; 8] {
        std::array::from_fn(|i| a[i] ^ b[i])
    }
    #[inline(always)]
    fn rotr<const N: i32>(self, a: [u64; 8]) -> [u64; 8] {
        a.map(|x| x.rotate_right(N as u32))
    }
    #[inline(always)]
    fn shr<const N: u32>(self, a: [u64; 8]) -> [u64; 8] {
        a.map(|x| x >> N)
    }
    #[inline(always)]
    fn shl<const N: u32>(self, a: [u64; 8]) -> [u64; 8] {
        a.map(|x| x << N)
    }
    #[inline(always)]
    fn madd_lo(self, acc: [u64; 8], b: [u64; 8], c: [u64; 8]) -> [u64; 8] {
        std::array::from_fn(|i| acc[i].wrapping_add(product(b[i], c[i]) as u64 & MASK52))
    }
    #[inline(always)]
    fn madd_hi(self, acc: [u64; 8], b: [u64; 8], c: [u64; 8]) -> [u64; 8] {
        std::array::from_fn(|i| acc[i].wrapping_add((product(b[i], c[i]) >> 52) as u64))
    }
    #[inline(always)]
    fn eq(self, a: [u64; 8], b: [u64; 8]) -> u8 {
        (0..8).fold(0, |m, i| m | (u8::from(a[i] == b[i]) << i))
    }
    #[inline(always)]
    fn select(self, mask: u8, yes: [u64; 8], no: [u64; 8]) -> [u64; 8] {
        std::array::from_fn(|i| if mask >> i & 1 == 1 { yes[i] } else { no[i] })
    }
    #[inline(always)]
    fn gather_rows<const W: usize, const M: usize>(
        self,
        rows: &[[u64; W]],
        at: &[u32; 8],
    ) -> [[u64; 8]; M] {
        const { assert!(M <= W) };
        std::array::from_fn(|k| std::array::from_fn(|i| rows[at[i] as usize][k]))
    }
}

#[cfg(target_arch = "x86_64")]
pub use ifma::Ifma;

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod ifma {
    //! Every intrinsic here needs AVX-512F (and IFMA for the two multiplies).
    //! An `Ifma` value exists only after CPUID reported both, which is what
    //! makes each `unsafe` call below sound.
    use super::Lanes;
    use std::arch::x86_64::*;

    /// Proof that this CPU has AVX-512F and AVX-512 IFMA.
    #[derive(Clone, Copy, Debug)]
    pub struct Ifma(());

    impl Ifma {
        pub fn detect() -> Option<Ifma> {
            let ok = std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512ifma");
            ok.then_some(Ifma(()))
        }
    }

    impl Lanes for Ifma {
        type V = __m512i;

        #[inline(always)]
        fn splat(self, x: u64) -> __m512i {
            unsafe { _mm512_set1_epi64(x as i64) }
        }
        #[inline(always)]
        fn load(self, x: [u64; 8]) -> __m512i {
            unsafe { _mm512_loadu_si512(x.as_ptr().cast()) }
        }
        #[inline(always)]
        fn store(self, v: __m512i) -> [u64; 8] {
            let mut out = [0u64; 8];
            unsafe { _mm512_storeu_si512(out.as_mut_ptr().cast(), v) };
            out
        }
        #[inline(always)]
        fn add(self, a: __m512i, b: __m512i) -> __m512i {
            unsafe { _mm512_add_epi64(a, b) }
        }
        #[inline(always)]
        fn sub(self, a: __m512i, b: __m512i) -> __m512i {
            unsafe { _mm512_sub_epi64(a, b) }
        }
        #[inline(always)]
        fn and(self, a: __m512i, b: __m512i) -> __m512i {
            unsafe { _mm512_and_si512(a, b) }
        }
        #[inline(always)]
        fn or(self, a: __m512i, b: __m512i) -> __m512i {
            unsafe { _mm512_or_si512(a, b) }
        }
        #[inline(always)]
        fn xor(self, a: __m512i, b: __m512i) -> __m512i {
            unsafe { _mm512_xor_si512(a, b) }
        }
        #[inline(always)]
        fn rotr<const N: i32>(self, a: __m512i) -> __m512i {
            unsafe { _mm512_ror_epi64::<N>(a) }
        }
        #[inline(always)]
        fn shr<const N: u32>(self, a: __m512i) -> __m512i {
            unsafe { _mm512_srli_epi64::<N>(a) }
        }
        #[inline(always)]
        fn shl<const N: u32>(self, a: __m512i) -> __m512i {
            unsafe { _mm512_slli_epi64::<N>(a) }
        }
        #[inline(always)]
        fn madd_lo(self, acc: __m512i, b: __m512i, c: __m512i) -> __m512i {
            unsafe { _mm512_madd52lo_epu64(acc, b, c) }
        }
        #[inline(always)]
        fn madd_hi(self, acc: __m512i, b: __m512i, c: __m512i) -> __m512i {
            unsafe { _mm512_madd52hi_epu64(acc, b, c) }
        }
        #[inline(always)]
        fn eq(self, a: __m512i, b: __m512i) -> u8 {
            unsafe { _mm512_cmpeq_epu64_mask(a, b) }
        }
        #[inline(always)]
        fn select(self, mask: u8, yes: __m512i, no: __m512i) -> __m512i {
            unsafe { _mm512_mask_blend_epi64(mask, no, yes) }
        }
        #[inline(always)]
        fn gather_rows<const W: usize, const M: usize>(
            self,
            rows: &[[u64; W]],
            at: &[u32; 8],
        ) -> [__m512i; M] {
            const { assert!(M <= W) };
            // The bound that makes every gathered address lie inside `rows`:
            // word k < M <= W of a row below rows.len().
            assert!(at.iter().all(|&a| (a as usize) < rows.len()));
            let offsets = at.map(|a| u64::from(a) * W as u64);
            let offsets = self.load(offsets);
            let base = rows.as_ptr().cast::<i64>();
            let mut out = [self.splat(0); M];
            // A loop, not `from_fn`: a closure would not inherit the
            // caller's target features.
            for (k, v) in out.iter_mut().enumerate() {
                *v = unsafe { _mm512_i64gather_epi64::<8>(offsets, base.add(k)) };
            }
            out
        }
    }
}
