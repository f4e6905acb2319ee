//! Exact integer math shared by execution and the wallet. Every function
//! refuses overflow (`None`) instead of wrapping; products are formed in 256
//! bits ([`U256`], from `ruint`), so only the result must fit in a u128.

pub use ruint::aliases::U256;

/// The exact 256-bit product `a * b`.
pub fn mul_wide(a: u128, b: u128) -> U256 {
    U256::from(a) * U256::from(b)
}

/// `(a * b) / d` as (quotient, remainder), when `d` is not zero and the
/// quotient fits in u128.
fn mul_div_rem(a: u128, b: u128, d: u128) -> Option<(u128, u128)> {
    if d == 0 {
        return None;
    }
    if let Some(product) = a.checked_mul(b) {
        return Some((product / d, product % d));
    }
    let (q, r) = mul_wide(a, b).div_rem(U256::from(d));
    // The remainder is below `d`, so it fits whenever `d` does.
    Some((u128::try_from(q).ok()?, r.to::<u128>()))
}

/// floor(a * b / d); `None` if `d` is zero or the result does not fit in u128.
pub fn mul_div_floor(a: u128, b: u128, d: u128) -> Option<u128> {
    mul_div_rem(a, b, d).map(|(q, _)| q)
}

/// ceil(a * b / d), as [`mul_div_floor`].
pub fn mul_div_ceil(a: u128, b: u128, d: u128) -> Option<u128> {
    let (q, r) = mul_div_rem(a, b, d)?;
    if r == 0 { Some(q) } else { q.checked_add(1) }
}

/// floor(sqrt(a * b)), which always fits in u128.
pub fn sqrt_product(a: u128, b: u128) -> u128 {
    match a.checked_mul(b) {
        Some(product) => product.isqrt(),
        // The root of a product below 2^256 is below 2^128.
        None => mul_wide(a, b).root(2).to::<u128>(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edge_cases() {
        assert_eq!(
            mul_div_floor(u128::MAX, u128::MAX, u128::MAX),
            Some(u128::MAX)
        );
        assert_eq!(mul_div_floor(u128::MAX, 2, 1), None);
        assert_eq!(mul_div_floor(7, 3, 0), None);
        assert_eq!(mul_div_ceil(7, 3, 2), Some(11));
        assert_eq!(mul_div_floor(7, 3, 2), Some(10));
        assert_eq!(
            sqrt_product(10u128.pow(18), 4 * 10u128.pow(18)),
            2 * 10u128.pow(18)
        );
        assert_eq!(sqrt_product(u128::MAX, u128::MAX), u128::MAX);
        assert_eq!(sqrt_product(15, 1), 3);
        assert_eq!(sqrt_product(16, 1), 4);
        assert_eq!(mul_div_ceil(10, 1, 3), Some(4));
        assert_eq!(mul_div_ceil(u128::MAX, 6, 6), Some(u128::MAX));
        assert_eq!(mul_div_ceil(u128::MAX, 6, 5), None);
    }

    proptest! {
        #[test]
        fn matches_u128_math_when_it_fits(a in any::<u64>(), b in any::<u64>(), d in 1u128..u128::MAX) {
            let (a, b) = (a as u128, b as u128);
            prop_assert_eq!(mul_div_floor(a, b, d), Some(a * b / d));
            prop_assert_eq!(mul_div_ceil(a, b, d), Some((a * b).div_ceil(d)));
        }

        #[test]
        fn wide_division_is_exact(a in any::<u128>(), b in any::<u128>(), d in 1u128..=u128::MAX) {
            if let Some(q) = mul_div_floor(a, b, d) {
                // q*d <= a*b < (q+1)*d, compared in 256 bits.
                prop_assert!(mul_wide(q, d) <= mul_wide(a, b));
                if let Some(next) = q.checked_add(1) {
                    prop_assert!(mul_wide(next, d) > mul_wide(a, b));
                }
            } else {
                prop_assert!(mul_wide(a, b) / U256::from(d) > U256::from(u128::MAX));
            }
        }

        #[test]
        fn sqrt_is_floor(a in any::<u128>(), b in any::<u128>()) {
            let r = sqrt_product(a, b);
            prop_assert!(mul_wide(r, r) <= mul_wide(a, b));
            if r < u128::MAX {
                prop_assert!(mul_wide(r + 1, r + 1) > mul_wide(a, b));
            }
        }
    }
}
