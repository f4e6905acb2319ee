//! Read-only queries: `market`, `markets`, `position`. Markets are accrued
//! virtually to the query's height; amounts are decimal strings.

use super::health::{Holding, Valuation};
use super::state::{
    LOCKED_SHARES, Market, Positions, Registry, custody, market_key, positions_key, registry_key,
};
use crate::modules::kit::{self as query, QueryCtx, QueryError};
use crate::modules::oracle;
use lakh_types::{Address, AssetId};
use serde_json::{Value, json};

fn s(v: u128) -> Value {
    Value::String(v.to_string())
}

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

fn market_json(ctx: &QueryCtx<'_>, m: &Market) -> Result<Value, QueryError> {
    let utilization = m.utilization().ok_or_else(|| overflow("utilization"))?;
    let borrow_rate = m.borrow_rate().ok_or_else(|| overflow("borrow rate"))?;
    let supply_rate = super::math::supply_rate(&m.params, utilization, borrow_rate)
        .ok_or_else(|| overflow("supply rate"))?;
    let custody = custody(m.asset);
    Ok(json!({
        "asset": m.asset,
        "decimals": m.decimals,
        "height": ctx.height,
        "params": m.params,
        "cash": s(m.cash),
        "borrows": s(m.borrows),
        "reserves": s(m.reserves),
        "supplied": s(m.underlying().ok_or_else(|| overflow("supplied"))?),
        "total_shares": s(m.shares),
        "locked_shares": s(if m.shares == 0 { 0 } else { LOCKED_SHARES }),
        "exchange_rate": s(m.exchange_rate().ok_or_else(|| overflow("exchange rate"))?),
        "utilization": s(utilization),
        "borrow_rate_per_block": s(borrow_rate),
        "supply_rate_per_block": s(supply_rate),
        "borrow_index": s(m.borrow_index),
        "custody": custody,
        "custody_balance": s(ctx.balance(&custody, m.asset)?),
    }))
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
    match method {
        "market" => {
            let AssetParams { asset } = query::params(params)?;
            market_json(ctx, &market(ctx, asset)?)
        }
        "markets" => {
            let empty = json!({});
            let NoParams {} = query::params(if params.is_null() { &empty } else { params })?;
            let registry: Registry = ctx.object(&registry_key())?.unwrap_or_default();
            let markets = registry
                .assets
                .iter()
                .map(|a| market_json(ctx, &market(ctx, *a)?))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(json!({ "height": ctx.height, "markets": markets }))
        }
        "position" => {
            let AccountParams { account } = query::params(params)?;
            position(ctx, &account)
        }
        other => Err(QueryError::BadRequest(format!(
            "unknown lend method {other:?}; methods: market, markets, position"
        ))),
    }
}

fn position(ctx: &QueryCtx<'_>, account: &Address) -> Result<Value, QueryError> {
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
        let mut row = json!({
            "asset": p.asset,
            "shares": s(p.shares),
            "supplied": s(holding.supplied),
            "principal": s(p.principal),
            "index": s(p.index),
            "debt": s(holding.debt),
            "collateral_factor": s(holding.collateral_factor),
        });
        match oracle::query_price(ctx, p.asset)? {
            Ok(price) => {
                row["price"] = s(price.price);
                let mut own = Valuation::default();
                own.add(&holding, price.price)
                    .ok_or_else(|| overflow("value"))?;
                row["supplied_value"] = s(own.supplied);
                row["collateral_value"] = s(own.collateral);
                row["debt_value"] = s(own.debt);
                valuation
                    .add(&holding, price.price)
                    .ok_or_else(|| overflow("value"))?;
            }
            Err(e) => {
                row["price"] = Value::Null;
                row["price_error"] = json!(e.to_string());
                if holding.needs_price() && price_error.is_none() {
                    price_error = Some(e.to_string());
                }
            }
        }
        rows.push(row);
    }
    let mut out = json!({
        "account": account,
        "height": ctx.height,
        "markets": positions.assets().collect::<Vec<_>>(),
        "positions": rows,
    });
    match price_error {
        Some(e) => {
            for field in [
                "supplied_value",
                "collateral_value",
                "debt_value",
                "borrow_capacity_left",
                "health_factor",
                "healthy",
            ] {
                out[field] = Value::Null;
            }
            out["price_error"] = json!(e);
        }
        None => {
            out["supplied_value"] = s(valuation.supplied);
            out["collateral_value"] = s(valuation.collateral);
            out["debt_value"] = s(valuation.debt);
            out["borrow_capacity_left"] = s(valuation.capacity_left());
            out["health_factor"] = valuation.health_factor().map_or(Value::Null, s);
            out["healthy"] = json!(valuation.is_healthy());
        }
    }
    Ok(out)
}
