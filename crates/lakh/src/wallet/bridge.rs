//! `lakh wallet bridge`: deposit on L1, withdraw on lakh, follow each
//! withdrawal to L1 and have it paid.
//!
//! The L1 flags (`--l1-rpc`, `--l1-key`, `--bridge`) default to the
//! devnet's (`l1.json` next to the keys directory, written by `lakh devnet
//! --l1`).

use super::{Ctx, Output, SendOpts, query_answer, send_action};
use crate::bridge::{DevnetL1, L1Addr, parse_l1_address, posted_headers};
use crate::keys::{load_key, resolve_address};
use alloy::primitives::{B256, U256};
use alloy::providers::Provider as _;
use anyhow::{Context as _, bail};
use lakh_l1::L1Provider;
use lakh_l1::contracts::{LakhBridge, TestToken};
use lakh_types::committee::FixedBytes;
use lakh_types::decimal::{format_units, parse_units};
use lakh_types::modules::bridge::query::{StatusAnswer, WithdrawalAnswer, WrappedAnswer};
use lakh_types::modules::bridge::{BridgeAction, ETHER, WITHDRAWAL_TREE_DEPTH};
use lakh_types::{Action, Address};
use serde::Serialize;
use serde_json::json;
use std::fmt::Write as _;

/// Most withdrawals `status` lists (the latest ones).
const LISTED_WITHDRAWALS: u64 = 50;

/// Where L1 is and who signs there.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct L1Opts {
    /// L1 JSON-RPC URL [default: the devnet's]
    #[arg(long)]
    pub l1_rpc: Option<String>,
    /// Hex private key that signs on L1 [default: the devnet's funded anvil key]
    #[arg(long)]
    pub l1_key: Option<String>,
    /// The L1 bridge contract [default: the devnet's]
    #[arg(long)]
    pub bridge: Option<String>,
}

#[derive(clap::Subcommand, Debug)]
pub enum BridgeCommand {
    /// Escrow ether (or an allowlisted ERC-20 with --token: approve, then
    /// deposit) in the L1 bridge; the wrapped asset reaches the recipient on
    /// lakh once L1 finalizes the deposit's block
    Deposit {
        /// Amount in the token's units (`1.5`), or base units with --base-units
        amount: super::units::AmountArg,
        /// The L1 token [default: ether]
        #[arg(long)]
        token: Option<String>,
        /// Key name or address of the lakh recipient
        #[arg(long)]
        to: String,
        #[command(flatten)]
        l1: L1Opts,
    },
    /// Burn a wrapped asset on lakh and have the L1 bridge pay it to an L1
    /// address (after the relayer posts a header and the challenge window ends)
    Withdraw {
        /// Amount in the asset's units, or base units with --base-units
        amount: super::units::AmountArg,
        /// The wrapped asset (symbol or id, e.g. WETH)
        asset: String,
        /// Key name of the lakh sender
        #[arg(long)]
        from: String,
        /// The L1 address paid (0x and 40 hex characters)
        #[arg(long)]
        to: String,
        #[command(flatten)]
        send: SendOpts,
    },
    /// The bridge on both sides: deposits applied, withdrawals and each
    /// one's state (pending on lakh, posted, payable, paid), escrow on L1
    Status {
        #[command(flatten)]
        l1: L1Opts,
        /// Show the lakh side only (do not read L1)
        #[arg(long)]
        lakh_only: bool,
    },
    /// Have withdrawal INDEX paid on L1: prove it against a posted header
    /// and call the bridge's finalizeWithdrawal
    Finalize {
        index: u64,
        #[command(flatten)]
        l1: L1Opts,
    },
}

/// The L1 settings in use.
struct L1 {
    url: String,
    key: String,
    bridge: L1Addr,
}

impl L1 {
    fn resolve(ctx: &Ctx<'_>, opts: &L1Opts) -> anyhow::Result<L1> {
        let devnet = || {
            let dir = ctx
                .keys_dir
                .parent()
                .context("the keys directory has no parent")?;
            DevnetL1::load(dir).context(
                "pass --l1-rpc, --l1-key and --bridge, or use the keys of a `lakh devnet --l1` (its l1.json)",
            )
        };
        let url = match &opts.l1_rpc {
            Some(u) => u.clone(),
            None => devnet()?.l1_rpc,
        };
        let key = match &opts.l1_key {
            Some(k) => k.clone(),
            None => devnet()?.l1_key,
        };
        let bridge = match &opts.bridge {
            Some(b) => parse_l1_address(b)?,
            None => parse_l1_address(&devnet()?.bridge)?,
        };
        Ok(L1 { url, key, bridge })
    }

