//! `lakh wallet`: sign and send transactions, read balances (optionally
//! proven against a finalized state root), transactions and blocks.
//!
//! Amounts are in the asset's units with decimals (`--amount 1.5 --asset
//! ETH`), or base units with `--base-units` ([`units`]); text shows amounts
//! with decimals and symbols, `--json` keeps exact base-unit strings. Every command prints text, or one JSON
//! object with `--json`; a refused or failed transaction exits non-zero with
//! its reason.

mod book;
mod bridge;
mod cover;
mod dex;
mod farm;
mod history;
mod lend;
pub(crate) mod nft;
mod oracle;
pub(crate) mod shielded;
mod stake;
pub(crate) mod units;

use crate::keys::{default_keys_dir, load_key, resolve_address};
use anyhow::{Context, bail};
use commonware_cryptography::Signer;
use lakh_consensus::light::CommitteeChain;
use lakh_rpc::{
    AccountInfo, AssetInfoJson, AssetRef, BlockId, BlockInfo, ClientError, FinalizedTx, Hash32,
    LakhClient, TxStatusInfo, verify_account_proof,
};
use lakh_types::{
    Action, Address, AssetId, Event, PrivateKey, Receipt, Symbol, Transaction, TransferEntry, TxId,
    TxStatus, fees::required_fee,
};
use serde_json::json;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;
use units::{AmountArg, Units};

#[derive(clap::Args, Debug)]
pub struct WalletArgs {
    /// The node's RPC endpoint
    #[arg(long, global = true, default_value = "http://127.0.0.1:8645")]
    pub rpc: String,
    /// Directory of key files [default: ~/.lakh/devnet/keys]
    #[arg(long, global = true)]
    pub keys: Option<PathBuf>,
    /// Print one JSON object instead of text
    #[arg(long, global = true)]
    pub json: bool,
    /// Amounts typed are whole base units, not the asset's units with decimals
    #[arg(long, global = true)]
    pub base_units: bool,
    #[command(subcommand)]
    pub command: WalletCommand,
}

/// How a transaction is sent.
#[derive(clap::Args, Debug, Clone)]
pub struct SendOpts {
    /// Most native base units to pay in fees [default: twice the current fee]
    #[arg(long)]
    pub max_fee: Option<u128>,
    /// Seconds to wait for finality
    #[arg(long, default_value_t = 30)]
    pub timeout_secs: u64,
}

#[derive(clap::Subcommand, Debug)]
pub enum WalletCommand {
    /// Send an asset (native by default)
    Transfer {
        /// Key name of the sender
        #[arg(long)]
        from: String,
        /// Key name or 64-hex-character address of the recipient
        #[arg(long)]
        to: String,
        /// Amount in the asset's units (`1.5`), or base units with --base-units
        #[arg(long)]
        amount: AmountArg,
        /// Asset symbol or id [default: the native token]
        #[arg(long)]
        asset: Option<String>,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Show an account's balances
    Balance {
        /// Key name or 64-hex-character address
        account: String,
        /// Verify the balances against the state root of a finalized block
        #[arg(long)]
        prove: bool,
    },
    /// Show a transaction's status and receipt
    Tx { id: String },
    /// Show an account's finalized transactions, newest first
    History {
        /// Key name or 64-hex-character address
        account: String,
        /// Continue with older transactions (the cursor the page before printed)
        #[arg(long)]
        cursor: Option<u64>,
        /// Transactions per page (at most 100)
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Create an asset owned by the sender
    CreateAsset {
        #[arg(long)]
        from: String,
        /// 1 to 12 characters of A-Z and 0-9
        #[arg(long)]
        symbol: String,
        #[arg(long)]
        decimals: u8,
        /// Cap on the supply, in the new asset's units [default: uncapped]
        #[arg(long)]
        max_supply: Option<AmountArg>,
        /// Amount minted to the sender at creation, in the new asset's units
        #[arg(long)]
        initial_supply: Option<AmountArg>,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Issue new units of an asset you created
    Mint {
        #[arg(long)]
        from: String,
        /// Asset symbol or id
        #[arg(long)]
        asset: String,
        /// Key name or 64-hex-character address of the recipient
        #[arg(long)]
        to: String,
        /// Amount in the asset's units, or base units with --base-units
        #[arg(long)]
        amount: AmountArg,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Show the latest finalized block and the current base fee
    Head,
    /// Show a finalized block by height or hash
    Block { id: String },
    /// Check the certificate that finalized block HEIGHT without trusting
    /// the node: from the genesis file's committee, one certified boundary
    /// header per epoch up to the block's epoch, then the block's own
    Finality {
        height: u64,
        /// The network's genesis file [default: genesis.json next to the keys directory]
        #[arg(long)]
        genesis: Option<PathBuf>,
    },
    /// AMM DEX: pools, liquidity, swaps, quotes
    #[command(subcommand)]
    Dex(dex::DexCommand),
    /// Order book: place, cancel, settle, book
    #[command(subcommand)]
    Book(book::BookCommand),
    /// Oracle: post prices, read prices
    #[command(subcommand)]
    Oracle(oracle::OracleCommand),
    /// Lending: supply, withdraw, borrow, repay, liquidate, positions
    #[command(subcommand)]
    Lend(lend::LendCommand),
    /// Staking: delegate, undelegate, claim rewards
    #[command(subcommand)]
    Stake(stake::StakeCommand),
    /// Yield farms: stake, unstake, harvest
    #[command(subcommand)]
    Farm(farm::FarmCommand),
    /// Insurance: provide capital, buy cover, claim, vote
    #[command(subcommand)]
    Cover(cover::CoverCommand),
    /// Music NFTs: collections, mints, provenance, marketplace, licences
    #[command(subcommand)]
    Nft(nft::NftCommand),
    /// Shielded pool: address, shield, send, unshield, balance, sync, view-key, scan
    #[command(subcommand)]
    Shielded(shielded::ShieldedCommand),
    /// Ethereum bridge: deposit on L1, withdraw, status, finalize on L1
    #[command(subcommand)]
    Bridge(bridge::BridgeCommand),
}

/// What module commands need: the node, the keys, how to send.
pub(crate) struct Ctx<'a> {
    pub client: &'a LakhClient,
    pub keys_dir: &'a std::path::Path,
    pub units: &'a Units,
}

impl Ctx<'_> {
    /// Base units of `amount` of `asset` (see [`Units::base_units`]).
    pub async fn base_units(&self, amount: &AmountArg, asset: AssetId) -> anyhow::Result<u128> {
        self.units.base_units(self.client, amount, asset).await
    }

    /// Like [`Ctx::base_units`] for an optional amount.
    pub async fn base_units_opt(
        &self,
        amount: Option<&AmountArg>,
        asset: AssetId,
    ) -> anyhow::Result<Option<u128>> {
        self.units.base_units_opt(self.client, amount, asset).await
    }
}

/// What a command prints; `failure` makes the command exit non-zero after printing.
pub(crate) struct Output {
    pub json: serde_json::Value,
    pub text: String,
    pub failure: Option<String>,
}

impl Output {
    pub fn ok(json: serde_json::Value, text: String) -> Output {
        Output {
            json,
            text,
            failure: None,
        }
    }
}

/// What `--json` prints when a command cannot run at all: a stable `code`
/// (docs/ERRORS.md) and the message.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct CommandError {
    pub code: String,
    pub message: String,
}

/// `--json`'s output for a command that could not run.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct ErrorOutput {
    pub error: CommandError,
}

