//! Read-only queries: `pool_id`, `pool`, `quote`, `position`.
//!
//! Pools cannot be listed (state has no iteration); a wallet finds a pool by
//! its pair.

use super::math::withdrawal;
use super::route::{PriceError, Route};
use super::state::{Pair, Pool};
use crate::modules::kit::{QueryCtx, QueryError, params};
use lakh_types::{
    Address, AssetId,
    modules::dex::{
        MINIMUM_LIQUIDITY, Path,
        query::{HopAnswer, PoolAnswer, PoolIdAnswer, PositionAnswer, QuoteAnswer},
    },
};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PairParams {
    a: AssetId,
    b: AssetId,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuoteParams {
    path: Path,
    #[serde(with = "lakh_types::amount::option", default)]
    amount_in: Option<u128>,
    #[serde(with = "lakh_types::amount::option", default)]
    amount_out: Option<u128>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PositionParams {
    owner: Address,
    a: AssetId,
    b: AssetId,
}

/// Answers a read-only query.
pub fn query(method: &str, p: &Value, ctx: &QueryCtx<'_>) -> Result<Value, QueryError> {
    let answer = match method {
        "pool_id" => {
            let PairParams { a, b } = params(p)?;
            serde_json::to_value(pool_id(&pair(a, b)?, ctx)?)
        }
        "pool" => {
            let PairParams { a, b } = params(p)?;
            serde_json::to_value(pool(&pair(a, b)?, ctx)?)
        }
        "quote" => serde_json::to_value(quote(params(p)?, ctx)?),
        "position" => {
            let PositionParams { owner, a, b } = params(p)?;
            serde_json::to_value(position(&owner, &pair(a, b)?, ctx)?)
        }
        other => {
            return Err(QueryError::BadRequest(format!(
                "unknown method {other:?}; methods: pool_id, pool, quote, position"
            )));
        }
    };
    answer.map_err(|e| QueryError::Corrupt(e.to_string()))
}

fn pool_id(pair: &Pair, ctx: &QueryCtx<'_>) -> Result<PoolIdAnswer, QueryError> {
    Ok(PoolIdAnswer {
        pool_id: hex(&pair.id),
        asset_a: pair.a,
        asset_b: pair.b,
        custody: pair.custody,
        lp_asset: pair.lp_asset(),
        exists: ctx.object::<Pool>(&pair.key())?.is_some(),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn pair(a: AssetId, b: AssetId) -> Result<Pair, QueryError> {
    Pair::new(a, b).ok_or_else(|| {
        QueryError::BadRequest(format!("a pool needs two different assets, got {a} twice"))
    })
}

fn load(pair: &Pair, ctx: &QueryCtx<'_>) -> Result<Pool, QueryError> {
    ctx.object::<Pool>(&pair.key())?
        .ok_or_else(|| QueryError::NotFound(format!("no pool of assets {} and {}", pair.a, pair.b)))
}

/// Shares outstanding and the share asset's symbol.
fn shares(pair: &Pair, ctx: &QueryCtx<'_>) -> Result<(u128, String), QueryError> {
    let lp = pair.lp_asset();
    let info = ctx
        .asset(lp)?
        .ok_or_else(|| QueryError::Corrupt(format!("pool share asset {lp} is missing")))?;
    Ok((info.supply, info.symbol.to_string()))
}

fn pool(pair: &Pair, ctx: &QueryCtx<'_>) -> Result<PoolAnswer, QueryError> {
    let pool = load(pair, ctx)?;
    let (total_shares, lp_symbol) = shares(pair, ctx)?;
    let (cum_a, cum_b) = pool.accumulated(ctx.height);
    Ok(PoolAnswer {
        pool_id: hex(&pair.id),
        asset_a: pair.a,
        asset_b: pair.b,
        custody: pair.custody,
        reserve_a: pool.reserve_a,
        reserve_b: pool.reserve_b,
        custody_balance_a: ctx.balance(&pair.custody, pair.a)?,
        custody_balance_b: ctx.balance(&pair.custody, pair.b)?,
        lp_asset: pair.lp_asset(),
        lp_symbol,
        total_shares,
        locked_shares: if total_shares > 0 {
            MINIMUM_LIQUIDITY
        } else {
            0
        },
        last_height: pool.last_height,
        price_a_cumulative: pool.price_a_cumulative.to_hex(),
        price_b_cumulative: pool.price_b_cumulative.to_hex(),
        height: ctx.height,
        price_a_cumulative_now: cum_a.to_hex(),
        price_b_cumulative_now: cum_b.to_hex(),
    })
}

fn quote(q: QuoteParams, ctx: &QueryCtx<'_>) -> Result<QuoteAnswer, QueryError> {
    lakh_types::modules::dex::check_path(&q.path)
        .map_err(|e| QueryError::BadRequest(e.to_string()))?;
    let mut route = Route::load(
        &q.path,
        |pair| load(pair, ctx),
        |asset| QueryError::BadRequest(format!("asset {asset} twice in a row")),
    )?;
    let priced = match (q.amount_in, q.amount_out) {
        (Some(amount), None) if amount > 0 => route.price_exact_in(amount),
        (None, Some(amount)) if amount > 0 => route.price_exact_out(amount),
        _ => {
            return Err(QueryError::BadRequest(
                "give exactly one of amount_in and amount_out, positive".into(),
            ));
        }
    };
    priced.map_err(|e| match e {
        PriceError::Dex(e) => QueryError::BadRequest(e.to_string()),
        PriceError::Overflow => QueryError::BadRequest("arithmetic overflow".into()),
    })?;
    let hops = route
        .priced_hops()
        .map(|(pair, pool, asset_in, amount_in, asset_out, amount_out)| {
            let (reserve_in, reserve_out) = pool.reserves_for(pair, asset_in);
            HopAnswer {
                asset_in,
                asset_out,
                amount_in,
                amount_out,
                reserve_in,
                reserve_out,
            }
        })
        .collect();
    Ok(QuoteAnswer {
        amount_in: route.amount_in(),
        amount_out: route.amount_out(),
        path: q.path,
        hops,
        height: ctx.height,
    })
}

fn position(
    owner: &Address,
    pair: &Pair,
    ctx: &QueryCtx<'_>,
) -> Result<PositionAnswer, QueryError> {
    let pool = load(pair, ctx)?;
    let (total_shares, lp_symbol) = shares(pair, ctx)?;
    let shares = ctx.balance(owner, pair.lp_asset())?;
    let (amount_a, amount_b) = if total_shares == 0 {
        (0, 0)
    } else {
        withdrawal(shares, pool.reserve_a, pool.reserve_b, total_shares)
            .ok_or_else(|| QueryError::Corrupt("shares held exceed the supply".into()))?
    };
    Ok(PositionAnswer {
        owner: *owner,
        asset_a: pair.a,
        asset_b: pair.b,
        lp_asset: pair.lp_asset(),
        lp_symbol,
        shares,
        total_shares,
        amount_a,
        amount_b,
    })
}
