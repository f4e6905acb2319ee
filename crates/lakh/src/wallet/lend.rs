//! `lakh wallet lend`: markets (admin), supply, withdraw, borrow, repay,
//! liquidate, and the `market`, `markets` and `position` queries.
//!
//! Amounts are base units. Factors and per-block rates are decimals (e.g.
//! `--collateral-factor 0.75`, `--base-rate 0.000000002`) scaled by 1e18
//! exactly. Withdraw, borrow and liquidate need the list of markets the
//! account (the borrower, for liquidate) has positions in: the wallet reads it
//! from the `position` query.

use super::oracle::{format_wad, parse_wad};
use super::units::AmountArg;
use super::{
    Ctx, Output, SendOpts, query_answer, query_output, query_typed_output, resolve_asset,
    send_action,
};
use crate::keys::{load_key, resolve_address};
use anyhow::Context;
use commonware_cryptography::Signer;
use lakh_rpc::LakhClient;
use lakh_types::{
    Action, Address, AssetId,
    modules::lend::{
        LendAction, MarketList, MarketParams,
        query::{MarketAnswer, PositionAnswer},
    },
};
use serde_json::json;

/// Risk parameters and rate model as decimals; each flag left out keeps the
/// market's current value (update) or the default shown (create).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ParamArgs {
    /// Share of supplied value that backs borrowing [default: 0.75]
    #[arg(long)]
    pub collateral_factor: Option<String>,
    /// Share of interest kept as reserves [default: 0.1]
    #[arg(long)]
    pub reserve_factor: Option<String>,
    /// Borrow rate per block at zero utilization [default: 0.000000001]
    #[arg(long)]
    pub base_rate: Option<String>,
    /// Rate per block added per unit of utilization up to the kink [default: 0.00000005]
    #[arg(long)]
    pub multiplier: Option<String>,
    /// Utilization where the jump multiplier starts [default: 0.8]
    #[arg(long)]
    pub kink: Option<String>,
    /// Rate per block added per unit of utilization above the kink [default: 0.000001]
    #[arg(long)]
    pub jump_multiplier: Option<String>,
    /// Share of a debt one liquidation may repay [default: 0.5]
    #[arg(long)]
    pub close_factor: Option<String>,
    /// Collateral value seized per unit of debt value repaid [default: 1.08]
    #[arg(long)]
    pub liquidation_incentive: Option<String>,
}

/// The defaults `create-market` uses for flags left out.
fn default_params() -> MarketParams {
    MarketParams::standard(75)
}

