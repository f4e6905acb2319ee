//! `lakh wallet dex`: create pools, add and remove liquidity, swap (exact in
//! or exact out, through up to three intermediate assets), quote, and read
//! pools and positions. Assets are symbols or ids; amounts are base units.
//! Sending commands wait for finality and print the receipt.

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
        /// Most base units of --a to deposit
        #[arg(long)]
        amount_a: u128,
        /// The other asset of the pool (symbol or id)
        #[arg(long)]
        b: String,
        /// Most base units of --b to deposit
        #[arg(long)]
        amount_b: u128,
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
        #[arg(long, default_value_t = 0)]
        min_a: u128,
        /// Fail unless at least this much of --b is paid
        #[arg(long, default_value_t = 0)]
        min_b: u128,
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
        /// Base units of --sell to sell
        #[arg(long)]
        amount: u128,
        /// Asset to buy (symbol or id)
        #[arg(long)]
        buy: String,
        /// Fail unless at least this much of --buy is bought
        #[arg(long)]
        min_out: u128,
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
        max_in: u128,
        /// Asset to buy (symbol or id)
        #[arg(long)]
        buy: String,
        /// Base units of --buy to buy
        #[arg(long)]
        amount: u128,
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
        /// Base units of --sell to sell (exact in)
        #[arg(
            long,
            required_unless_present = "amount_out",
            conflicts_with = "amount_out"
        )]
        amount: Option<u128>,
        /// Base units of --buy to buy (exact out)
        #[arg(long)]
        amount_out: Option<u128>,
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
            let action = DexAction::AddLiquidity {
                asset_a: asset(client, &a).await?,
                asset_b: asset(client, &b).await?,
                max_amount_a: amount_a,
                max_amount_b: amount_b,
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
            let action = DexAction::RemoveLiquidity {
                asset_a: asset(client, &a).await?,
                asset_b: asset(client, &b).await?,
                shares,
                min_amount_a: min_a,
                min_amount_b: min_b,
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
            let action = DexAction::SwapExactIn {
                path: route(client, &sell, &via, &buy).await?,
                amount_in: amount,
                min_amount_out: min_out,
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
            let action = DexAction::SwapExactOut {
                path: route(client, &sell, &via, &buy).await?,
                amount_out: amount,
                max_amount_in: max_in,
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
            let params = match (amount, amount_out) {
                (Some(amount), None) => json!({"path": path, "amount_in": amount.to_string()}),
                (None, Some(amount)) => json!({"path": path, "amount_out": amount.to_string()}),
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