    fn provider(&self) -> anyhow::Result<L1Provider> {
        lakh_l1::provider(&self.url, &self.key)
    }
}

/// The reason in a reverted bridge call, in words where it has them.
fn refusal(error: &alloy::contract::Error, now_seconds: u64) -> String {
    use LakhBridge::LakhBridgeErrors as E;
    match error.as_decoded_interface_error::<E>() {
        Some(E::ChallengeWindowOpen(e)) => {
            let ready: u64 = e.readyAt.try_into().unwrap_or(u64::MAX);
            format!(
                "the challenge window of its header is still open: payable at L1 time {ready} ({} s from now)",
                ready.saturating_sub(now_seconds)
            )
        }
        Some(E::AlreadyWithdrawn(e)) => format!("withdrawal {} was already paid", e.index),
        Some(E::HeaderNotPosted(e)) => format!("header {} is not posted", e.digest),
        Some(E::IndexNotCovered(e)) => format!(
            "the header covers {} withdrawals, not index {}",
            e.withdrawalCount, e.index
        ),
        Some(E::Frozen(_)) => "the bridge is frozen (fraud evidence was reported)".into(),
        Some(E::Paused(_)) => "the bridge is paused by its guardian".into(),
        Some(other) => format!("{other:?}"),
        None => lakh_l1::contracts::revert_reason(error).unwrap_or_else(|| error.to_string()),
    }
}

async fn l1_now_seconds(provider: &L1Provider) -> anyhow::Result<u64> {
    Ok(provider
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await?
        .context("L1 has no latest block")?
        .header
        .timestamp)
}

pub async fn run(ctx: &Ctx<'_>, cmd: BridgeCommand) -> anyhow::Result<Output> {
    match cmd {
        BridgeCommand::Deposit {
            amount,
            token,
            to,
            l1,
        } => {
            let l1 = L1::resolve(ctx, &l1)?;
            let token = match token {
                Some(t) => parse_l1_address(&t)?,
                None => L1Addr::from(ETHER.0),
            };
            let recipient = resolve_address(ctx.keys_dir, &to)?;
            deposit(ctx, &l1, token, &amount, recipient).await
        }
        BridgeCommand::Withdraw {
            amount,
            asset,
            from,
            to,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let asset = super::resolve_asset(ctx.client, &asset).await?;
            let l1_recipient = FixedBytes(parse_l1_address(&to)?.into_array());
            let amount = ctx.base_units(&amount, asset.id).await?;
            let before: StatusAnswer =
                query_answer(ctx.client, "bridge", "status", json!({})).await?;
            let action = Action::Bridge(BridgeAction::Withdraw {
                asset: asset.id,
                amount,
                l1_recipient,
            });
            let mut out = send_action(ctx.client, &key, action, &send).await?;
            if super::receipt_of(&out).is_some_and(|r| r.status.is_success()) {
                let after: StatusAnswer =
                    query_answer(ctx.client, "bridge", "status", json!({})).await?;
                if after.commitment.withdrawal_count > before.commitment.withdrawal_count {
                    let index = after.commitment.withdrawal_count - 1;
                    out.json["withdrawal_index"] = json!(index);
                    let _ = writeln!(
                        out.text,
                        "withdrawal {} ({} {}) to {to}: `lakh wallet bridge finalize {}` once a posted header covers it and its window is over",
                        index,
                        format_units(amount, asset.decimals),
                        asset.symbol,
                        index
                    );
                }
            }
            Ok(out)
        }
        BridgeCommand::Status { l1, lakh_only } => {
            let l1 = if lakh_only {
                None
            } else {
                Some(L1::resolve(ctx, &l1)?)
            };
            status(ctx, l1.as_ref()).await
        }
        BridgeCommand::Finalize { index, l1 } => {
            let l1 = L1::resolve(ctx, &l1)?;
            finalize(ctx, &l1, index).await
        }
    }
}

/// What `deposit` reports.
#[derive(Serialize)]
struct DepositOutput {
    l1_tx: String,
    l1_block: u64,
    /// The deposit's number on L1.
    count: u64,
    token: String,
    recipient: Address,
    #[serde(with = "lakh_types::amount")]
    amount: u128,
    gas_used: u64,
}

