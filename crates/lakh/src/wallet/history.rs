//! `lakh wallet history`: an account's finalized transactions, newest first,
//! each with its height, id, status, what it did and what it moved in and
//! out of the account.

use super::{Ctx, Output};
use lakh_rpc::AccountTxsPage;
use lakh_types::{Address, AssetId, Event, Receipt, TxStatus};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One page of `address`'s history.
pub(super) async fn show(
    ctx: &Ctx<'_>,
    address: Address,
    cursor: Option<u64>,
    limit: u32,
) -> anyhow::Result<Output> {
    let page = ctx.client.account_txs(address, cursor, Some(limit)).await?;
    let text = page_text(ctx, &page).await?;
    Ok(Output::ok(serde_json::to_value(&page)?, text))
}

async fn page_text(ctx: &Ctx<'_>, page: &AccountTxsPage) -> anyhow::Result<String> {
    let mut text = format!(
        "account {}: {} transactions, newest first\n",
        page.address, page.total
    );
    for tx in &page.transactions {
        let r = &tx.receipt;
        let status = match r.status {
            TxStatus::Success => "ok",
            TxStatus::Failed { .. } => "failed",
        };
        let _ = writeln!(
            text,
            "height {:<8} {}  {status:<6}  {}",
            r.height,
            r.tx_id,
            describe(r, &page.address)
        );
        let mut moved = Vec::new();
        for (asset, change) in balance_changes(r, &page.address) {
            let shown = ctx
                .units
                .show(ctx.client, change.unsigned_abs(), asset)
                .await?;
            moved.push(format!("{}{shown}", if change < 0 { "-" } else { "+" }));
        }
        if !moved.is_empty() {
            let _ = writeln!(text, "       {}", moved.join("  "));
        }
    }
    if let Some(next) = page.next_cursor {
        let _ = writeln!(text, "older: --cursor {next}");
    }
    Ok(text)
}

/// What the transaction did, in a few words, from `account`'s side.
pub(super) fn describe(r: &Receipt, account: &Address) -> String {
    if let TxStatus::Failed { error } = &r.status {
        return error.to_string();
    }
    let mut modules: Vec<String> = r.events.iter().filter_map(module_event).collect();
    modules.dedup();
    if !modules.is_empty() {
        return modules.join(", ");
    }
    let created = r.events.iter().find_map(|e| match e {
        Event::AssetCreated { symbol, .. } => Some(symbol.to_string()),
        _ => None,
    });
    if let Some(symbol) = created {
        return format!("created asset {symbol}");
    }
    let minted = r.events.iter().any(|e| matches!(e, Event::Minted { .. }));
    match (minted, r.sender == *account) {
        (true, _) => "mint".into(),
        (false, true) => match transfer_targets(r).as_slice() {
            [] => "no transfer".into(),
            [to] => format!("sent to {to}"),
            many => format!("sent to {} accounts", many.len()),
        },
        (false, false) => format!("received from {}", r.sender),
    }
}

/// `module action` of a module's event (`dex Swapped`).
fn module_event(event: &Event) -> Option<String> {
    let (module, name) = match event {
        Event::Dex(e) => ("dex", e.variant_name()),
        Event::Book(e) => ("book", e.variant_name()),
        Event::Oracle(e) => ("oracle", e.variant_name()),
        Event::Lend(e) => ("lend", e.variant_name()),
        Event::Stake(e) => ("stake", e.variant_name()),
        Event::Farm(e) => ("farm", e.variant_name()),
        Event::Cover(e) => ("cover", e.variant_name()),
        Event::Nft(e) => ("nft", e.variant_name()),
        _ => return None,
    };
    Some(format!("{module} {name}"))
}

/// The distinct accounts the sender's transfers credit.
fn transfer_targets(r: &Receipt) -> Vec<Address> {
    let mut targets: Vec<Address> = r
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Transfer { from, to, .. } if *from == r.sender => Some(*to),
            _ => None,
        })
        .collect();
    targets.sort();
    targets.dedup();
    targets
}

/// Net change of each asset of `account` by the receipt's events, the fee
/// included when it sent the transaction (base units; sums saturate).
pub(super) fn balance_changes(r: &Receipt, account: &Address) -> Vec<(AssetId, i128)> {
    let mut changes: BTreeMap<AssetId, i128> = BTreeMap::new();
    let mut add = |asset: AssetId, amount: u128, credit: bool| {
        let amount = i128::try_from(amount).unwrap_or(i128::MAX);
        let entry = changes.entry(asset).or_default();
        *entry = if credit {
            entry.saturating_add(amount)
        } else {
            entry.saturating_sub(amount)
        };
    };
    if r.sender == *account {
        add(AssetId::NATIVE, r.fee_paid, false);
    }
    for event in &r.events {
        match event {
            Event::Transfer {
                asset,
                from,
                to,
                amount,
            } => {
                if from == account {
                    add(*asset, *amount, false);
                }
                if to == account {
                    add(*asset, *amount, true);
                }
            }
            Event::Minted { asset, to, amount } if to == account => add(*asset, *amount, true),
            Event::Burned {
                asset,
                from,
                amount,
            } if from == account => add(*asset, *amount, false),
            _ => {}
        }
    }
    changes.into_iter().filter(|(_, c)| *c != 0).collect()
}
