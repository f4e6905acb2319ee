//! Read-only queries: `market`, `markets`, `position`. Markets are accrued
//! virtually to the query's height; amounts are decimal strings.

use super::health::{Holding, Valuation};
use super::state::{
    LOCKED_SHARES, Market, Positions, Registry, custody, market_key, positions_key, registry_key,
};
use crate::modules::kit::{self as query, QueryCtx, QueryError};
use crate::modules::oracle;
use lakh_types::{
    Address, AssetId,
    modules::lend::query::{MarketAnswer, MarketsAnswer, PositionAnswer, PositionRow},
};
use serde_json::{Value, json};

fn overflow(what: &str) -> QueryError {
    QueryError::Corrupt(format!("arithmetic overflow computing {what}"))
}

/// `asset`'s market accrued to the query's height.
fn market(ctx: &QueryCtx<'_>, asset: AssetId) -> Result<Market, QueryError> {
    let mut market: Market = ctx
        .object(&market_key(asset))?
        .ok_or_else(|| QueryError::NotFound(format!("asset {asset} has no lending market")))?;
    market
        .accrue(ctx.height)
        .ok_or_else(|| overflow("interest"))?;
    Ok(market)
}

fn market_answer(ctx: &QueryCtx<'_>, m: &Market) -> Result<MarketAnswer, QueryError> {
    let utilization = m.utilization().ok_or_else(|| overflow("utilization"))?;
    let borrow_rate = m.borrow_rate().ok_or_else(|| overflow("borrow rate"))?;
    let supply_rate = super::math::supply_rate(&m.params, utilization, borrow_rate)
        .ok_or_else(|| overflow("supply rate"))?;
    let custody = custody(m.asset);
    Ok(MarketAnswer {
        asset: m.asset,
        decimals: m.decimals,
        height: ctx.height,
        params: m.params.clone(),
        cash: m.cash,
        borrows: m.borrows,
        reserves: m.reserves,
        supplied: m.underlying().ok_or_else(|| overflow("supplied"))?,
        total_shares: m.shares,
        locked_shares: if m.shares == 0 { 0 } else { LOCKED_SHARES },
        exchange_rate: m.exchange_rate().ok_or_else(|| overflow("exchange rate"))?,
        utilization,
        borrow_rate_per_block: borrow_rate,
        supply_rate_per_block: supply_rate,
        borrow_index: m.borrow_index,
        custody,
        custody_balance: ctx.balance(&custody, m.asset)?,
    })
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AssetParams {
    asset: AssetId,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountParams {
    account: Address,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

/// Answers a read-only query.
///
/// - `market {asset}`: parameters, totals, exchange rate, utilization, rates.
/// - `markets {}`: every market, as `market` gives it.
/// - `position {account}`: the account's supplies and borrows, their values,
///   health factor and borrowing capacity, and `markets`, the list a
///   withdraw, borrow or liquidation of this account must declare.
pub fn query(method: &str, params: &Value, ctx: &QueryCtx<'_>) -> Result<Value, QueryError> {
    let answer = match method {
        "market" => {
            let AssetParams { asset } = query::params(params)?;
            serde_json::to_value(market_answer(ctx, &market(ctx, asset)?)?)
        }
        "markets" => {
            let empty = json!({});
            let NoParams {} = query::params(if params.is_null() { &empty } else { params })?;
            let registry: Registry = ctx.object(&registry_key())?.unwrap_or_default();
            let markets = registry
                .assets
                .iter()
                .map(|a| market_answer(ctx, &market(ctx, *a)?))
                .collect::<Result<Vec<_>, _>>()?;
            serde_json::to_value(MarketsAnswer {
                height: ctx.height,
                markets,
            })
        }
        "position" => {
            let AccountParams { account } = query::params(params)?;
            serde_json::to_value(position(ctx, &account)?)
        }
        other => {
            return Err(QueryError::BadRequest(format!(
                "unknown lend method {other:?}; methods: market, markets, position"
            )));
        }
    };
    answer.map_err(|e| QueryError::Corrupt(e.to_string()))
}

fn position(ctx: &QueryCtx<'_>, account: &Address) -> Result<PositionAnswer, QueryError> {
    let positions: Positions = ctx.object(&positions_key(account))?.unwrap_or_default();
    let mut rows = Vec::new();
    let mut valuation = Valuation::default();
    let mut price_error: Option<String> = None;
    for p in positions.list.iter() {
        let m = market(ctx, p.asset)?;
        let holding = Holding {
            asset: p.asset,
            decimals: m.decimals,
            collateral_factor: m.params.collateral_factor,
            supplied: m.claim(p.shares).ok_or_else(|| overflow("claim"))?,
            debt: m.debt(p).ok_or_else(|| overflow("debt"))?,
        };
        let mut row = PositionRow {
            asset: p.asset,
            shares: p.shares,
            supplied: holding.supplied,
            principal: p.principal,
            index: p.index,
            debt: holding.debt,
            collateral_factor: holding.collateral_factor,
            price: None,
            price_error: None,
            supplied_value: None,
            collateral_value: None,
            debt_value: None,
        };
        match oracle::query_price(ctx, p.asset)? {
            Ok(price) => {
                row.price = Some(price.price);
                let mut own = Valuation::default();
                own.add(&holding, price.price)
                    .ok_or_else(|| overflow("value"))?;
                row.supplied_value = Some(own.supplied);
                row.collateral_value = Some(own.collateral);
                row.debt_value = Some(own.debt);
                valuation
                    .add(&holding, price.price)
                    .ok_or_else(|| overflow("value"))?;
            }
            Err(e) => {
                if holding.needs_price() && price_error.is_none() {
                    price_error = Some(e.to_string());
                }
                row.price_error = Some(e.to_string());
            }
        }
        rows.push(row);
    }
    let priced = price_error.is_none();
    Ok(PositionAnswer {
        account: *account,
        height: ctx.height,
        markets: positions.assets().collect(),
        positions: rows,
        supplied_value: priced.then_some(valuation.supplied),
        collateral_value: priced.then_some(valuation.collateral),
        debt_value: priced.then_some(valuation.debt),
        borrow_capacity_left: priced.then(|| valuation.capacity_left()),
        health_factor: if priced {
            valuation.health_factor()
        } else {
            None
        },
        healthy: priced.then(|| valuation.is_healthy()),
        price_error,
    })
}
