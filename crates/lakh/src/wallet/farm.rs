//! `lakh wallet farm`: create a farm (funding its whole reward budget), stake,
//! unstake, harvest, emergency-withdraw, reclaim; farm and position queries.
//!
//! Transactions name the farm's assets (so their state keys are known before
//! execution); the wallet reads them from the farm first.

use super::units::AmountArg;
use super::{Ctx, Output, SendOpts, query_answer, query_output, resolve_asset, send_action};
use crate::keys::{load_key, resolve_address};
use anyhow::Context;
use commonware_cryptography::Signer;
use lakh_types::{
    Action, Address, AssetId,
    modules::farm::{FarmAction, farm_id, query::FarmAnswer},
};
use serde_json::json;
use std::fmt::Write as _;

#[derive(clap::Subcommand, Debug)]
pub enum FarmCommand {
    /// Create a farm, moving its whole budget (rate * (end - start)) from you
    Create {
        /// Key name of the creator (pays the budget)
        #[arg(long)]
        from: String,
        /// Asset stakers deposit (symbol or id), e.g. LP shares
        #[arg(long)]
        stake_asset: String,
        /// Asset paid as rewards (symbol or id)
        #[arg(long)]
        reward_asset: String,
        /// Reward per block in the reward asset's units, shared by all stakers
        #[arg(long)]
        rate: AmountArg,
        /// First block of emission (not before the next block)
        #[arg(long)]
        start: u64,
        /// Block where emission stops
        #[arg(long)]
        end: u64,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Stake into a farm (before its end block)
    Stake {
        #[arg(long)]
        from: String,
        #[arg(long)]
        farm: u64,
        /// Amount of the farm's stake asset, in its units
        #[arg(long)]
        amount: AmountArg,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Take back part of your stake (rewards stay owed until harvested)
    Unstake {
        #[arg(long)]
        from: String,
        #[arg(long)]
        farm: u64,
        /// Amount of the farm's stake asset, in its units
        #[arg(long)]
        amount: AmountArg,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Collect your rewards
    Harvest {
        #[arg(long)]
        from: String,
        #[arg(long)]
        farm: u64,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Take back your whole stake and give up your unpaid rewards
    EmergencyWithdraw {
        #[arg(long)]
        from: String,
        #[arg(long)]
        farm: u64,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Creator only, after the end: take back unemitted and forfeited rewards
    Reclaim {
        #[arg(long)]
        from: String,
        #[arg(long)]
        farm: u64,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Show a farm: schedule, totals, accumulator, budget left
    Info {
        #[arg(long)]
        farm: u64,
    },
    /// Show an account's stake and pending rewards in a farm
    Position {
        #[arg(long)]
        farm: u64,
        /// Key name or address
        #[arg(long)]
        account: String,
    },
}

pub(crate) async fn run(ctx: &Ctx<'_>, cmd: FarmCommand) -> anyhow::Result<Output> {
    match cmd {
        FarmCommand::Create {
            from,
            stake_asset,
            reward_asset,
            rate,
            start,
            end,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let stake_asset = resolve_asset(ctx.client, &stake_asset).await?.id;
            let reward_asset = resolve_asset(ctx.client, &reward_asset).await?.id;
            let action = FarmAction::Create {
                stake_asset,
                reward_asset,
                rate_per_block: ctx.base_units(&rate, reward_asset).await?,
                start_height: start,
                end_height: end,
            };
            lakh_types::modules::farm::check(&action)
                .map_err(|e| anyhow::anyhow!("invalid farm: {e}"))?;
            let creator = Address::from(&key.public_key());
            let mut out = send_action(ctx.client, &key, Action::Farm(action), &send).await?;
            // The farm's id derives from the creator and the nonce used.
            if let Some(nonce) = out.json["receipt"]["nonce"].as_u64() {
                let id = farm_id(&creator, nonce);
                out.json["farm"] = json!(id);
                if out.failure.is_none() {
                    let _ = writeln!(out.text, "farm id     {id}");
                }
            }
            Ok(out)
        }
        FarmCommand::Stake {
            from,
            farm,
            amount,
            send,
        } => {
            let (stake_asset, _) = farm_assets(ctx, farm).await?;
            let action = FarmAction::Stake {
                farm,
                stake_asset,
                amount: ctx.base_units(&amount, stake_asset).await?,
            };
            send_farm(ctx, &from, action, &send).await
        }
        FarmCommand::Unstake {
            from,
            farm,
            amount,
            send,
        } => {
            let (stake_asset, _) = farm_assets(ctx, farm).await?;
            let action = FarmAction::Unstake {
                farm,
                stake_asset,
                amount: ctx.base_units(&amount, stake_asset).await?,
            };
            send_farm(ctx, &from, action, &send).await
        }
        FarmCommand::Harvest { from, farm, send } => {
            let (_, reward_asset) = farm_assets(ctx, farm).await?;
            let action = FarmAction::Harvest { farm, reward_asset };
            send_farm(ctx, &from, action, &send).await
        }
        FarmCommand::EmergencyWithdraw { from, farm, send } => {
            let (stake_asset, _) = farm_assets(ctx, farm).await?;
            let action = FarmAction::EmergencyWithdraw { farm, stake_asset };
            send_farm(ctx, &from, action, &send).await
        }
        FarmCommand::Reclaim { from, farm, send } => {
            let (_, reward_asset) = farm_assets(ctx, farm).await?;
            let action = FarmAction::Reclaim { farm, reward_asset };
            send_farm(ctx, &from, action, &send).await
        }
        FarmCommand::Info { farm } => {
            query_output(ctx.client, "farm", "farm", json!({ "farm": farm })).await
        }
        FarmCommand::Position { farm, account } => {
            let owner = resolve_address(ctx.keys_dir, &account)?;
            query_output(
                ctx.client,
                "farm",
                "position",
                json!({ "farm": farm, "owner": owner }),
            )
            .await
        }
    }
}

async fn send_farm(
    ctx: &Ctx<'_>,
    from: &str,
    action: FarmAction,
    send: &SendOpts,
) -> anyhow::Result<Output> {
    lakh_types::modules::farm::check(&action)
        .map_err(|e| anyhow::anyhow!("invalid farm action: {e}"))?;
    let key = load_key(ctx.keys_dir, from)?;
    send_action(ctx.client, &key, Action::Farm(action), send).await
}

/// The (stake, reward) assets of farm `id`, read from the node.
async fn farm_assets(ctx: &Ctx<'_>, id: u64) -> anyhow::Result<(AssetId, AssetId)> {
    let farm: FarmAnswer = query_answer(ctx.client, "farm", "farm", json!({ "farm": id }))
        .await
        .with_context(|| format!("cannot read farm {id}"))?;
    Ok((farm.stake_asset, farm.reward_asset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        cmd: FarmCommand,
    }

    #[test]
    fn parses_the_documented_command_lines() {
        let cli = Cli::try_parse_from([
            "farm",
            "create",
            "--from",
            "k",
            "--stake-asset",
            "LP1",
            "--reward-asset",
            "USDC",
            "--rate",
            "100",
            "--start",
            "10",
            "--end",
            "20",
        ])
        .unwrap();
        assert!(matches!(
            cli.cmd,
            FarmCommand::Create {
                ref rate,
                start: 10,
                end: 20,
                ..
            } if rate.to_string() == "100"
        ));
        for line in [
            vec![
                "farm", "stake", "--from", "a", "--farm", "7", "--amount", "3",
            ],
            vec![
                "farm", "unstake", "--from", "a", "--farm", "7", "--amount", "3",
            ],
            vec!["farm", "harvest", "--from", "a", "--farm", "7"],
            vec!["farm", "emergency-withdraw", "--from", "a", "--farm", "7"],
            vec!["farm", "reclaim", "--from", "a", "--farm", "7"],
            vec!["farm", "info", "--farm", "18446744073709551615"],
            vec!["farm", "position", "--farm", "7", "--account", "alice"],
        ] {
            Cli::try_parse_from(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        }
        assert!(Cli::try_parse_from(["farm", "stake", "--from", "a", "--farm", "-1"]).is_err());
    }
}
