//! `lakh wallet shielded`: the shielded pool from a wallet. Each key name
//! gets its own shielded spending key on first use, kept in its store
//! ([`store`]); `sync` scans the chain's notes into it ([`sync`]); `send`
//! and `unshield` prove a 2-in-2-out spend from it ([`spend`]).
//!
//! A spend is signed by a public account, which the chain shows: `--relayer`
//! names another key to sign (and pay the native fee) so the spender's public
//! account appears nowhere; without it the spender's own account signs.

pub(crate) mod params;
pub(crate) mod spend;
pub(crate) mod store;
pub(crate) mod sync;

use super::units::AmountArg;
use super::{Ctx, Output, SendOpts, query_answer, receipt_of, resolve_asset, send_action};
use crate::keys::{load_key, resolve_address};
use anyhow::Context;
use commonware_cryptography::Signer;
use lakh_shielded::{Note, ShieldedAddress, ViewingKey, chain};
use lakh_types::modules::shielded::query::{CustodyAnswer, RootAnswer, VerifyingKeyAnswer};
use lakh_types::{Action, Address, AssetId};
use rand_chacha_ark::ChaCha20Rng;
use rand_chacha_ark::rand_core::SeedableRng;
use serde_json::json;
use spend::{Destination, SpendRequest};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use store::Store;

