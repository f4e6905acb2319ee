//! `lakh wallet dex`: create pools, add and remove liquidity, swap (exact in
//! or exact out, through up to three intermediate assets), quote, and read
//! pools and positions. Assets are symbols or ids; amounts are base units.
//! Sending commands wait for finality and print the receipt.

use super::units::AmountArg;
use super::{Ctx, Output, SendOpts, query_output, resolve_asset, send_action};
use crate::keys::{load_key, resolve_address};
use anyhow::bail;
use lakh_rpc::LakhClient;
use lakh_types::{
    Action, AssetId, Symbol,
    modules::dex::{DexAction, MAX_PATH_ASSETS, Path, check},
};
use serde_json::json;

/// How long a liquidity or swap transaction stays valid.
#[derive(clap::Args, Debug, Clone)]
pub struct Deadline {
    /// Blocks after the current head within which the transaction must
    /// execute; later it fails with `expired`
    #[arg(long, default_value_t = 20)]
    pub deadline_blocks: u64,
}

#[derive(clap::Subcommand, Debug)]
pub enum DexCommand {
    /// Create the pool of a pair (anyone may; one pool per pair)
    CreatePool {
        /// Key name of the sender
        #[arg(long)]
        from: String,
        /// One asset (symbol or id)
        #[arg(long)]
        a: String,
        /// The other asset
        #[arg(long)]
        b: String,
        /// Symbol of the pool's share asset [default: LP + 10 hex digits of its id]
        #[arg(long)]
        lp_symbol: Option<String>,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Deposit both assets of a pool at its price for shares (the first
    /// deposit sets the price)
    Add {
        /// Key name of the sender
        #[arg(long)]
        from: String,
        /// One asset of the pool (symbol or id)
        #[arg(long)]
        a: String,
        /// Most of --a to deposit, in its units
        #[arg(long)]
        amount_a: AmountArg,
        /// The other asset of the pool (symbol or id)
        #[arg(long)]
        b: String,
        /// Most of --b to deposit, in its units
        #[arg(long)]
        amount_b: AmountArg,
        /// Fail unless at least this many shares are minted
        #[arg(long, default_value_t = 0)]
        min_shares: u128,
        #[command(flatten)]
        deadline: Deadline,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Burn shares for their part of both reserves
    Remove {
        /// Key name of the sender
        #[arg(long)]
        from: String,
        /// One asset of the pool (symbol or id)
        #[arg(long)]
        a: String,
        /// The other asset of the pool (symbol or id)
        #[arg(long)]
        b: String,
        /// Shares to burn (base units of the pool's share asset)
        #[arg(long)]
        shares: u128,
        /// Fail unless at least this much of --a is paid
        #[arg(long)]
        min_a: Option<AmountArg>,
        /// Fail unless at least this much of --b is paid
        #[arg(long)]
        min_b: Option<AmountArg>,
        #[command(flatten)]
        deadline: Deadline,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Sell exactly --amount of --sell for at least --min-out of --buy
    Swap {
        /// Key name of the sender
        #[arg(long)]
        from: String,
        /// Asset to sell (symbol or id)
        #[arg(long)]
        sell: String,
        /// Amount of --sell to sell, in its units
        #[arg(long)]
        amount: AmountArg,
        /// Asset to buy (symbol or id)
        #[arg(long)]
        buy: String,
        /// Fail unless at least this much of --buy is bought
        #[arg(long)]
        min_out: AmountArg,
        /// Intermediate assets of the route, in order (repeat, at most 3)
        #[arg(long)]
        via: Vec<String>,
        #[command(flatten)]
        deadline: Deadline,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Buy exactly --amount of --buy for at most --max-in of --sell
    SwapExactOut {
        /// Key name of the sender
        #[arg(long)]
        from: String,
        /// Asset to sell (symbol or id)
        #[arg(long)]
        sell: String,
        /// Fail if more than this much of --sell is needed
        #[arg(long)]
        max_in: AmountArg,
        /// Asset to buy (symbol or id)
        #[arg(long)]
        buy: String,
        /// Amount of --buy to buy, in its units
        #[arg(long)]
        amount: AmountArg,
        /// Intermediate assets of the route, in order (repeat, at most 3)
        #[arg(long)]
        via: Vec<String>,
        #[command(flatten)]
        deadline: Deadline,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Price a swap at the latest state without sending anything
    Quote {
        /// Asset to sell (symbol or id)
        #[arg(long)]
        sell: String,
        /// Asset to buy (symbol or id)
        #[arg(long)]
        buy: String,
        /// Amount of --sell to sell (exact in), in its units
        #[arg(
            long,
            required_unless_present = "amount_out",
            conflicts_with = "amount_out"
        )]
        amount: Option<AmountArg>,
        /// Amount of --buy to buy (exact out), in its units
        #[arg(long)]
        amount_out: Option<AmountArg>,
        /// Intermediate assets of the route, in order (repeat, at most 3)
        #[arg(long)]
        via: Vec<String>,
    },
    /// Show a pool: reserves, share asset and supply, price accumulators
    Pool {
        /// One asset of the pool (symbol or id)
        #[arg(long)]
        a: String,
        /// The other asset of the pool (symbol or id)
        #[arg(long)]
        b: String,
    },
    /// Show a pair's pool id, custody address and share asset, and whether
    /// the pool exists
    PoolId {
        /// One asset of the pool (symbol or id)
        #[arg(long)]
        a: String,
        /// The other asset of the pool (symbol or id)
        #[arg(long)]
        b: String,
    },
    /// Show the shares an account holds in a pool and what they redeem
    Position {
        /// Key name or 64-hex-character address
        #[arg(long)]
        owner: String,
        /// One asset of the pool (symbol or id)
        #[arg(long)]
        a: String,
        /// The other asset of the pool (symbol or id)
        #[arg(long)]
        b: String,
    },
}

pub(crate) async fn run(ctx: &Ctx<'_>, cmd: DexCommand) -> anyhow::Result<Output> {
    let client = ctx.client;
    match cmd {
        DexCommand::CreatePool {
            from,
            a,
            b,
            lp_symbol,
            send,
        } => {
            let lp_symbol = lp_symbol
                .map(|s| Symbol::new(&s).map_err(anyhow::Error::msg))
                .transpose()?;
            let action = DexAction::CreatePool {
                asset_a: asset(client, &a).await?,
                asset_b: asset(client, &b).await?,
                lp_symbol,
            };
            send_dex(ctx, &from, action, &send).await
        }
        DexCommand::Add {
            from,
            a,
            amount_a,
            b,
            amount_b,
            min_shares,
            deadline,
            send,
        } => {
            let (asset_a, asset_b) = (asset(client, &a).await?, asset(client, &b).await?);
            let action = DexAction::AddLiquidity {
                asset_a,
                asset_b,
                max_amount_a: ctx.base_units(&amount_a, asset_a).await?,
                max_amount_b: ctx.base_units(&amount_b, asset_b).await?,
                min_shares,
                deadline_height: deadline_height(client, &deadline).await?,
            };
            send_dex(ctx, &from, action, &send).await
        }
        DexCommand::Remove {
            from,
            a,
            b,
            shares,
            min_a,
            min_b,
            deadline,
            send,
        } => {
            let (asset_a, asset_b) = (asset(client, &a).await?, asset(client, &b).await?);
            let action = DexAction::RemoveLiquidity {
                asset_a,
                asset_b,
                shares,
                min_amount_a: ctx
                    .base_units_opt(min_a.as_ref(), asset_a)
                    .await?
                    .unwrap_or(0),
                min_amount_b: ctx
                    .base_units_opt(min_b.as_ref(), asset_b)
                    .await?
                    .unwrap_or(0),
                deadline_height: deadline_height(client, &deadline).await?,
            };
            send_dex(ctx, &from, action, &send).await
        }
        DexCommand::Swap {
            from,
            sell,
            amount,
            buy,
            min_out,
            via,
            deadline,
            send,
        } => {
            let (sold, bought) = (asset(client, &sell).await?, asset(client, &buy).await?);
            let action = DexAction::SwapExactIn {
                path: route(client, &sell, &via, &buy).await?,
                amount_in: ctx.base_units(&amount, sold).await?,
                min_amount_out: ctx.base_units(&min_out, bought).await?,
                deadline_height: deadline_height(client, &deadline).await?,
            };
            send_dex(ctx, &from, action, &send).await
        }
        DexCommand::SwapExactOut {
            from,
            sell,
            max_in,
            buy,
            amount,
            via,
            deadline,
            send,
        } => {
            let (sold, bought) = (asset(client, &sell).await?, asset(client, &buy).await?);
            let action = DexAction::SwapExactOut {
                path: route(client, &sell, &via, &buy).await?,
                amount_out: ctx.base_units(&amount, bought).await?,
                max_amount_in: ctx.base_units(&max_in, sold).await?,
                deadline_height: deadline_height(client, &deadline).await?,
            };
            send_dex(ctx, &from, action, &send).await
        }
        DexCommand::Quote {
            sell,
            buy,
            amount,
            amount_out,
            via,
        } => {
            let path = route(client, &sell, &via, &buy).await?;
            let (sold, bought) = (asset(client, &sell).await?, asset(client, &buy).await?);
            let params = match (amount, amount_out) {
                (Some(amount), None) => {
                    let units = ctx.base_units(&amount, sold).await?;
                    json!({"path": path, "amount_in": units.to_string()})
                }
                (None, Some(amount)) => {
                    let units = ctx.base_units(&amount, bought).await?;
                    json!({"path": path, "amount_out": units.to_string()})
                }
                _ => bail!("give exactly one of --amount and --amount-out"),
            };
            query_output(client, "dex", "quote", params).await
        }
        DexCommand::Pool { a, b } => {
            let params = json!({"a": asset(client, &a).await?, "b": asset(client, &b).await?});
            query_output(client, "dex", "pool", params).await
        }
        DexCommand::PoolId { a, b } => {
            let params = json!({"a": asset(client, &a).await?, "b": asset(client, &b).await?});
            query_output(client, "dex", "pool_id", params).await
        }
        DexCommand::Position { owner, a, b } => {
            let owner = resolve_address(ctx.keys_dir, &owner)?;
            let params = json!({
                "owner": owner,
                "a": asset(client, &a).await?,
                "b": asset(client, &b).await?,
            });
            query_output(client, "dex", "position", params).await
        }
    }
}

async fn asset(client: &LakhClient, s: &str) -> anyhow::Result<AssetId> {
    Ok(resolve_asset(client, s).await?.id)
}

/// `sell`, the `via` assets, then `buy`.
async fn route(client: &LakhClient, sell: &str, via: &[String], buy: &str) -> anyhow::Result<Path> {
    if via.len() > MAX_PATH_ASSETS - 2 {
        bail!(
            "at most {} --via assets, got {}",
            MAX_PATH_ASSETS - 2,
            via.len()
        );
    }
    let mut assets = vec![asset(client, sell).await?];
    for v in via {
        assets.push(asset(client, v).await?);
    }
    assets.push(asset(client, buy).await?);
    Path::new(assets).ok_or_else(|| anyhow::anyhow!("route too long"))
}

/// The last block height at which the transaction may execute.
async fn deadline_height(client: &LakhClient, deadline: &Deadline) -> anyhow::Result<u64> {
    let head = client.head().await?;
    Ok(head.height.saturating_add(deadline.deadline_blocks))
}

/// Checks the action as ingest will (so mistakes are reported before
/// signing), then sends it and waits for finality.
async fn send_dex(
    ctx: &Ctx<'_>,
    from: &str,
    action: DexAction,
    send: &SendOpts,
) -> anyhow::Result<Output> {
    check(&action).map_err(anyhow::Error::msg)?;
    let key = load_key(ctx.keys_dir, from)?;
    send_action(ctx.client, &key, Action::Dex(action), send).await
}