async fn deposit(
    ctx: &Ctx<'_>,
    l1: &L1,
    token: L1Addr,
    amount: &super::units::AmountArg,
    recipient: Address,
) -> anyhow::Result<Output> {
    let wrapped: WrappedAnswer = query_answer(
        ctx.client,
        "bridge",
        "wrapped",
        json!({"token": FixedBytes(token.into_array())}),
    )
    .await
    .with_context(|| format!("lakh does not bridge token {token}"))?;
    let decimals = if ctx.units.base_units {
        0
    } else {
        wrapped.decimals
    };
    let base = parse_units(&amount.to_string(), decimals).map_err(|e| anyhow::anyhow!("{e}"))?;
    let provider = l1.provider()?;
    let bridge = LakhBridge::new(l1.bridge, provider.clone());
    let to = B256::from(recipient.0);
    let mut gas_used = 0;
    let pending = if token == L1Addr::from(ETHER.0) {
        bridge.depositEth(to).value(U256::from(base)).send().await
    } else {
        let erc20 = TestToken::new(token, provider.clone());
        let approve = erc20
            .approve(l1.bridge, U256::from(base))
            .send()
            .await
            .context("approving the bridge")?
            .get_receipt()
            .await?;
        gas_used += approve.gas_used;
        bridge.deposit(token, U256::from(base), to).send().await
    };
    let now = l1_now_seconds(&provider).await?;
    let pending = pending
        .map_err(|e| anyhow::anyhow!("the bridge refused the deposit: {}", refusal(&e, now)))?;
    let receipt = pending.get_receipt().await?;
    if !receipt.status() {
        bail!(
            "the deposit reverted in L1 transaction {}",
            receipt.transaction_hash
        );
    }
    gas_used += receipt.gas_used;
    let count = receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| log.log_decode::<LakhBridge::Deposited>().ok())
        .map(|log| log.inner.data.count)
        .context("the deposit's receipt has no Deposited event")?;
    let out = DepositOutput {
        l1_tx: receipt.transaction_hash.to_string(),
        l1_block: receipt.block_number.unwrap_or_default(),
        count,
        token: token.to_string(),
        recipient,
        amount: base,
        gas_used,
    };
    let text = format!(
        "deposited {} {} on L1 (deposit {}, tx {}, block {}, gas {})\n{} receives them on lakh once L1 finalizes block {}\n",
        format_units(base, wrapped.decimals),
        wrapped.symbol,
        out.count,
        out.l1_tx,
        out.l1_block,
        out.gas_used,
        recipient,
        out.l1_block
    );
    Ok(Output::ok(serde_json::to_value(&out)?, text))
}

/// Where one withdrawal stands.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum WithdrawalState {
    /// No posted header covers it yet.
    PendingOnLakh,
    /// A posted header covers it; payable from `payable_at`.
    Posted,
    /// Its window is over: `finalize` pays it.
    Payable,
    /// The L1 bridge paid it.
    Paid,
    /// L1 was not read.
    Unknown,
}

#[derive(Serialize)]
struct WithdrawalLine {
    index: u64,
    symbol: String,
    #[serde(with = "lakh_types::amount")]
    amount: u128,
    l1_recipient: String,
    appended_height: u64,
    state: WithdrawalState,
    /// L1 time (seconds) the first header covering it was posted.
    posted_at: Option<u64>,
    /// L1 time from which it is payable.
    payable_at: Option<u64>,
}

#[derive(Serialize)]
struct EscrowLine {
    symbol: String,
    token: String,
    /// Held by the L1 bridge.
    #[serde(with = "lakh_types::amount")]
    escrow: u128,
    /// Wrapped units on lakh.
    #[serde(with = "lakh_types::amount")]
    supply: u128,
    /// Withdrawn on lakh, not yet paid on L1.
    #[serde(with = "lakh_types::amount")]
    in_flight: u128,
}

#[derive(Serialize)]
struct L1Side {
    l1_now: u64,
    l1_deposit_count: u64,
    headers_posted: usize,
    latest_posted_height: Option<u64>,
    challenge_seconds: u64,
    escrow: Vec<EscrowLine>,
}

#[derive(Serialize)]
struct StatusOutput {
    lakh: StatusAnswer,
    withdrawals: Vec<WithdrawalLine>,
    l1: Option<L1Side>,
}

