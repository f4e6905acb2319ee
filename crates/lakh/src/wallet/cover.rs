//! `lakh wallet cover`: insurance pools. Providers deposit capital, buyers
//! pay premiums for cover on a pool's named risks, cover holders file claims
//! that staked assessors vote on, anyone resolves a claim after its vote.
//!
//! Parametric products pay without a claim: `products` lists them, `buy
//! --product` buys one, `payouts` shows what an account was paid when a
//! trigger fired.
//!
//! Sending commands fill in what the action must name (the pool's assets, a
//! claim's cover and claimant) from the node's state, wait for finality and
//! print the receipt, plus the id of a new cover or claim.

use super::{Ctx, Output, SendOpts, query_answer, query_output, resolve_asset, send_action};
use crate::keys::{load_key, resolve_address};
use anyhow::{Context, bail};
use lakh_rpc::LakhClient;
use lakh_types::codec::{BoundedVec, Text};
use lakh_types::modules::cover::query::{
    ClaimAnswer, CoverAnswer, PoolAnswer, PositionAnswer, ProductsAnswer, QuoteAnswer,
};
use lakh_types::modules::cover::{
    ClaimId, CoverAction, CoverEvent, CoverId, MAX_RISKS, PoolId, PoolParams, ProductId,
    ProductParams, RiskName,
};
use lakh_types::{Action, Address, AssetId, Event, PrivateKey};
use serde_json::json;
use std::fmt::Write as _;

