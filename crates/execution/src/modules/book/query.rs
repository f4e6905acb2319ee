//! Read-only queries of the order book: `market`, `book`, `order`,
//! `claimable` and `orders`. Amounts are decimal strings.

use super::math::{self, base_units, price_quote};
use super::state::{Market, Order, SideState, custody, market_key, order_id, side_key};
use crate::modules::kit::{QueryCtx, QueryError, params};
use lakh_types::{
    Address,
    modules::book::{
        MAX_ORDERS_PER_SIDE, Side,
        query::{
            BookAnswer, ClaimableAnswer, Level, MarketAnswer, OrderAnswer, OrderInfo, OrdersAnswer,
        },
    },
};
use serde::Deserialize;
use serde_json::Value;

/// Levels per side `book` returns unless asked otherwise.
pub const DEFAULT_DEPTH: usize = 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MarketParams {
    market: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BookParams {
    market: u32,
    #[serde(default)]
    depth: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderParams {
    market: u32,
    order: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OwnerParams {
    market: u32,
    owner: Address,
}

const METHODS: &str = "market, book, order, claimable, orders";

/// Answers a read-only query.
pub fn query(method: &str, p: &Value, ctx: &QueryCtx<'_>) -> Result<Value, QueryError> {
    let answer = match method {
        "market" => {
            let p: MarketParams = params(p)?;
            serde_json::to_value(market_info(ctx, p.market)?)
        }
        "book" => serde_json::to_value(book(ctx, params(p)?)?),
        "order" => serde_json::to_value(order(ctx, params(p)?)?),
        "claimable" => serde_json::to_value(claimable(ctx, params(p)?)?),
        "orders" => serde_json::to_value(orders(ctx, params(p)?)?),
        other => {
            return Err(QueryError::BadRequest(format!(
                "unknown method {other:?}; methods: {METHODS}"
            )));
        }
    };
    answer.map_err(|e| QueryError::Corrupt(e.to_string()))
}

fn book(ctx: &QueryCtx<'_>, p: BookParams) -> Result<BookAnswer, QueryError> {
    let depth = p
        .depth
        .unwrap_or(DEFAULT_DEPTH)
        .clamp(1, MAX_ORDERS_PER_SIDE);
    let m = market(ctx, p.market)?;
    Ok(BookAnswer {
        market: p.market,
        bids: levels(&m, &side_state(ctx, p.market, Side::Buy)?, depth)?,
        asks: levels(&m, &side_state(ctx, p.market, Side::Sell)?, depth)?,
    })
}

fn order(ctx: &QueryCtx<'_>, p: OrderParams) -> Result<OrderAnswer, QueryError> {
    let m = market(ctx, p.market)?;
    let side = Side::of_order(p.order);
    let s = side_state(ctx, p.market, side)?;
    let seq = p.order >> 1;
    let Some((position, o)) = s.orders.iter().enumerate().find(|(_, o)| o.seq == seq) else {
        return Err(QueryError::NotFound(format!(
            "order {} is not resting in market {} (filled, cancelled or never placed)",
            p.order, p.market
        )));
    };
    Ok(OrderAnswer {
        order: order_info(&m, &s, side, o)?,
        position: position as u64,
    })
}

fn claimable(ctx: &QueryCtx<'_>, p: OwnerParams) -> Result<ClaimableAnswer, QueryError> {
    market(ctx, p.market)?;
    let (mut base, mut quote, mut open) = (0u128, 0u128, 0u64);
    for side in [Side::Buy, Side::Sell] {
        let s = side_state(ctx, p.market, side)?;
        if let Some(e) = s.owner_index(&p.owner).map(|i| &s.owners[i]) {
            base = base.checked_add(e.base).ok_or_else(corrupt_sum)?;
            quote = quote.checked_add(e.quote).ok_or_else(corrupt_sum)?;
            open += e.open as u64;
        }
    }
    Ok(ClaimableAnswer {
        market: p.market,
        owner: p.owner,
        base,
        quote,
        open_orders: open,
    })
}

fn orders(ctx: &QueryCtx<'_>, p: OwnerParams) -> Result<OrdersAnswer, QueryError> {
    let m = market(ctx, p.market)?;
    let mut orders = Vec::new();
    for side in [Side::Buy, Side::Sell] {
        let s = side_state(ctx, p.market, side)?;
        let Some(ix) = s.owner_index(&p.owner) else {
            continue;
        };
        for o in s.orders.iter().filter(|o| o.owner as usize == ix) {
            orders.push(order_info(&m, &s, side, o)?);
        }
    }
    Ok(OrdersAnswer {
        market: p.market,
        owner: p.owner,
        orders,
    })
}

fn corrupt_sum() -> QueryError {
    QueryError::Corrupt("claimable balances overflow".into())
}

fn overflow() -> QueryError {
    QueryError::Corrupt("order values overflow".into())
}

fn market(ctx: &QueryCtx<'_>, id: u32) -> Result<Market, QueryError> {
    ctx.object::<Market>(&market_key(id))?
        .ok_or_else(|| QueryError::NotFound(format!("no market {id}")))
}

fn side_state(ctx: &QueryCtx<'_>, id: u32, side: Side) -> Result<SideState, QueryError> {
    Ok(ctx
        .object::<SideState>(&side_key(id, side))?
        .unwrap_or_default())
}

fn market_info(ctx: &QueryCtx<'_>, id: u32) -> Result<MarketAnswer, QueryError> {
    let m = market(ctx, id)?;
    let vault = custody(id);
    let bids = side_state(ctx, id, Side::Buy)?;
    let asks = side_state(ctx, id, Side::Sell)?;
    let best = |s: &SideState| {
        s.orders
            .first()
            .map(|o| price_quote(o.price_ticks, m.tick_size).ok_or_else(overflow))
            .transpose()
    };
    Ok(MarketAnswer {
        market: id,
        base: m.base,
        quote: m.quote,
        tick_size: m.tick_size,
        lot_size: m.lot_size,
        maker_fee_bps: m.maker_fee_bps,
        taker_fee_bps: m.taker_fee_bps,
        fees_accrued: m.fees,
        next_order_seq: m.next_seq,
        created_height: m.created_height,
        custody: vault,
        custody_base: ctx.balance(&vault, m.base)?,
        custody_quote: ctx.balance(&vault, m.quote)?,
        best_bid: best(&bids)?,
        bid_orders: bids.orders.len() as u64,
        best_ask: best(&asks)?,
        ask_orders: asks.orders.len() as u64,
    })
}

/// Orders aggregated by price, best first, at most `depth` levels.
fn levels(m: &Market, s: &SideState, depth: usize) -> Result<Vec<Level>, QueryError> {
    let mut out: Vec<(u64, u128, u64)> = Vec::new();
    for o in s.orders.iter() {
        if let Some((price, lots, count)) = out.last_mut()
            && *price == o.price_ticks
        {
            *lots = lots
                .checked_add(o.remaining_lots as u128)
                .ok_or_else(overflow)?;
            *count += 1;
            continue;
        }
        if out.len() == depth {
            break;
        }
        out.push((o.price_ticks, o.remaining_lots as u128, 1));
    }
    out.into_iter()
        .map(|(ticks, lots, orders)| {
            Ok(Level {
                price: price_quote(ticks, m.tick_size).ok_or_else(overflow)?,
                quantity: lots.checked_mul(m.lot_size).ok_or_else(overflow)?,
                orders,
            })
        })
        .collect()
}

fn order_info(m: &Market, s: &SideState, side: Side, o: &Order) -> Result<OrderInfo, QueryError> {
    let owner = s
        .owners
        .get(o.owner as usize)
        .ok_or_else(|| QueryError::Corrupt("order names a missing owner entry".into()))?;
    let filled = o
        .original_lots
        .checked_sub(o.remaining_lots)
        .ok_or_else(overflow)?;
    Ok(OrderInfo {
        order: order_id(o.seq, side),
        side,
        owner: owner.owner,
        price: price_quote(o.price_ticks, m.tick_size).ok_or_else(overflow)?,
        quantity: base_units(o.remaining_lots, m.lot_size).ok_or_else(overflow)?,
        original_quantity: base_units(o.original_lots, m.lot_size).ok_or_else(overflow)?,
        filled_quantity: base_units(filled, m.lot_size).ok_or_else(overflow)?,
        locked: math::locked(m, side, o).ok_or_else(overflow)?,
    })
}