#[derive(clap::Subcommand, Debug)]
pub enum ShieldedCommand {
    /// Show a key's shielded address (its shielded key is made on first use)
    Address { key: String },
    /// Show a key's viewing key (hex): it sees the key's notes, cannot spend
    ViewKey { key: String },
    /// Scan the chain's notes up to the finalized head into the key's store
    Sync { key: String },
    /// An auditor's view: every note a viewing key decrypts (stores nothing)
    Scan {
        /// A viewing key as `view-key` prints it (192 hex digits)
        #[arg(long)]
        view_key: String,
    },
    /// A key's unspent shielded notes per asset, as of its last sync
    Balance { key: String },
    /// Move public funds into a note of your own shielded address
    Shield {
        /// Key name of the public sender (and owner of the note)
        #[arg(long)]
        from: String,
        /// Amount in the asset's units, or base units with --base-units
        #[arg(long)]
        amount: AmountArg,
        /// Asset symbol or id
        #[arg(long)]
        asset: String,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Pay a shielded address privately (change comes back to you)
    Send {
        /// Key name whose shielded notes are spent
        #[arg(long)]
        from: String,
        /// Shielded address (`lzs…`) or key name of the recipient
        #[arg(long)]
        to: String,
        #[arg(long)]
        amount: AmountArg,
        #[arg(long)]
        asset: String,
        #[command(flatten)]
        spend: SpendOpts,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Move shielded funds to a public account
    Unshield {
        /// Key name whose shielded notes are spent
        #[arg(long)]
        from: String,
        /// Key name or 64-hex-character address credited
        #[arg(long)]
        to: String,
        #[arg(long)]
        amount: AmountArg,
        #[arg(long)]
        asset: String,
        #[command(flatten)]
        spend: SpendOpts,
        #[command(flatten)]
        send: SendOpts,
    },
    /// The pool: note count, current root, custody of an asset
    Pool {
        #[arg(long)]
        asset: String,
    },
}

/// Who signs a spend and what it pays them.
#[derive(clap::Args, Debug, Clone)]
pub struct SpendOpts {
    /// Key name that signs and pays the native fee [default: the --from key,
    /// whose public account the chain then shows as the signer]
    #[arg(long)]
    pub relayer: Option<String>,
    /// Paid to the signer out of the shielded value, in the asset's units
    /// (above zero it reveals the asset) [default: 0]
    #[arg(long)]
    pub fee: Option<AmountArg>,
    /// Proving parameters file (a ceremony's `finalize` output; needed on a
    /// chain whose genesis carries its key) [default: the devnet's, derived
    /// once and cached in the keys directory]
    #[arg(long, value_name = "FILE")]
    pub params: Option<std::path::PathBuf>,
}

/// A fresh generator of the arkworks generation, seeded from the OS.
pub(crate) fn rng() -> ChaCha20Rng {
    ChaCha20Rng::from_seed(rand::random())
}

pub(crate) async fn run(ctx: &Ctx<'_>, cmd: ShieldedCommand) -> anyhow::Result<Output> {
    match cmd {
        ShieldedCommand::Address { key } => address(ctx, &key),
        ShieldedCommand::ViewKey { key } => view_key(ctx, &key),
        ShieldedCommand::Sync { key } => {
            let store = open(ctx, &key)?;
            let report = sync::sync(ctx.client, &store).await?;
            let text = format!(
                "synced {key} to height {} (head {}): notes scanned {}, pages {}, new for {key} {}, newly spent {}\n",
                report.synced_height,
                report.head_height,
                report.notes_scanned,
                report.pages,
                report.notes_found,
                report.notes_spent
            );
            let mut json = serde_json::to_value(&report)?;
            json["key"] = json!(key);
            Ok(Output::ok(json, text))
        }
        ShieldedCommand::Balance { key } => balance(ctx, &key).await,
        ShieldedCommand::Scan { view_key } => scan(ctx, &view_key).await,
        ShieldedCommand::Shield {
            from,
            amount,
            asset,
            send,
        } => shield(ctx, &from, &amount, &asset, &send).await,
        ShieldedCommand::Send {
            from,
            to,
            amount,
            asset,
            spend,
            send,
        } => {
            let to = Destination::Shielded(shielded_address(ctx, &to)?);
            spend_command(ctx, &from, to, (&amount, &asset), &spend, &send).await
        }
        ShieldedCommand::Unshield {
            from,
            to,
            amount,
            asset,
            spend,
            send,
        } => {
            let to = Destination::Public(resolve_address(ctx.keys_dir, &to)?);
            spend_command(ctx, &from, to, (&amount, &asset), &spend, &send).await
        }
        ShieldedCommand::Pool { asset } => pool(ctx, &asset).await,
    }
}

/// The store of key `name`, which must have a key file.
fn open(ctx: &Ctx<'_>, name: &str) -> anyhow::Result<Store> {
    load_key(ctx.keys_dir, name)?;
    Store::open(ctx.keys_dir, name)
}

fn address(ctx: &Ctx<'_>, key: &str) -> anyhow::Result<Output> {
    let store = open(ctx, key)?;
    let address = store.key().address().to_string();
    let text = format!("{key} shielded address\n{address}\n");
    let json = json!({"key": key, "address": address, "store": store.path()});
    Ok(Output::ok(json, text))
}

fn view_key(ctx: &Ctx<'_>, key: &str) -> anyhow::Result<Output> {
    let store = open(ctx, key)?;
    let vk = store.key().viewing_key();
    let hex = hex::encode(vk.to_bytes());
    let address = vk.address().to_string();
    let text = format!(
        "{key} viewing key (sees the notes sent to and from {key}'s shielded address; cannot spend)\n{hex}\n"
    );
    let json = json!({"key": key, "viewing_key": hex, "address": address});
    Ok(Output::ok(json, text))
}

async fn scan(ctx: &Ctx<'_>, view_key: &str) -> anyhow::Result<Output> {
    let bytes: [u8; 96] = hex::decode(view_key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .context("--view-key: a viewing key is 192 hex digits")?;
    let vk = ViewingKey::from_bytes(&bytes).map_err(|e| anyhow::anyhow!("--view-key: {e}"))?;
    let address = vk.address().to_string();
    let (head_height, seen) = sync::audit(ctx.client, &vk).await?;
    let mut text = format!(
        "notes of {address} up to height {head_height}: {}\n",
        seen.len()
    );
    for note in &seen {
        let shown = ctx
            .units
            .show(ctx.client, note.value as u128, note.asset)
            .await?;
        let to = note
            .recipient
            .as_deref()
            .map_or(String::new(), |r| format!(" to {r}"));
        let _ = writeln!(
            text,
            "  #{:<6} {:<8} {shown}{to}",
            note.position, note.direction
        );
    }
    let json = json!({"address": address, "head_height": head_height, "notes": seen});
    Ok(Output::ok(json, text))
}

/// `lzs…` as given, or a key name's shielded address.
fn shielded_address(ctx: &Ctx<'_>, to: &str) -> anyhow::Result<ShieldedAddress> {
    if to.starts_with("lzs") {
        return to.parse().map_err(|e| anyhow::anyhow!("--to {to:?}: {e}"));
    }
    Ok(open(ctx, to)
        .with_context(|| format!("--to {to:?} is neither a shielded address nor a key name"))?
        .key()
        .address())
}

/// Base units of `amount` of `asset`, which notes hold as a u64.
async fn note_units(ctx: &Ctx<'_>, amount: &AmountArg, asset: AssetId) -> anyhow::Result<u64> {
    let units = ctx.base_units(amount, asset).await?;
    u64::try_from(units)
        .map_err(|_| anyhow::anyhow!("{units} base units do not fit a note (at most 2^64 - 1)"))
}

async fn balance(ctx: &Ctx<'_>, key: &str) -> anyhow::Result<Output> {
    let store = open(ctx, key)?;
    let synced_height = store.synced_height()?;
    let mut per_asset: BTreeMap<AssetId, (u128, u64)> = BTreeMap::new();
    for owned in store.notes()?.iter().filter(|n| n.spent_height.is_none()) {
        let entry = per_asset.entry(owned.note.asset).or_default();
        entry.0 += owned.note.value as u128;
        entry.1 += 1;
    }
    let mut text = format!(
        "{key} shielded balance, synced to height {synced_height} (run `sync` for newer notes)\n"
    );
    if per_asset.is_empty() {
        text.push_str("no unspent notes\n");
    }
    let mut balances = Vec::new();
    for (asset, (amount, notes)) in per_asset {
        let shown = ctx.units.show(ctx.client, amount, asset).await?;
        let _ = writeln!(text, "{shown:>40}  unspent notes: {notes} (asset {asset})");
        let symbol = ctx.units.of(ctx.client, asset).await?.symbol;
        balances.push(
            json!({"asset": asset, "symbol": symbol, "amount": amount.to_string(), "notes": notes}),
        );
    }
    let json = json!({
        "key": key,
        "address": store.key().address().to_string(),
        "synced_height": synced_height,
        "balances": balances,
    });
    Ok(Output::ok(json, text))
}

async fn shield(
    ctx: &Ctx<'_>,
    from: &str,
    amount: &AmountArg,
    asset: &str,
    send: &SendOpts,
) -> anyhow::Result<Output> {
    let key = load_key(ctx.keys_dir, from)?;
    let store = Store::open(ctx.keys_dir, from)?;
    let asset = resolve_asset(ctx.client, asset).await?.id;
    let value = note_units(ctx, amount, asset).await?;
    let to = store.key().address();
    let mut rng = rng();
    let note = Note::new(asset, value, to.paying_key, &mut rng);
    let action = chain::shield_action(&note, &to, &mut rng)
        .map_err(|e| anyhow::anyhow!("cannot encrypt the note: {e}"))?;
    let mut out = send_action(ctx.client, &key, Action::Shielded(Box::new(action)), send).await?;
    out.json["shielded_address"] = json!(to.to_string());
    out.json["commitment"] = json!(hex::encode(note.commitment().to_bytes()));
    Ok(out)
}

/// Syncs, proves a spend of `from`'s notes, has the signer send it and
/// records the spent notes once it is final.
async fn spend_command(
    ctx: &Ctx<'_>,
    from: &str,
    to: Destination,
    (amount, asset): (&AmountArg, &str),
    opts: &SpendOpts,
    send: &SendOpts,
) -> anyhow::Result<Output> {
    let store = open(ctx, from)?;
    let signer_name = opts.relayer.as_deref().unwrap_or(from);
    let signer = load_key(ctx.keys_dir, signer_name)?;
    let asset = resolve_asset(ctx.client, asset).await?.id;
    let request = SpendRequest {
        chain_id: ctx.client.chain_id().await?,
        signer: Address::from(&signer.public_key()),
        asset,
        amount: note_units(ctx, amount, asset).await?,
        fee: match &opts.fee {
            Some(fee) => note_units(ctx, fee, asset).await?,
            None => 0,
        },
        to,
    };
    let synced = sync::sync(ctx.client, &store).await?;
    let chain_key: VerifyingKeyAnswer =
        query_answer(ctx.client, "shielded", "verifying_key", json!({})).await?;
    let load_params = || params::load(ctx.keys_dir, opts.params.as_deref(), &chain_key);
    let proven = spend::prove(ctx.client, &store, &request, load_params).await?;
    let action = Action::Shielded(Box::new(proven.action.clone()));
    let mut out = send_action(ctx.client, &signer, action, send).await?;
    if let Some(receipt) = receipt_of(&out).filter(|r| r.status.is_success()) {
        let spent: Vec<(u64, u64)> = proven.spent.iter().map(|p| (*p, receipt.height)).collect();
        store.mark_spent(&spent)?;
    }
    out.json["action"] = serde_json::to_value(&proven.action)?;
    out.json["proving_ms"] = json!(proven.proving_ms);
    out.json["setup_ms"] = json!(proven.setup_ms);
    out.json["params_source"] = json!(proven.params_source);
    out.json["verifying_key"] = json!(hex::encode(chain_key.digest.0));
    if let Some(reason) = &proven.params_cache_refused {
        eprintln!(
            "warning: the cached parameters were refused ({reason}); derived and cached again"
        );
        out.json["params_cache_refused"] = json!(reason);
    }
    out.json["anchor"] = json!(hex::encode(proven.anchor.to_bytes()));
    out.json["spent_notes"] = json!(proven.spent);
    out.json["change"] = json!(proven.change.to_string());
    out.json["signer"] = json!(request.signer);
    out.json["signer_is_spender"] = json!(signer_name == from);
    out.json["synced_height"] = json!(synced.synced_height);
    let _ = writeln!(
        out.text,
        "proving     {} ms (parameters {} ms, {})\nsigner      {} ({signer_name}{})\nspent notes {:?}, change {} base units",
        proven.proving_ms,
        proven.setup_ms,
        proven.params_source,
        request.signer,
        if signer_name == from {
            ", the spender's own public account"
        } else {
            ", relayer"
        },
        proven.spent,
        proven.change
    );
    Ok(out)
}

async fn pool(ctx: &Ctx<'_>, asset: &str) -> anyhow::Result<Output> {
    let asset = resolve_asset(ctx.client, asset).await?.id;
    let root: RootAnswer = query_answer(ctx.client, "shielded", "root", json!({})).await?;
    let custody: CustodyAnswer =
        query_answer(ctx.client, "shielded", "custody", json!({"asset": asset})).await?;
    let key: VerifyingKeyAnswer =
        query_answer(ctx.client, "shielded", "verifying_key", json!({})).await?;
    let shown = ctx.units.show(ctx.client, custody.amount, asset).await?;
    let text = format!(
        "notes     {}\nroot      {}\nanchors   {}\ncustody   {shown} ({})\nkey       {}{}\n",
        root.notes,
        root.root,
        root.anchors.len(),
        custody.custody,
        hex::encode(key.digest.0),
        if key.devnet {
            " (the devnet key: INSECURE, anyone can forge proofs)"
        } else {
            " (from genesis)"
        }
    );
    let json = json!({
        "notes": root.notes,
        "root": root.root,
        "anchors": root.anchors.len(),
        "custody": custody,
        "verifying_key": hex::encode(key.digest.0),
        "devnet_key": key.devnet,
    });
    Ok(Output::ok(json, text))
}
