//! `lakh wallet stake`: register as a validator, delegate native tokens to
//! validators, redelegate, undelegate, withdraw matured funds, claim fee
//! rewards; validator and admin settings; validator, committee, epoch,
//! delegation and parameter queries.
//!
//! `--validator` takes a key name or a 64-hex-character address (see `lakh
//! wallet stake validators`).

use super::units::AmountArg;
use super::{Ctx, Output, SendOpts, query_answer, query_output, query_typed_output, send_action};
use crate::keys::{load_key, resolve_address};
use commonware_cryptography::Signer;
use lakh_types::{
    Action, AssetId, PrivateKey,
    committee::{ConsensusKeyBytes, PopBytes},
    consensus_key::{consensus_public_key, derive_consensus_key, prove_possession},
    modules::stake::{
        StakeAction,
        query::{ParamsAnswer, ValidatorsAnswer},
    },
};
use serde_json::json;
use std::fmt::Write as _;
use std::net::SocketAddr;

#[derive(clap::Subcommand, Debug)]
pub enum StakeCommand {
    /// Register the key as a validator: its BLS consensus key and proof of
    /// possession are derived from it; the self-bond is delegated to itself
    CreateValidator {
        /// Key name of the validator (its address is its identity)
        #[arg(long)]
        from: String,
        /// Where peers reach its p2p listener (HOST:PORT)
        #[arg(long)]
        p2p_address: SocketAddr,
        /// Commission, 0..=10000 basis points of its blocks' fees
        #[arg(long)]
        commission_bps: u16,
        /// Native amount bonded (at least the network's min_self_bond)
        #[arg(long)]
        self_bond: AmountArg,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Validators only: change the p2p address and/or the commission
    EditValidator {
        /// Key name of the validator
        #[arg(long)]
        from: String,
        /// New p2p address (HOST:PORT)
        #[arg(long)]
        p2p_address: Option<SocketAddr>,
        /// New commission (basis points)
        #[arg(long)]
        commission_bps: Option<u16>,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Validators only: leave jail once the term is over (never once
    /// tombstoned); the validator is a candidate again at the next election
    Unjail {
        /// Key name of the validator
        #[arg(long)]
        from: String,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Move bonded stake from one validator to another without unbonding
    Redelegate {
        /// Key name of the delegator
        #[arg(long)]
        from: String,
        /// Key name or address of the validator the stake leaves
        #[arg(long)]
        from_validator: String,
        /// Key name or address of the validator the stake joins
        #[arg(long)]
        to_validator: String,
        /// Native amount to move (base units with --base-units)
        #[arg(long)]
        amount: AmountArg,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Delegate native base units to a validator
    Delegate {
        /// Key name of the delegator
        #[arg(long)]
        from: String,
        /// Key name or address of the validator
        #[arg(long)]
        validator: String,
        /// Native amount to delegate (base units with --base-units)
        #[arg(long)]
        amount: AmountArg,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Start unbonding part of a delegation (withdrawable after the unbonding period)
    Undelegate {
        #[arg(long)]
        from: String,
        #[arg(long)]
        validator: String,
        /// Native amount to undelegate (base units with --base-units)
        #[arg(long)]
        amount: AmountArg,
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
    /// List every validator: stake, self-bond, commission, committee
    /// membership in the current epoch, jailed
    Validators,
    /// Show the committee of an epoch (the current one by default)
    Committee {
        #[arg(long)]
        epoch: Option<u64>,
    },
    /// Show the current epoch and the staking parameters
    Epoch,
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
            send_action(ctx.client, &key, Action::Stake(Box::new(action)), &opts).await
        }
    };
    let address = |name: &str| resolve_address(ctx.keys_dir, name);
    match cmd {
        StakeCommand::CreateValidator {
            from,
            p2p_address,
            commission_bps,
            self_bond,
            send: opts,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let self_bond = ctx.base_units(&self_bond, AssetId::NATIVE).await?;
            send(
                &from,
                registration(&key, p2p_address, commission_bps, self_bond)?,
                opts,
            )
            .await
        }
        StakeCommand::Unjail { from, send: opts } => {
            send(&from, StakeAction::Unjail {}, opts).await
        }
        StakeCommand::EditValidator {
            from,
            p2p_address,
            commission_bps,
            send: opts,
        } => {
            let action = StakeAction::EditValidator {
                p2p_address,
                commission_bps,
            };
            send(&from, action, opts).await
        }
        StakeCommand::Redelegate {
            from,
            from_validator,
            to_validator,
            amount,
            send: opts,
        } => {
            let action = StakeAction::Redelegate {
                from: address(&from_validator)?,
                to: address(&to_validator)?,
                amount: ctx.base_units(&amount, AssetId::NATIVE).await?,
            };
            send(&from, action, opts).await
        }
        StakeCommand::Delegate {
            from,
            validator,
            amount,
            send: opts,
        } => {
            let validator = address(&validator)?;
            let amount = ctx.base_units(&amount, AssetId::NATIVE).await?;
            send(&from, StakeAction::Delegate { validator, amount }, opts).await
        }
        StakeCommand::Undelegate {
            from,
            validator,
            amount,
            send: opts,
        } => {
            let validator = address(&validator)?;
            let amount = ctx.base_units(&amount, AssetId::NATIVE).await?;
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
            let (answer, mut out) = query_typed_output::<ValidatorsAnswer>(
                ctx.client,
                "stake",
                "validators",
                json!({}),
            )
            .await?;
            out.text = validators_table(&answer);
            Ok(out)
        }
        StakeCommand::Committee { epoch } => {
            let params = match epoch {
                Some(epoch) => json!({ "epoch": epoch }),
                None => json!({}),
            };
            query_output(ctx.client, "stake", "committee", params).await
        }
        StakeCommand::Epoch => query_output(ctx.client, "stake", "epoch", json!({})).await,
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

/// The `create_validator` action of the validator whose identity is `key`:
/// its consensus key derived from it, with the proof of possession.
fn registration(
    key: &PrivateKey,
    p2p_address: SocketAddr,
    commission_bps: u16,
    self_bond: u128,
) -> anyhow::Result<StakeAction> {
    let secret = derive_consensus_key(key);
    let consensus_key = ConsensusKeyBytes::of(&consensus_public_key(&secret))
        .ok_or_else(|| anyhow::anyhow!("consensus key is not 48 bytes"))?;
    let proof_of_possession = PopBytes::of(&prove_possession(&secret, &key.public_key()))
        .ok_or_else(|| anyhow::anyhow!("proof of possession is not 96 bytes"))?;
    Ok(StakeAction::CreateValidator {
        consensus_key,
        proof_of_possession,
        p2p_address,
        commission_bps,
        self_bond,
    })
}

/// `tombstoned`, `jailed` (with the height `unjail` is accepted from) or
/// `active`.
fn status(v: &lakh_types::modules::stake::query::ValidatorSummary) -> String {
    match (
        v.slashing.tombstoned,
        v.jailed,
        v.slashing.jailed_until_height,
    ) {
        (true, _, _) => "tombstoned".into(),
        (false, true, Some(until)) => format!("jailed<{until}"),
        (false, true, None) => "jailed".into(),
        (false, false, _) => "active".into(),
    }
}

/// The validators as a table, the committee members marked.
fn validators_table(a: &ValidatorsAnswer) -> String {
    let mut text = format!(
        "epoch {} (height {}), {} validators, {} in the committee\n",
        a.epoch,
        a.height,
        a.validators.len(),
        a.validators.iter().filter(|v| v.in_committee).count()
    );
    let _ = writeln!(
        text,
        "{:<64}  {:>24}  {:>24}  {:>10}  {:<9}  {:<10}  {:>15}  {:>20}  p2p",
        "address",
        "stake",
        "self_bond",
        "commission",
        "committee",
        "status",
        "signed/missed",
        "slashed"
    );
    for v in &a.validators {
        let _ = writeln!(
            text,
            "{:<64}  {:>24}  {:>24}  {:>10}  {:<9}  {:<10}  {:>15}  {:>20}  {}",
            v.address,
            v.stake,
            v.self_bond,
            v.commission_bps,
            if v.in_committee { "yes" } else { "no" },
            status(v),
            format!("{}/{}", v.signed_rounds, v.missed_rounds),
            v.slashing.total_slashed,
            v.p2p_address
        );
    }
    text
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
        assert!(
            matches!(cli.cmd, StakeCommand::Delegate { ref amount, .. } if amount.to_string() == "5")
        );
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
            vec!["stake", "epoch"],
            vec!["stake", "committee", "--epoch", "3"],
            vec![
                "stake",
                "edit-validator",
                "--from",
                "v",
                "--p2p-address",
                "10.0.0.1:3000",
            ],
            vec![
                "stake",
                "redelegate",
                "--from",
                "a",
                "--from-validator",
                "v",
                "--to-validator",
                "w",
                "--amount",
                "9",
            ],
        ] {
            Cli::try_parse_from(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        }
        assert!(Cli::try_parse_from(["stake", "delegate", "--from", "a"]).is_err());
        let cli = Cli::try_parse_from([
            "stake",
            "create-validator",
            "--from",
            "carol",
            "--p2p-address",
            "127.0.0.1:3007",
            "--commission-bps",
            "500",
            "--self-bond",
            "1000",
        ])
        .unwrap();
        assert!(matches!(
            cli.cmd,
            StakeCommand::CreateValidator {
                commission_bps: 500,
                ref self_bond,
                ..
            } if self_bond.to_string() == "1000"
        ));
        assert!(
            Cli::try_parse_from([
                "stake",
                "create-validator",
                "--from",
                "c",
                "--p2p-address",
                "not-an-address",
                "--commission-bps",
                "1",
                "--self-bond",
                "1"
            ])
            .is_err()
        );
    }

    #[test]
    fn registration_proves_the_derived_key_for_the_sender() {
        let key = PrivateKey::from_seed(7);
        let action = registration(&key, "127.0.0.1:1".parse().unwrap(), 5, 9).unwrap();
        let StakeAction::CreateValidator {
            consensus_key,
            proof_of_possession,
            ..
        } = action
        else {
            panic!("not a registration");
        };
        lakh_types::consensus_key::verify_possession(
            &consensus_key.parse().unwrap(),
            &key.public_key(),
            &proof_of_possession.parse().unwrap(),
        )
        .unwrap();
        // Not for anyone else.
        assert!(
            lakh_types::consensus_key::verify_possession(
                &consensus_key.parse().unwrap(),
                &PrivateKey::from_seed(8).public_key(),
                &proof_of_possession.parse().unwrap(),
            )
            .is_err()
        );
    }
}