/// An error the wallet itself finds, with its own stable code (docs/ERRORS.md).
#[derive(Debug)]
pub(crate) struct CodedError {
    pub code: &'static str,
    pub message: String,
}

impl CodedError {
    pub fn new(code: &'static str, message: impl Into<String>) -> CodedError {
        CodedError {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for CodedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CodedError {}

impl CommandError {
    /// The error's code: a refusal's or a query failure's own code (the same
    /// words JSON-RPC and `POST /bulk` use), else one of the wallet's.
    pub(crate) fn of(error: &anyhow::Error) -> CommandError {
        let client = error
            .chain()
            .find_map(|e| e.downcast_ref::<lakh_rpc::ClientError>());
        let code = match client {
            Some(ClientError::Refused(r)) => r.code.clone(),
            Some(ClientError::Query { code, .. }) => code.clone(),
            Some(ClientError::Rpc { code, .. }) => match *code {
                lakh_rpc::codes::INVALID_PARAMS => "invalid_params".to_string(),
                lakh_rpc::codes::NODE_ERROR => "node_error".to_string(),
                _ => "rpc_error".to_string(),
            },
            Some(ClientError::Transport { .. }) => "unreachable".to_string(),
            Some(ClientError::Timeout { .. }) => "timeout".to_string(),
            Some(ClientError::SubscriptionEnded(_)) => "subscription_ended".to_string(),
            Some(ClientError::Http { .. }) => "http_error".to_string(),
            None => error
                .chain()
                .find_map(|e| e.downcast_ref::<CodedError>())
                .map_or("invalid_input", |e| e.code)
                .to_string(),
        };
        CommandError {
            code,
            message: format!("{error:#}"),
        }
    }
}

/// Prints a failed command's error as `--json` output: `{"error": {code, message}}`.
pub(crate) fn print_json_error(e: &anyhow::Error) -> anyhow::Result<()> {
    let error = ErrorOutput {
        error: CommandError::of(e),
    };
    println!("{}", serde_json::to_string_pretty(&error)?);
    Ok(())
}

pub async fn run_wallet(args: WalletArgs) -> anyhow::Result<()> {
    let as_json = args.json;
    let out = match execute(args).await {
        Ok(out) => out,
        Err(e) => {
            if as_json {
                print_json_error(&e)?;
            }
            return Err(e);
        }
    };
    if as_json {
        println!("{}", serde_json::to_string_pretty(&out.json)?);
    } else {
        print!("{}", out.text);
    }
    match out.failure {
        Some(reason) => bail!(reason),
        None => Ok(()),
    }
}

async fn execute(args: WalletArgs) -> anyhow::Result<Output> {
    let client = LakhClient::connect(&args.rpc)?;
    let keys_dir = match args.keys {
        Some(dir) => dir,
        None => default_keys_dir()?,
    };
    let units = Units::new(args.base_units);
    let ctx = Ctx {
        client: &client,
        keys_dir: &keys_dir,
        units: &units,
    };
    match args.command {
        WalletCommand::Transfer {
            from,
            to,
            amount,
            asset,
            send,
        } => {
            let key = load_key(&keys_dir, &from)?;
            let to = resolve_address(&keys_dir, &to)?;
            let asset_id = match asset {
                Some(a) => resolve_asset(&client, &a).await?.id,
                None => AssetId::NATIVE,
            };
            let action = Action::Transfer(TransferEntry {
                to,
                asset: asset_id,
                amount: ctx.base_units(&amount, asset_id).await?,
            });
            send_action(&client, &key, action, &send).await
        }
        WalletCommand::CreateAsset {
            from,
            symbol,
            decimals,
            max_supply,
            initial_supply,
            send,
        } => {
            let key = load_key(&keys_dir, &from)?;
            let symbol = Symbol::new(&symbol).map_err(anyhow::Error::msg)?;
            // The asset does not exist yet: its decimals come from --decimals.
            let scale = if units.base_units { 0 } else { decimals };
            let parse = |a: &AmountArg| {
                lakh_types::decimal::parse_units(&a.to_string(), scale).map_err(anyhow::Error::msg)
            };
            let max_supply = max_supply.as_ref().map(parse).transpose()?;
            let initial_supply = initial_supply.as_ref().map(parse).transpose()?.unwrap_or(0);
            if let Some(max) = max_supply
                && initial_supply > max
            {
                bail!("--initial-supply {initial_supply} exceeds --max-supply {max}");
            }
            let action = Action::CreateAsset {
                symbol,
                decimals,
                max_supply,
                initial_supply,
            };
            send_action(&client, &key, action, &send).await
        }
        WalletCommand::Mint {
            from,
            asset,
            to,
            amount,
            send,
        } => {
            let key = load_key(&keys_dir, &from)?;
            let to = resolve_address(&keys_dir, &to)?;
            let asset = resolve_asset(&client, &asset).await?;
            let action = Action::Mint {
                asset: asset.id,
                to,
                amount: ctx.base_units(&amount, asset.id).await?,
            };
            send_action(&client, &key, action, &send).await
        }
        WalletCommand::Balance { account, prove } => {
            let address = resolve_address(&keys_dir, &account)?;
            balance(&ctx, address, prove).await
        }
        WalletCommand::History {
            account,
            cursor,
            limit,
        } => {
            let address = resolve_address(&keys_dir, &account)?;
            history::show(&ctx, address, cursor, limit).await
        }
        WalletCommand::Tx { id } => {
            let id: TxId = id.parse().map_err(anyhow::Error::msg)?;
            let status = client.tx_status(id).await?;
            Ok(describe_status(id, &status))
        }
        WalletCommand::Head => {
            let head = client.head().await?;
            let text = format!(
                "chain id   {}\nheight     {}\nhash       {}\nstate root {}\nbase fee   {} per unit\n",
                head.chain_id, head.height, head.hash, head.state_root, head.base_fee
            );
            Ok(Output::ok(serde_json::to_value(&head)?, text))
        }
        WalletCommand::Block { id } => {
            let block_id: BlockId = id.parse().map_err(anyhow::Error::msg)?;
            let block = match block_id {
                BlockId::Height(h) => client.block_by_height(h).await?,
                BlockId::Hash(h) => client.block_by_hash(Hash32(h)).await?,
            };
            let Some(block) = block else {
                bail!("no finalized block {id}");
            };
            Ok(describe_block(&block)?)
        }
        WalletCommand::Finality { height, genesis } => {
            let path = match genesis {
                Some(p) => p,
                None => keys_dir
                    .parent()
                    .context("the keys directory has no parent; pass --genesis")?
                    .join("genesis.json"),
            };
            finality(&client, height, &path).await
        }
        WalletCommand::Dex(cmd) => dex::run(&ctx, cmd).await,
        WalletCommand::Book(cmd) => book::run(&ctx, cmd).await,
        WalletCommand::Oracle(cmd) => oracle::run(&ctx, cmd).await,
        WalletCommand::Lend(cmd) => lend::run(&ctx, cmd).await,
        WalletCommand::Stake(cmd) => stake::run(&ctx, cmd).await,
        WalletCommand::Farm(cmd) => farm::run(&ctx, cmd).await,
        WalletCommand::Cover(cmd) => cover::run(&ctx, cmd).await,
        WalletCommand::Nft(cmd) => nft::run(&ctx, cmd).await,
        WalletCommand::Shielded(cmd) => shielded::run(&ctx, cmd).await,
        WalletCommand::Bridge(cmd) => bridge::run(&ctx, cmd).await,
    }
}

/// Runs a module query and shows its answer (pretty JSON as text).
pub(crate) async fn query_output(
    client: &LakhClient,
    module: &str,
    method: &str,
    params: serde_json::Value,
) -> anyhow::Result<Output> {
    let answer = client.query(module, method, params).await?;
    let text = format!("{}\n", serde_json::to_string_pretty(&answer)?);
    Ok(Output::ok(answer, text))
}

/// Runs a module query and reads its typed answer.
pub(crate) async fn query_answer<T: serde::de::DeserializeOwned>(
    client: &LakhClient,
    module: &str,
    method: &str,
    params: serde_json::Value,
) -> anyhow::Result<T> {
    let answer = client.query(module, method, params).await?;
    serde_json::from_value(answer)
        .with_context(|| format!("the node's answer to {module} {method} does not parse"))
}

/// Runs a module query: its typed answer, and the answer shown (pretty JSON
/// as text).
pub(crate) async fn query_typed_output<T: serde::de::DeserializeOwned>(
    client: &LakhClient,
    module: &str,
    method: &str,
    params: serde_json::Value,
) -> anyhow::Result<(T, Output)> {
    let out = query_output(client, module, method, params).await?;
    let answer = serde_json::from_value(out.json.clone())
        .with_context(|| format!("the node's answer to {module} {method} does not parse"))?;
    Ok((answer, out))
}

/// An asset by symbol or id, which must exist.
pub(crate) async fn resolve_asset(client: &LakhClient, s: &str) -> anyhow::Result<AssetInfoJson> {
    let asset: AssetRef = s
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--asset {s:?}: {e}"))?;
    if let Some(found) = client.asset(&asset).await? {
        return Ok(found);
    }
    // Digits name an id first, but a symbol may be all digits too.
    if let (AssetRef::Id(_), Ok(symbol)) = (&asset, Symbol::new(s))
        && let Some(found) = client.asset(&AssetRef::Symbol(symbol)).await?
    {
        return Ok(found);
    }
    bail!("no asset {asset} on this chain")
}

/// Signs `action` with the sender's next nonce, submits it and waits for finality.
/// The receipt a sending command put in `out` (none if it did not parse).
pub(crate) fn receipt_of(out: &Output) -> Option<Receipt> {
    serde_json::from_value(out.json["receipt"].clone()).ok()
}

pub(crate) async fn send_action(
    client: &LakhClient,
    key: &PrivateKey,
    action: Action,
    opts: &SendOpts,
) -> anyhow::Result<Output> {
    let sender_addr = Address::from(key.public_key());
    let chain_id = client.chain_id().await?;
    let head = client.head().await?;
    let account = client.account(sender_addr, false).await?;
    // Queued transactions of this sender come first; nonces must not gap.
    let nonce = account.pending_nonce.unwrap_or(0).max(account.nonce);
    let fee_now = required_fee(&action, head.base_fee);
    // Twice the current fee rides out several blocks of base-fee rises (at most
    // 1/8 per block); only the fee due at inclusion is charged.
    let max_fee = opts.max_fee.unwrap_or(fee_now.saturating_mul(2));
    if max_fee < fee_now {
        bail!("--max-fee {max_fee} is below the current fee {fee_now}");
    }
    let created_asset = matches!(action, Action::CreateAsset { .. })
        .then(|| AssetId::derive(sender_addr.as_bytes(), nonce));
    let tx = Transaction {
        chain_id,
        sender: sender_addr,
        nonce,
        max_fee,
        action,
    }
    .sign(key);
    let id = client.submit(&tx).await?;
    if id != tx.id() {
        bail!("node reported id {id} for transaction {}", tx.id());
    }
    let FinalizedTx {
        receipt,
        block_hash,
    } = client
        .wait_for_finality(id, Duration::from_secs(opts.timeout_secs))
        .await?;
    let mut out = describe_receipt(&receipt, block_hash);
    if let Some(asset) = created_asset {
        out.json["created_asset"] = json!(asset);
        if receipt.status.is_success() {
            let _ = writeln!(out.text, "asset id {asset}");
        }
    }
    Ok(out)
}

fn describe_receipt(receipt: &Receipt, block_hash: Hash32) -> Output {
    let mut text = format!(
        "transaction {}\nblock       {} ({block_hash}), index {}\nfee paid    {}\n",
        receipt.tx_id, receipt.height, receipt.index, receipt.fee_paid
    );
    let failure = match &receipt.status {
        TxStatus::Success => {
            text.push_str("status      success\n");
            None
        }
        TxStatus::Failed { error } => {
            let _ = writeln!(text, "status      failed: {error}");
            Some(format!("transaction {} failed: {error}", receipt.tx_id))
        }
    };
    for event in &receipt.events {
        let _ = writeln!(
            text,
            "event       {}",
            serde_json::to_string(event).unwrap_or_default()
        );
    }
    Output {
        json: json!({
            "tx_id": receipt.tx_id,
            "height": receipt.height,
            "block_hash": block_hash,
            "receipt": receipt,
        }),
        text,
        failure,
    }
}

fn describe_status(id: TxId, status: &TxStatusInfo) -> Output {
    match status {
        TxStatusInfo::Finalized {
            receipt,
            block_hash,
        } => {
            let mut out = describe_receipt(receipt, *block_hash);
            // Looking up a failed transaction is not itself a failure.
            out.failure = None;
            out.json["status"] = json!("finalized");
            out
        }
        TxStatusInfo::Pending => Output::ok(
            json!({"tx_id": id, "status": "pending"}),
            format!("transaction {id}\nstatus      pending\n"),
        ),
        TxStatusInfo::Unknown => Output {
            json: json!({"tx_id": id, "status": "unknown"}),
            text: format!("transaction {id}\nstatus      unknown to this node\n"),
            failure: Some(format!("transaction {id} is unknown to this node")),
        },
    }
}

fn describe_block(block: &BlockInfo) -> anyhow::Result<Output> {
    const LISTED_IDS: usize = 20;
    let h = &block.header;
    let mut text = format!(
        "height     {}\nhash       {}\nparent     {}\nstate root {}\nproposer   {}\nview       {}\n\
         base fee   {}\nused units {}\ntimestamp  {} ms\ntxs        {}\n",
        h.height,
        h.hash,
        h.parent,
        h.state_root,
        h.proposer,
        h.view,
        h.base_fee,
        h.used_units,
        h.timestamp_ms,
        h.tx_count
    );
    for f in &h.finalizations {
        let _ = writeln!(
            text,
            "carries    the finalization of round {}/{} (block {}), {} signers",
            f.epoch,
            f.view,
            f.block_hash,
            f.signers.len()
        );
    }
    for e in &h.evidence {
        let _ = writeln!(
            text,
            "evidence   {} by committee member {} in round {}/{}",
            e.fault, e.signer, e.epoch, e.view
        );
    }
    for event in &block.block_events {
        let _ = writeln!(text, "event      {}", describe_block_event(event));
    }
    for id in block.tx_ids.iter().take(LISTED_IDS) {
        let _ = writeln!(text, "  {id}");
    }
    if block.tx_ids.len() > LISTED_IDS {
        let _ = writeln!(text, "  ... and {} more", block.tx_ids.len() - LISTED_IDS);
    }
    Ok(Output::ok(serde_json::to_value(block)?, text))
}

/// Fetches block `height`'s certificate and checks it against the committee
/// of its epoch, reached from the genesis file's committee through one
/// certified boundary header per epoch ([`CommitteeChain`]).
async fn finality(
    client: &LakhClient,
    height: u64,
    genesis_path: &std::path::Path,
) -> anyhow::Result<Output> {
    let text = std::fs::read_to_string(genesis_path)
        .with_context(|| format!("cannot read genesis file {}", genesis_path.display()))?;
    let genesis = lakh_types::Genesis::from_json(&text).map_err(anyhow::Error::msg)?;
    let Some(info) = client.finality(height).await? else {
        bail!(
            "no certificate names block {height}: not finalized yet, or finalized through a later block (try {})",
            height + 1
        );
    };
    let epoch_zero = lakh_execution::modules::stake::genesis_committee(&genesis);
    let mut chain = CommitteeChain::from_genesis(&genesis, epoch_zero);
    while chain.latest_epoch() < info.epoch {
        let boundary = chain.next_boundary();
        let Some(certified) = client.finality(boundary).await? else {
            bail!("the node serves no certificate of boundary block {boundary}");
        };
        chain
            .extend(&certified)
            .with_context(|| format!("boundary block {boundary} does not check"))?;
    }
    chain.verify(&info)?;
    let seats = chain.committee(info.epoch).map_or(0, |c| c.members.len());
    let text = format!(
        "block      {}
hash       {}
epoch      {} (committees followed from the genesis)
view       {}
signers    {} of {} ({:?})
verified   yes
",
        info.height,
        info.block_hash,
        info.epoch,
        info.view,
        info.signers.len(),
        seats,
        info.signers
    );
    let mut json = serde_json::to_value(&info)?;
    json["verified"] = true.into();
    Ok(Output::ok(json, text))
}

async fn balance(ctx: &Ctx<'_>, address: Address, prove: bool) -> anyhow::Result<Output> {
    let client = ctx.client;
    let info: AccountInfo = client.account(address, prove).await?;
    let mut text = format!("address {}\nnonce   {}", info.address, info.nonce);
    if let Some(p) = info.pending_nonce {
        let _ = write!(text, " (next with queued transactions: {p})");
    }
    text.push('\n');
    if info.balances.is_empty() {
        text.push_str("no balances\n");
    }
    for b in &info.balances {
        let shown = ctx.units.show(client, b.amount, b.asset).await?;
        let _ = writeln!(text, "{shown:>48} (asset {})", b.asset);
    }
    let mut json = json!({
        "address": info.address,
        "nonce": info.nonce,
        "pending_nonce": info.pending_nonce,
        "balances": info.balances,
    });
    if prove {
        let proof = info
            .proof
            .as_ref()
            .context("the node returned no proof for this account")?;
        let block = client
            .block_by_height(proof.height)
            .await?
            .with_context(|| {
                format!(
                    "the node has no finalized block {} to check the proof against",
                    proof.height
                )
            })?;
        verify_account_proof(&info, &block.header).map_err(|e| {
            anyhow::anyhow!(
                "PROOF REJECTED: the node's answer is not backed by finalized block {}: {e}",
                proof.height
            )
        })?;
        let _ = writeln!(
            text,
            "proof verified against state root {} of finalized block {}",
            block.header.state_root, block.header.height
        );
        json["proof"] = json!({
            "verified": true,
            "height": block.header.height,
            "state_root": block.header.state_root,
        });
    }
    Ok(Output::ok(json, text))
}

/// One end-of-block event on a line: its module and kind, then its JSON.
fn describe_block_event(event: &Event) -> String {
    let json = serde_json::to_value(event).unwrap_or_default();
    let field = |name: &str| json.get(name).and_then(|v| v.as_str()).unwrap_or("");
    format!("{} {} {json}", field("type"), field("kind"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::write_key;
    use bytes::Bytes;
    use lakh_rpc::{AccountProof, BlockHeaderInfo, HeadInfo, NodeApi, ProvenEntry, ServerHandle};
    use lakh_types::{FailureReason, Refusal, SignedTransaction};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use tokio::sync::broadcast;

    const CHAIN_ID: u64 = 5;
    const BASE_FEE: u128 = 100;

    /// A node double that finalizes every accepted transaction at once.
    #[derive(Default)]
    struct Node {
        txs: Mutex<Vec<SignedTransaction>>,
        receipts: Mutex<HashMap<TxId, Receipt>>,
        /// When set, the next submission is refused with this.
        refuse: Mutex<Option<Refusal>>,
        /// When set, included transactions fail with this.
        fail: Mutex<Option<FailureReason>>,
    }

    impl NodeApi for Node {
        fn chain_id(&self) -> u64 {
            CHAIN_ID
        }
        async fn submit(&self, raw: Vec<Bytes>) -> Vec<Result<TxId, Refusal>> {
            raw.into_iter()
                .map(|raw| {
                    let tx = SignedTransaction::decode(raw)?;
                    if !tx.verify_signature() {
                        return Err(Refusal::BadSignature);
                    }
                    if let Some(r) = self.refuse.lock().unwrap().take() {
                        return Err(r);
                    }
                    let status = match self.fail.lock().unwrap().clone() {
                        Some(error) => TxStatus::Failed { error },
                        None => TxStatus::Success,
                    };
                    let receipt = Receipt {
                        tx_id: tx.id(),
                        sender: tx.tx.sender_address(),
                        nonce: tx.tx.nonce,
                        height: 8,
                        index: 0,
                        fee_paid: required_fee(&tx.tx.action, BASE_FEE),
                        status,
                        events: vec![],
                    };
                    self.receipts.lock().unwrap().insert(tx.id(), receipt);
                    let id = tx.id();
                    self.txs.lock().unwrap().push(tx);
                    Ok(id)
                })
                .collect()
        }
        async fn tx_status(&self, id: TxId) -> TxStatusInfo {
            match self.receipts.lock().unwrap().get(&id) {
                Some(r) => TxStatusInfo::Finalized {
                    receipt: r.clone(),
                    block_hash: Hash32([8; 32]),
                },
                None => TxStatusInfo::Unknown,
            }
        }
        async fn account_txs(
            &self,
            address: Address,
            before: Option<u64>,
            limit: u32,
        ) -> Result<lakh_rpc::AccountTxsPage, String> {
            let mut all: Vec<Receipt> = self
                .receipts
                .lock()
                .unwrap()
                .values()
                .filter(|r| r.accounts().contains(&address))
                .cloned()
                .collect();
            all.sort_by_key(|r| (r.height, r.index));
            let total = all.len() as u64;
            let end = before.map_or(total, |b| b.min(total));
            let start = end.saturating_sub(u64::from(limit));
            let transactions = (start..end)
                .rev()
                .map(|ordinal| lakh_rpc::AccountTxInfo {
                    ordinal,
                    block_hash: Hash32([8; 32]),
                    receipt: all[ordinal as usize].clone(),
                })
                .collect();
            Ok(lakh_rpc::AccountTxsPage {
                address,
                total,
                transactions,
                next_cursor: (start > 0).then_some(start),
                older_pruned: false,
            })
        }
        async fn account(&self, address: Address, prove: bool) -> Result<AccountInfo, String> {
            Ok(AccountInfo {
                address,
                nonce: 3,
                pending_nonce: Some(6),
                balances: vec![lakh_rpc::BalanceInfo {
                    asset: AssetId::NATIVE,
                    symbol: "LAKH".into(),
                    amount: 500,
                }],
                // Not a real state proof: verification must reject it.
                proof: prove.then(|| AccountProof {
                    height: 8,
                    state_root: Hash32([0xee; 32]),
                    entries: vec![ProvenEntry {
                        key: lakh_state::StateKey::Account(address),
                        value_hex: "00".into(),
                        proof_hex: "00".into(),
                    }],
                }),
            })
        }
        async fn block(&self, id: BlockId) -> Option<BlockInfo> {
            (id == BlockId::Height(8)).then(|| BlockInfo {
                header: BlockHeaderInfo {
                    height: 8,
                    hash: Hash32([8; 32]),
                    parent: Hash32([7; 32]),
                    state_root: Hash32([0xee; 32]),
                    proposer: Address([1; 32]),
                    view: 9,
                    base_fee: BASE_FEE,
                    used_units: 1,
                    tx_count: 1,
                    timestamp_ms: 1,
                    next_committee: None,
                    finalizations: Vec::new(),
                    evidence: Vec::new(),
                },
                tx_ids: vec![],
                block_events: vec![Event::Stake(
                    lakh_types::modules::stake::StakeEvent::Unjailed {
                        validator: Address([1; 32]),
                    },
                )],
            })
        }
        async fn head(&self) -> HeadInfo {
            HeadInfo {
                chain_id: CHAIN_ID,
                height: 8,
                hash: Hash32([8; 32]),
                state_root: Hash32([0xee; 32]),
                base_fee: BASE_FEE,
                timestamp_ms: 1,
            }
        }
        async fn asset(&self, id: AssetRef) -> Option<AssetInfoJson> {
            let gold = AssetInfoJson {
                id: AssetId(42),
                symbol: Symbol::new("GOLD").unwrap(),
                decimals: 2,
                issuer: None,
                max_supply: None,
                supply: 0,
            };
            let native = AssetInfoJson {
                id: AssetId::NATIVE,
                symbol: Symbol::new("LAKH").unwrap(),
                decimals: 9,
                ..gold.clone()
            };
            match id {
                AssetRef::Symbol(s) if s.as_str() == "GOLD" => Some(gold),
                AssetRef::Id(AssetId(42)) => Some(gold),
                AssetRef::Id(AssetId::NATIVE) => Some(native),
                _ => None,
            }
        }
        fn subscribe_finalized(&self) -> broadcast::Receiver<BlockInfo> {
            broadcast::channel(1).1
        }
    }

    struct Env {
        node: Arc<Node>,
        url: String,
        keys: tempfile::TempDir,
        _handle: ServerHandle,
        alice: PrivateKey,
        bob: Address,
    }

    async fn env() -> Env {
        let node = Arc::new(Node::default());
        let (addr, handle) = lakh_rpc::start_server("127.0.0.1:0".parse().unwrap(), node.clone())
            .await
            .unwrap();
        let keys = tempfile::tempdir().unwrap();
        let alice = PrivateKey::from_seed(1);
        let bob_key = PrivateKey::from_seed(2);
        write_key(keys.path(), "alice", &alice).unwrap();
        write_key(keys.path(), "bob", &bob_key).unwrap();
        Env {
            node,
            url: format!("http://{addr}"),
            keys,
            _handle: handle,
            alice,
            bob: Address::from(&bob_key.public_key()),
        }
    }

    fn args(env: &Env, command: WalletCommand) -> WalletArgs {
        WalletArgs {
            rpc: env.url.clone(),
            keys: Some(env.keys.path().to_path_buf()),
            json: true,
            base_units: false,
            command,
        }
    }

    fn send_opts() -> SendOpts {
        SendOpts {
            max_fee: None,
            timeout_secs: 5,
        }
    }

    #[tokio::test]
    async fn transfer_signs_with_the_pending_nonce_and_reports_the_receipt() {
        let env = env().await;
        let out = execute(args(
            &env,
            WalletCommand::Transfer {
                from: "alice".into(),
                to: "bob".into(),
                amount: "0.77".parse().unwrap(),
                asset: Some("GOLD".into()),
                send: send_opts(),
            },
        ))
        .await
        .unwrap();
        assert!(out.failure.is_none());
        let txs = env.node.txs.lock().unwrap();
        assert_eq!(txs.len(), 1);
        let tx = &txs[0].tx;
        assert_eq!(tx.chain_id, CHAIN_ID);
        assert_eq!(tx.sender, Address::from(env.alice.public_key()));
        assert_eq!(tx.nonce, 6, "pending nonce is ahead of the committed one");
        assert_eq!(tx.max_fee, 2 * BASE_FEE);
        assert_eq!(
            tx.action,
            Action::Transfer(TransferEntry {
                to: env.bob,
                asset: AssetId(42),
                amount: 77
            })
        );
        assert_eq!(out.json["tx_id"], json!(txs[0].id()));
        assert_eq!(out.json["height"], 8);
        assert_eq!(out.json["receipt"]["status"]["status"], "success");
    }

    fn transfer(amount: &str, asset: Option<&str>) -> WalletCommand {
        WalletCommand::Transfer {
            from: "alice".into(),
            to: "bob".into(),
            amount: amount.parse().unwrap(),
            asset: asset.map(Into::into),
            send: send_opts(),
        }
    }

    fn sent_amounts(env: &Env) -> Vec<u128> {
        let txs = env.node.txs.lock().unwrap();
        txs.iter()
            .map(|t| match &t.tx.action {
                Action::Transfer(e) => e.amount,
                Action::CreateAsset { initial_supply, .. } => *initial_supply,
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn amounts_are_read_in_the_assets_units_unless_base_units() {
        let env = env().await;
        execute(args(&env, transfer("1.5", None))).await.unwrap();
        execute(args(&env, transfer("12.3", Some("GOLD"))))
            .await
            .unwrap();
        let mut raw = args(&env, transfer("15", Some("GOLD")));
        raw.base_units = true;
        execute(raw).await.unwrap();
        assert_eq!(sent_amounts(&env), vec![1_500_000_000, 1_230, 15]);

        let err = execute(args(&env, transfer("0.001", Some("GOLD"))))
            .await
            .err()
            .expect("GOLD has 2 decimals");
        assert!(err.to_string().contains("no rounding"), "{err}");
        let huge = format!("{}", u128::MAX);
        let err = execute(args(&env, transfer(&huge, Some("GOLD"))))
            .await
            .err()
            .expect("overflow");
        assert!(err.to_string().contains("128 bits"), "{err}");
        let mut raw = args(&env, transfer("1.5", None));
        raw.base_units = true;
        let err = execute(raw).await.err().expect("base units are whole");
        assert!(err.to_string().contains("--base-units"), "{err}");
        assert_eq!(sent_amounts(&env).len(), 3, "refused amounts send nothing");
    }

    #[tokio::test]
    async fn refused_and_failed_transactions_are_errors_with_the_reason() {
        let env = env().await;
        *env.node.refuse.lock().unwrap() = Some(Refusal::FeeTooLow {
            max_fee: 1,
            required: 100,
        });
        let err = execute(args(
            &env,
            WalletCommand::Transfer {
                from: "alice".into(),
                to: env.bob.to_hex(),
                amount: "1".parse().unwrap(),
                asset: None,
                send: send_opts(),
            },
        ))
        .await
        .err()
        .expect("refusal is an error");
        assert!(err.to_string().contains("fee_too_low"), "{err}");
        let printed = CommandError::of(&err);
        assert_eq!(printed.code, "fee_too_low", "the refusal's own code");
        assert!(
            printed.message.contains("below the current fee"),
            "{printed:?}"
        );

        *env.node.fail.lock().unwrap() = Some(FailureReason::NotIssuer { asset: AssetId(42) });
        let out = execute(args(
            &env,
            WalletCommand::Mint {
                from: "alice".into(),
                asset: "42".into(),
                to: "alice".into(),
                amount: "1".parse().unwrap(),
                send: send_opts(),
            },
        ))
        .await
        .unwrap();
        let failure = out.failure.expect("a failed receipt fails the command");
        assert!(failure.contains("only the issuer"), "{failure}");

        let err = execute(args(
            &env,
            WalletCommand::Transfer {
                from: "alice".into(),
                to: "bob".into(),
                amount: "1".parse().unwrap(),
                asset: Some("SILVER".into()),
                send: send_opts(),
            },
        ))
        .await
        .err()
        .expect("unknown asset");
        assert!(err.to_string().contains("no asset SILVER"), "{err}");
        assert_eq!(CommandError::of(&err).code, "invalid_input");

        let err = execute(args(
            &env,
            WalletCommand::Transfer {
                from: "alice".into(),
                to: "bob".into(),
                amount: "1".parse().unwrap(),
                asset: None,
                send: SendOpts {
                    max_fee: Some(1),
                    timeout_secs: 5,
                },
            },
        ))
        .await
        .err()
        .expect("max fee below the current fee");
        assert!(err.to_string().contains("below the current fee"), "{err}");
    }

    #[tokio::test]
    async fn an_unreachable_node_is_its_own_code() {
        let port = crate::network::free_port().unwrap();
        let client = LakhClient::connect(&format!("http://127.0.0.1:{port}")).unwrap();
        let err = anyhow::Error::from(client.chain_id().await.unwrap_err()).context("head");
        assert_eq!(CommandError::of(&err).code, "unreachable");
    }

    #[tokio::test]
    async fn create_asset_reports_the_derived_id() {
        let env = env().await;
        let out = execute(args(
            &env,
            WalletCommand::CreateAsset {
                from: "alice".into(),
                symbol: "CAT".into(),
                decimals: 3,
                max_supply: Some("1".parse().unwrap()),
                initial_supply: Some("0.01".parse().unwrap()),
                send: send_opts(),
            },
        ))
        .await
        .unwrap();
        let sender = Address::from(&env.alice.public_key());
        assert_eq!(
            out.json["created_asset"],
            json!(AssetId::derive(sender.as_bytes(), 6))
        );
        let err = execute(args(
            &env,
            WalletCommand::CreateAsset {
                from: "alice".into(),
                symbol: "cat".into(),
                decimals: 3,
                max_supply: None,
                initial_supply: None,
                send: send_opts(),
            },
        ))
        .await
        .err()
        .expect("lowercase symbol");
        assert!(err.to_string().contains("A-Z"), "{err}");
    }

    #[tokio::test]
    async fn balance_shows_amounts_and_refuses_an_unprovable_answer() {
        let env = env().await;
        let out = execute(args(
            &env,
            WalletCommand::Balance {
                account: "bob".into(),
                prove: false,
            },
        ))
        .await
        .unwrap();
        assert_eq!(out.json["address"], json!(env.bob));
        assert_eq!(out.json["balances"][0]["amount"], "500");
        assert!(out.text.contains("0.0000005 LAKH"), "{}", out.text);

        let err = execute(args(
            &env,
            WalletCommand::Balance {
                account: "bob".into(),
                prove: true,
            },
        ))
        .await
        .err()
        .expect("a fake proof must not verify");
        assert!(err.to_string().contains("PROOF REJECTED"), "{err}");
    }

    #[tokio::test]
    async fn queries_of_head_block_and_tx() {
        let env = env().await;
        let out = execute(args(&env, WalletCommand::Head)).await.unwrap();
        assert_eq!(out.json["height"], 8);
        assert_eq!(out.json["base_fee"], "100");

        let out = execute(args(&env, WalletCommand::Block { id: "8".into() }))
            .await
            .unwrap();
        assert_eq!(out.json["header"]["view"], 9);
        assert_eq!(out.json["block_events"][0]["type"], "stake");
        assert_eq!(out.json["block_events"][0]["kind"], "unjailed");
        assert!(
            out.text.contains("event      stake unjailed"),
            "{}",
            out.text
        );
        let by_hash = execute(args(
            &env,
            WalletCommand::Block {
                id: "08".repeat(32),
            },
        ))
        .await;
        assert!(
            by_hash
                .err()
                .unwrap()
                .to_string()
                .contains("no finalized block")
        );

        let unknown = TxId([3; 32]).to_hex();
        let out = execute(args(&env, WalletCommand::Tx { id: unknown }))
            .await
            .unwrap();
        assert_eq!(out.json["status"], "unknown");
        assert!(out.failure.is_some());
        let err = execute(args(&env, WalletCommand::Tx { id: "xyz".into() }))
            .await
            .err()
            .unwrap();
        assert!(err.to_string().contains("not hex"), "{err}");
    }

    fn history(account: &str, limit: u32) -> WalletCommand {
        WalletCommand::History {
            account: account.into(),
            cursor: None,
            limit,
        }
    }

    #[tokio::test]
    async fn history_shows_each_transaction_readably_newest_first() {
        let env = env().await;
        let alice = Address::from(&env.alice.public_key());
        let sent = Receipt {
            tx_id: TxId([1; 32]),
            sender: alice,
            nonce: 0,
            height: 8,
            index: 0,
            fee_paid: 100,
            status: TxStatus::Success,
            events: vec![lakh_types::Event::Transfer {
                asset: AssetId(42),
                from: alice,
                to: env.bob,
                amount: 77,
            }],
        };
        let failed = Receipt {
            tx_id: TxId([2; 32]),
            nonce: 1,
            height: 9,
            status: TxStatus::Failed {
                error: FailureReason::Overflow,
            },
            events: vec![],
            ..sent.clone()
        };
        for r in [&sent, &failed] {
            env.node.receipts.lock().unwrap().insert(r.tx_id, r.clone());
        }

        let out = execute(args(&env, history("alice", 20))).await.unwrap();
        assert_eq!(out.json["total"], 2);
        assert_eq!(out.json["transactions"][0]["ordinal"], 1);
        let lines: Vec<&str> = out.text.lines().collect();
        assert!(lines[0].contains("2 transactions"), "{}", out.text);
        assert!(
            lines[1].starts_with("height 9 ")
                && lines[1].contains(&TxId([2; 32]).to_string())
                && lines[1].contains("failed")
                && lines[1].contains("arithmetic overflow"),
            "{}",
            out.text
        );
        assert_eq!(lines[2].trim(), "-0.0000001 LAKH", "the fee");
        assert!(
            lines[3].starts_with("height 8 ")
                && lines[3].contains(" ok ")
                && lines[3].contains(&format!("sent to {}", env.bob)),
            "{}",
            out.text
        );
        assert_eq!(lines[4].trim(), "-0.0000001 LAKH  -0.77 GOLD");

        let bob = execute(args(&env, history("bob", 20))).await.unwrap();
        assert!(
            bob.text.contains(&format!("received from {alice}")),
            "{}",
            bob.text
        );
        assert!(bob.text.contains("+0.77 GOLD"), "{}", bob.text);
        assert_eq!(bob.json["total"], 1);

        let newest = execute(args(&env, history("alice", 1))).await.unwrap();
        assert_eq!(newest.json["next_cursor"], 1);
        assert!(
            newest.text.ends_with("older: --cursor 1\n"),
            "{}",
            newest.text
        );
    }
}