#[derive(clap::Subcommand, Debug)]
pub enum CoverCommand {
    /// Create a cover pool (the chain admin only)
    CreatePool {
        #[arg(long)]
        from: String,
        /// Id of the new pool
        #[arg(long)]
        pool: PoolId,
        /// Asset providers deposit, premiums and claims are paid in (symbol or id)
        #[arg(long)]
        capital_asset: String,
        /// Asset assessors stake (symbol or id)
        #[arg(long)]
        stake_asset: String,
        /// Most exposure as a fraction of capital, basis points (1..=10000)
        #[arg(long, default_value_t = 8_000)]
        capacity_bps: u32,
        /// Premium rate per block at zero utilization, 1e18 = 100% per block
        #[arg(long)]
        base_rate: u128,
        /// Rate per block added at full utilization, 1e18 = 100% per block
        #[arg(long)]
        slope_rate: u128,
        /// Blocks assessors may vote on a claim
        #[arg(long)]
        voting_period_blocks: u64,
        /// Least total stake voting for a claim to be decided
        #[arg(long)]
        quorum: u128,
        /// Shortest cover period (blocks)
        #[arg(long)]
        min_period_blocks: u64,
        /// Longest cover period (blocks)
        #[arg(long)]
        max_period_blocks: u64,
        /// A covered risk, e.g. dex:ETH/USDC (repeat for several)
        #[arg(long = "risk", required = true)]
        risks: Vec<String>,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Deposit capital into a pool for shares
    Provide {
        #[arg(long)]
        from: String,
        #[arg(long)]
        pool: PoolId,
        /// Base units of the pool's capital asset
        #[arg(long)]
        amount: u128,
        /// Least shares to accept
        #[arg(long, default_value_t = 0)]
        min_shares: u128,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Withdraw capital not locked by cover: give --shares, or --amount to
    /// burn the shares worth at least that much now
    Withdraw {
        #[arg(long)]
        from: String,
        #[arg(long)]
        pool: PoolId,
        /// Shares to burn
        #[arg(long, conflicts_with = "amount", required_unless_present = "amount")]
        shares: Option<u128>,
        /// Base units of capital to receive (at least)
        #[arg(long)]
        amount: Option<u128>,
        /// Least capital to accept [default: --amount, else 0]
        #[arg(long)]
        min_amount: Option<u128>,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Buy cover on a risk of a pool, or on a parametric product
    Buy {
        #[arg(long)]
        from: String,
        #[arg(long, required_unless_present = "product", conflicts_with = "product")]
        pool: Option<PoolId>,
        /// The risk, e.g. dex:ETH/USDC
        #[arg(long, required_unless_present = "product", conflicts_with = "product")]
        risk: Option<String>,
        /// A parametric product (see `products`): pays when its trigger fires
        #[arg(long)]
        product: Option<ProductId>,
        /// Amount covered (base units of the capital asset)
        #[arg(long)]
        amount: u128,
        /// Blocks of cover
        #[arg(long)]
        blocks: u64,
        /// Most premium to pay [default: the current quote]
        #[arg(long)]
        max_premium: Option<u128>,
        #[command(flatten)]
        send: SendOpts,
    },
    /// File a claim on your cover
    Claim {
        #[arg(long)]
        from: String,
        #[arg(long)]
        cover: CoverId,
        /// Amount claimed (at most what is left of the cover)
        #[arg(long)]
        amount: u128,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Stake the pool's assessor asset to vote on claims
    StakeAssessor {
        #[arg(long)]
        from: String,
        #[arg(long)]
        pool: PoolId,
        #[arg(long)]
        amount: u128,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Take back assessor stake no vote locks
    UnstakeAssessor {
        #[arg(long)]
        from: String,
        #[arg(long)]
        pool: PoolId,
        #[arg(long)]
        amount: u128,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Vote on an open claim with your whole stake
    Vote {
        #[arg(long)]
        from: String,
        #[arg(long)]
        claim: ClaimId,
        /// Vote to pay the claim
        #[arg(long, conflicts_with = "deny", required_unless_present = "deny")]
        approve: bool,
        /// Vote to refuse the claim
        #[arg(long)]
        deny: bool,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Settle a claim whose voting period is over (anyone may)
    Resolve {
        #[arg(long)]
        from: String,
        #[arg(long)]
        claim: ClaimId,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Show a pool: capital, exposure, capacity, utilization, share value
    Pool {
        #[arg(long)]
        pool: PoolId,
        /// With --blocks: also quote cover of this amount
        #[arg(long, requires = "blocks")]
        amount: Option<u128>,
        #[arg(long, requires = "amount")]
        blocks: Option<u64>,
    },
    /// Price cover of an amount for a number of blocks
    Quote {
        #[arg(long)]
        pool: PoolId,
        #[arg(long)]
        amount: u128,
        #[arg(long)]
        blocks: u64,
        #[arg(long)]
        risk: Option<String>,
    },
    /// Show a cover
    Info {
        #[arg(long)]
        cover: CoverId,
    },
    /// Show a claim: votes, quorum, status
    ClaimInfo {
        #[arg(long)]
        claim: ClaimId,
        /// Also show this account's vote (key name or address)
        #[arg(long)]
        voter: Option<String>,
    },
    /// Show a provider's shares and what they withdraw now
    Position {
        #[arg(long)]
        pool: PoolId,
        /// Key name or address
        #[arg(long)]
        owner: String,
    },
    /// Show an assessor's stake and lock
    Assessor {
        #[arg(long)]
        pool: PoolId,
        /// Key name or address
        #[arg(long)]
        owner: String,
    },
    /// List the parametric products: trigger, terms, what their trigger saw
    Products,
    /// Show the automatic payouts an account received from parametric cover
    Payouts {
        /// Key name or address
        #[arg(long)]
        account: String,
    },
}

pub(crate) async fn run(ctx: &Ctx<'_>, cmd: CoverCommand) -> anyhow::Result<Output> {
    let client = ctx.client;
    match cmd {
        CoverCommand::CreatePool {
            from,
            pool,
            capital_asset,
            stake_asset,
            capacity_bps,
            base_rate,
            slope_rate,
            voting_period_blocks,
            quorum,
            min_period_blocks,
            max_period_blocks,
            risks,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let capital_asset = resolve_asset(client, &capital_asset).await?.id;
            let stake_asset = resolve_asset(client, &stake_asset).await?.id;
            let risks = risks
                .iter()
                .map(|r| parse_risk(r))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let count = risks.len();
            let risks = BoundedVec::new(risks)
                .with_context(|| format!("{count} risks, a pool covers at most {MAX_RISKS}"))?;
            let params = PoolParams {
                capital_asset,
                stake_asset,
                capacity_bps,
                base_rate,
                slope_rate,
                voting_period_blocks,
                quorum,
                min_period_blocks,
                max_period_blocks,
                risks,
            };
            lakh_types::modules::cover::validate_params(&params).map_err(anyhow::Error::msg)?;
            send_cover(ctx, &key, CoverAction::CreatePool { pool, params }, &send).await
        }
        CoverCommand::Provide {
            from,
            pool,
            amount,
            min_shares,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let (asset, _) = pool_assets(client, pool).await?;
            let action = CoverAction::Provide {
                pool,
                asset,
                amount,
                min_shares,
            };
            send_cover(ctx, &key, action, &send).await
        }
        CoverCommand::Withdraw {
            from,
            pool,
            shares,
            amount,
            min_amount,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let owner = address_of(&key);
            let (asset, _) = pool_assets(client, pool).await?;
            let (shares, min_amount) = match (shares, amount) {
                (Some(shares), _) => (shares, min_amount.unwrap_or(0)),
                (None, Some(amount)) => {
                    let shares = shares_for_amount(client, pool, owner, amount).await?;
                    (shares, min_amount.unwrap_or(amount))
                }
                (None, None) => bail!("give --shares or --amount"),
            };
            let action = CoverAction::Withdraw {
                pool,
                asset,
                shares,
                min_amount,
            };
            send_cover(ctx, &key, action, &send).await
        }
        CoverCommand::Buy {
            from,
            pool,
            risk,
            product,
            amount,
            blocks,
            max_premium,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let target = match (product, pool, risk) {
                (Some(product), _, _) => Target::Product(product_terms(client, product).await?),
                (None, Some(pool), Some(risk)) => Target::Risk(pool, parse_risk(&risk)?),
                _ => bail!("give --product, or --pool and --risk"),
            };
            let (pool, asset) = match &target {
                Target::Product(p) => (p.pool, p.asset),
                Target::Risk(pool, _) => (*pool, pool_assets(client, *pool).await?.0),
            };
            let max_premium = match max_premium {
                Some(m) => m,
                None => quoted_premium(client, pool, amount, blocks, &target).await?,
            };
            let action = match target {
                Target::Product(p) => CoverAction::BuyProduct {
                    product: product.unwrap_or_default(),
                    pool: p.pool,
                    asset,
                    amount,
                    blocks,
                    max_premium,
                },
                Target::Risk(pool, risk) => CoverAction::Buy {
                    pool,
                    asset,
                    risk,
                    amount,
                    blocks,
                    max_premium,
                },
            };
            send_cover(ctx, &key, action, &send).await
        }
        CoverCommand::Claim {
            from,
            cover,
            amount,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let info: CoverAnswer =
                query_answer(client, "cover", "cover", json!({ "cover": cover })).await?;
            let pool = info.cover.pool;
            let action = CoverAction::FileClaim {
                pool,
                cover,
                amount,
            };
            send_cover(ctx, &key, action, &send).await
        }
        CoverCommand::StakeAssessor {
            from,
            pool,
            amount,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let (_, asset) = pool_assets(client, pool).await?;
            let action = CoverAction::StakeAssessor {
                pool,
                asset,
                amount,
            };
            send_cover(ctx, &key, action, &send).await
        }
        CoverCommand::UnstakeAssessor {
            from,
            pool,
            amount,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let (_, asset) = pool_assets(client, pool).await?;
            let action = CoverAction::UnstakeAssessor {
                pool,
                asset,
                amount,
            };
            send_cover(ctx, &key, action, &send).await
        }
        CoverCommand::Vote {
            from,
            claim,
            approve,
            deny,
            send,
        } => {
            if approve == deny {
                bail!("give exactly one of --approve and --deny");
            }
            let key = load_key(ctx.keys_dir, &from)?;
            let info: ClaimAnswer =
                query_answer(client, "cover", "claim", json!({ "claim": claim })).await?;
            let pool = info.claim.pool;
            let action = CoverAction::Vote {
                pool,
                claim,
                approve,
            };
            send_cover(ctx, &key, action, &send).await
        }
        CoverCommand::Resolve { from, claim, send } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let info: ClaimAnswer =
                query_answer(client, "cover", "claim", json!({ "claim": claim })).await?;
            let (pool, cover, claimant) = (info.claim.pool, info.claim.cover, info.claim.claimant);
            let (asset, _) = pool_assets(client, pool).await?;
            let action = CoverAction::Resolve {
                pool,
                asset,
                cover,
                claim,
                claimant,
            };
            send_cover(ctx, &key, action, &send).await
        }
        CoverCommand::Pool {
            pool,
            amount,
            blocks,
        } => {
            let mut params = json!({ "pool": pool });
            if let (Some(amount), Some(blocks)) = (amount, blocks) {
                params["amount"] = json!(amount.to_string());
                params["blocks"] = json!(blocks);
            }
            query_output(client, "cover", "pool", params).await
        }
        CoverCommand::Quote {
            pool,
            amount,
            blocks,
            risk,
        } => {
            let mut params = json!({"pool": pool, "amount": amount.to_string(), "blocks": blocks});
            if let Some(risk) = risk {
                params["risk"] = json!(parse_risk(&risk)?);
            }
            query_output(client, "cover", "quote", params).await
        }
        CoverCommand::Info { cover } => {
            query_output(client, "cover", "cover", json!({ "cover": cover })).await
        }
        CoverCommand::ClaimInfo { claim, voter } => {
            let mut params = json!({ "claim": claim });
            if let Some(voter) = voter {
                params["voter"] = json!(resolve_address(ctx.keys_dir, &voter)?);
            }
            query_output(client, "cover", "claim", params).await
        }
        CoverCommand::Position { pool, owner } => {
            let owner = resolve_address(ctx.keys_dir, &owner)?;
            query_output(
                client,
                "cover",
                "position",
                json!({"pool": pool, "owner": owner}),
            )
            .await
        }
        CoverCommand::Products => query_output(client, "cover", "products", json!({})).await,
        CoverCommand::Payouts { account } => {
            let owner = resolve_address(ctx.keys_dir, &account)?;
            query_output(client, "cover", "payouts", json!({ "owner": owner })).await
        }
        CoverCommand::Assessor { pool, owner } => {
            let owner = resolve_address(ctx.keys_dir, &owner)?;
            query_output(
                client,
                "cover",
                "assessor",
                json!({"pool": pool, "owner": owner}),
            )
            .await
        }
    }
}

/// What a purchase covers: a pool's named risk or a parametric product.
enum Target {
    Risk(PoolId, RiskName),
    Product(ProductParams),
}

async fn product_terms(client: &LakhClient, product: ProductId) -> anyhow::Result<ProductParams> {
    let all: ProductsAnswer = query_answer(client, "cover", "products", json!({})).await?;
    all.products
        .into_iter()
        .find(|p| p.id == product)
        .map(|p| p.product.params)
        .with_context(|| format!("no parametric product {product}"))
}

/// The premium the pool quotes now (products are priced by their pool).
async fn quoted_premium(
    client: &LakhClient,
    pool: PoolId,
    amount: u128,
    blocks: u64,
    target: &Target,
) -> anyhow::Result<u128> {
    let mut params = json!({"pool": pool, "amount": amount.to_string(), "blocks": blocks});
    if let Target::Risk(_, risk) = target {
        params["risk"] = json!(risk);
    }
    let q: QuoteAnswer = query_answer(client, "cover", "quote", params).await?;
    match (q.ok, q.premium) {
        (true, Some(premium)) => Ok(premium),
        _ => bail!(
            "no quote: {}",
            q.message.as_deref().unwrap_or("unknown reason")
        ),
    }
}

fn parse_risk(s: &str) -> anyhow::Result<RiskName> {
    Text::new(s).with_context(|| format!("risk {s:?} is longer than 32 bytes"))
}

fn address_of(key: &PrivateKey) -> Address {
    use commonware_cryptography::Signer;
    Address::from(&key.public_key())
}

/// The pool's capital and stake assets.
async fn pool_assets(client: &LakhClient, pool: PoolId) -> anyhow::Result<(AssetId, AssetId)> {
    let info: PoolAnswer = query_answer(client, "cover", "pool", json!({ "pool": pool })).await?;
    Ok((info.params.capital_asset, info.params.stake_asset))
}

/// Shares whose withdrawal value is at least `amount` now:
/// `ceil(amount * total_shares / withdraw_value)`.
async fn shares_for_amount(
    client: &LakhClient,
    pool: PoolId,
    owner: Address,
    amount: u128,
) -> anyhow::Result<u128> {
    let p: PositionAnswer = query_answer(
        client,
        "cover",
        "position",
        json!({"pool": pool, "owner": owner}),
    )
    .await?;
    let (held, total, value) = (p.shares, p.total_shares, p.pool_withdraw_value);
    if value == 0 {
        bail!("pool {pool}'s shares are worth nothing to withdraw now");
    }
    let shares =
        lakh_types::math::mul_div_ceil(amount, total, value).context("amount too large")?;
    if shares > held {
        bail!("withdrawing {amount} needs {shares} shares, you hold {held}");
    }
    Ok(shares)
}

/// Sends a cover action and adds the id of a cover or claim it created.
async fn send_cover(
    ctx: &Ctx<'_>,
    key: &PrivateKey,
    action: CoverAction,
    send: &SendOpts,
) -> anyhow::Result<Output> {
    let mut out = send_action(ctx.client, key, Action::Cover(Box::new(action)), send).await?;
    annotate(&mut out);
    Ok(out)
}

/// Adds `cover_id` / `claim_id` (and a summary line) for the events of the
/// receipt in `out`.
fn annotate(out: &mut Output) {
    let Some(receipt) = super::receipt_of(out) else {
        return;
    };
    for event in &receipt.events {
        let Event::Cover(event) = event else {
            continue;
        };
        match event {
            CoverEvent::CoverBought {
                cover,
                premium,
                end_height,
                ..
            } => {
                out.json["cover_id"] = json!(cover);
                let _ = writeln!(
                    out.text,
                    "cover id    {cover} (premium {premium}, claims accepted until block {end_height})"
                );
            }
            CoverEvent::ClaimFiled {
                claim,
                vote_end_height,
                ..
            } => {
                out.json["claim_id"] = json!(claim);
                let _ = writeln!(
                    out.text,
                    "claim id    {claim} (voting until block {vote_end_height}, then resolve)"
                );
            }
            CoverEvent::ClaimResolved {
                claim,
                status,
                payout,
                ..
            } => {
                let _ = writeln!(out.text, "claim {claim} {status}, paid {payout}");
            }
            CoverEvent::Provided { shares, .. } => {
                let _ = writeln!(out.text, "shares      +{shares}");
            }
            CoverEvent::Withdrawn { shares, amount, .. } => {
                let _ = writeln!(out.text, "withdrawn   {amount} for {shares} shares");
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        cmd: CoverCommand,
    }

    fn parse(args: &str) -> Result<CoverCommand, clap::Error> {
        Cli::try_parse_from(std::iter::once("cover").chain(args.split_whitespace())).map(|c| c.cmd)
    }

    #[test]
    fn commands_parse_as_documented() {
        let cmd = parse(
            "create-pool --from admin --pool 1 --capital-asset USDC --stake-asset LAKH \
             --base-rate 1000 --slope-rate 5000 --voting-period-blocks 100 --quorum 1000 \
             --min-period-blocks 100 --max-period-blocks 10000 --risk dex:ETH/USDC --risk lend:USDC",
        )
        .unwrap();
        assert!(
            matches!(cmd, CoverCommand::CreatePool { capacity_bps: 8_000, ref risks, .. } if risks.len() == 2)
        );
        assert!(matches!(
            parse("buy --from alice --pool 1 --risk dex:ETH/USDC --amount 5 --blocks 9 --max-premium 3").unwrap(),
            CoverCommand::Buy { amount: 5, blocks: 9, max_premium: Some(3), .. }
        ));
        assert!(matches!(
            parse("withdraw --from alice --pool 1 --amount 7").unwrap(),
            CoverCommand::Withdraw {
                shares: None,
                amount: Some(7),
                ..
            }
        ));
        assert!(parse("withdraw --from alice --pool 1").is_err());
        assert!(parse("withdraw --from alice --pool 1 --amount 7 --shares 3").is_err());
        assert!(matches!(
            parse("vote --from bob --claim 42 --deny").unwrap(),
            CoverCommand::Vote {
                approve: false,
                deny: true,
                claim: 42,
                ..
            }
        ));
        assert!(parse("vote --from bob --claim 42").is_err());
        assert!(parse("vote --from bob --claim 42 --approve --deny").is_err());
        assert!(parse("pool --pool 1 --amount 5").is_err());
        assert!(parse("buy --from alice --pool 1 --amount 5 --blocks 9").is_err());
        assert!(parse("buy --from alice --product 0 --pool 1 --amount 5 --blocks 9").is_err());
        for ok in [
            "provide --from alice --pool 1 --amount 10",
            "claim --from alice --cover 77 --amount 10",
            "stake-assessor --from bob --pool 1 --amount 10",
            "unstake-assessor --from bob --pool 1 --amount 10",
            "resolve --from carol --claim 5",
            "pool --pool 1 --amount 5 --blocks 10",
            "quote --pool 1 --amount 5 --blocks 10 --risk dex:ETH/USDC",
            "info --cover 77",
            "claim-info --claim 5 --voter bob",
            "position --pool 1 --owner alice",
            "assessor --pool 1 --owner bob",
            "buy --from alice --product 0 --amount 5 --blocks 9",
            "products",
            "payouts --account alice",
        ] {
            parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn wide_ceiling_division() {
        use lakh_types::math::mul_div_ceil;
        assert_eq!(mul_div_ceil(10, 1, 3), Some(4));
        assert_eq!(mul_div_ceil(9, 1, 3), Some(3));
        assert_eq!(mul_div_ceil(u128::MAX, 6, 6), Some(u128::MAX));
        assert_eq!(mul_div_ceil(u128::MAX, 6, 5), None);
        assert!(parse_risk(&"x".repeat(33)).is_err());
    }

    #[test]
    fn receipts_gain_the_new_ids() {
        let receipt = lakh_types::Receipt {
            tx_id: lakh_types::TxId([1; 32]),
            sender: Address([2; 32]),
            nonce: 0,
            height: 3,
            index: 0,
            fee_paid: 1,
            status: lakh_types::TxStatus::Success,
            events: vec![Event::Cover(CoverEvent::CoverBought {
                pool: 1,
                cover: 99,
                holder: Address([2; 32]),
                risk: Text::new("dex:ETH/USDC").unwrap(),
                amount: 5,
                premium: 1,
                start_height: 3,
                end_height: 8,
            })],
        };
        let mut out = Output::ok(json!({ "receipt": receipt }), String::new());
        annotate(&mut out);
        assert_eq!(out.json["cover_id"], 99);
        assert!(out.text.contains("cover id    99"), "{}", out.text);
    }
}
