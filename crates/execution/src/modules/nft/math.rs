//! The nft module's exact integer math: how a sale's price divides between
//! the royalty (through each paid collection's split), the protocol fee and
//! the seller. Every function returns `None` on overflow or on a plan that
//! would take more than the price.
//!
//! Rounding, decided once: the royalty rounds **up** (a creator is paid on
//! every sale with a positive price and a positive royalty), the fee rounds
//! **down**, the seller gets the rest — so `proceeds + royalty + fee == price`
//! exactly and, as long as `royalty_ppm + 100 * fee_bps <= 1e6`,
//! `ceil(p·r) + floor(p·f) <= p` (never more than the price). The royalty
//! divides between collections by their rates, then within each collection
//! by its split's shares, each rounded down; the dust of each division goes
//! to the first entry (the token's own collection; the split's first
//! recipient), so every base unit is assigned.

use crate::modules::kit::math::{mul_div_ceil, mul_div_floor};
use lakh_types::Address;
use lakh_types::modules::nft::{BPS, CollectionId, PPM, Plan, SplitShare};

/// One credit of a payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Payment {
    /// The collection whose split pays it.
    pub collection: CollectionId,
    pub recipient: Address,
    pub amount: u128,
}

/// How a price divides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payouts {
    pub royalty: u128,
    pub fee: u128,
    pub proceeds: u128,
    /// The royalty, per split recipient (sums to `royalty`).
    pub payments: Vec<Payment>,
}

/// Royalty of `price` at `royalty_ppm`: `ceil(price * royalty_ppm / 1e6)`.
pub fn royalty(price: u128, royalty_ppm: u64) -> Option<u128> {
    mul_div_ceil(price, royalty_ppm as u128, PPM)
}

/// Protocol fee of `price` at `fee_bps`: `floor(price * fee_bps / 10000)`.
pub fn fee(price: u128, fee_bps: u32) -> Option<u128> {
    mul_div_floor(price, fee_bps as u128, BPS)
}

/// Divides `amount` by `weights` (not all zero): each `floor(amount * w /
/// Σw)`, the dust added to the first. Sums to `amount` exactly.
pub fn divide(amount: u128, weights: &[u128]) -> Option<Vec<u128>> {
    let total = weights
        .iter()
        .try_fold(0u128, |acc, w| acc.checked_add(*w))?;
    if weights.is_empty() || total == 0 {
        return None;
    }
    let mut out = Vec::with_capacity(weights.len());
    let mut paid: u128 = 0;
    for w in weights {
        let part = mul_div_floor(amount, *w, total)?;
        paid = paid.checked_add(part)?;
        out.push(part);
    }
    // Each part is at most its exact share, so the parts sum to at most amount.
    out[0] = out[0].checked_add(amount.checked_sub(paid)?)?;
    Some(out)
}

/// Divides `amount` by a split: `(recipient, amount)` in split order.
pub fn split(amount: u128, split: &[SplitShare]) -> Option<Vec<(Address, u128)>> {
    let weights: Vec<u128> = split.iter().map(|s| s.share as u128).collect();
    let parts = divide(amount, &weights)?;
    Some(split.iter().map(|s| s.recipient).zip(parts).collect())
}

/// True when a plan's royalty and fee fit in the price:
/// `royalty_ppm + 100 * fee_bps <= 1e6`.
pub fn fits(royalty_ppm: u64, fee_bps: u32) -> bool {
    royalty_ppm as u128 + fee_bps as u128 * (PPM / BPS) <= PPM
}

/// Divides `price` under `plan`. `None` on overflow or when the plan does
/// not fit in the price.
pub fn payouts(plan: &Plan, price: u128) -> Option<Payouts> {
    let royalty_ppm = plan.royalty_ppm();
    if !fits(royalty_ppm, plan.fee_bps) {
        return None;
    }
    let royalty = royalty(price, royalty_ppm)?;
    let fee = fee(price, plan.fee_bps)?;
    let proceeds = price.checked_sub(royalty)?.checked_sub(fee)?;
    let mut payments = Vec::new();
    if royalty > 0 {
        let weights: Vec<u128> = plan.parts.iter().map(|p| p.rate_ppm as u128).collect();
        let by_part = divide(royalty, &weights)?;
        for (part, amount) in plan.parts.iter().zip(by_part) {
            for (recipient, amount) in split(amount, &part.split)? {
                payments.push(Payment {
                    collection: part.collection,
                    recipient,
                    amount,
                });
            }
        }
    }
    Some(Payouts {
        royalty,
        fee,
        proceeds,
        payments,
    })
}

