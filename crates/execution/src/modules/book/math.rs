//! The order book's exact integer math. Prices are quote units per lot, so
//! a fill of `lots` at `price` is worth exactly `price × lots` quote units.
//! Fees round up (in the protocol's favour). A maker's fee is charged on the
//! cumulative notional of its order, so however an order is cut into fills
//! it pays `ceil(total × bps / 10_000)` in all, never more than it locked.
//!
//! Every function returns `None` on overflow.

use super::state::{Market, Order};
use crate::modules::kit::math::mul_div_ceil;
use lakh_types::modules::book::{BPS, Side};

/// Fee of `bps` on `quote` units, rounded up.
pub fn fee(quote: u128, bps: u16) -> Option<u128> {
    mul_div_ceil(quote, bps as u128, BPS)
}

/// Quote units per lot of a price in ticks.
pub fn price_quote(ticks: u64, tick_size: u128) -> Option<u128> {
    (ticks as u128).checked_mul(tick_size)
}

/// Quote value of `lots` at `price` quote units per lot.
pub fn notional(price: u128, lots: u64) -> Option<u128> {
    price.checked_mul(lots as u128)
}

/// Base units in `lots`.
pub fn base_units(lots: u64, lot_size: u128) -> Option<u128> {
    (lots as u128).checked_mul(lot_size)
}

/// The maker fee owed by an order at `price` once `filled` of its lots have
/// traded: charged on the cumulative notional so partial fills never round
/// up more than once in total.
pub fn maker_fee_to(price: u128, filled: u64, bps: u16) -> Option<u128> {
    fee(notional(price, filled)?, bps)
}

/// The maker fee due on a fill of `lots` of `order` (before the fill).
pub fn maker_fee_for_fill(market: &Market, order: &Order, lots: u64) -> Option<u128> {
    let price = price_quote(order.price_ticks, market.tick_size)?;
    let before = order.original_lots.checked_sub(order.remaining_lots)?;
    let after = before.checked_add(lots)?;
    maker_fee_to(price, after, market.maker_fee_bps)?.checked_sub(maker_fee_to(
        price,
        before,
        market.maker_fee_bps,
    )?)
}

/// Funds a resting order holds in custody: for a sell its open base, for a
/// buy its open notional plus the maker fee it may still owe.
pub fn locked(market: &Market, side: Side, order: &Order) -> Option<u128> {
    match side {
        Side::Sell => base_units(order.remaining_lots, market.lot_size),
        Side::Buy => {
            let price = price_quote(order.price_ticks, market.tick_size)?;
            let filled = order.original_lots.checked_sub(order.remaining_lots)?;
            let fee_left = maker_fee_to(price, order.original_lots, market.maker_fee_bps)?
                .checked_sub(maker_fee_to(price, filled, market.maker_fee_bps)?)?;
            notional(price, order.remaining_lots)?.checked_add(fee_left)
        }
    }
}

/// Whether an incoming order on `side` with limit `limit` (ticks; `None` for
/// a market order) trades against a resting order at `resting` ticks.
pub fn crosses(side: Side, limit: Option<u64>, resting: u64) -> bool {
    match (side, limit) {
        (_, None) => true,
        (Side::Buy, Some(l)) => resting <= l,
        (Side::Sell, Some(l)) => resting >= l,
    }
}

/// Whether `a` has strictly better priority by price than `b` on `side`.
pub fn better(side: Side, a: u64, b: u64) -> bool {
    match side {
        Side::Buy => a > b,
        Side::Sell => a < b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakh_types::AssetId;
    use proptest::prelude::*;

    fn market(tick: u128, lot: u128, maker: u16) -> Market {
        Market {
            base: AssetId(1),
            quote: AssetId(2),
            tick_size: tick,
            lot_size: lot,
            maker_fee_bps: maker,
            taker_fee_bps: 0,
            next_seq: 1,
            fees: 0,
            created_height: 0,
        }
    }

    #[test]
    fn fees_round_up() {
        assert_eq!(fee(0, 30), Some(0));
        assert_eq!(fee(1, 1), Some(1));
        assert_eq!(fee(10_000, 30), Some(30));
        assert_eq!(fee(10_001, 30), Some(31));
        assert_eq!(fee(u128::MAX, 1_000), Some(u128::MAX / 10 + 1));
        assert_eq!(notional(u128::MAX, 2), None);
        assert_eq!(price_quote(u64::MAX, u128::MAX), None);
    }

    #[test]
    fn buy_lock_covers_price_and_fee() {
        let m = market(5, 100, 25);
        let order = Order {
            seq: 1,
            owner: 0,
            price_ticks: 3, // 15 quote per lot
            remaining_lots: 7,
            original_lots: 7,
        };
        // 105 notional + ceil(105 × 25 / 10_000) = 1.
        assert_eq!(locked(&m, Side::Buy, &order), Some(106));
        assert_eq!(locked(&m, Side::Sell, &order), Some(700));
        let half = Order {
            remaining_lots: 3,
            ..order
        };
        assert_eq!(maker_fee_for_fill(&m, &order, 4), Some(1));
        assert_eq!(maker_fee_for_fill(&m, &half, 3), Some(0));
        assert_eq!(locked(&m, Side::Buy, &half), Some(45));
    }

    proptest! {
        /// However an order is cut into fills, the maker fees sum to the fee
        /// on its total and a buy's lock pays exactly notional plus fees.
        #[test]
        fn maker_fees_over_fills_sum_to_the_total_fee(
            ticks in 1u64..1_000_000,
            tick in 1u128..1_000_000,
            bps in 0u16..=1_000,
            cuts in prop::collection::vec(1u64..50, 1..20),
        ) {
            let m = market(tick, 1, bps);
            let total: u64 = cuts.iter().sum();
            let mut order = Order { seq: 1, owner: 0, price_ticks: ticks, remaining_lots: total, original_lots: total };
            let start = locked(&m, Side::Buy, &order).unwrap();
            let price = price_quote(ticks, tick).unwrap();
            let mut paid = 0u128;
            for k in cuts {
                let f = maker_fee_for_fill(&m, &order, k).unwrap();
                paid += notional(price, k).unwrap() + f;
                order.remaining_lots -= k;
                prop_assert_eq!(start - paid, locked(&m, Side::Buy, &order).unwrap());
            }
            prop_assert_eq!(paid, start);
            prop_assert_eq!(
                paid - notional(price, total).unwrap(),
                fee(notional(price, total).unwrap(), bps).unwrap()
            );
        }
    }
}