async fn status(ctx: &Ctx<'_>, l1: Option<&L1>) -> anyhow::Result<Output> {
    let lakh: StatusAnswer = query_answer(ctx.client, "bridge", "status", json!({})).await?;
    if !lakh.enabled {
        bail!("this chain has no bridge (its genesis has no bridge section)");
    }
    let c = &lakh.commitment;
    let first = c.withdrawal_count.saturating_sub(LISTED_WITHDRAWALS);
    let mut answers = Vec::new();
    for index in first..c.withdrawal_count {
        let w: WithdrawalAnswer = query_answer(
            ctx.client,
            "bridge",
            "withdrawal",
            json!({ "index": index }),
        )
        .await?;
        answers.push(w);
    }
    let symbol_of = |token: &FixedBytes<20>| {
        lakh.tokens
            .iter()
            .find(|t| t.token == *token)
            .map_or_else(|| format!("0x{}", token.to_hex()), |t| t.symbol.to_string())
    };
    let mut withdrawals: Vec<WithdrawalLine> = answers
        .iter()
        .map(|w| WithdrawalLine {
            index: w.leaf.index,
            symbol: symbol_of(&w.leaf.token),
            amount: w.leaf.amount,
            l1_recipient: L1Addr::from(w.leaf.l1_recipient.0).to_string(),
            appended_height: w.appended_height,
            state: WithdrawalState::Unknown,
            posted_at: None,
            payable_at: None,
        })
        .collect();
    let mut l1_side = None;
    if let Some(l1) = l1 {
        let provider = l1.provider()?;
        let bridge = LakhBridge::new(l1.bridge, provider.clone());
        let light_client = bridge.lightClient().call().await?;
        let challenge_seconds = bridge.challengeSeconds().call().await?;
        let headers = posted_headers(&provider, light_client).await?;
        let now = l1_now_seconds(&provider).await?;
        let mut unpaid: std::collections::BTreeMap<FixedBytes<20>, u128> = Default::default();
        for (line, w) in withdrawals.iter_mut().zip(&answers) {
            let posted_at = headers
                .iter()
                .filter(|(_, h)| h.withdrawalCount > line.index)
                .map(|(_, h)| h.postedAt)
                .min();
            line.posted_at = posted_at;
            line.payable_at = posted_at.map(|t| t + challenge_seconds);
            line.state = if bridge.spent(line.index).call().await? {
                WithdrawalState::Paid
            } else {
                *unpaid.entry(w.leaf.token).or_default() += w.leaf.amount;
                match line.payable_at {
                    None => WithdrawalState::PendingOnLakh,
                    Some(t) if now >= t => WithdrawalState::Payable,
                    Some(_) => WithdrawalState::Posted,
                }
            };
        }
        let mut escrow = Vec::new();
        for t in &lakh.tokens {
            let address = L1Addr::from(t.token.0);
            let held = if t.token == ETHER {
                provider.get_balance(l1.bridge).await?
            } else {
                TestToken::new(address, provider.clone())
                    .balanceOf(l1.bridge)
                    .call()
                    .await?
            };
            escrow.push(EscrowLine {
                symbol: t.symbol.to_string(),
                token: address.to_string(),
                escrow: held.try_into().unwrap_or(u128::MAX),
                supply: t.supply,
                in_flight: unpaid.get(&t.token).copied().unwrap_or(0),
            });
        }
        l1_side = Some(L1Side {
            l1_now: now,
            l1_deposit_count: bridge.depositCount().call().await?,
            headers_posted: headers.len(),
            latest_posted_height: headers.iter().map(|(_, h)| h.height).max(),
            challenge_seconds,
            escrow,
        });
    }
    let mut text = format!(
        "lakh height {}: bridged to L1 chain {} (bridge {})\ndeposits applied {}, withdrawals {}, withdrawal root {}\n",
        lakh.height,
        lakh.l1_chain_id,
        L1Addr::from(lakh.bridge_address.0),
        c.deposit_count,
        c.withdrawal_count,
        c.withdrawal_root
    );
    for t in &lakh.tokens {
        let _ = writeln!(
            text,
            "  {:<6} supply {} (asset {}, L1 token {})",
            t.symbol,
            format_units(t.supply, t.decimals),
            t.asset,
            L1Addr::from(t.token.0)
        );
    }
    if let Some(s) = &l1_side {
        let _ = writeln!(
            text,
            "L1 time {}: {} deposits, {} headers posted (latest block {}), challenge window {} s",
            s.l1_now,
            s.l1_deposit_count,
            s.headers_posted,
            s.latest_posted_height
                .map_or("none".to_string(), |h| h.to_string()),
            s.challenge_seconds
        );
        for e in &s.escrow {
            let decimals = lakh
                .tokens
                .iter()
                .find(|t| t.symbol.to_string() == e.symbol)
                .map_or(0, |t| t.decimals);
            let _ = writeln!(
                text,
                "  {:<6} escrow {} = supply {} + in flight {}",
                e.symbol,
                format_units(e.escrow, decimals),
                format_units(e.supply, decimals),
                format_units(e.in_flight, decimals)
            );
        }
    }
    for w in &withdrawals {
        let decimals = lakh
            .tokens
            .iter()
            .find(|t| t.symbol.to_string() == w.symbol)
            .map_or(0, |t| t.decimals);
        let state = match (&w.state, w.posted_at, w.payable_at) {
            (WithdrawalState::PendingOnLakh, _, _) => {
                "pending on lakh (no posted header covers it yet)".to_string()
            }
            (WithdrawalState::Posted, Some(p), Some(t)) => {
                format!("posted at L1 time {p}, payable after {t}")
            }
            (WithdrawalState::Payable, _, Some(t)) => format!("payable since L1 time {t}"),
            (WithdrawalState::Paid, _, _) => "paid".to_string(),
            _ => "unknown (L1 not read)".to_string(),
        };
        let _ = writeln!(
            text,
            "withdrawal {}: {} {} to {} (lakh block {}): {state}",
            w.index,
            format_units(w.amount, decimals),
            w.symbol,
            w.l1_recipient,
            w.appended_height
        );
    }
    withdrawals.sort_by_key(|w| w.index);
    let out = StatusOutput {
        lakh,
        withdrawals,
        l1: l1_side,
    };
    Ok(Output::ok(serde_json::to_value(&out)?, text))
}

