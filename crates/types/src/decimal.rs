//! Amounts as people write them: `1.5` of an asset with 18 decimals is
//! `1500000000000000000` base units. [`parse_units`] and [`format_units`] are
//! the one place this conversion happens; parsing never rounds.

use crate::limits::MAX_DECIMALS;

/// Longest amount text accepted (a u128 has 39 digits; the rest is room for a
/// point and trailing zeros).
pub const MAX_AMOUNT_CHARS: usize = 80;

/// Why an amount's text was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Not digits with at most one decimal point.
    #[error("malformed amount {text:?}: {why}")]
    Malformed {
        /// The text given (cut to [`MAX_AMOUNT_CHARS`]).
        text: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// More decimal places than the asset has: the amount would need rounding.
    #[error("amount {text} has {given} decimal places but the asset has {allowed}; no rounding")]
    TooManyDecimals {
        /// The text given.
        text: String,
        /// Decimal places written (trailing zeros excluded).
        given: usize,
        /// The asset's decimals.
        allowed: u8,
    },
    /// The amount in base units does not fit in a u128.
    #[error("amount {text} is more base units than fit in 128 bits")]
    Overflow {
        /// The text given.
        text: String,
    },
    /// The asset declares more decimals than any asset may.
    #[error("asset decimals {0} exceed the limit {MAX_DECIMALS}")]
    BadDecimals(u8),
}

impl AmountError {
    /// A stable machine-readable code for the reason.
    pub fn code(&self) -> &'static str {
        match self {
            AmountError::Malformed { .. } => "amount_malformed",
            AmountError::TooManyDecimals { .. } => "amount_too_precise",
            AmountError::Overflow { .. } => "amount_overflow",
            AmountError::BadDecimals(_) => "amount_bad_decimals",
        }
    }
}

/// Base units of `text` (`"12"`, `"1.5"`, `".5"`, `"3."`) for an asset with
/// `decimals` decimal places. Refuses signs, exponents, separators, more
/// significant decimal places than `decimals`, and overflow of u128.
pub fn parse_units(text: &str, decimals: u8) -> Result<u128, AmountError> {
    if decimals > MAX_DECIMALS {
        return Err(AmountError::BadDecimals(decimals));
    }
    let malformed = |why| AmountError::Malformed {
        text: text.chars().take(MAX_AMOUNT_CHARS).collect(),
        why,
    };
    if text.len() > MAX_AMOUNT_CHARS {
        return Err(malformed("too long"));
    }
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if int.is_empty() && frac.is_empty() {
        return Err(malformed("no digits"));
    }
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(malformed("only digits and one decimal point are allowed"));
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > usize::from(decimals) {
        return Err(AmountError::TooManyDecimals {
            text: text.to_string(),
            given: frac.len(),
            allowed: decimals,
        });
    }
    let overflow = || AmountError::Overflow {
        text: text.to_string(),
    };
    let padding = usize::from(decimals) - frac.len();
    let digits = int.bytes().chain(frac.bytes());
    let mut units: u128 = 0;
    for d in digits.map(|b| u128::from(b - b'0')) {
        units = units
            .checked_mul(10)
            .and_then(|u| u.checked_add(d))
            .ok_or_else(overflow)?;
    }
    units
        .checked_mul(10u128.pow(padding as u32))
        .ok_or_else(overflow)
}

/// `units` base units written with `decimals` decimal places, trailing zeros
/// of the fraction dropped (`1500000` with 6 decimals is `"1.5"`).
pub fn format_units(units: u128, decimals: u8) -> String {
    let digits = units.to_string();
    let decimals = usize::from(decimals);
    if decimals == 0 {
        return digits;
    }
    let padded = format!("{digits:0>width$}", width = decimals + 1);
    let (int, frac) = padded.split_at(padded.len() - decimals);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        assert_eq!(parse_units("1.5", 18), Ok(1_500_000_000_000_000_000));
        assert_eq!(parse_units("0.000001", 6), Ok(1));
        assert_eq!(parse_units(".5", 1), Ok(5));
        assert_eq!(parse_units("3.", 2), Ok(300));
        assert_eq!(parse_units("7", 0), Ok(7));
        assert_eq!(
            parse_units("1.50", 1),
            Ok(15),
            "trailing zeros round nothing"
        );
        assert_eq!(format_units(1_500_000, 6), "1.5");
        assert_eq!(format_units(1, 6), "0.000001");
        assert_eq!(format_units(0, 9), "0");
        assert_eq!(format_units(42, 0), "42");
    }

    #[test]
    fn refusals_have_codes() {
        for bad in ["", ".", "1.2.3", "-1", "+1", "1e5", "1,000", " 1", "0x10"] {
            let e = parse_units(bad, 6).unwrap_err();
            assert_eq!(e.code(), "amount_malformed", "{bad:?}: {e}");
        }
        let e = parse_units("0.1234567", 6).unwrap_err();
        assert_eq!(e.code(), "amount_too_precise");
        assert!(e.to_string().contains("7 decimal places"), "{e}");
        assert_eq!(
            parse_units("1", 31).unwrap_err().code(),
            "amount_bad_decimals"
        );
        let huge = "9".repeat(MAX_AMOUNT_CHARS + 1);
        assert_eq!(
            parse_units(&huge, 0).unwrap_err().code(),
            "amount_malformed"
        );
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(units: u128, decimals in 0..=MAX_DECIMALS) {
            let text = format_units(units, decimals);
            prop_assert_eq!(parse_units(&text, decimals), Ok(units));
        }

        #[test]
        fn a_digit_past_the_decimals_is_refused(
            units: u128,
            decimals in 0..=MAX_DECIMALS,
            extra in 1u8..=9,
        ) {
            let text = format_units(units, decimals);
            let sep = if text.contains('.') { "" } else { "." };
            let zeros = "0".repeat(usize::from(decimals) - text.split_once('.').map_or(0, |(_, f)| f.len()));
            let longer = format!("{text}{sep}{zeros}{extra}");
            let e = parse_units(&longer, decimals).unwrap_err();
            prop_assert_eq!(e.code(), "amount_too_precise", "{}", longer);
        }

        #[test]
        fn past_u128_is_refused(excess in 1u128..=u128::MAX / 2, decimals in 1..=MAX_DECIMALS) {
            // u128::MAX + excess, written in full as an integer: always too big.
            let big = ruint::aliases::U256::from(u128::MAX) + ruint::aliases::U256::from(excess);
            let text = big.to_string();
            prop_assert_eq!(parse_units(&text, 0).unwrap_err().code(), "amount_overflow");
            // Any whole amount past u128::MAX / 10^decimals overflows once scaled.
            let whole = u128::MAX / 10u128.pow(u32::from(decimals)) + 1;
            prop_assert_eq!(
                parse_units(&whole.to_string(), decimals).unwrap_err().code(),
                "amount_overflow"
            );
        }
    }
}