/// Least acceptable next bid: the reserve without bids, else the highest
/// bid plus `ceil(highest * increment_bps / 10000)` (at least 1).
pub fn min_bid(reserve: u128, highest: u128, increment_bps: u128) -> Option<u128> {
    if highest == 0 {
        return Some(reserve);
    }
    let raise = mul_div_ceil(highest, increment_bps, BPS)?.max(1);
    highest.checked_add(raise)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use lakh_types::codec::BoundedVec;
    use lakh_types::modules::nft::{MAX_FEE_BPS, MAX_ROYALTY_BPS, PlanPart};
    use proptest::prelude::*;

    fn share(b: u8, share: u32) -> SplitShare {
        SplitShare {
            recipient: Address([b; 32]),
            share,
        }
    }

    fn plan(parts: Vec<(u32, Vec<SplitShare>)>, fee_bps: u32) -> Plan {
        Plan {
            parts: BoundedVec::new(
                parts
                    .into_iter()
                    .enumerate()
                    .map(|(i, (rate_ppm, s))| PlanPart {
                        collection: i as u64,
                        rate_ppm,
                        split: BoundedVec::new(s).unwrap(),
                    })
                    .collect(),
            )
            .unwrap(),
            fee_bps,
            fee_recipient: Address([99; 32]),
        }
    }

    #[test]
    fn tiny_prices_still_pay_the_royalty_and_round_the_fee_down() {
        let p = plan(vec![(100_000, vec![share(1, 1)])], 250);
        // 10% of 1 rounds up to 1: the seller gets nothing, the fee nothing.
        let out = payouts(&p, 1).unwrap();
        assert_eq!((out.royalty, out.fee, out.proceeds), (1, 0, 0));
        let out = payouts(&p, 100).unwrap();
        assert_eq!((out.royalty, out.fee, out.proceeds), (10, 2, 88));
        // A zero royalty pays nothing and leaves no payment entries.
        let free = plan(vec![(0, vec![share(1, 1)])], 0);
        let out = payouts(&free, 7).unwrap();
        assert_eq!((out.royalty, out.proceeds), (0, 7));
        assert!(out.payments.is_empty());
    }

    #[test]
    fn split_dust_goes_to_the_first_recipient() {
        let s = [share(1, 1), share(2, 1), share(3, 1)];
        let out = split(10, &s).unwrap();
        assert_eq!(out.iter().map(|x| x.1).collect::<Vec<_>>(), vec![4, 3, 3]);
        assert!(split(10, &[]).is_none());
    }

    #[test]
    fn plans_above_the_price_are_refused() {
        assert!(fits(900_000, 1_000));
        assert!(!fits(900_001, 1_000));
        let p = plan(vec![(950_000, vec![share(1, 1)])], 1_000);
        assert!(payouts(&p, 100).is_none());
    }

    #[test]
    fn bids_rise_by_the_increment() {
        assert_eq!(min_bid(50, 0, 500), Some(50));
        assert_eq!(min_bid(50, 100, 500), Some(105));
        assert_eq!(min_bid(1, 1, 500), Some(2));
        assert_eq!(min_bid(1, u128::MAX, 500), None);
    }

    fn arb_plan() -> impl Strategy<Value = Plan> {
        let part = (
            0u32..=MAX_ROYALTY_BPS * 100 / 4,
            prop::collection::vec(1u32..=1_000_000, 1..=8),
        );
        (prop::collection::vec(part, 1..=4), 0u32..=MAX_FEE_BPS).prop_map(|(parts, fee)| {
            plan(
                parts
                    .into_iter()
                    .map(|(rate, shares)| {
                        let s = shares
                            .into_iter()
                            .enumerate()
                            .map(|(i, w)| share(i as u8 + 1, w))
                            .collect();
                        (rate, s)
                    })
                    .collect(),
                fee,
            )
        })
    }

    proptest! {
        /// Every base unit of the price is assigned: seller + royalty + fee
        /// == price and Σ payments == royalty; the royalty is at least the
        /// exact rate (rounded up) and positive whenever price and rate are.
        #[test]
        fn value_is_conserved_exactly(p in arb_plan(), price in prop_oneof![0u128..1_000, any::<u128>()]) {
            let out = payouts(&p, price).unwrap();
            prop_assert_eq!(out.proceeds + out.royalty + out.fee, price);
            let paid: u128 = out.payments.iter().map(|x| x.amount).sum();
            prop_assert_eq!(paid, out.royalty);
            let exact = crate::modules::kit::math::mul_wide(price, p.royalty_ppm() as u128);
            let floor = exact / lakh_types::math::U256::from(PPM);
            prop_assert!(lakh_types::math::U256::from(out.royalty) >= floor);
            if price > 0 && p.royalty_ppm() > 0 {
                prop_assert!(out.royalty > 0);
            }
        }

        #[test]
        fn divide_sums_exactly(amount in any::<u128>(), weights in prop::collection::vec(1u128..u64::MAX as u128, 1..=9)) {
            let parts = divide(amount, &weights).unwrap();
            let mut sum: u128 = 0;
            for p in &parts { sum = sum.checked_add(*p).unwrap(); }
            prop_assert_eq!(sum, amount);
        }
    }
}
