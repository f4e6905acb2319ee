//! Read-only queries of the bridge.
//!
//! Methods (params as a JSON object):
//! - `status {}`: the L1, the bridge contract, the commitment as of the
//!   state read and every bridged token with its wrapped asset and supply.
//! - `wrapped {token}`: the wrapped asset of an L1 token (hex address).
//! - `withdrawal {index}`: a leaf, its 32 siblings and the root they prove
//!   it against (what `finalize` submits on L1); at most 33 reads.

use super::state::{
    BridgeConfig, DepositState, LeafRecord, TreeState, WrappedToken, config_key, deposits_key,
    leaf_key, node_key, token_key, tree_key,
};
use crate::modules::kit::{QueryCtx, QueryError, params};
use lakh_types::modules::bridge::query::{StatusAnswer, WithdrawalAnswer, WrappedAnswer};
use lakh_types::modules::bridge::{
    BridgeCommitment, Keccak, L1Address, WITHDRAWAL_TREE_DEPTH, empty_subtree_roots,
    wrapped_asset_id,
};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenParams {
    token: L1Address,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexParams {
    index: u64,
}

/// Answers a read-only query.
pub fn query(method: &str, p: &Value, ctx: &QueryCtx<'_>) -> Result<Value, QueryError> {
    let answer = match method {
        "status" => {
            let NoParams {} = params(p)?;
            serde_json::to_value(status(ctx)?)
        }
        "wrapped" => {
            let TokenParams { token } = params(p)?;
            serde_json::to_value(wrapped(ctx, &token)?)
        }
        "withdrawal" => {
            let IndexParams { index } = params(p)?;
            serde_json::to_value(withdrawal(ctx, index)?)
        }
        other => {
            return Err(QueryError::BadRequest(format!(
                "unknown bridge method {other:?}; methods: status, wrapped, withdrawal"
            )));
        }
    };
    answer.map_err(|e| QueryError::Corrupt(e.to_string()))
}

fn config(ctx: &QueryCtx<'_>) -> Result<BridgeConfig, QueryError> {
    ctx.object::<BridgeConfig>(&config_key())?
        .ok_or_else(|| QueryError::NotFound("this chain has no bridge".into()))
}

fn tree(ctx: &QueryCtx<'_>) -> Result<TreeState, QueryError> {
    Ok(ctx
        .object::<TreeState>(&tree_key())?
        .unwrap_or_else(TreeState::empty))
}

fn status(ctx: &QueryCtx<'_>) -> Result<StatusAnswer, QueryError> {
    let Some(config) = ctx.object::<BridgeConfig>(&config_key())? else {
        return Ok(StatusAnswer {
            height: ctx.height,
            enabled: false,
            l1_chain_id: 0,
            bridge_address: L1Address::default(),
            commitment: BridgeCommitment::default(),
            tokens: Vec::new(),
        });
    };
    let deposits = ctx
        .object::<DepositState>(&deposits_key())?
        .unwrap_or_default();
    let tree = tree(ctx)?;
    let tokens = config
        .tokens
        .iter()
        .map(|token| wrapped(ctx, token))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StatusAnswer {
        height: ctx.height,
        enabled: true,
        l1_chain_id: config.l1_chain_id,
        bridge_address: config.bridge,
        commitment: BridgeCommitment {
            chain_id: config.chain_id,
            withdrawal_root: tree.root(),
            withdrawal_count: tree.count,
            deposit_count: deposits.count,
            deposit_hash: deposits.hash,
        },
        tokens,
    })
}

fn wrapped(ctx: &QueryCtx<'_>, token: &L1Address) -> Result<WrappedAnswer, QueryError> {
    let asset = wrapped_asset_id(token);
    let registered = ctx
        .object::<WrappedToken>(&token_key(asset))?
        .is_some_and(|w| w.token == *token);
    let info = ctx.asset(asset)?.filter(|_| registered).ok_or_else(|| {
        QueryError::NotFound(format!("L1 token 0x{} is not bridged", token.to_hex()))
    })?;
    Ok(WrappedAnswer {
        token: *token,
        asset,
        symbol: info.symbol,
        decimals: info.decimals,
        supply: info.supply,
    })
}

fn node(ctx: &QueryCtx<'_>, height: usize, position: u64) -> Result<Keccak, QueryError> {
    if height == 0 {
        let record = ctx
            .object::<LeafRecord>(&leaf_key(position))?
            .ok_or_else(|| QueryError::Corrupt(format!("withdrawal leaf {position} missing")))?;
        return Ok(record.leaf.hash());
    }
    ctx.object::<Keccak>(&node_key(height as u8, position))?
        .ok_or_else(|| {
            QueryError::Corrupt(format!("withdrawal tree node {height}/{position} missing"))
        })
}

fn withdrawal(ctx: &QueryCtx<'_>, index: u64) -> Result<WithdrawalAnswer, QueryError> {
    config(ctx)?;
    let tree = tree(ctx)?;
    if index >= tree.count {
        return Err(QueryError::NotFound(format!(
            "no withdrawal {index}: {} withdrawals so far",
            tree.count
        )));
    }
    let record = ctx
        .object::<LeafRecord>(&leaf_key(index))?
        .ok_or_else(|| QueryError::Corrupt(format!("withdrawal leaf {index} missing")))?;
    let empty = empty_subtree_roots();
    let mut siblings = [Keccak::default(); WITHDRAWAL_TREE_DEPTH];
    for (height, sibling) in siblings.iter_mut().enumerate() {
        let position = (index >> height) ^ 1;
        let first = position << height;
        let end = (position + 1) << height;
        *sibling = if end <= tree.count {
            node(ctx, height, position)?
        } else if first >= tree.count {
            empty[height]
        } else {
            // Holds the first empty leaf: its root follows from the frontier.
            tree.edge(height)
        };
    }
    Ok(WithdrawalAnswer {
        leaf_hash: record.leaf.hash(),
        leaf: record.leaf,
        appended_height: record.height,
        siblings,
        root: tree.root(),
        withdrawal_count: tree.count,
        height: ctx.height,
    })
}
