//! `lakh wallet stake`: delegate native tokens to validators, undelegate,
//! withdraw matured funds, claim fee rewards; validator and admin settings;
//! validator, delegation and parameter queries.
//!
//! `--validator` takes a key name or a 64-hex-character address (see `lakh
//! wallet stake validators`).

use super::{Ctx, Output, SendOpts, query_answer, query_output, send_action};
use crate::keys::{load_key, resolve_address};
use lakh_types::{
    Action,
    modules::stake::{StakeAction, query::ParamsAnswer},
};
use serde_json::json;

#[derive(clap::Subcommand, Debug)]
pub enum StakeCommand {
    /// Delegate native base units to a validator
    Delegate {
        /// Key name of the delegator
        #[arg(long)]
        from: String,
        /// Key name or address of the validator
        #[arg(long)]
        validator: String,
        /// Native base units to delegate
        #[arg(long)]
        amount: u128,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Start unbonding part of a delegation (withdrawable after the unbonding period)
    Undelegate {
        #[arg(long)]
        from: String,
        #[arg(long)]
        validator: String,
        /// Native base units to undelegate
        #[arg(long)]
        amount: u128,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Withdraw every matured unbonding entry of a delegation
    Withdraw {
        #[arg(long)]
        from: String,
        #[arg(long)]
        validator: String,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Claim the fee rewards of a delegation
    Claim {
        #[arg(long)]
        from: String,
        #[arg(long)]
        validator: String,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Validators only: set your commission (basis points of your blocks' fees)
    SetCommission {
        /// Key name of the validator
        #[arg(long)]
        from: String,
        /// 0..=10000 basis points
        #[arg(long)]
        bps: u16,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Admin only: set the module parameters (unset flags keep their current value)
    SetParams {
        /// Key name of the chain admin
        #[arg(long)]
        from: String,
        /// Blocks between an undelegation and its withdrawal
        #[arg(long)]
        unbonding_blocks: Option<u64>,
        /// Highest commission a validator may set (basis points)
        #[arg(long)]
        max_commission_bps: Option<u16>,
        /// Largest commission increase per step (basis points)
        #[arg(long)]
        max_commission_change_bps: Option<u16>,
        #[command(flatten)]
        send: SendOpts,
    },
    /// List the validators open to delegation with their totals
    Validators,
    /// Show one validator's staking record
    Validator {
        #[arg(long)]
        validator: String,
    },
    /// Show an account's delegations (all, or with one validator)
    Delegation {
        /// Key name or address of the delegator
        #[arg(long)]
        account: String,
        #[arg(long)]
        validator: Option<String>,
    },
    /// Show the module parameters
    Params,
}

pub(crate) async fn run(ctx: &Ctx<'_>, cmd: StakeCommand) -> anyhow::Result<Output> {
    let send = |from: &str, action: StakeAction, opts: SendOpts| {
        let from = from.to_string();
        async move {
            lakh_types::modules::stake::check(&action)
                .map_err(|e| anyhow::anyhow!("invalid stake action: {e}"))?;
            let key = load_key(ctx.keys_dir, &from)?;
            send_action(ctx.client, &key, Action::Stake(action), &opts).await
        }
    };
    let address = |name: &str| resolve_address(ctx.keys_dir, name);
    match cmd {
        StakeCommand::Delegate {
            from,
            validator,
            amount,
            send: opts,
        } => {
            let validator = address(&validator)?;
            send(&from, StakeAction::Delegate { validator, amount }, opts).await
        }
        StakeCommand::Undelegate {
            from,
            validator,
            amount,
            send: opts,
        } => {
            let validator = address(&validator)?;
            send(&from, StakeAction::Undelegate { validator, amount }, opts).await
        }
        StakeCommand::Withdraw {
            from,
            validator,
            send: opts,
        } => {
            let validator = address(&validator)?;
            send(&from, StakeAction::Withdraw { validator }, opts).await
        }
        StakeCommand::Claim {
            from,
            validator,
            send: opts,
        } => {
            let validator = address(&validator)?;
            send(&from, StakeAction::Claim { validator }, opts).await
        }
        StakeCommand::SetCommission {
            from,
            bps,
            send: opts,
        } => {
            send(
                &from,
                StakeAction::SetCommission {
                    commission_bps: bps,
                },
                opts,
            )
            .await
        }
        StakeCommand::SetParams {
            from,
            unbonding_blocks,
            max_commission_bps,
            max_commission_change_bps,
            send: opts,
        } => {
            let current: ParamsAnswer =
                query_answer(ctx.client, "stake", "params", json!({})).await?;
            let action = StakeAction::SetParams {
                unbonding_blocks: unbonding_blocks.unwrap_or(current.unbonding_blocks),
                max_commission_bps: max_commission_bps.unwrap_or(current.max_commission_bps),
                max_commission_change_bps: max_commission_change_bps
                    .unwrap_or(current.max_commission_change_bps),
            };
            send(&from, action, opts).await
        }
        StakeCommand::Validators => {
            query_output(ctx.client, "stake", "validators", json!({})).await
        }
        StakeCommand::Validator { validator } => {
            let validator = address(&validator)?;
            query_output(
                ctx.client,
                "stake",
                "validator",
                json!({ "validator": validator }),
            )
            .await
        }
        StakeCommand::Delegation { account, validator } => {
            let delegator = address(&account)?;
            match validator {
                Some(v) => {
                    let validator = address(&v)?;
                    query_output(
                        ctx.client,
                        "stake",
                        "delegation",
                        json!({ "validator": validator, "delegator": delegator }),
                    )
                    .await
                }
                None => {
                    query_output(
                        ctx.client,
                        "stake",
                        "delegations",
                        json!({ "delegator": delegator }),
                    )
                    .await
                }
            }
        }
        StakeCommand::Params => query_output(ctx.client, "stake", "params", json!({})).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        cmd: StakeCommand,
    }

    #[test]
    fn parses_the_documented_command_lines() {
        let v = "ab".repeat(32);
        let cli = Cli::try_parse_from([
            "stake",
            "delegate",
            "--from",
            "alice",
            "--validator",
            &v,
            "--amount",
            "5",
        ])
        .unwrap();
        assert!(matches!(cli.cmd, StakeCommand::Delegate { amount: 5, .. }));
        let cli = Cli::try_parse_from(["stake", "delegation", "--account", "alice"]).unwrap();
        assert!(matches!(
            cli.cmd,
            StakeCommand::Delegation {
                validator: None,
                ..
            }
        ));
        let cli = Cli::try_parse_from([
            "stake",
            "set-params",
            "--from",
            "admin",
            "--unbonding-blocks",
            "30",
        ])
        .unwrap();
        assert!(matches!(
            cli.cmd,
            StakeCommand::SetParams {
                unbonding_blocks: Some(30),
                max_commission_bps: None,
                ..
            }
        ));
        for line in [
            vec!["stake", "validators"],
            vec!["stake", "params"],
            vec!["stake", "withdraw", "--from", "a", "--validator", "v"],
            vec!["stake", "claim", "--from", "a", "--validator", "v"],
            vec![
                "stake",
                "undelegate",
                "--from",
                "a",
                "--validator",
                "v",
                "--amount",
                "1",
            ],
            vec!["stake", "set-commission", "--from", "v", "--bps", "700"],
            vec!["stake", "validator", "--validator", "v"],
        ] {
            Cli::try_parse_from(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        }
        assert!(Cli::try_parse_from(["stake", "delegate", "--from", "a"]).is_err());
    }
}