impl ParamArgs {
    /// `base` with every given flag applied.
    fn apply(&self, mut base: MarketParams) -> anyhow::Result<MarketParams> {
        let fields: [(&Option<String>, &mut u128, &str); 8] = [
            (
                &self.collateral_factor,
                &mut base.collateral_factor,
                "--collateral-factor",
            ),
            (
                &self.reserve_factor,
                &mut base.reserve_factor,
                "--reserve-factor",
            ),
            (&self.base_rate, &mut base.base_rate, "--base-rate"),
            (&self.multiplier, &mut base.multiplier, "--multiplier"),
            (&self.kink, &mut base.kink, "--kink"),
            (
                &self.jump_multiplier,
                &mut base.jump_multiplier,
                "--jump-multiplier",
            ),
            (&self.close_factor, &mut base.close_factor, "--close-factor"),
            (
                &self.liquidation_incentive,
                &mut base.liquidation_incentive,
                "--liquidation-incentive",
            ),
        ];
        for (given, field, flag) in fields {
            if let Some(v) = given {
                *field = parse_wad(v).context(flag)?;
            }
        }
        base.check().map_err(anyhow::Error::msg)?;
        Ok(base)
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum LendCommand {
    /// Admin: open the lending market of an asset
    CreateMarket {
        /// Key name of the chain admin
        #[arg(long)]
        from: String,
        /// Asset symbol or id
        #[arg(long)]
        asset: String,
        #[command(flatten)]
        params: ParamArgs,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Admin: change a market's parameters (flags left out keep their value)
    UpdateMarket {
        #[arg(long)]
        from: String,
        #[arg(long)]
        asset: String,
        #[command(flatten)]
        params: ParamArgs,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Deposit into a market and receive supply shares
    Supply {
        #[arg(long)]
        from: String,
        #[arg(long)]
        asset: String,
        /// Amount in the asset's units, or base units with --base-units
        #[arg(long)]
        amount: AmountArg,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Withdraw supplied assets (health-checked)
    Withdraw {
        #[arg(long)]
        from: String,
        #[arg(long)]
        asset: String,
        /// Amount in the asset's units, or base units with --base-units
        #[arg(long, required_unless_present = "all", conflicts_with = "all")]
        amount: Option<AmountArg>,
        /// Withdraw every share
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Borrow against your supplies (health-checked)
    Borrow {
        #[arg(long)]
        from: String,
        #[arg(long)]
        asset: String,
        /// Amount in the asset's units, or base units with --base-units
        #[arg(long)]
        amount: AmountArg,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Repay a debt, yours or another account's; only what is owed is taken
    Repay {
        #[arg(long)]
        from: String,
        #[arg(long)]
        asset: String,
        /// Amount in the asset's units (more than owed repays the whole debt)
        #[arg(long, required_unless_present = "all", conflicts_with = "all")]
        amount: Option<AmountArg>,
        /// Repay the whole debt
        #[arg(long)]
        all: bool,
        /// Key name or address of the borrower [default: the sender]
        #[arg(long = "for")]
        borrower: Option<String>,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Repay part of an unhealthy account's debt and seize its collateral
    Liquidate {
        #[arg(long)]
        from: String,
        /// Key name or address of the unhealthy account
        #[arg(long)]
        borrower: String,
        /// The debt's asset
        #[arg(long)]
        repay_asset: String,
        /// Amount of the debt's asset to repay (at most the close factor of the debt is taken)
        #[arg(long)]
        amount: AmountArg,
        /// The collateral's asset
        #[arg(long)]
        seize_asset: String,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Admin: pay out part of a market's reserves
    WithdrawReserves {
        #[arg(long)]
        from: String,
        #[arg(long)]
        asset: String,
        /// Amount in the asset's units, or base units with --base-units
        #[arg(long)]
        amount: AmountArg,
        /// Key name or address receiving the reserves
        #[arg(long)]
        to: String,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Show a market: totals, exchange rate, utilization, rates
    Market {
        #[arg(long)]
        asset: String,
    },
    /// List every market
    Markets,
    /// Show an account's supplies, borrows, health factor and capacity
    Position {
        /// Key name or address
        #[arg(long)]
        account: String,
    },
}

/// The markets `account` has positions in, from the `position` query.
async fn markets_of(client: &LakhClient, account: &Address) -> anyhow::Result<MarketList> {
    let position: PositionAnswer =
        query_answer(client, "lend", "position", json!({ "account": account })).await?;
    let assets = position.markets;
    let count = assets.len();
    MarketList::new(assets).with_context(|| format!("the account lists {count} markets"))
}

/// The current parameters of `asset`'s market.
async fn current_params(client: &LakhClient, asset: AssetId) -> anyhow::Result<MarketParams> {
    let market: MarketAnswer =
        query_answer(client, "lend", "market", json!({ "asset": asset })).await?;
    Ok(market.params)
}

pub(crate) async fn run(ctx: &Ctx<'_>, cmd: LendCommand) -> anyhow::Result<Output> {
    let client = ctx.client;
    let asset_id =
        |s: String| async move { Ok::<_, anyhow::Error>(resolve_asset(client, &s).await?.id) };
    match cmd {
        LendCommand::CreateMarket {
            from,
            asset,
            params,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let asset = asset_id(asset).await?;
            let params = params.apply(default_params())?;
            let action = Action::Lend(Box::new(LendAction::CreateMarket { asset, params }));
            send_action(client, &key, action, &send).await
        }
        LendCommand::UpdateMarket {
            from,
            asset,
            params,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let asset = asset_id(asset).await?;
            let params = params.apply(current_params(client, asset).await?)?;
            let action = Action::Lend(Box::new(LendAction::UpdateMarket { asset, params }));
            send_action(client, &key, action, &send).await
        }
        LendCommand::Supply {
            from,
            asset,
            amount,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let asset = asset_id(asset).await?;
            let amount = ctx.base_units(&amount, asset).await?;
            let action = Action::Lend(Box::new(LendAction::Supply { asset, amount }));
            send_action(client, &key, action, &send).await
        }
        LendCommand::Withdraw {
            from,
            asset,
            amount,
            all,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let asset = asset_id(asset).await?;
            let account = Address::from(&key.public_key());
            let amount = match all {
                true => u128::MAX,
                false => ctx
                    .base_units_opt(amount.as_ref(), asset)
                    .await?
                    .unwrap_or(0),
            };
            let markets = markets_of(client, &account).await?;
            let action = Action::Lend(Box::new(LendAction::Withdraw {
                asset,
                amount,
                markets,
            }));
            send_action(client, &key, action, &send).await
        }
        LendCommand::Borrow {
            from,
            asset,
            amount,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let asset = asset_id(asset).await?;
            let account = Address::from(&key.public_key());
            let markets = markets_of(client, &account).await?;
            let amount = ctx.base_units(&amount, asset).await?;
            let action = Action::Lend(Box::new(LendAction::Borrow {
                asset,
                amount,
                markets,
            }));
            send_action(client, &key, action, &send).await
        }
        LendCommand::Repay {
            from,
            asset,
            amount,
            all,
            borrower,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let asset = asset_id(asset).await?;
            let borrower = match borrower {
                Some(b) => resolve_address(ctx.keys_dir, &b)?,
                None => Address::from(&key.public_key()),
            };
            let amount = match all {
                true => u128::MAX,
                false => ctx
                    .base_units_opt(amount.as_ref(), asset)
                    .await?
                    .unwrap_or(0),
            };
            let action = Action::Lend(Box::new(LendAction::Repay {
                asset,
                amount,
                borrower,
            }));
            send_action(client, &key, action, &send).await
        }
        LendCommand::Liquidate {
            from,
            borrower,
            repay_asset,
            amount,
            seize_asset,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let borrower = resolve_address(ctx.keys_dir, &borrower)?;
            let repay_asset = asset_id(repay_asset).await?;
            let seize_asset = asset_id(seize_asset).await?;
            let markets = markets_of(client, &borrower).await?;
            let amount = ctx.base_units(&amount, repay_asset).await?;
            let action = Action::Lend(Box::new(LendAction::Liquidate {
                borrower,
                repay_asset,
                amount,
                seize_asset,
                markets,
            }));
            send_action(client, &key, action, &send).await
        }
        LendCommand::WithdrawReserves {
            from,
            asset,
            amount,
            to,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let asset = asset_id(asset).await?;
            let to = resolve_address(ctx.keys_dir, &to)?;
            let amount = ctx.base_units(&amount, asset).await?;
            let action = Action::Lend(Box::new(LendAction::WithdrawReserves { asset, amount, to }));
            send_action(client, &key, action, &send).await
        }
        LendCommand::Market { asset } => {
            let asset = resolve_asset(client, &asset).await?;
            let (market, mut out): (MarketAnswer, _) =
                query_typed_output(client, "lend", "market", json!({ "asset": asset.id })).await?;
            out.text
                .insert_str(0, &market_summary(&asset.symbol.to_string(), &market));
            Ok(out)
        }
        LendCommand::Markets => query_output(client, "lend", "markets", json!({})).await,
        LendCommand::Position { account } => {
            let account = resolve_address(ctx.keys_dir, &account)?;
            let (position, mut out): (PositionAnswer, _) =
                query_typed_output(client, "lend", "position", json!({ "account": account }))
                    .await?;
            out.text.insert_str(0, &position_summary(&position));
            Ok(out)
        }
    }
}

fn market_summary(symbol: &str, m: &MarketAnswer) -> String {
    format!(
        "{symbol}: utilization {}, borrow rate {} per block, supply rate {} per block, \
         exchange rate {}\n",
        format_wad(m.utilization),
        format_wad(m.borrow_rate_per_block),
        format_wad(m.supply_rate_per_block),
        format_wad(m.exchange_rate),
    )
}

fn position_summary(p: &PositionAnswer) -> String {
    let wad = |v: Option<u128>| v.map(format_wad).unwrap_or_default();
    match p.health_factor {
        Some(hf) => format!(
            "health factor {}; debt {} of capacity {} (quote units)\n",
            format_wad(hf),
            wad(p.debt_value),
            wad(p.collateral_value)
        ),
        None => match &p.price_error {
            Some(e) => format!("health unknown: {e}\n"),
            None => "no debt\n".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_default_apply_and_validate() {
        let p = ParamArgs::default().apply(default_params()).unwrap();
        assert_eq!(p, default_params());
        let p = ParamArgs {
            collateral_factor: Some("0.5".into()),
            base_rate: Some("0.000000002".into()),
            ..ParamArgs::default()
        }
        .apply(default_params())
        .unwrap();
        assert_eq!(p.collateral_factor, 500_000_000_000_000_000);
        assert_eq!(p.base_rate, 2_000_000_000);
        let bad = ParamArgs {
            collateral_factor: Some("0.99".into()),
            ..ParamArgs::default()
        };
        assert!(bad.apply(default_params()).is_err());
        let bad = ParamArgs {
            kink: Some("x".into()),
            ..ParamArgs::default()
        };
        assert!(
            bad.apply(default_params())
                .unwrap_err()
                .to_string()
                .contains("--kink")
        );
    }

    #[test]
    fn summaries_show_decimals() {
        let mut p = PositionAnswer {
            account: Address([0; 32]),
            height: 1,
            markets: vec![],
            positions: vec![],
            supplied_value: Some(0),
            collateral_value: Some(15_000_000_000_000_000_000),
            debt_value: Some(10_000_000_000_000_000_000),
            borrow_capacity_left: Some(0),
            health_factor: Some(1_500_000_000_000_000_000),
            healthy: Some(true),
            price_error: None,
        };
        assert_eq!(
            position_summary(&p),
            "health factor 1.5; debt 10 of capacity 15 (quote units)\n"
        );
        p.health_factor = None;
        assert_eq!(position_summary(&p), "no debt\n");
    }
}