/// What `finalize` reports.
#[derive(Serialize)]
struct FinalizeOutput {
    index: u64,
    header_digest: String,
    header_height: u64,
    l1_tx: String,
    gas_used: u64,
    #[serde(with = "lakh_types::amount")]
    amount: u128,
    l1_recipient: String,
}

async fn finalize(ctx: &Ctx<'_>, l1: &L1, index: u64) -> anyhow::Result<Output> {
    let w: WithdrawalAnswer = query_answer(
        ctx.client,
        "bridge",
        "withdrawal",
        json!({ "index": index }),
    )
    .await?;
    let provider = l1.provider()?;
    let bridge = LakhBridge::new(l1.bridge, provider.clone());
    if bridge.spent(index).call().await? {
        bail!("withdrawal {index} was already paid on L1; it is never paid twice");
    }
    let light_client = bridge.lightClient().call().await?;
    let headers = posted_headers(&provider, light_client).await?;
    let Some((digest, header)) = headers
        .iter()
        .rev()
        .find(|(_, h)| h.withdrawalRoot.0 == w.root.0)
    else {
        bail!(
            "no header posted to the light client commits to withdrawal root {} (lakh block {} and after) yet; the relayer posts one shortly",
            w.root,
            w.height
        );
    };
    let leaf = &w.leaf;
    let withdrawal = lakh_l1::contracts::withdrawal(leaf);
    let siblings: [B256; WITHDRAWAL_TREE_DEPTH] = w.siblings.map(|s| B256::from(s.0));
    let call = bridge.finalizeWithdrawal(withdrawal, siblings, *digest);
    let now = l1_now_seconds(&provider).await?;
    if let Err(e) = call.call().await {
        bail!(
            "the bridge refuses withdrawal {index}: {}",
            refusal(&e, now)
        );
    }
    let receipt = call
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "the bridge refuses withdrawal {index}: {}",
                refusal(&e, now)
            )
        })?
        .get_receipt()
        .await?;
    if !receipt.status() {
        bail!(
            "finalizeWithdrawal reverted in L1 transaction {}",
            receipt.transaction_hash
        );
    }
    let out = FinalizeOutput {
        index,
        header_digest: digest.to_string(),
        header_height: header.height,
        l1_tx: receipt.transaction_hash.to_string(),
        gas_used: receipt.gas_used,
        amount: leaf.amount,
        l1_recipient: L1Addr::from(leaf.l1_recipient.0).to_string(),
    };
    let text = format!(
        "paid withdrawal {index}: {} base units to {} (proven against lakh block {}, tx {}, gas {})\n",
        out.amount, out.l1_recipient, out.header_height, out.l1_tx, out.gas_used
    );
    Ok(Output::ok(serde_json::to_value(&out)?, text))
}
